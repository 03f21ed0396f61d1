#!/usr/bin/env bash
# leakwatch footprint benchmark: steady RSS and CPU of `leakwatch run` polling a memory cgroup every
# second, measured beside Debian's prometheus-node-exporter in the same run (same machine, same
# minutes, both scraped every 15 s as Prometheus would).
#
#   bench/footprint/run.sh [--minutes N] [--binary PATH] [--warmup S]
#     --minutes N   measurement length (default 10; a shorter run is fine for a quick look)
#     --binary P    the leakwatch binary (default: builds out/lean with the `lean` preset of
#                   CMakePresets.json, as docker/Dockerfile does: Release -O2,
#                   LEAKWATCH_LEAN_RUNTIME=ON, target leakwatch only)
#     --warmup S    seconds before measuring starts (default 30)
#
# Needs root for the cgroup (a sleeping process in a fresh memory cgroup is the watched target) and
# installs prometheus-node-exporter with apt when it is missing. Prints a table and one JSON line.
# RSS is VmRSS from /proc/PID/status every 5 s (median and max over the run; RssAnon, the process's
# own memory without the mapped binary and shared libraries, beside it); CPU is utime + stime
# from /proc/PID/stat over the measured minutes, as a percentage of one core.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

minutes=10
binary=""
warmup=30
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift ;;
    --binary) binary=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "footprint: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "footprint: run as root (it creates a memory cgroup)" >&2; exit 1; }

if [ -z "$binary" ]; then
  # The shipped configuration (docker/Dockerfile), not a development build.
  cmake --preset lean >/dev/null
  cmake --build --preset lean -j"$(nproc)"
  binary=out/lean/daemon/leakwatch
fi
binary=$(readlink -f "$binary")

NE=$(command -v prometheus-node-exporter || true)
if [ -z "$NE" ]; then
  echo "footprint: installing prometheus-node-exporter"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-node-exporter >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-node-exporter >/dev/null; }
  NE=$(command -v prometheus-node-exporter)
fi

WORK=$(mktemp -d /tmp/leakwatch-footprint.XXXXXX)
PIDS=()
CG=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ -n "$CG" ] && [ -d "$CG" ]; then
    while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$CG/cgroup.procs"
    for _ in $(seq 1 30); do rmdir "$CG" 2>/dev/null && break; sleep 0.1; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The watched target: a sleeping process in its own memory cgroup.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  grep -qw memory /sys/fs/cgroup/cgroup.subtree_control || echo +memory >/sys/fs/cgroup/cgroup.subtree_control
  CG=/sys/fs/cgroup/leakwatch-footprint-$$
  mkdir "$CG"
  echo 256M >"$CG/memory.max"
else
  CG=/sys/fs/cgroup/memory/leakwatch-footprint-$$
  mkdir "$CG"
  echo 256M >"$CG/memory.limit_in_bytes"
fi
sh -c 'echo $$ > "$1/cgroup.procs" && exec sleep 100000' sh "$CG" &
PIDS+=($!)

LW_PORT=19464
NE_PORT=19100
cat >"$WORK/leakwatch.yaml" <<EOF
target:
  name: footprint
  source: cgroup
  cgroup_path: $CG
poll_interval: 1s
state_dir: $WORK/state
archive:
  dir: $WORK/archive
server:
  listen: 127.0.0.1:$LW_PORT
log:
  level: warn
EOF
"$binary" run --config "$WORK/leakwatch.yaml" >"$WORK/leakwatch.log" 2>&1 &
LW_PID=$!
PIDS+=($LW_PID)
"$NE" --web.listen-address=127.0.0.1:$NE_PORT >"$WORK/node-exporter.log" 2>&1 &
NE_PID=$!
PIDS+=($NE_PID)
sleep 2
kill -0 "$LW_PID" || { cat "$WORK/leakwatch.log"; echo "footprint: leakwatch did not start" >&2; exit 1; }
kill -0 "$NE_PID" || { cat "$WORK/node-exporter.log"; echo "footprint: node exporter did not start" >&2; exit 1; }

