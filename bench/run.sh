#!/usr/bin/env bash
# Side-by-side HTTP benchmark of our session layer and its peers (docs/PERFORMANCE.md).
#
#   bench/run.sh                      # every server, 2 rounds
#   bench/run.sh bare ours-encrypted  # only these
#   ROUNDS=1 DURATION=4 bench/run.sh  # shorter
#
# Each server is pinned to CPU 0 (taskset -c 0), wrk to CPU 1; per server and route a
# discarded warm-up of WARMUP seconds, then `wrk -t1 -cCONNECTIONS -dDURATIONs --latency`
# with a fixed valid `Cookie:` captured from one /visit. Before the load, curl checks each
# server: fresh /visit → views=1, resent cookie → views=2, /read → views=2, one flipped
# character in the cookie value → views=0. Only 127.0.0.1 is ever contacted; every load run
# is bounded by its duration.
#
# The `*-redis` servers keep their sessions in Redis: the one at REDIS_URL if set, else a
# throwaway redis-server on loopback started here (scripts/services.sh) and pinned to wrk's CPU,
# so the server's CPU holds only the server; the figures include the round trips to it. For
# each of them the report also counts the Redis round trips per request on each route (the
# commands MONITOR sees during REDIS_SAMPLE sequential curl requests with the load's cookie,
# round 1): exact, whatever else runs on the machine.
#
# Writes a markdown table to stdout and to docs/perf-results/<date>.md.
# Needs: cargo, wrk (apt-get install -y wrk), curl, taskset, python3, and node + npm for the
# `express` server.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-3100}
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
ALL_SERVERS="bare ours-encrypted ours-signed ours-express axum-extra-signed axum-extra-private tower-sessions-memory ours-redis actix-bare ours-actix-encrypted ours-actix-signed ours-actix-express ours-actix-redis actix-signed actix-private actix-redis express"
SERVERS=${*:-$ALL_SERVERS}
ROUTES="/visit /read /plain"
BIN=bench/target/release/bench-server
BASE="http://127.0.0.1:$PORT"

for tool in wrk curl taskset python3; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (wrk: apt-get install -y wrk)" >&2; exit 1; }
done

echo "building bench-server (release)…" >&2
cargo build --release --quiet --manifest-path bench/Cargo.toml
if [[ " $SERVERS " == *" express "* && ! -d bench/express/node_modules ]]; then
  (cd bench/express && npm ci --no-audit --no-fund --loglevel=error)
fi

WORK=$(mktemp -d)
RESULTS=$WORK/results.tsv
SANITY=$WORK/sanity.tsv
COOKIES=$WORK/cookies.tsv
REDIS_CALLS=$WORK/redis.tsv
REDIS_SAMPLE=${REDIS_SAMPLE:-20}
: >"$RESULTS"
: >"$SANITY"
: >"$COOKIES"
: >"$REDIS_CALLS"
PID=""

stop_server() {
  if [[ -n "$PID" ]]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
  fi
}
# shellcheck source=scripts/services.sh
source scripts/services.sh
trap 'stop_server; services_stop; rm -rf "$WORK"' EXIT

if [[ " $SERVERS " == *"-redis "* ]]; then
  command -v redis-cli >/dev/null || { echo "run.sh: the *-redis servers need redis-server and redis-cli (apt-get install -y redis-server)" >&2; exit 1; }
  if [[ -z "${REDIS_URL:-}" ]]; then
    # Only Redis (services_start would also start a Redis Cluster and PostgreSQL).
    _svc_start_redis && [[ -n "${REDIS_URL:-}" ]] || { echo "run.sh: could not start redis-server" >&2; exit 1; }
    taskset -p -c "$WRK_CPU" "$SERVICES_REDIS_PID" >/dev/null
  fi
fi

start_server() {
  local name=$1
  if [[ "$name" == express ]]; then
    NODE_ENV=production taskset -c "$SERVER_CPU" node bench/express/server.js "$PORT" &
  else
    taskset -c "$SERVER_CPU" "$BIN" --server "$name" --port "$PORT" &
  fi
  PID=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "$BASE/plain" && return 0
    sleep 0.1
  done
  echo "run.sh: $name did not start" >&2
  exit 1
}

