#!/usr/bin/env bash
# Inspector against http capture of the same ~500 MB Node.js heap: starts bench/sidecar/
# big_heap_app.js (its ballast: cache entries and sessions, built to --heap-mb of heapUsed) with
# its heap-dump route and its inspector open on an ephemeral loopback port, then runs
# zero_code_bench, which captures the app once through each method with the daemon's capture code
# and reports time and peak RSS growth of the capturing process. Target: growth <= 16 MiB.
#
#   bench/capture/run_500mb.sh [--build-dir out/release] [--heap-mb 480] [--order http,inspector]
#
# Needs node (18+) and ~6 GB of free memory: V8 holds several times the heap while it builds a
# snapshot. Takes 10-30 minutes on 2 busy cores; runs under `nice`. Not part of scripts/test.
# Results: docs/capture.md, "Figures".
set -euo pipefail
cd "$(dirname "$0")/../.."
build=out/release
heap_mb=480
order=http,inspector
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift ;;
    --heap-mb) heap_mb=$2; shift ;;
    --order) order=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run_500mb: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
command -v node >/dev/null || { echo "run_500mb: needs node" >&2; exit 1; }
cmake --build "$build" --target zero_code_bench -j2 >/dev/null
bench=$(readlink -f "$build/bench/capture/zero_code_bench")

WORK=$(mktemp -d /tmp/leakwatch-zero-code-bench.XXXXXX)
APP_PID=""
cleanup() {
  [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
  sleep 0.5
  [ -n "$APP_PID" ] && kill -9 "$APP_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export HEAP_SECRET_KEY="bench-heap-key-$$-$RANDOM"
# The route writes its snapshot file to $TMPDIR before streaming it.
mkdir -p "$WORK/tmp"
TMPDIR=$WORK/tmp nice -n 10 node --max-old-space-size=1500 --inspect=127.0.0.1:0 \
  bench/sidecar/big_heap_app.js --heap-mb "$heap_mb" --leak-kb-per-s 0 >"$WORK/app.log" 2>&1 &
APP_PID=$!
port=""
inspector=""
for _ in $(seq 1 1200); do  # building the ballast takes a minute or two
  port=$(sed -n 's/^LISTENING \([0-9]*\)$/\1/p' "$WORK/app.log" | head -1)
  inspector=$(sed -n 's#^Debugger listening on ws://\(127\.0\.0\.1:[0-9]*\)/.*#\1#p' "$WORK/app.log" | head -1)
  [ -n "$port" ] && [ -n "$inspector" ] && break
  kill -0 "$APP_PID" 2>/dev/null || { cat "$WORK/app.log" >&2; exit 1; }
  sleep 0.5
done
[ -n "$port" ] && [ -n "$inspector" ] || { cat "$WORK/app.log" >&2; echo "run_500mb: the app did not start" >&2; exit 1; }
stats=$(curl -s "http://127.0.0.1:$port/stats" || true)
echo "app: node $(node --version), pid $APP_PID, route 127.0.0.1:$port, inspector $inspector, $stats"
start=$(date +%s)
nice -n 10 "$bench" --http "http://127.0.0.1:$port/api/heapdump" --key-env HEAP_SECRET_KEY \
  --inspector "http://$inspector" --order "$order" --archive "$WORK/archive"
echo "total: $(( $(date +%s) - start ))s"
