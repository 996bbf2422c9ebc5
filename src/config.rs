//! The TOML configuration: `[database]`, `[server]` and the `[[key_manager]]` list.
//!
//! String values may use `${VAR}` to read an environment variable (write `$${` for a literal `${`); an unset
//! variable is an error naming it. Each key manager's own settings are checked by the
//! [`ConnectorRegistry`](crate::registry::ConnectorRegistry) against what its connector declares.
//!
//! ```
//! let cfg = keymanager::config::Config::from_toml_str(r#"
//! [[key_manager]]
//! name = "Resident Key Manager"
//! type = "resident"
//! "#, None).unwrap();
//! assert_eq!(cfg.key_managers[0].kind, "resident");
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use crate::error::ConfigError;

/// A loaded, interpolated and structurally checked configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file it came from.
    pub source: Option<PathBuf>,
    /// `[database]`.
    pub database: DatabaseConfig,
    /// `[server]`.
    pub server: ServerConfig,
    /// `[portal]`.
    pub portal: PortalConfig,
    /// `[gateway]`.
    pub gateway: GatewayConfig,
    /// `[[key_manager]]`, in file order.
    pub key_managers: Vec<KeyManagerConfig>,
}

/// `[database]`: where the key service and the resident key manager keep their state. `Debug` hides the URL's
/// password.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` or `postgres://…`; default `sqlite://DATA_DIR/keymanager.db`.
    pub url: Option<String>,
    /// Most connections in the pool.
    pub max_connections: Option<u32>,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.url.as_deref().map(redact_url_password))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// A URL with its password (if any) replaced by `***`, for logs and `Debug`.
///
/// ```
/// use keymanager::config::redact_url_password;
/// assert_eq!(redact_url_password("postgres://km:s3cret@db:5432/km"), "postgres://km:***@db:5432/km");
/// assert_eq!(redact_url_password("sqlite://data/keymanager.db"), "sqlite://data/keymanager.db");
/// ```
pub fn redact_url_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "<unparsable url>".into(),
    }
}

/// `[server]`: `keymanager serve`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; default `127.0.0.1:9443`.
    pub listen: Option<String>,
    /// The public base URL (issuer of the resident key manager); default `http://LISTEN`.
    pub public_url: Option<String>,
    /// Directory for the database file, signing keys and the generated admin token; default `./data`.
    pub data_dir: Option<PathBuf>,
    /// Admin bearer token of the management API; default: generated into `DATA_DIR/admin-token`.
    pub admin_token: Option<SecretString>,
    /// TLS certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Ask TLS clients for a certificate (optional for the client): the resident key manager then offers
    /// `tls_client_auth` and `self_signed_tls_client_auth` and binds tokens to certificates (RFC 8705), and every
    /// route sees the certificate. Needs `tls_cert`; default off.
    #[serde(default)]
    pub tls_client_certificates: bool,
    /// The certificate authorities (PEM) whose client certificates `tls_client_auth` accepts; without it only
    /// `self_signed_tls_client_auth` clients can authenticate with a certificate.
    pub tls_client_ca: Option<PathBuf>,
    /// Seconds a client may take to send a request head (from connecting, or from its previous answer); default
    /// [`DEFAULT_HEADER_READ_TIMEOUT_SECONDS`]. A client that trickles its headers is disconnected.
    pub header_read_timeout_seconds: Option<u64>,
    /// Seconds from a request head to the end of its answer, body included; default
    /// [`DEFAULT_REQUEST_TIMEOUT_SECONDS`]. Past it the answer is `408 Request Timeout`.
    pub request_timeout_seconds: Option<u64>,
    /// Connections served at once; default [`DEFAULT_MAX_CONNECTIONS`]. Past it, new connections wait in the
    /// kernel's listen backlog.
    pub max_connections: Option<usize>,
    /// Serve Prometheus metrics at `GET /metrics`; default `true`.
    pub metrics: Option<bool>,
    /// Serve `/metrics` on this address of its own instead of the main one (for a scrape network apart from
    /// the public one).
    pub metrics_listen: Option<String>,
    /// Key managers whose access tokens the management API accepts as callers (scopes `keymanager:apps` and
    /// `keymanager:admin`); default: the resident key manager, when one is configured. An empty list accepts
    /// admin tokens only.
    pub api_identity: Option<Vec<String>>,
    /// Days the audit trail keeps a record; default [`DEFAULT_AUDIT_RETENTION_DAYS`].
    pub audit_retention_days: Option<u32>,
    /// Let the server fetch loopback, private, link-local and plain-`http` URLs when it fetches on someone else's
    /// say (clients' `jwks_uri`, key managers added at run time, discovery); default `false`. For development and
    /// tests only: see `egress`.
    pub allow_private_fetches: Option<bool>,
    /// Changes a holder of an access token may make at once through the management API; default 50 (admin tokens
    /// are not limited). From 1 to 100,000.
    pub api_write_burst: Option<u32>,
    /// Changes a second such a caller's quota refills by; default 10. From 1 to 100,000.
    pub api_writes_per_second: Option<u32>,
}

