#!/usr/bin/env bash
# The federation demo on one machine: a demo CA and four hospital site kits in a fresh folder,
# the coordinator and the four UCI Heart Disease hospital agents on 127.0.0.1, one audited
# release per site (100 canaries each, docs/audits.md), the coordinator's audit run and its
# reports, the dashboard's status table, the pooled export of the releases that passed, and one
# line on what the pooled data is good for. Stops the coordinator on exit and on Ctrl-C.
#
#   federation-demo.sh OUT_DIR [EPSILON]     (binaries from $FEDSYN_BUILD_DIR or ./build)
#
# Each hospital keeps every 5th record aside (the held-out real rows the pooled data is judged
# on; they are never released) and releases the rest through the marginal generator — the best
# honest configuration measured on Adult (docs/results/utility-adult.md): a private graphical
# model of noisy marginals at EPSILON (default 3; replace-one, delta min(1e-6, 1/(10n))), sampled
# as many rows as the hospital's input. That epsilon is each release's whole guarantee.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:?output folder}"
epsilon="${2:-3}"
build="${FEDSYN_BUILD_DIR:-$root/build}"
agent="$build/site_agent/fedsyn-agent"
coordinator="$build/coordinator/fedsyn-coordinator"
pki="$root/deploy/pki/pki.sh"
demo="$root/deploy/demo/heart_disease_uci"
sites=(cleveland hungarian switzerland va)

free_port() {  # a port nobody listens on, from the ephemeral range
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  echo "federation-demo: no free port found" >&2; exit 1
}

# The line of FILE matching PATTERN (a command's result line), else its first line: a warning
# the program printed before it (say, a sanitizer build's) must not hide the result.
first_line() { grep -m 1 -e "$1" "$2" || head -n 1 "$2"; }

rm -rf "$out"
mkdir -p "$out"
site_port=$(free_port)
admin_port=$(free_port)
while [ "$admin_port" = "$site_port" ]; do admin_port=$(free_port); done

echo "== provisioning a demo CA, the coordinator, an operator and four site kits in $out/pki"
"$pki" init "$out/pki" >/dev/null
"$pki" coordinator "$out/pki" localhost >/dev/null
"$pki" admin "$out/pki" operator >/dev/null
for site in "${sites[@]}"; do
  "$pki" site "$out/pki" "$site" "localhost:$site_port" >/dev/null
  echo "heart = 20.0" >> "$out/pki/sites/$site/site.toml"   # the site's own limit
done
cp "$demo/heart_disease.schema.toml" "$out/heart_disease.schema.toml"
cat > "$out/coordinator.toml" <<TOML
listen = "127.0.0.1:$site_port"
admin_listen = "127.0.0.1:$admin_port"
database = "coordinator.db"
ca = "pki/ca.pem"
cert = "pki/coordinator.pem"
key = "pki/coordinator.key"
crl = "pki/crl.pem"               # revocations (pki.sh revoke/rotate/crl), re-read when it changes

[[dataset]]
name = "heart"
schema = "heart_disease.schema.toml"
audit_canaries = 100
TOML
for site in "${sites[@]}"; do
  printf '\n[[site]]\nid = "%s"\nbudgets = { heart = 15.0 }\n' "$site" >> "$out/coordinator.toml"
done

echo "== starting the coordinator (sites: 127.0.0.1:$site_port, admins: 127.0.0.1:$admin_port)"
"$coordinator" --log-level warn serve --config "$out/coordinator.toml" > "$out/coordinator.log" 2>&1 &
coordinator_pid=$!
presence_pids=()
cleanup() {
  kill "${presence_pids[@]}" "$coordinator_pid" 2>/dev/null || true
  wait "${presence_pids[@]}" "$coordinator_pid" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
admin=(--config "$out/coordinator.toml" --admin-cert "$out/pki/admins/operator.pem" --admin-key "$out/pki/admins/operator.key")
for _ in $(seq 1 100); do
  "$coordinator" --log-level off budgets "${admin[@]}" >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== the four agents connect (heartbeats keep them present on the dashboard)"
for site in "${sites[@]}"; do
  "$agent" --log-level warn heartbeat --site-kit "$out/pki/sites/$site/site.toml" --interval 1 \
    > "$out/$site.heartbeat.log" 2>&1 &
  presence_pids+=($!)
done

echo "== each hospital keeps every 5th record aside (never released: the held-out test rows) and"
echo "   opens a canary audit job: its secretly included canaries join the records it measures"
mkdir -p "$out/records" "$out/heldout"
declare -A job
for site in "${sites[@]}"; do
  kit="$out/pki/sites/$site/site.toml"
  awk 'NR % 5 != 0' "$demo/processed.$site.data" > "$out/records/$site.csv"
  awk 'NR % 5 == 0' "$demo/processed.$site.data" > "$out/heldout/$site.csv"
  "$agent" --log-level warn audit-job --site-kit "$kit" --dataset heart > "$out/$site.audit-job.log"
  job[$site]=$(sed -n 's/^audit job \([^:]*\):.*/\1/p' "$out/$site.audit-job.log")
  echo "   $site: $(first_line "^audit job " "$out/$site.audit-job.log")"
done

echo "== the four agents release into the federation at once: each fits a private marginal model at"
echo "   epsilon $epsilon to its records and sends samples of it"
pids=()
for site in "${sites[@]}"; do
  "$agent" --log-level warn submit --site-kit "$out/pki/sites/$site/site.toml" --dataset heart \
    --generator marginals --input "$out/records/$site.csv" --schema "$demo/heart_disease.schema.toml" \
    --epsilon "$epsilon" --audit-job "${job[$site]}" > "$out/$site.submit.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then
    echo "   ${sites[$i]}: $(first_line "^release " "$out/${sites[$i]}.submit.log")"
  else
    echo "   ${sites[$i]}: FAILED"; cat "$out/${sites[$i]}.submit.log"; failed=1
  fi
done

echo
echo "== the coordinator audits what it received: canaries scored against each release, an"
echo "   attack on a model trained on the pooled data, verdicts held against the claimed epsilon"
"$coordinator" --log-level warn audit run --config "$out/coordinator.toml" --report-dir "$out/audit"
echo
"$coordinator" --log-level warn status "${admin[@]}"
echo
"$coordinator" --log-level warn releases "${admin[@]}"
echo
"$coordinator" --log-level warn export --config "$out/coordinator.toml" --dataset heart \
  --out "$out/pooled.csv" --with-site-column
echo "Pooled synthetic data: $out/pooled.csv"
echo
echo "== what the pooled data is good for, judged on the held-out real records"
cut -d, -f2- "$out/pooled.csv" > "$out/pooled-records.csv"   # without the site column
"$agent" --log-level warn utility --synthetic "$out/pooled-records.csv" \
  --real "$out"/records/*.csv --test "$out"/heldout/*.csv \
  --schema "$demo/heart_disease.schema.toml" --json "$out/utility.json"
exit "$failed"
