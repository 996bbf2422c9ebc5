//! A request path as gateway route rules see it: one parser for every gateway's original URI.
//!
//! Upstreams read one path in different ways: WSGI and Go decode `%2F` to `/`, Tomcat strips `;` path parameters,
//! Windows servers take `\` for `/`, some routers decode twice or fold case. A gateway rule that sees a different
//! path than the upstream fails open. So the parser does not guess: it accepts a path only when every such reading
//! gives the same path, and refuses the rest with the reason ([`PathRefusal`]). What it refuses:
//!
//! | refused | why |
//! |---|---|
//! | `%2F`, `%5C` | an upstream that decodes them reads a different segment structure |
//! | `%25` | decoding twice would read a different path than decoding once |
//! | `;` (raw or `%3B`) | Tomcat and Jetty strip path parameters, others keep them |
//! | `\` (raw) | some upstreams read it as `/` |
//! | `.` and `..` segments (raw or encoded) | resolved by some upstreams, kept by others |
//! | empty segments (`//`) but a trailing `/` | folded by some upstreams, kept by others |
//! | `%00` and control characters, bytes that are not UTF-8 | never part of a resource name |
//! | `#` | a fragment is never sent; a raw one means the URI was built wrongly |
//! | non-ASCII letters that case-map into ASCII (`K` Kelvin sign, `ſ`, `ı`, `İ`) | a case-folding router reads them as ASCII letters |
//! | malformed `%`-escapes, a path not starting with `/` | not a path |
//!
//! The query is dropped (rules are about paths). Letter case is kept; [`path_lowercase`] is what a
//! case-insensitive rule compares.
//!
//! ```
//! use keymanager::model::{normalize_path, PathRefusal};
//! assert_eq!(normalize_path("/orders/7?page=2").as_deref(), Ok("/orders/7"));
//! assert_eq!(normalize_path("/caf%C3%A9").as_deref(), Ok("/café"));
//! assert_eq!(normalize_path("/orders%2F1"), Err(PathRefusal::EncodedSeparator));
//! assert_eq!(normalize_path("/orders;x=1/1"), Err(PathRefusal::PathParameter));
//! assert_eq!(normalize_path("/x/..%2Fadmin/x"), Err(PathRefusal::EncodedSeparator));
//! assert_eq!(normalize_path("/x/%2e%2e/admin"), Err(PathRefusal::DotSegment));
//! ```

use std::fmt;

/// Why a path cannot be normalised unambiguously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathRefusal {
    /// It does not start with `/`.
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// `%2F` or `%5C`: an encoded separator.
    EncodedSeparator,
    /// `%25`: an encoded `%`, which a second decoding would read again.
    DoubleEncoding,
    /// `;` path parameters.
    PathParameter,
    /// A raw `\`.
    Backslash,
    /// A `.` or `..` segment, raw or encoded.
    DotSegment,
    /// An empty segment (`//`) other than a trailing `/`.
    EmptySegment,
    /// `%00`, a control character, or bytes that are not UTF-8.
    NotText,
    /// A raw `#`.
    Fragment,
    /// A non-ASCII character whose upper or lower case is ASCII.
    CaseFoldsToAscii,
}

impl fmt::Display for PathRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathRefusal::NotAbsolute => "the path does not start with /",
            PathRefusal::BadEscape => "a % is not followed by two hex digits",
            PathRefusal::EncodedSeparator => "an encoded / or \\ (%2F, %5C) is read differently by different upstreams",
            PathRefusal::DoubleEncoding => "an encoded % (%25) is read differently when decoded twice",
            PathRefusal::PathParameter => "a ; path parameter is stripped by some upstreams and kept by others",
            PathRefusal::Backslash => "a \\ is read as / by some upstreams",
            PathRefusal::DotSegment => "a . or .. segment is resolved by some upstreams and kept by others",
            PathRefusal::EmptySegment => "an empty segment (//) is folded by some upstreams and kept by others",
            PathRefusal::NotText => "the path holds a control character, %00 or bytes that are not UTF-8",
            PathRefusal::Fragment => "a request path never carries a # fragment",
            PathRefusal::CaseFoldsToAscii => {
                "a non-ASCII letter whose case maps into ASCII is read as that letter by case-folding routers"
            }
        })
    }
}

