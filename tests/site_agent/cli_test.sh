#!/usr/bin/env bash
# The fedsyn-agent command line contract: exit codes and messages that scripts rely on.
# Usage: cli_test.sh SCRATCH_DIR   (FEDSYN_AGENT and FEDSYN_DEMO set by ctest)
set -u
scratch="$1"
rm -rf "$scratch" && mkdir -p "$scratch"
agent="$FEDSYN_AGENT"
heart="$FEDSYN_DEMO/heart_disease_uci"
failures=0

expect() {  # expect NAME WANTED_EXIT COMMAND...
  local name="$1" want="$2"
  shift 2
  "$@" >"$scratch/$name.out" 2>"$scratch/$name.err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL $name: exit $got, wanted $want"; cat "$scratch/$name.err"; failures=$((failures + 1))
  else
    echo "ok   $name (exit $got)"
  fi
}
expect_text() {  # expect_text NAME FILE TEXT
  if ! grep -q -- "$3" "$scratch/$1.$2"; then
    echo "FAIL $1: '$3' not in $2"; failures=$((failures + 1))
  fi
}

expect help 0 "$agent" --help
expect_text help out "synthesize"
expect release_help 0 "$agent" release --help
expect_text release_help out "--allow-nonprivate-model"
expect no_subcommand 2 "$agent"
expect unknown_flag 2 "$agent" train --bogus
expect missing_required 2 "$agent" release --model /nonexistent --out x --epsilon-d 1 --clip-radius 1

expect infer 0 "$agent" schema infer "$heart/processed.cleveland.data"
expect_text infer err "WARNING: this schema was read off the data"
expect_text infer out "\[\[column\]\]"

expect train 0 "$agent" --log-level warn train --input "$heart/processed.va.data" \
  --schema "$heart/heart_disease.schema.toml" --model-out "$scratch/va.model" --epochs 3 --seed 1
expect_text train out "NOT PRIVATE"

expect refused 5 "$agent" release --model "$scratch/va.model" --input "$heart/processed.va.data" \
  --out "$scratch/va.csv" --epsilon-d 1 --clip-radius 2
expect_text refused err "allow-nonprivate-model"
[ -e "$scratch/va.csv" ] && { echo "FAIL refused: output written"; failures=$((failures + 1)); }

printf '63,1,1,145,233,1,2,150,0,2.3,3,0,6,9\n' > "$scratch/bad.csv"
expect bad_input 3 "$agent" release --model "$scratch/va.model" --input "$scratch/bad.csv" \
  --out "$scratch/bad-out.csv" --epsilon-d 1 --clip-radius 2 --allow-nonprivate-model
expect_text bad_input err "bad.csv:1: column 14 'num': unknown category '9'"

head -c 1000 "$scratch/va.model" > "$scratch/damaged.model"
expect damaged_model 4 "$agent" release --model "$scratch/damaged.model" --input "$heart/processed.va.data" \
  --out "$scratch/d.csv" --epsilon-d 1 --clip-radius 2 --allow-nonprivate-model

# Issue #12, F1 and F12: hostile model files (the fuzz corpus's) are exit 4, never an abort;
# a FIFO as input is refused at once (exit 3), not waited on.
for hostile in F1_header_array F1_private_text F4_input_terabytes F6_nan; do
  expect "hostile_$hostile" 4 "$agent" release --model "$FEDSYN_FUZZ_CORPUS/model_bundle/$hostile" \
    --input "$heart/processed.va.data" --out "$scratch/h.csv" --epsilon-d 1 --clip-radius 2 \
    --allow-nonprivate-model
done
mkfifo "$scratch/input.fifo"
expect fifo_input 3 timeout 20 "$agent" release --model "$scratch/va.model" \
  --input "$scratch/input.fifo" --out "$scratch/f.csv" --epsilon-d 1 --clip-radius 2 \
  --allow-nonprivate-model
expect_text fifo_input err "is a FIFO"

