#!/usr/bin/env bash
# Load on the demo app's JSON API with server-side sessions: one Redis, a Redis Cluster
# (3 masters + 3 replicas) and PostgreSQL, all throwaway servers on loopback
# (scripts/services.sh). docs/PERFORMANCE.md and docs/SCALING.md hold the figures.
#
#   bench/load.sh                                      # 100 000 sessions, 64 clients, 60 s each
#   SESSIONS=20000 CLIENTS=32 DURATION=20 bench/load.sh # shorter
#   STORES="redis-cluster" bench/load.sh               # some of: redis redis-cluster postgres
#
# Each of the CLIENTS connections of `wrk -tCLIENTS -cCLIENTS` is a client owning
# SESSIONS/CLIENTS sessions, visited in turn: created once, then read (GET /api/session) and
# incremented (POST /api/session) over and over; every read checks that the session is the
# client's own and holds the last count written (bench/load.lua). So a lost or misrouted write
# is counted, not just timed. Prints, per store: req/s, p50/p99 latency, and the counts.
# Not run in CI (too long). Only 127.0.0.1 is contacted; every load is bounded by DURATION.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SESSIONS=${SESSIONS:-100000}
CLIENTS=${CLIENTS:-64}
DURATION=${DURATION:-60}
STORES=${STORES:-redis redis-cluster postgres}
PORT=${PORT:-3300}
BASE="http://127.0.0.1:$PORT"
PER=$(( (SESSIONS + CLIENTS - 1) / CLIENTS ))

for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "load.sh: $tool is missing" >&2; exit 1; }
done

# shellcheck source=scripts/services.sh
source scripts/services.sh
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  services_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
services_start >&2

echo "building demo and cookie-session (release)…" >&2
cargo build --release --quiet -p demo -p cookie-session-cli
KEYS=$(target/release/cookie-session keygen)

url_of() {
  case "$1" in
    redis) echo "${REDIS_URL:?}" ;;
    # redis://127.0.0.1:7010/,… → redis-cluster://127.0.0.1:7010,…
    redis-cluster) echo "redis-cluster://$(sed -e 's#redis://##g' -e 's#/##g' <<<"${REDIS_CLUSTER_URLS:?}")" ;;
    postgres) echo "${DATABASE_URL:?}" ;;
    *) echo "load.sh: unknown store $1" >&2; exit 1 ;;
  esac
}

echo "| store | sessions | clients | s | req/s | p50 ms | p99 ms | non-200 | lost writes | lost sessions | misrouted |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for store in $STORES; do
  PORT=$PORT SESSION_KEYS=$KEYS SESSION_STORE=$(url_of "$store") RUST_LOG=warn \
    target/release/demo >/dev/null 2>"$WORK/demo.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -fs -o /dev/null "$BASE/api/session" && break
    sleep 0.1
  done
  curl -fs -o /dev/null "$BASE/api/session" || {
    echo "load.sh: the demo did not start on $store:" >&2; cat "$WORK/demo.log" >&2; exit 1; }
  out=$(SESSIONS_PER_CLIENT=$PER wrk -t"$CLIENTS" -c"$CLIENTS" -d"${DURATION}s" --timeout 5s \
    -s bench/load.lua "$BASE/api/session")
  echo "$out" >"$WORK/wrk-$store.txt"
  rps=$(awk '/Requests\/sec/{printf "%.0f", $2}' <<<"$out")
  read -r p50 p99 < <(sed -n 's/^LATENCY p50_ms=\([0-9.]*\) p99_ms=\([0-9.]*\)$/\1 \2/p' <<<"$out")
  check=$(grep '^CHECK ' <<<"$out")
  field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$check"; }
  echo "| $store | $SESSIONS | $CLIENTS | $DURATION | $rps | $p50 | $p99 | $(field failed) | $(field lost_writes) | $(field lost_sessions) | $(field misrouted) |"
  echo "$store: $check" >&2
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
done
