//! The server embedded in an application's own axum router: `serve::app` builds what `keymanager serve` serves, the
//! application adds a route of its own and serves both on its own listener.

#[tokio::test]
async fn an_application_serves_keymanager_beside_its_own_routes() {
    let dir = tempfile::tempdir().unwrap();
    let config = keymanager_server::setup::load_config(None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let built = keymanager_server::serve::app(&config, dir.path(), &base, &base)
        .await
        .unwrap();
    assert!(
        built.banner.iter().any(|l| l.contains("key manager")),
        "{:?}",
        built.banner
    );
    let app = axum::Router::new()
        .route("/mine", axum::routing::get(|| async { "my own route" }))
        .merge(built.router);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let http = reqwest::Client::new();
    let mine = http.get(format!("{base}/mine")).send().await.unwrap();
    assert_eq!(mine.text().await.unwrap(), "my own route");
    let ready = http.get(format!("{base}/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let discovery: serde_json::Value = http
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], base.as_str());
    // The management API answers with the admin token the server generated into the data directory.
    let admin = std::fs::read_to_string(dir.path().join("admin-token")).unwrap();
    let apps = http
        .get(format!("{base}/api/applications"))
        .bearer_auth(admin.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(apps.status(), 200);
}
