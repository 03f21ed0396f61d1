#!/usr/bin/env bash
# leakwatch sidecar benchmark: the watchdog in a 128 MiB memory cgroup, through a capture series of
# a real Node app with a ~600 MB JS heap. An honest check: exits non-zero when a target is missed.
#
#   bench/sidecar/run.sh [--binary PATH] [--sidecar-mib N] [--heap-mb N] [--timeout-min N] [--keep]
#     --binary P       the leakwatch binary (default: builds out/release, target leakwatch)
#     --sidecar-mib N  the sidecar cgroup's memory limit (default 128; swap 0)
#     --heap-mb N      the app's JS heap at start, before its leak (default 560)
#     --timeout-min N  give up after N minutes (default 45)
#     --keep           keep the work directory (logs, archive, alerts) instead of deleting it
#
# Needs root (it creates two memory cgroups, v2 or v1) and node. It starts bench/sidecar/
# big_heap_app.js in an app cgroup (8 GiB: V8 needs several times the heap to write a snapshot),
# demo/receiver.js as the alert webhook, and `leakwatch run` in the sidecar cgroup, with fast
# detection settings and a capture series of 2. Then it checks:
#   1. the sidecar cgroup saw no OOM kill, and the daemon is alive and answers /healthz at the end;
#   2. a capture_completed alert names both snapshots and carries per-constructor count and size
#      deltas, with the leaking class (RequestStore) among them;
#   3. when the full diff was not run, the alert says why and gives the `leakwatch diff` command;
#   4. the daemon's peak RSS (VmHWM) stays under its memory budget (75 % of the sidecar limit).
# It reports memory.peak of the sidecar cgroup (which also counts the page cache of the archive
# files it writes, reclaimable), the peak anonymous memory there, the snapshot sizes and capture
# times, and whether the full diff ran. Prints a table and one JSON line.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

binary=""
sidecar_mib=128
heap_mb=560
timeout_min=45
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift ;;
    --sidecar-mib) sidecar_mib=$2; shift ;;
    --heap-mb) heap_mb=$2; shift ;;
    --timeout-min) timeout_min=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "sidecar: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "sidecar: run as root (it creates memory cgroups)" >&2; exit 1; }
command -v node >/dev/null || { echo "sidecar: needs node" >&2; exit 1; }

if [ -z "$binary" ]; then
  [ -f out/release/CMakeCache.txt ] ||
    cmake -S . -B out/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build out/release --target leakwatch -j2 >/dev/null
  binary=out/release/daemon/leakwatch
fi
binary=$(readlink -f "$binary")

WORK=$(mktemp -d /tmp/leakwatch-sidecar.XXXXXX)
PIDS=()
CGS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for cg in "${CGS[@]}"; do
    [ -d "$cg" ] || continue
    # A killed process with gigabytes to free can take seconds to leave its cgroup.
    for _ in $(seq 1 300); do
      while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$cg/cgroup.procs"
      rmdir "$cg" 2>/dev/null && break
      sleep 0.1
    done
  done
  if [ "$keep" = 1 ]; then
    rm -rf "$WORK/tmp"  # the app's temporary snapshot files
    echo "sidecar: work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Cgroups, v2 or v1: a directory with a memory limit, swap off.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  CGV=2
  grep -qw memory /sys/fs/cgroup/cgroup.subtree_control || echo +memory >/sys/fs/cgroup/cgroup.subtree_control
  CGROOT=/sys/fs/cgroup
else
  CGV=1
  CGROOT=/sys/fs/cgroup/memory
