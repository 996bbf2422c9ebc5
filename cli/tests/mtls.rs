//! Certificate-bound access tokens (RFC 8705) with real TLS client certificates made here: `keymanager serve`
//! terminating TLS authenticates `tls_client_auth` and `self_signed_tls_client_auth` clients by their certificates
//! and binds their tokens (`cnf.x5t#S256`); a real nginx terminating TLS forwards the certificate to forward auth,
//! which lets a bound token through only with its certificate.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::nginx::Nginx;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, SanType};
use reqwest::blocking::Client;
use serde_json::{json, Value};

/// A certificate and its key, PEM.
struct Identity {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
    key: KeyPair,
}

impl Identity {
    fn reqwest(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(format!("{}{}", self.cert_pem, self.key_pem).as_bytes()).unwrap()
    }

    /// RFC 8705 §3.1.
    fn thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.der))
    }

    /// The public JWK with the certificate in `x5c` (what a self-signed client registers).
    fn jwk(&self) -> Value {
        let raw = self.key.public_key_raw();
        json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&raw[1..33]),
               "y": URL_SAFE_NO_PAD.encode(&raw[33..65]), "x5c": [STANDARD.encode(&self.der)]})
    }
}

fn client_params(dns: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.subject_alt_names = vec![SanType::DnsName(dns.try_into().unwrap())];
    p.distinguished_name.push(DnType::CommonName, "orders client");
    p.distinguished_name.push(DnType::OrganizationName, "Example, Inc.");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p
}

fn identity(cert: rcgen::Certificate, key: KeyPair) -> Identity {
    Identity {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
        key,
    }
}

/// A test CA, two client certificates it issued (one naming the client, one another name), a self-signed one, and
/// the server's certificate.
struct Pki {
    ca_pem: String,
    issued: Identity,
    other_name: Identity,
    self_signed: Identity,
    server: Identity,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "keymanager test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let issue = |dns: &str| {
        let key = KeyPair::generate().unwrap();
        identity(client_params(dns).signed_by(&key, &issuer).unwrap(), key)
    };
    let self_key = KeyPair::generate().unwrap();
    let self_signed = identity(
        client_params("orders.client.example").self_signed(&self_key).unwrap(),
        self_key,
    );
    let server_key = KeyPair::generate().unwrap();
    let server = identity(
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&server_key)
            .unwrap(),
        server_key,
    );
    Pki {
        ca_pem: ca_cert.pem(),
        issued: issue("orders.client.example"),
        other_name: issue("billing.client.example"),
        self_signed,
        server,
    }
}

fn client(pki: &Pki, who: Option<&Identity>) -> Client {
    let mut b = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.server.cert_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(20));
    if let Some(id) = who {
        b = b.identity(id.reqwest());
    }
    b.build().unwrap()
}

fn token(http: &Client, base: &str, client_id: &str) -> (u16, Value) {
    let resp = http
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("scope", "orders:read"),
        ])
        .send()
        .unwrap();
    (resp.status().as_u16(), resp.json().unwrap_or(Value::Null))
}

/// A loopback HTTP server answering every request with `body` (JSON); its port.
fn serve_json(body: String) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let _ = write!(
                reader.into_inner(),
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    pki: Pki,
    served: common::Served,
    admin: String,
}

fn serve_with_client_certificates() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let path = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let (cert, key, ca) = (
        path("server.pem", &pki.server.cert_pem),
        path("server.key", &pki.server.key_pem),
        path("ca.pem", &pki.ca_pem),
    );
    let config = dir.path().join("keymanager.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ntls_cert = \"{cert}\"\ntls_key = \"{key}\"\ntls_client_certificates = true\n\
             tls_client_ca = \"{ca}\"\n# A self-signed client's jwks_uri is served on loopback here.\n\
             allow_private_fetches = true\n\n\
             [gateway]\nproxy = \"nginx\"\nclient_certificate_header = \"X-SSL-Client-Cert\"\n\n\
             [[gateway.route]]\npath_prefix = \"/orders\"\nscopes = [\"orders:read\"]\n\n\
             [[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n"
        ),
    )
    .unwrap();
    let served = common::serve_config(&config, dir.path(), &[]);
    let admin = common::admin_token(dir.path());
    Setup {
        dir: dir.path().to_path_buf(),
        _dir: dir,
        pki,
        served,
        admin,
    }
}

