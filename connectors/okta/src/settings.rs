//! The Okta connector's settings (`type = "okta"` tables).

use keymanager::connector_kit::model::{ClientSecret, Token};
use keymanager::connector_kit::ConfigError;
use keymanager::connector_kit::KeyManagerConfig;
use keymanager::connector_kit::{ConnectorDescriptor, Setting};
use keymanager::connector_kit::{SecretPolicy, SecretSettings};
use serde::Deserialize;

use crate::errors::MAX_SECRETS;

/// The `type` of Okta key managers.
pub const KIND: &str = "okta";

/// The connector's self-description.
pub fn descriptor() -> ConnectorDescriptor {
    let mut connection_settings = vec![
        Setting::url("org_url", "Okta org URL, e.g. https://dev-000000.okta.com").required(),
        Setting::string("authorization_server_id", "Custom authorization server").default_value("default"),
        Setting::string("api_token", "Okta API token (sent as SSWS)")
            .required()
            .secret(),
        Setting::string("introspection_client_id", "Client id the connector introspects with"),
        Setting::string("introspection_client_secret", "Its secret").secret(),
        Setting::url("management_url", "Override: base URL of /api/v1 and /oauth2/v1/clients"),
        Setting::url("issuer", "Override: issuer (custom domain)"),
        Setting::url("token_endpoint", "Override: token endpoint"),
        Setting::url("introspection_endpoint", "Override: introspection endpoint"),
        Setting::url("revocation_endpoint", "Override: revocation endpoint"),
        Setting::url("jwks_uri", "Override: JWKS URI"),
        Setting::string(
            "audience",
            "Access-token audience a gateway requires (default api://default on the default server)",
        ),
    ];
    connection_settings.extend(SecretPolicy::settings(
        "read back from Okta's Apps API (the newest active secret)",
    ));
    ConnectorDescriptor {
        kind: KIND.into(),
        display_name: "Okta".into(),
        description: "An Okta org: dynamic client registration, Apps API secrets, a custom authorization server."
            .into(),
        connection_settings,
        application_properties: vec![
            Setting::string("application_type", "Okta application_type")
                .one_of(&["web", "native", "browser", "service"]),
            Setting::string("client_uri", "client_uri"),
            Setting::string("logo_uri", "logo_uri"),
        ],
    }
}

/// Settings of one Okta key manager.
#[derive(Debug, Clone)]
pub struct OktaSettings {
    /// `https://{yourOktaDomain}`.
    pub org_url: String,
    /// Custom authorization server id.
    pub authorization_server_id: String,
    /// The API token.
    pub api_token: Token,
    /// Introspection credentials.
    pub introspection_client: Option<(String, ClientSecret)>,
    /// Base of the management APIs.
    pub management_url: String,
    /// Issuer.
    pub issuer: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// Introspection endpoint.
    pub introspection_endpoint: String,
    /// Revocation endpoint.
    pub revocation_endpoint: String,
    /// JWKS.
    pub jwks_uri: String,
    /// Audience.
    pub audience: Option<String>,
    /// Hashed or retrievable secrets, and how many a client may hold (at most [`MAX_SECRETS`]).
    pub secrets: SecretPolicy,
}

impl OktaSettings {
    /// Settings for an org and authorization server, every endpoint at Okta's convention.
    pub fn new(org_url: &str, authorization_server_id: &str, api_token: Token) -> Self {
        let org = org_url.trim_end_matches('/').to_owned();
        let issuer = format!("{org}/oauth2/{authorization_server_id}");
        OktaSettings {
            management_url: org.clone(),
            token_endpoint: format!("{issuer}/v1/token"),
            introspection_endpoint: format!("{issuer}/v1/introspect"),
            revocation_endpoint: format!("{issuer}/v1/revoke"),
            jwks_uri: format!("{issuer}/v1/keys"),
            audience: (authorization_server_id == "default").then(|| "api://default".to_owned()),
            authorization_server_id: authorization_server_id.to_owned(),
            introspection_client: None,
            secrets: SecretPolicy::default(),
            issuer,
            org_url: org,
            api_token,
        }
    }

    /// Read a table, as [`descriptor`] declares it.
    pub fn from_config(km: &KeyManagerConfig) -> Result<Self, ConfigError> {
        let t: OktaTable = km.read_settings(&descriptor().connection_settings)?;
        let mut out = OktaSettings::new(&t.org_url, &t.authorization_server_id, t.api_token);
        out.introspection_client = km.both_or_neither(
            ("introspection_client_id", t.introspection_client_id),
            ("introspection_client_secret", t.introspection_client_secret),
        )?;
        keymanager::connector_kit::override_endpoints([
            (t.management_url, &mut out.management_url),
            (t.issuer, &mut out.issuer),
            (t.token_endpoint, &mut out.token_endpoint),
            (t.introspection_endpoint, &mut out.introspection_endpoint),
            (t.revocation_endpoint, &mut out.revocation_endpoint),
            (t.jwks_uri, &mut out.jwks_uri),
        ]);
        if t.audience.is_some() {
            out.audience = t.audience;
        }
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

/// A `type = "okta"` table, field for field as [`descriptor`] declares it (a test proves they agree).
#[derive(Deserialize)]
struct OktaTable {
    org_url: String,
    authorization_server_id: String,
    api_token: Token,
    introspection_client_id: Option<String>,
    introspection_client_secret: Option<ClientSecret>,
    management_url: Option<String>,
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
        keymanager::connector_kit::check_settings_type::<OktaTable>(&descriptor().connection_settings).unwrap();
    }
}
