//! The resident key manager through the `KeyManager` trait, on both store backends.

mod common;

use std::sync::Arc;

use common::Harness;
use keymanager::model::*;
use keymanager::{Error, KeyManager};
use keymanager_resident::ACCESS_TOKEN_TYP;
use serde_json::json;

fn spec() -> ClientSpec {
    ClientSpec::new("orders", KeyType::Production).with_scopes(["orders:read", "orders:write"])
}

async fn registered(h: &Harness) -> (ClientId, ClientSecret) {
    let c = h.km.register_client(&spec()).await.unwrap();
    (
        c.client_id.clone(),
        c.client_secret.clone().expect("secret on registration"),
    )
}

async fn client_lifecycle(h: Harness) {
    let km: Arc<dyn KeyManager> = Arc::new(h.km.clone());
    let created = km.register_client(&spec()).await.unwrap();
    let id = created.client_id.clone();
    assert!(created.client_secret.is_some(), "the plain secret comes back once");
    let read = km.get_client(&id).await.unwrap();
    assert!(read.client_secret.is_none(), "never again");
    assert_eq!(read.name, "orders");
    assert_eq!(read.scopes, ["orders:read", "orders:write"]);

    let changed = spec()
        .with_scopes(["orders:read"])
        .with_grant_types([GrantType::ClientCredentials, GrantType::AuthorizationCode])
        .with_redirect_uris(["https://app.example/cb"].map(|u| u.parse().unwrap()))
        .with_pkce(PkcePolicy {
            required: true,
            allow_plain: false,
        })
        .with_access_token_lifetime(600);
    let updated = km.update_client(&id, &changed).await.unwrap();
    assert_eq!(updated.scopes, ["orders:read"]);
    let read = km.get_client(&id).await.unwrap();
    assert_eq!(read.redirect_uris, ["https://app.example/cb"]);
    assert!(read.pkce.required);
    assert_eq!(read.access_token_lifetime, Some(600));
    let err = km.update_client(&id, &changed.clone().public()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");

    // Map an existing client: the secret must prove it.
    let secret = created.client_secret.clone().unwrap();
    assert_eq!(km.map_client(&id, Some(&secret)).await.unwrap().client_id, id);
    let err = km.map_client(&id, Some(&ClientSecret::new("wrong"))).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }));

    km.delete_client(&id).await.unwrap();
    assert!(matches!(km.get_client(&id).await.unwrap_err(), Error::NotFound { .. }));
    assert!(matches!(
        km.delete_client(&id).await.unwrap_err(),
        Error::NotFound { .. }
    ));

    // Public clients have no secret and cannot use client_credentials.
    let public = ClientSpec::new("spa", KeyType::Sandbox)
        .with_grant_types([GrantType::AuthorizationCode])
        .with_redirect_uris(["https://spa.example/cb"].map(|u| u.parse().unwrap()))
        .public()
        .with_pkce(PkcePolicy {
            required: true,
            allow_plain: true,
        });
    let p = km.register_client(&public).await.unwrap();
    assert!(p.client_secret.is_none());
    assert!(km.get_client(&p.client_id).await.unwrap().public_client);
    assert!(matches!(
        km.create_secret(&p.client_id, &SecretSpec::default())
            .await
            .unwrap_err(),
        Error::InvalidRequest { .. }
    ));

    // Provider-specific properties the resident does not take are refused, naming the field.
    let mut odd = spec();
    odd.additional_properties.insert("tier".into(), json!("gold"));
    match km.register_client(&odd).await.unwrap_err() {
        Error::InvalidRequest { field, .. } => assert_eq!(field.as_deref(), Some("additional_properties.tier")),
        other => panic!("{other:?}"),
    }
}

