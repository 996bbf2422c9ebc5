//! Contract tests: the okta connector against a wiremock server serving Okta's own bodies (fixtures/okta). Each
//! test pins the exact request Okta receives (method, path, query, SSWS header, body) and the mapped result; the
//! `schema` tests check every fixture and every JSON body the connector sends against Okta's schemas.

use std::time::Duration;

use keymanager::connector_kit::{SecretPolicy, SecretStorage};
use keymanager::http::{HttpClient, HttpPolicy};
use keymanager::model::*;
use keymanager::{Error, KeyManager};
use keymanager_okta::{OktaKeyManager, OktaSettings};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, body_string, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "00aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789-_";

fn fixture(name: &str) -> Value {
    let p = format!("{}/../../fixtures/okta/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).unwrap()
}

async fn okta() -> (MockServer, OktaKeyManager) {
    okta_with(MockServer::start().await, SecretPolicy::default())
}

fn okta_with(server: MockServer, secrets: SecretPolicy) -> (MockServer, OktaKeyManager) {
    let mut settings = OktaSettings::new(&server.uri(), "default", Token::new(TOKEN));
    settings.secrets = secrets;
    settings.introspection_client = Some(("0oaIntrospector".into(), ClientSecret::new("introspector-secret")));
    let http = HttpClient::new(HttpPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        ..HttpPolicy::default()
    })
    .unwrap();
    let km = OktaKeyManager::new("okta", settings, http);
    (server, km)
}

/// Okta's own secrets list at `path` (an inactive secret, then the active one).
async fn mount_secret_list(server: &MockServer, path_: &str) {
    Mock::given(method("GET"))
        .and(path(path_))
        .and(ssws())
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("examples/management.oAuthClientSecretListResponse.json")),
        )
        .mount(server)
        .await;
}

fn ssws() -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("SSWS {TOKEN}").as_str())
}

fn basic(id: &str, secret: &str) -> String {
    use std::io::Write;
    let mut raw = Vec::new();
    write!(raw, "{id}:{secret}").unwrap();
    format!("Basic {}", base64_encode(&raw))
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A web client of the code flow that requires PKCE (set through the Apps API).
fn web_spec_with_pkce(name: &str) -> ClientSpec {
    ClientSpec::new(name, KeyType::Production)
        .with_grant_types([GrantType::AuthorizationCode])
        .with_redirect_uris(["https://www.example.com/oauth2/redirectUri"].map(|u| u.parse().unwrap()))
        .with_pkce(PkcePolicy {
            required: true,
            allow_plain: false,
        })
}

fn service_spec() -> ClientSpec {
    ClientSpec::new("orders-app PRODUCTION", KeyType::Production).with_scopes(["orders.read"])
}

#[tokio::test]
async fn register_a_service_client_through_dcr() {
    let (server, km) = okta().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/clients"))
        .and(ssws())
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "client_name": "orders-app PRODUCTION",
            "application_type": "service",
            "grant_types": ["client_credentials"],
            "response_types": ["token"],
            "redirect_uris": [],
            "token_endpoint_auth_method": "client_secret_basic"
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(fixture("responses/dcr-service-client.json")))
        .expect(1)
        .mount(&server)
        .await;
    let client = km.register_client(&service_spec()).await.unwrap();
    assert_eq!(client.client_id.as_str(), "0oa8x2kqz1AbCdEfG5d7");
    assert_eq!(
        client.client_secret.unwrap().expose_secret(),
        "5W7XULCEs4BJKnWUXwh8lgmeXRhcGcdViFp84pWe"
    );
    assert_eq!(client.grant_types, [GrantType::ClientCredentials]);
    assert_eq!(client.additional_properties["application_type"], "service");
}

