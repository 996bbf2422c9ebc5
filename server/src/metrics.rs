//! `GET /metrics` in the Prometheus text format, through the `metrics` facade and its Prometheus exporter. Labels
//! are route templates, methods, statuses, key manager names, grant types and outcomes: never a token, a secret, a
//! client id or any other string a client sends.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{OnceLock, RwLock};
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
    // Histograms keep their samples until drained: drain them every few seconds, scraped or not.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
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

/// The metric handles of one (method, route template, status), resolved once: recording a request is then two
/// atomic updates, with no label allocated and no registry lookup.
#[derive(Clone)]
struct RequestHandles {
    method: String,
    route: String,
    status: u16,
    count: metrics::Counter,
    latency: metrics::Histogram,
}

/// Handles by a hash of their labels (each entry keeps its labels, so a collision is detected, never misfiled).
static REQUEST_HANDLES: OnceLock<RwLock<HashMap<u64, RequestHandles>>> = OnceLock::new();

/// Most distinct (method, route, status) kept; route templates are a fixed set, so this is never reached in practice.
const MAX_REQUEST_SERIES: usize = 4096;

/// The `method` label: one of the nine methods of RFC 9110 §9 and RFC 5789, or `other`. A caller can invent any
/// number of method names; a label set must stay closed.
pub(crate) fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// The `status` label: the status code, which the server chooses (never a caller), from a closed range.
fn status_label(status: u16) -> u16 {
    if (100..600).contains(&status) {
        status
    } else {
        0
    }
}

/// One HTTP request: `method` from [`method_label`], `route` a route template of the router or `unmatched`.
pub(crate) fn request(method: &'static str, route: &str, status: u16, elapsed: Duration) {
    let status = status_label(status);
    let key = {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (method, route, status).hash(&mut h);
        h.finish()
    };
    let table = REQUEST_HANDLES.get_or_init(|| RwLock::new(HashMap::new()));
    let found = table
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .filter(|h| h.status == status && h.method == method && h.route == route)
        .cloned();
    let handles = match found {
        Some(h) => h,
        None => {
            let h = RequestHandles {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
                count: metrics::counter!(
                    "keymanager_http_requests_total",
                    "method" => method.to_owned(),
                    "route" => route.to_owned(),
                    "status" => status.to_string()
                ),
                latency: metrics::histogram!(
                    "keymanager_http_request_duration_seconds",
                    "method" => method.to_owned(),
                    "route" => route.to_owned()
                ),
            };
            let mut t = table.write().unwrap_or_else(|p| p.into_inner());
            if t.len() < MAX_REQUEST_SERIES {
                t.insert(key, h.clone());
            }
            h
        }
    };
    handles.count.increment(1);
    handles.latency.record(elapsed.as_secs_f64());
}

/// The pool's size and idle connections, sampled when scraped.
pub(crate) fn store_pool(store: &str, pool: &sqlx::AnyPool) {
    let size = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    metrics::gauge!("keymanager_store_connections", "store" => store.to_owned(), "state" => "open").set(size);
    metrics::gauge!("keymanager_store_connections", "store" => store.to_owned(), "state" => "idle").set(idle);
}
