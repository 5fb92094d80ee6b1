#!/usr/bin/env python3
"""Where the bytes of a live run go on SQLite, per table and index, read from the WAL itself.

Starts `serve` on an existing SQLite log (grown with `dash-events-grow`; the run adds to it),
sends live traffic as the growth benchmark does (64 connections, random UUIDv4 ids, ~5 %
resends, receiver on CPU 0 and load on CPU 1), and meanwhile follows the WAL file: every frame
header names the page it holds and whether it ends a transaction. At the end each page number
is mapped to the table or index that owns it (SQLite's `dbstat`), so every WAL byte is
attributed. The checkpointer copies each page changed in its interval once into the database
file; that copy is estimated per structure as the distinct pages of each second's frames, and
the total checked against the receiver's own `/proc/PID/io` bytes.

    python3 bench/wal_frames.py --db DIR/big.db --secs 60 [--out NAME]

The follower polls every 5 ms, so the frames a WAL restart overwrites before they are read are
lost to it (a few ms of the ~1 s between restarts); compare the estimate with `/proc`. The log
must not be in use by another process.
"""

import argparse
import collections
import json
import os
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402

WAL_HEADER = 32
FRAME_HEADER = 24
POLL_S = 0.005
CHUNK_FRAMES = 256
# Checkpoint intervals whose copy is estimated from the same frames, to show what a longer one
# would save (the WAL would grow by that much more between copies).
SIMULATED_INTERVALS_S = (0.25, 1, 2, 5, 10, 30)
SECRET = "wal-frames-bench-secret"


class WalFollower(threading.Thread):
    """Reads every frame header appended to a WAL, across the restarts that rewind it."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.frames: list[tuple[float, int, bool]] = []  # (time read, page, ends a commit)
        self.generations = 0

    def run(self):
        salts, next_frame, page_size = None, 0, 4096
        with open(self.path, "rb") as wal:
            while not self.stop.is_set():
                header = os.pread(wal.fileno(), WAL_HEADER, 0)
                if len(header) < WAL_HEADER:
                    time.sleep(POLL_S)
                    continue
                page_size = struct.unpack(">I", header[8:12])[0] or 65536
                now_salts = header[16:24]
                if now_salts != salts:
                    if salts is not None:
                        self.generations += 1
                    salts, next_frame = now_salts, 0
                next_frame = self.read_frames(wal, salts, next_frame, page_size)
                time.sleep(POLL_S)

    def read_frames(self, wal, salts: bytes, first: int, page_size: int) -> int:
        """Reads frames from `first` on while they carry this generation's salts."""
        size = FRAME_HEADER + page_size
        frame = first
        while True:
            chunk = os.pread(wal.fileno(), CHUNK_FRAMES * size, WAL_HEADER + frame * size)
            now, read = time.monotonic(), 0
            for at in range(0, len(chunk) - size + 1, size):
                page, commit_size = struct.unpack(">II", chunk[at:at + 8])
                if chunk[at + 8:at + 16] != salts:
                    return frame  # a frame of an earlier generation: the end, for now
                self.frames.append((now, page, commit_size != 0))
                frame, read = frame + 1, read + 1
            if read < CHUNK_FRAMES:
                return frame


