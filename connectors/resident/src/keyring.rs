//! The signing keys in use: the current one of the configured algorithm signs access tokens, every unexpired one
//! verifies. RS256 is always kept beside another configured algorithm, since OpenID Connect Core §15.1 requires it for
//! ID tokens (a client may register `id_token_signed_response_alg`). Loaded from the store once and refreshed when
//! stale or when a token names an unknown `kid`, so rotation on one node reaches the others.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use keymanager::connector_kit::{Error, Result};
use serde_json::Value;

use keymanager::connector_kit::{SigningKeyInfo as KeyState, SigningKeyPhase as KeyPhase};

use crate::signing::{Algorithm, SigningKey};
use crate::store::{SigningKeyRecord, Store};

const REFRESH_AFTER: Duration = Duration::from_secs(60);
const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(2);

struct Ring {
    current: Arc<SigningKey>,
    /// When a key starts or stops signing next (seconds since the epoch): the ring is rebuilt then.
    next_change: Option<i64>,
    /// The keys as stored, for listing.
    records: Vec<KeyState>,
    /// The current key of each algorithm in use (the configured one first).
    current_by_alg: Vec<Arc<SigningKey>>,
    by_kid: HashMap<String, Arc<SigningKey>>,
    loaded: Instant,
}

/// The key ring.
pub struct KeyRing {
    store: Store,
    /// The table's version when the ring was last built ([`Store::signing_keys_version`]).
    version: std::sync::Mutex<Option<String>>,
    /// Counts the changes of the published keys or their phases, for those who cache them ([`KeyRing::watch`]).
    changes: tokio::sync::watch::Sender<u64>,
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
    /// How long (seconds) a key that stopped signing stays published: the longest token lifetime.
    pub fn keep_retired_for(&self) -> i64 {
        self.keep_retired_for
    }

