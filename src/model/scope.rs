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

/// Scope tokens in their order, each once: what a client may ask for, what a token grants. Read from text only by
/// [`parse_scope`] ([`Scopes::parse`], for what this program accepts) or [`scope_tokens`] ([`Scopes::from_peer`], for
/// what another server says); printed space-joined as RFC 6749 §3.3 spells a `scope` value ([`Display`]); in JSON a
/// list of strings, as the management API writes it. It reads as a slice of tokens.
///
/// ```
/// use keymanager::model::Scopes;
/// let s = Scopes::parse("openid orders:read openid").unwrap();
/// assert_eq!(s.to_string(), "openid orders:read");
/// assert!(s.contains("orders:read"));
/// assert_eq!(serde_json::to_string(&s).unwrap(), r#"["openid","orders:read"]"#);
/// assert_eq!(Scopes::from_peer(" a  b a").to_string(), "a b");
/// assert!(Scopes::parse("a  b").is_err());
/// ```
///
/// [`Display`]: std::fmt::Display
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// No scope.
    pub fn new() -> Self {
        Scopes(Vec::new())
    }

    /// A `scope` value this program accepts ([`parse_scope`]'s rules).
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_scope(text).map(Scopes)
    }

    /// Scopes a person typed into a form: the tokens may be separated by any run of white space, and each must be a
    /// valid scope token ([`parse_scope`]'s other rules).
    ///
    /// ```
    /// use keymanager::model::Scopes;
    /// assert_eq!(Scopes::typed(" openid\torders:read  ").unwrap().to_string(), "openid orders:read");
    /// assert!(Scopes::typed("a \"b\"").is_err());
    /// ```
    pub fn typed(text: &str) -> Result<Self, String> {
        Self::parse(&text.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// A `scope` value another server sent ([`scope_tokens`]' leniency).
    pub fn from_peer(text: &str) -> Self {
        Scopes(scope_tokens(text))
    }

    /// Whether `scope` is among them.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    /// Add a scope at the end unless it is there already.
    pub fn push(&mut self, scope: impl Into<String>) {
        let scope = scope.into();
        if !self.contains(&scope) {
            self.0.push(scope);
        }
    }

    /// The tokens.
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

impl std::ops::Deref for Scopes {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl<S: Into<String>> FromIterator<S> for Scopes {
    /// Each token once, in its first place (not checked: built from values already parsed or declared).
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut out = Scopes::new();
        for s in iter {
            out.push(s);
        }
        out
    }
}

impl From<Vec<String>> for Scopes {
    fn from(v: Vec<String>) -> Self {
        v.into_iter().collect()
    }
}

impl From<Scopes> for Vec<String> {
    fn from(s: Scopes) -> Self {
        s.0
    }
}

impl IntoIterator for Scopes {
    type Item = String;
    type IntoIter = std::vec::IntoIter<String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Scopes {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<const N: usize> PartialEq<[&str; N]> for Scopes {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.0.len() == N && self.0.iter().zip(other).all(|(a, b)| a == b)
    }
}

impl PartialEq<Vec<String>> for Scopes {
    fn eq(&self, other: &Vec<String>) -> bool {
        &self.0 == other
    }
}

impl PartialEq<Vec<&str>> for Scopes {
    fn eq(&self, other: &Vec<&str>) -> bool {
        self.0.len() == other.len() && self.0.iter().zip(other).all(|(a, b)| a == b)
    }
}
