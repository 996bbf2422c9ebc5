//! How a key manager treats its clients' secrets, WSO2's way, spelled the same for every connector:
//!
//! - `client_secret_storage = "hashed"` (the default): a secret is shown once, when it is made, and never read back.
//!   `"retrievable"` (WSO2's default): the keys' owner can see it again (`GET …/oauth-keys`). The resident seals it
//!   beside its hash; a provider that keeps secrets readable (Okta, Keycloak) is asked for it again.
//! - `multiple_secrets = false` keeps one secret per client (a new one replaces it: regenerate); `true` (the
//!   default) allows several.
//! - `max_secrets_per_client` (WSO2's `secret_count`): the most a client may hold, never more than the provider's own
//!   limit.

use crate::config::KeyManagerConfig;
use crate::descriptor::Setting;
use crate::error::ConfigError;
use crate::{Error, Result};

/// How client secrets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretStorage {
    /// Shown once, when made; never read back (the resident keeps a SHA-256 hash only). The default.
    #[default]
    Hashed,
    /// Shown again to the keys' owner (WSO2's default).
    Retrievable,
}

impl SecretStorage {
    /// The `client_secret_storage` setting alone, for a connector whose provider keeps one secret per client.
    /// `retrievable` says how this connector shows a secret again.
    pub fn setting(retrievable: &str) -> Setting {
        Setting::string(
            "client_secret_storage",
            &format!("hashed: a secret is shown once; retrievable: {retrievable}"),
        )
        .one_of(&["hashed", "retrievable"])
        .default_value("hashed")
    }

    /// The value of a `client_secret_storage` setting (its descriptor allows only `hashed` and `retrievable`).
    pub fn parse(value: &str) -> SecretStorage {
        match value {
            "retrievable" => SecretStorage::Retrievable,
            _ => SecretStorage::Hashed,
        }
    }
}

/// A key manager's rules for its clients' secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecretPolicy {
    /// Hashed or retrievable.
    pub storage: SecretStorage,
    /// The most secrets a client may hold; `None` = the provider's own limit (or none).
    pub max_per_client: Option<u32>,
}

/// The values of a table's three secret settings, as its connector's table type read them.
#[derive(Debug, Clone, Default)]
pub struct SecretSettings {
    /// `max_secrets_per_client`.
    pub max_secrets_per_client: Option<u64>,
    /// `multiple_secrets`.
    pub multiple_secrets: bool,
    /// `client_secret_storage`.
    pub client_secret_storage: String,
}

impl SecretPolicy {
    /// The three settings as a connector's descriptor declares them. `retrievable` says how this connector shows a
    /// secret again.
    pub fn settings(retrievable: &str) -> Vec<Setting> {
        vec![
            Setting::integer(
                "max_secrets_per_client",
                "Most secrets per client (the provider's own limit when unset); WSO2's secret_count",
            ),
            Setting::boolean("multiple_secrets", "Whether a client may hold more than one secret").default_value(true),
            SecretStorage::setting(retrievable),
        ]
    }

    /// The policy a table sets, checked against the provider's own limit (`provider_max`): a count of 0, one above
    /// that limit, or more than one with `multiple_secrets = false` is refused by name.
    pub fn from_settings(
        km: &KeyManagerConfig,
        values: SecretSettings,
        provider_max: Option<u32>,
    ) -> std::result::Result<Self, ConfigError> {
        const FIELD: &str = "max_secrets_per_client";
        let max = match values.max_secrets_per_client {
            Some(0) => return Err(km.error(Some(FIELD), "must be at least 1 (omit it for no limit)")),
            Some(n) => Some(u32::try_from(n).map_err(|_| km.error(Some(FIELD), "is too large"))?),
            None => None,
        };
        if let (Some(m), Some(p)) = (max, provider_max) {
            if m > p {
                return Err(km.error(
                    Some(FIELD),
                    format!("is {m}, but this provider keeps at most {p} secrets per client"),
                ));
            }
        }
        let max = match (values.multiple_secrets, max) {
            (true, m) => m,
            (false, None | Some(1)) => Some(1),
            (false, Some(_)) => return Err(km.error(Some(FIELD), "more than 1 contradicts multiple_secrets = false")),
        };
        Ok(SecretPolicy {
            storage: SecretStorage::parse(&values.client_secret_storage),
            max_per_client: max,
        })
    }