/// `[portal]`: the Developer Portal `keymanager serve` offers at `/portal`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// Serve the portal; default `true` when a resident key manager is configured (it signs people in).
    pub enabled: Option<bool>,
    /// `[[portal.sign_in]]`: other key managers people may sign in through (each in `[server] api_identity`), with
    /// the portal's client there.
    #[serde(default)]
    pub sign_in: Vec<PortalSignIn>,
}

/// One `[[portal.sign_in]]`: the portal as a confidential OAuth client of another key manager (authorization code
/// flow with PKCE S256; its redirect URI is `PUBLIC_URL/portal/callback`). `Debug` hides the secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalSignIn {
    /// The key manager's configured name.
    pub key_manager: String,
    /// What the sign-in button says; default "Sign in with KEY_MANAGER".
    pub label: Option<String>,
    /// The portal's client id there.
    pub client_id: String,
    /// Its secret.
    pub client_secret: SecretString,
    /// Scopes to ask for; default `openid keymanager:apps keymanager:admin`.
    #[serde(default)]
    pub scopes: crate::model::Scopes,
}

impl std::fmt::Debug for PortalSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalSignIn")
            .field("key_manager", &self.key_manager)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

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

/// Default `[server] audit_retention_days`.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 365;
/// The longest `[server] audit_retention_days` (100 years).
pub(crate) const MAX_AUDIT_RETENTION_DAYS: u32 = 36_500;

/// Default `[server] header_read_timeout_seconds`.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECONDS: u64 = 10;
/// Default `[server] request_timeout_seconds`.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 30;
/// Default `[server] max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The longest `[server]` timeout accepted, in seconds.
pub(crate) const MAX_SERVER_TIMEOUT_SECONDS: u64 = 3600;
/// The largest `[server] max_connections`.
pub(crate) const MAX_SERVER_CONNECTIONS: usize = 100_000;

/// One `[[key_manager]]` table. `Debug` lists the settings' names, never their values (they hold secrets).
#[derive(Clone)]
pub struct KeyManagerConfig {
    /// Unique name.
    pub name: String,
    /// Connector type.
    pub kind: String,
    /// Allow plain `http://` endpoints on hosts that are not loopback.
    pub allow_insecure_http: bool,
    /// Every other field, for the connector, interpolated.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// The file it came from.
    pub source: Option<PathBuf>,
}

impl std::fmt::Debug for KeyManagerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManagerConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("settings", &self.settings.keys().collect::<Vec<_>>())
            .field("source", &self.source)
            .finish()
    }
}

impl KeyManagerConfig {
    /// A config for a key manager built in code.
    pub fn new(name: impl Into<String>, kind: impl Into<String>) -> Self {
        KeyManagerConfig {
            name: name.into(),
            kind: kind.into(),
            allow_insecure_http: false,
            settings: serde_json::Map::new(),
            source: None,
        }
    }

