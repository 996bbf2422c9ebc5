//! Authorization server metadata (RFC 8414) and the JWKS.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::errors::server_error;
use super::AppState;

/// The algorithms of `private_key_jwt` assertions this server verifies (the key's type fixes which).
const CLIENT_ASSERTION_ALGORITHMS: [&str; 4] = ["ES256", "RS256", "EdDSA", "Ed25519"];

pub(crate) async fn metadata(State(app): State<AppState>) -> impl IntoResponse {
    let s = app.server.settings();
    let base = &s.issuer;
    let algorithms: Vec<&str> = app.server.keys().algorithms().iter().map(|a| a.as_str()).collect();
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "jwks_uri": format!("{base}/oauth2/jwks"),
        "registration_endpoint": format!("{base}/oauth2/register"),
        "introspection_endpoint": format!("{base}/oauth2/introspect"),
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token", "password"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "userinfo_endpoint": format!("{base}/oauth2/userinfo"),
        "end_session_endpoint": format!("{base}/oauth2/logout"),
        "id_token_signing_alg_values_supported": algorithms,
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid", "name", "email",
            "email_verified"
        ],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGORITHMS,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGORITHMS,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGORITHMS,
        "subject_types_supported": ["public"],
    }))
}

pub(crate) async fn jwks(State(app): State<AppState>) -> axum::response::Response {
    match app.server.keys().jwks().await {
        Ok(doc) => ([(header::CACHE_CONTROL, "public, max-age=300")], Json(doc)).into_response(),
        Err(e) => server_error(e).into_response(),
    }
}
