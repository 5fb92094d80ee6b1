#!/usr/bin/env bash
# No container engine runs here, so the container files are checked without one:
# 1. the Dockerfile's build stage is rebuilt from exactly the files its COPY lines name, in a
#    fresh directory, with the stage's own RUN command: a file the build needs but the Dockerfile
#    does not copy fails here as it would in `docker build`;
# 2. docker-compose.yml is validated by Compose's own parser (`docker-compose config`), and every
#    variable it passes to the service is one `dash-events serve` reads.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT

# The build stage: the lines before the second FROM.
stage="$(awk '/^FROM /{n++} n==1' Dockerfile)"
workdir="$(printf '%s\n' "$stage" | awk '$1=="WORKDIR"{print $2}' | tail -1)"
[ -n "$workdir" ] || { echo "error: the build stage has no WORKDIR" >&2; exit 1; }

copies=0
while read -r _ args; do
  # COPY src... dest (no --from, no flags in the build stage)
  read -r -a words <<<"$args"
  dest="${words[-1]}"
  unset 'words[-1]'
  case "$dest" in /*) ;; *) dest="$workdir/$dest" ;; esac
  target="$context${dest}"
  for source in "${words[@]}"; do
    [ -e "$source" ] || { echo "error: the Dockerfile copies $source, which does not exist" >&2; exit 1; }
    if [[ "$dest" == */ ]] || [ "${#words[@]}" -gt 1 ]; then
      mkdir -p "$target"
      cp -r "$source" "$target/"
    else
      mkdir -p "$(dirname "$target")"
      cp -r "$source" "$target"
    fi
    copies=$((copies + 1))
  done
done < <(printf '%s\n' "$stage" | grep -E '^COPY ')
echo "docker: build context of $copies paths in $context$workdir"

# The stage's RUN commands, as written, in the copied context. Dependencies come from the shared
# target directory, so only the crate itself is compiled again.
printf '%s\n' "$stage" | sed -n 's/^RUN //p' | while read -r command; do
  echo "docker: RUN $command"
  (cd "$context$workdir" && CARGO_TARGET_DIR="$repo/target" bash -c "$command")
done

# Compose: its own parser, with the two required variables set to samples.
if ! command -v docker-compose >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends docker-compose >/dev/null
fi
python3 -c "import yaml" 2>/dev/null || pip install --quiet pyyaml
resolved="$(WEBHOOK_SECRET=sample API_TOKEN=sample docker-compose -f docker-compose.yml config)"
help="$(target/release/dash-events serve --help)"
printf '%s\n' "$resolved" | python3 -c '
import sys, yaml
config = yaml.safe_load(sys.stdin)
service = config["services"]["dash-events"]
assert service["build"]["context"], "the service is not built from this repository"
help_text = open(sys.argv[1]).read()
unknown = [name for name in service["environment"] if name != "RUST_LOG" and f"[env: {name}" not in help_text]
if unknown:
    sys.exit(f"error: docker-compose.yml sets {unknown}, which dash-events serve does not read")
print("docker: docker-compose.yml is valid; its", len(service["environment"]), "variables are read by serve")
' <(printf '%s\n' "$help")
