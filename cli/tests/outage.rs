//! A database outage, through a fault-injecting TCP proxy between `keymanager serve` and PostgreSQL (the shared
//! server other tests use is never stopped): while the database is unreachable the node keeps validating tokens and
//! keeps issuing JWTs to clients it has cached, past the cache's lifetime; writes answer `503` with `Retry-After` in
//! the API's error shape; readiness is `503`. When the database is back the node writes again by itself, without a
//! restart, and everything acknowledged before the outage is still there.

mod common;

use std::time::{Duration, Instant};

use common::Proxy;

use serde_json::{json, Value};

#[test]
fn a_node_survives_a_database_outage_and_recovers_by_itself() {
    let Some(base) = common::postgres_base() else {
        return;
    };
    let parsed = url::Url::parse(&base).unwrap();
    let proxy = Proxy::start((parsed.host_str().unwrap(), parsed.port().unwrap_or(5432)));
    let url = common::postgres_schema(&base, "km_outage", Some(proxy.port));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keymanager.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{url}\"\n\n[gateway]\nproxy = \"nginx\"\ndefault = \"authenticated\"\n\n[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n\
             client_cache_seconds = 1\n"
        ),
    )
    .unwrap();
    let served = common::serve_config(&config, dir.path(), &[]);
    let admin = common::admin_token(dir.path());
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let api = |method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("{}{path}", served.base))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .unwrap()
    };
    let app: Value = api(
        reqwest::Method::POST,
        "/api/applications",
        json!({"name": "before", "owner": "ops"}),
    )
    .json()
    .unwrap();
    let app_id = app["applicationId"].as_str().unwrap().to_owned();
    let keys: Value = api(
        reqwest::Method::POST,
        &format!("/api/applications/{app_id}/generate-keys"),
        json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"], "generateToken": true}),
    )
    .json()
    .unwrap();
    let (client, secret) = (
        keys["consumerKey"].as_str().unwrap().to_owned(),
        keys["consumerSecret"].as_str().unwrap().to_owned(),
    );
    let seen = keys["token"]["accessToken"].as_str().unwrap().to_owned();
    let issue = || {
        let r = http
            .post(format!("{}/oauth2/token", served.base))
            .basic_auth(&client, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap_or(Value::Null))
    };
    let validate = |token: &str| common::gateway_status(&http, &served.base, token);
    assert_eq!(issue().0, 200, "the client is cached");
    assert_eq!(validate(&seen), 200);

    // The database goes away.
    proxy.cut();
    std::thread::sleep(Duration::from_millis(1500)); // past client_cache_seconds
    assert_eq!(validate(&seen), 200, "a token already seen still validates");
    let (s, fresh) = issue();
    assert_eq!(s, 200, "a cached client still gets JWTs (nothing to write): {fresh}");
    let fresh = fresh["access_token"].as_str().unwrap().to_owned();
    assert_eq!(validate(&fresh), 200, "and they validate");
    let started = Instant::now();
    let refused = api(
        reqwest::Method::POST,
        "/api/applications",
        json!({"name": "during", "owner": "ops"}),
    );
    assert_eq!(refused.status(), 503, "a write needs the database");
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().unwrap();
    assert_eq!(body["code"], 503, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the refusal took {:?}",
        started.elapsed()
    );
    let ready = http.get(format!("{}/health/ready", served.base)).send().unwrap();
    assert_eq!(ready.status(), 503);

    // It comes back: the node writes again by itself.
    proxy.restore();
    let back = Instant::now();
    loop {
        let r = api(
            reqwest::Method::POST,
            "/api/applications",
            json!({"name": "after", "owner": "ops"}),
        );
        if r.status() == 201 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "no write 30 s after the database came back: {}",
            r.status()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("writing again {:?} after the database came back", back.elapsed());
    assert_eq!(
        http.get(format!("{}/health/ready", served.base))
            .send()
            .unwrap()
            .status(),
        200
    );
    let list: Value = api(reqwest::Method::GET, "/api/applications", Value::Null)
        .json()
        .unwrap();
    let names: Vec<&str> = list["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"before") && names.contains(&"after") && !names.contains(&"during"),
        "{names:?}"
    );
    assert_eq!(issue().0, 200);
}
