//! Review finding 12: slow clients cannot hold the server. A client that trickles its request head is disconnected
//! after `header_read_timeout_seconds`; a request whose body never completes is answered `408` in its family's
//! shape after `request_timeout_seconds`; past `max_connections`, a new connection waits until one ends.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{free_port, serve_with, Served};

fn serve_limited(dir: &std::path::Path, server: &str) -> (Served, String) {
    let config = dir.join("km.toml");
    std::fs::write(
        &config,
        format!("[server]\n{server}\n[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n"),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let data = dir.join("data");
    let served = serve_with(&[
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "serve",
        "--listen",
        &listen,
    ]);
    (served, listen)
}

/// Read until the peer closes or `limit` passes; what was read, and whether the peer closed.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), true),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), false)
}

#[test]
fn a_half_sent_request_head_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let (_served, listen) = serve_limited(dir.path(), "header_read_timeout_seconds = 1");
    let mut slow = TcpStream::connect(&listen).unwrap();
    slow.write_all(b"GET /api/key-managers HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(8));
    assert!(closed, "a client that never finishes its headers must be disconnected");
    // A silent connection is cut off the same way.
    let mut silent = TcpStream::connect(&listen).unwrap();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(8));
    assert!(closed, "a silent connection must be disconnected");
}

#[test]
fn a_body_that_never_completes_is_answered_408_in_the_family_shape() {
    let dir = tempfile::tempdir().unwrap();
    let token = "0123456789abcdef0123456789abcdef";
    let (_served, listen) = serve_limited(
        dir.path(),
        &format!("request_timeout_seconds = 1\nadmin_token = \"{token}\""),
    );
    for (path, content_type, shape) in [
        (
            "/oauth2/token",
            "application/x-www-form-urlencoded",
            "\"error\":\"invalid_request\"",
        ),
        ("/api/applications", "application/json", "\"code\":408"),
    ] {
        let mut slow = TcpStream::connect(&listen).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: 100\r\n\r\ngrant_type"
        );
        slow.write_all(head.as_bytes()).unwrap();
        let (answer, _) = read_until_closed(&mut slow, Duration::from_secs(8));
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains(shape), "{path}: {answer}");
    }
}

#[test]
fn past_the_connection_cap_a_new_connection_waits_for_a_free_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_served, listen) = serve_limited(dir.path(), "max_connections = 2\nheader_read_timeout_seconds = 60");
    let idle_a = TcpStream::connect(&listen).unwrap();
    let _idle_b = TcpStream::connect(&listen).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut third = TcpStream::connect(&listen).unwrap();
    third
        .write_all(b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (early, _) = read_until_closed(&mut third, Duration::from_secs(1));
    assert!(early.is_empty(), "the cap of 2 connections was not applied: {early}");
    drop(idle_a);
    let (answer, closed) = read_until_closed(&mut third, Duration::from_secs(8));
    assert!(closed && answer.starts_with("HTTP/1.1 200"), "{answer}");
}
