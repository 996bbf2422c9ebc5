//! One key manager's signing keys, fetched once and kept; an unknown `kid` refetches at most once per interval,
//! however many requests carry it. Told that the keys changed ([`JwksCache::mark_stale`]: a rotation or a retired
//! key), the next lookup fetches them again whatever it asks for, so a retired key stops verifying at once.

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
    /// The key parsed once, with the one algorithm it verifies (ES256 for a P-256 key, RS256 for an RSA key, EdDSA
    /// for an Ed25519 key), so a fresh token costs a signature check and not a key parse too.
    pub parsed: Option<(Algorithm, aws_lc_rs::signature::ParsedPublicKey)>,
}

struct Loaded {
    keys: HashMap<String, Arc<Key>>,
    fetched: Option<Instant>,
    /// The key manager said its keys changed: fetch before trusting these.
    stale: bool,
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

/// A JWK's public key parsed for the algorithm its type fixes (P-256 → ES256, RSA → RS256, Ed25519 → EdDSA);
/// `None` for anything else (jsonwebtoken then verifies, parsing per call).
fn parsed_key(jwk: &serde_json::Value) -> Option<(Algorithm, aws_lc_rs::signature::ParsedPublicKey)> {
    use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let field = |name: &str| URL_SAFE_NO_PAD.decode(jwk.get(name)?.as_str()?).ok();
    match (jwk.get("kty")?.as_str()?, jwk.get("crv").and_then(|c| c.as_str())) {
        ("EC", Some("P-256")) => {
            let mut point = vec![4u8];
            point.extend(field("x")?);
            point.extend(field("y")?);
            Some((
                Algorithm::ES256,
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).ok()?,
            ))
        }
        ("RSA", _) => {
            let der = rsa_public_key_der(&field("n")?, &field("e")?)?;
            Some((
                Algorithm::RS256,
                ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der).ok()?,
            ))
        }
        ("OKP", Some("Ed25519")) => Some((Algorithm::EdDSA, ParsedPublicKey::new(&ED25519, field("x")?).ok()?)),
        _ => None,
    }
}

/// A JWK's public signature key, parsed once for verifying: P-256, RSA or Ed25519, with the JWS `alg` it verifies
/// (`ES256`, `RS256`, `EdDSA`); `None` for any other key type or a malformed key.
pub fn jwk_public_key(jwk: &serde_json::Value) -> Option<(&'static str, aws_lc_rs::signature::ParsedPublicKey)> {
    let (alg, key) = parsed_key(jwk)?;
    let name = match alg {
        Algorithm::ES256 => "ES256",
        Algorithm::RS256 => "RS256",
        _ => "EdDSA",
    };
    Some((name, key))
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`, DER.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Option<Vec<u8>> {
    fn length(len: usize, out: &mut Vec<u8>) -> Option<()> {
        match len {
            0..=0x7f => out.push(u8::try_from(len).ok()?),
            0x80..=0xff => out.extend([0x81, u8::try_from(len).ok()?]),
            _ => out.extend([0x82, u8::try_from(len >> 8).ok()?, u8::try_from(len & 0xff).ok()?]),
        }
        Some(())
    }
    fn integer(bytes: &[u8], out: &mut Vec<u8>) -> Option<()> {
        let trimmed = match bytes.iter().position(|b| *b != 0) {
            Some(i) => &bytes[i..],
            None => return None,
        };
        let pad = trimmed[0] & 0x80 != 0;
        out.push(0x02);
        length(trimmed.len() + usize::from(pad), out)?;
        if pad {
            out.push(0);
        }
        out.extend_from_slice(trimmed);
        Some(())
    }
    if n.len() > 2048 || e.len() > 16 {
        return None;
    }
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    integer(n, &mut body)?;
    integer(e, &mut body)?;
    let mut der = vec![0x30];
    length(body.len(), &mut der)?;
    der.extend(body);
    Some(der)
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
        let parsed = parsed_key(raw);
        keys.insert(kid, Arc::new(Key { decoding, alg, parsed }));
    }
    Ok(keys)
}

impl JwksCache {
    pub(super) fn new(refetch_interval: Duration) -> Self {
        JwksCache {
            refetch_interval,
            loaded: RwLock::new(Arc::new(Loaded {
                keys: HashMap::new(),
                fetched: None,
                stale: false,
            })),
            refetch: tokio::sync::Mutex::new(()),
        }
    }

    /// The keys changed at the key manager: the next lookup fetches them again, whatever `kid` it asks for.
    pub(super) fn mark_stale(&self) {
        let mut w = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        *w = Arc::new(Loaded {
            keys: w.keys.clone(),
            fetched: w.fetched,
            stale: true,
        });
    }

    fn snapshot(&self) -> Arc<Loaded> {
        self.loaded.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The key with this `kid`; a miss refetches the set at most once per interval.
    pub(super) async fn key(
        &self,
        kid: &str,
        km: &dyn KeyManager,
        http: &HttpClient,
        clock: &dyn Clock,
    ) -> Result<Arc<Key>, ValidationError> {
        let snap = self.snapshot();
        if let (Some(k), false) = (snap.keys.get(kid), snap.stale) {
            return Ok(k.clone());
        }
        let _guard = self.refetch.lock().await;
        // Another request may have refetched while this one waited.
        let snap = self.snapshot();
        if let (Some(k), false) = (snap.keys.get(kid), snap.stale) {
            return Ok(k.clone());
        }
        if !snap.stale
            && snap
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
                    stale: snap.stale,
                });
                return Err(e);
            }
        };
        let found = keys.get(kid).cloned();
        *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Loaded {
            keys,
            fetched: Some(clock.instant()),
            stale: false,
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
