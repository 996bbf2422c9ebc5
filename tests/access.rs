//! Who may do what, over the whole route table (the same `ROUTES` the router serves and the OpenAPI document
//! describes), on SQLite and on PostgreSQL: no token → 401; a token of a key manager not in `api_identity` → 401; a
//! token without a keymanager scope → 403 with the RFC 6750 challenge; developer A on developer B's application →
//! 404 exactly as a missing one; developer A on an administrator's route → 403; an administrator → the normal
//! answer. Every change writes exactly one audit record with its actor and outcome, and no record holds a secret.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use keymanager::api::access::{rule, ApiIdentity, SCOPE_ADMIN, SCOPE_APPS};
use keymanager::api::{router_with, ApiAuth, ROUTES};
use keymanager::model::{ClientSpec, Grant, GrantType, KeyType, Token, TokenRequest};
use keymanager::registry::KeyManagers;
use keymanager::service::admin_tokens::AdminTokens;
use keymanager::service::{ActorKind, AuditQuery, KeyService, Outcome, SqlApplicationStore};
use keymanager::validation::{TokenValidator, ValidatorSettings};
use keymanager::{KeyManager, NewUser, UserDirectory};
use keymanager_resident::{ResidentFactory, ResidentKeyManager, ResidentServer, ResidentSettings, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

const ADMIN: &str = "the-configured-admin-token-for-access-tests";
const HOME: &str = "home";
const PASSWORD: &str = "a long enough password";

async fn resident(name: &str, issuer: &str, url: &str) -> ResidentKeyManager {
    let settings = ResidentSettings {
        issuer: issuer.into(),
        issuer_configured: true,
        ..ResidentSettings::default()
    };
    let store = Store::connect(url, None).await.unwrap();
    ResidentKeyManager::new(name, ResidentServer::open(settings, store).await.unwrap())
}

struct World {
    app: Router,
    service: KeyService,
    store: Arc<SqlApplicationStore>,
    home: ResidentKeyManager,
    /// Every secret value the test saw: none may reach the audit trail.
    secrets: std::sync::Mutex<Vec<String>>,
    alice: String,
    bob: String,
    root: String,
    no_scope: String,
    foreign: String,
    /// A provider's RFC 8414 metadata, for key-manager discovery.
    discovery: wiremock::MockServer,
}

impl World {
    fn saw(&self, secret: &str) {
        self.secrets.lock().unwrap().push(secret.to_owned());
    }
}

/// A password-grant token of `user` for `scopes`, through a client allowed every keymanager scope.
async fn user_token(
    km: &ResidentKeyManager,
    client: &keymanager::model::OAuthClient,
    user: &str,
    scopes: &[&str],
) -> (String, Vec<String>) {
    let t = km
        .issue_token(&TokenRequest {
            client_id: client.client_id.clone(),
            client_secret: client.client_secret.clone(),
            grant: Grant::Password {
                username: user.into(),
                password: Token::new(PASSWORD),
            },
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            validity: None,
            client_address: None,
            dpop_jkt: None,
            certificate_thumbprint: None,
        })
        .await
        .unwrap();
    (t.access_token.expose_secret().to_owned(), t.scopes.into_vec())
}

async fn world(url: &str, foreign_url: &str) -> World {
    world_with(url, foreign_url, None).await
}

async fn world_with(url: &str, foreign_url: &str, write_quota: Option<keymanager::api::quota::QuotaSettings>) -> World {
    let home = resident(HOME, "http://home.test", url).await;
    let elsewhere = resident("elsewhere", "http://elsewhere.test", foreign_url).await;
    let mut kms = KeyManagers::default();
    kms.insert(Arc::new(home.clone()), &ResidentFactory).unwrap();
    let store = Arc::new(SqlApplicationStore::connect(url, None).await.unwrap());
    let tokens = AdminTokens::load(store.pool().clone(), Some(&ADMIN.to_owned().into()))
        .await
        .unwrap();
    let mut registry = keymanager::registry::ConnectorRegistry::new();
    registry.register(Arc::new(keymanager_keycloak::KeycloakFactory));
    let service = KeyService::new(kms.clone(), store.clone())
        .with_users(home.server().clone())
        .with_signing_keys("home", home.server().clone())
        .with_admin_tokens(tokens.clone())
        .with_key_manager_builder(keymanager::service::key_managers::KeyManagerBuilder {
            registry,
            context: keymanager::registry::BuildContext {
                // The providers here are wiremock servers on this machine.
                egress: keymanager::server_kit::Egress::AllowPrivate,
                ..Default::default()
            },
            sealing: Arc::new(
                keymanager::server_kit::SecretBox::from_text(&format!(
                    "k1:{}",
                    keymanager::server_kit::new_key().unwrap()
                ))
                .unwrap(),
            ),
            wrap: Arc::new(|set: &KeyManagers| set.clone()),
        });
    let validator = TokenValidator::new(&kms.only(&[HOME.to_owned()]).unwrap(), ValidatorSettings::default()).unwrap();
    let identity = ApiIdentity::new(Arc::new(validator), vec![HOME.to_owned()]);
    let admin = {
        let tokens = tokens.clone();
        Arc::new(move |t: &str| tokens.verify(t)) as keymanager::api::AdminVerifier
    };
    let app = router_with(
        service.clone(),
        ApiAuth {
            admin,
            identity: Some(identity),
            // The route-table walk makes many changes as one developer; the quota has its own test.
            write_quota,
        },
    );
    // Users: two developers and an administrator (role admin).
    for (name, roles) in [("alice", vec![]), ("bob", vec![]), ("root", vec!["admin".to_owned()])] {
        let user = NewUser {
            username: name.into(),
            password: PASSWORD.into(),
            roles,
            profile: Default::default(),
        };
        UserDirectory::add_user(home.server().as_ref(), &user).await.unwrap();
    }
    let mut spec = ClientSpec::new("management clients", KeyType::Production).with_scopes([
        SCOPE_APPS,
        SCOPE_ADMIN,
        "orders:read",
    ]);
    spec.grant_types = vec![GrantType::Password, GrantType::ClientCredentials];
    let cli = home.register_client(&spec).await.unwrap();
    let (alice, _) = user_token(&home, &cli, "alice", &[SCOPE_APPS]).await;
    let (bob, _) = user_token(&home, &cli, "bob", &[SCOPE_APPS]).await;
    let (root, root_scopes) = user_token(&home, &cli, "root", &[SCOPE_ADMIN]).await;
    assert_eq!(root_scopes, [SCOPE_ADMIN]);
    // A developer asking for the administrator scope is granted what her roles allow: not it.
    let (_, asked_admin) = user_token(&home, &cli, "alice", &[SCOPE_APPS, SCOPE_ADMIN]).await;
    assert_eq!(
        asked_admin,
        [SCOPE_APPS],
        "the role binding keeps keymanager:admin from a developer"
    );
    let (no_scope, _) = user_token(&home, &cli, "alice", &["orders:read"]).await;
    // A token of a key manager the API does not accept, even with the administrator scope.
    let mut spec = ClientSpec::new("foreign", KeyType::Production).with_scopes([SCOPE_ADMIN]);
    spec.grant_types = vec![GrantType::ClientCredentials];
    let fc = elsewhere.register_client(&spec).await.unwrap();
    let foreign = elsewhere
        .issue_token(&TokenRequest::client_credentials(
            fc.client_id.clone(),
            fc.client_secret.clone().unwrap(),
        ))
        .await
        .unwrap()
        .access_token
        .expose_secret()
        .to_owned();
    let discovery = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/.well-known/oauth-authorization-server"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "issuer": discovery.uri(), "token_endpoint": format!("{}/token", discovery.uri()),
        })))
        .mount(&discovery)
        .await;
    let w = World {
        app,
        service,
        store,
        home,
        secrets: Default::default(),
        alice,
        bob,
        root,
        no_scope,
        foreign,
        discovery,
    };
    for s in [
        ADMIN,
        PASSWORD,
        &w.alice.clone(),
        &w.bob.clone(),
        &w.root.clone(),
        &w.no_scope.clone(),
        &w.foreign.clone(),
    ] {
        w.saw(s);
    }
    w.saw(cli.client_secret.as_ref().unwrap().expose_secret());
    w
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value, HeaderMap) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let resp = app.clone().oneshot(req.body(Body::from(text)).unwrap()).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    if headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
    {
        // A stream that never ends (the gateway events): the status and headers are the answer.
        return (status, Value::Null, headers);
    }
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), headers)
}

