//! `keymanager login` as a person runs it: the CLI prints the sign-in address and waits on its loopback redirect;
//! the "browser" here is an HTTP client that follows redirects and fills in the login and consent forms it meets.
//! Against `keymanager serve` (the resident) and the pinned `oidc-provider` peer (its development login and consent
//! pages), each time the CLI verifies the ID token and prints the tokens.

mod common;
#[path = "../../tests/peers/oidc_provider.rs"]
mod oidc_peer;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use serde_json::{json, Value};

/// Run `keymanager --json … login ARGS` in the background; its first stderr line after "Sign in at" is the URL.
fn start_login(dir: &Path, base: &str, args: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(common::BIN)
        .args(["--json", "--data-dir"])
        .arg(dir)
        .args(["--server", base, "login", "--no-browser", "--timeout", "60"])
        .args(args)
        .env_remove("KEYMANAGER_CONFIG")
        .env_remove("KEYMANAGER_SERVER")
        .env_remove("KEYMANAGER_CLIENT_SECRET")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let Some(Ok(line)) = lines.next() else {
            panic!(
                "login ended before printing the address: {:?}",
                child.wait_with_output()
            );
        };
        if let Some(u) = line.trim().strip_prefix("http") {
            break format!("http{u}");
        }
    };
    // Keep draining stderr so the child never blocks on it; shown if the test fails.
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("login: {l}");
        }
    });
    (child, url)
}

/// The value of `name="…" value="…"` attributes of the inputs of the first POST form of `html`, with its action.
fn form_of(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let start = html.find("<form")?;
    let form = &html[start..html[start..].find("</form>").map(|e| start + e)?];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!("{name}=\"");
        let at = tag.find(&key)? + key.len();
        Some(
            tag[at..at + tag[at..].find('"')?]
                .replace("&amp;", "&")
                .replace("&quot;", "\"")
                .replace("&#39;", "'"),
        )
    };
    let action = attr(&form[..form.find('>')?], "action")?;
    let mut fields = Vec::new();
    for piece in form.split("<input").skip(1) {
        let tag = &piece[..piece.find('>').unwrap_or(piece.len())];
        if let Some(name) = attr(tag, "name") {
            fields.push((name, attr(tag, "value").unwrap_or_default()));
        }
    }
    Some((action, fields))
}

/// Follow the sign-in like a browser until the provider sends it to the authorization request's `redirect_uri` (the
/// CLI's listener): every redirect followed, every form posted with its hidden fields, the user name and password
/// filled in, and the approving button pressed.
fn sign_in(start: &str, user: &str, password: &str) {
    let callback_prefix = url::Url::parse(start)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .expect("the authorization URL names its redirect_uri");
    let callback_prefix = callback_prefix.as_str();
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::blocking::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut next = http.get(start).send().unwrap();
    for _ in 0..20 {
        let here = next.url().clone();
        if next.status().is_redirection() {
            let to = here.join(next.headers()["location"].to_str().unwrap()).unwrap();
            if to.as_str().starts_with(callback_prefix) {
                let done = http.get(to).send().unwrap();
                assert!(
                    done.status().is_success(),
                    "the CLI's listener answered {}",
                    done.status()
                );
                return;
            }
            next = http.get(to).send().unwrap();
            continue;
        }
        let status = next.status();
        let html = next.text().unwrap();
        let (action, mut fields) = form_of(&html).unwrap_or_else(|| panic!("{status} at {here} with no form: {html}"));
        for (name, value) in fields.iter_mut() {
            match name.as_str() {
                "username" | "login" => *value = user.to_owned(),
                "password" => *value = password.to_owned(),
                _ => {}
            }
        }
        if html.contains("name=\"decision\"") {
            fields.push(("decision".into(), "approve".into()));
        }
        next = http.post(here.join(&action).unwrap()).form(&fields).send().unwrap();
    }
    panic!("the sign-in did not come back to {callback_prefix}");
}

fn finish(child: Child) -> Value {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "login failed ({}): {stdout}", out.status);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// An application owned by `owner`, with keys generated as `keys` asks (the management API's generate-keys body).
fn app_with_keys(base: &str, admin: &str, name: &str, owner: &str, keys: Value) -> String {
    let app = api(
        base,
        admin,
        reqwest::Method::POST,
        "/api/applications",
        json!({"name": name, "owner": owner}),
    );
    let app_id = app["applicationId"].as_str().unwrap().to_owned();
    api(
        base,
        admin,
        reqwest::Method::POST,
        &format!("/api/applications/{app_id}/generate-keys"),
        keys,
    );
    app_id
}

