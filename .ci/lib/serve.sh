# Shared by the CI scripts that start `dash-events serve` on port 0 and talk to it.

# Prints the port that the server with PID $2 logged in $1 ("listening on 127.0.0.1:<port>").
# Fails with the server's log when it exits first or logs nothing within 60 s.
wait_for_port() {
  local log="$1" pid="$2" port=""
  for _ in $(seq 1 600); do
    port="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)"
    if [ -n "$port" ]; then
      echo "$port"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "error: serve exited before listening:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "error: serve did not log 'listening on' within 60 s" >&2
  cat "$log" >&2
  return 1
}

# Stops the server with PID $1, if it still runs: SIGTERM, up to 10 s to drain, then SIGKILL.
stop_server() {
  local pid="$1"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

# Sets $work to a new temporary directory and $server_pid to none yet; on exit, stops the server
# whose PID the caller then puts in $server_pid and removes $work.
make_work_dir() {
  work="$(mktemp -d)"
  server_pid=""
  trap 'stop_server "$server_pid"; rm -rf "$work"' EXIT
}
