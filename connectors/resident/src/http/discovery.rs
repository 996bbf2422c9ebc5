//! Authorization server metadata (RFC 8414) and the JWKS.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::errors::server_error;
use super::AppState;

pub(crate) async fn metadata(State(app): State<AppState>) -> impl IntoResponse {
    let s = app.server.settings();
    let base = &s.issuer;
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
        "id_token_signing_alg_values_supported": [s.algorithm.as_str()],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "name", "email", "email_verified"
        ],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "subject_types_supported": ["public"],
    }))
}

pub(crate) async fn jwks(State(app): State<AppState>) -> axum::response::Response {
    match app.server.keys().jwks().await {
        Ok(doc) => ([(header::CACHE_CONTROL, "public, max-age=300")], Json(doc)).into_response(),
        Err(e) => server_error(e).into_response(),
    }
}
