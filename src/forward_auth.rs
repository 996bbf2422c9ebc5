//! Forward authentication for gateways in any language: `GET /gateway/auth` answers whether the original request
//! may pass, as nginx `auth_request`, Traefik `forwardAuth` and Envoy `ext_authz` (HTTP mode) ask it.
//!
//! **Which headers count is configured, never guessed** (`[gateway] proxy`, [`ProxyKind`]): nginx's
//! `X-Original-Method` / `X-Original-URI`, Traefik's `X-Forwarded-Method` / `X-Forwarded-Uri`, or Envoy's own
//! request line under `/gateway/auth/…`. Only that family is read; another family's headers are ignored (a load
//! balancer in front may set `X-Forwarded-*` legitimately, and a client can send anything). A family header that
//! is missing or repeated, or a method that is not a method token, is a `400`: nothing defaults to `GET`. Without a
//! configured proxy every request is refused.
//!
//! **The path** is read by [`normalize_path`]: a spelling that upstreams read in different ways (`%2F`, `;`
//! parameters, dot segments, backslashes, double encoding, …) is a `400` naming the reason, never a guess.
//!
//! **The rules** ([`RouteRule`], `[[gateway.route]]`): the longest `path_prefix` (on a segment boundary, in any
//! letter case unless `case_sensitive`) whose `methods` include the method decides which `scopes` the token needs,
//! all of them. A path no rule covers follows `[gateway] default` ([`UncoveredPaths`]): refused (`deny`, the
//! default) or any valid token (`authenticated`). `200` carries the identity headers (`IDENTITY_HEADERS`); a
//! refusal is the RFC 6750 answer of [`Refusal`](crate::gateway::Refusal): `401` (no or invalid token), `403`
//! (`insufficient_scope`, or a path closed by `deny`), `503`.

use std::sync::Arc;

use crate::config::is_method_token;
pub use crate::config::{GatewayConfig, GatewayRoute as RouteRule, ProxyKind, UncoveredPaths};
use crate::error::ConfigError;
use crate::gateway::authorize;
use crate::model::{normalize_path, PathRefusal};
use crate::validation::mtls::ClientCertificate;
use crate::validation::{Principal, TokenValidator};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

/// The headers a `200` carries, for the gateway to pass upstream.
pub(crate) const IDENTITY_HEADERS: [&str; 8] = [
    "x-auth-client-id",
    "x-auth-subject",
    "x-auth-scopes",
    "x-auth-application",
    "x-auth-key-type",
    "x-auth-key-manager",
    // What a sender-constrained token was bound to, and checked against: the DPoP key's RFC 7638 thumbprint
    // (`cnf.jkt`) and the client certificate's SHA-256 thumbprint (`cnf.x5t#S256`).
    "x-auth-dpop-jkt",
    "x-auth-x5t-s256",
];

/// The path forward auth is served under (Envoy appends the original path to it).
pub(crate) const FORWARD_AUTH_PATH: &str = "/gateway/auth";

/// The original request a gateway asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OriginalRequest {
    /// The method, upper-case.
    pub method: String,
    /// The path as [`normalize_path`] reads it.
    pub path: String,
}

/// Why a forward-auth request is refused before any token is looked at (`400`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum BadForwardRequest {
    /// `[gateway] proxy` is not set.
    #[error("forward auth is off: set [gateway] proxy = \"nginx\", \"traefik\" or \"envoy\"")]
    NoProxy,
    /// The family's header is missing.
    #[error("{proxy} sends the original request in {header}, which is missing")]
    Missing {
        /// The configured family.
        proxy: &'static str,
        /// The header.
        header: &'static str,
    },
    /// The family's header came more than once.
    #[error("{header} came more than once")]
    Repeated {
        /// The header.
        header: &'static str,
    },
    /// The method is not a method token.
    #[error("the original method is not an HTTP method")]
    BadMethod,
    /// Envoy's request is not under `/gateway/auth/`, or another family's is.
    #[error("{0}")]
    WrongPath(&'static str),
    /// The path cannot be read unambiguously.
    #[error("the original path is refused: {0}")]
    Path(PathRefusal),
}

