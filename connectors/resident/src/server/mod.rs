//! The resident authorization server: clients, secrets, scopes and tokens on the [`Store`]. The type and its
//! wiring are here; each concern is a file of its own: clients and their secrets (`clients.rs`), client
//! authentication (`client_auth.rs`), token minting and ID tokens (`minting.rs`), introspection and revocation
//! (`introspection.rs`).

mod client_auth;
mod clients;
mod introspection;
mod minting;
mod token_exchange;

pub use clients::to_oauth_client;
pub use introspection::introspection_answer;
pub(crate) use minting::{granted_scopes, Binding, Issued, Mint, OpenId};

use std::sync::Arc;

use keymanager::connector_kit::model::{
    check_duration, mask_secret, seconds_after, AccessToken, ClientId, ClientSpec, Grant, GrantType, IssuedSecret,
    OAuthClient, Scopes, SecretInfo, SecretSpec, SecretStatus, Token, TokenInfo, TokenRequest,
};
use keymanager::connector_kit::{Error, Result};
use serde_json::{json, Value};

use crate::client_cache::ClientCache;
use crate::client_metadata::ClientMetadata;
use crate::crypto;
use crate::keyring::KeyRing;
use crate::login_guard::LoginGuard;
use crate::settings::{ResidentSettings, TokenFormat};
use crate::signing::parse_jwt;
use crate::store::{ClientRecord, Revoked, SecretRecord, Store, TokenRecord};
use crate::users::{ResourceOwnerAuthenticator, StoreUsers};

/// The JWT `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The message for every failed client authentication: it never says which part was wrong.
const BAD_CLIENT: &str = "client authentication failed";

/// A client that authenticated, with the secret it used.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    /// The client.
    pub client: ClientRecord,
    /// The id of the secret that matched; `None` for a public client.
    pub secret_id: Option<String>,
}

/// An active token's facts, as introspection reports them.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    /// The client it was issued to.
    pub client_id: String,
    /// Its claims.
    pub claims: serde_json::Map<String, Value>,
}

/// The embedded authorization server.
pub struct ResidentServer {
    pub(crate) settings: ResidentSettings,
    pub(crate) store: Store,
    pub(crate) keys: KeyRing,
    clients: ClientCache,
    pub(crate) users: Arc<dyn ResourceOwnerAuthenticator>,
    pub(crate) login_guard: LoginGuard,
    /// Keys read from clients' `jwks_uri`s, for `private_key_jwt`.
    pub(crate) client_keys: crate::client_keys::ClientKeys,
    /// The issued-tokens counters, one per grant, registered with the installed recorder on the first token.
    issued: std::sync::OnceLock<[metrics::Counter; 5]>,
    /// The key manager's configured name, for the `key_manager` label of its metrics.
    pub(crate) metrics_name: std::sync::OnceLock<String>,
    /// The DPoP proofs the token endpoint accepted, each once.
    dpop_proofs: keymanager::connector_kit::dpop::ReplayGuard,
    /// The token endpoint's DPoP nonce key, when `dpop_nonce` is on.
    dpop_nonces: Option<crate::dpop_nonce::NonceKey>,
    /// Validates subject tokens of the key managers in `token_exchange_trusted_key_managers`, once the server that
    /// built them hands it over.
    trusted_subject_tokens: std::sync::OnceLock<Arc<keymanager::connector_kit::TokenValidator>>,
}

