#!/usr/bin/env python3
"""What the text search index costs a write: the store's batch insert with and without it.

    python3 bench/search_cost.py --dir DIR [--events 100000] [--rounds 3] [--postgres URL]

Grows new logs to `--events` events with `target/release/dash-events-grow` (the batch insert
every delivery goes through, in batches of 256, without HTTP and without the per-commit fsync),
alternately with and without `--search-index`, `--rounds` times on each backend, so that a
machine shared with other work slows both sides alike. Reports, per backend and side, the median
µs per event of the grow and the bytes on disk per event (SQLite: the file after a checkpoint
that empties its WAL; PostgreSQL: pg_database_size of a new database per run, dropped afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time

GROW = os.path.join(os.path.dirname(__file__), "..", "target", "release", "dash-events-grow")


def grow(binary: str, url: str, events: int, search: bool) -> float:
    """Grows the log at `url` to `events`; answers the seconds it took."""
    args = [binary, "--database-url", url, "--to", str(events)]
    if search:
        args.append("--search-index")
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def psql(server: str, sql: str) -> str:
    done = subprocess.run(["psql", server, "-Atc", sql], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def sqlite_run(binary: str, directory: str, events: int, search: bool, n: int) -> tuple[float, int]:
    path = os.path.join(directory, f"search-cost-{n}-{int(search)}.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    seconds = grow(binary, f"sqlite://{path}", events, search)
    # The WAL left at exit holds a varying share of the pages: fold it into the file first.
    with sqlite3.connect(path) as conn:
        conn.execute("pragma wal_checkpoint(truncate)")
    size = os.path.getsize(path)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return seconds, size


def postgres_run(binary: str, server: str, events: int, search: bool, n: int) -> tuple[float, int]:
    name = f"search_cost_{os.getpid()}_{n}_{int(search)}"
    psql(server, f"create database {name}")
    try:
        base = server.rsplit("/", 1)[0]
        seconds = grow(binary, f"{base}/{name}", events, search)
        size = int(psql(server, f"select pg_database_size('{name}')"))
    finally:
        psql(server, f"drop database if exists {name}")
    return seconds, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="where the SQLite files go")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", help="a server URL whose user may create databases")
    parser.add_argument("--grow", default=GROW, help="the dash-events-grow binary")
    args = parser.parse_args()
    backends = [("SQLite", lambda s, n: sqlite_run(args.grow, args.dir, args.events, s, n))]
    if args.postgres:
        backends.append(("PostgreSQL", lambda s, n: postgres_run(args.grow, args.postgres, args.events, s, n)))
    print(f"{args.events} events per log, {args.rounds} rounds, {time.strftime('%Y-%m-%d %H:%M')}")
    print("| backend | index | µs per event | bytes per event | runs (s) |")
    print("|---|---|---:|---:|---|")
    for name, run in backends:
        results: dict[bool, list[tuple[float, int]]] = {False: [], True: []}
        for n in range(args.rounds):
            # Alternate which side goes first, so neither always runs on a warmer machine.
            for search in ((False, True) if n % 2 == 0 else (True, False)):
                results[search].append(run(search, n))
        for search in (False, True):
            seconds = [r[0] for r in results[search]]
            size = statistics.median(r[1] for r in results[search])
            us = statistics.median(seconds) * 1e6 / args.events
            runs = ", ".join(f"{s:.1f}" for s in seconds)
            print(f"| {name} | {'on' if search else 'off'} | {us:.1f} | {size / args.events:.0f} | {runs} |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
