//! Gateway token validation: every rejection reason, single flight for introspection and JWKS, revocations.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use keymanager::config::KeyManagerConfig;
use keymanager::http::{HttpClient, HttpPolicy, Idempotency};
use keymanager::model::*;
use keymanager::registry::{BuildContext, ConnectorFactory, KeyManagers};
use keymanager::server_kit::ConnectorDescriptor;
use keymanager::validation::{TokenValidator, ValidationError, ValidatorSettings};
use keymanager::{Error, KeyManager, Result};
use keymanager_resident::{Algorithm, SigningKey};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A key manager whose JWKS and introspection endpoints are a mock server.
struct Remote {
    base: String,
    http: HttpClient,
    typ: Option<String>,
}

#[async_trait]
impl KeyManager for Remote {
    fn name(&self) -> &str {
        "remote"
    }
    fn kind(&self) -> &str {
        "remote"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            introspection: true,
            ..Capabilities::default()
        }
    }
    fn token_profile(&self) -> TokenProfile {
        TokenProfile {
            issuer: self.base.clone(),
            jwks_uri: Some(format!("{}/jwks", self.base)),
            introspection_endpoint: Some(format!("{}/introspect", self.base)),
            client_id_claim: "cid".into(),
            scope_claim: ScopeClaim::Array("scp".into()),
            audience: Some("api://default".into()),
            algorithms: vec!["ES256".into(), "RS256".into()],
            access_token_typ: self.typ.clone(),
        }
    }
    async fn register_client(&self, _: &ClientSpec) -> Result<OAuthClient> {
        Err(Error::unsupported("register_client"))
    }
    async fn get_client(&self, id: &ClientId) -> Result<OAuthClient> {
        Err(Error::not_found("client", id.as_str()))
    }
    async fn delete_client(&self, id: &ClientId) -> Result<()> {
        Err(Error::not_found("client", id.as_str()))
    }
    async fn issue_token(&self, _: &TokenRequest) -> Result<AccessToken> {
        Err(Error::unsupported("issue_token"))
    }
    async fn revoke_token(&self, request: &RevocationRequest) -> Result<()> {
        self.http
            .send_ok(
                self.http
                    .post(format!("{}/revoke", self.base))
                    .form(&[("token", request.token.expose_secret())]),
                Idempotency::Idempotent,
            )
            .await?;
        Ok(())
    }
    async fn introspect(&self, token: &Token, _: Option<TokenTypeHint>) -> Result<TokenInfo> {
        let resp = self
            .http
            .send_ok(
                self.http
                    .post(format!("{}/introspect", self.base))
                    .form(&[("token", token.expose_secret())]),
                Idempotency::Idempotent,
            )
            .await?;
        Ok(TokenInfo::from_claims(resp.json()?))
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Setup {
    server: MockServer,
    validator: Arc<TokenValidator>,
    es: SigningKey,
    rs: SigningKey,
    clock: Arc<ManualClock>,
}

/// The `remote` connector type: key managers of it are built in code here.
struct RemoteFactory;

#[async_trait]
impl ConnectorFactory for RemoteFactory {
    fn descriptor(&self) -> ConnectorDescriptor {
        ConnectorDescriptor {
            kind: "remote".into(),
            display_name: "Remote".into(),
            description: "test".into(),
            connection_settings: vec![],
            application_properties: vec![],
        }
    }

    async fn build(&self, _: &KeyManagerConfig, _: &BuildContext) -> Result<Arc<dyn KeyManager>> {
        Err(Error::unsupported("building a remote key manager from a table"))
    }
}

async fn setup_with(typ: Option<&str>, settings: ValidatorSettings) -> Setup {
    let server = MockServer::start().await;
    let (es, _) = SigningKey::generate(Algorithm::Es256).unwrap();
    let (rs, _) = SigningKey::generate(Algorithm::Rs256).unwrap();
    serve_jwks(&server, &[&es, &rs]).await;
    let km = Remote {
        base: server.uri(),
        http: HttpClient::new(HttpPolicy::default()).unwrap(),
        typ: typ.map(str::to_owned),
    };
    let mut kms = KeyManagers::default();
    kms.insert(Arc::new(km), &RemoteFactory).unwrap();
    let clock = ManualClock::new();
    let validator = Arc::new(TokenValidator::new(&kms, settings).unwrap().with_clock(clock.clone()));
    Setup {
        server,
        validator,
        es,
        rs,
        clock,
    }
}

async fn setup() -> Setup {
    setup_with(Some("at+jwt"), ValidatorSettings::default()).await
}

async fn serve_jwks(server: &MockServer, keys: &[&SigningKey]) {
    let doc = json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()});
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(doc))
        .mount(server)
        .await;
}

fn claims(s: &Setup) -> Value {
    let t = now();
    json!({"iss": s.server.uri(), "sub": "0oa1", "aud": "api://default", "exp": t + 300, "iat": t, "nbf": t,
           "jti": "AT.1", "cid": "0oa1", "scp": ["orders:read", "orders:write"]})
}

/// A JWT with any header and a bogus signature: for refusals that must come before any signature check.
fn craft(header: Value, claims: &Value) -> String {
    format!(
        "{}.{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string()),
        B64.encode([0u8; 64])
    )
}

#[tokio::test]
async fn a_remembered_token_expires_when_its_exp_passes() {
    let s = setup().await;
    let token = s.es.sign_jwt("at+jwt", &claims(&s)).unwrap();
    assert!(s.validator.validate(&token).await.is_ok());
    // Within the leeway (30 s by default) past `exp` it still validates; beyond, memory does not keep it alive.
    s.clock.advance(Duration::from_secs(310));
    assert!(s.validator.validate(&token).await.is_ok());
    s.clock.advance(Duration::from_secs(60));
    assert_eq!(
        s.validator.validate(&token).await.unwrap_err(),
        ValidationError::Expired
    );
}

