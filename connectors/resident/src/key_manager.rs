//! [`KeyManager`] for the resident server, calling it in-process (no HTTP hop).

use std::sync::Arc;

use async_trait::async_trait;
use keymanager::connector_kit::model::{
    AccessToken, Capabilities, ClientId, ClientSecret, ClientSpec, IssuedSecret, OAuthClient, RevocationRequest, Scope,
    ScopeClaim, SecretInfo, SecretSpec, Token, TokenInfo, TokenProfile, TokenRequest, TokenTypeHint,
};
use keymanager::connector_kit::{Error, KeyManager, Result};

use crate::server::{to_oauth_client, ResidentServer, ACCESS_TOKEN_TYP};

/// The resident key manager.
#[derive(Debug, Clone)]
pub struct ResidentKeyManager {
    name: String,
    server: Arc<ResidentServer>,
}

impl ResidentKeyManager {
    /// A key manager named `name` over a server.
    pub fn new(name: impl Into<String>, server: Arc<ResidentServer>) -> Self {
        let name = name.into();
        // Its metrics carry the key manager's configured name (the first one given, for a shared server).
        let _ = server.metrics_name.set(name.clone());
        ResidentKeyManager { name, server }
    }

    /// The server, e.g. to mount its HTTP face with [`crate::router`].
    pub fn server(&self) -> &Arc<ResidentServer> {
        &self.server
    }
}

#[async_trait]
impl KeyManager for ResidentKeyManager {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        crate::settings::KIND
    }

    fn capabilities(&self) -> Capabilities {
        crate::capabilities(self.server.settings())
    }

    fn token_profile(&self) -> TokenProfile {
        let s = self.server.settings();
        TokenProfile {
            issuer: s.issuer.clone(),
            jwks_uri: Some(format!("{}/oauth2/jwks", s.issuer)),
            introspection_endpoint: Some(format!("{}/oauth2/introspect", s.issuer)),
            client_id_claim: "client_id".into(),
            scope_claim: ScopeClaim::SpaceSeparated("scope".into()),
            audience: Some(s.audience.clone()),
            algorithms: vec![s.algorithm.as_str().into()],
            access_token_typ: Some(ACCESS_TOKEN_TYP.into()),
        }
    }

    async fn register_client(&self, spec: &ClientSpec) -> Result<OAuthClient> {
        self.server.register(spec, None).await
    }

    async fn update_client(&self, client_id: &ClientId, spec: &ClientSpec) -> Result<OAuthClient> {
        self.server.update(client_id.as_str(), spec).await
    }

    async fn get_client(&self, client_id: &ClientId) -> Result<OAuthClient> {
        self.server.client_with_secret(client_id.as_str()).await
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<()> {
        self.server.delete(client_id.as_str()).await
    }

    async fn map_client(&self, client_id: &ClientId, client_secret: Option<&ClientSecret>) -> Result<OAuthClient> {
        let who = self
            .server
            .authenticate(client_id.as_str(), client_secret.map(|s| s.expose_secret()))
            .await?;
        Ok(to_oauth_client(&who.client))
    }

    async fn regenerate_secret(&self, client_id: &ClientId) -> Result<OAuthClient> {
        self.server.regenerate_secret(client_id.as_str()).await
    }

    async fn create_secret(&self, client_id: &ClientId, spec: &SecretSpec) -> Result<IssuedSecret> {
        self.server.create_secret(client_id.as_str(), spec).await
    }

    async fn list_secrets(&self, client_id: &ClientId) -> Result<Vec<SecretInfo>> {
        self.server.list_secrets(client_id.as_str()).await
    }

    async fn delete_secret(&self, client_id: &ClientId, secret_id: &str, revoke_tokens: bool) -> Result<()> {
        self.server
            .delete_secret(client_id.as_str(), secret_id, revoke_tokens)
            .await
    }

    async fn issue_token(&self, request: &TokenRequest) -> Result<AccessToken> {
        self.server.issue_token(request).await
    }

    async fn introspect(&self, token: &Token, _hint: Option<TokenTypeHint>) -> Result<TokenInfo> {
        self.server.introspect(token.expose_secret()).await
    }

    async fn revoke_token(&self, request: &RevocationRequest) -> Result<()> {
        let who = self
            .server
            .authenticate(
                request.client_id.as_str(),
                request.client_secret.as_ref().map(|s| s.expose_secret()),
            )
            .await?;
        self.server
            .revoke(&who.client.client_id, request.token.expose_secret())
            .await
    }

    async fn register_scope(&self, scope: &Scope) -> Result<Scope> {
        if !keymanager::connector_kit::model::is_valid_scope_token(&scope.name) {
            return Err(Error::invalid_field("name", "not a valid scope token (RFC 6749 §3.3)"));
        }
        self.server.store().insert_scope(scope).await?;
        Ok(scope.clone())
    }

    async fn list_scopes(&self) -> Result<Vec<Scope>> {
        self.server.store().list_scopes().await
    }

    async fn delete_scope(&self, name: &str) -> Result<()> {
        self.server.store().delete_scope(name).await
    }

    async fn jwks(&self) -> Result<Option<serde_json::Value>> {
        Ok(Some(self.server.keys().jwks().await?))
    }

    async fn revocations_since(&self, since: i64) -> Result<Option<Vec<keymanager::connector_kit::model::Revoked>>> {
        Ok(Some(self.server.store().revocations_since(since).await?))
    }
}
