#!/usr/bin/env bash
# The VAE path on UCI Adult under a total budget (issue #13): for each total epsilon E, (a) a
# DP-SGD VAE at E released model-only (codes from the prior), (b) a DP-SGD VAE at E/2 released
# through the metric mechanism at E/2 (R = 3), decoded from the noised code and from its
# posterior; (c) and (d) the same with a VAE trained on samples of a private marginal model
# (train --marginal-epsilon) instead of DP-SGD. Scored by fedsyn_bench_utility (LR on one-hot codes, trained on the synthetic rows,
# tested on adult.test). delta 1e-6, replace-one. About 20 minutes on 2 cores.
#
#   bench/experiments/vae_modes.sh [OUT_DIR] [EPSILONS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${FEDSYN_BUILD_DIR:-$root/build}"
agent="$build/site_agent/fedsyn-agent"
adult="$root/deploy/demo/adult"
out="${1:-$(mktemp -d)}"
epsilons="${2:-1 3 8}"
radius=3
mkdir -p "$out"
files=()
for e in $epsilons; do
  half=$(python3 -c "print($e / 2)")
  # eps_release = eps_d (2R + slack); the slack is below 0.1% of 2R at the default grid.
  eps_d=$(python3 -c "print($e / 2 / (2 * $radius * 1.001))")
  "$agent" --log-level warn train --input "$adult/adult.data" --schema "$adult/adult.schema.toml" \
    --model-out "$out/full-$e.model" --dp-epsilon "$e" --dp-delta 1e-6 > /dev/null
  "$agent" --log-level warn release --model "$out/full-$e.model" --input "$adult/adult.data" \
    --out "$out/model-only-$e.csv" --mode model-only > /dev/null
  "$agent" --log-level warn train --input "$adult/adult.data" --schema "$adult/adult.schema.toml" \
    --model-out "$out/half-$e.model" --dp-epsilon "$half" --dp-delta 1e-6 > /dev/null
  for decoding in noised posterior; do
    "$agent" --log-level warn release --model "$out/half-$e.model" --input "$adult/adult.data" \
      --out "$out/split-$decoding-$e.csv" --epsilon-d "$eps_d" --clip-radius "$radius" \
      --code-decoding "$decoding" | grep guarantee
  done
  "$agent" --log-level warn train --input "$adult/adult.data" --schema "$adult/adult.schema.toml" \
    --model-out "$out/mfull-$e.model" --marginal-epsilon "$e" --dp-delta 1e-6 --epochs 20 > /dev/null
  "$agent" --log-level warn release --model "$out/mfull-$e.model" --input "$adult/adult.data" \
    --out "$out/marginal-vae-model-only-$e.csv" --mode model-only > /dev/null
  "$agent" --log-level warn train --input "$adult/adult.data" --schema "$adult/adult.schema.toml" \
    --model-out "$out/mhalf-$e.model" --marginal-epsilon "$half" --dp-delta 1e-6 --epochs 20 > /dev/null
  "$agent" --log-level warn release --model "$out/mhalf-$e.model" --input "$adult/adult.data" \
    --out "$out/marginal-vae-split-posterior-$e.csv" --epsilon-d "$eps_d" --clip-radius "$radius" \
    | grep guarantee
  files+=("$out/model-only-$e.csv" "$out/split-noised-$e.csv" "$out/split-posterior-$e.csv"
          "$out/marginal-vae-model-only-$e.csv" "$out/marginal-vae-split-posterior-$e.csv")
done
"$build/bench/fedsyn_bench_utility" --train "$adult/adult.data" --test "$adult/adult.test" \
  --test-skip-rows 1 --schema "$adult/adult.schema.toml" --synthetic "${files[@]}"
