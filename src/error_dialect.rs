//! What a provider's error answers look like: knowledge each connector hands to the HTTP kit, so the core knows the
//! standard shape only.

use serde::Deserialize;
use serde_json::Value;

/// The fields of a provider's error body that the core keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorFields {
    /// The provider's error code (OAuth `error`, or the provider's own).
    pub code: Option<String>,
    /// Its message for people.
    pub message: Option<String>,
    /// Detailed causes, when the provider lists them.
    pub causes: Vec<String>,
}

/// How one provider spells its errors. A connector implements it for its provider and sets it on its
/// [`HttpClient`](crate::http::HttpClient) with [`with_error_dialect`](crate::http::HttpClient::with_error_dialect).
pub trait ErrorDialect: Send + Sync + std::fmt::Debug {
    /// The response header that carries the provider's request id, if it sends one.
    fn request_id_header(&self) -> Option<&'static str> {
        Some("x-request-id")
    }

    /// Code, message and causes of an error body that parsed as JSON (empty when it is not the dialect's shape).
    fn fields(&self, body: &Value) -> ErrorFields {
        OAuthErrors.fields(body)
    }
}

/// The error response of RFC 6749 §5.2 (also RFC 7591 §3.2.2 and RFC 6750 §3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct OAuthErrorBody {
    /// The error code (`invalid_request`, `invalid_client`, …).
    pub error: Option<String>,
    /// A human-readable description.
    pub error_description: Option<String>,
    /// A page about the error.
    pub error_uri: Option<String>,
}

/// RFC 6749 §5.2: `error` and `error_description`; the default of every client.
#[derive(Debug, Clone, Copy, Default)]
pub struct OAuthErrors;

impl ErrorDialect for OAuthErrors {
    fn fields(&self, body: &Value) -> ErrorFields {
        let parsed = OAuthErrorBody::deserialize(body).unwrap_or_default();
        ErrorFields {
            code: parsed.error,
            message: parsed.error_description,
            causes: Vec::new(),
        }
    }
}
