#!/usr/bin/env bash
# Benchmark sagiscan end to end. Not run by CI; optional tools are skipped.
#
#   bench/run.sh [SIZE_MB]        # default 100; 1024 for the 1 GB run
#   RUNS=5 STARTUP_RUNS=30 SA_MESSAGES=500 bench/run.sh
#   INSTR=1 bench/run.sh          # also callgrind instruction counts (repeatable
#                                 # on a shared machine, unlike wall clock)
#
# Reports MB/s and messages/s for `scan --jobs 1` and `--jobs 2` (output
# written to a file), peak RSS (/usr/bin/time -v), start-up latency of one SMS
# piped into `sagiscan --format json` (hyperfine, or a loop with the median),
# and optionally SpamAssassin on the first SA_MESSAGES messages.
set -uo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-100}
RUNS=${RUNS:-3}
STARTUP_RUNS=${STARTUP_RUNS:-30}
SA_MESSAGES=${SA_MESSAGES:-500}
OUT=target/bench
mkdir -p "$OUT"
BIN=target/release/sagiscan
MBOX=$OUT/bench-$SIZE_MB.mbox

cargo build --release --quiet || exit 1
[ -s "$MBOX" ] || python3 bench/gen_mbox.py "$MBOX" --size-mb "$SIZE_MB" || exit 1
# The cached mbox is built from the corpus as it was then: a mbox from a
# smaller corpus repeats more messages and so reaches fewer lazy-DFA states,
# which hid half of the peak RSS until session 11. Say so when it is stale.
if [ -n "$(find tests/corpus -newer "$MBOX" -type f -print -quit)" ]; then
  echo "note: tests/corpus changed since $MBOX was built; rm it to measure on today's corpus"
fi
BYTES=$(stat -c %s "$MBOX")
MSGS=$(grep -c '^From ' "$MBOX")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $MBOX, $BYTES bytes, $MSGS messages"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

TIMEV=""
if /usr/bin/time -v true >/dev/null 2>&1; then TIMEV=/usr/bin/time
else echo "(no GNU time: apt-get install -y time for peak RSS)"; fi

for jobs in 1 2; do
  secs=(); rss=()
  for _ in $(seq "$RUNS"); do
    s=$(date +%s.%N)
    if [ -n "$TIMEV" ]; then
      $TIMEV -v "$BIN" scan --quiet --fail-on never --jobs "$jobs" --format jsonl "$MBOX" >"$OUT/scan-j$jobs.jsonl" 2>"$OUT/time-j$jobs.txt"
      rss+=("$(awk -F: '/Maximum resident/ {print $2+0}' "$OUT/time-j$jobs.txt")")
    else
      "$BIN" scan --quiet --fail-on never --jobs "$jobs" --format jsonl "$MBOX" >"$OUT/scan-j$jobs.jsonl"
    fi
    e=$(date +%s.%N)
    secs+=("$(echo "$e - $s" | bc -l)")
  done
  t=$(printf '%s\n' "${secs[@]}" | median)
  r=$(printf '%s\n' "${rss[@]:-0}" | median)
  printf 'scan --jobs %s: median %.2f s, %.1f MB/s, %.0f messages/s, peak RSS %.1f MB (%s runs)\n' \
    "$jobs" "$t" "$(echo "$BYTES / $t / 1000000" | bc -l)" "$(echo "$MSGS / $t" | bc -l)" \
    "$(echo "$r / 1024" | bc -l)" "$RUNS"
done
cmp -s "$OUT/scan-j1.jsonl" "$OUT/scan-j2.jsonl" && echo "jobs 1 and 2: identical output" || echo "jobs 1 and 2: OUTPUT DIFFERS"

SMS=${SMS:-tests/seed/scam_dmm-call.txt}   # a real SMS-length scam report
if command -v hyperfine >/dev/null; then
  # The message is passed as a file argument so that -N (no shell) works on
  # every hyperfine version; the median comes from the exported JSON.
  hyperfine -N --warmup 3 --runs "$STARTUP_RUNS" "$BIN --fail-on never --format json $SMS" \
    --export-json "$OUT/startup.json" >/dev/null 2>&1
  python3 -c 'import json, statistics, sys
t = json.load(open(sys.argv[1]))["results"][0]["times"]
print("start-up (one SMS, --format json): median %.1f ms, min %.1f ms, %d runs (hyperfine -N)" % (statistics.median(t) * 1e3, min(t) * 1e3, len(t)))' "$OUT/startup.json"
else
  for _ in $(seq "$STARTUP_RUNS"); do
    s=$(date +%s%N); "$BIN" --format json "$SMS" >/dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
  done | median | awk '{printf "start-up (one SMS, --format json): median %.1f ms\n", $1 / 1000}'
fi

if command -v spamassassin >/dev/null; then
  SUB=$OUT/sa-subset.mbox
  awk -v n="$SA_MESSAGES" '/^From /{c++} c>n{exit} {print}' "$MBOX" >"$SUB"
  sb=$(stat -c %s "$SUB")
  s=$(date +%s.%N); spamassassin -L --mbox <"$SUB" >/dev/null 2>&1; e=$(date +%s.%N)
  sat=$(echo "$e - $s" | bc -l)
  s=$(date +%s.%N); "$BIN" scan --quiet --fail-on never --format jsonl "$SUB" >/dev/null; e=$(date +%s.%N)
  sgt=$(echo "$e - $s" | bc -l)
  printf 'SpamAssassin -L --mbox, %s messages: %.1f messages/s; sagiscan: %.1f messages/s; ratio %.1fx\n' \
    "$SA_MESSAGES" "$(echo "$SA_MESSAGES / $sat" | bc -l)" "$(echo "$SA_MESSAGES / $sgt" | bc -l)" "$(echo "$sat / $sgt" | bc -l)"
else
  echo "(no spamassassin: apt-get install -y spamassassin for the side-by-side)"
fi

if [ "${INSTR:-0}" = 1 ] && command -v valgrind >/dev/null; then
  SMALL=$OUT/bench-1.mbox
  [ -s "$SMALL" ] || python3 bench/gen_mbox.py "$SMALL" --size-mb 1 || exit 1
  count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | awk '/refs:/ {gsub(",", "", $4); print $4}'; }
  printf 'instructions, one SMS (whole process): %s\n' "$(count "$BIN" --fail-on never --format json "$SMS")"
  printf 'instructions, scan --jobs 1 of %s: %s\n' "$SMALL" "$(count "$BIN" scan --quiet --fail-on never --jobs 1 --format jsonl "$SMALL")"
fi