async fn secret_rules(h: Harness) {
    let (id, first) = registered(&h).await;
    // Shown once, listed masked.
    let second =
        h.km.create_secret(
            &id,
            &SecretSpec {
                description: Some("rotation 2026-11".into()),
                expires_in: Some(3600),
            },
        )
        .await
        .unwrap();
    assert_eq!(second.info.description.as_deref(), Some("rotation 2026-11"));
    assert!(second.info.expires_at.is_some());
    let listed = h.km.list_secrets(&id).await.unwrap();
    assert_eq!(listed.len(), 2);
    for s in &listed {
        assert!(s.masked.ends_with("************"), "{}", s.masked);
        assert!(!s.masked.contains(first.expose_secret()) && !s.masked.contains(second.secret.expose_secret()));
        assert_eq!(s.status, SecretStatus::Active);
    }
    // Both secrets authenticate.
    for secret in [&first, &second.secret] {
        h.km.issue_token(&TokenRequest::client_credentials(id.clone(), secret.clone()))
            .await
            .unwrap();
    }
    // The count limit (3 in the test settings).
    h.km.create_secret(&id, &SecretSpec::default()).await.unwrap();
    match h.km.create_secret(&id, &SecretSpec::default()).await.unwrap_err() {
        Error::LimitExceeded { limit, message, .. } => {
            assert_eq!(limit, Some(3));
            assert!(message.contains("max_secrets_per_client"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.km.list_secrets(&id).await.unwrap().len(), 3);
    // Delete with and without revoking the tokens it issued.
    let kept =
        h.km.issue_token(&TokenRequest::client_credentials(id.clone(), second.secret.clone()))
            .await
            .unwrap();
    h.km.delete_secret(&id, &second.id, false).await.unwrap();
    assert!(
        h.km.introspect(&kept.access_token, None).await.unwrap().active,
        "tokens survive a plain delete"
    );
    assert!(matches!(
        h.km.issue_token(&TokenRequest::client_credentials(id.clone(), second.secret.clone()))
            .await
            .unwrap_err(),
        Error::Unauthorized { .. }
    ));
    let first_id =
        h.km.list_secrets(&id)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.masked.starts_with(&first.expose_secret()[..4]))
            .unwrap()
            .id;
    let revoked =
        h.km.issue_token(&TokenRequest::client_credentials(id.clone(), first.clone()))
            .await
            .unwrap();
    h.km.delete_secret(&id, &first_id, true).await.unwrap();
    assert!(
        !h.km.introspect(&revoked.access_token, None).await.unwrap().active,
        "revoke_tokens revokes"
    );
    assert!(
        h.km.introspect(&kept.access_token, None).await.unwrap().active,
        "other secrets' tokens stay"
    );
    assert!(matches!(
        h.km.delete_secret(&id, &first_id, false).await.unwrap_err(),
        Error::NotFound { .. }
    ));
    // Regenerate: one new secret, every old one gone.
    let regenerated = h.km.regenerate_secret(&id).await.unwrap();
    let fresh = regenerated.client_secret.unwrap();
    assert_eq!(h.km.list_secrets(&id).await.unwrap().len(), 1);
    h.km.issue_token(&TokenRequest::client_credentials(id.clone(), fresh))
        .await
        .unwrap();
}

async fn expired_secret_no_longer_authenticates(h: Harness) {
    let (id, _) = registered(&h).await;
    let plain = "expired-secret-value-0123456789abcdef";
    let now = keymanager_resident_now();
    h.server
        .store()
        .insert_secret(
            &keymanager_resident::SecretRecord {
                secret_id: "old".into(),
                client_id: id.as_str().into(),
                secret_hash: hash(plain),
                masked: mask_secret(plain),
                description: None,
                created_at: now - 100,
                expires_at: Some(now - 1),
                sealed: None,
            },
            None,
        )
        .await
        .unwrap();
    let err =
        h.km.issue_token(&TokenRequest::client_credentials(id.clone(), plain.into()))
            .await
            .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    let listed = h.km.list_secrets(&id).await.unwrap();
    assert_eq!(
        listed.iter().find(|s| s.id == "old").unwrap().status,
        SecretStatus::Expired
    );
}

fn keymanager_resident_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn hash(plain: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, plain.as_bytes()))
}

