//! Every fixture, and every JSON body the connector sends, checked against Okta's own schemas
//! (fixtures/okta/schemas.json, copied from Okta's OpenAPI specs): a field Okta does not define, a wrong type or a
//! missing required field fails.

use std::time::Duration;

use keymanager::http::{HttpClient, HttpPolicy};
use keymanager::model::*;
use keymanager::KeyManager;
use keymanager_okta::{OktaKeyManager, OktaSettings};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn read(name: &str) -> Value {
    let p = format!("{}/../../fixtures/okta/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).unwrap()
}

/// A validator for one schema of fixtures/okta/schemas.json.
fn validator(def: &str) -> jsonschema::Validator {
    let schemas = read("schemas.json");
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": schemas["$defs"],
        "$ref": format!("#/$defs/{def}"),
    });
    jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{def}: {e}"))
}

fn check(def: &str, value: &Value, what: &str) {
    let v = validator(def);
    let errors: Vec<String> = v
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what} does not follow Okta's {def}: {errors:#?}");
}

fn check_each(def: &str, list: &Value, what: &str) {
    for (i, item) in list
        .as_array()
        .unwrap_or_else(|| panic!("{what} is not a list"))
        .iter()
        .enumerate()
    {
        check(def, item, &format!("{what}[{i}]"));
    }
}

#[test]
fn every_fixture_follows_okta_schemas() {
    let one = [
        ("oauth.Client", "examples/oauth.ClientResponseWeb.json"),
        ("oauth.Client", "examples/oauth.ClientResponseWebUpdate.json"),
        ("oauth.Client", "examples/oauth.ClientResponseWebUpdateNewSecret.json"),
        ("oauth.Client", "responses/dcr-service-client.json"),
        ("oauth.OAuthError", "examples/oauth.ErrorInvalidClientMetadata.json"),
        (
            "oauth.OAuthError",
            "examples/oauth.OAuthError401InvalidClient_InvalidClientId.json",
        ),
        (
            "oauth.OAuthError",
            "examples/oauth.OAuthError400InvalidScope_MissingScopes.json",
        ),
        ("management.Error", "examples/oauth.ErrorResourceNotFound.json"),
        ("management.Error", "examples/oauth.ErrorTooManyRequests.json"),
        (
            "oauth.IntrospectionResponse",
            "examples/oauth.IntrospectionAccessToken.json",
        ),
        (
            "oauth.IntrospectionResponse",
            "examples/oauth.IntrospectionInactiveToken.json",
        ),
        ("oauth.OAuthKeys", "examples/oauth.OAuthKeysExample.json"),
        ("oauth.TokenResponse", "examples/oauth.TokenResponseExample.json"),
        ("oauth.TokenResponse", "responses/token-client-credentials.json"),
        (
            "management.OAuth2ClientSecret",
            "examples/management.oAuth2ClientSecretResponse.json",
        ),
        (
            "management.OAuth2ClientSecret",
            "examples/management.deactivateOAuth2ClientSecretResponse.json",
        ),
        ("management.OAuth2Scope", "examples/management.ExampleOAuth2Scope.json"),
        (
            "management.OpenIdConnectApplication",
            "examples/management.OpenidConnectResponseEx.json",
        ),
    ];
    for (def, file) in one {
        check(def, &read(file), file);
    }
    check_each(
        "oauth.Client",
        &read("examples/oauth.ListClientsResponse.json"),
        "ListClientsResponse",
    );
    check_each(
        "management.OAuth2ClientSecret",
        &read("examples/management.oAuthClientSecretListResponse.json"),
        "secret list",
    );
    check_each(
        "management.OAuth2Scope",
        &read("examples/management.ExampleOAuth2Scopes.json"),
        "scope list",
    );
    for e in [
        "ErrorApiValidationFailed",
        "ErrorMaxNumberOfSecrets",
        "ErrorDeleteActiveSecret",
        "ErrorDeactivateTheOnlyClientSecret",
        "ErrorInvalidTokenProvided",
        "ErrorAccessDenied",
        "ErrorResourceNotFound",
        "ErrorTooManyRequests",
    ] {
        check("management.Error", &read(&format!("examples/management.{e}.json")), e);
    }
}

#[test]
fn the_check_refuses_unknown_fields_wrong_types_and_missing_required_fields() {
    let client = validator("oauth.Client");
    let good = read("responses/dcr-service-client.json");
    assert!(client.is_valid(&good));
    let mut unknown = good.clone();
    unknown["pkce_required"] = json!(true);
    assert!(!client.is_valid(&unknown), "DCR has no pkce_required");
    let mut wrong_type = good.clone();
    wrong_type["grant_types"] = json!("client_credentials");
    assert!(!client.is_valid(&wrong_type));
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("client_name");
    assert!(!client.is_valid(&missing), "client_name is required");
    let mut bad_enum = good;
    bad_enum["application_type"] = json!("daemon");
    assert!(!client.is_valid(&bad_enum));
    let mut scope = read("examples/management.ExampleOAuth2Scope.json");
    scope["consent"] = json!("SOMETIMES");
    assert!(!validator("management.OAuth2Scope").is_valid(&scope));
}

