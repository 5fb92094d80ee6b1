"""Times `/stats` over the last day of a grown log with `since` at several minutes past its
hour (1, 15, 30, 45 and 59): the minutes of that first, partial hour are what the query reads
from the events (the rest comes from the hourly totals), so the offsets show what the edge costs.

    python3 bench/stats_edges.py DATABASE_URL [REPEATS]

Starts target/release/dash-events serve on the log (grow it first with
target/release/dash-events-grow --database-url URL --to N --span-days 60), sends 30 requests
to warm it, then prints the p50/p99 of REPEATS requests (default 200) per offset, one at a
time, and stops it. DASH_EVENTS_BIN names another build to time (for a comparison side by side
on one log: alternate the builds). On PostgreSQL, let a `serve` run its upkeep once first (it
folds the hourly totals' shards; a just-grown log holds one row per shard).
"""
import datetime, json, os, signal, statistics, subprocess, sys, time, urllib.request

PORT = 38223
BASE = f"http://127.0.0.1:{PORT}"


def get(path):
    with urllib.request.urlopen(BASE + path, timeout=60) as answer:
        return json.loads(answer.read())


def stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    url = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    here = os.path.dirname(os.path.abspath(__file__))
    binary = os.environ.get("DASH_EVENTS_BIN") or os.path.join(here, "..", "target", "release", "dash-events")
    env = dict(os.environ, WEBHOOK_SECRET="s", DATABASE_URL=url, LISTEN_ADDR=f"127.0.0.1:{PORT}")
    server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(BASE + "/readyz", timeout=1)
                break
            except Exception:
                time.sleep(0.05)
        last = get("/events?limit=1")["events"][0]["timestamp"]
        end = datetime.datetime.fromisoformat(last.replace("Z", "+00:00"))
        hour = (end - datetime.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        for _ in range(30):
            get("/stats?since=" + stamp(hour + datetime.timedelta(minutes=7)))
        for minute in [1, 15, 30, 45, 59]:
            path = "/stats?since=" + stamp(hour + datetime.timedelta(minutes=minute))
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                get(path)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            p99 = times[int(len(times) * 0.99) - 1]
            print(f"/stats since :{minute:02d}: p50 {statistics.median(times):.2f} ms, p99 {p99:.2f} ms")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()


if __name__ == "__main__":
    main()
