//! Revoked tokens and revocation rules, in memory, checked on every validation.

use std::collections::HashMap;
use std::sync::RwLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::model::Revoked;

/// A rule revoking a client's tokens: (the secret, or `None` for every secret; issued at or before; expiry).
type ClientRule = (Option<String>, i64, i64);

#[derive(Default)]
struct State {
    /// (key manager, jti) → expiry.
    jtis: HashMap<(String, String), i64>,
    /// (key manager, grant) → expiry.
    grants: HashMap<(String, String), i64>,
    /// SHA-256 of tokens → expiry.
    hashes: HashMap<[u8; 32], i64>,
    /// (key manager, client) → [(secret or None for the whole client, issued_before, expiry)].
    clients: HashMap<(String, String), Vec<ClientRule>>,
}

/// What is known to be revoked.
#[derive(Default)]
pub(crate) struct Revocations {
    state: RwLock<State>,
    empty: std::sync::atomic::AtomicBool,
}

/// The facts of a token that revocations are checked against.
pub(crate) struct Facts<'a> {
    pub key_manager: &'a str,
    pub hash: &'a [u8; 32],
    pub jti: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub secret_id: Option<&'a str>,
    pub grant_id: Option<&'a str>,
    pub iat: Option<i64>,
}

impl Revocations {
    pub(super) fn new() -> Self {
        Revocations {
            state: RwLock::default(),
            empty: std::sync::atomic::AtomicBool::new(true),
        }
    }

    pub(super) fn add(&self, key_manager: &str, r: &Revoked) {
        let mut s = self.state.write().unwrap_or_else(|p| p.into_inner());
        match r {
            Revoked::Jti { jti, expires_at } => {
                s.jtis.insert((key_manager.to_owned(), jti.clone()), *expires_at);
            }
            Revoked::Grant { grant_id, expires_at } => {
                s.grants.insert((key_manager.to_owned(), grant_id.clone()), *expires_at);
            }
            Revoked::TokenHash { hash, expires_at } => {
                if let Some(h) = URL_SAFE_NO_PAD
                    .decode(hash)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                {
                    s.hashes.insert(h, *expires_at);
                }
            }
            Revoked::Secret {
                client_id,
                secret_id,
                issued_before,
                expires_at,
            } => s
                .clients
                .entry((key_manager.to_owned(), client_id.clone()))
                .or_default()
                .push((Some(secret_id.clone()), *issued_before, *expires_at)),
            Revoked::Client {
                client_id,
                issued_before,
                expires_at,
            } => s
                .clients
                .entry((key_manager.to_owned(), client_id.clone()))
                .or_default()
                .push((None, *issued_before, *expires_at)),
        }
        self.empty.store(false, std::sync::atomic::Ordering::Release);
    }

    /// Whether no revocation was ever recorded (the common case: nothing to look up).
    pub(super) fn is_empty(&self) -> bool {
        self.empty.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(super) fn is_revoked(&self, f: &Facts<'_>) -> bool {
        if self.is_empty() {
            return false;
        }
        let s = self.state.read().unwrap_or_else(|p| p.into_inner());
        if s.hashes.contains_key(f.hash) {
            return true;
        }
        if let Some(jti) = f.jti {
            if !s.jtis.is_empty() && s.jtis.contains_key(&(f.key_manager.to_owned(), jti.to_owned())) {
                return true;
            }
        }
        if let Some(grant) = f.grant_id {
            if !s.grants.is_empty() && s.grants.contains_key(&(f.key_manager.to_owned(), grant.to_owned())) {
                return true;
            }
        }
        if let (Some(client), false) = (f.client_id, s.clients.is_empty()) {
            if let Some(rules) = s.clients.get(&(f.key_manager.to_owned(), client.to_owned())) {
                let iat = f.iat.unwrap_or(i64::MIN);
                return rules.iter().any(|(secret, before, _)| {
                    iat <= *before && secret.as_deref().is_none_or(|s| Some(s) == f.secret_id)
                });
            }
        }
        false
    }

    /// Drop entries whose tokens have all expired.
    pub(super) fn purge(&self, now: i64) {
        let mut s = self.state.write().unwrap_or_else(|p| p.into_inner());
        s.jtis.retain(|_, exp| *exp > now);
        s.hashes.retain(|_, exp| *exp > now);
        s.grants.retain(|_, exp| *exp > now);
        s.clients.retain(|_, rules| {
            rules.retain(|(_, _, exp)| *exp > now);
            !rules.is_empty()
        });
    }
}
