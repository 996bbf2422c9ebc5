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

/// Rows under a header line, each column as wide as its widest cell.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let mut out = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i + 1 == widths.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(&mut headers.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// A time as RFC 3339 (UTC) with a relative hint: `2026-11-29T13:42:28Z (3 minutes ago)`.
pub(crate) fn time(epoch_seconds: i64) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(epoch_seconds) else {
        return epoch_seconds.to_string();
    };
    let text = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| epoch_seconds.to_string());
    format!("{text} ({})", relative(epoch_seconds - keymanager::model::now()))
}

/// `in 5 minutes`, `2 days ago`, `now`.
fn relative(delta: i64) -> String {
    let n = delta.unsigned_abs();
    let (amount, unit) = match n {
        0..=59 => return "now".into(),
        60..=3_599 => (n / 60, "minute"),
        3_600..=86_399 => (n / 3_600, "hour"),
        _ => (n / 86_400, "day"),
    };
    let unit = if amount == 1 {
        unit.to_owned()
    } else {
        format!("{unit}s")
    };
    if delta > 0 {
        format!("in {amount} {unit}")
    } else {
        format!("{amount} {unit} ago")
    }
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    #[test]
    fn tables_align_under_their_headers() {
        let t = table(
            &["ID", "NAME"],
            &[vec!["a1".into(), "orders".into()], vec!["b".into(), "x".into()]],
        );
        assert_eq!(t, "ID  NAME\na1  orders\nb   x\n");
    }

    #[test]
    fn times_are_rfc3339_with_a_relative_hint() {
        assert!(time(0).starts_with("1970-01-01T00:00:00Z ("), "{}", time(0));
        assert_eq!(relative(-120), "2 minutes ago");
        assert_eq!(relative(3 * 86_400), "in 3 days");
        assert_eq!(relative(10), "now");
    }
}
