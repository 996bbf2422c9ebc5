//! The resident server's HTTP face, an axum [`Router`] a gateway can mount or `keymanager serve` serves.
//!
//! | path | what |
//! |---|---|
//! | `GET /.well-known/oauth-authorization-server`, `GET /.well-known/openid-configuration` | metadata (RFC 8414) |
//! | `GET /oauth2/jwks` | signing keys (RFC 7517) |
//! | `GET`/`POST /oauth2/authorize` | login and consent (RFC 6749 §4.1, PKCE RFC 7636, `iss` RFC 9207) |
//! | `POST /oauth2/token` | token endpoint (RFC 6749 §4.4), `client_secret_basic` or `client_secret_post` |
//! | `POST /oauth2/introspect` | RFC 7662, as a client (its own tokens) or with the admin token (any token) |
//! | `POST /oauth2/revoke` | RFC 7009, as the client holding the token |
//! | `POST /oauth2/register` | RFC 7591, with the initial access token (the admin token) |
//! | `GET`/`PUT`/`DELETE /oauth2/register/{client_id}` | RFC 7592, with the client's registration access token |

mod authorize;
mod client_auth;
mod discovery;
mod errors;
mod registration;
mod token;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::server::ResidentServer;

pub use client_auth::AdminToken;

/// Largest request body accepted by any endpoint.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub(crate) struct AppState {
    pub server: Arc<ResidentServer>,
    pub admin: AdminToken,
}

/// The routes of the resident server. `admin` authorizes RFC 7591 registration (as the initial access token) and
/// introspection of any client's tokens.
pub fn router(server: Arc<ResidentServer>, admin: AdminToken) -> Router {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(discovery::metadata))
        .route("/.well-known/openid-configuration", get(discovery::metadata))
        .route("/oauth2/jwks", get(discovery::jwks))
        .route("/oauth2/authorize", get(authorize::show).post(authorize::submit))
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/introspect", post(token::introspect))
        .route("/oauth2/revoke", post(token::revoke))
        .route("/oauth2/register", post(registration::register))
        .route(
            "/oauth2/register/{client_id}",
            get(registration::read)
                .put(registration::update)
                .delete(registration::delete),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(AppState { server, admin })
}
