//! The `keymanager` binary, run as a user runs it.

mod common;

use std::process::Command;

use common::{serve, BIN};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/config/example.toml");

#[test]
fn version_prints_the_package_version() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.trim()
            .starts_with(&format!("keymanager {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(
        text.contains("features gateway,server,service,sql,validation"),
        "{text}"
    );
}

#[test]
fn config_check_lists_the_key_managers_of_the_example() {
    let out = Command::new(BIN).args(["config", "check", EXAMPLE]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Resident Key Manager\t(type resident)"), "{stdout}");
}

#[test]
fn a_broken_config_names_file_key_manager_and_field_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "signing_algorithm = \"ES256\"",
            "signing_algorithm = \"HS256\"",
            "field `signing_algorithm`: `HS256` is not allowed; expected one of: ES256, RS256, EdDSA",
        ),
        (
            "type = \"resident\"",
            "type = \"no-such-type\"",
            "field `type`: unknown type `no-such-type`; known types: auth0, entra, keycloak, oidc, okta, resident",
        ),
        (
            "token_format = \"jwt\"",
            "token_formt = \"jwt\"",
            "field `token_formt`: unknown field; known fields: issuer,",
        ),
        (
            "max_secrets_per_client = 5",
            "max_secrets_per_client = \"${KM_TEST_UNSET_VARIABLE}\"",
            "field `max_secrets_per_client`: environment variable `KM_TEST_UNSET_VARIABLE` is not set",
        ),
    ];
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    for (from, to, want) in cases {
        assert!(example.contains(from), "the example no longer has {from}");
        let path = dir.path().join("broken.toml");
        std::fs::write(&path, example.replace(from, to)).unwrap();
        let out = Command::new(BIN).args(["config", "check"]).arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let prefix = format!("error: {}: key manager \"Resident Key Manager\": ", path.display());
        assert!(stderr.starts_with(&prefix), "{stderr}");
        assert!(stderr.contains(want), "{stderr}");
    }
    let out = Command::new(BIN)
        .args(["config", "check", "/nonexistent/km.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn serve_runs_the_embedded_default_with_a_private_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let token_file = dir.path().join("admin-token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert!(token.trim().len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [&token_file, &dir.path().join("keymanager.db")] {
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let doc: serde_json::Value = reqwest::get(format!("{}/.well-known/openid-configuration", served.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["issuer"], served.base.as_str());
    });
    let first_base = served.base.clone();
    drop(served);
    // A restart reuses the same token, and, on another address without public_url, keeps the store's issuer: the
    // tokens issued before stay valid everywhere.
    let again = serve(dir.path());
    assert_ne!(again.base, first_base, "another free port");
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), token);
    let doc: serde_json::Value = rt.block_on(async {
        reqwest::get(format!("{}/.well-known/openid-configuration", again.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(doc["issuer"], first_base.as_str());
    drop(again);
}

#[test]
fn a_config_with_okta_keycloak_and_resident_works_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("km.toml");
    std::fs::write(
        &config,
        "[[key_manager]]\nname = \"Resident Key Manager\"\ntype = \"resident\"\n\n\
         [[key_manager]]\nname = \"okta\"\ntype = \"okta\"\norg_url = \"https://dev-000000.okta.com\"\n\
         api_token = \"${KM_TEST_OKTA_TOKEN}\"\n\n\
         [[key_manager]]\nname = \"keycloak\"\ntype = \"keycloak\"\nbase_url = \"https://kc.example.com\"\nrealm = \"acme\"\n\
         admin_client_id = \"keymanager-admin\"\nadmin_client_secret = \"${KM_TEST_OKTA_TOKEN}\"\n",
    )
    .unwrap();
    // The management commands ask the server the configuration describes.
    let served = common::serve_config(&config, dir.path(), &[("KM_TEST_OKTA_TOKEN", "00secret-api-token")]);
    let out = Command::new(BIN)
        .args([
            "--server",
            &served.base,
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--json",
            "key-managers",
            "list",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["count"], 3);
    assert_eq!(list["list"][1]["type"], "okta");
    assert_eq!(list["list"][2]["type"], "keycloak");
    assert_eq!(list["list"][2]["capabilities"]["multipleSecrets"], true);
    assert_eq!(list["list"][1]["capabilities"]["maxSecretsPerClient"], 2);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("00secret-api-token"));
}

#[test]
fn a_server_that_is_not_running_gives_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("admin-token"), "t").unwrap();
    let base = format!("http://127.0.0.1:{}", common::free_port());
    let out = apps_list(&base, dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("cannot connect to the keymanager server at {base}")),
        "{err}"
    );
    assert!(err.contains("keymanager serve"), "{err}");
    assert!(
        err.contains("Connection refused") || err.contains("connection refused"),
        "the cause: {err}"
    );
    assert!(std::fs::read_dir(dir.path()).unwrap().count() == 1, "nothing created");
}

