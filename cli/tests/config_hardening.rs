//! Review findings 5, 8 and 15: the data directory keeps its mode, read-only commands create nothing, `config check`
//! fails exactly when `serve` would (and neither panics), and weak settings are refused.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::BIN;

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("KEYMANAGER_CONFIG")
        .env_remove("KEYMANAGER_SERVER")
        .env_remove("KEYMANAGER_ADMIN_TOKEN")
        .env_remove("KEYMANAGER_DATA_DIR")
        .env("KEYMANAGER_DATA_DIR", dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `serve` with this config, which must refuse it: the exit code and stderr, or a failure if it keeps running.
fn serve_refuses(config: &Path, dir: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args([
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            dir.to_str().unwrap(),
            "serve",
        ])
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("KEYMANAGER_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            return (status.code(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve accepted {}", std::fs::read_to_string(config).unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn config_check_fails_exactly_when_serve_would_and_neither_panics() {
    let resident = "[[key_manager]]\nname = \"r\"\ntype = \"resident\"\n";
    let cases: Vec<(String, &str)> = vec![
        (
            format!("[database]\nmax_connections = 0\n{resident}"),
            "database.max_connections",
        ),
        (
            format!("[database]\nurl = \"mysql://db/km\"\n{resident}"),
            "database.url",
        ),
        (
            format!("[server]\nlisten = \"not an address\"\n{resident}"),
            "server.listen",
        ),
        (
            format!("[server]\nlisten = \"127.0.0.1:99999\"\n{resident}"),
            "server.listen",
        ),
        (
            format!("[server]\ntls_cert = \"cert.pem\"\n{resident}"),
            "server.tls_key",
        ),
        (
            format!("[server]\nadmin_token = \"x\"\n{resident}"),
            "server.admin_token",
        ),
        (
            format!("[server]\npublic_url = \"javascript:alert(1)\"\n{resident}"),
            "server.public_url",
        ),
        (
            format!("[server]\nheader_read_timeout_seconds = 0\n{resident}"),
            "server.header_read_timeout_seconds",
        ),
        (
            format!("[server]\nrequest_timeout_seconds = 9223372036854775807\n{resident}"),
            "server.request_timeout_seconds",
        ),
        (
            format!("[server]\nmax_connections = 0\n{resident}"),
            "server.max_connections",
        ),
        (
            format!("{resident}access_token_lifetime = 0\n"),
            "access_token_lifetime",
        ),
        (
            format!("{resident}access_token_lifetime = 7200\nmax_access_token_lifetime = 3600\n"),
            "access_token_lifetime",
        ),
        (
            format!("{resident}max_access_token_lifetime = 9223372036854775807\n"),
            "max_access_token_lifetime",
        ),
        (
            format!("{resident}refresh_token_lifetime = 9223372036854775807\n"),
            "refresh_token_lifetime",
        ),
        (
            format!("{resident}max_secrets_per_client = 0\n"),
            "max_secrets_per_client",
        ),
        (
            format!("{resident}client_cache_seconds = 9223372036854775807\n"),
            "client_cache_seconds",
        ),
        (
            format!("{resident}max_secrets_per_client = 2\nmultiple_secrets = false\n"),
            "max_secrets_per_client",
        ),
        // A limit above the provider's own.
        (
            format!(
                "{resident}[[key_manager]]\nname = \"o\"\ntype = \"okta\"\norg_url = \"https://dev-1.okta.com\"\n\
                 api_token = \"t0k3n\"\nmax_secrets_per_client = 3\n"
            ),
            "max_secrets_per_client",
        ),
        (
            format!("{resident}client_secret_storage = \"shown\"\n"),
            "client_secret_storage",
        ),
        (format!("{resident}users = [\"nopassword\"]\n"), "users[0]"),
        (
            format!("{resident}users = [\"al\\u001bice:long enough password\"]\n"),
            "users[0]",
        ),
        (
            format!("{resident}users = [\"a:long enough\", \"a:long enough\"]\n"),
            "users[1]",
        ),
    ];
    for (text, field) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("km.toml");
        std::fs::write(&config, &text).unwrap();
        let checked = run(&["config", "check", config.to_str().unwrap()], dir.path());
        let check_err = String::from_utf8_lossy(&checked.stderr).into_owned();
        assert_eq!(
            checked.status.code(),
            Some(2),
            "config check passed:\n{text}\n{check_err}"
        );
        assert!(check_err.contains(&format!("field `{field}`")), "{text}\n{check_err}");
        let (code, serve_err) = serve_refuses(&config, &dir.path().join("data"));
        assert_eq!(
            code,
            Some(2),
            "serve must refuse with exit 2, not panic:\n{text}\n{serve_err}"
        );
        assert!(!serve_err.contains("panicked"), "{serve_err}");
        assert_eq!(
            serve_err.lines().last(),
            check_err.lines().last(),
            "both say the same for:\n{text}"
        );
    }
}

#[cfg(unix)]
#[test]
fn the_data_directory_keeps_its_mode_and_read_only_commands_create_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("shared");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    // Management commands are clients of the server: without one they fail and create nothing.
    for args in [
        &["apps", "list"][..],
        &["keys", "show", "--app", "x"][..],
        &["key-managers", "list"][..],
        &["apps", "create", "orders", "--owner", "alice"][..],
    ] {
        let out = run(args, &dir);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("admin token"), "{args:?}: {err}");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "{args:?} created something"
        );
    }
    drop(common::serve(&dir));
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777,
        0o1777,
        "an existing directory keeps its mode"
    );
    // A directory the program creates is owner-only.
    let fresh = parent.path().join("fresh");
    drop(common::serve(&fresh));
    assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
}

