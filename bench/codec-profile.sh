#!/usr/bin/env bash
# Instructions per codec operation, counted by callgrind (deterministic on a busy machine):
# the library's encode/decode beside the floor, at each session size, and the AEADs alone.
# Per-op cost = (Ir(N2 ops) − Ir(N1 ops)) / (N2 − N1).
#
#   bench/codec-profile.sh             # markdown tables on stdout
#   RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=/tmp/native bench/codec-profile.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N1=${N1:-200}
N2=${N2:-1200}
TARGET=${CARGO_TARGET_DIR:-bench/target}
cargo build --release --quiet --manifest-path bench/Cargo.toml --bin codec-loop
BIN=$TARGET/release/codec-loop

ir() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" "$1" "$2" "$3" 2>&1 | grep -oP 'Collected : \K\d+'
}
per_op() {
  local a b
  a=$(ir "$1" "$2" "$N1")
  b=$(ir "$1" "$2" "$N2")
  echo $(((b - a) / (N2 - N1)))
}

echo "| format | size B | encode | floor encode | ratio | decode | floor decode | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
# encryptedv1/encryptedv2: the encrypted format pinned to XChaCha20-Poly1305 / XAES-256-GCM,
# each beside the floor of its own AEAD.
for f in ${FORMATS:-encryptedv1 encryptedv2 signed express}; do
  for size in 66 256 1024 3500; do
    e=$(per_op "encode-$f" "$size")
    fe=$(per_op "floor-$f-encode" "$size")
    d=$(per_op "decode-$f" "$size")
    fd=$(per_op "floor-$f-decode" "$size")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$f" "$size" "$e" "$fe" \
      "$(python3 -c "print(f'{$e/$fe:.2f}×')")" "$d" "$fd" "$(python3 -c "print(f'{$d/$fd:.2f}×')")"
  done
done
echo
echo "| primitive (one seal / MAC) | 20 B | 66 B | 1024 B |"
echo "|---|---:|---:|---:|"
for p in ${PRIMITIVES:-xchacha-ring xaes-ring xaes-aesgcm xchacha chacha aesgcm aesgcm-ring hmac256-ring hmac256}; do
  printf '| %s | %s | %s | %s |\n' "$p" "$(per_op $p 20)" "$(per_op $p 66)" "$(per_op $p 1024)"
done
