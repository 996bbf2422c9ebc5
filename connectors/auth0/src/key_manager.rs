//! [`KeyManager`] over Auth0's Management API v2 and Authentication API.
//!
//! | operation | Auth0 |
//! |---|---|
//! | register | `POST /api/v2/clients` (`app_type` from the grants), then for a client-credentials client `POST /api/v2/client-grants` to the configured API with the client's scopes; if the grant fails the client is deleted again |
//! | get / update / delete | `GET` / `PATCH` / `DELETE /api/v2/clients/{id}`; the scopes are the client grant's (`GET` / `PATCH` / `POST /api/v2/client-grants`); a delete removes the grants first |
//! | regenerate secret | `POST /api/v2/clients/{id}/rotate-secret` (the old secret may work for up to about 30 s) |
//! | create / list / delete secrets, descriptions, expiry | **unsupported**: Auth0 keeps one secret per client, with none of these |
//! | retrievable secrets | `GET /api/v2/clients/{id}` answers the secret to a token with `read:client_keys` |
//! | token | `POST /oauth/token` with `audience` = the configured API |
//! | introspect | **unsupported**: Auth0 has no introspection endpoint (gateways validate its JWTs from its JWKS) |
//! | revoke | `POST /oauth/revoke`, refresh tokens only; an access token is **unsupported** (Auth0 cannot revoke one) |
//! | scopes | the configured API's resource server: `GET` and `PATCH /api/v2/resource-servers/{id}` (the whole list) |
//!
//! Requiring PKCE of a confidential client is unsupported (Auth0 has no such switch; its public clients always use
//! PKCE for the code flow). A `401` from the Management API drops the cached token and retries once; `429`s wait for
//! `X-RateLimit-Reset` through the HTTP kit, for idempotent calls only.

use async_trait::async_trait;
use keymanager::connector_kit::http::{HttpClient, HttpResponse, Idempotency};
use keymanager::connector_kit::model::*;
use keymanager::connector_kit::oauth::{self, ClientCredentialsToken};
use keymanager::connector_kit::{Error, KeyManager, Result};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::bodies::{
    Client, ClientBody, ClientGrant, ClientGrantList, ClientGrantScopes, NewClientGrant, ResourceServer,
    ResourceServerScope, ResourceServerScopes,
};
use crate::errors::refine;
use crate::settings::{Auth0Settings, MAX_SECRETS};

/// The Auth0 key manager.
pub struct Auth0KeyManager {
    name: String,
    settings: Auth0Settings,
    http: HttpClient,
    tokens: ClientCredentialsToken,
}

impl std::fmt::Debug for Auth0KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth0KeyManager")
            .field("name", &self.name)
            .field("domain", &self.settings.domain)
            .finish_non_exhaustive()
    }
}

/// Auth0's `app_type` for a spec: `spa` for a public client, `non_interactive` (machine to machine) for a client that
/// only uses `client_credentials`, `regular_web` otherwise; `additional_properties.app_type` overrides.
pub(crate) fn app_type(spec: &ClientSpec) -> String {
    if let Some(t) = spec.additional_properties.get("app_type").and_then(Value::as_str) {
        return t.to_owned();
    }
    if spec.public_client {
        "spa".into()
    } else if spec.grant_types.iter().all(|g| *g == GrantType::ClientCredentials) {
        "non_interactive".into()
    } else {
        "regular_web".into()
    }
}

/// The client body for a spec (create and update take the same fields).
pub(crate) fn client_body(spec: &ClientSpec) -> Result<ClientBody> {
    let method = match spec.token_endpoint_auth_method() {
        TokenEndpointAuthMethod::None => "none",
        TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
        TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
        other => {
            return Err(Error::unsupported(format!(
                "token_endpoint_auth_method {} through this connector (Auth0 takes none, client_secret_post or \
                 client_secret_basic)",
                other.as_str()
            )))
        }
    };
    Ok(ClientBody {
        name: spec.name.clone(),
        description: spec
            .additional_properties
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        app_type: app_type(spec),
        grant_types: spec.grant_types.iter().map(|g| g.as_str().to_owned()).collect(),
        callbacks: spec.redirect_uri_strings(),
        token_endpoint_auth_method: method.to_owned(),
        oidc_conformant: true,
    })
}

