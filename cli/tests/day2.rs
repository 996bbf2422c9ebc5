//! Day-2 operations through the CLI against real servers, on SQLite and (when `KEYMANAGER_TEST_POSTGRES_URL` is
//! set) PostgreSQL: the secret key rotated while a node serves, a backup taken under write load and restored with
//! every acknowledged write, secret and token, `migrate --check`, signing-key rotation on every node, and a gateway
//! without the database that follows the revocation events.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// `keymanager --json ARGS` with this data directory, configuration and environment: (exit code, JSON, all text).
fn km(
    dir: &Path,
    config: Option<&Path>,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
) -> (i32, Value, String) {
    let mut cmd = Command::new(common::BIN);
    cmd.args(["--json", "--data-dir"]).arg(dir);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let mut child = cmd
        .args(args)
        .env_remove("KEYMANAGER_CONFIG")
        .env_remove("KEYMANAGER_ADMIN_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout + &stderr,
    )
}

/// `keymanager --server BASE ARGS`, which must succeed: its JSON.
fn ok_at(dir: &Path, config: &Path, env: &[(&str, &str)], base: &str, args: &[&str], stdin: Option<&str>) -> Value {
    let mut all = vec!["--server", base];
    all.extend_from_slice(args);
    let (code, json, text) = km(dir, Some(config), env, &all, stdin);
    assert_eq!(code, 0, "{args:?}: {text}");
    json
}

/// The databases to run on: SQLite in `dir`, and a fresh PostgreSQL schema when one is configured.
fn databases(dir: &Path, prefix: &str) -> Vec<String> {
    let mut out = vec![format!("sqlite://{}", dir.join("shared.db").display())];
    if let Ok(base) = std::env::var("KEYMANAGER_TEST_POSTGRES_URL") {
        out.push(common::postgres_schema(&base, prefix, None));
    } else {
        common::missing("PostgreSQL", "set KEYMANAGER_TEST_POSTGRES_URL for the PostgreSQL half");
    }
    out
}

fn write_config(dir: &Path, database_url: &str) -> std::path::PathBuf {
    let config = dir.join("keymanager.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{database_url}\"\n\n[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n\
             client_secret_storage = \"retrievable\"\n"
        ),
    )
    .unwrap();
    config
}

fn fingerprint(entry: &str) -> String {
    entry.split_once(':').unwrap().0.to_owned()
}

