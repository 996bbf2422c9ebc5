//! Gateway validation against raw signature verification, in one run:
//! (a) signature verification alone with the key parsed per call (as jsonwebtoken does), (a2) with the key parsed
//! once (as the validator now keeps it), (b) full `TokenValidator::validate` of a token never seen, (c) of a token
//! already seen.
//!
//! And DPoP (RFC 9449) in one run: (p) one proof check alone, (d) a DPoP-bound token never seen with its proof,
//! (e) a bound token already seen with a fresh proof, beside (a) the token's signature check alone.
//!
//! `cargo bench --bench validation --features validation`

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use keymanager::model::*;
use keymanager::registry::KeyManagers;
use keymanager::validation::{TokenValidator, ValidatorSettings};
use keymanager::KeyManager;
use keymanager_resident::{Algorithm, ResidentKeyManager, ResidentServer, ResidentSettings, Store};

/// Run a future that completes without waiting (the validator's warm paths do); fall back to a runtime otherwise.
fn now_or_block<F: Future>(rt: &tokio::runtime::Runtime, f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => rt.block_on(f),
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for alg in [Algorithm::Es256, Algorithm::Rs256] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (km, fresh_validator, seen_validator, tokens, jwks) = rt.block_on(async {
            let store = Store::connect(&format!("sqlite://{}", dir.path().join("km.db").display()), None)
                .await
                .expect("store");
            let settings = ResidentSettings {
                algorithm: alg,
                ..ResidentSettings::default()
            };
            let km = ResidentKeyManager::new(
                "Resident Key Manager",
                ResidentServer::open(settings, store).await.expect("server"),
            );
            let client = km
                .register_client(&ClientSpec::new("bench", KeyType::Production).with_scopes(["orders:read"]))
                .await
                .expect("client");
            let secret = client.client_secret.clone().expect("secret");
            let mut tokens = Vec::new();
            for _ in 0..2000 {
                let t = km
                    .issue_token(&TokenRequest::client_credentials(
                        client.client_id.clone(),
                        secret.clone(),
                    ))
                    .await
                    .expect("token");
                tokens.push(t.access_token.expose_secret().to_owned());
            }
            let mut kms = KeyManagers::default();
            kms.insert(Arc::new(km.clone()), &keymanager_resident::ResidentFactory)
                .expect("insert");
            // (b): nothing is remembered between validations (cache TTL 0), so each one is a fresh token's path.
            let fresh = TokenValidator::new(
                &kms,
                ValidatorSettings {
                    max_cache_ttl: std::time::Duration::ZERO,
                    ..ValidatorSettings::default()
                },
            )
            .expect("validator");
            let seen = TokenValidator::new(&kms, ValidatorSettings::default()).expect("validator");
            for t in &tokens {
                fresh.validate(t).await.expect("valid");
            }
            seen.validate(&tokens[0]).await.expect("valid");
            let jwks = km.jwks().await.expect("jwks").expect("some");
            (km, fresh, seen, tokens, jwks)
        });
        let _ = km;
        // (a) The signature check alone, with the same primitive jsonwebtoken uses (aws-lc-rs, key parsed per call).
        let token = &tokens[0];
        let (input, sig) = token.rsplit_once('.').expect("jwt");
        let sig = B64.decode(sig).expect("sig");
        let sig_parsed = sig.clone();
        let jwk = &jwks["keys"][0];
        let decode = |field: &str| B64.decode(jwk[field].as_str().expect("jwk field")).expect("base64url");
        let verify_alone: Box<dyn Fn() -> bool> = match alg {
            Algorithm::Es256 => {
                let mut point = vec![4u8];
                point.extend(decode("x"));
                point.extend(decode("y"));
                let key =
                    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED, point);
                Box::new(move || key.verify(input.as_bytes(), &sig).is_ok())
            }
            _ => {
                let (n, e) = (decode("n"), decode("e"));
                Box::new(move || {
                    aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e }
                        .verify(
                            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                            input.as_bytes(),
                            &sig,
                        )
                        .is_ok()
                })
            }
        };
        let parsed = match alg {
            Algorithm::Es256 => {
                let mut point = vec![4u8];
                point.extend(decode("x"));
                point.extend(decode("y"));
                aws_lc_rs::signature::ParsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED, point)
            }
            _ => {
                // PKCS#1 RSAPublicKey DER of (n, e), both short of 128 bytes of length prefix trouble: n is 256 bytes.
                let (n, e) = (decode("n"), decode("e"));
                let int = |v: &[u8]| {
                    let mut out = vec![0x02];
                    let pad = v[0] & 0x80 != 0;
                    let len = v.len() + usize::from(pad);
                    if len > 0xff {
                        out.extend([0x82, (len >> 8) as u8, len as u8]);
                    } else if len > 0x7f {
                        out.extend([0x81, len as u8]);
                    } else {
                        out.push(len as u8);
                    }
                    if pad {
                        out.push(0);
                    }
                    out.extend(v);
                    out
                };
                let body = [int(&n), int(&e)].concat();
                let mut der = vec![0x30, 0x82, (body.len() >> 8) as u8, body.len() as u8];
                der.extend(body);
                aws_lc_rs::signature::ParsedPublicKey::new(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256, der)
            }
        }
        .expect("parsed key");
        let mut group = c.benchmark_group(alg.as_str());
        group.bench_function("a_signature_verification_alone", |b| b.iter(|| assert!(verify_alone())));
        group.bench_function("a2_signature_verification_parsed_key", |b| {
            b.iter(|| assert!(parsed.verify_sig(input.as_bytes(), &sig_parsed).is_ok()))
        });
        group.bench_function("b_validate_fresh_token", |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % tokens.len();
                now_or_block(&rt, fresh_validator.validate(&tokens[i])).expect("valid")
            })
        });
        group.bench_function("c_validate_seen_token", |b| {
            b.iter(|| now_or_block(&rt, seen_validator.validate(&tokens[0])).expect("valid"))
        });
        group.finish();
    }
}

