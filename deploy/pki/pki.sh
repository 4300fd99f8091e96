#!/usr/bin/env bash
# Federation PKI on the openssl CLI. One CA per federation; every coordinator, site and admin
# gets a certificate whose subject states its role (OU) and identity (CN).
#
#   pki.sh init DIR                        create the federation CA in DIR (once)
#   pki.sh coordinator DIR HOST [DAYS]     coordinator certificate for HOST (+ localhost, 127.0.0.1)
#   pki.sh site DIR SITE_ID [COORDINATOR]  site kit DIR/sites/SITE_ID/: ca.pem, site.pem, site.key,
#                                          site.toml (config template); COORDINATOR = host:port
#   pki.sh admin DIR NAME                  admin (dashboard) certificate DIR/admins/NAME.{pem,key}
#
# Certificate lifecycle (the coordinator's `crl` key names DIR/crl.pem; it re-reads the file at
# the next handshake after it changes, no restart):
#   pki.sh rotate DIR SITE_ID [DAYS]       new key and certificate in the site's kit; the old
#                                          certificate stays valid for an overlap of DAYS (default
#                                          7), then `pki.sh crl` revokes it
#   pki.sh retire DIR SITE_ID              end a rotation's overlap now: revoke every certificate
#                                          of the site but the newest
#   pki.sh revoke DIR SITE_ID              revoke every certificate of the site (it is refused at
#                                          its next handshake)
#   pki.sh crl DIR                         revoke rotated certificates whose overlap has ended and
#                                          write DIR/crl.pem (valid 30 days: run it daily)
#
# Keys are EC P-256, unencrypted (no passwords in code or scripts): protect them with file
# permissions (0600 here). FEDSYN_PKI_VALIDITY="STARTDATE ENDDATE" (YYYYMMDDHHMMSSZ) overrides
# the validity window of the next certificate; tests use it to make an expired one.
set -euo pipefail

die() { echo "pki.sh: $*" >&2; exit 2; }
[ $# -ge 2 ] || die "usage: pki.sh init|coordinator|site|admin DIR ..."
cmd="$1"; dir="$2"; shift 2
umask 077

ca_config() {
  cat > "$dir/ca/openssl.cnf" <<CNF
[ ca ]
default_ca = fedsyn
[ fedsyn ]
dir = $dir/ca
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir/issued
crlnumber = \$dir/crlnumber
default_crl_days = 30
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[ anything ]
organizationName = optional
organizationalUnitName = supplied
commonName = supplied
CNF
}

issue() {  # issue KEY CERT SUBJECT DAYS [SAN]
  local key="$1" cert="$2" subject="$3" days="$4" san="${5:-}"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key" 2>/dev/null
  local ext=()
  [ -n "$san" ] && ext=(-addext "subjectAltName=$san")
  openssl req -new -key "$key" -subj "$subject" "${ext[@]}" -out "$cert.csr"
  local validity=(-days "$days")
  if [ -n "${FEDSYN_PKI_VALIDITY:-}" ]; then
    read -r start end <<<"$FEDSYN_PKI_VALIDITY"
    validity=(-startdate "$start" -enddate "$end")
  fi
  openssl ca -batch -notext -config "$dir/ca/openssl.cnf" "${validity[@]}" -in "$cert.csr" -out "$cert" 2>/dev/null \
    || die "signing $subject failed"
  rm -f "$cert.csr"
  chmod 600 "$key"
}

# Serials (hex) of the site's certificates that are still valid in the CA's index, oldest first.
valid_serials() {
  awk -F'\t' -v subject="/O=fedsyn/OU=site/CN=$1" '$1 == "V" && $6 == subject { print $4 }' \
    "$dir/ca/index.txt"
}

revoke_serial() {  # revoke_serial SERIAL REASON
  openssl ca -config "$dir/ca/openssl.cnf" -revoke "$dir/ca/issued/$1.pem" -crl_reason "$2" \
    2>/dev/null || die "revoking serial $1 failed"
  echo "revoked serial $1 ($2)"
}

# Revokes rotated certificates past their overlap, then writes DIR/crl.pem atomically (the
# coordinator may read it at any moment: it must never see half a file).
write_crl() {
  local now rotations="$dir/ca/rotations" kept
  now=$(date +%s)
  if [ -s "$rotations" ]; then
    kept=$(mktemp "$dir/ca/rotations.XXXXXX")
    while read -r serial retire_after; do
      if [ "$retire_after" -le "$now" ]; then
        if awk -F'\t' -v s="$serial" '$1 == "V" && $4 == s { found = 1 } END { exit !found }' \
          "$dir/ca/index.txt"; then
          revoke_serial "$serial" superseded
        fi
      else
        echo "$serial $retire_after" >> "$kept"
      fi
    done < "$rotations"
    mv "$kept" "$rotations"
  fi
  local next
  next=$(mktemp "$dir/crl.pem.XXXXXX")
  openssl ca -config "$dir/ca/openssl.cnf" -gencrl -out "$next" 2>/dev/null \
    || die "writing the CRL failed"
  chmod 644 "$next"
  mv "$next" "$dir/crl.pem"
  echo "CRL: $dir/crl.pem"
}

need_ca() {
  [ -e "$dir/ca/ca.key" ] || die "$dir holds no CA (pki.sh init $dir)"
  ca_config  # older CAs lack the CRL settings
  [ -e "$dir/ca/crlnumber" ] || echo 1000 > "$dir/ca/crlnumber"
}

case "$cmd" in
  init)
    [ -e "$dir/ca/ca.key" ] && die "$dir already holds a CA"
    mkdir -p "$dir/ca/issued"
    : > "$dir/ca/index.txt"
    echo 1000 > "$dir/ca/serial"
    ca_config
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$dir/ca/ca.key" -subj "/O=fedsyn/OU=ca/CN=fedsyn federation CA" \
      -days 3650 -out "$dir/ca/ca.pem"
    cp "$dir/ca/ca.pem" "$dir/ca.pem"
    chmod 644 "$dir/ca.pem" "$dir/ca/ca.pem"
    echo "CA: $dir/ca.pem"
    need_ca
    write_crl
    ;;
  coordinator)
    host="${1:?host name}"; days="${2:-825}"
    issue "$dir/coordinator.key" "$dir/coordinator.pem" "/O=fedsyn/OU=coordinator/CN=$host" "$days" \
      "DNS:$host,DNS:localhost,IP:127.0.0.1"
    echo "coordinator: $dir/coordinator.pem"
    ;;
  site)
    site="${1:?site id}"; coordinator="${2:-localhost:7443}"
    [[ "$site" =~ ^[A-Za-z0-9_-]{1,64}$ ]] || die "site id must be 1-64 characters of [A-Za-z0-9_-]"
    kit="$dir/sites/$site"
    mkdir -p "$kit"
    issue "$kit/site.key" "$kit/site.pem" "/O=fedsyn/OU=site/CN=$site" 825
    cp "$dir/ca.pem" "$kit/ca.pem"
    cat > "$kit/site.toml" <<TOML
