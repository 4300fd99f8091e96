#!/usr/bin/env bash
# The marginal generator against private-pgm's MST and AIM on UCI Adult at the same (ε, δ)
# (issue #15): time to fit and sample, and what the synthetic rows are worth (a logistic
# regression trained on them and tested on adult.test; mean 1- and 2-way TVD to the training
# rows), all scored by the same code (fedsyn_bench_utility).
#
#   bench/pgm_compare.sh PGM_DIR [EPSILON=1] [DELTA=1e-6] [ROUNDS=3] [MECHANISMS="mst aim"]
#
# The same ε is not the same guarantee: fedsyn's is under replace-one neighbours, private-pgm's
# under add/remove, where a histogram's sensitivity is 1 instead of √2, so at equal ε private-pgm
# adds less noise (half the zCDP ρ's worth). FEDSYN_PGM_EPSILON runs private-pgm at another ε:
# 0.6905 has half the ρ of ε = 1 at δ = 1e-6 (private-pgm's cdp_rho), the Gaussian measurements'
# replace-one parity.
#
# PGM_DIR: private-pgm at 4152cc5, the last version before its port to JAX (which Debian does not
# package): `git clone https://github.com/ryan112358/private-pgm && git -C private-pgm checkout
# 4152cc5`. It runs on Debian's python3-numpy, -scipy, -pandas and -networkx; two imports Debian
# lacks are stood in for by bench/peer/pgm_shims (see its README). Both sides model the same
# codes: fedsyn_bench_pgm_codes hands private-pgm the marginal generator's own discretisation and
# decodes its output the same way the generator does. Each round runs fedsyn, then each
# mechanism, alternately. Needs a Release build (deploy/build.sh; FEDSYN_BUILD_DIR for another).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FEDSYN_BUILD_DIR:-$root/build}"
pgm="${1:?usage: bench/pgm_compare.sh PGM_DIR [EPSILON] [DELTA] [ROUNDS] [MECHANISMS]}"
epsilon="${2:-1}" delta="${3:-1e-6}" rounds="${4:-3}" mechanisms="${5:-mst aim}"
pgm_epsilon="${FEDSYN_PGM_EPSILON:-$epsilon}"
codes_tool="$build/bench/fedsyn_bench_pgm_codes" utility="$build/bench/fedsyn_bench_utility"
for tool in "$codes_tool" "$utility"; do
  [ -x "$tool" ] || { echo "pgm_compare.sh: build first ($tool missing)" >&2; exit 2; }
done
[ -f "$pgm/mechanisms/mst.py" ] && [ -f "$pgm/src/mbi/inference.py" ] ||
  { echo "pgm_compare.sh: $pgm is not a private-pgm checkout at 4152cc5" >&2; exit 2; }
/usr/bin/python3 -c 'import numpy, scipy, pandas, networkx' 2>/dev/null || {
  echo "pgm_compare.sh: apt-get install python3-numpy python3-scipy python3-pandas python3-networkx" >&2
  exit 2
}

demo="$root/deploy/demo/adult"
data=(--train "$demo/adult.data" --test "$demo/adult.test" --test-skip-rows 1
  --schema "$demo/adult.schema.toml")
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$codes_tool" encode --input "$demo/adult.data" --schema "$demo/adult.schema.toml" --out-dir "$out"

for round in $(seq 1 "$rounds"); do
  "$utility" "${data[@]}" --epsilons "$epsilon" --delta "$delta" --repeats 1 > "$out/fedsyn.$round"
  for mechanism in $mechanisms; do
    /usr/bin/python3 "$root/bench/peer/pgm_peer.py" --pgm "$pgm" --mechanism "$mechanism" \
      --codes "$out/codes.csv" --domain "$out/domain.json" --epsilon "$pgm_epsilon" --delta "$delta" \
      --out "$out/$mechanism.$round.codes" 2>/dev/null > "$out/$mechanism.$round.time"
    "$codes_tool" decode --codes "$out/$mechanism.$round.codes" \
      --schema "$demo/adult.schema.toml" --out "$out/$mechanism.$round.csv" > /dev/null
    "$utility" "${data[@]}" --synthetic "$out/$mechanism.$round.csv" > "$out/$mechanism.$round"
  done
done

/usr/bin/python3 - "$out" "$rounds" "$epsilon" "$delta" "$mechanisms" "$pgm_epsilon" <<'EOF'
import re, statistics, sys
out, rounds, epsilon, delta, mechanisms, pgm_epsilon = sys.argv[1:7]
rounds = int(rounds)
figure = r"accuracy ([\d.]+) auc ([\d.]+) tvd1 ([\d.]+) tvd2 ([\d.]+)"

def scores(text):
    m = re.search(figure, text)
    return [float(v) for v in m.groups()]

rows = {}
runs = []
for r in range(1, rounds + 1):
    text = open(f"{out}/fedsyn.{r}").read()
    seconds = float(re.search(r"edges \d+ ([\d.]+) s", text).group(1))
    runs.append(scores(text) + [seconds])
rows["fedsyn marginals"] = runs
for mechanism in mechanisms.split():
    runs = []
    for r in range(1, rounds + 1):
        time = open(f"{out}/{mechanism}.{r}.time").read()
        seconds = float(re.search(r"fit \+ sample ([\d.]+) s", time).group(1))
        runs.append(scores(open(f"{out}/{mechanism}.{r}").read()) + [seconds])
    rows[f"private-pgm {mechanism.upper()}"] = runs
real = re.search(r"real rows: accuracy ([\d.]+) auc ([\d.]+)", open(f"{out}/fedsyn.1").read())
print(f"UCI Adult, fedsyn at ε = {epsilon} (replace-one), private-pgm at ε = {pgm_epsilon} "
      f"(add/remove), δ = {delta}, {rounds} alternating round(s); real training rows: "
      f"LR accuracy {real.group(1)}, AUC {real.group(2)}")
print(f"{'generator':<22}{'LR accuracy':>16}{'LR AUC':>16}{'1-way TVD':>16}{'2-way TVD':>16}"
      f"{'fit + sample s':>18}{'time vs fedsyn':>16}")
span = lambda values, f: (f % min(values)) + ("" if min(values) == max(values) else
                                              "–" + f % max(values))
ours = statistics.median(run[4] for run in rows["fedsyn marginals"])
for name, runs in rows.items():
    cols = list(zip(*runs))
    median_time = statistics.median(cols[4])
    print(f"{name:<22}{span(cols[0], '%.3f'):>16}{span(cols[1], '%.3f'):>16}"
          f"{span(cols[2], '%.4f'):>16}{span(cols[3], '%.4f'):>16}{span(cols[4], '%.2f'):>18}"
          f"{median_time / ours:>15.0f}x")
EOF
