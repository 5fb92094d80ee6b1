#!/usr/bin/env python3
"""The dash-events benchmark: one command, `python3 bench/run.py [--quick]`.

Builds the crate's binaries (`cargo build --release --bins`), then measures each receiver alone on
CPU 0 (`taskset -c 0`) with the load generator `dash-events-load` on CPU 1 (`taskset -c 1`), over
keep-alive HTTP/1.1 on 127.0.0.1, at 1, 16, 64 and 256 connections (`--quick`: 64 only).

Every load run gets a fresh receiver process, a fresh database (a new SQLite file, or a new
PostgreSQL database dropped afterwards) and fresh events, so "stored == acknowledged" is checked
per run. The runs are ordered by connection count, then receiver, so the runs compared in a ratio
are minutes apart at most (the machine's speed drifts between runs half an hour apart).

Other work on the machine takes CPU from a run: before each run the script waits for the CPUs to
be idle, measures a run again when other processes took CPU during it, and flags what remains.

Writes bench/results/latest.json (raw results and machine info), bench/results/latest.md (the
table and ratios) and bench/results/throughput.png, and prints the table and ratios.

Only processes this script starts are stopped, by their PID, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RELEASE = ROOT / "target" / "release"
SERVER_BIN = RELEASE / "dash-events"
LOAD_BIN = RELEASE / "dash-events-load"
RESULTS = BENCH / "results"

RECEIVER_CPU = "0"
LOAD_CPU = "1"
CONNECTIONS = [1, 16, 64, 256]
QUICK_CONNECTIONS = [64]
PG_HOST, PG_PORT, PG_USER, PG_ADMIN_DB = "127.0.0.1", 5432, "postgres", "test"
READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 10
SETTLE_S = 0.5  # after the port accepts, before reading the idle RSS
# The load generator pre-signs its events and queries /stats after the run: allow for both.
LOAD_OVERHEAD_S = 120
# Environment variables dash-events reads; cleared so the caller's shell cannot change a run.
DASH_ENV = ("DATABASE_URL", "LISTEN_ADDR", "WEBHOOK_SECRET", "WEBHOOK_SECRET_PREVIOUS",
            "API_TOKEN", "MAX_BODY_BYTES", "LOG_FORMAT", "RUST_LOG")
LOAD_FIELDS = ("sent", "ok", "non_2xx", "errors", "new_acknowledged", "elapsed_s",
               "events_per_s", "p50_ms", "p90_ms", "p99_ms", "p999_ms")
MB = 1024 * 1024
# Other processes may use this share of one core during a run before it is flagged.
OTHER_CPU_LIMIT = 0.15
# Busy share of all CPUs under which the machine counts as idle before a run.
IDLE_SHARE = 0.10
BUSY = "machine busy"


class BenchError(Exception):
    """A run that could not be measured; the message says why."""


# ---------------------------------------------------------------------------------------------
# Receivers


@dataclass
class Run:
    """What one load run needs: its port, its temporary directory, its secret."""

    port: int
    tmp: Path
    secret: str
    cleanup: contextlib.ExitStack

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Launch:
    """How to start a receiver for one run."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = BENCH


@dataclass
class Receiver:
    key: str
    name: str
    launch: Callable[[Run], Launch]
    has_stats: bool
    is_dash_events: bool = False
    note: str = ""


def launch_dash_sqlite(run: Run) -> Launch:
    url = f"sqlite://{run.tmp / 'bench.db'}"  # sqlite:///tmp/.../bench.db
    return dash_events_launch(run, url)


def launch_dash_postgres(run: Run) -> Launch:
    db = f"dash_events_bench_{os.getpid()}_{secrets.token_hex(4)}"
    psql_admin(f"create database {db}")
    run.cleanup.callback(drop_database, db)  # runs after the receiver is stopped (LIFO)
    return dash_events_launch(run, f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}")


def dash_events_launch(run: Run, database_url: str) -> Launch:
    return Launch(
        argv=[str(SERVER_BIN), "serve", "--listen", f"127.0.0.1:{run.port}",
              "--database-url", database_url, "--webhook-secret", run.secret],
        env={"RUST_LOG": "warn"},
        cwd=run.tmp,
    )


