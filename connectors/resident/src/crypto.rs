//! Random values, secret hashing and constant-time comparison.
//!
//! Server-generated secrets carry 256 random bits, so a fast hash (SHA-256) is enough to store them: a slow
//! password hash would add ~20 ms to every client authentication without making a 256-bit secret any harder to
//! guess.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// `n` random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // SystemRandom only fails when the OS has no entropy source, which leaves nothing sensible to do.
    #[allow(clippy::expect_used)]
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the operating system's random number generator failed");
    buf
}

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(n))
}

/// A new client id: 128 random bits in lowercase hex, so it never starts with `-` (which a command line would take
/// for an option) and survives any shell, URL or file name unquoted.
pub fn new_client_id() -> String {
    random_bytes(16).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new 256-bit client secret.
pub fn new_secret() -> String {
    random_token(32)
}

/// SHA-256 of `value`, base64url.
pub fn hash(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value.as_bytes()))
}

/// Whether `presented` hashes to `stored_hash`, compared in constant time.
pub fn verify(presented: &str, stored_hash: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(hash(presented).as_bytes(), stored_hash.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bit_unique_and_verify_only_themselves() {
        let a = new_secret();
        let b = new_secret();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, b);
        let h = hash(&a);
        assert!(verify(&a, &h));
        assert!(!verify(&b, &h));
        assert!(!h.contains(&a));
    }

    #[test]
    fn client_ids_are_128_bit_hex_and_never_look_like_an_option() {
        for _ in 0..1000 {
            let id = new_client_id();
            assert_eq!(id.len(), 32);
            assert!(
                id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{id}"
            );
        }
        assert_ne!(new_client_id(), new_client_id());
    }
}
