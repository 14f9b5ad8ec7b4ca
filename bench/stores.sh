#!/usr/bin/env bash
# Requests per second of the example app's counter route (`GET /`: read the session, increment
# `views`, save) on every session store, beside cookie mode (docs/PERFORMANCE.md).
#
#   bench/stores.sh                     # cookie, memory, sqlite, redis, postgres
#   DURATION=4 ROUNDS=1 bench/stores.sh  # shorter
#
# The demo runs pinned to CPU 0, wrk to CPU 1; per store a discarded warm-up, then
# `wrk -t1 -c32 -dDURATION` with one valid session cookie, so every request loads the session
# and writes it back. Redis and PostgreSQL are throwaway servers on loopback started by
# scripts/services.sh (they share CPU 0's neighbour, CPU 1, with wrk: the figures include the
# database's own work). Only 127.0.0.1 is contacted; every load is bounded by its duration.
# Writes a markdown table to stdout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-3200}
BASE="http://127.0.0.1:$PORT"

for tool in wrk curl taskset; do
  command -v "$tool" >/dev/null || { echo "stores.sh: $tool is missing" >&2; exit 1; }
done

# shellcheck source=scripts/services.sh
source scripts/services.sh
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  services_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
services_start >&2

echo "building demo and cookie-session (release)…" >&2
cargo build --release --quiet -p demo -p cookie-session-cli
KEYS=$(target/release/cookie-session keygen)

STORES=("cookie" "memory" "sqlite:$WORK/sessions.sqlite")
[[ -n "${REDIS_URL:-}" ]] && STORES+=("$REDIS_URL")
[[ -n "${DATABASE_URL:-}" ]] && STORES+=("$DATABASE_URL")

kind() {
  case "$1" in
    redis*) echo redis ;; postgres*) echo postgres ;; sqlite:*) echo sqlite ;; *) echo "$1" ;;
  esac
}

start() {
  PORT=$PORT SESSION_KEYS=$KEYS SESSION_STORE=$1 RUST_LOG=warn \
    taskset -c 0 target/release/demo >/dev/null 2>"$WORK/demo.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -fs -o /dev/null "$BASE/api/session" && return 0
    sleep 0.1
  done
  echo "stores.sh: the demo did not start on $(kind "$1"):" >&2
  cat "$WORK/demo.log" >&2
  exit 1
}

stop() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# The counter's value on the home page, for the sanity check.
counter() {
  curl -fs -H "Cookie: $1" "$BASE/" | grep -o 'id="counter"[^>]*>[0-9]*' | grep -o '[0-9]*$'
}

declare -A RESULTS
for store in "${STORES[@]}"; do
  name=$(kind "$store")
  start "$store"
  cookie=$(curl -fs -D - -o /dev/null "$BASE/" | tr -d '\r' | awk -F': ' 'tolower($1)=="set-cookie"{split($2,a,";"); print a[1]}' | paste -sd';' | sed 's/;/; /g')
  # The first visit counted 1; the same cookie sent again must count 2 (the session was read
  # back — from the cookie, or from the store).
  second=$(counter "$cookie" || true)
  if [[ -z "$cookie" || "$second" != 2 ]]; then
    echo "stores.sh: sanity check failed on $name (cookie '${cookie:0:20}…', counter 1 → ${second:-none})" >&2
    exit 1
  fi
  for round in $(seq "$ROUNDS"); do
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -H "Cookie: $cookie" "$BASE/" >/dev/null
    rps=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H "Cookie: $cookie" "$BASE/" | awk '/Requests\/sec/{print $2}')
    RESULTS[$name]="${RESULTS[$name]:-} $rps"
  done
  stop
done

echo "| store | req/s per round | mean req/s | µs/request | vs cookie mode |"
echo "|---|---|---:|---:|---:|"
cookie_mean=""
for store in "${STORES[@]}"; do
  name=$(kind "$store")
  read -r -a rounds <<<"${RESULTS[$name]}"
  mean=$(printf '%s\n' "${rounds[@]}" | awk '{s+=$1} END {printf "%.0f", s/NR}')
  [[ -z "$cookie_mean" ]] && cookie_mean=$mean
  ratio=$(awk -v m="$mean" -v c="$cookie_mean" 'BEGIN {printf "%.2f×", m/c}')
  us=$(awk -v m="$mean" 'BEGIN {printf "%.1f", 1e6/m}')
  echo "| $name | ${rounds[*]} | $mean | $us | $ratio |"
done
