//! Secrets kept so they can be read again (retrievable client secrets, connector credentials), sealed with
//! AES-256-GCM (`aws-lc-rs`) under a key that never enters the database.
//!
//! The keys come from `KEYMANAGER_SECRET_KEY`, else from `DATA_DIR/secret-key` (created with one new random key,
//! 0600, when missing): one or more `ID:KEY` entries (comma- or newline-separated; KEY is 32 bytes in base64url),
//! the first sealing, every one opening. To rotate, put a new entry first and keep the old ones until everything
//! sealed with them has been sealed again (a regenerated secret is sealed with the first key).
//!
//! A sealed value reads `v1.ID.NONCE.CIPHERTEXT` and is bound to its place (`context`, say the client and secret
//! ids) as associated data, so a value copied to another row does not open.

use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::{Error, Result};

/// The environment variable that holds the keys.
pub const SECRET_KEY_ENV: &str = "KEYMANAGER_SECRET_KEY";

/// The file in the data directory that holds the keys when the variable is not set.
pub const SECRET_KEY_FILE: &str = "secret-key";

/// The sealing keys. `Debug` shows their ids only.
pub struct SecretBox {
    keys: Vec<(String, LessSafeKey)>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("SecretBox").field("key_ids", &ids).finish()
    }
}

fn bad_keys(why: impl std::fmt::Display) -> Error {
    Error::Configuration(crate::error::ConfigError::new(format!(
        "the secret key ({SECRET_KEY_ENV} or DATA_DIR/{SECRET_KEY_FILE}) {why}"
    )))
}

impl SecretBox {
    /// Read keys from their text: `ID:KEY` entries, comma- or newline-separated, the first sealing.
    pub fn from_text(text: &str) -> Result<SecretBox> {
        let mut keys: Vec<(String, LessSafeKey)> = Vec::new();
        for entry in text.split([',', '\n']).map(str::trim).filter(|e| !e.is_empty()) {
            let (id, key) = entry
                .split_once(':')
                .ok_or_else(|| bad_keys("holds an entry that is not ID:KEY"))?;
            if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b)) {
                return Err(bad_keys(
                    "holds a key id that is not 1 to 32 letters, digits, `_` or `-`",
                ));
            }
            if keys.iter().any(|(k, _)| k == id) {
                return Err(bad_keys(format!("names key `{id}` twice")));
            }
            let bytes = URL_SAFE_NO_PAD
                .decode(key)
                .map_err(|_| bad_keys(format!("key `{id}` is not base64url")))?;
            if bytes.len() != 32 {
                return Err(bad_keys(format!("key `{id}` is not 32 bytes")));
            }
            let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| bad_keys("cannot be used"))?;
            keys.push((id.to_owned(), LessSafeKey::new(unbound)));
        }
        if keys.is_empty() {
            return Err(bad_keys("holds no key"));
        }
        Ok(SecretBox { keys })
    }

    /// The keys of this process: `KEYMANAGER_SECRET_KEY`, else `dir/secret-key`, created (0600, one new key) when
    /// missing.
    pub fn load(dir: Option<&Path>) -> Result<SecretBox> {
        if let Ok(text) = std::env::var(SECRET_KEY_ENV) {
            return SecretBox::from_text(&text);
        }
        let dir = dir.ok_or_else(|| bad_keys("is needed, and there is no data directory to keep it in"))?;
        let path = dir.join(SECRET_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => SecretBox::from_text(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = format!("k1:{}\n", new_key()?);
                write_private(&path, &text)
                    .map_err(|e| bad_keys(format!("cannot be created at {}: {e}", path.display())))?;
                tracing::info!(path = %path.display(), "created a secret key for retrievable secrets");
                SecretBox::from_text(&text)
            }
            Err(e) => Err(bad_keys(format!("cannot be read from {}: {e}", path.display()))),
        }
    }

    /// The keys of this process when there are any (`KEYMANAGER_SECRET_KEY`, else `dir/secret-key`), creating
    /// none: for a process that only reads what another sealed.
    pub fn load_existing(dir: Option<&Path>) -> Result<Option<SecretBox>> {
        if let Ok(text) = std::env::var(SECRET_KEY_ENV) {
            return SecretBox::from_text(&text).map(Some);
        }
        let Some(dir) = dir else { return Ok(None) };
        let path = dir.join(SECRET_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => SecretBox::from_text(&text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(bad_keys(format!("cannot be read from {}: {e}", path.display()))),
        }
    }

    /// Seal `plain` for `context` with the first key.
    pub fn seal(&self, plain: &str, context: &str) -> Result<String> {
        let (id, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| Error::storage("no randomness for a nonce"))?;
        let mut data = plain.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut data,
        )
        .map_err(|_| Error::storage("a secret could not be sealed"))?;
        Ok(format!(
            "v1.{id}.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(&data)
        ))
    }

    /// Open a value sealed for `context`; a value of an unknown key, another context or altered bytes is a storage
    /// fault that names the key id, never the value.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String> {
        let mut parts = sealed.split('.');
        let (Some("v1"), Some(id), Some(nonce), Some(data), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::storage("a sealed secret is not in the v1 format"));
        };
        let (_, key) =
            self.keys.iter().find(|(k, _)| k == id).ok_or_else(|| {
                Error::storage(format!("a secret is sealed with key `{id}`, which is not configured"))
            })?;
        let nonce: [u8; NONCE_LEN] = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| Error::storage("a sealed secret's nonce is malformed"))?;
        let mut data = URL_SAFE_NO_PAD
            .decode(data)
            .map_err(|_| Error::storage("a sealed secret is not base64url"))?;
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| {
                Error::storage(format!(
                    "a secret sealed with key `{id}` does not open (altered, or moved)"
                ))
            })?;
        String::from_utf8(plain.to_vec()).map_err(|_| Error::storage("a sealed secret is not text"))
    }
}

