//! The core's OAuth client (`keymanager::oauth`, the `oauth2` crate over the HTTP kit) against a mock provider: the
//! exact requests it sends for each grant, introspection and revocation, what it reads back, and how failures map.

use keymanager::http::{HttpClient, HttpPolicy};
use keymanager::model::*;
use keymanager::oauth::{self, EndpointAuth};
use keymanager::Error;
use serde_json::json;
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn http() -> HttpClient {
    HttpClient::new(HttpPolicy {
        max_retries: 1,
        initial_backoff: std::time::Duration::from_millis(1),
        ..HttpPolicy::default()
    })
    .unwrap()
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// Every grant sends RFC 6749's form, with `client_secret_basic` (id and secret form-encoded, §2.3.1) or the client
/// id alone for a public client; the answer keeps the token type as written, the ID token, and the requested scopes
/// when the answer names none.
#[tokio::test]
async fn each_grant_sends_the_rfc_6749_form_and_reads_the_answer() {
    let server = MockServer::start().await;
    let endpoint = format!("{}/token", server.uri());
    let answer = json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "refresh_token": "rt",
                        "id_token": "a.b.c"});
    for (auth, body) in [
        (Some(basic("app", "s%2Bcr%3At")), "grant_type=client_credentials&scope=a+b"),
        (Some(basic("app", "s%2Bcr%3At")), "grant_type=refresh_token&refresh_token=old&scope=a"),
        (Some(basic("app", "s%2Bcr%3At")), "grant_type=password&username=alice&password=pw+1&scope=a"),
        (
            None,
            "grant_type=authorization_code&code=c0de&code_verifier=v3rifier&client_id=spa&redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
        ),
    ] {
        let mut mock = Mock::given(method("POST")).and(path("/token")).and(body_string(body));
        if let Some(a) = auth {
            mock = mock.and(header("authorization", a.as_str()));
        }
        mock.respond_with(ResponseTemplate::new(200).set_body_json(&answer))
            .expect(1)
            .mount(&server)
            .await;
    }
    let secret = || Some(ClientSecret::new("s+cr:t"));
    let requests = [
        TokenRequest {
            client_secret: secret(),
            ..TokenRequest::client_credentials("app", ClientSecret::new("s+cr:t")).with_scopes(["a", "b"])
        },
        TokenRequest {
            client_id: "app".into(),
            client_secret: secret(),
            grant: Grant::RefreshToken {
                refresh_token: Token::new("old"),
            },
            scopes: ["a"].into_iter().collect(),
            validity: None,
            client_address: None,
            dpop_jkt: None,
            certificate_thumbprint: None,
        },
        TokenRequest {
            client_id: "app".into(),
            client_secret: secret(),
            grant: Grant::Password {
                username: "alice".into(),
                password: Token::new("pw 1"),
            },
            scopes: ["a"].into_iter().collect(),
            validity: None,
            client_address: None,
            dpop_jkt: None,
            certificate_thumbprint: None,
        },
        TokenRequest {
            client_id: "spa".into(),
            client_secret: None,
            grant: Grant::AuthorizationCode {
                code: Token::new("c0de"),
                redirect_uri: Some("https://app.example/cb".into()),
                code_verifier: Some(Token::new("v3rifier")),
            },
            scopes: Default::default(),
            validity: None,
            client_address: None,
            dpop_jkt: None,
            certificate_thumbprint: None,
        },
    ];
    for request in &requests {
        let token = oauth::request_token(&http(), &endpoint, request).await.unwrap();
        assert_eq!(token.access_token.expose_secret(), "at");
        assert_eq!(token.token_type, "Bearer");
        assert_eq!(token.expires_in, Some(300));
        assert_eq!(
            token.scopes, request.scopes,
            "no scope in the answer: the requested ones"
        );
        assert_eq!(
            token
                .refresh_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned())
                .as_deref(),
            Some("rt")
        );
        assert_eq!(
            token.id_token.as_ref().map(|t| t.expose_secret().to_owned()).as_deref(),
            Some("a.b.c")
        );
    }
}

/// `client_secret_post` puts the credentials in the body; an answer's own `scope` wins over the requested one.
#[tokio::test]
async fn client_secret_post_and_granted_scopes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string(
            "grant_type=client_credentials&scope=a+b&client_id=app&client_secret=s3cret",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "at", "token_type": "bearer", "scope": "a"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let token = oauth::request_token_as(
        &http(),
        &format!("{}/token", server.uri()),
        &TokenRequest::client_credentials("app", ClientSecret::new("s3cret")).with_scopes(["a", "b"]),
        TokenEndpointAuthMethod::ClientSecretPost,
    )
    .await
    .unwrap();
    assert_eq!(
        (token.scopes, token.token_type.as_str()),
        (["a"].into_iter().collect::<keymanager::model::Scopes>(), "Bearer")
    );
}

