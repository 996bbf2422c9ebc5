//! Clients' public keys published at a `jwks_uri` (RFC 7591 §2), for `private_key_jwt`: read through the core HTTP
//! kit behind the [egress guard](keymanager::egress) (5 s, 64 KiB, one retry, no redirect), kept for 5 minutes,
//! read again sooner only for a `kid` they lack. A failed read is remembered as long as a successful one blocks a
//! new read ([`JWKS_URI_REFETCH`]): whoever knows a client id cannot make the server fetch its `jwks_uri` more than
//! once every 10 seconds, however many assertions they send.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keymanager::connector_kit::http::{HttpClient, HttpPolicy, Idempotency};
use keymanager::connector_kit::{Error, Result};
use serde_json::Value;

/// How long keys read from a `jwks_uri` are used before they are read again.
const JWKS_URI_TTL: Duration = Duration::from_secs(300);

/// The shortest time between two reads of one `jwks_uri` when an assertion names a `kid` it does not hold.
const JWKS_URI_REFETCH: Duration = Duration::from_secs(10);

/// The most `jwks_uri` reads remembered.
const MAX_REMEMBERED: usize = 10_000;

/// The last read of one `jwks_uri`: when, and the keys or why there were none.
type ReadKeys = (Instant, std::result::Result<Arc<Vec<Value>>, Arc<str>>);

/// Keys read from clients' `jwks_uri`s.
pub(crate) struct ClientKeys {
    http: HttpClient,
    read: Mutex<HashMap<String, ReadKeys>>,
}

impl ClientKeys {
    pub fn new(egress: keymanager::connector_kit::Egress) -> Result<Self> {
        let http = HttpClient::guarded(
            HttpPolicy {
                request_timeout: Duration::from_secs(5),
                connect_timeout: Duration::from_secs(3),
                max_response_bytes: 64 * 1024,
                max_retries: 1,
                ..HttpPolicy::default()
            },
            egress,
        )?
        .with_metrics_label(crate::KIND);
        Ok(ClientKeys {
            http,
            read: Mutex::new(HashMap::new()),
        })
    }

    /// The keys at `uri`: the ones read within [`JWKS_URI_TTL`], unless `kid` is not among them (then read again,
    /// at most every [`JWKS_URI_REFETCH`]).
    pub async fn at(&self, uri: &str, kid: Option<&str>, now: Instant) -> Result<Arc<Vec<Value>>> {
        self.at_holding(
            uri,
            |keys| kid.is_none_or(|k| keys.iter().any(|j| j.get("kid").and_then(Value::as_str) == Some(k))),
            now,
        )
        .await
    }

    /// The keys at `uri`: the ones read within [`JWKS_URI_TTL`], unless `holds` says the key wanted is not among
    /// them (then read again, at most every [`JWKS_URI_REFETCH`]).
    pub async fn at_holding(
        &self,
        uri: &str,
        holds: impl Fn(&[Value]) -> bool,
        now: Instant,
    ) -> Result<Arc<Vec<Value>>> {
        let held = self.read.lock().unwrap_or_else(|p| p.into_inner()).get(uri).cloned();
        if let Some((at, outcome)) = held {
            let age = now.saturating_duration_since(at);
            match outcome {
                Ok(keys) => {
                    if age < JWKS_URI_TTL && (holds(&keys) || age < JWKS_URI_REFETCH) {
                        return Ok(keys);
                    }
                }
                Err(why) if age < JWKS_URI_REFETCH => {
                    return Err(Error::transport(format!(
                        "{why} (read again {} s after the failure at the earliest)",
                        JWKS_URI_REFETCH.as_secs()
                    )))
                }
                Err(_) => {}
            }
        }
        let outcome = self.fetch(uri).await;
        let mut read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a client holds one jwks_uri; past the bound the oldest reads are forgotten.
        if read.len() >= MAX_REMEMBERED && !read.contains_key(uri) {
            if let Some(oldest) = read.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone()) {
                read.remove(&oldest);
            }
        }
        let remembered = match &outcome {
            Ok(keys) => Ok(keys.clone()),
            Err(e) => Err(Arc::from(e.to_string())),
        };
        read.insert(uri.to_owned(), (now, remembered));
        outcome
    }

    async fn fetch(&self, uri: &str) -> Result<Arc<Vec<Value>>> {
        let doc: Value = self
            .http
            .send_ok(self.http.get(uri), Idempotency::Idempotent)
            .await?
            .json()?;
        Ok(Arc::new(
            doc.get("keys")
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| Error::malformed(uri.to_owned(), "keys", "the client's JWK Set has no keys"))?,
        ))
    }
}
