#!/usr/bin/env bash
# Builds fedsyn under sanitizers and runs the default test suite (ctest -LE long) under them
# (issue #16). Any report fails the test that produced it (-fno-sanitize-recover, halt_on_error).
#
#   deploy/sanitize.sh address   # AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/
#   deploy/sanitize.sh thread    # ThreadSanitizer, in build-tsan/
#   deploy/sanitize.sh           # both, one after the other
#
# Arguments after the kind go to ctest (e.g. `deploy/sanitize.sh address -R Listener`).
# FEDSYN_SANITIZE_BUILD_DIR overrides the build folder. A build takes about twice the normal
# one; figures are in docs/reliability.md. Suppressions (third-party code only, each with its
# reason) are in tests/sanitizers/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

run_kind() {
  local kind="$1"
  shift
  local sanitizers folder
  case "$kind" in
    address) sanitizers="address;undefined" folder=build-asan ;;
    thread) sanitizers="thread" folder=build-tsan ;;
    *)
      echo "deploy/sanitize.sh: unknown kind '$kind' (address or thread)" >&2
      return 2
      ;;
  esac
  local build="${FEDSYN_SANITIZE_BUILD_DIR:-$root/$folder}"
  local started=$SECONDS
  # RelWithDebInfo: reports need file and line; benches are built too (their smoke tests run).
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DFEDSYN_SANITIZE=$sanitizers" >/dev/null
  ninja -C "$build" -j "${FEDSYN_JOBS:-2}"
  local built=$SECONDS
  local supp="$root/tests/sanitizers"
  export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=0"
  export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp"
  local status=0
  local launcher=()
  # ThreadSanitizer of g++ 12 cannot map its shadow memory with this kernel's address-space
  # randomisation (28 bits: "unexpected memory mapping"); ctest and every test it starts run
  # without randomisation instead.
  if [ "$kind" = thread ]; then launcher=(setarch "$(uname -m)" -R); fi
  "${launcher[@]}" ctest --test-dir "$build" --output-on-failure -LE long -j 2 --timeout 2400 \
    "$@" || status=$?
  echo "deploy/sanitize.sh $kind: build $((built - started)) s, tests $((SECONDS - built)) s," \
    "exit $status"
  return "$status"
}

if [ $# -eq 0 ]; then
  overall=0
  run_kind address || overall=$?
  run_kind thread || overall=$?
  exit "$overall"
fi
run_kind "$@"