fn api(base: &str, admin: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let resp = reqwest::blocking::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .unwrap();
    let status = resp.status();
    let answer: Value = resp.json().unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

/// Against the resident: a public client registered with `http://127.0.0.1/callback` (RFC 8252 §7.3: any port),
/// the user signs in on the login page, the CLI verifies the ID token (ES256 by default) and prints both tokens; the
/// access token validates at the server. A confidential client without its secret is refused before anything opens.
#[test]
fn login_against_keymanager_serve() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let base = served.base.as_str();
    common::add_user(dir.path(), base, "dana", "dana's long password");
    let admin = common::admin_token(dir.path());
    let app_id = app_with_keys(
        base,
        &admin,
        "cli-app",
        "dana",
        json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["authorization_code", "refresh_token"],
               "callbackUrl": "http://127.0.0.1/callback", "scopes": ["openid", "profile"],
               "bypassClientCredentials": true, "pkceMandatory": true}),
    );
    let (child, url) = start_login(
        dir.path(),
        base,
        &[
            "--app",
            "cli-app",
            "--key-type",
            "production",
            "--scopes",
            "openid,profile",
        ],
        &[("KEYMANAGER_ADMIN_TOKEN", admin.as_str())],
    );
    assert!(url.starts_with(&format!("{base}/oauth2/authorize?")), "{url}");
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("nonce="),
        "{url}"
    );
    sign_in(&url, "dana", "dana's long password");
    let out = finish(child);
    assert_eq!(out["idTokenClaims"]["sub"], "dana", "{out}");
    assert_eq!(out["idTokenClaims"]["iss"], base);
    assert!(out["idTokenClaims"]["sid"].is_string(), "{out}");
    assert!(out["refreshToken"].is_string());
    assert_eq!(out["tokenType"], "bearer");
    let access = out["accessToken"].as_str().unwrap();
    let info: Value = reqwest::blocking::Client::new()
        .post(format!("{base}/oauth2/introspect"))
        .bearer_auth(&admin)
        .form(&[("token", access)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info["active"], true, "{info}");

    // Keys generated as a private_key_jwt client: its public key registered, no secret issued.
    let other = api(
        base,
        &admin,
        reqwest::Method::POST,
        "/api/applications",
        json!({"name": "jwt-app", "owner": "dana"}),
    );
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    let keys = api(
        base,
        &admin,
        reqwest::Method::POST,
        &format!(
            "/api/applications/{}/generate-keys",
            other["applicationId"].as_str().unwrap()
        ),
        json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"],
               "additionalProperties": {"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [jwk]}}}),
    );
    assert!(keys.get("consumerSecret").is_none_or(Value::is_null), "{keys}");
    assert!(keys["consumerKey"].is_string(), "{keys}");

    // Confidential keys need their secret in KEYMANAGER_CLIENT_SECRET.
    api(
        base,
        &admin,
        reqwest::Method::POST,
        &format!("/api/applications/{app_id}/generate-keys"),
        json!({"keyType": "SANDBOX", "grantTypesToBeSupported": ["authorization_code"],
               "callbackUrl": "http://127.0.0.1/callback", "scopes": ["openid"]}),
    );
    let out = Command::new(common::BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "--server",
            base,
            "login",
            "--no-browser",
            "--app",
            "cli-app",
            "--key-type",
            "sandbox",
        ])
        .env("KEYMANAGER_ADMIN_TOKEN", &admin)
        .env_remove("KEYMANAGER_CLIENT_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEYMANAGER_CLIENT_SECRET"));
}

/// Against the `oidc-provider` peer: keys generated through its oidc connector (a native public client, RFC 7591),
/// the user signs in on the peer's development login and consent pages, the CLI verifies the peer's RS256 ID token.
#[test]
fn login_against_oidc_provider() {
    let Some(peer) = oidc_peer::start_interactive() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keymanager.toml");
    std::fs::write(
        &config,
        format!(
            "[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n\n{}",
            peer.key_manager_table("peer")
        ),
    )
    .unwrap();
    let served = common::serve_config(&config, dir.path(), &[]);
    let base = served.base.as_str();
    let admin = common::admin_token(dir.path());
    app_with_keys(
        base,
        &admin,
        "native",
        "erin",
        json!({"keyType": "PRODUCTION", "keyManager": "peer", "grantTypesToBeSupported": ["authorization_code"],
               "callbackUrl": "http://127.0.0.1/callback", "scopes": ["openid"], "bypassClientCredentials": true,
               "additionalProperties": {"application_type": "native"}}),
    );
    let (child, url) = start_login(
        dir.path(),
        base,
        &["--app", "native", "--key-type", "production", "--key-manager", "peer"],
        &[("KEYMANAGER_ADMIN_TOKEN", admin.as_str())],
    );
    assert!(url.starts_with(&peer.issuer), "{url}");
    sign_in(&url, "erin", "anything");
    let out = finish(child);
    assert_eq!(out["idTokenClaims"]["sub"], "erin", "{out}");
    assert_eq!(out["idTokenClaims"]["iss"], peer.issuer.as_str());
    let header: Value = {
        use base64::Engine;
        let t = out["idToken"].as_str().unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header["alg"], "RS256", "the peer signs with RS256: {header}");
}