#[tokio::test]
async fn a_valid_token_gives_a_principal_and_is_then_served_from_memory() {
    let s = setup().await;
    let token = s.es.sign_jwt("at+jwt", &claims(&s)).unwrap();
    let p = s.validator.validate(&token).await.unwrap();
    assert_eq!(p.key_manager, "remote");
    assert_eq!(p.client_id.as_deref(), Some("0oa1"));
    assert_eq!(p.scopes, ["orders:read", "orders:write"]);
    assert_eq!(p.audience, ["api://default"]);
    let rs_token = s.rs.sign_jwt("at+jwt", &claims(&s)).unwrap();
    assert!(s.validator.validate(&rs_token).await.is_ok(), "RS256 is allowed too");
    s.server.reset().await; // No more JWKS: a token already seen needs none.
    assert_eq!(s.validator.validate(&token).await.unwrap(), p);
}

#[tokio::test]
async fn each_rejection_reason_has_its_own_error() {
    let s = setup().await;
    let c = claims(&s);
    let t = now();
    let sign = |claims: &Value| s.es.sign_jwt("at+jwt", claims).unwrap();
    let check = |token: String, want: ValidationError| {
        let v = s.validator.clone();
        async move { assert_eq!(v.validate(&token).await.unwrap_err(), want) }
    };
    // Bad signature: a valid token with its signature replaced.
    let good = sign(&c);
    let (input, _) = good.rsplit_once('.').unwrap();
    check(
        format!("{input}.{}", B64.encode([7u8; 64])),
        ValidationError::BadSignature,
    )
    .await;
    // alg none, and an algorithm the key manager does not sign with (HS256 keyed with public material).
    check(
        craft(json!({"alg": "none", "typ": "at+jwt"}), &c),
        ValidationError::Unsigned,
    )
    .await;
    check(
        craft(json!({"alg": "HS256", "typ": "at+jwt", "kid": s.es.kid()}), &c),
        ValidationError::AlgorithmNotAllowed("HS256".into()),
    )
    .await;
    // RS256 header on the ES256 key: the key's own alg refuses it.
    check(
        craft(json!({"alg": "RS256", "typ": "at+jwt", "kid": s.es.kid()}), &c),
        ValidationError::AlgorithmNotAllowed("RS256".into()),
    )
    .await;
    let mut exp = c.clone();
    exp["exp"] = json!(t - 120);
    check(sign(&exp), ValidationError::Expired).await;
    let mut nbf = c.clone();
    nbf["nbf"] = json!(t + 600);
    check(sign(&nbf), ValidationError::NotYetValid).await;
    let mut iat = c.clone();
    iat["iat"] = json!(t + 600);
    check(sign(&iat), ValidationError::NotYetValid).await;
    let mut iss = c.clone();
    iss["iss"] = json!("https://evil.example");
    check(
        sign(&iss),
        ValidationError::UnknownIssuer("https://evil.example".into()),
    )
    .await;
    let mut aud = c.clone();
    aud["aud"] = json!("api://other");
    check(sign(&aud), ValidationError::WrongAudience).await;
    let mut no_exp = c.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    check(sign(&no_exp), ValidationError::MissingClaim("exp".into())).await;
    check(
        s.es.sign_jwt("JWT", &c).unwrap(),
        ValidationError::WrongType("JWT".into()),
    )
    .await;
    check(
        "a.b.c".into(),
        ValidationError::Malformed("the header is not base64url".into()),
    )
    .await;
    check(
        format!("{}.e30.c2ln", B64.encode("not json")),
        ValidationError::Malformed("the header is not a JSON object".into()),
    )
    .await;
    check(
        "not a token".into(),
        ValidationError::Malformed("a token is non-empty printable ASCII".into()),
    )
    .await;
    check("x".repeat(9000), ValidationError::TooLarge(8192)).await;
    // Issue 30: `echo abc | keymanager validate` is told the token is malformed, not "not active".
    check(
        "abc".into(),
        ValidationError::Malformed("not a JWT, and shorter than any opaque token (20 characters)".into()),
    )
    .await;
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_then_a_rotated_in_key_validates() {
    let s = setup_with(
        Some("at+jwt"),
        ValidatorSettings {
            jwks_refetch_interval: Duration::from_secs(300),
            ..ValidatorSettings::default()
        },
    )
    .await;
    let (new_key, _) = SigningKey::generate(Algorithm::Es256).unwrap();
    let token = new_key.sign_jwt("at+jwt", &claims(&s)).unwrap();
    // 1,000 concurrent requests carrying the unknown kid: one JWKS fetch in all.
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let (v, t) = (s.validator.clone(), token.clone());
        tasks.push(tokio::spawn(async move { v.validate(&t).await }));
    }
    for t in tasks {
        assert_eq!(
            t.await.unwrap().unwrap_err(),
            ValidationError::UnknownKey(new_key.kid().into())
        );
    }
    let fetches = |reqs: Vec<wiremock::Request>| reqs.iter().filter(|r| r.url.path() == "/jwks").count();
    assert_eq!(fetches(s.server.received_requests().await.unwrap()), 1);
    // The provider rotates the key in; after the refetch interval the token validates.
    s.server.reset().await;
    serve_jwks(&s.server, &[&s.es, &new_key]).await;
    assert_eq!(
        s.validator.validate(&token).await.unwrap_err(),
        ValidationError::UnknownKey(new_key.kid().into()),
        "not before the interval"
    );
    assert_eq!(fetches(s.server.received_requests().await.unwrap()), 0);
    s.clock.advance(Duration::from_secs(301));
    assert!(s.validator.validate(&token).await.is_ok());
    assert_eq!(fetches(s.server.received_requests().await.unwrap()), 1);
}

