//! The redirect URI policy (RFC 9700 §2.1, RFC 8252 §7): one check for every place a redirect URI enters.
//!
//! Accepted: `https://` with a host; `http://` only on a loopback IP literal (`127.0.0.0/8`, `[::1]`) with any
//! port (RFC 8252 §7.3); a private-use scheme in reverse-domain form (`com.example.app:/cb`, RFC 8252 §7.1).
//! Refused: control characters, wildcards, fragments, userinfo, schemes that run or embed content, and anything
//! longer than [`MAX_REDIRECT_URI_LENGTH`].

use std::net::IpAddr;

use url::{Host, Url};

/// Longest redirect URI accepted, in bytes.
pub const MAX_REDIRECT_URI_LENGTH: usize = 2000;

/// A character RFC 3986 lets a URI carry unencoded: unreserved, reserved (gen-delims and sub-delims), or the `%`
/// of a percent-encoding.
fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

/// Whether a redirect URI presented in a request is the registered one: the same string (RFC 6749 §3.1.2.3, RFC 9700
/// §4.1.3), or, for a loopback IP literal over plain http, the same but for the port, which a native app picks at
/// run time (RFC 8252 §7.3: the server must allow any port).
///
/// ```
/// use keymanager::model::redirect_uri_matches;
/// assert!(redirect_uri_matches("https://app.example/cb", "https://app.example/cb"));
/// assert!(redirect_uri_matches("http://127.0.0.1/callback", "http://127.0.0.1:53127/callback"));
/// assert!(redirect_uri_matches("http://[::1]:8080/cb", "http://[::1]:9090/cb"));
/// assert!(!redirect_uri_matches("http://127.0.0.1/callback", "http://127.0.0.1:53127/other"));
/// assert!(!redirect_uri_matches("http://localhost/cb", "http://localhost:5000/cb"));
/// assert!(!redirect_uri_matches("https://app.example/cb", "https://app.example:8443/cb"));
/// ```
pub fn redirect_uri_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Ok(r), Ok(p)) = (Url::parse(registered), Url::parse(presented)) else {
        return false;
    };
    let loopback = |u: &Url| match u.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    r.scheme() == "http"
        && p.scheme() == "http"
        && loopback(&r)
        && r.host() == p.host()
        && r.path() == p.path()
        && r.query() == p.query()
        && r.fragment().is_none()
        && p.fragment().is_none()
        && r.username().is_empty()
        && p.username().is_empty()
        && r.password().is_none()
        && p.password().is_none()
}

/// Check one redirect URI against the policy; the error says what is wrong and names the URI (escaped).
///
/// ```
/// use keymanager::model::check_redirect_uri;
/// assert!(check_redirect_uri("https://app.example/cb").is_ok());
/// assert!(check_redirect_uri("http://127.0.0.1:53127/cb").is_ok());
/// assert!(check_redirect_uri("com.example.app:/oauth2redirect").is_ok());
/// assert!(check_redirect_uri("http://app.example/cb").is_err());
/// assert!(check_redirect_uri("https://*.example/cb").is_err());
/// assert!(check_redirect_uri("https://app.example/cb?x=\"<script>").is_err());
/// assert!(check_redirect_uri("https://app.example/caf\u{e9}").is_err());
/// assert!(check_redirect_uri("https://app.example/caf%C3%A9").is_ok());
/// assert!(check_redirect_uri("https://app.example/%zz").is_err());
/// ```
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let shown = uri.escape_debug().take(200).collect::<String>();
    if uri.len() > MAX_REDIRECT_URI_LENGTH {
        return Err(format!(
            "`{shown}…` is longer than {MAX_REDIRECT_URI_LENGTH} characters"
        ));
    }
    if uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("`{shown}` contains control characters or white space"));
    }
    // RFC 3986 §2: only unreserved and reserved characters and percent-encodings appear unencoded (an allowlist:
    // `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}` and anything outside ASCII are refused).
    if let Some(c) = uri.chars().find(|c| !is_uri_char(*c)) {
        return Err(format!(
            "`{shown}` contains `{}`, which a URI carries percent-encoded only (RFC 3986 §2)",
            c.escape_debug()
        ));
    }
    if uri
        .split('%')
        .skip(1)
        .any(|rest| rest.len() < 2 || !rest.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit))
    {
        return Err(format!("`{shown}` has a % that is not followed by two hex digits"));
    }
    if uri.contains('*') {
        return Err(format!("`{shown}` contains a wildcard; register each URI exactly"));
    }
    let parsed = Url::parse(uri).map_err(|e| format!("`{shown}` is not an absolute URI: {e}"))?;
    if parsed.fragment().is_some() || uri.contains('#') {
        return Err(format!(
            "`{shown}` has a fragment; a redirect URI must not (RFC 6749 §3.1.2)"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("`{shown}` carries user information; a redirect URI must not"));
    }
    match parsed.scheme() {
        "https" => match parsed.host() {
            Some(_) => Ok(()),
            None => Err(format!("`{shown}` has no host")),
        },
        "http" => match parsed.host() {
            Some(Host::Ipv4(ip)) if IpAddr::V4(ip).is_loopback() => Ok(()),
            Some(Host::Ipv6(ip)) if IpAddr::V6(ip).is_loopback() => Ok(()),
            _ => Err(format!(
                "`{shown}`: plain http is allowed only on a loopback IP address (127.0.0.1 or [::1], RFC 8252 §7.3); use https"
            )),
        },
        "javascript" | "data" | "vbscript" | "file" | "blob" | "about" | "ftp" | "ws" | "wss" => Err(format!(
            "`{shown}`: the `{}:` scheme cannot be a redirect URI",
            parsed.scheme()
        )),
        scheme if scheme.contains('.') => Ok(()),
        scheme => Err(format!(
            "`{shown}`: a private-use scheme must be in reverse-domain form, such as `com.example.app:` \
             (RFC 8252 §7.1), not `{scheme}:`"
        )),
    }
}

