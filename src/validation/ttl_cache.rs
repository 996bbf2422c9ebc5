//! A bounded map whose entries expire, keyed by a token's SHA-256 (never the token).
//!
//! Built on `quick_cache` (sharded, CLOCK-Pro eviction in O(1)): a full cache evicts one cold entry per insert
//! instead of scanning and sorting every entry under one lock. Expiry is checked on read; an expired entry is a miss
//! and is removed.

use std::hash::Hash;
use std::time::Instant;

/// Entries with a deadline, at most `capacity` of them.
pub(crate) struct TtlCache<K, V> {
    inner: quick_cache::sync::Cache<K, (V, Instant)>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub(super) fn new(capacity: usize) -> Self {
        TtlCache {
            inner: quick_cache::sync::Cache::new(capacity.max(1)),
        }
    }

    /// The value, if its deadline is after `now`.
    pub(super) fn get(&self, key: &K, now: Instant) -> Option<V> {
        let (value, until) = self.inner.get(key)?;
        if until > now {
            Some(value)
        } else {
            self.inner.remove(key);
            None
        }
    }

    pub(super) fn insert(&self, key: K, value: V, until: Instant) {
        self.inner.insert(key, (value, until));
    }

    /// Forget one entry.
    pub(super) fn remove(&self, key: &K) {
        self.inner.remove(key);
    }

    /// Keep only the entries whose value passes `keep`.
    pub(super) fn retain(&self, keep: impl Fn(&V) -> bool) {
        self.inner.retain(|_, (v, _)| keep(v));
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.inner.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_expire_and_the_size_stays_bounded() {
        let c = TtlCache::new(8);
        let later = Instant::now() + Duration::from_secs(60);
        c.insert(1, "a", later);
        c.insert(2, "b", Instant::now());
        let now = Instant::now();
        assert_eq!(c.get(&1, now), Some("a"));
        assert_eq!(c.get(&2, now), None, "expired");
        for i in 0..10_000 {
            c.insert(i, "x", later + Duration::from_secs(i as u64));
            assert!(c.len() <= 8, "{}", c.len());
        }
        assert_eq!(c.get(&9_999, now), Some("x"), "the newest survive");
    }
}
