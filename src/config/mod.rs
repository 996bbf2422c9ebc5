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

mod gateway;
mod interpolate;
mod load;

#[cfg(feature = "gateway")]
pub(crate) use gateway::is_method_token;
pub(crate) use gateway::MAX_GATEWAY_LEEWAY_SECONDS;
pub use gateway::{
    check_client_certificate_header, check_public_origin, GatewayConfig, GatewayRoute, ProxyKind, UncoveredPaths,
};
pub use load::check_listen_address;

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

/// Put each configured override in place of the endpoint a connector derived (a trailing `/` dropped).
pub fn override_endpoints<'a>(overrides: impl IntoIterator<Item = (Option<String>, &'a mut String)>) {
    for (value, slot) in overrides {
        if let Some(v) = value {
            *slot = v.trim_end_matches('/').to_owned();
        }
    }
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
