//! OAuth 2.0 scopes.

use serde::{Deserialize, Serialize};

/// A scope a key manager knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// The scope token, as requested in `scope` (RFC 6749 §3.3).
    pub name: String,
    /// A human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A display name, where the provider has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl Scope {
    /// A scope with just a name.
    pub fn new(name: impl Into<String>) -> Self {
        Scope {
            name: name.into(),
            description: None,
            display_name: None,
        }
    }
}

/// Whether `s` is a valid scope token: `1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 §3.3).
///
/// ```
/// assert!(keymanager::model::is_valid_scope_token("orders:read"));
/// assert!(!keymanager::model::is_valid_scope_token("two words"));
/// ```
pub fn is_valid_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}
