//! Revocations made through this library, with any connector: recorded where validators learn them.

use std::sync::Arc;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::model::*;
use crate::registry::KeyManagers;
use crate::{KeyManager, Result};

#[async_trait]
impl RevocationSink for super::TokenValidator {
    async fn record(&self, key_manager: &str, revoked: &Revoked) -> Result<()> {
        self.revoked(key_manager, revoked);
        Ok(())
    }
}

/// How long a revoked token of unknown expiry stays on the list.
const UNKNOWN_EXPIRY: i64 = 86_400;

/// The entry for a revoked token value: its hash, until its (unverified) `exp` when it is a JWT.
pub fn revoked_entry(token: &str) -> Revoked {
    let exp = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|c| c.get("exp").and_then(|e| e.as_i64()));
    Revoked::TokenHash {
        hash: URL_SAFE_NO_PAD.encode(super::sha256(token)),
        expires_at: exp.unwrap_or_else(|| super::now() + UNKNOWN_EXPIRY),
    }
}

/// Wrap every key manager so that a successful `revoke_token` is recorded in `sinks`.
pub fn record_revocations(key_managers: &KeyManagers, sinks: Vec<Arc<dyn RevocationSink>>) -> KeyManagers {
    key_managers.wrap(|inner| {
        Arc::new(RecordRevocations {
            inner,
            sinks: sinks.clone(),
        })
    })
}

/// A key manager whose revocations are recorded.
pub struct RecordRevocations {
    inner: Arc<dyn KeyManager>,
    sinks: Vec<Arc<dyn RevocationSink>>,
}

#[async_trait]
impl KeyManager for RecordRevocations {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn kind(&self) -> &str {
        self.inner.kind()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn token_profile(&self) -> TokenProfile {
        self.inner.token_profile()
    }
    async fn register_client(&self, spec: &ClientSpec) -> Result<OAuthClient> {
        self.inner.register_client(spec).await
    }
    async fn update_client(&self, id: &ClientId, spec: &ClientSpec) -> Result<OAuthClient> {
        self.inner.update_client(id, spec).await
    }
    async fn get_client(&self, id: &ClientId) -> Result<OAuthClient> {
        self.inner.get_client(id).await
    }
    async fn delete_client(&self, id: &ClientId) -> Result<()> {
        self.inner.delete_client(id).await
    }
    async fn map_client(&self, id: &ClientId, secret: Option<&ClientSecret>) -> Result<OAuthClient> {
        self.inner.map_client(id, secret).await
    }
    async fn regenerate_secret(&self, id: &ClientId) -> Result<OAuthClient> {
        self.inner.regenerate_secret(id).await
    }
    async fn create_secret(&self, id: &ClientId, spec: &SecretSpec) -> Result<IssuedSecret> {
        self.inner.create_secret(id, spec).await
    }
    async fn list_secrets(&self, id: &ClientId) -> Result<Vec<SecretInfo>> {
        self.inner.list_secrets(id).await
    }
    async fn delete_secret(&self, id: &ClientId, secret_id: &str, revoke_tokens: bool) -> Result<()> {
        self.inner.delete_secret(id, secret_id, revoke_tokens).await
    }
    async fn issue_token(&self, request: &TokenRequest) -> Result<AccessToken> {
        self.inner.issue_token(request).await
    }
    async fn introspect(&self, token: &Token, hint: Option<TokenTypeHint>) -> Result<TokenInfo> {
        self.inner.introspect(token, hint).await
    }
    async fn revoke_token(&self, request: &RevocationRequest) -> Result<()> {
        self.inner.revoke_token(request).await?;
        let entry = revoked_entry(request.token.expose_secret());
        for sink in &self.sinks {
            if let Err(e) = sink.record(self.inner.name(), &entry).await {
                tracing::warn!(key_manager = self.inner.name(), error = %e, "cannot record a revocation");
            }
        }
        Ok(())
    }
    async fn register_scope(&self, scope: &Scope) -> Result<Scope> {
        self.inner.register_scope(scope).await
    }
    async fn list_scopes(&self) -> Result<Vec<Scope>> {
        self.inner.list_scopes().await
    }
    async fn delete_scope(&self, name: &str) -> Result<()> {
        self.inner.delete_scope(name).await
    }
    async fn jwks(&self) -> Result<Option<serde_json::Value>> {
        self.inner.jwks().await
    }
    async fn revocations_since(&self, since: i64) -> Result<Option<Vec<Revoked>>> {
        self.inner.revocations_since(since).await
    }
}

#[cfg(test)]
mod tests {
    /// Every method of [`KeyManager`] is forwarded by [`RecordRevocations`]: one left out would fall back to the
    /// trait's default and answer `Unsupported` for a connector that supports it.
    #[test]
    fn every_key_manager_method_is_forwarded() {
        let trait_source = include_str!("../key_manager.rs");
        let body = trait_source
            .split_once("pub trait KeyManager")
            .and_then(|(_, rest)| rest.split_once("\n}\n"))
            .map(|(body, _)| body)
            .expect("the trait, closed by a brace at the start of a line");
        let methods: Vec<&str> = body
            .split("fn ")
            .skip(1)
            .filter_map(|rest| rest.split_once('(').map(|(name, _)| name.trim()))
            .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !name.is_empty())
            .collect();
        assert!(methods.len() >= 17, "{methods:?}");
        let wrapper = include_str!("recording.rs");
        for m in methods {
            assert!(
                wrapper.contains(&format!("self.inner.{m}(")),
                "RecordRevocations does not forward `{m}`"
            );
        }
    }
}
