#!/usr/bin/env bash
# Installs the dependencies, builds everything and runs the whole default test suite.
# Long statistical runs carry the ctest label "long" and are excluded; run them with
#   ctest --test-dir build -L long
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/deploy/install-deps.sh"
"$root/deploy/build.sh"
build="${FEDSYN_BUILD_DIR:-$root/build}"
ctest --test-dir "$build" --output-on-failure -LE long -j 2 --timeout 900
