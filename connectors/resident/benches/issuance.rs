//! Token issuance in-process (client authentication + scope check + signing) against JWT signing alone.
//!
//! `cargo bench -p keymanager-resident --bench issuance`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keymanager::model::{ClientSpec, KeyType, TokenRequest};
use keymanager::KeyManager;
use keymanager_resident::{
    Algorithm, ResidentKeyManager, ResidentServer, ResidentSettings, SigningKey, Store, ACCESS_TOKEN_TYP,
};
use serde_json::json;

fn claims() -> serde_json::Value {
    json!({
        "iss": "http://127.0.0.1:9443", "sub": "WV0T_oB_nOzXmaKIYh_Kuw", "aud": "http://127.0.0.1:9443",
        "exp": 1_795_425_029, "iat": 1_795_421_429, "nbf": 1_795_421_429, "jti": "o6mFX0Be85VF7rieY-6lZg",
        "client_id": "WV0T_oB_nOzXmaKIYh_Kuw", "scope": "orders:read", "secret_id": "BLPgr6bGjro0m1xb",
    })
}

fn signing_alone(c: &mut Criterion) {
    let mut group = c.benchmark_group("sign_jwt");
    group.throughput(Throughput::Elements(1));
    for alg in [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa] {
        let (key, _) = SigningKey::generate(alg).expect("key");
        let claims = claims();
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| key.sign_jwt(ACCESS_TOKEN_TYP, &claims).expect("sign"))
        });
    }
    group.finish();
}

fn issuance(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (km, request) = rt.block_on(async {
        let store = Store::connect(&url, None).await.expect("store");
        let server = ResidentServer::open(ResidentSettings::default(), store)
            .await
            .expect("server");
        let km = ResidentKeyManager::new("bench", server);
        let client = km
            .register_client(&ClientSpec::new("bench", KeyType::Production).with_scopes(["orders:read"]))
            .await
            .expect("client");
        let secret = client.client_secret.clone().expect("secret");
        let request = TokenRequest::client_credentials(client.client_id, secret).with_scopes(["orders:read"]);
        (km, request)
    });
    let mut group = c.benchmark_group("issue_token");
    group.throughput(Throughput::Elements(1));
    group.bench_function("client_credentials ES256 sqlite", |b| {
        b.iter(|| rt.block_on(km.issue_token(&request)).expect("token"))
    });
    group.finish();
}

criterion_group!(benches, signing_alone, issuance);
criterion_main!(benches);
