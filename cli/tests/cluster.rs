//! A real cluster: three `keymanager serve` nodes on one PostgreSQL behind HAProxy (Debian's `haproxy`, health
//! checks on `/health/live`: a node without its database still validates and issues JWTs, so it stays in the
//! pool). Token requests and application writes go through the balancer while node 2 is killed with SIGKILL and
//! started again; then the database becomes unreachable (a fault-injecting proxy between the nodes and PostgreSQL):
//! tokens are still issued through the balancer, writes answer 503, and when it is back writes work again without a
//! restart. Afterwards every token any node issued validates on every node, every write that was acknowledged is
//! there, and a revocation on one node is refused on the others within 250 ms. The figures are printed
//! (`cargo test --test cluster -- --nocapture`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn haproxy() -> Option<PathBuf> {
    let found = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        common::missing("HAProxy", "apt-get install haproxy; .ci/run installs it");
    }
    found
}

fn node(config: &Path, dir: &Path, port: u16) -> common::Served {
    let listen = format!("127.0.0.1:{port}");
    common::serve_with_env(
        &[
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            dir.to_str().unwrap(),
            "serve",
            "--listen",
            &listen,
        ],
        &[],
    )
}

#[test]
fn three_nodes_behind_haproxy_survive_a_killed_node() {
    let Some(base) = common::postgres_base() else {
        return;
    };
    let Some(haproxy_bin) = haproxy() else { return };
    let parsed = url::Url::parse(&base).unwrap();
    let proxy = common::Proxy::start((parsed.host_str().unwrap(), parsed.port().unwrap_or(5432)));
    let url = common::postgres_schema(&base, "km_cluster", Some(proxy.port));
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("keymanager.toml");
    std::fs::write(
        &config,
        format!("[database]\nurl = \"{url}\"\n\n[gateway]\nproxy = \"nginx\"\ndefault = \"authenticated\"\n\n[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n"),
    )
    .unwrap();
    let dirs: Vec<PathBuf> = (1..=3).map(|i| work.path().join(format!("n{i}"))).collect();
    let ports: Vec<u16> = (0..3).map(|_| common::free_port()).collect();
    let mut nodes: Vec<Option<common::Served>> = Vec::new();
    for i in 0..3 {
        nodes.push(Some(node(&config, &dirs[i], ports[i])));
    }
    let admin = common::admin_token(&dirs[0]);

    let lb_port = common::free_port();
    let cfg = work.path().join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n  maxconn 2000\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 10s\n  timeout server 10s\n  \
             retries 3\n  option redispatch\n  retry-on conn-failure empty-response\nfrontend edge\n  bind 127.0.0.1:{lb_port}\n  \
             default_backend nodes\nbackend nodes\n  balance roundrobin\n  option httpchk GET /health/live\n  \
             http-check expect status 200\n  default-server inter 200ms fall 1 rise 2\n{}",
            ports
                .iter()
                .enumerate()
                .map(|(i, p)| format!("  server n{} 127.0.0.1:{p} check\n", i + 1))
                .collect::<String>()
        ),
    )
    .unwrap();
    let _lb = Haproxy(
        Command::new(&haproxy_bin)
            .args(["-db", "-f"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let lb = format!("http://127.0.0.1:{lb_port}");
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while http
        .get(format!("{lb}/health/ready"))
        .send()
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "haproxy did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }

    // A client, made through the balancer.
    let app: Value = http
        .post(format!("{lb}/api/applications"))
        .bearer_auth(&admin)
        .json(&json!({"name": "load", "owner": "ops"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let app_id = app["applicationId"].as_str().unwrap().to_owned();
    let keys: Value = http
        .post(format!("{lb}/api/applications/{app_id}/generate-keys"))
        .bearer_auth(&admin)
        .json(&json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let client = keys["consumerKey"].as_str().unwrap().to_owned();
    let secret = keys["consumerSecret"].as_str().unwrap().to_owned();

    // Load through the balancer: token requests, and an application write every tenth request.
    let stop = Arc::new(AtomicBool::new(false));
    let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
    let written: Arc<Mutex<Vec<String>>> = Arc::default();
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let started = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (stop, tokens, written, ok, failed) = (
                stop.clone(),
                tokens.clone(),
                written.clone(),
                ok.clone(),
                failed.clone(),
            );
            let (lb, admin, client, secret, http) =
                (lb.clone(), admin.clone(), client.clone(), secret.clone(), http.clone());
            std::thread::spawn(move || {
                let mut i = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    if i.is_multiple_of(10) {
                        let name = format!("w{w}-{i}");
                        let r = http
                            .post(format!("{lb}/api/applications"))
                            .bearer_auth(&admin)
                            .json(&json!({"name": name, "owner": "load"}))
                            .send();
                        match r {
                            Ok(r) if r.status() == 201 => {
                                ok.fetch_add(1, Ordering::SeqCst);
                                written.lock().unwrap().push(name);
                            }
                            _ => {
                                failed.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        continue;
                    }
                    let r = http
                        .post(format!("{lb}/oauth2/token"))
                        .basic_auth(&client, Some(&secret))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .ok()
                        .filter(|r| r.status() == 200)
                        .and_then(|r| r.json::<Value>().ok());
                    match r.and_then(|v| v["access_token"].as_str().map(str::to_owned)) {
                        Some(t) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                            tokens.lock().unwrap().push(t);
                        }
                        None => {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    // SIGKILL node 2 mid-load, then start it again on its port.
    let mut killed = nodes[1].take().unwrap();
    killed.child.kill().unwrap();
    let _ = killed.child.wait();
    let killed_at = started.elapsed();
    drop(killed);
    std::thread::sleep(Duration::from_secs(2));
    nodes[1] = Some(node(&config, &dirs[1], ports[1]));
    let restarted_at = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = started.elapsed();
    let (ok, failed) = (ok.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    eprintln!(
        "through haproxy for {elapsed:.1?}: {ok} answered, {failed} failed ({:.2} %), {:.0} req/s; node 2 killed at \
         {killed_at:.1?}, started again at {restarted_at:.1?}",
        100.0 * failed as f64 / (ok + failed).max(1) as f64,
        (ok + failed) as f64 / elapsed.as_secs_f64()
    );
    assert!(ok > 100, "too little load got through: {ok}");
    assert!(
        failed * 20 < ok,
        "more than 5 % of the requests failed: {failed} of {}",
        ok + failed
    );

    // The database becomes unreachable: the cluster keeps issuing tokens to the client it knows; writes wait.
    proxy.cut();
    std::thread::sleep(Duration::from_millis(1500));
    let issue = || {
        http.post(format!("{lb}/oauth2/token"))
            .basic_auth(&client, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap()
    };
    for _ in 0..9 {
        let r = issue();
        assert_eq!(r.status(), 200, "every node issues during the outage");
        tokens
            .lock()
            .unwrap()
            .push(r.json::<Value>().unwrap()["access_token"].as_str().unwrap().to_owned());
    }
    let refused = http
        .post(format!("{lb}/api/applications"))
        .bearer_auth(&admin)
        .json(&json!({"name": "during-outage", "owner": "load"}))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    proxy.restore();
    let back = Instant::now();
    loop {
        let r = http
            .post(format!("{lb}/api/applications"))
            .bearer_auth(&admin)
            .json(&json!({"name": format!("after-outage-{}", back.elapsed().as_millis()), "owner": "load"}))
            .send()
            .unwrap();
        if r.status() == 201 {
            written
                .lock()
                .unwrap()
                .push(r.json::<Value>().unwrap()["name"].as_str().unwrap().to_owned());
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "no write 30 s after the database came back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("database outage: 9 tokens issued through the balancer, writes refused with 503; writing again {:?} after it came back", back.elapsed());

    // Every token any node issued validates on every node (a sample spread over the run).
    let tokens = tokens.lock().unwrap().clone();
    let step = (tokens.len() / 150).max(1);
    for t in tokens.iter().step_by(step) {
        for p in &ports {
            let s = common::gateway_status(&http, &format!("http://127.0.0.1:{p}"), t);
            assert_eq!(s, 200, "a token from the cluster is refused at node {p}");
        }
    }
    // Every acknowledged write is there, on every node.
    let written = written.lock().unwrap().clone();
    for p in &ports {
        // Every page of the listing (500 at a time).
        let mut names: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut next = Some("limit=500".to_owned());
        while let Some(q) = next.take() {
            let page: Value = http
                .get(format!("http://127.0.0.1:{p}/api/applications?{q}"))
                .bearer_auth(&admin)
                .send()
                .unwrap()
                .json()
                .unwrap();
            names.extend(
                page["list"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|a| a["name"].as_str().map(str::to_owned)),
            );
            next = page["pagination"]["next"].as_str().map(str::to_owned);
        }
        let lost: Vec<&String> = written.iter().filter(|n| !names.contains(n.as_str())).collect();
        assert!(lost.is_empty(), "acknowledged writes missing at node {p}: {lost:?}");
    }
    eprintln!(
        "{} tokens and {} acknowledged writes checked on all three nodes",
        tokens.len().div_ceil(step),
        written.len()
    );

    // A revocation on node 1 is refused on nodes 2 (the restarted one) and 3 within 250 ms, once their change
    // listeners are back after the outage (they retry every second at most).
    std::thread::sleep(keymanager::sql::changes::RETRY_AT_MOST + Duration::from_millis(500));
    let victim = tokens.last().unwrap();
    let revoked = http
        .post(format!("http://127.0.0.1:{}/oauth2/revoke", ports[0]))
        .basic_auth(&client, Some(&secret))
        .form(&[("token", victim.as_str())])
        .send()
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let at = Instant::now();
    for p in &ports[1..] {
        loop {
            if common::gateway_status(&http, &format!("http://127.0.0.1:{p}"), victim) == 401 {
                break;
            }
            assert!(
                at.elapsed() < Duration::from_millis(250),
                "node {p} still accepts a revoked token"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    eprintln!("revocation on node 1 refused on nodes 2 and 3 after {:?}", at.elapsed());
}
