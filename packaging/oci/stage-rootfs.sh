#!/usr/bin/env bash
# Stage an image's root file system for keymanager in DIR/rootfs: the binary and exactly the shared libraries `ldd`
# names, CA certificates, a passwd/group with the non-root user keymanager (10001) and the configuration; and in
# DIR/volume the data volume's directory (0700), which the Containerfile copies as the user's. Used by the
# Containerfile's build stage and by CI (which cannot pull a base image).
set -euo pipefail
bin=${1:?usage: stage-rootfs.sh BINARY DIR}
out=${2:?usage: stage-rootfs.sh BINARY DIR}
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$out"
mkdir -p "$out/volume"
chmod 0700 "$out/volume"
out="$out/rootfs"
mkdir -p "$out/usr/bin" "$out/etc/keymanager" "$out/etc/ssl/certs" "$out/var/lib" "$out/tmp"
install -m 0755 "$bin" "$out/usr/bin/keymanager"
# No debugging symbols in the image (the binary is the same code).
if command -v strip >/dev/null 2>&1; then
  strip --strip-unneeded "$out/usr/bin/keymanager"
fi
# The dynamic loader and every library, at the paths the binary looks for them.
ldd "$bin" | awk '/=> \// {print $3} /^\s*\/[^ ]+/ {print $1}' | sort -u | while read -r lib; do
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nkeymanager:x:10001:10001:keymanager:/var/lib/keymanager:/sbin/nologin\n' \
  >"$out/etc/passwd"
printf 'root:x:0:\nkeymanager:x:10001:\n' >"$out/etc/group"
install -m 0644 "$here/keymanager.toml" "$out/etc/keymanager/keymanager.toml"
chmod 1777 "$out/tmp"
