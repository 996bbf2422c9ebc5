//! The signing keys in use: the current one signs, every unexpired one verifies. Loaded from the store once and
//! refreshed when stale or when a token names an unknown `kid`, so rotation on one node reaches the others.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use keymanager::{Error, Result};
use serde_json::Value;

use crate::signing::{Algorithm, SigningKey};
use crate::store::{SigningKeyRecord, Store};

const REFRESH_AFTER: Duration = Duration::from_secs(60);
const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(2);

struct Ring {
    current: Arc<SigningKey>,
    by_kid: HashMap<String, Arc<SigningKey>>,
    loaded: Instant,
}

/// The key ring.
pub struct KeyRing {
    store: Store,
    alg: Algorithm,
    keep_retired_for: i64,
    ring: RwLock<Arc<Ring>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Load the keys, creating the first one (of `alg`) when the store has none of it.
    pub async fn load(store: Store, alg: Algorithm, keep_retired_for: i64) -> Result<KeyRing> {
        let ring = build(&store, alg, keep_retired_for).await?;
        Ok(KeyRing {
            store,
            alg,
            keep_retired_for,
            ring: RwLock::new(Arc::new(ring)),
        })
    }

    fn snapshot(&self) -> Arc<Ring> {
        match self.ring.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, ring: Ring) {
        match self.ring.write() {
            Ok(mut r) => *r = Arc::new(ring),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
        }
    }

    /// The key that signs now.
    pub async fn current(&self) -> Result<Arc<SigningKey>> {
        let snap = self.snapshot();
        if self.store.clock().instant().saturating_duration_since(snap.loaded) < REFRESH_AFTER {
            return Ok(snap.current.clone());
        }
        match build(&self.store, self.alg, self.keep_retired_for).await {
            Ok(ring) => {
                let current = ring.current.clone();
                self.replace(ring);
                Ok(current)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot refresh the signing keys; signing with the loaded key");
                Ok(snap.current.clone())
            }
        }
    }

    /// Load the keys from the store again now (another node rotated).
    pub async fn refresh(&self) -> Result<()> {
        let ring = build(&self.store, self.alg, self.keep_retired_for).await?;
        self.replace(ring);
        Ok(())
    }

    /// The key with this `kid`, reloading once when it is unknown.
    pub async fn find(&self, kid: &str) -> Result<Option<Arc<SigningKey>>> {
        let snap = self.snapshot();
        if let Some(k) = snap.by_kid.get(kid) {
            return Ok(Some(k.clone()));
        }
        if self.store.clock().instant().saturating_duration_since(snap.loaded) < MIN_RELOAD_INTERVAL {
            return Ok(None);
        }
        let ring = build(&self.store, self.alg, self.keep_retired_for).await?;
        let found = ring.by_kid.get(kid).cloned();
        self.replace(ring);
        Ok(found)
    }

    /// Start signing with a new key; the old ones stay in the JWKS until their last token has expired.
    pub async fn rotate(&self) -> Result<String> {
        let (key, pkcs8) = SigningKey::generate(self.alg)?;
        let kid = key.kid().to_owned();
        self.store
            .rotate_signing_key(
                &SigningKeyRecord {
                    kid: kid.clone(),
                    alg: self.alg.as_str().into(),
                    private_key: pkcs8,
                    created_at: self.store.now(),
                    retired_at: None,
                    expires_at: None,
                },
                self.keep_retired_for,
            )
            .await?;
        self.replace(build(&self.store, self.alg, self.keep_retired_for).await?);
        Ok(kid)
    }

    /// The JWKS document (RFC 7517): every key that may still have signed an unexpired token.
    pub async fn jwks(&self) -> Result<Value> {
        let snap = self.snapshot();
        let snap = if self.store.clock().instant().saturating_duration_since(snap.loaded) < REFRESH_AFTER {
            snap
        } else {
            self.replace(build(&self.store, self.alg, self.keep_retired_for).await?);
            self.snapshot()
        };
        let mut keys: Vec<&Arc<SigningKey>> = snap.by_kid.values().collect();
        keys.sort_by(|a, b| a.kid().cmp(b.kid()));
        let mut list = vec![snap.current.public_jwk()];
        list.extend(
            keys.into_iter()
                .filter(|k| k.kid() != snap.current.kid())
                .map(|k| k.public_jwk()),
        );
        Ok(serde_json::json!({ "keys": list }))
    }
}

async fn build(store: &Store, alg: Algorithm, keep_retired_for: i64) -> Result<Ring> {
    let mut records = store.signing_keys().await?;
    let has_current = records.iter().any(|r| r.retired_at.is_none() && r.alg == alg.as_str());
    if !has_current {
        let (key, pkcs8) = SigningKey::generate(alg)?;
        tracing::info!(kid = key.kid(), alg = alg.as_str(), "created a signing key");
        store
            .rotate_signing_key(
                &SigningKeyRecord {
                    kid: key.kid().into(),
                    alg: alg.as_str().into(),
                    private_key: pkcs8,
                    created_at: store.now(),
                    retired_at: None,
                    expires_at: None,
                },
                keep_retired_for,
            )
            .await?;
        records = store.signing_keys().await?;
    }
    let mut by_kid = HashMap::new();
    let mut current = None;
    for r in &records {
        let Ok(key_alg) = r.alg.parse::<Algorithm>() else {
            tracing::warn!(kid = %r.kid, alg = %r.alg, "skipping a stored key of an unknown algorithm");
            continue;
        };
        let key = Arc::new(SigningKey::from_pkcs8(r.kid.clone(), key_alg, &r.private_key)?);
        // Records come newest first: the first unretired key of our algorithm signs.
        if current.is_none() && r.retired_at.is_none() && key_alg == alg {
            current = Some(key.clone());
        }
        by_kid.insert(r.kid.clone(), key);
    }
    let current = current.ok_or_else(|| Error::storage("no current signing key after creating one"))?;
    Ok(Ring {
        current,
        by_kid,
        loaded: store.clock().instant(),
    })
}
