//! The outbound HTTP kit every connector uses: one `reqwest` client (rustls), connect and request timeouts, a
//! response-size limit, bounded retry with jittered backoff for idempotent calls only (honouring `Retry-After`
//! and Okta's `X-Rate-Limit-Reset`), and failures mapped to [`Error`] kinds.
//!
//! Nothing here logs a header or a body: logs carry the method, the URL without its query, the status and the
//! attempt.
//!
//! ```no_run
//! # async fn demo() -> keymanager::Result<()> {
//! use keymanager::http::{HttpClient, HttpPolicy, Idempotency};
//! let http = HttpClient::new(HttpPolicy::default())?;
//! let doc: serde_json::Value = http
//!     .send_ok(http.get("https://idp.example.com/.well-known/openid-configuration"), Idempotency::Idempotent)
//!     .await?
//!     .json()?;
//! # Ok(()) }
//! ```

mod backoff;

pub(crate) mod response;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::error_dialect::{ErrorDialect, ErrorFields, OAuthErrors};
pub use backoff::retry_after;
pub use response::HttpResponse;

use crate::{Error, Result};

/// Limits and retry settings of an [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for a whole request, body included.
    pub request_timeout: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: usize,
    /// Retries after the first attempt, for idempotent calls.
    pub max_retries: u32,
    /// First backoff delay; doubled per retry, with jitter.
    pub initial_backoff: Duration,
    /// Largest backoff delay.
    pub max_backoff: Duration,
    /// Longest `Retry-After` we wait for before retrying; a longer one is returned as `RateLimited`.
    pub max_retry_wait: Duration,
    /// `User-Agent`.
    pub user_agent: String,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 1024 * 1024,
            max_retries: 2,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_wait: Duration::from_secs(10),
            user_agent: concat!("keymanager/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Whether a call may be sent twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// GET, PUT, DELETE, and POSTs that are safe to repeat (introspection, revocation): retried.
    Idempotent,
    /// Creates something (registration, token issuance, new secret): never retried.
    NonIdempotent,
}

/// The shared outbound client. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    policy: Arc<HttpPolicy>,
    dialect: Arc<dyn ErrorDialect>,
    label: Arc<str>,
    /// Set on clients that fetch on someone else's say: every URL and resolved address passes it.
    egress: Option<crate::egress::Egress>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").field("policy", &self.policy).finish()
    }
}

impl HttpClient {
    /// A client with these limits.
    pub fn new(policy: HttpPolicy) -> Result<Self> {
        Self::build(policy, None)
    }

    /// A client for fetches made on someone else's say (a client's `jwks_uri`, a key manager added at run time, a
    /// discovery URL): every URL and every resolved address passes the egress guard, and no
    /// redirect is followed.
    pub fn guarded(policy: HttpPolicy, egress: crate::egress::Egress) -> Result<Self> {
        Self::build(policy, Some(egress))
    }