#[cfg(unix)]
#[test]
fn an_admin_token_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("admin-token");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef0123456789\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = dir.path().join("km.toml");
    std::fs::write(&config, "[[key_manager]]\nname = \"r\"\ntype = \"resident\"\n").unwrap();
    let (code, err) = serve_refuses(&config, dir.path());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
}

/// Review finding 14: control characters are refused in every name and description, so nothing that could drive
/// an operator's terminal is stored; an error that quotes the input shows it escaped.
#[test]
fn control_characters_are_refused_in_names_and_descriptions() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let run = |args: &[&str], dir: &Path| run(&[&["--server", served.base.as_str()][..], args].concat(), dir);
    let out = run(&["apps", "create", "orders\u{1b}[2J", "--owner", "alice"], dir.path());
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains('\u{1b}'), "the error echoes a raw escape: {err:?}");
    assert!(run(&["apps", "create", "orders", "--owner", "alice"], dir.path())
        .status
        .success());
    assert!(run(
        &["keys", "generate", "--app", "orders", "--key-type", "sandbox"],
        dir.path()
    )
    .status
    .success());
    for description in ["title\u{1b}]0;pwned\u{7}", "line\rover", "bidi\u{202e}txt"] {
        let out = run(
            &[
                "secrets",
                "create",
                "--app",
                "orders",
                "--key-type",
                "sandbox",
                "--description",
                description,
            ],
            dir.path(),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{description:?} was stored");
        assert!(err.contains("description"), "{err}");
        assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");
    }
    let listed = run(
        &["secrets", "list", "--app", "orders", "--key-type", "sandbox"],
        dir.path(),
    );
    assert!(listed.status.success());
    assert!(!String::from_utf8_lossy(&listed.stdout)
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t'));
}

/// Review 2, finding 11: a database file named in `[database] url` is owner-only whatever its path (it holds the
/// signing keys), so are the files beside it and everything else the server writes; an existing one that others
/// can read is refused at start, as a loose admin-token file is.
#[cfg(unix)]
#[test]
fn every_file_the_server_creates_is_private_and_a_loose_database_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let place = dir.path().join("elsewhere");
    std::fs::create_dir(&place).unwrap();
    std::fs::set_permissions(&place, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = place.join("km.db");
    let config = dir.path().join("km.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n\n[[key_manager]]\nname = \"r\"\ntype = \"resident\"\n\
             client_secret_storage = \"retrievable\"\n",
            db.display()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let served = common::serve_config(&config, &data, &[]);
    // Something written, so the WAL exists.
    let admin = common::admin_token(&data);
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/api/applications", served.base))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "shop", "owner": "shop"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&place)
        .unwrap()
        .chain(std::fs::read_dir(&data).unwrap())
    {
        let path = entry.unwrap().path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}, want {want:o}", path.display());
        checked.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    assert!(
        checked.iter().any(|n| n == "km.db") && checked.iter().any(|n| n == "admin-token"),
        "{checked:?}"
    );
    drop(served);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, err) = serve_refuses(&config, &data);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("chmod 600") && err.contains("km.db"), "{err}");
}
