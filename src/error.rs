//! The one error type of the framework.
//!
//! Every variant is a kind a caller can act on. Variants caused by a provider keep the provider's HTTP status
//! and its own error body in a [`ProviderError`], redacted of secrets before it is stored.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a kind a caller can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The named resource does not exist.
    #[error("{resource} not found: {id}")]
    NotFound {
        /// What was looked for (`client`, `secret`, `scope`, …).
        resource: String,
        /// The identifier that was looked for.
        id: String,
        /// The provider's answer, when it came from one.
        provider: Option<Box<ProviderError>>,
    },
    /// The request conflicts with the current state (a duplicate, an active secret that must not be deleted, …).
    #[error("conflict: {message}")]
    Conflict {
        /// What conflicts.
        message: String,
        /// The provider's answer, when it came from one.
        provider: Option<Box<ProviderError>>,
    },
    /// The request is invalid; `field` names the offending input where one can be named.
    #[error("invalid request{}: {message}", field.as_ref().map(|f| format!(" (field `{f}`)")).unwrap_or_default())]
    InvalidRequest {
        /// The offending field, e.g. `redirect_uris` or `grant_types`.
        field: Option<String>,
        /// Why it is invalid.
        message: String,
        /// The provider's answer, when it came from one.
        provider: Option<Box<ProviderError>>,
    },
    /// A requested scope is unknown, or not allowed for this client (OAuth `invalid_scope`).
    #[error("invalid scope: {message}")]
    InvalidScope {
        /// Which scope and why.
        message: String,
        /// The provider's answer, when it came from one.
        provider: Option<Box<ProviderError>>,
    },
    /// The grant was refused: OAuth `invalid_grant`, `unauthorized_client` or `unsupported_grant_type`.
    #[error("{code}: {message}")]
    InvalidGrant {
        /// The OAuth error code.
        code: String,
        /// Why.
        message: String,
        /// The provider's answer, when it came from one.
        provider: Option<Box<ProviderError>>,
    },
    /// Credentials were missing or refused (a client secret, an API token, an admin token).
    #[error("unauthorized: {message}")]
    Unauthorized {
        /// Why.
        message: String,
        /// The provider's answer, when it came from one.
        provider: Option<Box<ProviderError>>,
    },
    /// The credentials are valid but lack the permission for this operation.
    #[error("forbidden: {message}")]
    Forbidden {
        /// Why.
        message: String,
        /// The provider's answer, when it came from one.
        provider: Option<Box<ProviderError>>,
    },
    /// A configured or provider-imposed limit was reached (for example the number of secrets per client).
    #[error("limit reached: {message}")]
    LimitExceeded {
        /// Which limit.
        message: String,
        /// The limit, when known.
        limit: Option<u32>,
        /// The provider's answer, when it came from one.
        provider: Option<Box<ProviderError>>,
    },
    /// The provider is rate limiting us; retry after the given delay when known.
    #[error("rate limited{}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// How long to wait before the next call, from `Retry-After` or `X-Rate-Limit-Reset`.
        retry_after: Option<Duration>,
        /// The provider's answer.
        provider: Option<Box<ProviderError>>,
    },
    /// This server is at capacity for the operation (for example password hashing); retry after the delay.
    #[error("busy: {message}; retry after {}s", retry_after.as_secs())]
    Busy {
        /// What is at capacity.
        message: String,
        /// How long to wait before retrying.
        retry_after: Duration,
    },
    /// The provider answered with an error status not covered by a more specific kind (typically 5xx).
    #[error("upstream error: {0}")]
    Upstream(Box<ProviderError>),
    /// The provider answered with a body that does not parse as expected.
    #[error("malformed response from {url}{}: {message}", if path.is_empty() || path == "." { String::new() } else { format!(" at `{path}`") })]
    MalformedResponse {
        /// The URL that answered (without its query string).
        url: String,
        /// The JSON path serde stopped at (`.` for the document itself).
        path: String,
        /// serde's message.
        message: String,
    },
    /// The provider's answer was larger than the configured limit.
    #[error("response from {url} exceeds the limit of {limit} bytes")]
    ResponseTooLarge {
        /// The URL that answered (without its query string).
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The request could not be sent or the connection failed.
    #[error("transport error: {message}")]
    Transport {
        /// What failed.
        message: String,
    },
    /// The request timed out.
    #[error("timed out: {message}")]
    Timeout {
        /// What timed out.
        message: String,
    },
    /// This key manager does not support the operation.
    #[error("operation not supported by this key manager: {operation}")]
    Unsupported {
        /// The operation, e.g. `create_secret`.
        operation: String,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Configuration(#[from] ConfigError),
    /// The local store failed.
    #[error("storage error: {message}")]
    Storage {
        /// What failed (never a secret).
        message: String,
    },
}

/// The `provider` field of the kinds that carry one, borrowed as `$e` is (shared or mutable): the one list of them.
macro_rules! provider_of {
    ($e:expr) => {
        match $e {
            Error::NotFound { provider, .. }
            | Error::Conflict { provider, .. }
            | Error::InvalidRequest { provider, .. }
            | Error::InvalidScope { provider, .. }
            | Error::InvalidGrant { provider, .. }
            | Error::Unauthorized { provider, .. }
            | Error::Forbidden { provider, .. }
            | Error::LimitExceeded { provider, .. }
            | Error::RateLimited { provider, .. } => Some(provider),
            _ => None,
        }
    };
}

/// The `message` field of the kinds that carry one, borrowed as `$e` is: the one list of them.
macro_rules! message_of {
    ($e:expr) => {
        match $e {
            Error::Conflict { message, .. }
            | Error::InvalidRequest { message, .. }
            | Error::InvalidScope { message, .. }
            | Error::InvalidGrant { message, .. }
            | Error::Unauthorized { message, .. }
            | Error::Forbidden { message, .. }
            | Error::LimitExceeded { message, .. }
            | Error::Busy { message, .. }
            | Error::MalformedResponse { message, .. }
            | Error::Transport { message }
            | Error::Timeout { message }
            | Error::Storage { message } => Some(message),
            _ => None,
        }
    };
}

impl Error {
    /// `Unsupported` for the named operation.
    pub fn unsupported(operation: impl Into<String>) -> Self {
        Error::Unsupported {
            operation: operation.into(),
        }
    }

    /// `InvalidRequest` naming a field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidRequest {
            field: Some(field.into()),
            message: message.into(),
            provider: None,
        }
    }

    /// `NotFound` for a resource and its id.
    pub fn not_found(resource: impl Into<String>, id: impl Into<String>) -> Self {
        Error::NotFound {
            resource: resource.into(),
            id: id.into(),
            provider: None,
        }
    }

    /// `Unauthorized` with a message.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Error::Unauthorized {
            message: message.into(),
            provider: None,
        }
    }

    /// `Storage` with a message.
    pub fn storage(message: impl Into<String>) -> Self {
        Error::Storage {
            message: message.into(),
        }
    }

    /// `MalformedResponse`: the provider at `url` answered something that does not parse at `path`.
    pub fn malformed(url: impl Into<String>, path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::MalformedResponse {
            url: url.into(),
            path: path.into(),
            message: message.into(),
        }
    }

    /// `Conflict` with a message.
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict {
            message: message.into(),
            provider: None,
        }
    }

    /// `InvalidScope` with a message.
    pub fn invalid_scope(message: impl Into<String>) -> Self {
        Error::InvalidScope {
            message: message.into(),
            provider: None,
        }
    }

    /// `InvalidGrant` with its OAuth code (`invalid_grant`, `unauthorized_client`, `unsupported_grant_type`).
    pub fn invalid_grant(code: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidGrant {
            code: code.into(),
            message: message.into(),
            provider: None,
        }
    }

    /// `Forbidden` with a message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden {
            message: message.into(),
            provider: None,
        }
    }

    /// `Transport` with a message.
    pub fn transport(message: impl Into<String>) -> Self {
        Error::Transport {
            message: message.into(),
        }
    }

    /// `Timeout` with a message.
    pub fn timeout(message: impl Into<String>) -> Self {
        Error::Timeout {
            message: message.into(),
        }
    }

    /// The provider's own answer, if this error came from one.
    pub fn provider(&self) -> Option<&ProviderError> {
        match self {
            Error::Upstream(p) => Some(p),
            other => provider_of!(other).and_then(|p| p.as_deref()),
        }
    }

    /// A short stable name of the kind (`not_found`, `rate_limited`, …), for logs and API answers.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::Conflict { .. } => "conflict",
            Error::InvalidRequest { .. } => "invalid_request",
            Error::InvalidScope { .. } => "invalid_scope",
            Error::InvalidGrant { .. } => "invalid_grant",
            Error::Unauthorized { .. } => "unauthorized",
            Error::Forbidden { .. } => "forbidden",
            Error::LimitExceeded { .. } => "limit_exceeded",
            Error::RateLimited { .. } => "rate_limited",
            Error::Busy { .. } => "busy",
            Error::Upstream(_) => "upstream",
            Error::MalformedResponse { .. } => "malformed_response",
            Error::ResponseTooLarge { .. } => "response_too_large",
            Error::Transport { .. } => "transport",
            Error::Timeout { .. } => "timeout",
            Error::Unsupported { .. } => "unsupported",
            Error::Configuration(_) => "configuration",
            Error::Storage { .. } => "storage",
        }
    }

    /// `LimitExceeded` with a message and the limit when known.
    pub fn limit_exceeded(message: impl Into<String>, limit: Option<u32>) -> Self {
        Error::LimitExceeded {
            message: message.into(),
            limit,
            provider: None,
        }
    }

    /// `Busy`: this server is at capacity for `message`; retry after the delay.
    pub fn busy(message: impl Into<String>, retry_after: Duration) -> Self {
        Error::Busy {
            message: message.into(),
            retry_after,
        }
    }

    /// `ResponseTooLarge`: the answer from `url` passed `limit` bytes.
    pub fn response_too_large(url: impl Into<String>, limit: usize) -> Self {
        Error::ResponseTooLarge { url: url.into(), limit }
    }

    /// `RateLimited`, with the delay when known.
    pub fn rate_limited(retry_after: Option<Duration>) -> Self {
        Error::RateLimited {
            retry_after,
            provider: None,
        }
    }

    /// `InvalidRequest` with a message and no field.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Error::InvalidRequest {
            field: None,
            message: message.into(),
            provider: None,
        }
    }

    /// Attach the provider's answer this error came from. The one place provider detail is set: kinds that carry
    /// none (transport, storage, …) are returned unchanged.
    pub fn with_provider(mut self, answer: ProviderError) -> Self {
        if let Some(slot) = self.provider_slot() {
            *slot = Some(Box::new(answer));
        }
        self
    }

    /// The same kind with another message (the provider's answer, field and limit kept).
    pub fn map_message(mut self, f: impl FnOnce(&str) -> String) -> Self {
        if let Some(message) = message_of!(&mut self) {
            *message = f(message);
        }
        self
    }

    /// What went wrong, without the kind's prefix (`the application already has …`, not `conflict: the
    /// application …`): for answers that state the kind elsewhere (an HTTP status and title). Kinds whose text
    /// carries more than their message (a grant's code, a URL, a delay) keep their whole text.
    pub fn detail(&self) -> String {
        match self {
            Error::InvalidGrant { .. } | Error::MalformedResponse { .. } | Error::Busy { .. } => self.to_string(),
            _ => message_of!(self).cloned().unwrap_or_else(|| self.to_string()),
        }
    }

    fn provider_slot(&mut self) -> Option<&mut Option<Box<ProviderError>>> {
        provider_of!(self)
    }

    /// Build the error kind that fits a provider's non-success answer.
    ///
    /// OAuth error bodies (`error`, `error_description`) are recognised: `invalid_client` becomes
    /// `Unauthorized`, `invalid_scope` `InvalidScope`, `invalid_grant` / `unauthorized_client` /
    /// `unsupported_grant_type` `InvalidGrant`. Otherwise the status decides. Connectors refine this for their
    /// provider's own codes.
    pub fn from_provider(provider: ProviderError, retry_after: Option<Duration>) -> Self {
        let message = provider.summary();
        let code = provider.code.clone().unwrap_or_default();
        let kind = match (code.as_str(), provider.status) {
            // The OAuth code decides first, then the status.
            ("invalid_client", _) => Error::unauthorized(message),
            ("invalid_scope", _) => Error::invalid_scope(message),
            ("invalid_grant" | "unauthorized_client" | "unsupported_grant_type", _) => {
                Error::invalid_grant(code, message)
            }
            ("access_denied", _) => Error::forbidden(message),
            (_, 400 | 422) => Error::invalid_request(message),
            (_, 401) => Error::unauthorized(message),
            (_, 403) => Error::forbidden(message),
            (_, 404) => Error::not_found("resource", message),
            (_, 409) => Error::conflict(message),
            (_, 429) => Error::rate_limited(retry_after),
            _ => return Error::Upstream(Box::new(provider)),
        };
        kind.with_provider(provider)
    }
}