# The `name=value` pairs a response sets, as one Cookie header value.
cookies_of() {
  grep -i '^set-cookie:' | sed -e 's/^[^:]*: *//' -e 's/;.*//' | tr -d '\r' | paste -sd ';' | sed 's/;/; /g'
}

# GET a route with an optional Cookie; prints the body, saves the headers to $WORK/headers.
get() {
  local route=$1 cookie=${2:-}
  if [[ -n "$cookie" ]]; then
    curl -s -D "$WORK/headers" -H "Cookie: $cookie" "$BASE$route"
  else
    curl -s -D "$WORK/headers" "$BASE$route"
  fi
}

# One character flipped in the middle of the first cookie's value.
tamper() {
  python3 - "$1" <<'EOF'
import sys
cookie = sys.argv[1]
name, _, rest = cookie.partition("=")
value, sep, tail = rest.partition(";")
i = len(value) // 2
value = value[:i] + ("B" if value[i] != "B" else "C") + value[i + 1:]
print(f"{name}={value}{sep}{tail}")
EOF
}

# Sanity checks; sets COOKIE to a valid session cookie (views=2) for the load.
sanity() {
  local name=$1 fresh resend read tampered c1
  COOKIE=""
  if [[ "$name" == bare || "$name" == bare-layered || "$name" == actix-bare ]]; then
    printf '%s\t%s\n' "$name" "no session (baseline)" >>"$SANITY"
    return
  fi
  fresh=$(get /visit)
  c1=$(cookies_of <"$WORK/headers")
  resend=$(get /visit "$c1")
  # A server-side store keeps the session's id, so its second response may set no cookie.
  COOKIE=$(cookies_of <"$WORK/headers" || true)
  [[ -n "$COOKIE" ]] || COOKIE=$c1
  read=$(get /read "$COOKIE")
  tampered=$(get /read "$(tamper "$COOKIE")")
  local verdict="fresh:$fresh resend:$resend read:$read tampered:$tampered"
  printf '%s\t%s\n' "$name" "$verdict" >>"$SANITY"
  printf '%s\t%s\n' "$name" "$COOKIE" >>"$COOKIES"
  if [[ "$fresh" != views=1 || "$resend" != views=2 || "$read" != views=2 || "$tampered" != views=0 ]]; then
    echo "run.sh: $name failed its sanity check: $verdict" >&2
    exit 1
  fi
}

# Redis round trips per request of a *-redis server on each route, with the load's cookie:
# the commands the server sends while REDIS_SAMPLE sequential requests run, seen by MONITOR
# (the commands a Lua script runs inside Redis are listed apart: they are not round trips).
redis_counts() {
  local name=$1 route mon i
  for route in $ROUTES; do
    redis-cli -u "$REDIS_URL" monitor >"$WORK/monitor" &
    mon=$!
    for i in $(seq 100); do grep -q '^OK' "$WORK/monitor" && break; sleep 0.05; done
    for i in $(seq "$REDIS_SAMPLE"); do get "$route" "$COOKIE" >/dev/null; done
    redis-cli -u "$REDIS_URL" echo run-sh-sample-end >/dev/null
    for i in $(seq 100); do grep -q 'run-sh-sample-end' "$WORK/monitor" && break; sleep 0.05; done
    kill "$mon" 2>/dev/null || true
    wait "$mon" 2>/dev/null || true
    python3 - "$name" "$route" "$REDIS_SAMPLE" "$WORK/monitor" >>"$REDIS_CALLS" <<'EOF'
import re, sys
from collections import Counter
name, route, n, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sent, scripted = Counter(), Counter()
for line in open(path, errors="replace"):
    m = re.match(r'^[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"', line)
    if not m or "run-sh-sample-end" in line:
        continue
    (scripted if m.group(1) == "lua" else sent)[m.group(2).upper()] += 1
def per(counts):
    return ", ".join(f"{k} {v / n:g}" for k, v in sorted(counts.items())) or "none"
print(f"{name}\t{route}\t{sum(sent.values()) / n:g}\t{per(sent)}\t{per(scripted)}")
EOF
  done
}