fn register(s: &Setup, metadata: Value) -> (u16, Value) {
    let resp = client(&s.pki, None)
        .post(format!("{}/oauth2/register", s.served.base))
        .bearer_auth(&s.admin)
        .json(&metadata)
        .send()
        .unwrap();
    (resp.status().as_u16(), resp.json().unwrap())
}

#[test]
fn clients_authenticate_with_their_certificates_and_get_tokens_bound_to_them() {
    let s = serve_with_client_certificates();
    let base = s.served.base.as_str();
    let doc: Value = client(&s.pki, None)
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let methods = doc["token_endpoint_auth_methods_supported"].as_array().unwrap();
    assert!(methods.contains(&json!("tls_client_auth")), "{doc}");
    assert!(methods.contains(&json!("self_signed_tls_client_auth")), "{doc}");
    assert_eq!(doc["tls_client_certificate_bound_access_tokens"], true);

    // tls_client_auth: a certificate the configured CA issued, naming the client by its SAN.
    let (status, pki_client) = register(
        &s,
        json!({"client_name": "pki client", "grant_types": ["client_credentials"], "scope": "orders:read",
               "token_endpoint_auth_method": "tls_client_auth",
               "tls_client_auth_san_dns": "orders.client.example",
               "tls_client_certificate_bound_access_tokens": true}),
    );
    assert_eq!(status, 201, "{pki_client}");
    assert!(pki_client.get("client_secret").is_none(), "no secret: {pki_client}");
    assert_eq!(pki_client["token_endpoint_auth_method"], "tls_client_auth");
    let id = pki_client["client_id"].as_str().unwrap();

    let (status, issued) = token(&client(&s.pki, Some(&s.pki.issued)), base, id);
    assert_eq!(status, 200, "{issued}");
    let at = issued["access_token"].as_str().unwrap();
    assert_eq!(claims(at)["cnf"], json!({"x5t#S256": s.pki.issued.thumbprint()}));
    assert_eq!(issued["token_type"], "Bearer", "RFC 8705 keeps the bearer scheme");

    // Another name from the same CA, a self-signed certificate with the right name, and no certificate at all.
    for (who, why) in [
        (Some(&s.pki.other_name), "a certificate naming another client"),
        (Some(&s.pki.self_signed), "a certificate no configured CA issued"),
        (None, "no certificate"),
    ] {
        let (status, body) = token(&client(&s.pki, who), base, id);
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{why}: {body}"
        );
    }

    // The subject DN instead of a SAN, as RFC 4514 writes it (the last RDN of the certificate first).
    for (dn, status) in [
        ("O=Example\\, Inc.,CN=orders client", 200),
        ("o=example\\,  inc., cn=Orders Client", 200),
        ("CN=orders client,O=Example\\, Inc.", 401),
        ("O=Example\\, Inc.,CN=billing client", 401),
    ] {
        let (registered, dn_client) = register(
            &s,
            json!({"client_name": "dn client", "grant_types": ["client_credentials"], "scope": "orders:read",
                   "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": dn}),
        );
        assert_eq!(registered, 201, "{dn_client}");
        let (got, body) = token(
            &client(&s.pki, Some(&s.pki.issued)),
            base,
            dn_client["client_id"].as_str().unwrap(),
        );
        assert_eq!(got, status, "{dn}: {body}");
    }

    // Introspection answers the confirmation, to the client authenticated by its certificate.
    let info: Value = client(&s.pki, Some(&s.pki.issued))
        .post(format!("{base}/oauth2/introspect"))
        .form(&[("token", at), ("client_id", id)])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["cnf"]["x5t#S256"], s.pki.issued.thumbprint());

    // self_signed_tls_client_auth: the very certificate registered in the client's jwks, whoever issued it.
    let (status, self_client) = register(
        &s,
        json!({"client_name": "self-signed client", "grant_types": ["client_credentials"], "scope": "orders:read",
               "token_endpoint_auth_method": "self_signed_tls_client_auth",
               "jwks": {"keys": [s.pki.self_signed.jwk()]}}),
    );
    assert_eq!(status, 201, "{self_client}");
    let self_id = self_client["client_id"].as_str().unwrap();
    let (status, unbound) = token(&client(&s.pki, Some(&s.pki.self_signed)), base, self_id);
    assert_eq!(status, 200, "{unbound}");
    assert!(
        claims(unbound["access_token"].as_str().unwrap()).get("cnf").is_none(),
        "bound only when the client is registered for it"
    );
    let (status, _) = token(&client(&s.pki, Some(&s.pki.issued)), base, self_id);
    assert_eq!(status, 401, "a CA-issued certificate is not the registered one");

    // ... or its certificate published at its jwks_uri (RFC 8705 §2.2.2), read when it presents one.
    let published = json!({"keys": [s.pki.self_signed.jwk()]}).to_string();
    let jwks_uri = format!("http://127.0.0.1:{}/jwks", serve_json(published));
    let (status, published_client) = register(
        &s,
        json!({"client_name": "published self-signed client", "grant_types": ["client_credentials"],
               "scope": "orders:read", "token_endpoint_auth_method": "self_signed_tls_client_auth",
               "jwks_uri": jwks_uri, "tls_client_certificate_bound_access_tokens": true}),
    );
    assert_eq!(status, 201, "{published_client}");
    let published_id = published_client["client_id"].as_str().unwrap();
    let (status, bound) = token(&client(&s.pki, Some(&s.pki.self_signed)), base, published_id);
    assert_eq!(status, 200, "{bound}");
    assert_eq!(
        claims(bound["access_token"].as_str().unwrap())["cnf"],
        json!({"x5t#S256": s.pki.self_signed.thumbprint()})
    );
    let (status, _) = token(&client(&s.pki, Some(&s.pki.issued)), base, published_id);
    assert_eq!(status, 401, "a certificate not published at the jwks_uri");
    let (status, unreachable_client) = register(
        &s,
        json!({"client_name": "unreachable keys", "grant_types": ["client_credentials"],
               "token_endpoint_auth_method": "self_signed_tls_client_auth",
               "jwks_uri": format!("http://127.0.0.1:{}/jwks", common::free_port())}),
    );
    assert_eq!(status, 201, "{unreachable_client}");
    let (status, body) = token(
        &client(&s.pki, Some(&s.pki.self_signed)),
        base,
        unreachable_client["client_id"].as_str().unwrap(),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "keys that cannot be read authenticate no one: {body}"
    );

    // Registration refuses what cannot work, naming the member.
    for (metadata, member) in [
        (
            json!({"token_endpoint_auth_method": "tls_client_auth", "grant_types": ["client_credentials"]}),
            "token_endpoint_auth_method",
        ),
        (
            json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_ip": "not-an-ip",
                   "grant_types": ["client_credentials"]}),
            "tls_client_auth_san_ip",
        ),
        (
            json!({"token_endpoint_auth_method": "self_signed_tls_client_auth",
                   "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": s.pki.self_signed.jwk()["x"],
                                      "y": s.pki.self_signed.jwk()["y"]}]},
                   "grant_types": ["client_credentials"]}),
            "jwks",
        ),
        (
            json!({"token_endpoint_auth_method": "self_signed_tls_client_auth",
                   "grant_types": ["client_credentials"]}),
            "token_endpoint_auth_method",
        ),
    ] {
        let (status, body) = register(&s, metadata);
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_client_metadata", "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap_or_default()
                .starts_with(member),
            "{member}: {body}"
        );
    }
}

