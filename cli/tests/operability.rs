//! What an operator watches on a running server: health, metrics, request ids and logs.

mod common;

use std::process::{Command, Stdio};

use common::{admin_token, BIN};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

#[test]
fn health_metrics_and_request_ids_on_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let base = &served.base;
    let http = client();
    let live = http.get(format!("{base}/health/live")).send().unwrap();
    assert_eq!(live.status(), 200);
    let live: serde_json::Value = live.json().unwrap();
    assert_eq!(live["version"], env!("CARGO_PKG_VERSION"), "{live}");
    let version = std::process::Command::new(BIN).arg("--version").output().unwrap();
    let commit = live["commit"].as_str().unwrap();
    assert!(
        String::from_utf8_lossy(&version.stdout).contains(&format!("commit {commit}")),
        "/health/live and --version name one commit: {live}"
    );
    let ready: serde_json::Value = http.get(format!("{base}/health/ready")).send().unwrap().json().unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    let names: Vec<&str> = ready["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["key service store", "Resident Key Manager"]);

    // A request id is echoed when sane, generated otherwise.
    let given = http
        .get(format!("{base}/health/live"))
        .header("X-Request-Id", "trace-42")
        .send()
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-42");
    let hostile = http
        .get(format!("{base}/health/live"))
        .header("X-Request-Id", "x".repeat(500))
        .send()
        .unwrap();
    let generated = hostile.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a fresh UUID: {generated}");

    // Traffic: an application looked up by id, a client, a token.
    let token = admin_token(dir.path());
    let app: serde_json::Value = http
        .post(format!("{base}/api/applications"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "orders", "owner": "alice"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let app_id = app["applicationId"].as_str().unwrap().to_owned();
    http.get(format!("{base}/api/applications/{app_id}"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    let keys: serde_json::Value = http
        .post(format!("{base}/api/applications/{app_id}/generate-keys"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"keyType": "PRODUCTION", "generateToken": true}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let secret = keys["consumerSecret"].as_str().unwrap().to_owned();
    let access = keys["token"]["accessToken"].as_str().unwrap().to_owned();

    let metrics = http.get(format!("{base}/metrics")).send().unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().unwrap();
    assert!(
        text.contains(
            r#"keymanager_http_requests_total{method="GET",route="/api/applications/{applicationId}",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("keymanager_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(
            r#"keymanager_tokens_issued_total{key_manager="Resident Key Manager",grant="client_credentials"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"keymanager_store_connections{store="key_service""#),
        "{text}"
    );
    for leaked in [&app_id, &secret, &access, &token, &generated] {
        assert!(
            !text.contains(leaked.as_str()),
            "a metric label carries a caller's value"
        );
    }
}

#[test]
fn metrics_can_be_turned_off_or_served_on_their_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_at = |served: &common::Served| {
        client()
            .get(format!("{}/metrics", served.base))
            .send()
            .unwrap()
            .status()
    };
    let off = dir.path().join("off.toml");
    std::fs::write(&off, "[server]\nmetrics = false\n").unwrap();
    let served = common::serve_config(&off, &dir.path().join("a"), &[]);
    assert_eq!(metrics_at(&served), 404);
    drop(served);

    let metrics_addr = format!("127.0.0.1:{}", common::free_port());
    let own = dir.path().join("own.toml");
    std::fs::write(&own, format!("[server]\nmetrics_listen = \"{metrics_addr}\"\n")).unwrap();
    let served = common::serve_config(&own, &dir.path().join("b"), &[]);
    assert_eq!(metrics_at(&served), 404, "not on the main address");
    let scraped = client().get(format!("http://{metrics_addr}/metrics")).send().unwrap();
    assert_eq!(scraped.status(), 200);
}

#[test]
fn logs_are_json_on_request_and_plain_without_ansi_in_files() {
    for (format, json) in [("json", true), ("text", false)] {
        let dir = tempfile::tempdir().unwrap();
        let listen = format!("127.0.0.1:{}", common::free_port());
        let log = dir.path().join("server.log");
        let mut child = Command::new(BIN)
            .args([
                "--log-format",
                format,
                "--data-dir",
                dir.path().to_str().unwrap(),
                "serve",
                "--listen",
                &listen,
            ])
            .env_remove("KEYMANAGER_CONFIG")
            .env_remove("KEYMANAGER_LOG_FORMAT")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let base = format!("http://{listen}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while client()
            .get(format!("{base}/health/live"))
            .header("X-Request-Id", "log-probe")
            .send()
            .is_err()
        {
            assert!(std::time::Instant::now() < deadline, "serve did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(!text.contains('\u{1b}'), "ANSI codes in a log file: {text:?}");
        let probe = text
            .lines()
            .find(|l| l.contains("log-probe"))
            .unwrap_or_else(|| panic!("{text}"));
        if json {
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                assert!(v["level"].is_string(), "{line}");
            }
            let v: serde_json::Value = serde_json::from_str(probe).unwrap();
            assert_eq!(v["span"]["request_id"], "log-probe");
            assert_eq!(v["span"]["route"], "/health/live");
            // Issue 30: latencies to the microsecond, never 2.6881909999999998.
            let latency = text
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|v| v["span"]["request_id"] == "log-probe" && v["fields"]["latency_ms"].is_number())
                .map(|v| v["fields"]["latency_ms"].to_string())
                .unwrap_or_else(|| panic!("no request line with a latency: {text}"));
            let decimals = latency.split_once('.').map(|(_, d)| d.len()).unwrap_or(0);
            assert!(decimals <= 3, "{latency}");
        } else {
            assert!(probe.contains("request_id=log-probe"), "{probe}");
        }
    }
}

/// The request series on `/metrics`: the lines of `keymanager_http_requests_total`.
fn request_series(http: &reqwest::blocking::Client, base: &str) -> Vec<String> {
    let text = http.get(format!("{base}/metrics")).send().unwrap().text().unwrap();
    text.lines()
        .filter(|l| l.starts_with("keymanager_http_requests_total{"))
        .map(|l| {
            l.rsplit_once(' ')
                .map(|(series, _)| series.to_owned())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn invented_methods_and_paths_do_not_grow_the_metric_series() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let base = &served.base;
    let http = client();
    let prefixes = [
        "/api/applications/",
        "/nope/",
        "/portal/",
        "/oauth2/",
        "/gateway/auth/",
        "/",
    ];
    let send = |from: usize, to: usize| {
        for i in from..to {
            let method = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
            let path = format!("{}{i}x", prefixes[i % prefixes.len()]);
            let _ = http.request(method, format!("{base}{path}")).send().unwrap();
            // The standard methods on invented paths too.
            let _ = http.get(format!("{base}{path}")).send().unwrap();
        }
    };
    send(0, 60);
    let before = request_series(&http, base);
    assert!(!before.is_empty());
    send(60, 3000);
    let after = request_series(&http, base);
    let mut grown: Vec<&String> = after.iter().filter(|s| !before.contains(s)).collect();
    grown.retain(|s| !s.contains("/metrics"));
    assert!(
        grown.is_empty(),
        "new series after 2,940 more invented requests: {grown:#?}"
    );
    assert!(
        after.iter().all(|s| !s.contains("INVENTED") && !s.contains("x\"")),
        "no caller's method or path is a label: {after:#?}"
    );
    assert!(after.iter().any(|s| s.contains("method=\"other\"")), "{after:#?}");
}

/// Issue 30: the standard process metrics and the build's version, commit and features, on `/metrics`.
#[test]
fn process_metrics_and_build_info_are_scraped() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let text = client()
        .get(format!("{}/metrics", served.base))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        let value: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
            .parse()
            .unwrap();
        assert!(value > 0.0 || name == "process_cpu_seconds_total", "{name} = {value}");
        assert!(text.contains(&format!("# TYPE {name} ")), "{name} has its type");
    }
    let build = text
        .lines()
        .find(|l| l.starts_with("keymanager_build_info{"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))) && build.ends_with(" 1"),
        "{build}"
    );
    let version = std::process::Command::new(BIN).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.contains("commit ") && version.contains("features "),
        "{version}"
    );
}