#[tokio::test]
async fn one_opaque_token_validated_1000_times_concurrently_is_introspected_once() {
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/introspect"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(100))
                .set_body_json(
                    json!({"active": true, "client_id": "0oa1", "scope": "orders:read", "exp": now() + 300,
                    "sub": "0oa1", "token_type": "Bearer"}),
                ),
        )
        .mount(&s.server)
        .await;
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let v = s.validator.clone();
        tasks.push(tokio::spawn(async move { v.validate("opaque-token-value-123").await }));
    }
    for t in tasks {
        let p = t.await.unwrap().unwrap();
        assert_eq!(
            (p.client_id.as_deref(), &p.scopes[..]),
            (Some("0oa1"), &["orders:read".to_owned()][..])
        );
    }
    let calls = s
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/introspect")
        .count();
    assert_eq!(calls, 1);
    // Inactive and failing answers.
    s.server.reset().await;
    Mock::given(path("/introspect"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"active": false})))
        .mount(&s.server)
        .await;
    assert_eq!(
        s.validator.validate("another-opaque-token-value").await.unwrap_err(),
        ValidationError::Inactive
    );
    s.server.reset().await;
    Mock::given(path("/introspect"))
        .respond_with(ResponseTemplate::new(400))
        .mount(&s.server)
        .await;
    assert!(matches!(
        s.validator.validate("a-third-opaque-token-value").await.unwrap_err(),
        ValidationError::Unavailable(_)
    ));
}

#[tokio::test]
async fn revoked_tokens_fail_at_once_even_when_cached() {
    let s = setup().await;
    let token = s.es.sign_jwt("at+jwt", &claims(&s)).unwrap();
    s.validator.validate(&token).await.unwrap();
    s.validator.revoked(
        "remote",
        &Revoked::Jti {
            jti: "AT.1".into(),
            expires_at: now() + 300,
        },
    );
    assert_eq!(
        s.validator.validate(&token).await.unwrap_err(),
        ValidationError::Revoked
    );
    let mut other = claims(&s);
    other["jti"] = json!("AT.2");
    let token2 = s.es.sign_jwt("at+jwt", &other).unwrap();
    s.validator.validate(&token2).await.unwrap();
    s.validator.revoked_token("remote", &token2, now() + 300);
    assert_eq!(
        s.validator.validate(&token2).await.unwrap_err(),
        ValidationError::Revoked
    );
    let mut other = claims(&s);
    other["jti"] = json!("AT.3");
    let token3 = s.es.sign_jwt("at+jwt", &other).unwrap();
    s.validator.revoked(
        "remote",
        &Revoked::Client {
            client_id: "0oa1".into(),
            issued_before: now(),
            expires_at: now() + 300,
        },
    );
    assert_eq!(
        s.validator.validate(&token3).await.unwrap_err(),
        ValidationError::Revoked
    );
}

/// The resident key manager end to end: in-process JWKS, application lookup, and revocations made on another node
/// of the same store reaching the validator by polling.
#[tokio::test]
async fn resident_tokens_validate_and_revocations_from_another_node_arrive() {
    use keymanager::service::{GenerateKeys, KeyService, SqlApplicationStore};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("km.db").display());
    let open = || async {
        let store = keymanager_resident::Store::connect(&url, None).await.unwrap();
        let server = keymanager_resident::ResidentServer::open(keymanager_resident::ResidentSettings::default(), store)
            .await
            .unwrap();
        keymanager_resident::ResidentKeyManager::new("Resident Key Manager", server)
    };
    let node1 = open().await;
    let node2 = open().await;
    let mut kms = KeyManagers::default();
    kms.insert(Arc::new(node1.clone()), &keymanager_resident::ResidentFactory)
        .unwrap();
    let service = KeyService::new(
        kms.clone(),
        Arc::new(SqlApplicationStore::connect(&url, None).await.unwrap()),
    );
    let app = service
        .create_application("orders", None, &Default::default(), "alice", &Default::default())
        .await
        .unwrap();
    let keys = service
        .generate_keys(
            &app.id,
            &GenerateKeys {
                key_type: KeyType::Sandbox,
                key_manager: "Resident Key Manager".into(),
                grant_types: vec![GrantType::ClientCredentials],
                callback_url: None,
                scopes: ["orders:read"].into_iter().collect(),
                validity_time: None,
                pkce_mandatory: false,
                pkce_support_plain: false,
                public_client: false,
                additional_properties: Default::default(),
                generate_token: true,
            },
            &Default::default(),
        )
        .await
        .unwrap();
    let validator = Arc::new(
        TokenValidator::new(&kms, ValidatorSettings::default())
            .unwrap()
            .with_applications(Arc::new(service.clone())),
    );
    let token = keys.token.unwrap().access_token;
    let p = validator.validate(token.expose_secret()).await.unwrap();
    assert_eq!(p.application_id.as_deref(), Some(app.id.as_str()));
    assert_eq!(p.key_type, Some(KeyType::Sandbox));
    assert_eq!(p.scopes, ["orders:read"]);
    // Revoked on node 2 (same database): this validator learns it at its next poll.
    node2
        .revoke_token(&RevocationRequest {
            token: token.clone(),
            token_type_hint: None,
            client_id: keys.client.client_id.clone(),
            client_secret: keys.client.client_secret.clone(),
        })
        .await
        .unwrap();
    assert!(
        validator.validate(token.expose_secret()).await.is_ok(),
        "not polled yet"
    );
    validator.poll_revocations().await;
    assert_eq!(
        validator.validate(token.expose_secret()).await.unwrap_err(),
        ValidationError::Revoked
    );
}

