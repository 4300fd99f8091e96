#!/usr/bin/env bash
# The coordinator's command line through the real binaries: the federation demo (PKI, serve,
# four agents submitting at once), then the dashboard and export contracts.
# Usage: cli_test.sh SCRATCH_DIR   (FEDSYN_BUILD_DIR and FEDSYN_ROOT set by ctest)
set -u
scratch="$1"
coordinator="$FEDSYN_BUILD_DIR/coordinator/fedsyn-coordinator"
failures=0
mkdir -p "$(dirname "$scratch")"
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

if ! "$FEDSYN_ROOT/deploy/demo/federation-demo.sh" "$scratch" 3 > "$scratch.demo.log" 2>&1; then
  cat "$scratch.demo.log"; fail "federation demo"
fi
grep -q "exported 920 rows of heart" "$scratch.demo.log" || fail "export count"
[ "$(wc -l < "$scratch/pooled.csv")" -eq 921 ] || fail "pooled.csv should hold a header and 920 rows"
head -n 1 "$scratch/pooled.csv" | grep -q "^site,age,sex," || fail "pooled header"
[ "$(grep -c '^cleveland,' "$scratch/pooled.csv")" -eq 303 ] || fail "cleveland rows"
# va released noised codes and its DP decoder; the export decoded them into 200 records.
[ "$(grep -c '^va,' "$scratch/pooled.csv")" -eq 200 ] || fail "va rows decoded from codes"
grep -q "va:.*committed (codes)" "$scratch.demo.log" || fail "va submitted in codes mode"
grep -q "RELEASES" "$scratch.demo.log" || fail "status table"

# The demo has stopped the coordinator: the admin API is unreachable (exit 6) ...
admin=(--config "$scratch/coordinator.toml" --admin-cert "$scratch/pki/admins/operator.pem"
       --admin-key "$scratch/pki/admins/operator.key")
"$coordinator" --log-level off status "${admin[@]}" >/dev/null 2>&1; code=$?
[ "$code" -eq 6 ] || fail "status against a stopped coordinator: exit $code, wanted 6"
# ... and the read-only --db mode still answers.
"$coordinator" budgets --db "$scratch/coordinator.db" > "$scratch.budgets" || fail "budgets --db"
# Spent = release 6.001382 + the DP model's epsilon (<= 3, charged once): 9.00xxxx of 15.
grep -q "^va *heart *9\.00[0-9]* *15\.000000 *5\.99[0-9]*$" "$scratch.budgets" || { cat "$scratch.budgets"; fail "budgets table"; }
"$coordinator" releases --db "$scratch/coordinator.db" --json > "$scratch.releases.json" || fail "releases --json"
[ "$(grep -c '"state": "committed"' "$scratch.releases.json")" -eq 4 ] || fail "four committed releases in JSON"
[ "$(grep -c '"model_private": true' "$scratch.releases.json")" -eq 4 ] || fail "the demo's models are DP-trained"
[ "$(grep -c '"mode": "codes"' "$scratch.releases.json")" -eq 1 ] || fail "one codes-mode release in JSON"
"$coordinator" releases --db "$scratch/coordinator.db" | grep -q "DP-SGD" || fail "releases table shows the model's privacy"
"$coordinator" status --db "$scratch/coordinator.db" --json | grep -q '"rows": 303' || fail "status --json"
"$coordinator" status >/dev/null 2>&1; code=$?
[ "$code" -eq 2 ] || fail "status without a target: exit $code, wanted 2"
"$coordinator" export --config "$scratch/coordinator.toml" --dataset nope --out "$scratch/x.csv" >/dev/null 2>&1; code=$?
[ "$code" -eq 4 ] || fail "export of an unknown dataset: exit $code, wanted 4"

echo "coordinator cli: $failures failure(s)"
[ "$failures" -eq 0 ]
