//! The [`KeyManager`] trait: the generic vocabulary every connector translates into its provider's API.

use async_trait::async_trait;

use crate::model::{
    AccessToken, Capabilities, ClientId, ClientSecret, ClientSpec, IssuedSecret, OAuthClient, RevocationRequest,
    Revoked, Scope, SecretInfo, SecretSpec, Token, TokenInfo, TokenProfile, TokenRequest, TokenTypeHint,
};
use crate::{Error, Result};

/// One OAuth2 key manager, as a gateway sees it. Object safe: use it as `Arc<dyn KeyManager>`.
///
/// Operations a connector does not support keep their default, which returns
/// [`Error::Unsupported`] naming the operation; [`capabilities`](KeyManager::capabilities) says which ones
/// are there.
#[async_trait]
pub trait KeyManager: Send + Sync {
    /// The configured name (unique within a configuration).
    fn name(&self) -> &str;

    /// The connector type (`resident`, `okta`, `keycloak`, `oidc`, …).
    fn kind(&self) -> &str;

    /// What this key manager can do.
    fn capabilities(&self) -> Capabilities;

    /// How a gateway validates this key manager's tokens.
    fn token_profile(&self) -> TokenProfile;

    /// Register a new client. A confidential client comes back with its plain secret, this once.
    async fn register_client(&self, spec: &ClientSpec) -> Result<OAuthClient>;

    /// Replace a client's settings.
    async fn update_client(&self, client_id: &ClientId, spec: &ClientSpec) -> Result<OAuthClient> {
        let _ = (client_id, spec);
        Err(Error::unsupported("update_client"))
    }

    /// Read a client. Its secret is in the answer only where the key manager keeps secrets retrievable
    /// (`client_secret_storage = "retrievable"`, sealed at the resident, read back from Okta or Keycloak); with hashed
    /// secrets (the default) `client_secret` is always `None`: the secret was shown once, at creation.
    async fn get_client(&self, client_id: &ClientId) -> Result<OAuthClient>;

    /// Delete a client.
    async fn delete_client(&self, client_id: &ClientId) -> Result<()>;

    /// Take over a client that already exists at the provider, proving it with its secret when it has one.
    async fn map_client(&self, client_id: &ClientId, client_secret: Option<&ClientSecret>) -> Result<OAuthClient> {
        let _ = (client_id, client_secret);
        Err(Error::unsupported("map_client"))
    }

    /// Replace the client's secrets with one new secret, returned in the client this once.
    async fn regenerate_secret(&self, client_id: &ClientId) -> Result<OAuthClient> {
        let _ = client_id;
        Err(Error::unsupported("regenerate_secret"))
    }

    /// Add a secret to a client; the plain value is in the answer and nowhere else, ever.
    async fn create_secret(&self, client_id: &ClientId, spec: &SecretSpec) -> Result<IssuedSecret> {
        let _ = (client_id, spec);
        Err(Error::unsupported("create_secret"))
    }

    /// List a client's secrets, masked.
    async fn list_secrets(&self, client_id: &ClientId) -> Result<Vec<SecretInfo>> {
        let _ = client_id;
        Err(Error::unsupported("list_secrets"))
    }

    /// Delete one secret. Tokens already issued with it stay valid unless `revoke_tokens` is true.
    async fn delete_secret(&self, client_id: &ClientId, secret_id: &str, revoke_tokens: bool) -> Result<()> {
        let _ = (client_id, secret_id, revoke_tokens);
        Err(Error::unsupported("delete_secret"))
    }

    /// Issue an access token.
    async fn issue_token(&self, request: &TokenRequest) -> Result<AccessToken>;

    /// Introspect a token (RFC 7662). An unknown, expired or revoked token is `active: false`, not an error.
    async fn introspect(&self, token: &Token, hint: Option<TokenTypeHint>) -> Result<TokenInfo> {
        let _ = (token, hint);
        Err(Error::unsupported("introspect"))
    }

    /// Revoke a token (RFC 7009), as the client that holds it.
    async fn revoke_token(&self, request: &RevocationRequest) -> Result<()> {
        let _ = request;
        Err(Error::unsupported("revoke_token"))
    }

    /// Create a scope.
    async fn register_scope(&self, scope: &Scope) -> Result<Scope> {
        let _ = scope;
        Err(Error::unsupported("register_scope"))
    }

    /// List the scopes.
    async fn list_scopes(&self) -> Result<Vec<Scope>> {
        Err(Error::unsupported("list_scopes"))
    }

    /// Delete a scope.
    async fn delete_scope(&self, name: &str) -> Result<()> {
        let _ = name;
        Err(Error::unsupported("delete_scope"))
    }

    /// The signing keys (a JWKS document), when this key manager can hand them over in-process. `None` (the
    /// default) means: fetch [`TokenProfile::jwks_uri`].
    async fn jwks(&self) -> Result<Option<serde_json::Value>> {
        Ok(None)
    }

    /// Revocations recorded at or after `since` (epoch seconds), so validators on every node learn them. `None`
    /// (the default) means this key manager keeps no such record.
    async fn revocations_since(&self, since: i64) -> Result<Option<Vec<Revoked>>> {
        let _ = since;
        Ok(None)
    }
}

impl std::fmt::Debug for dyn KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("name", &self.name())
            .field("kind", &self.kind())
            .finish()
    }
}