/// A revocation through the library with a connector that keeps no revocation record of its own: it applies at
/// once on this node, and on another node sharing the key service's database at its next poll.
#[tokio::test]
async fn revocations_through_the_library_reach_every_node() {
    use keymanager::service::SqlApplicationStore;
    use keymanager::validation::{record_revocations, RevocationSink};
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&s.server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ks.db").display());
    let log = Arc::new(SqlApplicationStore::connect(&url, None).await.unwrap());
    let km = Remote {
        base: s.server.uri(),
        http: HttpClient::new(HttpPolicy::default()).unwrap(),
        typ: Some("at+jwt".into()),
    };
    let mut kms = KeyManagers::default();
    kms.insert(Arc::new(km), &RemoteFactory).unwrap();
    let node_a = Arc::new(TokenValidator::new(&kms, ValidatorSettings::default()).unwrap());
    let node_b = Arc::new(
        TokenValidator::new(&kms, ValidatorSettings::default())
            .unwrap()
            .with_revocation_feed(log.clone()),
    );
    let sinks: Vec<Arc<dyn RevocationSink>> = vec![node_a.clone(), log.clone()];
    let recorded = record_revocations(&kms, sinks);
    let token = s.es.sign_jwt("at+jwt", &claims(&s)).unwrap();
    node_a.validate(&token).await.unwrap();
    node_b.validate(&token).await.unwrap();
    recorded
        .get("remote")
        .unwrap()
        .revoke_token(&RevocationRequest {
            token: Token::new(token.clone()),
            token_type_hint: None,
            client_id: "0oa1".into(),
            client_secret: Some(ClientSecret::new("s")),
        })
        .await
        .unwrap();
    assert_eq!(
        node_a.validate(&token).await.unwrap_err(),
        ValidationError::Revoked,
        "at once on this node"
    );
    assert!(node_b.validate(&token).await.is_ok(), "node B has not polled yet");
    node_b.poll_revocations().await;
    assert_eq!(node_b.validate(&token).await.unwrap_err(), ValidationError::Revoked);
}

/// The validator with the Okta and Keycloak connectors' own token profiles: Okta's `cid` and `scp` array at
/// `/oauth2/{id}/v1/keys`, Keycloak's `azp` and space-separated `scope` at `…/protocol/openid-connect/certs`.
#[tokio::test]
async fn okta_and_keycloak_tokens_give_the_same_principal_shape() {
    use keymanager_keycloak::{KeycloakKeyManager, KeycloakSettings, Mode};
    use keymanager_okta::{OktaKeyManager, OktaSettings};
    let server = MockServer::start().await;
    let (okta_key, _) = SigningKey::generate(Algorithm::Rs256).unwrap();
    let (kc_key, _) = SigningKey::generate(Algorithm::Rs256).unwrap();
    for (p, key) in [
        ("/oauth2/default/v1/keys", &okta_key),
        ("/realms/acme/protocol/openid-connect/certs", &kc_key),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [key.public_jwk()]})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let http = HttpClient::new(HttpPolicy::default()).unwrap();
    let okta = OktaKeyManager::new(
        "okta",
        OktaSettings::new(&server.uri(), "default", Token::new("t")),
        http.clone(),
    );
    let kc = KeycloakKeyManager::new(
        "keycloak",
        KeycloakSettings::new(
            &server.uri(),
            "acme",
            "acme",
            Mode::Admin {
                client_id: "a".into(),
                client_secret: ClientSecret::new("s"),
            },
        ),
        http,
        Arc::new(keymanager::sql::registrations::MemoryRegistrations::default()),
    );
    let mut kms = KeyManagers::default();
    kms.insert(Arc::new(okta), &keymanager_okta::OktaFactory).unwrap();
    kms.insert(Arc::new(kc), &keymanager_keycloak::KeycloakFactory).unwrap();
    let validator = TokenValidator::new(&kms, ValidatorSettings::default()).unwrap();
    let t = now();
    let okta_token = okta_key
        .sign_jwt("JWT", &json!({"ver": 1, "jti": "AT.x", "iss": format!("{}/oauth2/default", server.uri()), "aud": "api://default",
            "iat": t, "exp": t + 3600, "cid": "0oa8x2kqz1AbCdEfG5d7", "scp": ["orders.read", "orders.write"], "sub": "0oa8x2kqz1AbCdEfG5d7"}))
        .unwrap();
    let p = validator.validate(&okta_token).await.unwrap();
    assert_eq!(
        (p.key_manager.as_str(), p.client_id.as_deref()),
        ("okta", Some("0oa8x2kqz1AbCdEfG5d7"))
    );
    assert_eq!(p.scopes, ["orders.read", "orders.write"]);
    let mut wrong_aud = okta_token.clone();
    wrong_aud.clear();
    wrong_aud.push_str(
        &okta_key
            .sign_jwt(
                "JWT",
                &json!({"iss": format!("{}/oauth2/default", server.uri()), "aud": "api://other",
        "iat": t, "exp": t + 3600, "cid": "0oa1", "scp": []}),
            )
            .unwrap(),
    );
    assert_eq!(
        validator.validate(&wrong_aud).await.unwrap_err(),
        ValidationError::WrongAudience,
        "Okta's default audience is enforced"
    );
    let kc_token = kc_key
        .sign_jwt("JWT", &json!({"exp": t + 300, "iat": t, "jti": "trrtcc:1", "iss": format!("{}/realms/acme", server.uri()),
            "aud": "account", "sub": "447989f5", "typ": "Bearer", "azp": "orders-app-production", "scope": "profile email"}))
        .unwrap();
    let p = validator.validate(&kc_token).await.unwrap();
    assert_eq!(
        (p.key_manager.as_str(), p.client_id.as_deref()),
        ("keycloak", Some("orders-app-production"))
    );
    assert_eq!(p.scopes, ["profile", "email"]);
    // A Keycloak-signed token claiming Okta's issuer does not verify.
    let forged = kc_key
        .sign_jwt("JWT", &json!({"iss": format!("{}/oauth2/default", server.uri()), "aud": "api://default", "iat": t, "exp": t + 60, "cid": "x"}))
        .unwrap();
    assert!(matches!(
        validator.validate(&forged).await.unwrap_err(),
        ValidationError::UnknownKey(_)
    ));
}

