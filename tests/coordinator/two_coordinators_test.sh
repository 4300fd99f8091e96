#!/usr/bin/env bash
# Two `fedsyn-coordinator serve` processes on one PostgreSQL database, through the real binaries
# (docs/federation.md, "Two coordinators behind one address"): a throwaway cluster, two
# coordinators with the same coordinator.toml but their own ports, four agents releasing at once
# (two through each), one killed coordinator whose site resumes through the other, `budgets` and
# `export` read through either configuration giving the same figures and rows.
# Usage: two_coordinators_test.sh SCRATCH_DIR   (FEDSYN_BUILD_DIR and FEDSYN_ROOT set by ctest)
# Exit 77 (skipped) where PostgreSQL is not installed.
set -u
scratch="$1"
coordinator="$FEDSYN_BUILD_DIR/coordinator/fedsyn-coordinator"
agent="$FEDSYN_BUILD_DIR/site_agent/fedsyn-agent"
pki="$FEDSYN_ROOT/deploy/pki/pki.sh"
demo="$FEDSYN_ROOT/deploy/demo/heart_disease_uci"
sites=(cleveland hungarian switzerland va)
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# shellcheck source=../support/postgres_cluster.sh
. "$FEDSYN_ROOT/tests/support/postgres_cluster.sh"
rm -rf "$scratch"
mkdir -p "$scratch"
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  pg_cluster_stop
}
trap cleanup EXIT
pg_cluster_start "$scratch"
code=$?
[ "$code" -eq 0 ] || exit "$code"
database="$pg_database_uri"

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  exit 1
}
ports=()
while [ "${#ports[@]}" -lt 4 ]; do
  p=$(free_port)
  [[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
done

"$pki" init "$scratch/pki" >/dev/null
"$pki" coordinator "$scratch/pki" localhost >/dev/null
"$pki" admin "$scratch/pki" operator >/dev/null
for i in "${!sites[@]}"; do
  # Sites 0 and 2 talk to coordinator A, 1 and 3 to coordinator B.
  "$pki" site "$scratch/pki" "${sites[$i]}" "localhost:${ports[$((i % 2 * 2))]}" >/dev/null
  echo "heart = 20.0" >> "$scratch/pki/sites/${sites[$i]}/site.toml"
done
cp "$demo/heart_disease.schema.toml" "$scratch/"
for name in a b; do
  if [ "$name" = a ]; then site_port=${ports[0]} admin_port=${ports[1]}; else site_port=${ports[2]} admin_port=${ports[3]}; fi
  {
    echo "listen = \"127.0.0.1:$site_port\""
    echo "admin_listen = \"127.0.0.1:$admin_port\""
    echo "database = \"$database\""
    echo 'ca = "pki/ca.pem"'
    echo 'cert = "pki/coordinator.pem"'
    echo 'key = "pki/coordinator.key"'
    echo '[[dataset]]'
    echo 'name = "heart"'
    echo 'schema = "heart_disease.schema.toml"'
    for site in "${sites[@]}"; do printf '[[site]]\nid = "%s"\nbudgets = { heart = 15.0 }\n' "$site"; done
  } > "$scratch/coordinator-$name.toml"
done

"$coordinator" serve --config "$scratch/coordinator-a.toml" --check-config > "$scratch/check.log" 2>&1 \
  || { cat "$scratch/check.log"; fail "check-config with a reachable PostgreSQL"; }
sed "s|^database = .*|database = \"postgresql:///federation?host=$pg_dir/nowhere\&port=5432\&user=fedsyn\"|" \
  "$scratch/coordinator-a.toml" > "$scratch/unreachable.toml"
"$coordinator" serve --config "$scratch/unreachable.toml" --check-config > "$scratch/check.log" 2>&1; code=$?
[ "$code" -eq 3 ] || fail "check-config with an unreachable database: exit $code, wanted 3"
grep -q "database: cannot connect" "$scratch/check.log" || { cat "$scratch/check.log"; fail "unreachable database named"; }

start() {  # start coordinator $1 (a or b); its pid in coordinator_pid
  "$coordinator" --log-level warn serve --config "$scratch/coordinator-$1.toml" \
    >> "$scratch/coordinator-$1.log" 2>&1 &
  coordinator_pid=$!
  pids+=("$coordinator_pid")
  for _ in $(seq 1 100); do
    "$coordinator" --log-level off budgets --config "$scratch/coordinator-$1.toml" \
      --admin-cert "$scratch/pki/admins/operator.pem" --admin-key "$scratch/pki/admins/operator.key" \
      >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "coordinator $1 did not start"; cat "$scratch/coordinator-$1.log"
}
start a; pid_a=$coordinator_pid
start b

submit() {  # submit SITE [extra agent options...]
  local site=$1; shift
  "$agent" --log-level warn submit --site-kit "$scratch/pki/sites/$site/site.toml" --dataset heart \
    --generator marginals --input "$demo/processed.$site.data" \
    --schema "$demo/heart_disease.schema.toml" --epsilon 3 "$@" > "$scratch/$site.submit.log" 2>&1
}
# Four releases at once, two through each coordinator.
submit_pids=()
for site in "${sites[@]}"; do submit "$site" & submit_pids+=($!); done
for i in "${!submit_pids[@]}"; do
  wait "${submit_pids[$i]}" || { cat "$scratch/${sites[$i]}.submit.log"; fail "${sites[$i]} submit"; }
done
[ "$(cat "$scratch"/*.submit.log | grep -c "committed (marginals, model-only)")" -eq 4 ] || fail "four committed releases"

# Coordinator A dies (kill -9). Its sites' kits now name B (as a shared address would), and a
# second release of cleveland goes through B; the ledger B sees is the one A wrote.
kill -9 "$pid_a"; wait "$pid_a" 2>/dev/null
sed -i "s|localhost:${ports[0]}|localhost:${ports[2]}|" "$scratch/pki/sites/cleveland/site.toml"
submit cleveland || { cat "$scratch/cleveland.submit.log"; fail "cleveland through B after A died"; }
grep -q "charged 3.000000 epsilon, 9.000000 remaining at the coordinator" "$scratch/cleveland.submit.log" \
  || { cat "$scratch/cleveland.submit.log"; fail "B charged cleveland's second release on top of the first (A's)"; }
start a  # A comes back on the same database

# Both configurations read the same ledger and export the same rows.
for name in a b; do
  "$coordinator" budgets --config "$scratch/coordinator-$name.toml" > "$scratch/budgets-$name.txt" \
    || fail "budgets through $name"
done
cmp -s "$scratch/budgets-a.txt" "$scratch/budgets-b.txt" || fail "budgets differ between a and b"
grep -q "^cleveland *heart *6\.000000 *15\.000000 *9\.000000$" "$scratch/budgets-a.txt" \
  || { cat "$scratch/budgets-a.txt"; fail "cleveland spent 6 of 15"; }
"$coordinator" releases --config "$scratch/coordinator-b.toml" --json > "$scratch/releases.json" || fail "releases"
[ "$(grep -c '"state": "committed"' "$scratch/releases.json")" -eq 5 ] || fail "five committed releases"
admin_b=(--config "$scratch/coordinator-b.toml" --admin-cert "$scratch/pki/admins/operator.pem"
         --admin-key "$scratch/pki/admins/operator.key")
for release in $(sed -n 's/.*"release": "\([^"]*\)".*/\1/p' "$scratch/releases.json"); do
  "$coordinator" release approve "$release" --reason "two-coordinator test" --by operator \
    --config "$scratch/coordinator-a.toml" >/dev/null || fail "approve $release"
done
for name in a b; do
  "$coordinator" export --config "$scratch/coordinator-$name.toml" --dataset heart \
    --out "$scratch/pooled-$name.csv" --with-site-column > "$scratch/export-$name.log" || fail "export through $name"
  sort "$scratch/pooled-$name.csv" > "$scratch/pooled-$name.sorted"
done
cmp -s "$scratch/pooled-a.sorted" "$scratch/pooled-b.sorted" || fail "the exports hold different rows"
# 303 + 294 + 123 + 200 rows, cleveland twice.
[ "$(wc -l < "$scratch/pooled-a.csv")" -eq $((1 + 303 * 2 + 294 + 123 + 200)) ] \
  || fail "pooled rows: $(wc -l < "$scratch/pooled-a.csv")"
"$coordinator" --log-level off status "${admin_b[@]}" > "$scratch/status.txt" || fail "status through b's admin port"

echo "two coordinators: $failures failure(s)"
[ "$failures" -eq 0 ]