fi
make_cgroup() {  # name limit_bytes -> path
  local cg=$CGROOT/leakwatch-bench-$1-$$
  mkdir "$cg"
  if [ $CGV = 2 ]; then
    echo "$2" >"$cg/memory.max"
    echo 0 >"$cg/memory.swap.max" 2>/dev/null || true
  else
    echo "$2" >"$cg/memory.limit_in_bytes"
    [ -f "$cg/memory.memsw.limit_in_bytes" ] && echo "$2" >"$cg/memory.memsw.limit_in_bytes"
    [ -f "$cg/memory.swappiness" ] && echo 0 >"$cg/memory.swappiness"
  fi
  echo "$cg"
}
oom_kills() {
  if [ $CGV = 2 ]; then awk '$1 == "oom_kill" {print $2}' "$1/memory.events"
  else awk '$1 == "oom_kill" {print $2; f=1} END {if (!f) print 0}' "$1/memory.oom_control"; fi
}
cg_peak() {
  if [ $CGV = 2 ]; then cat "$1/memory.peak" 2>/dev/null || echo 0
  else cat "$1/memory.max_usage_in_bytes"; fi
}
cg_anon() {  # anonymous memory now (what cannot be reclaimed without swap)
  if [ $CGV = 2 ]; then awk '$1 == "anon" {print $2}' "$1/memory.stat"
  else awk '$1 == "total_rss" {print $2}' "$1/memory.stat"; fi
}
# Starts "$@" inside cgroup $1, output to $2; sets STARTED_PID.
start_in() {
  local cg=$1 log=$2
  shift 2
  sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" "$@" >"$log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}
