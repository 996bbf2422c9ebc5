//! The resident key manager's settings (`type = "resident"` tables).

use keymanager::connector_kit::model::{check_duration, Token};
use keymanager::connector_kit::ConfigError;
use keymanager::connector_kit::KeyManagerConfig;
use keymanager::connector_kit::{ConnectorDescriptor, Setting, SettingKind};
use serde::Deserialize;

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

/// How client secrets are kept: `Hashed` (a SHA-256 hash only; shown once) or `Retrievable` (also sealed with
/// AES-256-GCM under a key kept outside the database, so the keys' owner can read it again; the hash still
/// authenticates).
pub use keymanager::connector_kit::SecretStorage;

/// Settings of one resident key manager. `Debug` hides the database URL's password.
#[derive(Clone)]
pub struct ResidentSettings {
    /// `iss` of its tokens and base of its endpoints.
    pub issuer: String,
    /// Whether the issuer was configured (`issuer`, or `[server] public_url`); when not, the issuer recorded in the
    /// store on its first use wins (see [`ResidentServer::open`](crate::ResidentServer::open)).
    pub issuer_configured: bool,
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
    /// Most unexpired secrets per client; `None` = unlimited (1 when `multiple_secrets` is off).
    pub max_secrets_per_client: Option<u32>,
    /// How client secrets are kept.
    pub client_secret_storage: SecretStorage,
    /// The keys that seal retrievable secrets (`keymanager::secret_box`); loaded by the factory from
    /// `KEYMANAGER_SECRET_KEY` or the data directory when the storage is retrievable.
    pub secret_box: Option<std::sync::Arc<keymanager::connector_kit::SecretBox>>,
    /// How long another node's change to a client or its secrets may take to reach this node's
    /// authentication cache (seconds; 0 = no cache). Changes made through this node apply at once.
    pub client_cache_seconds: u64,
    /// Database URL overriding `[database] url`.
    pub database_url: Option<String>,
    /// Users declared in the configuration: (name, password), created or updated at start.
    pub users: Vec<(String, Token)>,
    /// OpenID Connect claims of configured users, by name (`user_profiles`), kept in step at start.
    pub user_profiles: std::collections::BTreeMap<String, keymanager::connector_kit::UserProfile>,
    /// Brute-force protection of the login page and the password grant.
    pub brute_force: BruteForceSettings,
    /// What clients' `jwks_uri`s may point at ([`Egress`](keymanager::connector_kit::Egress)); from the build context.
    pub egress: keymanager::connector_kit::Egress,
    /// How long a login session of the login page lasts (seconds): within it, a client's authorization request needs
    /// no new password (unless it asks for `prompt=login` or a shorter `max_age`).
    pub login_session_lifetime: u64,
    /// Seconds a rotation publishes the new signing keys before they sign (`signing_key_pre_publication`).
    pub signing_key_pre_publication: u64,
    /// Rotate the signing keys when the newest is this many seconds old (`signing_key_rotate_every`); `None`: only
    /// when asked.
    pub signing_key_rotate_every: Option<u64>,
    /// Every client must push its authorization requests first (RFC 9126 `require_pushed_authorization_requests`);
    /// a client may also be registered with it.
    pub require_pushed_authorization_requests: bool,
    /// The token endpoint requires a DPoP nonce of its own in every proof (RFC 9449 §8), renewed every minute.
    pub dpop_nonce: bool,
    /// Key managers of the same configuration, by name, whose access tokens clients may exchange here (RFC 8693):
    /// the server that builds the key managers hands the resident a validator for them
    /// ([`ResidentServer::trust_subject_tokens`](crate::ResidentServer::trust_subject_tokens)).
    pub token_exchange_trusted_key_managers: Vec<String>,
    /// The server in front asks TLS clients for certificates (`[server] tls_client_certificates`, from the build
    /// context): clients may then authenticate with them and have their tokens bound to them (RFC 8705).
    pub client_certificates: bool,
}