async fn tokens_scopes_and_lifetimes(h: Harness) {
    let (id, secret) = registered(&h).await;
    let t =
        h.km.issue_token(&TokenRequest::client_credentials(id.clone(), secret.clone()).with_scopes(["orders:read"]))
            .await
            .unwrap();
    assert_eq!(t.scopes, ["orders:read"]);
    assert_eq!(t.expires_in, Some(3600));
    // RFC 9068 header and claims.
    let parts: Vec<&str> = t.access_token.expose_secret().split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode = |p: &str| -> serde_json::Value {
        use base64::Engine;
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
    };
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    assert_eq!(header["typ"], ACCESS_TOKEN_TYP);
    assert_eq!(header["alg"], "ES256");
    assert!(header["kid"].is_string());
    for claim in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"] {
        assert!(claims.get(claim).is_some(), "missing {claim}");
    }
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["scope"], "orders:read");
    // No scope asked: the client's allowed scopes.
    let all =
        h.km.issue_token(&TokenRequest::client_credentials(id.clone(), secret.clone()))
            .await
            .unwrap();
    assert_eq!(all.scopes, ["orders:read", "orders:write"]);
    // A scope the client may not have.
    let err =
        h.km.issue_token(&TokenRequest::client_credentials(id.clone(), secret.clone()).with_scopes(["admin"]))
            .await
            .unwrap_err();
    assert!(matches!(err, Error::InvalidScope { .. }), "{err:?}");
    // Validity is bounded by the client's maximum.
    let short =
        h.km.issue_token(&TokenRequest::client_credentials(id.clone(), secret.clone()).with_validity(60))
            .await
            .unwrap();
    assert_eq!(short.expires_in, Some(60));
    h.km.update_client(&id, &spec().with_access_token_lifetime(300))
        .await
        .unwrap();
    let capped =
        h.km.issue_token(&TokenRequest::client_credentials(id.clone(), secret.clone()).with_validity(7200))
            .await
            .unwrap();
    assert_eq!(capped.expires_in, Some(300));
    // Introspection answer (RFC 7662) carries the claims; our internal secret id is not shown.
    let info = h.km.introspect(&t.access_token, None).await.unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some(id.as_str()));
    assert_eq!(info.scopes, ["orders:read"]);
    assert_eq!(info.token_type.as_deref(), Some("Bearer"));
    assert!(!info.claims.contains_key("secret_id"));
}

async fn introspection_of_expired_revoked_and_foreign_tokens(h: Harness) {
    let (id, secret) = registered(&h).await;
    let (other_id, other_secret) = registered(&h).await;
    let t =
        h.km.issue_token(&TokenRequest::client_credentials(id.clone(), secret.clone()))
            .await
            .unwrap();
    // Expired: a correctly signed token whose exp has passed.
    let now = keymanager_resident_now();
    let key = h.server.keys().current().await.unwrap();
    let expired = key
        .sign_jwt(
            ACCESS_TOKEN_TYP,
            &json!({"iss": "http://127.0.0.1:9443", "sub": id.as_str(), "aud": "x", "exp": now - 10,
                    "iat": now - 100, "jti": "j1", "client_id": id.as_str(), "scope": ""}),
        )
        .unwrap();
    assert!(!h.km.introspect(&Token::new(expired), None).await.unwrap().active);
    // Wrong issuer, tampered signature, garbage.
    let foreign_iss = key
        .sign_jwt(
            ACCESS_TOKEN_TYP,
            &json!({"iss": "https://evil.example", "sub": id.as_str(), "exp": now + 100, "iat": now,
                    "jti": "j2", "client_id": id.as_str()}),
        )
        .unwrap();
    assert!(!h.km.introspect(&Token::new(foreign_iss), None).await.unwrap().active);
    let mut tampered = t.access_token.expose_secret().to_owned();
    tampered.insert(tampered.len() - 3, 'A');
    tampered.truncate(tampered.len() - 1);
    assert!(!h.km.introspect(&Token::new(tampered), None).await.unwrap().active);
    assert!(!h.km.introspect(&Token::new("not-a-token"), None).await.unwrap().active);
    // Another client cannot revoke it; its own client can, and it stays revoked.
    let by_other = RevocationRequest {
        token: t.access_token.clone(),
        token_type_hint: None,
        client_id: other_id.clone(),
        client_secret: Some(other_secret.clone()),
    };
    assert!(matches!(
        h.km.revoke_token(&by_other).await.unwrap_err(),
        Error::InvalidRequest { .. }
    ));
    assert!(h.km.introspect(&t.access_token, None).await.unwrap().active);
    let own = RevocationRequest {
        client_id: id.clone(),
        client_secret: Some(secret.clone()),
        ..by_other
    };
    h.km.revoke_token(&own).await.unwrap();
    h.km.revoke_token(&own).await.unwrap();
    assert!(!h.km.introspect(&t.access_token, None).await.unwrap().active);
    // Tokens of a deleted client are inactive.
    let t2 =
        h.km.issue_token(&TokenRequest::client_credentials(other_id.clone(), other_secret))
            .await
            .unwrap();
    h.km.delete_client(&other_id).await.unwrap();
    assert!(!h.km.introspect(&t2.access_token, None).await.unwrap().active);
}

