//! The resident's signing keys as an operation ([`SigningKeyAdmin`]): listed, rotated with a pre-publication, one
//! retired at once; and rotated on a schedule when `signing_key_rotate_every` is set.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keymanager::connector_kit::{Error, Result};
use keymanager::connector_kit::{KeyRotation, SigningKeyAdmin, SigningKeyInfo};

use crate::settings::MAX_SIGNING_KEY_PRE_PUBLICATION;
use crate::ResidentServer;

#[async_trait]
impl SigningKeyAdmin for ResidentServer {
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyInfo>> {
        self.keys.list().await
    }

    async fn rotate_signing_keys(&self, rotation: KeyRotation) -> Result<Vec<SigningKeyInfo>> {
        let pre_publish = rotation
            .pre_publish_seconds
            .unwrap_or(self.settings.signing_key_pre_publication);
        if pre_publish > MAX_SIGNING_KEY_PRE_PUBLICATION {
            return Err(Error::invalid_field(
                "prePublishSeconds",
                format!("must be from 0 to {MAX_SIGNING_KEY_PRE_PUBLICATION} seconds (a week)"),
            ));
        }
        if let Some(after) = rotation.retire_after_seconds {
            keymanager::connector_kit::model::check_duration("retireAfterSeconds", after)?;
        }
        self.keys
            .rotate_with(pre_publish, rotation.retire_after_seconds)
            .await?;
        self.keys.list().await
    }

    async fn retire_signing_key(&self, kid: &str) -> Result<SigningKeyInfo> {
        self.keys.retire(kid).await
    }

    fn longest_token_lifetime(&self) -> u64 {
        u64::try_from(self.keys.keep_retired_for()).unwrap_or(0)
    }
}

impl ResidentServer {
    /// With `signing_key_rotate_every` set, check every minute (or sooner for short periods) and rotate when the
    /// newest key is that old. Several nodes may rotate at about the same moment; the later keys win and the earlier
    /// ones verify what they signed, so the cost is one extra key in the JWKS.
    pub fn spawn_scheduled_rotation(self: &Arc<Self>) {
        let Some(every) = self.settings.signing_key_rotate_every else {
            return;
        };
        let server = Arc::downgrade(self);
        let period = Duration::from_secs(every.clamp(1, 60));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let Some(server) = server.upgrade() else { return };
                if let Err(e) = server.rotate_when_due(every).await {
                    tracing::warn!(error = %e, "scheduled signing-key rotation failed; trying again later");
                }
            }
        });
    }

    /// Without push between nodes (SQLite), look at the stored keys every `period` and reload them when another
    /// process changed them, so a rotation or retirement elsewhere applies here within `period`.
    pub fn spawn_signing_key_poller(self: &Arc<Self>, period: Duration) {
        let server = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let Some(server) = server.upgrade() else { return };
                if let Err(e) = server.keys.refresh_if_changed().await {
                    tracing::warn!(error = %e, "cannot look at the signing keys; trying again");
                }
            }
        });
    }

    /// Rotate when the newest key is `every` seconds old; whether it did.
    pub async fn rotate_when_due(&self, every: u64) -> Result<bool> {
        let newest = self.keys.list().await?.iter().map(|k| k.created_at).max();
        let due =
            newest.is_none_or(|at| self.store.now().saturating_sub(at) >= i64::try_from(every).unwrap_or(i64::MAX));
        if due {
            let kid = self
                .keys
                .rotate_with(self.settings.signing_key_pre_publication, None)
                .await?;
            tracing::info!(kid = %kid, every, "rotated the signing keys on schedule");
        }
        Ok(due)
    }
}
