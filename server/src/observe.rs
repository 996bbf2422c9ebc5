//! What an operator watches: every request in a span with its request id (`X-Request-Id`, accepted when sane or
//! generated, and echoed), one log line per request (method, route template, status, latency), and the request
//! metrics (see [`crate::metrics`]).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The request id header.
pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A caller's request id is kept when it is 1 to 128 visible ASCII characters; otherwise one is generated.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The middleware: span, request id, access log line, metrics.
pub(crate) async fn observe(mut req: Request, next: Next) -> Response {
    let id = request_id(&req);
    // Inner layers (the audit trail) read the id the answer will carry.
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    // Labels and log fields come from closed sets: an invented method is `other`, never the caller's text.
    let method = crate::metrics::method_label(req.method());
    // The route template, never the concrete path: ids in paths are not log or label material.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let started = Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = resp.status().as_u16();
    span.in_scope(|| {
        // Milliseconds to the microsecond: 2.688, not 2.6881909999999998.
        tracing::info!(status, latency_ms = elapsed.as_micros() as f64 / 1000.0, "request");
    });
    crate::metrics::request(method, &route, status, elapsed);
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    resp
}
