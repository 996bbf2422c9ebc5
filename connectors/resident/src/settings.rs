//! The resident key manager's settings (`type = "resident"` tables).

use keymanager::config::KeyManagerConfig;
use keymanager::descriptor::{ConnectorDescriptor, Setting, SettingKind};
use keymanager::error::ConfigError;
use keymanager::model::check_duration;

use crate::login_guard::BruteForceSettings;
use crate::signing::Algorithm;

/// How access tokens look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    /// Signed JWTs (RFC 9068); no row is written per token.
    Jwt,
    /// Random opaque strings, recorded in the store and checked by introspection.
    Opaque,
}

/// Settings of one resident key manager. `Debug` hides the database URL's password.
#[derive(Clone)]
pub struct ResidentSettings {
    /// `iss` of its tokens and base of its endpoints.
    pub issuer: String,
    /// `aud` of its tokens.
    pub audience: String,
    /// Signing algorithm.
    pub algorithm: Algorithm,
    /// Token format.
    pub token_format: TokenFormat,
    /// Default access-token lifetime in seconds, for clients that set none.
    pub access_token_lifetime: u64,
    /// No token lives longer than this, whatever the client or request asks.
    pub max_access_token_lifetime: u64,
    /// Default refresh-token lifetime in seconds, for clients that set none.
    pub refresh_token_lifetime: u64,
    /// Most unexpired secrets per client; `None` = unlimited.
    pub max_secrets_per_client: Option<u32>,
    /// How long another node's change to a client or its secrets may take to reach this node's
    /// authentication cache (seconds; 0 = no cache). Changes made through this node apply at once.
    pub client_cache_seconds: u64,
    /// Database URL overriding `[database] url`.
    pub database_url: Option<String>,
    /// Users declared in the configuration: (name, password), created or updated at start.
    pub users: Vec<(String, keymanager::model::Token)>,
    /// Brute-force protection of the login page and the password grant.
    pub brute_force: BruteForceSettings,
}

impl std::fmt::Debug for ResidentSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResidentSettings")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("algorithm", &self.algorithm)
            .field("token_format", &self.token_format)
            .field("access_token_lifetime", &self.access_token_lifetime)
            .field("max_access_token_lifetime", &self.max_access_token_lifetime)
            .field("refresh_token_lifetime", &self.refresh_token_lifetime)
            .field("max_secrets_per_client", &self.max_secrets_per_client)
            .field("client_cache_seconds", &self.client_cache_seconds)
            .field("brute_force", &self.brute_force)
            .field(
                "database_url",
                &self
                    .database_url
                    .as_deref()
                    .map(keymanager::config::redact_url_password),
            )
            .finish()
    }
}

impl Default for ResidentSettings {
    fn default() -> Self {
        ResidentSettings {
            issuer: "http://127.0.0.1:9443".into(),
            audience: "http://127.0.0.1:9443".into(),
            algorithm: Algorithm::Es256,
            token_format: TokenFormat::Jwt,
            access_token_lifetime: 3600,
            max_access_token_lifetime: 86_400,
            refresh_token_lifetime: 30 * 86_400,
            max_secrets_per_client: None,
            client_cache_seconds: 5,
            database_url: None,
            users: Vec::new(),
            brute_force: BruteForceSettings::default(),
        }
    }
}

/// The longest `lockout_seconds` and `max_lockout_seconds`: a day.
pub const MAX_LOCKOUT_SECONDS: u64 = 86_400;

/// The largest `login_failures_per_user` and `login_failures_per_address`.
pub const MAX_LOGIN_FAILURES: u64 = 10_000;

/// The longest `client_cache_seconds`: an hour.
pub const MAX_CLIENT_CACHE_SECONDS: u64 = 3600;