    fn build(policy: HttpPolicy, egress: Option<crate::egress::Egress>) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.request_timeout)
            .user_agent(policy.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none());
        if let Some(guard) = egress {
            builder = builder.dns_resolver(guard.resolver());
        }
        let client = builder
            .build()
            .map_err(|e| Error::transport(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpClient {
            client,
            policy: Arc::new(policy),
            dialect: Arc::new(OAuthErrors),
            label: Arc::from("unnamed"),
            egress,
        })
    }

    /// The egress guard of this client, when it has one.
    pub fn egress(&self) -> Option<crate::egress::Egress> {
        self.egress
    }

    /// The same client, its calls counted in the upstream metrics under this key manager's name.
    pub fn with_metrics_label(&self, key_manager: &str) -> Self {
        HttpClient {
            label: Arc::from(key_manager),
            ..self.clone()
        }
    }

    /// The same client (connections and limits shared), reading error answers as `dialect` says its provider
    /// writes them.
    pub fn with_error_dialect(&self, dialect: Arc<dyn ErrorDialect>) -> Self {
        HttpClient {
            dialect,
            ..self.clone()
        }
    }

    /// The limits in force.
    pub fn policy(&self) -> &HttpPolicy {
        &self.policy
    }

    /// Start a request.
    pub fn request(&self, method: reqwest::Method, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.client
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Start a GET.
    pub fn get(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, url)
    }

    /// Start a POST.
    pub fn post(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, url)
    }

    /// Send, retrying idempotent calls on transport failures, timeouts, 429, 502, 503 and 504. Answers with any
    /// final status; errors only for transport, timeout and size failures.
    pub async fn send(&self, builder: reqwest::RequestBuilder, idempotency: Idempotency) -> Result<HttpResponse> {
        let request = builder
            .build()
            .map_err(|e| Error::transport(format!("cannot build the request: {}", e.without_url())))?;
        if let Some(guard) = self.egress {
            guard.check_url(request.url())?;
        }
        let method = request.method().clone();
        let url = response::url_for_logs(request.url());
        let retries = if idempotency == Idempotency::Idempotent {
            self.policy.max_retries
        } else {
            0
        };
        let mut attempt = 0u32;
        loop {
            let this_try = request
                .try_clone()
                .ok_or_else(|| Error::transport("the request body cannot be replayed"))?;
            let started = Instant::now();
            let outcome = self.execute_once(this_try, &url).await;
            let elapsed = started.elapsed();
            let elapsed_ms = elapsed.as_millis() as u64;
            let status_label = match &outcome {
                Ok(resp) => resp.status.as_u16().to_string(),
                Err(e) => e.kind().to_owned(),
            };
            metrics::counter!(
                "keymanager_upstream_requests_total",
                "key_manager" => self.label.to_string(),
                "method" => method.to_string(),
                "status" => status_label
            )
            .increment(1);
            metrics::histogram!(
                "keymanager_upstream_request_duration_seconds",
                "key_manager" => self.label.to_string(),
                "method" => method.to_string()
            )
            .record(elapsed.as_secs_f64());
            let can_retry = attempt < retries;
            match outcome {
                Ok(resp) => {
                    tracing::debug!(%method, url = %url, status = resp.status.as_u16(), attempt, elapsed_ms, "upstream answered");
                    let status = resp.status.as_u16();
                    if can_retry && matches!(status, 429 | 502 | 503 | 504) {
                        let wait = match retry_after(&resp.headers, status) {
                            Some(w) if w > self.policy.max_retry_wait => return Ok(resp),
                            Some(w) => w,
                            None => backoff::jittered(&self.policy, attempt),
                        };
                        tracing::info!(%method, url = %url, status, attempt, wait_ms = wait.as_millis() as u64, "retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    return Ok(resp);
                }
                Err(e @ (Error::Transport { .. } | Error::Timeout { .. })) if can_retry => {
                    let wait = backoff::jittered(&self.policy, attempt);
                    tracing::info!(%method, url = %url, attempt, elapsed_ms, error = %e, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::debug!(%method, url = %url, attempt, elapsed_ms, error = %e, "upstream failed");
                    return Err(e);
                }
            }
        }
    }

    /// [`send`](Self::send), then turn a non-success status into the fitting [`Error`] kind with the provider's
    /// body.
    pub async fn send_ok(&self, builder: reqwest::RequestBuilder, idempotency: Idempotency) -> Result<HttpResponse> {
        let resp = self.send(builder, idempotency).await?;
        if resp.status.is_success() {
            Ok(resp)
        } else {
            Err(resp.into_error())
        }
    }

    async fn execute_once(&self, request: reqwest::Request, url: &str) -> Result<HttpResponse> {
        let map_err = |e: reqwest::Error| {
            if let Some(refused) = crate::egress::refusal_in(&e) {
                return refused;
            }
            let timed_out = e.is_timeout();
            let message = format!("{url}: {}", crate::error::chain(&e.without_url()));
            if timed_out {
                Error::timeout(message)
            } else {
                Error::transport(message)
            }
        };
        let mut resp = self.client.execute(request).await.map_err(map_err)?;
        let limit = self.policy.max_response_bytes;
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(Error::response_too_large(url, limit));
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(map_err)? {
            if body.len() + chunk.len() > limit {
                return Err(Error::response_too_large(url, limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
            url: url.to_owned(),
            dialect: self.dialect.clone(),
        })
    }
}
