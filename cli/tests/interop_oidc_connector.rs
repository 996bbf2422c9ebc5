//! The oidc connector against our own resident server over HTTP (`keymanager serve`): the two interoperate through
//! RFC 8414 discovery, RFC 7591 / 7592 registration, RFC 7662 introspection and RFC 7009 revocation.

mod common;

use std::sync::Arc;

use keymanager::http::{HttpClient, HttpPolicy};
use keymanager::model::*;
use keymanager::{Error, KeyManager};
use keymanager_oidc::{MemoryRegistrations, OidcKeyManager, OidcSettings};

#[test]
fn the_oidc_connector_drives_keymanager_serve() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let admin = common::admin_token(dir.path());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut settings = OidcSettings::new(&served.base);
        settings.initial_access_token = Some(Token::new(&admin));
        settings.introspection_token = Some(Token::new(&admin));
        let http = HttpClient::new(HttpPolicy::default()).unwrap();
        let km = OidcKeyManager::connect(
            "resident over HTTP",
            settings,
            http,
            Arc::new(MemoryRegistrations::default()),
        )
        .await
        .unwrap();
        assert_eq!(
            km.capabilities().grant_types,
            [
                GrantType::ClientCredentials,
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::Password
            ]
        );
        assert_eq!(
            km.token_profile().jwks_uri.as_deref(),
            Some(format!("{}/oauth2/jwks", served.base).as_str())
        );

        let spec = ClientSpec::new("orders", KeyType::Production).with_scopes(["orders:read", "orders:write"]);
        let client = km.register_client(&spec).await.unwrap();
        let secret = client.client_secret.clone().unwrap();
        assert_eq!(km.get_client(&client.client_id).await.unwrap().name, "orders");
        let updated = km
            .update_client(&client.client_id, &spec.clone().with_scopes(["orders:read"]))
            .await
            .unwrap();
        assert_eq!(updated.scopes, ["orders:read"]);

        let token = km
            .issue_token(&TokenRequest::client_credentials(
                client.client_id.clone(),
                secret.clone(),
            ))
            .await
            .unwrap();
        assert_eq!(token.scopes, ["orders:read"]);
        let info = km.introspect(&token.access_token, None).await.unwrap();
        assert!(info.active);
        assert_eq!(info.client_id.as_deref(), Some(client.client_id.as_str()));
        km.revoke_token(&RevocationRequest {
            token: token.access_token.clone(),
            token_type_hint: None,
            client_id: client.client_id.clone(),
            client_secret: Some(secret.clone()),
        })
        .await
        .unwrap();
        assert!(!km.introspect(&token.access_token, None).await.unwrap().active);

        km.delete_client(&client.client_id).await.unwrap();
        let err = km
            .issue_token(&TokenRequest::client_credentials(client.client_id.clone(), secret))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    });
}
