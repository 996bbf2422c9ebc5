//! The token endpoint's DPoP nonces (RFC 9449 §8), when `dpop_nonce` is on: a proof must carry a nonce this server
//! handed out recently, so a proof made ahead of time (by malware that can sign but not send later) is useless.
//!
//! A nonce names a one-minute window and carries an HMAC of it under a key every node on the store shares (settled
//! in the store once, like the issuer): any node accepts any node's nonce, nothing is written per nonce, and a
//! nonce stays good for the window it was made in and the next one (one to two minutes). Every answer of the token
//! endpoint carries the current nonce in `DPoP-Nonce`; a proof without a good one is `use_dpop_nonce`.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use keymanager::connector_kit::Result;

use crate::store::Store;

/// Seconds each nonce window lasts.
pub const NONCE_WINDOW_SECONDS: i64 = 60;

/// The shared key nonces are made with.
pub(crate) struct NonceKey(hmac::Key);

impl NonceKey {
    /// The store's nonce key, made by the first node that asks.
    pub(crate) async fn settle(store: &Store) -> Result<NonceKey> {
        let key = store
            .settle_fact("dpop_nonce_key", &crate::crypto::random_token(32))
            .await?;
        Ok(NonceKey(hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes())))
    }

    /// The nonce to hand out at `now`.
    pub(crate) fn current(&self, now: i64) -> String {
        self.of_window(now.div_euclid(NONCE_WINDOW_SECONDS))
    }

    /// The nonces a proof may carry at `now`: this window's and the previous one's.
    pub(crate) fn accepted(&self, now: i64) -> [String; 2] {
        let window = now.div_euclid(NONCE_WINDOW_SECONDS);
        [self.of_window(window), self.of_window(window.saturating_sub(1))]
    }

    fn of_window(&self, window: i64) -> String {
        let mut message = b"keymanager dpop nonce ".to_vec();
        message.extend_from_slice(&window.to_be_bytes());
        let tag = hmac::sign(&self.0, &message);
        let mut nonce = window.to_be_bytes().to_vec();
        nonce.extend_from_slice(&tag.as_ref()[..16]);
        URL_SAFE_NO_PAD.encode(nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_good_for_its_window_and_the_next() {
        let key = NonceKey(hmac::Key::new(hmac::HMAC_SHA256, b"k"));
        let other = NonceKey(hmac::Key::new(hmac::HMAC_SHA256, b"another"));
        let t = 1_800_000_000;
        let nonce = key.current(t);
        assert!(key.accepted(t + NONCE_WINDOW_SECONDS).contains(&nonce));
        assert!(!key.accepted(t + 2 * NONCE_WINDOW_SECONDS).contains(&nonce));
        assert!(!other.accepted(t).contains(&nonce), "another store's key");
        assert_ne!(key.current(t), key.current(t + NONCE_WINDOW_SECONDS));
    }
}