/// Developer B's application with production keys, a second secret and a token: what each route acts on.
struct Target {
    app: String,
    mapping: String,
    client_id: String,
    secret: String,
    secret_id: String,
    token: String,
}

async fn target(w: &World, n: usize) -> Target {
    let (s, app, _) = call(
        &w.app,
        "POST",
        "/api/applications",
        Some(&w.bob),
        json!({"name": format!("b-{n}")}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{app}");
    assert_eq!(app["owner"], "bob", "the owner is the caller");
    let app = app["applicationId"].as_str().unwrap().to_owned();
    let (s, keys, _) = call(
        &w.app,
        "POST",
        &format!("/api/applications/{app}/generate-keys"),
        Some(&w.bob),
        json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"], "scopes": ["orders:read"], "generateToken": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{keys}");
    let base = format!(
        "/api/applications/{app}/oauth-keys/{}",
        keys["keyMappingId"].as_str().unwrap()
    );
    let (s, created, _) = call(
        &w.app,
        "POST",
        &format!("{base}/secrets"),
        Some(&w.bob),
        json!({"description": "second"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let t = Target {
        app,
        mapping: keys["keyMappingId"].as_str().unwrap().to_owned(),
        client_id: keys["consumerKey"].as_str().unwrap().to_owned(),
        secret: keys["consumerSecret"].as_str().unwrap().to_owned(),
        secret_id: created["secretId"].as_str().unwrap().to_owned(),
        token: keys["token"]["accessToken"].as_str().unwrap().to_owned(),
    };
    for s in [&t.secret, &t.token, created["secretValue"].as_str().unwrap()] {
        w.saw(s);
    }
    t
}

/// The concrete path and an administrator's body for a route, on `t`; `n` keeps names apart.
async fn request_for(w: &World, method: &str, path: &str, t: &Target, n: usize) -> (String, Value) {
    // A client of the resident that no application holds yet, for map-keys.
    let unmapped = if path.ends_with("/map-keys") {
        let mut spec = ClientSpec::new("unmapped", KeyType::Sandbox);
        spec.grant_types = vec![GrantType::ClientCredentials];
        let c = w.home.register_client(&spec).await.unwrap();
        let secret = c.client_secret.unwrap().expose_secret().to_owned();
        w.saw(&secret);
        Some((c.client_id.to_string(), secret))
    } else {
        None
    };
    // A key manager added at run time, for the routes that change or read one.
    let run_time = format!("rt-{n}");
    if path == "/api/key-managers/{keyManager}" {
        w.service
            .add_key_manager(
                &keymanager::service::key_managers::NewKeyManager {
                    name: run_time.clone(),
                    kind: "keycloak".into(),
                    settings: keycloak_settings(),
                    enabled: true,
                    allow_insecure_http: false,
                },
                &Default::default(),
            )
            .await
            .unwrap();
    }
    if path == "/api/key-managers/{keyManager}/scopes/{scope}" {
        w.home
            .register_scope(&keymanager::model::Scope::new(format!("s-{n}")))
            .await
            .unwrap();
    }
    if path == "/api/admin-tokens/{name}" {
        let (s, b, _) = call(
            &w.app,
            "POST",
            "/api/admin-tokens",
            Some(ADMIN),
            json!({"name": format!("t-{n}")}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        w.saw(b["token"].as_str().unwrap());
    }
    if path == "/api/users/{username}" {
        w.service
            .users()
            .unwrap()
            .add_user(&NewUser {
                username: format!("u-{n}"),
                password: PASSWORD.into(),
                roles: vec![],
                profile: Default::default(),
            })
            .await
            .unwrap();
    }
    // A key that signed nothing this world holds, to retire: two rotations at once, the first new key retired.
    let kid = if path == "/api/signing-keys/{kid}/retire" {
        use keymanager::server_kit::KeyRotation;
        let keys = w.service.signing_keys().unwrap();
        let now = KeyRotation {
            pre_publish_seconds: Some(0),
            retire_after_seconds: None,
        };
        let first = keys.rotate_signing_keys(now).await.unwrap();
        let kid = first
            .iter()
            .find(|k| k.phase == keymanager::server_kit::SigningKeyPhase::Signing && k.alg == "ES256")
            .unwrap()
            .kid
            .clone();
        keys.rotate_signing_keys(now).await.unwrap();
        kid
    } else {
        String::new()
    };
    let concrete = if path == "/api/key-managers/{keyManager}" {
        format!("/api/key-managers/{run_time}")
    } else {
        path.to_owned()
    };
    let concrete = concrete
        .replace("{applicationId}", &t.app)
        .replace("{keyMappingId}", &t.mapping)
        .replace("{secretId}", &t.secret_id)
        .replace("{keyManager}", HOME)
        .replace("{username}", &format!("u-{n}"))
        .replace("{name}", &format!("t-{n}"))
        .replace("{scope}", &format!("s-{n}"))
        .replace("{kid}", &kid);
    let body = match (method, path.rsplit('/').next().unwrap_or_default()) {
        ("post", "introspect") => json!({"token": t.token}),
        ("post", "discover") => json!({"url": w.discovery.uri()}),
        ("post", "key-managers") => {
            json!({"name": format!("new-km-{n}"), "type": "keycloak", "settings": keycloak_settings()})
        }
        ("put", "{keyManager}") => json!({"enabled": false}),
        ("post", "revoke") => json!({"token": t.token, "clientId": t.client_id, "clientSecret": t.secret}),
        ("post", "admin-tokens") => json!({"name": format!("new-{n}")}),
        ("post", "rotate") => json!({"prePublishSeconds": 0}),
        ("post", "scopes") => json!({"name": format!("new-scope-{n}"), "description": "Read orders"}),
        ("post", "users") => json!({"username": format!("new-{n}"), "password": PASSWORD}),
        ("post", "applications") => json!({"name": format!("a-{n}"), "owner": "carol"}),
        ("put", "owner") => json!({"owner": "carol"}),
        ("put", "{applicationId}") => json!({"description": format!("changed {n}"), "attributes": {"tier": "gold"}}),
        ("put", "{username}") => json!({"roles": ["auditor"], "name": format!("User {n}")}),
        ("post", "generate-keys") => json!({"keyType": "SANDBOX", "grantTypesToBeSupported": ["client_credentials"]}),
        ("post", "map-keys") => {
            let (id, secret) = unmapped.unwrap();
            json!({"keyType": "SANDBOX", "consumerKey": id, "consumerSecret": secret})
        }
        ("put", _) => json!({"grantTypesToBeSupported": ["client_credentials"], "scopes": ["orders:read"]}),
        ("post", "generate-token") => json!({"consumerSecret": t.secret}),
        ("post", "secrets") => json!({"description": "third"}),
        ("post", "revoke-token") => json!({"token": t.token, "consumerSecret": t.secret}),
        // A new proof each call (the first use of a proof is the normal answer).
        ("post", "dpop-proofs") => {
            json!({"jkt": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", "jti": format!("p-{n}")})
        }
        _ => Value::Null,
    };
    (concrete, body)
}

async fn audit_total(w: &World) -> u64 {
    w.service
        .audit_trail(&AuditQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .total
}

async fn last_record(w: &World) -> keymanager::service::AuditRecord {
    w.service
        .audit_trail(&AuditQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .records
        .remove(0)
}

async fn whole_route_table(url: &str, foreign_url: &str) {
    let w = world(url, foreign_url).await;
    let (_, missing, _) = call(
        &w.app,
        "GET",
        "/api/applications/no-such-application",
        Some(&w.alice),
        Value::Null,
    )
    .await;
    for (n, (method, path)) in ROUTES.iter().enumerate() {
        let r = rule(method, path).unwrap();
        if r.access == keymanager::api::access::Access::Public {
            continue;
        }
        let m = method.to_uppercase();
        let t = target(&w, n).await;
        let (concrete, body) = request_for(&w, method, path, &t, n).await;
        let before = audit_total(&w).await;

        // No token, and a token of a key manager not in api_identity: 401, no audit record.
        for token in [None, Some(w.foreign.as_str())] {
            let (s, b, h) = call(&w.app, &m, &concrete, token, body.clone()).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{m} {path} with {token:?}: {b}");
            assert!(h[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer realm="));
        }
        // A valid token without a keymanager scope: 403 naming the scope.
        let (s, b, h) = call(&w.app, &m, &concrete, Some(&w.no_scope), body.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{m} {path}: {b}");
        let challenge = h[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(
            challenge.contains("error=\"insufficient_scope\"") && challenge.contains(SCOPE_APPS),
            "{challenge}"
        );
        assert_eq!(
            audit_total(&w).await,
            before,
            "{m} {path}: refused callers are not audited"
        );

        // Developer A (creating an application for herself: no owner named).
        let mut own_body = body.clone();
        if let Some(o) = own_body.as_object_mut().filter(|_| *path == "/api/applications") {
            o.remove("owner");
        }
        let (s, b, h) = call(&w.app, &m, &concrete, Some(&w.alice), own_body).await;
        if r.access == keymanager::api::access::Access::Admin {
            assert_eq!(s, StatusCode::FORBIDDEN, "{m} {path}: {b}");
            assert!(h[header::WWW_AUTHENTICATE].to_str().unwrap().contains(SCOPE_ADMIN));
        } else if r.access == keymanager::api::access::Access::Gateway {
            // A developer is no gateway.
            assert_eq!(s, StatusCode::FORBIDDEN, "{m} {path}: {b}");
            assert!(h[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .contains(keymanager::api::access::SCOPE_GATEWAY));
        } else if path.contains("{applicationId}") {
            assert_eq!(s, StatusCode::NOT_FOUND, "{m} {path}: {b}");
            // Exactly as a missing application: only the id differs.
            let same = b.to_string().replace(&t.app, "no-such-application");
            assert_eq!(same, missing.to_string(), "{m} {path}");
        } else {
            assert!(s.is_success(), "{m} {path}: developer A on her own scope: {s} {b}");
        }
        if let Some(action) = r.action {
            let rec = last_record(&w).await;
            assert_eq!(audit_total(&w).await, before + 1, "{m} {path}: one record");
            assert_eq!(
                (rec.actor.kind, rec.actor.name.as_str()),
                (ActorKind::User, "alice"),
                "{m} {path}"
            );
            assert_eq!(rec.actor.key_manager.as_deref(), Some(HOME));
            assert_eq!(rec.action, action);
            if s.is_success() {
                assert_eq!(rec.outcome, Outcome::Success, "{m} {path}");
            } else {
                assert_eq!(rec.outcome, Outcome::Failure, "{m} {path}");
                assert_eq!(
                    rec.detail.as_deref(),
                    Some(format!("{} {}", s.as_u16(), s.canonical_reason().unwrap()).as_str())
                );
            }
        }
        // B's application is untouched by A: B still sees it.
        let (s, _, _) = call(
            &w.app,
            "GET",
            &format!("/api/applications/{}", t.app),
            Some(&w.bob),
            Value::Null,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{m} {path}: A changed B's application");

        // An administrator: the normal answer, and one success record naming the admin token.
        let before = audit_total(&w).await;
        let (s, b, _) = call(&w.app, &m, &concrete, Some(ADMIN), body.clone()).await;
        assert!(
            s.is_success(),
            "{m} {path}: an administrator gets the normal answer, got {s} {b}"
        );
        if let Some(action) = r.action {
            assert_eq!(audit_total(&w).await, before + 1, "{m} {path}: one record");
            let rec = last_record(&w).await;
            assert_eq!(
                (rec.actor.kind, rec.actor.name.as_str(), rec.action.as_str()),
                (ActorKind::AdminToken, "config", action)
            );
            assert_eq!(rec.outcome, Outcome::Success, "{m} {path}");
            if path.contains("{applicationId}") {
                assert_eq!(rec.application_id.as_deref(), Some(t.app.as_str()), "{m} {path}");
            }
        } else {
            assert_eq!(audit_total(&w).await, before, "{m} {path}: a read writes no record");
        }
        for key in ["consumerSecret", "secretValue", "token"] {
            if let Some(v) = b[key].as_str() {
                w.saw(v);
            }
        }
        if let Some(v) = b["token"]["accessToken"].as_str() {
            w.saw(v);
        }
    }

    // Listings: each developer sees only their own; an administrator (token or scope) sees all.
    let (_, mine, _) = call(&w.app, "GET", "/api/applications", Some(&w.alice), Value::Null).await;
    assert!(
        mine["list"].as_array().unwrap().iter().all(|a| a["owner"] == "alice"),
        "{mine}"
    );
    let (_, bobs, _) = call(&w.app, "GET", "/api/applications", Some(&w.bob), Value::Null).await;
    assert!(!bobs["list"].as_array().unwrap().is_empty());
    assert!(
        bobs["list"].as_array().unwrap().iter().all(|a| a["owner"] == "bob"),
        "{bobs}"
    );
    let (_, all, _) = call(&w.app, "GET", "/api/applications?limit=500", Some(&w.root), Value::Null).await;
    assert_eq!(
        all["pagination"]["total"].as_u64(),
        Some(all["count"].as_u64().unwrap()),
        "one page holds them all"
    );
    let owners: std::collections::BTreeSet<String> = all["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["owner"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        owners.contains("bob") && owners.contains("alice") && owners.contains("carol"),
        "{owners:?}"
    );
    // A developer cannot name another owner, nor give a client the management API's scopes.
    let (s, b, _) = call(
        &w.app,
        "POST",
        "/api/applications",
        Some(&w.alice),
        json!({"name": "x", "owner": "bob"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (_, own, _) = call(
        &w.app,
        "POST",
        "/api/applications",
        Some(&w.alice),
        json!({"name": "mine"}),
    )
    .await;
    let own = own["applicationId"].as_str().unwrap().to_owned();
    let (s, b, _) = call(
        &w.app,
        "POST",
        &format!("/api/applications/{own}/generate-keys"),
        Some(&w.alice),
        json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"], "scopes": [SCOPE_ADMIN]}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(b["errors"][0]["field"], "scopes[0]");
    // Mapping a client by id alone is an administrator's act.
    let (s, b, _) = call(
        &w.app,
        "POST",
        &format!("/api/applications/{own}/map-keys"),
        Some(&w.alice),
        json!({"keyType": "SANDBOX", "consumerKey": "anyone-elses-client"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    // An administrator by scope transfers; the new owner then sees it, the old one no longer does.
    let (s, b, _) = call(
        &w.app,
        "PUT",
        &format!("/api/applications/{own}/owner"),
        Some(&w.root),
        json!({"owner": "bob"}),
    )
    .await;
    assert_eq!((s, b["owner"].as_str()), (StatusCode::OK, Some("bob")), "{b}");
    let rec = last_record(&w).await;
    assert_eq!(
        (rec.actor.kind, rec.actor.name.as_str(), rec.action.as_str()),
        (ActorKind::User, "root", "application.transfer")
    );
    let (s, _, _) = call(
        &w.app,
        "GET",
        &format!("/api/applications/{own}"),
        Some(&w.alice),
        Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call(
        &w.app,
        "GET",
        &format!("/api/applications/{own}"),
        Some(&w.bob),
        Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // The trail through the API: filters and paging.
    let (s, page, _) = call(
        &w.app,
        "GET",
        "/api/audit?actor=alice&action=application.create&limit=1",
        Some(ADMIN),
        Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["count"], 1);
    assert!(page["pagination"]["total"].as_u64().unwrap() >= 2, "{page}");
    assert!(page["pagination"]["next"].as_str().unwrap().contains("offset=1"));
    assert_eq!(page["list"][0]["actor"]["name"], "alice");
    let (s, _, _) = call(&w.app, "GET", "/api/audit?limit=0", Some(ADMIN), Value::Null).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = call(
        &w.app,
        "GET",
        &format!("/api/audit?applicationId={own}"),
        Some(&w.alice),
        Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // No record carries a secret, in any column.
    let rows = sqlx::query(
        "SELECT actor_kind, actor, actor_key_manager, action, application_id, target, outcome, detail, request_id, \
         source FROM km_audit",
    )
    .fetch_all(w.store.pool())
    .await
    .unwrap();
    assert!(rows.len() > 40, "{} records", rows.len());
    let secrets = w.secrets.lock().unwrap().clone();
    assert!(secrets.len() > 80, "the scan looks for {} secrets", secrets.len());
    for row in &rows {
        use sqlx::Row;
        for i in 0..row.len() {
            let Some(text) = row.try_get::<Option<String>, _>(i).unwrap() else {
                continue;
            };
            for s in &secrets {
                assert!(
                    !text.contains(s.as_str()),
                    "an audit record holds a secret: column {i} = {text}"
                );
            }
        }
    }
    // The trail is append-only: the store refuses to rewrite a record.
    let rewrite = sqlx::query("UPDATE km_audit SET actor = 'someone else'")
        .execute(w.store.pool())
        .await;
    assert!(rewrite.is_err(), "an audit record was rewritten");
}

#[tokio::test]
async fn the_whole_route_table_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("km.db").display());
    let foreign = format!("sqlite://{}", dir.path().join("elsewhere.db").display());
    whole_route_table(&url, &foreign).await;
}

#[tokio::test]
async fn the_whole_route_table_on_postgres() {
    let Some(url) = common::postgres_schema("km_access").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let foreign = format!("sqlite://{}", dir.path().join("elsewhere.db").display());
    whole_route_table(&url, &foreign).await;
}

/// A change and its audit record are one transaction: when the record cannot be written, the change is not made
/// (a store write) or not acknowledged (a change at the key manager answers 503).
#[tokio::test]
async fn a_change_whose_record_cannot_be_written_is_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("km.db").display());
    let foreign = format!("sqlite://{}", dir.path().join("elsewhere.db").display());
    let w = world(&url, &foreign).await;
    let t = target(&w, 0).await;
    sqlx::query("CREATE TRIGGER km_audit_full BEFORE INSERT ON km_audit BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        .execute(w.store.pool())
        .await
        .unwrap();
    let (s, b, _) = call(
        &w.app,
        "POST",
        "/api/applications",
        Some(&w.bob),
        json!({"name": "unrecorded"}),
    )
    .await;
    assert!(s.is_server_error(), "{s} {b}");
    let (_, list, _) = call(&w.app, "GET", "/api/applications", Some(&w.bob), Value::Null).await;
    assert!(
        list["list"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["name"] != "unrecorded"),
        "{list}"
    );
    let (s, b, h) = call(
        &w.app,
        "POST",
        &format!("/api/applications/{}/oauth-keys/{}/secrets", t.app, t.mapping),
        Some(&w.bob),
        json!({"description": "unrecorded"}),
    )
    .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert!(h.contains_key(header::RETRY_AFTER));
    assert!(b.get("secretValue").is_none(), "an unacknowledged secret is not shown");
    let (s, b, _) = call(
        &w.app,
        "DELETE",
        &format!("/api/applications/{}/oauth-keys/{}", t.app, t.mapping),
        Some(&w.bob),
        Value::Null,
    )
    .await;
    assert!(s.is_server_error(), "{s} {b}");
    let (s, keys, _) = call(
        &w.app,
        "GET",
        &format!("/api/applications/{}/oauth-keys", t.app),
        Some(&w.bob),
        Value::Null,
    )
    .await;
    assert_eq!(
        (s, keys["count"].as_u64()),
        (StatusCode::OK, Some(1)),
        "the mapping stays: {keys}"
    );
    // (The client was deleted at the key manager first, as a repeated delete expects; the mapping shows it.)
    assert_eq!(keys["list"][0]["keyState"], "CLIENT_MISSING", "{keys}");
}

/// Retention: records older than the retention go, newer ones stay. Time moves on the one clock the store, the
/// service and the audit records share (nothing is back-dated, nothing sleeps).
#[tokio::test]
async fn the_trail_keeps_records_for_the_retention_only() {
    use keymanager::service::{Actor, AuditRecord};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("km.db").display());
    let clock = keymanager::model::ManualClock::new();
    let store = Arc::new(
        SqlApplicationStore::connect(&url, None)
            .await
            .unwrap()
            .with_clock(clock.clone()),
    );
    let service = KeyService::new(KeyManagers::default(), store);
    let actor = Actor {
        kind: ActorKind::AdminToken,
        name: "ops".into(),
        key_manager: None,
    };
    let day = std::time::Duration::from_secs(86_400);
    service
        .append_audit(&AuditRecord::at(actor.clone(), "old.change", service.now()))
        .await
        .unwrap();
    clock.advance(day * 398);
    service
        .append_audit(&AuditRecord::at(actor.clone(), "recent.change", service.now()))
        .await
        .unwrap();
    clock.advance(day * 2);
    let purged = service.purge_audit(day * 365).await.unwrap();
    assert_eq!(purged, 1, "400 days old by the service's clock");
    let left = service
        .audit_trail(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        left.records.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        ["recent.change"]
    );
}

/// A Keycloak key manager's settings (its connector builds without reaching the server).
fn keycloak_settings() -> serde_json::Map<String, Value> {
    json!({"base_url": "https://kc.example.com", "realm": "acme", "admin_client_id": "keymanager-admin",
           "admin_client_secret": "kc-admin-secret-0123456789"})
    .as_object()
    .unwrap()
    .clone()
}

/// Review 2 (low): a developer cannot write audit rows without bound: past a burst, changes are `429` with
/// `Retry-After`, audited once per run of refusals; another developer's quota is untouched; admin tokens are not
/// limited; reads are not counted.
#[tokio::test]
async fn a_developers_changes_are_limited_and_the_refusal_audited_once() {
    let dir = tempfile::tempdir().unwrap();
    let (url, foreign) = (
        format!("sqlite://{}", dir.path().join("q.db").display()),
        format!("sqlite://{}", dir.path().join("f.db").display()),
    );
    let quota = keymanager::api::quota::QuotaSettings {
        burst: 5,
        per_second: 1,
    };
    let w = world_with(&url, &foreign, Some(quota)).await;
    let create = |token: String, n: usize| {
        let app = w.app.clone();
        async move {
            let body = if token == ADMIN {
                json!({"name": format!("app-{n}"), "owner": "ops"})
            } else {
                json!({"name": format!("app-{n}")})
            };
            call(&app, "POST", "/api/applications", Some(&token), body).await
        }
    };
    for n in 0..5 {
        let (s, body, _) = create(w.alice.clone(), n).await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
    let before = audit_total(&w).await;
    let (s, body, headers) = create(w.alice.clone(), 5).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(headers.get(header::RETRY_AFTER).is_some());
    for n in 6..40 {
        assert_eq!(create(w.alice.clone(), n).await.0, StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(audit_total(&w).await, before + 1, "the run of refusals is audited once");
    let record = last_record(&w).await;
    assert_eq!(record.outcome, keymanager::service::Outcome::Failure, "{record:?}");
    assert!(
        record.detail.as_deref().is_some_and(|d| d.starts_with("429")),
        "{record:?}"
    );
    // Reads are not changes; another developer and the administrators are not limited by her.
    let (s, _, _) = call(&w.app, "GET", "/api/applications", Some(&w.alice), Value::Null).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(create(w.bob.clone(), 100).await.0, StatusCode::CREATED);
    for n in 200..260 {
        assert_eq!(
            create(ADMIN.to_owned(), n).await.0,
            StatusCode::CREATED,
            "admin tokens are not limited"
        );
    }
}
