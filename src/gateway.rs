//! Gateway integration: a tower [`Layer`] that turns `Authorization: Bearer …` (RFC 6750) or `Authorization: DPoP …`
//! with its `DPoP` proof (RFC 9449) into a [`Principal`], and an axum extractor for handlers behind it.
//!
//! Refusals follow RFC 6750 §3: no token → 401 with a bare `Bearer` challenge; an invalid token → 401
//! `error="invalid_token"`; a valid token without a required scope → 403 `error="insufficient_scope"` naming the
//! scopes; a key manager that cannot be reached → 503. A token bound to a DPoP key presented as `Bearer`, a proof
//! that fails, or a proof of another key → 401 with RFC 9449's `DPoP` challenge (`invalid_token`,
//! `invalid_dpop_proof`; `algs` lists the proof algorithms). A proof names the URI the client called: behind a proxy
//! or load balancer, give the layer the public origin ([`BearerAuthLayer::public_origin`]). A token bound to a client
//! certificate (`cnf.x5t#S256`, RFC 8705) passes only when the request's extensions hold that
//! [`ClientCertificate`] (the TLS terminator puts it there; `keymanager serve` does), else 401 `invalid_token`.
//!
//! ```no_run
//! # fn demo(validator: std::sync::Arc<keymanager::validation::TokenValidator>) {
//! use axum::{routing::get, Router};
//! use keymanager::gateway::{BearerAuthLayer, Authenticated};
//!
//! async fn orders(Authenticated(p): Authenticated) -> String {
//!     format!("hello {}", p.client_id.as_deref().unwrap_or("?"))
//! }
//! let app: Router = Router::new()
//!     .route("/orders", get(orders))
//!     .layer(BearerAuthLayer::new(validator).require_scopes(["orders:read"]));
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::model::Challenge;
use crate::validation::mtls::ClientCertificate;
use crate::validation::{Principal, TokenValidator, ValidationError};

/// Requires a valid bearer or DPoP-bound token (and scopes) on every request of the wrapped service.
#[derive(Clone)]
pub struct BearerAuthLayer {
    validator: Arc<TokenValidator>,
    scopes: Arc<[String]>,
    origin: Option<Arc<str>>,
}

impl BearerAuthLayer {
    /// Require a valid token from any configured key manager.
    pub fn new(validator: Arc<TokenValidator>) -> Self {
        BearerAuthLayer {
            validator,
            scopes: Arc::from(Vec::new()),
            origin: None,
        }
    }

    /// The scheme and authority clients call this service at (`https://api.example`): a DPoP proof's `htu` is
    /// checked against it and the request's path. Without it, only a request whose target is an absolute URI can
    /// carry a DPoP-bound token; the others are refused (never guessed from `Host` or `X-Forwarded-*`).
    pub fn public_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(Arc::from(origin.into().trim_end_matches('/')));
        self
    }

    /// Also require every one of these scopes.
    pub fn require_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect::<Vec<_>>().into();
        self
    }
}

impl<S> Layer<S> for BearerAuthLayer {
    type Service = BearerAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth {
            inner,
            validator: self.validator.clone(),
            scopes: self.scopes.clone(),
            origin: self.origin.clone(),
        }
    }
}

/// The service [`BearerAuthLayer`] makes.
#[derive(Clone)]
pub struct BearerAuth<S> {
    inner: S,
    validator: Arc<TokenValidator>,
    scopes: Arc<[String]>,
    origin: Option<Arc<str>>,
}

impl<S> Service<Request<Body>> for BearerAuth<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let validator = self.validator.clone();
        let scopes = self.scopes.clone();
        let uri = match &self.origin {
            Some(origin) => Some(format!("{origin}{}", req.uri().path())),
            None => req.uri().scheme().map(|_| req.uri().to_string()),
        };
        Box::pin(async move {
            // The TLS terminator put the connection's client certificate here, if the client sent one.
            let certificate = req.extensions().get::<ClientCertificate>().cloned();
            let request =
                RequestTarget::new(req.method().as_str(), uri.as_deref()).with_client_certificate(certificate.as_ref());
            match authorize(&validator, &scopes, req.headers(), &request).await {
                Ok(principal) => {
                    req.extensions_mut().insert(principal);
                    inner.call(req).await
                }
                Err(refusal) => Ok(refusal.into_response()),
            }
        })
    }
}