impl std::fmt::Debug for ResidentSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResidentSettings")
            .field("issuer", &self.issuer)
            .field("issuer_configured", &self.issuer_configured)
            .field("audience", &self.audience)
            .field("algorithm", &self.algorithm)
            .field("token_format", &self.token_format)
            .field("access_token_lifetime", &self.access_token_lifetime)
            .field("max_access_token_lifetime", &self.max_access_token_lifetime)
            .field("refresh_token_lifetime", &self.refresh_token_lifetime)
            .field("max_secrets_per_client", &self.max_secrets_per_client)
            .field("client_secret_storage", &self.client_secret_storage)
            .field("client_cache_seconds", &self.client_cache_seconds)
            .field("brute_force", &self.brute_force)
            // Who has configured claims, not the claims (personal data).
            .field("user_profiles", &self.user_profiles.keys().collect::<Vec<_>>())
            .field("login_session_lifetime", &self.login_session_lifetime)
            .field("signing_key_pre_publication", &self.signing_key_pre_publication)
            .field("signing_key_rotate_every", &self.signing_key_rotate_every)
            .field(
                "require_pushed_authorization_requests",
                &self.require_pushed_authorization_requests,
            )
            .field("client_certificates", &self.client_certificates)
            .field("dpop_nonce", &self.dpop_nonce)
            .field(
                "token_exchange_trusted_key_managers",
                &self.token_exchange_trusted_key_managers,
            )
            .field(
                "database_url",
                &self
                    .database_url
                    .as_deref()
                    .map(keymanager::connector_kit::redact_url_password),
            )
            .finish()
    }
}

impl Default for ResidentSettings {
    fn default() -> Self {
        ResidentSettings {
            issuer: "http://127.0.0.1:9443".into(),
            issuer_configured: false,
            audience: "http://127.0.0.1:9443".into(),
            algorithm: Algorithm::Es256,
            token_format: TokenFormat::Jwt,
            access_token_lifetime: 3600,
            max_access_token_lifetime: 86_400,
            refresh_token_lifetime: 30 * 86_400,
            max_secrets_per_client: None,
            client_secret_storage: SecretStorage::Hashed,
            secret_box: None,
            client_cache_seconds: 5,
            database_url: None,
            users: Vec::new(),
            user_profiles: Default::default(),
            brute_force: BruteForceSettings::default(),
            egress: keymanager::connector_kit::Egress::PublicOnly,
            login_session_lifetime: 8 * 3600,
            require_pushed_authorization_requests: false,
            client_certificates: false,
            dpop_nonce: false,
            token_exchange_trusted_key_managers: Vec::new(),
            signing_key_pre_publication: DEFAULT_SIGNING_KEY_PRE_PUBLICATION,
            signing_key_rotate_every: None,
        }
    }
}

/// Default `signing_key_pre_publication`: five minutes, longer than a JWKS is commonly cached.
pub const DEFAULT_SIGNING_KEY_PRE_PUBLICATION: u64 = 300;
/// The longest `signing_key_pre_publication` (and `--pre-publish`): a week.
pub const MAX_SIGNING_KEY_PRE_PUBLICATION: u64 = 7 * 86_400;

/// The longest `lockout_seconds` and `max_lockout_seconds`: a day.
pub const MAX_LOCKOUT_SECONDS: u64 = 86_400;

/// The largest `login_failures_per_user` and `login_failures_per_address`.
pub const MAX_LOGIN_FAILURES: u64 = 10_000;

/// The longest `client_cache_seconds`: an hour.
pub const MAX_CLIENT_CACHE_SECONDS: u64 = 3600;

/// The `type` of resident key managers.
pub const KIND: &str = "resident";