async fn jwks_after_rotation_verifies_old_and_new_tokens(h: Harness) {
    let (id, secret) = registered(&h).await;
    let old =
        h.km.issue_token(&TokenRequest::client_credentials(id.clone(), secret.clone()))
            .await
            .unwrap();
    let old_kid = h.server.keys().current().await.unwrap().kid().to_owned();
    let new_kid = h.server.keys().rotate().await.unwrap();
    assert_ne!(old_kid, new_kid);
    let new =
        h.km.issue_token(&TokenRequest::client_credentials(id.clone(), secret))
            .await
            .unwrap();
    let jwks = h.server.keys().jwks().await.unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids[0], new_kid, "the signing key comes first");
    assert!(
        kids.contains(&old_kid.as_str()),
        "the retired key stays until its tokens expire"
    );
    for jwk in jwks["keys"].as_array().unwrap() {
        assert!(jwk.get("d").is_none(), "no private parts in the JWKS");
    }
    // Both tokens verify against the published keys (checked independently of our own verifier).
    for token in [&old, &new] {
        assert!(
            verify_with_jwks(token.access_token.expose_secret(), &jwks),
            "token does not verify"
        );
        assert!(h.km.introspect(&token.access_token, None).await.unwrap().active);
    }
    // A second server on the same store (another node) sees the rotation.
    let store = keymanager_resident::Store::connect(&h.url, None).await.unwrap();
    let node2 = keymanager_resident::ResidentServer::open(common::settings(), store)
        .await
        .unwrap();
    assert_eq!(node2.keys().current().await.unwrap().kid(), new_kid);
    assert!(node2.introspect(old.access_token.expose_secret()).await.unwrap().active);
}