impl std::error::Error for PathRefusal {}

/// The path every upstream reads, or why there is none (the module documentation says what is refused).
pub fn normalize_path(raw: &str) -> Result<String, PathRefusal> {
    let path = raw.split('?').next().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(PathRefusal::NotAbsolute);
    }
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let value = bytes
                    .get(i + 1..i + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or(PathRefusal::BadEscape)?;
                match value {
                    b'/' | b'\\' => return Err(PathRefusal::EncodedSeparator),
                    b'%' => return Err(PathRefusal::DoubleEncoding),
                    _ => decoded.push(value),
                }
                i += 3;
            }
            b'\\' => return Err(PathRefusal::Backslash),
            b'#' => return Err(PathRefusal::Fragment),
            b => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    let text = String::from_utf8(decoded).map_err(|_| PathRefusal::NotText)?;
    if text.chars().any(char::is_control) {
        return Err(PathRefusal::NotText);
    }
    if text.contains(';') {
        return Err(PathRefusal::PathParameter);
    }
    if text.contains('\\') {
        return Err(PathRefusal::Backslash);
    }
    if text.chars().any(case_folds_to_ascii) {
        return Err(PathRefusal::CaseFoldsToAscii);
    }
    let segments: Vec<&str> = text[1..].split('/').collect();
    let last = segments.len() - 1;
    for (n, seg) in segments.iter().enumerate() {
        match *seg {
            "." | ".." => return Err(PathRefusal::DotSegment),
            "" if n != last => return Err(PathRefusal::EmptySegment),
            _ => {}
        }
    }
    Ok(text)
}

/// `c` is outside ASCII and its lower or upper case holds an ASCII character (Kelvin sign, long s, dotless i, …).
fn case_folds_to_ascii(c: char) -> bool {
    !c.is_ascii() && c.to_lowercase().chain(c.to_uppercase()).any(|f| f.is_ascii())
}

/// What a case-insensitive rule compares: the path in lower case (after [`normalize_path`], which refuses the
/// letters whose case maps into ASCII, so no two spellings fold to one path by surprise).
pub fn path_lowercase(path: &str) -> String {
    path.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_taken_only_when_every_upstream_reads_them_alike() {
        use PathRefusal::*;
        for (raw, want) in [
            ("/orders", Ok("/orders")),
            ("/orders/", Ok("/orders/")),
            ("/", Ok("/")),
            ("/orders/?page=2", Ok("/orders/")),
            ("/caf%C3%A9", Ok("/café")),
            ("/a%20b", Ok("/a b")),
            ("/public/../admin", Err(DotSegment)),
            ("/public/%2e%2e/admin", Err(DotSegment)),
            ("/./admin", Err(DotSegment)),
            ("//admin///users", Err(EmptySegment)),
            ("/orders%2F1", Err(EncodedSeparator)),
            ("/orders%2f1", Err(EncodedSeparator)),
            ("/admin%5Cx", Err(EncodedSeparator)),
            ("/admin\\x", Err(Backslash)),
            ("/orders;x=1/1", Err(PathParameter)),
            ("/orders%3Bx/1", Err(PathParameter)),
            ("/orders%252F1", Err(DoubleEncoding)),
            ("/bad%zz", Err(BadEscape)),
            ("/bad%2", Err(BadEscape)),
            ("/bad%+1", Err(BadEscape)),
            ("/nul%00", Err(NotText)),
            ("/tab%09", Err(NotText)),
            ("/%FF", Err(NotText)),
            ("/a#b", Err(Fragment)),
            ("relative", Err(NotAbsolute)),
            ("", Err(NotAbsolute)),
            ("/\u{212A}ey", Err(CaseFoldsToAscii)),
            ("/%E2%84%AAey", Err(CaseFoldsToAscii)),
            ("/\u{17F}ecret", Err(CaseFoldsToAscii)),
            ("/adm\u{131}n", Err(CaseFoldsToAscii)),
            ("/\u{D6}rders", Ok("/\u{D6}rders")),
        ] {
            assert_eq!(normalize_path(raw).as_deref(), want.as_deref(), "{raw}");
        }
    }
}