#[tokio::test]
async fn a_confidential_client_requiring_pkce_is_set_through_the_apps_api() {
    let (server, km) = okta().await;
    let web = fixture("examples/oauth.ClientResponseWeb.json");
    let id = web["client_id"].as_str().unwrap().to_owned();
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/clients"))
        .and(ssws())
        .respond_with(ResponseTemplate::new(201).set_body_json(&web))
        .expect(1)
        .mount(&server)
        .await;
    let mut app = fixture("examples/management.OpenidConnectResponseEx.json");
    app["credentials"]["oauthClient"]["pkce_required"] = json!(false);
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/apps/{id}")))
        .and(ssws())
        .respond_with(ResponseTemplate::new(200).set_body_json(&app))
        .expect(1)
        .mount(&server)
        .await;
    let mut expected = app.clone();
    expected["credentials"]["oauthClient"]["pkce_required"] = json!(true);
    Mock::given(method("PUT"))
        .and(path(format!("/api/v1/apps/{id}")))
        .and(ssws())
        .and(body_json(&expected))
        .respond_with(ResponseTemplate::new(200).set_body_json(&expected))
        .expect(1)
        .mount(&server)
        .await;
    let spec = web_spec_with_pkce("Example OAuth 2.0 client");
    let client = km.register_client(&spec).await.unwrap();
    assert!(client.pkce.required);
    // plain is refused before any call: Okta supports S256 only.
    let plain = spec.clone().with_pkce(PkcePolicy {
        required: true,
        allow_plain: true,
    });
    assert!(matches!(
        km.register_client(&plain).await.unwrap_err(),
        Error::Unsupported { .. }
    ));
}

