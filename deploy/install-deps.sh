#!/usr/bin/env bash
# Installs every build, test and run-time dependency of fedsyn from Debian 12 packages.
# Idempotent: re-running it when everything is present only re-reads the package lists.
# Notes (measured, see docs/toolchain.md):
#  - pkgconf is required by Cap'n Proto's CMake config even though libcapnp-dev does not depend on it.
#  - chromium and libpng-dev serve one test only: the audit's HTML report rendered headless and its
#    screenshot checked for the plots (tests/coordinator/audit_report_render_test.cc).
#  - python3 runs the include-layer check (tests/layers) and the experiment scripts' small sums.
#  - libopenblas0-openmp is essential: without it LibTorch falls back to reference BLAS (~40x slower).
#    The -pthread variant must not be installed alongside (it wins the alternative and oversubscribes).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  cmake ninja-build g++ pkgconf ccache
  libtorch-dev libopenblas0-openmp
  libcapnp-dev capnproto libspdlog-dev libboost-dev libssl-dev openssl libsqlite3-dev
  libgtest-dev libgmock-dev
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libabsl-dev zlib1g-dev
  dataset-fashion-mnist
  chromium libpng-dev
  python3
  sqlite3 dpkg-dev   # the fault-injection checker's queries; dpkg-shlibdeps for cpack's packages
  postgresql libpq-dev   # the PostgreSQL backend (libpq) and its tests' throwaway cluster
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"
else
  echo "install-deps: all packages present"
fi

if dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed"; then
  echo "install-deps: warning: libopenblas0-pthread is installed and wins the BLAS alternative;" \
       "LibTorch will oversubscribe the cores. Consider: apt-get remove libopenblas0-pthread" >&2
fi
