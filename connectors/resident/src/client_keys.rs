//! Clients' public keys published at a `jwks_uri` (RFC 7591 §2), for `private_key_jwt`: read through the core HTTP
//! kit (5 s, 64 KiB, one retry), kept for 5 minutes, read again sooner only for a `kid` they lack.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keymanager::http::{HttpClient, HttpPolicy, Idempotency};
use keymanager::{Error, Result};
use serde_json::Value;

/// How long keys read from a `jwks_uri` are used before they are read again.
const JWKS_URI_TTL: Duration = Duration::from_secs(300);

/// The shortest time between two reads of one `jwks_uri` when an assertion names a `kid` it does not hold.
const JWKS_URI_REFETCH: Duration = Duration::from_secs(10);

/// The keys of one `jwks_uri`, with when they were read.
type ReadKeys = (Instant, Arc<Vec<Value>>);

/// Keys read from clients' `jwks_uri`s.
pub(crate) struct ClientKeys {
    http: HttpClient,
    read: Mutex<HashMap<String, ReadKeys>>,
}

impl ClientKeys {
    pub fn new() -> Result<Self> {
        let http = HttpClient::new(HttpPolicy {
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            max_response_bytes: 64 * 1024,
            max_retries: 1,
            ..HttpPolicy::default()
        })?
        .with_metrics_label(crate::KIND);
        Ok(ClientKeys {
            http,
            read: Mutex::new(HashMap::new()),
        })
    }

    /// The keys at `uri`: the ones read within [`JWKS_URI_TTL`], unless `kid` is not among them (then read again,
    /// at most every [`JWKS_URI_REFETCH`]).
    pub async fn at(&self, uri: &str, kid: Option<&str>, now: Instant) -> Result<Arc<Vec<Value>>> {
        let held = self.read.lock().unwrap_or_else(|p| p.into_inner()).get(uri).cloned();
        if let Some((at, keys)) = &held {
            let age = now.saturating_duration_since(*at);
            let has_kid = kid.is_none_or(|k| keys.iter().any(|j| j.get("kid").and_then(Value::as_str) == Some(k)));
            if age < JWKS_URI_TTL && (has_kid || age < JWKS_URI_REFETCH) {
                return Ok(keys.clone());
            }
        }
        let doc: Value = self
            .http
            .send_ok(self.http.get(uri), Idempotency::Idempotent)
            .await?
            .json()?;
        let keys = Arc::new(
            doc.get("keys")
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| Error::malformed(uri.to_owned(), "keys", "the client's JWK Set has no keys"))?,
        );
        self.read
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(uri.to_owned(), (now, keys.clone()));
        Ok(keys)
    }
}
