//! OAuth error answers (RFC 6749 §5.2, RFC 6750 §3, RFC 7591 §3.2.2).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use keymanager::Error;
use serde_json::json;

/// An OAuth error answer.
#[derive(Debug)]
pub(crate) struct OAuthError {
    pub status: StatusCode,
    pub code: String,
    pub description: String,
    /// `WWW-Authenticate` scheme to send on 401: `Basic` (client auth) or `Bearer` (tokens).
    pub challenge: Option<&'static str>,
}

impl OAuthError {
    pub fn new(status: StatusCode, code: &str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            code: code.into(),
            description: description.into(),
            challenge: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_client() -> Self {
        OAuthError {
            challenge: Some("Basic"),
            ..OAuthError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        }
    }

    pub fn invalid_token(description: impl Into<String>) -> Self {
        OAuthError {
            challenge: Some("Bearer"),
            ..OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_token", description)
        }
    }

    /// The answer for a core error at the token, introspection and revocation endpoints.
    pub fn from_error(e: Error) -> Self {
        match e {
            Error::Unauthorized { .. } => OAuthError::invalid_client(),
            Error::InvalidScope { message, .. } => OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", message),
            Error::InvalidGrant { code, message, .. } => OAuthError::new(StatusCode::BAD_REQUEST, &code, message),
            Error::InvalidRequest { message, .. } => OAuthError::invalid_request(message),
            other => server_error(other),
        }
    }
}

/// A 500 whose details go to the log, not to the caller.
pub(crate) fn server_error(e: Error) -> OAuthError {
    tracing::error!(error = %e, kind = e.kind(), "request failed");
    OAuthError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the server could not complete the request",
    )
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        OAuthError::from_error(e)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": self.code, "error_description": self.description}));
        let mut resp = (self.status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(scheme) = self.challenge {
            let value = format!("{scheme} realm=\"keymanager\", error=\"{}\"", self.code);
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}