#[tokio::test]
async fn get_update_delete_and_new_secret() {
    let (server, km) = okta().await;
    let id = "0jrabyQWm4B9zVJPbotY";
    Mock::given(method("GET"))
        .and(path(format!("/oauth2/v1/clients/{id}")))
        .and(ssws())
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("examples/oauth.ClientResponseWeb.json")))
        .mount(&server)
        .await;
    let read = km.get_client(&ClientId::new(id)).await.unwrap();
    assert_eq!(read.name, "Example OAuth 2.0 client");
    assert!(read.client_secret.is_none(), "a read never passes the secret on");

    let spec = ClientSpec::new("Updated OAuth 2.0 client", KeyType::Production)
        .with_grant_types([GrantType::AuthorizationCode])
        .with_redirect_uris(["https://www.example.com/oauth2/redirectUri"].map(|u| u.parse().unwrap()));
    Mock::given(method("PUT"))
        .and(path(format!("/oauth2/v1/clients/{id}")))
        .and(ssws())
        .and(body_json(json!({
            "client_id": id,
            "client_name": "Updated OAuth 2.0 client",
            "application_type": "web",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "redirect_uris": ["https://www.example.com/oauth2/redirectUri"],
            "token_endpoint_auth_method": "client_secret_basic"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("examples/oauth.ClientResponseWebUpdate.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut app = fixture("examples/management.OpenidConnectResponseEx.json");
    app["credentials"]["oauthClient"]["pkce_required"] = json!(false);
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/apps/{id}")))
        .and(ssws())
        .respond_with(ResponseTemplate::new(200).set_body_json(&app))
        .expect(1)
        .mount(&server)
        .await;
    // The mapped result is Okta's answer.
    assert_eq!(
        km.update_client(&ClientId::new(id), &spec).await.unwrap().name,
        "Updated OAuth Client"
    );

    Mock::given(method("POST"))
        .and(path(format!("/oauth2/v1/clients/{id}/lifecycle/newSecret")))
        .and(ssws())
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("examples/oauth.ClientResponseWebUpdateNewSecret.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let fresh = km.regenerate_secret(&ClientId::new(id)).await.unwrap();
    assert!(fresh.client_secret.is_some());

    Mock::given(method("DELETE"))
        .and(path(format!("/oauth2/v1/clients/{id}")))
        .and(ssws())
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    km.delete_client(&ClientId::new(id)).await.unwrap();

    Mock::given(method("GET"))
        .and(path("/oauth2/v1/clients/0oaMissing"))
        .and(ssws())
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("examples/oauth.ErrorResourceNotFound.json")))
        .mount(&server)
        .await;
    match km.get_client(&ClientId::new("0oaMissing")).await.unwrap_err() {
        Error::NotFound { resource, id, provider } => {
            assert_eq!((resource.as_str(), id.as_str()), ("client", "0oaMissing"));
            assert_eq!(provider.unwrap().code.as_deref(), Some("E0000007"));
        }
        other => panic!("{other:?}"),
    }
}

/// WSO2's per-key-manager secret rules on Okta: with `client_secret_storage = "retrievable"` a read of the client
/// carries the newest active secret, read back from the Apps API (DCR reads never carry it); hashed (the default)
/// never lists secrets on a read; `multiple_secrets = false` refuses a second secret before Okta is asked to make one.
#[tokio::test]
async fn retrievable_secrets_and_one_secret_per_client() {
    let web = fixture("examples/oauth.ClientResponseWeb.json");
    let id = ClientId::new(web["client_id"].as_str().unwrap());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/oauth2/v1/clients/{id}")))
        .and(ssws())
        .respond_with(ResponseTemplate::new(200).set_body_json(&web))
        .mount(&server)
        .await;
    let secrets = format!("/api/v1/apps/{id}/credentials/secrets");
    mount_secret_list(&server, &secrets).await;
    let retrievable = SecretPolicy {
        storage: SecretStorage::Retrievable,
        max_per_client: Some(1),
    };
    let (server, km) = okta_with(server, retrievable);
    let client = km.get_client(&id).await.unwrap();
    assert_eq!(
        client.client_secret.expect("shown again").expose_secret(),
        "HAGDTYU9XbLnS......3xasFDDwecdZuFs5B",
        "the newest active secret, not the inactive one"
    );
    let caps = km.capabilities();
    assert!(caps.retrievable_secrets && !caps.multiple_secrets);
    assert_eq!(caps.max_secrets_per_client, Some(1));
    let e = km.create_secret(&id, &SecretSpec::default()).await.unwrap_err();
    assert!(matches!(e, Error::LimitExceeded { limit: Some(1), .. }), "{e:?}");
    let received = server.received_requests().await.unwrap();
    assert!(
        !received.iter().any(|r| r.method.as_str() == "POST"),
        "Okta was not asked for a second secret"
    );
    // Hashed (the default): a read never lists the secrets.
    let listed_before = received.iter().filter(|r| r.url.path() == secrets).count();
    let (server, km) = okta_with(server, SecretPolicy::default());
    assert!(km.get_client(&id).await.unwrap().client_secret.is_none());
    let received = server.received_requests().await.unwrap();
    assert_eq!(
        received.iter().filter(|r| r.url.path() == secrets).count(),
        listed_before,
        "a hashed key manager never reads secrets back"
    );
    let caps = km.capabilities();
    assert!(!caps.retrievable_secrets && caps.multiple_secrets);
    assert_eq!(caps.max_secrets_per_client, Some(2));
}

/// An update is two calls at Okta (DCR, then PKCE through the Apps API). When the second is refused, the client's
/// previous settings are put back (its read, less Okta's read-only fields), and the refusal is the answer: a refused
/// update changes nothing. When the first is refused, nothing else is called.
#[tokio::test]
async fn an_update_refused_half_way_is_put_back() {
    let (server, km) = okta().await;
    let web = fixture("examples/oauth.ClientResponseWeb.json");
    let id = web["client_id"].as_str().unwrap().to_owned();
    let client = format!("/oauth2/v1/clients/{id}");
    Mock::given(method("GET"))
        .and(path(&client))
        .and(ssws())
        .respond_with(ResponseTemplate::new(200).set_body_json(&web))
        .mount(&server)
        .await;
    let spec = web_spec_with_pkce("Updated OAuth 2.0 client");
    Mock::given(method("PUT"))
        .and(path(&client))
        .and(ssws())
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("examples/oauth.ClientResponseWebUpdate.json")))
        .mount(&server)
        .await;
    let mut app = fixture("examples/management.OpenidConnectResponseEx.json");
    app["credentials"]["oauthClient"]["pkce_required"] = json!(false);
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/apps/{id}")))
        .and(ssws())
        .respond_with(ResponseTemplate::new(200).set_body_json(&app))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("/api/v1/apps/{id}")))
        .and(ssws())
        .respond_with(ResponseTemplate::new(403).set_body_json(fixture("examples/management.ErrorAccessDenied.json")))
        .mount(&server)
        .await;
    let e = km.update_client(&ClientId::new(&id), &spec).await.unwrap_err();
    assert!(
        matches!(e, Error::Forbidden { .. }),
        "Okta's refusal is the answer: {e:?}"
    );
    let puts: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PUT" && r.url.path() == client)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(puts.len(), 2, "the update, then the previous settings put back");
    assert_eq!(puts[0]["client_name"], "Updated OAuth 2.0 client");
    let mut expected = web.clone();
    for read_only in [
        "client_secret",
        "client_id_issued_at",
        "client_secret_expires_at",
        "_links",
    ] {
        expected.as_object_mut().unwrap().remove(read_only);
    }
    assert_eq!(puts[1], expected, "the read, less Okta's read-only fields");

    // Refused at the first call: nothing more is sent.
    server.reset().await;
    Mock::given(method("GET"))
        .and(path(&client))
        .respond_with(ResponseTemplate::new(200).set_body_json(&web))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(&client))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(fixture("examples/oauth.ErrorInvalidClientMetadata.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let e = km.update_client(&ClientId::new(&id), &spec).await.unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e:?}");
    assert!(
        !server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .any(|r| r.url.path().starts_with("/api/v1/apps")),
        "no PKCE step after a refused update"
    );
}

