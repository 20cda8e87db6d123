#!/usr/bin/env bash
# Compare two (or more) sagiscan binaries on a shared, noisy machine.
#
#   bench/compare.sh OLD_BIN NEW_BIN [MBOX] [JOBS]
#   RUNS=7 bench/compare.sh /tmp/sagiscan-main target/release/sagiscan target/bench/bench-100.mbox 2
#
# Runs are interleaved (old, new, old, new, ...) so that load from other
# people's builds hits both alike; prints per binary the median and minimum
# wall time (MB/s), median CPU time (user + sys) and peak RSS
# (/usr/bin/time -v), and checks that all binaries wrote identical output.
# The minimum is the best estimate of an idle machine; CPU time is the
# steadier number for single-threaded changes. Not run by CI.
set -uo pipefail
[ $# -ge 2 ] || { sed -n 2,12p "$0"; exit 2; }
OLD=$1; NEW=$2
MBOX=${3:-target/bench/bench-100.mbox}
JOBS=${4:-1}
RUNS=${RUNS:-5}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install -y time)"; exit 2; }
echo "input: $MBOX ($(stat -c %s "$MBOX") bytes), --jobs $JOBS, $RUNS runs each, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$RUNS"); do
  n=0
  for bin in "$OLD" "$NEW"; do
    n=$((n + 1))
    /usr/bin/time -f "$n %e %U %S %M" -a -o "$TMP/times" \
      "$bin" scan --quiet --fail-on never --jobs "$JOBS" --format jsonl "$MBOX" >"$TMP/out-$n.jsonl"
  done
  cmp -s "$TMP/out-1.jsonl" "$TMP/out-2.jsonl" || echo "run $i: OUTPUT DIFFERS"
done
python3 - "$TMP/times" "$(stat -c %s "$MBOX")" "$OLD" "$NEW" <<'EOF'
import statistics as st, sys
path, size, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
runs = {}
for line in open(path):
    n, wall, user, sys_, rss = line.split()
    runs.setdefault(int(n), []).append((float(wall), float(user) + float(sys_), int(rss)))
for n, v in sorted(runs.items()):
    wall = sorted(x[0] for x in v)
    cpu = st.median(x[1] for x in v)
    rss = max(x[2] for x in v) / 1024
    med = st.median(wall)
    print(f"{names[n - 1]}: wall median {med:.2f} s ({size / med / 1e6:.1f} MB/s), "
          f"min {wall[0]:.2f} s ({size / wall[0] / 1e6:.1f} MB/s); cpu median {cpu:.2f} s; peak RSS {rss:.1f} MB")
EOF
