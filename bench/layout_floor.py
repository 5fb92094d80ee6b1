#!/usr/bin/env python3
"""Storage layouts compared on a grown log: bytes and time SQLite alone spends per event.

The events table of dash-events (and variants of it) is grown to `--preload` rows without
syncing, then `--events` more rows are inserted as the group commit inserts them: batches of
`--batch`, one `synchronous=FULL` commit each, and a PASSIVE checkpoint every `--checkpoint-ms`
(or, with `--checkpoint-events`, after that many events). Bytes written are read
from `/proc/self/io`, which counts what reached the block layer: WAL frames and checkpoint
copies. They do not depend on the machine's load, so short runs compare layouts fairly.

    python3 bench/layout_floor.py --layout current --page-size 4096 --preload 1000000
    python3 bench/layout_floor.py --layout current --page-size 1024 --preload 1000000

`--shape live` gives each event the time it is inserted (as Dash sends them); `backfill`
spreads timestamps over a month. Ids are random UUIDv4, the worst case for the id index.
"""

import argparse
import hashlib
import os
import random
import resource
import sqlite3
import tempfile
import time
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sqlite_floor import daily_totals, written_bytes  # noqa: E402  the same sums and counters

TYPES = [
    ("agent:complete", 30), ("agent:start", 20), ("swarm:progress", 15),
    ("workflow:step:complete", 10), ("agent:error", 5), ("swarm:start", 4),
    ("swarm:complete", 4), ("workflow:start", 4), ("workflow:complete", 4),
    ("budget:warning", 2), ("safety:block", 1), ("budget:exceeded", 1),
]
MONTH_US = 30 * 24 * 3600 * 1_000_000
DAY_US = 24 * 3600 * 1_000_000

# The service's schema after its migrations, with the variants measured against it.
LAYOUTS = {
    "current": """
        create table events (seq integer primary key autoincrement, id text not null unique,
            type blob not null, ts_us integer not null, received_us integer not null,
            content_hash blob not null, cost real, duration_ms real, body blob not null,
            signature blob);
        create index events_by_type_time on events (type, ts_us desc, id desc, cost, duration_ms);
    """,
    # The same without the covering columns and the id in the type/time index: what the
    # second index costs.
    "no-type-index": """
        create table events (seq integer primary key autoincrement, id text not null unique,
            type blob not null, ts_us integer not null, received_us integer not null,
            content_hash blob not null, cost real, duration_ms real, body blob not null,
            signature blob);
    """,
    # The type/time index ascending: live inserts then go to the right end of each type's range
    # instead of its left end, where SQLite splits pages half full.
    "asc-type-index": """
        create table events (seq integer primary key autoincrement, id text not null unique,
            type blob not null, ts_us integer not null, received_us integer not null,
            content_hash blob not null, cost real, duration_ms real, body blob not null,
            signature blob);
        create index events_by_type_time on events (type, ts_us, id, cost, duration_ms);
    """,
    # Dedup deferred, as a log-structured merge would do it: the events table has no id index;
    # new ids are checked against memory and the merged id table, and merged into that table
    # (sorted, in one transaction) every --merge-events, so that each index page a merge
    # rewrites takes many ids at once. Not built in the service; measured here as its floor.
    "deferred-ids": """
        create table events (seq integer primary key autoincrement, id text not null,
            type blob not null, ts_us integer not null, received_us integer not null,
            content_hash blob not null, cost real, duration_ms real, body blob not null,
            signature blob);
        create index events_by_type_time on events (type, ts_us, id, cost, duration_ms);
        create table event_ids (id text primary key, seq integer not null) without rowid;
    """,
    # The id index alone, in a table of its own keyed by id: what dedup costs by itself.
    "ids-only": """
        create table events (id text primary key not null) without rowid;
    """,
}
STATS = """
    create table event_stats (type blob not null, day_us integer not null, shard integer not null,
        events integer not null, cost_sum real not null, duration_sum real not null,
        duration_count integer not null, primary key (type, day_us, shard));
"""


class Rows:
    """The benchmark's rows: random ids, 300–800-byte bodies, live or backfill timestamps."""

    def __init__(self, shape, seed):
        self.rng = random.Random(seed)
        self.shape = shape
        self.names = [t for t, _ in TYPES]
        self.weights = [w for _, w in TYPES]

    def make(self, count, now_us):
        rng = self.rng
        out = []
        for i in range(count):
            event_type = rng.choices(self.names, self.weights)[0]
            body = os.urandom(rng.randint(150, 400)).hex().encode()
            ts = now_us + i if self.shape == "live" else now_us - rng.randrange(MONTH_US)
            out.append((
                str(uuid.uuid4()), event_type.encode(), ts, now_us,
                hashlib.sha256(body).digest(), rng.random(), float(rng.randint(10, 90_000)),
                body, os.urandom(32),
            ))
        return out


def statements(layout):
    if layout == "ids-only":
        return "insert into events (id) values (?) on conflict (id) do nothing", None
    if layout == "deferred-ids":
        insert = ("insert into events (id, type, ts_us, received_us, content_hash, cost,"
                  " duration_ms, body, signature) values (?,?,?,?,?,?,?,?,?)")
        return insert, statements("current")[1]
    insert = ("insert into events (id, type, ts_us, received_us, content_hash, cost, duration_ms,"
              " body, signature) values (?,?,?,?,?,?,?,?,?) on conflict (id) do nothing")
    upsert = ("insert into event_stats values (?,?,0,?,?,?,?) on conflict (type, day_us, shard)"
              " do update set events = events + excluded.events,"
              " cost_sum = cost_sum + excluded.cost_sum,"
              " duration_sum = duration_sum + excluded.duration_sum,"
              " duration_count = duration_count + excluded.duration_count")
    return insert, upsert