/// An error with every cause in its chain, each once: `error sending request: client error (Connect): tcp connect
/// error: Connection refused (os error 111)`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// A provider's own error answer: status, parsed fields, and the body redacted of secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderError {
    /// HTTP status.
    pub status: u16,
    /// The provider's error code (OAuth `error`, or what the connector's [`ErrorDialect`] reads).
    ///
    /// [`ErrorDialect`]: crate::error_dialect::ErrorDialect
    pub code: Option<String>,
    /// The provider's message (OAuth `error_description`, or the dialect's).
    pub message: Option<String>,
    /// Detailed causes, when the provider lists them.
    pub causes: Vec<String>,
    /// The provider's request id, when it sends one (the dialect names the header).
    pub request_id: Option<String>,
    /// The body as received, with secret-bearing JSON fields replaced by `[REDACTED]`, at most 4 KiB.
    pub body: String,
}

/// Field names whose values are secrets and never kept in an error body.
const SECRET_FIELDS: &[&str] = &[
    "client_secret",
    "clientsecret",
    "secret",
    "access_token",
    "refresh_token",
    "id_token",
    "registration_access_token",
    "registrationaccesstoken",
    "password",
    "token",
    "value",
    "api_token",
    "assertion",
    "client_assertion",
    "code_verifier",
];

