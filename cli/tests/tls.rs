//! `keymanager serve` terminating TLS with `[server] tls_cert` / `tls_key`.

mod common;

#[test]
fn serve_terminates_tls_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let port = common::free_port();
    let config = dir.path().join("km.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n\n\
             [[key_manager]]\nname = \"Resident Key Manager\"\ntype = \"resident\"\n",
            dir.path().join("data").display(),
            cert_path.display(),
            key_path.display()
        ),
    )
    .unwrap();
    let served = common::serve_with(&["--config", config.to_str().unwrap(), "serve"]);
    assert_eq!(served.base, format!("https://127.0.0.1:{port}"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let trusted = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
            .build()
            .unwrap();
        let doc: serde_json::Value = trusted
            .get(format!(
                "https://localhost:{port}/.well-known/oauth-authorization-server"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["issuer"], format!("https://127.0.0.1:{port}"));
        // Plain HTTP on the TLS port gets no answer, and a client that does not trust the certificate is refused.
        assert!(reqwest::get(format!("http://127.0.0.1:{port}/oauth2/jwks"))
            .await
            .is_err());
        assert!(reqwest::get(format!("https://localhost:{port}/oauth2/jwks"))
            .await
            .is_err());
    });
}

#[test]
fn a_missing_key_file_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("km.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = \"/nonexistent/cert.pem\"\ntls_key = \"/nonexistent/key.pem\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(common::BIN)
        .args([
            "--config",
            config.to_str().unwrap(),
            "serve",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls_cert: cannot read /nonexistent/cert.pem"));
}