expect release 0 "$agent" --log-level warn release --model "$scratch/va.model" --input "$heart/processed.va.data" \
  --out "$scratch/va.csv" --epsilon-d 1 --clip-radius 2 --allow-nonprivate-model
expect_text release out "MODEL NOT PRIVATE"
expect_text release err "NON-PRIVATE model"
[ -s "$scratch/va.csv.manifest.json" ] || { echo "FAIL release: no manifest"; failures=$((failures + 1)); }

expect codes_clear 5 "$agent" release --model "$scratch/va.model" --input "$heart/processed.va.data" \
  --out "$scratch/codes.csv" --epsilon-d 1 --clip-radius 2 --allow-nonprivate-model --mode codes
expect_text codes_clear err "codes mode ships the decoder"
[ -e "$scratch/codes.csv.decoder" ] && { echo "FAIL codes_clear: decoder written"; failures=$((failures + 1)); }
expect dp_train 0 "$agent" --log-level warn train --input "$heart/processed.va.data" \
  --schema "$heart/heart_disease.schema.toml" --model-out "$scratch/dp.model" --epochs 2 --seed 1 \
  --dp-epsilon 2 --dp-delta 1e-3 --dp-batch-size 50
expect_text dp_train err "above 1/(10n)"
grep -aq 'replace-one (n public)' "$scratch/dp.model" \
  || { echo "FAIL dp_train: the model does not state its neighbouring relation"; failures=$((failures + 1)); }
# delta at 1/n (n = 200 records) promises nothing: refused for privacy reasons, naming n.
expect dp_delta_too_big 5 "$agent" --log-level warn train --input "$heart/processed.va.data" \
  --schema "$heart/heart_disease.schema.toml" --model-out "$scratch/big-delta.model" --epochs 1 \
  --dp-epsilon 2 --dp-delta 5e-3
expect_text dp_delta_too_big err "n = 200"
[ -e "$scratch/big-delta.model" ] && { echo "FAIL dp_delta_too_big: model written"; failures=$((failures + 1)); }
expect codes 0 "$agent" --log-level warn release --model "$scratch/dp.model" --input "$heart/processed.va.data" \
  --out "$scratch/codes.csv" --epsilon-d 1 --clip-radius 2 --mode codes
expect_text codes out "released 200 noised codes"
expect_text codes out "output: $scratch/codes.csv.decoder"
[ "$(head -n 1 "$scratch/codes.csv")" = "z1,z2,z3,z4,z5,z6,z7,z8" ] || { echo "FAIL codes: header"; failures=$((failures + 1)); }
expect bad_mode 2 "$agent" release --model "$scratch/dp.model" --input "$heart/processed.va.data" \
  --out "$scratch/x.csv" --epsilon-d 1 --clip-radius 2 --mode decoder
# Model-only: codes from the prior, no per-record epsilon, no mechanism options.
expect model_only 0 "$agent" --log-level warn release --model "$scratch/dp.model" \
  --input "$heart/processed.va.data" --out "$scratch/prior.csv" --mode model-only
expect_text model_only out "released 200 synthetic records"
expect_text model_only out "release 0: codes 0"
grep -q '"epsilon_release_micros": 0' "$scratch/prior.csv.manifest.json" ||
  { echo "FAIL model_only: manifest charges the release"; failures=$((failures + 1)); }
expect model_only_with_mechanism 3 "$agent" release --model "$scratch/dp.model" \
  --input "$heart/processed.va.data" --out "$scratch/x.csv" --mode model-only --epsilon-d 1 \
  --clip-radius 2
expect_text model_only_with_mechanism err "noises no code"
expect no_mechanism 3 "$agent" release --model "$scratch/dp.model" \
  --input "$heart/processed.va.data" --out "$scratch/x.csv"
