//! Per-caller write quotas on the management API: every change writes an audit row, so a caller who may change
//! things must not be able to write them without bound (review 2: one developer wrote ~1,200 audit rows a second).
//!
//! A token bucket per caller ([`QuotaSettings`]: by default [`WRITE_BURST`] changes at once, refilled at
//! [`WRITES_PER_SECOND`]; `[server] api_write_burst` and `api_writes_per_second`), for the holders of access
//! tokens; admin tokens (the operators) are not limited. A change past the quota is `429` with
//! `Retry-After`, and the first refusal of a run is audited (one record, not one per refused request). The buckets
//! live in this process and are bounded (`MAX_CALLERS`); behind several nodes each counts its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Default changes a caller may make at once.
pub const WRITE_BURST: u32 = 50;
/// Default changes a second a caller's quota refills by.
pub const WRITES_PER_SECOND: u32 = 10;

/// A caller's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSettings {
    /// Changes at once.
    pub burst: u32,
    /// Changes a second, sustained.
    pub per_second: u32,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        QuotaSettings {
            burst: WRITE_BURST,
            per_second: WRITES_PER_SECOND,
        }
    }
}
/// Most callers tracked; past it, the bucket idle longest is forgotten (a forgotten caller starts full).
pub(crate) const MAX_CALLERS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// Whether the last change was refused (the next refusal of the same run is not audited again).
    refusing: bool,
}

/// What the quota says of one change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Decision {
    /// Within the quota.
    Allowed,
    /// Over it: wait this long; `first` when it is the first refusal of a run (to audit).
    Refused {
        /// When a change will be allowed again.
        retry_after: Duration,
        /// The first refusal since the caller was last allowed.
        first: bool,
    },
}

/// The buckets of every caller.
#[derive(Debug, Default)]
pub(crate) struct WriteQuota {
    settings: QuotaSettings,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl WriteQuota {
    /// Buckets of this size.
    pub(crate) fn new(settings: QuotaSettings) -> Self {
        WriteQuota {
            settings,
            buckets: Mutex::default(),
        }
    }

    /// Take one change from `caller`'s bucket at `now`.
    pub(crate) fn take(&self, caller: &str, now: Instant) -> Decision {
        let mut all = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() >= MAX_CALLERS && !all.contains_key(caller) {
            if let Some(idle) = all.iter().min_by_key(|(_, b)| b.at).map(|(k, _)| k.clone()) {
                all.remove(&idle);
            }
        }
        let (burst, rate) = (
            f64::from(self.settings.burst.max(1)),
            f64::from(self.settings.per_second.max(1)),
        );
        let b = all.entry(caller.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
            refusing: false,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            b.refusing = false;
            return Decision::Allowed;
        }
        let first = !b.refusing;
        b.refusing = true;
        let wait = ((1.0 - b.tokens) / rate).max(0.001);
        Decision::Refused {
            retry_after: Duration::from_secs_f64(wait),
            first,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_refill_rate_and_one_audit_per_run() {
        let q = WriteQuota::default();
        let t = Instant::now();
        for _ in 0..WRITE_BURST {
            assert_eq!(q.take("alice", t), Decision::Allowed);
        }
        assert!(matches!(q.take("alice", t), Decision::Refused { first: true, .. }));
        assert!(matches!(q.take("alice", t), Decision::Refused { first: false, .. }));
        assert_eq!(
            q.take("bob", t),
            Decision::Allowed,
            "one caller's quota is theirs alone"
        );
        let later = t + Duration::from_millis(150);
        assert_eq!(q.take("alice", later), Decision::Allowed, "refilled at the rate");
        assert!(matches!(q.take("alice", later), Decision::Refused { first: true, .. }));
    }
}
