//! Errors as the management API answers them: one JSON shape, the fitting status.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::dto::{ErrorDto, FieldErrorDto};
use crate::Error;

use crate::model::Challenge;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: &'static str,
    description: String,
    errors: Vec<FieldErrorDto>,
    retry_after: Option<u64>,
    /// The `WWW-Authenticate` challenge (RFC 6750 §3) of a 401 or 403.
    challenge: Option<String>,
}

impl ApiError {
    /// An error answer: its status, a short message (the status's reason phrase, or a more precise one) and a
    /// description for people.
    pub fn new(status: StatusCode, message: &'static str, description: impl Into<String>) -> Self {
        ApiError {
            status,
            message,
            description: description.into(),
            errors: Vec::new(),
            retry_after: None,
            challenge: None,
        }
    }

    /// An error whose message is the status's own reason phrase.
    pub fn with_status(status: StatusCode, description: impl Into<String>) -> Self {
        ApiError::new(status, status.canonical_reason().unwrap_or("Error"), description)
    }

    pub(crate) fn field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldErrorDto {
            field: field.into(),
            message: message.into(),
        });
        self
    }

    /// `401`: no bearer token (RFC 6750 §3.1: the challenge names no error).
    pub(crate) fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "a bearer token is required: an admin token, or an access token with a keymanager scope",
        )
    }

    /// `401`: a bearer token that is not an admin token nor a valid access token of a key manager the API
    /// accepts.
    pub(crate) fn invalid_token() -> Self {
        let mut e = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "the bearer token is not an admin token nor a valid access token of a key manager this API accepts",
        );
        e.challenge = Some(Challenge::bearer().error("invalid_token").to_string());
        e
    }

    /// `403`: a valid caller whose token lacks `scope` (RFC 6750 §3.1 `insufficient_scope`).
    pub(crate) fn insufficient_scope(scope: &str) -> Self {
        let mut e = ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("this route needs an access token with scope `{scope}`"),
        );
        e.challenge = Some(Challenge::bearer().error("insufficient_scope").scope(scope).to_string());
        e
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        use StatusCode as S;
        let description = e.detail();
        let (status, message) = match &e {
            Error::NotFound { .. } => (S::NOT_FOUND, "Not Found"),
            Error::Conflict { .. } => (S::CONFLICT, "Conflict"),
            Error::LimitExceeded { .. } => (S::CONFLICT, "Limit Reached"),
            Error::InvalidRequest { .. } | Error::InvalidScope { .. } | Error::InvalidGrant { .. } => {
                (S::BAD_REQUEST, "Bad Request")
            }
            Error::Unsupported { .. } => (S::BAD_REQUEST, "Not Supported"),
            Error::Unauthorized { .. } => (S::UNAUTHORIZED, "Unauthorized"),
            Error::Forbidden { .. } => (S::FORBIDDEN, "Forbidden"),
            Error::RateLimited { .. } => (S::TOO_MANY_REQUESTS, "Rate Limited"),
            Error::Busy { .. } => (S::SERVICE_UNAVAILABLE, "Service Unavailable"),
            // This node's setup (say, a secret key it lacks): not the caller's fault, not a crash.
            Error::Configuration(_) => (S::SERVICE_UNAVAILABLE, "Not Configured"),
            Error::Timeout { .. } => (S::GATEWAY_TIMEOUT, "Key Manager Timeout"),
            Error::Upstream(_)
            | Error::MalformedResponse { .. }
            | Error::ResponseTooLarge { .. }
            | Error::Transport { .. } => (S::BAD_GATEWAY, "Key Manager Error"),
            _ => (S::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        };
        let mut out = if status == S::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, kind = e.kind(), "management request failed");
            ApiError::new(status, message, "the server could not complete the request")
        } else {
            ApiError::new(status, message, description)
        };
        match e {
            Error::InvalidRequest {
                field: Some(f),
                message,
                ..
            } => out = out.field(request_field(&f), message),
            Error::RateLimited { retry_after, .. } => out.retry_after = retry_after.map(|d| d.as_secs()),
            Error::Busy { retry_after, .. } => out.retry_after = Some(retry_after.as_secs().max(1)),
            _ => {}
        }
        out
    }
}

/// A field as the request body spells it: the core names fields as the model does (`key_type`, `redirect_uris`),
/// the API's bodies in camelCase and in the platform's words (`keyType`, `callbackUrl`).
fn request_field(field: &str) -> String {
    const RENAMED: &[(&str, &str)] = &[
        ("redirect_uris", "callbackUrl"),
        ("grant_types", "grantTypesToBeSupported"),
        ("client_id", "consumerKey"),
        ("client_secret", "consumerSecret"),
        ("access_token_lifetime", "validityTime"),
        ("public_client", "bypassClientCredentials"),
    ];
    // Below a map whose keys the caller chose or a connector declares, names are kept as they are spelled.
    const VERBATIM_BELOW: &[&str] = &["additional_properties", "settings", "attributes"];
    let mut verbatim = false;
    field
        .split('.')
        .map(|part| {
            if verbatim {
                return part.to_owned();
            }
            let (name, index) = part.split_once('[').map_or((part, ""), |(n, _)| (n, &part[n.len()..]));
            verbatim = VERBATIM_BELOW.contains(&name);
            let renamed = RENAMED
                .iter()
                .find(|(from, _)| *from == name)
                .map(|(_, to)| (*to).to_owned())
                .unwrap_or_else(|| camel_case(name));
            renamed + index
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorDto {
            code: self.status.as_u16(),
            message: self.message.into(),
            description: self.description,
            errors: self.errors,
        };
        let mut resp = (self.status, Json(body)).into_response();
        let challenge = match (self.challenge, self.status) {
            (Some(c), _) => Some(c),
            (None, StatusCode::UNAUTHORIZED) => Some(Challenge::bearer().to_string()),
            _ => None,
        };
        if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

#[cfg(test)]
mod field_tests {
    #[test]
    fn fields_are_named_as_the_request_spells_them() {
        use super::request_field as f;
        assert_eq!(f("key_type"), "keyType");
        assert_eq!(f("redirect_uris"), "callbackUrl");
        assert_eq!(f("additional_properties.tier"), "additionalProperties.tier");
        assert_eq!(
            f("additional_properties.token_endpoint_auth_method"),
            "additionalProperties.token_endpoint_auth_method"
        );
        assert_eq!(f("settings.base_url"), "settings.base_url");
        assert_eq!(f("scopes[2]"), "scopes[2]");
        assert_eq!(f("name"), "name");
    }
}