/// The connector's self-description.
pub fn descriptor() -> ConnectorDescriptor {
    let mut connection_settings = vec![
        Setting::url("issuer", "Issuer (defaults to the server's public URL)"),
        Setting::string("audience", "Audience of issued tokens (defaults to the issuer)"),
        Setting::string("signing_algorithm", "JWS algorithm")
            .one_of(&["ES256", "RS256", "EdDSA"])
            .default_value("ES256"),
        Setting::string("token_format", "Access token format")
            .one_of(&["jwt", "opaque"])
            .default_value("jwt"),
        Setting::integer("access_token_lifetime", "Default access-token lifetime (seconds)").default_value(3600),
        Setting::integer("max_access_token_lifetime", "Longest access-token lifetime (seconds)").default_value(86_400),
        Setting::integer("refresh_token_lifetime", "Default refresh-token lifetime (seconds)")
            .default_value(30 * 86_400),
    ];
    connection_settings.extend(keymanager::connector_kit::SecretPolicy::settings(
        "sealed under KEYMANAGER_SECRET_KEY and shown again",
    ));
    connection_settings.extend([
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
        Setting::integer(
            "login_session_lifetime",
            "How long a sign-in at the login page lasts for later authorizations (seconds)",
        )
        .default_value(8 * 3600),
        Setting::integer(
            "signing_key_pre_publication",
            "Seconds a rotation publishes new signing keys in the JWKS before they sign",
        )
        .default_value(DEFAULT_SIGNING_KEY_PRE_PUBLICATION),
        Setting::integer(
            "signing_key_rotate_every",
            "Rotate the signing keys when the newest is this many seconds old (unset: only when asked)",
        ),
        Setting::boolean(
            "require_pushed_authorization_requests",
            "Every client must push its authorization requests to /oauth2/par first (RFC 9126)",
        )
        .default_value(false),
        Setting::boolean(
            "dpop_nonce",
            "The token endpoint requires a DPoP nonce of its own in every proof (RFC 9449 §8), renewed every minute",
        )
        .default_value(false),
        Setting::new(
            "token_exchange_trusted_key_managers",
            "Key managers of this configuration (by name) whose access tokens clients may exchange here (RFC 8693)",
            SettingKind::StringList,
        ),
        Setting::string("database_url", "Database URL (defaults to [database] url)").secret(),
        Setting::new(
            "users",
            "Users as \"name:password\" (read passwords from ${VARS})",
            SettingKind::StringList,
        )
        .secret(),
        Setting::new(
            "user_profiles",
            "OpenID Connect claims of configured users: user_profiles.NAME = { name, email, email_verified }",
            SettingKind::Object,
        ),
    ]);
    ConnectorDescriptor {
        kind: KIND.into(),
        display_name: "Resident Key Manager".into(),
        description: "The embedded OAuth2 authorization server, on SQLite or PostgreSQL.".into(),
        connection_settings,
        // OpenID client metadata, read by `ClientMetadata` (a test keeps the two in step).
        application_properties: vec![
            Setting::new(
                "post_logout_redirect_uris",
                "Where the end-session endpoint may send users back (RP-Initiated Logout)",
                SettingKind::StringList,
            ),
            Setting::string("token_endpoint_auth_method", "How the client authenticates").one_of(&[
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "tls_client_auth",
                "self_signed_tls_client_auth",
                "none",
            ]),
            Setting::new(
                "jwks",
                "The client's public keys (a JWK Set), for private_key_jwt",
                SettingKind::Object,
            ),
            Setting::url(
                "jwks_uri",
                "Where the client publishes its public keys, for private_key_jwt",
            ),
            Setting::string("id_token_signed_response_alg", "JWS algorithm of its ID tokens")
                .one_of(&["ES256", "RS256", "EdDSA"]),
            Setting::url(
                "policy_uri",
                "Where people read how the application uses their data (shown at consent)",
            ),
            Setting::url("tos_uri", "The application's terms of service (shown at consent)"),
            Setting::new(
                "token_exchange_audiences",
                "Audiences the client may exchange tokens for (RFC 8693); none by default",
                SettingKind::StringList,
            ),
            Setting::boolean(
                "require_pushed_authorization_requests",
                "Authorization requests must be pushed to /oauth2/par first (RFC 9126)",
            ),
            Setting::boolean(
                "dpop_bound_access_tokens",
                "Every token request must carry a DPoP proof: each access token is bound to the client's key (RFC 9449)",
            ),
            Setting::string(
                "tls_client_auth_subject_dn",
                "For tls_client_auth: the certificate's subject DN (RFC 4514, e.g. CN=orders,O=Example)",
            ),
            Setting::string(
                "tls_client_auth_san_dns",
                "For tls_client_auth: a DNS name in the certificate's subject alternative names",
            ),
            Setting::string(
                "tls_client_auth_san_uri",
                "For tls_client_auth: a URI in the certificate's subject alternative names",
            ),
            Setting::string(
                "tls_client_auth_san_ip",
                "For tls_client_auth: an IP address in the certificate's subject alternative names",
            ),
            Setting::string(
                "tls_client_auth_san_email",
                "For tls_client_auth: an e-mail address in the certificate's subject alternative names",
            ),
            Setting::boolean(
                "tls_client_certificate_bound_access_tokens",
                "Every token request must come with the client's TLS certificate: each access token is bound to it (RFC 8705)",
            ),
        ],
    }
}

