#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in their own build directory and runs
# each for a bounded time: the HL7 parser, the MLLP framer, and the whole path from a socket to
# the feeds (raw bytes, and PCD-01 messages with fuzzed fields; tests/fuzz/whole_path.cpp), the
# IntelliVue Data Export decoder and the serial monitors' decoders (Masimo lines, Datex frames).
# Exit status is non-zero if a fuzzer finds a crash, a leak or a
# failed property; the reproducer is left in $WORK/<target>/ (crash-*, leak-*, ...).
#
#   tests/fuzz/run.sh [seconds-per-target]       default 60
#   env: TARGETS (default: all of them, space-separated), VITALSD_FUZZ_BUILD (default <repo>/build-fuzz), VITALSD_FUZZ_WORK (default
#        $VITALSD_FUZZ_BUILD/fuzz-work), JOBS (default 2)
set -euo pipefail

seconds="${1:-60}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${VITALSD_FUZZ_BUILD:-$repo/build-fuzz}"
work="${VITALSD_FUZZ_WORK:-$build/fuzz-work}"
jobs="${JOBS:-2}"

# The whole-path targets link the daemon's modules, whose API uses Asio's coroutines: clang 14
# needs the two defines to see them (Asio detects them for GCC only).
cmake -S "$repo" -B "$build" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -DBOOST_ASIO_HAS_CO_AWAIT=1 -DBOOST_ASIO_HAS_STD_COROUTINE=1" \
  -DVITALSD_FUZZ=ON -DVITALSD_TESTS=ON >/dev/null
targets="${TARGETS:-fuzz_hl7_parser fuzz_mllp_framer fuzz_whole_path_raw fuzz_whole_path_fields fuzz_intellivue fuzz_masimo_line fuzz_datex_frame}"
# shellcheck disable=SC2086
cmake --build "$build" --target $targets -j"$jobs"

status=0
for target in $targets; do
  seeds="$repo/tests/fuzz/corpus/${target#fuzz_}"
  dir="$work/$target"
  mkdir -p "$dir/corpus"
  echo "== $target: ${seconds}s, seeds $seeds"
  log="$dir/log.txt"
  if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     "$build/fuzz/$target" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" "$seeds" >"$log" 2>&1; then
    runs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 || true)
    echo "   ok: ${runs:-?}(s); ${cov}"
  else
    status=1
    echo "   FAILED — see $log"
    grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5 || true
  fi
done
exit $status
