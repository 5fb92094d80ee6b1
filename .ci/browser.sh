#!/usr/bin/env bash
# The web page in a real browser: starts `dash-events serve` (debug build) on 127.0.0.1 port 0
# with an API token and a fresh SQLite file, then tests/browser drives headless Chromium through
# it (tests/browser/viewer.mjs: token, events, type filter, live arrival, detail, paging, CSV
# download, id links in the URL and back, search, cost by group) after the unit tests of the
# page's stream parser and filters. Screenshots go to target/ci-artifacts/. Installs Chromium
# (Debian packages) and the npm packages when they are missing. Bounded: the server must
# listen within 60 s and the browser run ends within BROWSER_TIME_LIMIT seconds (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/serve.sh
source .ci/lib/serve.sh

time_limit="${BROWSER_TIME_LIMIT:-300}"
artifacts="$PWD/target/ci-artifacts"

if ! [ -x /usr/bin/chromium ]; then
  echo "installing chromium (Debian packages chromium, chromium-driver)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q chromium chromium-driver >/dev/null
fi
if ! command -v node >/dev/null 2>&1; then
  echo "installing node (Debian packages nodejs, npm)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q nodejs npm >/dev/null
fi
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

# The build `cargo test --all-features` (.ci/run) already made, so nothing is rebuilt: with
# --all-targets the dev-dependencies' features apply as under `cargo test` (building the binary
# alone resolves tokio, libc, … with other features and compiles them again, about a minute).
cargo build --locked --all-features --all-targets
binary="$PWD/target/debug/dash-events"

make_work_dir

export WEBHOOK_SECRET="browser-secret-$RANDOM$RANDOM"
export API_TOKEN="browser-token-$RANDOM$RANDOM"
# The page's search box needs the text index (`serve --search-index`).
export SEARCH_INDEX=true
env -u DATABASE_URL -u LISTEN_ADDR -u WEBHOOK_SECRET_PREVIOUS -u MAX_BODY_BYTES NO_COLOR=1 RUST_LOG=info \
  "$binary" serve --listen 127.0.0.1:0 --database-url "sqlite://$work/events.db" \
  >"$work/serve.log" 2>&1 &
server_pid=$!

port="$(wait_for_port "$work/serve.log" "$server_pid")"
export DASH_EVENTS_URL="http://127.0.0.1:$port"
echo "serve is listening on $DASH_EVENTS_URL"

status=0
(cd tests/browser && node --test sse.test.mjs filters.test.mjs) || status=$?
if [ "$status" -eq 0 ]; then
  (cd tests/browser && ARTIFACT_DIR="$artifacts" timeout --kill-after=10 "$time_limit" node viewer.mjs) || status=$?
fi
if [ "$status" -ne 0 ]; then
  echo "error: the browser test failed (exit $status); server log:" >&2
  tail -n 40 "$work/serve.log" >&2
fi
if grep -q "panicked" "$work/serve.log"; then
  echo "error: serve panicked during the run" >&2
  status=1
fi
exit "$status"
