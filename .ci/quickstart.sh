#!/usr/bin/env bash
# The README's quick start, as written: `WEBHOOK_SECRET=dev-secret cargo run --release -- serve`
# must start the service (`cargo run` must know which binary to run), take a signed event from
# `send-test`, and count it in `/stats`. Only the address and the database file are moved (port 0,
# a temporary directory), so that CI neither collides with a port in use nor writes into the
# checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/serve.sh
source .ci/lib/serve.sh

# Built first, so that the 60 s wait for the port below is not spent compiling.
cargo build --release --locked

make_work_dir

WEBHOOK_SECRET=dev-secret LISTEN_ADDR=127.0.0.1:0 DATABASE_URL="sqlite:$work/dash-events.db" \
  cargo run --release --locked -- serve >"$work/serve.log" 2>&1 &
server_pid=$!
port="$(wait_for_port "$work/serve.log" "$server_pid")"
base="http://127.0.0.1:$port"

WEBHOOK_SECRET=dev-secret target/release/dash-events send-test --url "$base/webhooks/dash" --count 2
stats="$(curl -fsS "$base/stats")"
total="$(printf '%s' "$stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["totalEvents"])')"
if [ "$total" != "2" ]; then
  echo "error: /stats counts $total events after two were sent: $stats" >&2
  exit 1
fi
echo "quick start: cargo run --release -- serve answered on $base and stored the 2 events sent"
