"""Times the read API against a grown log: pages of /events (first and 50th, with and without
type and since), the audit queries (filtered pages, /stats of an agent, /stats/groups), /stats,
a month's timeline and an export.

    python3 bench/audit_queries.py DATABASE_URL [REPEATS]

Starts target/release/dash-events serve on the log (grow it first with
target/release/dash-events-grow --database-url URL --to N), prints the time to ready and the
p50/p99/max of REPEATS requests (default 50) of each query, one at a time, and the events/s of
an export of the log's last three days (read for at most 20 s), then stops it. DASH_EVENTS_BIN
names another build to time (for a comparison side by side on one log).
"""
import json, statistics, subprocess, sys, time, urllib.request, os, signal
port = 38222
env = dict(os.environ, WEBHOOK_SECRET="s", DATABASE_URL=sys.argv[1], LISTEN_ADDR=f"127.0.0.1:{port}")
t0 = time.time()
binary = os.environ.get("DASH_EVENTS_BIN") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "dash-events")
p = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"
while True:
    try:
        urllib.request.urlopen(base + "/readyz", timeout=1); break
    except Exception:
        time.sleep(0.05)
print("ready_s", round(time.time() - t0, 2))
def get(path):
    with urllib.request.urlopen(base + path, timeout=60) as r:
        return json.loads(r.read())
last = get("/events?limit=1")["events"][0]["timestamp"]
import datetime
end = datetime.datetime.fromisoformat(last.replace("Z", "+00:00"))
day = (end - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
week = (end - datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
month = (end - datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
def page50(q):
    path = "/events?" + q
    cur = None
    for _ in range(49):
        r = get(path + (f"&cursor={cur}" if cur else ""))
        cur = r["nextCursor"]
    return path + f"&cursor={cur}"
queries = {
  "events first page": "/events",
  "events 50th page": page50("limit=100"),
  "events type 50th page": page50("type=agent:complete"),
  "events since a week, 50th page": page50(f"since={week}"),
  "events type since a week, 50th page": page50(f"type=agent:complete&since={week}"),
  "events agentId first page": "/events?agentId=agent-101",
  "events swarmId first page": "/events?swarmId=swarm-1",
  "events instanceId first page": "/events?instanceId=inst_bench",
  "events agentId 50th page": page50("agentId=agent-101"),
  "events agentId+type first page": "/events?agentId=agent-101&type=agent:complete",
  "stats agentId": "/stats?agentId=agent-101",
  "stats, everything": "/stats",
  "stats, last day": f"/stats?since={day}",
  "timeline, a month by hour": f"/stats/timeline?since={month}&bucket=hour",
  "groups by agent, last day": f"/stats/groups?by=agentId&since={day}",
  "groups by agent, month": f"/stats/groups?by=agentId&since={month}",
  "groups by type, month, agentId": f"/stats/groups?by=type&agentId=agent-101&since={month}",
}
for name, path in queries.items():
    times = []
    for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 50):
        s = time.perf_counter(); get(path); times.append((time.perf_counter() - s) * 1000)
    times.sort()
    print(f"{name}: p50 {statistics.median(times):.1f} ms, p99 {times[int(len(times)*0.99)-1]:.1f} ms, max {times[-1]:.1f}")
three_days = (end - datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
s, lines = time.perf_counter(), 0
with urllib.request.urlopen(f"{base}/events/export?since={three_days}", timeout=60) as r:
    for _ in r:
        lines += 1
        if time.perf_counter() - s > 20:
            break
print(f"export, the last three days: {lines} events in {time.perf_counter() - s:.1f} s, "
      f"{lines / (time.perf_counter() - s):.0f} events/s")
p.send_signal(signal.SIGTERM); p.wait()
