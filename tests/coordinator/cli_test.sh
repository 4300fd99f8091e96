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

if ! "$FEDSYN_ROOT/deploy/demo/federation-demo.sh" "$scratch" > "$scratch.demo.log" 2>&1; then
  cat "$scratch.demo.log"; fail "federation demo"
fi
# Every 5th record of each hospital is held out: 243 + 236 + 99 + 160 rows are released.
grep -q "exported 738 rows of heart" "$scratch.demo.log" || fail "export count"
[ "$(wc -l < "$scratch/pooled.csv")" -eq 739 ] || fail "pooled.csv should hold a header and 738 rows"
head -n 1 "$scratch/pooled.csv" | grep -q "^site,age,sex," || fail "pooled header"
[ "$(grep -c '^cleveland,' "$scratch/pooled.csv")" -eq 243 ] || fail "cleveland rows"
[ "$(grep -c '^va,' "$scratch/pooled.csv")" -eq 160 ] || fail "va rows"
[ "$(cat "$scratch"/heldout/*.csv | wc -l)" -eq 182 ] || fail "182 held-out records"
[ "$(grep -c "committed (marginals, model-only)" "$scratch.demo.log")" -eq 4 ] || fail "four marginal releases"
grep -q "RELEASES" "$scratch.demo.log" || fail "status table"
# Every site opened an audit job, measured its records with its included canaries and revealed;
# the coordinator judged all four (an honest mechanism at a claimed 3: within the claim).
[ "$(grep -c "100 canaries (50 pairs, one of each included), inclusion committed" "$scratch.demo.log")" -eq 4 ] || fail "four audit jobs"
grep -q "dataset heart: 4 release(s) judged, 0 failed" "$scratch.demo.log" || fail "audit run verdicts"
grep -q "1 passed, 0 failed, 0 pending" "$scratch.demo.log" || fail "status table's audit column"
grep -q "(0 canary rows left out)" "$scratch.demo.log" || fail "a model-only release has no canary rows"
[ -s "$scratch/audit/heart-audit.json" ] || fail "JSON audit report"
grep -q "<svg" "$scratch/audit/heart-audit.html" || fail "HTML audit report with inline plots"
# The one line on what the pooled data is good for, and its figures.
grep -q "^trained on these 738 synthetic rows, a logistic regression predicts 'num' on 182 held-out real rows with accuracy 0\.[0-9]*, AUC" "$scratch.demo.log" || fail "utility line"
grep -q '"format": "fedsyn-utility-check"' "$scratch/utility.json" || fail "utility JSON"

# --check-config: the demo's configuration and its TLS files pass (exit 0, nothing served);
# a coordinator key readable by others and a misspelt key are reported by name (exit 3); the
# site kit the same way through the agent.
agent="$FEDSYN_BUILD_DIR/site_agent/fedsyn-agent"
"$coordinator" serve --config "$scratch/coordinator.toml" --check-config > "$scratch.check" 2>&1 \
  || { cat "$scratch.check"; fail "check-config of the demo's config"; }
grep -q "coordinator.toml: ok$" "$scratch.check" || fail "check-config says ok"
chmod 644 "$scratch/pki/coordinator.key"
"$coordinator" serve --config "$scratch/coordinator.toml" --check-config > "$scratch.check" 2>&1; code=$?
[ "$code" -eq 3 ] || fail "check-config with a key others can read: exit $code, wanted 3"
grep -q "private key .*coordinator.key is readable by others (mode 644)" "$scratch.check" || fail "key mode named"
chmod 600 "$scratch/pki/coordinator.key"
sed 's/^listen = /lisen = /' "$scratch/coordinator.toml" > "$scratch/misspelt.toml"
"$coordinator" serve --config "$scratch/misspelt.toml" --check-config > "$scratch.check" 2>&1; code=$?
[ "$code" -eq 3 ] || fail "check-config with a misspelt key: exit $code, wanted 3"
grep -q "misspelt.toml:1: unknown key 'lisen'" "$scratch.check" || fail "misspelt key named"
{ echo "idle_timeout_seconds = 0"; cat "$scratch/coordinator.toml"; } > "$scratch/no-timeout.toml"
"$coordinator" serve --config "$scratch/no-timeout.toml" --check-config > "$scratch.check" 2>&1; code=$?
[ "$code" -eq 3 ] || fail "check-config with a zero idle timeout: exit $code, wanted 3"
grep -q "idle_timeout_seconds must be in 1..86400" "$scratch.check" || fail "timeout range named"
"$agent" heartbeat --site-kit "$scratch/pki/sites/va/site.toml" --check-config > "$scratch.check" 2>&1 \
  || { cat "$scratch.check"; fail "agent check-config of a demo site kit"; }
cp "$scratch/pki/ca.pem" "$scratch/pki/sites/va/ca.pem.keep"
cp "$scratch/pki/sites/va/site.pem" "$scratch/pki/sites/va/ca.pem"  # not the CA that signed it
"$agent" heartbeat --site-kit "$scratch/pki/sites/va/site.toml" --check-config > "$scratch.check" 2>&1; code=$?
mv "$scratch/pki/sites/va/ca.pem.keep" "$scratch/pki/sites/va/ca.pem"
[ "$code" -eq 3 ] || fail "agent check-config with the wrong CA: exit $code, wanted 3"
grep -q "site.pem is not signed by the CA" "$scratch.check" || fail "wrong CA named"

# The demo has stopped the coordinator: the admin API is unreachable (exit 6) ...
admin=(--config "$scratch/coordinator.toml" --admin-cert "$scratch/pki/admins/operator.pem"
       --admin-key "$scratch/pki/admins/operator.key")
