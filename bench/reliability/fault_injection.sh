#!/usr/bin/env bash
# Fault injection (issue #16): kill -9 the agent at a random point of a release, and the
# coordinator at a random point of a release's reservation, upload or commit, K times each.
# After each case it restarts what was killed, lets the agent resume, and checks:
#   1. both databases pass PRAGMA integrity_check (a PostgreSQL coordinator: pg_amcheck, every
#      table and B-tree index, heapallindexed);
#   2. nothing is left pending at the site; every release the coordinator knows is committed on
#      both sides, or reserved there and abandoned at the site (charged, never pooled); every
#      release the site settled as refused is unknown to the coordinator;
#   3. each release id carries the same charge on both ledgers, and the coordinator's spent
#      counter equals the sum of its releases' charges (charged exactly once; the site's spent
#      total is computed from its releases);
#   4. each committed release's stored rows hash to its committed SHA-256 and are the bytes the
#      site spooled; the pooled export holds exactly the committed rows.
# Each case appends a line to OUT/history.tsv (mode, delay, the phase the kill hit, verdict);
# the summary counts phases and failures. Exit 0 only if every case passed.
#
# Usage: bench/reliability/fault_injection.sh [--postgres] [K] [OUT] [DATA SCHEMA]
#   --postgres: the coordinator keeps its ledger on PostgreSQL (a throwaway cluster started for
#   the run, tests/support/postgres_cluster.sh) instead of SQLite; the site ledger is SQLite as
#   always. Exit 77 where PostgreSQL is not installed.
#   K: cases per mode (default 200); OUT: work folder (default a fresh one under /tmp);
#   DATA, SCHEMA: records to release and their schema (default: the Cleveland hospital's 303
#   records, one upload chunk; Adult's deploy/demo/adult/adult.data and adult.schema.toml give
#   four chunks of 1 MiB, so kills land between chunks too, at about 4 s a release).
# FEDSYN_BUILD_DIR: where the binaries are (default build/).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
backend=sqlite
if [ "${1:-}" = --postgres ]; then backend=postgres; shift; fi
build="${FEDSYN_BUILD_DIR:-$root/build}"
cases="${1:-200}"
out="${2:-$(mktemp -d /tmp/fedsyn-faults.XXXXXX)}"
data="${3:-$root/deploy/demo/heart_disease_uci/processed.cleveland.data}"
schema="${4:-$root/deploy/demo/heart_disease_uci/heart_disease.schema.toml}"
agent="$build/site_agent/fedsyn-agent"
coordinator="$build/coordinator/fedsyn-coordinator"
die() { echo "fault_injection: $*" >&2; exit 2; }
[ -x "$agent" ] && [ -x "$coordinator" ] || die "build first (deploy/build.sh)"
command -v sqlite3 >/dev/null || die "needs the sqlite3 command (apt-get install sqlite3)"
mkdir -p "$out"
rm -rf "$out/pki" "$out"/*.db* "$out/spool" "$out/history.tsv" "$out/export.csv" "$out"/*.log \
  "$out"/*.csv

# The coordinator's database, and the few things the checker needs from it: cq runs one query
# (SQLite's or PostgreSQL's dialect, as written at the call), hex_rows is a chunk's rows as
# upper-case hex, coordinator_integrity prints "ok" or what is broken, and coordinator_snapshot
# names a SQLite file holding the coordinator's releases and budgets, for joins with the site's
# ledger (the database itself for SQLite; a copy read through psql for PostgreSQL).
cdb="$out/coordinator.db"
if [ "$backend" = postgres ]; then
  # shellcheck source=../../tests/support/postgres_cluster.sh
  . "$root/tests/support/postgres_cluster.sh"
  trap pg_cluster_stop EXIT
  pg_cluster_start "$out"
  code=$?
  [ "$code" -eq 0 ] || exit "$code"
  database="$pg_database_uri"
  cq() { pg_psql -c "$1"; }
  hex_rows="upper(encode(rows, 'hex'))"
  coordinator_integrity() {
    pg_client pg_amcheck --install-missing --heapallindexed --database federation \
      > "$out/amcheck.log" 2>&1 && echo ok || echo "pg_amcheck: see $out/amcheck.log"
  }
  coordinator_snapshot() {
    local snap="$out/coordinator-snapshot.db"
    rm -f "$snap"
    pg_psql -c "COPY (SELECT release_id, status, charge_micros, model_charge_micros FROM releases)
      TO STDOUT WITH (FORMAT csv)" > "$out/snapshot-releases.csv"
    pg_psql -c "COPY (SELECT spent_micros FROM budgets) TO STDOUT WITH (FORMAT csv)" \
      > "$out/snapshot-budgets.csv"
    sqlite3 -batch "$snap" "CREATE TABLE releases (release_id TEXT, status TEXT,
        charge_micros INTEGER, model_charge_micros INTEGER);
      CREATE TABLE budgets (spent_micros INTEGER);" \
      ".import --csv $out/snapshot-releases.csv releases" \
      ".import --csv $out/snapshot-budgets.csv budgets"
    echo "$snap"
  }
else
  database="coordinator.db"
  cq() { q "$cdb" "$1"; }
  hex_rows="hex(rows)"
  coordinator_integrity() { cq "PRAGMA integrity_check;"; }
  coordinator_snapshot() { echo "$cdb"; }
fi

# A one-site federation on free loopback ports.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
site_port=$(port)
admin_port=$(port)
pki="$out/pki"
for s in "init $pki" "coordinator $pki localhost" "admin $pki operator" \
  "site $pki hospital localhost:$site_port"; do
  bash "$root/deploy/pki/pki.sh" $s >/dev/null || die "pki.sh $s"
done
cat > "$out/coordinator.toml" <<TOML
listen = "127.0.0.1:$site_port"
admin_listen = "127.0.0.1:$admin_port"
database = "$database"
ca = "pki/ca.pem"
cert = "pki/coordinator.pem"
key = "pki/coordinator.key"

[[dataset]]
name = "records"
schema = "$schema"

[[site]]
id = "hospital"
budgets = { records = 100000.0 }
TOML
kit="$pki/sites/hospital/site.toml"
sed -i -e "s|^ledger = .*|ledger = \"$out/site-ledger.db\"|" -e "s|^spool = .*|spool = \"$out/spool\"|" \
  -e 's/^# heart = .*/records = 100000.0/' "$kit"
