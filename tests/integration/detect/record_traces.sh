#!/usr/bin/env bash
# Record real memory traces of a leaking and a healthy Node.js app (same load) in real cgroup-v1
# memory cgroups, sampling memory.usage_in_bytes and memory.stat every second.
#   sudo tests/integration/detect/record_traces.sh OUT_DIR [SECONDS] [LIMIT_MIB]
# Writes OUT_DIR/node_leak.csv and OUT_DIR/node_healthy.csv in the replay format
# (timestamp,usage_bytes,limit_bytes,working_set_bytes). Always removes its cgroups.
set -euo pipefail
out=${1:?usage: record_traces.sh OUT_DIR [SECONDS] [LIMIT_MIB]}
secs=${2:-420}
limit_mib=${3:-192}
root=/sys/fs/cgroup/memory
[ -w "$root" ] || { echo "need root and cgroup v1 memory at $root" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
pids=()
cgs=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for cg in "${cgs[@]:-}"; do
    [ -d "$cg" ] || continue
    for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    sleep 0.2
    rmdir "$cg" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

start_app() {  # mode -> starts node inside its own cgroup; sets $cg
  local mode=$1
  cg="$root/leakwatch-trace-$mode-$$"
  mkdir "$cg"
  cgs+=("$cg")
  echo $((limit_mib * 1024 * 1024)) > "$cg/memory.limit_in_bytes"
  # Start node stopped-by-shell: enter the cgroup first, then exec node.
  bash -c "echo \$\$ > '$cg/cgroup.procs'; exec env MODE=$mode node --max-old-space-size=2048 '$here/app.js'" &
  pids+=("$!")
}

start_app leak
cg_leak=$cg
start_app healthy
cg_ok=$cg
for f in node_leak node_healthy; do
  echo "timestamp,usage_bytes,limit_bytes,working_set_bytes,oom_kill" > "$out/$f.csv"
done
sample() {  # cgroup csv
  local cg=$1 csv=$2 usage limit inactive oomk
  usage=$(cat "$cg/memory.usage_in_bytes")
  limit=$(cat "$cg/memory.limit_in_bytes")
  inactive=$(awk '$1=="total_inactive_file"{print $2}' "$cg/memory.stat")
  oomk=$(awk '$1=="oom_kill"{print $2}' "$cg/memory.oom_control")
  local ws=$((usage > inactive ? usage - inactive : 0))
  echo "$(date +%s.%N | cut -c1-14),$usage,$limit,$ws,${oomk:-0}" >> "$csv"
}
for ((i = 0; i < secs; i++)); do
  sample "$cg_leak" "$out/node_leak.csv"
  sample "$cg_ok" "$out/node_healthy.csv"
  sleep 1
done
echo "recorded $secs s into $out" >&2
