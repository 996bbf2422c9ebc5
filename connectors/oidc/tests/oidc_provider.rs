//! The oidc connector against a real certified OpenID provider (npm `oidc-provider`, pinned in tests/peers):
//! register, read, update, token, introspect, revoke, introspect inactive, delete.

use std::sync::Arc;

use keymanager::http::{HttpClient, HttpPolicy};
use keymanager::model::*;
use keymanager::{Error, KeyManager};
use keymanager_oidc::{MemoryRegistrations, OidcKeyManager, OidcSettings, RegistrationStore, SqlRegistrations};

#[path = "../../../tests/peers/oidc_provider.rs"]
mod oidc_peer;

use oidc_peer::{start_provider, IAT, RS_ID, RS_SECRET};

/// The settings a key manager was built with, for a second instance (the gateway's).
fn km_settings(km: &OidcKeyManager) -> OidcSettings {
    settings(&km.token_profile().issuer)
}

fn settings(issuer: &str) -> OidcSettings {
    let mut s = OidcSettings::new(issuer);
    s.initial_access_token = Some(Token::new(IAT));
    s.introspection_client = Some((RS_ID.into(), ClientSecret::new(RS_SECRET)));
    s
}

async fn flow(km: &OidcKeyManager, registrations: &dyn RegistrationStore) {
    let caps = km.capabilities();
    assert!(caps.introspection && caps.revocation && caps.update_client, "{caps:?}");
    assert!(caps.grant_types.contains(&GrantType::ClientCredentials));

    // Register (RFC 7591 with the initial access token).
    let spec = ClientSpec::new("orders PRODUCTION", KeyType::Production).with_scopes(["orders:read", "orders:write"]);
    let client = km.register_client(&spec).await.unwrap();
    let secret = client
        .client_secret
        .clone()
        .expect("a confidential client gets a secret");
    assert_eq!(client.scopes, ["orders:read", "orders:write"]);
    let first_rat = registrations
        .get(km.name(), client.client_id.as_str())
        .await
        .unwrap()
        .unwrap()
        .token;

    // Read and update (RFC 7592); the provider rotates the registration access token on update.
    let read = km.get_client(&client.client_id).await.unwrap();
    assert_eq!(read.name, "orders PRODUCTION");
    assert!(read.client_secret.is_none());
    let updated = km
        .update_client(&client.client_id, &spec.clone().with_scopes(["orders:read"]).clone())
        .await
        .unwrap();
    assert_eq!(updated.scopes, ["orders:read"]);
    let rotated = registrations
        .get(km.name(), client.client_id.as_str())
        .await
        .unwrap()
        .unwrap()
        .token;
    assert_ne!(
        rotated.expose_secret(),
        first_rat.expose_secret(),
        "the rotated token is kept"
    );
    assert_eq!(
        km.get_client(&client.client_id).await.unwrap().scopes,
        ["orders:read"],
        "and it works"
    );

    // Token, introspect, revoke, introspect again.
    let token = km
        .issue_token(
            &TokenRequest::client_credentials(client.client_id.clone(), secret.clone()).with_scopes(["orders:read"]),
        )
        .await
        .unwrap();
    assert_eq!(token.scopes, ["orders:read"]);
    let scope_refused = km
        .issue_token(
            &TokenRequest::client_credentials(client.client_id.clone(), secret.clone()).with_scopes(["orders:write"]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(scope_refused, Error::InvalidScope { .. } | Error::InvalidRequest { .. }),
        "{scope_refused:?}"
    );
    // A gateway validating the provider's (opaque) token goes through introspection.
    let gateway_km = OidcKeyManager::connect(
        km.name(),
        km_settings(km),
        HttpClient::new(HttpPolicy::default()).unwrap(),
        Arc::new(MemoryRegistrations::default()),
    )
    .await
    .unwrap();
    let mut set = keymanager::registry::KeyManagers::default();
    set.insert(Arc::new(gateway_km), &keymanager_oidc::OidcFactory).unwrap();
    let validator = keymanager::validation::TokenValidator::new(&set, Default::default()).unwrap();
    let principal = validator.validate(token.access_token.expose_secret()).await.unwrap();
    assert_eq!(principal.client_id.as_deref(), Some(client.client_id.as_str()));
    assert_eq!(principal.scopes, ["orders:read"]);
    let info = km
        .introspect(&token.access_token, Some(TokenTypeHint::AccessToken))
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some(client.client_id.as_str()));
    assert_eq!(info.scopes, ["orders:read"]);
    km.revoke_token(&RevocationRequest {
        token: token.access_token.clone(),
        token_type_hint: Some(TokenTypeHint::AccessToken),
        client_id: client.client_id.clone(),
        client_secret: Some(secret.clone()),
    })
    .await
    .unwrap();
    assert!(!km.introspect(&token.access_token, None).await.unwrap().active);

    // A wrong secret is the provider's invalid_client.
    let err = km
        .issue_token(&TokenRequest::client_credentials(
            client.client_id.clone(),
            ClientSecret::new("wrong"),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    let provider = err.provider().expect("the provider's answer is kept");
    assert_eq!(provider.code.as_deref(), Some("invalid_client"));

    // Delete (RFC 7592): the client is gone at the provider and here.
    km.delete_client(&client.client_id).await.unwrap();
    assert!(matches!(
        km.get_client(&client.client_id).await.unwrap_err(),
        Error::NotFound { .. }
    ));
    let after = km
        .issue_token(&TokenRequest::client_credentials(client.client_id.clone(), secret))
        .await
        .unwrap_err();
    assert!(matches!(after, Error::Unauthorized { .. }), "{after:?}");
}

#[tokio::test]
async fn the_full_flow_against_oidc_provider() {
    let Some(provider) = start_provider() else { return };
    let dir = tempfile::tempdir().unwrap();
    let registrations = Arc::new(
        SqlRegistrations::connect(&format!("sqlite://{}", dir.path().join("km.db").display()), None)
            .await
            .unwrap(),
    );
    let http = HttpClient::new(HttpPolicy::default()).unwrap();
    let km = OidcKeyManager::connect("idp", settings(&provider.issuer), http, registrations.clone())
        .await
        .unwrap();
    flow(&km, registrations.as_ref()).await;
}

#[tokio::test]
async fn registration_without_the_right_initial_access_token_is_refused() {
    let Some(provider) = start_provider() else { return };
    let mut s = settings(&provider.issuer);
    s.initial_access_token = Some(Token::new("wrong"));
    let http = HttpClient::new(HttpPolicy::default()).unwrap();
    let km = OidcKeyManager::connect("idp", s, http, Arc::new(MemoryRegistrations::default()))
        .await
        .unwrap();
    let err = km
        .register_client(&ClientSpec::new("x", KeyType::Sandbox))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    // PKCE cannot be expressed in RFC 7591 metadata: refused clearly before any call.
    let pkce = ClientSpec::new("spa", KeyType::Sandbox)
        .with_grant_types([GrantType::AuthorizationCode])
        .with_redirect_uris(["https://spa.example/cb"].map(|u| u.parse().unwrap()))
        .with_pkce(PkcePolicy {
            required: true,
            allow_plain: false,
        });
    assert!(matches!(
        km.register_client(&pkce).await.unwrap_err(),
        Error::Unsupported { .. }
    ));
}

/// `client_secret_storage = "retrievable"`: the secret is read back through RFC 7592 (oidc-provider's read answers
/// it, as RFC 7591 §3.2.1 allows); the default (hashed) never passes it on.
#[tokio::test]
async fn retrievable_secrets_are_read_back_through_rfc_7592() {
    let Some(provider) = start_provider() else { return };
    let registrations = Arc::new(MemoryRegistrations::default());
    let mut s = settings(&provider.issuer);
    s.client_secret_storage = keymanager::connector_kit::SecretStorage::Retrievable;
    let http = HttpClient::new(HttpPolicy::default()).unwrap();
    let km = OidcKeyManager::connect("idp", s, http, registrations.clone())
        .await
        .unwrap();
    assert!(km.capabilities().retrievable_secrets);
    let client = km
        .register_client(&ClientSpec::new("shop PRODUCTION", KeyType::Production))
        .await
        .unwrap();
    let made = client.client_secret.expect("shown when made");
    let read = km.get_client(&client.client_id).await.unwrap();
    assert_eq!(
        read.client_secret.expect("shown again").expose_secret(),
        made.expose_secret()
    );
    // The same registration through a hashed key manager: never shown again.
    let http = HttpClient::new(HttpPolicy::default()).unwrap();
    let hashed = OidcKeyManager::connect("idp", settings(&provider.issuer), http, registrations)
        .await
        .unwrap();
    assert!(!hashed.capabilities().retrievable_secrets);
    assert!(hashed
        .get_client(&client.client_id)
        .await
        .unwrap()
        .client_secret
        .is_none());
}
