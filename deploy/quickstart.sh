#!/usr/bin/env bash
# From a fresh Debian 12 machine to a working federation: installs the dependencies, builds,
# provisions a demo CA and four hospital site kits, starts the coordinator and the four UCI
# Heart Disease hospital agents on 127.0.0.1, runs one audited release per site with the marginal
# generator (epsilon 3 each: the release's whole end-to-end guarantee), audits them, prints the
# dashboard's status table, exports the pooled synthetic CSV and says in one line what it is good
# for (a classifier trained on it, tested on hospital records held out of every release). Cleans
# up its processes on exit and on Ctrl-C. Prints where the output is.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${FEDSYN_OUT:-$root/out/quickstart}"
"$root/deploy/install-deps.sh"
"$root/deploy/build.sh" fedsyn-agent fedsyn-coordinator
"$root/deploy/demo/federation-demo.sh" "$out"
echo "Everything (PKI, site spools with manifests, coordinator database, audit reports, pooled CSV, utility.json): $out"