/// Review finding (property tests): whatever a caller sends as a bearer token (random text, JWT-shaped text with
/// arbitrary headers and claims, a genuine token with bytes changed) the validator answers with a typed refusal,
/// never a panic, and never accepts a changed token.
#[test]
fn arbitrary_tokens_get_a_typed_refusal_never_a_panic() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(setup());
    let genuine = s.es.sign_jwt("at+jwt", &claims(&s)).unwrap();
    let json_value = || {
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[ -~]{0,20}".prop_map(Value::from),
            Just(Value::Null),
            Just(json!([1, "x", null])),
            Just(json!({"nested": {"deep": []}})),
        ]
    };
    let mut runner = TestRunner::new(Config {
        cases: 192,
        failure_persistence: None,
        ..Config::default()
    });
    // JWT-shaped text with arbitrary header and claim values.
    let crafted = (
        json_value(),
        json_value(),
        json_value(),
        json_value(),
        json_value(),
        json_value(),
    );
    runner
        .run(&crafted, |(alg, kid, typ, exp, iss, scp)| {
            let header = json!({"alg": alg, "kid": kid, "typ": typ});
            let body = json!({"iss": iss, "exp": exp, "scp": scp, "sub": kid, "aud": typ, "nbf": exp, "iat": exp});
            let result = rt.block_on(s.validator.validate(&craft(header, &body)));
            prop_assert!(result.is_err());
            Ok(())
        })
        .unwrap();
    // A genuine token with one byte changed anywhere, or cut short.
    let bytes = genuine.as_bytes().to_vec();
    runner
        .run(&(0..bytes.len(), any::<u8>(), any::<bool>()), |(at, value, cut)| {
            let mut changed = bytes.clone();
            if cut {
                changed.truncate(at);
            } else {
                changed[at] = value;
            }
            prop_assume!(changed != bytes);
            let text = String::from_utf8_lossy(&changed).into_owned();
            let result = rt.block_on(s.validator.validate(&text));
            // The base64url alphabet leaves a few bits unused in a segment's last character; a change there that
            // decodes to the same bytes is the same token.
            if let Ok(p) = &result {
                prop_assert_eq!(p.client_id.as_deref(), Some("0oa1"));
                let decode = |t: &str| t.split('.').map(|seg| B64.decode(seg).ok()).collect::<Vec<_>>();
                prop_assert_eq!(decode(&text), decode(&genuine));
            }
            Ok(())
        })
        .unwrap();
    // Random text, dotted or not.
    runner
        .run(&"[A-Za-z0-9_.=+/ -]{0,300}", |text| {
            let result = rt.block_on(s.validator.validate(&text));
            prop_assert!(result.is_err());
            Ok(())
        })
        .unwrap();
}

/// Keys are parsed once per JWKS fetch for the algorithm their type fixes; tokens of every algorithm the resident
/// signs with verify through that path, and a flipped signature byte is refused.
#[tokio::test]
async fn every_signing_algorithm_verifies_with_keys_parsed_once() {
    use keymanager_resident::{Algorithm as Alg, ResidentKeyManager, ResidentServer, ResidentSettings, Store};
    for alg in [Alg::Es256, Alg::Rs256, Alg::EdDsa] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("km.db").display()), None)
            .await
            .unwrap();
        let settings = ResidentSettings {
            algorithm: alg,
            ..ResidentSettings::default()
        };
        let km = ResidentKeyManager::new("r", ResidentServer::open(settings, store).await.unwrap());
        let client = km
            .register_client(&ClientSpec::new("c", KeyType::Production))
            .await
            .unwrap();
        let token = km
            .issue_token(&TokenRequest::client_credentials(
                client.client_id.clone(),
                client.client_secret.clone().unwrap(),
            ))
            .await
            .unwrap()
            .access_token;
        let mut kms = KeyManagers::default();
        kms.insert(Arc::new(km), &keymanager_resident::ResidentFactory).unwrap();
        let validator = TokenValidator::new(&kms, ValidatorSettings::default()).unwrap();
        let good = token.expose_secret();
        assert!(validator.validate(good).await.is_ok(), "{alg:?}");
        let (input, sig) = good.rsplit_once('.').unwrap();
        let mut raw = B64.decode(sig).unwrap();
        raw[0] ^= 1;
        let forged = format!("{input}.{}", B64.encode(raw));
        assert_eq!(
            validator.validate(&forged).await.unwrap_err(),
            ValidationError::BadSignature,
            "{alg:?}"
        );
    }
}