/// A refusal is the kit's typed error with the provider's answer attached (never retried: a grant is single use);
/// an answer that does not read names the JSON path.
#[tokio::test]
async fn failures_keep_their_kinds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/refused"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_grant", "error_description": "the code was used"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/garbled"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": 7, "token_type": "Bearer"})))
        .mount(&server)
        .await;
    let request = TokenRequest::client_credentials("app", ClientSecret::new("s"));
    let err = oauth::request_token(&http(), &format!("{}/refused", server.uri()), &request)
        .await
        .unwrap_err();
    match &err {
        Error::InvalidGrant { code, .. } => assert_eq!(code, "invalid_grant"),
        other => panic!("not invalid_grant: {other:?}"),
    }
    assert_eq!(err.provider().map(|p| p.status), Some(400));
    let err = oauth::request_token(&http(), &format!("{}/garbled", server.uri()), &request)
        .await
        .unwrap_err();
    match err {
        Error::MalformedResponse { path, .. } => assert_eq!(path, "access_token"),
        other => panic!("not malformed: {other:?}"),
    }
}

/// Introspection keeps every claim as sent (a string `aud` stays a string); revocation sends a hint only when given,
/// takes any success status, and goes to a plain-http endpoint the configuration allowed.
#[tokio::test]
async fn introspection_keeps_every_claim_and_revocation_sends_what_it_was_given() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/introspect"))
        .and(header("authorization", basic("rs", "rs-secret").as_str()))
        .and(body_string("token=t.o.k&token_type_hint=access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"active": true, "client_id": "app", "aud": "api", "scope": "a b", "ext": {"tier": "gold"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let info = oauth::introspect(
        &http(),
        &format!("{}/introspect", server.uri()),
        &EndpointAuth::Client("rs".into(), ClientSecret::new("rs-secret")),
        &Token::new("t.o.k"),
        Some(TokenTypeHint::AccessToken),
    )
    .await
    .unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some("app"));
    assert_eq!(info.claims["aud"], "api");
    assert_eq!(info.claims["ext"]["tier"], "gold");

    Mock::given(method("POST"))
        .and(path("/revoke"))
        .and(body_string("token=t.o.k"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    assert!(server.uri().starts_with("http://"));
    oauth::revoke(
        &http(),
        &format!("{}/revoke", server.uri()),
        &RevocationRequest {
            token: Token::new("t.o.k"),
            token_type_hint: None,
            client_id: "app".into(),
            client_secret: Some(ClientSecret::new("s")),
        },
    )
    .await
    .unwrap();
}

fn openid_document(issuer: &str) -> serde_json::Value {
    json!({
        "issuer": issuer, "authorization_endpoint": format!("{issuer}/authorize"), "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"), "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "Ed25519"], "introspection_endpoint": format!("{issuer}/introspect"),
        "end_session_endpoint": format!("{issuer}/logout"), "grant_types_supported": ["authorization_code", "urn:x:custom"],
    })
}

/// Discovery: a complete OpenID provider's document is read with `openidconnect`'s types (an algorithm they do not
/// know is skipped, not fatal); a plain OAuth server's RFC 8414 document is found at its own well-known URL; an
/// OpenID document lacking what OpenID requires is read for its OAuth members; a document naming another issuer is
/// refused.
#[tokio::test]
async fn discovery_reads_openid_then_rfc_8414() {
    use keymanager::oauth::discovery::discover;
    let server = MockServer::start().await;
    let base = server.uri();
    let openid = format!("{base}/op");
    Mock::given(method("GET"))
        .and(path("/op/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(openid_document(&openid)))
        .mount(&server)
        .await;
    let meta = discover(&http(), &openid).await.unwrap();
    assert!(meta.openid);
    assert_eq!(meta.token_endpoint, Some(format!("{openid}/token")));
    assert_eq!(meta.introspection_endpoint, Some(format!("{openid}/introspect")));
    assert_eq!(meta.end_session_endpoint, Some(format!("{openid}/logout")));
    assert_eq!(
        meta.grant_types_supported,
        Some(vec!["authorization_code".to_owned(), "urn:x:custom".to_owned()])
    );

    let plain = format!("{base}/as");
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server/as"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"issuer": plain, "token_endpoint": format!("{plain}/token"), "revocation_endpoint": format!("{plain}/revoke")}),
        ))
        .mount(&server)
        .await;
    let meta = discover(&http(), &plain).await.unwrap();
    assert!(!meta.openid);
    assert_eq!(meta.revocation_endpoint, Some(format!("{plain}/revoke")));

    let partial = format!("{base}/partial");
    Mock::given(method("GET"))
        .and(path("/partial/.well-known/openid-configuration"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"issuer": partial, "token_endpoint": format!("{partial}/t")})),
        )
        .mount(&server)
        .await;
    let meta = discover(&http(), &partial).await.unwrap();
    assert!(
        !meta.openid,
        "no authorization_endpoint, jwks_uri, …: not an OpenID provider's document"
    );
    assert_eq!(meta.token_endpoint, Some(format!("{partial}/t")));

    let liar = format!("{base}/liar");
    Mock::given(method("GET"))
        .and(path("/liar/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(openid_document("https://elsewhere.example")))
        .mount(&server)
        .await;
    match discover(&http(), &liar).await.unwrap_err() {
        Error::MalformedResponse { path, .. } => assert_eq!(path, "issuer"),
        other => panic!("{other:?}"),
    }
}
