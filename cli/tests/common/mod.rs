//! Shared by the binary's tests: start `keymanager serve` on a free loopback port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "../../../tests/support/missing.rs"]
pub mod missing;
pub mod nginx;
#[allow(unused_imports)]
pub use missing::{missing, postgres_base};

pub const BIN: &str = env!("CARGO_BIN_EXE_keymanager");

/// A running `keymanager serve`, killed on drop.
pub struct Served {
    pub child: Child,
    /// `http://127.0.0.1:PORT` (or `https://…`), as the server announced it.
    pub base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The admin token `serve` generated into this data directory.
pub fn admin_token(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `keymanager serve` on the embedded default with this data directory.
pub fn serve(data_dir: &Path) -> Served {
    let listen = format!("127.0.0.1:{}", free_port());
    serve_with(&["serve", "--listen", &listen, "--data-dir", data_dir.to_str().unwrap()])
}

/// `keymanager serve` with this configuration file and data directory, on a free loopback port.
pub fn serve_config(config: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Served {
    let listen = format!("127.0.0.1:{}", free_port());
    serve_with_env(
        &[
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data_dir.to_str().unwrap(),
            "serve",
            "--listen",
            &listen,
        ],
        env,
    )
}

/// `keymanager ARGS…`, waiting for its "listening on" line.
pub fn serve_with(args: &[&str]) -> Served {
    serve_with_env(args, &[])
}

/// `keymanager ARGS…` with these environment variables, waiting for its "listening on" line.
pub fn serve_with_env(args: &[&str], env: &[(&str, &str)]) -> Served {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("KEYMANAGER_CONFIG")
        .env_remove("KEYMANAGER_SERVER")
        .env_remove("KEYMANAGER_ADMIN_TOKEN")
        .env_remove("KEYMANAGER_ACCESS_TOKEN")
        .stdout(Stdio::piped())
        .stderr(if std::env::var_os("KM_TEST_SERVER_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let base = loop {
        assert!(Instant::now() < deadline, "serve did not start");
        match lines.next() {
            Some(Ok(line)) if line.contains("listening on ") => {
                break line.rsplit("listening on ").next().unwrap().trim().to_owned();
            }
            Some(_) => continue,
            None => panic!("serve exited early"),
        }
    };
    // Keep draining stdout so the server never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Served { child, base }
}

/// Add a user through the running server at `base`.
pub fn add_user(dir: &Path, base: &str, username: &str, password: &str) {
    add_user_with_roles(dir, base, username, password, &[]);
}

/// Add a user with roles through the running server at `base`.
pub fn add_user_with_roles(dir: &Path, base: &str, username: &str, password: &str, roles: &[&str]) {
    let mut args = vec![
        "--data-dir",
        dir.to_str().unwrap(),
        "--server",
        base,
        "users",
        "add",
        username,
    ];
    for r in roles {
        args.extend(["--role", r]);
    }
    let mut child = Command::new(BIN)
        .args(&args)
        .env_remove("KEYMANAGER_CONFIG")
        .env_remove("KEYMANAGER_SERVER")
        .env_remove("KEYMANAGER_ADMIN_TOKEN")
        .env_remove("KEYMANAGER_ACCESS_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(password.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "users add {username}");
}

/// A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused) and restored.
pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    pub fn start(target: (&str, u16)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let target = (target.0.to_owned(), target.1);
        let (up2, open2) = (up.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect((target.0.as_str(), target.1)) else {
                    continue;
                };
                let mut list = open2.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                drop(list);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, up, open }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// A fresh schema on the PostgreSQL of `base`, and the URL that selects it (through `via_port` when given, e.g. a
/// fault-injecting proxy's).
pub fn postgres_schema(base: &str, prefix: &str, via_port: Option<u16>) -> String {
    let schema = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(base).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&pool)
            .await
            .unwrap();
    });
    let mut url = url::Url::parse(base).unwrap();
    if let Some(port) = via_port {
        url.set_port(Some(port)).unwrap();
    }
    let sep = if url.query().is_some() { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// What `/gateway/auth` at `base` answers for `token` (an nginx-style request for `GET /orders`; the server's
/// `[gateway] proxy` is `nginx`).
pub fn gateway_status(http: &reqwest::blocking::Client, base: &str, token: &str) -> u16 {
    http.get(format!("{base}/gateway/auth"))
        .bearer_auth(token)
        .header("X-Original-Method", "GET")
        .header("X-Original-URI", "/orders")
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// tests/peers with node, Debian's Chromium and these npm packages, or `None` (the test skips, saying so; CI fails).
pub fn browser_peers(packages: &[&str]) -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = Path::new(&chromium).exists()
        && packages.iter().all(|p| dir.join("node_modules").join(p).exists())
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if ready {
        return Some(dir);
    }
    missing(
        "chromium, node or the npm peers in tests/peers/node_modules",
        ".ci/run installs chromium, scripts/test the npm peers",
    );
    None
}

/// How long until `check` holds, polling every 10 ms (printed); panics past 10 s.
pub fn until(what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(10), "{what}: not after 10 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = start.elapsed();
    eprintln!("{what}: {took:?}");
    took
}

/// One raw HTTP/1.1 request, the request target sent byte for byte (HTTP clients normalise paths; gateways' tests
/// need the spellings a hostile client sends). The status code, or 0 when the connection closed without one.
pub fn raw_request(addr: &str, method: &str, target: &str, headers: &[(&str, &str)]) -> u16 {
    let addr = addr.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut line = String::new();
    let _ = BufReader::new(stream).read_line(&mut line);
    line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The directory of the pinned npm peers (`tests/peers`), when node and its `node_modules` are there; else `None`,
/// after saying what is missing.
pub fn npm_peers() -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/peers"));
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if node_ok && dir.join("node_modules/openid-client").exists() {
        return Some(dir);
    }
    missing(
        "node or the npm peers in tests/peers/node_modules",
        "scripts/test installs them",
    );
    None
}

/// Run `script` of the npm peers in `peers` with `args` (`node SCRIPT ARGS…`), which prints one JSON object of what
/// it observed: that object. A script that fails fails the test with its error output.
pub fn run_peer(peers: &Path, script: &str, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new("node")
        .current_dir(peers)
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "node {script} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Register a client at the resident of the server at `base` (RFC 7591), with the admin token as the initial
/// access token; the registration answer.
pub fn register_client(base: &str, admin: &str, metadata: &serde_json::Value) -> serde_json::Value {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{base}/oauth2/register"))
        .bearer_auth(admin)
        .json(metadata)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201, "registration refused");
    resp.json().unwrap()
}
