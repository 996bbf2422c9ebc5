//! The Okta connector's settings (`type = "okta"` tables).

use keymanager::config::KeyManagerConfig;
use keymanager::descriptor::{ConnectorDescriptor, Setting};
use keymanager::error::ConfigError;
use keymanager::model::{ClientSecret, Token};

/// The connector's self-description.
pub fn descriptor() -> ConnectorDescriptor {
    ConnectorDescriptor {
        kind: "okta".into(),
        display_name: "Okta".into(),
        description: "An Okta org: dynamic client registration, Apps API secrets, a custom authorization server."
            .into(),
        connection_settings: vec![
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
        ],
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
            issuer,
            org_url: org,
            api_token,
        }
    }

    /// Read a validated table.
    pub fn from_config(km: &KeyManagerConfig) -> Result<Self, ConfigError> {
        let s = &km.settings;
        let text = |k: &str| s.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let org = text("org_url").ok_or_else(|| km.error(Some("org_url"), "is required"))?;
        let token = text("api_token").ok_or_else(|| km.error(Some("api_token"), "is required"))?;
        let as_id = text("authorization_server_id").unwrap_or_else(|| "default".into());
        let mut out = OktaSettings::new(&org, &as_id, Token::new(token));
        out.introspection_client = km.client_pair("introspection_client_id", "introspection_client_secret")?;
        for (key, slot) in [
            ("management_url", &mut out.management_url),
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
        if let Some(a) = text("audience") {
            out.audience = Some(a);
        }
        Ok(out)
    }
}