/// Run the connector's JSON-sending operations against a mock and check every body it sent.
#[tokio::test]
async fn every_json_body_the_connector_sends_follows_okta_schemas() {
    let server = MockServer::start().await;
    let web = read("examples/oauth.ClientResponseWeb.json");
    let mut app = read("examples/management.OpenidConnectResponseEx.json");
    app["credentials"]["oauthClient"]["pkce_required"] = json!(false);
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/clients"))
        .respond_with(ResponseTemplate::new(201).set_body_json(&web))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex("^/oauth2/v1/clients/[^/]+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&web))
        .mount(&server)
        .await;
    // An update reads the client first (to put it back if its PKCE step is refused).
    Mock::given(method("GET"))
        .and(path_regex("^/oauth2/v1/clients/[^/]+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&web))
        .mount(&server)
        .await;
    // This app refuses the PKCE step: the client's previous settings are put back.
    Mock::given(method("PUT"))
        .and(path("/api/v1/apps/0oaRefusesPkce"))
        .respond_with(ResponseTemplate::new(403).set_body_json(read("examples/management.ErrorAccessDenied.json")))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/v1/apps/[^/]+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&app))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex("^/api/v1/apps/[^/]+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&app))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("/credentials/secrets$"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(read("examples/management.oAuth2ClientSecretResponse.json")),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/authorizationServers/default/scopes"))
        .respond_with(ResponseTemplate::new(201).set_body_json(read("examples/management.ExampleOAuth2Scope.json")))
        .mount(&server)
        .await;

    let http = HttpClient::new(HttpPolicy {
        initial_backoff: Duration::from_millis(5),
        ..HttpPolicy::default()
    })
    .unwrap();
    let km = OktaKeyManager::new(
        "okta",
        OktaSettings::new(&server.uri(), "default", Token::new("t")),
        http,
    );
    let mut with_props = ClientSpec::new("props", KeyType::Sandbox);
    with_props
        .additional_properties
        .insert("client_uri".into(), json!("https://app.example"));
    with_props
        .additional_properties
        .insert("logo_uri".into(), json!("https://app.example/logo.png"));
    let specs = [
        ClientSpec::new("service", KeyType::Production),
        ClientSpec::new("web", KeyType::Production)
            .with_grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
            .with_redirect_uris(["https://app.example/cb"].map(|u| u.parse().unwrap()))
            .with_pkce(PkcePolicy {
                required: true,
                allow_plain: false,
            }),
        ClientSpec::new("spa", KeyType::Sandbox)
            .with_grant_types([GrantType::AuthorizationCode])
            .with_redirect_uris(["https://spa.example/cb"].map(|u| u.parse().unwrap()))
            .public(),
        with_props,
    ];
    for spec in &specs {
        km.register_client(spec).await.unwrap();
        km.update_client(&ClientId::new("0jrabyQWm4B9zVJPbotY"), spec)
            .await
            .unwrap();
    }
    km.update_client(&ClientId::new("0oaRefusesPkce"), &specs[1])
        .await
        .unwrap_err();
    km.create_secret(&ClientId::new("0oa1"), &SecretSpec::default())
        .await
        .unwrap();
    let mut scope = Scope::new("orders:read");
    scope.description = Some("Read orders".into());
    scope.display_name = Some("Read your orders".into());
    km.register_scope(&scope).await.unwrap();

    let mut checked = 0;
    for req in server.received_requests().await.unwrap() {
        let p = req.url.path().to_owned();
        let def = match (req.method.as_str(), p.as_str()) {
            ("GET", _) => continue,
            (_, p) if p.starts_with("/oauth2/v1/clients") => "oauth.Client",
            ("PUT", p) if p.starts_with("/api/v1/apps/") => "management.OpenIdConnectApplication",
            ("POST", p) if p.ends_with("/credentials/secrets") => "management.OAuth2ClientSecretRequestBody",
            ("POST", p) if p.ends_with("/scopes") => "management.OAuth2Scope",
            _ => continue,
        };
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        check(def, &body, &format!("{} {p}", req.method));
        checked += 1;
    }
    // DCR POST and PUT for four specs, two Apps API PUTs for the PKCE client, one secret, one scope; the refused
    // update: its DCR PUT, its Apps API PUT and the put-back PUT.
    assert_eq!(checked, 4 * 2 + 2 + 1 + 1 + 3, "every JSON body was checked");
}