def launch_express(run: Run) -> Launch:
    return Launch(argv=["node", str(BENCH / "express-receiver.js")], env=node_env(run))


def launch_express_sqlite(run: Run) -> Launch:
    env = node_env(run)
    env["DB_PATH"] = str(run.tmp / "express.db")
    return Launch(argv=["node", str(BENCH / "express-sqlite-receiver.js")], env=env)


def node_env(run: Run) -> dict[str, str]:
    return {"PORT": str(run.port), "WEBHOOK_SECRET": run.secret, "NODE_ENV": "production"}


def launch_nginx(run: Run) -> Launch:
    prefix = run.tmp / "nginx"
    for sub in ("logs", "temp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    template = (BENCH / "nginx.conf").read_text()
    conf = prefix / "nginx.conf"
    conf.write_text(template.replace("@PORT@", str(run.port)))
    return Launch(argv=[nginx_path() or "nginx", "-c", str(conf), "-p", f"{prefix}/",
                        "-e", "logs/error.log"])


RECEIVERS = [
    Receiver("dash-sqlite", "dash-events (SQLite)", launch_dash_sqlite, True, True,
             "WAL, synchronous=FULL, group commit"),
    Receiver("dash-postgres", "dash-events (PostgreSQL)", launch_dash_postgres, True, True,
             "local PostgreSQL server, not pinned"),
    Receiver("express", "express (stores nothing)", launch_express, False,
             note="Dash's documented Express receiver"),
    Receiver("express-sqlite", "express + better-sqlite3 (durable)", launch_express_sqlite, True,
             note="WAL, synchronous=FULL, one transaction per request"),
    Receiver("nginx", "nginx static 200", launch_nginx, False,
             note="return 200, no verification, no storage"),
]
BY_KEY = {r.key: r for r in RECEIVERS}


# ---------------------------------------------------------------------------------------------
# PostgreSQL


def psql_admin(sql: str) -> str:
    out = subprocess.run(
        ["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", PG_ADMIN_DB,
         "-v", "ON_ERROR_STOP=1", "-q", "-At", "-c", sql],
        capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise BenchError(f"psql {sql!r} failed: {out.stderr.strip()}")
    return out.stdout.strip()


def drop_database(db: str) -> None:
    try:
        psql_admin(f"drop database if exists {db} with (force)")
    except BenchError as err:
        print(f"  warning: could not drop database {db}: {err}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DASH_ENV}
    env.update(extra)
    return env


def start_receiver(launch: Launch, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        # taskset execs the receiver, so the PID is the receiver's own. A new session keeps a
        # terminal's Ctrl-C away from it: this script stops it itself.
        return subprocess.Popen(["taskset", "-c", RECEIVER_CPU, *launch.argv],
                                cwd=launch.cwd, env=clean_env(launch.env), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def wait_ready(proc: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"receiver exited with {proc.returncode} before accepting "
                             f"connections:\n{tail(log)}")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        time.sleep(0.05)
    raise BenchError(f"receiver did not accept connections within {READY_TIMEOUT_S} s:\n"
                     f"{tail(log)}")


def proc_start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def descendants(pid: int) -> list[tuple[int, int]]:
    """(pid, start time) of every process below `pid`, e.g. nginx's worker."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        start = proc_start_time(child)
        if start is not None:
            found.append((child, start))
        todo.extend(children.get(child, []))
    return found


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM the process we started, SIGKILL it if it lingers, then any of its children left."""
    children = descendants(proc.pid) if proc.poll() is None else []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid, start in children:
        if proc_start_time(pid) == start:  # the same process, not a reused PID
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def tree_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (bytes) of `pid` plus its children, and CPU seconds (utime + stime)."""
    totals = {"rss": 0, "hwm": 0, "cpu_ticks": 0}
    for p in [pid, *(c for c, _ in descendants(pid))]:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    totals["rss"] += int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    totals["hwm"] += int(line.split()[1]) * 1024
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            totals["cpu_ticks"] += int(fields[11]) + int(fields[12])
    return totals


def cpu_ticks() -> dict[str, tuple[int, int]]:
    """Per CPU, from /proc/stat: (busy ticks, steal ticks). Busy excludes idle, iowait and steal."""
    found = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            user, nice, system, idle, iowait, irq, softirq, steal = map(int, values[:8])
            found[name] = (user + nice + system + irq + softirq, steal)
    return found


def machine_busy_share(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over `seconds` (0..1): something else running spoils the figures."""
    before = cpu_ticks()
    time.sleep(seconds)
    after = cpu_ticks()
    busy = sum(after[c][0] - before[c][0] for c in after) / os.sysconf("SC_CLK_TCK")
    return busy / (seconds * len(after))


def wait_for_idle(limit_s: float) -> float:
    """Waits up to `limit_s` for one second in which the machine is under IDLE_SHARE busy (other
    work running beside a run takes CPU from it). Returns the last busy share seen."""
    deadline = time.monotonic() + limit_s
    share = machine_busy_share()
    if share >= IDLE_SHARE and limit_s > 0:
        print(f"  machine {share:.0%} busy; waiting up to {limit_s:.0f} s for it to be idle ...",
              flush=True)
    while share >= IDLE_SHARE and time.monotonic() < deadline:
        time.sleep(1)
        share = machine_busy_share()
    return share


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------------------------------------
# One load run


def run_load(run: Run, receiver: Receiver, connections: int, args: argparse.Namespace) -> dict:
    out_json = run.tmp / "load.json"
    argv = ["taskset", "-c", LOAD_CPU, str(LOAD_BIN),
            "--url", f"{run.base_url}/webhooks/dash", "--secret", run.secret,
            "--connections", str(connections), "--events", str(args.events),
            "--duration-secs", str(args.duration_secs), "--json", str(out_json)]
    if args.duplicate_share:
        argv += ["--duplicate-share", str(args.duplicate_share)]
    if receiver.has_stats:
        argv += ["--stats-url", f"{run.base_url}/stats"]
    stdout_path, stderr_path = run.tmp / "load.stdout", run.tmp / "load.stderr"
    with open(stdout_path, "wb") as so, open(stderr_path, "wb") as se:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=so, stderr=se, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        run.cleanup.callback(stop_process, proc)
        try:
            code = proc.wait(args.duration_secs + LOAD_OVERHEAD_S)
        except subprocess.TimeoutExpired:
            stop_process(proc)
            raise BenchError(f"load generator still running after "
                             f"{args.duration_secs + LOAD_OVERHEAD_S} s; stopped it:\n"
                             f"{tail(stderr_path)}") from None
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        raise BenchError(f"load generator exited with {code}:\n{tail(stderr_path)}")
    result = parse_load_output(out_json, stdout_path)
    missing = [k for k in LOAD_FIELDS if k not in result]
    if missing:
        raise BenchError(f"load generator output lacks {missing}: {json.dumps(result)[:500]}")
    # Includes pre-signing: an upper bound on what sending cost the client core.
    result["load_cpu_s"] = round((after.ru_utime + after.ru_stime)
                                 - (before.ru_utime + before.ru_stime), 3)
    return result


def parse_load_output(out_json: Path, stdout_path: Path) -> dict:
    if out_json.exists():
        return json.loads(out_json.read_text())
    text = stdout_path.read_text(errors="replace")
    start = text.find("{")
    if start >= 0:
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(text[start:text.rfind("}") + 1])
    raise BenchError(f"no JSON from the load generator (no {out_json.name}, stdout: {text[:300]!r})")


def measure(receiver: Receiver, connections: int, args: argparse.Namespace) -> dict:
    record: dict = {"receiver": receiver.name, "key": receiver.key, "connections": connections}
    with contextlib.ExitStack() as cleanup:
        tmp = Path(tempfile.mkdtemp(prefix=f"dash-bench-{receiver.key}-", dir=args.tmpdir))
        cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
        run = Run(port=free_port(), tmp=tmp, secret=secrets.token_hex(16), cleanup=cleanup)
        log = tmp / "receiver.log"
        try:
            proc = start_receiver(receiver.launch(run), log)
            cleanup.callback(stop_process, proc)
            wait_ready(proc, run.port, log)
            time.sleep(SETTLE_S)
            idle = tree_status(proc.pid)
            cpus_before, wall_before = cpu_ticks(), time.monotonic()
            load = run_load(run, receiver, connections, args)
            cpus_after, wall = cpu_ticks(), time.monotonic() - wall_before
            busy = tree_status(proc.pid)
            if proc.poll() is not None:
                raise BenchError(f"receiver exited with {proc.returncode} during the run:\n"
                                 f"{tail(log)}")
        except (BenchError, OSError, subprocess.SubprocessError, ValueError) as err:
            record["error"] = f"{type(err).__name__}: {err}" if not isinstance(err, BenchError) \
                else str(err)
            return record
        ticks = os.sysconf("SC_CLK_TCK")
        record.update(load)
        receiver_cpu = (busy["cpu_ticks"] - idle["cpu_ticks"]) / ticks
        all_busy = sum(cpus_after[c][0] - cpus_before[c][0] for c in cpus_after) / ticks
        record.update({
            "idle_rss_bytes": idle["rss"],
            "peak_rss_bytes": busy["hwm"],
            "receiver_cpu_s": round(receiver_cpu, 3),
            "window_s": round(wall, 3),
            "cpu_busy_s": {c: round((cpus_after[c][0] - cpus_before[c][0]) / ticks, 3)
                           for c in cpus_after},
            "cpu_steal_s": round(sum(cpus_after[c][1] - cpus_before[c][1] for c in cpus_after)
                                 / ticks, 3),
            # CPU time of everything but the receiver and the load generator during the run
            # (for PostgreSQL, the database server's share is in here).
            "other_cpu_s": round(max(0.0, all_busy - receiver_cpu - load["load_cpu_s"]), 3),
        })
        record["problems"] = problems(record, receiver)
    return record


def problems(r: dict, receiver: Receiver) -> list[str]:
    found = []
    if not r.get("sent"):
        found.append("sent nothing")
    if r.get("non_2xx"):
        found.append(f"{r['non_2xx']} non-2xx answers")
    if r.get("errors"):
        found.append(f"{r['errors']} transport errors")
    if receiver.has_stats and r.get("stored_matches") is not True:
        found.append(f"stored {r.get('stored')} != acknowledged {r.get('new_acknowledged')}")
    if receiver.key != "dash-postgres" and r.get("window_s") and \
            r["other_cpu_s"] > OTHER_CPU_LIMIT * r["window_s"]:
        found.append(f"{BUSY}: other processes used {r['other_cpu_s']:.1f} CPU-s in "
                     f"{r['window_s']:.1f} s")
    if receiver.key == "nginx" and r.get("elapsed_s") and core_busy(r) < 0.9:
        found.append(f"nginx used {core_busy(r):.0%} of its core: the limit was elsewhere (the "
                     "load generator's core, or round trips at few connections), so this ceiling "
                     "is a lower bound")
    if r.get("window_s") and r["cpu_steal_s"] > OTHER_CPU_LIMIT * r["window_s"]:
        found.append(f"hypervisor steal {r['cpu_steal_s']:.1f} CPU-s in {r['window_s']:.1f} s")
    return found


# ---------------------------------------------------------------------------------------------
# Environment and checks


def nginx_path() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)


def command_version(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout + out.stderr).strip()
    return text.splitlines()[0] if text else None


def ensure_node_modules() -> str | None:
    if (BENCH / "node_modules" / "express").is_dir() and \
            (BENCH / "node_modules" / "better-sqlite3").is_dir():
        return None
    if not shutil.which("npm"):
        return "npm not found"
    print("installing bench/node_modules (npm ci) ...", flush=True)
    out = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BENCH)
    return None if out.returncode == 0 else f"npm ci failed ({out.returncode})"


def skipped_receivers(keys: list[str]) -> dict[str, str]:
    """Receivers that cannot run here, with the reason (they are reported, not silently left out)."""
    skip: dict[str, str] = {}
    node_keys = [k for k in keys if k.startswith("express")]
    if node_keys:
        why = None if shutil.which("node") else "node not found"
        why = why or ensure_node_modules()
        for k in node_keys:
            if why:
                skip[k] = why
    if "nginx" in keys and not nginx_path():
        skip["nginx"] = "nginx not found (apt-get install -y nginx-light)"
    if "dash-postgres" in keys:
        try:
            psql_admin("select 1")
        except (BenchError, OSError, subprocess.TimeoutExpired) as err:
            skip["dash-postgres"] = f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}: {err}"
    return skip


def filesystem_of(path: Path) -> str:
    best, fstype = "", "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            mount = parts[1]
            if str(path).startswith(mount.rstrip("/") + "/") or str(path) == mount:
                if len(mount) >= len(best):
                    best, fstype = mount, f"{parts[2]} ({parts[0]} on {mount})"
    return fstype


def machine_info(args: argparse.Namespace) -> dict:
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    tmp = Path(args.tmpdir or tempfile.gettempdir()).resolve()
    git = command_version(["git", "-C", str(ROOT), "rev-parse", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    pg_version = None
    with contextlib.suppress(BenchError, OSError, subprocess.TimeoutExpired):
        pg_version = psql_admin("show server_version")
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "kernel": platform.release(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "tmp_dir": str(tmp),
        "tmp_filesystem": filesystem_of(tmp),
        "git_commit": git,
        "git_dirty": bool(dirty),
        "rustc": command_version(["rustc", "--version"]),
        "node": command_version(["node", "--version"]),
        "express": package_version("express"),
        "better_sqlite3": package_version("better-sqlite3"),
        "nginx": command_version([nginx_path() or "nginx", "-v"]),
        "postgresql_server": pg_version,
        "python": platform.python_version(),
    }


def package_version(name: str) -> str | None:
    with contextlib.suppress(OSError, ValueError):
        return json.loads((BENCH / "node_modules" / name / "package.json").read_text())["version"]
    return None


# ---------------------------------------------------------------------------------------------
# Report


def fmt_ms(x) -> str:
    if x is None:
        return "–"
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def markdown_table(runs: list[dict]) -> str:
    lines = ["| receiver | connections | events/s | p50 ms | p90 ms | p99 ms | p99.9 ms | "
             "non-2xx | errors | stored matches |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in runs:
        if "error" in r:
            lines.append(f"| {r['receiver']} | {r['connections']} | failed | | | | | | | |")
            continue
        stored = {True: "yes", False: "**NO**", None: "n/a"}[r.get("stored_matches")]
        if r.get("stored") is not None:
            stored += f" ({r['stored']:,})"
        flag = " ⚠" if r.get("problems") else ""
        lines.append(
            f"| {r['receiver']}{flag} | {r['connections']} | {r['events_per_s']:,.0f} | "
            f"{fmt_ms(r['p50_ms'])} | {fmt_ms(r['p90_ms'])} | {fmt_ms(r['p99_ms'])} | "
            f"{fmt_ms(r['p999_ms'])} | {r['non_2xx']} | {r['errors']} | {stored} |")
    return "\n".join(lines)


def memory_table(runs: list[dict]) -> str:
    lines = ["| receiver | connections | idle RSS MB | peak RSS MB (VmHWM) | elapsed s | "
             "receiver CPU s | receiver core busy | load generator CPU s | other CPU s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        if "error" in r:
            continue
        lines.append(f"| {r['receiver']} | {r['connections']} | {r['idle_rss_bytes'] / MB:.1f} | "
                     f"{r['peak_rss_bytes'] / MB:.1f} | {r['elapsed_s']:.2f} | "
                     f"{r['receiver_cpu_s']:.2f} | {core_busy(r):.0%} | {r['load_cpu_s']:.2f} | "
                     f"{r['other_cpu_s']:.2f} |")
    return "\n".join(lines)


def core_busy(r: dict) -> float:
    """Share of its core the receiver used while the load ran (its CPU time over the send time;
    start-up of the load generator is outside `elapsed_s`, so this slightly overstates it)."""
    return min(1.0, r["receiver_cpu_s"] / r["elapsed_s"]) if r.get("elapsed_s") else 0.0


def pick(runs: list[dict], key: str, connections: int) -> dict | None:
    return next((r for r in runs if r["key"] == key and r["connections"] == connections
                 and "error" not in r), None)


def ratios(runs: list[dict], connections: int = 64) -> tuple[dict, list[str]]:
    """The issue's targets at 64 connections, from this run."""
    comparisons = [
        ("dash-sqlite", "express", 5.0, "×"),
        ("dash-sqlite", "express-sqlite", 10.0, "×"),
        ("dash-sqlite", "nginx", 0.5, "%"),
        ("dash-postgres", "express", 3.0, "×"),
    ]
    data, lines = {}, []
    for num, den, target, unit in comparisons:
        a, b = pick(runs, num, connections), pick(runs, den, connections)
        label = f"{BY_KEY[num].name} vs {BY_KEY[den].name}"
        if not a or not b:
            lines.append(f"- {label}: not measured")
            continue
        ratio = a["events_per_s"] / b["events_per_s"] if b["events_per_s"] else float("inf")
        met = ratio >= target
        shown = f"{ratio * 100:.0f} % (target ≥ {target * 100:.0f} %)" if unit == "%" else \
            f"{ratio:.2f}× (target ≥ {target:g}×)"
        flag = "" if not (a.get("problems") or b.get("problems")) else " ⚠ a run had problems"
        lines.append(f"- {label}: {shown} — {'met' if met else 'NOT met'}{flag}")
        data[f"{num}/{den}"] = {"ratio": round(ratio, 4), "target": target, "met": met}
    r = pick(runs, "dash-sqlite", connections)
    if r:
        met = r["p99_ms"] <= 10
        lines.append(f"- {r['receiver']} p99: {fmt_ms(r['p99_ms'])} ms (target ≤ 10 ms) — "
                     f"{'met' if met else 'NOT met'}")
        data["dash-sqlite/p99_ms"] = {"value": r["p99_ms"], "target": 10, "met": met}
    for key in ("dash-sqlite", "dash-postgres"):
        mine = [r for r in runs if r["key"] == key and "error" not in r]
        if not mine:
            continue
        idle = max(r["idle_rss_bytes"] for r in mine) / MB
        peak = max(r["peak_rss_bytes"] for r in mine) / MB
        ok = idle <= 20 and peak <= 100
        lines.append(f"- {BY_KEY[key].name} memory: idle RSS {idle:.1f} MB (target ≤ 20), peak "
                     f"under load {peak:.1f} MB (target ≤ 100) — {'met' if ok else 'NOT met'}")
        data[f"{key}/memory_mb"] = {"idle": round(idle, 1), "peak": round(peak, 1), "met": ok}
    return data, lines


def conditions(machine: dict, args: argparse.Namespace, conns: list[int]) -> list[str]:
    return [
        f"{machine['date']}, {machine['nproc']} CPUs ({machine['cpu_model']}), kernel "
        f"{machine['kernel']}; databases on {machine['tmp_filesystem']}.",
        f"Each receiver alone on CPU {RECEIVER_CPU} (taskset), dash-events-load on CPU {LOAD_CPU}; "
        "keep-alive HTTP/1.1 over 127.0.0.1; unique pre-signed events of 300–800 bytes"
        + (f", {args.duplicate_share:.0%} duplicate ids" if args.duplicate_share else "") + ".",
        f"Each run: a fresh receiver process, database and events; at most {args.events:,} events "
        f"or {args.duration_secs} s; connections {', '.join(map(str, conns))}.",
        "The PostgreSQL server is not pinned: its processes run on either core, beside the "
        "receiver and the load generator.",
        "Node receivers run with NODE_ENV=production; dash-events with RUST_LOG=warn.",
    ]


def plot(runs: list[dict], path: Path, machine: dict) -> str | None:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib missing; installing bench/requirements.txt ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r",
                        str(BENCH / "requirements.txt")], check=False)
        try:
            import matplotlib
        except ImportError:
            return "matplotlib unavailable: no chart"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_tp, ax_p99) = plt.subplots(1, 2, figsize=(12, 4.8))
    for receiver in RECEIVERS:
        mine = sorted((r for r in runs if r["key"] == receiver.key and "error" not in r),
                      key=lambda r: r["connections"])
        if not mine:
            continue
        xs = [r["connections"] for r in mine]
        for ax, metric in ((ax_tp, "events_per_s"), (ax_p99, "p99_ms")):
            (line,) = ax.plot(xs, [r[metric] for r in mine], marker="o", label=receiver.name)
            flagged = [r for r in mine if r.get("problems")]
            if flagged:  # open markers: the report lists what was wrong with these runs
                ax.plot([r["connections"] for r in flagged], [r[metric] for r in flagged],
                        linestyle="none", marker="o", markersize=9, markerfacecolor="white",
                        markeredgecolor=line.get_color())
    ticks = sorted({r["connections"] for r in runs})
    for ax in (ax_tp, ax_p99):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("concurrent connections")
        ax.grid(True, which="both", alpha=0.3)
    ax_tp.set_ylabel("events/s")
    ax_tp.set_ylim(bottom=0)
    ax_tp.set_title("throughput")
    ax_p99.set_yscale("log")
    ax_p99.set_ylabel("p99 latency (ms, log scale)")
    ax_p99.set_title("p99 latency")
    ax_tp.legend(fontsize=8)
    flagged = any(r.get("problems") for r in runs)
    fig.suptitle(f"dash-events benchmark — receiver on 1 core, {machine['cpu_model']}, "
                 f"{machine['date'][:10]}"
                 + (" — open markers: runs flagged in latest.md" if flagged else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


# ---------------------------------------------------------------------------------------------
# Main


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="64 connections only, 5 s or 100000 events per run")
    p.add_argument("--connections", type=lambda s: [int(x) for x in s.split(",")],
                   help="comma-separated connection counts (default 1,16,64,256)")
    p.add_argument("--events", type=int, help="events per run (default 200000; quick 100000)")
    p.add_argument("--duration-secs", type=int, help="seconds per run at most (default 10; quick 5)")
    p.add_argument("--duplicate-share", type=float, default=0.0,
                   help="share of deliveries that repeat an id already sent (default 0)")
    p.add_argument("--receivers", type=lambda s: s.split(","),
                   default=[r.key for r in RECEIVERS],
                   help=f"comma-separated subset of {','.join(BY_KEY)}")
    p.add_argument("--tmpdir", help="where the databases go (default: the system temp dir; "
                                    "must be a real disk, not tmpfs, for the durable receivers)")
    p.add_argument("--idle-wait", type=float, default=60,
                   help="seconds to wait, before each run, for the machine to be idle (default 60; "
                        "a run with other work beside it is flagged in the report)")
    p.add_argument("--retries", type=int, default=2,
                   help="times to measure a run again when other processes took CPU during it "
                        "(default 2)")
    p.add_argument("--no-build", action="store_true", help="skip cargo build")
    args = p.parse_args()
    unknown = [k for k in args.receivers if k not in BY_KEY]
    if unknown:
        p.error(f"unknown receivers {unknown}; choose from {','.join(BY_KEY)}")
    args.events = args.events or (100_000 if args.quick else 200_000)
    args.duration_secs = args.duration_secs or (5 if args.quick else 10)
    args.connections = args.connections or (QUICK_CONNECTIONS if args.quick else CONNECTIONS)
    return args


def preflight() -> None:
    if not shutil.which("taskset"):
        sys.exit("taskset not found (util-linux)")
    cpus = os.sched_getaffinity(0)
    if not {int(RECEIVER_CPU), int(LOAD_CPU)} <= cpus:
        sys.exit(f"need CPUs {RECEIVER_CPU} and {LOAD_CPU}; this process may use {sorted(cpus)}")


def build() -> None:
    print("cargo build --release --bins", flush=True)
    subprocess.run(["cargo", "build", "--release", "--bins"], cwd=ROOT, check=True)


def terminate_on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through every cleanup


def main() -> int:
    args = parse_args()
    preflight()
    signal.signal(signal.SIGTERM, terminate_on_signal)
    signal.signal(signal.SIGHUP, terminate_on_signal)
    if not args.no_build:
        build()
    needed = [LOAD_BIN] + ([SERVER_BIN] if any(BY_KEY[k].is_dash_events for k in args.receivers)
                           else [])
    missing = [str(b) for b in needed if not b.exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)} (cargo build --release --bins)")
    skip = skipped_receivers(args.receivers)
    for key, why in skip.items():
        print(f"skipping {BY_KEY[key].name}: {why}", file=sys.stderr)
    machine = machine_info(args)
    machine["busy_share_before_start"] = round(machine_busy_share(), 3)
    if machine["busy_share_before_start"] > 0.1:
        print(f"WARNING: the machine is {machine['busy_share_before_start']:.0%} busy before the "
              "benchmark starts: other processes will take CPU from the receivers.",
              file=sys.stderr)
    if machine["tmp_filesystem"].startswith("tmpfs"):
        print("WARNING: the temp dir is on tmpfs: fsync costs nothing there, so durable receivers "
              "look faster than on a disk. Use --tmpdir on a real disk.", file=sys.stderr)
    runs: list[dict] = []
    plan = [(c, BY_KEY[k]) for c in args.connections for k in args.receivers if k not in skip]
    for i, (connections, receiver) in enumerate(plan, 1):
        print(f"[{i}/{len(plan)}] {receiver.name}, {connections} connections ...", flush=True)
        for attempt in range(1, args.retries + 2):
            busy_before = wait_for_idle(args.idle_wait)
            record = measure(receiver, connections, args)
            record["busy_share_before"] = round(busy_before, 3)
            record["attempt"] = attempt
            if not any(p.startswith(BUSY) for p in record.get("problems", [])) \
                    or attempt > args.retries:
                break
            print(f"  {record['problems'][0]}; measuring again", flush=True)
        runs.append(record)
        if "error" in record:
            print(f"  FAILED: {record['error']}", file=sys.stderr)
        else:
            print(f"  {record['events_per_s']:,.0f} events/s, p99 {fmt_ms(record['p99_ms'])} ms"
                  + (f"  ⚠ {'; '.join(record['problems'])}" if record["problems"] else ""),
                  flush=True)
    report(runs, machine, args, skip)
    return 1 if any("error" in r for r in runs) else 0


def report(runs: list[dict], machine: dict, args: argparse.Namespace, skip: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    ratio_data, ratio_lines = ratios(runs)
    cond = conditions(machine, args, args.connections)
    problems_lines = [f"- {r['receiver']} at {r['connections']}: {'; '.join(r['problems'])}"
                      for r in runs if r.get("problems")]
    problems_lines += [f"- {r['receiver']} at {r['connections']}: failed: "
                       f"{r['error'].splitlines()[0]}" for r in runs if "error" in r]
    problems_lines += [f"- {BY_KEY[k].name}: skipped: {why}" for k, why in skip.items()]
    md = "\n".join([
        f"## dash-events benchmark ({'quick' if args.quick else 'full'} run)", "",
        *[f"- {c}" for c in cond], "",
        markdown_table(runs), "",
        f"Ratios at 64 connections (this run):", "", *ratio_lines, "",
        "Memory and CPU (receiver: the process and its children; load generator: includes "
        "pre-signing; other: every other process during the run, PostgreSQL's server included):",
        "", memory_table(runs), "",
        *(["Problems:", "", *problems_lines, ""] if problems_lines else []),
    ])
    chart_problem = plot(runs, RESULTS / "throughput.png", machine)
    (RESULTS / "latest.md").write_text(md)
    (RESULTS / "latest.json").write_text(json.dumps({
        "machine": machine,
        "config": {"quick": args.quick, "connections": args.connections, "events": args.events,
                   "duration_secs": args.duration_secs, "duplicate_share": args.duplicate_share,
                   "receiver_cpu": RECEIVER_CPU, "load_cpu": LOAD_CPU,
                   "receivers": {r.key: {"name": r.name, "note": r.note} for r in RECEIVERS
                                 if r.key in args.receivers}},
        "skipped": skip,
        "conditions": cond,
        "runs": runs,
        "ratios_at_64": ratio_data,
    }, indent=2) + "\n")
    print()
    print(md)
    if chart_problem:
        print(chart_problem, file=sys.stderr)
    print(f"wrote {RESULTS / 'latest.json'}, {RESULTS / 'latest.md'}"
          + ("" if chart_problem else f", {RESULTS / 'throughput.png'}"))


if __name__ == "__main__":
    sys.exit(main())