expect_text no_mechanism err "needs --epsilon-d and --clip-radius"
# A VAE that never sees a record: trained on samples of a private marginal model.
expect marginal_vae 0 "$agent" --log-level warn train --input "$heart/processed.va.data" \
  --schema "$heart/heart_disease.schema.toml" --model-out "$scratch/mvae.model" --epochs 2 \
  --marginal-epsilon 1 --dp-delta 1e-3
expect_text marginal_vae out "the VAE never saw a record"
expect marginal_vae_release 0 "$agent" --log-level warn release --model "$scratch/mvae.model" \
  --input "$heart/processed.va.data" --out "$scratch/mvae.csv" --mode model-only
expect_text marginal_vae_release out "eps_total = 1 per record"
expect_text marginal_vae_release out "charge: 0.000000"
expect marginal_vae_and_dp 3 "$agent" train --input "$heart/processed.va.data" \
  --schema "$heart/heart_disease.schema.toml" --model-out "$scratch/x.model" \
  --marginal-epsilon 1 --dp-epsilon 1
expect_text marginal_vae_and_dp err "exclude each other"
expect marginal_vae_big_delta 5 "$agent" train --input "$heart/processed.va.data" \
  --schema "$heart/heart_disease.schema.toml" --model-out "$scratch/x.model" \
  --marginal-epsilon 1 --dp-delta 0.01
[ -e "$scratch/x.model" ] && { echo "FAIL: a refused training wrote a model"; failures=$((failures + 1)); }
# Posterior decoding is the default and the manifest says so; the noised code on request.
expect posterior 0 "$agent" --log-level warn release --model "$scratch/dp.model" \
  --input "$heart/processed.va.data" --out "$scratch/post.csv" --epsilon-d 1 --clip-radius 2
grep -q '"code_decoding": "posterior: ' "$scratch/post.csv.manifest.json" ||
  { echo "FAIL posterior: manifest lacks the code decoding"; failures=$((failures + 1)); }
expect noised 0 "$agent" --log-level warn release --model "$scratch/dp.model" \
  --input "$heart/processed.va.data" --out "$scratch/noised.csv" --epsilon-d 1 --clip-radius 2 \
  --code-decoding noised
grep -q '"code_decoding": "noised: ' "$scratch/noised.csv.manifest.json" ||
  { echo "FAIL noised: manifest lacks the code decoding"; failures=$((failures + 1)); }
[ -e "$scratch/x.csv" ] && { echo "FAIL: a refused release wrote output"; failures=$((failures + 1)); }

expect evaluate_too_big 3 "$agent" --log-level warn evaluate --input "$heart/processed.va.data" \
  --schema "$heart/heart_disease.schema.toml" --members 100 --test 50 --out "$scratch/eval.json"
expect_text evaluate_too_big err "the data has 200 records"
[ -e "$scratch/eval.json" ] && { echo "FAIL evaluate_too_big: report written"; failures=$((failures + 1)); }
expect evaluate_no_out 2 "$agent" evaluate --input "$heart/processed.va.data" --schema "$heart/heart_disease.schema.toml"
# Methods and targets by name only (an enumerator's number is not a method).
expect evaluate_method_number 2 "$agent" evaluate --out "$scratch/e.json" --methods 1
expect evaluate_unknown_target 2 "$agent" evaluate --out "$scratch/e.json" --target 0
expect evaluate 0 "$agent" --log-level warn evaluate --input "$heart/processed.va.data" \
  --schema "$heart/heart_disease.schema.toml" --members 30 --test 40 --seeds 1 --epsilons 4 \
  --methods real,paper --target-epochs 3 --vae-epochs 3 --shadow-models 2 --bootstrap 10 \
  --out "$scratch/eval.json"
expect_text evaluate out "STRONGEST ATTACK"
grep -q '"method": "paper"' "$scratch/eval.json" || { echo "FAIL evaluate: no paper run"; failures=$((failures + 1)); }

