"""What a schemathesis run reached, from the server's own Prometheus metrics; fails if too little.

Usage: schemathesis_coverage.py OPENAPI_JSON METRICS_BEFORE METRICS_AFTER [EXCLUDED ...]

METRICS_BEFORE and METRICS_AFTER are scrapes of `GET /metrics` taken just before and just after
the run, so only the run's requests count (not the seeded events, nor the fetch of the schema).
A request is recorded when its answer is complete, so a scrape does not count itself; the
`before` scrape is counted in `after`, and is taken off. EXCLUDED operations ("GET /path") are
the ones the run leaves out on purpose.

Prints the requests per documented operation and status, then exits 1 with a message if
`POST /webhooks/dash` was never answered 200 (e.g. the signing hook broke and every delivery was
refused) or if any documented operation other than the excluded ones was never called at all.
"""

import collections
import json
import re
import sys

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
WEBHOOK = ("POST", "/webhooks/dash")


def samples(path):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    out = {}
    with open(path, encoding="utf-8") as file:
        for line in file:
            match = SAMPLE.match(line.strip())
            if not match or line.startswith("#"):
                continue
            name, labels, value = match.groups()
            out[(name, frozenset(LABEL.findall(labels or "")))] = float(value)
    return out


def delta(before, after, name):
    """{labels dict as sorted tuple: increase} of counter `name` between the two scrapes."""
    out = {}
    for (sample, labels), value in after.items():
        if sample == name:
            increase = value - before.get((sample, labels), 0.0)
            if increase:
                out[tuple(sorted(labels))] = int(increase)
    return out


def main():
    openapi_path, before_path, after_path, *excluded = sys.argv[1:]
    with open(openapi_path, encoding="utf-8") as file:
        document = json.load(file)
    operations = sorted(
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    )
    skipped = {tuple(operation.split(" ", 1)) for operation in excluded}
    unknown = skipped - set(operations)
    if unknown:
        sys.exit(f"error: excluded operations not in /openapi.json: {sorted(unknown)}")

    before, after = samples(before_path), samples(after_path)
    requests = collections.defaultdict(collections.Counter)
    for labels, count in delta(before, after, "dash_events_http_request_duration_seconds_count").items():
        labels = dict(labels)
        requests[(labels["method"], labels["route"])][int(labels["status"])] += count
    requests[("GET", "/metrics")][200] -= 1  # the `before` scrape
    requests[("GET", "/metrics")] += collections.Counter()  # drops a count that fell to 0

    print(f"schemathesis sent {sum(sum(c.values()) for c in requests.values())} requests "
          "(from the server's metrics):")
    other = collections.Counter()
    for operation, statuses in sorted(requests.items()):
        if operation not in operations:
            other.update(statuses)
    for operation in operations:
        statuses = requests.get(operation, collections.Counter())
        counts = ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items()) if n) or "none"
        note = " (excluded from the run)" if operation in skipped else ""
        print(f"  {operation[0]} {operation[1]}: {counts}{note}")
    if other:
        counts = ", ".join(f"{n} x {s}" for s, n in sorted(other.items()))
        print(f"  undocumented methods and paths: {counts}")
    for name, what in (("dash_events_received_total", "deliveries verified"),
                       ("dash_events_rejected_total", "deliveries refused")):
        outcomes = collections.Counter()
        for labels, count in delta(before, after, name).items():
            labels = dict(labels)
            outcomes[labels.get("outcome", labels.get("reason", "?"))] += count
        counts = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "none"
        print(f"  {what}: {counts}")

    errors = []
    if not requests.get(WEBHOOK, {}).get(200):
        errors.append(
            f"{WEBHOOK[0]} {WEBHOOK[1]} was never answered 200: no generated delivery got past "
            "the signature check and validation into the store (is .ci/schemathesis_hooks.py "
            "signing with the server's WEBHOOK_SECRET?)"
        )
    never = [op for op in operations if op not in skipped and not sum(requests.get(op, {}).values())]
    if never:
        listed = ", ".join(f"{method} {path}" for method, path in never)
        errors.append(f"documented operations never called during the run: {listed}")
    for error in errors:
        print(f"error: schemathesis coverage: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
