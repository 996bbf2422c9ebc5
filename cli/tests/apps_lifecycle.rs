//! `keymanager apps update`, `export` and `import` from the shell against a real `serve`: an application moves with
//! its attributes and keys' settings (never a secret); an import whose keys cannot be mapped leaves nothing behind.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn km(dir: &Path, base: &str, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(common::BIN)
        .args(["--json", "--data-dir"])
        .arg(dir)
        .args(["--server", base])
        .args(args)
        .env_remove("KEYMANAGER_CONFIG")
        .env_remove("KEYMANAGER_SERVER")
        .env_remove("KEYMANAGER_ADMIN_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout + &stderr,
    )
}

fn ok(dir: &Path, base: &str, args: &[&str]) -> Value {
    let (code, json, text) = km(dir, base, args);
    assert_eq!(code, 0, "{args:?}: {text}");
    json
}

#[test]
fn an_application_is_updated_exported_and_imported() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let (d, base) = (dir.path(), served.base.as_str());
    ok(
        d,
        base,
        &[
            "apps",
            "create",
            "orders",
            "--owner",
            "alice",
            "--attribute",
            "tier=gold",
        ],
    );
    let keys = ok(
        d,
        base,
        &[
            "keys",
            "generate",
            "--app",
            "orders",
            "--key-type",
            "production",
            "--scopes",
            "orders:read",
        ],
    );
    let consumer_key = keys["consumerKey"].as_str().unwrap().to_owned();

    // Update: description and attributes (given ones replace the others); a bad attribute is refused by name.
    let updated = ok(
        d,
        base,
        &[
            "apps",
            "update",
            "orders",
            "--description",
            "Takes orders",
            "--attribute",
            "tier=silver",
            "--attribute",
            "team=shop",
        ],
    );
    assert_eq!(updated["description"], "Takes orders");
    assert_eq!(
        updated["attributes"],
        serde_json::json!({"team": "shop", "tier": "silver"})
    );
    let (code, _, text) = km(d, base, &["apps", "update", "orders", "--attribute", "bad key=x"]);
    assert_ne!(code, 0);
    assert!(text.contains("attributes.bad key"), "{text}");
    let listed = ok(d, base, &["apps", "list", "--query", "ORD"]);
    assert_eq!(listed["count"], 1, "{listed}");

    // Export: the application and its keys' settings, no secret.
    let (code, exported, text) = km(d, base, &["apps", "export", "orders"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(exported["format"], "keymanager-application/1");
    assert_eq!(exported["attributes"]["team"], "shop");
    assert_eq!(exported["keys"][0]["consumerKey"], consumer_key.as_str());
    assert!(
        !text.contains(keys["consumerSecret"].as_str().unwrap()),
        "no secret in the export"
    );
    let file = d.join("orders.json");
    std::fs::write(&file, exported.to_string()).unwrap();

    // Import with new clients: same settings, new consumer key, its secret shown once.
    let imported = ok(
        d,
        base,
        &[
            "apps",
            "import",
            file.to_str().unwrap(),
            "--name",
            "orders-copy",
            "--owner",
            "alice",
            "--generate-keys",
        ],
    );
    assert_eq!(imported["application"]["name"], "orders-copy");
    assert_eq!(imported["application"]["attributes"]["tier"], "silver");
    let new_key = &imported["keys"][0];
    assert_ne!(new_key["consumerKey"], consumer_key.as_str());
    assert!(new_key["consumerSecret"].is_string());
    assert_eq!(new_key["scopes"], serde_json::json!(["orders:read"]));

    // Import mapping the same client, on the same server: the client has a holder already, so nothing is imported.
    let (code, _, text) = km(
        d,
        base,
        &[
            "apps",
            "import",
            file.to_str().unwrap(),
            "--name",
            "orders-mapped",
            "--owner",
            "alice",
        ],
    );
    assert_ne!(code, 0);
    assert!(text.contains("nothing was imported"), "{text}");
    let left = ok(d, base, &["apps", "list", "--query", "orders-mapped"]);
    assert_eq!(left["count"], 0, "the half-made application is gone: {left}");
    // A file of another format is refused clearly.
    std::fs::write(&file, r#"{"format": "other/9", "name": "x"}"#).unwrap();
    let (code, _, text) = km(d, base, &["apps", "import", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("keymanager-application/1"), "{text}");
}

/// `client_secret_storage = "retrievable"` through `serve`: the secret key is created in the data directory (0600),
/// the keys' secret is shown again by `keys show`, and the database file never holds it in the clear.
#[test]
fn retrievable_secrets_are_shown_again_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keymanager.toml");
    std::fs::write(
        &config,
        "[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\nclient_secret_storage = \"retrievable\"\n",
    )
    .unwrap();
    let served = common::serve_config(&config, dir.path(), &[]);
    let (d, base) = (dir.path(), served.base.as_str());
    ok(d, base, &["apps", "create", "billing", "--owner", "alice"]);
    let keys = ok(
        d,
        base,
        &["keys", "generate", "--app", "billing", "--key-type", "sandbox"],
    );
    let secret = keys["consumerSecret"].as_str().unwrap().to_owned();
    let shown = ok(d, base, &["keys", "show", "--app", "billing"]);
    assert_eq!(shown["list"][0]["consumerSecret"], secret.as_str(), "{shown}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("secret-key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mut scanned = 0;
    for entry in std::fs::read_dir(d).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".db") || name.ends_with(".db-wal") {
            scanned += 1;
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&secret),
                "{name} holds the secret in the clear"
            );
        }
    }
    assert!(scanned > 0, "the database files were found and read");
}