# The marginal generator: the whole job from a total budget; the manifest states it exactly.
expect marginals 0 "$agent" --log-level warn synthesize --generator marginals \
  --input "$heart/processed.cleveland.data" --schema "$heart/heart_disease.schema.toml" \
  --out "$scratch/m.csv" --epsilon 1 --delta 1e-4
expect_text marginals out "eps_total = 1.000000 per record, delta 0.0001"
grep -q '"epsilon_total_micros": 1000000' "$scratch/m.csv.manifest.json" ||
  { echo "FAIL marginals: manifest lacks the exact charge"; failures=$((failures + 1)); }
grep -q '"generator": "marginals"' "$scratch/m.csv.manifest.json" ||
  { echo "FAIL marginals: manifest lacks the generator"; failures=$((failures + 1)); }
rows=$(($(wc -l < "$scratch/m.csv") - 1))
want=$(grep -c . "$heart/processed.cleveland.data")
[ "$rows" -eq "$want" ] || { echo "FAIL marginals: $rows rows, wanted $want"; failures=$((failures + 1)); }
expect marginals_default_generator 0 "$agent" --log-level warn synthesize \
  --input "$heart/processed.cleveland.data" --schema "$heart/heart_disease.schema.toml" \
  --out "$scratch/m2.csv" --epsilon 2 --delta 1e-4 --rows 50
[ "$(wc -l < "$scratch/m2.csv")" -eq 51 ] || { echo "FAIL marginals --rows"; failures=$((failures + 1)); }
expect marginals_too_many_rows 2 "$agent" synthesize --input "$heart/processed.cleveland.data" \
  --schema "$heart/heart_disease.schema.toml" --out "$scratch/m3.csv" --epsilon 1 --rows 99999999999
expect marginals_no_epsilon 3 "$agent" synthesize --input "$heart/processed.cleveland.data" \
  --schema "$heart/heart_disease.schema.toml" --out "$scratch/m3.csv"
expect_text marginals_no_epsilon err "needs --epsilon"
expect marginals_vae_flag 3 "$agent" synthesize --input "$heart/processed.cleveland.data" \
  --schema "$heart/heart_disease.schema.toml" --out "$scratch/m3.csv" --epsilon 1 --epsilon-d 2
expect_text marginals_vae_flag err "belongs to --generator vae"
expect marginals_delta_too_large 5 "$agent" synthesize --input "$heart/processed.cleveland.data" \
  --schema "$heart/heart_disease.schema.toml" --out "$scratch/m3.csv" --epsilon 1 --delta 0.01
expect marginals_overwrites_input 3 "$agent" synthesize --input "$heart/processed.cleveland.data" \
  --schema "$heart/heart_disease.schema.toml" --out "$heart/processed.cleveland.data" --epsilon 1
[ -e "$scratch/m3.csv" ] && { echo "FAIL marginals: a refused run wrote output"; failures=$((failures + 1)); }
# One total budget on the VAE path: all of it to the model (trained on a private marginal
# model's samples), the release model-only; a split of one's own is refused beside it.
expect vae_total_budget 0 "$agent" --log-level warn synthesize --generator vae --epsilon 1 \
  --delta 1e-3 --input "$heart/processed.va.data" --schema "$heart/heart_disease.schema.toml" \
  --out "$scratch/vt.csv" --epochs 3
expect_text vae_total_budget out "eps_total = 1 per record, delta 0.001 (model 1, private training + release 0"
expect_text vae_total_budget out "the VAE never saw a record"
[ "$(wc -l < "$scratch/vt.csv")" -eq 201 ] || { echo "FAIL vae_total_budget rows"; failures=$((failures + 1)); }
expect vae_total_and_split 3 "$agent" synthesize --generator vae --epsilon 1 --epsilon-d 1 \
  --clip-radius 2 --input "$heart/processed.va.data" --schema "$heart/heart_disease.schema.toml" \
  --out "$scratch/vt2.csv"
