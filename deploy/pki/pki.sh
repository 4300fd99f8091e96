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
  *) die "unknown command $cmd" ;;
esac
