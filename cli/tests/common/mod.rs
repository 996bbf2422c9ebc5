//! Shared by the binary's tests: start `keymanager serve` on a free loopback port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    let mut child = Command::new(BIN)
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "--server",
            base,
            "users",
            "add",
            username,
        ])
        .env_remove("KEYMANAGER_CONFIG")
        .env_remove("KEYMANAGER_SERVER")
        .env_remove("KEYMANAGER_ADMIN_TOKEN")
        .env_remove("KEYMANAGER_ACCESS_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(password.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
}

/// The pinned `oidc-provider` peer (tests/peers), killed on drop.
pub struct OidcProvider {
    child: Child,
    /// Its issuer, `http://127.0.0.1:PORT`.
    pub issuer: String,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The initial access token the peer takes for RFC 7591 registration.
pub const PEER_IAT: &str = "initial-access-token-for-tests";
/// The peer's resource server (which introspects every client's tokens).
pub const PEER_RS: (&str, &str) = ("keymanager-resource-server", "resource-server-secret-0123456789");

/// Start the `oidc-provider` peer; `None` (the test skips) when node or the npm peers are missing outside CI.
pub fn start_oidc_provider() -> Option<OidcProvider> {
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers");
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok || !peers.join("node_modules/oidc-provider").exists() {
        if std::env::var_os("CI").is_some() {
            panic!("CI must run the oidc-provider tests: install node and run `npm ci` in tests/peers");
        }
        eprintln!("skipping: node or tests/peers/node_modules is missing (scripts/test installs them)");
        return None;
    }
    let port = free_port().to_string();
    let mut child = Command::new("node")
        .current_dir(&peers)
        .args(["oidc-provider-server.mjs", &port, PEER_IAT, PEER_RS.0, PEER_RS.1])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let issuer = loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("ready ") => break l["ready ".len()..].to_owned(),
            Some(_) => continue,
            None => panic!("oidc-provider did not start"),
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Some(OidcProvider { child, issuer })
}
