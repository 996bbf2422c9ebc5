//! # keymanager
//!
//! Hand out and check OAuth2 application keys through any key manager, chosen by configuration.
//!
//! An API platform gives each *application* a consumer key and secret (an OAuth 2.0 client id and secret) per
//! environment ([`KeyType`](model::KeyType): production and sandbox), lets it get access tokens, and validates
//! those tokens at the gateway. The keys come from any [`KeyManager`]: the embedded resident one, Okta, Keycloak,
//! or any standards-based provider. This crate is the core: the trait, the generic [`model`], one [`Error`],
//! the [`config`] file, the connector [`registry`], and the outbound [`http`] kit connectors share.

#![warn(missing_docs)]

#[cfg(feature = "server")]
pub mod api;
pub mod config;
pub mod descriptor;
pub mod error;
pub mod error_dialect;
#[cfg(feature = "gateway")]
pub mod gateway;
pub mod http;
mod key_manager;
pub mod model;
pub mod oauth;
pub mod registry;
#[cfg(feature = "service")]
pub mod service;
#[cfg(feature = "sql")]
pub mod sql;
#[cfg(feature = "validation")]
pub mod validation;

pub use error::{Error, Result};

/// A route table: one list of `method "path" => handler` lines makes both `pub const ROUTES: &[(&str, &str)]`
/// (method and path of every route, for the tests and documents that must cover them all) and
/// `fn routes() -> axum::Router<STATE>` serving exactly those routes, so that neither can forget one. The calling
/// crate depends on `axum`.
///
/// ```ignore
/// keymanager::route_table! {
///     /// Every route of this server.
///     AppState;
///     get "/health" => health,
///     post "/token" => token,
/// }
/// ```
#[macro_export]
macro_rules! route_table {
    ($(#[$doc:meta])* $state:ty; $( $method:ident $path:literal => $handler:path ),* $(,)?) => {
        $(#[$doc])*
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn routes() -> axum::Router<$state> {
            axum::Router::new()$(.route($path, axum::routing::$method($handler)))*
        }
    };
}
pub use key_manager::KeyManager;