    /// Add a setting.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.settings.insert(key.to_owned(), value.into());
        self
    }

    /// A string setting, when present.
    pub fn text(&self, key: &str) -> Option<String> {
        self.settings.get(key).and_then(|v| v.as_str()).map(str::to_owned)
    }

    /// Two settings that go together, such as a client id and its secret: both, or neither. Each is given as its
    /// key and its value as read.
    pub fn both_or_neither<A, B>(
        &self,
        (a_key, a): (&str, Option<A>),
        (b_key, b): (&str, Option<B>),
    ) -> Result<Option<(A, B)>, ConfigError> {
        match (a, b) {
            (Some(a), Some(b)) => Ok(Some((a, b))),
            (None, None) => Ok(None),
            _ => Err(self.error(Some(b_key), format!("{a_key} and {b_key} go together"))),
        }
    }

    /// Read this table into a connector's typed settings, as its declared `settings` describe them (see
    /// [`crate::descriptor::read_settings`]); an error names the file, the key manager and the field.
    pub fn read_settings<T: serde::de::DeserializeOwned>(
        &self,
        settings: &[crate::descriptor::Setting],
    ) -> Result<T, ConfigError> {
        crate::descriptor::read_settings(&self.settings, settings, self.allow_insecure_http)
            .map_err(|(field, message)| self.error((!field.is_empty()).then_some(field.as_str()), message))
    }

    /// An error about this key manager, naming its file and name.
    pub fn error(&self, field: Option<&str>, message: impl Into<String>) -> ConfigError {
        let mut e = ConfigError::new(message).in_key_manager(&self.name);
        if let Some(f) = field {
            e = e.at_field(f);
        }
        if let Some(src) = &self.source {
            e = e.in_file(src);
        }
        e
    }
}

