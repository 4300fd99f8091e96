#!/usr/bin/env bash
# The four UCI Heart hospitals through the federation at small epsilon, repeated: the quickstart's
# demo (deploy/demo/federation-demo.sh: marginal generator, model-only, 100 canaries per release)
# run RUNS times at each epsilon, to separate run-to-run spread from effects and to count how
# often a hospital's output piles up at a declared bound (issue #13's target: no column with more
# values at a bound than 2x the real rate plus 1% of rows). Writes
# docs/results/heart-small-epsilon.md (or $3). About 20 seconds per run on 2 cores.
#
#   bench/experiments/heart_small_epsilon.sh [RUNS] [EPSILONS] [PAGE]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
runs="${1:-10}"
epsilons="${2:-0.5 1}"
page="${3:-$root/docs/results/heart-small-epsilon.md}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

rows=""
summary=""
for e in $epsilons; do
  accuracies=()
  piled=0
  for i in $(seq 1 "$runs"); do
    out="$work/$e-$i"
    "$root/deploy/demo/federation-demo.sh" "$out" "$e" > "$out.log" 2>&1
    # The utility check's JSON (federation-demo.sh writes it next to the pooled export), and
    # which site and column sit at a bound, from the export's site column.
    line=$(python3 - "$out" <<'PY'
import csv, json, sys
out = sys.argv[1]
u = json.load(open(f"{out}/utility.json"))
try:
    import tomllib
    schema = tomllib.load(open(f"{out}/heart_disease.schema.toml", "rb"))
    bounds = {c["name"]: (c["min"], c["max"]) for c in schema["column"] if "min" in c}
except Exception:
    bounds = {}
rows = list(csv.reader(open(f"{out}/pooled.csv")))
head, body = rows[0], rows[1:]
worst = ""
for b in u["bound_shares"]:
    if b["synthetic"] > 2 * b["real"] + 0.01 and b["column"] in bounds:
        i = head.index(b["column"])
        lo, hi = bounds[b["column"]]
        sites = {}
        for r in body:
            try:
                v = float(r[i])
            except ValueError:
                continue
            if v in (lo, hi):
                sites[(r[0], v)] = sites.get((r[0], v), 0) + 1
        worst = "; ".join(f"{s}: {n} rows at {b['column']} = {v:g}" for (s, v), n in sites.items())
t = u["trained_on_synthetic"]
print(f"{t['accuracy']:.3f}|{t['auc']:.3f}|{u['tvd_2way']['mean']:.3f}|"
      f"{u['worst_bound_excess']:.3f}|{worst or '–'}")
PY
)
    IFS='|' read -r acc auc tvd2 excess where <<< "$line"
    rows+="| $e | $i | $acc | $auc | $tvd2 | $excess | $where |"$'\n'
    accuracies+=("$acc")
    if python3 -c "import sys; sys.exit(0 if float('$excess') > 0 else 1)"; then piled=$((piled + 1)); fi
    echo "epsilon $e run $i: accuracy $acc AUC $auc 2-way $tvd2 excess $excess $where"
  done
  stats=$(python3 -c "
import statistics as s
a = [float(x) for x in '${accuracies[*]}'.split()]
print(f'{s.mean(a):.3f}|{min(a):.3f}|{max(a):.3f}')")
  IFS='|' read -r mean lo hi <<< "$stats"
  summary+="| $e | $runs | $mean | $lo – $hi | $piled of $runs |"$'\n'
done

{
  cat <<MD
# The Heart hospitals at small ε, repeated

Written by \`bench/experiments/heart_small_epsilon.sh $runs "$epsilons"\`; every figure was measured in
that run. Each run is the quickstart's federation (\`deploy/demo/federation-demo.sh OUT E\`): each
of the four UCI Heart hospitals keeps every 5th record for testing, opens a canary audit (100
canaries, 50 of them joining its records), fits the marginal generator at total ε = E (δ 10⁻⁶,
replace-one) on a few hundred records and releases as many synthetic rows; the pooled rows train a
logistic regression scored on the 182 held-out real records (real rows: 0.747 accuracy, 0.849
AUC; majority class 0.549). "Bound excess" is the worst column's share of values at a declared
bound minus (2 × the real share + 1% of rows): above 0 misses issue #13's target.

## Summary

| ε per hospital | runs | LR accuracy, mean | range | runs with a bound excess above 0 |
|---|---|---|---|---|
${summary}
## Every run

| ε | run | LR accuracy | LR AUC | 2-way TVD | bound excess | values at a bound |
|---|---|---|---|---|---|---|
${rows}
## What this shows and what would close it

At ε 0.5 a hospital's 1-way marginals are noise: their Gaussian noise has a standard deviation
above 100 counts (ρ = 0.0066, split over 14 columns) against 100–300 records. Projecting such a
histogram onto the records' total puts almost all mass on whichever code drew the largest noise,
so a column of one hospital's output can become one value. The generator keeps a declared bound
only where its noisy count clears 3σ (docs/privacy.md §11); pure noise clears that with
probability 0.13% per bound, about 1.6% per hospital release (12 bounds) and 6% per four-hospital
run — and a bound that passes takes nearly the whole column (the utility grid's run at ε 0.5,
results/utility-grid.md, is one: bound excess 0.281, all 215 of Cleveland's synthetic rows with
oldpeak = 7, its declared maximum). At ε ≥ 1 the same rule keeps every
released column within the target (results/utility-grid.md). The classifiers trained at ε 0.5 are
close to the majority rate whether or not a bound is hit: the records do not carry enough signal
for the budget.

Not tried yet, and what should close it: an estimator for the noise-dominated regime — shrink
each noisy histogram toward uniform (or toward the coarser marginal already measured) by how much
of its spread the noise explains (positive-part James–Stein) before projecting — and a bound
threshold that holds the chance of any false bound in a release below a fixed level (Bonferroni
over its bounds); both are post-processing of the noisy counts, so free, and both must leave
Adult's figures unchanged.
MD
} > "$page"
echo "wrote $page"