#[test]
fn config_check_reads_keymanager_config_and_lists_every_problem_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("km.toml");
    std::fs::write(
        &path,
        "[[key_manager]]\nname = \"okta\"\ntype = \"okta\"\norg_url = \"https://dev-1.okta.com\"\n\
         api_token = \"${KM_TEST_UNSET_ONE}\"\nintrospection_client_id = \"${KM_TEST_UNSET_TWO}\"\n\
         introspection_client_secret = \"s\"\n\n\
         [[key_manager]]\nname = \"r\"\ntype = \"resident\"\ntoken_formt = \"jwt\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--json", "config", "check"])
        .env("KEYMANAGER_CONFIG", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 3, "{report:#}");
    assert_eq!(problems[0]["field"], "api_token");
    assert_eq!(problems[1]["field"], "introspection_client_id");
    assert_eq!(problems[2]["keyManager"], "r");
    assert_eq!(problems[2]["field"], "token_formt");
    // Without a file anywhere, the embedded default (what `serve` runs) is checked (issue 30).
    let out = Command::new(BIN)
        .args(["config", "check"])
        .env_remove("KEYMANAGER_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("(embedded default): valid, 1 key manager(s)") && said.contains("Resident Key Manager"),
        "{said}"
    );
}

#[test]
fn completions_and_the_manual_page_describe_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(BIN).args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        for command in ["serve", "apps", "secrets", "introspect", "revoke"] {
            assert!(text.contains(command), "{shell} completions lack {command}");
        }
    }
    let out = Command::new(BIN).arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.contains(".TH keymanager 1") && page.contains("completions"),
        "{page}"
    );
    // Issue 30: one page per command, as git has, and each command's own page on request.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["man", "--dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    for page in [
        "keymanager.1",
        "keymanager-apps.1",
        "keymanager-apps-show.1",
        "keymanager-scopes-add.1",
        "keymanager-config-check.1",
    ] {
        assert!(dir.path().join(page).is_file(), "{page}");
    }
    let out = Command::new(BIN).args(["man", "apps", "create"]).output().unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH keymanager-apps-create 1"), "{page}");
    // Each command's help keeps the global flags under their own heading, after its own options.
    let out = Command::new(BIN).args(["apps", "create", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let (own, global) = help.split_once("Global options:").expect("a Global options heading");
    assert!(own.contains("--owner") && !own.contains("--server"), "{help}");
    assert!(global.contains("--server") && global.contains("--json"), "{help}");
}

/// Issue 30 (item 4), through the binary: an `https://` server address against a plain-HTTP server says so, and a
/// string that is no token is called malformed, not "not active".
#[test]
fn messages_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let wrong = served.base.replacen("http://", "https://", 1);
    let out = apps_list(&wrong, dir.path());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains("speaks plain HTTP, not HTTPS") && said.contains(&served.base),
        "{said}"
    );
    let mut child = Command::new(BIN)
        .args(["--data-dir", dir.path().to_str().unwrap(), "validate"])
        .env_remove("KEYMANAGER_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"abc\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(said.contains("malformed") && !said.contains("not active"), "{said}");
}

/// `keymanager apps list` against `server`, with the admin token of `data_dir`.
fn apps_list(server: &str, data_dir: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .args([
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--server",
            server,
            "apps",
            "list",
        ])
        .env_remove("KEYMANAGER_CONFIG")
        .env_remove("KEYMANAGER_ADMIN_TOKEN")
        .output()
        .unwrap()
}

/// `docs/configuration.md` is `keymanager config reference`'s output: a setting added to a section or a connector
/// without regenerating it fails here.
#[test]
fn the_configuration_reference_in_docs_is_the_generated_one() {
    let out = Command::new(common::BIN)
        .args(["config", "reference"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
    let committed = std::fs::read_to_string(path).unwrap();
    assert!(
        generated == committed,
        "docs/configuration.md is stale: run `cargo run -p keymanager-cli -- config reference > docs/configuration.md`"
    );
    for table in [
        "[server]",
        "[database]",
        "[portal]",
        "[gateway]",
        "[[gateway.route]]",
        "type = \"resident\"",
        "type = \"okta\"",
    ] {
        assert!(
            generated.contains(&format!("## `{table}`")),
            "{table} is in the reference"
        );
    }
    let json = Command::new(common::BIN)
        .args(["--json", "config", "reference"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(v["keyManagerTypes"].as_array().unwrap().len() >= 4, "{v}");
}

/// Listening on every address (a container's `0.0.0.0`) without `public_url`: the server starts, its issuer is the
/// loopback address (a client can reach that, unlike 0.0.0.0), and it says to set `public_url`.
#[test]
fn serve_on_every_address_without_a_public_url_names_a_reachable_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let served = common::serve_with(&[
        "serve",
        "--listen",
        &format!("0.0.0.0:{port}"),
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    let base = format!("http://127.0.0.1:{port}");
    let discovery: serde_json::Value = reqwest::blocking::get(format!("{base}/.well-known/openid-configuration"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(discovery["issuer"], base.as_str(), "{discovery}");
    let ready = reqwest::blocking::get(format!("{base}/health/ready")).unwrap();
    assert_eq!(ready.status(), 200);
    drop(served);
}

/// A key id is base64url and may begin with `-` (`-q3…`): `signing-keys retire` takes it as the id, not as an
/// option (it failed at random in CI when a generated kid did).
#[test]
fn a_key_id_that_begins_with_a_hyphen_is_an_id() {
    let out = Command::new(BIN)
        .args(["--server", "http://127.0.0.1:9", "signing-keys", "retire", "-q3xYzKid"])
        .env("KEYMANAGER_ADMIN_TOKEN", "t")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("unexpected argument"), "{stderr}");
    assert!(stderr.contains("127.0.0.1:9"), "it tried the server: {stderr}");
}
