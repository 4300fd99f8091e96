#!/usr/bin/env bash
# bench/experiments/run.sh at smoke size: every data set's report, the page and its figures.
# Usage: experiments_smoke_test.sh ROOT SCRATCH_DIR   (FEDSYN_BUILD_DIR set by ctest)
set -u
root="$1"
scratch="$2"
rm -rf "$scratch"
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
if ! bash "$root/bench/experiments/run.sh" smoke "$scratch" > "$scratch.log" 2>&1; then
  cat "$scratch.log"; fail "run.sh smoke"
fi
cat "$scratch.log"
expected=(heart-logistic heart-mlp adult-logistic adult-mlp)
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && expected+=(fashion-cnn)
for name in "${expected[@]}"; do
  grep -q '"format": "fedsyn-evaluation"' "$scratch/$name.json" || fail "$name.json"
  for figure in utility roc; do
    head -c 4 "$scratch/figures/$name-$figure.svg" | grep -q "<svg" || fail "$name-$figure.svg"
    grep -q "<polyline" "$scratch/figures/$name-$figure.svg" || fail "$name-$figure.svg has no curve"
  done
  grep -q "(figures/$name-roc.svg)" "$scratch/results.md" || fail "results.md embeds $name-roc.svg"
done
[ "$(grep -c "^### The paper's claims, measured" "$scratch/results.md")" -eq "${#expected[@]}" ] ||
  fail "one claims table per data set"
# A report that is not an evaluation is refused (exit 3).
echo '{"format": "other"}' > "$scratch/bad.json"
"$FEDSYN_BUILD_DIR/bench/fedsyn-results" --out "$scratch/x.md" --figures "$scratch/x" "$scratch/bad.json" \
  >/dev/null 2>&1; code=$?
[ "$code" -eq 3 ] || fail "fedsyn-results on a foreign JSON: exit $code, wanted 3"
echo "experiments smoke: $failures failure(s)"
[ "$failures" -eq 0 ]