/// Issue 27: a rotation publishes the new keys before they sign, the old ones sign until then and verify until
/// their tokens have expired; `retire` takes one out at once (tokens it signed stop verifying) and refuses the key
/// that signs now. Time moves on the harness's clock.
async fn a_rotation_publishes_before_it_signs_and_a_retired_key_verifies_nothing(h: Harness) {
    use keymanager::server_kit::{KeyRotation, SigningKeyAdmin, SigningKeyPhase};
    let (id, secret) = registered(&h).await;
    let request = TokenRequest::client_credentials(id.clone(), secret.clone());
    let issue = || h.km.issue_token(&request);
    let kid_of = |t: &AccessToken| {
        use base64::Engine;
        let head = t.access_token.expose_secret().split('.').next().unwrap().to_owned();
        let head: serde_json::Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap();
        head["kid"].as_str().unwrap().to_owned()
    };
    let before = issue().await.unwrap();
    let old_kid = kid_of(&before);
    let admin: &dyn SigningKeyAdmin = h.server.as_ref();
    let keys = admin
        .rotate_signing_keys(KeyRotation {
            pre_publish_seconds: Some(120),
            retire_after_seconds: Some(600),
        })
        .await
        .unwrap();
    let new = keys
        .iter()
        .find(|k| k.phase == SigningKeyPhase::Published && k.alg == "ES256")
        .expect("the new key is published, not signing")
        .clone();
    let published: Vec<String> = h.server.keys().jwks().await.unwrap()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        published.contains(&new.kid),
        "in the JWKS before it signs: {published:?}"
    );
    assert_eq!(
        kid_of(&issue().await.unwrap()),
        old_kid,
        "the old key signs during the pre-publication"
    );
    let refused = admin.retire_signing_key(&old_kid).await.unwrap_err();
    assert!(
        matches!(refused, Error::Conflict { .. }),
        "the signing key is not retired: {refused}"
    );
    assert!(matches!(
        admin.retire_signing_key("no-such-kid").await.unwrap_err(),
        Error::NotFound { .. }
    ));

    h.clock.advance(std::time::Duration::from_secs(121));
    let after = issue().await.unwrap();
    assert_eq!(kid_of(&after), new.kid, "the new key signs once activated");
    let listed = admin.list_signing_keys().await.unwrap();
    let phase = |kid: &str| listed.iter().find(|k| k.kid == kid).map(|k| k.phase);
    assert_eq!(phase(&new.kid), Some(SigningKeyPhase::Signing));
    assert_eq!(phase(&old_kid), Some(SigningKeyPhase::Verifying));
    assert!(
        h.km.introspect(&before.access_token, None).await.unwrap().active,
        "old tokens still verify"
    );

    admin.retire_signing_key(&old_kid).await.unwrap();
    assert!(
        !h.km.introspect(&before.access_token, None).await.unwrap().active,
        "retired: its tokens do not"
    );
    assert!(h.km.introspect(&after.access_token, None).await.unwrap().active);
    assert!(!h.server.keys().jwks().await.unwrap().to_string().contains(&old_kid));
    // Another node on the same store (and the same clock) sees the same: the new key signs, the retired one is gone.
    let store = keymanager_resident::Store::connect(&h.url, None)
        .await
        .unwrap()
        .with_clock(h.clock.clone());
    let node2 = keymanager_resident::ResidentServer::open(common::settings(), store)
        .await
        .unwrap();
    assert!(
        !node2
            .introspect(before.access_token.expose_secret())
            .await
            .unwrap()
            .active
    );
    assert!(
        node2
            .introspect(after.access_token.expose_secret())
            .await
            .unwrap()
            .active
    );
    // A huge pre-publication is refused by name, never overflowed.
    let err = admin
        .rotate_signing_keys(KeyRotation {
            pre_publish_seconds: Some(u64::MAX),
            retire_after_seconds: None,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("prePublishSeconds"), "{err}");
}

/// `signing_key_rotate_every`: nothing happens before the newest key is that old; then one rotation, published
/// before it signs (the configured pre-publication), and not another until the new key is that old in turn.
async fn scheduled_rotation_runs_when_the_newest_key_is_due(h: Harness) {
    use keymanager::server_kit::{SigningKeyAdmin, SigningKeyPhase};
    let every = 86_400;
    assert!(!h.server.rotate_when_due(every).await.unwrap(), "a new key is not due");
    h.clock.advance(std::time::Duration::from_secs(every + 1));
    assert!(h.server.rotate_when_due(every).await.unwrap());
    let keys = h.server.list_signing_keys().await.unwrap();
    let pre_publication = h.server.settings().signing_key_pre_publication;
    assert_eq!(
        keys.iter().filter(|k| k.phase == SigningKeyPhase::Published).count() > 0,
        pre_publication > 0,
        "{keys:?}"
    );
    assert!(!h.server.rotate_when_due(every).await.unwrap(), "once per period");
}

/// Verify an ES256 JWT with the JWK of its `kid`, using aws-lc-rs directly.
fn verify_with_jwks(token: &str, jwks: &serde_json::Value) -> bool {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;
    let (input, sig) = token.rsplit_once('.').unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&B64.decode(input.split('.').next().unwrap()).unwrap()).unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap();
    let mut point = vec![4u8];
    point.extend(B64.decode(jwk["x"].as_str().unwrap()).unwrap());
    point.extend(B64.decode(jwk["y"].as_str().unwrap()).unwrap());
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED, point)
        .verify(input.as_bytes(), &B64.decode(sig).unwrap())
        .is_ok()
}

async fn scopes_are_managed(h: Harness) {
    h.km.register_scope(&Scope::new("orders:read")).await.unwrap();
    assert!(matches!(
        h.km.register_scope(&Scope::new("orders:read")).await.unwrap_err(),
        Error::Conflict { .. }
    ));
    assert!(matches!(
        h.km.register_scope(&Scope::new("two words")).await.unwrap_err(),
        Error::InvalidRequest { .. }
    ));
    assert_eq!(h.km.list_scopes().await.unwrap(), [Scope::new("orders:read")]);
    h.km.delete_scope("orders:read").await.unwrap();
    assert!(matches!(
        h.km.delete_scope("orders:read").await.unwrap_err(),
        Error::NotFound { .. }
    ));
}

