#!/usr/bin/env bash
# From a fresh Debian 12 machine to synthetic data: installs the dependencies, builds the site
# agent, and runs the site pipeline (train a VAE, release metric-private synthetic rows) on
# each of the four shipped UCI Heart Disease hospital files. Prints where the output is.
#
# Until private (DP-SGD) training lands, the VAE is trained the paper's way, without DP; the
# release therefore needs --allow-nonprivate-model and every manifest says "model not private".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${FEDSYN_OUT:-$root/out/quickstart}"
"$root/deploy/install-deps.sh"
"$root/deploy/build.sh" fedsyn-agent
agent="${FEDSYN_BUILD_DIR:-$root/build}/site_agent/fedsyn-agent"
demo="$root/deploy/demo/heart_disease_uci"
mkdir -p "$out"

for site in cleveland hungarian switzerland va; do
  echo "== $site"
  "$agent" --log-level warn synthesize \
    --input "$demo/processed.$site.data" \
    --schema "$demo/heart_disease.schema.toml" \
    --model-out "$out/$site.model" \
    --out "$out/$site.synthetic.csv" \
    --epsilon-d 1.0 --clip-radius 3.0 \
    --allow-nonprivate-model
done

echo
echo "Synthetic data, one CSV per hospital, each with a .manifest.json stating its guarantee:"
ls -1 "$out"/*.synthetic.csv
echo "Output directory: $out"
