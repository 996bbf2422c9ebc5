#!/usr/bin/env bash
# Build the OCI image with podman from a staged root file system (nothing is pulled: no registry is reachable), then
# check it as far as this machine allows: containers cannot run here, so the image's root file system is exported
# (podman create + podman export) and its entrypoint runs inside it under chroot as the image's user, until
# /health/ready answers. Needs root, podman and a release binary (packaging/deb/build.sh builds one).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release/keymanager}
work=$(mktemp -d)
cid=""
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
  if [ -n "$cid" ]; then podman rm -f "$cid" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

packaging/oci/stage-rootfs.sh "$bin" "$work/context"
cp packaging/oci/Containerfile.rootfs "$work/context/Containerfile"
podman build --pull=never --quiet -t localhost/keymanager:ci "$work/context" >/dev/null
size=$(podman image inspect --format '{{.Size}}' localhost/keymanager:ci)
user=$(podman image inspect --format '{{.Config.User}}' localhost/keymanager:ci)
mapfile -t command < <(podman image inspect --format '{{range .Config.Entrypoint}}{{println .}}{{end}}{{range .Config.Cmd}}{{println .}}{{end}}' localhost/keymanager:ci | sed '/^$/d')
echo "image localhost/keymanager:ci: $((size / 1024)) KiB, user $user, command ${command[*]}"
[ "${user%%:*}" != "0" ] && [ "${user%%:*}" != "root" ] || { echo "the image runs as root" >&2; exit 1; }

cid=$(podman create localhost/keymanager:ci)
podman export "$cid" -o "$work/image.tar"
mkdir "$work/root"
tar --numeric-owner -C "$work/root" -xf "$work/image.tar"
[ "$(stat -c '%u' "$work/root/var/lib/keymanager")" = "10001" ] || { echo "the data volume is not the user's" >&2; exit 1; }
chroot --userspec="$user" "$work/root" "${command[@]}" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -fsS http://127.0.0.1:9443/health/ready >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    cat "$work/serve.log" >&2
    echo "the image's entrypoint exited before it was ready" >&2
    exit 1
  fi
  sleep 0.1
done
ready=$(curl -fsS http://127.0.0.1:9443/health/ready)
echo "ready inside the image's root file system: $ready"
echo "$ready" | grep -q '"status":"ready"'
[ "$(stat -c '%u %a' "$work/root/var/lib/keymanager/data")" = "10001 700" ] || { echo "the data directory is not the user's alone" >&2; exit 1; }
[ "$(stat -c '%u' "$work/root/var/lib/keymanager/data/keymanager.db")" = "10001" ]
kill -TERM "$pid"
wait "$pid" || true
pid=""
