//! Printing: text for people, or the management API's JSON with `--json`. A closed stdout (`| head`) ends the
//! output quietly instead of panicking.

use std::io::Write;

use serde::Serialize;

/// Write a line to stdout, ignoring a closed pipe.
pub(crate) fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.write_all(b"\n"));
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
