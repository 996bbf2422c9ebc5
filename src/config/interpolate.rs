//! `${VAR}` in configuration strings: an environment variable's value (`$${` for a literal `${`); an unset
//! variable is an error naming it.

use crate::error::ConfigError;

/// Replace `${VAR}` in every string below `value`; `path` names where `value` sits, for errors.
pub(super) fn interpolate(
    value: &mut toml::Value,
    path: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match value {
        toml::Value::String(s) => {
            *s = interpolate_str(s, env).map_err(|m| ConfigError::new(m).at_field(path))?;
        }
        toml::Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                interpolate(v, &format!("{path}[{i}]"), env)?;
            }
        }
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                interpolate(v, &join(k), env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

pub(super) fn interpolate_str(s: &str, env: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail
                .find('}')
                .ok_or_else(|| "unterminated `${`: write `${VAR}`, or `$${` for a literal".to_owned())?;
            let var = &tail[..end];
            if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("`${{{var}}}` is not a valid environment variable reference"));
            }
            match env(var) {
                Some(v) => out.push_str(&v),
                None => return Err(format!("environment variable `{var}` is not set")),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}