def owners(db: Path, pages: set[int]) -> dict[int, str]:
    """The table or index each of `pages` belongs to, from a walk of every B-tree."""
    found = {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for name, page in conn.execute("select name, pageno from dbstat"):
            if page in pages:
                found[page] = name
    finally:
        conn.close()
    return found


def start_serve(db: Path, name: str):
    """`serve` (release build) on the SQLite log `db`, on CPU 0 and a free port, once it accepts
    connections; its output goes to `name.serve.log` beside the log."""
    port = bench.free_port()
    launch = bench.Launch(
        argv=[str(bench.SERVER_BIN), "serve", "--listen", f"127.0.0.1:{port}",
              "--database-url", f"sqlite://{db}", "--webhook-secret", SECRET],
        env={"RUST_LOG": "warn"}, cwd=db.parent)
    log = db.parent / f"{name}.serve.log"
    proc = bench.start_receiver(launch, log)
    try:
        bench.wait_ready(proc, port, log)
    except BaseException:
        bench.stop_process(proc)
        raise
    return proc, port


def run_load(port: int, secs: int, out_json: Path) -> dict:
    argv = ["taskset", "-c", bench.LOAD_CPU, str(bench.LOAD_BIN),
            "--url", f"http://127.0.0.1:{port}/webhooks/dash", "--secret", SECRET,
            "--connections", "64", "--events", str(secs * 20_000),
            "--duration-secs", str(secs), "--duplicate-share", "0.05",
            "--timestamps", "live", "--window-secs", "10",
            "--stats-url", f"http://127.0.0.1:{port}/stats", "--json", str(out_json)]
    load = subprocess.run(argv, cwd=bench.ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=secs + 300)
    if load.returncode != 0:
        raise bench.BenchError(f"load generator exited with {load.returncode}: "
                               f"{load.stderr[-1500:]}")
    return json.loads(out_json.read_text())


def write_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise bench.BenchError("no write_bytes in /proc/PID/io")


def checkpoint_pages(frames, interval_s: float) -> collections.Counter:
    """Distinct pages per `interval_s` of frames: what a checkpoint that often copies."""
    copied: collections.Counter = collections.Counter()
    window, start = set(), None
    for at, page, _ in frames:
        if start is None:
            start = at
        if at - start >= interval_s:
            copied.update(window)
            window, start = set(), at
        window.add(page)
    copied.update(window)
    return copied


def attribute(db: Path, follower: WalFollower, stored: int, written: int, page_size: int,
              interval_s: float) -> dict:
    frames = follower.frames
    per_page = collections.Counter(page for _, page, _ in frames)
    copied = checkpoint_pages(frames, interval_s)
    names = owners(db, set(per_page))
    wal, ckpt = collections.Counter(), collections.Counter()
    for page, count in per_page.items():
        wal[names.get(page, "(freed or free list)")] += count
    for page, count in copied.items():
        ckpt[names.get(page, "(freed or free list)")] += count
    commits = sum(1 for f in frames if f[2])
    kib = (page_size + FRAME_HEADER) / 1024
    rows = []
    for name in sorted(set(wal) | set(ckpt), key=lambda n: -(wal[n] + ckpt[n])):
        rows.append({
            "structure": name,
            "wal_pages_per_commit": round(wal[name] / max(commits, 1), 2),
            "wal_kib_per_event": round(wal[name] * kib / stored, 2),
            "checkpoint_kib_per_event": round(ckpt[name] * page_size / 1024 / stored, 2),
        })
    estimated = (len(frames) * (page_size + FRAME_HEADER) + sum(copied.values()) * page_size)
    return {
        "stored": stored, "commits": commits,
        "events_per_commit": round(stored / max(commits, 1), 1),
        "frames_read": len(frames),
        "wal_restarts": follower.generations,
        "written_kib_per_event": round(written / 1024 / stored, 2),
        "estimated_kib_per_event": round(estimated / 1024 / stored, 2),
        "structures": rows,
        "checkpoint_if_every": {
            f"{secs:g} s": round(sum(checkpoint_pages(frames, secs).values()) * page_size
                                 / 1024 / stored, 2)
            for secs in SIMULATED_INTERVALS_S},
    }


def markdown(report: dict, args) -> str:
    lines = [
        f"`python3 bench/wal_frames.py --db {args.db} --secs {args.secs}`; log at start: "
        f"{report['log_at_start']:,} events; {report['stored']:,} stored in "
        f"{report['commits']:,} commits ({report['events_per_commit']} events per commit), "
        f"{report['events_per_s']:,} events/s.",
        "",
        f"Written by the receiver (`/proc/PID/io`): **{report['written_kib_per_event']} KiB per "
        f"event**; WAL frames read plus the checkpoint copies estimated from them: "
        f"{report['estimated_kib_per_event']} KiB ({report['wal_restarts']} WAL restarts).",
        "",
        "| structure | WAL pages per commit | WAL KiB per event | checkpoint KiB per event |",
        "|---|---:|---:|---:|",
    ]
    for r in report["structures"]:
        if r["wal_kib_per_event"] + r["checkpoint_kib_per_event"] < 0.01:
            continue
        lines.append(f"| {r['structure']} | {r['wal_pages_per_commit']} | "
                     f"{r['wal_kib_per_event']} | {r['checkpoint_kib_per_event']} |")
    lines += ["", "The checkpoint's copy had it run at other intervals (KiB per event): " + ", ".join(
        f"{k}: {v}" for k, v in report["checkpoint_if_every"].items()) + "."]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", type=Path, required=True, help="an SQLite log grown before")
    p.add_argument("--secs", type=int, default=60)
    p.add_argument("--checkpoint-s", type=float, default=1.0,
                   help="the service's checkpoint interval, for the copy estimate")
    p.add_argument("--out", help="write bench/results/NAME.json and .md")
    args = p.parse_args()
    os.sched_setaffinity(0, {int(bench.LOAD_CPU)})  # keep the follower off the receiver's CPU
    db = args.db.resolve()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        log_at_start = conn.execute("select count(*) from events").fetchone()[0]
        page_size = conn.execute("pragma page_size").fetchone()[0]
    proc, port = start_serve(db, "wal_frames")
    follower = None
    try:
        follower = WalFollower(Path(f"{db}-wal"))
        follower.start()
        before = write_bytes(proc.pid)
        result = run_load(port, args.secs, db.parent / "wal_frames.load.json")
        written = write_bytes(proc.pid) - before
    finally:
        if follower:
            follower.stop.set()
            follower.join()
        bench.stop_process(proc)
    stored = max(1, result["stored"] - result["stored_before"])
    report = attribute(db, follower, stored, written, page_size, args.checkpoint_s)
    report.update({"log_at_start": log_at_start, "events_per_s": round(stored / args.secs)})
    text = markdown(report, args)
    print(text)
    if args.out:
        (bench.RESULTS / f"{args.out}.json").write_text(json.dumps(report, indent=1) + "\n")
        (bench.RESULTS / f"{args.out}.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
