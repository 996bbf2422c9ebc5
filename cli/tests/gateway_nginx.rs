//! A real nginx (Debian's `nginx`) protects an upstream with `auth_request` to `keymanager serve`'s
//! `/gateway/auth`, configured as `examples/gateways/nginx.conf` shows: valid, missing, forged, expired, revoked and
//! insufficient-scope tokens; the identity headers reach the upstream and a client cannot forge them; a token
//! revoked through the management API is refused through nginx within the revocation poll.

mod common;
#[path = "../../tests/peers/oidc_provider.rs"]
mod oidc_provider;

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::nginx::{binary as nginx_binary, echo_upstream, Nginx};

fn start_nginx(dir: &Path, keymanager: &str, upstream: u16) -> (Nginx, u16) {
    start_nginx_on(dir, keymanager, upstream, common::free_port())
}

/// `examples/gateways/nginx.conf` with this test's addresses.
fn start_nginx_on(dir: &Path, keymanager: &str, upstream: u16, port: u16) -> (Nginx, u16) {
    let km = keymanager.trim_start_matches("http://");
    let nginx = common::nginx::start(
        dir,
        "nginx.conf",
        &[
            ("server 127.0.0.1:9443;", format!("server {km};")),
            ("server 127.0.0.1:8080;", format!("server 127.0.0.1:{upstream};")),
            ("listen 8000;", format!("listen 127.0.0.1:{port};")),
        ],
        port,
    );
    (nginx, port)
}