/// The connector's self-description.
pub fn descriptor() -> ConnectorDescriptor {
    ConnectorDescriptor {
        kind: "resident".into(),
        display_name: "Resident Key Manager".into(),
        description: "The embedded OAuth2 authorization server, on SQLite or PostgreSQL.".into(),
        connection_settings: vec![
            Setting::url("issuer", "Issuer (defaults to the server's public URL)"),
            Setting::string("audience", "Audience of issued tokens (defaults to the issuer)"),
            Setting::string("signing_algorithm", "JWS algorithm")
                .one_of(&["ES256", "RS256", "EdDSA"])
                .default_value("ES256"),
            Setting::string("token_format", "Access token format")
                .one_of(&["jwt", "opaque"])
                .default_value("jwt"),
            Setting::integer("access_token_lifetime", "Default access-token lifetime (seconds)").default_value(3600),
            Setting::integer("max_access_token_lifetime", "Longest access-token lifetime (seconds)")
                .default_value(86_400),
            Setting::integer("refresh_token_lifetime", "Default refresh-token lifetime (seconds)")
                .default_value(30 * 86_400),
            Setting::integer(
                "max_secrets_per_client",
                "Most secrets per client (unlimited when unset)",
            ),
            Setting::integer(
                "client_cache_seconds",
                "Longest delay before another node's client change applies here",
            )
            .default_value(5),
            Setting::integer(
                "login_failures_per_user",
                "Failed logins for one user name before it is locked out (0 = off)",
            )
            .default_value(5),
            Setting::integer(
                "login_failures_per_address",
                "Failed logins from one client address before it is locked out (0 = off; set 0 behind a proxy)",
            )
            .default_value(30),
            Setting::integer(
                "lockout_seconds",
                "First lockout (seconds); doubles with each further failure",
            )
            .default_value(60),
            Setting::integer("max_lockout_seconds", "Longest lockout (seconds)").default_value(900),
            Setting::string("database_url", "Database URL (defaults to [database] url)").secret(),
            Setting::new(
                "users",
                "Users as \"name:password\" (read passwords from ${VARS})",
                SettingKind::StringList,
            )
            .secret(),
        ],
        application_properties: Vec::new(),
    }
}

impl ResidentSettings {
    /// Read a validated table; `public_url` is the server's URL, the default issuer.
    pub fn from_config(km: &KeyManagerConfig, public_url: Option<&str>) -> Result<Self, ConfigError> {
        let s = &km.settings;
        let text = |k: &str| s.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let int = |k: &str| s.get(k).and_then(|v| v.as_u64());
        let defaults = ResidentSettings::default();
        let issuer = text("issuer")
            .or_else(|| public_url.map(str::to_owned))
            .unwrap_or(defaults.issuer)
            .trim_end_matches('/')
            .to_owned();
        let algorithm = match text("signing_algorithm") {
            Some(a) => a.parse().map_err(|m: String| km.error(Some("signing_algorithm"), m))?,
            None => Algorithm::Es256,
        };
        let token_format = match text("token_format").as_deref() {
            Some("opaque") => TokenFormat::Opaque,
            _ => TokenFormat::Jwt,
        };
        let duration = |k: &str, default: u64| -> Result<u64, ConfigError> {
            let v = int(k).unwrap_or(default);
            check_duration(k, v).map_err(|e| km.error(Some(k), e.to_string()))?;
            Ok(v)
        };
        let max = duration("max_access_token_lifetime", defaults.max_access_token_lifetime)?;
        let default_lifetime = duration("access_token_lifetime", defaults.access_token_lifetime)?;
        let refresh_lifetime = duration("refresh_token_lifetime", defaults.refresh_token_lifetime)?;
        let client_cache_seconds = int("client_cache_seconds").unwrap_or(defaults.client_cache_seconds);
        if client_cache_seconds > MAX_CLIENT_CACHE_SECONDS {
            return Err(km.error(
                Some("client_cache_seconds"),
                format!("must be at most {MAX_CLIENT_CACHE_SECONDS}"),
            ));
        }
        if default_lifetime > max {
            return Err(km.error(
                Some("access_token_lifetime"),
                format!("{default_lifetime} exceeds max_access_token_lifetime ({max})"),
            ));
        }
        let max_secrets = match int("max_secrets_per_client") {
            Some(0) => {
                return Err(km.error(
                    Some("max_secrets_per_client"),
                    "must be at least 1 (omit it for no limit)",
                ))
            }
            Some(n) => Some(u32::try_from(n).map_err(|_| km.error(Some("max_secrets_per_client"), "is too large"))?),
            None => None,
        };
        let brute_force = brute_force(km, &int)?;
        Ok(ResidentSettings {
            audience: text("audience").unwrap_or_else(|| issuer.clone()),
            issuer,
            algorithm,
            token_format,
            access_token_lifetime: default_lifetime,
            max_access_token_lifetime: max,
            refresh_token_lifetime: refresh_lifetime,
            max_secrets_per_client: max_secrets,
            client_cache_seconds,
            database_url: text("database_url"),
            users: users(km)?,
            brute_force,
        })
    }
}

