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

/// Parse a `scope` parameter (RFC 6749 §3.3): scope tokens separated by single spaces. The one parser of scope
/// strings: every endpoint and connector reads `scope` through it. Repeated tokens are kept once, in their first
/// place; an empty string is no scope. An empty token (two spaces, a leading or trailing space), a character
/// outside the scope-token syntax, or more than [`MAX_SCOPES`](super::MAX_SCOPES) tokens is an error.
///
/// ```
/// use keymanager::model::parse_scope;
/// assert_eq!(parse_scope("openid orders:read openid").unwrap(), vec!["openid", "orders:read"]);
/// assert!(parse_scope("").unwrap().is_empty());
/// assert!(parse_scope("a  b").is_err());
/// assert!(parse_scope("a\"b").is_err());
/// ```
pub fn parse_scope(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut out: Vec<String> = Vec::new();
    for token in text.split(' ') {
        if token.is_empty() {
            return Err("scope tokens are separated by single spaces (RFC 6749 §3.3)".into());
        }
        if !is_valid_scope_token(token) {
            let shown: String = token.escape_debug().take(100).collect();
            return Err(format!("`{shown}` is not a valid scope token (RFC 6749 §3.3)"));
        }
        if !out.iter().any(|s| s == token) {
            if out.len() == super::MAX_SCOPES {
                return Err(format!("at most {} scopes", super::MAX_SCOPES));
            }
            out.push(token.to_owned());
        }
    }
    Ok(out)
}

/// Read a scope string a peer sent (a provider's token answer or registration, a token's `scope` claim): the
/// tokens separated by spaces, empty ones ignored, repeats kept once. What this program *accepts* from its own
/// callers goes through [`parse_scope`], which refuses anything outside RFC 6749 §3.3; what another server says its
/// scopes are is taken as it says them.
///
/// ```
/// use keymanager::model::scope_tokens;
/// assert_eq!(scope_tokens(" openid  orders:read openid"), vec!["openid", "orders:read"]);
/// ```
pub fn scope_tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in text.split(' ').filter(|t| !t.is_empty()) {
        if !out.iter().any(|s| s == token) {
            out.push(token.to_owned());
        }
    }
    out
}
