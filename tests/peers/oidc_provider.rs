//! Starts the pinned `oidc-provider` peer (`oidc-provider-server.mjs` beside this file) for the tests of several
//! crates, which include this file with `#[path]`.
#![allow(dead_code)]

// Some including tests load it through their `common` module too: one small file, loaded twice, on purpose.
#[allow(clippy::duplicate_mod)]
#[path = "../support/missing.rs"]
mod missing;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The initial access token the peer takes for RFC 7591 registration.
pub const IAT: &str = "initial-access-token-for-tests";
/// The peer's resource server (which may introspect every client's tokens).
pub const RS_ID: &str = "keymanager-resource-server";
/// Its secret.
pub const RS_SECRET: &str = "resource-server-secret-0123456789";

/// The running peer, killed on drop.
pub struct Provider {
    child: Child,
    /// Its issuer, `http://127.0.0.1:PORT`.
    pub issuer: String,
}

impl Provider {
    /// The `[[key_manager]]` table of an `oidc` key manager named `name` on this peer (registration with the initial
    /// access token, introspection as the resource server).
    pub fn key_manager_table(&self, name: &str) -> String {
        format!(
            "[[key_manager]]\nname = \"{name}\"\ntype = \"oidc\"\nissuer = \"{}\"\ninitial_access_token = \"{IAT}\"\n\
             introspection_client_id = \"{RS_ID}\"\nintrospection_client_secret = \"{RS_SECRET}\"\n",
            self.issuer
        )
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start the peer; `None` (the test skips, saying so) when node or the npm peers are missing outside CI.
pub fn start_provider() -> Option<Provider> {
    start(false)
}

/// Start the peer with its development login and consent pages on (for sign-ins in a browser).
pub fn start_interactive() -> Option<Provider> {
    start(true)
}

fn start(interactive: bool) -> Option<Provider> {
    // tests/peers of the workspace, from whichever crate's tests include this file.
    let peers = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("tests/peers"))
        .find(|p| p.join("oidc-provider-server.mjs").exists())?;
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok || !peers.join("node_modules/oidc-provider").exists() {
        missing::missing(
            "node or the npm peers in tests/peers/node_modules",
            "scripts/test installs them",
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let mut child = Command::new("node")
        .current_dir(&peers)
        .args(["oidc-provider-server.mjs", &port.to_string(), IAT, RS_ID, RS_SECRET])
        .args(interactive.then_some("interactive"))
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
    Some(Provider { child, issuer })
}
