#!/usr/bin/env bash
# Builds the libFuzzer target of the heap snapshot parser (clang, ASan+UBSan) and runs it for a
# bounded time on a copy of the seed corpus. Works on a fresh Debian/Ubuntu machine: installs clang
# and the libFuzzer runtime with apt when missing (needs root).
# Exit status: 0 when no crash was found, 1 on a crash/leak/timeout (the reproducer is kept and
# its path printed), 2 when the fuzzer could not be built. The last line is a one-line result.
# usage: fuzz/run_fuzz.sh [SECONDS]   (default 60)
set -uo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
build="${LEAKWATCH_FUZZ_BUILD:-build-fuzz}"  # a /build* folder (git-ignored)
log="$build/fuzz-heapsnap.log"

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
    echo "FUZZ heapsnap: ERROR cannot build with -fsanitize=fuzzer (clang/libFuzzer missing)"
    exit 2
  fi
fi

mkdir -p "$build"
if ! { CC=clang CXX=clang++ CXXFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
  cmake -S . -B "$build" -G Ninja -DLEAKWATCH_FUZZ=ON -DLEAKWATCH_BUILD_TESTS=OFF \
  -DLEAKWATCH_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 &&
  cmake --build "$build" --target heapsnap_fuzz -j2 >"$build/build.log" 2>&1; }; then
  tail -30 "$build/configure.log" "$build/build.log" >&2
  echo "FUZZ heapsnap: ERROR build failed (see $build/build.log)"
  exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp fuzz/corpus/heapsnap/* "$work/"
artifacts="$build/fuzz-artifacts/"
mkdir -p "$artifacts"
start=$(date +%s)
"$build/fuzz/heapsnap_fuzz" -max_total_time="$secs" -max_len=262144 -rss_limit_mb=2048 -timeout=20 \
  -print_final_stats=1 -artifact_prefix="$artifacts" -dict=fuzz/heapsnap.dict "$work" >"$log" 2>&1
rc=$?
elapsed=$(( $(date +%s) - start ))
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
if [ "$rc" -eq 0 ]; then
  echo "FUZZ heapsnap: OK ${runs:-?} runs in ${elapsed}s, coverage ${cov:-?}, no crash"
  exit 0
fi
grep -E "ERROR: |SUMMARY: |Test unit written to" "$log" | head -5 >&2
tail -40 "$log" >&2
crash=$(grep -o "Test unit written to .*" "$log" | head -1 | sed 's/Test unit written to //')
echo "FUZZ heapsnap: FAILED (libFuzzer exit $rc) after ${elapsed}s; reproducer: ${crash:-none}; log: $log"
exit 1
