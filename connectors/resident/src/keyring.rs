//! The signing keys in use: the current one of the configured algorithm signs access tokens, every unexpired one
//! verifies. RS256 is always kept beside another configured algorithm, since OpenID Connect Core §15.1 requires it for
//! ID tokens (a client may register `id_token_signed_response_alg`). Loaded from the store once and refreshed when
//! stale or when a token names an unknown `kid`, so rotation on one node reaches the others.

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
    /// The current key of each algorithm in use (the configured one first).
    current_by_alg: Vec<Arc<SigningKey>>,
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

    /// The key that signs now, of the configured algorithm.
    pub async fn current(&self) -> Result<Arc<SigningKey>> {
        Ok(self.fresh().await.current.clone())
    }

    /// The key that signs now with `alg`, when it is one in use (the configured algorithm, or RS256).
    pub async fn current_for(&self, alg: Algorithm) -> Result<Option<Arc<SigningKey>>> {
        Ok(self
            .fresh()
            .await
            .current_by_alg
            .iter()
            .find(|k| k.alg() == alg)
            .cloned())
    }

    /// The algorithms this ring signs with: the configured one, then RS256 when that is another.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        algorithms(self.alg)
    }

    /// The loaded keys, reloaded first when stale (a failed reload keeps the loaded ones, and says so).
    async fn fresh(&self) -> Arc<Ring> {
        let snap = self.snapshot();
        if self.store.clock().instant().saturating_duration_since(snap.loaded) < REFRESH_AFTER {
            return snap;
        }
        match build(&self.store, self.alg, self.keep_retired_for).await {
            Ok(ring) => {
                self.replace(ring);
                self.snapshot()
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot refresh the signing keys; signing with the loaded keys");
                snap
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

    /// Start signing with new keys (one per algorithm in use); the old ones stay in the JWKS until their last token
    /// has expired. Returns the `kid` of the configured algorithm's new key.
    pub async fn rotate(&self) -> Result<String> {
        let records = algorithms(self.alg)
            .into_iter()
            .map(|alg| new_record(&self.store, alg))
            .collect::<Result<Vec<_>>>()?;
        let kid = records[0].kid.clone();
        self.store.rotate_signing_key(&records, self.keep_retired_for).await?;
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
        let mut list: Vec<Value> = snap.current_by_alg.iter().map(|k| k.public_jwk()).collect();
        list.extend(
            keys.into_iter()
                .filter(|k| !snap.current_by_alg.iter().any(|c| c.kid() == k.kid()))
                .map(|k| k.public_jwk()),
        );
        Ok(serde_json::json!({ "keys": list }))
    }
}

/// The algorithms a ring configured for `alg` signs with: `alg`, then RS256 when that is another.
fn algorithms(alg: Algorithm) -> Vec<Algorithm> {
    if alg == Algorithm::Rs256 {
        vec![alg]
    } else {
        vec![alg, Algorithm::Rs256]
    }
}

/// A freshly generated key of `alg`, as stored.
fn new_record(store: &Store, alg: Algorithm) -> Result<SigningKeyRecord> {
    let (key, pkcs8) = SigningKey::generate(alg)?;
    tracing::info!(kid = key.kid(), alg = alg.as_str(), "created a signing key");
    Ok(SigningKeyRecord {
        kid: key.kid().into(),
        alg: alg.as_str().into(),
        private_key: pkcs8,
        created_at: store.now(),
        retired_at: None,
        expires_at: None,
    })
}

async fn build(store: &Store, alg: Algorithm, keep_retired_for: i64) -> Result<Ring> {
    let mut records = store.signing_keys().await?;
    let has_current = |records: &[SigningKeyRecord], a: Algorithm| {
        records.iter().any(|r| r.retired_at.is_none() && r.alg == a.as_str())
    };
    let wanted = algorithms(alg);
    if !has_current(&records, alg) {
        // A new configured algorithm (or a new store): a rollover of every key in use.
        let fresh = wanted
            .iter()
            .map(|a| new_record(store, *a))
            .collect::<Result<Vec<_>>>()?;
        store.rotate_signing_key(&fresh, keep_retired_for).await?;
        records = store.signing_keys().await?;
    } else if let Some(missing) = wanted.iter().find(|a| !has_current(&records, **a)) {
        // A store from before RS256 was kept beside the configured algorithm.
        store.add_signing_key(&new_record(store, *missing)?).await?;
        records = store.signing_keys().await?;
    }
    let mut by_kid = HashMap::new();
    let mut current_by_alg: Vec<Arc<SigningKey>> = Vec::new();
    for r in &records {
        let Ok(key_alg) = r.alg.parse::<Algorithm>() else {
            tracing::warn!(kid = %r.kid, alg = %r.alg, "skipping a stored key of an unknown algorithm");
            continue;
        };
        let key = Arc::new(SigningKey::from_pkcs8(r.kid.clone(), key_alg, &r.private_key)?);
        // Records come newest first: the first unretired key of each algorithm in use signs.
        if r.retired_at.is_none() && wanted.contains(&key_alg) && !current_by_alg.iter().any(|k| k.alg() == key_alg) {
            current_by_alg.push(key.clone());
        }
        by_kid.insert(r.kid.clone(), key);
    }
    current_by_alg.sort_by_key(|k| wanted.iter().position(|a| *a == k.alg()));
    let current = current_by_alg
        .first()
        .filter(|k| k.alg() == alg)
        .cloned()
        .ok_or_else(|| Error::storage("no current signing key after creating one"))?;
    Ok(Ring {
        current,
        current_by_alg,
        by_kid,
        loaded: store.clock().instant(),
    })
}