    /// Load the keys, creating the first one (of `alg`) when the store has none of it.
    pub async fn load(store: Store, alg: Algorithm, keep_retired_for: i64) -> Result<KeyRing> {
        let ring = build(&store, alg, keep_retired_for).await?;
        Ok(KeyRing {
            version: std::sync::Mutex::new(store.signing_keys_version().await.ok()),
            changes: tokio::sync::watch::Sender::new(0),
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
        let changed = {
            let mut slot = self.ring.write().unwrap_or_else(|p| p.into_inner());
            let changed = slot.records != ring.records;
            *slot = Arc::new(ring);
            changed
        };
        if changed {
            self.changes.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// A receiver that sees a change whenever the published keys or their phases change here: a rotation or
    /// retirement made here, announced by another node, or found by polling. Validators that cache this key
    /// manager's keys drop them then.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
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

    /// The loaded keys, reloaded first when stale or when a key starts or stops signing (a failed reload keeps the
    /// loaded ones, and says so).
    async fn fresh(&self) -> Arc<Ring> {
        let snap = self.snapshot();
        let changed = snap.next_change.is_some_and(|at| self.store.now() >= at);
        if !changed && self.store.clock().instant().saturating_duration_since(snap.loaded) < REFRESH_AFTER {
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

    /// Reload when the stored keys changed since the last look (another process rotated or retired one): the
    /// fallback of a node that gets no push (SQLite). Whether it reloaded.
    pub async fn refresh_if_changed(&self) -> Result<bool> {
        let now = self.store.signing_keys_version().await?;
        let changed = {
            let mut seen = self.version.lock().unwrap_or_else(|p| p.into_inner());
            let changed = seen.as_deref() != Some(now.as_str());
            *seen = Some(now);
            changed
        };
        if changed {
            self.refresh().await?;
        }
        Ok(changed)
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

    /// Start signing with new keys (one per algorithm in use) at once; the old ones stay in the JWKS until their
    /// last token has expired. Returns the `kid` of the configured algorithm's new key.
    pub async fn rotate(&self) -> Result<String> {
        self.rotate_with(0, None).await
    }

    /// Rotate: the new keys are published now and sign `pre_publish_seconds` later; the old ones sign until then
    /// and stay published `retire_after_seconds` more (`None`: the longest token lifetime). Returns the configured
    /// algorithm's new `kid`.
    pub async fn rotate_with(&self, pre_publish_seconds: u64, retire_after_seconds: Option<u64>) -> Result<String> {
        let records = algorithms(self.alg)
            .into_iter()
            .map(|alg| new_record(&self.store, alg))
            .collect::<Result<Vec<_>>>()?;
        let kid = records[0].kid.clone();
        let activates_at = self.store.now().saturating_add(seconds(pre_publish_seconds));
        let keep_for = retire_after_seconds.map(seconds).unwrap_or(self.keep_retired_for);
        self.store.rotate_signing_key(&records, activates_at, keep_for).await?;
        tracing::info!(kid = %kid, activates_at, keep_for, "rotated the signing keys");
        self.replace(build(&self.store, self.alg, self.keep_retired_for).await?);
        Ok(kid)
    }

    /// Take a key out of the JWKS now: tokens it signed stop validating (a compromised key). The key that signs now
    /// is refused while no other key of its algorithm signs: rotate first. `NotFound` for an unknown `kid`.
    pub async fn retire(&self, kid: &str) -> Result<KeyState> {
        self.refresh().await?;
        let snap = self.snapshot();
        let Some(key) = snap.records.iter().find(|k| k.kid == kid).cloned() else {
            return Err(Error::not_found("signing key", kid));
        };
        if key.phase == KeyPhase::Signing {
            return Err(Error::conflict(format!(
                "signing key {kid} signs the tokens issued now; rotate first (`keymanager signing-keys rotate \
                 --pre-publish 0` for an emergency), then retire it"
            )));
        }
        if !self.store.retire_signing_key(kid).await? {
            return Err(Error::not_found("signing key", kid));
        }
        tracing::warn!(kid = %kid, "retired a signing key: tokens it signed no longer validate");
        self.replace(build(&self.store, self.alg, self.keep_retired_for).await?);
        Ok(key)
    }

    /// Every key in the JWKS and its phase, newest first (reloaded first).
    pub async fn list(&self) -> Result<Vec<KeyState>> {
        self.refresh().await?;
        Ok(self.snapshot().records.clone())
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

/// Seconds as the store keeps them (saturating: a caller's huge value means "for ever", not an overflow).
fn seconds(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
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
        activates_at: None,
        retired_at: None,
        expires_at: None,
    })
}

async fn build(store: &Store, alg: Algorithm, keep_retired_for: i64) -> Result<Ring> {
    let mut records = store.signing_keys().await?;
    let now = store.now();
    let has_current =
        |records: &[SigningKeyRecord], a: Algorithm| records.iter().any(|r| r.signs_at(now) && r.alg == a.as_str());
    let wanted = algorithms(alg);
    if !has_current(&records, alg) {
        // A new configured algorithm (or a new store): a rollover of every key in use.
        let fresh = wanted
            .iter()
            .map(|a| new_record(store, *a))
            .collect::<Result<Vec<_>>>()?;
        store.rotate_signing_key(&fresh, now, keep_retired_for).await?;
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
        // Records come newest first: the newest key of each algorithm in use that signs now, signs.
        if r.signs_at(now) && wanted.contains(&key_alg) && !current_by_alg.iter().any(|k| k.alg() == key_alg) {
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
    let next_change = records
        .iter()
        .flat_map(|r| [r.activates_at, r.retired_at])
        .flatten()
        .filter(|at| *at > now)
        .min();
    let states = records
        .iter()
        .map(|r| KeyState {
            kid: r.kid.clone(),
            alg: r.alg.clone(),
            phase: if r.signs_at(now) && current_by_alg.iter().any(|k| k.kid() == r.kid) {
                KeyPhase::Signing
            } else if r.pending_at(now) {
                KeyPhase::Published
            } else {
                KeyPhase::Verifying
            },
            created_at: r.created_at,
            activates_at: r.activates_at,
            retired_at: r.retired_at,
            expires_at: r.expires_at,
        })
        .collect();
    Ok(Ring {
        current,
        next_change,
        records: states,
        current_by_alg,
        by_kid,
        loaded: store.clock().instant(),
    })
}
