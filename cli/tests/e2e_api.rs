//! End to end over HTTP against `keymanager serve` on the embedded default: the management API drives the
//! resident key manager, and the tokens it hands out work at the resident OAuth endpoints.

mod common;

use reqwest::StatusCode;
use serde_json::{json, Value};

struct Api {
    http: reqwest::Client,
    base: String,
    admin: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.admin);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn token_status(&self, id: &str, secret: &str) -> StatusCode {
        self.http
            .post(format!("{}/oauth2/token", self.base))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn active(&self, token: &str) -> bool {
        let v: Value = self
            .http
            .post(format!("{}/oauth2/introspect", self.base))
            .bearer_auth(&self.admin)
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["active"] == true
    }
}

use reqwest::Method as M;

#[test]
fn the_whole_flow_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let api = Api {
        http: reqwest::Client::new(),
        base: served.base.clone(),
        admin: common::admin_token(dir.path()),
    };
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (s, kms) = api.call(M::GET, "/api/key-managers", None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(kms["count"], 1);
        assert_eq!(kms["list"][0]["name"], "Resident Key Manager");
        assert_eq!(kms["list"][0]["type"], "resident");
        assert_eq!(kms["list"][0]["capabilities"]["multipleSecrets"], true);

        let (s, app) = api
            .call(
                M::POST,
                "/api/applications",
                Some(json!({"name": "orders", "owner": "alice"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{app}");
        let app_id = app["applicationId"].as_str().unwrap().to_owned();
        let (_, apps) = api.call(M::GET, "/api/applications", None).await;
        assert_eq!(apps["count"], 1);

        // Production and sandbox keys, a first token with the production ones.
        let gen = format!("/api/applications/{app_id}/generate-keys");
        let (s, prod) = api
            .call(
                M::POST,
                &gen,
                Some(json!({"keyType": "PRODUCTION", "keyManager": "Resident Key Manager",
                "grantTypesToBeSupported": ["client_credentials"], "scopes": ["orders:read"], "generateToken": true,
                "validityTime": 600})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{prod}");
        let (s, sandbox) = api.call(M::POST, &gen, Some(json!({"keyType": "sandbox"}))).await;
        assert_eq!(s, StatusCode::OK, "{sandbox}");
        assert_eq!(sandbox["keyType"], "SANDBOX");
        assert_ne!(prod["consumerKey"], sandbox["consumerKey"]);
        let first_token = prod["token"]["accessToken"].as_str().unwrap().to_owned();
        assert_eq!(prod["token"]["validityTime"], 600);
        assert!(api.active(&first_token).await, "the first token validates");
        let key = prod["keyMappingId"].as_str().unwrap().to_owned();
        let id = prod["consumerKey"].as_str().unwrap().to_owned();
        let first_secret = prod["consumerSecret"].as_str().unwrap().to_owned();
        let (_, keys) = api
            .call(M::GET, &format!("/api/applications/{app_id}/oauth-keys"), None)
            .await;
        assert_eq!(keys["count"], 2);
        assert!(keys["list"][0].get("consumerSecret").is_none());

        // Generate a token through the API and validate it.
        let keys_path = format!("/api/applications/{app_id}/oauth-keys/{key}");
        let (s, token) = api
            .call(
                M::POST,
                &format!("{keys_path}/generate-token"),
                Some(json!({"consumerSecret": first_secret, "scopes": ["orders:read"], "validityPeriod": 120})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{token}");
        assert_eq!(token["tokenScopes"], json!(["orders:read"]));
        assert!(api.active(token["accessToken"].as_str().unwrap()).await);

        // A second secret; list masked; delete the first; the second still works, the first does not.
        let (s, second) = api
            .call(
                M::POST,
                &format!("{keys_path}/secrets"),
                Some(json!({"description": "rotation", "expiresIn": 86400})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{second}");
        let second_secret = second["secretValue"].as_str().unwrap().to_owned();
        let (_, secrets) = api.call(M::GET, &format!("{keys_path}/secrets"), None).await;
        assert_eq!(secrets["count"], 2);
        for s in secrets["list"].as_array().unwrap() {
            let masked = s["maskedSecret"].as_str().unwrap();
            assert!(masked.ends_with("****") && masked != first_secret && masked != second_secret);
        }
        let first_id = secrets["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["secretId"] != second["secretId"])
            .unwrap()["secretId"]
            .as_str()
            .unwrap()
            .to_owned();
        let (s, _) = api
            .call(
                M::DELETE,
                &format!("{keys_path}/secrets/{first_id}?revokeTokens=true"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(api.token_status(&id, &first_secret).await, StatusCode::UNAUTHORIZED);
        assert_eq!(api.token_status(&id, &second_secret).await, StatusCode::OK);
        assert!(
            !api.active(&first_token).await,
            "revokeTokens revoked the first secret's tokens"
        );

        // Regenerate: one new secret, the old ones stop working.
        let (s, regen) = api.call(M::POST, &format!("{keys_path}/regenerate-secret"), None).await;
        assert_eq!(s, StatusCode::OK);
        let new_secret = regen["consumerSecret"].as_str().unwrap();
        assert_eq!(api.token_status(&id, &second_secret).await, StatusCode::UNAUTHORIZED);
        assert_eq!(api.token_status(&id, new_secret).await, StatusCode::OK);

        // Map existing keys (a client registered directly at the resident server) into a second application.
        let (_, other) = api
            .call(
                M::POST,
                "/api/applications",
                Some(json!({"name": "legacy", "owner": "bob"})),
            )
            .await;
        let other_id = other["applicationId"].as_str().unwrap().to_owned();
        let registered: Value = api
            .http
            .post(format!("{}/oauth2/register", api.base))
            .bearer_auth(&api.admin)
            .json(&json!({"client_name": "pre-existing", "grant_types": ["client_credentials"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (legacy_id, legacy_secret) = (
            registered["client_id"].as_str().unwrap(),
            registered["client_secret"].as_str().unwrap(),
        );
        let map = format!("/api/applications/{other_id}/map-keys");
        let (s, refused) = api
            .call(
                M::POST,
                &map,
                Some(json!({"consumerKey": legacy_id, "consumerSecret": "wrong", "keyType": "PRODUCTION"})),
            )
            .await;
        // The keys' refusal, not the caller's: 400 invalid_client naming the field (issue 30).
        assert_eq!(s, StatusCode::BAD_REQUEST, "a wrong secret does not map: {refused}");
        assert_eq!(refused["message"], "invalid_client", "{refused}");
        let (s, mapped) = api
            .call(
                M::POST,
                &map,
                Some(json!({"consumerKey": legacy_id, "consumerSecret": legacy_secret,
                "keyManager": "Resident Key Manager", "keyType": "PRODUCTION"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{mapped}");
        assert_eq!(
            (mapped["consumerKey"].as_str(), mapped["keyOrigin"].as_str()),
            (Some(legacy_id), Some("MAPPED"))
        );

        // Delete the first application: its clients are deleted too.
        let (s, _) = api.call(M::DELETE, &format!("/api/applications/{app_id}"), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(api.token_status(&id, new_secret).await, StatusCode::UNAUTHORIZED);
        let (s, _) = api.call(M::GET, &format!("/api/applications/{app_id}"), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Deleting the second application only unmaps the client it did not create.
        let (s, _) = api
            .call(M::DELETE, &format!("/api/applications/{other_id}"), None)
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(api.token_status(legacy_id, legacy_secret).await, StatusCode::OK);

        // Missing and wrong admin tokens.
        for auth in [None, Some("wrong")] {
            let mut req = api.http.get(format!("{}/api/applications", api.base));
            if let Some(a) = auth {
                req = req.bearer_auth(a);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
            assert!(resp.headers().contains_key("www-authenticate"));
        }
        let resp = api
            .http
            .post(format!("{}/api/applications", api.base))
            .bearer_auth(&api.admin)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], 400);
    });
}