expect_text vae_total_and_split err "gives the whole budget to the model"
expect vae_needs_mechanism 3 "$agent" synthesize --generator vae \
  --input "$heart/processed.cleveland.data" --schema "$heart/heart_disease.schema.toml" \
  --out "$scratch/m3.csv"
expect_text vae_needs_mechanism err "needs --epsilon-d and --clip-radius"
# utility: the marginal release scored on another hospital's records; clear errors otherwise.
expect utility 0 "$agent" utility --synthetic "$scratch/m.csv" \
  --real "$heart/processed.cleveland.data" --test "$heart/processed.hungarian.data" \
  --schema "$heart/heart_disease.schema.toml" --json "$scratch/utility.json"
expect_text utility out "predicts 'num' on 294 held-out real rows with accuracy 0\.[0-9]*, AUC 0\.[0-9]*"
expect_text utility out "2-way TVD mean 0\.[0-9]*"
grep -q '"trained_on_real"' "$scratch/utility.json" || { echo "FAIL utility: JSON"; failures=$((failures + 1)); }
expect utility_not_synthetic 3 "$agent" utility --synthetic "$heart/processed.va.data" \
  --real "$heart/processed.cleveland.data" --test "$heart/processed.hungarian.data" \
  --schema "$heart/heart_disease.schema.toml"
expect utility_missing_test 2 "$agent" utility --synthetic "$scratch/m.csv" \
  --real "$heart/processed.cleveland.data" --schema "$heart/heart_disease.schema.toml"
# submit: the generator follows --model; each generator refuses the other's options.
printf 'site_id = "x"\n' > "$scratch/site.toml"
expect submit_marginals_vae_flag 3 "$agent" submit --site-kit "$scratch/site.toml" --dataset heart \
  --generator marginals --input "$heart/processed.va.data" --schema "$heart/heart_disease.schema.toml" \
  --epsilon 1 --epsilon-d 1
expect submit_vae_marginal_flag 3 "$agent" submit --site-kit "$scratch/site.toml" --dataset heart \
  --model "$scratch/dp.model" --input "$heart/processed.va.data" --epsilon 1
expect_text submit_vae_marginal_flag err "belongs to --generator marginals"

cat > "$scratch/agent.toml" <<TOML
[synthesize]
input = "$heart/processed.switzerland.data"
schema = "$heart/heart_disease.schema.toml"
out = "$scratch/ch.csv"
generator = "vae"
epsilon-d = 1.0
clip-radius = 2.0
epochs = 3
allow-nonprivate-model = true
TOML
expect config_file 0 "$agent" --log-level warn --config "$scratch/agent.toml" synthesize
[ -s "$scratch/ch.csv" ] || { echo "FAIL config_file: no output"; failures=$((failures + 1)); }

# Audit jobs: --audit-job needs the site kit whose ledger holds the job; an unknown job is
# named. (The whole audited path runs in the federation demo: tests/coordinator/cli_test.sh.)
expect audit_job_without_kit 3 "$agent" train --input "$heart/processed.va.data" \
  --schema "$heart/heart_disease.schema.toml" --model-out "$scratch/x.model" --audit-job r-1
expect_text audit_job_without_kit err "needs --site-kit"
cat > "$scratch/site.toml" <<TOML
site_id = "va"
coordinator = "localhost:1"
ca = "$scratch/ca.pem"
cert = "$scratch/site.pem"
key = "$scratch/site.key"
ledger = "$scratch/ledger.db"
spool = "$scratch/spool"
[budgets]
heart = 10.0
TOML
expect unknown_audit_job 4 "$agent" train --input "$heart/processed.va.data" \
  --schema "$heart/heart_disease.schema.toml" --model-out "$scratch/x.model" --audit-job r-1 \
  --site-kit "$scratch/site.toml"
expect_text unknown_audit_job err "no audit job r-1"
expect audit_job_needs_dataset 2 "$agent" audit-job --site-kit "$scratch/site.toml"

echo "cli contract: $failures failure(s)"
[ "$failures" -eq 0 ]