const BODY_LIMIT: usize = 4096;

impl ProviderError {
    /// Parse an error body in the standard OAuth shape (`error`, `error_description`), and redact it.
    pub fn from_body(status: u16, body: &[u8], request_id: Option<String>) -> Self {
        Self::from_body_in(status, body, request_id, &crate::error_dialect::OAuthErrors)
    }

    /// Parse an error body as `dialect` reads its provider's errors, and redact it.
    pub fn from_body_in(
        status: u16,
        body: &[u8],
        request_id: Option<String>,
        dialect: &dyn crate::error_dialect::ErrorDialect,
    ) -> Self {
        let mut fields = crate::error_dialect::ErrorFields::default();
        let redacted = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(mut value) => {
                if value.is_object() {
                    fields = dialect.fields(&value);
                }
                redact_json(&mut value);
                value.to_string()
            }
            Err(_) => String::from_utf8_lossy(body).into_owned(),
        };
        let mut body = redacted;
        if body.len() > BODY_LIMIT {
            let mut cut = BODY_LIMIT;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
            body.push('…');
        }
        ProviderError {
            status,
            code: fields.code,
            message: fields.message,
            causes: fields.causes,
            request_id,
            body,
        }
    }

    /// One line for humans: code, message and causes.
    pub fn summary(&self) -> String {
        let mut s = match (&self.code, &self.message) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.clone(),
            (None, Some(m)) => m.clone(),
            (None, None) => format!("HTTP {}", self.status),
        };
        if !self.causes.is_empty() {
            s.push_str(" (");
            s.push_str(&self.causes.join("; "));
            s.push(')');
        }
        s
    }
}

