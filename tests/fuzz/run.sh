#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan, its own build folder) and runs each
# for a given time, starting from the seed corpora in tests/fuzz/corpus. Prints one line per
# target: executions, coverage (edges), corpus size, and whether it crashed.
#
#   tests/fuzz/run.sh [--seconds N] [--runs R] [--build-dir DIR] [--jobs J] [target ...]
#
# --seconds caps each target's time (default 10); --runs stops a target after R executions
# (whichever comes first).
#
# Targets: frame site_request admin_request responses model_bundle csv schema (default: all).
# Exit 0 when no target crashed; 1 on a crash (the input is kept in BUILD/artifacts/, replay it
# with BUILD/tests/fuzz/fedsyn_fuzz_TARGET FILE); 77 when clang or libFuzzer is missing (ctest
# reports the short run as skipped). New inputs found stay in BUILD/corpus/, not in the seeds.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds=10
runs=-1
build="$root/build/fuzz"
jobs=2
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(frame site_request admin_request responses model_bundle csv schema)

if ! command -v clang++ >/dev/null 2>&1; then
  echo "SKIPPED: clang++ is not installed (apt-get install clang); the fuzz targets need libFuzzer"
  exit 77
fi
probe="$(mktemp -d)"
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' \
  > "$probe/probe.cc"
if ! clang++ -fsanitize=fuzzer "$probe/probe.cc" -o "$probe/probe" >/dev/null 2>&1; then
  rm -rf "$probe"
  echo "SKIPPED: this clang++ cannot link -fsanitize=fuzzer (libFuzzer runtime missing)"
  exit 77
fi
rm -rf "$probe"

launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFEDSYN_FUZZ=ON -DFEDSYN_BUILD_TESTS=OFF -DFEDSYN_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null \
  || { echo "fuzz: configure failed"; exit 1; }
ninja -C "$build" -j "$jobs" fedsyn_fuzz >"$build/build.log" 2>&1 \
  || { tail -40 "$build/build.log"; echo "fuzz: build failed"; exit 1; }

# LibTorch keeps allocations for the life of the process; leak checks would report them.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
mkdir -p "$build/artifacts"
failed=0
printf '%-14s %12s %10s %8s %8s %s\n' target executions exec/s edges corpus result
for target in "${targets[@]}"; do
  binary="$build/tests/fuzz/fedsyn_fuzz_$target"
  [ -x "$binary" ] || { echo "fuzz: unknown target $target"; failed=1; continue; }
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  log="$build/$target.log"
  # One process, a 2 GB RSS limit, inputs up to 1 MiB (frames and decoders are larger on the
  # wire, but the parsers' branches are reached far below that).
  "$binary" "$corpus" "$root/tests/fuzz/corpus/$target" -max_total_time="$seconds" \
    -runs="$runs" -rss_limit_mb=2048 -max_len=1048576 -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$target-" >"$log" 2>&1
  status=$?
  executed=$(grep -a -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -a -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  edges=$(grep -a -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  size=$(ls "$corpus" | wc -l)
  result=ok
  if [ $status -ne 0 ]; then
    result="CRASH (exit $status; see $log)"
    failed=1
    grep -a -m5 -E 'ERROR|runtime error|==[0-9]+==' "$log" || true
  fi
  printf '%-14s %12s %10s %8s %8s %s\n' "$target" "${executed:-?}" "${rate:-?}" "${edges:-?}" "$size" "$result"
done
exit $failed
