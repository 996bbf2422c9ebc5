//! The resident server's HTTP face, an axum [`Router`] a gateway can mount or `keymanager serve` serves.
//!
//! | path | what |
//! |---|---|
//! | `GET /.well-known/oauth-authorization-server`, `GET /.well-known/openid-configuration` | metadata (RFC 8414) |
//! | `GET /oauth2/jwks` | signing keys (RFC 7517) |
//! | `GET`/`POST /oauth2/authorize` | login and consent (RFC 6749 §4.1, PKCE RFC 7636, `iss` RFC 9207) |
//! | `POST /oauth2/token` | token endpoint (RFC 6749 §4.4), `client_secret_basic`, `client_secret_post` or `private_key_jwt` (RFC 7523) |
//! | `GET`/`POST /oauth2/userinfo` | OpenID Connect UserInfo |
//! | `GET`/`POST /oauth2/logout` | end-session endpoint (OpenID Connect RP-Initiated Logout 1.0) |
//! | `POST /oauth2/introspect` | RFC 7662, as a client (its own tokens) or with the admin token (any token) |
//! | `POST /oauth2/revoke` | RFC 7009, as the client holding the token |
//! | `POST /oauth2/register` | RFC 7591, with the initial access token (the admin token) |
//! | `GET`/`PUT`/`DELETE /oauth2/register/{client_id}` | RFC 7592, with the client's registration access token |

mod authorize;
mod client_auth;
mod discovery;
mod errors;
mod logout;
mod pages;
mod par;
mod registration;
mod token;
mod userinfo;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;

use crate::server::ResidentServer;

pub use client_auth::AdminToken;
pub use errors::oauth_error;
pub use pages::{error_page, STYLESHEET};

/// The client's address, when the server that accepted the connection recorded it (`ConnectInfo`).
pub(crate) fn client_address(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Largest request body accepted by any endpoint.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub(crate) struct AppState {
    pub server: Arc<ResidentServer>,
    pub admin: AdminToken,
    pub audit: Option<RegistrationAudit>,
}

/// Where client registration (RFC 7591) and its management (RFC 7592) record their changes: the platform's audit
/// trail, with the name this resident key manager has there.
#[derive(Clone)]
pub struct RegistrationAudit {
    /// The trail.
    pub sink: Arc<dyn keymanager::connector_kit::model::AuditSink>,
    /// This key manager's name, for the records' actors.
    pub key_manager: String,
}

impl std::fmt::Debug for RegistrationAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationAudit")
            .field("key_manager", &self.key_manager)
            .finish_non_exhaustive()
    }
}

keymanager::connector_kit::route_table! {
    /// Every route of the resident server, as (method, path): what [`router`] serves, walked by the tests that
    /// check every failure's shape; each names its error family ([`ErrorFamily`]).
    AppState; families ErrorFamily;
    get "/.well-known/oauth-authorization-server" => discovery::metadata as OAuth,
    get "/.well-known/openid-configuration" => discovery::metadata as OAuth,
    get "/oauth2/jwks" => discovery::jwks as OAuth,
    get "/oauth2/authorize" => authorize::show as Page,
    post "/oauth2/authorize" => authorize::submit as Page,
    post "/oauth2/token" => token::token as OAuth,
    post "/oauth2/par" => par::push as OAuth,
    post "/oauth2/introspect" => token::introspect as OAuth,
    post "/oauth2/revoke" => token::revoke as OAuth,
    get "/oauth2/userinfo" => userinfo::userinfo as OAuth,
    post "/oauth2/userinfo" => userinfo::userinfo as OAuth,
    get "/oauth2/logout" => logout::show as Page,
    post "/oauth2/logout" => logout::submit as Page,
    post "/oauth2/register" => registration::register as OAuth,
    get "/oauth2/register/{client_id}" => registration::read as OAuth,
    put "/oauth2/register/{client_id}" => registration::update as OAuth,
    delete "/oauth2/register/{client_id}" => registration::delete as OAuth,
}

/// The shape a route's failures take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFamily {
    /// An HTML page: a route a browser is sent to (login, consent, logout).
    Page,
    /// RFC 6749 JSON: every other OAuth endpoint and the metadata.
    OAuth,
}

/// The error family of a request path, from the route table: the family of the route whose template the path
/// fits (any method), `None` for a path no route has.
pub fn error_family(path: &str) -> Option<ErrorFamily> {
    let fits = |template: &str| {
        let (mut t, mut p) = (template.split('/'), path.split('/'));
        loop {
            match (t.next(), p.next()) {
                (None, None) => return true,
                (Some(ts), Some(ps)) if ts.starts_with('{') || ts == ps => continue,
                _ => return false,
            }
        }
    };
    ROUTES
        .iter()
        .zip(ROUTE_FAMILIES)
        .find(|((_, template), _)| fits(template))
        .map(|(_, f)| *f)
}

/// The routes of the resident server. `admin` authorizes RFC 7591 registration (as the initial access token) and
/// introspection of any client's tokens.
pub fn router(server: Arc<ResidentServer>, admin: AdminToken) -> Router {
    router_audited(server, admin, None)
}

/// [`router`], with client registrations recorded in an audit trail.
pub fn router_audited(server: Arc<ResidentServer>, admin: AdminToken, audit: Option<RegistrationAudit>) -> Router {
    routes()
        .layer(axum::middleware::from_fn(errors::error_shape))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(AppState { server, admin, audit })
}