/// A redirect URI that passed the policy ([`check_redirect_uri`]): the only ways to make one are
/// [`RedirectUri::parse`] and deserializing, which parses. A model field of this type cannot hold a URI the policy
/// refuses; it prints, serializes and compares as the string registered.
///
/// ```
/// use keymanager::model::RedirectUri;
/// let uri = RedirectUri::parse("http://127.0.0.1/callback").unwrap();
/// assert_eq!(uri.as_str(), "http://127.0.0.1/callback");
/// assert!(uri.matches("http://127.0.0.1:53127/callback"));
/// assert!(RedirectUri::parse("http://app.example/cb").is_err());
/// assert!(serde_json::from_str::<RedirectUri>(r#""https://app.example/cb#x""#).is_err());
/// assert_eq!(serde_json::to_string(&uri).unwrap(), r#""http://127.0.0.1/callback""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Check `uri` against the policy; the error says what is wrong and names the URI (escaped).
    pub fn parse(uri: &str) -> Result<Self, String> {
        check_redirect_uri(uri)?;
        Ok(RedirectUri(uri.to_owned()))
    }

    /// The URI as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a redirect URI presented in a request is this one ([`redirect_uri_matches`]).
    pub fn matches(&self, presented: &str) -> bool {
        redirect_uri_matches(&self.0, presented)
    }
}

impl std::fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for RedirectUri {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        RedirectUri::parse(s)
    }
}

impl AsRef<str> for RedirectUri {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for RedirectUri {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl<'de> serde::Deserialize<'de> for RedirectUri {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        RedirectUri::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_accepts_and_refuses_what_rfc_8252_and_9700_say() {
        for ok in [
            "https://app.example/cb",
            "https://app.example:8443/cb?x=1",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:65000/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
            "com.example.app:/cb?a=b",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://app.example/cb",
            "http://localhost:8080/cb",
            "http://10.0.0.1/cb",
            "https://app.example/cb#frag",
            "https://*.example/cb",
            "https://app.example/*",
            "https://user:pw@app.example/cb",
            "https://app.example/c\r\nb",
            "https://app.example/c\tb",
            "https://app.example/c b",
            "javascript:alert(1)",
            "data:text/html,x",
            "myapp:/cb",
            "not a uri",
            "/relative",
            "",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
        let long = format!("https://app.example/{}", "a".repeat(MAX_REDIRECT_URI_LENGTH));
        assert!(check_redirect_uri(&long).is_err());
    }

    #[test]
    fn the_message_escapes_control_characters() {
        let err = check_redirect_uri("https://app.example/\u{1b}[31m").unwrap_err();
        assert!(!err.contains('\u{1b}'), "{err}");
    }
}