#[tokio::test]
async fn multiple_secrets_through_the_apps_api() {
    let (server, km) = okta().await;
    let app = "0oa1nkheCuDn82XVI0g4";
    let base = format!("/api/v1/apps/{app}/credentials/secrets");
    Mock::given(method("POST"))
        .and(path(&base))
        .and(ssws())
        .and(body_json(json!({})))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(fixture("examples/management.oAuth2ClientSecretResponse.json")),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let issued = km
        .create_secret(&ClientId::new(app), &SecretSpec::default())
        .await
        .unwrap();
    assert_eq!(issued.id, "ocs2f50kZB0cITmYU0g4");
    assert_eq!(issued.info.status, SecretStatus::Active);
    assert!(
        !issued.info.masked.contains("XbLn......a3x3"),
        "listed values are masked"
    );
    // Okta's limit of two secrets.
    Mock::given(method("POST"))
        .and(path(&base))
        .and(ssws())
        .respond_with(
            ResponseTemplate::new(400).set_body_json(fixture("examples/management.ErrorMaxNumberOfSecrets.json")),
        )
        .mount(&server)
        .await;
    assert!(matches!(
        km.create_secret(&ClientId::new(app), &SecretSpec::default())
            .await
            .unwrap_err(),
        Error::LimitExceeded { limit: Some(2), .. }
    ));
    // What Okta cannot keep is refused before any call.
    let described = SecretSpec {
        description: Some("x".into()),
        expires_in: None,
    };
    assert!(matches!(
        km.create_secret(&ClientId::new(app), &described).await.unwrap_err(),
        Error::Unsupported { .. }
    ));

    mount_secret_list(&server, &base).await;
    let listed = km.list_secrets(&ClientId::new(app)).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| (s.id.as_str(), s.status)).collect::<Vec<_>>(),
        [
            ("ocs2f4zrZbs8nUa7p0g4", SecretStatus::Inactive),
            ("ocs2f50kZB0cITmYU0g4", SecretStatus::Active)
        ]
    );
    assert_eq!(listed[0].created_at, 1_677_010_104);

    // Deleting the active secret deactivates it first; the inactive one is deleted directly.
    Mock::given(method("POST"))
        .and(path(format!("{base}/ocs2f50kZB0cITmYU0g4/lifecycle/deactivate")))
        .and(ssws())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("examples/management.deactivateOAuth2ClientSecretResponse.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    for id in ["ocs2f50kZB0cITmYU0g4", "ocs2f4zrZbs8nUa7p0g4"] {
        Mock::given(method("DELETE"))
            .and(path(format!("{base}/{id}")))
            .and(ssws())
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
    }
    km.delete_secret(&ClientId::new(app), "ocs2f50kZB0cITmYU0g4", false)
        .await
        .unwrap();
    km.delete_secret(&ClientId::new(app), "ocs2f4zrZbs8nUa7p0g4", false)
        .await
        .unwrap();
    assert!(matches!(
        km.delete_secret(&ClientId::new(app), "ocsNone", false)
            .await
            .unwrap_err(),
        Error::NotFound { .. }
    ));
    assert!(matches!(
        km.delete_secret(&ClientId::new(app), "ocs2f4zrZbs8nUa7p0g4", true)
            .await
            .unwrap_err(),
        Error::Unsupported { .. }
    ));
}