impl Config {
    /// What is valid but probably not meant, one sentence each (printed by `config check` and at start).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let g = &self.gateway;
        if g.default == UncoveredPaths::Authenticated && !g.route.is_empty() {
            out.push(
                "gateway.default = \"authenticated\" with route rules: a path no rule covers passes with any valid \
                 token; `deny` closes what the rules forgot"
                    .to_owned(),
            );
        }
        if g.proxy.is_some() && g.default == UncoveredPaths::Deny && g.route.is_empty() {
            out.push(
                "gateway.default = \"deny\" and no [[gateway.route]]: /gateway/auth refuses every request".to_owned(),
            );
        }
        out
    }

    /// Load a file, reading `${VAR}` from the process environment.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(format!("cannot read the file: {e}")).in_file(path))?;
        Config::from_toml_str(&text, Some(path))
    }

    /// Parse TOML text, reading `${VAR}` from the process environment.
    pub fn from_toml_str(text: &str, source: Option<&Path>) -> Result<Config, ConfigError> {
        Config::from_toml_str_with_env(text, source, |k| std::env::var(k).ok())
    }

    /// Parse TOML text, reading `${VAR}` through `env`: the first problem, if any (see
    /// [`parse_collecting`](Self::parse_collecting) for all of them).
    pub fn from_toml_str_with_env(
        text: &str,
        source: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let (config, problems) = Config::parse_collecting(text, source, env);
        match problems.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(config),
        }
    }

    /// Parse TOML text, reading `${VAR}` through `env`, and check it: the configuration read (a section or key
    /// manager with a problem left at its default or out) and **every** problem, whatever section it is in, each
    /// naming the file, the key manager and the field. `config check` lists them all; `serve` refuses the first.
    pub fn parse_collecting(
        text: &str,
        source: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> (Config, Vec<ConfigError>) {
        let with_file = |e: ConfigError| match source {
            Some(p) => e.in_file(p),
            None => e,
        };
        let mut problems: Vec<ConfigError> = Vec::new();
        let mut config = Config {
            source: source.map(Path::to_path_buf),
            ..Config::default()
        };
        let mut table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                let e: toml::de::Error = e;
                problems.push(with_file(
                    ConfigError::new(format!("invalid TOML: {}", e.message().trim())).at_toml_span(text, e.span()),
                ));
                return (config, problems);
            }
        };
        for key in table.keys() {
            if !["database", "server", "portal", "gateway", "key_manager"].contains(&key.as_str()) {
                problems.push(with_file(
                    ConfigError::new(
                        "unknown field; expected `database`, `server`, `portal`, `gateway` or `key_manager`",
                    )
                    .at_field(key),
                ));
            }
        }
        /// One section: interpolated, then read into its type; a problem is recorded and the default kept.
        fn section<T: serde::de::DeserializeOwned + Default>(
            table: &mut toml::Table,
            name: &str,
            env: &dyn Fn(&str) -> Option<String>,
            problems: &mut Vec<ConfigError>,
            with_file: &dyn Fn(ConfigError) -> ConfigError,
        ) -> T {
            let Some(mut value) = table.remove(name) else {
                return T::default();
            };
            if let Err(e) = interpolate(&mut value, name, &env) {
                problems.push(with_file(e));
                return T::default();
            }
            match value.try_into() {
                Ok(v) => v,
                Err(e) => {
                    let e: toml::de::Error = e;
                    problems.push(with_file(
                        ConfigError::new(e.message().trim().to_owned()).at_field(name),
                    ));
                    T::default()
                }
            }
        }
        config.database = section(&mut table, "database", &env, &mut problems, &with_file);
        config.server = section(&mut table, "server", &env, &mut problems, &with_file);
        config.portal = section(&mut table, "portal", &env, &mut problems, &with_file);
        config.gateway = section(&mut table, "gateway", &env, &mut problems, &with_file);
        let list = match table.remove("key_manager") {
            None => Vec::new(),
            Some(toml::Value::Array(list)) => list,
            Some(_) => {
                problems.push(with_file(
                    ConfigError::new("must be an array of tables: write [[key_manager]]").at_field("key_manager"),
                ));
                Vec::new()
            }
        };
        let mut names = HashSet::new();
        for (i, item) in list.into_iter().enumerate() {
            let toml::Value::Table(mut t) = item else {
                problems.push(with_file(
                    ConfigError::new("must be a table").at_field(format!("key_manager[{i}]")),
                ));
                continue;
            };
            // Name first, so that every later problem can name the key manager.
            let label = format!("#{}", i + 1);
            let name = match t.remove("name") {
                Some(mut v) => {
                    if let Err(e) = interpolate(&mut v, "name", &env) {
                        problems.push(with_file(e.in_key_manager(&label)));
                        continue;
                    }
                    match v {
                        toml::Value::String(s) if !s.trim().is_empty() => s,
                        _ => {
                            problems.push(with_file(
                                ConfigError::new("must be a non-empty string")
                                    .at_field("name")
                                    .in_key_manager(&label),
                            ));
                            continue;
                        }
                    }
                }
                None => {
                    problems.push(with_file(
                        ConfigError::new("is required").at_field("name").in_key_manager(&label),
                    ));
                    continue;
                }
            };
            let err = |field: &str, msg: &str| with_file(ConfigError::new(msg).at_field(field).in_key_manager(&name));
            if !names.insert(name.clone()) {
                problems.push(err("name", "duplicate key manager name; names must be unique"));
                continue;
            }
            let kind = match t.remove("type") {
                Some(toml::Value::String(s)) if !s.trim().is_empty() => s,
                Some(_) => {
                    problems.push(err("type", "must be a non-empty string"));
                    continue;
                }
                None => {
                    problems.push(err("type", "is required"));
                    continue;
                }
            };
            let allow_insecure_http = match t.remove("allow_insecure_http") {
                None => false,
                Some(toml::Value::Boolean(b)) => b,
                Some(_) => {
                    problems.push(err("allow_insecure_http", "must be true or false"));
                    false
                }
            };
            let mut rest = toml::Value::Table(t);
            if let Err(e) = interpolate(&mut rest, "", &env) {
                problems.push(with_file(e.in_key_manager(&name)));
                continue;
            }
            let settings = match serde_json::to_value(&rest) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => {
                    problems.push(err("", "cannot be represented as JSON"));
                    continue;
                }
            };
            config.key_managers.push(KeyManagerConfig {
                name,
                kind,
                allow_insecure_http,
                settings,
                source: source.map(Path::to_path_buf),
            });
        }
        problems.extend(config.problems().into_iter().map(with_file));
        (config, problems)
    }

    /// Check `[database]` and `[server]` as `keymanager serve` will use them: a pool size from 1 to
    /// `MAX_DATABASE_CONNECTIONS`, a `sqlite:` or `postgres:` URL, a listen address `HOST:PORT`, a public URL
    /// that is `http(s)` with a host, an admin token of at least `MIN_ADMIN_TOKEN_LENGTH` characters, and TLS
    /// certificate and key together. Parsing runs it, so `config check` fails exactly when `serve` would.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            Some(first) => Err(first),
            None => Ok(()),
        }
    }

    /// Every problem [`validate`](Self::validate) finds, in file order.
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut out: Vec<ConfigError> = Vec::new();
        let db = &self.database;
        if let Some(n) = db.max_connections {
            if n == 0 || n > MAX_DATABASE_CONNECTIONS {
                out.push(
                    ConfigError::new(format!("must be from 1 to {MAX_DATABASE_CONNECTIONS}"))
                        .at_field("database.max_connections"),
                );
            }
        }
        if let Some(url) = &db.url {
            if let Err(e) = check_database_url(url).map_err(|m| ConfigError::new(m).at_field("database.url")) {
                out.push(e);
            }
        }
        let server = &self.server;
        if let Some(listen) = &server.listen {
            if let Err(e) = check_listen_address(listen).map_err(|m| ConfigError::new(m).at_field("server.listen")) {
                out.push(e);
            }
        }
        if let Some(listen) = &server.metrics_listen {
            if let Err(e) =
                check_listen_address(listen).map_err(|m| ConfigError::new(m).at_field("server.metrics_listen"))
            {
                out.push(e);
            }
            if server.metrics == Some(false) {
                out.push(
                    ConfigError::new("metrics_listen needs metrics on; remove one of them")
                        .at_field("server.metrics_listen"),
                );
            }
        }
        if let Some(url) = &server.public_url {
            if let Err(e) = check_public_url(url).map_err(|m| ConfigError::new(m).at_field("server.public_url")) {
                out.push(e);
            }
        }
        for (field, value) in [
            ("server.api_write_burst", server.api_write_burst),
            ("server.api_writes_per_second", server.api_writes_per_second),
        ] {
            if value.is_some_and(|v| v == 0 || v > 100_000) {
                out.push(ConfigError::new("must be from 1 to 100000").at_field(field));
            }
        }
        if let Some(token) = &server.admin_token {
            use secrecy::ExposeSecret;
            let t = token.expose_secret();
            if t.chars().count() < MIN_ADMIN_TOKEN_LENGTH || t.chars().any(|c| c.is_control() || c.is_whitespace()) {
                out.push(
                    ConfigError::new(format!(
                        "must be at least {MIN_ADMIN_TOKEN_LENGTH} characters without white space; leave it out to \
                         have one generated into the data directory"
                    ))
                    .at_field("server.admin_token"),
                );
            }
        }
        for (field, value) in [
            ("server.header_read_timeout_seconds", server.header_read_timeout_seconds),
            ("server.request_timeout_seconds", server.request_timeout_seconds),
        ] {
            if value.is_some_and(|v| v == 0 || v > MAX_SERVER_TIMEOUT_SECONDS) {
                out.push(
                    ConfigError::new(format!("must be from 1 to {MAX_SERVER_TIMEOUT_SECONDS} seconds")).at_field(field),
                );
            }
        }
        if server
            .max_connections
            .is_some_and(|n| n == 0 || n > MAX_SERVER_CONNECTIONS)
        {
            out.push(
                ConfigError::new(format!("must be from 1 to {MAX_SERVER_CONNECTIONS}"))
                    .at_field("server.max_connections"),
            );
        }
        if server
            .audit_retention_days
            .is_some_and(|d| d == 0 || d > MAX_AUDIT_RETENTION_DAYS)
        {
            out.push(
                ConfigError::new(format!("must be from 1 to {MAX_AUDIT_RETENTION_DAYS} days"))
                    .at_field("server.audit_retention_days"),
            );
        }
        if self
            .gateway
            .leeway_seconds
            .is_some_and(|s| s > MAX_GATEWAY_LEEWAY_SECONDS)
        {
            out.push(
                ConfigError::new(format!("must be at most {MAX_GATEWAY_LEEWAY_SECONDS} seconds"))
                    .at_field("gateway.leeway_seconds"),
            );
        }
        if let Some(name) = &self.gateway.client_certificate_header {
            if let Err(why) = check_client_certificate_header(name) {
                out.push(ConfigError::new(why).at_field("gateway.client_certificate_header"));
            }
        }
        if let Some(origin) = &self.gateway.public_origin {
            if let Err(why) = check_public_origin(origin) {
                out.push(ConfigError::new(why).at_field("gateway.public_origin"));
            }
        }
        for (i, s) in self.portal.sign_in.iter().enumerate() {
            if !self.key_managers.iter().any(|k| k.name == s.key_manager) {
                out.push(
                    ConfigError::new(format!("no key manager is named `{}`", s.key_manager))
                        .at_field(format!("portal.sign_in[{i}].key_manager")),
                );
            }
            if let Some(bad) = s.scopes.iter().find(|x| !crate::model::is_valid_scope_token(x)) {
                out.push(
                    ConfigError::new(format!("`{bad}` is not a scope token"))
                        .at_field(format!("portal.sign_in[{i}].scopes")),
                );
            }
        }
        for (i, r) in self.gateway.route.iter().enumerate() {
            if let Err(m) = r.check() {
                out.push(ConfigError::new(m).at_field(format!("gateway.route[{i}]")));
            }
        }
        for (i, name) in server.api_identity.iter().flatten().enumerate() {
            if !self.key_managers.iter().any(|k| &k.name == name) {
                out.push(
                    ConfigError::new(format!(
                        "no key manager is named `{name}`; api_identity lists configured key managers"
                    ))
                    .at_field(format!("server.api_identity[{i}]")),
                );
            }
        }
        match (&server.tls_cert, &server.tls_key) {
            (Some(_), None) => {
                out.push(ConfigError::new("tls_cert needs tls_key: set both or neither").at_field("server.tls_key"))
            }
            (None, Some(_)) => {
                out.push(ConfigError::new("tls_key needs tls_cert: set both or neither").at_field("server.tls_cert"))
            }
            _ => {}
        }
        if server.tls_client_certificates && server.tls_cert.is_none() {
            out.push(
                ConfigError::new("client certificates come in a TLS handshake: set tls_cert and tls_key")
                    .at_field("server.tls_client_certificates"),
            );
        }
        if server.tls_client_ca.is_some() && !server.tls_client_certificates {
            out.push(
                ConfigError::new("a client CA is used only when tls_client_certificates = true")
                    .at_field("server.tls_client_ca"),
            );
        }
        out
    }
}

