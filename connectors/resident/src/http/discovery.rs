//! Authorization server metadata (RFC 8414, OpenID Connect Discovery 1.0) and the JWKS. The document is built from
//! `openidconnect`'s provider metadata types, so every OpenID client library reads it as a complete provider's; the
//! members those types lack are [`ExtraMetadata`].

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use keymanager::connector_kit::oauth::discovery::{ExtraMetadata, OpenIdMetadata};
use keymanager::connector_kit::Result;
use openidconnect::core::{
    CoreClaimName, CoreClientAuthMethod, CoreGrantType, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AuthUrl, IssuerUrl, JsonWebKeySetUrl, RegistrationUrl, ResponseTypes, Scope, TokenUrl, UserInfoUrl,
};

use super::errors::server_error;
use super::AppState;
use crate::signing::Algorithm;

/// The `private_key_jwt` algorithms this server verifies, as the metadata types name them (it also takes RFC 9864's
/// `Ed25519` for EdDSA, which those types cannot list).
const CLIENT_ASSERTION_ALGORITHMS: [CoreJwsSigningAlgorithm; 3] = [
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::EdDsa,
];

fn jws(alg: Algorithm) -> CoreJwsSigningAlgorithm {
    match alg {
        Algorithm::Es256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        Algorithm::Rs256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Algorithm::EdDsa => CoreJwsSigningAlgorithm::EdDsa,
    }
}

fn strings(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|s| (*s).to_owned()).collect())
}

/// This server's metadata.
pub(crate) fn document(app: &AppState) -> Result<OpenIdMetadata> {
    let base = &app.server.settings().issuer;
    let url = |path: &str| format!("{base}{path}");
    let bad = |e: openidconnect::url::ParseError| {
        keymanager::connector_kit::Error::storage(format!("the issuer `{base}` does not make endpoint URLs: {e}"))
    };
    let algorithms: Vec<CoreJwsSigningAlgorithm> = app.server.keys().algorithms().into_iter().map(jws).collect();
    // RFC 8705's methods only where the server asks TLS clients for certificates.
    let mtls = app.server.settings().client_certificates;
    let tls_methods: &[&str] = if mtls {
        &["tls_client_auth", "self_signed_tls_client_auth"]
    } else {
        &[]
    };
    let secret_methods: Vec<&str> = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
        .into_iter()
        .chain(tls_methods.iter().copied())
        .collect();
    let assertion_algorithms: Vec<String> = ["ES256", "RS256", "EdDSA", "Ed25519"].map(str::to_owned).to_vec();
    let extra = ExtraMetadata {
        introspection_endpoint: Some(url("/oauth2/introspect")),
        revocation_endpoint: Some(url("/oauth2/revoke")),
        code_challenge_methods_supported: strings(&["S256", "plain"]),
        end_session_endpoint: Some(url("/oauth2/logout")),
        authorization_response_iss_parameter_supported: Some(true),
        prompt_values_supported: strings(&["none", "login", "consent", "select_account"]),
        introspection_endpoint_auth_methods_supported: strings(&secret_methods),
        introspection_endpoint_auth_signing_alg_values_supported: Some(assertion_algorithms.clone()),
        revocation_endpoint_auth_methods_supported: strings(
            &secret_methods.iter().copied().chain(["none"]).collect::<Vec<_>>(),
        ),
        revocation_endpoint_auth_signing_alg_values_supported: Some(assertion_algorithms),
        dpop_signing_alg_values_supported: strings(&keymanager::connector_kit::model::DPOP_SIGNING_ALG_VALUES),
        pushed_authorization_request_endpoint: Some(url("/oauth2/par")),
        require_pushed_authorization_requests: Some(app.server.settings().require_pushed_authorization_requests),
        tls_client_certificate_bound_access_tokens: mtls.then_some(true),
    };
    let meta = OpenIdMetadata::new(
        IssuerUrl::new(base.clone()).map_err(bad)?,
        AuthUrl::new(url("/oauth2/authorize")).map_err(bad)?,
        JsonWebKeySetUrl::new(url("/oauth2/jwks")).map_err(bad)?,
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        algorithms,
        extra,
    )
    .set_token_endpoint(Some(TokenUrl::new(url("/oauth2/token")).map_err(bad)?))
    .set_userinfo_endpoint(Some(UserInfoUrl::new(url("/oauth2/userinfo")).map_err(bad)?))
    .set_registration_endpoint(Some(RegistrationUrl::new(url("/oauth2/register")).map_err(bad)?))
    .set_grant_types_supported(Some(vec![
        CoreGrantType::ClientCredentials,
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
        CoreGrantType::Password,
        CoreGrantType::Extension("urn:ietf:params:oauth:grant-type:token-exchange".into()),
    ]))
    .set_response_modes_supported(Some(vec![CoreResponseMode::Query]))
    .set_scopes_supported(Some(
        ["openid", "profile", "email", "offline_access"]
            .map(|s| Scope::new(s.to_owned()))
            .to_vec(),
    ))
    .set_claims_supported(Some(
        [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "azp",
            "sid",
            "name",
            "email",
            "email_verified",
        ]
        .map(|c| CoreClaimName::new(c.to_owned()))
        .to_vec(),
    ))
    .set_token_endpoint_auth_methods_supported(Some(
        [
            CoreClientAuthMethod::ClientSecretBasic,
            CoreClientAuthMethod::ClientSecretPost,
            CoreClientAuthMethod::PrivateKeyJwt,
            CoreClientAuthMethod::None,
        ]
        .into_iter()
        .chain(
            tls_methods
                .iter()
                .map(|m| CoreClientAuthMethod::Extension((*m).to_owned())),
        )
        .collect(),
    ))
    .set_token_endpoint_auth_signing_alg_values_supported(Some(CLIENT_ASSERTION_ALGORITHMS.to_vec()));
    Ok(meta)
}

pub(crate) async fn metadata(State(app): State<AppState>) -> axum::response::Response {
    match document(&app) {
        Ok(doc) => Json(doc).into_response(),
        Err(e) => server_error(e).into_response(),
    }
}

pub(crate) async fn jwks(State(app): State<AppState>) -> axum::response::Response {
    match app.server.keys().jwks().await {
        Ok(doc) => ([(header::CACHE_CONTROL, "public, max-age=300")], Json(doc)).into_response(),
        Err(e) => server_error(e).into_response(),
    }
}