#[tokio::test]
async fn token_introspection_and_revocation_at_the_custom_authorization_server() {
    let (server, km) = okta().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/default/v1/token"))
        .and(header(
            "authorization",
            basic("0oa8x2kqz1AbCdEfG5d7", "5W7XULCEs4BJKnWUXwh8lgmeXRhcGcdViFp84pWe").as_str(),
        ))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string("grant_type=client_credentials&scope=orders.read"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("responses/token-client-credentials.json")))
        .expect(1)
        .mount(&server)
        .await;
    let token = km
        .issue_token(
            &TokenRequest::client_credentials(
                "0oa8x2kqz1AbCdEfG5d7",
                ClientSecret::new("5W7XULCEs4BJKnWUXwh8lgmeXRhcGcdViFp84pWe"),
            )
            .with_scopes(["orders.read"]),
        )
        .await
        .unwrap();
    assert_eq!(
        (token.expires_in, &token.scopes[..]),
        (Some(3600), &["orders.read".to_owned()][..])
    );

    Mock::given(method("POST"))
        .and(path("/oauth2/default/v1/introspect"))
        .and(header(
            "authorization",
            basic("0oaIntrospector", "introspector-secret").as_str(),
        ))
        .and(body_string("token=tok.en.value&token_type_hint=access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("examples/oauth.IntrospectionAccessToken.json")))
        .expect(1)
        .mount(&server)
        .await;
    let info = km.introspect(&Token::new("tok.en.value"), None).await.unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some("a9VpZDRCeFh3Nkk2VdYa"));

    Mock::given(method("POST"))
        .and(path("/oauth2/default/v1/revoke"))
        .and(header(
            "authorization",
            basic("0oa8x2kqz1AbCdEfG5d7", "s3cr3t").as_str(),
        ))
        .and(body_string("token=tok.en.value&token_type_hint=access_token"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    km.revoke_token(&RevocationRequest {
        token: Token::new("tok.en.value"),
        token_type_hint: Some(TokenTypeHint::AccessToken),
        client_id: "0oa8x2kqz1AbCdEfG5d7".into(),
        client_secret: Some(ClientSecret::new("s3cr3t")),
    })
    .await
    .unwrap();

    let profile = km.token_profile();
    assert_eq!(profile.issuer, format!("{}/oauth2/default", server.uri()));
    assert_eq!(profile.client_id_claim, "cid");
    assert_eq!(profile.scope_claim, ScopeClaim::Array("scp".into()));
    assert_eq!(profile.audience.as_deref(), Some("api://default"));
}

#[tokio::test]
async fn scopes_with_link_pagination() {
    let (server, km) = okta().await;
    let base = "/api/v1/authorizationServers/default/scopes";
    Mock::given(method("POST"))
        .and(path(base))
        .and(ssws())
        .and(body_json(
            json!({"name": "car:drive", "consent": "IMPLICIT", "description": "Drive car"}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(fixture("examples/management.ExampleOAuth2Scope.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut scope = Scope::new("car:drive");
    scope.description = Some("Drive car".into());
    assert_eq!(km.register_scope(&scope).await.unwrap().name, "car:drive");

    let page1 = fixture("examples/management.ExampleOAuth2Scopes.json");
    let mut second = fixture("examples/management.ExampleOAuth2Scope.json");
    second["id"] = json!("scp9second0000000000");
    second["name"] = json!("car:order");
    Mock::given(method("GET"))
        .and(path(base))
        .and(query_param("limit", "200"))
        .and(query_param_is_missing("after"))
        .and(ssws())
        .respond_with(
            ResponseTemplate::new(200).set_body_json(&page1).insert_header(
                "link",
                format!(
                    "<{}{base}?limit=200>; rel=\"self\", <{}{base}?after=scp5yu8kLOnDzo7lh0g4&limit=200>; rel=\"next\"",
                    server.uri(),
                    server.uri()
                )
                .as_str(),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(base))
        .and(query_param("after", "scp5yu8kLOnDzo7lh0g4"))
        .and(ssws())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([second])))
        .mount(&server)
        .await;
    let names: Vec<String> = km.list_scopes().await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["car:drive", "car:order"]);
    Mock::given(method("DELETE"))
        .and(path(format!("{base}/scp9second0000000000")))
        .and(ssws())
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    km.delete_scope("car:order").await.unwrap();
}

#[tokio::test]
async fn each_okta_error_shape_maps_to_its_kind() {
    let (server, km) = okta().await;
    let cases = [
        ("0oa401", 401, "examples/management.ErrorInvalidTokenProvided.json"),
        ("0oa403", 403, "examples/management.ErrorAccessDenied.json"),
        ("0oa400", 400, "examples/management.ErrorApiValidationFailed.json"),
    ];
    for (id, status, body) in cases {
        Mock::given(method("GET"))
            .and(path(format!("/oauth2/v1/clients/{id}")))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_json(fixture(body))
                    .insert_header("X-Okta-Request-Id", "req-1"),
            )
            .mount(&server)
            .await;
    }
    let (c401, c403, c400) = (
        ClientId::new("0oa401"),
        ClientId::new("0oa403"),
        ClientId::new("0oa400"),
    );
    assert!(matches!(
        km.get_client(&c401).await.unwrap_err(),
        Error::Unauthorized { .. }
    ));
    assert!(matches!(
        km.get_client(&c403).await.unwrap_err(),
        Error::Forbidden { .. }
    ));
    let e = km.get_client(&c400).await.unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e:?}");
    assert_eq!(e.provider().unwrap().request_id.as_deref(), Some("req-1"));
    // DCR's OAuth-shaped validation error.
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/clients"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(fixture("examples/oauth.ErrorInvalidClientMetadata.json")),
        )
        .mount(&server)
        .await;
    let e = km.register_client(&service_spec()).await.unwrap_err();
    assert_eq!(e.provider().unwrap().code.as_deref(), Some("invalid_client_metadata"));
    // invalid_client at the token endpoint.
    Mock::given(method("POST"))
        .and(path("/oauth2/default/v1/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture(
            "examples/oauth.OAuthError401InvalidClient_InvalidClientId.json",
        )))
        .mount(&server)
        .await;
    let e = km
        .issue_token(&TokenRequest::client_credentials("0oa1", ClientSecret::new("x")))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e:?}");
}