fn client_from(c: Client, scopes: Scopes) -> OAuthClient {
    let public_client = c.token_endpoint_auth_method.as_deref() == Some("none");
    let mut additional_properties = serde_json::Map::new();
    if let Some(t) = c.app_type {
        additional_properties.insert("app_type".into(), Value::String(t));
    }
    if let Some(d) = c.description.filter(|d| !d.is_empty()) {
        additional_properties.insert("description".into(), Value::String(d));
    }
    OAuthClient {
        client_id: ClientId::from(c.client_id),
        client_secret: c.client_secret.map(ClientSecret::new),
        name: c.name,
        grant_types: c
            .grant_types
            .iter()
            .map(|g| g.parse().unwrap_or_else(|never| match never {}))
            .collect(),
        redirect_uris: c.callbacks,
        scopes,
        public_client,
        pkce: PkcePolicy {
            required: public_client,
            allow_plain: false,
        },
        access_token_lifetime: None,
        refresh_token_lifetime: None,
        created_at: None,
        additional_properties,
    }
}

/// Percent-encode one path segment (a client id, a grant id, an API identifier that is a URL).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Auth0KeyManager {
    /// A key manager over a tenant.
    pub fn new(name: impl Into<String>, settings: Auth0Settings, http: HttpClient) -> Self {
        let name = name.into();
        let tokens = ClientCredentialsToken::new(
            settings.token_endpoint(),
            settings.management_client_id.clone(),
            settings.management_client_secret.clone(),
            TokenEndpointAuthMethod::ClientSecretPost,
            "the management client",
        )
        .with_param("audience", &settings.management_audience);
        Auth0KeyManager {
            http: http
                .with_error_dialect(std::sync::Arc::new(crate::errors::Auth0Errors))
                .with_metrics_label(&name),
            name,
            settings,
            tokens,
        }
    }

    /// A Management API call; a 401 drops the cached token and retries once with a fresh one. Errors are refined
    /// with `resource` and `id` (what a 404 was about).
    async fn mgmt<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idem: Idempotency,
        (resource, id): (&str, &str),
    ) -> Result<HttpResponse> {
        let url = format!("{}/api/v2{path}", self.settings.base_url);
        for attempt in 0..2 {
            let token = self.tokens.get(&self.http).await?;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose_secret());
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = self.http.send(req, idem).await.map_err(|e| refine(e, resource, id))?;
            if resp.status.as_u16() == 401 && attempt == 0 {
                tracing::debug!(key_manager = %self.name, "Management API token refused; fetching a new one");
                self.tokens.invalidate().await;
                continue;
            }
            return if resp.status.is_success() {
                Ok(resp)
            } else {
                Err(refine(resp.into_error(), resource, id))
            };
        }
        Err(Error::unauthorized("the Management API refused a fresh token"))
    }

    async fn read_client(&self, client_id: &str) -> Result<Client> {
        let path = format!("/clients/{}", segment(client_id));
        self.mgmt::<()>(Method::GET, &path, None, Idempotency::Idempotent, ("client", client_id))
            .await?
            .json()
    }

    /// The client's grant to the configured API, if it has one.
    async fn grant_of(&self, client_id: &str) -> Result<Option<ClientGrant>> {
        let path = format!(
            "/client-grants?client_id={}&audience={}",
            segment(client_id),
            segment(&self.settings.audience)
        );
        let list: ClientGrantList = self
            .mgmt::<()>(
                Method::GET,
                &path,
                None,
                Idempotency::Idempotent,
                ("client grant", client_id),
            )
            .await?
            .json()?;
        Ok(list
            .into_vec()
            .into_iter()
            .find(|g| g.client_id == client_id && g.audience == self.settings.audience))
    }

    async fn create_grant(&self, client_id: &str, scopes: &Scopes) -> Result<ClientGrant> {
        let body = NewClientGrant {
            client_id,
            audience: &self.settings.audience,
            scope: scopes.iter().map(|s| s.to_string()).collect(),
        };
        self.mgmt(
            Method::POST,
            "/client-grants",
            Some(&body),
            Idempotency::NonIdempotent,
            ("client grant", client_id),
        )
        .await?
        .json()
    }

    /// The client's scopes: its grant's, for the configured API.
    async fn scopes_of(&self, client_id: &str) -> Result<Scopes> {
        Ok(match self.grant_of(client_id).await? {
            Some(g) => Scopes::from(g.scope),
            None => Scopes::default(),
        })
    }

    async fn resource_server(&self) -> Result<ResourceServer> {
        let path = format!("/resource-servers/{}", segment(&self.settings.audience));
        self.mgmt::<()>(
            Method::GET,
            &path,
            None,
            Idempotency::Idempotent,
            ("API", &self.settings.audience),
        )
        .await?
        .json()
    }

    async fn put_scopes(&self, server: &ResourceServer, scopes: Vec<ResourceServerScope>) -> Result<()> {
        let path = format!("/resource-servers/{}", segment(&server.id));
        self.mgmt(
            Method::PATCH,
            &path,
            Some(&ResourceServerScopes { scopes }),
            Idempotency::Idempotent,
            ("API", &self.settings.audience),
        )
        .await?;
        Ok(())
    }

    fn check_pkce(spec: &ClientSpec) -> Result<()> {
        if spec.pkce.required && !spec.public_client {
            return Err(Error::unsupported(
                "requiring PKCE of a confidential client (Auth0 has no such switch; its public clients always use it)",
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl KeyManager for Auth0KeyManager {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        crate::settings::KIND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            grant_types: vec![
                GrantType::ClientCredentials,
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::Password,
                GrantType::Implicit,
            ],
            update_client: true,
            map_existing_client: false,
            regenerate_secret: true,
            multiple_secrets: false,
            max_secrets_per_client: Some(MAX_SECRETS),
            secret_expiry: false,
            secret_description: false,
            revoke_tokens_with_secret: false,
            introspection: false,
            revocation: true,
            scope_management: true,
            public_clients: true,
            pkce: true,
            pkce_plain: false,
            client_token_lifetime: false,
            retrievable_secrets: self.settings.secrets.retrievable(),
        }
    }

    fn token_profile(&self) -> TokenProfile {
        TokenProfile {
            issuer: self.settings.issuer.clone(),
            jwks_uri: Some(self.settings.jwks_uri()),
            introspection_endpoint: None,
            client_id_claim: "azp".into(),
            scope_claim: ScopeClaim::SpaceSeparated("scope".into()),
            audience: Some(self.settings.audience.clone()),
            algorithms: vec!["RS256".into()],
            access_token_typ: None,
        }
    }

    async fn register_client(&self, spec: &ClientSpec) -> Result<OAuthClient> {
        spec.validate_for(&self.capabilities())?;
        Self::check_pkce(spec)?;
        let body = client_body(spec)?;
        let created: Client = self
            .mgmt(
                Method::POST,
                "/clients",
                Some(&body),
                Idempotency::NonIdempotent,
                ("client", ""),
            )
            .await?
            .json()?;
        let client_id = created.client_id.clone();
        if created.client_secret.is_none() && !spec.public_client {
            return Err(Error::malformed("POST /api/v2/clients", "client_secret", "missing"));
        }
        if spec.grant_types.contains(&GrantType::ClientCredentials) {
            if let Err(cause) = self.create_grant(&client_id, &spec.scopes).await {
                // Leave nothing half made: a client without its grant cannot get tokens for the API.
                let path = format!("/clients/{}", segment(&client_id));
                if let Err(e) = self
                    .mgmt::<()>(
                        Method::DELETE,
                        &path,
                        None,
                        Idempotency::Idempotent,
                        ("client", &client_id),
                    )
                    .await
                {
                    tracing::error!(key_manager = %self.name, client_id = %client_id, error = %e,
                        "the client grant failed and the client could not be deleted again; delete it at Auth0");
                }
                return Err(cause);
            }
        }
        Ok(client_from(created, spec.scopes.clone()))
    }

    async fn update_client(&self, client_id: &ClientId, spec: &ClientSpec) -> Result<OAuthClient> {
        spec.validate_for(&self.capabilities())?;
        Self::check_pkce(spec)?;
        let path = format!("/clients/{}", segment(client_id.as_str()));
        let updated: Client = self
            .mgmt(
                Method::PATCH,
                &path,
                Some(&client_body(spec)?),
                Idempotency::Idempotent,
                ("client", client_id.as_str()),
            )
            .await?
            .json()?;
        let scopes = match self.grant_of(client_id.as_str()).await? {
            Some(grant) => {
                let path = format!("/client-grants/{}", segment(&grant.id));
                let body = ClientGrantScopes {
                    scope: spec.scopes.iter().map(|s| s.to_string()).collect(),
                };
                let grant: ClientGrant = self
                    .mgmt(
                        Method::PATCH,
                        &path,
                        Some(&body),
                        Idempotency::Idempotent,
                        ("client grant", &grant.id),
                    )
                    .await?
                    .json()?;
                Scopes::from(grant.scope)
            }
            None if spec.grant_types.contains(&GrantType::ClientCredentials) => {
                let grant = self.create_grant(client_id.as_str(), &spec.scopes).await?;
                Scopes::from(grant.scope)
            }
            None => Scopes::default(),
        };
        let mut client = client_from(updated, scopes);
        client.client_secret = None;
        Ok(client)
    }

    async fn get_client(&self, client_id: &ClientId) -> Result<OAuthClient> {
        let read = self.read_client(client_id.as_str()).await?;
        let scopes = self.scopes_of(client_id.as_str()).await?;
        let mut client = client_from(read, scopes);
        // Auth0 answers the secret to a token with read:client_keys; it is passed on only when retrievable.
        if !self.settings.secrets.retrievable() {
            client.client_secret = None;
        }
        Ok(client)
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<()> {
        if let Some(grant) = self.grant_of(client_id.as_str()).await? {
            let path = format!("/client-grants/{}", segment(&grant.id));
            self.mgmt::<()>(
                Method::DELETE,
                &path,
                None,
                Idempotency::Idempotent,
                ("client grant", &grant.id),
            )
            .await?;
        }
        let path = format!("/clients/{}", segment(client_id.as_str()));
        self.mgmt::<()>(
            Method::DELETE,
            &path,
            None,
            Idempotency::Idempotent,
            ("client", client_id.as_str()),
        )
        .await?;
        Ok(())
    }

    async fn regenerate_secret(&self, client_id: &ClientId) -> Result<OAuthClient> {
        let path = format!("/clients/{}/rotate-secret", segment(client_id.as_str()));
        let rotated: Client = self
            .mgmt::<()>(
                Method::POST,
                &path,
                None,
                Idempotency::NonIdempotent,
                ("client", client_id.as_str()),
            )
            .await?
            .json()?;
        if rotated.client_secret.is_none() {
            return Err(Error::malformed(path, "client_secret", "missing"));
        }
        let scopes = self.scopes_of(client_id.as_str()).await?;
        Ok(client_from(rotated, scopes))
    }

    async fn create_secret(&self, _client_id: &ClientId, _spec: &SecretSpec) -> Result<IssuedSecret> {
        Err(Error::unsupported(
            "create_secret (Auth0 keeps one secret per client: regenerate it instead)",
        ))
    }

    async fn list_secrets(&self, _client_id: &ClientId) -> Result<Vec<SecretInfo>> {
        Err(Error::unsupported(
            "list_secrets (Auth0 keeps one secret per client, without an id, description or expiry)",
        ))
    }

    async fn delete_secret(&self, _client_id: &ClientId, _secret_id: &str, _revoke_tokens: bool) -> Result<()> {
        Err(Error::unsupported(
            "delete_secret (Auth0 keeps one secret per client: regenerate it instead)",
        ))
    }

    async fn issue_token(&self, request: &TokenRequest) -> Result<AccessToken> {
        oauth::request_token_with(
            &self.http,
            &self.settings.token_endpoint(),
            request,
            TokenEndpointAuthMethod::ClientSecretPost,
            &[("audience", &self.settings.audience)],
        )
        .await
        .map_err(|e| refine(e, "client", request.client_id.as_str()))
    }

    async fn introspect(&self, _token: &Token, _hint: Option<TokenTypeHint>) -> Result<TokenInfo> {
        Err(Error::unsupported(
            "introspect (Auth0 has no introspection endpoint; gateways validate its JWTs from its JWKS)",
        ))
    }

    async fn revoke_token(&self, request: &RevocationRequest) -> Result<()> {
        if request.token_type_hint != Some(TokenTypeHint::RefreshToken) {
            return Err(Error::unsupported(
                "revoking an access token (Auth0 revokes refresh tokens only: say token_type_hint=refresh_token)",
            ));
        }
        oauth::revoke(&self.http, &self.settings.revocation_endpoint(), request).await
    }

    async fn register_scope(&self, scope: &Scope) -> Result<Scope> {
        let server = self.resource_server().await?;
        if server.scopes.iter().any(|s| s.value == scope.name) {
            return Err(Error::conflict(format!("scope `{}` exists", scope.name)));
        }
        let mut scopes = server.scopes.clone();
        scopes.push(ResourceServerScope {
            value: scope.name.clone(),
            description: scope.description.clone(),
        });
        self.put_scopes(&server, scopes).await?;
        Ok(scope.clone())
    }

    async fn list_scopes(&self) -> Result<Vec<Scope>> {
        Ok(self
            .resource_server()
            .await?
            .scopes
            .into_iter()
            .map(|s| Scope {
                name: s.value,
                description: s.description,
                display_name: None,
            })
            .collect())
    }

    async fn delete_scope(&self, name: &str) -> Result<()> {
        let server = self.resource_server().await?;
        if !server.scopes.iter().any(|s| s.value == name) {
            return Err(Error::not_found("scope", name));
        }
        let scopes = server.scopes.iter().filter(|s| s.value != name).cloned().collect();
        self.put_scopes(&server, scopes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_type_follows_the_client() {
        let service = ClientSpec::new("s", KeyType::Production);
        assert_eq!(app_type(&service), "non_interactive");
        let web = service
            .clone()
            .with_grant_types([GrantType::AuthorizationCode])
            .with_redirect_uris(["https://a/cb"].map(|u| u.parse().unwrap()));
        assert_eq!(app_type(&web), "regular_web");
        assert_eq!(app_type(&web.public()), "spa");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(
            segment("https://api.example/orders"),
            "https%3A%2F%2Fapi.example%2Forders"
        );
        assert_eq!(segment("AaiyAPdp_-.~"), "AaiyAPdp_-.~");
    }
}