sdb="$out/site-ledger.db"

coordinator_pid=""
start_coordinator() {
  "$coordinator" --log-level warn serve --config "$out/coordinator.toml" >>"$out/coordinator.log" 2>&1 &
  coordinator_pid=$!
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$site_port") 2>/dev/null && return 0
    sleep 0.05
  done
  die "the coordinator did not start (see $out/coordinator.log)"
}
# A release; its debug lines ("release r-…: …") mark each step. Started directly (not from a
# function, which would run in a subshell whose kill would orphan the agent).
submit=("$agent" --log-level debug submit --site-kit "$kit" --dataset records
  --generator marginals --input "$data" --schema "$schema" --epsilon 1)
resume() {  # until nothing is pending (the coordinator may still be starting)
  for _ in $(seq 1 20); do
    "$agent" --log-level warn resume --site-kit "$kit" >>"$out/agent.log" 2>&1 && return 0
    sleep 0.2
  done
  return 1
}
q() { sqlite3 -batch -noheader "$1" "$2"; }

# The invariants above; prints the first one broken, or nothing. The rows of releases past
# rowid $1 are hashed (this case's); with "all", every release's, and the export is compared too
# (done every 25 cases and at the end: the pool grows with every case).
check() {
  local since="$1" scope="${2:-}"
  local ic
  ic=$(q "$sdb" "PRAGMA integrity_check;")
  [ "$ic" = ok ] || { echo "integrity_check of the site ledger: $ic"; return; }
  ic=$(coordinator_integrity)
  [ "$ic" = ok ] || { echo "integrity check of the coordinator's database: $ic"; return; }
  local pending
  pending=$(q "$sdb" "SELECT release_id || ' ' || state FROM releases
    WHERE state NOT IN ('committed', 'refused', 'abandoned');")
  [ -z "$pending" ] || { echo "left pending at the site: $pending"; return; }
  q "$sdb" "ATTACH '$(coordinator_snapshot)' AS c;
    SELECT 'coordinator has ' || r.release_id || ' as ' || r.status || ', the site as ' ||
           COALESCE(s.state, 'nothing')
      FROM c.releases r LEFT JOIN releases s ON s.release_id = r.release_id
     WHERE NOT ((r.status = 'committed' AND s.state = 'committed') OR
                (r.status = 'reserved' AND s.state = 'abandoned'));
    SELECT 'the site settled ' || s.release_id || ' as ' || s.state || ' but the coordinator has ' ||
           COALESCE(r.status, 'nothing')
      FROM releases s LEFT JOIN c.releases r ON r.release_id = s.release_id
     WHERE (s.state = 'refused') <> (r.release_id IS NULL);
    SELECT 'charges differ for ' || s.release_id
      FROM releases s JOIN c.releases r ON r.release_id = s.release_id
     WHERE s.charge_micros + s.model_charge_micros <> r.charge_micros + r.model_charge_micros;
    SELECT 'coordinator spent ' || b.spent_micros || ' but its releases sum to ' ||
           (SELECT COALESCE(SUM(charge_micros + model_charge_micros), 0) FROM c.releases)
      FROM c.budgets b
     WHERE b.spent_micros <> (SELECT COALESCE(SUM(charge_micros + model_charge_micros), 0)
                                FROM c.releases);" | head -n 1 | grep . && return
  local id want got rows
  local filter=""
  [ "$scope" = all ] || filter="AND release_id IN ($(q "$sdb" "SELECT quote(release_id) FROM releases
    WHERE rowid > $since;" | paste -sd, | sed 's/^$/NULL/'))"
  for id in $(cq "SELECT release_id FROM releases WHERE status = 'committed' $filter;"); do
    want=$(cq "SELECT sha256 FROM releases WHERE release_id = '$id';")
    got=$(cq "SELECT $hex_rows FROM chunks WHERE release_id = '$id' ORDER BY idx;" \
      | tr -d '\n' | basenc --base16 -d | sha256sum | cut -d' ' -f1)
    [ "$got" = "$want" ] || { echo "release $id: stored rows hash to $got, committed $want"; return; }
    local spool  # the site's spooled file: a header line, then the rows it uploaded
    spool=$(q "$sdb" "SELECT spool_path FROM releases WHERE release_id = '$id';")
    [ "$(tail -n +2 "$spool" | sha256sum | cut -d' ' -f1)" = "$want" ] \
      || { echo "release $id: the site's spool differs from what was committed"; return; }
  done
  [ "$scope" = all ] || return
  # The pooled export (each release approved, as the gate requires for unaudited ones) holds
  # exactly the committed rows: the same multiset of lines.
  for id in $(cq "SELECT r.release_id FROM releases r LEFT JOIN approvals a
      ON a.release_id = r.release_id WHERE r.status = 'committed' AND a.release_id IS NULL;"); do
    "$coordinator" --log-level off release approve "$id" --reason "fault injection check" \
      --by checker --config "$out/coordinator.toml" >/dev/null || { echo "approve $id failed"; return; }
  done
  "$coordinator" --log-level off export --config "$out/coordinator.toml" --dataset records \
    --out "$out/export.csv" >/dev/null 2>&1 || { echo "export failed"; return; }
  got=$(tail -n +2 "$out/export.csv" | sort | sha256sum | cut -d' ' -f1)
  want=$(for id in $(cq "SELECT release_id FROM releases WHERE status = 'committed';"); do
      cq "SELECT $hex_rows FROM chunks WHERE release_id = '$id' ORDER BY idx;" \
        | tr -d '\n' | basenc --base16 -d
    done | sort | sha256sum | cut -d' ' -f1)
  [ "$got" = "$want" ] || echo "the export's rows differ from the committed rows"
}

# Where the kill landed, read before anything restarts: the state of this case's release (the
# one past rowid $1) at the site and at the coordinator ("-": not there).
phase() {
  local id site coordinator_state
  id=$(q "$sdb" "SELECT release_id FROM releases WHERE rowid > $1 ORDER BY rowid LIMIT 1;")
  [ -n "$id" ] || { echo "site:-/coordinator:-"; return; }
  site=$(q "$sdb" "SELECT state FROM releases WHERE release_id = '$id';")
  coordinator_state=$(cq "SELECT status || ':' || next_chunk FROM releases
    WHERE release_id = '$id';")
  echo "site:$site/coordinator:${coordinator_state:--}"
}

start_coordinator
# Calibrate on an uninterrupted release: its duration, and how many step lines it logs
# ("release r-…: reserving", "reserved", "generated and spooled", "chunk i of n acknowledged",
# "committing", "committed at the coordinator"). 9 cases in 10 kill just after a step line chosen
# uniformly (plus a jitter of 0-4 ms), so every step from the reservation to the final ledger
# write is hit about equally; 1 in 10 kills at a uniform point of the whole release, mostly
# during the model fit before it (nothing durable, nothing on the wire).
step_line='release r-[0-9a-f]+(: | generated and spooled)'  # one step of a release
steps_before=$(grep -cE "$step_line" "$out/agent.log" 2>/dev/null)
started=$(date +%s%N)
"${submit[@]}" >>"$out/agent.log" 2>&1 || die "an uninterrupted release failed (see $out/agent.log)"
duration_ms=$(( ($(date +%s%N) - started) / 1000000 ))
steps=$(( $(grep -cE "$step_line" "$out/agent.log") - steps_before ))
[ "$steps" -gt 0 ] || die "the agent logged no step lines (see $out/agent.log)"
echo "an uninterrupted release takes $duration_ms ms and logs $steps step lines"
pause_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
fifo="$out/agent.fifo"
rm -f "$fifo"
mkfifo "$fifo"

# Kills the agent or the coordinator of the running case (the coordinator is restarted at once).
kill_now() {
  if [ "$mode" = agent ]; then
    kill -9 "$agent_pid" 2>/dev/null
  else
    kill -9 "$coordinator_pid" 2>/dev/null
    wait "$coordinator_pid" 2>/dev/null
    where=$(phase "$last_rowid")
    start_coordinator
  fi
  killed=true
}

failed=0
printf 'case\tmode\tdelay_from\tdelay_ms\tphase\tverdict\n' > "$out/history.tsv"
began=$SECONDS
for mode in agent coordinator; do
  for i in $(seq 1 "$cases"); do
    last_rowid=$(q "$sdb" "SELECT COALESCE(MAX(rowid), 0) FROM releases;")
    "${submit[@]}" >>"$out/agent.log" 2>"$fifo" &
    agent_pid=$!
    killed=false
    where=""
    if [ $((RANDOM % 10)) -eq 0 ]; then
      trigger=0
      delay=$(( (RANDOM * 32768 + RANDOM) % (duration_ms + 1) ))
      delay_from="start"
    else
      trigger=$(( 1 + RANDOM % steps ))
      delay=$(( RANDOM % 5 ))
      delay_from="step-$trigger"
    fi
    if [ "$trigger" -eq 0 ]; then
      cat "$fifo" >> "$out/agent.log" &
      reader=$!
      pause_ms "$delay"
      kill -0 "$agent_pid" 2>/dev/null && kill_now
      wait "$reader"
    else
      seen=0
      while IFS= read -r line; do
        echo "$line" >> "$out/agent.log"
        if ! $killed && [[ $line =~ $step_line ]]; then
          seen=$((seen + 1))
          if [ "$seen" -eq "$trigger" ]; then
            pause_ms "$delay"
            kill_now
          fi
        fi
      done < "$fifo"
    fi
    wait "$agent_pid" 2>/dev/null
    if ! $killed; then
      where="$(phase "$last_rowid") (no kill: the release ended first)"
    elif [ "$mode" = agent ]; then
      where=$(phase "$last_rowid")
    fi
    resume || true
    verdict=$(check "$last_rowid" "$([ $((i % 25)) -eq 0 ] || [ "$i" -eq "$cases" ] && echo all)")
    if [ -n "$verdict" ]; then
      failed=$((failed + 1))
      if [ "$backend" = postgres ]; then
        pg_client pg_dump federation > "$out/failed-$mode-$i-coordinator.sql"
      else
        cp "$cdb" "$out/failed-$mode-$i-coordinator.db"
      fi
      cp "$sdb" "$out/failed-$mode-$i-site-ledger.db"
    fi
    printf '%d\t%s\t%s\t%d\t%s\t%s\n' "$i" "$mode" "$delay_from" "$delay" "$where" \
      "${verdict:-ok}" >> "$out/history.tsv"
  done
done
kill -TERM "$coordinator_pid" 2>/dev/null
wait "$coordinator_pid" 2>/dev/null

echo "$((2 * cases)) cases in $((SECONDS - began)) s; $failed failed; history: $out/history.tsv"
echo "where the kills landed (mode, phase: count):"
tail -n +2 "$out/history.tsv" | awk -F'\t' '{ n[$2 "\t" $5]++ } END { for (k in n) print "  " k "\t" n[k] }' | sort
echo "final ledgers ($backend coordinator): $(cq "SELECT COUNT(*) FROM releases WHERE status = 'committed';") committed," \
  "$(cq "SELECT COUNT(*) FROM releases WHERE status = 'reserved';") reserved and abandoned," \
  "$(q "$sdb" "SELECT COUNT(*) FROM releases WHERE state = 'refused';") refused before reservation"
[ "$failed" -eq 0 ]
