//! Secrets kept so they can be read again (retrievable client secrets, connector credentials), sealed with
//! AES-256-GCM (`aws-lc-rs`) under a key that never enters the database.
//!
//! The keys come from `KEYMANAGER_SECRET_KEY`, else from `DATA_DIR/secret-key` (created with one new random key,
//! 0600, when missing): one or more entries (comma- or newline-separated), each `KEY` or `ID:KEY` (KEY is 32 bytes
//! in base64url), the first sealing, every one opening. To rotate, put a new entry first and keep the old ones
//! until everything sealed with them has been sealed again (a regenerated secret is sealed with the first key).
//!
//! **A key is named by its fingerprint** ([`fingerprint`]: `f` and 12 hex digits of a SHA-256 of the key), and
//! values are sealed under that name, so two nodes given different keys can never take each other's values for
//! their own: a node that finds a value sealed under a name it lacks says which keys it needs
//! ([`SecretBox::check_can_open`]). An `ID:KEY` entry of an earlier version (`k1:…`) still opens what was sealed
//! under its ID; a fingerprint-shaped ID that is not the key's own is refused.
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

/// One key: its fingerprint, the id an earlier version's entry gave it (if any), the key.
struct Key {
    fingerprint: String,
    legacy_id: Option<String>,
    key: LessSafeKey,
}

impl Key {
    fn named(&self, id: &str) -> bool {
        self.fingerprint == id || self.legacy_id.as_deref() == Some(id)
    }
}

/// The sealing keys. `Debug` shows their fingerprints only.
pub struct SecretBox {
    keys: Vec<Key>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox").field("key_ids", &self.key_ids()).finish()
    }
}

/// The name of a key: `f` and the first 12 hex digits of SHA-256 over a fixed label and the key's 32 bytes. Not
/// reversible; the same key always has the same name on every node.
pub fn fingerprint(key: &[u8]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(b"keymanager secret key v1\0");
    ctx.update(key);
    let digest = ctx.finish();
    let hex: String = digest.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("f{hex}")
}