#[path = "../../tests/peers/oidc_provider.rs"]
mod oidc_peer;

/// `keymanager key-managers discover` (WSO2's import from well-known URL) against `serve` itself and the
/// `oidc-provider` peer: the issuer read from either the issuer or its well-known URL, the endpoints proposed as an
/// `oidc` key manager's settings; a plain-http non-loopback URL refused by field.
#[test]
fn key_managers_are_proposed_from_well_known_metadata() {
    let dir = tempfile::tempdir().unwrap();
    // The providers here are on this machine: the egress guard is told so.
    let config = dir.path().join("keymanager.toml");
    std::fs::write(
        &config,
        "[server]\nallow_private_fetches = true\n\n[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n",
    )
    .unwrap();
    let served = common::serve_config(&config, dir.path(), &[]);
    let (d, base) = (dir.path(), served.base.as_str());
    let own = ok(
        d,
        base,
        &[
            "key-managers",
            "discover",
            &format!("{base}/.well-known/openid-configuration"),
        ],
    );
    assert_eq!(own["type"], "oidc");
    assert_eq!(own["openid"], true, "{own}");
    assert_eq!(own["settings"]["issuer"], base);
    assert_eq!(own["settings"]["token_endpoint"], format!("{base}/oauth2/token"));
    assert_eq!(
        own["settings"]["registration_endpoint"],
        format!("{base}/oauth2/register")
    );
    assert!(own["codeChallengeMethods"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("S256")));
    assert!(own["configToml"]
        .as_str()
        .unwrap()
        .contains(&format!("issuer = \"{base}\"")));
    let (code, _, text) = km(d, base, &["key-managers", "discover", "http://idp.example.com"]);
    assert_ne!(code, 0);
    assert!(text.contains("url"), "{text}");
    if let Some(peer) = oidc_peer::start_provider() {
        let found = ok(d, base, &["key-managers", "discover", &peer.issuer]);
        assert_eq!(found["openid"], true, "{found}");
        assert_eq!(found["settings"]["issuer"], peer.issuer.as_str());
        assert!(found["settings"]["introspection_endpoint"].is_string(), "{found}");
        assert!(
            found["grantTypes"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("client_credentials")),
            "{found}"
        );
    }
}

/// Keys updated at the provider (the resident): grant types, callback URL, scopes, PKCE and the token lifetime
/// change together; a change the provider refuses changes nothing.
#[test]
fn keys_are_updated_at_the_provider_first() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let (d, base) = (dir.path(), served.base.as_str());
    ok(d, base, &["apps", "create", "orders", "--owner", "alice"]);
    let keys = ok(
        d,
        base,
        &[
            "keys",
            "generate",
            "--app",
            "orders",
            "--key-type",
            "production",
            "--scopes",
            "orders:read",
        ],
    );
    let app = ok(d, base, &["apps", "list"])["list"][0]["applicationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!(
        "{base}/api/applications/{app}/oauth-keys/{}",
        keys["keyMappingId"].as_str().unwrap()
    );
    let admin = common::admin_token(d);
    let http = reqwest::blocking::Client::new();
    let put = |body: serde_json::Value| http.put(&path).bearer_auth(&admin).json(&body).send().unwrap();
    let r = put(serde_json::json!({
        "grantTypesToBeSupported": ["client_credentials", "authorization_code"], "callbackUrl": "https://app.example/cb",
        "scopes": ["orders:read", "orders:write"], "pkceMandatory": true, "validityTime": 120,
    }));
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    let read = || -> Value { http.get(&path).bearer_auth(&admin).send().unwrap().json().unwrap() };
    let after = read();
    assert_eq!(after["validityTime"], 120, "{after}");
    assert_eq!(after["scopes"], serde_json::json!(["orders:read", "orders:write"]));
    assert_eq!(after["callbackUrl"], "https://app.example/cb");
    assert_eq!(after["pkceMandatory"], true);
    // The provider refuses (a bad JWK Set): nothing changes.
    let r = put(serde_json::json!({
        "grantTypesToBeSupported": ["client_credentials"], "scopes": ["orders:read"], "validityTime": 60,
        "additionalProperties": {"jwks": {"keys": []}},
    }));
    assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);
    let body: Value = r.json().unwrap();
    assert_eq!(body["errors"][0]["field"], "additionalProperties.jwks.keys", "{body}");
    assert_eq!(read(), after, "a refused update leaves the keys as they were");
}
