//! `[gateway]`: the forward-auth endpoint's settings, its route rules, and the checks of what a proxy forwards.

use serde::Deserialize;

/// `[gateway]`: the forward-auth endpoint (`/gateway/auth`) that nginx, Traefik or Envoy ask.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Which proxy asks, and so which headers carry the original request ([`ProxyKind`]); no default: without it
    /// `/gateway/auth` refuses every request and `keymanager gateway-auth` does not start.
    pub proxy: Option<ProxyKind>,
    /// What a path that no `[[gateway.route]]` covers needs ([`UncoveredPaths`]); default `deny`.
    #[serde(default)]
    pub default: UncoveredPaths,
    /// Seconds of clock skew allowed on `exp`, `nbf` and `iat`; default 30.
    pub leeway_seconds: Option<u64>,
    /// The scheme and authority clients call the APIs behind the proxy at (`https://api.example`): a DPoP proof
    /// names it with the path (`htu`, RFC 9449). Without it, DPoP-bound tokens are refused (the proxy's headers do
    /// not say it, and a `Host` a client sent is not trusted).
    pub public_origin: Option<String>,
    /// The header the proxy forwards the client's TLS certificate in, in its family's format (nginx:
    /// `$ssl_client_escaped_cert`; Traefik: `passTLSClientCert` with `pem`, `X-Forwarded-Tls-Client-Cert`; Envoy:
    /// `x-forwarded-client-cert` with the `cert` detail). The proxy must set it on every request (replacing a
    /// client's own). Without it, certificate-bound tokens (RFC 8705) are refused.
    pub client_certificate_header: Option<String>,
    /// `[[gateway.route]]`: which scopes requests under a path need.
    #[serde(default)]
    pub route: Vec<GatewayRoute>,
}

/// `[gateway] proxy`: the gateway family whose headers say what the original request was. Only that family's
/// headers are read, never another's: a client can send any header, and a proxy of one family passes the other
/// families' headers through untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyKind {
    /// nginx `auth_request`: `X-Original-Method` and `X-Original-URI`, set with `proxy_set_header` (which replaces
    /// a client's own).
    Nginx,
    /// Traefik `forwardAuth`: `X-Forwarded-Method` and `X-Forwarded-Uri`, which Traefik sets itself; its
    /// `authRequestHeaders` must list only what the check needs.
    Traefik,
    /// Envoy `ext_authz` (HTTP): the original method, and the original path after the `/gateway/auth` prefix.
    Envoy,
}

impl ProxyKind {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyKind::Nginx => "nginx",
            ProxyKind::Traefik => "traefik",
            ProxyKind::Envoy => "envoy",
        }
    }
}

/// `[gateway] default`: what a request needs when no route rule covers its path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UncoveredPaths {
    /// Refused (`403`), token or not: a path nobody thought of is closed (the default).
    #[default]
    Deny,
    /// Any valid token passes; `config check` warns when rules exist beside it.
    Authenticated,
}

/// One `[[gateway.route]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayRoute {
    /// The path prefix, from `/`, matched on segment boundaries.
    pub path_prefix: String,
    /// The methods it covers; empty: every method.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Scopes the token needs, all of them.
    #[serde(default)]
    pub scopes: crate::model::Scopes,
    /// Match the prefix letter case exactly; default `false`: `/ORDERS` meets `/orders`'s rule, as case-insensitive
    /// upstreams read it.
    #[serde(default)]
    pub case_sensitive: bool,
}

impl GatewayRoute {
    /// A rule for `path_prefix` covering every method, needing `scopes`, case-insensitive.
    pub fn new<S: Into<String>>(path_prefix: impl Into<String>, scopes: impl IntoIterator<Item = S>) -> Self {
        GatewayRoute {
            path_prefix: path_prefix.into(),
            methods: Vec::new(),
            scopes: scopes.into_iter().map(Into::into).collect(),
            case_sensitive: false,
        }
    }

    /// Check a rule: an absolute prefix the path parser takes as it is, method tokens, scope tokens (RFC 6749
    /// §3.3).
    pub fn check(&self) -> Result<(), String> {
        match crate::model::normalize_path(&self.path_prefix) {
            Ok(p) if p == self.path_prefix => {}
            Ok(_) => {
                return Err(format!(
                    "path_prefix `{}` must be a path without a query",
                    self.path_prefix
                ))
            }
            Err(why) => return Err(format!("path_prefix `{}`: {why}", self.path_prefix)),
        }
        if let Some(m) = self.methods.iter().find(|m| !is_method_token(m)) {
            return Err(format!("method `{m}` is not an HTTP method"));
        }
        if let Some(s) = self.scopes.iter().find(|s| !crate::model::is_valid_scope_token(s)) {
            return Err(format!("scope `{s}` is not a valid scope token"));
        }
        Ok(())
    }

    /// Whether the rule covers `method` on `path` (from [`normalize_path`](crate::model::normalize_path)): the
    /// prefix on a segment boundary, in any letter case unless the rule is case-sensitive.
    pub fn covers(&self, method: &str, path: &str) -> bool {
        let methods = self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method));
        if !methods {
            return false;
        }
        if self.case_sensitive {
            prefix_on_boundary(&self.path_prefix, path)
        } else {
            let (prefix, path) = (
                crate::model::path_lowercase(&self.path_prefix),
                crate::model::path_lowercase(path),
            );
            prefix_on_boundary(&prefix, &path)
        }
    }
}

/// `path` starts with `prefix` on a segment boundary.
fn prefix_on_boundary(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty() || path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

/// An HTTP method as a gateway names it: 1 to 32 ASCII letters.
pub(crate) fn is_method_token(m: &str) -> bool {
    !m.is_empty() && m.len() <= 32 && m.bytes().all(|b| b.is_ascii_alphabetic())
}

/// `[gateway] client_certificate_header`: a header name, and not one that carries the request itself.
///
/// ```
/// use keymanager::config::check_client_certificate_header;
/// assert!(check_client_certificate_header("X-SSL-Client-Cert").is_ok());
/// assert!(check_client_certificate_header("x-forwarded-client-cert").is_ok());
/// assert!(check_client_certificate_header("Authorization").is_err());
/// assert!(check_client_certificate_header("bad header").is_err());
/// ```
pub fn check_client_certificate_header(name: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
        return Err(format!("`{name}` is not a header name"));
    }
    let taken = [
        "authorization",
        "dpop",
        "cookie",
        "host",
        "content-type",
        "content-length",
    ];
    if taken.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "`{name}` carries the request itself, not a forwarded certificate"
        ));
    }
    Ok(())
}

/// `[gateway] public_origin`: an `http(s)://host[:port]` origin, nothing after it.
///
/// ```
/// use keymanager::config::check_public_origin;
/// assert!(check_public_origin("https://api.example").is_ok());
/// assert!(check_public_origin("https://api.example:8443").is_ok());
/// assert!(check_public_origin("https://api.example/v1").is_err());
/// assert!(check_public_origin("api.example").is_err());
/// ```
pub fn check_public_origin(origin: &str) -> Result<(), String> {
    let url = url::Url::parse(origin).map_err(|e| format!("`{origin}` is not an absolute URL: {e}"))?;
    let bare = matches!(url.path(), "" | "/") && url.query().is_none() && url.fragment().is_none();
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() || !bare || !url.username().is_empty() {
        return Err(format!(
            "`{origin}` must be an origin: http(s)://host[:port], without a path"
        ));
    }
    Ok(())
}

/// The longest `[gateway] leeway_seconds`.
pub(crate) const MAX_GATEWAY_LEEWAY_SECONDS: u64 = 600;
