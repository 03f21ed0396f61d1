#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs the heap snapshot parser fuzzer for a bounded time.
# usage: fuzz/run_fuzz.sh [SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
build="${LEAKWATCH_FUZZ_BUILD:-build-fuzz}"  # a /build* folder (git-ignored)
CC=clang CXX=clang++ CXXFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" cmake -S . -B "$build" -G Ninja -DLEAKWATCH_FUZZ=ON -DLEAKWATCH_BUILD_TESTS=OFF \
  -DLEAKWATCH_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target heapsnap_fuzz -j2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp fuzz/corpus/heapsnap/* "$work/"
"$build/fuzz/heapsnap_fuzz" -max_total_time="$secs" -max_len=262144 -rss_limit_mb=2048 -timeout=20 \
  -dict=fuzz/heapsnap.dict "$work"