# Prometheus-like scraping of both, every 15 s.
(while true; do
   curl -s -o /dev/null "http://127.0.0.1:$LW_PORT/metrics" || true
   curl -s -o /dev/null "http://127.0.0.1:$NE_PORT/metrics" || true
   sleep 15
 done) &
PIDS+=($!)

TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }

echo "footprint: leakwatch $("$binary" --version 2>/dev/null | head -1 || echo '?') (pid $LW_PID) and $("$NE" --version 2>&1 | head -1) (pid $NE_PID)"
echo "footprint: warming up ${warmup}s, then measuring ${minutes} min (poll_interval 1s, scrapes every 15s)"
sleep "$warmup"
t0=$(date +%s.%N)
lw_c0=$(cpu_ticks "$LW_PID")
ne_c0=$(cpu_ticks "$NE_PID")
end=$(( $(date +%s) + minutes * 60 ))
: >"$WORK/rss.tsv"
while [ "$(date +%s)" -lt "$end" ]; do
  kill -0 "$LW_PID" 2>/dev/null || { echo "footprint: leakwatch died" >&2; cat "$WORK/leakwatch.log" >&2; exit 1; }
  printf '%s\t%s\t%s\t%s\n' "$(rss_kib "$LW_PID")" "$(rss_kib "$NE_PID")" "$(anon_kib "$LW_PID")" \
    "$(anon_kib "$NE_PID")" >>"$WORK/rss.tsv"
  sleep 5
done
t1=$(date +%s.%N)
lw_c1=$(cpu_ticks "$LW_PID")
ne_c1=$(cpu_ticks "$NE_PID")
samples=$(curl -s "http://127.0.0.1:$LW_PORT/api/v1/status?max_points=2" |
  sed -n 's/.*"samples":\([0-9]*\)[,}].*/\1/p' | tail -1)

python3 - "$WORK/rss.tsv" "$t0" "$t1" "$lw_c0" "$lw_c1" "$ne_c0" "$ne_c1" "$TCK" "$minutes" "${samples:-?}" <<'EOF'
import json, statistics, sys
rows = [l.split('\t') for l in open(sys.argv[1]).read().split('\n') if l.strip()]
lw = [int(r[0]) for r in rows]
ne = [int(r[1]) for r in rows]
lwa = [int(r[2]) for r in rows]
nea = [int(r[3]) for r in rows]
t0, t1 = float(sys.argv[2]), float(sys.argv[3])
tck = float(sys.argv[8])
elapsed = t1 - t0
def cpu(c0, c1):
    return (int(c1) - int(c0)) / tck / elapsed * 100.0
res = {
    "minutes": float(sys.argv[9]), "elapsed_s": round(elapsed, 1), "rss_samples": len(rows),
    "leakwatch": {"rss_median_mib": round(statistics.median(lw) / 1024, 2), "rss_max_mib": round(max(lw) / 1024, 2),
                  "rss_anon_median_mib": round(statistics.median(lwa) / 1024, 2),
                  "cpu_percent_of_core": round(cpu(sys.argv[4], sys.argv[5]), 3), "samples_taken": sys.argv[10]},
    "node_exporter": {"rss_median_mib": round(statistics.median(ne) / 1024, 2), "rss_max_mib": round(max(ne) / 1024, 2),
                      "rss_anon_median_mib": round(statistics.median(nea) / 1024, 2),
                      "cpu_percent_of_core": round(cpu(sys.argv[6], sys.argv[7]), 3)},
}
print()
print(f"{'process':<26}{'RSS median':>12}{'RSS max':>12}{'anon median':>13}{'CPU (% of a core)':>20}")
for name, key in (("leakwatch run (1 s poll)", "leakwatch"), ("prometheus-node-exporter", "node_exporter")):
    r = res[key]
    print(f"{name:<26}{r['rss_median_mib']:>8.2f} MiB{r['rss_max_mib']:>8.2f} MiB{r['rss_anon_median_mib']:>9.2f} MiB"
          f"{r['cpu_percent_of_core']:>19.3f}%")
print(f"targets: leakwatch <= 8 MiB RSS and <= 0.1% of a core; measured over {elapsed/60:.1f} min")
print(json.dumps(res))
EOF
