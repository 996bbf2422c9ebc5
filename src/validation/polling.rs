//! Revocations: applied at once when made through this validator, polled from the key managers and feeds otherwise.

use super::*;

impl TokenValidator {
    /// Record a revocation made through this process: it applies at once.
    pub fn revoked(&self, key_manager: &str, revoked: &Revoked) {
        self.revocations.add(key_manager, revoked);
    }

    /// Record that this token value was revoked (any format), until `expires_at`.
    pub fn revoked_token(&self, key_manager: &str, token: &str, expires_at: i64) {
        self.revocations.add(
            key_manager,
            &Revoked::TokenHash {
                hash: URL_SAFE_NO_PAD.encode(sha256(token)),
                expires_at,
            },
        );
    }

    /// Poll every key manager's revocation record once (what [`spawn_revocation_poller`](Self::spawn_revocation_poller)
    /// does on its interval).
    pub async fn poll_revocations(&self) {
        let since = *self.polled_until.lock().unwrap_or_else(|p| p.into_inner());
        let started = self.clock.now();
        let mut ok = true;
        let keys = self.keys();
        for km in &keys.key_managers {
            match km.revocations_since(since).await {
                Ok(Some(list)) => list.iter().for_each(|r| self.revocations.add(km.name(), r)),
                Ok(None) => {}
                Err(e) => {
                    ok = false;
                    tracing::warn!(key_manager = km.name(), error = %e, "cannot read revocations");
                }
            }
        }
        for feed in &self.feeds {
            match feed.revoked_since(since).await {
                Ok(list) => list.iter().for_each(|(km, r)| self.revocations.add(km, r)),
                Err(e) => {
                    ok = false;
                    tracing::warn!(error = %e, "cannot read the revocation feed");
                }
            }
        }
        self.revocations.purge(started);
        if ok {
            // Overlap by a second: records made in the second we read are read again, never missed.
            *self.polled_until.lock().unwrap_or_else(|p| p.into_inner()) = started - 1;
        }
    }

    /// Poll revocations now and then every `revocation_poll_interval`, until the validator is dropped.
    pub fn spawn_revocation_poller(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let every = self.settings.revocation_poll_interval;
        tokio::spawn(async move {
            loop {
                let Some(v) = weak.upgrade() else { return };
                v.poll_revocations().await;
                drop(v);
                tokio::time::sleep(every).await;
            }
        })
    }
}