/// The original request `proxy` asks about, from its headers only (or Envoy's request line).
pub(crate) fn original_request(
    proxy: Option<ProxyKind>,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<OriginalRequest, BadForwardRequest> {
    let proxy = proxy.ok_or(BadForwardRequest::NoProxy)?;
    let one = |header: &'static str| -> Result<&str, BadForwardRequest> {
        let mut values = headers.get_all(header).iter();
        let value = values.next().ok_or(BadForwardRequest::Missing {
            proxy: proxy.as_str(),
            header,
        })?;
        if values.next().is_some() {
            return Err(BadForwardRequest::Repeated { header });
        }
        // A value that is not visible ASCII is no method or URI of ours: refused like a missing one.
        value.to_str().map(str::trim).map_err(|_| BadForwardRequest::Missing {
            proxy: proxy.as_str(),
            header,
        })
    };
    let (method, uri) = match proxy {
        ProxyKind::Nginx | ProxyKind::Traefik => {
            if path != FORWARD_AUTH_PATH {
                return Err(BadForwardRequest::WrongPath(
                    "this proxy asks at /gateway/auth itself; a path below it is Envoy's way",
                ));
            }
            let (m, u) = match proxy {
                ProxyKind::Nginx => ("x-original-method", "x-original-uri"),
                _ => ("x-forwarded-method", "x-forwarded-uri"),
            };
            (one(m)?.to_owned(), one(u)?)
        }
        ProxyKind::Envoy => match path.strip_prefix(FORWARD_AUTH_PATH) {
            Some(rest) if rest.starts_with('/') => (method.as_str().to_owned(), rest),
            _ => {
                return Err(BadForwardRequest::WrongPath(
                    "Envoy asks with the original path under /gateway/auth/ (path_prefix)",
                ))
            }
        },
    };
    if !is_method_token(&method) {
        return Err(BadForwardRequest::BadMethod);
    }
    let path = normalize_path(uri).map_err(BadForwardRequest::Path)?;
    Ok(OriginalRequest {
        method: method.to_ascii_uppercase(),
        path,
    })
}

/// What a request needs, by the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement<'a> {
    /// A valid token with every one of these scopes.
    Scopes(&'a [String]),
    /// Nothing passes: no rule covers the path and `[gateway] default = "deny"`.
    Closed,
}

/// The forward-auth endpoint: a validator, the proxy family and the route rules.
#[derive(Clone)]
pub struct ForwardAuth {
    validator: Arc<TokenValidator>,
    origin: Option<Arc<str>>,
    certificate_header: Option<HeaderName>,
    proxy: Option<ProxyKind>,
    uncovered: UncoveredPaths,
    rules: Arc<[RouteRule]>,
}

impl std::fmt::Debug for ForwardAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardAuth")
            .field("proxy", &self.proxy)
            .field("uncovered", &self.uncovered)
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl ForwardAuth {
    /// Check `[gateway]`'s rules and answer with `validator`.
    pub fn new(validator: Arc<TokenValidator>, gateway: &GatewayConfig) -> Result<Self, ConfigError> {
        for (i, r) in gateway.route.iter().enumerate() {
            r.check()
                .map_err(|m| ConfigError::new(m).at_field(format!("gateway.route[{i}]")))?;
        }
        if let Some(origin) = &gateway.public_origin {
            crate::config::check_public_origin(origin)
                .map_err(|m| ConfigError::new(m).at_field("gateway.public_origin"))?;
        }
        let certificate_header = match &gateway.client_certificate_header {
            Some(name) => {
                let field = || "gateway.client_certificate_header";
                crate::config::check_client_certificate_header(name)
                    .map_err(|m| ConfigError::new(m).at_field(field()))?;
                Some(
                    HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                        .map_err(|e| ConfigError::new(e.to_string()).at_field(field()))?,
                )
            }
            None => None,
        };
        Ok(ForwardAuth {
            validator,
            origin: gateway
                .public_origin
                .as_deref()
                .map(|o| Arc::from(o.trim_end_matches('/'))),
            certificate_header,
            proxy: gateway.proxy,
            uncovered: gateway.default,
            rules: gateway.route.clone().into(),
        })
    }

    /// What a request needs: the scopes of the longest rule that covers it, else `[gateway] default`.
    pub fn requirement(&self, method: &str, path: &str) -> Requirement<'_> {
        requirement(&self.rules, self.uncovered, method, path)
    }

    /// `/gateway/auth` and `/gateway/auth/…`, every method.
    pub fn router(self) -> Router {
        Router::new()
            .route(FORWARD_AUTH_PATH, any(check))
            .route("/gateway/auth/{*original}", any(check))
            .with_state(self)
    }
}