impl std::fmt::Debug for ResidentServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResidentServer")
            .field("issuer", &self.settings.issuer)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl ResidentServer {
    /// The DPoP proofs the token endpoint accepted (each once, for their lifetime).
    pub(crate) fn dpop_proofs(&self) -> &keymanager::connector_kit::dpop::ReplayGuard {
        &self.dpop_proofs
    }

    /// Accept subject tokens of other key managers in token exchange (RFC 8693): `validator` checks them (it knows
    /// the key managers named in `token_exchange_trusted_key_managers`). Set once; a second call is ignored.
    pub fn trust_subject_tokens(&self, validator: Arc<keymanager::connector_kit::TokenValidator>) {
        let _ = self.trusted_subject_tokens.set(validator);
    }

    /// The validator of trusted key managers' subject tokens, when one was handed over.
    pub(crate) fn trusted_subject_tokens(&self) -> Option<&keymanager::connector_kit::TokenValidator> {
        self.trusted_subject_tokens.get().map(|v| v.as_ref())
    }

    /// The DPoP nonce to hand out now, when the token endpoint requires nonces (`dpop_nonce`).
    pub(crate) fn dpop_nonce(&self) -> Option<String> {
        Some(self.dpop_nonces.as_ref()?.current(self.now()))
    }

    /// The DPoP nonces a proof may carry now, when the token endpoint requires nonces.
    pub(crate) fn dpop_nonces_accepted(&self) -> Option<[String; 2]> {
        Some(self.dpop_nonces.as_ref()?.accepted(self.now()))
    }

    /// The time now, by the store's clock.
    pub(crate) fn now(&self) -> i64 {
        self.store.now()
    }

    /// Open a server on a store, loading (or creating) its signing key; users are the store's own.
    pub async fn open(settings: ResidentSettings, store: Store) -> Result<Arc<ResidentServer>> {
        let users = Arc::new(StoreUsers::new(store.clone()));
        users.ensure(&settings).await?;
        Self::open_with_users(settings, store, users).await
    }

    /// Open a server whose users come from `users` (a gateway's own directory).
    pub async fn open_with_users(
        settings: ResidentSettings,
        store: Store,
        users: Arc<dyn ResourceOwnerAuthenticator>,
    ) -> Result<Arc<ResidentServer>> {
        let settings = settings.settle_issuer(&store).await?;
        let keys = KeyRing::load(
            store.clone(),
            settings.algorithm,
            settings.max_access_token_lifetime as i64,
        )
        .await?;
        let clients = ClientCache::new(std::time::Duration::from_secs(settings.client_cache_seconds));
        let dpop_nonces = match settings.dpop_nonce {
            true => Some(crate::dpop_nonce::NonceKey::settle(&store).await?),
            false => None,
        };
        Ok(Arc::new(ResidentServer {
            dpop_nonces,
            trusted_subject_tokens: std::sync::OnceLock::new(),
            login_guard: LoginGuard::new(settings.brute_force),
            client_keys: crate::client_keys::ClientKeys::new(settings.egress)?,
            issued: std::sync::OnceLock::new(),
            metrics_name: std::sync::OnceLock::new(),
            dpop_proofs: Default::default(),
            settings,
            store,
            keys,
            clients,
            users,
        }))
    }

    /// The settings.
    pub fn settings(&self) -> &ResidentSettings {
        &self.settings
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The signing keys.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Ready to serve: the store answers and a signing key is loaded.
    pub async fn ready(&self) -> Result<()> {
        self.store.ping().await?;
        self.keys.current().await.map(drop)
    }

    /// Apply a change another node announced: forget a changed client, reload rotated signing keys; after missed
    /// announcements, both.
    pub fn apply(self: &Arc<Self>, change: &keymanager::connector_kit::sql::changes::Change) {
        use keymanager::connector_kit::sql::changes::Change;
        match change {
            Change::Client(id) => {
                tracing::debug!(client_id = %id, "another node changed a client");
                self.clients.invalidate(id)
            }
            Change::SigningKeys | Change::CatchUp => {
                if *change == Change::CatchUp {
                    self.clients.expire_all();
                }
                let server = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = server.keys.refresh().await {
                        tracing::warn!(error = %e, "cannot reload the signing keys after a change; retrying when stale");
                    }
                });
            }
            Change::Revocation | Change::AdminTokens | Change::KeyManagers => {}
        }
    }
}

pub(crate) fn unauthorized_client(message: &str) -> Error {
    Error::invalid_grant("unauthorized_client", message)
}

pub(crate) fn invalid_grant(message: &str) -> Error {
    Error::invalid_grant("invalid_grant", message)
}