async fn opaque_tokens_introspect_and_revoke(h: Harness) {
    let mut settings = common::settings();
    settings.token_format = keymanager_resident::TokenFormat::Opaque;
    let server = keymanager_resident::ResidentServer::open(settings, h.server.store().clone())
        .await
        .unwrap();
    let km = keymanager_resident::ResidentKeyManager::new("opaque", server);
    let c = km.register_client(&spec()).await.unwrap();
    let secret = c.client_secret.clone().unwrap();
    let t = km
        .issue_token(&TokenRequest::client_credentials(c.client_id.clone(), secret.clone()))
        .await
        .unwrap();
    assert_eq!(
        t.access_token.expose_secret().split('.').count(),
        1,
        "opaque, not a JWT"
    );
    let info = km.introspect(&t.access_token, None).await.unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some(c.client_id.as_str()));
    km.revoke_token(&RevocationRequest {
        token: t.access_token.clone(),
        token_type_hint: Some(TokenTypeHint::AccessToken),
        client_id: c.client_id.clone(),
        client_secret: Some(secret),
    })
    .await
    .unwrap();
    assert!(!km.introspect(&t.access_token, None).await.unwrap().active);
}

async fn another_nodes_secret_deletion_applies_within_the_cache_ttl(h: Harness) {
    let (id, secret) = registered(&h).await;
    let mut settings = common::settings();
    settings.client_cache_seconds = 5;
    let clock = keymanager::model::ManualClock::new();
    let store = keymanager_resident::Store::connect(&h.url, None)
        .await
        .unwrap()
        .with_clock(clock.clone());
    let node2 = keymanager_resident::ResidentKeyManager::new(
        "node2",
        keymanager_resident::ResidentServer::open(settings, store)
            .await
            .unwrap(),
    );
    let request = TokenRequest::client_credentials(id.clone(), secret.clone());
    node2.issue_token(&request).await.unwrap();
    let secret_id = h.km.list_secrets(&id).await.unwrap()[0].id.clone();
    h.km.delete_secret(&id, &secret_id, false).await.unwrap();
    // This node applies its own change at once; the other node within its cache TTL (5 s).
    assert!(matches!(
        h.km.issue_token(&request).await.unwrap_err(),
        Error::Unauthorized { .. }
    ));
    clock.advance(std::time::Duration::from_secs(5));
    assert!(matches!(
        node2.issue_token(&request).await.unwrap_err(),
        Error::Unauthorized { .. }
    ));
}

on_both_backends!(
    another_nodes_secret_deletion_applies_within_the_cache_ttl,
    client_lifecycle,
    secret_rules,
    expired_secret_no_longer_authenticates,
    tokens_scopes_and_lifetimes,
    introspection_of_expired_revoked_and_foreign_tokens,
    jwks_after_rotation_verifies_old_and_new_tokens,
    a_rotation_publishes_before_it_signs_and_a_retired_key_verifies_nothing,
    scheduled_rotation_runs_when_the_newest_key_is_due,
    scopes_are_managed,
    opaque_tokens_introspect_and_revoke,
);