/// A new random key, base64url.
pub fn new_key() -> Result<String> {
    let mut key = [0u8; 32];
    aws_lc_rs::rand::fill(&mut key).map_err(|_| Error::storage("no randomness for a key"))?;
    Ok(URL_SAFE_NO_PAD.encode(key))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_place_and_with_their_key() {
        let (k1, k2) = (new_key().unwrap(), new_key().unwrap());
        let old = SecretBox::from_text(&format!("k1:{k1}")).unwrap();
        let sealed = old.seal("s3cret-value", "client_secret:c1:s1").unwrap();
        assert!(sealed.starts_with("v1.k1.") && !sealed.contains("s3cret"));
        assert_eq!(old.open(&sealed, "client_secret:c1:s1").unwrap(), "s3cret-value");
        assert!(
            old.open(&sealed, "client_secret:c2:s1").is_err(),
            "moved to another row"
        );
        let mut altered = sealed.clone();
        altered.pop();
        altered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(old.open(&altered, "client_secret:c1:s1").is_err());
        // Rotation: a new first key seals, the old one still opens.
        let rotated = SecretBox::from_text(&format!("k2:{k2},k1:{k1}")).unwrap();
        assert_eq!(rotated.open(&sealed, "client_secret:c1:s1").unwrap(), "s3cret-value");
        assert!(rotated.seal("x", "c").unwrap().starts_with("v1.k2."));
        let without_old = SecretBox::from_text(&format!("k2:{k2}")).unwrap();
        let err = without_old
            .open(&sealed, "client_secret:c1:s1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("k1") && !err.contains("s3cret"), "{err}");
        assert!(!format!("{rotated:?}").contains(&k1), "Debug shows ids only");
        for bad in [
            "",
            "k1",
            "k1:short",
            "k 1:".to_owned().as_str(),
            &format!("k1:{k1},k1:{k2}"),
        ] {
            assert!(SecretBox::from_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_missing_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretBox::load(Some(dir.path())).unwrap();
        let sealed = first.seal("v", "ctx").unwrap();
        let again = SecretBox::load(Some(dir.path())).unwrap();
        assert_eq!(again.open(&sealed, "ctx").unwrap(), "v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
