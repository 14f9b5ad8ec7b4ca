# shellcheck shell=bash
# Throwaway test services for the test suite, on loopback only.
#
# Source this file, then:
#   services_start   start Redis, a Redis Cluster and PostgreSQL in a fresh temp
#                    dir and export REDIS_URL, REDIS_CLUSTER_URLS (its three
#                    masters, comma-separated: the seed nodes), DATABASE_URL,
#                    CHROMIUM and CHROMEDRIVER (and, for
#                    the PostgreSQL outage test, TEST_PG_CTL, TEST_PGDATA and
#                    TEST_PG_OPTS: the pg_ctl binary, data dir and server
#                    options of the cluster it started; set
#                    only when it started one, so a test never stops a server
#                    it does not own)
#   services_stop    stop what services_start started and delete the temp dir
#                    (idempotent; safe to call from an EXIT trap, even after a
#                    half-finished services_start)
#
# NB: callers use `services_start || ...`, where bash ignores `set -e`
# inside the function, so every step here checks its own status.
#
# Each service is started only if its variable is not already set (so a
# developer can point the tests at their own servers) and its binaries are
# installed. With SERVICES_REQUIRED=1 (what CI uses) a missing binary is an
# error instead of a skip, so CI can never silently skip those tests.
#
# Ports: Redis tries 6390, PostgreSQL 5440 (override with REDIS_PORT/PG_PORT);
# if the port is taken (another checkout running its tests), the next free one
# up to +50 is used. Data lives only under the temp dir and is never saved.
# The Redis Cluster (3 masters + 3 replicas, scripts/redis-cluster) takes six
# free ports from 7010 on (REDIS_CLUSTER_PORT), cluster bus ports 10000 higher.
#
# Debian packages: redis-server postgresql chromium chromium-driver.

SERVICES_DIR=""          # temp dir holding all data, sockets and logs
SERVICES_REDIS_PID=""    # pid of the redis-server we started
SERVICES_PG_DATA=""      # data dir of the PostgreSQL cluster we started
SERVICES_CLUSTER_DIR=""  # dir of the Redis Cluster we started (scripts/redis-cluster)

# Test database, role and password (the role owns the database).
SERVICES_PG_DB=cookie_session_test
SERVICES_PG_USER=cookie_session
SERVICES_PG_PASSWORD=cookie_session

_svc_log() { printf 'services: %s\n' "$*" >&2; }

# True if something accepts TCP connections on 127.0.0.1:$1.
_svc_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# First free port in [$1, $1+50].
_svc_free_port() {
  local p
  for ((p = $1; p <= $1 + 50; p++)); do
    if ! _svc_port_busy "$p"; then echo "$p"; return 0; fi
  done
  _svc_log "no free port in $1..$(($1 + 50))"
  return 1
}

# Missing binary: skip the service, or fail when SERVICES_REQUIRED=1.
_svc_missing() {
  if [[ "${SERVICES_REQUIRED:-0}" == 1 ]]; then
    _svc_log "ERROR: $1 not found (install the Debian package $2)"
    return 1
  fi
  _svc_log "$1 not found: tests that need it will be skipped (Debian package: $2)"
}

# PostgreSQL's bin dir: $PG_BIN, else the newest /usr/lib/postgresql/*/bin, else PATH.
_svc_pg_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then echo "$PG_BIN"; return; fi
  local d
  d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; fi
}

# Run a command as the `postgres` user when we are root (initdb refuses root).
_svc_as_pg() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

_svc_dir() {
  if [[ -z "$SERVICES_DIR" ]]; then
    SERVICES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cookie-session-services.XXXXXX") || return 1
    chmod 755 "$SERVICES_DIR"   # the postgres user must be able to enter it
  fi
}

_svc_start_redis() {
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    _svc_missing redis-server redis-server
    return
  fi
  _svc_dir || return 1
  local port dir="$SERVICES_DIR/redis" i
  port=$(_svc_free_port "${REDIS_PORT:-6390}") || return 1
  mkdir -p "$dir" || return 1
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" || return 1
  for ((i = 0; i < 100; i++)); do   # up to 10 s
    if [[ -s "$dir/redis.pid" ]] && redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
      SERVICES_REDIS_PID=$(cat "$dir/redis.pid")
      export REDIS_URL="redis://127.0.0.1:$port/"
      _svc_log "redis on 127.0.0.1:$port (pid $SERVICES_REDIS_PID)"
      return 0
    fi
    sleep 0.1
  done
  [[ -s "$dir/redis.pid" ]] && SERVICES_REDIS_PID=$(cat "$dir/redis.pid")
  _svc_log "ERROR: redis did not answer PING; log:"
  cat "$dir/redis.log" >&2 || true
  return 1
}

_svc_start_redis_cluster() {
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    _svc_missing redis-server redis-server
    return
  fi
  _svc_dir || return 1
  local nodes script
  script="$(dirname "${BASH_SOURCE[0]}")/redis-cluster"
  SERVICES_CLUSTER_DIR="$SERVICES_DIR/redis-cluster"
  nodes=$("$script" start "$SERVICES_CLUSTER_DIR" "${REDIS_CLUSTER_PORT:-7010}") || {
    _svc_log "ERROR: the Redis Cluster did not start"; return 1; }
  # The three masters (printed first) are the seed nodes.
  REDIS_CLUSTER_URLS=$(head -n 3 <<<"$nodes" | awk '{printf "%sredis://127.0.0.1:%s/", sep, $1; sep=","}')
  export REDIS_CLUSTER_URLS
  _svc_log "redis cluster on 127.0.0.1 ports $(awk '{printf "%s ", $1}' <<<"$nodes")"
}

