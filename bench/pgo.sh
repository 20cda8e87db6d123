#!/usr/bin/env bash
# Build a profile-guided (PGO) release binary of sagiscan, the way a
# distribution build would: compile with instrumentation, run it on a
# training set (the 10 MB bench mbox in every encoding, the labelled corpus
# and one SMS), merge the profile, and compile again with it.
#
#   bench/pgo.sh                 # writes target/pgo/release/sagiscan
#   RUNS=5 bench/compare.sh target/release/sagiscan target/pgo/release/sagiscan \
#       target/bench/bench-100.mbox 2
#
# The training input (bench-10) is generated from the test corpus like the
# 100 MB benchmark input, but is a different, smaller file; the corpus run
# covers the report paths. Needs llvm-profdata from the same LLVM as rustc:
# `rustup component add llvm-tools` (the script says so if it is missing).
# Not run by CI; the plain `cargo build --release` binary is what tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
SYSROOT=$(rustc --print sysroot)
HOST=$(rustc -vV | sed -n 's/^host: //p')
PROFDATA=$SYSROOT/lib/rustlib/$HOST/bin/llvm-profdata
[ -x "$PROFDATA" ] || { echo "needs llvm-profdata: rustup component add llvm-tools" >&2; exit 2; }
TRAIN=target/bench/bench-10.mbox
[ -f "$TRAIN" ] || { echo "needs $TRAIN: run bench/run.sh 10 first" >&2; exit 2; }
DATA=$PWD/target/pgo-data
rm -rf "$DATA"
mkdir -p "$DATA"

echo "1/3 instrumented build (target/pgo-gen)"
# --target keeps RUSTFLAGS off build.rs, which must neither write profiles
# nor be optimized for the scan.
RUSTFLAGS="-Cprofile-generate=$DATA" cargo build --release --quiet --target "$HOST" --target-dir target/pgo-gen
GEN=target/pgo-gen/$HOST/release/sagiscan

echo "2/3 training run"
for jobs in 1 2; do
  "$GEN" scan --quiet --fail-on never --jobs "$jobs" --format jsonl "$TRAIN" >/dev/null
done
"$GEN" scan --quiet --fail-on never --format json tests/corpus >/dev/null
"$GEN" --fail-on never examples/seed-refund-prepaid.txt >/dev/null
"$GEN" --fail-on never --format json examples/seed-refund-prepaid.txt >/dev/null
"$PROFDATA" merge -o "$DATA/merged.profdata" "$DATA"/*.profraw

echo "3/3 optimized build (target/pgo)"
RUSTFLAGS="-Cprofile-use=$DATA/merged.profdata -Cllvm-args=-pgo-warn-missing-function=false" \
  cargo build --release --quiet --target "$HOST" --target-dir target/pgo
mkdir -p target/pgo/release
cp "target/pgo/$HOST/release/sagiscan" target/pgo/release/sagiscan
echo "built target/pgo/release/sagiscan"