/// `client_secret_storage = "retrievable"` (WSO2's default): a client's newest secret is shown again by
/// `get_client`, and no secret is in the database in the clear (the files, or every column, scanned); a sealed value
/// opens only with its key and in its row. With `multiple_secrets = false` a client holds one secret.
async fn retrievable_secrets_are_sealed_and_shown_again(url: String, dir: Option<tempfile::TempDir>) {
    let key = keymanager::server_kit::new_key().unwrap();
    let sealing = std::sync::Arc::new(keymanager::server_kit::SecretBox::from_text(&format!("k1:{key}")).unwrap());
    let needed = sealing.key_ids()[0].clone();
    let settings = keymanager_resident::ResidentSettings {
        client_secret_storage: keymanager_resident::SecretStorage::Retrievable,
        secret_box: Some(sealing),
        ..common::settings()
    };
    let h = common::harness_on(url.clone(), dir, settings).await;
    let spec = ClientSpec::new("retrievable", KeyType::Production).with_grant_types([GrantType::ClientCredentials]);
    let client = h.km.register_client(&spec).await.unwrap();
    let first = client.client_secret.clone().unwrap().expose_secret().to_owned();
    let read = h.km.get_client(&client.client_id).await.unwrap();
    assert_eq!(
        read.client_secret.map(|s| s.expose_secret().to_owned()).as_deref(),
        Some(first.as_str())
    );
    h.clock.advance(std::time::Duration::from_secs(1));
    let second =
        h.km.create_secret(&client.client_id, &SecretSpec::default())
            .await
            .unwrap()
            .secret
            .expose_secret()
            .to_owned();
    let read = h.km.get_client(&client.client_id).await.unwrap();
    assert_eq!(
        read.client_secret.map(|s| s.expose_secret().to_owned()).as_deref(),
        Some(second.as_str()),
        "the newest"
    );
    // Both still authenticate (the hash is what checks).
    for s in [&first, &second] {
        assert!(h.server.authenticate(client.client_id.as_str(), Some(s)).await.is_ok());
    }
    // Nothing in the clear: the SQLite files, or every secret column on PostgreSQL.
    if let Some(path) = url.strip_prefix("sqlite://") {
        for file in [path.to_owned(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains(&first) && !text.contains(&second),
                    "{file} holds a secret in the clear"
                );
            }
        }
    } else {
        let rows = sqlx::query("SELECT secret_hash, masked, COALESCE(sealed, '') FROM km_client_secrets")
            .fetch_all(h.server.store().pool())
            .await
            .unwrap();
        for r in &rows {
            for i in 0..3 {
                let v: String = sqlx::Row::get(r, i);
                assert!(
                    !v.contains(&first) && !v.contains(&second),
                    "a column holds a secret in the clear"
                );
            }
        }
    }
    // Another key cannot open them: a typed storage error naming the key id, never the secret.
    let other = keymanager_resident::ResidentSettings {
        client_secret_storage: keymanager_resident::SecretStorage::Retrievable,
        secret_box: Some(std::sync::Arc::new(
            keymanager::server_kit::SecretBox::from_text(&format!("k2:{}", keymanager::server_kit::new_key().unwrap()))
                .unwrap(),
        )),
        ..common::settings()
    };
    let store = keymanager_resident::Store::connect(&url, None).await.unwrap();
    let stranger = keymanager_resident::ResidentServer::open(other, store).await.unwrap();
    let err = stranger
        .client_with_secret(client.client_id.as_str())
        .await
        .unwrap_err();
    // The error names the key it needs by its fingerprint (never a secret).
    assert!(
        err.to_string().contains(&needed) && !err.to_string().contains(&second),
        "{err}"
    );
    // Hashed (the default): never shown again.
    let store = keymanager_resident::Store::connect(&url, None).await.unwrap();
    let hashed = keymanager_resident::ResidentServer::open(common::settings(), store)
        .await
        .unwrap();
    assert!(hashed
        .client_with_secret(client.client_id.as_str())
        .await
        .unwrap()
        .client_secret
        .is_none());

    // multiple_secrets = false: one secret per client.
    let km =
        keymanager::config::KeyManagerConfig::new("r", "resident").with("multiple_secrets", serde_json::json!(false));
    let single = keymanager_resident::ResidentSettings::from_config(&km, None).unwrap();
    assert_eq!(single.max_secrets_per_client, Some(1));
    assert!(!keymanager_resident::capabilities(&single).multiple_secrets);
    let bad = keymanager::config::KeyManagerConfig::new("r", "resident")
        .with("multiple_secrets", serde_json::json!(false))
        .with("max_secrets_per_client", serde_json::json!(3));
    assert_eq!(
        keymanager_resident::ResidentSettings::from_config(&bad, None)
            .unwrap_err()
            .field
            .as_deref(),
        Some("max_secrets_per_client")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrievable_secrets_on_sqlite() {
    let (url, dir) = common::sqlite_url().await;
    retrievable_secrets_are_sealed_and_shown_again(url, Some(dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrievable_secrets_on_postgres() {
    if let Some(url) = common::postgres_url().await {
        retrievable_secrets_are_sealed_and_shown_again(url, None).await;
    }
}
