//! Forward authentication for gateways in any language: `GET /gateway/auth` answers whether the original request
//! may pass, as nginx `auth_request`, Traefik `forwardAuth` and Envoy `ext_authz` (HTTP mode) ask it.
//!
//! The original method and path come from `X-Original-Method` / `X-Original-URI` (nginx), else
//! `X-Forwarded-Method` / `X-Forwarded-Uri` (Traefik), else the request itself under `/gateway/auth/…` (Envoy sends
//! the original method and `path_prefix + path`). Without any of them the answer is `400`: a gateway that forgot to
//! send them must not get past the route rules. The path is normalised before matching (percent-decoded except `/`
//! and `\`, dot segments resolved, repeated slashes folded), so `/public/../admin` meets `/admin`'s rule.
//!
//! The rules ([`RouteRule`], `[[gateway.route]]` in the configuration): the longest `path_prefix` (on a segment
//! boundary) whose `methods` include the method decides which `scopes` the token needs, all of them; with no rule a
//! valid token is enough. `200` carries the identity headers ([`IDENTITY_HEADERS`]); a refusal is the RFC 6750 answer
//! of [`Refusal`](crate::gateway::Refusal): `401` (no or invalid token), `403` (`insufficient_scope`), `503`.

use std::sync::Arc;

pub use crate::config::GatewayRoute as RouteRule;
use crate::error::ConfigError;
use crate::gateway::authorize;
use crate::model::normalize_path;
use crate::validation::{Principal, TokenValidator};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

/// The headers a `200` carries, for the gateway to pass upstream.
pub const IDENTITY_HEADERS: [&str; 6] = [
    "x-auth-client-id",
    "x-auth-subject",
    "x-auth-scopes",
    "x-auth-application",
    "x-auth-key-type",
    "x-auth-key-manager",
];

/// The original request a gateway asks about: method and normalised path. `Err` names what is missing or wrong.
pub fn original_request(method: &Method, path: &str, headers: &HeaderMap) -> Result<(String, String), String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let (m, uri) =
        match (header("x-original-method"), header("x-original-uri")) {
            (m, Some(uri)) => (m.map(str::to_owned), uri.to_owned()),
            (_, None) => match (header("x-forwarded-method"), header("x-forwarded-uri")) {
                (m, Some(uri)) => (m.map(str::to_owned), uri.to_owned()),
                (_, None) => match path.strip_prefix("/gateway/auth") {
                    // Envoy: the original method, and the original path after the configured prefix.
                    Some(rest) if rest.starts_with('/') => (Some(method.as_str().to_owned()), rest.to_owned()),
                    _ => return Err(
                        "no original request: send X-Original-Method and X-Original-URI (nginx), X-Forwarded-Method \
                         and X-Forwarded-Uri (Traefik), or the original path under /gateway/auth (Envoy)"
                            .into(),
                    ),
                },
            },
        };
    let method = m.unwrap_or_else(|| "GET".to_owned()).to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!("`{method}` is not an HTTP method"));
    }
    let path = normalize_path(&uri).ok_or_else(|| format!("`{uri}` is not a path"))?;
    Ok((method, path))
}

/// The forward-auth endpoint: a validator and the route rules.
#[derive(Clone)]
pub struct ForwardAuth {
    validator: Arc<TokenValidator>,
    rules: Arc<[RouteRule]>,
}

impl std::fmt::Debug for ForwardAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardAuth")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl ForwardAuth {
    /// Check `rules` and answer with `validator`.
    pub fn new(validator: Arc<TokenValidator>, rules: Vec<RouteRule>) -> Result<Self, ConfigError> {
        for (i, r) in rules.iter().enumerate() {
            r.check()
                .map_err(|m| ConfigError::new(m).at_field(format!("gateway.route[{i}]")))?;
        }
        Ok(ForwardAuth {
            validator,
            rules: rules.into(),
        })
    }

    /// The scopes a request needs: those of the longest rule that covers it; none without one.
    pub fn scopes_for(&self, method: &str, path: &str) -> &[String] {
        self.rules
            .iter()
            .filter(|r| r.covers(method, path))
            .max_by_key(|r| r.path_prefix.trim_end_matches('/').len())
            .map(|r| r.scopes.as_slice())
            .unwrap_or(&[])
    }

    /// `/gateway/auth` and `/gateway/auth/…`, every method.
    pub fn router(self) -> Router {
        Router::new()
            .route("/gateway/auth", any(check))
            .route("/gateway/auth/{*original}", any(check))
            .with_state(self)
    }
}