fn looks_like_fingerprint(id: &str) -> bool {
    id.len() == 13 && id.starts_with('f') && id[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn bad_keys(why: impl std::fmt::Display) -> Error {
    Error::Configuration(crate::error::ConfigError::new(format!(
        "the secret key ({SECRET_KEY_ENV} or DATA_DIR/{SECRET_KEY_FILE}) {why}"
    )))
}

impl SecretBox {
    /// Read keys from their text: `KEY` or `ID:KEY` entries, comma- or newline-separated, the first sealing.
    pub fn from_text(text: &str) -> Result<SecretBox> {
        let mut keys: Vec<Key> = Vec::new();
        for entry in text.split([',', '\n']).map(str::trim).filter(|e| !e.is_empty()) {
            let (id, key) = match entry.split_once(':') {
                Some((id, key)) => (Some(id), key),
                None => (None, entry),
            };
            if let Some(id) = id {
                if id.is_empty()
                    || id.len() > 32
                    || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
                {
                    return Err(bad_keys(
                        "holds a key id that is not 1 to 32 letters, digits, `_` or `-`",
                    ));
                }
            }
            let shown = id.unwrap_or("(no id)");
            let bytes = URL_SAFE_NO_PAD
                .decode(key)
                .map_err(|_| bad_keys(format!("key `{shown}` is not base64url")))?;
            if bytes.len() != 32 {
                return Err(bad_keys(format!("key `{shown}` is not 32 bytes")));
            }
            let fp = fingerprint(&bytes);
            let legacy_id = match id {
                Some(id) if id == fp => None,
                Some(id) if looks_like_fingerprint(id) => {
                    return Err(bad_keys(format!(
                        "names a key `{id}`, but that key's fingerprint is `{fp}`: a key's id is its fingerprint"
                    )))
                }
                Some(id) => Some(id.to_owned()),
                None => None,
            };
            if keys
                .iter()
                .any(|k| k.fingerprint == fp || legacy_id.as_deref().is_some_and(|l| k.named(l)))
            {
                return Err(bad_keys(format!(
                    "names key `{}` twice",
                    legacy_id.as_deref().unwrap_or(&fp)
                )));
            }
            let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| bad_keys("cannot be used"))?;
            keys.push(Key {
                fingerprint: fp,
                legacy_id,
                key: LessSafeKey::new(unbound),
            });
        }
        if keys.is_empty() {
            return Err(bad_keys("holds no key"));
        }
        Ok(SecretBox { keys })
    }

    /// The names this node's keys answer to: each fingerprint, and an earlier version's id where one was given.
    pub fn key_ids(&self) -> Vec<String> {
        self.keys
            .iter()
            .flat_map(|k| std::iter::once(k.fingerprint.clone()).chain(k.legacy_id.clone()))
            .collect()
    }

    /// A new key's entry, `FINGERPRINT:KEY`, for `KEYMANAGER_SECRET_KEY` or the key file.
    pub fn new_entry() -> Result<String> {
        let key = new_key()?;
        let bytes = URL_SAFE_NO_PAD
            .decode(&key)
            .map_err(|_| Error::storage("a new key is not base64url"))?;
        Ok(format!("{}:{key}", fingerprint(&bytes)))
    }

    /// Check, before serving, that this node opens what the store holds: `sealed` is one sample value per key id
    /// found in the store, with its context. The error names every key id this node lacks (or holds under the
    /// same name but with other bytes) and the ids it has, in one line.
    pub fn check_can_open<'a>(&self, sealed: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<()> {
        let mut missing: Vec<String> = Vec::new();
        for (value, context) in sealed {
            let id = Self::key_id_of(value).unwrap_or("?").to_owned();
            if self.open(value, context).is_err() && !missing.contains(&id) {
                missing.push(id);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(bad_keys(format!(
            "cannot open what the store holds: it needs key(s) {}, and this node has {}; give every node the same \
             {SECRET_KEY_ENV}",
            missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
            self.key_ids()
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", "),
        )))
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
                let text = format!("{}\n", SecretBox::new_entry()?);
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

    /// The name of the key that seals: the first one's fingerprint.
    pub fn sealing_key_id(&self) -> &str {
        &self.keys[0].fingerprint
    }

    /// The key id a sealed value names (`v1.ID.…`), or `None` when it is not a sealed value.
    ///
    /// ```
    /// use keymanager::connector_kit::SecretBox;
    /// assert_eq!(SecretBox::key_id_of("v1.f0123456789ab.bm9uY2U.ZGF0YQ"), Some("f0123456789ab"));
    /// assert_eq!(SecretBox::key_id_of("plain text"), None);
    /// assert_eq!(SecretBox::key_id_of("v1..x.y"), None);
    /// ```
    pub fn key_id_of(sealed: &str) -> Option<&str> {
        let mut parts = sealed.split('.');
        match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("v1"), Some(id), Some(_), Some(_), None) if !id.is_empty() => Some(id),
            _ => None,
        }
    }

    /// `sealed` opened and sealed again under the first key, or `None` when the first key sealed it already (for
    /// `keymanager secret-key rotate`).
    pub fn reseal(&self, sealed: &str, context: &str) -> Result<Option<String>> {
        if Self::key_id_of(sealed).is_some_and(|id| self.keys[0].named(id)) {
            return Ok(None);
        }
        let plain = self.open(sealed, context)?;
        self.seal(&plain, context).map(Some)
    }

    /// Seal `plain` for `context` with the first key.
    pub fn seal(&self, plain: &str, context: &str) -> Result<String> {
        let Key {
            fingerprint: id, key, ..
        } = &self.keys[0];
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
        let key = &self
            .keys
            .iter()
            .find(|k| k.named(id))
            .ok_or_else(|| {
                bad_keys(format!(
                    "does not hold key `{id}`, which a stored secret is sealed with"
                ))
            })?
            .key;
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
                bad_keys(format!(
                    "does not open a secret sealed with key `{id}` (another key under that name, or the value was \
                     altered or moved)"
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
        let fp1 = fingerprint(&URL_SAFE_NO_PAD.decode(&k1).unwrap());
        assert!(
            sealed.starts_with(&format!("v1.{fp1}.")) && !sealed.contains("s3cret"),
            "{sealed}"
        );
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
        let fp2 = fingerprint(&URL_SAFE_NO_PAD.decode(&k2).unwrap());
        assert!(rotated.seal("x", "c").unwrap().starts_with(&format!("v1.{fp2}.")));
        let without_old = SecretBox::from_text(&format!("k2:{k2}")).unwrap();
        let err = without_old
            .open(&sealed, "client_secret:c1:s1")
            .unwrap_err()
            .to_string();
        assert!(err.contains(&fp1) && !err.contains("s3cret"), "{err}");
        assert!(!format!("{rotated:?}").contains(&k1), "Debug shows ids only");
        for bad in [
            "",
            "k1",
            "k1:short",
            "k 1:".to_owned().as_str(),
            &format!("k1:{k1},k1:{k2}"),
            &format!("{k1},{k1}"),
            &format!("f000000000000:{k1}"),
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

    #[test]
    fn keys_are_named_by_fingerprint_and_a_node_says_which_it_lacks() {
        let (k1, k2) = (new_key().unwrap(), new_key().unwrap());
        // Review 2, finding 9: two nodes given different keys under the same old-style id.
        let a = SecretBox::from_text(&format!("k1:{k1}")).unwrap();
        let b = SecretBox::from_text(&format!("k1:{k2}")).unwrap();
        let sealed_by_a = a.seal("v", "ctx").unwrap();
        assert!(b.open(&sealed_by_a, "ctx").is_err());
        let err = b
            .check_can_open([(sealed_by_a.as_str(), "ctx")])
            .unwrap_err()
            .to_string();
        let fp_a = fingerprint(&URL_SAFE_NO_PAD.decode(&k1).unwrap());
        let fp_b = fingerprint(&URL_SAFE_NO_PAD.decode(&k2).unwrap());
        assert!(
            err.contains(&fp_a) && err.contains(&fp_b),
            "names the key it needs and the one it has: {err}"
        );
        assert_ne!(fp_a, fp_b);
        assert!(a.check_can_open([(sealed_by_a.as_str(), "ctx")]).is_ok());
        // An old value sealed under `k1` opens on the node whose `k1` is that key.
        let legacy = sealed_by_a.replacen(&fp_a, "k1", 1);
        assert_eq!(a.open(&legacy, "ctx").unwrap(), "v");
        assert!(
            b.check_can_open([(legacy.as_str(), "ctx")]).is_err(),
            "another key named k1 does not pass"
        );
        // A generated entry is FINGERPRINT:KEY, and a bare key is named by its fingerprint too.
        let entry = SecretBox::new_entry().unwrap();
        let (id, key) = entry.split_once(':').unwrap();
        assert_eq!(id, fingerprint(&URL_SAFE_NO_PAD.decode(key).unwrap()));
        assert_eq!(SecretBox::from_text(key).unwrap().key_ids(), [id]);
        assert_eq!(SecretBox::from_text(&entry).unwrap().key_ids(), [id]);
    }
}