impl ResidentSettings {
    /// Read a table, as [`descriptor`] declares it; `public_url` is the server's URL, the default issuer.
    pub fn from_config(km: &KeyManagerConfig, public_url: Option<&str>) -> Result<Self, ConfigError> {
        let t: ResidentTable = km.read_settings(&descriptor().connection_settings)?;
        let defaults = ResidentSettings::default();
        let issuer_configured = t.issuer.is_some() || public_url.is_some();
        let issuer = t
            .issuer
            .clone()
            .or_else(|| public_url.map(str::to_owned))
            .unwrap_or(defaults.issuer)
            .trim_end_matches('/')
            .to_owned();
        let algorithm = t
            .signing_algorithm
            .parse()
            .map_err(|m: String| km.error(Some("signing_algorithm"), m))?;
        let token_format = match t.token_format.as_str() {
            "opaque" => TokenFormat::Opaque,
            _ => TokenFormat::Jwt,
        };
        for (k, v) in [
            ("max_access_token_lifetime", t.max_access_token_lifetime),
            ("access_token_lifetime", t.access_token_lifetime),
            ("refresh_token_lifetime", t.refresh_token_lifetime),
            ("login_session_lifetime", t.login_session_lifetime),
        ] {
            check_duration(k, v).map_err(|e| km.error(Some(k), e.to_string()))?;
        }
        if t.signing_key_pre_publication > MAX_SIGNING_KEY_PRE_PUBLICATION {
            return Err(km.error(
                Some("signing_key_pre_publication"),
                format!("must be from 0 (sign at once) to {MAX_SIGNING_KEY_PRE_PUBLICATION} seconds (a week)"),
            ));
        }
        if let Some(every) = t.signing_key_rotate_every {
            let least = t
                .signing_key_pre_publication
                .saturating_add(t.max_access_token_lifetime);
            if every < least || check_duration("signing_key_rotate_every", every).is_err() {
                return Err(km.error(
                    Some("signing_key_rotate_every"),
                    format!(
                        "must be at least signing_key_pre_publication + max_access_token_lifetime ({least} s), so \
                         no more than two keys of an algorithm are published at once, and at most 10 years"
                    ),
                ));
            }
        }
        if t.client_cache_seconds > MAX_CLIENT_CACHE_SECONDS {
            return Err(km.error(
                Some("client_cache_seconds"),
                format!("must be at most {MAX_CLIENT_CACHE_SECONDS}"),
            ));
        }
        if t.access_token_lifetime > t.max_access_token_lifetime {
            return Err(km.error(
                Some("access_token_lifetime"),
                format!(
                    "{} exceeds max_access_token_lifetime ({})",
                    t.access_token_lifetime, t.max_access_token_lifetime
                ),
            ));
        }
        let secrets = keymanager::connector_kit::SecretPolicy::from_settings(
            km,
            keymanager::connector_kit::SecretSettings {
                max_secrets_per_client: t.max_secrets_per_client,
                multiple_secrets: t.multiple_secrets,
                client_secret_storage: t.client_secret_storage.clone(),
            },
            None,
        )?;
        let brute_force = brute_force(km, &t)?;
        let users = users(km, t.users.unwrap_or_default())?;
        let user_profiles = user_profiles(km, t.user_profiles.unwrap_or_default(), &users)?;
        Ok(ResidentSettings {
            audience: t.audience.unwrap_or_else(|| issuer.clone()),
            issuer,
            issuer_configured,
            algorithm,
            token_format,
            access_token_lifetime: t.access_token_lifetime,
            max_access_token_lifetime: t.max_access_token_lifetime,
            refresh_token_lifetime: t.refresh_token_lifetime,
            max_secrets_per_client: secrets.max_per_client,
            client_secret_storage: secrets.storage,
            secret_box: None,
            signing_key_pre_publication: t.signing_key_pre_publication,
            signing_key_rotate_every: t.signing_key_rotate_every,
            require_pushed_authorization_requests: t.require_pushed_authorization_requests,
            dpop_nonce: t.dpop_nonce,
            token_exchange_trusted_key_managers: t.token_exchange_trusted_key_managers.unwrap_or_default(),
            // From the build context, not the table.
            client_certificates: false,
            client_cache_seconds: t.client_cache_seconds,
            database_url: t.database_url.map(|u| u.expose_secret().to_owned()),
            users,
            user_profiles,
            brute_force,
            egress: keymanager::connector_kit::Egress::PublicOnly,
            login_session_lifetime: t.login_session_lifetime,
        })
    }
}

