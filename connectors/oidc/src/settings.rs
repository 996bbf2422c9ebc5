//! The oidc connector's settings (`type = "oidc"` tables).

use keymanager::connector_kit::model::{ClientSecret, Token};
use keymanager::connector_kit::ConfigError;
use keymanager::connector_kit::KeyManagerConfig;
use keymanager::connector_kit::SecretStorage;
use keymanager::connector_kit::{ConnectorDescriptor, Setting, SettingKind};
use serde::Deserialize;

/// The `type` of oidc key managers.
pub const KIND: &str = "oidc";

/// The connector's self-description.
pub fn descriptor() -> ConnectorDescriptor {
    ConnectorDescriptor {
        kind: KIND.into(),
        display_name: "OpenID Connect / OAuth 2.0 provider".into(),
        description: "Any authorization server with RFC 8414 or OpenID discovery, RFC 7591/7592 registration, \
                      RFC 7662 introspection and RFC 7009 revocation."
            .into(),
        connection_settings: vec![
            Setting::url("issuer", "Issuer (discovery starts here)").required(),
            Setting::string("initial_access_token", "RFC 7591 initial access token").secret(),
            Setting::string("introspection_client_id", "Client id the connector introspects with"),
            Setting::string("introspection_client_secret", "Its secret").secret(),
            Setting::string(
                "introspection_token",
                "Bearer token the connector introspects with (RFC 7662 §2.1)",
            )
            .secret(),
            Setting::url("registration_endpoint", "Override: registration endpoint"),
            Setting::url("token_endpoint", "Override: token endpoint"),
            Setting::url("introspection_endpoint", "Override: introspection endpoint"),
            Setting::url("revocation_endpoint", "Override: revocation endpoint"),
            Setting::url("jwks_uri", "Override: JWKS URI"),
            Setting::string("client_id_claim", "Access-token claim with the client id").default_value("client_id"),
            Setting::string("scope_claim", "Access-token claim with the scopes").default_value("scope"),
            Setting::string("scope_claim_form", "Form of that claim")
                .one_of(&["space_separated", "array"])
                .default_value("space_separated"),
            Setting::string("audience", "Audience a gateway requires in access tokens"),
            Setting::new("algorithms", "JWS algorithms of access tokens", SettingKind::StringList),
            Setting::string("access_token_typ", "JWT typ of access tokens (e.g. at+jwt)"),
            SecretStorage::setting("read back through RFC 7592 (when the provider's read answers it)"),
        ],
        application_properties: vec![
            Setting::string("application_type", "RFC 7591 application_type").one_of(&["web", "native"]),
            Setting::string("client_uri", "RFC 7591 client_uri"),
            Setting::string("logo_uri", "RFC 7591 logo_uri"),
        ],
    }
}

/// Settings of one oidc key manager.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer.
    pub issuer: String,
    /// Initial access token for registration.
    pub initial_access_token: Option<Token>,
    /// Introspection credentials: a client…
    pub introspection_client: Option<(String, ClientSecret)>,
    /// …or a bearer token.
    pub introspection_token: Option<Token>,
    /// Endpoint overrides.
    pub registration_endpoint: Option<String>,
    /// Endpoint overrides.
    pub token_endpoint: Option<String>,
    /// Endpoint overrides.
    pub introspection_endpoint: Option<String>,
    /// Endpoint overrides.
    pub revocation_endpoint: Option<String>,
    /// Endpoint overrides.
    pub jwks_uri: Option<String>,
    /// Client-id claim.
    pub client_id_claim: String,
    /// Scope claim.
    pub scope_claim: String,
    /// Whether the scope claim is an array.
    pub scope_claim_is_array: bool,
    /// Required audience.
    pub audience: Option<String>,
    /// JWS algorithms.
    pub algorithms: Vec<String>,
    /// JWT typ.
    pub access_token_typ: Option<String>,
    /// Whether a client's secret is shown again (read back through RFC 7592).
    pub client_secret_storage: SecretStorage,
}

impl OidcSettings {
    /// A connector for `issuer` with every other setting at its default.
    pub fn new(issuer: impl Into<String>) -> Self {
        OidcSettings {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            initial_access_token: None,
            introspection_client: None,
            introspection_token: None,
            registration_endpoint: None,
            token_endpoint: None,
            introspection_endpoint: None,
            revocation_endpoint: None,
            jwks_uri: None,
            client_id_claim: "client_id".into(),
            scope_claim: "scope".into(),
            scope_claim_is_array: false,
            audience: None,
            algorithms: vec!["RS256".into(), "ES256".into(), "PS256".into(), "EdDSA".into()],
            access_token_typ: None,
            client_secret_storage: SecretStorage::Hashed,
        }
    }

    /// Read a table, as [`descriptor`] declares it.
    pub fn from_config(km: &KeyManagerConfig) -> Result<Self, ConfigError> {
        let t: OidcTable = km.read_settings(&descriptor().connection_settings)?;
        let mut out = OidcSettings::new(t.issuer);
        out.initial_access_token = t.initial_access_token;
        out.introspection_client = km.both_or_neither(
            ("introspection_client_id", t.introspection_client_id),
            ("introspection_client_secret", t.introspection_client_secret),
        )?;
        out.introspection_token = t.introspection_token;
        out.registration_endpoint = t.registration_endpoint;
        out.token_endpoint = t.token_endpoint;
        out.introspection_endpoint = t.introspection_endpoint;
        out.revocation_endpoint = t.revocation_endpoint;
        out.jwks_uri = t.jwks_uri;
        out.client_id_claim = t.client_id_claim;
        out.scope_claim = t.scope_claim;
        out.scope_claim_is_array = t.scope_claim_form == "array";
        out.audience = t.audience;
        if let Some(list) = t.algorithms {
            out.algorithms = list;
        }
        out.access_token_typ = t.access_token_typ;
        out.client_secret_storage = SecretStorage::parse(&t.client_secret_storage);
        Ok(out)
    }
}

/// A `type = "oidc"` table, field for field as [`descriptor`] declares it (a test proves they agree).
#[derive(Deserialize)]
struct OidcTable {
    issuer: String,
    initial_access_token: Option<Token>,
    introspection_client_id: Option<String>,
    introspection_client_secret: Option<ClientSecret>,
    introspection_token: Option<Token>,
    registration_endpoint: Option<String>,
    token_endpoint: Option<String>,
    introspection_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    jwks_uri: Option<String>,
    client_id_claim: String,
    scope_claim: String,
    scope_claim_form: String,
    audience: Option<String>,
    algorithms: Option<Vec<String>>,
    access_token_typ: Option<String>,
    client_secret_storage: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_type_matches_the_descriptor() {
        keymanager::connector_kit::check_settings_type::<OidcTable>(&descriptor().connection_settings).unwrap();
    }
}
