#!/usr/bin/env bash
# Configures and builds fedsyn into ./build (or $FEDSYN_BUILD_DIR). Extra arguments are
# passed to ninja (e.g. a target name). Uses ccache when present (see CMakeLists.txt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FEDSYN_BUILD_DIR:-$root/build}"
# ccache keys on absolute paths unless told the project's root: with it, a fresh clone in
# another folder (as CI builds) reuses what an earlier clone compiled (toolchain notes: a warm
# rebuild of a torch project takes seconds instead of minutes).
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}"
werror=OFF
if [ -n "${CI:-}" ]; then werror=ON; fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFEDSYN_WERROR="$werror" >/dev/null
# Two jobs: each torch translation unit needs ~1.3 GB and the machines have 2 cores.
ninja -C "$build" -j "${FEDSYN_JOBS:-2}" "$@"
