#!/usr/bin/env python3
"""The growth benchmark: sustained ingest into a log that already holds many events.

    python3 bench/growth.py --tmpdir /work/tmp                       # the full protocol
    python3 bench/growth.py --sizes 100000 --run-secs 60 --quick ... # a short look

For each receiver (dash-events on SQLite, dash-events on PostgreSQL, Express + better-sqlite3):
a new database is grown to each size of `--sizes` in turn (dash-events through its own batch
insert, `target/release/dash-events-grow`; Express by inserting its rows directly), then the
receiver is started alone on CPU 0 and `dash-events-load` on CPU 1 sends 64 connections of live
traffic (timestamps at sending time, random UUIDv4 ids, 5 % resends) for `--run-secs`. At the
largest size a backfill run follows (timestamps scattered over a month). After the runs at the
largest size, the queries of the read API are timed against that log.

Reported per run: events/s per window and overall, p50/p99/p99.9, the receiver's CPU µs per
delivery and bytes written per stored event (from /proc/PID/io), and on PostgreSQL the server's
WAL bytes (pg_stat_wal), its processes' CPU and bytes written; bytes on disk per stored event.
Writes bench/results/growth.json, growth.md and growth.png (throughput and p99 against log size).

Only processes this script starts are stopped, by their PID, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import resource
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  the fixed benchmark's process and PostgreSQL helpers

GROW_BIN = bench.RELEASE / "dash-events-grow"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SPAN_DAYS = 60  # grown logs cover two months, so that "prune a month" deletes one
RESULTS = bench.RESULTS


# ---------------------------------------------------------------------------------------------
# Receivers: where the database lives, how it grows, how it is measured


class Subject:
    """One receiver and its database, kept across the sizes."""

    key = ""
    name = ""

    def __init__(self, tmp: Path, secret: str):
        self.tmp, self.secret = tmp, secret

    def grow(self, size: int, shape: str) -> dict:
        raise NotImplementedError

    def launch(self, port: int) -> bench.Launch:
        raise NotImplementedError

    def disk_bytes(self) -> int:
        raise NotImplementedError

    def server_counters(self) -> dict:
        """Counters of the database server, for receivers that have one."""
        return {}

    def drop(self) -> None:
        pass

    def adopt(self, log: str) -> None:
        """Continues on `log`, a log grown before (see `--start-from`), instead of its own."""
        raise bench.BenchError(f"{self.name} cannot start from a log grown before")


class DashSqlite(Subject):
    key, name = "dash-sqlite", "dash-events (SQLite)"

    @property
    def url(self) -> str:
        return f"sqlite://{self.tmp / 'growth.db'}"

    def grow(self, size, shape):
        return grow_dash(self.url, size, shape, self.secret)

    def launch(self, port):
        return dash_launch(self.url, port, self.secret, self.tmp)

    def disk_bytes(self):
        return sum(p.stat().st_size for p in self.tmp.glob("growth.db*"))

    def adopt(self, log):
        for part in self.tmp.glob("growth.db*"):
            part.unlink()
        # The WAL holds committed transactions not yet checkpointed into the file (a grown log
        # can leave hundreds of MB there): moving the file alone loses them. The shared-memory
        # index is rebuilt from the WAL by the next opener.
        shutil.move(log, self.tmp / "growth.db")
        if Path(f"{log}-wal").exists():
            shutil.move(f"{log}-wal", self.tmp / "growth.db-wal")
        Path(f"{log}-shm").unlink(missing_ok=True)


class DashPostgres(Subject):
    key, name = "dash-postgres", "dash-events (PostgreSQL)"

    def __init__(self, tmp, secret):
        super().__init__(tmp, secret)
        self.db = f"dash_events_growth_{os.getpid()}_{secrets.token_hex(3)}"
        bench.psql_admin(f"create database {self.db}")

    @property
    def url(self) -> str:
        return f"postgres://{bench.PG_USER}@{bench.PG_HOST}:{bench.PG_PORT}/{self.db}"

    def grow(self, size, shape):
        grown = grow_dash(self.url, size, shape, self.secret)
        bench.psql_admin("checkpoint")  # each run starts with the same full-page-write debt
        return grown

    def launch(self, port):
        return dash_launch(self.url, port, self.secret, self.tmp)

    def disk_bytes(self):
        return int(bench.psql_admin(f"select pg_database_size('{self.db}')"))

    def server_counters(self):
        wal = int(bench.psql_admin("select wal_bytes from pg_stat_wal"))
        cpu, written = postgres_processes()
        return {"wal_bytes": wal, "server_cpu_ticks": cpu, "server_write_bytes": written}

    def drop(self):
        bench.drop_database(self.db)

    def adopt(self, log):
        bench.drop_database(self.db)
        self.db = log


class ExpressSqlite(Subject):
    key, name = "express-sqlite", "Express + better-sqlite3"

    @property
    def path(self) -> Path:
        return self.tmp / "express.db"

    def grow(self, size, shape):
        return grow_express(self.path, size, shape)

    def launch(self, port):
        env = {"PORT": str(port), "WEBHOOK_SECRET": self.secret, "NODE_ENV": "production",
               "DB_PATH": str(self.path)}
        return bench.Launch(argv=["node", str(bench.BENCH / "express-sqlite-receiver.js")], env=env)

    def disk_bytes(self):
        return sum(p.stat().st_size for p in self.tmp.glob("express.db*"))


SUBJECTS = {s.key: s for s in (DashSqlite, DashPostgres, ExpressSqlite)}


def dash_launch(url: str, port: int, secret: str, tmp: Path) -> bench.Launch:
    return bench.Launch(
        argv=[str(bench.SERVER_BIN), "serve", "--listen", f"127.0.0.1:{port}",
              "--database-url", url, "--webhook-secret", secret],
        env={"RUST_LOG": "warn"}, cwd=tmp)


def grow_dash(url: str, size: int, shape: str, secret: str) -> dict:
    started = time.monotonic()
    out = subprocess.run([str(GROW_BIN), "--database-url", url, "--to", str(size),
                          "--timestamps", shape, "--span-days", str(SPAN_DAYS),
                          "--secret", secret],
                         capture_output=True, text=True, env=bench.clean_env({}))
    if out.returncode != 0:
        raise bench.BenchError(f"dash-events-grow failed:\n{out.stderr[-2000:]}")
    grown = json.loads(out.stdout.strip().splitlines()[-1])
    grown["wall_s"] = round(time.monotonic() - started, 1)
    return grown


TYPES = ["agent:complete"] * 30 + ["agent:start"] * 20 + ["swarm:progress"] * 15 + \
    ["workflow:step:complete"] * 10 + ["agent:error"] * 5 + ["swarm:start"] * 4 + \
    ["swarm:complete"] * 4 + ["workflow:start"] * 4 + ["workflow:complete"] * 4 + \
    ["budget:warning"] * 2 + ["safety:block", "budget:exceeded"]
WORDS = "summarise the open issues and draft release notes for review agent swarm".split()


def grow_express(path: Path, size: int, shape: str) -> dict:
    """Rows as express-sqlite-receiver.js stores them: id, type, timestamp, re-serialised body."""
    started = time.monotonic()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("pragma journal_mode=wal")
    db.execute("pragma synchronous=off")
    db.execute("create table if not exists events (id text primary key, type text not null, "
               "timestamp text not null, body text not null)")
    have = db.execute("select count(*) from events").fetchone()[0]
    rng = random.Random()
    end = time.time()
    span = SPAN_DAYS * 86400
    missing = max(0, size - have)
    for start in range(0, missing, 10_000):
        rows = []
        for i in range(start, min(missing, start + 10_000)):
            at = end - span + span * i / missing if shape == "live" else end - rng.random() * span
            stamp = dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            event_type = rng.choice(TYPES)
            notes = " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 90)))
            body = json.dumps({"id": str(uuid.uuid4()), "type": event_type, "timestamp": stamp,
                               "data": {"notes": notes}, "webhookId": "wh_bench",
                               "instanceId": "inst_bench"}, separators=(",", ":"))
            rows.append((json.loads(body)["id"], event_type, stamp, body))
        db.execute("begin")
        db.executemany("insert into events values (?,?,?,?) on conflict(id) do nothing", rows)
        db.execute("commit")
    db.execute("pragma wal_checkpoint(truncate)")
    stored = db.execute("select count(*) from events").fetchone()[0]
    db.close()
    return {"stored": stored, "added": stored - have,
            "wall_s": round(time.monotonic() - started, 1)}


# ---------------------------------------------------------------------------------------------
# Counters


def proc_counters(pid: int) -> dict:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return {"cpu_ticks": int(fields[11]) + int(fields[12]),
            "write_bytes": int(io["write_bytes"]), "read_bytes": int(io["read_bytes"])}


def postgres_processes() -> tuple[int, int]:
    """CPU ticks and bytes written of every process named postgres (the server and backends)."""
    cpu = written = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError, KeyError):
            stat = (entry / "stat").read_text()
            if stat.split("(", 1)[1].split(")", 1)[0] != "postgres":
                continue
            fields = stat.rsplit(")", 1)[1].split()
            io = dict(line.split(": ") for line in (entry / "io").read_text().splitlines())
            cpu += int(fields[11]) + int(fields[12])
            written += int(io["write_bytes"])
    return cpu, written


def delta(after: dict, before: dict) -> dict:
    return {k: after[k] - before[k] for k in after if k in before}


# ---------------------------------------------------------------------------------------------
# One sustained run


def sustained_run(subject: Subject, port: int, proc, shape: str, args, secs: int) -> dict:
    out_json = subject.tmp / "load.json"
    argv = ["taskset", "-c", bench.LOAD_CPU, str(bench.LOAD_BIN),
            "--url", f"http://127.0.0.1:{port}/webhooks/dash", "--secret", subject.secret,
            "--connections", "64", "--events", str(args.max_events),
            "--duration-secs", str(secs), "--duplicate-share", "0.05",
            "--timestamps", shape, "--window-secs", "10",
            "--stats-url", f"http://127.0.0.1:{port}/stats", "--json", str(out_json)]
    before, server_before = proc_counters(proc.pid), subject.server_counters()
    busy_before, wall_before = machine_busy_ticks(), time.monotonic()
    children_before = children_cpu_ticks()
    load = subprocess.Popen(argv, cwd=bench.ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        _, err = load.communicate(timeout=secs + 300)
    except subprocess.TimeoutExpired:
        bench.stop_process(load)
        raise bench.BenchError("load generator overran its time; stopped it") from None
    if load.returncode != 0:
        raise bench.BenchError(f"load generator exited with {load.returncode}: {err[-1500:]}")
    after, server_after = proc_counters(proc.pid), subject.server_counters()
    busy, wall = machine_busy_ticks() - busy_before, time.monotonic() - wall_before
    result = json.loads(out_json.read_text())
    used, server = delta(after, before), delta(server_after, server_before)
    deliveries = max(1, result["ok"])
    stored_new = max(1, result["stored"] - result["stored_before"])
    result.update({
        "shape": shape,
        "cpu_us_per_delivery": round(used["cpu_ticks"] / CLK_TCK * 1e6 / deliveries, 1),
        "written_kib_per_event": round(used["write_bytes"] / 1024 / stored_new, 2),
        "read_kib_per_event": round(used["read_bytes"] / 1024 / stored_new, 2),
    })
    if server:
        result.update({
            "wal_kib_per_event": round(server["wal_bytes"] / 1024 / stored_new, 2),
            "server_cpu_us_per_delivery": round(
                server["server_cpu_ticks"] / CLK_TCK * 1e6 / deliveries, 1),
            "server_written_kib_per_event": round(
                server["server_write_bytes"] / 1024 / stored_new, 2),
        })
    result["disk_bytes_per_event"] = round(subject.disk_bytes() / max(1, result["stored"]))
    # CPU that neither the receiver, its database server nor the load generator used: other
    # work on the machine during the run, which takes time from them (the report shows it).
    load_ticks = children_cpu_ticks() - children_before
    others = busy - used["cpu_ticks"] - server.get("server_cpu_ticks", 0) - load_ticks
    result["other_cpu_share"] = round(max(0.0, others / CLK_TCK / wall / os.cpu_count()), 3)
    return result


def machine_busy_ticks() -> int:
    return sum(busy for busy, _ in bench.cpu_ticks().values())


def children_cpu_ticks() -> int:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((usage.ru_utime + usage.ru_stime) * CLK_TCK)


# ---------------------------------------------------------------------------------------------
# Queries


def get(url: str, limit_s: float = 30) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=limit_s) as answer:
        body = answer.read()
    return (time.perf_counter() - started) * 1000, body


def timed(url: str, repeats: int) -> dict:
    times = sorted(get(url)[0] for _ in range(repeats))
    return {"p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
            "repeats": repeats}


def page_50(base: str, query: dict) -> str:
    """The URL of the 50th page of `query`, found by following 49 cursors."""
    params = dict(query, limit="50")
    for _ in range(49):
        _, body = get(f"{base}/events?{urllib.parse.urlencode(params)}")
        cursor = json.loads(body).get("nextCursor")
        if not cursor:
            break
        params["cursor"] = cursor
    return f"{base}/events?{urllib.parse.urlencode(params)}"


def iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def query_timings(port: int, repeats: int) -> dict:
    base = f"http://127.0.0.1:{port}"
    now = time.time()
    day, month = iso(now - 86400), iso(now - 30 * 86400)
    kind = {"type": "agent:complete"}
    out = {
        "events first page": timed(f"{base}/events?limit=50", repeats),
        "events page 50": timed(page_50(base, {}), repeats),
        "events type first page": timed(f"{base}/events?limit=50&type=agent:complete", repeats),
        "events type page 50": timed(page_50(base, kind), repeats),
        "events since a day, first page": timed(f"{base}/events?limit=50&since={day}", repeats),
        "events type since a day, page 50": timed(page_50(base, dict(kind, since=day)), repeats),
        **audit_filter_timings(base, repeats),
        "stats, everything": timed(f"{base}/stats", repeats),
        "stats, a day": timed(f"{base}/stats?since={day}", repeats),
        "timeline, a month by hour": timed(
            f"{base}/stats/timeline?since={month}&until={iso(now)}&bucket=hour", repeats),
        # Issue 15's targets at 10^7: a day grouped by agent <= 100 ms, a month <= 1 s.
        "groups by agent, a day": timed(f"{base}/stats/groups?by=agentId&since={day}", repeats),
        "groups by agent, a month": timed(
            f"{base}/stats/groups?by=agentId&since={month}&until={iso(now)}", repeats),
        "stats of one agent": timed(f"{base}/stats?agentId=agent-101", repeats),
    }
    out["export"] = export_rate(f"{base}/events/export?since={iso(now - 3 * 86400)}")
    return out


# Ids the load generator's events carry (`send_test::sample_data`, `load::events`): one agent
# of its fifty, its one swarm and workflow, and the instance every event names.
AUDIT_FILTERS = {
    "agentId": "agent-117",
    "swarmId": "swarm-1",
    "workflowId": "wf-1",
    "instanceId": "inst_bench",
}


def audit_filter_timings(base: str, repeats: int) -> dict:
    """The first and the 50th page of events filtered by each indexed id."""
    out = {}
    for name, value in AUDIT_FILTERS.items():
        query = {name: value}
        first = f"{base}/events?{urllib.parse.urlencode(dict(query, limit='50'))}"
        out[f"events {name} first page"] = timed(first, repeats)
        out[f"events {name} page 50"] = timed(page_50(base, query), repeats)
    return out


def export_rate(url: str, limit_s: float = 20) -> dict:
    """Events/s of an export, read for at most `limit_s` (the first lines of a long export)."""
    started, lines = time.perf_counter(), 0
    with urllib.request.urlopen(url, timeout=60) as answer:
        for _ in answer:
            lines += 1
            if time.perf_counter() - started > limit_s:
                break
    seconds = time.perf_counter() - started
    return {"events": lines, "seconds": round(seconds, 2), "events_per_s": round(lines / seconds)}


def ready_time(subject: Subject, log: Path) -> tuple[subprocess.Popen, int, float]:
    """Starts the receiver; returns it, its port and the seconds until /readyz answered 200."""
    port = bench.free_port()
    started = time.monotonic()
    proc = bench.start_receiver(subject.launch(port), log)
    deadline = started + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise bench.BenchError(f"receiver exited with {proc.returncode}:\n{bench.tail(log)}")
        with contextlib.suppress(OSError):
            path = "/readyz" if subject.key.startswith("dash") else "/stats"
            if get(f"http://127.0.0.1:{port}{path}", 2)[0] is not None:
                return proc, port, round(time.monotonic() - started, 2)
        time.sleep(0.02)
    bench.stop_process(proc)
    raise bench.BenchError(f"receiver not ready within 120 s:\n{bench.tail(log)}")


def prune_month(subject: Subject) -> dict:
    """`dash-events prune` of the oldest month of a two-month log."""
    started = time.monotonic()
    out = subprocess.run([str(bench.SERVER_BIN), "prune", "--database-url", subject.url,
                          "--retention-days", str(SPAN_DAYS - 30)],
                         capture_output=True, text=True, env=bench.clean_env({}))
    if out.returncode != 0:
        raise bench.BenchError(f"prune failed: {out.stderr[-1500:]}")
    return {"seconds": round(time.monotonic() - started, 1), "output": out.stdout.strip()[-300:]}


# ---------------------------------------------------------------------------------------------
# The protocol


def measure_subject(cls, args) -> dict:
    record = {"receiver": cls.name, "key": cls.key, "sizes": []}
    with contextlib.ExitStack() as cleanup:
        tmp = Path(tempfile.mkdtemp(prefix=f"growth-{cls.key}-", dir=args.tmpdir))
        subject = cls(tmp, secrets.token_hex(16))
        if args.keep:
            record["kept"] = getattr(subject, "url", str(tmp))
        else:
            cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
            cleanup.callback(subject.drop)
        if args.burst_secs:
            record["burst"] = burst(subject, tmp, args)
        if args.start_from:
            subject.adopt(args.start_from)
            record["started_from"] = args.start_from
        for index, size in enumerate(args.sizes):
            largest = index == len(args.sizes) - 1
            print(f"{cls.name}: growing to {size:,} events ...", flush=True)
            step = {"size": size, "grow": subject.grow(size, "live"), "runs": []}
            print(f"  grown: {step['grow']}", flush=True)
            log = tmp / f"receiver-{size}.log"
            proc, port, step["ready_s"] = ready_time(subject, log)
            try:
                shapes = ["live", "backfill"] if largest and not args.live_only else ["live"]
                for shape in shapes:
                    print(f"  {shape} run, {args.run_secs} s ...", flush=True)
                    result = sustained_run(subject, port, proc, shape, args, args.run_secs)
                    print(f"    other CPU {result['other_cpu_share']:.0%}; "
                          f"{result['events_per_s']:,.0f} events/s, p99 "
                          f"{result['p99_ms']:.1f} ms, "
                          f"{result['written_kib_per_event']} KiB written/event, "
                          f"{result['cpu_us_per_delivery']} us CPU/delivery, "
                          f"stored {result['stored']:,}", flush=True)
                    step["runs"].append(result)
                if cls.key.startswith("dash") and not args.no_queries and largest:
                    print("  queries ...", flush=True)
                    step["queries"] = query_timings(port, args.query_repeats)
            finally:
                bench.stop_process(proc)
            if largest and cls.key.startswith("dash") and not args.no_queries:
                step["prune_month"] = prune_month(subject)
                print(f"  prune of a month: {step['prune_month']['seconds']} s", flush=True)
            record["sizes"].append(step)
    return record


def burst(subject: Subject, tmp: Path, args) -> dict:
    """A short live run into the empty log: the rate the sustained runs are compared with."""
    print(f"{subject.name}: {args.burst_secs} s burst into an empty log ...", flush=True)
    proc, port, ready_s = ready_time(subject, tmp / "receiver-burst.log")
    try:
        result = sustained_run(subject, port, proc, "live", args, args.burst_secs)
    finally:
        bench.stop_process(proc)
    result["ready_s"] = ready_s
    print(f"    {result['events_per_s']:,.0f} events/s, p99 {result['p99_ms']:.1f} ms, "
          f"{result['written_kib_per_event']} KiB written/event", flush=True)
    return result


def plot(records: list[dict], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        print(f"no chart ({path.name}): pip install -r bench/requirements.txt, then --combine",
              file=sys.stderr)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_tp, ax_p99) = plt.subplots(1, 2, figsize=(12, 4.8))
    for index, record in enumerate(records):
        for shape in ("live", "backfill"):
            runs = [r for step in record["sizes"] for r in step["runs"] if r["shape"] == shape]
            for n, run in enumerate(runs):
                # One line per run (no line across the growth between runs); the last window is
                # cut short by the end of the run and left out.
                xs, tps, p99s = [], [], []
                held, total = run["stored_before"], run["stored"] - run["stored_before"]
                done = 0.0
                for window in run["windows"][:-1]:
                    done += window["events_per_s"] * run["window_s"] * 0.95
                    xs.append(held + min(done, total))
                    tps.append(window["events_per_s"])
                    p99s.append(window["p99_ms"])
                style = "-" if shape == "live" else ":"
                label = f"{record['receiver']}, {shape}" if n == 0 else None
                color = f"C{index * 2 + (shape == 'backfill')}"
                ax_tp.plot(xs, tps, style, marker=".", color=color, label=label)
                ax_p99.plot(xs, p99s, style, marker=".", color=color, label=label)
    for ax in (ax_tp, ax_p99):
        ax.set_xscale("log")
        ax.set_xlabel("events already in the log")
        ax.grid(True, which="both", alpha=0.3)
    ax_tp.set_ylabel("events/s (10-second windows)")
    ax_tp.set_ylim(bottom=0)
    ax_p99.set_ylabel("p99 latency, ms (10-second windows, log scale)")
    ax_p99.set_yscale("log")
    ax_tp.legend(fontsize=8)
    fig.suptitle("Sustained ingest against log size: 64 connections, receiver on one core, "
                 f"{dt.date.today()}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(records: list[dict], args) -> str:
    lines = ["## Growth benchmark", "",
             f"`python3 bench/growth.py {' '.join(sys.argv[1:])}` on {dt.date.today()}: "
             f"runs of {args.run_secs} s, 64 connections, 5 % resends.", "",
             "| receiver | log at start | shape | events/s | min window | p50 | p99 | p99.9 | "
             "CPU µs/delivery | KiB written/event | PG WAL KiB/event | PG CPU µs | "
             "bytes on disk/event | stored = acked | other CPU |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for record in records:
        runs = [(r["stored_before"], r) for step in record["sizes"] for r in step["runs"]]
        if "burst" in record:
            runs.insert(0, (0, dict(record["burst"], shape="live, burst")))
        for _, r in runs:
            lines.append(run_row(record["receiver"], r))
    for record in records:
        for step in record["sizes"]:
            if "queries" not in step:
                continue
            lines += ["", f"### {record['receiver']}: queries at {step['runs'][-1]['stored']:,} "
                          f"events (ready {step['ready_s']} s after start)", "",
                      "| query | p50 ms | p99 ms |", "|---|---|---|"]
            for name, q in step["queries"].items():
                if name == "export":
                    lines.append(f"| export | {q['events_per_s']:,} events/s "
                                 f"({q['events']:,} in {q['seconds']} s) | |")
                else:
                    lines.append(f"| {name} | {q['p50_ms']} | {q['p99_ms']} |")
            if "prune_month" in step:
                lines.append(f"| prune of a month (`dash-events prune`) | "
                             f"{step['prune_month']['seconds']} s | |")
    return "\n".join(lines) + "\n"


def combine(args) -> int:
    """One report and one chart from the records of several runs (e.g. one per receiver)."""
    records = []
    for name in args.combine.split(","):
        records += [r for r in json.loads((RESULTS / f"{name}.json").read_text())
                    if r["sizes"] or "burst" in r]
    (RESULTS / f"{args.out}.json").write_text(json.dumps(records, indent=1))
    text = markdown(records, args)
    (RESULTS / f"{args.out}.md").write_text(text)
    plot(records, RESULTS / f"{args.out}.png")
    print(text)
    return 0


def queries_only(args) -> int:
    """The read API and the prune timed against a log kept by an earlier `--keep` run."""
    tmp = Path(tempfile.mkdtemp(prefix="growth-queries-", dir=args.tmpdir))
    subject = Subject(tmp, secrets.token_hex(16))
    subject.url = args.queries_on
    subject.key = "dash"
    subject.launch = lambda port: dash_launch(args.queries_on, port, subject.secret, tmp)
    proc, port, ready_s = ready_time(subject, tmp / "receiver.log")
    try:
        result = {"database": args.queries_on, "ready_s": ready_s,
                  "queries": query_timings(port, args.query_repeats)}
    finally:
        bench.stop_process(proc)
    result["prune_month"] = prune_month(subject)
    shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}-queries.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


def run_row(receiver: str, r: dict) -> str:
    # The last window is cut short by the end of the run; the slowest full one shows the dips.
    low = min((w["events_per_s"] for w in r["windows"][:-1]), default=r["events_per_s"])
    return (f"| {receiver} | {r['stored_before']:,} | {r['shape']} | "
            f"{r['events_per_s']:,.0f} | {low:,.0f} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['p999_ms']:.1f} | {r['cpu_us_per_delivery']} | "
            f"{r['written_kib_per_event']} | {r.get('wal_kib_per_event', '')} | "
            f"{r.get('server_cpu_us_per_delivery', '')} | "
            f"{r['disk_bytes_per_event']:,} | {r['stored_matches']} | "
            f"{r.get('other_cpu_share', 0):.0%} |")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--receivers", default="dash-sqlite,dash-postgres,express-sqlite")
    p.add_argument("--sizes", default="100000,10000000",
                   type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--run-secs", type=int, default=300)
    p.add_argument("--max-events", type=int, default=4_000_000,
                   help="deliveries one run may send at most")
    p.add_argument("--live-only", action="store_true", help="no backfill run at the largest size")
    p.add_argument("--burst-secs", type=int, default=10,
                   help="first a live run of this many seconds into the empty log (0: none)")
    p.add_argument("--no-queries", action="store_true")
    p.add_argument("--query-repeats", type=int, default=200)
    p.add_argument("--tmpdir", help="a directory on a real disk with room for the logs")
    p.add_argument("--out", default="growth", help="name of the result files in bench/results")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--start-from", metavar="LOG",
                   help="after the burst, continue on this log grown before with "
                        "dash-events-grow (a SQLite file, moved in; or a PostgreSQL database "
                        "name, dropped at the end unless --keep): saves the grow; one receiver")
    p.add_argument("--keep", action="store_true",
                   help="keep the grown databases (their URLs are in the JSON) for --queries-on")
    p.add_argument("--combine", metavar="NAMES",
                   help="only write one report and chart from bench/results/NAME.json files")
    p.add_argument("--queries-on", metavar="DATABASE_URL",
                   help="only time the queries and the prune against this kept dash-events log")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    bench.preflight()
    signal.signal(signal.SIGTERM, bench.terminate_on_signal)
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bins"], cwd=bench.ROOT, check=True)
    if args.queries_on:
        return queries_only(args)
    if args.combine:
        return combine(args)
    keys = args.receivers.split(",")
    if "express-sqlite" in keys and bench.ensure_node_modules():
        keys.remove("express-sqlite")
        print("skipping Express: bench/node_modules could not be installed", file=sys.stderr)
    records = []
    for key in keys:
        try:
            records.append(measure_subject(SUBJECTS[key], args))
        except bench.BenchError as err:
            print(f"{key} FAILED: {err}", file=sys.stderr)
            records.append({"receiver": SUBJECTS[key].name, "key": key, "sizes": [],
                            "error": str(err)})
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{args.out}.json").write_text(json.dumps(records, indent=1))
    text = markdown(records, args)
    (RESULTS / f"{args.out}.md").write_text(text)
    plot(records, RESULTS / f"{args.out}.png")
    print(text)
    return 1 if any("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