/// The largest `[database] max_connections`.
pub(crate) const MAX_DATABASE_CONNECTIONS: u32 = 1000;

/// The shortest admin token accepted in the configuration (the generated one has 43 characters, 256 bits).
pub(crate) const MIN_ADMIN_TOKEN_LENGTH: usize = 32;

/// Put each configured override in place of the endpoint a connector derived (a trailing `/` dropped).
pub fn override_endpoints<'a>(overrides: impl IntoIterator<Item = (Option<String>, &'a mut String)>) {
    for (value, slot) in overrides {
        if let Some(v) = value {
            *slot = v.trim_end_matches('/').to_owned();
        }
    }
}

/// A database URL this program can open: `sqlite:…` or `postgres:`/`postgresql:…`.
pub(crate) fn check_database_url(url: &str) -> Result<(), String> {
    let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("sqlite" | "postgres" | "postgresql") => Ok(()),
        _ => Err(format!(
            "`{}` is not a supported database URL; use sqlite://FILE or postgres://…",
            redact_url_password(url)
        )),
    }
}

/// A listen address: `HOST:PORT` (`127.0.0.1:9443`, `[::1]:9443`, `localhost:9443`), port 0 to 65535.
pub fn check_listen_address(listen: &str) -> Result<(), String> {
    if listen.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(());
    }
    let bad = || {
        format!(
            "`{}` is not an address to listen on; write HOST:PORT, such as 127.0.0.1:9443",
            listen.escape_debug()
        )
    };
    let (host, port) = listen.rsplit_once(':').ok_or_else(bad)?;
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    match (host_ok, port.parse::<u16>()) {
        (true, Ok(_)) => Ok(()),
        _ => Err(bad()),
    }
}

