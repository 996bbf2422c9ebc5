//! Clients and their secret hashes, cached in memory for client authentication on the token endpoint.
//!
//! A change made through this process invalidates its entry at once. A change made by another node (or another
//! process on the same database) is seen when the entry's time-to-live runs out (`client_cache_seconds`, 5 by
//! default; 0 turns the cache off). Unknown client ids are never cached, so probing cannot fill it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::store::{ClientRecord, SecretRecord};

/// Most entries kept; past it, expired entries are dropped, then everything if still full.
const MAX_ENTRIES: usize = 10_000;

/// A client with its secrets, as loaded.
#[derive(Debug)]
pub(crate) struct Cached {
    pub client: ClientRecord,
    pub secrets: Vec<SecretRecord>,
    loaded: Instant,
}

#[derive(Debug)]
pub(crate) struct ClientCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, Arc<Cached>>>,
}

impl ClientCache {
    pub fn new(ttl: Duration) -> Self {
        ClientCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// A fresh entry at `now`, if there is one.
    pub fn get(&self, client_id: &str, now: Instant) -> Option<Arc<Cached>> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(client_id)
            .filter(|c| now.saturating_duration_since(c.loaded) < self.ttl)
            .cloned()
    }

    /// Keep an entry loaded at `now`.
    pub fn put(&self, client: ClientRecord, secrets: Vec<SecretRecord>, now: Instant) -> Arc<Cached> {
        let entry = Arc::new(Cached {
            client,
            secrets,
            loaded: now,
        });
        if self.ttl.is_zero() {
            return entry;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, c| now.saturating_duration_since(c.loaded) < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(entry.client.client_id.clone(), entry.clone());
        entry
    }

    /// Forget every client (changes may have been missed).
    pub fn clear(&self) {
        self.entries.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Forget a client after a change.
    pub fn invalidate(&self, client_id: &str) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(client_id);
    }
}
