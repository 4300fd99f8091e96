#!/usr/bin/env bash
# The evaluation grid of issue #5: `fedsyn-agent evaluate` on UCI Heart Disease (the four
# hospitals pooled; logistic-regression and MLP targets), UCI Adult (adult.data; both targets) and a
# documented subset of Fashion-MNIST (CNN target), then `fedsyn-results` writes the results page
# and its SVG figures.
#
#   bench/experiments/run.sh [full|smoke] [OUT_DIR]
#
# full  (default): the documented scale; JSON to OUT_DIR (default bench/experiments/results),
#       the page to docs/results.md and the figures to docs/results/. About 30 minutes on 2 cores.
# smoke: a tiny grid (seconds) into OUT_DIR only; the test suite runs it (cli.experiments_smoke).
# Binaries from $FEDSYN_BUILD_DIR or ./build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
scale="${1:-full}"
build="${FEDSYN_BUILD_DIR:-$root/build}"
agent="$build/site_agent/fedsyn-agent"
results="$build/bench/fedsyn-results"
heart="$root/deploy/demo/heart_disease_uci"
adult="$root/deploy/demo/adult"
fashion="/usr/share/datasets/fashion-mnist"

case "$scale" in
  full)
    out="${2:-$root/bench/experiments/results}"
    page="$root/docs/results.md"
    figures="$root/docs/results"
    seeds=1,2,3; image_seeds=1,2; epsilons=1,2,4,8; bootstrap=200
    heart_size=(--members 150 --test 250); adult_size=(--members 2000 --test 5000)
    fashion_size=(--max-images 10000 --members 1000 --test 2000)
    table_training=(--target-epochs 40 --vae-epochs 100 --dp-epochs 30)
    image_training=(--target-epochs 20 --vae-epochs 30 --dp-epochs 10)
    ;;
  smoke)
    out="${2:?smoke needs an output folder}"
    page="$out/results.md"
    figures="$out/figures"
    seeds=1,2; image_seeds=1; epsilons=2,8; bootstrap=20
    heart_size=(--members 60 --test 100); adult_size=(--members 150 --test 200)
    fashion_size=(--max-images 400 --members 60 --test 100)
    table_training=(--target-epochs 5 --vae-epochs 5 --dp-epochs 2)
    image_training=(--target-epochs 2 --vae-epochs 2 --dp-epochs 1)
    ;;
  *) echo "usage: $0 [full|smoke] [OUT_DIR]" >&2; exit 2 ;;
esac
mkdir -p "$out"
common=(--log-level warn evaluate --seeds "$seeds" --epsilons "$epsilons" --bootstrap "$bootstrap")

run() {  # run NAME ARGS...: one data set and target, timed
  local name="$1"; shift
  local start=$SECONDS
  "$agent" "${common[@]}" --name "$name" --out "$out/$name.json" "$@" > "$out/$name.log"
  echo "$name: $((SECONDS - start)) s"
}

start=$SECONDS
hearts=("$heart/processed.cleveland.data" "$heart/processed.hungarian.data"
        "$heart/processed.switzerland.data" "$heart/processed.va.data")
run heart-logistic --input "${hearts[@]}" --schema "$heart/heart_disease.schema.toml" \
  "${heart_size[@]}" "${table_training[@]}" --target logistic --dp-batch-size 32
run heart-mlp --input "${hearts[@]}" --schema "$heart/heart_disease.schema.toml" \
  "${heart_size[@]}" "${table_training[@]}" --target mlp --dp-batch-size 32
run adult-logistic --input "$adult/adult.data" --schema "$adult/adult.schema.toml" \
  "${adult_size[@]}" "${table_training[@]}" --target logistic --dp-batch-size 128
run adult-mlp --input "$adult/adult.data" --schema "$adult/adult.schema.toml" \
  "${adult_size[@]}" "${table_training[@]}" --target mlp --dp-batch-size 128
reports=("$out"/heart-logistic.json "$out"/heart-mlp.json "$out"/adult-logistic.json "$out"/adult-mlp.json)
if [ -e "$fashion/train-images-idx3-ubyte.gz" ]; then
  common=(--log-level warn evaluate --seeds "$image_seeds" --epsilons "$epsilons" --bootstrap "$bootstrap")
  run fashion-cnn --images "$fashion/train-images-idx3-ubyte.gz" --labels "$fashion/train-labels-idx1-ubyte.gz" \
    "${fashion_size[@]}" "${image_training[@]}" --target cnn --latent-dim 16 --hidden 256 --dp-batch-size 64
  reports+=("$out"/fashion-cnn.json)
else
  echo "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): skipped" >&2
fi
echo "grid: $((SECONDS - start)) s"
"$results" --out "$page" --figures "$figures" --command "bench/experiments/run.sh $scale" "${reports[@]}"
