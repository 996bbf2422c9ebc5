#!/usr/bin/env bash
# Build the Debian package (target/debian/keymanager_VERSION_ARCH.deb): the release binary, its man pages and shell
# completions, then `cargo deb`. Needs cargo-deb (`cargo install cargo-deb --locked`).
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release --locked -p keymanager-cli
bin=target/release/keymanager
assets=target/package-assets
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
"$bin" man --dir "$assets/man"
"$bin" completions bash >"$assets/completions/keymanager.bash"
"$bin" completions zsh >"$assets/completions/_keymanager"
"$bin" completions fish >"$assets/completions/keymanager.fish"
cargo deb -p keymanager-cli --no-build --locked --output target/debian/