fn brute_force(km: &KeyManagerConfig, int: &dyn Fn(&str) -> Option<u64>) -> Result<BruteForceSettings, ConfigError> {
    let defaults = BruteForceSettings::default();
    let failures = |k: &str, default: u32| -> Result<u32, ConfigError> {
        match int(k) {
            None => Ok(default),
            Some(n) if n <= MAX_LOGIN_FAILURES => Ok(n as u32),
            Some(_) => Err(km.error(Some(k), format!("must be from 0 (off) to {MAX_LOGIN_FAILURES}"))),
        }
    };
    let seconds = |k: &str, default: u64| -> Result<u64, ConfigError> {
        match int(k).unwrap_or(default) {
            n @ 1..=MAX_LOCKOUT_SECONDS => Ok(n),
            _ => Err(km.error(Some(k), format!("must be from 1 to {MAX_LOCKOUT_SECONDS} seconds"))),
        }
    };
    let out = BruteForceSettings {
        failures_per_user: failures("login_failures_per_user", defaults.failures_per_user)?,
        failures_per_address: failures("login_failures_per_address", defaults.failures_per_address)?,
        lockout_seconds: seconds("lockout_seconds", defaults.lockout_seconds)?,
        max_lockout_seconds: seconds("max_lockout_seconds", defaults.max_lockout_seconds)?,
    };
    if out.max_lockout_seconds < out.lockout_seconds {
        return Err(km.error(
            Some("max_lockout_seconds"),
            format!("must be at least lockout_seconds ({})", out.lockout_seconds),
        ));
    }
    Ok(out)
}

fn users(km: &KeyManagerConfig) -> Result<Vec<(String, keymanager::model::Token)>, ConfigError> {
    let Some(list) = km.settings.get("users").and_then(|v| v.as_array()) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<(String, keymanager::model::Token)> = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let field = format!("users[{i}]");
        let entry = v.as_str().unwrap_or_default();
        let (name, password) = match entry.split_once(':') {
            Some((name, password)) if password.chars().count() >= 8 => (name, password),
            _ => {
                return Err(km.error(
                    Some(&field),
                    "must be \"name:password\" with a password of at least 8 characters",
                ))
            }
        };
        crate::users::check_username(name).map_err(|e| km.error(Some(&field), e.to_string()))?;
        if out.iter().any(|(n, _)| n == name) {
            return Err(km.error(Some(&field), format!("user `{name}` is listed twice")));
        }
        out.push((name.to_owned(), keymanager::model::Token::new(password)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_database_password() {
        let s = ResidentSettings {
            database_url: Some("postgres://km:hunter2-db@db/km".into()),
            ..ResidentSettings::default()
        };
        let shown = format!("{s:?}");
        assert!(
            shown.contains("postgres://km:***@db/km") && !shown.contains("hunter2-db"),
            "{shown}"
        );
    }

    #[test]
    fn users_come_as_name_password_and_their_passwords_never_show() {
        let km = KeyManagerConfig::new("r", "resident").with("users", serde_json::json!(["alice:correct horse"]));
        let s = ResidentSettings::from_config(&km, None).unwrap();
        assert_eq!(s.users[0].0, "alice");
        assert!(!format!("{s:?}").contains("correct horse"));
        let bad = KeyManagerConfig::new("r", "resident").with("users", serde_json::json!(["alice:short"]));
        let err = ResidentSettings::from_config(&bad, None).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("users[0]"));
    }
}