    /// The most secrets a client may hold here: this policy's limit, else the provider's.
    pub fn max(&self, provider_max: Option<u32>) -> Option<u32> {
        match (self.max_per_client, provider_max) {
            (Some(m), Some(p)) => Some(m.min(p)),
            (m, p) => m.or(p),
        }
    }

    /// Whether a secret is shown again.
    pub fn retrievable(&self) -> bool {
        self.storage == SecretStorage::Retrievable
    }

    /// Whether this policy allows fewer secrets than the provider keeps (`provider_max`), so a connector must count
    /// a client's secrets itself before making one ([`check_room`](Self::check_room)).
    pub fn stricter_than(&self, provider_max: u32) -> bool {
        self.max_per_client.is_some_and(|m| m < provider_max)
    }

    /// Refuse one more secret for a client that holds `held`, when this policy allows no more (the provider's own
    /// limit is the provider's to enforce). `LimitExceeded`, naming the setting.
    pub fn check_room(&self, client_id: &str, held: usize) -> Result<()> {
        match self.max_per_client {
            Some(max) if held >= max as usize => Err(Error::limit_exceeded(
                format!(
                    "client {client_id} already has {held} secret(s); at most {max} are allowed \
                     (max_secrets_per_client{}). Delete one first, or regenerate the secret.",
                    if max == 1 { ", multiple_secrets = false" } else { "" }
                ),
                Some(max),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn km() -> KeyManagerConfig {
        KeyManagerConfig {
            name: "km".into(),
            kind: "test".into(),
            allow_insecure_http: false,
            settings: Default::default(),
            source: None,
        }
    }

    fn read(max: Option<u64>, multiple: bool, storage: &str, provider: Option<u32>) -> Result<SecretPolicy, String> {
        let values = SecretSettings {
            max_secrets_per_client: max,
            multiple_secrets: multiple,
            client_secret_storage: storage.into(),
        };
        SecretPolicy::from_settings(&km(), values, provider).map_err(|e| e.to_string())
    }

    #[test]
    fn settings_are_read_and_contradictions_refused_by_name() {
        let p = read(None, true, "hashed", Some(2)).unwrap();
        assert_eq!(
            (p.storage, p.max_per_client, p.max(Some(2))),
            (SecretStorage::Hashed, None, Some(2))
        );
        let p = read(None, false, "retrievable", Some(2)).unwrap();
        assert!(p.retrievable());
        assert_eq!(p.max(Some(2)), Some(1));
        assert_eq!(read(Some(5), true, "hashed", None).unwrap().max(None), Some(5));
        for (max, multiple, provider, says) in [
            (Some(0), true, None, "at least 1"),
            (Some(3), true, Some(2), "at most 2"),
            (Some(2), false, None, "contradicts multiple_secrets"),
            (Some(u64::MAX), true, None, "too large"),
        ] {
            let e = read(max, multiple, "hashed", provider).unwrap_err();
            assert!(e.contains("max_secrets_per_client") && e.contains(says), "{e}");
        }
    }

    #[test]
    fn room_is_checked_against_the_policy_only() {
        let one = read(None, false, "hashed", Some(2)).unwrap();
        assert!(one.check_room("c", 0).is_ok());
        let e = one.check_room("c", 1).unwrap_err();
        assert!(matches!(e, Error::LimitExceeded { limit: Some(1), .. }), "{e:?}");
        assert!(e.to_string().contains("multiple_secrets = false"), "{e}");
        assert!(one.stricter_than(2) && !one.stricter_than(1));
        let open = read(None, true, "hashed", Some(2)).unwrap();
        assert!(open.check_room("c", 7).is_ok(), "the provider enforces its own limit");
        assert!(
            !open.stricter_than(2),
            "no count needed: the provider enforces its own limit"
        );
    }
}
