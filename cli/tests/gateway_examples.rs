//! The example gateway configurations keep a client's own copies of the original-request headers away from
//! keymanager: each forwards an allowlist of the client's headers (Traefik's `authRequestHeaders`, Envoy's
//! `allowed_headers`) or overwrites the family's headers (nginx's `proxy_set_header`). nginx's file is also run for
//! real (`gateway_nginx.rs`); Traefik and Envoy are not installed here, so their files are read.

use std::path::Path;

fn example(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/gateways")
            .join(name),
    )
    .unwrap()
}

/// The list items under `key:` (YAML block list, `- item` lines more indented than the key).
fn block_list(text: &str, key: &str) -> Option<Vec<String>> {
    let mut lines = text.lines().skip_while(|l| l.trim() != format!("{key}:"));
    let head = lines.next()?;
    let indent = head.len() - head.trim_start().len();
    Some(
        lines
            .take_while(|l| l.len() - l.trim_start().len() > indent && l.trim_start().starts_with("- "))
            .map(|l| l.trim_start()[2..].trim().to_owned())
            .collect(),
    )
}

#[test]
fn traefik_forwards_only_the_authorization_and_dpop_headers_of_the_client() {
    let text = example("traefik.yml");
    let allowed = block_list(&text, "authRequestHeaders").expect("traefik.yml sets authRequestHeaders");
    assert_eq!(allowed, ["Authorization", "DPoP"], "{text}");
    assert!(
        text.contains("proxy = \"traefik\""),
        "the example names the proxy setting"
    );
}

#[test]
fn envoy_forwards_only_the_authorization_and_dpop_headers_of_the_client() {
    let text = example("envoy.yaml");
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("allowed_headers:"))
        .expect("envoy.yaml sets allowed_headers");
    assert_eq!(
        line.trim(),
        "allowed_headers: { patterns: [{ exact: authorization }, { exact: dpop }] }"
    );
    assert!(text.contains("path_prefix: /gateway/auth"));
    assert!(text.contains("proxy = \"envoy\""));
}

#[test]
fn nginx_overwrites_the_original_request_headers() {
    let text = example("nginx.conf");
    assert!(text.contains("proxy_set_header X-Original-Method $request_method;"));
    assert!(text.contains("proxy_set_header X-Original-URI $request_uri;"));
    assert!(text.contains("proxy = \"nginx\""));
}

#[test]
fn nginx_mtls_sets_the_certificate_header_itself_and_keeps_it_from_the_upstream() {
    let text = example("nginx-mtls.conf");
    assert!(text.contains("ssl_verify_client   optional_no_ca;"));
    assert!(text.contains("proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;"));
    assert!(text.contains("proxy_set_header X-SSL-Client-Cert \"\";"));
    assert!(text.contains("client_certificate_header = \"X-SSL-Client-Cert\""));
    assert!(text.contains("proxy_ssl_verify on;"));
}
