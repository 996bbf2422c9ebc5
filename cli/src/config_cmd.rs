//! `keymanager config check [FILE]`: every problem of a configuration file at once.
//!
//! The file is the argument, else `--config` / `KEYMANAGER_CONFIG`. Every unset `${VAR}` is listed, and every key
//! manager is checked on its own, so one bad table does not hide the next. Exit 0 when valid, 2 otherwise;
//! `--json` prints `{file, valid, keyManagers, problems}`.

use std::path::{Path, PathBuf};

use keymanager::config::Config;
use keymanager::error::ConfigError;
use serde::Serialize;

use crate::output::print;
use crate::{setup, Failure};

/// A stand-in for an unset variable, so the rest of the file is still checked (it passes URL and string checks).
const UNSET: &str = "https://unset.invalid";

/// The report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    file: PathBuf,
    valid: bool,
    warnings: Vec<String>,
    key_managers: Vec<KeyManagerLine>,
    problems: Vec<Problem>,
}

#[derive(Debug, Serialize)]
struct KeyManagerLine {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

/// One problem, located as precisely as known.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Problem {
    #[serde(skip_serializing_if = "Option::is_none")]
    key_manager: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    message: String,
}

impl From<ConfigError> for Problem {
    fn from(e: ConfigError) -> Self {
        Problem {
            key_manager: e.key_manager,
            field: e.field,
            message: e.message,
        }
    }
}

pub(crate) fn check(file: Option<&Path>, global: Option<&Path>, json: bool) -> Result<(), Failure> {
    let file = file.or(global).ok_or_else(|| {
        Failure::Usage("which file? give it as an argument, with --config, or in KEYMANAGER_CONFIG".into())
    })?;
    let (report, errors) = report(file)?;
    if json {
        print(true, &report, |_| String::new());
    } else if report.valid {
        print(false, &report, |r| {
            let mut out = format!("{}: valid, {} key manager(s)\n", r.file.display(), r.key_managers.len());
            for km in &r.key_managers {
                out.push_str(&format!("  {}\t(type {})\n", km.name, km.kind));
            }
            for w in &r.warnings {
                out.push_str(&format!("warning: {w}\n"));
            }
            out
        });
    } else {
        for e in &errors {
            eprintln!("error: {}", crate::output::printable(&e.to_string()));
        }
    }
    if report.valid {
        Ok(())
    } else {
        // The problems are reported; the exit code says the file is not usable.
        Err(Failure::Reported)
    }
}

/// Every problem of the file, as a report and as the errors (which name the file, key manager and field).
fn report(file: &Path) -> Result<(Report, Vec<ConfigError>), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Usage(format!("{}: cannot read the file: {e}", file.display())))?;
    let mut errors = Vec::new();
    // Each unset variable is reported where it is used, then stood in for, and the file read again: so every one
    // is listed, and the rest of the file is still checked.
    let mut unset: Vec<String> = Vec::new();
    let parsed = loop {
        let attempt = Config::from_toml_str_with_env(&text, Some(file), |k| match std::env::var(k) {
            Ok(v) => Some(v),
            Err(_) if unset.iter().any(|u| u == k) => Some(UNSET.to_owned()),
            Err(_) => None,
        });
        match attempt {
            Err(e) if e.message.starts_with("environment variable `") && e.message.ends_with("` is not set") => {
                let var = e.message["environment variable `".len()..e.message.len() - "` is not set".len()].to_owned();
                if unset.contains(&var) {
                    break Err(e);
                }
                unset.push(var);
                errors.push(e);
            }
            other => break other,
        }
    };
    let mut key_managers = Vec::new();
    let mut warnings = Vec::new();
    match parsed {
        Err(e) => errors.push(e),
        Ok(config) => {
            warnings = config.warnings();
            let registry = setup::registry();
            for km in &config.key_managers {
                if let Err(e) = registry.check_key_manager(km) {
                    errors.push(e);
                }
                key_managers.push(KeyManagerLine {
                    name: km.name.clone(),
                    kind: km.kind.clone(),
                });
            }
            if config.key_managers.is_empty() {
                errors.push(
                    ConfigError::new("no key manager is declared; add a [[key_manager]] table")
                        .at_field("key_manager")
                        .in_file(file),
                );
            }
        }
    }
    let problems = errors.iter().cloned().map(Problem::from).collect::<Vec<_>>();
    Ok((
        Report {
            file: file.to_path_buf(),
            valid: problems.is_empty(),
            warnings,
            key_managers,
            problems,
        },
        errors,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unset_variable_and_every_bad_table_is_listed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("km.toml");
        std::fs::write(
            &file,
            "[[key_manager]]\nname = \"okta\"\ntype = \"okta\"\norg_url = \"https://dev-1.okta.com\"\n\
             api_token = \"${KM_CHECK_UNSET_A}\"\n\n\
             [[key_manager]]\nname = \"kc\"\ntype = \"keycloak\"\nbase_url = \"http://kc.example.com\"\nrealm = \"r\"\n\
             admin_client_id = \"a\"\nadmin_client_secret = \"${KM_CHECK_UNSET_B}\"\n\n\
             [[key_manager]]\nname = \"r\"\ntype = \"resident\"\nsigning_algorithm = \"HS256\"\n",
        )
        .unwrap();
        let (r, _) = report(&file).unwrap();
        assert!(!r.valid);
        let text: Vec<String> = r
            .problems
            .iter()
            .map(|p| format!("{:?} {:?} {}", p.key_manager, p.field, p.message))
            .collect();
        assert_eq!(r.problems.len(), 4, "{text:#?}");
        assert!(
            text[0].contains("KM_CHECK_UNSET_A") && text[0].contains("api_token"),
            "{text:#?}"
        );
        assert!(
            text[1].contains("KM_CHECK_UNSET_B") && text[1].contains("\"kc\""),
            "{text:#?}"
        );
        assert!(text[2].contains("\"kc\"") && text[2].contains("base_url"), "{text:#?}");
        assert!(
            text[3].contains("\"r\"") && text[3].contains("signing_algorithm"),
            "{text:#?}"
        );
    }
}
