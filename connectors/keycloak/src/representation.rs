//! Keycloak's admin and registration bodies, typed and named as Keycloak's admin REST API names them
//! (`ClientRepresentation`, `ClientScopeRepresentation`, `CredentialRepresentation`; fixtures/keycloak/schemas.json
//! holds their schemas, which the contract tests check every sent body against), and the generic client to and
//! from them.

use std::collections::BTreeMap;

use keymanager::connector_kit::model::{ClientId, ClientSpec, GrantType, OAuthClient, PkcePolicy};
use serde::{Deserialize, Serialize};
use serde_json::Map;
/// A `clientId` for a new client: the name as a slug, with a suffix that keeps it unique.
pub fn client_id_for(name: &str, suffix: &str) -> String {
    let mut slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while slug.contains("--") {
        slug = slug.replace("--", "-");
    }
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "client" } else { slug };
    format!("{}-{suffix}", &slug[..slug.len().min(40)])
}

/// `ClientRepresentation`: the fields the connector sets or reads. Keycloak ignores absent fields on update.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientRepresentation {
    /// Keycloak's internal id (read only).
    #[serde(default, skip_serializing)]
    pub id: Option<String>,
    /// The OAuth `client_id`.
    #[serde(default)]
    pub client_id: String,
    /// The display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `openid-connect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Whether the client may be used.
    #[serde(default)]
    pub enabled: bool,
    /// A public client (no secret).
    #[serde(default)]
    pub public_client: bool,
    /// The authorization code flow.
    #[serde(default)]
    pub standard_flow_enabled: bool,
    /// The implicit flow.
    #[serde(default)]
    pub implicit_flow_enabled: bool,
    /// The resource owner password grant.
    #[serde(default)]
    pub direct_access_grants_enabled: bool,
    /// The client credentials grant.
    #[serde(default)]
    pub service_accounts_enabled: bool,
    /// Registered redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// CORS origins.
    #[serde(default)]
    pub web_origins: Vec<String>,
    /// Client attributes; Keycloak's values are strings.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// `client-secret` for a confidential client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_authenticator_type: Option<String>,
    /// Optional client scopes by name (set on creation only; later through their own endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional_client_scopes: Option<Vec<String>>,
}

