//! The `oauth2` crate's HTTP client, made of the core HTTP kit: every request `oauth2` builds is sent by
//! [`HttpClient::send`], so connect and request timeouts, the response-size limit, bounded retries (idempotent calls
//! only), upstream metrics and redaction stay the kit's. A non-success answer becomes the kit's typed [`Error`] (read
//! with the provider's error dialect, provider detail attached) before `oauth2` sees it; a success is handed to
//! `oauth2` to parse.

use std::future::Future;
use std::pin::Pin;

use oauth2::{HttpRequest, HttpResponse};

use crate::http::{HttpClient, Idempotency};
use crate::{Error, Result};

/// An `oauth2` [`AsyncHttpClient`](oauth2::AsyncHttpClient) over the kit, for calls of one idempotency.
pub struct KitClient<'a> {
    http: &'a HttpClient,
    idempotency: Idempotency,
    /// Where to send, whatever URL `oauth2` put on the request (see [`KitClient::to`]).
    target: Option<&'a str>,
}

impl<'a> KitClient<'a> {
    /// Token requests are never retried (a grant may be single use); introspection and revocation are.
    pub fn new(http: &'a HttpClient, idempotency: Idempotency) -> Self {
        KitClient {
            http,
            idempotency,
            target: None,
        }
    }

    /// Send every request to `endpoint`. `oauth2` refuses a revocation URL that is not `https` (RFC 7009 §2), while
    /// the scheme policy here is the configuration's (https, or http on loopback or where `allow_insecure_http`
    /// says so), applied when the endpoint was configured: `oauth2` is given an https spelling of it, and the
    /// request goes to the endpoint as configured.
    pub fn to(mut self, endpoint: &'a str) -> Self {
        self.target = Some(endpoint);
        self
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let (parts, body) = request.into_parts();
        let builder = self
            .http
            .request(
                parts.method,
                self.target.map(str::to_owned).unwrap_or_else(|| parts.uri.to_string()),
            )
            .headers(parts.headers)
            .body(body);
        let answer = self.http.send(builder, self.idempotency).await?;
        if !answer.status.is_success() {
            return Err(answer.into_error());
        }
        // RFC 6749 §5.1 and RFC 7009 §2.2 answer 200, and `oauth2` takes 200 only; another success status is a
        // success all the same.
        let mut out = oauth2::http::Response::builder().status(oauth2::http::StatusCode::OK);
        if let Some(headers) = out.headers_mut() {
            *headers = answer.headers.clone();
        }
        out.body(answer.body)
            .map_err(|e| Error::transport(format!("cannot hand over the answer: {e}")))
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for KitClient<'_> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
