//! The accept loop of `keymanager serve`: HTTP/1.1 over TCP or TLS, with the limits a public server needs against
//! slow or greedy clients: a header-read timeout (a client that trickles its request head is cut off), a request
//! timeout (applied by [`request_timeout`] around every handler, body reading included), and a cap on concurrent
//! connections (past it, new connections wait in the kernel's backlog rather than take memory here).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// How long connections may take, and how many there may be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// From a connection's start (or the end of its previous request) to the end of a request head.
    pub header_read_timeout: Duration,
    /// From a request head to the end of its answer, body reading included.
    pub request_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Limits {
    /// The configured limits, with the defaults for what is not set.
    pub(crate) fn from_config(server: &keymanager::config::ServerConfig) -> Limits {
        use keymanager::config::{
            DEFAULT_HEADER_READ_TIMEOUT_SECONDS, DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT_SECONDS,
        };
        Limits {
            header_read_timeout: Duration::from_secs(
                server
                    .header_read_timeout_seconds
                    .unwrap_or(DEFAULT_HEADER_READ_TIMEOUT_SECONDS),
            ),
            request_timeout: Duration::from_secs(
                server
                    .request_timeout_seconds
                    .unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECONDS),
            ),
            max_connections: server.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
        }
    }
}

/// How long a shutdown waits for connections in flight.
const DRAIN: Duration = Duration::from_secs(10);

/// Serve `app` on `listener` until `shutdown` completes; then stop accepting, let requests in flight finish (up to
/// [`DRAIN`]) and return.
pub(crate) async fn serve<L>(mut listener: L, app: Router, limits: Limits, shutdown: impl Future<Output = ()>)
where
    L: axum::serve::Listener,
    L::Addr: Into<crate::tls::Peer>,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = &mut shutdown => break,
        };
        let (io, peer) = tokio::select! {
            c = listener.accept() => c,
            _ = &mut shutdown => break,
        };
        let crate::tls::Peer {
            address: peer,
            certificate,
        } = peer.into();
        let app = app.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                // The certificate the handshake proved, for every request of the connection (RFC 8705).
                if let Some(c) = &certificate {
                    req.extensions_mut().insert(c.clone());
                }
                app.clone().oneshot(req.map(Body::new))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(io), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(DRAIN, conn).await;
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    // Every connection holds a permit: once all are back, every connection has ended.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(DRAIN + Duration::from_secs(1), permits.acquire_many(all)).await;
}

/// The error shape a path's family answers in.
#[derive(Debug, Clone, Copy)]
enum Family {
    /// The HTML error page: the browser endpoint.
    Browser,
    /// RFC 6749 JSON: the other OAuth endpoints and discovery.
    OAuth,
    /// The management API's JSON error.
    Management,
}

impl Family {
    /// From the resident's route table (each route names its family); other paths under the OAuth prefixes answer
    /// as OAuth endpoints, the rest as the management API.
    fn of(path: &str) -> Family {
        match keymanager_resident::error_family(path) {
            Some(keymanager_resident::ErrorFamily::Page) => Family::Browser,
            Some(keymanager_resident::ErrorFamily::OAuth) => Family::OAuth,
            None if path.starts_with("/oauth2/") || path.starts_with("/.well-known/") => Family::OAuth,
            None => Family::Management,
        }
    }
}

/// Middleware: answer `408 Request Timeout` when a request (its body included) takes longer than the limit, in
/// the error shape of the route's family.
pub(crate) async fn request_timeout(limit: Duration, req: Request, next: Next) -> Response {
    // A `Uri` clone shares its buffer: nothing is allocated on the way in.
    let uri = req.uri().clone();
    let family = Family::of(uri.path());
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            // The family, not the path: a path is the caller's text, never logged at WARN.
            tracing::warn!(family = ?family, limit_s = limit.as_secs(), "request timed out");
            timeout_answer(family)
        }
    }
}

/// The 408 answer in the family's shape, closing the connection.
fn timeout_answer(family: Family) -> Response {
    const WHY: &str = "the request took too long; send it again";
    let mut resp = match family {
        Family::Browser => keymanager_resident::error_page(StatusCode::REQUEST_TIMEOUT, WHY),
        Family::OAuth => keymanager_resident::oauth_error(StatusCode::REQUEST_TIMEOUT, "invalid_request", WHY),
        Family::Management => {
            keymanager::api::ApiError::new(StatusCode::REQUEST_TIMEOUT, "Request Timeout", WHY).into_response()
        }
    };
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Ctrl-C or SIGTERM: stop taking connections and finish the ones in flight.
pub(crate) async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
