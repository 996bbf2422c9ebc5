//! # keymanager
//!
//! Hand out and check OAuth2 application keys through any key manager, chosen by configuration.
//!
//! An API platform gives each *application* a consumer key and secret (an OAuth 2.0 client id and secret) per
//! environment ([`KeyType`](model::KeyType): production and sandbox), lets it get access tokens, and validates
//! those tokens at the gateway. The keys come from any [`KeyManager`]: the embedded resident one, Okta, Keycloak,
//! or any standards-based provider. This crate is the core: the trait, the generic [`model`], one [`Error`],
//! the [`config`] file, the connector [`registry`], and the outbound [`http`] kit connectors share.
//!
//! Two readers, two doors:
//! - **Connector authors** (teaching the framework a new provider) find everything in [`connector_kit`]: the
//!   trait, the model, errors and error dialects, the descriptor, the factory, the HTTP kit, the OAuth client and
//!   the SQL helpers.
//! - **Gateway authors** (embedding key managers and validating tokens) find everything in [`gateway_kit`]: the
//!   configuration, the registry of built key managers, the token validator and the axum layer.

#![warn(missing_docs)]
#![warn(unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "server")]
pub mod api;
pub mod config;
pub mod config_reference;
mod descriptor;
mod egress;
pub mod error;
mod error_dialect;
#[cfg(feature = "gateway")]
pub mod forward_auth;
#[cfg(feature = "gateway")]
pub mod gateway;
pub mod http;
mod key_manager;
pub mod model;
pub mod oauth;
pub mod registry;
#[cfg(any(feature = "service", feature = "validation"))]
mod secret_box;
mod secret_policy;
#[cfg(feature = "service")]
pub mod service;
mod signing_keys;
#[cfg(feature = "sql")]
pub mod sql;
mod user_directory;
#[cfg(feature = "validation")]
pub mod validation;

pub use error::{Error, Result};

/// What a connector author needs, in one place: every in-tree connector imports the core through this door alone.
///
/// The vocabulary modules ([`model`], [`oauth`], [`http`], `sql`) come whole; the rest is the items a connector
/// uses: its descriptor and settings, the factory and build context, the secret policy and secret box, the egress
/// guard, the signing-key administration a provider with its own keys implements, and the JWK reader.
pub mod connector_kit {
    pub use crate::config::{override_endpoints, redact_url_password, KeyManagerConfig};
    pub use crate::descriptor::{
        check_endpoint_url, check_settings_type, read_settings, ConnectorDescriptor, Setting, SettingKind,
    };
    pub use crate::egress::Egress;
    pub use crate::error::{chain, ConfigError, ProviderError};
    pub use crate::error_dialect::{ErrorDialect, ErrorFields, OAuthErrorBody, OAuthErrors};
    pub use crate::http::{HttpClient, HttpPolicy, HttpResponse, Idempotency};
    pub use crate::registry::{BuildContext, ConnectorFactory, KeyManagers};
    #[cfg(any(feature = "service", feature = "validation"))]
    pub use crate::secret_box::{new_key, SecretBox};
    pub use crate::secret_policy::{SecretPolicy, SecretSettings, SecretStorage};
    pub use crate::signing_keys::{KeyRotation, SigningKeyAdmin, SigningKeyInfo, SigningKeyPhase};
    #[cfg(feature = "sql")]
    pub use crate::sql;
    pub use crate::user_directory::{NewUser, UserChange, UserDirectory, UserInfo, UserProfile};
    #[cfg(feature = "validation")]
    pub use crate::validation::{dpop, jwk_public_key, mtls, TokenValidator, ValidationError};
    pub use crate::{http, model, oauth, route_table, Error, KeyManager, Result};
}

/// What a gateway author needs, in one place: the examples import the core through this door alone.
pub mod gateway_kit {
    pub use crate::config::{Config, KeyManagerConfig};
    #[cfg(feature = "gateway")]
    pub use crate::gateway;
    pub use crate::http::{HttpClient, HttpPolicy};
    pub use crate::registry::{BuildContext, ConnectorFactory, ConnectorRegistry, KeyManagers};
    #[cfg(feature = "validation")]
    pub use crate::validation::{Principal, TokenValidator, ValidationError, ValidatorSettings};
    pub use crate::{model, Error, KeyManager, Result};
}

