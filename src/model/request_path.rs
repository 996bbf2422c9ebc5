//! A request path as gateway route rules see it (one parser for every gateway's original URI).

/// A path as the route rules see it: the query dropped, percent-decoded except `%2F` and `%5C` (kept encoded, so
/// segments stay segments), dot segments resolved (never above the root), repeated slashes folded. `None` for
/// something that is not an absolute path or does not decode to UTF-8.
pub fn normalize_path(raw: &str) -> Option<String> {
    let path = raw.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return None;
    }
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            if value == b'/' || value == b'\\' {
                decoded.extend_from_slice(&bytes[i..i + 3]);
            } else {
                decoded.push(value);
            }
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(decoded).ok()?;
    if text.chars().any(char::is_control) {
        return None;
    }
    let mut segments: Vec<&str> = Vec::new();
    for seg in text.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    Some(format!("/{}", segments.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_before_the_rules_see_them() {
        for (raw, want) in [
            ("/orders", Some("/orders")),
            ("/orders/?page=2", Some("/orders")),
            ("/public/../admin", Some("/admin")),
            ("/public/%2e%2e/admin", Some("/admin")),
            ("//admin///users", Some("/admin/users")),
            ("/../../etc", Some("/etc")),
            ("/a%2Fb", Some("/a%2Fb")),
            ("/caf%C3%A9", Some("/café")),
            ("/bad%zz", None),
            ("/nul%00", None),
            ("relative", None),
            ("/%FF", None),
        ] {
            assert_eq!(normalize_path(raw).as_deref(), want, "{raw}");
        }
    }
}
