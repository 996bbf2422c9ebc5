//! One key manager's signing keys, fetched once and kept; an unknown `kid` refetches at most once per interval,
//! however many requests carry it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::http::{HttpClient, Idempotency};
use crate::model::Clock;
use crate::KeyManager;

use super::ValidationError;

/// A parsed verification key.
pub(crate) struct Key {
    pub decoding: DecodingKey,
    /// The key's own `alg`, when the JWK names one.
    pub alg: Option<Algorithm>,
}

struct Loaded {
    keys: HashMap<String, Arc<Key>>,
    fetched: Option<Instant>,
}

pub(crate) struct JwksCache {
    refetch_interval: Duration,
    loaded: RwLock<Arc<Loaded>>,
    refetch: tokio::sync::Mutex<()>,
}

fn alg_of(k: &KeyAlgorithm) -> Option<Algorithm> {
    use KeyAlgorithm as K;
    Some(match k {
        K::ES256 => Algorithm::ES256,
        K::ES384 => Algorithm::ES384,
        K::RS256 => Algorithm::RS256,
        K::RS384 => Algorithm::RS384,
        K::RS512 => Algorithm::RS512,
        K::PS256 => Algorithm::PS256,
        K::PS384 => Algorithm::PS384,
        K::PS512 => Algorithm::PS512,
        K::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

fn parse(doc: serde_json::Value) -> Result<HashMap<String, Arc<Key>>, ValidationError> {
    // Parse key by key, so one key of a type we do not know (an `enc` key, a new curve) does not hide the rest.
    let list = doc
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or_else(|| ValidationError::Unavailable("the JWKS document has no `keys` array".into()))?;
    let mut keys = HashMap::new();
    for raw in list {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let Ok(decoding) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        let alg = jwk.common.key_algorithm.as_ref().and_then(alg_of);
        keys.insert(kid, Arc::new(Key { decoding, alg }));
    }
    Ok(keys)
}

impl JwksCache {
    pub fn new(refetch_interval: Duration) -> Self {
        JwksCache {
            refetch_interval,
            loaded: RwLock::new(Arc::new(Loaded {
                keys: HashMap::new(),
                fetched: None,
            })),
            refetch: tokio::sync::Mutex::new(()),
        }
    }

    fn snapshot(&self) -> Arc<Loaded> {
        self.loaded.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The key with this `kid`; a miss refetches the set at most once per interval.
    pub async fn key(
        &self,
        kid: &str,
        km: &dyn KeyManager,
        http: &HttpClient,
        clock: &dyn Clock,
    ) -> Result<Arc<Key>, ValidationError> {
        if let Some(k) = self.snapshot().keys.get(kid) {
            return Ok(k.clone());
        }
        let _guard = self.refetch.lock().await;
        // Another request may have refetched while this one waited.
        let snap = self.snapshot();
        if let Some(k) = snap.keys.get(kid) {
            return Ok(k.clone());
        }
        if snap
            .fetched
            .is_some_and(|at| clock.instant().saturating_duration_since(at) < self.refetch_interval)
        {
            return Err(ValidationError::UnknownKey(kid.to_owned()));
        }
        let fetched = self.fetch(km, http).await;
        let keys = match fetched {
            Ok(keys) => keys,
            Err(e) => {
                // Remember the attempt, so a failing JWKS endpoint is not hammered either.
                let mut w = self.loaded.write().unwrap_or_else(|p| p.into_inner());
                *w = Arc::new(Loaded {
                    keys: snap.keys.clone(),
                    fetched: Some(clock.instant()),
                });
                return Err(e);
            }
        };
        let found = keys.get(kid).cloned();
        *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Loaded {
            keys,
            fetched: Some(clock.instant()),
        });
        found.ok_or_else(|| ValidationError::UnknownKey(kid.to_owned()))
    }

    async fn fetch(
        &self,
        km: &dyn KeyManager,
        http: &HttpClient,
    ) -> Result<HashMap<String, Arc<Key>>, ValidationError> {
        let unavailable = |e: crate::Error| ValidationError::Unavailable(format!("{}: JWKS: {e}", km.name()));
        if let Some(doc) = km.jwks().await.map_err(unavailable)? {
            return parse(doc);
        }
        let uri = km
            .token_profile()
            .jwks_uri
            .ok_or_else(|| ValidationError::Unavailable(format!("{}: no jwks_uri", km.name())))?;
        tracing::debug!(key_manager = km.name(), "fetching the JWKS");
        let doc: serde_json::Value = http
            .send_ok(http.get(&uri), Idempotency::Idempotent)
            .await
            .and_then(|r| r.json())
            .map_err(unavailable)?;
        parse(doc)
    }
}