/// The longest rule covering `method` on `path` decides; with none, `uncovered`.
pub(crate) fn requirement<'a>(
    rules: &'a [RouteRule],
    uncovered: UncoveredPaths,
    method: &str,
    path: &str,
) -> Requirement<'a> {
    match rules
        .iter()
        .filter(|r| r.covers(method, path))
        .max_by_key(|r| r.path_prefix.trim_end_matches('/').len())
    {
        Some(r) => Requirement::Scopes(&r.scopes),
        None => match uncovered {
            UncoveredPaths::Deny => Requirement::Closed,
            UncoveredPaths::Authenticated => Requirement::Scopes(&[]),
        },
    }
}

async fn check(State(fa): State<ForwardAuth>, req: Request) -> Response {
    let original = match original_request(fa.proxy, req.method(), req.uri().path(), req.headers()) {
        Ok(o) => o,
        Err(why) => {
            // The reason is ours (a fixed sentence); nothing the caller sent is logged.
            tracing::debug!(%why, "a forward-auth request was refused before its token");
            return (StatusCode::BAD_REQUEST, why.to_string()).into_response();
        }
    };
    let scopes = match fa.requirement(&original.method, &original.path) {
        Requirement::Scopes(s) => s,
        Requirement::Closed => {
            return (
                StatusCode::FORBIDDEN,
                "no route rule covers this path, and [gateway] default = \"deny\"",
            )
                .into_response()
        }
    };
    // A DPoP proof names the URI the client called: the configured origin and the original path.
    let uri = fa.origin.as_ref().map(|o| format!("{o}{}", original.path));
    let certificate = match forwarded_certificate(&fa, req.headers()) {
        Ok(c) => c,
        Err(why) => {
            tracing::debug!(%why, "a forward-auth request's client certificate header is refused");
            return (StatusCode::BAD_REQUEST, why).into_response();
        }
    };
    let target = crate::gateway::RequestTarget::new(&original.method, uri.as_deref())
        .with_client_certificate(certificate.as_ref());
    match authorize(&fa.validator, scopes, req.headers(), &target).await {
        Ok(p) => identity(&p),
        Err(r) => {
            tracing::debug!(refusal = ?r, "refused at the gateway");
            r.into_response()
        }
    }
}

/// The client certificate the configured proxy forwarded in `[gateway] client_certificate_header`, read in that
/// proxy family's format; none when the header is not configured or the request came without a certificate.
fn forwarded_certificate(fa: &ForwardAuth, headers: &HeaderMap) -> Result<Option<ClientCertificate>, String> {
    let (Some(name), Some(proxy)) = (&fa.certificate_header, fa.proxy) else {
        return Ok(None);
    };
    let mut values = headers.get_all(name).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Ok(None),
        (Some(v), None) => v,
        (Some(_), Some(_)) => return Err(format!("{name} came more than once")),
    };
    let text = value.to_str().map_err(|_| format!("{name} is not visible ASCII"))?;
    if text.trim().is_empty() {
        // nginx sends an empty value when the client presented no certificate.
        return Ok(None);
    }
    ClientCertificate::from_forwarded(proxy, text)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// `200` with the identity headers (a value that is not a valid header value is left out).