impl ResidentSettings {
    /// An issuer derived from where this process serves (`scheme://listen-address`), for when none is configured;
    /// an audience that followed the issuer follows it.
    pub fn with_derived_issuer(mut self, url: &str) -> Self {
        if !self.issuer_configured {
            let url = url.trim_end_matches('/').to_owned();
            if self.audience == self.issuer {
                self.audience = url.clone();
            }
            self.issuer = url;
        }
        self
    }

    /// Agree with every process on `store` about the issuer: a configured one is recorded (and replaces an older
    /// record); otherwise the recorded one wins over this process's derived one, and the first process records its own.
    pub(crate) async fn settle_issuer(mut self, store: &crate::Store) -> keymanager::connector_kit::Result<Self> {
        if self.issuer_configured {
            if store
                .fact("issuer")
                .await?
                .as_deref()
                .is_some_and(|old| old != self.issuer)
            {
                tracing::warn!(issuer = %self.issuer, "the configured issuer replaces the one recorded in the store");
            }
            store.replace_fact("issuer", &self.issuer).await?;
            return Ok(self);
        }
        let agreed = store.settle_fact("issuer", &self.issuer).await?;
        if agreed != self.issuer {
            tracing::info!(
                issuer = %agreed,
                here = %self.issuer,
                "keeping the issuer recorded in the store (set [server] public_url to change it)"
            );
            if self.audience == self.issuer {
                self.audience = agreed.clone();
            }
            self.issuer = agreed;
        }
        Ok(self)
    }
}

/// A `type = "resident"` table, field for field as [`descriptor`] declares it (a test proves they agree; the
/// declared defaults are filled in before it is read).
#[derive(Deserialize)]
struct ResidentTable {
    issuer: Option<String>,
    audience: Option<String>,
    signing_algorithm: String,
    token_format: String,
    access_token_lifetime: u64,
    max_access_token_lifetime: u64,
    refresh_token_lifetime: u64,
    max_secrets_per_client: Option<u64>,
    multiple_secrets: bool,
    client_secret_storage: String,
    client_cache_seconds: u64,
    login_failures_per_user: u64,
    login_failures_per_address: u64,
    lockout_seconds: u64,
    max_lockout_seconds: u64,
    login_session_lifetime: u64,
    signing_key_pre_publication: u64,
    signing_key_rotate_every: Option<u64>,
    require_pushed_authorization_requests: bool,
    dpop_nonce: bool,
    token_exchange_trusted_key_managers: Option<Vec<String>>,
    database_url: Option<Token>,
    users: Option<Vec<Token>>,
    user_profiles: Option<serde_json::Map<String, serde_json::Value>>,
}

