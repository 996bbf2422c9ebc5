//! The Keycloak connector's settings (`type = "keycloak"` tables).

use keymanager::connector_kit::model::{ClientSecret, Token};
use keymanager::connector_kit::ConfigError;
use keymanager::connector_kit::KeyManagerConfig;
use keymanager::connector_kit::{ConnectorDescriptor, Setting};
use keymanager::connector_kit::{SecretPolicy, SecretSettings};
use serde::Deserialize;

/// Keycloak keeps at most two secrets per client: the current one and, during a rotation, the previous one.
pub const MAX_SECRETS: u32 = 2;

/// The `type` of Keycloak key managers.
pub const KIND: &str = "keycloak";

/// The connector's self-description.
pub fn descriptor() -> ConnectorDescriptor {
    let mut connection_settings = vec![
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
    ];
    connection_settings.extend(SecretPolicy::settings(
        "read back from Keycloak (the admin API's client-secret, or the registration service's read)",
    ));
    ConnectorDescriptor {
        kind: KIND.into(),
        display_name: "Keycloak".into(),
        description: "A Keycloak realm, through the admin REST API or the OpenID Connect client registration service."
            .into(),
        connection_settings,
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
    /// Hashed or retrievable secrets, and how many a client may hold (at most two: the current secret and one rotated one).
    pub secrets: SecretPolicy,
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
            secrets: SecretPolicy::default(),
            mode,
        }
    }

    /// Read a table, as [`descriptor`] declares it.
    pub fn from_config(km: &KeyManagerConfig) -> Result<Self, ConfigError> {
        let t: KeycloakTable = km.read_settings(&descriptor().connection_settings)?;
        let admin = km.both_or_neither(
            ("admin_client_id", t.admin_client_id),
            ("admin_client_secret", t.admin_client_secret),
        )?;
        let mode = match (admin, t.initial_access_token) {
            (Some((client_id, client_secret)), _) => Mode::Admin {
                client_id,
                client_secret,
            },
            (None, Some(initial_access_token)) => Mode::Registration { initial_access_token },
            (None, None) => return Err(km.error(
                Some("admin_client_id"),
                "configure an admin service account (admin_client_id, admin_client_secret) or an initial_access_token",
            )),
        };
        let admin_realm = t.admin_realm.unwrap_or_else(|| t.realm.clone());
        let mut out = KeycloakSettings::new(&t.base_url, &t.realm, &admin_realm, mode);
        if let Some(pair) = km.both_or_neither(
            ("introspection_client_id", t.introspection_client_id),
            ("introspection_client_secret", t.introspection_client_secret),
        )? {
            out.introspection_client = Some(pair);
        }
        keymanager::connector_kit::override_endpoints([
            (t.admin_url, &mut out.admin_url),
            (t.admin_token_endpoint, &mut out.admin_token_endpoint),
            (t.registration_endpoint, &mut out.registration_endpoint),
            (t.issuer, &mut out.issuer),
            (t.token_endpoint, &mut out.token_endpoint),
            (t.introspection_endpoint, &mut out.introspection_endpoint),
            (t.revocation_endpoint, &mut out.revocation_endpoint),
            (t.jwks_uri, &mut out.jwks_uri),
        ]);
        out.audience = t.audience;
        out.secrets = SecretPolicy::from_settings(
            km,
            SecretSettings {
                max_secrets_per_client: t.max_secrets_per_client,
                multiple_secrets: t.multiple_secrets,
                client_secret_storage: t.client_secret_storage,
            },
            Some(MAX_SECRETS),
        )?;
        Ok(out)
    }
}

/// A `type = "keycloak"` table, field for field as [`descriptor`] declares it (a test proves they agree).
#[derive(Deserialize)]
struct KeycloakTable {
    base_url: String,
    realm: String,
    admin_client_id: Option<String>,
    admin_client_secret: Option<ClientSecret>,
    admin_realm: Option<String>,
    initial_access_token: Option<Token>,
    introspection_client_id: Option<String>,
    introspection_client_secret: Option<ClientSecret>,
    admin_url: Option<String>,
    admin_token_endpoint: Option<String>,
    registration_endpoint: Option<String>,
    issuer: Option<String>,
    token_endpoint: Option<String>,
    introspection_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    jwks_uri: Option<String>,
    audience: Option<String>,
    max_secrets_per_client: Option<u64>,
    multiple_secrets: bool,
    client_secret_storage: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_type_matches_the_descriptor() {
        keymanager::connector_kit::check_settings_type::<KeycloakTable>(&descriptor().connection_settings).unwrap();
    }
}
