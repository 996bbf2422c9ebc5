//! Every failure mapping of the outbound HTTP kit, against a real HTTP server (wiremock).

use std::time::{Duration, Instant};

use keymanager::http::{HttpClient, HttpPolicy, Idempotency};
use keymanager::Error;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client() -> HttpClient {
    HttpClient::new(HttpPolicy {
        request_timeout: Duration::from_millis(300),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_wait: Duration::from_secs(2),
        max_response_bytes: 1024,
        ..HttpPolicy::default()
    })
    .unwrap()
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let http = client();
    let err = http
        .send(http.post(format!("{}/slow", server.uri())), Idempotency::NonIdempotent)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let http = client();
    let err = http
        .send(http.post(&uri), Idempotency::NonIdempotent)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
}

#[tokio::test]
async fn an_idempotent_call_waits_for_retry_after_on_429_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": true})))
        .mount(&server)
        .await;
    let http = client();
    let started = Instant::now();
    let resp = http
        .send_ok(http.get(server.uri()), Idempotency::Idempotent)
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After was not honoured"
    );
    assert_eq!(resp.json::<serde_json::Value>().unwrap()["ok"], true);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_429_on_a_non_idempotent_call_is_rate_limited_with_the_delay() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "30")
                .set_body_json(serde_json::json!({
                    "error": "slow_down",
                    "error_description": "API call exceeded rate limit due to too many requests."
                })),
        )
        .mount(&server)
        .await;
    let http = client();
    let err = http
        .send_ok(http.post(server.uri()), Idempotency::NonIdempotent)
        .await
        .unwrap_err();
    match err {
        Error::RateLimited { retry_after, provider } => {
            assert_eq!(retry_after, Some(Duration::from_secs(30)));
            assert_eq!(provider.unwrap().code.as_deref(), Some("slow_down"));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_503_is_retried_on_an_idempotent_call() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&server)
        .await;
    let http = client();
    let resp = http
        .send_ok(http.get(server.uri()), Idempotency::Idempotent)
        .await
        .unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn retries_are_bounded_and_end_in_an_upstream_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("maintenance"))
        .mount(&server)
        .await;
    let http = client();
    let err = http
        .send_ok(http.get(server.uri()), Idempotency::Idempotent)
        .await
        .unwrap_err();
    match &err {
        Error::Upstream(p) => {
            assert_eq!(p.status, 503);
            assert_eq!(p.body, "maintenance");
        }
        other => panic!("expected Upstream, got {other:?}"),
    }
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        3,
        "1 try + max_retries 2"
    );
}

#[tokio::test]
async fn a_non_idempotent_post_is_never_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let http = client();
    let err = http
        .send_ok(http.post(server.uri()).body("x"), Idempotency::NonIdempotent)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Upstream(ref p) if p.status == 503), "{err:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_or_without_content_length() {
    let server = MockServer::start().await;
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(4096)))
        .mount(&server)
        .await;
    let http = client();
    let err = http
        .send(http.get(format!("{}/big", server.uri())), Idempotency::Idempotent)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ResponseTooLarge { limit: 1024, .. }), "{err:?}");
}

#[tokio::test]
async fn invalid_json_names_the_path_serde_stopped_at() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Client {
        client_id: String,
        secrets: Vec<Secret>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Secret {
        created: i64,
    }
    let server = MockServer::start().await;
    Mock::given(path("/c"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"client_id":"abc","secrets":[{"created":1},{"created":"yesterday"}]}"#),
        )
        .mount(&server)
        .await;
    Mock::given(path("/broken"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{not json"))
        .mount(&server)
        .await;
    let http = client();
    let resp = http
        .send_ok(
            http.get(format!("{}/c?secret=x", server.uri())),
            Idempotency::Idempotent,
        )
        .await
        .unwrap();
    match resp.json::<Client>().unwrap_err() {
        Error::MalformedResponse { path, url, .. } => {
            assert_eq!(path, "secrets[1].created");
            assert!(
                !url.contains("secret=x"),
                "the query string must not reach errors: {url}"
            );
        }
        other => panic!("expected MalformedResponse, got {other:?}"),
    }
    let resp = http
        .send_ok(http.get(format!("{}/broken", server.uri())), Idempotency::Idempotent)
        .await
        .unwrap();
    assert!(matches!(
        resp.json::<Client>().unwrap_err(),
        Error::MalformedResponse { .. }
    ));
}

#[tokio::test]
async fn provider_errors_keep_status_and_redacted_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("X-Request-Id", "req-42")
                .set_body_json(serde_json::json!({
                    "error": "invalid_client",
                    "error_description": "Client authentication failed.",
                    "client_secret": "leaked-secret-value"
                })),
        )
        .mount(&server)
        .await;
    let http = client();
    let err = http
        .send_ok(http.post(server.uri()), Idempotency::NonIdempotent)
        .await
        .unwrap_err();
    let provider = err.provider().cloned().unwrap();
    assert!(matches!(err, Error::Unauthorized { .. }));
    assert_eq!(provider.status, 401);
    assert_eq!(provider.request_id.as_deref(), Some("req-42"));
    assert!(!format!("{err:?} {err}").contains("leaked-secret-value"));
}

/// A provider's own error shape and request-id header come from the connector's dialect, not the core.
#[tokio::test]
async fn a_connectors_error_dialect_reads_its_providers_errors() {
    use keymanager::http::{ErrorDialect, ErrorFields};
    #[derive(Debug)]
    struct Acme;
    impl ErrorDialect for Acme {
        fn request_id_header(&self) -> Option<&'static str> {
            Some("x-acme-trace")
        }
        fn fields(&self, body: &serde_json::Value) -> ErrorFields {
            ErrorFields {
                code: body.get("fault").and_then(|v| v.as_str()).map(str::to_owned),
                message: body.get("why").and_then(|v| v.as_str()).map(str::to_owned),
                causes: vec!["cause".into()],
            }
        }
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("X-Acme-Trace", "t-1")
                .set_body_json(serde_json::json!({"fault": "A42", "why": "bad widget"})),
        )
        .mount(&server)
        .await;
    let http = client().with_error_dialect(std::sync::Arc::new(Acme));
    let err = http
        .send_ok(http.post(server.uri()), Idempotency::NonIdempotent)
        .await
        .unwrap_err();
    let p = err.provider().cloned().unwrap();
    assert_eq!(
        (p.code.as_deref(), p.message.as_deref()),
        (Some("A42"), Some("bad widget"))
    );
    assert_eq!(p.request_id.as_deref(), Some("t-1"));
    // The plain client reads only the standard shape.
    let plain = client();
    let err = plain
        .send_ok(plain.post(server.uri()), Idempotency::NonIdempotent)
        .await
        .unwrap_err();
    assert_eq!(err.provider().and_then(|p| p.code.clone()), None);
}