/// A public base URL: `http` or `https`, with a host, without query or fragment.
pub(crate) fn check_public_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{}` is not a URL: {e}", text.escape_debug()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "`{}` must be an http:// or https:// URL with a host",
            text.escape_debug()
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "`{}` must not carry a query, fragment or user information",
            text.escape_debug()
        ));
    }
    Ok(())
}

impl ConfigError {
    fn at_toml_span(mut self, text: &str, span: Option<std::ops::Range<usize>>) -> Self {
        if let Some(span) = span {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            self.message = format!("{} (line {line})", self.message);
        }
        self
    }
}

/// Replace `${VAR}` in every string below `value`; `path` names where `value` sits, for errors.
fn interpolate(value: &mut toml::Value, path: &str, env: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match value {
        toml::Value::String(s) => {
            *s = interpolate_str(s, env).map_err(|m| ConfigError::new(m).at_field(path))?;
        }
        toml::Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                interpolate(v, &format!("{path}[{i}]"), env)?;
            }
        }
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                interpolate(v, &join(k), env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn interpolate_str(s: &str, env: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail
                .find('}')
                .ok_or_else(|| "unterminated `${`: write `${VAR}`, or `$${` for a literal".to_owned())?;
            let var = &tail[..end];
            if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("`${{{var}}}` is not a valid environment variable reference"));
            }
            match env(var) {
                Some(v) => out.push_str(&v),
                None => return Err(format!("environment variable `{var}` is not set")),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "OKTA_API_TOKEN" => Some("tok-123".into()),
            "EMPTY" => Some(String::new()),
            "ADMIN_TOKEN" => Some("admin-tok-0123456789abcdef0123456789".into()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str_with_env(text, Some(Path::new("km.toml")), env)
    }

    #[test]
    fn interpolates_env_vars_and_literal_dollars() {
        let c = parse(
            r#"
            [[key_manager]]
            name = "okta"
            type = "okta"
            api_token = "${OKTA_API_TOKEN}"
            note = "cost $5, literal $${X}, empty [${EMPTY}]"
            nested = { list = ["a-${OKTA_API_TOKEN}"] }
            "#,
        )
        .unwrap();
        let s = &c.key_managers[0].settings;
        assert_eq!(s["api_token"], "tok-123");
        assert_eq!(s["note"], "cost $5, literal ${X}, empty []");
        assert_eq!(s["nested"]["list"][0], "a-tok-123");
    }

    #[test]
    fn unset_variable_names_variable_file_key_manager_and_field() {
        let e = parse("[[key_manager]]\nname = \"okta\"\ntype = \"okta\"\napi_token = \"${NOPE}\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "km.toml: key manager \"okta\": field `api_token`: environment variable `NOPE` is not set"
        );
    }

    #[test]
    fn structural_errors_are_named() {
        let cases = [
            (
                "[[key_manager]]\ntype = \"x\"\n",
                "km.toml: key manager \"#1\": field `name`: is required",
            ),
            (
                "[[key_manager]]\nname = \"a\"\n",
                "km.toml: key manager \"a\": field `type`: is required",
            ),
            (
                "[[key_manager]]\nname = \"a\"\ntype = \"x\"\n[[key_manager]]\nname = \"a\"\ntype = \"x\"\n",
                "km.toml: key manager \"a\": field `name`: duplicate key manager name; names must be unique",
            ),
            (
                "[[key_manager]]\nname = \"a\"\ntype = \"x\"\nallow_insecure_http = \"yes\"\n",
                "km.toml: key manager \"a\": field `allow_insecure_http`: must be true or false",
            ),
            (
                "[bogus]\nx = 1\n",
                "km.toml: field `bogus`: unknown field; expected `database`, `server`, `portal`, `gateway` or `key_manager`",
            ),
            (
                "[key_manager]\nname = \"a\"\n",
                "km.toml: field `key_manager`: must be an array of tables: write [[key_manager]]",
            ),
            (
                "[[key_manager]]\nname = \"${NOPE}\"\ntype = \"x\"\n",
                "km.toml: key manager \"#1\": field `name`: environment variable `NOPE` is not set",
            ),
            (
                "[[key_manager]]\nname = \"a\"\ntype = \"x\"\nurl = \"${unterminated\"\n",
                "km.toml: key manager \"a\": field `url`: unterminated `${`: write `${VAR}`, or `$${` for a literal",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err().to_string(), want, "for {text:?}");
        }
        let e = parse("[database]\nurl = \"sqlite://x\"\npool = 3\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("km.toml: field `database`: unknown field `pool`"),
            "{e}"
        );
        let e = parse("[[key_manager]\n").unwrap_err();
        assert!(e.to_string().starts_with("km.toml: invalid TOML"), "{e}");
        assert!(e.to_string().contains("(line 1)"), "{e}");
    }

    #[test]
    fn server_and_database_sections_parse_and_hide_the_admin_token() {
        let c = parse("[database]\nurl = \"postgres://km:db-pass@x/km\"\n[server]\nlisten = \"127.0.0.1:1\"\nadmin_token = \"${ADMIN_TOKEN}\"\n").unwrap();
        assert_eq!(c.database.url.as_deref(), Some("postgres://km:db-pass@x/km"));
        assert!(!format!("{c:?}").contains("admin-tok"));
        assert!(!format!("{c:?}").contains("db-pass"));
        let c =
            parse("[[key_manager]]\nname = \"okta\"\ntype = \"okta\"\napi_token = \"${OKTA_API_TOKEN}\"\n").unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("api_token") && !shown.contains("tok-123"), "{shown}");
    }
}
