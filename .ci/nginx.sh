#!/usr/bin/env bash
# The nginx configuration of docs/operations.md (section "Behind a reverse proxy"), as written, in
# front of `dash-events serve`: the ```nginx block is taken from the docs, only its port,
# certificate paths and upstream port are moved (loopback ports, a certificate made here), and
# nginx terminates TLS for serve on 127.0.0.1. Through it, curl delivers signed events and checks
# that each reaches serve unchanged:
#   1. a delivery near MAX_BODY_BYTES is stored (200), and its stored body is the bytes sent;
#   2. a delivery over MAX_BODY_BYTES is refused by serve itself (413 with its JSON error), not by
#      nginx: the proxy's body limit is above serve's;
#   3. a delivery made while /events/stream is open through the proxy appears on the stream
#      within 10 s (nginx passes it on; a buffering proxy would hold it).
# Installs Debian's nginx-light when nginx is missing. Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/serve.sh
source .ci/lib/serve.sh

if ! command -v nginx >/dev/null 2>&1; then
  echo "installing nginx (Debian package nginx-light)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends nginx-light >/dev/null
fi

# The debug build of `cargo test --all-features` (.ci/run), so nothing is rebuilt (see browser.sh).
cargo build --locked --all-features --all-targets
binary="${CARGO_TARGET_DIR:-$PWD/target}/debug/dash-events"
make_work_dir
nginx_pid=""
trap 'stop_server "$nginx_pid"; stop_server "$server_pid"; rm -rf "$work"' EXIT
secret=proxy-secret
token=proxy-token

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A self-signed certificate for 127.0.0.1, which curl is told to trust.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

# serve's defaults but for these (MAX_BODY_BYTES is the default 1 MiB the checks below rely on).
env -u MAX_BODY_BYTES -u WEBHOOK_SECRET_PREVIOUS -u TLS_CERT_FILE -u TLS_KEY_FILE \
  WEBHOOK_SECRET="$secret" API_TOKEN="$token" LISTEN_ADDR=127.0.0.1:0 \
  DATABASE_URL="sqlite:$work/events.db" "$binary" serve >"$work/serve.log" 2>&1 &
server_pid=$!
port="$(wait_for_port "$work/serve.log" "$server_pid")"
proxy_port="$(free_port)"

# The documented server block, with each placeholder replaced exactly once.
python3 - "$work" "$port" "$proxy_port" <<'PY'
import re, sys
work, port, proxy_port = sys.argv[1:]
docs = open("docs/operations.md").read()
blocks = re.findall(r"^```nginx\n(.*?)^```", docs, re.S | re.M)
if len(blocks) != 1:
    sys.exit(f"error: docs/operations.md has {len(blocks)} nginx blocks, expected 1")
block = blocks[0]
for old, new in [
    ("listen 443 ssl;", f"listen 127.0.0.1:{proxy_port} ssl;"),
    ("/etc/letsencrypt/live/events.example.com/fullchain.pem", f"{work}/cert.pem"),
    ("/etc/letsencrypt/live/events.example.com/privkey.pem", f"{work}/key.pem"),
    ("http://127.0.0.1:3000;", f"http://127.0.0.1:{port};"),
]:
    if block.count(old) != 1:
        sys.exit(f"error: the nginx block of docs/operations.md no longer has {old!r} once")
    block = block.replace(old, new)
open(f"{work}/server.conf", "w").write(block)
PY
mkdir -p "$work/nginx/logs" "$work/nginx/temp"
cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid nginx.pid;
error_log logs/error.log warn;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path temp/client_body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    include $work/server.conf;
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx/" -e logs/error.log &
nginx_pid=$!
proxy="https://127.0.0.1:$proxy_port"
curl_proxy() { curl -sS --cacert "$work/cert.pem" --max-time 30 "$@"; }
for _ in $(seq 1 100); do
  curl_proxy -o /dev/null "$proxy/healthz" 2>/dev/null && break
  kill -0 "$nginx_pid" 2>/dev/null || { cat "$work/nginx/logs/error.log" >&2; exit 1; }
  sleep 0.1
done

# Writes a signed delivery of id $1 whose data holds $2 bytes of padding to $work/$1.json and
# POSTs it through the proxy; prints the status and leaves the answer in $work/$1.answer.
deliver() {
  local id="$1" padding="$2" body="$work/$1.json"
  python3 - "$id" "$padding" >"$body" <<'PY'
import json, sys
event_id, padding = sys.argv[1], int(sys.argv[2])
event = {"id": event_id, "type": "agent:complete", "timestamp": "2026-11-28T10:00:00Z",
         "data": {"agentId": "agent-proxy", "result": "x" * padding, "durationMs": 5, "cost": 0.01}}
sys.stdout.write(json.dumps(event))
PY
  local sig
  sig="$(openssl dgst -sha256 -hmac "$secret" <"$body" | sed 's/^.* //')"
  curl_proxy -o "$work/$id.answer" -w '%{http_code}' "$proxy/webhooks/dash" \
    -H 'content-type: application/json' -H "x-dash-signature: sha256=$sig" --data-binary "@$body"
}
fail() { echo "error: $*" >&2; echo "--- serve log:" >&2; cat "$work/serve.log" >&2; exit 1; }

status="$(deliver near-limit 1047000)"
[ "$status" = 200 ] || fail "a delivery of $(wc -c <"$work/near-limit.json") bytes answered $status: $(head -c 300 "$work/near-limit.answer")"
curl_proxy -H "authorization: Bearer $token" -o "$work/near-limit.stored" "$proxy/events/near-limit/body"
cmp -s "$work/near-limit.json" "$work/near-limit.stored" || fail "the stored body differs from the one sent"

status="$(deliver over-limit 1049000)"
grep -q '"error"' "$work/over-limit.answer" && [ "$status" = 413 ] ||
  fail "a delivery over MAX_BODY_BYTES answered $status without serve's JSON error (did nginx refuse it?): $(head -c 300 "$work/over-limit.answer")"

# The stream's head arrives at once; then one delivery must come through within 10 s.
curl_proxy -N --max-time 20 -H "authorization: Bearer $token" -D "$work/stream.head" \
  -o "$work/stream.out" "$proxy/events/stream" 2>/dev/null &
stream_pid=$!
for _ in $(seq 1 100); do grep -q '^HTTP/1.1 200' "$work/stream.head" 2>/dev/null && break; sleep 0.1; done
grep -q '^HTTP/1.1 200' "$work/stream.head" || fail "the stream through the proxy did not answer within 10 s"
status="$(deliver streamed 100)"
[ "$status" = 200 ] || fail "the streamed delivery answered $status"
for _ in $(seq 1 100); do grep -q '"id":"streamed"' "$work/stream.out" && break; sleep 0.1; done
kill "$stream_pid" 2>/dev/null || true
grep -q '"id":"streamed"' "$work/stream.out" || fail "the delivery did not come through the proxied stream within 10 s"

echo "nginx: the documented configuration passed a $(wc -c <"$work/near-limit.json")-byte delivery unchanged, left the 413 to serve, and streamed live"
