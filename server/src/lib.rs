//! `keymanager-server`: the server side of keymanager as a library. [`serve::run`] is what `keymanager serve` runs
//! (the management API, health, metrics, the Developer Portal, forward auth and, with a resident key manager, its
//! OAuth endpoints); [`gateway_auth::run`] the forward-auth process alone; [`setup`] builds the key managers and the
//! key service from a configuration, for the binary's commands that work on the store itself. The binary
//! (`keymanager-cli`) parses arguments and calls these.

#![warn(missing_docs)]

mod failure;
pub mod gateway_auth;
mod http_server;
mod metrics;
mod observe;
mod portal;
mod process_metrics;
pub mod serve;
pub mod setup;
mod tls;

pub use failure::Failure;

/// The build: version, git commit and the core features compiled in (for `--version`, `/health/live` and the
/// `keymanager_build_info` metric).
pub mod build {
    pub use crate::process_metrics::{COMMIT, FEATURES, VERSION};
}

/// A path segment, percent-encoded (for building management-API paths from names and ids).
pub fn path_segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