_svc_start_postgres() {
  local bin
  bin=$(_svc_pg_bin)
  if [[ -z "$bin" ]]; then
    _svc_missing "PostgreSQL (initdb)" postgresql
    return
  fi
  if [[ "$(id -u)" == 0 ]] && ! id postgres >/dev/null 2>&1; then
    _svc_log "ERROR: running as root but there is no 'postgres' user to run PostgreSQL as"
    return 1
  fi
  _svc_dir || return 1
  local port dir="$SERVICES_DIR/pg"
  port=$(_svc_free_port "${PG_PORT:-5440}") || return 1
  mkdir -p "$dir" || return 1
  if [[ "$(id -u)" == 0 ]]; then chown postgres: "$dir" || return 1; fi
  # Fresh cluster: trust for the superuser on the unix socket (in $dir only),
  # password (SCRAM) for everyone over TCP.
  _svc_as_pg "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 --no-sync \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || {
    _svc_log "ERROR: initdb failed; log:"; cat "$dir/initdb.log" >&2; return 1; }
  SERVICES_PG_DATA="$dir/data"
  # Loopback TCP only, socket in $dir; durability off (the data is throwaway).
  local opts="-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  _svc_as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -o "$opts" \
    start >/dev/null || {
    _svc_log "ERROR: PostgreSQL did not start; log:"; cat "$dir/postgres.log" >&2; return 1; }
  _svc_as_pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
    -c "CREATE ROLE $SERVICES_PG_USER LOGIN CREATEDB PASSWORD '$SERVICES_PG_PASSWORD'" \
    -c "CREATE DATABASE $SERVICES_PG_DB OWNER $SERVICES_PG_USER" >/dev/null || return 1
  export DATABASE_URL="postgres://$SERVICES_PG_USER:$SERVICES_PG_PASSWORD@127.0.0.1:$port/$SERVICES_PG_DB"
  # What the outage test needs to stop this cluster and start it again the same way.
  export TEST_PG_CTL="$bin/pg_ctl" TEST_PGDATA="$dir/data" TEST_PG_OPTS="$opts"
  _svc_log "postgresql on 127.0.0.1:$port (data $dir/data)"
}

_svc_chromium() {
  local c
  if [[ -z "${CHROMIUM:-}" ]]; then
    for c in /usr/bin/chromium /usr/bin/chromium-browser; do
      if [[ -x "$c" ]]; then export CHROMIUM="$c"; break; fi
    done
    [[ -n "${CHROMIUM:-}" ]] || _svc_missing chromium chromium || return 1
  fi
  if [[ -z "${CHROMEDRIVER:-}" ]]; then
    if [[ -x /usr/bin/chromedriver ]]; then export CHROMEDRIVER=/usr/bin/chromedriver; fi
    [[ -n "${CHROMEDRIVER:-}" ]] || _svc_missing chromedriver chromium-driver || return 1
  fi
  return 0
}

services_start() {
  if [[ -z "${REDIS_URL:-}" ]]; then _svc_start_redis || return 1; fi
  if [[ -z "${REDIS_CLUSTER_URLS:-}" ]]; then _svc_start_redis_cluster || return 1; fi
  if [[ -z "${DATABASE_URL:-}" ]]; then _svc_start_postgres || return 1; fi
  _svc_chromium || return 1
  _svc_log "REDIS_URL=${REDIS_URL:-} REDIS_CLUSTER_URLS=${REDIS_CLUSTER_URLS:-} DATABASE_URL=${DATABASE_URL:-} CHROMIUM=${CHROMIUM:-} CHROMEDRIVER=${CHROMEDRIVER:-}"
}

services_stop() {
  local i
  if [[ -n "$SERVICES_PG_DATA" ]]; then
    _svc_as_pg "$(_svc_pg_bin)/pg_ctl" -D "$SERVICES_PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    SERVICES_PG_DATA=""
    unset DATABASE_URL TEST_PG_CTL TEST_PGDATA TEST_PG_OPTS
  fi
  if [[ -n "$SERVICES_REDIS_PID" ]]; then
    kill "$SERVICES_REDIS_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do   # up to 10 s, then SIGKILL
      kill -0 "$SERVICES_REDIS_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$SERVICES_REDIS_PID" 2>/dev/null || true
    SERVICES_REDIS_PID=""
    unset REDIS_URL
  fi
  if [[ -n "$SERVICES_CLUSTER_DIR" ]]; then
    "$(dirname "${BASH_SOURCE[0]}")/redis-cluster" stop "$SERVICES_CLUSTER_DIR" || true
    SERVICES_CLUSTER_DIR=""
    unset REDIS_CLUSTER_URLS
  fi
  if [[ -n "$SERVICES_DIR" ]]; then
    rm -rf "$SERVICES_DIR"
    SERVICES_DIR=""
  fi
  return 0
}