/// A key in `keymanager secret-key generate`'s shape, from the command itself.
fn generated_entry(dir: &Path) -> String {
    let out = Command::new(common::BIN)
        .args(["secret-key", "generate"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let entry = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (id, key) = entry.split_once(':').unwrap();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(key).unwrap();
    assert_eq!(bytes.len(), 32, "{dir:?}");
    assert_eq!(
        id,
        keymanager::server_kit::fingerprint(&bytes),
        "the id is the key's fingerprint"
    );
    entry
}

#[test]
fn the_secret_key_is_rotated_while_a_node_serves_and_then_the_old_key_can_go() {
    for (n, url) in databases(&tempfile::tempdir().unwrap().keep(), "km_secret_rotate")
        .iter()
        .enumerate()
    {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let config = write_config(d, url);
        let (old, new) = (generated_entry(d), generated_entry(d));
        assert_ne!(old, new);
        let secret_key = |key: &str, command: &str| {
            km(
                d,
                Some(&config),
                &[("KEYMANAGER_SECRET_KEY", key)],
                &["secret-key", command],
                None,
            )
        };
        let served = common::serve_config(&config, d, &[("KEYMANAGER_SECRET_KEY", &old)]);
        let base = served.base.clone();
        let admin = common::admin_token(d);
        let on_server = |args: &[&str]| ok_at(d, &config, &[], &base, args, None);
        on_server(&["apps", "create", "billing", "--owner", "alice"]);
        let keys = on_server(&["keys", "generate", "--app", "billing", "--key-type", "production"]);
        let secret = keys["consumerSecret"].as_str().unwrap().to_owned();
        let made = reqwest::blocking::Client::new()
            .post(format!("{base}/api/key-managers"))
            .bearer_auth(&admin)
            .json(
                &json!({"name": "kc", "type": "keycloak", "settings": {"base_url": "https://kc.example.com",
                "realm": "acme", "admin_client_id": "km-admin", "admin_client_secret": "kc-admin-secret-value"}}),
            )
            .send()
            .unwrap();
        assert_eq!(made.status(), 201, "{}", made.text().unwrap());
        drop(served);

        // Every node gets the new entry first (the old after it), then the rotation runs while they serve.
        let both = format!("{new},{old}");
        let served = common::serve_config(&config, d, &[("KEYMANAGER_SECRET_KEY", &both)]);
        let base = served.base.clone();
        let on_server = |args: &[&str]| ok_at(d, &config, &[], &base, args, None);
        let (code, status, text) = secret_key(&both, "status");
        assert_eq!(code, 0, "{text}");
        assert_eq!(status["sealingKey"], fingerprint(&new).as_str(), "{status}");
        assert!(
            status["storeNeeds"]
                .as_array()
                .unwrap()
                .contains(&json!(fingerprint(&old))),
            "{status}"
        );
        assert_eq!(status["missing"], json!([]), "{status}");
        let places: Vec<&str> = status["toReseal"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let client_id = keys["consumerKey"].as_str().unwrap();
        assert!(places.contains(&"key_manager:kc:admin_client_secret"), "{status}");
        assert!(
            places
                .iter()
                .any(|p| p.starts_with(&format!("client_secret:{client_id}:"))),
            "{status}"
        );
        let secrets = places.iter().filter(|p| p.starts_with("client_secret:")).count() as u64;
        assert!(
            !text.contains(&secret) && !text.contains("kc-admin-secret-value"),
            "{text}"
        );

        // While the node serves.
        let (code, rotated, text) = secret_key(&both, "rotate");
        assert_eq!(code, 0, "{text}");
        assert_eq!(
            (
                rotated["keyManagerSettings"].as_u64(),
                rotated["clientSecrets"].as_u64()
            ),
            (Some(1), Some(secrets)),
            "{rotated}"
        );
        let (_, again, _) = secret_key(&both, "rotate");
        assert_eq!(
            (again["keyManagerSettings"].as_u64(), again["clientSecrets"].as_u64()),
            (Some(0), Some(0)),
            "resumable: {again}"
        );
        // The serving node answers for what it holds, before and after.
        let shown = on_server(&["keys", "show", "--app", "billing"]);
        assert_eq!(shown["list"][0]["consumerSecret"], secret.as_str(), "{shown}");
        drop(served);

        // The new key alone opens everything; the old alone no longer does, and says which key it lacks.
        let (code, status, text) = secret_key(&new, "status");
        assert_eq!(code, 0, "{text}");
        assert_eq!(status["storeNeeds"], json!([fingerprint(&new)]), "{status}");
        let (code, _, text) = secret_key(&old, "status");
        assert_eq!(code, 1, "{text}");
        assert!(text.contains(&format!("lacks key(s) {}", fingerprint(&new))), "{text}");
        let node = common::serve_config(&config, d, &[("KEYMANAGER_SECRET_KEY", &new)]);
        let (code, shown, text) = km(
            d,
            Some(&config),
            &[],
            &["--server", &node.base, "keys", "show", "--app", "billing"],
            None,
        );
        assert_eq!(code, 0, "{text}");
        assert_eq!(
            shown["list"][0]["consumerSecret"],
            secret.as_str(),
            "backend {n}: {shown}"
        );
        let kc = reqwest::blocking::Client::new()
            .get(format!("{}/api/key-managers/kc", node.base))
            .bearer_auth(&admin)
            .send()
            .unwrap();
        assert_eq!(kc.status(), 200, "the sealed setting opens with the new key");
    }
}

#[test]
fn a_backup_taken_under_write_load_restores_every_acknowledged_write_secret_and_token() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = d.join("keymanager.toml");
    std::fs::write(
        &config,
        "[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\nclient_secret_storage = \"retrievable\"\n",
    )
    .unwrap();
    let served = common::serve_config(&config, d, &[]);
    let base = served.base.clone();
    let admin = common::admin_token(d);
    let run = |dir: &Path, base: &str, args: &[&str], stdin: Option<&str>| {
        ok_at(dir, &config, &[("KEYMANAGER_ADMIN_TOKEN", &admin)], base, args, stdin)
    };
    run(d, &base, &["apps", "create", "orders", "--owner", "alice"], None);
    let keys = run(
        d,
        &base,
        &["keys", "generate", "--app", "orders", "--key-type", "production"],
        None,
    );
    let secret = keys["consumerSecret"].as_str().unwrap().to_owned();
    let token = run(
        d,
        &base,
        &["token", "--app", "orders", "--key-type", "production"],
        Some(&format!("{secret}\n")),
    );
    let token = token["accessToken"].as_str().unwrap().to_owned();

    // Writers keep creating applications while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let backup_started = Arc::new(AtomicBool::new(false));
    let acknowledged_before: Arc<Mutex<Vec<String>>> = Arc::default();
    let writer = {
        let (stop, started, acked, base, admin) = (
            stop.clone(),
            backup_started.clone(),
            acknowledged_before.clone(),
            base.clone(),
            admin.clone(),
        );
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::new();
            let mut i = 0;
            let mut total = 0;
            while !stop.load(Ordering::SeqCst) {
                let name = format!("load-{i}");
                i += 1;
                let before = !started.load(Ordering::SeqCst);
                let r = http
                    .post(format!("{base}/api/applications"))
                    .bearer_auth(&admin)
                    .json(&json!({"name": name, "owner": "load"}))
                    .send()
                    .unwrap();
                assert_eq!(r.status(), 201, "{}", r.text().unwrap());
                total += 1;
                if before {
                    acked.lock().unwrap().push(name);
                }
            }
            total
        })
    };
    common::until("writes are flowing", || acknowledged_before.lock().unwrap().len() >= 5);
    let file = d.join("backup.db");
    backup_started.store(true, Ordering::SeqCst);
    let (code, _, text) = km(d, Some(&config), &[], &["backup", file.to_str().unwrap()], None);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Keep the secret key with it"), "{text}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    let total = writer.join().unwrap();
    let acked = acknowledged_before.lock().unwrap().clone();
    assert!(
        total > acked.len(),
        "writes went on during the backup ({total} in all, {} before)",
        acked.len()
    );
    let (code, _, text) = km(d, Some(&config), &[], &["backup", file.to_str().unwrap()], None);
    assert_eq!(code, 2, "never overwrites: {text}");
    drop(served);

    // Restore into an empty data directory, with the secret key kept beside the backup.
    let restored = tempfile::tempdir().unwrap();
    let r = restored.path();
    let (code, _, text) = km(r, Some(&config), &[], &["restore", file.to_str().unwrap()], None);
    assert_eq!(code, 0, "{text}");
    let (code, _, text) = km(r, Some(&config), &[], &["restore", file.to_str().unwrap()], None);
    assert_eq!(code, 2, "only into an empty data directory: {text}");
    std::fs::copy(d.join("secret-key"), r.join("secret-key")).unwrap();
    // The admin tokens are in the store (hashed): the one from before works.
    let node = common::serve_config(&config, r, &[]);
    let mut names: Vec<String> = Vec::new();
    loop {
        let page: Value = reqwest::blocking::Client::new()
            .get(format!(
                "{}/api/applications?limit=500&offset={}",
                node.base,
                names.len()
            ))
            .bearer_auth(&admin)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let list = page["list"].as_array().unwrap_or_else(|| panic!("{page}"));
        if list.is_empty() {
            break;
        }
        names.extend(list.iter().filter_map(|a| a["name"].as_str().map(String::from)));
    }
    for name in acked.iter().map(String::as_str).chain(["orders"]) {
        assert!(
            names.iter().any(|n| n == name),
            "{name} was acknowledged before the backup began: {names:?}"
        );
    }
    let shown = run(r, &node.base, &["keys", "show", "--app", "orders"], None);
    assert_eq!(
        shown["list"][0]["consumerSecret"],
        secret.as_str(),
        "the retrievable secret opens"
    );
    let (code, principal, text) = km(r, Some(&config), &[], &["validate"], Some(&format!("{token}\n")));
    assert_eq!(
        code, 0,
        "a token from before the backup is valid after the restore: {text}"
    );
    assert_eq!(principal["clientId"], keys["consumerKey"], "{principal}");
    run(
        r,
        &node.base,
        &["token", "--app", "orders", "--key-type", "production"],
        Some(&format!("{secret}\n")),
    );

    // Not a backup; PostgreSQL is pg_dump's.
    let junk = d.join("junk.db");
    std::fs::write(&junk, "not a database").unwrap();
    let empty = tempfile::tempdir().unwrap();
    let (code, _, text) = km(
        empty.path(),
        Some(&config),
        &[],
        &["restore", junk.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("is not a keymanager backup"), "{text}");
    assert_eq!(
        std::fs::read_dir(empty.path()).unwrap().count(),
        0,
        "nothing left behind"
    );
    let pg = d.join("pg.toml");
    std::fs::write(
        &pg,
        "[database]\nurl = \"postgres://km@127.0.0.1:1/km\"\n\n[[key_manager]]\nname = \"r\"\ntype = \"resident\"\n",
    )
    .unwrap();
    let (code, _, text) = km(d, Some(&pg), &[], &["backup", d.join("x.db").to_str().unwrap()], None);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("pg_dump"), "{text}");
}

