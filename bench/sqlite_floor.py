#!/usr/bin/env python3
"""The storage engine's floor: what SQLite alone costs per event on dash-events' schema.

No HTTP, no HMAC, no JSON, no async runtime: the rows the benchmark's events become, inserted by
SQLite's C loop (`executemany`) in batches like the group commit's, one `synchronous=FULL` commit
per batch, and a PASSIVE checkpoint every 250 ms as `serve` does. The CPU and bytes written per
event are the part of a durable receiver's budget that no HTTP stack can win back.

    python3 bench/sqlite_floor.py [--events 60000] [--batch 31] [--dir DIR]

The schema is the service's own: `target/release/dash-events migrate` creates the file.
"""

import argparse
import hashlib
import os
import random
import resource
import sqlite3
import subprocess
import tempfile
import time
import uuid

TYPES = [
    ("agent:start", 20), ("agent:complete", 20), ("agent:error", 4), ("swarm:start", 3),
    ("swarm:complete", 3), ("swarm:progress", 25), ("workflow:start", 4),
    ("workflow:complete", 4), ("workflow:step:complete", 12), ("budget:warning", 2),
    ("budget:exceeded", 1), ("safety:block", 2),
]
MONTH_US = 30 * 24 * 3600 * 1_000_000
DAY_US = 24 * 3600 * 1_000_000


def rows(count, rng):
    names = [t for t, _ in TYPES]
    weights = [w for _, w in TYPES]
    now_us = int(time.time() * 1_000_000)
    for _ in range(count):
        event_type = rng.choices(names, weights)[0]
        body = os.urandom(rng.randint(150, 400)).hex().encode()
        yield (
            str(uuid.uuid4()), event_type.encode(), now_us - rng.randrange(MONTH_US), now_us,
            hashlib.sha256(body).digest(), rng.random(), float(rng.randint(10, 90_000)), body,
            os.urandom(32),
        )


def daily_totals(batch):
    totals = {}
    for row in batch:
        key = (row[1], row[2] - row[2] % DAY_US)
        events, cost, duration = totals.get(key, (0, 0.0, 0.0))
        totals[key] = (events + 1, cost + row[5], duration + row[6])
    return [(t, d, n, c, du, n) for (t, d), (n, c, du) in sorted(totals.items())]


def written_bytes():
    with open("/proc/self/io") as io:
        return next(int(l.split()[1]) for l in io if l.startswith("write_bytes"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=31)
    parser.add_argument("--dir", default=None, help="a directory on a real disk (not tmpfs)")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(dir=args.dir, prefix="sqlite-floor-")
    path = os.path.join(workdir, "floor.db")
    binary = os.path.join(os.path.dirname(__file__), "..", "target", "release", "dash-events")
    subprocess.run([binary, "migrate"], check=True, capture_output=True,
                   env={**os.environ, "DATABASE_URL": f"sqlite:{path}?mode=rwc"})

    data = list(rows(args.events, random.Random(7)))
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=wal", "synchronous=full", "wal_autocheckpoint=0",
                   "cache_size=-32768", "temp_store=memory"):
        db.execute(f"pragma {pragma}")
    insert = ("insert into events (id, type, ts_us, received_us, content_hash, cost, duration_ms,"
              " body, signature) values (?,?,?,?,?,?,?,?,?) on conflict (id) do nothing")
    upsert = ("insert into event_stats values (?,?,0,?,?,?,?) on conflict (type, day_us, shard)"
              " do update set events = events + excluded.events,"
              " cost_sum = cost_sum + excluded.cost_sum,"
              " duration_sum = duration_sum + excluded.duration_sum,"
              " duration_count = duration_count + excluded.duration_count")
    # The service adds a batch up per (type, day) before its upsert; so does this, untimed.
    batches = [data[i:i + args.batch] for i in range(0, len(data), args.batch)]
    totals = [daily_totals(batch) for batch in batches]

    cpu0, bytes0, wall0 = resource.getrusage(resource.RUSAGE_SELF), written_bytes(), time.time()
    last_checkpoint = wall0
    for batch, batch_totals in zip(batches, totals):
        db.execute("begin")
        db.executemany(insert, batch)
        db.executemany(upsert, batch_totals)
        db.execute("commit")
        if time.time() - last_checkpoint > 0.25:
            db.execute("pragma wal_checkpoint(PASSIVE)")
            last_checkpoint = time.time()
    wall = time.time() - wall0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    written = written_bytes() - bytes0
    stored = db.execute("select count(*) from events").fetchone()[0]
    db.close()
    subprocess.run(["rm", "-rf", workdir], check=True)

    n = args.events
    print(f"events {n}, batch {args.batch}, stored {stored}")
    print(f"wall {wall:.2f} s = {n / wall:,.0f} events/s on one thread")
    print(f"user {1e6 * (cpu1.ru_utime - cpu0.ru_utime) / n:.1f} us/event, "
          f"sys {1e6 * (cpu1.ru_stime - cpu0.ru_stime) / n:.1f} us/event, "
          f"written {written / n / 1024:.1f} KiB/event")


if __name__ == "__main__":
    main()
