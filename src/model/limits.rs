//! Bounds on what callers send: durations, display text, list sizes. Every entry point (DCR, management API,
//! CLI, configuration) checks its values with these, so a value out of range is a clear error naming its field,
//! never a wrapped integer or a panic.

use crate::{Error, Result};

/// The longest duration accepted anywhere (token lifetimes, secret expiry, token validity): ten years, in
/// seconds. Far beyond any sensible setting, far below where `i64` seconds since the epoch could overflow.
pub const MAX_DURATION_SECONDS: u64 = 10 * 365 * 86_400;

/// The most scopes a client may hold or a request may name.
pub const MAX_SCOPES: usize = 200;

/// The most redirect URIs a client may register.
pub const MAX_REDIRECT_URIS: usize = 50;

/// The longest name (client, application, user) in characters.
pub const MAX_NAME_LENGTH: usize = 255;

/// Check a duration in seconds: positive and at most [`MAX_DURATION_SECONDS`].
///
/// ```
/// use keymanager::model::check_duration;
/// assert!(check_duration("validity", 3600).is_ok());
/// assert!(check_duration("validity", 0).is_err());
/// assert!(check_duration("validity", u64::MAX).is_err());
/// ```
pub fn check_duration(field: &str, seconds: u64) -> Result<()> {
    if seconds == 0 {
        return Err(Error::invalid_field(field, "must be positive"));
    }
    if seconds > MAX_DURATION_SECONDS {
        return Err(Error::invalid_field(
            field,
            format!("must be at most {MAX_DURATION_SECONDS} seconds (ten years)"),
        ));
    }
    Ok(())
}

/// `at + seconds`, checked: the time `seconds` after `at` (seconds since the epoch), or an error naming `field`.
pub fn seconds_after(field: &str, at: i64, seconds: u64) -> Result<i64> {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| at.checked_add(s))
        .ok_or_else(|| Error::invalid_field(field, "is out of range"))
}

/// Check a name or description: at most `max_chars` characters, no control characters (which would reach an
/// operator's terminal raw) and no bidirectional overrides (which reorder what a screen shows).
///
/// ```
/// use keymanager::model::check_text;
/// assert!(check_text("name", "orders app", 255).is_ok());
/// assert!(check_text("name", "evil\u{1b}[2J", 255).is_err());
/// assert!(check_text("name", "evil\u{202e}exe.txt", 255).is_err());
/// ```
pub fn check_text(field: &str, value: &str, max_chars: usize) -> Result<()> {
    if value.chars().count() > max_chars {
        return Err(Error::invalid_field(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(Error::invalid_field(
            field,
            "must not contain control characters or bidirectional overrides",
        ));
    }
    Ok(())
}

/// The one rule for names people give to things they later type (admin tokens, users): 1 to 64 ASCII letters,
/// digits, `.`, `_`, `-`, `@` or `+`, beginning with a letter or a digit (so never read as a command-line option,
/// never markup, never two look-alike spellings). Where such names must be unique, they are unique in any letter
/// case.
///
/// ```
/// use keymanager::model::check_name;
/// assert!(check_name("username", "alice@example.com").is_ok());
/// assert!(check_name("name", "ci-deploy.2").is_ok());
/// for bad in ["", "-rf", "<b>x</b>", "a b", "caf\u{e9}", "x\u{202e}y", &"a".repeat(65)] {
///     assert!(check_name("name", bad).is_err(), "{bad}");
/// }
/// ```
pub fn check_name(field: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= MAX_PLAIN_NAME_LENGTH
        && value.as_bytes()[0].is_ascii_alphanumeric()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@' | b'+'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_field(
            field,
            format!(
                "must be 1 to {MAX_PLAIN_NAME_LENGTH} letters, digits, `.`, `_`, `-`, `@` or `+`, beginning with a \
                 letter or a digit"
            ),
        ))
    }
}

/// The longest name [`check_name`] takes.
pub const MAX_PLAIN_NAME_LENGTH: usize = 64;

/// The Unicode bidirectional formatting characters (marks, embeddings, overrides, isolates).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_after_never_wraps() {
        assert_eq!(seconds_after("x", 10, 5).unwrap(), 15);
        assert!(seconds_after("x", i64::MAX, 1).is_err());
        assert!(seconds_after("x", 0, u64::MAX).is_err());
    }

    #[test]
    fn text_refuses_every_control_character() {
        for c in ['\0', '\n', '\r', '\t', '\u{7f}', '\u{9b}', '\u{1b}'] {
            assert!(check_text("d", &format!("a{c}b"), 10).is_err(), "{c:?}");
        }
        assert!(check_text("d", "ünïcødé ✓", 10).is_ok());
        assert!(check_text("d", "abcdefghijk", 10).is_err());
    }
}
