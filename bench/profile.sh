#!/usr/bin/env bash
# Instructions per request, counted by callgrind (deterministic: unaffected by other load on
# the machine), for the in-process request loop of bench-server (`--profile`: the axum router
# driven with `oneshot`, no sockets, a fixed valid Cookie).
#
#   bench/profile.sh                               # the default server/route pairs
#   bench/profile.sh ours-encrypted:/visit bare:/visit
#   BIN=/path/to/other/bench-server bench/profile.sh   # e.g. a build of another commit
#
# Per-request cost = (Ir(N2 requests) − Ir(N1 requests)) / (N2 − N1), so start-up and the
# first request drop out. The last N2 run's callgrind.out is kept in $OUT_DIR for
# `callgrind_annotate --inclusive=yes`.
#
# The `*-redis` servers use the Redis at REDIS_URL, or a throwaway redis-server on loopback
# started here (scripts/services.sh). Their counts include the client's side of the round
# trips, and vary by about 1 % between runs (how often the runtime polls depends on when Redis
# answers).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=${BIN:-bench/target/release/bench-server}
N1=${N1:-500}
N2=${N2:-2500}
OUT_DIR=${OUT_DIR:-bench/target/callgrind}
PAIRS=${*:-"bare:/visit bare:/read bare:/plain bare-layered:/plain ours-encrypted:/visit ours-encrypted:/read ours-encrypted:/plain ours-signed:/visit ours-signed:/read ours-express:/visit ours-express:/read axum-extra-signed:/visit axum-extra-private:/visit tower-sessions-memory:/visit"}

command -v valgrind >/dev/null || { echo "profile.sh: valgrind is missing (apt-get install -y valgrind)" >&2; exit 1; }
[[ -x "$BIN" ]] || cargo build --release --quiet --manifest-path bench/Cargo.toml
mkdir -p "$OUT_DIR"

# shellcheck source=scripts/services.sh
source scripts/services.sh
trap services_stop EXIT
if [[ " $PAIRS " == *"-redis:"* && -z "${REDIS_URL:-}" ]]; then
  # Only Redis (services_start would also start a Redis Cluster and PostgreSQL).
  _svc_start_redis && [[ -n "${REDIS_URL:-}" ]] || { echo "profile.sh: could not start redis-server" >&2; exit 1; }
fi

instructions() {
  local server=$1 route=$2 n=$3 out=$4
  valgrind --tool=callgrind --callgrind-out-file="$out" "$BIN" --server "$server" \
    --profile "$route" --iterations "$n" 2>&1 | grep -oP 'Collected : \K\d+'
}

printf '| server | route | instructions/request |\n|---|---|---:|\n'
for pair in $PAIRS; do
  server=${pair%%:*}
  route=${pair#*:}
  tag="${server}${route//\//_}"
  a=$(instructions "$server" "$route" "$N1" "$OUT_DIR/$tag.n1.out")
  b=$(instructions "$server" "$route" "$N2" "$OUT_DIR/$tag.out")
  rm -f "$OUT_DIR/$tag.n1.out"
  printf '| %s | %s | %s |\n' "$server" "$route" $(((b - a) / (N2 - N1)))
done