/// A key manager that signs DPoP-bound tokens with one ES256 key and publishes it (no HTTP).
struct BoundIssuer {
    key: keymanager_resident::SigningKey,
}

#[async_trait::async_trait]
impl KeyManager for BoundIssuer {
    fn name(&self) -> &str {
        "issuer"
    }
    fn kind(&self) -> &str {
        "resident"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    fn token_profile(&self) -> TokenProfile {
        TokenProfile {
            issuer: "https://issuer.example".into(),
            jwks_uri: None,
            introspection_endpoint: None,
            client_id_claim: "client_id".into(),
            scope_claim: ScopeClaim::SpaceSeparated("scope".into()),
            audience: None,
            algorithms: vec!["ES256".into()],
            access_token_typ: Some("at+jwt".into()),
        }
    }
    async fn register_client(&self, _: &ClientSpec) -> keymanager::Result<OAuthClient> {
        Err(keymanager::Error::unsupported("register_client"))
    }
    async fn get_client(&self, id: &ClientId) -> keymanager::Result<OAuthClient> {
        Err(keymanager::Error::not_found("client", id.as_str()))
    }
    async fn delete_client(&self, id: &ClientId) -> keymanager::Result<()> {
        Err(keymanager::Error::not_found("client", id.as_str()))
    }
    async fn issue_token(&self, _: &TokenRequest) -> keymanager::Result<AccessToken> {
        Err(keymanager::Error::unsupported("issue_token"))
    }
    async fn jwks(&self) -> keymanager::Result<Option<serde_json::Value>> {
        Ok(Some(serde_json::json!({"keys": [self.key.public_jwk()]})))
    }
}

fn bench_dpop(c: &mut Criterion) {
    use criterion::BatchSize;
    use keymanager::model::TokenScheme;
    use keymanager::validation::dpop::{check_proof, AccessTokenHash, ProofContext, ProofKey, ReplayGuard};
    use keymanager::validation::Presented;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (key, _) = keymanager_resident::SigningKey::generate(Algorithm::Es256).expect("key");
    let jwk = key.public_jwk();
    let issuer = Arc::new(BoundIssuer { key });
    let client_key = ProofKey::es256().expect("proof key");
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs() as i64
    };
    let tokens: Vec<String> = (0..2000)
        .map(|i| {
            let t = now();
            let claims = serde_json::json!({"iss": "https://issuer.example", "sub": "c1", "client_id": "c1",
                "scope": "orders:read", "iat": t, "exp": t + 3600, "jti": format!("AT.{i}"),
                "cnf": {"jkt": client_key.thumbprint()}});
            issuer.key.sign_jwt("at+jwt", &claims).expect("token")
        })
        .collect();
    let mut kms = KeyManagers::default();
    kms.insert(issuer.clone(), &keymanager_resident::ResidentFactory)
        .expect("insert");
    let fresh = TokenValidator::new(
        &kms,
        ValidatorSettings {
            max_cache_ttl: std::time::Duration::ZERO,
            ..ValidatorSettings::default()
        },
    )
    .expect("validator");
    let seen = TokenValidator::new(&kms, ValidatorSettings::default()).expect("validator");
    let uri = "https://api.example/orders";
    // Warm the key caches (and `seen`'s token cache): the tokens are valid, and refused only as bearer tokens.
    rt.block_on(async {
        for t in &tokens {
            fresh.validate(t).await.expect_err("bound");
        }
        seen.validate(&tokens[0]).await.expect_err("bound");
    });
    let token = &tokens[0];
    let (input, sig) = token.rsplit_once('.').expect("jwt");
    let sig = B64.decode(sig).expect("sig");
    let decode = |field: &str| B64.decode(jwk[field].as_str().expect("jwk field")).expect("base64url");
    let mut point = vec![4u8];
    point.extend(decode("x"));
    point.extend(decode("y"));
    let token_key_parsed =
        aws_lc_rs::signature::ParsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED, point.clone())
            .expect("parsed key");
    let token_key = aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED, point);
    let mut group = c.benchmark_group("DPoP_ES256");
    // Each proof is used once: keep the runs short enough that the replay guard never fills.
    group.warm_up_time(std::time::Duration::from_secs(1));
    group.measurement_time(std::time::Duration::from_secs(3));
    group.bench_function("a_token_signature_alone", |b| {
        b.iter(|| assert!(token_key.verify(input.as_bytes(), &sig).is_ok()))
    });
    // What a gateway holding the parsed key (as the JWKS cache does) pays for the signature alone.
    group.bench_function("a2_token_signature_parsed_key", |b| {
        b.iter(|| assert!(token_key_parsed.verify_sig(input.as_bytes(), &sig).is_ok()))
    });
    let guard = ReplayGuard::default();
    group.bench_function("p_proof_check_alone", |b| {
        b.iter_batched(
            || client_key.proof("GET", uri, now(), Some(token)),
            |proof| {
                let request = ProofContext {
                    method: "GET",
                    uri,
                    access_token: Some(AccessTokenHash::of(token)),
                    nonce: None,
                };
                check_proof(&proof, &request, now(), &guard).expect("proof")
            },
            BatchSize::SmallInput,
        )
    });
    let mut i = 0;
    group.bench_function("d_fresh_bound_token_with_proof", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % tokens.len();
                (i, client_key.proof("GET", uri, now(), Some(&tokens[i])))
            },
            |(i, proof)| {
                let presented = Presented {
                    scheme: TokenScheme::Dpop,
                    token: &tokens[i],
                    proof: Some(&proof),
                    method: "GET",
                    uri: Some(uri),
                    client_certificate: None,
                };
                now_or_block(&rt, fresh.validate_presented(&presented)).expect("valid")
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("e_seen_bound_token_with_fresh_proof", |b| {
        b.iter_batched(
            || client_key.proof("GET", uri, now(), Some(token)),
            |proof| {
                let presented = Presented {
                    scheme: TokenScheme::Dpop,
                    token,
                    proof: Some(&proof),
                    method: "GET",
                    uri: Some(uri),
                    client_certificate: None,
                };
                now_or_block(&rt, seen.validate_presented(&presented)).expect("valid")
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench, bench_dpop);
criterion_main!(benches);
