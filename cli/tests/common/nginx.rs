//! A real nginx (Debian's `nginx`) run from one of `examples/gateways/`, in the foreground with paths of its own, and
//! an upstream that echoes what reached it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// nginx, stopped on drop.
pub struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The nginx binary; `None` (and the test is reported missing, which fails under `CI=true`) when not installed.
pub fn binary() -> Option<&'static str> {
    let found = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    if found.is_none() {
        super::missing("nginx", "apt-get install nginx; .ci/run installs it");
    }
    found
}

/// Start nginx from `examples/gateways/EXAMPLE` with `replacements` (the test's addresses and files) applied, its
/// pid, logs and temporary files in `dir`, listening on `port` (which the replacements must set).
pub fn start(dir: &Path, example: &str, replacements: &[(&str, String)], port: u16) -> Nginx {
    let bin = binary().unwrap();
    let mut conf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/gateways")
            .join(example),
    )
    .unwrap()
    .replace(
        "events {}",
        &format!(
            "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{ worker_connections 256; }}",
            d = dir.display()
        ),
    )
    .replace(
        "http {",
        &format!(
            "http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;",
            d = dir.display()
        ),
    );
    for (from, to) in replacements {
        assert!(conf.contains(from), "{example} no longer holds `{from}`");
        conf = conf.replace(from, to);
    }
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new(bin)
        .args([
            "-p",
            dir.to_str().unwrap(),
            "-e",
            dir.join("error.log").to_str().unwrap(),
            "-c",
        ])
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let nginx = Nginx(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not start: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nginx
}

/// An upstream that answers every request with the `X-Auth-*` and `X-SSL-Client-Cert` headers it received, as JSON.
pub fn echo_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut seen = serde_json::Map::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        let k = k.trim().to_ascii_lowercase();
                        if k.starts_with("x-auth-") || k == "x-ssl-client-cert" {
                            seen.insert(k, Value::String(v.trim().to_owned()));
                        }
                    }
                }
                let body = Value::Object(seen).to_string();
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}
