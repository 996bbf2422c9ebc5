//! `keymanager config check [FILE]`: every problem of a configuration file at once.
//!
//! The file is the argument, else `--config` / `KEYMANAGER_CONFIG`, else the embedded default (what `serve` runs
//! without one). Every problem is listed in one pass, whatever section it is in: every unset `${VAR}`, every
//! section's and every key manager's problems, so one bad value does not hide the next. Exit 0 when valid, 2
//! otherwise; `--json` prints `{file, valid, warnings, keyManagers, problems}`.

use std::path::{Path, PathBuf};

use keymanager::config::Config;
use keymanager::error::ConfigError;
use serde::Serialize;

use crate::output::print;
use crate::{setup, Failure};

/// `keymanager config reference`: Markdown, or with `--json` the sections and connector descriptors.
pub(crate) fn reference(json: bool) {
    let registry = setup::registry();
    let connectors: Vec<_> = registry.kinds().iter().filter_map(|k| registry.descriptor(k)).collect();
    if json {
        print(
            true,
            &serde_json::json!({
                "sections": keymanager::config_reference::sections(),
                "keyManagerTypes": connectors,
            }),
            |_| String::new(),
        );
    } else {
        crate::output::raw(keymanager::config_reference::markdown(&connectors).as_bytes());
    }
}

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

/// What the report calls the embedded default.
const EMBEDDED: &str = "(embedded default)";

pub(crate) fn check(file: Option<&Path>, global: Option<&Path>, json: bool) -> Result<(), Failure> {
    let (report, errors) = match file.or(global) {
        Some(file) => report(file)?,
        None => embedded_report(),
    };
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

/// The name of the variable an "is not set" problem names.
fn unset_variable(e: &ConfigError) -> Option<&str> {
    e.message
        .strip_prefix("environment variable `")
        .and_then(|m| m.strip_suffix("` is not set"))
}

/// Every problem of the file, as a report and as the errors (which name the file, key manager and field).
fn report(file: &Path) -> Result<(Report, Vec<ConfigError>), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Usage(format!("{}: cannot read the file: {e}", file.display())))?;
    // Each unset variable is reported where it is used, then stood in for, and the file read again: so every one
    // is listed, and the rest of the file (what the unset value hid) is still checked.
    let mut unset: Vec<String> = Vec::new();
    let mut unset_errors: Vec<ConfigError> = Vec::new();
    let (config, rest) = loop {
        let (config, problems) = Config::parse_collecting(&text, Some(file), |k| match std::env::var(k) {
            Ok(v) => Some(v),
            Err(_) if unset.iter().any(|u| u == k) => Some(UNSET.to_owned()),
            Err(_) => None,
        });
        let new: Vec<ConfigError> = problems
            .iter()
            .filter(|e| unset_variable(e).is_some_and(|v| !unset.iter().any(|u| u == v)))
            .cloned()
            .collect();
        if new.is_empty() {
            break (config, problems);
        }
        for e in new {
            if let Some(v) = unset_variable(&e) {
                unset.push(v.to_owned());
            }
            unset_errors.push(e);
        }
    };
    let mut errors = unset_errors;
    errors.extend(rest);
    Ok(finish(file.to_path_buf(), config, errors, Some(file)))
}

/// The report of the embedded default (no file): what `serve` runs without one.
fn embedded_report() -> (Report, Vec<ConfigError>) {
    let config = Config {
        key_managers: vec![keymanager::config::KeyManagerConfig::new(
            setup::DEFAULT_KEY_MANAGER,
            "resident",
        )],
        ..Config::default()
    };
    let errors = config.problems();
    finish(PathBuf::from(EMBEDDED), config, errors, None)
}

/// Add every key manager's own problems (its connector's settings) and the warnings; make the report.
fn finish(
    file: PathBuf,
    config: Config,
    mut errors: Vec<ConfigError>,
    source: Option<&Path>,
) -> (Report, Vec<ConfigError>) {
    let registry = setup::registry();
    let mut key_managers = Vec::new();
    for km in &config.key_managers {
        if let Err(e) = registry.check_key_manager(km) {
            errors.push(e);
        }
        key_managers.push(KeyManagerLine {
            name: km.name.clone(),
            kind: km.kind.clone(),
        });
    }
    if config.key_managers.is_empty() && !errors.iter().any(|e| e.field.as_deref() == Some("key_manager")) {
        let e = ConfigError::new("no key manager is declared; add a [[key_manager]] table").at_field("key_manager");
        errors.push(match source {
            Some(f) => e.in_file(f),
            None => e,
        });
    }
    let problems = errors.iter().cloned().map(Problem::from).collect::<Vec<_>>();
    (
        Report {
            file,
            valid: problems.is_empty(),
            warnings: config.warnings(),
            key_managers,
            problems,
        },
        errors,
    )
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

    /// Issue 30: problems in different sections are all listed in one pass, and with no file the embedded
    /// default is checked.
    #[test]
    fn every_problem_in_every_section_at_once_and_the_default_without_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("km.toml");
        std::fs::write(
            &file,
            "bogus = 1\n[server]\nlisten = \"nowhere\"\nadmin_token = \"${KM_CHECK_UNSET_C}\"\n\n\
             [gateway]\nleeway_seconds = 9999\n\n\
             [[key_manager]]\nname = \"x\"\ntype = \"no-such-connector\"\n\n\
             [[key_manager]]\nname = \"r\"\ntype = \"resident\"\nbogus_setting = 1\n",
        )
        .unwrap();
        let (r, _) = report(&file).unwrap();
        let fields: Vec<String> = r.problems.iter().map(|p| format!("{:?}", p.field)).collect();
        let text = format!("{:#?}", r.problems);
        for want in [
            "bogus",
            "server.listen",
            "KM_CHECK_UNSET_C",
            "gateway.leeway_seconds",
            "no-such-connector",
            "bogus_setting",
        ] {
            assert!(text.contains(want), "{want} missing: {fields:?}\n{text}");
        }
        let (embedded, _) = embedded_report();
        assert!(embedded.valid, "{:?}", embedded.problems);
        assert_eq!(embedded.key_managers.len(), 1);
    }
}