# Site kit for "$site". Paths are relative to this file.
site_id = "$site"
coordinator = "$coordinator"
ca = "ca.pem"
cert = "site.pem"
key = "site.key"
ledger = "site-ledger.db"        # the site's own budget ledger (refuses before the coordinator)
spool = "spool"                  # noised outputs are persisted here before upload

[budgets]                         # this site's own limits, in epsilon per dataset
# heart = 20.0
TOML
    echo "site kit: $kit"
    ;;
  admin)
    name="${1:?admin name}"
    mkdir -p "$dir/admins"
    issue "$dir/admins/$name.key" "$dir/admins/$name.pem" "/O=fedsyn/OU=admin/CN=$name" 825
    echo "admin: $dir/admins/$name.pem"
    ;;
  rotate)
    site="${1:?site id}"; overlap_days="${2:-7}"
    [[ "$overlap_days" =~ ^[0-9]{1,4}$ ]] || die "overlap must be a whole number of days"
    need_ca
    kit="$dir/sites/$site"
    [ -e "$kit/site.pem" ] || die "no kit for site $site in $dir/sites"
    old=$(valid_serials "$site")
    # The new pair is made beside the old one and moved over it only once signed.
    issue "$kit/site.key.next" "$kit/site.pem.next" "/O=fedsyn/OU=site/CN=$site" 825
    mv "$kit/site.key.next" "$kit/site.key"
    mv "$kit/site.pem.next" "$kit/site.pem"
    retire_after=$(( $(date +%s) + overlap_days * 86400 ))
    for serial in $old; do echo "$serial $retire_after" >> "$dir/ca/rotations"; done
    echo "site kit: $kit (new certificate, serial $(valid_serials "$site" | tail -n 1))"
    echo "the previous certificate(s) ($(echo $old)) stay valid until" \
      "$(date -u -d "@$retire_after" +%Y-%m-%dT%H:%MZ); then pki.sh crl revokes them"
    ;;
  retire)
    site="${1:?site id}"
    need_ca
    serials=$(valid_serials "$site")
    [ -n "$serials" ] || die "site $site has no valid certificate"
    for serial in $(echo "$serials" | head -n -1); do revoke_serial "$serial" superseded; done
    write_crl
    ;;
  revoke)
    site="${1:?site id}"
    need_ca
    serials=$(valid_serials "$site")
    [ -n "$serials" ] || die "site $site has no valid certificate"
    for serial in $serials; do revoke_serial "$serial" cessationOfOperation; done
    write_crl
    ;;
  crl)
    need_ca
    write_crl
    ;;
  *) die "unknown command $cmd" ;;
esac
