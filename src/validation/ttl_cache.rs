//! A bounded map whose entries expire, keyed by a token's SHA-256 (never the token).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// Entries with a deadline; when full, expired entries go first, then the ones closest to expiry.
pub(crate) struct TtlCache<K, V> {
    capacity: usize,
    map: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        TtlCache {
            capacity: capacity.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((v, until)) if *until > Instant::now() => Some(v.clone()),
            _ => None,
        }
    }

    pub fn insert(&self, key: K, value: V, until: Instant) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity && !map.contains_key(&key) {
            let now = Instant::now();
            map.retain(|_, (_, u)| *u > now);
            if map.len() >= self.capacity {
                // Drop the quarter closest to expiry.
                let mut deadlines: Vec<Instant> = map.values().map(|(_, u)| *u).collect();
                deadlines.sort();
                let cut = deadlines[deadlines.len() / 4];
                map.retain(|_, (_, u)| *u > cut);
            }
        }
        map.insert(key, (value, until));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
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
        assert_eq!(c.get(&1), Some("a"));
        assert_eq!(c.get(&2), None, "expired");
        for i in 0..100 {
            c.insert(i, "x", later + Duration::from_secs(i as u64));
        }
        assert!(c.len() <= 8, "{}", c.len());
        assert_eq!(c.get(&99), Some("x"), "the newest survive");
    }
}