/// Key managers added, changed and removed while the validator runs (`set_key_managers`, and
/// `follow_key_managers` over a watch channel as `KeyService::watch_key_managers` feeds it): a new issuer is
/// answered for at once; an unchanged one keeps its signing keys and remembered tokens; one that left is refused
/// at once, even for a token it had remembered; one rebuilt forgets what it had cached.
#[tokio::test]
async fn the_key_managers_answered_for_change_while_the_validator_runs() {
    let s = setup().await;
    let token = s.es.sign_jwt("at+jwt", &claims(&s)).unwrap();
    let remote = |base: &str| -> KeyManagers {
        let mut kms = KeyManagers::default();
        let km = Remote {
            base: base.to_owned(),
            http: HttpClient::new(HttpPolicy::default()).unwrap(),
            typ: Some("at+jwt".into()),
        };
        kms.insert(Arc::new(km), &RemoteFactory).unwrap();
        kms
    };
    let empty = Arc::new(TokenValidator::new(&KeyManagers::default(), ValidatorSettings::default()).unwrap());
    assert_eq!(
        empty.validate(&token).await.unwrap_err(),
        ValidationError::UnknownIssuer(s.server.uri())
    );
    // Added while running, through the channel a key service publishes on.
    let kms = remote(&s.server.uri());
    let (tx, rx) = tokio::sync::watch::channel(kms.clone());
    let follower = empty.follow_key_managers(rx);
    let mut ok = false;
    for _ in 0..100 {
        if empty.validate(&token).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ok, "a key manager added at run time is answered for");
    // The same key managers again (a reload that found nothing changed): signing keys and remembered tokens stay.
    tx.send_replace(kms.clone());
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.server.reset().await;
    assert!(
        empty.validate(&token).await.is_ok(),
        "remembered across an unchanged set"
    );
    let other = s.rs.sign_jwt("at+jwt", &claims(&s)).unwrap();
    assert!(empty.validate(&other).await.is_ok(), "the cached JWKS is kept");
    // Removed (or disabled): refused at once, though remembered.
    tx.send_replace(KeyManagers::default());
    let mut refused = false;
    for _ in 0..100 {
        if empty.validate(&token).await == Err(ValidationError::UnknownIssuer(s.server.uri())) {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "a removed key manager's tokens are refused at once");
    // Rebuilt (its settings changed): nothing of the old instance is trusted; with no JWKS served, nothing verifies.
    serve_jwks(&s.server, &[&s.es, &s.rs]).await;
    empty.set_key_managers(&kms);
    assert!(empty.validate(&token).await.is_ok(), "added again");
    s.server.reset().await;
    empty.set_key_managers(&remote(&s.server.uri()));
    assert!(
        matches!(
            empty.validate(&token).await,
            Err(ValidationError::Unavailable(_) | ValidationError::UnknownKey(_))
        ),
        "a rebuilt key manager fetches its keys again"
    );
    drop(tx);
    tokio::time::timeout(Duration::from_secs(5), follower)
        .await
        .expect("the follower ends with its channel")
        .unwrap();
}

/// An introspection in flight when its key manager is removed does not outlive it: the waiting request is refused,
/// and nothing is remembered for the next one.
#[tokio::test]
async fn an_introspection_in_flight_does_not_outlive_its_key_manager() {
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/introspect"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(300))
                .set_body_json(json!({"active": true, "client_id": "0oa1", "exp": now() + 300, "sub": "0oa1"})),
        )
        .mount(&s.server)
        .await;
    let v = s.validator.clone();
    let waiting = tokio::spawn(async move { v.validate("opaque-token-in-flight").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.validator.set_key_managers(&KeyManagers::default());
    assert_eq!(waiting.await.unwrap().unwrap_err(), ValidationError::Inactive);
    assert_eq!(
        s.validator.validate("opaque-token-in-flight").await.unwrap_err(),
        ValidationError::NoIntrospection
    );
}

/// A gateway following the key service's events refuses the tokens of a key manager the key service says it no
/// longer answers for (disabled or removed there), and accepts them again when it does (notices of signing keys are
/// tested end to end in `cli/tests/day2.rs`).
#[tokio::test]
async fn a_key_manager_disabled_at_the_key_service_is_refused_by_a_following_gateway() {
    let s = setup().await;
    let token = s.es.sign_jwt("at+jwt", &claims(&s)).unwrap();
    assert!(s.validator.validate(&token).await.is_ok());
    let stream = |events: &[(&str, Value)]| {
        let mut body = String::new();
        for (kind, data) in events {
            body.push_str(&format!("event: {kind}\nid: {}\ndata: {data}\n\n", data["id"]));
        }
        body.push_str("event: caught-up\ndata: 0\n\n");
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/event-stream")
            .set_body_string(body)
    };
    let disabled = json!({"id": 1, "keyManager": "remote", "notice": {"kind": "key_manager_state", "enabled": false}});
    let other = json!({"id": 2, "keyManager": "elsewhere", "notice": {"kind": "key_manager_state", "enabled": false}});
    let enabled = json!({"id": 3, "keyManager": "remote", "notice": {"kind": "key_manager_state", "enabled": true}});
    // The first connection brings the disabling; the stream ends, and the reconnection brings the enabling.
    Mock::given(method("GET"))
        .and(path("/events"))
        .respond_with(stream(&[("notice", disabled), ("notice", other)]))
        .up_to_n_times(1)
        .mount(&s.server)
        .await;
    let follower = s.validator.follow_events(
        format!("{}/events", s.server.uri()).parse().unwrap(),
        "credential".into(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !s.validator.events_caught_up() {
        assert!(std::time::Instant::now() < deadline, "never caught up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        s.validator.validate(&token).await.unwrap_err(),
        ValidationError::KeyManagerNotAnswered("remote".into())
    );
    assert_eq!(
        s.validator.validate(&token).await.unwrap_err().reason(),
        "key_manager_not_answered"
    );
    Mock::given(method("GET"))
        .and(path("/events"))
        .respond_with(stream(&[("notice", enabled)]))
        .mount(&s.server)
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while s.validator.validate(&token).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "never enabled again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    follower.abort();
}

/// Sender-constrained tokens (RFC 9449 §7): a token bound to a key (`cnf.jkt`) passes only as `DPoP` with a fresh
/// proof of that key for this request, once; presented as `Bearer` it is refused, and so is an unbound token
/// presented as `DPoP`.
#[tokio::test]
async fn a_dpop_bound_token_passes_only_with_a_proof_of_its_key() {
    use keymanager::model::TokenScheme::{Bearer, Dpop};
    use keymanager::validation::dpop::{DpopError, ProofKey};
    use keymanager::validation::Presented;
    let s = setup().await;
    let key = ProofKey::es256().unwrap();
    let mut bound_claims = claims(&s);
    bound_claims["cnf"] = json!({"jkt": key.thumbprint()});
    bound_claims["jti"] = json!("AT.bound");
    let bound = s.es.sign_jwt("at+jwt", &bound_claims).unwrap();
    let plain = s.es.sign_jwt("at+jwt", &claims(&s)).unwrap();
    let uri = "https://api.example/orders";
    let present = |scheme, token: &'static str, proof: Option<&'static str>| Presented {
        scheme,
        token,
        proof,
        method: "GET",
        uri: Some(uri),
        client_certificate: None,
    };
    let leak = |t: String| -> &'static str { Box::leak(t.into_boxed_str()) };
    let (bound, plain) = (leak(bound), leak(plain));
    let proof = leak(key.proof("GET", uri, now(), Some(bound)));
    let v = &s.validator;
    assert_eq!(
        v.validate_presented(&present(Bearer, plain, None))
            .await
            .unwrap()
            .client_id
            .as_deref(),
        Some("0oa1")
    );
    assert_eq!(
        v.validate_presented(&present(Bearer, bound, None)).await.unwrap_err(),
        ValidationError::DpopBound
    );
    // `validate` is the bearer check (the management API's, `keymanager validate`'s): a bound token is refused
    // there too, never taken for a bearer token.
    assert_eq!(v.validate(bound).await.unwrap_err(), ValidationError::DpopBound);
    assert!(v.validate(plain).await.is_ok());
    assert!(v.validate_presented(&present(Dpop, bound, Some(proof))).await.is_ok());
    assert_eq!(
        v.validate_presented(&present(Dpop, bound, Some(proof)))
            .await
            .unwrap_err(),
        ValidationError::Dpop(DpopError::Replayed),
        "a proof is used once"
    );
    let thief = ProofKey::es256().unwrap();
    let stolen = leak(thief.proof("GET", uri, now(), Some(bound)));
    assert_eq!(
        v.validate_presented(&present(Dpop, bound, Some(stolen)))
            .await
            .unwrap_err(),
        ValidationError::NotBoundToProofKey
    );
    let unbound = leak(key.proof("GET", uri, now(), Some(plain)));
    assert_eq!(
        v.validate_presented(&present(Dpop, plain, Some(unbound)))
            .await
            .unwrap_err(),
        ValidationError::NotBoundToProofKey
    );
    let for_another_token = leak(key.proof("GET", uri, now(), Some(plain)));
    assert_eq!(
        v.validate_presented(&present(Dpop, bound, Some(for_another_token)))
            .await
            .unwrap_err(),
        ValidationError::Dpop(DpopError::AccessTokenHash)
    );
    assert!(matches!(
        v.validate_presented(&present(Dpop, bound, None)).await.unwrap_err(),
        ValidationError::Dpop(DpopError::Malformed(_))
    ));
    let unknown_uri = Presented {
        uri: None,
        ..present(Dpop, bound, Some(leak(key.proof("GET", uri, now(), Some(bound)))))
    };
    assert!(matches!(
        v.validate_presented(&unknown_uri).await.unwrap_err(),
        ValidationError::Dpop(DpopError::Malformed(_))
    ));
}

/// The tower layer and forward auth answer a DPoP refusal with RFC 9449's challenge, and pass a good proof.
#[tokio::test]
async fn the_gateway_layer_checks_dpop_against_its_public_origin() {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use keymanager::gateway::BearerAuthLayer;
    use keymanager::validation::dpop::ProofKey;
    use tower::ServiceExt;
    let s = setup().await;
    let key = ProofKey::es256().unwrap();
    let mut bound_claims = claims(&s);
    bound_claims["cnf"] = json!({"jkt": key.thumbprint()});
    let bound = s.es.sign_jwt("at+jwt", &bound_claims).unwrap();
    let app = axum::Router::new()
        .route("/orders", axum::routing::get(|| async { "ok" }))
        .layer(BearerAuthLayer::new(s.validator.clone()).public_origin("https://api.example"));
    let ask = |auth: String, proof: Option<String>| {
        let mut req = Request::get("/orders?page=2").header(header::AUTHORIZATION, auth);
        if let Some(p) = proof {
            req = req.header("dpop", p);
        }
        app.clone().oneshot(req.body(Body::empty()).unwrap())
    };
    let as_bearer = ask(format!("Bearer {bound}"), None).await.unwrap();
    assert_eq!(as_bearer.status(), StatusCode::UNAUTHORIZED);
    let challenge = as_bearer.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("DPoP ")
            && challenge.contains(r#"error="invalid_token""#)
            && challenge.contains(r#"algs="ES256 RS256 EdDSA""#),
        "{challenge}"
    );
    let wrong_place = key.proof("GET", "https://elsewhere.example/orders", now(), Some(&bound));
    let refused = ask(format!("DPoP {bound}"), Some(wrong_place)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains(r#"error="invalid_dpop_proof""#));
    let good = key.proof("GET", "https://api.example/orders", now(), Some(&bound));
    let passed = ask(format!("DPoP {bound}"), Some(good)).await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
}

/// Forward auth (nginx here) checks a proof against `[gateway] public_origin` and the original path; without the
/// origin it cannot know the URI the client called, and refuses DPoP-bound tokens.
#[tokio::test]
async fn forward_auth_checks_dpop_against_the_configured_origin() {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use keymanager::config::{GatewayConfig, ProxyKind, UncoveredPaths};
    use keymanager::forward_auth::ForwardAuth;
    use keymanager::validation::dpop::ProofKey;
    use tower::ServiceExt;
    let s = setup().await;
    let key = ProofKey::es256().unwrap();
    let mut bound_claims = claims(&s);
    bound_claims["cnf"] = json!({"jkt": key.thumbprint()});
    let bound = s.es.sign_jwt("at+jwt", &bound_claims).unwrap();
    let gate = |origin: Option<&str>| {
        let config = GatewayConfig {
            proxy: Some(ProxyKind::Nginx),
            default: UncoveredPaths::Authenticated,
            public_origin: origin.map(str::to_owned),
            ..Default::default()
        };
        ForwardAuth::new(s.validator.clone(), &config).unwrap().router()
    };
    let ask = |app: axum::Router, proof: String| {
        let req = Request::get("/gateway/auth")
            .header("x-original-method", "POST")
            .header("x-original-uri", "/orders/7?expand=items")
            .header(header::AUTHORIZATION, format!("DPoP {bound}"))
            .header("dpop", proof);
        app.oneshot(req.body(Body::empty()).unwrap())
    };
    let proof = || key.proof("POST", "https://api.example/orders/7", now(), Some(&bound));
    let passed = ask(gate(Some("https://api.example")), proof()).await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
    let unknown = ask(gate(None), proof()).await.unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(unknown.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("invalid_dpop_proof"));
    let wrong_method = key.proof("GET", "https://api.example/orders/7", now(), Some(&bound));
    let refused = ask(gate(Some("https://api.example")), wrong_method).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

/// Certificate-bound tokens (RFC 8705 §3) at the tower layer: the TLS terminator's [`ClientCertificate`] in the
/// request's extensions must be the one the token names; a confirmation the gateway cannot check is refused, never
/// taken for an unbound token.
#[tokio::test]
async fn the_gateway_layer_passes_a_certificate_bound_token_only_with_its_certificate() {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use keymanager::gateway::BearerAuthLayer;
    use keymanager::validation::mtls::ClientCertificate;
    use tower::ServiceExt;
    let s = setup().await;
    let held = ClientCertificate::from_der(b"\x30\x03\x02\x01\x01".to_vec());
    let other = ClientCertificate::from_der(b"\x30\x03\x02\x01\x02".to_vec());
    let sign = |cnf: Value, jti: &str| {
        let mut c = claims(&s);
        c["cnf"] = cnf;
        c["jti"] = json!(jti);
        s.es.sign_jwt("at+jwt", &c).unwrap()
    };
    let bound = sign(json!({"x5t#S256": held.thumbprint()}), "AT.x5t");
    let unknown = sign(json!({"jwk": {"kty": "EC"}}), "AT.jwk");
    let app = axum::Router::new()
        .route("/orders", axum::routing::get(|| async { "ok" }))
        .layer(BearerAuthLayer::new(s.validator.clone()));
    let ask = |token: &str, cert: Option<&ClientCertificate>| {
        let mut req = Request::get("/orders")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        if let Some(c) = cert {
            req.extensions_mut().insert(c.clone());
        }
        app.clone().oneshot(req)
    };
    assert_eq!(ask(&bound, Some(&held)).await.unwrap().status(), StatusCode::OK);
    for (token, cert, want) in [
        (&bound, Some(&other), ValidationError::NotBoundToCertificate),
        (&bound, None, ValidationError::CertificateBound),
    ] {
        let refused = ask(token, cert).await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{want:?}");
        let challenge = refused.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().to_owned();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains("invalid_token"),
            "{challenge}"
        );
        let presented = keymanager::validation::Presented {
            scheme: keymanager::model::TokenScheme::Bearer,
            token,
            proof: None,
            method: "GET",
            uri: None,
            client_certificate: cert,
        };
        assert_eq!(s.validator.validate_presented(&presented).await.unwrap_err(), want);
    }
    let refused = ask(&unknown, Some(&held)).await.unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::UNAUTHORIZED,
        "an unknown confirmation method"
    );
}

/// Forward auth reads the certificate only from `[gateway] client_certificate_header`, in the configured proxy's
/// format: without the setting a bound token is refused whatever headers came; a malformed header is a `400`.
#[tokio::test]
async fn forward_auth_reads_the_certificate_from_the_configured_header_only() {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use base64::Engine;
    use keymanager::config::{GatewayConfig, ProxyKind, UncoveredPaths};
    use keymanager::forward_auth::ForwardAuth;
    use keymanager::validation::mtls::ClientCertificate;
    use tower::ServiceExt;
    let s = setup().await;
    let der = b"\x30\x03\x02\x01\x01".to_vec();
    let held = ClientCertificate::from_der(der.clone());
    let mut c = claims(&s);
    c["cnf"] = json!({"x5t#S256": held.thumbprint()});
    let bound = s.es.sign_jwt("at+jwt", &c).unwrap();
    // The bearer check (`validate`) has no certificate: a certificate-bound token is refused there.
    assert_eq!(
        s.validator.validate(&bound).await.unwrap_err(),
        ValidationError::CertificateBound
    );
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    let escaped: String = url::form_urlencoded::byte_serialize(pem.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    let gate = |proxy: ProxyKind, header_name: Option<&str>| {
        let config = GatewayConfig {
            proxy: Some(proxy),
            default: UncoveredPaths::Authenticated,
            client_certificate_header: header_name.map(str::to_owned),
            ..Default::default()
        };
        ForwardAuth::new(s.validator.clone(), &config).unwrap().router()
    };
    let ask = |app: axum::Router, headers: Vec<(&'static str, String)>| {
        let mut req = Request::get("/gateway/auth")
            .header("x-original-method", "GET")
            .header("x-original-uri", "/orders/7")
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-uri", "/orders/7")
            .header(header::AUTHORIZATION, format!("Bearer {bound}"));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        app.oneshot(req.body(Body::empty()).unwrap())
    };
    let status = |r: axum::response::Response| r.status();
    let nginx = || gate(ProxyKind::Nginx, Some("X-SSL-Client-Cert"));
    assert_eq!(
        status(
            ask(nginx(), vec![("x-ssl-client-cert", escaped.clone())])
                .await
                .unwrap()
        ),
        StatusCode::OK
    );
    assert_eq!(
        status(
            ask(
                gate(ProxyKind::Nginx, None),
                vec![("x-ssl-client-cert", escaped.clone())]
            )
            .await
            .unwrap()
        ),
        StatusCode::UNAUTHORIZED,
        "not configured: the header is not read"
    );
    assert_eq!(
        status(
            ask(nginx(), vec![("x-forwarded-tls-client-cert", escaped.clone())])
                .await
                .unwrap()
        ),
        StatusCode::UNAUTHORIZED,
        "another header"
    );
    assert_eq!(
        status(ask(nginx(), vec![("x-ssl-client-cert", "%zz".into())]).await.unwrap()),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        status(
            ask(
                nginx(),
                vec![
                    ("x-ssl-client-cert", escaped.clone()),
                    ("x-ssl-client-cert", escaped.clone())
                ]
            )
            .await
            .unwrap()
        ),
        StatusCode::BAD_REQUEST,
        "repeated"
    );
    let traefik_value: String =
        url::form_urlencoded::byte_serialize(base64::engine::general_purpose::STANDARD.encode(&der).as_bytes())
            .collect();
    let traefik = gate(ProxyKind::Traefik, Some("X-Forwarded-Tls-Client-Cert"));
    assert_eq!(
        status(
            ask(traefik, vec![("x-forwarded-tls-client-cert", traefik_value)])
                .await
                .unwrap()
        ),
        StatusCode::OK
    );
    let bad = GatewayConfig {
        proxy: Some(ProxyKind::Nginx),
        client_certificate_header: Some("Authorization".into()),
        ..Default::default()
    };
    assert!(ForwardAuth::new(s.validator.clone(), &bad).is_err());
}
