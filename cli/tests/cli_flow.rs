//! The key flow from the shell, scripted with `--json`, every command a client of a running `serve`.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

struct Shell<'a> {
    dir: &'a Path,
    server: String,
}

impl Shell<'_> {
    /// Run `keymanager --data-dir DIR ARGS…` with `stdin`; the exit code and stdout parsed as JSON (or as text).
    fn run(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (i32, Value, String) {
        let mut child = Command::new(common::BIN)
            .arg("--data-dir")
            .arg(self.dir)
            .arg("--server")
            .arg(&self.server)
            .args(args)
            .env_remove("KEYMANAGER_CONFIG")
            .env_remove("KEYMANAGER_SERVER")
            .env_remove("KEYMANAGER_ADMIN_TOKEN")
            .env_remove("KEYMANAGER_CLIENT_SECRET")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (
            out.status.code().unwrap_or(-1),
            serde_json::from_str(&stdout).unwrap_or(Value::Null),
            stdout + &stderr,
        )
    }

    fn ok(&self, args: &[&str], stdin: &str) -> Value {
        let (code, json, text) = self.run(args, stdin, &[]);
        assert_eq!(code, 0, "{args:?}: {text}");
        json
    }
}

#[test]
fn the_key_flow_from_the_shell_alongside_serve() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let sh = Shell {
        dir: dir.path(),
        server: served.base.clone(),
    };

    let kms = sh.ok(&["--json", "key-managers", "list"], "");
    assert_eq!(kms["list"][0]["name"], "Resident Key Manager");
    let app = sh.ok(&["--json", "apps", "create", "orders", "--owner", "alice"], "");
    assert_eq!(app["name"], "orders");
    assert_eq!(sh.ok(&["--json", "apps", "list"], "")["count"], 1);

    let keys = sh.ok(
        &[
            "--json",
            "keys",
            "generate",
            "--app",
            "orders",
            "--key-type",
            "Production",
            "--grant-types",
            "client_credentials",
            "--scopes",
            "orders:read,orders:write",
        ],
        "",
    );
    let (id, secret) = (
        keys["consumerKey"].as_str().unwrap().to_owned(),
        keys["consumerSecret"].as_str().unwrap().to_owned(),
    );
    assert_eq!(keys["keyType"], "PRODUCTION");

    // A token, with the secret on stdin; then introspection with the token on stdin.
    let token = sh.ok(
        &[
            "--json",
            "token",
            "--app",
            "orders",
            "--key-type",
            "production",
            "--scopes",
            "orders:read",
        ],
        &secret,
    );
    let access = token["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(token["tokenScopes"], serde_json::json!(["orders:read"]));
    let info = sh.ok(&["introspect"], &access);
    assert_eq!(
        (info["active"].as_bool(), info["client_id"].as_str()),
        (Some(true), Some(id.as_str()))
    );

    // The running server accepts what the shell created in the same database.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = |secret: String| {
        let (base, id) = (served.base.clone(), id.clone());
        rt.block_on(async move {
            reqwest::Client::new()
                .post(format!("{base}/oauth2/token"))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    assert_eq!(status(secret.clone()), 200);

    // Secrets: create, list masked, delete the first.
    let created = sh.ok(
        &[
            "--json",
            "secrets",
            "create",
            "--app",
            "orders",
            "--key-type",
            "PRODUCTION",
            "--description",
            "rotation",
            "--expires-in",
            "3600",
        ],
        "",
    );
    let second = created["secretValue"].as_str().unwrap().to_owned();
    let listed = sh.ok(
        &[
            "--json",
            "secrets",
            "list",
            "--app",
            "orders",
            "--key-type",
            "production",
        ],
        "",
    );
    assert_eq!(listed["count"], 2);
    assert!(!listed.to_string().contains(&secret) && !listed.to_string().contains(&second));
    let first_id = listed["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["secretId"] != created["secretId"])
        .unwrap()["secretId"]
        .as_str()
        .unwrap()
        .to_owned();
    sh.ok(
        &[
            "secrets",
            "delete",
            "--app",
            "orders",
            "--key-type",
            "production",
            "--secret-id",
            &first_id,
        ],
        "",
    );
    assert_eq!(
        sh.ok(
            &[
                "--json",
                "secrets",
                "list",
                "--app",
                "orders",
                "--key-type",
                "production"
            ],
            ""
        )["count"],
        1
    );

    // Regenerate, show, revoke (secret in the environment, token on stdin).
    let regen = sh.ok(
        &[
            "--json",
            "keys",
            "regenerate-secret",
            "--app",
            "orders",
            "--key-type",
            "production",
        ],
        "",
    );
    let fresh = regen["consumerSecret"].as_str().unwrap().to_owned();
    let shown = sh.ok(&["--json", "keys", "show", "--app", "orders"], "");
    assert_eq!(shown["count"], 1);
    assert!(shown["list"][0].get("consumerSecret").is_none());
    let token = sh.ok(
        &["--json", "token", "--app", "orders", "--key-type", "production"],
        &fresh,
    );
    let access = token["accessToken"].as_str().unwrap().to_owned();
    // Revoke with the same selectors as the other commands; introspect at the keys' key manager.
    let selectors = ["--app", "orders", "--key-type", "production"];
    assert_eq!(
        sh.ok(&[&["introspect"][..], &selectors].concat(), &access)["active"],
        true
    );
    let (code, _, text) = sh.run(
        &[&["revoke"][..], &selectors].concat(),
        &access,
        &[("KEYMANAGER_CLIENT_SECRET", &fresh)],
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(sh.ok(&["introspect"], &access)["active"], false);
    // A raw client id stays possible.
    let other = sh.ok(
        &["--json", "token", "--app", "orders", "--key-type", "production"],
        &fresh,
    )["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, _, text) = sh.run(
        &["revoke", &format!("--client-id={id}")],
        &other,
        &[("KEYMANAGER_CLIENT_SECRET", &fresh)],
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(sh.ok(&["introspect"], &other)["active"], false);
    let (code, _, text) = sh.run(&["validate"], &access, &[]);
    assert_eq!(code, 1, "a revoked token does not validate: {text}");
    assert!(text.contains("revoked"), "{text}");

    // Key-manager properties from the shell: a client that must use DPoP gets no token through the key service (which
    // holds no proof key), and says why; a property the key manager does not know is refused by name.
    sh.ok(&["apps", "create", "bound"], "");
    let bound = sh.ok(
        &[
            "--json",
            "keys",
            "generate",
            "--app",
            "bound",
            "--key-type",
            "sandbox",
            "--property",
            "dpop_bound_access_tokens=true",
        ],
        "",
    );
    let bound_secret = bound["consumerSecret"].as_str().unwrap().to_owned();
    let (code, _, text) = sh.run(
        &["token", "--app", "bound", "--key-type", "sandbox"],
        &bound_secret,
        &[],
    );
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("dpop_bound_access_tokens"), "{text}");
    let (code, _, text) = sh.run(
        &[
            "keys",
            "generate",
            "--app",
            "bound",
            "--key-type",
            "production",
            "--property",
            "no_such_thing=1",
        ],
        "",
        &[],
    );
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("no_such_thing"), "{text}");

    // A client another application holds cannot be mapped a second time; one registered outside any
    // application (RFC 7591, as a partner's existing client would be) can.
    sh.ok(&["apps", "create", "legacy"], "");
    let legacy = sh.ok(
        &["--json", "keys", "generate", "--app", "legacy", "--key-type", "sandbox"],
        "",
    );
    let legacy_secret = legacy["consumerSecret"].as_str().unwrap().to_owned();
    sh.ok(&["apps", "create", "mapped-into"], "");
    let map = |client_id: &str, secret: &str| {
        sh.run(
            &[
                "--json",
                "keys",
                "map",
                "--app",
                "mapped-into",
                "--key-type",
                "SANDBOX",
                "--client-id",
                client_id,
            ],
            secret,
            &[],
        )
    };
    let (code, _, text) = map(legacy["consumerKey"].as_str().unwrap(), &legacy_secret);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("held by an application already"), "{text}");
    let admin = common::admin_token(dir.path());
    let partner: Value = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/oauth2/register", served.base))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"client_name": "partner", "grant_types": ["client_credentials"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let (code, mapped, text) = map(
        partner["client_id"].as_str().unwrap(),
        partner["client_secret"].as_str().unwrap(),
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(mapped["keyOrigin"], "MAPPED");
    sh.ok(&["apps", "delete", "orders"], "");
    assert_eq!(status(fresh), 401, "deleting the application deleted its client");

    // Exit codes: a refused operation is 1, bad usage 2.
    let (code, _, _) = sh.run(&["keys", "show", "--app", "no-such-app"], "", &[]);
    assert_eq!(code, 1);
    let (code, _, text) = sh.run(&["keys", "show", "--app", "legacy", "--key-type", "staging"], "", &[]);
    assert_eq!(code, 2, "{text}");
    let (code, _, text) = sh.run(&["token", "--app", "legacy", "--key-type", "sandbox"], "", &[]);
    assert_eq!(code, 2, "no secret on stdin is bad usage: {text}");
    let (code, _, _) = sh.run(&["apps", "frobnicate"], "", &[]);
    assert_eq!(code, 2);
}

#[test]
fn the_password_grant_from_the_shell_for_testing() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let sh = Shell {
        dir: dir.path(),
        server: served.base.clone(),
    };
    sh.ok(&["apps", "create", "tester"], "");
    let keys = sh.ok(
        &[
            "--json",
            "keys",
            "generate",
            "--app",
            "tester",
            "--key-type",
            "sandbox",
            "--grant-types",
            "client_credentials,password",
            "--scopes",
            "profile",
        ],
        "",
    );
    let secret = keys["consumerSecret"].as_str().unwrap().to_owned();
    sh.ok(&["users", "add", "carol"], "carol's password");
    assert_eq!(sh.ok(&["--json", "users", "list"], "")["list"][0]["username"], "carol");
    let (code, json, text) = sh.run(
        &[
            "--json",
            "token",
            "--app",
            "tester",
            "--key-type",
            "sandbox",
            "--grant-type",
            "password",
            "--username",
            "carol",
        ],
        "carol's password",
        &[("KEYMANAGER_CLIENT_SECRET", &secret)],
    );
    assert_eq!(code, 0, "{text}");
    let principal = sh.ok(&["validate"], json["accessToken"].as_str().unwrap());
    assert_ne!(principal["subject"], keys["consumerKey"], "the token speaks for carol");
    let (code, _, _) = sh.run(
        &[
            "token",
            "--app",
            "tester",
            "--key-type",
            "sandbox",
            "--grant-type",
            "password",
            "--username",
            "carol",
        ],
        "wrong password",
        &[("KEYMANAGER_CLIENT_SECRET", &secret)],
    );
    assert_eq!(code, 1, "a wrong password is refused");
    // Changed through the server: roles and claims; then a new password, after which carol's token no longer
    // validates and only the new password signs her in.
    let changed = sh.ok(
        &[
            "--json",
            "users",
            "update",
            "carol",
            "--role",
            "auditor",
            "--name",
            "Carol Example",
        ],
        "",
    );
    assert_eq!(
        (changed["roles"][0].as_str(), changed["name"].as_str()),
        (Some("auditor"), Some("Carol Example"))
    );
    sh.ok(&["users", "update", "carol", "--password"], "carol's new password");
    let (code, _, _) = sh.run(&["validate"], json["accessToken"].as_str().unwrap(), &[]);
    assert_ne!(code, 0, "a new password ends what carol was granted before");
    let new_token = |password: &str| {
        sh.run(
            &[
                "token",
                "--app",
                "tester",
                "--key-type",
                "sandbox",
                "--grant-type",
                "password",
                "--username",
                "carol",
            ],
            password,
            &[("KEYMANAGER_CLIENT_SECRET", &secret)],
        )
        .0
    };
    assert_eq!(new_token("carol's password"), 1);
    assert_eq!(new_token("carol's new password"), 0);
    let none = sh.ok(&["--json", "users", "update", "carol", "--no-roles"], "");
    assert_eq!(none["roles"], serde_json::json!([]));
}