/// `ClientScopeRepresentation`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientScopeRepresentation {
    /// Keycloak's id (read only).
    #[serde(default, skip_serializing)]
    pub id: Option<String>,
    /// The scope name.
    pub name: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `openid-connect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `include.in.token.scope`, `display.on.consent.screen`, …
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// `CredentialRepresentation`: a client secret as `GET`/`POST /clients/{id}/client-secret` answers it.
#[derive(Clone, Default, Deserialize)]
pub struct CredentialRepresentation {
    /// `secret`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The secret.
    #[serde(default)]
    pub value: Option<String>,
}

impl std::fmt::Debug for CredentialRepresentation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialRepresentation")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

const DEVICE_GRANT: &str = "oauth2.device.authorization.grant.enabled";
const REFRESH_TOKENS: &str = "use.refresh.tokens";
const PKCE_METHOD: &str = "pkce.code.challenge.method";
const TOKEN_LIFESPAN: &str = "access.token.lifespan";

/// The representation to create or update a client (admin API). Grant types map to Keycloak's flow switches;
/// PKCE, the device grant, refresh tokens and the token lifetime to client attributes (strings).
pub fn representation(spec: &ClientSpec, client_id: &str, with_scopes: bool) -> ClientRepresentation {
    let has = |g: GrantType| spec.grant_types.contains(&g);
    let mut attributes = BTreeMap::new();
    attributes.insert(DEVICE_GRANT.into(), has(GrantType::DeviceCode).to_string());
    attributes.insert(REFRESH_TOKENS.into(), has(GrantType::RefreshToken).to_string());
    let pkce = match spec.pkce {
        PkcePolicy {
            required: true,
            allow_plain: true,
        } => "plain",
        PkcePolicy {
            required: true,
            allow_plain: false,
        } => "S256",
        _ => "",
    };
    attributes.insert(PKCE_METHOD.into(), pkce.into());
    if let Some(l) = spec.access_token_lifetime {
        attributes.insert(TOKEN_LIFESPAN.into(), l.to_string());
    }
    ClientRepresentation {
        id: None,
        client_id: client_id.to_owned(),
        name: Some(spec.name.clone()),
        protocol: Some("openid-connect".into()),
        enabled: true,
        public_client: spec.public_client,
        standard_flow_enabled: has(GrantType::AuthorizationCode),
        implicit_flow_enabled: has(GrantType::Implicit),
        direct_access_grants_enabled: has(GrantType::Password),
        service_accounts_enabled: has(GrantType::ClientCredentials),
        redirect_uris: spec.redirect_uri_strings(),
        web_origins: Vec::new(),
        attributes,
        client_authenticator_type: (!spec.public_client).then(|| "client-secret".into()),
        optional_client_scopes: with_scopes.then(|| spec.scopes.to_vec()),
    }
}

impl ClientRepresentation {
    /// An attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    /// A numeric attribute (Keycloak keeps numbers as strings).
    pub fn number(&self, name: &str) -> Option<i64> {
        self.attribute(name).and_then(|v| v.parse().ok())
    }
}

/// The generic client from a representation.
pub fn client_from(rep: &ClientRepresentation) -> OAuthClient {
    let mut grants = Vec::new();
    if rep.standard_flow_enabled {
        grants.push(GrantType::AuthorizationCode);
    }
    if rep.implicit_flow_enabled {
        grants.push(GrantType::Implicit);
    }
    if rep.direct_access_grants_enabled {
        grants.push(GrantType::Password);
    }
    if rep.service_accounts_enabled {
        grants.push(GrantType::ClientCredentials);
    }
    if rep.attribute(REFRESH_TOKENS) == Some("true") {
        grants.push(GrantType::RefreshToken);
    }
    if rep.attribute(DEVICE_GRANT) == Some("true") {
        grants.push(GrantType::DeviceCode);
    }
    let pkce = match rep.attribute(PKCE_METHOD) {
        Some("S256") => PkcePolicy {
            required: true,
            allow_plain: false,
        },
        Some("plain") => PkcePolicy {
            required: true,
            allow_plain: true,
        },
        _ => PkcePolicy::default(),
    };
    let mut additional = Map::new();
    if let Some(id) = &rep.id {
        additional.insert("id".into(), id.clone().into());
    }
    OAuthClient {
        client_id: ClientId::new(rep.client_id.as_str()),
        client_secret: None,
        name: rep.name.clone().unwrap_or_default(),
        grant_types: grants,
        redirect_uris: rep.redirect_uris.clone(),
        scopes: rep.optional_client_scopes.clone().unwrap_or_default().into(),
        public_client: rep.public_client,
        pkce,
        access_token_lifetime: rep.number(TOKEN_LIFESPAN).and_then(|v| u64::try_from(v).ok()),
        refresh_token_lifetime: None,
        created_at: rep.number("client.secret.creation.time"),
        additional_properties: additional,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keymanager::connector_kit::model::KeyType;

    #[test]
    fn client_ids_are_slugs_with_a_suffix() {
        assert_eq!(
            client_id_for("orders-app PRODUCTION", "1a2b"),
            "orders-app-production-1a2b"
        );
        assert_eq!(client_id_for("  ", "x"), "client-x");
    }

    #[test]
    fn grants_pkce_and_lifetime_round_trip_through_the_representation() {
        let spec = ClientSpec::new("web", KeyType::Production)
            .with_grant_types([
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::Password,
            ])
            .with_redirect_uris(["https://app.example/cb"].map(|u| u.parse().unwrap()))
            .with_pkce(PkcePolicy {
                required: true,
                allow_plain: false,
            })
            .with_access_token_lifetime(600)
            .with_scopes(["orders.read"]);
        let back = client_from(&representation(&spec, "web-1", true));
        assert_eq!(
            back.grant_types,
            [
                GrantType::AuthorizationCode,
                GrantType::Password,
                GrantType::RefreshToken
            ]
        );
        assert_eq!(back.pkce, spec.pkce);
        assert_eq!(back.access_token_lifetime, Some(600));
        assert_eq!(back.scopes, ["orders.read"]);
    }
}
