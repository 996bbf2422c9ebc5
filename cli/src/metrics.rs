//! `GET /metrics` in the Prometheus text format, through the `metrics` facade and its Prometheus exporter. Labels
//! are route templates, methods, statuses, key manager names, grant types and outcomes: never a token, a secret, a
//! client id or any other string a client sends.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets, seconds: 1 ms to 10 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Install the recorder (once per process); metrics recorded before are lost, after it they are kept.
pub(crate) fn install() -> Result<PrometheusHandle, String> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    describe();
    Ok(HANDLE.get_or_init(|| handle).clone())
}

fn describe() {
    metrics::describe_counter!(
        "keymanager_http_requests_total",
        "HTTP requests by route template, method and status"
    );
    metrics::describe_histogram!(
        "keymanager_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency by route template and method"
    );
    metrics::describe_counter!(
        "keymanager_tokens_issued_total",
        "Access tokens issued, by key manager and grant"
    );
    metrics::describe_counter!(
        "keymanager_validations_total",
        "Token validations, by outcome and reason"
    );
    metrics::describe_counter!(
        "keymanager_upstream_requests_total",
        "Calls to key managers' providers, by key manager, operation and status"
    );
    metrics::describe_histogram!(
        "keymanager_upstream_request_duration_seconds",
        metrics::Unit::Seconds,
        "Latency of calls to providers, by key manager and operation"
    );
    metrics::describe_counter!(
        "keymanager_cache_total",
        "Cache lookups, by cache and result (hit, miss)"
    );
    metrics::describe_gauge!(
        "keymanager_store_connections",
        "Store pool connections, by store and state"
    );
}

/// One HTTP request.
pub(crate) fn request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("keymanager_http_requests_total", &labels).increment(1);
    metrics::histogram!(
        "keymanager_http_request_duration_seconds",
        "method" => method.to_owned(),
        "route" => route.to_owned()
    )
    .record(elapsed.as_secs_f64());
}

/// The pool's size and idle connections, sampled when scraped.
pub(crate) fn store_pool(store: &str, pool: &sqlx::AnyPool) {
    let size = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    metrics::gauge!("keymanager_store_connections", "store" => store.to_owned(), "state" => "open").set(size);
    metrics::gauge!("keymanager_store_connections", "store" => store.to_owned(), "state" => "idle").set(idle);
}
