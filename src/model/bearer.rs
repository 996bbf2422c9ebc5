//! The access token of an `Authorization` header: `Bearer` (RFC 6750 §2.1) or `DPoP` (RFC 9449 §7.1), the one
//! parser every endpoint uses.

/// The token of an `Authorization: Bearer TOKEN` header value: the scheme matched without regard to case, then one
/// or more spaces, then a token without white space. `None` for any other scheme, an empty token, or a token with
/// spaces inside.
///
/// ```
/// use keymanager::model::bearer_token;
/// assert_eq!(bearer_token("Bearer abc.def"), Some("abc.def"));
/// assert_eq!(bearer_token("bearer   abc"), Some("abc"));
/// assert_eq!(bearer_token("Basic YWJj"), None);
/// assert_eq!(bearer_token("Bearer "), None);
/// assert_eq!(bearer_token("Bearer a b"), None);
/// ```
pub fn bearer_token(authorization: &str) -> Option<&str> {
    match access_token(authorization)? {
        (TokenScheme::Bearer, token) => Some(token),
        (TokenScheme::Dpop, _) => None,
    }
}

/// How an access token is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScheme {
    /// `Authorization: Bearer` (RFC 6750): whoever holds the token may use it.
    Bearer,
    /// `Authorization: DPoP` (RFC 9449 §7.1), with a `DPoP` proof header: the token is bound to the proof's key.
    Dpop,
}

/// The scheme and token of an `Authorization: Bearer TOKEN` or `Authorization: DPoP TOKEN` header value, by the
/// rules of [`bearer_token`]; `None` for any other scheme or a malformed value.
///
/// ```
/// use keymanager::model::{access_token, TokenScheme};
/// assert_eq!(access_token("DPoP abc.def"), Some((TokenScheme::Dpop, "abc.def")));
/// assert_eq!(access_token("dpop abc"), Some((TokenScheme::Dpop, "abc")));
/// assert_eq!(access_token("Bearer abc"), Some((TokenScheme::Bearer, "abc")));
/// assert_eq!(access_token("DPoP a b"), None);
/// assert_eq!(access_token("Basic YWJj"), None);
/// ```
pub fn access_token(authorization: &str) -> Option<(TokenScheme, &str)> {
    let (scheme, rest) = authorization.split_once(' ')?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        TokenScheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        TokenScheme::Dpop
    } else {
        return None;
    };
    let token = rest.trim_matches(' ');
    (!token.is_empty() && !token.chars().any(char::is_whitespace)).then_some((scheme, token))
}
