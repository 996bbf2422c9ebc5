//! A received response, its body read within the size limit.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ProviderError;
use crate::{Error, Result};

/// A provider's answer. `Debug` shows the status and the body's length, never the body (it may carry secrets).
pub struct HttpResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    pub(crate) url: String,
    pub(crate) dialect: std::sync::Arc<dyn crate::error_dialect::ErrorDialect>,
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("url", &self.url)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpResponse {
    /// Parse the body as JSON; a mismatch names the JSON path serde stopped at.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        let de = &mut serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(de)
            .map_err(|e| Error::malformed(self.url.clone(), e.path().to_string(), e.inner().to_string()))
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The provider's error, parsed and redacted.
    pub fn provider_error(&self) -> ProviderError {
        let request_id = self
            .dialect
            .request_id_header()
            .and_then(|h| self.header(h))
            .map(str::to_owned);
        ProviderError::from_body_in(self.status.as_u16(), &self.body, request_id, self.dialect.as_ref())
    }

    /// The [`Error`] kind for this (non-success) answer.
    pub fn into_error(self) -> Error {
        let retry_after = super::retry_after(&self.headers, self.status.as_u16());
        Error::from_provider(self.provider_error(), retry_after)
    }

    /// The URL that answered, without its query.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The URL without query or fragment: what may go into logs and errors.
pub(crate) fn url_for_logs(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}