def shaped(layout, batch):
    return [(row[0],) for row in batch] if layout == "ids-only" else batch


class Merger:
    """The deferred layout's merge of recent ids into the id table; a no-op for the others."""

    def __init__(self, db, args):
        self.db, self.every, self.active = db, args.merge_events, args.layout == "deferred-ids"
        self.merged, self.pending = 0, 0

    def inserted(self, count, commit=True):
        if not self.active:
            return
        self.pending += count
        if self.pending >= self.every:
            self.merge(commit)

    def merge(self, commit=True):
        if not self.active or self.pending == 0:
            return
        top = self.db.execute("select max(seq) from events").fetchone()[0]
        if commit:
            self.db.execute("begin")
        self.db.execute("insert into event_ids select id, seq from events"
                        " where seq > ? and seq <= ? order by id", (self.merged, top))
        if commit:
            self.db.execute("commit")
        self.merged, self.pending = top, 0


def preload(db, args, rows, insert, upsert, merger):
    """Grows the log without syncing: the layout is the same, only faster to reach."""
    db.execute("pragma synchronous=off")
    start_us = int(time.time() * 1_000_000) - args.preload * 1000
    done = 0
    while done < args.preload:
        chunk = rows.make(min(20_000, args.preload - done), start_us + done * 1000)
        db.execute("begin")
        for i in range(0, len(chunk), args.batch):
            batch = chunk[i:i + args.batch]
            db.executemany(insert, shaped(args.layout, batch))
            if upsert:
                db.executemany(upsert, daily_totals(batch))
            merger.inserted(len(batch), commit=False)
        db.execute("commit")
        done += len(chunk)
    merger.merge()
    db.execute("pragma wal_checkpoint(truncate)")
    db.execute("pragma synchronous=full")


def measure(db, args, rows, insert, upsert, merger):
    now_us = int(time.time() * 1_000_000)
    data = rows.make(args.events, now_us)
    batches = [data[i:i + args.batch] for i in range(0, len(data), args.batch)]
    totals = [daily_totals(b) if upsert else [] for b in batches]
    cpu0, bytes0, wall0 = resource.getrusage(resource.RUSAGE_SELF), written_bytes(), time.time()
    last_checkpoint, checkpoints, since = wall0, 0, 0
    for batch, batch_totals in zip(batches, totals):
        db.execute("begin")
        db.executemany(insert, shaped(args.layout, batch))
        if upsert:
            db.executemany(upsert, batch_totals)
        db.execute("commit")
        merger.inserted(len(batch))
        since += len(batch)
        if due(args, last_checkpoint, since):
            db.execute("pragma wal_checkpoint(PASSIVE)")
            last_checkpoint, checkpoints, since = time.time(), checkpoints + 1, 0
    db.execute("pragma wal_checkpoint(PASSIVE)")
    wall = time.time() - wall0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    return wall, cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, \
        written_bytes() - bytes0, checkpoints


def due(args, last_checkpoint, since):
    if args.checkpoint_events:
        return since >= args.checkpoint_events
    return time.time() - last_checkpoint > args.checkpoint_ms / 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="current")
    parser.add_argument("--page-size", type=int, default=4096)
    parser.add_argument("--preload", type=int, default=0)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=55)
    parser.add_argument("--shape", choices=["live", "backfill"], default="live")
    parser.add_argument("--checkpoint-ms", type=int, default=250)
    parser.add_argument("--checkpoint-events", type=int, default=0,
                        help="checkpoint after this many events instead of every --checkpoint-ms")
    parser.add_argument("--merge-events", type=int, default=200_000,
                        help="deferred-ids: merge the recent ids after this many events")
    parser.add_argument("--dir", default=None, help="a directory on a real disk (not tmpfs)")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(dir=args.dir, prefix="layout-floor-")
    path = os.path.join(workdir, "floor.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"pragma page_size={args.page_size}")
    for pragma in ("journal_mode=wal", "synchronous=full", "wal_autocheckpoint=0",
                   "cache_size=-32768", "temp_store=memory"):
        db.execute(f"pragma {pragma}")
    db.executescript(LAYOUTS[args.layout] + STATS)
    insert, upsert = statements(args.layout)
    rows = Rows(args.shape, 7)
    merger = Merger(db, args)
    preload(db, args, rows, insert, upsert, merger)
    wall, cpu, written, checkpoints = measure(db, args, rows, insert, upsert, merger)
    size = os.path.getsize(path)
    stored = args.preload + args.events
    db.close()
    for name in os.listdir(workdir):
        os.remove(os.path.join(workdir, name))
    os.rmdir(workdir)

    n = args.events
    print(f"layout {args.layout} page {args.page_size} shape {args.shape} preload {args.preload} "
          f"batch {args.batch} checkpoints {checkpoints}: "
          f"{written / n / 1024:.2f} KiB written/event, {cpu * 1e6 / n:.0f} us CPU/event, "
          f"{n / wall:,.0f} events/s, {size / stored:.0f} B on disk/event")


if __name__ == "__main__":
    main()
