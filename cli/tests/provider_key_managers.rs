//! Auth0 and Entra ID key managers through the `keymanager` command line against a running server (issue 31): added
//! at run time with `key-managers add` (the secret from a settings file), an application's keys generated through
//! each, a token, a regenerated secret, the keys deleted — the providers are wiremock servers loaded from
//! `fixtures/auth0/` and `fixtures/entra/`, and what each received is checked.

mod common;

use std::process::{Command, Stdio};

use serde_json::Value;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(provider: &str, name: &str) -> Value {
    let p = format!(
        "{}/../fixtures/{provider}/responses/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

async fn provider(name: &str, routes: &[(&str, &str, u16, &str)]) -> MockServer {
    let server = MockServer::start().await;
    for (verb, route, status, body) in routes {
        Mock::given(method(*verb))
            .and(path_regex(*route))
            .respond_with(ResponseTemplate::new(*status).set_body_json(fixture(name, body)))
            .mount(&server)
            .await;
    }
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("/removePassword$"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

/// `keymanager --json --server BASE ARGS` as the administrator, `stdin` written; its JSON (it must succeed).
fn km(base: &str, admin: &str, args: &[&str], stdin: Option<&str>) -> Value {
    let mut child = Command::new(common::BIN)
        .args(["--json", "--server", base])
        .args(args)
        .env_remove("KEYMANAGER_CONFIG")
        .env("KEYMANAGER_ADMIN_TOKEN", admin)
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
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[test]
fn auth0_and_entra_key_managers_work_through_the_command_line() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let auth0 = rt.block_on(provider(
        "auth0",
        &[
            ("POST", "^/api/v2/clients$", 201, "create-client"),
            ("POST", "^/api/v2/client-grants$", 201, "client-grant"),
            ("GET", "^/api/v2/client-grants$", 200, "client-grants"),
            ("POST", "/rotate-secret$", 200, "rotate-secret"),
            ("POST", "^/oauth/token$", 200, "token-client-credentials"),
        ],
    ));
    let entra = rt.block_on(provider(
        "entra",
        &[
            ("POST", "/oauth2/v2.0/token$", 200, "token-client-credentials"),
            (r"GET", r"^/v1\.0/applications\(appId='d8f0", 200, "api-application"),
            (
                "GET",
                r"^/v1\.0/servicePrincipals\(appId='d8f0",
                200,
                "api-service-principal",
            ),
            (
                "GET",
                r"^/v1\.0/applications\(appId='631a",
                200,
                "application-with-password",
            ),
            (
                "GET",
                r"^/v1\.0/servicePrincipals\(appId='631a",
                200,
                "create-service-principal",
            ),
            ("GET", r"/appRoleAssignedTo$", 200, "app-role-assignments"),
            ("POST", r"^/v1\.0/applications$", 201, "create-application"),
            ("POST", r"^/v1\.0/servicePrincipals$", 201, "create-service-principal"),
            ("POST", "/addPassword$", 200, "add-password"),
            ("POST", "/appRoleAssignedTo$", 201, "app-role-assignment"),
        ],
    ));
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("keymanager.toml");
    // The providers are on this machine: the egress guard is told so, as a developer would.
    std::fs::write(
        &config,
        "[server]\nallow_private_fetches = true\n\n[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n",
    )
    .unwrap();
    let data = work.path().join("data");
    let served = common::serve_config(&config, &data, &[]);
    let admin = common::admin_token(&data);
    let base = served.base.as_str();
    let secrets = work.path().join("secrets.json");

    std::fs::write(&secrets, r#"{"management_client_secret": "mgmt-secret-value"}"#).unwrap();
    let added = km(
        base,
        &admin,
        &[
            "key-managers",
            "add",
            "auth0",
            "--type",
            "auth0",
            "--setting",
            "domain=tenant.example",
            "--setting",
            &format!("base_url={}", auth0.uri()),
            "--setting",
            "management_client_id=mgmt-client",
            "--setting",
            "audience=https://api.example.com/orders",
            "--settings-file",
            secrets.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(added["settings"]["management_client_secret"], "********", "{added}");

    std::fs::write(&secrets, r#"{"client_secret": "mgmt-secret-value"}"#).unwrap();
    km(
        base,
        &admin,
        &[
            "key-managers",
            "add",
            "entra",
            "--type",
            "entra",
            "--setting",
            "tenant_id=72f988bf-86f1-41af-91ab-2d7cd011db47",
            "--setting",
            "client_id=mgmt-app",
            "--setting",
            "api_application=d8f0a7b5-3c4e-4f5a-9b6c-7d8e9f0a1b2c",
            "--setting",
            &format!("graph_url={}/v1.0", entra.uri()),
            "--setting",
            &format!("login_url={}", entra.uri()),
            "--settings-file",
            secrets.to_str().unwrap(),
        ],
        None,
    );
    let listed = km(base, &admin, &["key-managers", "list"], None);
    for kind in ["auth0", "entra"] {
        assert!(
            listed.to_string().contains(&format!("\"{kind}\"")),
            "{kind} in {listed}"
        );
    }

    km(base, &admin, &["apps", "create", "orders", "--owner", "ops"], None);
    for (key_manager, key_type, client) in [
        ("auth0", "production", "AaiyAPdpYdesoKnqjj8HJqRn4T5titww"),
        ("entra", "sandbox", "631a96bc-a705-4eda-9f99-fdaf9f54f6a2"),
    ] {
        let keys = km(
            base,
            &admin,
            &[
                "keys",
                "generate",
                "--app",
                "orders",
                "--key-type",
                key_type,
                "--key-manager",
                key_manager,
                "--scopes",
                "read:orders",
            ],
            None,
        );
        assert_eq!(keys["consumerKey"], client, "{key_manager}: {keys}");
        let secret = keys["consumerSecret"].as_str().unwrap().to_owned();
        let token = km(
            base,
            &admin,
            &["token", "--app", "orders", "--key-type", key_type],
            Some(&format!("{secret}\n")),
        );
        assert!(token["accessToken"].as_str().is_some(), "{key_manager}: {token}");
        let rotated = km(
            base,
            &admin,
            &["keys", "regenerate-secret", "--app", "orders", "--key-type", key_type],
            None,
        );
        assert!(
            rotated.to_string().contains("consumerSecret"),
            "{key_manager}: {rotated}"
        );
        km(
            base,
            &admin,
            &["keys", "delete", "--app", "orders", "--key-type", key_type],
            None,
        );
    }

    let seen = |server: &MockServer| -> Vec<String> {
        rt.block_on(server.received_requests())
            .unwrap_or_default()
            .iter()
            .map(|r| format!("{} {}", r.method, r.url.path()))
            .collect()
    };
    let auth0_calls = seen(&auth0);
    for call in [
        "POST /api/v2/clients",
        "POST /api/v2/client-grants",
        "POST /oauth/token",
        "POST /api/v2/clients/AaiyAPdpYdesoKnqjj8HJqRn4T5titww/rotate-secret",
        "DELETE /api/v2/clients/AaiyAPdpYdesoKnqjj8HJqRn4T5titww",
    ] {
        assert!(auth0_calls.iter().any(|c| c == call), "{call} in {auth0_calls:#?}");
    }
    let entra_calls = seen(&entra);
    for call in [
        "POST /v1.0/applications",
        "POST /v1.0/servicePrincipals",
        "POST /v1.0/applications/03ef14b0-ca33-4840-8f4f-d6e91916010e/addPassword",
        "POST /v1.0/applications/03ef14b0-ca33-4840-8f4f-d6e91916010e/removePassword",
        "DELETE /v1.0/applications(appId='631a96bc-a705-4eda-9f99-fdaf9f54f6a2')",
    ] {
        assert!(entra_calls.iter().any(|c| c == call), "{call} in {entra_calls:#?}");
    }
}
