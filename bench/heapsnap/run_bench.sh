#!/usr/bin/env bash
# Heap snapshot engine benchmark: generates a pair of large snapshots with Node.js, then measures in
# the same run, on the same files, with /usr/bin/time -v (wall time, peak RSS):
#   - the cost of just reading the files (cat > /dev/null, wc -c),
#   - leakwatch's diff (leakwatch_heapsnap_tool diff: the same library call as `leakwatch diff`),
#   - leakwatch's summary of one file,
#   - DevTools' heap snapshot worker under Node (tests/integration/heapsnap/devtools_reference.mjs):
#     summary of one file, and the diff of the pair (loads both, retained sizes included).
# usage: bench/heapsnap/run_bench.sh [TARGET_MB_PER_FILE (default 500)] [WORKDIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mb="${1:-500}"
work="${2:-/tmp/leakwatch-heapsnap-bench}"
tool="${LEAKWATCH_HEAPSNAP_TOOL:-$root/build-heapsnap/bench/heapsnap/leakwatch_heapsnap_tool}"
ref="$root/tests/integration/heapsnap/devtools_reference.mjs"
mkdir -p "$work"
if [ ! -f "$work/b.heapsnapshot" ]; then
  node --max-old-space-size=8192 "$here/make_big_snapshot.js" "$work" "$mb"
fi
ls -l "$work"/*.heapsnapshot
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)  ($(nproc) CPUs)"
measure() {  # name, command...
  local name="$1"; shift
  /usr/bin/time -v "$@" > "$work/$name.out" 2> "$work/$name.time" || { echo "$name failed"; tail -5 "$work/$name.time"; }
  local wall rss user sys
  wall=$(grep "Elapsed (wall clock)" "$work/$name.time" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$work/$name.time" | awk '{print $NF}')
  user=$(grep "User time (seconds)" "$work/$name.time" | awk '{print $NF}')
  sys=$(grep "System time (seconds)" "$work/$name.time" | awk '{print $NF}')
  printf "%-24s wall %-9s CPU %7.2f s (user %6.2f + sys %5.2f)  peak RSS %6.0f MiB\n" "$name" "$wall" \
    "$(echo "$user+$sys" | bc -l)" "$user" "$sys" "$(echo "$rss/1024" | bc -l)"
}
sync
measure read-cat sh -c "cat '$work/a.heapsnapshot' '$work/b.heapsnapshot' > /dev/null"
measure read-wc wc -c "$work/a.heapsnapshot" "$work/b.heapsnapshot"
measure leakwatch-parse-one "$tool" parse "$work/b.heapsnapshot"
measure leakwatch-summary-one "$tool" summary "$work/b.heapsnapshot"
measure leakwatch-diff "$tool" diff "$work/a.heapsnapshot" "$work/b.heapsnapshot"
if [ -z "${SKIP_DEVTOOLS:-}" ]; then
  measure devtools-summary-one node --max-old-space-size=16384 "$ref" summary "$work/b.heapsnapshot"
  measure devtools-diff node --max-old-space-size=16384 "$ref" diff "$work/a.heapsnapshot" "$work/b.heapsnapshot"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