async fn check(State(fa): State<ForwardAuth>, req: Request) -> Response {
    let (method, path) = match original_request(req.method(), req.uri().path(), req.headers()) {
        Ok(o) => o,
        Err(why) => {
            tracing::warn!(%why, "a forward-auth request did not say what it asks about; refused");
            return (StatusCode::BAD_REQUEST, why).into_response();
        }
    };
    let scopes = fa.scopes_for(&method, &path);
    match authorize(&fa.validator, scopes, req.headers()).await {
        Ok(p) => identity(&p),
        Err(r) => {
            tracing::debug!(%method, %path, refusal = ?r, "refused at the gateway");
            r.into_response()
        }
    }
}

/// `200` with the identity headers (a value that is not a valid header value is left out).
fn identity(p: &Principal) -> Response {
    let scopes = p.scopes.join(" ");
    let key_type = p.key_type.map(|k| k.to_string());
    let values = [
        p.client_id.as_deref(),
        p.subject.as_deref(),
        Some(scopes.as_str()),
        p.application_id.as_deref(),
        key_type.as_deref(),
        Some(p.key_manager.as_str()),
    ];
    let mut resp = StatusCode::OK.into_response();
    for (name, value) in IDENTITY_HEADERS.iter().zip(values) {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            resp.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_covering_rule_decides() {
        let rules = [
            RouteRule {
                path_prefix: "/orders".into(),
                methods: vec![],
                scopes: vec!["orders:read".into()],
            },
            RouteRule {
                path_prefix: "/orders/admin".into(),
                methods: vec!["post".into(), "DELETE".into()],
                scopes: vec!["orders:admin".into()],
            },
        ];
        let pick = |m: &str, p: &str| -> Vec<String> {
            rules
                .iter()
                .filter(|r| r.covers(m, p))
                .max_by_key(|r| r.path_prefix.len())
                .map(|r| r.scopes.clone())
                .unwrap_or_default()
        };
        assert_eq!(pick("GET", "/orders/7"), ["orders:read"]);
        assert_eq!(pick("POST", "/orders/admin/x"), ["orders:admin"]);
        assert_eq!(
            pick("GET", "/orders/admin/x"),
            ["orders:read"],
            "the admin rule covers POST and DELETE only"
        );
        assert!(pick("GET", "/ordersx").is_empty(), "segment boundaries");
        assert!(pick("GET", "/").is_empty());
    }

    #[test]
    fn the_original_request_comes_from_each_gateways_headers() {
        let mut h = HeaderMap::new();
        assert!(
            original_request(&Method::GET, "/gateway/auth", &h).is_err(),
            "nothing said: refused"
        );
        assert_eq!(
            original_request(&Method::POST, "/gateway/auth/orders/7", &h).unwrap(),
            ("POST".into(), "/orders/7".into()),
            "Envoy"
        );
        h.insert("x-forwarded-method", HeaderValue::from_static("put"));
        h.insert("x-forwarded-uri", HeaderValue::from_static("/b?x=1"));
        assert_eq!(
            original_request(&Method::GET, "/gateway/auth", &h).unwrap(),
            ("PUT".into(), "/b".into())
        );
        h.insert("x-original-method", HeaderValue::from_static("DELETE"));
        h.insert("x-original-uri", HeaderValue::from_static("/a/../c"));
        assert_eq!(
            original_request(&Method::GET, "/gateway/auth", &h).unwrap(),
            ("DELETE".into(), "/c".into())
        );
        h.insert("x-original-method", HeaderValue::from_static("GE T"));
        assert!(original_request(&Method::GET, "/gateway/auth", &h).is_err());
    }

    #[test]
    fn rules_are_checked() {
        let rule = |p: &str, m: &[&str], s: &[&str]| RouteRule {
            path_prefix: p.into(),
            methods: m.iter().map(|x| x.to_string()).collect(),
            scopes: s.iter().map(|x| x.to_string()).collect(),
        };
        assert!(rule("/orders", &["GET"], &["orders:read"]).check().is_ok());
        assert!(rule("/", &[], &[]).check().is_ok());
        assert!(rule("orders", &[], &[]).check().is_err());
        assert!(rule("/a/../b", &[], &[]).check().is_err());
        assert!(rule("/a", &["G T"], &[]).check().is_err());
        assert!(rule("/a", &[], &["bad scope"]).check().is_err());
    }
}