#[test]
fn migrate_check_says_what_a_start_would_apply_and_refuses_a_newer_database() {
    for url in databases(&tempfile::tempdir().unwrap().keep(), "km_migrate_check") {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let config = write_config(d, &url);
        let (code, fresh, text) = km(d, Some(&config), &[], &["migrate", "--check"], None);
        if url.starts_with("sqlite:") {
            assert_eq!(code, 2, "no database yet: {text}");
        } else {
            assert_eq!(code, 0, "{text}");
            assert!(
                !fresh[0]["pending"].as_array().unwrap().is_empty(),
                "a new schema needs everything: {fresh}"
            );
            assert_eq!(fresh[0]["applied"], 0);
        }
        let (code, _, text) = km(d, Some(&config), &[], &["migrate"], None);
        assert_eq!(code, 0, "{text}");
        let (code, done, text) = km(d, Some(&config), &[], &["migrate", "--check"], None);
        assert_eq!(code, 0, "{text}");
        for component in done.as_array().unwrap() {
            assert_eq!(component["pending"], json!([]), "{done}");
        }
        assert!(
            done[1]["applied"].as_u64().unwrap() > 0,
            "the resident's tables: {done}"
        );

        // A newer version's migration in the table: refused, naming it; nothing applied by the check.
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&url).await.unwrap();
            let checksum = if url.starts_with("sqlite:") {
                "X'00'"
            } else {
                "decode('00', 'hex')"
            };
            sqlx::query(&format!(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (999999999, 'from the future', TRUE, {checksum}, 0)"
            ))
            .execute(&pool)
            .await
            .unwrap();
        });
        let (code, _, text) = km(d, Some(&config), &[], &["migrate", "--check"], None);
        assert_eq!(code, 1, "{text}");
        assert!(
            text.contains("999999999") && text.contains("newer keymanager"),
            "{text}"
        );
    }
}

