#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) — the heap snapshot parser, the configuration
# loader, the ECS metadata JSON parsers, and the replay trace reader with the detector and its
# saved state — and runs each for a bounded share of SECONDS (half for the heap snapshot parser, a
# sixth each for the others) on a copy of its seed corpus. Works on a fresh Debian/Ubuntu machine: installs clang
# and the libFuzzer runtime with apt when missing (needs root).
# Exit status: 0 when no crash was found, 1 on a crash/leak/timeout (the reproducer is kept and
# its path printed), 2 when the fuzzer could not be built. The last line is a one-line result.
# usage: fuzz/run_fuzz.sh [SECONDS]   (default 60)
set -uo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
build="${LEAKWATCH_FUZZ_BUILD:-build-fuzz}"  # a /build* folder (git-ignored)

have_fuzzer_runtime() {
  command -v clang++ >/dev/null 2>&1 || return 1
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
    clang++ -x c++ -fsanitize=fuzzer,address,undefined -o /dev/null - >/dev/null 2>&1
}
if ! have_fuzzer_runtime; then
  echo "fuzz: installing clang and the libFuzzer runtime with apt" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends clang libclang-rt-14-dev >&2 ||
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends clang libclang-rt-dev >&2
  if ! have_fuzzer_runtime; then
    echo "FUZZ: ERROR cannot build with -fsanitize=fuzzer (clang/libFuzzer missing)"
    exit 2
  fi
fi

mkdir -p "$build"
# -fno-sanitize=function: clang 14 cannot emit its prologue data for split coroutines (the http
# client and the capture methods): "Cannot represent a difference across sections".
if ! { CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja \
  "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function -fno-omit-frame-pointer" \
  -DLEAKWATCH_FUZZ=ON -DLEAKWATCH_BUILD_TESTS=OFF \
  -DLEAKWATCH_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 &&
  cmake --build "$build" --target heapsnap_fuzz config_fuzz ecs_fuzz detect_fuzz -j2 >"$build/build.log" 2>&1; }; then
  tail -n 30 "$build/configure.log" "$build/build.log" >&2
  echo "FUZZ: ERROR build failed (see $build/build.log)"
  exit 2
fi

artifacts="$build/fuzz-artifacts/"
mkdir -p "$artifacts"
failed=0
summary=""
# fuzz NAME SECONDS EXTRA_ARGS...: runs one target on a copy of fuzz/corpus/NAME.
fuzz() {
  local name=$1 t=$2
  shift 2
  local log="$build/fuzz-$name.log" work
  work="$(mktemp -d)"
  cp fuzz/corpus/"$name"/* "$work/"
  local start rc elapsed runs cov crash
  start=$(date +%s)
  "$build/fuzz/${name}_fuzz" -max_total_time="$t" -rss_limit_mb=2048 -timeout=20 \
    -print_final_stats=1 -artifact_prefix="$artifacts$name-" "$@" "$work" >"$log" 2>&1
  rc=$?
  rm -rf "$work"
  elapsed=$(( $(date +%s) - start ))
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  if [ "$rc" -eq 0 ]; then
    echo "FUZZ $name: OK ${runs:-?} runs in ${elapsed}s, coverage ${cov:-?}, no crash"
    summary="$summary $name:ok"
    return 0
  fi
  grep -E "ERROR: |SUMMARY: |Test unit written to" "$log" | head -5 >&2
  tail -40 "$log" >&2
  crash=$(grep -o "Test unit written to .*" "$log" | head -1 | sed 's/Test unit written to //')
  echo "FUZZ $name: FAILED (libFuzzer exit $rc) after ${elapsed}s; reproducer: ${crash:-none}; log: $log"
  summary="$summary $name:FAILED"
  failed=1
}

half=$(( secs / 2 > 1 ? secs / 2 : 1 ))
sixth=$(( secs / 6 > 1 ? secs / 6 : 1 ))
fuzz heapsnap "$half" -max_len=262144 -dict=fuzz/heapsnap.dict
fuzz config "$sixth" -max_len=16384
fuzz ecs "$sixth" -max_len=65536
fuzz detect "$sixth" -max_len=65536
if [ "$failed" -eq 0 ]; then
  echo "FUZZ: OK in ${secs}s total:$summary"
  exit 0
fi
echo "FUZZ: FAILED:$summary"
exit 1