/// Why a request was refused, as an RFC 6750 answer.
#[derive(Debug)]
pub enum Refusal {
    /// No bearer token.
    Missing,
    /// The token is not valid.
    Invalid(ValidationError),
    /// The token lacks scopes: the scopes the resource needs.
    InsufficientScope(crate::model::Scopes),
}

/// What a token's request is, for a DPoP proof: its method and the absolute URI the client called (`None` when it
/// cannot be known here).
#[derive(Debug, Clone, Copy)]
pub struct RequestTarget<'a> {
    method: &'a str,
    uri: Option<&'a str>,
    certificate: Option<&'a ClientCertificate>,
}

impl<'a> RequestTarget<'a> {
    /// A request's method and absolute URI.
    pub fn new(method: &'a str, uri: Option<&'a str>) -> Self {
        RequestTarget {
            method,
            uri,
            certificate: None,
        }
    }

    /// The TLS client certificate the request came with (RFC 8705), if any.
    pub fn with_client_certificate(mut self, certificate: Option<&'a ClientCertificate>) -> Self {
        self.certificate = certificate;
        self
    }
}

/// Validate the request's token (`Bearer`, or `DPoP` with its proof) and check scopes.
pub async fn authorize(
    validator: &TokenValidator,
    scopes: &[String],
    headers: &HeaderMap,
    request: &RequestTarget<'_>,
) -> Result<Arc<Principal>, Refusal> {
    let (scheme, token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::model::access_token)
        .ok_or(Refusal::Missing)?;
    // RFC 9449 §4.3 step 1: exactly one `DPoP` header.
    let mut proofs = headers.get_all("dpop").iter();
    let proof = match (proofs.next(), proofs.next()) {
        (Some(one), None) => one.to_str().ok(),
        _ => None,
    };
    let presented = crate::validation::Presented {
        scheme,
        token,
        proof,
        method: request.method,
        uri: request.uri,
        client_certificate: request.certificate,
    };
    let principal = validator
        .validate_presented(&presented)
        .await
        .map_err(Refusal::Invalid)?;
    if let Some(missing) = scopes.iter().find(|s| !principal.has_scope(s)) {
        tracing::debug!(scope = %missing, "insufficient scope");
        return Err(Refusal::InsufficientScope(scopes.iter().cloned().collect()));
    }
    Ok(principal)
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, challenge, body) = match &self {
            Refusal::Missing => (
                StatusCode::UNAUTHORIZED,
                Challenge::bearer().to_string(),
                "a bearer token is required".to_owned(),
            ),
            Refusal::Invalid(ValidationError::Unavailable(reason)) => {
                tracing::warn!(%reason, "cannot validate a token now");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    String::new(),
                    "the token cannot be validated now; try again".to_owned(),
                )
            }
            Refusal::Invalid(e @ (ValidationError::DpopBound | ValidationError::NotBoundToProofKey)) => (
                StatusCode::UNAUTHORIZED,
                Challenge::dpop()
                    .error("invalid_token")
                    .description(&e.to_string())
                    .to_string(),
                e.to_string(),
            ),
            Refusal::Invalid(ValidationError::Dpop(e)) => (
                StatusCode::UNAUTHORIZED,
                Challenge::dpop()
                    .error(e.code())
                    .description(&e.to_string())
                    .to_string(),
                e.to_string(),
            ),
            Refusal::Invalid(e) => (
                StatusCode::UNAUTHORIZED,
                Challenge::bearer()
                    .error("invalid_token")
                    .description(&e.to_string())
                    .to_string(),
                e.to_string(),
            ),
            Refusal::InsufficientScope(scopes) => (
                StatusCode::FORBIDDEN,
                Challenge::bearer()
                    .error("insufficient_scope")
                    .scope(&scopes.to_string())
                    .to_string(),
                format!("the token needs scope {scopes}"),
            ),
        };
        let mut resp = (status, body).into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            if !challenge.is_empty() {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}

/// The [`Principal`] of a request that passed a [`BearerAuthLayer`].
#[derive(Debug, Clone)]
pub struct Authenticated(pub Arc<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Arc<Principal>>()
            .cloned()
            .map(Authenticated)
            .ok_or(Refusal::Missing)
    }
}
