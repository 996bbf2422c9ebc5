//! Brute-force protection for resource-owner logins (the login page and the password grant), after Keycloak's
//! brute-force detection.
//!
//! Failures are counted per user name and per client address. Each failure delays its own answer a little more
//! (up to [`MAX_DELAY`]); at the threshold the name (or the address) is locked out for `lockout_seconds`, doubled
//! for each further failure up to `max_lockout_seconds`. A locked-out attempt is refused before any password is
//! hashed, so a flood of guesses costs no argon2 work. A success clears the user name's count (not the address's,
//! so a valid account cannot launder an address's guesses). Counts are forgotten `max_lockout_seconds` after the
//! last failure. Names are counted whether or not they exist, so a lockout tells nothing about which names exist.
//! Lockouts are logged with the user name and address, never the password.
//!
//! Counts live in this process: behind several nodes each counts its own (documented in SECURITY.md).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use keymanager::connector_kit::{Error, Result};

/// The longest delay added to a failed attempt's answer.
pub const MAX_DELAY: Duration = Duration::from_secs(2);

/// The delay each failure adds to the next failed answer.
const DELAY_STEP: Duration = Duration::from_millis(200);

/// Most names (or addresses) tracked at once; past it, entries that are no longer recent are dropped, then the
/// one whose last failure is oldest (a flood of new names cannot stop the counting of the next one).
const MAX_TRACKED: usize = 100_000;

/// Brute-force protection settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BruteForceSettings {
    /// Failures for one user name before it is locked out; 0 turns the per-name protection off.
    pub failures_per_user: u32,
    /// Failures from one client address before it is locked out; 0 turns the per-address protection off (do so
    /// behind a reverse proxy, where every login comes from the proxy's address).
    pub failures_per_address: u32,
    /// The first lockout, in seconds.
    pub lockout_seconds: u64,
    /// The longest lockout, in seconds; counts are also forgotten this long after the last failure.
    pub max_lockout_seconds: u64,
}

