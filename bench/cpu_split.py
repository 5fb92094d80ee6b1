#!/usr/bin/env python3
"""Where the receiver's CPU per delivery goes, on a given log: `perf` samples of `serve` under the
growth benchmark's live traffic, each attributed to the outermost part of the service on its stack.

Starts `serve` (release build) on `--db` (an SQLite log; pass a path that does not exist for an
empty one), sends live traffic for `--secs` (64 connections, ~5 % resends, receiver on CPU 0,
load on CPU 1) and records the receiver with `perf record --call-graph dwarf` meanwhile. Each
sample is given to the first category whose marker appears on its stack, innermost frame first
(so SQLite's own system calls count as SQLite), and the receiver's CPU µs per delivery (from
`/proc/PID/stat`) is split in the samples' proportions.

    python3 bench/cpu_split.py --db DIR/big.db --secs 20

Needs `perf` (Debian's linux-perf) and root, or a perf_event_paranoid that allows it.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402
from wal_frames import run_load, start_serve  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
FREQUENCY_HZ = 250
# Innermost match wins: a sample is counted where the time was spent, not where it was asked for.
CATEGORIES = [
    ("SQLite: commit and sync (WAL write, fsync)", ("sqlite3WalFrames", "fsync", "fdatasync",
                                                    "sqlite3PagerCommitPhaseOne")),
    ("SQLite: reading pages (page cache misses)", ("sqlite3PagerGet", "getPageNormal", "pread")),
    ("SQLite: B-tree and VM", ("sqlite3", "balance", "btree", "vdbe")),
    ("HMAC-SHA256", ("sha2::", "hmac::")),
    ("JSON parse and validation", ("serde_json::", "dash_events::event::")),
    ("HTTP (hyper, axum) and sockets", ("hyper::", "axum::", "tcp_", "sock_", "epoll")),
    ("sqlx and the writer's batching", ("sqlx", "dash_events::ingest", "dash_events::store")),
    ("async runtime (tokio)", ("tokio::",)),
    ("allocation", ("malloc", "_int_free", "__libc_free", "cfree", "realloc")),
]


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def categorize(stack: list[str]) -> str:
    for frame in stack:  # innermost first
        for name, markers in CATEGORIES:
            if any(marker in frame for marker in markers):
                return name
    return "other (kernel scheduling, interrupts, unresolved)"


def samples(perf_data: Path) -> collections.Counter:
    out = subprocess.run(["perf", "script", "-i", str(perf_data), "-F", "ip,sym"],
                         capture_output=True, text=True, check=True).stdout
    counts: collections.Counter = collections.Counter()
    stack: list[str] = []
    for line in out.splitlines() + [""]:
        if line.strip():
            stack.append(line.strip())
        elif stack:
            counts[categorize(stack)] += 1
            stack = []
    return counts


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--secs", type=int, default=20)
    p.add_argument("--out", help="write bench/results/NAME.json")
    args = p.parse_args()
    db = args.db.resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    perf_data = db.parent / "cpu_split.perf.data"
    proc, port = start_serve(db, "cpu_split")
    try:
        perf = subprocess.Popen(["perf", "record", "-q", "-F", str(FREQUENCY_HZ),
                                 "--call-graph", "dwarf,16384", "-p", str(proc.pid),
                                 "-o", str(perf_data)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = cpu_ticks(proc.pid)
        result = run_load(port, args.secs, db.parent / "cpu_split.load.json")
        used = cpu_ticks(proc.pid) - before
        perf.send_signal(2)
        perf.wait(timeout=120)
    finally:
        bench.stop_process(proc)
    deliveries = max(1, result["ok"])
    us_per_delivery = used / CLK_TCK * 1e6 / deliveries
    counts = samples(perf_data)
    total = sum(counts.values())
    report = {
        "log_at_start": result["stored_before"], "deliveries": deliveries,
        "events_per_s": round(deliveries / args.secs),
        "cpu_us_per_delivery": round(us_per_delivery, 1), "samples": total,
        "split_us": {name: round(us_per_delivery * n / total, 1)
                     for name, n in counts.most_common()},
    }
    print(json.dumps(report, indent=1))
    if args.out:
        (bench.RESULTS / f"{args.out}.json").write_text(json.dumps(report, indent=1) + "\n")
    perf_data.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