#[tokio::test]
async fn rate_limits_are_retried_on_reads_and_not_on_creates() {
    let (server, km) = okta().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let limited = ResponseTemplate::new(429)
        .set_body_json(fixture("examples/management.ErrorTooManyRequests.json"))
        .insert_header("X-Rate-Limit-Limit", "600")
        .insert_header("X-Rate-Limit-Remaining", "0")
        .insert_header("X-Rate-Limit-Reset", now.to_string().as_str());
    Mock::given(method("GET"))
        .and(path("/oauth2/v1/clients/0oaBusy"))
        .respond_with(limited.clone())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/oauth2/v1/clients/0oaBusy"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("examples/oauth.ClientResponseWeb.json")))
        .mount(&server)
        .await;
    km.get_client(&ClientId::new("0oaBusy")).await.unwrap();
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/clients"))
        .respond_with(limited)
        .mount(&server)
        .await;
    let e = km.register_client(&service_spec()).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::RateLimited {
                retry_after: Some(_),
                ..
            }
        ),
        "{e:?}"
    );
    let posts = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 1, "a create is never retried");
}

#[tokio::test]
async fn a_malformed_body_is_a_malformed_response() {
    let (server, km) = okta().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/apps/0oaX/credentials/secrets"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"not\": \"a list\"}"))
        .mount(&server)
        .await;
    assert!(matches!(
        km.list_secrets(&ClientId::new("0oaX")).await.unwrap_err(),
        Error::MalformedResponse { .. }
    ));
    Mock::given(method("GET"))
        .and(path("/oauth2/v1/clients/0oaY"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>"))
        .mount(&server)
        .await;
    assert!(matches!(
        km.get_client(&ClientId::new("0oaY")).await.unwrap_err(),
        Error::MalformedResponse { .. }
    ));
}

#[tokio::test]
async fn a_pagination_link_that_loops_is_an_error_not_a_hang() {
    let (server, km) = okta().await;
    let base = "/api/v1/authorizationServers/default/scopes";
    Mock::given(method("GET"))
        .and(path(base))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("examples/management.ExampleOAuth2Scopes.json"))
                .insert_header(
                    "link",
                    format!("<{}{base}?limit=200>; rel=\"next\"", server.uri()).as_str(),
                ),
        )
        .mount(&server)
        .await;
    assert!(matches!(
        km.list_scopes().await.unwrap_err(),
        Error::MalformedResponse { .. }
    ));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
