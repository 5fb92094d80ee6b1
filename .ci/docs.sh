#!/usr/bin/env bash
# Documentation checks: every relative link and image in the tracked Markdown files resolves to a
# file or directory inside the repository; no tracked file names the sibling directory "shared"
# by a relative path (dot-dot, slash, shared); README.md has at
# most 200 lines. Prints one line per problem (file and link) and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 - <<'PY'
import os
import re
import subprocess
import sys
from urllib.parse import unquote

root = os.path.realpath(".")
# Spelled in two pieces so that this script does not match itself.
OUTSIDE = b".." + b"/shared"
problems = []

def tracked(*patterns):
    out = subprocess.run(["git", "ls-files", "-z", "--", *patterns],
                         check=True, capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p]

def wanted(path):
    return not path.startswith("fuzz/corpus/") and "node_modules/" not in path

# Inline links and images: [text](target "title") and ![alt](target); reference definitions:
# [name]: target. Code spans and fenced blocks are removed first, so that example text inside
# them is not taken for a link.
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.MULTILINE)
HTML = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
FENCE = re.compile(r"^(\s*)(```+|~~~+).*?^\1\2\s*$", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)

def strip_code(text):
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return CODE.sub(lambda m: " " * len(m.group(0)), text)

def check_target(md, target):
    target = target.strip()
    if target.startswith("<") and target.endswith(">"):
        target = target[1:-1]
    lowered = target.lower()
    if re.match(r"^[a-z][a-z0-9+.-]*:", lowered):
        if lowered.startswith(("http://", "https://", "mailto:")):
            return
        problems.append(f"{md}: link {target!r} uses a scheme that does not resolve in the repository")
        return
    path = unquote(target.split("#", 1)[0].split("?", 1)[0])
    if not path:
        return  # an anchor in the same file
    if path.startswith("/"):
        problems.append(f"{md}: link {target!r} is an absolute path")
        return
    resolved = os.path.realpath(os.path.join(os.path.dirname(md) or ".", path))
    if resolved != root and not resolved.startswith(root + os.sep):
        problems.append(f"{md}: link {target!r} points outside the repository")
    elif not os.path.exists(resolved):
        problems.append(f"{md}: link {target!r} does not resolve ({os.path.relpath(resolved, root)} does not exist)")

for md in filter(wanted, tracked("*.md")):
    with open(md, encoding="utf-8", errors="replace") as f:
        text = strip_code(f.read())
    for pattern in (INLINE, REFDEF, HTML):
        for match in pattern.finditer(text):
            check_target(md, match.group(1))

for path in filter(wanted, tracked()):
    if not os.path.isfile(path):
        continue
    with open(path, "rb") as f:
        if OUTSIDE in f.read():
            problems.append(f"{path}: contains {OUTSIDE.decode()!r} (a path outside the repository)")

with open("README.md", encoding="utf-8") as f:
    lines = len(f.read().splitlines())
if lines > 200:
    problems.append(f"README.md: {lines} lines, at most 200")

for problem in problems:
    print(f"error: {problem}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"docs: every relative link resolves, no {OUTSIDE.decode()!r}, README.md has {lines} lines")
PY