wait_line() {  # file pattern seconds pid -> the first matching line
  local end=$(( $(date +%s) + $3 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    if grep -m1 -- "$2" "$1" 2>/dev/null; then return 0; fi
    kill -0 "$4" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}

MIB=$((1024 * 1024))
APP_CG=$(make_cgroup app $((8192 * MIB)))
CGS+=("$APP_CG")
SIDE_CG=$(make_cgroup sidecar $((sidecar_mib * MIB)))
CGS+=("$SIDE_CG")
mkdir -p "$WORK/tmp"
export HEAP_SECRET_KEY="bench-heap-key-$$-$RANDOM"
export LEAKWATCH_WEBHOOK_SECRET="bench-webhook-secret-$$-$RANDOM"
deadline=$(( $(date +%s) + timeout_min * 60 ))
t_start=$(date +%s)

node "$ROOT/demo/receiver.js" --record "$WORK/alerts.jsonl" --quiet >"$WORK/receiver.log" 2>&1 &
RECV_PID=$!
PIDS+=("$RECV_PID")
RECV_PORT=$(wait_line "$WORK/receiver.log" LISTENING 15 "$RECV_PID" | awk '{print $2}') ||
  { cat "$WORK/receiver.log" >&2; echo "sidecar: the receiver did not start" >&2; exit 1; }

echo "sidecar: building the app's heap (${heap_mb} MB) in $APP_CG"
start_in "$APP_CG" "$WORK/app.log" env TMPDIR="$WORK/tmp" node --max-old-space-size=1500 \
  "$ROOT/bench/sidecar/big_heap_app.js" --heap-mb "$heap_mb"
APP_PID=$STARTED_PID
APP_PORT=$(wait_line "$WORK/app.log" LISTENING 300 "$APP_PID" | awk '{print $2}') ||
  { cat "$WORK/app.log" >&2; echo "sidecar: the app did not start" >&2; exit 1; }
echo "sidecar: app ready after $(( $(date +%s) - t_start )) s: $(curl -s "http://127.0.0.1:$APP_PORT/stats")"

# The fast, test-only detection settings of tests/integration/e2e (a leak of a few MiB per minute
# is confirmed after about two minutes of data), and a capture series of 2.
cat >"$WORK/leakwatch.yaml" <<EOF
target:
  name: bench-sidecar
  source: cgroup
  cgroup_path: $APP_CG
poll_interval: 1s
state_dir: $WORK/state
detection:
  bucket: 10s
  min_window: 1m
  max_window: 10m
  confirm_window: 1m
  min_rise_bytes: 4Mi
  min_rise_fraction: 1%
  capture_settle: 10s
  clear_after: 10m
capture:
  url: http://127.0.0.1:$APP_PORT/api/heapdump
  key: { env: HEAP_SECRET_KEY }
  # The app writes the whole snapshot to a file before the first byte goes out (as
  # v8.writeHeapSnapshot does): minutes for a ~600 MB heap on a busy machine.
  idle_timeout: 15m
  total_timeout: 30m
  min_headroom_bytes: 16Mi
  cooldown: 5s
  series_count: 2
  series_spacing: 30s
  series_retry: 5s
archive:
  dir: $WORK/archive
alerts:
  delivery:
    initial_backoff: 1s
    max_backoff: 5s
  webhooks:
    - name: bench-receiver
      url: http://127.0.0.1:$RECV_PORT/hooks/leakwatch
      secret: { env: LEAKWATCH_WEBHOOK_SECRET }
server:
  listen: 127.0.0.1:0
log:
  level: info
EOF

start_in "$SIDE_CG" "$WORK/leakwatch.log" "$binary" run --config "$WORK/leakwatch.yaml"
LW_PID=$STARTED_PID
LW_PORT=$(wait_line "$WORK/leakwatch.log" "api listening on 127.0.0.1:" 30 "$LW_PID" |
  sed 's/.*api listening on 127\.0\.0\.1:\([0-9]*\).*/\1/') ||
  { cat "$WORK/leakwatch.log" >&2; echo "sidecar: leakwatch did not start" >&2; exit 1; }
budget_line=$(grep -m1 "memory budget" "$WORK/leakwatch.log" || true)
echo "sidecar: leakwatch pid $LW_PID in $SIDE_CG (${sidecar_mib} MiB), api port $LW_PORT; ${budget_line##*] }"

# Wait for the series alert, sampling memory every second.
: >"$WORK/samples.tsv"
completed=0
while [ "$(date +%s)" -lt "$deadline" ]; do
  kill -0 "$LW_PID" 2>/dev/null || break
  printf '%s\t%s\t%s\t%s\n' "$(( $(date +%s) - t_start ))" \
    "$(awk '/^VmRSS:/ {print $2}' "/proc/$LW_PID/status" 2>/dev/null || echo 0)" \
    "$(cg_anon "$SIDE_CG")" "$(cat "$APP_CG/memory.current" 2>/dev/null || cat "$APP_CG/memory.usage_in_bytes")" \
    >>"$WORK/samples.tsv"
  if [ -s "$WORK/alerts.jsonl" ] && python3 - "$WORK/alerts.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try:
        a = json.loads(line)
    except ValueError:
        continue
    if a.get("type") == "capture_completed" and len((a.get("capture") or {}).get("archive_ids") or []) >= 2:
        sys.exit(0)
sys.exit(1)
EOF
  then
    completed=1
    break
  fi
  sleep 1
done
elapsed=$(( $(date +%s) - t_start ))

# The end state, read while everything still runs.
alive=0
kill -0 "$LW_PID" 2>/dev/null && alive=1
healthz=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$LW_PORT/healthz" || echo 000)
hwm_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$LW_PID/status" 2>/dev/null || echo 0)
peak=$(cg_peak "$SIDE_CG")
ooms=$(oom_kills "$SIDE_CG")
app_ooms=$(oom_kills "$APP_CG")
app_stats=$(curl -s --max-time 5 "http://127.0.0.1:$APP_PORT/stats" || echo '{}')

set +e
python3 - "$WORK" "$completed" "$alive" "$healthz" "$hwm_kib" "$peak" "$ooms" "$app_ooms" \
  "$sidecar_mib" "$elapsed" "$app_stats" "$CGV" <<'EOF'
import glob, json, os, re, sys
work, completed, alive, healthz, hwm_kib, peak, ooms, app_ooms, side_mib, elapsed, app_stats, cgv = sys.argv[1:13]
MiB = 1024 * 1024
log = open(os.path.join(work, "leakwatch.log"), errors="replace").read()
m = re.search(r"memory budget (\d+(?:\.\d+)?) ?(KiB|MiB|GiB|B)", log)
unit = {"B": 1, "KiB": 1024, "MiB": MiB, "GiB": 1024 * MiB}
budget = float(m.group(1)) * unit[m.group(2)] if m else 0.75 * int(side_mib) * MiB
alerts = []
for line in open(os.path.join(work, "alerts.jsonl")) if os.path.exists(os.path.join(work, "alerts.jsonl")) else []:
    try:
        alerts.append(json.loads(line))
    except ValueError:
        pass
series = [a for a in alerts if a.get("type") == "capture_completed"
          and len((a.get("capture") or {}).get("archive_ids") or []) >= 2]
alert = series[-1] if series else None
metas = []
for f in sorted(glob.glob(os.path.join(work, "archive", "**", "*.json"), recursive=True)):
    try:
        md = json.load(open(f))
    except ValueError:
        continue
    if isinstance(md, dict) and "size_bytes" in md:
        metas.append(md)
samples = [l.split("\t") for l in open(os.path.join(work, "samples.tsv")).read().split("\n") if l.strip()]
rss_max = max((int(s[1]) for s in samples), default=0) * 1024
anon_max = max((int(s[2] or 0) for s in samples), default=0)
app_max = max((int(s[3] or 0) for s in samples), default=0)
growers = (alert or {}).get("capture", {}).get("top_growers") or []
reason = (alert or {}).get("reason") or ""
diff_cmd = (alert or {}).get("capture", {}).get("diff_command") or ""
full_diff = "ran" if "diff child starting" in log and not reason else ("refused" if "over_budget" in log or "needs about" in reason else ("failed" if reason else "?"))
checks = {
    "series alert received": completed == "1" and alert is not None,
    "no OOM kill in the sidecar cgroup": ooms == "0",
    "daemon alive at the end": alive == "1",
    "/healthz answers 200 at the end": healthz == "200",
    "alert carries per-constructor count and size deltas": bool(growers) and all(
        isinstance(g.get("count_delta"), int) and isinstance(g.get("size_delta"), int) for g in growers),
    "the leaking class RequestStore is among them": any(g.get("name") == "RequestStore" for g in growers),
    "a refused or failed full diff says why and gives the command":
        full_diff == "ran" or (bool(reason) and diff_cmd.startswith("leakwatch diff")),
    "daemon VmHWM under its memory budget": 0 < int(hwm_kib) * 1024 < budget,
}
try:
    app = json.loads(app_stats)
except ValueError:
    app = {}
res = {
    "sidecar_limit_mib": int(side_mib), "cgroup_version": int(cgv), "budget_mib": round(budget / MiB, 1),
    "elapsed_s": int(elapsed),
    "daemon_vmhwm_mib": round(int(hwm_kib) / 1024, 1), "daemon_vmrss_max_mib": round(rss_max / MiB, 1),
    "sidecar_cgroup_peak_mib": round(int(peak) / MiB, 1), "sidecar_cgroup_anon_max_mib": round(anon_max / MiB, 1),
    "sidecar_oom_kills": int(ooms), "app_oom_kills": int(app_ooms or 0),
    "app_cgroup_max_mib": round(app_max / MiB, 1), "app_heap_used_end_mb": round(app.get("heap_used", 0) / 1e6),
    "snapshots": [{"id": md.get("id"), "size_mb": round(md.get("size_bytes", 0) / 1e6, 1),
                   "stored_mb": round(md.get("stored_bytes", 0) / 1e6, 1),
                   "capture_s": round(md.get("duration_seconds", 0), 1)} for md in metas],
    "full_diff": full_diff, "reason": reason, "diff_command": diff_cmd,
    "top_growers": [{k: g.get(k) for k in ("name", "count_delta", "size_delta")} for g in growers],
    "checks": checks,
}
print()
print(f"sidecar limit {side_mib} MiB (cgroup v{cgv}), memory budget {budget / MiB:.1f} MiB, {elapsed} s")
print(f"  daemon VmHWM {res['daemon_vmhwm_mib']} MiB (max VmRSS sampled {res['daemon_vmrss_max_mib']} MiB)")
print(f"  sidecar cgroup memory.peak {res['sidecar_cgroup_peak_mib']} MiB (page cache included), "
      f"anonymous max {res['sidecar_cgroup_anon_max_mib']} MiB, OOM kills {ooms}")
print(f"  app cgroup max {res['app_cgroup_max_mib']} MiB, heapUsed at the end {res['app_heap_used_end_mb']} MB")
for s in res["snapshots"]:
    print(f"  snapshot {s['id']}: {s['size_mb']} MB ({s['stored_mb']} MB stored), captured in {s['capture_s']} s")
print(f"  full diff: {full_diff}{' - ' + reason if reason else ''}")
for g in res["top_growers"]:
    print(f"    {g['name']:<32} count {g['count_delta']:+,}  size {g['size_delta']:+,} B")
for name, ok in checks.items():
    print(f"  [{'ok' if ok else 'FAIL'}] {name}")
print(json.dumps(res))
sys.exit(0 if all(checks.values()) else 1)
EOF
status=$?
set -e
if [ $status -ne 0 ]; then
  echo "sidecar: FAILED; the last lines of the leakwatch log:" >&2
  tail -n 30 "$WORK/leakwatch.log" >&2
fi
exit $status
