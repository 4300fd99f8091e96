#!/usr/bin/env bash
# How the DP-SGD defaults of site::DpTrainingDefaults were chosen (issue #13): DP-SGD VAEs
# trained on the first 24,420 rows of adult.data (the public stand-in), released model-only,
# scored by fedsyn_bench_utility --tune (logistic regression tested on the other 8,141 rows of
# adult.data; adult.test is never read). delta 1e-6. About 25 minutes on 2 cores.
#
#   bench/experiments/vae_tune.sh [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${FEDSYN_BUILD_DIR:-$root/build}"
agent="$build/site_agent/fedsyn-agent"
schema="$root/deploy/demo/adult/adult.schema.toml"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
head -n 24420 "$root/deploy/demo/adult/adult.data" > "$out/train.csv"
configs=(
  "old:--beta 1 --dp-batch-size 256 --epochs 20 --learning-rate 0.001"
  "beta:--beta 0.2 --dp-batch-size 256 --epochs 20 --learning-rate 0.001"
  "batch:--beta 1 --dp-batch-size 1024 --epochs 40 --learning-rate 0.001"
  "beta_batch:--beta 0.2 --dp-batch-size 1024 --epochs 40 --learning-rate 0.001"
  "b2048:--beta 0.2 --dp-batch-size 2048 --epochs 60 --learning-rate 0.003"
  "beta01:--beta 0.1 --dp-batch-size 2048 --epochs 60 --learning-rate 0.003"
  "b4096:--beta 0.2 --dp-batch-size 4096 --epochs 100 --learning-rate 0.005"
  "lr01:--beta 0.2 --dp-batch-size 2048 --epochs 60 --learning-rate 0.01"
)
files=()
for e in 1 3 8; do
  for config in "${configs[@]}"; do
    name=${config%%:*}
    read -r -a options <<< "${config#*:}"
    "$agent" --log-level warn train --input "$out/train.csv" --schema "$schema" \
      --model-out "$out/$name-$e.model" --dp-epsilon "$e" --dp-delta 1e-6 "${options[@]}" > /dev/null
    "$agent" --log-level warn release --model "$out/$name-$e.model" --input "$out/train.csv" \
      --out "$out/$name-$e.csv" --mode model-only > /dev/null
    files+=("$out/$name-$e.csv")
  done
done
"$build/bench/fedsyn_bench_utility" --train "$root/deploy/demo/adult/adult.data" \
  --schema "$schema" --tune --synthetic "${files[@]}"
