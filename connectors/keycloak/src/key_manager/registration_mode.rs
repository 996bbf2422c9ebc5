//! Registration mode: the OpenID Connect client registration service, and the registration access tokens it
//! replaces on every answer.

use super::*;

impl KeycloakKeyManager {
    pub(super) fn registration_body(spec: &ClientSpec, client_id: Option<&str>) -> Value {
        let mut body = json!({
            "client_name": spec.name,
            "redirect_uris": spec.redirect_uris,
            "grant_types": spec.grant_types,
            "response_types": if spec.grant_types.contains(&GrantType::AuthorizationCode) { vec!["code"] } else { vec![] },
            "token_endpoint_auth_method": spec.token_endpoint_auth_method().as_str(),
            "scope": spec.scopes.join(" "),
        });
        if let (Some(id), Some(obj)) = (client_id, body.as_object_mut()) {
            obj.insert("client_id".into(), id.into());
        }
        body
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
        let uri = body
            .get("registration_client_uri")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| previous.map(|p| p.uri.clone()));
        let token = body
            .get("registration_access_token")
            .and_then(Value::as_str)
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
