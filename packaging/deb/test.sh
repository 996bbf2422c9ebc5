#!/usr/bin/env bash
# Install the Debian package on this machine and check it as a platform team would: the installed binary checks the
# shipped configuration, systemd-analyze verifies the unit, and the unit's own ExecStart line, run as the unit's
# user, serves until /health/ready answers. Then the package is purged. Needs root; CI runs it (.ci/run).
set -euo pipefail
deb=${1:?usage: packaging/deb/test.sh target/debian/keymanager_*.deb}

if dpkg -s keymanager >/dev/null 2>&1; then
  dpkg --purge keymanager >/dev/null
fi
dpkg -i "$deb"
trap 'dpkg --purge keymanager >/dev/null 2>&1 || true' EXIT

unit=$(dpkg -L keymanager | grep -E '/systemd/system/keymanager\.service$')
echo "installed: $(/usr/bin/keymanager --version | head -1); unit $unit"
getent passwd keymanager >/dev/null || { echo "the package made no keymanager user" >&2; exit 1; }
[ "$(stat -c '%U %a' /var/lib/keymanager)" = "keymanager 700" ] || { echo "/var/lib/keymanager is not keymanager's alone" >&2; exit 1; }
[ "$(stat -c '%a' /etc/keymanager/keymanager.toml)" = "640" ] || { echo "the configuration is not 0640" >&2; exit 1; }
for f in /usr/share/man/man1/keymanager.1.gz /usr/share/man/man1/keymanager-serve.1.gz \
  /usr/share/bash-completion/completions/keymanager; do
  [ -e "$f" ] || [ -e "${f%.gz}" ] || { echo "the package lacks $f" >&2; exit 1; }
done

runuser -u keymanager -- /usr/bin/keymanager --config /etc/keymanager/keymanager.toml config check
systemd-analyze verify "$unit"
for setting in 'User=keymanager' 'StateDirectory=keymanager' 'ProtectSystem=strict' 'NoNewPrivileges=yes' \
  'PrivateTmp=yes' 'Restart=on-failure'; do
  grep -qx "$setting" "$unit" || { echo "the unit lacks $setting" >&2; exit 1; }
done

exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
echo "starting as keymanager: $exec_start"
# shellcheck disable=SC2086 # the unit's line, split as systemd splits it (no quotes in it)
runuser -u keymanager -- env KEYMANAGER_LOG_FORMAT=json $exec_start >/tmp/keymanager-deb.log 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -fsS http://127.0.0.1:9443/health/ready >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    cat /tmp/keymanager-deb.log >&2
    echo "the installed service exited before it was ready" >&2
    exit 1
  fi
  sleep 0.1
done
ready=$(curl -fsS http://127.0.0.1:9443/health/ready)
live=$(curl -fsS http://127.0.0.1:9443/health/live)
kill -TERM "$pid"
wait "$pid" || true
echo "ready: $ready"
echo "live: $live"
echo "$ready" | grep -q '"status":"ready"'
[ "$(stat -c '%U' /var/lib/keymanager/keymanager.db)" = "keymanager" ]
echo "package: $(du -k "$deb" | cut -f1) KiB; installed binary: $(du -k /usr/bin/keymanager | cut -f1) KiB"
