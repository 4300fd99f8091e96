#!/usr/bin/env bash
# Proves the Debian packages on this machine, as root (it installs and purges them): builds the
# .debs, installs them, configures a one-site federation from the demo data, starts both
# services, runs a real release through them, stops them, purges both packages and checks that
# nothing is left behind (files, folders, user, units).
#
# Where systemd runs (a server), the services are started and stopped with systemctl. In a
# container without systemd, the script starts each unit's own ExecStart line as the unit's
# User in its WorkingDirectory (setpriv) and says so: the hardening directives are then checked
# statically only (systemd-analyze verify and security --offline).
#
# Usage: deploy/package-check.sh [WORK_DIR]   (refuses to run if fedsyn is already installed)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d /tmp/fedsyn-package-check.XXXXXX)}"
build="${FEDSYN_BUILD_DIR:-$root/build}"
site_port=17443
admin_port=17444
die() { echo "package-check: FAILED: $*" >&2; exit 1; }
step() { echo "== $*"; }
as_fedsyn() { runuser -u fedsyn -- "$@"; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs and purges packages)"
if dpkg-query -W -f='${db:Status-Status}\n' fedsyn-agent fedsyn-coordinator 2>/dev/null \
  | grep -qv not-installed; then
  die "fedsyn packages are installed already; this check would purge them"
fi
mkdir -p "$work"
systemd_runs=false
[ -d /run/systemd/system ] && systemd_runs=true

step "build the packages"
"$root/deploy/build.sh" fedsyn-agent fedsyn-coordinator >/dev/null
(cd "$build" && cpack -G DEB >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; die "cpack"; }
agent_deb=$(ls "$build"/packages/fedsyn-agent_*.deb)
coordinator_deb=$(ls "$build"/packages/fedsyn-coordinator_*.deb)
for deb in "$agent_deb" "$coordinator_deb"; do
  echo "   $(basename "$deb"): $(du -h "$deb" | cut -f1)," \
    "depends on $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | wc -l) packages"
done

step "install"
apt-get install -y --no-install-recommends "$agent_deb" "$coordinator_deb" >"$work/install.log" 2>&1 \
  || { cat "$work/install.log"; die "apt-get install"; }
getent passwd fedsyn | grep -q ":/usr/sbin/nologin$" || die "no unprivileged fedsyn user"
for role in agent coordinator; do
  [ "$(stat -c '%U:%G %a' "/var/lib/fedsyn/$role")" = "fedsyn:fedsyn 750" ] \
    || die "/var/lib/fedsyn/$role: $(stat -c '%U:%G %a' "/var/lib/fedsyn/$role")"
  [ "$(stat -c '%U:%G %a' "/etc/fedsyn/$role")" = "root:fedsyn 750" ] \
    || die "/etc/fedsyn/$role: $(stat -c '%U:%G %a' "/etc/fedsyn/$role")"
  unit="/lib/systemd/system/fedsyn-$role.service"
  systemd-analyze verify "$unit" >"$work/verify-$role.log" 2>&1 \
    || { cat "$work/verify-$role.log"; die "systemd-analyze verify $unit"; }
  exposure=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null \
    | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) \(.*\)/\1 \2/p')
  echo "   fedsyn-$role.service: verified; systemd's exposure score $exposure"
done

step "configure a one-site federation (PKI from /usr/share/fedsyn/pki.sh, demo data)"
pki="$work/pki"
rm -rf "$pki"
for s in "init $pki" "coordinator $pki localhost" "admin $pki operator" \
  "site $pki cleveland localhost:$site_port"; do
  bash /usr/share/fedsyn/pki.sh $s >/dev/null
done
install -o root -g fedsyn -m 0640 "$pki/ca.pem" "$pki/coordinator.pem" "$pki/crl.pem" \
  "$root/deploy/demo/heart_disease_uci/heart_disease.schema.toml" /etc/fedsyn/coordinator/
install -o fedsyn -g fedsyn -m 0600 "$pki/coordinator.key" /etc/fedsyn/coordinator/
sed -e "s/^listen = .*/listen = \"127.0.0.1:$site_port\"/" \
  -e "s/^admin_listen = .*/admin_listen = \"127.0.0.1:$admin_port\"/" \
  /etc/fedsyn/coordinator.toml.example > /etc/fedsyn/coordinator.toml
printf '\n[[dataset]]\nname = "heart"\nschema = "coordinator/heart_disease.schema.toml"\n' \
  >> /etc/fedsyn/coordinator.toml
printf '\n[[site]]\nid = "cleveland"\nbudgets = { heart = 15.0 }\n' >> /etc/fedsyn/coordinator.toml
chown root:fedsyn /etc/fedsyn/coordinator.toml
chmod 0640 /etc/fedsyn/coordinator.toml
kit="$pki/sites/cleveland"
install -o root -g fedsyn -m 0640 "$kit/ca.pem" "$kit/site.pem" /etc/fedsyn/agent/
install -o fedsyn -g fedsyn -m 0600 "$kit/site.key" /etc/fedsyn/agent/
sed -e "s/^coordinator = .*/coordinator = \"localhost:$site_port\"/" \
  -e 's/^# heart = .*/heart = 20.0/' /etc/fedsyn/agent/site.toml.example > /etc/fedsyn/agent/site.toml