/// What the server and the command line compose beyond the two kits: the secret box that seals stored secrets,
/// the egress guard, signing-key administration and the connector descriptors they list.
pub mod server_kit {
    pub use crate::descriptor::ConnectorDescriptor;
    pub use crate::egress::Egress;
    #[cfg(any(feature = "service", feature = "validation"))]
    pub use crate::secret_box::{fingerprint, new_key, SecretBox, SECRET_KEY_ENV, SECRET_KEY_FILE};
    pub use crate::signing_keys::{KeyRotation, SigningKeyAdmin, SigningKeyInfo, SigningKeyPhase};
}

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
///
/// With `families TYPE;` after the state, each route also names the shape its failures take (`as VARIANT`), and
/// `ROUTE_FAMILIES` lists them in the order of `ROUTES`: the error-shaping layer reads the route's family from the
/// table instead of guessing from the path.
///
/// With `rules;` after the state, each route also carries who may call it, for a change the action its audit
/// record names, and what the OpenAPI document says of it: its doc comment (first line the summary), its query or
/// header parameters (`params T`, a `utoipa::IntoParams`), its JSON body (`body T`) and its answer (`ok 200 json T`,
/// `ok 204`, `ok 200 stream "text/event-stream"`). `ROUTE_RULES` lists `(method, path, access, action)` and
/// `ROUTE_DOCS` the rest, both from the same entries: a route cannot be declared without its rule or its
/// description. The invoking module has an `openapi` module in scope (the management API's).
#[macro_export]
macro_rules! route_table {
    (@action) => { None };
    (@action $action:literal) => { Some($action) };
    (@some) => { None };
    (@some $e:expr) => { Some($e) };
    (@answer) => { openapi::Answer::Empty };
    (@answer json $answer:ty) => { openapi::Answer::Json(openapi::schema_of::<$answer> as openapi::SchemaFn) };
    (@answer stream $media:literal) => { openapi::Answer::Stream($media) };
    ($(#[$doc:meta])* $state:ty; rules;
     $( $(#[doc = $line:literal])*
        $method:ident $path:literal => $handler:path, $access:ident
        $(, audit $action:literal)? $(, params $params:ty)? $(, body $body:ty)?
        , ok $status:literal $(stream $media:literal)? $(json $answer:ty)? );* $(;)?) => {
        $(#[$doc])*
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// Each route's rule, from the same entries as [`ROUTES`]: (method, path template, who may call it, the
        /// action its audit record names for a change).
        pub const ROUTE_RULES: &[(&str, &str, access::Access, Option<&str>)] =
            &[$((stringify!($method), $path, $access, $crate::route_table!(@action $($action)?))),*];

        /// Each route as the OpenAPI document describes it, from the same entries as [`ROUTES`].
        pub(crate) const ROUTE_DOCS: &[openapi::RouteDoc] = &[$(openapi::RouteDoc {
            method: stringify!($method),
            path: $path,
            access: $access,
            text: concat!($($line, "\n"),*),
            params: $crate::route_table!(@some $(openapi::params_of::<$params> as openapi::ParamsFn)?),
            body: $crate::route_table!(@some $(openapi::schema_of::<$body> as openapi::SchemaFn)?),
            status: $status,
            answer: $crate::route_table!(@answer $(stream $media)? $(json $answer)?),
        }),*];

        fn routes() -> axum::Router<$state> {
            axum::Router::new()$(.route($path, axum::routing::$method($handler)))*
        }
    };
    ($(#[$doc:meta])* $state:ty; families $family_ty:ty;
     $( $method:ident $path:literal => $handler:path as $family:ident ),* $(,)?) => {
        $(#[$doc])*
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// The error family of each route of [`ROUTES`], in the same order.
        pub const ROUTE_FAMILIES: &[$family_ty] = &[$(<$family_ty>::$family),*];

        fn routes() -> axum::Router<$state> {
            axum::Router::new()$(.route($path, axum::routing::$method($handler)))*
        }
    };
    ($(#[$doc:meta])* $state:ty; $( $method:ident $path:literal => $handler:path ),* $(,)?) => {
        $(#[$doc])*
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn routes() -> axum::Router<$state> {
            axum::Router::new()$(.route($path, axum::routing::$method($handler)))*
        }
    };
}
pub use key_manager::KeyManager;
pub use user_directory::{NewUser, UserChange, UserDirectory, UserInfo, UserProfile};