impl fmt::Debug for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderError")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("message", &self.message)
            .field("causes", &self.causes)
            .field("request_id", &self.request_id)
            .field("body", &self.body)
            .finish()
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.summary())
    }
}

/// Replace the values of secret-bearing fields, at any depth, with `"[REDACTED]"`.
pub(crate) fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let key = k.to_ascii_lowercase().replace('-', "_");
                if SECRET_FIELDS.contains(&key.as_str()) && !v.is_null() {
                    *v = serde_json::Value::String("[REDACTED]".into());
                } else {
                    redact_json(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// A configuration error, naming the file, the key manager and the field where they are known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The configuration file.
    pub file: Option<PathBuf>,
    /// The key manager (its `name`, or `#N` when it has none).
    pub key_manager: Option<String>,
    /// The field, as a dotted path.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// A new error with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            key_manager: None,
            field: None,
            message: message.into(),
        }
    }

    /// Name the file.
    pub fn in_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file.get_or_insert(file.into());
        self
    }

    /// Name the key manager.
    pub fn in_key_manager(mut self, name: impl Into<String>) -> Self {
        self.key_manager.get_or_insert(name.into());
        self
    }

    /// Name the field.
    pub fn at_field(mut self, field: impl Into<String>) -> Self {
        self.field.get_or_insert(field.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(km) = &self.key_manager {
            write!(f, "key manager \"{km}\": ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_codes_map_to_their_kinds() {
        let cases = [
            ("invalid_client", 401, "unauthorized"),
            ("invalid_scope", 400, "invalid_scope"),
            ("invalid_grant", 400, "invalid_grant"),
            ("unsupported_grant_type", 400, "invalid_grant"),
            ("access_denied", 403, "forbidden"),
            // The code decides before the status.
            ("invalid_grant", 401, "invalid_grant"),
            ("unknown_code", 409, "conflict"),
        ];
        for (code, status, kind) in cases {
            let body = format!(r#"{{"error":"{code}","error_description":"x"}}"#);
            let e = Error::from_provider(ProviderError::from_body(status, body.as_bytes(), None), None);
            assert_eq!(e.kind(), kind, "{code}");
        }
        let e = Error::from_provider(ProviderError::from_body(503, b"down", None), None);
        assert_eq!(e.kind(), "upstream");
        assert_eq!(e.provider().map(|p| p.status), Some(503));
    }

    #[test]
    fn provider_detail_is_attached_in_one_place() {
        let answer = ProviderError::from_body(409, br#"{"error":"x"}"#, Some("req-9".into()));
        let e = Error::conflict("taken").with_provider(answer.clone());
        assert_eq!(e.provider().and_then(|p| p.request_id.as_deref()), Some("req-9"));
        let renamed = e.map_message(|m| format!("client: {m}"));
        assert_eq!(renamed.to_string(), "conflict: client: taken");
        assert!(renamed.provider().is_some(), "kept through map_message");
        assert!(Error::storage("disk").with_provider(answer).provider().is_none());
    }

    #[test]
    fn secrets_in_provider_bodies_are_redacted() {
        let body = br#"{"error":"x","client_secret":"s3cr3t-value","nested":{"access_token":"tok-value"},"list":[{"password":"pw-value"}]}"#;
        let p = ProviderError::from_body(400, body, None);
        let shown = format!("{p:?} {p} {}", Error::from_provider(p.clone(), None));
        for secret in ["s3cr3t-value", "tok-value", "pw-value"] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
        assert!(p.body.contains("[REDACTED]"));
    }

    #[test]
    fn config_error_names_file_key_manager_and_field() {
        let e = ConfigError::new("must be https")
            .at_field("org_url")
            .in_key_manager("okta")
            .in_file("a.toml");
        assert_eq!(
            e.to_string(),
            "a.toml: key manager \"okta\": field `org_url`: must be https"
        );
    }
}