"$coordinator" --log-level off status "${admin[@]}" >/dev/null 2>&1; code=$?
[ "$code" -eq 6 ] || fail "status against a stopped coordinator: exit $code, wanted 6"
# ... and the read-only --db mode still answers.
"$coordinator" budgets --db "$scratch/coordinator.db" > "$scratch.budgets" || fail "budgets --db"
# Spent = the marginal model's epsilon, 3 (nothing per record): 3 of 15.
grep -q "^va *heart *3\.000000 *15\.000000 *12\.000000$" "$scratch.budgets" || { cat "$scratch.budgets"; fail "budgets table"; }
# Each site's certificate as last seen: serial (the CA's index names it) and expiry; with a
# warning window longer than the certificates' 825 days every one is marked.
"$coordinator" sites --db "$scratch/coordinator.db" > "$scratch.sites" || fail "sites --db"
serial=$(awk -F'\t' '$6 == "/O=fedsyn/OU=site/CN=va" { print $4 }' "$scratch/pki/ca/index.txt")
grep -q "^va .* $serial  *20[0-9-]* [0-9:]*Z *$" "$scratch.sites" || { cat "$scratch.sites"; fail "sites: va's serial and expiry"; }
[ "$("$coordinator" sites --db "$scratch/coordinator.db" --warn-days 3650 | grep -c "EXPIRES in 8[0-9][0-9] days: rotate it")" -eq 4 ] \
  || fail "sites --warn-days marks certificates expiring within the window"
"$coordinator" sites --db "$scratch/coordinator.db" --json --warn-days 3650 > "$scratch.sites.json" || fail "sites --json"
[ "$(grep -c '"expiring_soon": true' "$scratch.sites.json")" -eq 4 ] || fail "sites --json: expiring_soon"
"$coordinator" sites --db "$scratch/coordinator.db" --warn-days -1 >/dev/null 2>&1; code=$?
[ "$code" -eq 2 ] || fail "sites --warn-days -1: exit $code, wanted 2"
"$coordinator" releases --db "$scratch/coordinator.db" --json > "$scratch.releases.json" || fail "releases --json"
[ "$(grep -c '"state": "committed"' "$scratch.releases.json")" -eq 4 ] || fail "four committed releases in JSON"
[ "$(grep -c '"model_private": true' "$scratch.releases.json")" -eq 4 ] || fail "the demo's models are private"
[ "$(grep -c '"mode": "model-only"' "$scratch.releases.json")" -eq 4 ] || fail "four model-only releases in JSON"
"$coordinator" releases --db "$scratch/coordinator.db" | grep -q " private " || fail "releases table shows the model's privacy"
"$coordinator" status --db "$scratch/coordinator.db" --json | grep -q '"passed": 1' || fail "status --json (audits)"
"$coordinator" status >/dev/null 2>&1; code=$?
[ "$code" -eq 2 ] || fail "status without a target: exit $code, wanted 2"
"$coordinator" export --config "$scratch/coordinator.toml" --dataset nope --out "$scratch/x.csv" >/dev/null 2>&1; code=$?
[ "$code" -eq 4 ] || fail "export of an unknown dataset: exit $code, wanted 4"

# Audits from the dashboard.
"$coordinator" audit list --db "$scratch/coordinator.db" > "$scratch.audits" || fail "audit list"
[ "$(grep -c " passed$" "$scratch.audits")" -eq 4 ] || { cat "$scratch.audits"; fail "audit list: four passed"; }
release=$(awk 'NR == 2 {print $1}' "$scratch.audits")
"$coordinator" audit show "$release" --db "$scratch/coordinator.db" > "$scratch.show.json" || fail "audit show"
grep -q '"empirical_lower_bound"' "$scratch.show.json" || fail "audit show carries the verdict"
"$coordinator" audit show nope --db "$scratch/coordinator.db" >/dev/null 2>&1; code=$?
[ "$code" -eq 4 ] || fail "audit show of an unknown release: exit $code, wanted 4"
"$coordinator" releases --db "$scratch/coordinator.db" | grep -q " passed " || fail "releases table: audit column"
"$coordinator" audit run --config "$scratch/coordinator.toml" | grep -q "nothing to judge" || fail "verdicts are final"
"$coordinator" audit list >/dev/null 2>&1; code=$?
[ "$code" -eq 2 ] || fail "audit list without a target: exit $code, wanted 2"
# Approvals are recorded with who and why; a second one is refused.
"$coordinator" release approve "$release" --config "$scratch/coordinator.toml" >/dev/null 2>&1; code=$?
[ "$code" -eq 2 ] || fail "approve without --reason: exit $code, wanted 2"
"$coordinator" release approve "$release" --reason "reviewed" --by alice --config "$scratch/coordinator.toml" \
  | grep -q "approved for export by alice" || fail "approve"
"$coordinator" release approve "$release" --reason "again" --by bob --config "$scratch/coordinator.toml" >/dev/null 2>&1; code=$?
[ "$code" -ne 0 ] || fail "a second approval must be refused"
"$coordinator" audit show "$release" --db "$scratch/coordinator.db" | grep -q '"by": "alice"' || fail "approval shown"
"$coordinator" release approve nope --reason x --by alice --config "$scratch/coordinator.toml" >/dev/null 2>&1; code=$?
[ "$code" -eq 4 ] || fail "approve of an unknown release: exit $code, wanted 4"

echo "coordinator cli: $failures failure(s)"
[ "$failures" -eq 0 ]