/// nginx from `examples/gateways/nginx-mtls.conf`, with this test's addresses and files.
fn start_nginx(s: &Setup, upstream: u16) -> (Nginx, u16) {
    let port = common::free_port();
    let file = |name: &str| s.dir.join(name).display().to_string();
    let nginx = common::nginx::start(
        &s.dir,
        "nginx-mtls.conf",
        &[
            (
                "server 127.0.0.1:9443;",
                format!("server {};", s.served.base.trim_start_matches("https://")),
            ),
            ("server 127.0.0.1:8080;", format!("server 127.0.0.1:{upstream};")),
            ("listen 8443 ssl;", format!("listen 127.0.0.1:{port} ssl;")),
            ("/etc/nginx/tls/server.pem", file("server.pem")),
            ("/etc/nginx/tls/server.key", file("server.key")),
            // keymanager's certificate is self-signed here: it is its own authority.
            ("/etc/nginx/tls/keymanager-ca.pem", file("server.pem")),
        ],
        port,
    );
    (nginx, port)
}

/// Through a real nginx terminating TLS (`examples/gateways/nginx-mtls.conf`): a certificate-bound token passes
/// with its certificate only; another certificate, none, or a certificate header the client wrote itself is
/// refused.
#[test]
fn nginx_forwards_the_client_certificate_and_a_bound_token_passes_only_with_it() {
    if common::nginx::binary().is_none() {
        return;
    }
    let s = serve_with_client_certificates();
    let base = s.served.base.as_str();
    let (status, registered) = register(
        &s,
        json!({"client_name": "bound", "grant_types": ["client_credentials"], "scope": "orders:read",
               "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "orders.client.example",
               "tls_client_certificate_bound_access_tokens": true}),
    );
    assert_eq!(status, 201, "{registered}");
    let id = registered["client_id"].as_str().unwrap();
    let (status, issued) = token(&client(&s.pki, Some(&s.pki.issued)), base, id);
    assert_eq!(status, 200, "{issued}");
    let at = issued["access_token"].as_str().unwrap();
    let (_nginx, port) = start_nginx(&s, common::nginx::echo_upstream());
    let call = |who: Option<&Identity>, forged: Option<&str>| {
        let mut req = client(&s.pki, who)
            .get(format!("https://localhost:{port}/orders/7"))
            .bearer_auth(at);
        if let Some(f) = forged {
            req = req.header("X-SSL-Client-Cert", f);
        }
        let resp = req.send().unwrap();
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        (resp.status().as_u16(), challenge)
    };
    let seen: Value = client(&s.pki, Some(&s.pki.issued))
        .get(format!("https://localhost:{port}/orders/7"))
        .bearer_auth(at)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(seen["x-auth-client-id"], id, "with its certificate: {seen}");
    assert_eq!(seen["x-auth-x5t-s256"], s.pki.issued.thumbprint(), "{seen}");
    assert!(seen.get("x-ssl-client-cert").is_none(), "not passed upstream: {seen}");
    let (status, challenge) = call(Some(&s.pki.other_name), None);
    assert_eq!(status, 401, "another certificate");
    assert!(challenge.unwrap_or_default().contains("invalid_token"));
    assert_eq!(call(None, None).0, 401, "no certificate");
    let forged: String = url::form_urlencoded::byte_serialize(s.pki.issued.cert_pem.as_bytes()).collect();
    assert_eq!(
        call(None, Some(&forged.replace('+', "%20"))).0,
        401,
        "a certificate header the client sent is replaced by nginx"
    );
}