# wrk on one route: prints "req/s p50_ms p99_ms resp_bytes non2xx".
load() {
  local route=$1 args=(-t1 "-c$CONNECTIONS")
  [[ -n "$COOKIE" ]] && args+=(-H "Cookie: $COOKIE")
  taskset -c "$WRK_CPU" wrk "${args[@]}" "-d${WARMUP}s" "$BASE$route" >/dev/null
  taskset -c "$WRK_CPU" wrk "${args[@]}" "-d${DURATION}s" --latency "$BASE$route" | python3 -c '
import re, sys
text = sys.stdin.read()
def ms(label):
    m = re.search(r"^\s*" + label + r"%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m: return "nan"
    v, u = float(m.group(1)), m.group(2)
    return "%.3f" % (v / 1000 if u == "us" else v * 1000 if u == "s" else v)
rps = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
m = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)(B|KB|MB|GB) read", text)
scale = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[m.group(3)]
resp = float(m.group(2)) * scale / int(m.group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(rps, ms("50"), ms("99"), "%.0f" % resp, bad.group(1) if bad else 0)
'
}

for round in $(seq "$ROUNDS"); do
  for name in $SERVERS; do
    start_server "$name"
    sanity "$name"
    if [[ "$round" == 1 && "$name" == *-redis ]]; then redis_counts "$name"; fi
    for route in $ROUTES; do
      read -r rps p50 p99 resp bad < <(load "$route")
      if [[ "$bad" != 0 ]]; then
        echo "run.sh: $name $route answered $bad non-2xx responses" >&2
        exit 1
      fi
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$route" "$round" "$rps" "$p50" "$p99" "$resp" >>"$RESULTS"
      printf 'round %s  %-22s %-6s %10s req/s  p50 %s ms  p99 %s ms  %s B/resp\n' \
        "$round" "$name" "$route" "$rps" "$p50" "$p99" "$resp" >&2
    done
    stop_server
  done
done

# ---- report ----
mkdir -p docs/perf-results
DATE=$(date -u +%F)
OUT=docs/perf-results/$DATE.md
[[ -e "$OUT" ]] && OUT=docs/perf-results/$DATE-$(date -u +%H%M).md
{
  echo "# HTTP benchmark, $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
  echo
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) CPUs; kernel $(uname -r)"
  echo "- pinning: servers on CPU $SERVER_CPU, wrk on CPU $WRK_CPU (taskset); load \`wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency\` after a discarded ${WARMUP}s warm-up, $ROUNDS round(s), fixed valid \`Cookie:\`"
  echo "- tools: $(rustc --version); node $(node --version 2>/dev/null || echo -); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
  echo "- crates: $(python3 - <<'EOF'
import re
lock = open("bench/Cargo.lock").read()
want = ["axum", "axum-extra", "tower-sessions", "actix-web", "actix-session", "cookie", "tokio", "hyper", "chacha20poly1305", "hmac", "serde_json", "redis"]
found = re.findall(r'name = "([^"]+)"\nversion = "([^"]+)"', lock)
print(", ".join(f"{n} {v}" for n, v in found if n in want))
EOF
)"
  [[ -f bench/express/package-lock.json ]] && echo "- npm: $(python3 -c '
import json
p = json.load(open("bench/express/package-lock.json"))["packages"]
print(", ".join(k.split("/")[-1] + "@" + p[k]["version"] for k in ("node_modules/express", "node_modules/cookie-session") if k in p))')"
  echo
  python3 - "$RESULTS" "$SANITY" "$COOKIES" "$REDIS_CALLS" <<'EOF'
import statistics, sys
from collections import defaultdict

LABELS = {
    "bare": "axum (no session)",
    "bare-layered": "axum behind a do-nothing layer (no session)",
    "ours-encrypted": "axum + cookie-session encrypted",
    "ours-signed": "axum + cookie-session signed",
    "ours-express": "axum + cookie-session express",
    "axum-extra-signed": "axum + axum-extra SignedCookieJar",
    "axum-extra-private": "axum + axum-extra PrivateCookieJar",
    "tower-sessions-memory": "axum + tower-sessions MemoryStore",
    "ours-encrypted-outer": "axum + cookie-session encrypted, around the router",
    "tower-sessions-memory-outer": "axum + tower-sessions MemoryStore, around the router",
    "ours-redis": "axum + cookie-session RedisStore",
    "actix-signed": "actix-web + actix-session Cookie signed",
    "actix-private": "actix-web + actix-session Cookie private",
    "actix-redis": "actix-web + actix-session RedisSessionStore",
    "actix-bare": "actix-web (no session)",
    "ours-actix-encrypted": "actix-web + cookie-session encrypted",
    "ours-actix-signed": "actix-web + cookie-session signed",
    "ours-actix-express": "actix-web + cookie-session express",
    "ours-actix-redis": "actix-web + cookie-session RedisStore",
    "express": "express 5 + cookie-session",
}
rows = defaultdict(list)
order = []
for line in open(sys.argv[1]):
    name, route, rnd, rps, p50, p99, resp = line.rstrip("\n").split("\t")
    if (name, route) not in rows:
        order.append((name, route))
    rows[(name, route)].append((int(rnd), float(rps), p50, p99, float(resp)))
