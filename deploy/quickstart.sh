#!/usr/bin/env bash
# From a fresh Debian 12 machine to a working federation: installs the dependencies, builds,
# provisions a demo CA and four hospital site kits, starts the coordinator and the four UCI
# Heart Disease hospital agents on 127.0.0.1, runs one metric-private release per site, prints
# the dashboard's status table and exports the pooled synthetic CSV. Cleans up its processes
# on exit and on Ctrl-C. Prints where the output is. The VAEs are trained with DP-SGD, so every
# release carries an end-to-end guarantee (model epsilon + release epsilon).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${FEDSYN_OUT:-$root/out/quickstart}"
"$root/deploy/install-deps.sh"
"$root/deploy/build.sh" fedsyn-agent fedsyn-coordinator
"$root/deploy/demo/federation-demo.sh" "$out"
echo "Everything (PKI, models, site spools with manifests, coordinator database, pooled CSV): $out"
