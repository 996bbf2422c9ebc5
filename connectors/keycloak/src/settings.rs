//! The Keycloak connector's settings (`type = "keycloak"` tables).

use keymanager::config::KeyManagerConfig;
use keymanager::descriptor::{ConnectorDescriptor, Setting};
use keymanager::error::ConfigError;
use keymanager::model::{ClientSecret, Token};

/// The connector's self-description.
pub fn descriptor() -> ConnectorDescriptor {
    ConnectorDescriptor {
        kind: "keycloak".into(),
        display_name: "Keycloak".into(),
        description: "A Keycloak realm, through the admin REST API or the OpenID Connect client registration service."
            .into(),
        connection_settings: vec![
            Setting::url(
                "base_url",
                "Keycloak URL, e.g. https://kc.example.com (add /auth for servers before 17)",
            )
            .required(),
            Setting::string("realm", "Realm").required(),
            Setting::string("admin_client_id", "Admin service-account client (manage-clients)"),
            Setting::string("admin_client_secret", "Its secret").secret(),
            Setting::string("admin_realm", "Realm of the admin client (default: realm)"),
            Setting::string(
                "initial_access_token",
                "Initial access token, for registration-only mode",
            )
            .secret(),
            Setting::string(
                "introspection_client_id",
                "Client the connector introspects with (default: the admin client)",
            ),
            Setting::string("introspection_client_secret", "Its secret").secret(),
            Setting::url("admin_url", "Override: /admin/realms/{realm}"),
            Setting::url("admin_token_endpoint", "Override: token endpoint of the admin realm"),
            Setting::url("registration_endpoint", "Override: client registration service"),
            Setting::url("issuer", "Override: issuer"),
            Setting::url("token_endpoint", "Override: token endpoint"),
            Setting::url("introspection_endpoint", "Override: introspection endpoint"),
            Setting::url("revocation_endpoint", "Override: revocation endpoint"),
            Setting::url("jwks_uri", "Override: JWKS URI (certs)"),
            Setting::string(
                "audience",
                "Access-token audience a gateway requires (configure an audience mapper)",
            ),
        ],
        application_properties: vec![],
    }
}

/// How the connector manages clients.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The admin REST API, with a service account's token.
    Admin {
        /// Client id.
        client_id: String,
        /// Secret.
        client_secret: ClientSecret,
    },
    /// The OpenID Connect client registration service, with an initial access token only.
    Registration {
        /// The initial access token.
        initial_access_token: Token,
    },
}

/// Settings of one Keycloak key manager.
#[derive(Debug, Clone)]
pub struct KeycloakSettings {
    /// Realm.
    pub realm: String,
    /// Admin API or registration service.
    pub mode: Mode,
    /// Introspection credentials.
    pub introspection_client: Option<(String, ClientSecret)>,
    /// `{base}/admin/realms/{realm}`.
    pub admin_url: String,
    /// `{base}/realms/{admin_realm}/protocol/openid-connect/token`.
    pub admin_token_endpoint: String,
    /// `{issuer}/clients-registrations/openid-connect`.
    pub registration_endpoint: String,
    /// `{base}/realms/{realm}`.
    pub issuer: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// Introspection endpoint.
    pub introspection_endpoint: String,
    /// Revocation endpoint.
    pub revocation_endpoint: String,
    /// Certs.
    pub jwks_uri: String,
    /// Audience.
    pub audience: Option<String>,
}

impl KeycloakSettings {
    /// Settings at Keycloak's conventions (17+ paths, no `/auth`).
    pub fn new(base_url: &str, realm: &str, admin_realm: &str, mode: Mode) -> Self {
        let base = base_url.trim_end_matches('/');
        let issuer = format!("{base}/realms/{realm}");
        let oidc = format!("{issuer}/protocol/openid-connect");
        let introspection_client = match (&mode, admin_realm == realm) {
            (
                Mode::Admin {
                    client_id,
                    client_secret,
                },
                true,
            ) => Some((client_id.clone(), client_secret.clone())),
            _ => None,
        };
        KeycloakSettings {
            realm: realm.to_owned(),
            introspection_client,
            admin_url: format!("{base}/admin/realms/{realm}"),
            admin_token_endpoint: format!("{base}/realms/{admin_realm}/protocol/openid-connect/token"),
            registration_endpoint: format!("{issuer}/clients-registrations/openid-connect"),
            token_endpoint: format!("{oidc}/token"),
            introspection_endpoint: format!("{oidc}/token/introspect"),
            revocation_endpoint: format!("{oidc}/revoke"),
            jwks_uri: format!("{oidc}/certs"),
            issuer,
            audience: None,
            mode,
        }
    }

    /// Read a validated table.
    pub fn from_config(km: &KeyManagerConfig) -> Result<Self, ConfigError> {
        let s = &km.settings;
        let text = |k: &str| s.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let base = text("base_url").ok_or_else(|| km.error(Some("base_url"), "is required"))?;
        let realm = text("realm").ok_or_else(|| km.error(Some("realm"), "is required"))?;
        let mode = match (
            text("admin_client_id"),
            text("admin_client_secret"),
            text("initial_access_token"),
        ) {
            (Some(id), Some(secret), _) => Mode::Admin {
                client_id: id,
                client_secret: ClientSecret::new(secret),
            },
            (None, None, Some(iat)) => Mode::Registration {
                initial_access_token: Token::new(iat),
            },
            (Some(_), None, _) | (None, Some(_), _) => {
                return Err(km.error(
                    Some("admin_client_secret"),
                    "admin_client_id and admin_client_secret go together",
                ))
            }
            (None, None, None) => return Err(km.error(
                Some("admin_client_id"),
                "configure an admin service account (admin_client_id, admin_client_secret) or an initial_access_token",
            )),
        };
        let admin_realm = text("admin_realm").unwrap_or_else(|| realm.clone());
        let mut out = KeycloakSettings::new(&base, &realm, &admin_realm, mode);
        if let Some(pair) = km.client_pair("introspection_client_id", "introspection_client_secret")? {
            out.introspection_client = Some(pair);
        }
        for (key, slot) in [
            ("admin_url", &mut out.admin_url),
            ("admin_token_endpoint", &mut out.admin_token_endpoint),
            ("registration_endpoint", &mut out.registration_endpoint),
            ("issuer", &mut out.issuer),
            ("token_endpoint", &mut out.token_endpoint),
            ("introspection_endpoint", &mut out.introspection_endpoint),
            ("revocation_endpoint", &mut out.revocation_endpoint),
            ("jwks_uri", &mut out.jwks_uri),
        ] {
            if let Some(v) = text(key) {
                *slot = v.trim_end_matches('/').to_owned();
            }
        }
        out.audience = text("audience");
        Ok(out)
    }
}