chown root:fedsyn /etc/fedsyn/agent/site.toml
chmod 0640 /etc/fedsyn/agent/site.toml
as_fedsyn fedsyn-coordinator serve --config /etc/fedsyn/coordinator.toml --check-config
as_fedsyn fedsyn-agent heartbeat --site-kit /etc/fedsyn/agent/site.toml --check-config

# Starts a unit: systemctl where systemd runs, else its ExecStart as its User in its
# WorkingDirectory (the unit file is the single source of both).
pids=()
start_unit() {
  local unit="/lib/systemd/system/$1.service"
  if $systemd_runs; then
    systemctl start "$1"
    systemctl is-active --quiet "$1" || die "$1 is not active"
    return
  fi
  local exec_start user folder
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  user=$(sed -n 's/^User=//p' "$unit")
  folder=$(sed -n 's/^WorkingDirectory=//p' "$unit")
  # setpriv execs the program itself (runuser would stay as its parent and turn a SIGTERM into
  # a kill), so the program sees the stop signal as it does under systemd.
  (cd "$folder" && exec setpriv --reuid="$user" --regid="$user" --init-groups -- $exec_start) \
    >"$work/$1.log" 2>&1 &
  pids+=($!)
  echo "   $1: no systemd here; started its ExecStart as $user in $folder (pid $!)"
}

step "start the services"
start_unit fedsyn-coordinator
admin=(--config /etc/fedsyn/coordinator.toml --admin-cert "$pki/admins/operator.pem"
  --admin-key "$pki/admins/operator.key")
for _ in $(seq 1 100); do
  fedsyn-coordinator --log-level off status "${admin[@]}" >/dev/null 2>&1 && break
  sleep 0.1
done
fedsyn-coordinator --log-level off status "${admin[@]}" >/dev/null || die "coordinator not serving"
start_unit fedsyn-agent
connected=false
for _ in $(seq 1 100); do
  if fedsyn-coordinator --log-level off status "${admin[@]}" | grep -q "^cleveland *connected"; then
    connected=true
    break
  fi
  sleep 0.1
done
$connected || die "the agent service did not connect"
echo "   the agent service holds a session: cleveland connected"

step "a real release through the services (as the fedsyn user, into /var/lib/fedsyn/agent)"
install -o fedsyn -g fedsyn -m 0600 "$root/deploy/demo/heart_disease_uci/processed.cleveland.data" \
  /var/lib/fedsyn/agent/records.csv
(cd /var/lib/fedsyn/agent && as_fedsyn fedsyn-agent --log-level warn submit \
  --site-kit /etc/fedsyn/agent/site.toml --dataset heart --generator marginals \
  --input records.csv --schema /etc/fedsyn/coordinator/heart_disease.schema.toml --epsilon 1) \
  | tee "$work/submit.log"
fedsyn-coordinator --log-level off releases "${admin[@]}" | tee "$work/releases.txt"
grep -q "cleveland .* committed" "$work/releases.txt" || die "no committed release"
[ -f /var/lib/fedsyn/coordinator/coordinator.db ] || die "the ledger is not under /var/lib/fedsyn"
[ -f /var/lib/fedsyn/agent/site-ledger.db ] || die "the site ledger is not under /var/lib/fedsyn"

step "stop the services"
if $systemd_runs; then
  systemctl stop fedsyn-agent fedsyn-coordinator
else
  kill -TERM "${pids[@]}"
  for pid in "${pids[@]}"; do wait "$pid" || die "a service did not stop cleanly on SIGTERM"; done
fi
echo "   both stopped on SIGTERM with exit 0"

step "purge"
apt-get purge -y fedsyn-agent fedsyn-coordinator >"$work/purge.log" 2>&1 \
  || { cat "$work/purge.log"; die "apt-get purge"; }
left=()
for path in /usr/bin/fedsyn-agent /usr/bin/fedsyn-coordinator /etc/fedsyn /var/lib/fedsyn \
  /lib/systemd/system/fedsyn-agent.service /lib/systemd/system/fedsyn-coordinator.service \
  /usr/share/fedsyn /usr/share/doc/fedsyn-agent /usr/share/doc/fedsyn-coordinator; do
  [ -e "$path" ] && left+=("$path")
done
getent passwd fedsyn >/dev/null && left+=("user fedsyn")
getent group fedsyn >/dev/null && left+=("group fedsyn")
dpkg-query -W -f='${db:Status-Status}\n' fedsyn-agent fedsyn-coordinator 2>/dev/null \
  | grep -qv not-installed && left+=("dpkg records")
[ ${#left[@]} -eq 0 ] || die "left behind: ${left[*]}"
echo "   nothing left: binaries, /etc/fedsyn, /var/lib/fedsyn, units, user and group are gone"
echo "package-check: ok (systemd running: $systemd_runs; logs in $work)"
