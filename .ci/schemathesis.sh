#!/usr/bin/env bash
# Schema-driven HTTP fuzzing: schemathesis generates requests from the service's own
# /openapi.json and checks every answer against it — no 5xx, and each status code, content type,
# header and body as documented. The server runs on 127.0.0.1 on a free port with a fresh
# database, a webhook secret and an API token; a few signed events are delivered first.
# `.ci/schemathesis_hooks.py` signs most generated deliveries, so that fuzzing reaches past the
# signature check into validation and the store. Exits non-zero on any failure, if the run
# overstays its time limit, or if the server died.
#
# Bounded: SCHEMATHESIS_MAX_EXAMPLES (default 100) cases per operation and phase, the whole run
# stopped after SCHEMATHESIS_TIME_LIMIT seconds (default 150). The seed is fixed so that CI is
# reproducible; set SCHEMATHESIS_SEED to explore others. SCHEMATHESIS_BACKEND=postgres runs
# against a new database on DASH_EVENTS_TEST_POSTGRES's server (dropped afterwards) instead of
# SQLite. Reports (JUnit, HAR) go to SCHEMATHESIS_REPORT_DIR (target/schemathesis).
# `GET /events/stream` is excluded: its 200 answer is an endless Server-Sent Events stream, which
# schemathesis would read until its request timeout and report as a failure. Its 400 and 401
# answers and its stream are covered by tests/api/stream/. A longer run:
#   SCHEMATHESIS_BACKEND=postgres SCHEMATHESIS_MAX_EXAMPLES=1000 SCHEMATHESIS_TIME_LIMIT=1800 \
#     SCHEMATHESIS_SEED=$RANDOM .ci/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/serve.sh
source .ci/lib/serve.sh

SCHEMATHESIS_VERSION=4.32.5
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
time_limit="${SCHEMATHESIS_TIME_LIMIT:-150}"
seed="${SCHEMATHESIS_SEED:-20261129}"
backend="${SCHEMATHESIS_BACKEND:-sqlite}"
report_dir="${SCHEMATHESIS_REPORT_DIR:-target/schemathesis}"
checks=not_a_server_error,status_code_conformance,response_schema_conformance
checks="$checks,content_type_conformance,response_headers_conformance,unsupported_method,ignored_auth"

# schemathesis at the pinned version: the one on PATH if it is that, else a virtualenv in target/.
st=schemathesis
if ! schemathesis --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  venv=target/schemathesis-venv
  if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
  fi
  st="$PWD/$venv/bin/schemathesis"
fi

# The build `cargo test --all-features` (.ci/run) already made, so nothing is rebuilt: with
# --all-targets the dev-dependencies' features apply as under `cargo test` (building the binary
# alone resolves tokio, libc, … with other features and compiles them again, about a minute).
cargo build --locked --all-features --all-targets
binary=target/debug/dash-events

work="$(mktemp -d)"
server_pid=""
postgres_db=""
postgres_base="${DASH_EVENTS_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
cleanup() {
  stop_server "$server_pid"
  if [ -n "$postgres_db" ]; then
    psql -q "$postgres_base" -c "drop database if exists \"$postgres_db\" with (force)" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

case "$backend" in
  sqlite) database_url="sqlite://$work/events.db" ;;
  postgres)
    postgres_db="dash_events_schemathesis_$$_$RANDOM"
    psql -q "$postgres_base" -c "create database \"$postgres_db\""
    database_url="${postgres_base%/*}/$postgres_db"
    ;;
  *) echo "error: SCHEMATHESIS_BACKEND must be sqlite or postgres" >&2; exit 2 ;;
esac

WEBHOOK_SECRET="schemathesis-secret-$RANDOM$RANDOM"
API_TOKEN="schemathesis-token-$RANDOM$RANDOM"
export WEBHOOK_SECRET

# A notification rule whose endpoint refuses connections (nothing listens on loopback port 9), so
# that the seeded events' notifications fail, turn dead within a second, and the notification
# endpoints are fuzzed with rows in every answer (retry: 200 for a dead one, 409, 404).
NOTIFY_RULES='[{"name":"schemathesis","types":["*"],"webhook":"http://127.0.0.1:9/refused"}]'
env -u DATABASE_URL -u LISTEN_ADDR -u WEBHOOK_SECRET_PREVIOUS -u MAX_BODY_BYTES -u SQLITE_SYNCHRONOUS \
  -u NOTIFY_WORKER -u NOTIFY_TIMEOUT_MS -u NOTIFY_RETRY_MAX_MS NO_COLOR=1 RUST_LOG=info \
  NOTIFY_RULES="$NOTIFY_RULES" NOTIFY_MAX_ATTEMPTS=2 NOTIFY_RETRY_BASE_MS=10 \
  API_TOKEN="$API_TOKEN" "$binary" serve --listen 127.0.0.1:0 --database-url "$database_url" \
  >"$work/serve.log" 2>&1 &
server_pid=$!

port="$(wait_for_port "$work/serve.log" "$server_pid")"
base="http://127.0.0.1:$port"
echo "serve is listening on $base ($backend)"

# A few signed events, so that the query API has something to page through and look up.
for type in agent:complete agent:error budget:warning swarm:complete workflow:step:complete; do
  "$binary" send-test --url "$base/webhooks/dash" --type "$type" --count 2 >/dev/null
done
"$binary" send-test --url "$base/webhooks/dash" --id seeded-event >/dev/null

rm -rf "$report_dir"
mkdir -p "$report_dir"
status=0
# Run from the report directory: schemathesis keeps a cache of crashes in `.schemathesis/` there.
repo="$PWD"
(cd "$report_dir" && SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$repo/.ci${PYTHONPATH:+:$PYTHONPATH}" \
  PYTHONDONTWRITEBYTECODE=1 timeout --kill-after=10 "$time_limit" "$st" run "$base/openapi.json" \
  --header "Authorization: Bearer $API_TOKEN" \
  --checks "$checks" \
  --exclude-path /events/stream \
  --max-examples "$max_examples" \
  --seed "$seed" \
  --generation-database none \
  --request-timeout 40 \
  --report junit,har --report-dir .) \
  || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "error: schemathesis did not finish within ${time_limit} s" >&2
fi

# What was sent, from the HAR report: requests per operation and answer.
python3 - "$report_dir" <<'EOF' || true
import collections, glob, json, re, sys
paths = glob.glob(f"{sys.argv[1]}/har-*.json")
if paths:
    entries = json.load(open(paths[0]))["log"]["entries"]
    answers = collections.defaultdict(collections.Counter)
    for entry in entries:
        path = re.sub(r"^https?://[^/]+", "", entry["request"]["url"]).split("?")[0]
        path = re.sub(r"^/notifications/.+/retry$", "/notifications/{id}/retry", path)
        path = re.sub(r"^/events/.+", "/events/{id}", path)
        status = entry["response"]["status"]
        operation = "other methods" if status == 405 else f'{entry["request"]["method"]} {path}'
        answers[operation][status] += 1
    print(f"schemathesis sent {len(entries)} requests:")
    for operation, statuses in sorted(answers.items()):
        counts = ", ".join(f"{n} x {status}" for status, n in sorted(statuses.items()))
        print(f"  {operation}: {counts}")
EOF

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "error: serve died during the run:" >&2
  tail -n 50 "$work/serve.log" >&2
  exit 1
fi
if grep -q "panicked" "$work/serve.log"; then
  echo "error: serve panicked during the run:" >&2
  grep -B2 -A5 "panicked" "$work/serve.log" >&2
  exit 1
fi
exit "$status"