/// Signing keys as an operation, through the CLI and the API, on every node and at `gateway-auth` (two servers and a
/// gateway on one store): a token from before a rotation validates after it everywhere, new tokens are signed by the
/// new key, the key that signs now cannot be retired, and once the old key is retired its token is refused
/// everywhere. Both changes are audited.
#[test]
fn a_rotation_reaches_every_node_and_the_gateway_and_a_retired_key_is_refused_everywhere() {
    for url in databases(&tempfile::tempdir().unwrap().keep(), "km_signing_keys") {
        let work = tempfile::tempdir().unwrap();
        let config = work.path().join("keymanager.toml");
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"{url}\"\n\n[gateway]\nproxy = \"nginx\"\ndefault = \"authenticated\"\n\n\
                 [[key_manager]]\nname = \"resident\"\ntype = \"resident\"\nsigning_key_pre_publication = 0\n"
            ),
        )
        .unwrap();
        let (dir_a, dir_b, dir_g) = (work.path().join("a"), work.path().join("b"), work.path().join("g"));
        let key = generated_entry(work.path());
        let env = [("KEYMANAGER_SECRET_KEY", key.as_str())];
        let a = common::serve_config(&config, &dir_a, &env);
        let b = common::serve_config(&config, &dir_b, &env);
        let listen_g = format!("127.0.0.1:{}", common::free_port());
        let g = common::serve_with_env(
            &[
                "--config",
                config.to_str().unwrap(),
                "--data-dir",
                dir_g.to_str().unwrap(),
                "gateway-auth",
                "--listen",
                &listen_g,
            ],
            &env,
        );
        let admin = common::admin_token(&dir_a);
        let as_admin = [("KEYMANAGER_ADMIN_TOKEN", admin.as_str())];
        let cli = |base: &str, args: &[&str], stdin: Option<&str>| {
            let mut all = vec!["--server", base];
            all.extend_from_slice(args);
            km(&dir_a, Some(&config), &as_admin, &all, stdin)
        };
        let ok = |base: &str, args: &[&str], stdin: Option<&str>| ok_at(&dir_a, &config, &as_admin, base, args, stdin);
        ok(&a.base, &["apps", "create", "orders", "--owner", "ops"], None);
        let keys = ok(
            &a.base,
            &["keys", "generate", "--app", "orders", "--key-type", "production"],
            None,
        );
        let secret = format!("{}\n", keys["consumerSecret"].as_str().unwrap());
        let token = |base: &str| {
            ok(
                base,
                &["token", "--app", "orders", "--key-type", "production"],
                Some(&secret),
            )["accessToken"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let before = token(&a.base);
        let old_kid = kid(&before);
        let http = reqwest::blocking::Client::new();
        let gates = [a.base.clone(), b.base.clone(), g.base.clone()];
        for gate in &gates {
            assert_eq!(common::gateway_status(&http, gate, &before), 200, "{gate}");
        }

        let listed = ok(&b.base, &["signing-keys", "list"], None);
        assert!(
            listed["list"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == old_kid.as_str() && k["phase"] == "signing"),
            "{listed}"
        );
        let rotated = ok(
            &a.base,
            &["signing-keys", "rotate", "--pre-publish", "0", "--retire-after", "1h"],
            None,
        );
        let new_kid = rotated["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["phase"] == "signing" && k["alg"] == "ES256")
            .unwrap_or_else(|| panic!("{rotated}"))["kid"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_ne!(new_kid, old_kid);
        // Node B signs with the new key at once (push propagation), and every gateway takes both tokens.
        common::until("B signs with the new key", || kid(&token(&b.base)) == new_kid);
        let after = token(&b.base);
        for gate in &gates {
            assert_eq!(
                common::gateway_status(&http, gate, &before),
                200,
                "a token from before the rotation, at {gate}"
            );
            assert_eq!(
                common::gateway_status(&http, gate, &after),
                200,
                "a token from after, at {gate}"
            );
        }

        // The key that signs now is refused by name; the old one goes, through the API.
        let (code, _, text) = cli(&b.base, &["signing-keys", "retire", &new_kid], None);
        assert_eq!(code, 1, "{text}");
        assert!(text.contains("rotate first"), "{text}");
        let retired = http
            .post(format!("{}/api/signing-keys/{old_kid}/retire", b.base))
            .bearer_auth(&admin)
            .send()
            .unwrap();
        assert_eq!(retired.status(), 200, "{}", retired.text().unwrap());
        for gate in &gates {
            common::until(&format!("{gate} refuses the retired key's token"), || {
                common::gateway_status(&http, gate, &before) == 401
            });
            assert_eq!(common::gateway_status(&http, gate, &after), 200, "{gate}");
        }
        for action in ["signing_key.rotate", "signing_key.retire"] {
            let audit: Value = http
                .get(format!("{}/api/audit?action={action}", a.base))
                .bearer_auth(&admin)
                .send()
                .unwrap()
                .json()
                .unwrap();
            assert!(
                !audit["list"].as_array().unwrap().is_empty(),
                "{action} is audited: {audit}"
            );
        }
        // Only administrators.
        let anonymous = http.get(format!("{}/api/signing-keys", a.base)).send().unwrap();
        assert_eq!(anonymous.status(), 401);
    }
}

/// Revocation events for a gateway that shares no database with the key service (`gateway-auth --events`, issue
/// 29 item 6): a token revoked through the management API is refused there within a second; it stays refused while
/// the key service restarts (a token not revoked keeps working meanwhile); a restarted gateway refuses it again once
/// it has caught up, and accepts nothing before (503). A `keymanager:apps`-only caller cannot follow the events.
#[test]
fn a_gateway_without_the_database_refuses_a_revoked_token_within_a_second() {
    for url in databases(&tempfile::tempdir().unwrap().keep(), "km_gateway_events") {
        let work = tempfile::tempdir().unwrap();
        let config = write_config(work.path(), &url);
        let dir_a = work.path().join("a");
        let key = generated_entry(work.path());
        let env = [("KEYMANAGER_SECRET_KEY", key.as_str())];
        let listen_a = format!("127.0.0.1:{}", common::free_port());
        let serve_args = [
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            dir_a.to_str().unwrap(),
            "serve",
            "--listen",
            &listen_a,
        ];
        let a = common::serve_with_env(&serve_args, &env);
        let admin = common::admin_token(&dir_a);
        let as_admin = [("KEYMANAGER_ADMIN_TOKEN", admin.as_str())];
        // Through the key service at `base` (it restarts below, on the same address).
        let ok = |base: &str, args: &[&str], stdin: Option<&str>| ok_at(&dir_a, &config, &as_admin, base, args, stdin);
        ok(&a.base, &["apps", "create", "orders", "--owner", "ops"], None);
        let keys = ok(
            &a.base,
            &["keys", "generate", "--app", "orders", "--key-type", "production"],
            None,
        );
        let secret = keys["consumerSecret"].as_str().unwrap().to_owned();
        let token = |base: &str| {
            ok(
                base,
                &["token", "--app", "orders", "--key-type", "production"],
                Some(&format!("{secret}\n")),
            )["accessToken"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let (revoked, kept) = (token(&a.base), token(&a.base));

        // The gateway: its own configuration, no database, the resident named as the key service names it.
        let gateway_config = work.path().join("gateway.toml");
        std::fs::write(
            &gateway_config,
            format!(
                "[gateway]\nproxy = \"nginx\"\ndefault = \"authenticated\"\n\n[[key_manager]]\nname = \"resident\"\n\
                 type = \"oidc\"\nissuer = \"{}\"\n",
                a.base
            ),
        )
        .unwrap();
        let events = format!("{}/api/gateway/events", a.base);
        let gateway = || following_gateway(&gateway_config, &work.path().join("g"), &events, &admin);
        let http = reqwest::blocking::Client::new();
        let ready = |base: &str| {
            http.get(format!("{base}/health/ready"))
                .send()
                .is_ok_and(|r| r.status() == 200)
        };
        let g = gateway();
        common::until("the gateway caught up", || ready(&g.base));
        assert!(
            !work.path().join("g").join("keymanager.db").exists(),
            "the gateway made no database"
        );
        assert_eq!(common::gateway_status(&http, &g.base, &revoked), 200);

        let (code, _, text) = km(
            &dir_a,
            Some(&config),
            &[
                ("KEYMANAGER_ADMIN_TOKEN", admin.as_str()),
                ("KEYMANAGER_CLIENT_SECRET", secret.as_str()),
            ],
            &[
                "--server",
                &a.base,
                "revoke",
                "--app",
                "orders",
                "--key-type",
                "production",
            ],
            Some(&format!("{revoked}\n")),
        );
        assert_eq!(code, 0, "{text}");
        let took = common::until("a revoked token refused at the remote gateway", || {
            common::gateway_status(&http, &g.base, &revoked) == 401
        });
        assert!(took < std::time::Duration::from_secs(1), "{took:?}");
        assert_eq!(common::gateway_status(&http, &g.base, &kept), 200);

        // The key service restarts: the gateway keeps refusing the revoked token, keeps serving the other.
        drop(a);
        assert_eq!(common::gateway_status(&http, &g.base, &revoked), 401);
        assert_eq!(common::gateway_status(&http, &g.base, &kept), 200);
        let a = common::serve_with_env(&serve_args, &env);
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert_eq!(common::gateway_status(&http, &g.base, &revoked), 401);

        // The gateway restarts: nothing is accepted before it caught up, the revoked token is refused after.
        drop(g);
        let g = gateway();
        let first = common::gateway_status(&http, &g.base, &revoked);
        assert!(first == 503 || first == 401, "before catching up: {first}");
        common::until("the restarted gateway caught up", || ready(&g.base));
        assert_eq!(common::gateway_status(&http, &g.base, &revoked), 401);
        assert_eq!(common::gateway_status(&http, &g.base, &kept), 200);

        // A signing key retired at the key service: the remote gateway refuses what it signed within a second
        // (a notice on the stream: it fetches the keys again), and accepts what the new key signs.
        let old_kid = kid(&kept);
        let rotated = ok(
            &a.base,
            &["signing-keys", "rotate", "--pre-publish", "0", "--retire-after", "1h"],
            None,
        );
        assert!(rotated["list"].as_array().is_some_and(|l| l.len() > 1), "{rotated}");
        let fresh = token(&a.base);
        assert_ne!(kid(&fresh), old_kid);
        // Without a pre-publication the new key signs at once: the rotation's notice makes the gateway fetch it.
        let took = common::until("a new key's token accepted at the remote gateway", || {
            common::gateway_status(&http, &g.base, &fresh) == 200
        });
        assert!(took < std::time::Duration::from_secs(1), "{took:?}");
        assert_eq!(common::gateway_status(&http, &g.base, &kept), 200);
        ok(&a.base, &["signing-keys", "retire", &old_kid], None);
        let took = common::until("a retired key's token refused at the remote gateway", || {
            common::gateway_status(&http, &g.base, &kept) == 401
        });
        assert!(took < std::time::Duration::from_secs(1), "{took:?}");
        assert_eq!(common::gateway_status(&http, &g.base, &fresh), 200);

        // Who may follow: an administrator or `keymanager:gateway`; nobody else.
        let anonymous = http.get(&events).send().unwrap();
        assert_eq!(anonymous.status(), 401);
        let bad_id = http
            .get(&events)
            .bearer_auth(&admin)
            .header("Last-Event-ID", "x")
            .send()
            .unwrap();
        assert_eq!(bad_id.status(), 400);
        drop(a);
    }
}

/// A DPoP proof is used once across every gateway node (RFC 9449 §11.1, issue 29 item 2): two `serve` nodes on one
/// store and a `gateway-auth --events` without a database. A proof accepted at one node's `/gateway/auth` is a
/// replay at the other node and at the remote gateway, and one accepted at the remote gateway is a replay at the
/// nodes; fresh proofs pass everywhere. With the key service down the remote gateway cannot record a proof and
/// refuses it (503), never accepting it on a guess. The record's API is for gateways only and checks its input.
#[test]
fn a_dpop_proof_is_used_once_across_every_gateway_node() {
    use keymanager::validation::dpop::ProofKey;
    const ORIGIN: &str = "https://api.example";
    for url in databases(&tempfile::tempdir().unwrap().keep(), "km_dpop_nodes") {
        let work = tempfile::tempdir().unwrap();
        let config = work.path().join("keymanager.toml");
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = \"{url}\"\n\n[gateway]\nproxy = \"nginx\"\ndefault = \"authenticated\"\n\
                 public_origin = \"{ORIGIN}\"\n\n[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n"
            ),
        )
        .unwrap();
        let (dir_a, dir_b) = (work.path().join("a"), work.path().join("b"));
        let key = generated_entry(work.path());
        let env = [("KEYMANAGER_SECRET_KEY", key.as_str())];
        let a = common::serve_config(&config, &dir_a, &env);
        let b = common::serve_config(&config, &dir_b, &env);
        let admin = common::admin_token(&dir_a);
        let gateway_config = work.path().join("gateway.toml");
        std::fs::write(
            &gateway_config,
            format!(
                "[gateway]\nproxy = \"nginx\"\ndefault = \"authenticated\"\npublic_origin = \"{ORIGIN}\"\n\n\
                 [[key_manager]]\nname = \"resident\"\ntype = \"oidc\"\nissuer = \"{}\"\n",
                a.base
            ),
        )
        .unwrap();
        let events = format!("{}/api/gateway/events", a.base);
        let g = following_gateway(&gateway_config, &work.path().join("g"), &events, &admin);
        let http = reqwest::blocking::Client::new();
        common::until("the remote gateway caught up", || {
            http.get(format!("{}/health/ready", g.base))
                .send()
                .is_ok_and(|r| r.status() == 200)
        });

        // A client whose tokens are bound to its key, and one such token from node A.
        let registered = common::register_client(
            &a.base,
            &admin,
            &json!({"client_name": "bound", "grant_types": ["client_credentials"],
                    "dpop_bound_access_tokens": true}),
        );
        let proof_key = ProofKey::es256().unwrap();
        let endpoint = format!("{}/oauth2/token", a.base);
        let issued: Value = http
            .post(&endpoint)
            .basic_auth(
                registered["client_id"].as_str().unwrap(),
                registered["client_secret"].as_str(),
            )
            .header(
                "dpop",
                proof_key.proof("POST", &endpoint, keymanager::model::now(), None),
            )
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(issued["token_type"], "DPoP", "{issued}");
        let token = issued["access_token"].as_str().unwrap().to_owned();
        let fresh = || {
            proof_key.proof(
                "GET",
                &format!("{ORIGIN}/orders"),
                keymanager::model::now(),
                Some(&token),
            )
        };
        let ask = |base: &str, proof: &str| {
            let r = http
                .get(format!("{base}/gateway/auth"))
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof)
                .header("X-Original-Method", "GET")
                .header("X-Original-URI", "/orders")
                .send()
                .unwrap();
            let challenge = r
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (r.status().as_u16(), challenge)
        };

        // Accepted at A: a replay at B, at the remote gateway, and at A itself.
        let first = fresh();
        assert_eq!(ask(&a.base, &first).0, 200, "{url}");
        for gate in [&b.base, &g.base, &a.base] {
            let (status, challenge) = ask(gate, &first);
            assert_eq!(status, 401, "{gate}: a proof used at A");
            assert!(challenge.contains("invalid_dpop_proof"), "{gate}: {challenge}");
        }
        // Accepted at the remote gateway (recorded through the key service's API): a replay at both nodes.
        let second = fresh();
        assert_eq!(ask(&g.base, &second).0, 200, "{url}");
        for gate in [&a.base, &b.base, &g.base] {
            assert_eq!(ask(gate, &second).0, 401, "{gate}: a proof used at the remote gateway");
        }
        // Fresh proofs pass everywhere.
        for gate in [&a.base, &b.base, &g.base] {
            assert_eq!(ask(gate, &fresh()).0, 200, "{gate}");
        }
        // As a bearer token it is refused, and A's metrics count each refusal by its reason.
        assert_eq!(common::gateway_status(&http, &a.base, &token), 401);
        let metrics = http.get(format!("{}/metrics", a.base)).send().unwrap().text().unwrap();
        for counted in [
            r#"keymanager_validations_total{outcome="refused",reason="dpop_bound"} 1"#,
            r#"keymanager_validations_total{outcome="refused",reason="invalid_dpop_proof"} 2"#,
            r#"keymanager_validations_total{outcome="valid",reason="none"} 2"#,
        ] {
            assert!(metrics.contains(counted), "{counted}: {metrics}");
        }

        // The record's API: gateways only, its input checked.
        let record = format!("{}/api/gateway/dpop-proofs", a.base);
        let jkt = proof_key.thumbprint();
        let anonymous = http
            .post(&record)
            .json(&json!({"jkt": jkt, "jti": "x"}))
            .send()
            .unwrap();
        assert_eq!(anonymous.status(), 401);
        let post = |body: Value| http.post(&record).bearer_auth(&admin).json(&body).send().unwrap();
        assert_eq!(post(json!({"jkt": jkt, "jti": "api-1"})).status(), 204);
        assert_eq!(post(json!({"jkt": jkt, "jti": "api-1"})).status(), 409);
        for bad in [
            json!({"jkt": "short", "jti": "x"}),
            json!({"jkt": jkt, "jti": ""}),
            json!({"jkt": jkt, "jti": "x".repeat(257)}),
            json!({"jkt": jkt, "jti": "x", "expires_at": i64::MAX}),
        ] {
            let refused = post(bad.clone());
            assert_eq!(refused.status(), 400, "{bad}");
        }

        // The key service down: the remote gateway cannot record a proof, and refuses it rather than guess.
        drop(a);
        drop(b);
        let (status, _) = ask(&g.base, &fresh());
        assert_eq!(status, 503, "{url}");
    }
}

/// `keymanager gateway-auth --events EVENTS` with its own configuration and data directory (where it makes no
/// database), presenting `token` to the key service.
fn following_gateway(config: &Path, dir: &Path, events: &str, token: &str) -> common::Served {
    let listen = format!("127.0.0.1:{}", common::free_port());
    common::serve_with_env(
        &[
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            dir.to_str().unwrap(),
            "gateway-auth",
            "--listen",
            &listen,
            "--events",
            events,
        ],
        &[("KEYMANAGER_GATEWAY_TOKEN", token)],
    )
}

/// The `kid` of a JWT's header.
fn kid(token: &str) -> String {
    use base64::Engine;
    let head = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice::<Value>(&head).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}
