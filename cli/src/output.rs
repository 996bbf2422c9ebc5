//! Printing: text for people, or the management API's JSON with `--json`. A closed stdout (`| head`) ends the
//! output quietly instead of panicking.

use std::io::Write;

use serde::Serialize;

/// Write a line to stdout, ignoring a closed pipe. Anything that could drive the terminal is escaped first (see
/// [`printable`]): names and descriptions come from other people.
pub(crate) fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_all(printable(text).as_bytes())
        .and_then(|_| out.write_all(b"\n"));
}

/// `text` with every character that is not printable escaped as `\u{…}`: control characters (ESC, CR, BEL, DEL,
/// the C1 range) and the bidirectional overrides that reorder what a terminal shows. Newlines and tabs, which the
/// output lays out with, are kept.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let hostile = |c: char| (c.is_control() && c != '\n' && c != '\t') || keymanager::model::is_bidi_control(c);
    if !text.chars().any(hostile) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hostile(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Print `value` as JSON (`--json`) or as the text `human` makes of it.
pub(crate) fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce(&T) -> String) {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(s) => line(&s),
            Err(e) => eprintln!("error: cannot print JSON: {e}"),
        }
    } else {
        let text = human(value);
        if !text.is_empty() {
            line(text.trim_end());
        }
    }
}

/// `key: value` lines, skipping empty values.
pub(crate) fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k:width$}  {v}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn escape_sequences_and_bidi_overrides_are_shown_not_obeyed() {
        assert_eq!(printable("plain name\tand tab\n"), "plain name\tand tab\n");
        assert_eq!(printable("\u{1b}[2Jgone"), "\\u{1b}[2Jgone");
        assert_eq!(printable("a\rb\u{7}c\u{7f}\u{9b}"), "a\\u{d}b\\u{7}c\\u{7f}\\u{9b}");
        assert_eq!(printable("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(printable("日本語 ok"), "日本語 ok");
    }
}
