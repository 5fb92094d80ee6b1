#!/usr/bin/env bash
# Schema-driven HTTP fuzzing: schemathesis generates requests from the service's own
# /openapi.json and checks every answer against it — no 5xx, and each status code, content type,
# header and body as documented. It runs once per backend, SQLite then PostgreSQL, each against a
# server on 127.0.0.1 on a free port with a fresh database, a webhook secret and an API token; a
# few signed events are delivered first. `.ci/schemathesis_hooks.py` signs most generated
# deliveries, so that fuzzing reaches past the signature check into validation and the store.
#
# The run must also reach the service: `.ci/schemathesis_coverage.py` compares the server's
# Prometheus request counts (by method, route template and status) from just before and just
# after it, against the operations of the running server's /openapi.json. The step fails if
# `POST /webhooks/dash` was never answered 200 (a broken signing hook would make every delivery a
# 401 and still pass the checks above) or if any documented operation was never called.
# Exits non-zero on any failure, if a run overstays its time limit, or if the server died.
#
# Bounded: SCHEMATHESIS_MAX_EXAMPLES (default 50; both backends then take about 40 s, where one
# at 100 took 25 s) cases per operation and phase, each backend's run stopped after
# SCHEMATHESIS_TIME_LIMIT seconds (default 150). The seed is fixed so that CI
# is reproducible; set SCHEMATHESIS_SEED to explore others. SCHEMATHESIS_BACKEND (default
# `sqlite,postgres`) picks the backends; PostgreSQL runs use a new database on
# DASH_EVENTS_TEST_POSTGRES's server (dropped afterwards). Reports (JUnit, HAR) go to
# SCHEMATHESIS_REPORT_DIR/<backend> (target/schemathesis/<backend>).
# SCHEMATHESIS_HOOK_SECRET, if set, is the secret the hook signs with instead of the server's:
# a wrong one shows that the coverage check fails.
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
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-50}"
time_limit="${SCHEMATHESIS_TIME_LIMIT:-150}"
seed="${SCHEMATHESIS_SEED:-20261129}"
backends="${SCHEMATHESIS_BACKEND:-sqlite,postgres}"
report_root="${SCHEMATHESIS_REPORT_DIR:-target/schemathesis}"
postgres_base="${DASH_EVENTS_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
checks=not_a_server_error,status_code_conformance,response_schema_conformance
checks="$checks,content_type_conformance,response_headers_conformance,unsupported_method,ignored_auth"
# Left out of the run on purpose (see above); the coverage check skips exactly these.
excluded_path=/events/stream
excluded_operation="GET $excluded_path"

for backend in ${backends//,/ }; do
  case "$backend" in
    sqlite | postgres) ;;
    *) echo "error: SCHEMATHESIS_BACKEND must list sqlite and/or postgres, not '$backend'" >&2; exit 2 ;;
  esac
done

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
binary="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/dash-events"
repo="$PWD"

# One backend's run, in a subshell of its own (its own EXIT trap stops its server and drops its
# database); exits non-zero on any failure.
run_backend() {
  local backend="$1"
  local report_dir="$report_root/$backend"
  work="$(mktemp -d)"
  server_pid=""
  postgres_db=""
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
  esac

  WEBHOOK_SECRET="schemathesis-secret-$RANDOM$RANDOM"
  API_TOKEN="schemathesis-token-$RANDOM$RANDOM"
  export WEBHOOK_SECRET

  # A notification rule whose endpoint refuses connections (nothing listens on loopback port 9),
  # so that the seeded events' notifications fail, turn dead within a second, and the notification
  # endpoints are fuzzed with rows in every answer (retry: 200 for a dead one, 409, 404).
  NOTIFY_RULES='[{"name":"schemathesis","types":["*"],"webhook":"http://127.0.0.1:9/refused"}]'
  env -u DATABASE_URL -u LISTEN_ADDR -u WEBHOOK_SECRET_PREVIOUS -u MAX_BODY_BYTES \
    -u SQLITE_SYNCHRONOUS -u NOTIFY_WORKER -u NOTIFY_TIMEOUT_MS -u NOTIFY_RETRY_MAX_MS \
    NO_COLOR=1 RUST_LOG=info \
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

  # The schema is fetched here and given to schemathesis as a file, so that every request the
  # metrics count between the two scrapes below is one schemathesis generated.
  curl -fsS "$base/openapi.json" -o "$work/openapi.json"
  curl -fsS "$base/metrics" -o "$work/metrics-before.txt"

  rm -rf "$report_dir"
  mkdir -p "$report_dir"
  local status=0
  # Run from the report directory: schemathesis keeps a cache of crashes in `.schemathesis/` there.
  (cd "$report_dir" && WEBHOOK_SECRET="${SCHEMATHESIS_HOOK_SECRET:-$WEBHOOK_SECRET}" \
    SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$repo/.ci${PYTHONPATH:+:$PYTHONPATH}" \
    PYTHONDONTWRITEBYTECODE=1 timeout --kill-after=10 "$time_limit" "$st" run "$work/openapi.json" \
    --url "$base" \
    --header "Authorization: Bearer $API_TOKEN" \
    --checks "$checks" \
    --exclude-path "$excluded_path" \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --generation-database none \
    --request-timeout 40 \
    --report junit,har --report-dir .) \
    || status=$?
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "error: schemathesis did not finish within ${time_limit} s ($backend)" >&2
  elif [ "$status" -ne 0 ]; then
    echo "error: schemathesis failed ($backend, exit $status)" >&2
  fi

  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "error: serve died during the run ($backend):" >&2
    tail -n 50 "$work/serve.log" >&2
    exit 1
  fi
  if grep -q "panicked" "$work/serve.log"; then
    echo "error: serve panicked during the run ($backend):" >&2
    grep -B2 -A5 "panicked" "$work/serve.log" >&2
    exit 1
  fi

  # What the run reached, from the server's request counts; fails if it did not reach enough.
  curl -fsS "$base/metrics" -o "$work/metrics-after.txt"
  if ! python3 "$repo/.ci/schemathesis_coverage.py" "$work/openapi.json" \
    "$work/metrics-before.txt" "$work/metrics-after.txt" "$excluded_operation"; then
    echo "error: schemathesis reached too little of the service ($backend); see above" >&2
    status=1
  fi
  exit "$status"
}

failed=""
for backend in ${backends//,/ }; do
  echo "=== schemathesis on $backend ==="
  started=$SECONDS
  set +e
  (
    set -e
    run_backend "$backend"
  )
  status=$?
  set -e
  echo "=== schemathesis on $backend: $([ "$status" -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - started)) s ==="
  [ "$status" -eq 0 ] || failed="$failed $backend"
done
if [ -n "$failed" ]; then
  echo "error: schemathesis step failed on:$failed" >&2
  exit 1
fi
