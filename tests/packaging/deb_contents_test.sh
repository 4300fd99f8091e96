#!/usr/bin/env bash
# The Debian packages keep building and hold what a server needs (the short version of
# deploy/package-check.sh, which installs, runs and purges them as root): each package's
# program, systemd unit (verified by systemd-analyze), example configuration in /etc/fedsyn,
# maintainer scripts that create and remove the service user, and declared dependencies.
# Usage: deb_contents_test.sh BUILD_DIR SCRATCH_DIR
set -u
build="$1"
scratch="$2"
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
rm -rf "$scratch"
mkdir -p "$scratch"
# The packages land in packages/ under the working folder (CPACK_OUTPUT_FILE_PREFIX).
cd "$scratch" || exit 1
if ! cpack --config "$build/CPackConfig.cmake" -G DEB -B "$scratch" >"$scratch/cpack.log" 2>&1; then
  cat "$scratch/cpack.log"
  echo "FAIL cpack"
  exit 1
fi
for role in agent coordinator; do
  deb=$(ls "$scratch"/packages/fedsyn-${role}_*.deb 2>/dev/null)
  [ -n "$deb" ] || { fail "no fedsyn-$role package"; continue; }
  dpkg-deb -c "$deb" | awk '{print $6}' > "$scratch/$role.files"
  for path in ./usr/bin/fedsyn-$role ./lib/systemd/system/fedsyn-$role.service \
    ./usr/share/doc/fedsyn-$role/README.md; do
    grep -qx "$path" "$scratch/$role.files" || fail "fedsyn-$role lacks $path"
  done
  [ "$role" = coordinator ] && { grep -qx ./etc/fedsyn/coordinator.toml.example "$scratch/$role.files" \
    && grep -qx ./usr/share/fedsyn/pki.sh "$scratch/$role.files"; } \
    || [ "$role" = agent ] || fail "fedsyn-coordinator lacks its example config or pki.sh"
  [ "$role" = agent ] && ! grep -qx ./etc/fedsyn/agent/site.toml.example "$scratch/$role.files" \
    && fail "fedsyn-agent lacks its example site kit"
  dpkg-deb -f "$deb" Depends | grep -q "libtorch1.13" || fail "fedsyn-$role does not depend on libtorch"
  dpkg-deb -f "$deb" Depends | grep -q "adduser" || fail "fedsyn-$role does not depend on adduser"
  control="$scratch/$role.control"
  dpkg-deb -e "$deb" "$control"
  grep -q "adduser --system" "$control/postinst" || fail "fedsyn-$role postinst makes no system user"
  grep -q "deluser --system fedsyn" "$control/postrm" || fail "fedsyn-$role postrm keeps the user"
  grep -q "/var/lib/fedsyn/$role" "$control/postrm" || fail "fedsyn-$role purge keeps its state"
  for script in postinst prerm postrm; do
    sh -n "$control/$script" || fail "fedsyn-$role $script does not parse"
  done
  # The unit as packaged: runs as fedsyn, hardened, state only under /var/lib/fedsyn.
  unit="$scratch/fedsyn-$role.service"
  dpkg-deb --fsys-tarfile "$deb" | tar -xO "./lib/systemd/system/fedsyn-$role.service" > "$unit"
  for directive in "User=fedsyn" "NoNewPrivileges=yes" "ProtectSystem=strict" "PrivateTmp=yes" \
    "ReadWritePaths=/var/lib/fedsyn/$role" "StateDirectory=fedsyn/$role"; do
    grep -qx "$directive" "$unit" || fail "fedsyn-$role.service lacks $directive"
  done
  if command -v systemd-analyze >/dev/null; then
    # Only the unit's own syntax: its ExecStart binary is not installed here.
    systemd-analyze verify "$unit" 2>&1 | grep -v "is not executable\|Command .* not found" \
      | grep . && fail "systemd-analyze verify fedsyn-$role.service"
  fi
done
[ "$failures" -eq 0 ] && echo "deb contents: ok"
exit "$failures"
