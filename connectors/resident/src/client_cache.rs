//! Clients and their secret hashes, cached in memory for client authentication on the token endpoint.
//!
//! A change made through this process invalidates its entry at once; one made by another node on the same
//! PostgreSQL store is announced and invalidates it at once too; otherwise it is seen when the entry's time-to-live
//! runs out (`client_cache_seconds`, 5 by default; 0 turns the cache off). Unknown client ids are never cached, so
//! probing cannot fill it. While the database cannot be read, an entry is served past its lifetime (up to
//! [`MAX_STALE`]), so known clients keep getting tokens during an outage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::store::{ClientRecord, SecretRecord};

/// The oldest entry served while the database cannot be read.
pub const MAX_STALE: Duration = Duration::from_secs(3600);

/// Most entries kept; past it, expired entries are dropped, then everything if still full.
const MAX_ENTRIES: usize = 10_000;

/// A client with its secrets, as loaded.
#[derive(Debug)]
pub(crate) struct Cached {
    pub client: ClientRecord,
    pub secrets: Vec<SecretRecord>,
    loaded: Instant,
    /// The cache's epoch when loaded: an entry of an older epoch is no longer fresh (see [`ClientCache::expire_all`]).
    epoch: u64,
}

#[derive(Debug)]
pub(crate) struct ClientCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, Arc<Cached>>>,
    epoch: AtomicU64,
}

impl ClientCache {
    pub fn new(ttl: Duration) -> Self {
        ClientCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
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
            .filter(|c| {
                now.saturating_duration_since(c.loaded) < self.ttl && c.epoch == self.epoch.load(Ordering::Acquire)
            })
            .cloned()
    }

    /// The entry as last loaded, at most [`MAX_STALE`] old at `now`, whatever the lifetime: what a node serves when
    /// its database cannot be read (an outage), so clients it knows keep getting tokens.
    pub fn stale(&self, client_id: &str, now: Instant) -> Option<Arc<Cached>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(client_id)
            .filter(|c| now.saturating_duration_since(c.loaded) < MAX_STALE)
            .cloned()
    }

    /// Keep an entry loaded at `now`.
    pub fn put(&self, client: ClientRecord, secrets: Vec<SecretRecord>, now: Instant) -> Arc<Cached> {
        let entry = Arc::new(Cached {
            client,
            secrets,
            loaded: now,
            epoch: self.epoch.load(Ordering::Acquire),
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

    /// Make every entry stale (changes may have been missed): each is read again from the store at its next use,
    /// and kept only for when the store cannot be read.
    pub fn expire_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Forget a client after a change.
    pub fn invalidate(&self, client_id: &str) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(client_id);
    }
}
