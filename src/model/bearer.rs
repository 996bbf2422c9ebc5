//! The bearer token of an `Authorization` header (RFC 6750 §2.1): the one parser every endpoint uses.

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
    let (scheme, rest) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_matches(' ');
    (!token.is_empty() && !token.chars().any(char::is_whitespace)).then_some(token)
}
