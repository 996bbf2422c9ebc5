//! OAuth error answers (RFC 6749 §5.2, RFC 6750 §3, RFC 7591 §3.2.2).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use keymanager::connector_kit::Error;
use serde_json::json;

/// An OAuth error answer.
#[derive(Debug)]
pub(crate) struct OAuthError {
    pub status: StatusCode,
    pub code: String,
    pub description: String,
    /// `WWW-Authenticate` scheme to send on 401: `Basic` (client auth) or `Bearer` (tokens).
    pub challenge: Option<&'static str>,
    /// `Retry-After` in seconds, on a lockout or when busy.
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(status: StatusCode, code: &str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            code: code.into(),
            description: description.into(),
            challenge: None,
            retry_after: None,
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
            // The message never says which part of a secret was wrong (it is the same for every failure); for an
            // assertion it names the check that failed.
            Error::Unauthorized { message, .. } => OAuthError {
                description: message,
                ..OAuthError::invalid_client()
            },
            Error::InvalidScope { message, .. } => OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", message),
            Error::InvalidGrant { code, message, .. } => OAuthError::new(StatusCode::BAD_REQUEST, &code, message),
            Error::InvalidRequest { message, .. } => OAuthError::invalid_request(message),
            // A locked-out user name or address (brute-force protection): RFC 6749 has no code of its own for it.
            Error::RateLimited { retry_after, .. } => {
                let wait = retry_after.map(|d| d.as_secs().max(1)).unwrap_or(60);
                OAuthError {
                    retry_after: Some(wait),
                    ..OAuthError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "invalid_grant",
                        format!("too many failed logins; try again in {wait} seconds"),
                    )
                }
            }
            Error::Busy { retry_after, .. } => OAuthError {
                retry_after: Some(retry_after.as_secs().max(1)),
                ..OAuthError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the server is busy; try again in a moment",
                )
            },
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

/// An OAuth JSON error answer (`{"error", "error_description"}`, RFC 6749 §5.2) with any status.
pub fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    OAuthError::new(status, code, description).into_response()
}

/// Every failure of the OAuth endpoints in their family's shape, including those answered before a handler runs (a
/// body over the limit, an undecodable path segment, a method the route lacks): the HTML error page on the routes
/// the table marks [`Page`](super::ErrorFamily::Page), RFC 6749 JSON on the others. Applied once, to the whole
/// router.
pub(crate) async fn error_shape(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let browser = super::error_family(req.uri().path()) == Some(super::ErrorFamily::Page);
    let resp = next.run(req).await;
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let shaped = if browser {
        content_type.starts_with("text/html")
    } else {
        content_type.starts_with("application/json")
    };
    if !(status.is_client_error() || status.is_server_error()) || shaped {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let description = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => "this endpoint does not take that method".to_owned(),
        (StatusCode::PAYLOAD_TOO_LARGE, _) => "the request body is too large".to_owned(),
        (_, true) => status.canonical_reason().unwrap_or("error").to_lowercase(),
        (_, false) => text,
    };
    let mut out = if browser {
        super::pages::error_page(status, &description)
    } else {
        let code = if status.is_server_error() {
            "server_error"
        } else {
            "invalid_request"
        };
        oauth_error(status, code, &description)
    };
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": self.code, "error_description": self.description}));
        let mut resp = (self.status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(scheme) = self.challenge {
            let value = keymanager::connector_kit::model::Challenge::scheme(scheme)
                .error(&self.code)
                .to_string();
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