impl Default for BruteForceSettings {
    fn default() -> Self {
        BruteForceSettings {
            failures_per_user: 5,
            failures_per_address: 30,
            lockout_seconds: 60,
            max_lockout_seconds: 900,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

/// Failure counts of one kind (names or addresses).
#[derive(Debug)]
struct Counts<K> {
    records: HashMap<K, Record>,
}

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Counts {
            records: HashMap::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone> Counts<K> {
    fn locked<Q>(&self, key: &Q, now: Instant) -> Option<Duration>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let record = self.records.get(key)?;
        match record.locked_until {
            Some(until) if until > now => Some(until - now),
            _ => None,
        }
    }

    /// Count a failure; the lockout it starts, if any, and the failures so far.
    fn fail(
        &mut self,
        key: &K,
        threshold: u32,
        settings: &BruteForceSettings,
        now: Instant,
    ) -> (u32, Option<Duration>) {
        let forget = Duration::from_secs(settings.max_lockout_seconds);
        if self.records.len() >= MAX_TRACKED && !self.records.contains_key(key) {
            self.records
                .retain(|_, r| now.saturating_duration_since(r.last_failure) < forget);
            if self.records.len() >= MAX_TRACKED {
                let oldest = self
                    .records
                    .iter()
                    .min_by_key(|(_, r)| (r.locked_until.is_some_and(|u| u > now), r.last_failure))
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.records.remove(&k);
                }
            }
        }
        let record = self.records.entry(key.clone()).or_insert(Record {
            failures: 0,
            last_failure: now,
            locked_until: None,
        });
        if now.saturating_duration_since(record.last_failure) >= forget {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
        if threshold == 0 || record.failures < threshold {
            return (record.failures, None);
        }
        let doublings = (record.failures - threshold).min(30);
        let lockout = settings
            .lockout_seconds
            .checked_shl(doublings)
            .unwrap_or(u64::MAX)
            .min(settings.max_lockout_seconds);
        let lockout = Duration::from_secs(lockout);
        record.locked_until = now.checked_add(lockout);
        (record.failures, Some(lockout))
    }
}

/// Failure counts per user name and per client address.
#[derive(Debug)]
pub struct LoginGuard {
    settings: BruteForceSettings,
    users: Mutex<Counts<String>>,
    addresses: Mutex<Counts<IpAddr>>,
}

impl LoginGuard {
    /// A guard with these settings.
    pub fn new(settings: BruteForceSettings) -> Self {
        LoginGuard {
            settings,
            users: Mutex::new(Counts::default()),
            addresses: Mutex::new(Counts::default()),
        }
    }

    /// Refuse an attempt for a locked-out name or address with [`Error::RateLimited`] carrying the time left.
    pub fn check(&self, username: &str, address: Option<IpAddr>, now: Instant) -> Result<()> {
        let mut left = None;
        if self.settings.failures_per_user > 0 {
            if let Ok(users) = self.users.lock() {
                left = users.locked(username, now);
            }
        }
        if let (Some(addr), true) = (address, self.settings.failures_per_address > 0) {
            if let Ok(addresses) = self.addresses.lock() {
                left = left.max(addresses.locked(&addr, now));
            }
        }
        match left {
            None => Ok(()),
            Some(left) => Err(Error::rate_limited(Some(Duration::from_secs(left.as_secs().max(1))))),
        }
    }

    /// Count a failed attempt; how long to delay its answer.
    pub fn failed(&self, username: &str, address: Option<IpAddr>, now: Instant) -> Duration {
        let s = &self.settings;
        let mut failures = 0;
        if s.failures_per_user > 0 {
            if let Ok(mut users) = self.users.lock() {
                let (n, lockout) = users.fail(&username.to_owned(), s.failures_per_user, s, now);
                failures = n;
                if let Some(lockout) = lockout {
                    // The name is the caller's text: never at WARN (it goes to the debug line below).
                    tracing::warn!(
                        address = ?address,
                        failures = n,
                        lockout_s = lockout.as_secs(),
                        "login locked out for a user name after repeated failures"
                    );
                    tracing::debug!(username = %username.escape_debug(), "the user name locked out");
                }
            }
        }
        if let (Some(addr), true) = (address, s.failures_per_address > 0) {
            if let Ok(mut addresses) = self.addresses.lock() {
                let (n, lockout) = addresses.fail(&addr, s.failures_per_address, s, now);
                failures = failures.max(n);
                if let Some(lockout) = lockout {
                    tracing::warn!(
                        address = %addr,
                        failures = n,
                        lockout_s = lockout.as_secs(),
                        "logins locked out for this client address after repeated failures"
                    );
                }
            }
        }
        DELAY_STEP.saturating_mul(failures).min(MAX_DELAY)
    }

    /// A successful login: the name's count starts again.
    pub fn succeeded(&self, username: &str) {
        if let Ok(mut users) = self.users.lock() {
            users.records.remove(username);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(per_user: u32, per_address: u32) -> LoginGuard {
        LoginGuard::new(BruteForceSettings {
            failures_per_user: per_user,
            failures_per_address: per_address,
            lockout_seconds: 60,
            max_lockout_seconds: 900,
        })
    }

    fn retry_after(e: Error) -> u64 {
        match e {
            Error::RateLimited {
                retry_after: Some(d), ..
            } => d.as_secs(),
            other => panic!("{other}"),
        }
    }

    /// Review 2 (low): a full table evicts its oldest entry rather than stop counting new names.
    #[test]
    fn a_full_table_still_counts_a_new_name() {
        let t = Instant::now();
        let g = guard(2, 0);
        for i in 0..MAX_TRACKED {
            g.failed(&format!("flood{i}"), None, t);
        }
        let later = t + Duration::from_secs(1);
        g.failed("victim", None, later);
        g.failed("victim", None, later);
        assert!(
            g.check("victim", None, later).is_err(),
            "the new name is counted and locked"
        );
    }

    #[test]
    fn a_name_is_locked_out_at_the_threshold_with_growing_delays_before() {
        let t = Instant::now();
        let g = guard(3, 0);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(g.check("alice", Some(ip), t).is_ok());
        let d1 = g.failed("alice", Some(ip), t);
        let d2 = g.failed("alice", Some(ip), t);
        assert!(d2 > d1 && d2 <= MAX_DELAY, "{d1:?} {d2:?}");
        assert!(g.check("alice", Some(ip), t).is_ok());
        g.failed("alice", Some(ip), t);
        let left = retry_after(g.check("alice", Some(ip), t).unwrap_err());
        assert!((59..=60).contains(&left), "{left}");
        // The lockout ends when its time has passed.
        assert!(g.check("alice", Some(ip), t + Duration::from_secs(61)).is_ok());
        // Another name is not affected; the per-address protection is off.
        assert!(g.check("bob", Some(ip), t).is_ok());
        // Each further failure doubles the lockout, up to the maximum.
        g.failed("alice", None, t);
        assert!(retry_after(g.check("alice", None, t).unwrap_err()) > 100);
        for _ in 0..40 {
            g.failed("alice", None, t);
        }
        assert!(retry_after(g.check("alice", None, t).unwrap_err()) <= 900);
    }

    #[test]
    fn an_address_is_locked_out_across_names_and_a_success_does_not_clear_it() {
        let t = Instant::now();
        let g = guard(0, 4);
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        for i in 0..3 {
            g.failed(&format!("user{i}"), Some(ip), t);
        }
        g.succeeded("user0");
        assert!(g.check("anyone", Some(ip), t).is_ok());
        g.failed("user3", Some(ip), t);
        assert!(g.check("anyone", Some(ip), t).is_err());
        assert!(g.check("anyone", Some("192.0.2.9".parse().unwrap()), t).is_ok());
        assert!(g.check("anyone", None, t).is_ok());
    }

    #[test]
    fn a_success_clears_the_names_count() {
        let t = Instant::now();
        let g = guard(2, 0);
        g.failed("alice", None, t);
        g.succeeded("alice");
        g.failed("alice", None, t);
        assert!(g.check("alice", None, t).is_ok());
    }
}