rounds = max((r for v in rows.values() for r, *_ in v), default=1)
mean = {k: statistics.mean(x[1] for x in v) for k, v in rows.items()}

def cost(a, b):
    if a not in mean or b not in mean:
        return "-"
    return "%.2f" % (1e6 / mean[a] - 1e6 / mean[b])

print("## Throughput (req/s per round, mean) and the session layer's cost per request")
print()
print("`+µs/req` = 1e6/mean(route) − 1e6/mean(reference): the server is CPU-bound on its one core, so this is")
print("the extra CPU time per request. References: the same server's `/plain`, and bare axum's same route.")
print()
head = "| server | route | " + " | ".join(f"r{i} req/s" for i in range(1, rounds + 1))
head += " | mean req/s | spread | +µs/req vs own /plain | +µs/req vs bare axum same route | p50 ms | p99 ms | avg resp B |"
print(head)
print("|---|---|" + "---:|" * rounds + "---:|---:|---:|---:|---|---|---:|")
for key in order:
    name, route = key
    v = sorted(rows[key])
    per = [f"{x[1]:,.0f}" for x in v] + ["-"] * (rounds - len(v))
    rps = [x[1] for x in v]
    spread = (max(rps) - min(rps)) / statistics.mean(rps) * 100
    own = cost(key, (name, "/plain")) if route != "/plain" else "-"
    vs_bare = cost(key, ("bare", route)) if name != "bare" else "-"
    print(f"| {LABELS.get(name, name)} | {route} | " + " | ".join(per)
          + f" | {mean[key]:,.0f} | {spread:.1f}% | {own} | {vs_bare} | "
          + " / ".join(x[2] for x in v) + " | " + " / ".join(x[3] for x in v)
          + f" | {statistics.mean(x[4] for x in v):.0f} |")
print()
ratios = []
for name in ("ours-encrypted", "ours-signed", "ours-express"):
    for route in ("/visit", "/read", "/plain"):
        if (name, route) in mean and ("express", route) in mean:
            ratios.append(f"{LABELS[name]} {route}: {mean[(name, route)] / mean[('express', route)]:.1f}×")
if ratios:
    print("Throughput vs Express cookie-session (same route, same run): " + "; ".join(ratios))
    print()
print("## Sanity (curl, before each load; last round)")
print()
sanity = {}
for line in open(sys.argv[2]):
    name, verdict = line.rstrip("\n").split("\t", 1)
    sanity[name] = verdict
for name, verdict in sanity.items():
    print(f"- {LABELS.get(name, name)}: {verdict}")
print()
print("## Cookie header sent under load (last round)")
print()
print("| server | Cookie header bytes |")
print("|---|---:|")
cookies = {}
for line in open(sys.argv[3]):
    name, cookie = line.rstrip("\n").split("\t", 1)
    cookies[name] = cookie
for name, cookie in cookies.items():
    print(f"| {LABELS.get(name, name)} | {len(cookie)} |")
calls = [line.rstrip("\n").split("\t") for line in open(sys.argv[4]) if line.strip()]
if calls:
    print()
    print("## Redis round trips per request (exact: MONITOR during sequential requests)")
    print()
    print("| server | route | round trips/request | commands sent | run inside Lua scripts |")
    print("|---|---|---:|---|---|")
    for name, route, total, sent, scripted in calls:
        print(f"| {LABELS.get(name, name)} | {route} | {total} | {sent} | {scripted} |")
EOF
} | tee "$OUT"
echo "written: $OUT" >&2
