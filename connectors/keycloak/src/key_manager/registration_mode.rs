//! Registration mode: the OpenID Connect client registration service, and the registration access tokens it
//! replaces on every answer.

use serde::{Deserialize, Serialize};

use super::*;

/// The client metadata sent to Keycloak's OpenID Connect client registration service (RFC 7591 §2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct ClientRegistration {
    /// Only on update (RFC 7592 §2.2 repeats it).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    client_name: String,
    redirect_uris: Vec<String>,
    grant_types: Vec<GrantType>,
    response_types: Vec<&'static str>,
    token_endpoint_auth_method: &'static str,
    /// Space-separated (RFC 7591 §2).
    scope: String,
}

/// The registration answer's management part (RFC 7592 §3); the client metadata in it is read by the core's
/// RFC 7591 parser.
#[derive(Default, Deserialize)]
struct RegistrationAnswer {
    registration_client_uri: Option<String>,
    registration_access_token: Option<String>,
}

impl KeycloakKeyManager {
    pub(super) fn registration_body(spec: &ClientSpec, client_id: Option<&str>) -> ClientRegistration {
        ClientRegistration {
            client_id: client_id.map(str::to_owned),
            client_name: spec.name.clone(),
            redirect_uris: spec.redirect_uri_strings(),
            grant_types: spec.grant_types.clone(),
            response_types: if spec.grant_types.contains(&GrantType::AuthorizationCode) {
                vec!["code"]
            } else {
                vec![]
            },
            token_endpoint_auth_method: spec.token_endpoint_auth_method().as_str(),
            scope: spec.scopes.to_string(),
        }
    }

    pub(super) fn check_registration_spec(spec: &ClientSpec) -> Result<()> {
        if spec.pkce.required {
            return Err(Error::unsupported(
                "PKCE in registration mode (Keycloak's registration service cannot set it)",
            ));
        }
        if spec.access_token_lifetime.is_some() {
            return Err(Error::unsupported(
                "per-client token lifetime in registration mode (Keycloak's registration service cannot set it)",
            ));
        }
        Ok(())
    }

    /// Keep the registration access token of an answer: Keycloak replaces it on every update.
    pub(super) async fn remember(&self, client_id: &str, body: &Value, previous: Option<&Registration>) -> Result<()> {
        let answer = RegistrationAnswer::deserialize(body).unwrap_or_default();
        let uri = answer
            .registration_client_uri
            .or_else(|| previous.map(|p| p.uri.clone()));
        let token = answer
            .registration_access_token
            .map(Token::new)
            .or_else(|| previous.map(|p| p.token.clone()));
        if let (Some(uri), Some(token)) = (uri, token) {
            self.registrations
                .put(&self.name, client_id, &Registration { uri, token })
                .await?;
        }
        Ok(())
    }

    pub(super) async fn registration(&self, client_id: &ClientId) -> Result<Registration> {
        self.registrations
            .get(&self.name, client_id.as_str())
            .await?
            .ok_or_else(|| Error::not_found("client registration", client_id.as_str()))
    }

    pub(super) fn client_from_registration(body: &Value) -> Result<OAuthClient> {
        oauth::registration::client_from_metadata(body, &[])
    }
}