/// Interop with a client library nobody here wrote (`tests/peers/openid-client-mtls.mjs`): openid-client
/// authenticates with its certificate (`tls_client_auth`, no secret), gets a token bound to it, and calls a resource
/// through a real nginx with the token over the same certificate; without the certificate the token is refused.
#[test]
fn openid_client_authenticates_with_its_certificate_and_its_token_is_bound_to_it() {
    if common::nginx::binary().is_none() {
        return;
    }
    let Some(peers) = common::npm_peers() else {
        return;
    };
    let s = serve_with_client_certificates();
    let (status, registered) = register(
        &s,
        json!({"client_name": "openid-client", "grant_types": ["client_credentials"], "scope": "orders:read",
               "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "orders.client.example",
               "tls_client_certificate_bound_access_tokens": true}),
    );
    assert_eq!(status, 201, "{registered}");
    assert!(registered.get("client_secret").is_none(), "{registered}");
    let id = registered["client_id"].as_str().unwrap();
    let file = |name: &str, text: &str| {
        let p = s.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let (cert, key) = (
        file("client.pem", &s.pki.issued.cert_pem),
        file("client.key", &s.pki.issued.key_pem),
    );
    let (_nginx, port) = start_nginx(&s, common::nginx::echo_upstream());
    let seen = common::run_peer(
        &peers,
        "openid-client-mtls.mjs",
        &[
            s.served.base.as_str(),
            id,
            &cert,
            &key,
            &s.dir.join("server.pem").display().to_string(),
            "orders:read",
            &format!("https://localhost:{port}/orders/7"),
        ],
    );
    assert_eq!(seen["bound_tokens"], true, "{seen}");
    assert!(
        seen["auth_methods"]
            .as_array()
            .unwrap()
            .contains(&json!("tls_client_auth")),
        "{seen}"
    );
    assert_eq!(seen["token_type"], "bearer", "{seen}");
    assert_eq!(
        seen["cnf"],
        json!({"x5t#S256": s.pki.issued.thumbprint()}),
        "bound to the certificate openid-client presented: {seen}"
    );
    assert_eq!(seen["status"], 200, "{seen}");
    assert_eq!(seen["seen"]["x-auth-client-id"], id, "{seen}");
    assert_eq!(seen["seen"]["x-auth-x5t-s256"], s.pki.issued.thumbprint(), "{seen}");
    assert_eq!(seen["without_certificate_status"], 401, "{seen}");
    assert!(
        seen["without_certificate_challenge"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid_token"),
        "{seen}"
    );
}