#[test]
fn nginx_protects_an_upstream_with_keymanager() {
    if nginx_binary().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keymanager.toml");
    std::fs::write(
        &config,
        "[gateway]\nproxy = \"nginx\"\nleeway_seconds = 0\n\n\
         [[gateway.route]]\npath_prefix = \"/orders\"\nscopes = [\"orders:read\"]\n\n\
         [[gateway.route]]\npath_prefix = \"/orders/admin\"\nmethods = [\"POST\", \"DELETE\"]\nscopes = [\"orders:admin\"]\n\n\
         [[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n",
    )
    .unwrap();
    let served = common::serve_config(&config, dir.path(), &[]);
    let admin = common::admin_token(dir.path());
    let http = reqwest::blocking::Client::new();
    let api = |method: reqwest::Method, path: &str, body: Value| -> Value {
        let resp = http
            .request(method, format!("{}{path}", served.base))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().unwrap_or(Value::Null)
    };
    let app = api(
        reqwest::Method::POST,
        "/api/applications",
        json!({"name": "shop", "owner": "shop-team"}),
    );
    let app = app["applicationId"].as_str().unwrap().to_owned();
    let keys = api(
        reqwest::Method::POST,
        &format!("/api/applications/{app}/generate-keys"),
        json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"], "scopes": ["orders:read", "orders:admin"]}),
    );
    let (client_id, secret, mapping) = (
        keys["consumerKey"].as_str().unwrap().to_owned(),
        keys["consumerSecret"].as_str().unwrap().to_owned(),
        keys["keyMappingId"].as_str().unwrap().to_owned(),
    );
    let token = |scopes: &[&str], validity: Option<u64>| -> String {
        let t = api(
            reqwest::Method::POST,
            &format!("/api/applications/{app}/oauth-keys/{mapping}/generate-token"),
            json!({"consumerSecret": secret, "scopes": scopes, "validityPeriod": validity}),
        );
        t["accessToken"].as_str().unwrap().to_owned()
    };
    let reader = token(&["orders:read"], None);
    let manager = token(&["orders:read", "orders:admin"], None);
    let short = token(&["orders:read"], Some(1));

    let upstream = echo_upstream();
    let (_nginx, port) = start_nginx(dir.path(), &served.base, upstream);
    let edge = format!("http://127.0.0.1:{port}");
    let call = |method: reqwest::Method, path: &str, token: Option<&str>, extra: &[(&str, &str)]| {
        let mut req = http.request(method, format!("{edge}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().unwrap_or(Value::Null))
    };

    // A valid token: through, with the identity upstream; a client's own X-Auth-Subject is replaced.
    let (s, seen) = call(
        reqwest::Method::GET,
        "/orders/7",
        Some(&reader),
        &[("X-Auth-Subject", "someone-else")],
    );
    assert_eq!(s, 200, "{seen}");
    assert_eq!(seen["x-auth-client-id"], client_id.as_str());
    assert_eq!(
        seen["x-auth-subject"],
        client_id.as_str(),
        "a client-credentials token speaks for its client"
    );
    assert_eq!(seen["x-auth-scopes"], "orders:read");
    assert_eq!(seen["x-auth-application"], app.as_str());
    assert_eq!(seen["x-auth-key-type"], "PRODUCTION");
    assert_eq!(seen["x-auth-key-manager"], "resident");
    // No token, a forged one, a tampered one.
    assert_eq!(call(reqwest::Method::GET, "/orders/7", None, &[]).0, 401);
    assert_eq!(call(reqwest::Method::GET, "/orders/7", Some("not-a-token"), &[]).0, 401);
    let mut tampered = reader.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    assert_eq!(call(reqwest::Method::GET, "/orders/7", Some(&tampered), &[]).0, 401);
    // The route rules: POST under /orders/admin needs orders:admin; GET there needs orders:read only; a dot
    // segment does not get around a rule.
    assert_eq!(
        call(reqwest::Method::POST, "/orders/admin/reindex", Some(&reader), &[]).0,
        403
    );
    assert_eq!(
        call(reqwest::Method::POST, "/orders/admin/reindex", Some(&manager), &[]).0,
        200
    );
    assert_eq!(
        call(reqwest::Method::GET, "/orders/admin/report", Some(&reader), &[]).0,
        200
    );
    // A path no rule covers is closed ([gateway] default = "deny"), whatever the token.
    assert_eq!(call(reqwest::Method::GET, "/elsewhere", Some(&manager), &[]).0, 403);
    // Every spelling of the protected path that some upstream reads as it: refused at the edge (keymanager answers
    // 400 for what it cannot read unambiguously, which nginx turns into 500; 403 where the rule still applies),
    // sent byte for byte. The spellings are generated from the path, not listed by hand.
    let bearer = format!("Bearer {reader}");
    let auth = [("Authorization", bearer.as_str())];
    let direct_auth = |method: &str, target: &str| {
        common::raw_request(
            &served.base,
            "GET",
            "/gateway/auth",
            &[
                ("Authorization", bearer.as_str()),
                ("X-Original-Method", method),
                ("X-Original-URI", target),
            ],
        )
    };
    assert_eq!(common::raw_request(&edge, "POST", "/orders/admin/x", &auth), 403);
    for variant in path_spellings("/orders/admin/x") {
        let at_edge = common::raw_request(&edge, "POST", &variant, &auth);
        assert_ne!(
            at_edge, 200,
            "POST {variant} passed nginx with a token lacking orders:admin"
        );
        let at_keymanager = direct_auth("POST", &variant);
        assert!(
            [400, 403].contains(&at_keymanager),
            "POST {variant}: keymanager answered {at_keymanager}"
        );
    }
    // keymanager's own answer names the scope (RFC 6750).
    let direct = http
        .get(format!("{}/gateway/auth", served.base))
        .bearer_auth(&reader)
        .header("X-Original-Method", "DELETE")
        .header("X-Original-URI", "/orders/admin/7")
        .send()
        .unwrap();
    assert_eq!(direct.status(), 403);
    let challenge = direct.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("orders:admin"),
        "{challenge}"
    );
    // A gateway that does not say what it asks about is refused (fail closed).
    let bare = http
        .get(format!("{}/gateway/auth", served.base))
        .bearer_auth(&reader)
        .send()
        .unwrap();
    assert_eq!(bare.status(), 400);

    // Expired (leeway 0).
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(
        call(reqwest::Method::GET, "/orders/7", Some(&short), &[]).0,
        401,
        "expired"
    );

    // Revoked through the management API: refused through nginx within the revocation poll.
    assert_eq!(call(reqwest::Method::GET, "/orders/8", Some(&manager), &[]).0, 200);
    api(
        reqwest::Method::POST,
        &format!("/api/applications/{app}/oauth-keys/{mapping}/revoke-token"),
        json!({"token": manager, "consumerSecret": secret}),
    );
    let revoked_at = Instant::now();
    loop {
        let (s, _) = call(reqwest::Method::GET, "/orders/8", Some(&manager), &[]);
        if s == 401 {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(10),
            "a revoked token still passes after 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("revocation refused at the edge after {:?}", revoked_at.elapsed());
    // The other tokens still pass.
    assert_eq!(call(reqwest::Method::GET, "/orders/9", Some(&reader), &[]).0, 200);
    let mut err = String::new();
    let _ = std::fs::File::open(dir.path().join("error.log")).and_then(|mut f| f.read_to_string(&mut err));
    assert!(!err.contains("[emerg]"), "{err}");

    // The same store asked the way Traefik asks (`keymanager gateway-auth` with proxy = "traefik"): Traefik's
    // X-Forwarded-* decide, and a client's own nginx-family headers beside them are not read.
    let traefik_config = dir.path().join("traefik.toml");
    std::fs::write(
        &traefik_config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("proxy = \"nginx\"", "proxy = \"traefik\""),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", common::free_port());
    let traefik = common::serve_with(&[
        "--config",
        traefik_config.to_str().unwrap(),
        "--data-dir",
        dir.path().to_str().unwrap(),
        "gateway-auth",
        "--listen",
        &listen,
    ]);
    let ask = |headers: &[(&str, &str)]| {
        let mut all = vec![("Authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        common::raw_request(&traefik.base, "GET", "/gateway/auth", &all)
    };
    assert_eq!(
        ask(&[
            ("X-Original-Method", "GET"),
            ("X-Original-URI", "/orders/1"),
            ("X-Forwarded-Method", "POST"),
            ("X-Forwarded-Uri", "/orders/admin/x"),
        ]),
        403,
        "the client's X-Original-URI is not read when Traefik asks"
    );
    assert_eq!(
        ask(&[("X-Forwarded-Method", "GET"), ("X-Forwarded-Uri", "/orders/1")]),
        200
    );
    assert_eq!(
        ask(&[("X-Original-Method", "GET"), ("X-Original-URI", "/orders/1")]),
        400,
        "nginx's headers alone are no Traefik request"
    );
    assert_eq!(ask(&[("X-Forwarded-Uri", "/orders/1")]), 400, "no default method");
    assert_eq!(
        ask(&[
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", "/orders/1"),
            ("X-Forwarded-Uri", "/orders/admin/x"),
        ]),
        400,
        "a repeated family header"
    );
    for variant in path_spellings("/orders/admin/x") {
        let status = ask(&[("X-Forwarded-Method", "POST"), ("X-Forwarded-Uri", variant.as_str())]);
        assert!(
            [400, 403].contains(&status),
            "POST {variant} through Traefik's headers: {status}"
        );
    }
}

/// Spellings of `path` that some common upstream (WSGI, Tomcat, Windows servers, case-insensitive routers, double
/// decoders) reads as `path`, or as a path under it.
fn path_spellings(path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut out = Vec::new();
    for cut in 1..segments.len() {
        let (head, tail) = (segments[..cut].join("/"), segments[cut..].join("/"));
        for sep in [
            "%2F",
            "%2f",
            "%5C",
            "%5c",
            "\\",
            "%252F",
            "//",
            "/./",
            "/%2e/",
            ";x=1/",
            "%3B/",
            "/x/../",
            "/x/%2e%2e/",
            "/x/..%2F",
            "/%00/",
        ] {
            out.push(format!("/{head}{sep}{tail}"));
        }
    }
    out.push(format!("/x/..%2F{}", path.trim_start_matches('/')));
    out.push(format!("/x/%2e%2e/{}", path.trim_start_matches('/')));
    out.push(path.to_uppercase());
    out.push(format!(
        "/{}",
        segments.iter().map(|s| s.to_uppercase()).collect::<Vec<_>>().join("/")
    ));
    out.push(path.replace('/', "\\"));
    out.push(path.replacen('o', "%6F", 1));
    out.push(path.replacen('o', "%256F", 1));
    out.push(format!("{path}%00"));
    out
}

/// DPoP through a real nginx, with a real client library: openid-client gets a token bound to its key from the
/// resident (a client registered with `dpop_bound_access_tokens`; the resident asks for nonces, which openid-client
/// follows) and calls the upstream through nginx with a proof
/// of `http://nginx/orders/7` (`[gateway] public_origin`); the same token as a bearer token is refused with the
/// RFC 9449 challenge, which nginx passes on.
#[test]
fn openid_client_calls_through_nginx_with_a_dpop_bound_token() {
    if nginx_binary().is_none() {
        return;
    }
    let Some(peers) = common::npm_peers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config = dir.path().join("keymanager.toml");
    std::fs::write(
        &config,
        format!(
            "[gateway]\nproxy = \"nginx\"\npublic_origin = \"http://127.0.0.1:{port}\"\n\n\
             [[gateway.route]]\npath_prefix = \"/orders\"\nscopes = [\"orders:read\"]\n\n\
             [[key_manager]]\nname = \"resident\"\ntype = \"resident\"\ndpop_nonce = true\n"
        ),
    )
    .unwrap();
    let served = common::serve_config(&config, dir.path(), &[]);
    let admin = common::admin_token(dir.path());
    let registered: Value = reqwest::blocking::Client::new()
        .post(format!("{}/oauth2/register", served.base))
        .bearer_auth(&admin)
        .json(
            &json!({"client_name": "dpop interop", "grant_types": ["client_credentials"],
                      "scope": "orders:read", "dpop_bound_access_tokens": true}),
        )
        .send()
        .unwrap()
        .json()
        .unwrap();
    let client_id = registered["client_id"].as_str().unwrap();
    // The resident asks for nonces (RFC 9449 §8): a proof without one is `use_dpop_nonce`, with the nonce to use;
    // openid-client below retries with it by itself.
    let key = keymanager::validation::dpop::ProofKey::es256().unwrap();
    let endpoint = format!("{}/oauth2/token", served.base);
    let refused = reqwest::blocking::Client::new()
        .post(&endpoint)
        .basic_auth(client_id, registered["client_secret"].as_str())
        .header("dpop", key.proof("POST", &endpoint, keymanager::model::now(), None))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(refused.status(), 400);
    let nonce = refused.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let body: Value = refused.json().unwrap();
    assert_eq!(body["error"], "use_dpop_nonce", "{body}");
    assert!(nonce.len() >= 32, "{nonce}");
    let with_nonce = key.proof_with_nonce("POST", &endpoint, keymanager::model::now(), None, Some(&nonce));
    let issued = reqwest::blocking::Client::new()
        .post(&endpoint)
        .basic_auth(client_id, registered["client_secret"].as_str())
        .header("dpop", with_nonce)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(issued.status(), 200, "the nonce handed out");
    assert!(issued.headers().contains_key("dpop-nonce"));
    let upstream = echo_upstream();
    let (_nginx, port) = start_nginx_on(dir.path(), &served.base, upstream, port);
    let seen = openid_client_dpop(
        &peers,
        &served.base,
        client_id,
        registered["client_secret"].as_str().unwrap(),
        &format!("http://127.0.0.1:{port}/orders/7?page=2"),
    );
    assert_eq!(seen["dpop_algs"], json!(["ES256", "RS256", "EdDSA"]), "{seen}");
    assert_eq!(seen["token_type"], "dpop", "{seen}");
    assert_eq!(seen["status"], 200, "{seen}");
    assert_eq!(seen["seen"]["x-auth-client-id"], client_id, "{seen}");
    assert_eq!(
        seen["seen"]["x-auth-dpop-jkt"].as_str().map(str::len),
        Some(43),
        "the key's thumbprint, for the upstream: {seen}"
    );
    assert_eq!(seen["bearer_status"], 401, "{seen}");
    let challenge = seen["bearer_challenge"].as_str().unwrap_or_default();
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("invalid_token"),
        "{seen}"
    );
}

/// DPoP from another provider through our gateway: `oidc-provider` (DPoP on) binds a token to openid-client's key;
/// keymanager, configured with it as an `oidc` key manager, checks the token by introspection (which answers its
/// `cnf`) and the proof against the request nginx forwards; the same token as a bearer token is refused.
#[test]
fn an_oidc_provider_dpop_token_passes_our_gateway_only_with_its_proof() {
    if nginx_binary().is_none() {
        return;
    }
    let (Some(peers), Some(provider)) = (common::npm_peers(), oidc_provider::start_provider()) else {
        return;
    };
    let http = reqwest::blocking::Client::new();
    let discovery: Value = http
        .get(format!("{}/.well-known/openid-configuration", provider.issuer))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(discovery["dpop_signing_alg_values_supported"].is_array(), "{discovery}");
    let registered: Value = http
        .post(discovery["registration_endpoint"].as_str().unwrap())
        .bearer_auth(oidc_provider::IAT)
        .json(
            &json!({"grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [],
                      "scope": "orders:read", "token_endpoint_auth_method": "client_secret_basic"}),
        )
        .send()
        .unwrap()
        .json()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let config = dir.path().join("keymanager.toml");
    std::fs::write(
        &config,
        format!(
            "[gateway]\nproxy = \"nginx\"\npublic_origin = \"http://127.0.0.1:{port}\"\n\n\
             [[gateway.route]]\npath_prefix = \"/orders\"\nscopes = [\"orders:read\"]\n\n{}",
            provider.key_manager_table("company")
        ),
    )
    .unwrap();
    let served = common::serve_config(&config, dir.path(), &[]);
    let (_nginx, port) = start_nginx_on(dir.path(), &served.base, echo_upstream(), port);
    let seen = openid_client_dpop(
        &peers,
        &provider.issuer,
        registered["client_id"].as_str().unwrap(),
        registered["client_secret"].as_str().unwrap(),
        &format!("http://127.0.0.1:{port}/orders/7"),
    );
    assert_eq!(seen["token_type"], "dpop", "{seen}");
    assert_eq!(seen["status"], 200, "{seen}");
    assert_eq!(seen["seen"]["x-auth-key-manager"], "company", "{seen}");
    assert_eq!(
        seen["seen"]["x-auth-dpop-jkt"].as_str().map(str::len),
        Some(43),
        "{seen}"
    );
    assert_eq!(seen["bearer_status"], 401, "{seen}");
    assert!(
        seen["bearer_challenge"]
            .as_str()
            .unwrap_or_default()
            .starts_with("DPoP "),
        "{seen}"
    );
}

/// openid-client (`openid-client-dpop.mjs`): a DPoP-bound `orders:read` token from `issuer` for the client, then
/// `resource` with a proof and once more as a bearer token; what it saw, as JSON.
fn openid_client_dpop(peers: &Path, issuer: &str, client_id: &str, secret: &str, resource: &str) -> Value {
    common::run_peer(
        peers,
        "openid-client-dpop.mjs",
        &[issuer, client_id, secret, "orders:read", resource],
    )
}