fn brute_force(km: &KeyManagerConfig, t: &ResidentTable) -> Result<BruteForceSettings, ConfigError> {
    let failures = |k: &str, n: u64| -> Result<u32, ConfigError> {
        u32::try_from(n)
            .ok()
            .filter(|n| u64::from(*n) <= MAX_LOGIN_FAILURES)
            .ok_or_else(|| km.error(Some(k), format!("must be from 0 (off) to {MAX_LOGIN_FAILURES}")))
    };
    let seconds = |k: &str, n: u64| -> Result<u64, ConfigError> {
        match n {
            1..=MAX_LOCKOUT_SECONDS => Ok(n),
            _ => Err(km.error(Some(k), format!("must be from 1 to {MAX_LOCKOUT_SECONDS} seconds"))),
        }
    };
    let out = BruteForceSettings {
        failures_per_user: failures("login_failures_per_user", t.login_failures_per_user)?,
        failures_per_address: failures("login_failures_per_address", t.login_failures_per_address)?,
        lockout_seconds: seconds("lockout_seconds", t.lockout_seconds)?,
        max_lockout_seconds: seconds("max_lockout_seconds", t.max_lockout_seconds)?,
    };
    if out.max_lockout_seconds < out.lockout_seconds {
        return Err(km.error(
            Some("max_lockout_seconds"),
            format!("must be at least lockout_seconds ({})", out.lockout_seconds),
        ));
    }
    Ok(out)
}

/// One configured user's claims, as the table spells them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileTable {
    name: Option<String>,
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
}

fn user_profiles(
    km: &KeyManagerConfig,
    table: serde_json::Map<String, serde_json::Value>,
    users: &[(String, Token)],
) -> Result<std::collections::BTreeMap<String, keymanager::connector_kit::UserProfile>, ConfigError> {
    let mut out = std::collections::BTreeMap::new();
    for (name, value) in table {
        let field = |f: &str| format!("user_profiles.{name}{f}");
        if !users.iter().any(|(u, _)| *u == name) {
            return Err(km.error(Some(&field("")), format!("`{name}` is not one of the configured users")));
        }
        let p: ProfileTable = serde_json::from_value(value).map_err(|e| km.error(Some(&field("")), e.to_string()))?;
        let profile = keymanager::connector_kit::UserProfile {
            name: p.name,
            email: p.email,
            email_verified: p.email_verified,
        };
        crate::users::check_profile(&profile).map_err(|e| match e {
            keymanager::connector_kit::Error::InvalidRequest {
                field: Some(f),
                message,
                ..
            } => km.error(Some(&field(&format!(".{f}"))), message),
            other => km.error(Some(&field("")), other.to_string()),
        })?;
        out.insert(name, profile);
    }
    Ok(out)
}

fn users(km: &KeyManagerConfig, list: Vec<Token>) -> Result<Vec<(String, Token)>, ConfigError> {
    let mut out: Vec<(String, Token)> = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let field = format!("users[{i}]");
        let (name, password) = match v.expose_secret().split_once(':') {
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
        out.push((name.to_owned(), Token::new(password)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_type_matches_the_descriptor() {
        keymanager::connector_kit::check_settings_type::<ResidentTable>(&descriptor().connection_settings).unwrap();
    }

    #[test]
    fn the_declared_defaults_are_the_code_defaults() {
        let read = ResidentSettings::from_config(&KeyManagerConfig::new("r", KIND), None).unwrap();
        assert_eq!(format!("{read:?}"), format!("{:?}", ResidentSettings::default()));
    }

    #[test]
    fn configured_users_may_carry_openid_claims_checked_by_name() {
        let km = KeyManagerConfig::new("r", "resident")
            .with("users", serde_json::json!(["alice:correct horse"]))
            .with(
                "user_profiles",
                serde_json::json!({"alice": {"name": "Alice", "email": "alice@example.com", "email_verified": true}}),
            );
        let s = ResidentSettings::from_config(&km, None).unwrap();
        assert_eq!(s.user_profiles["alice"].email.as_deref(), Some("alice@example.com"));
        for (profiles, field) in [
            (serde_json::json!({"bob": {"name": "Bob"}}), "user_profiles.bob"),
            (
                serde_json::json!({"alice": {"email": "not-an-address"}}),
                "user_profiles.alice.email",
            ),
            (serde_json::json!({"alice": {"nickname": "al"}}), "user_profiles.alice"),
        ] {
            let bad = KeyManagerConfig::new("r", "resident")
                .with("users", serde_json::json!(["alice:correct horse"]))
                .with("user_profiles", profiles);
            let err = ResidentSettings::from_config(&bad, None).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{err}");
        }
    }

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