fn identity(p: &Principal) -> Response {
    let scopes = p.scopes.to_string();
    let key_type = p.key_type.map(|k| k.to_string());
    let values = [
        p.client_id.as_deref(),
        p.subject.as_deref(),
        Some(scopes.as_str()),
        p.application_id.as_deref(),
        key_type.as_deref(),
        Some(p.key_manager.as_str()),
        p.confirmation("jkt"),
        p.confirmation(crate::validation::mtls::X5T_S256),
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

    fn rule(p: &str, m: &[&str], s: &[&str]) -> RouteRule {
        RouteRule {
            path_prefix: p.into(),
            methods: m.iter().map(|x| x.to_string()).collect(),
            scopes: s.iter().map(|x| x.to_string()).collect(),
            case_sensitive: false,
        }
    }

    #[test]
    fn the_longest_covering_rule_decides_and_uncovered_paths_follow_the_default() {
        let rules = [
            rule("/orders", &[], &["orders:read"]),
            rule("/orders/admin", &["post", "DELETE"], &["orders:admin"]),
        ];
        let pick = |m: &str, p: &str| requirement(&rules, UncoveredPaths::Deny, m, p);
        let scopes = |s: &'static [&'static str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(pick("GET", "/orders/7"), Requirement::Scopes(&scopes(&["orders:read"])));
        assert_eq!(
            pick("GET", "/ORDERS/7"),
            Requirement::Scopes(&scopes(&["orders:read"])),
            "any case"
        );
        assert_eq!(
            pick("POST", "/orders/admin/x"),
            Requirement::Scopes(&scopes(&["orders:admin"]))
        );
        assert_eq!(
            pick("POST", "/Orders/ADMIN/x"),
            Requirement::Scopes(&scopes(&["orders:admin"]))
        );
        assert_eq!(
            pick("GET", "/orders/admin/x"),
            Requirement::Scopes(&scopes(&["orders:read"])),
            "the admin rule covers POST and DELETE only"
        );
        assert_eq!(pick("GET", "/ordersx"), Requirement::Closed, "segment boundaries");
        assert_eq!(pick("GET", "/"), Requirement::Closed);
        assert_eq!(
            requirement(&rules, UncoveredPaths::Authenticated, "GET", "/"),
            Requirement::Scopes(&[])
        );
        let exact = [RouteRule {
            case_sensitive: true,
            ..rule("/orders", &[], &["orders:read"])
        }];
        assert_eq!(
            requirement(&exact, UncoveredPaths::Deny, "GET", "/ORDERS"),
            Requirement::Closed
        );
    }

    #[test]
    fn only_the_configured_familys_headers_count() {
        let ask = |proxy: Option<ProxyKind>, method: Method, path: &str, headers: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in headers {
                h.append(*k, HeaderValue::from_static(v));
            }
            original_request(proxy, &method, path, &h)
        };
        let ok = |m: &str, p: &str| {
            Ok(OriginalRequest {
                method: m.into(),
                path: p.into(),
            })
        };
        let nginx = Some(ProxyKind::Nginx);
        let traefik = Some(ProxyKind::Traefik);
        let envoy = Some(ProxyKind::Envoy);
        assert_eq!(
            ask(None, Method::GET, "/gateway/auth", &[]),
            Err(BadForwardRequest::NoProxy)
        );
        // The review's request: a client's own nginx header beside Traefik's.
        let traefiks = [
            ("x-original-uri", "/public"),
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/admin/users"),
        ];
        assert_eq!(
            ask(traefik, Method::GET, "/gateway/auth", &traefiks),
            ok("GET", "/admin/users")
        );
        assert!(matches!(
            ask(nginx, Method::GET, "/gateway/auth", &traefiks[1..]),
            Err(BadForwardRequest::Missing {
                header: "x-original-method",
                ..
            })
        ));
        assert!(
            matches!(
                ask(nginx, Method::GET, "/gateway/auth", &[("x-original-uri", "/orders")]),
                Err(BadForwardRequest::Missing {
                    header: "x-original-method",
                    ..
                })
            ),
            "no default method"
        );
        assert_eq!(
            ask(
                nginx,
                Method::GET,
                "/gateway/auth",
                &[
                    ("x-original-method", "put"),
                    ("x-original-uri", "/b?x=1"),
                    ("x-forwarded-uri", "/x")
                ]
            ),
            ok("PUT", "/b")
        );
        assert_eq!(
            ask(
                nginx,
                Method::GET,
                "/gateway/auth",
                &[
                    ("x-original-method", "GET"),
                    ("x-original-uri", "/public"),
                    ("x-original-uri", "/admin")
                ]
            ),
            Err(BadForwardRequest::Repeated {
                header: "x-original-uri"
            })
        );
        assert_eq!(
            ask(
                nginx,
                Method::GET,
                "/gateway/auth",
                &[("x-original-method", "GE T"), ("x-original-uri", "/")]
            ),
            Err(BadForwardRequest::BadMethod)
        );
        assert_eq!(
            ask(
                nginx,
                Method::GET,
                "/gateway/auth",
                &[("x-original-method", "GET"), ("x-original-uri", "/a/../c")]
            ),
            Err(BadForwardRequest::Path(PathRefusal::DotSegment))
        );
        assert!(matches!(
            ask(
                nginx,
                Method::GET,
                "/gateway/auth/admin",
                &[("x-original-method", "GET"), ("x-original-uri", "/")]
            ),
            Err(BadForwardRequest::WrongPath(_))
        ));
        assert_eq!(
            ask(
                envoy,
                Method::POST,
                "/gateway/auth/orders/7",
                &[("x-original-uri", "/public")]
            ),
            ok("POST", "/orders/7")
        );
        assert!(matches!(
            ask(envoy, Method::GET, "/gateway/auth", &[]),
            Err(BadForwardRequest::WrongPath(_))
        ));
        assert!(matches!(
            ask(envoy, Method::GET, "/gateway/authx/a", &[]),
            Err(BadForwardRequest::WrongPath(_))
        ));
    }

    #[test]
    fn rules_are_checked() {
        assert!(rule("/orders", &["GET"], &["orders:read"]).check().is_ok());
        assert!(rule("/", &[], &[]).check().is_ok());
        assert!(rule("/orders/", &[], &[]).check().is_ok());
        assert!(rule("orders", &[], &[]).check().is_err());
        assert!(rule("/a/../b", &[], &[]).check().is_err());
        assert!(rule("/a%2Fb", &[], &[]).check().is_err());
        assert!(rule("/a?x", &[], &[]).check().is_err());
        assert!(rule("/a", &["G T"], &[]).check().is_err());
        assert!(rule("/a", &[], &["bad scope"]).check().is_err());
    }

    mod property {
        use super::*;
        use proptest::prelude::*;

        /// Readings an upstream might apply to the raw path, each then resolved as the most generous upstream
        /// would (dot segments resolved, empty segments folded).
        fn readings(raw: &str) -> Vec<String> {
            let path = raw.split('?').next().unwrap_or_default();
            let once = decode(path);
            let strip_params = |p: &str| {
                p.split('/')
                    .map(|seg| seg.split(';').next().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("/")
            };
            let candidates = [
                once.clone(),
                decode(&once),
                decode(&strip_params(path)),
                strip_params(&once),
                decode(&path.replace('\\', "/")),
                once.replace('\\', "/"),
                once.to_lowercase(),
                once.to_uppercase(),
            ];
            candidates.iter().map(|c| resolve(c)).collect()
        }

        /// Percent-decoding, leniently (an invalid escape stays as it is), bytes read as lossy UTF-8.
        fn decode(s: &str) -> String {
            let b = s.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < b.len() {
                let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                    (b'%', Some(v)) if hex.is_some_and(|h| h.bytes().all(|c| c.is_ascii_hexdigit())) => {
                        out.push(v);
                        i += 3;
                    }
                    (c, _) => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        }

        fn resolve(p: &str) -> String {
            let mut segs: Vec<&str> = Vec::new();
            for s in p.split('/') {
                match s {
                    "" | "." => {}
                    ".." => {
                        segs.pop();
                    }
                    s => segs.push(s),
                }
            }
            format!("/{}", segs.join("/"))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4096))]
            /// For any path: refused, or every reading an upstream might apply meets the same rule we applied.
            #[test]
            fn a_path_is_refused_or_every_upstream_reading_meets_the_same_rule(
                tail in proptest::collection::vec(
                    prop_oneof![
                        Just("/"), Just("admin"), Just("ADMIN"), Just("orders"), Just("x"), Just("."), Just(".."),
                        Just("%2F"), Just("%2f"), Just("%5C"), Just("%25"), Just("%252F"), Just("%2e"), Just("%2E%2E"),
                        Just(";"), Just(";x=1"), Just("%3B"), Just("\\"), Just("%00"), Just("%41"), Just("%61dmin"),
                        Just("\u{212A}"), Just("\u{17F}"), Just("%E2%84%AA"), Just("?q=/admin"), Just("%"), Just("#"),
                    ],
                    0..8,
                )
            ) {
                let raw = format!("/{}", tail.concat());
                let rules = [
                    rule("/admin", &[], &["admin"]),
                    rule("/orders", &[], &["orders"]),
                    rule("/x/admin", &[], &["x-admin"]),
                ];
                if let Ok(path) = normalize_path(&raw) {
                    let ours = requirement(&rules, UncoveredPaths::Deny, "GET", &path);
                    for reading in readings(&raw) {
                        let theirs = requirement(&rules, UncoveredPaths::Deny, "GET", &reading);
                        prop_assert_eq!(ours, theirs, "raw {:?} read as {:?} by us and {:?} by an upstream", raw, path, reading);
                    }
                }
            }
        }
    }
}
