//! An application's keys: generating them, secrets (created, deleted, regenerated, shown once), trying a token,
//! and removing the keys.

use super::applications::{application_page, key_type_of};
use super::*;

fn back_to(app: &str, key_type: &str) -> String {
    format!("/portal/applications/{}?keyType={key_type}", seg(app))
}

/// `POST /portal/applications/{id}/generate-keys`.
pub(in crate::portal) async fn generate_keys(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path(app): Path<String>,
    HtmlForm(f): HtmlForm<NewKeys>,
) -> Response {
    let c = match form_ctx(&p, &headers, origin, &f) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let key_type = key_type_of(Some(f.key_type.trim()));
    let km = f.key_manager.trim().to_owned();
    let callback = f.callback_url.trim();
    let path = format!("/api/applications/{}/generate-keys", seg(&app));
    let answer = match scopes_field(&f.scopes) {
        Ok(scopes) => {
            let body = GenerateKeysDto {
                key_type: key_type.to_ascii_uppercase(),
                key_manager: Some(km.clone()),
                grant_types_to_be_supported: f.grant_types_to_be_supported.clone(),
                callback_url: Some(callback.to_owned()).filter(|c| !c.is_empty()),
                scopes,
                validity_time: None,
                pkce_mandatory: f.pkce_mandatory,
                pkce_support_plain: f.pkce_support_plain,
                bypass_client_credentials: f.bypass_client_credentials,
                additional_properties: Default::default(),
                generate_token: false,
            };
            send::<KeyDto, _>(&p, &c, Method::POST, &path, &body).await
        }
        Err(e) => Err(e),
    };
    match answer {
        Ok(k) => match &k.consumer_secret {
            Some(secret) => {
                let flash = Flash::Secret {
                    title: "Keys generated".into(),
                    back: back_to(&app, key_type),
                    consumer_key: Some(k.consumer_key.clone()),
                    secret: secret.clone(),
                    shown_again: shows_secrets_again(&p, &c, &km).await,
                };
                show_once(&p, &c, flash)
            }
            None => Redirect::to(&back_to(&app, key_type)).into_response(),
        },
        Err(Failure::SignIn) => failed(Failure::SignIn),
        Err(e) => {
            let form = Form {
                failure: Some(&e),
                values: vec![
                    ("callbackUrl", callback.to_owned()),
                    ("scopes", f.scopes.trim().to_owned()),
                ],
            };
            application_page(&p, &c, &app, key_type, &form, Some(&km)).await
        }
    }
}

fn keys_path(app: &str, mapping: &str) -> String {
    format!("/api/applications/{}/oauth-keys/{}", seg(app), seg(mapping))
}

/// Why a form on keys cannot go on.
enum KeysRefusal {
    NoCtx(NoCtx),
    Failed(Failure),
}

impl IntoResponse for KeysRefusal {
    fn into_response(self) -> Response {
        match self {
            KeysRefusal::NoCtx(n) => n.into_response(),
            KeysRefusal::Failed(f) => failed(f),
        }
    }
}

/// A form on an application's keys: the caller (CSRF checked) and the keys as they are now.
async fn keys_form(
    p: &PortalState,
    headers: &HeaderMap,
    origin: Origin,
    f: &impl Csrf,
    app: &str,
    mapping: &str,
) -> Result<(Ctx, KeyDto), KeysRefusal> {
    let c = form_ctx(p, headers, origin, f).map_err(KeysRefusal::NoCtx)?;
    let k = call(p, &c, Method::GET, &keys_path(app, mapping), None)
        .await
        .map_err(KeysRefusal::Failed)?;
    Ok((c, k))
}

/// `POST /portal/applications/{id}/keys/{mapping}/secrets`: add a secret.
pub(in crate::portal) async fn create_secret(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path((app, mapping)): Path<(String, String)>,
    HtmlForm(f): HtmlForm<NewSecret>,
) -> Response {
    let (c, k) = match keys_form(&p, &headers, origin, &f, &app, &mapping).await {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let key_type = key_type_of(Some(&k.key_type));
    let days = f.expires_in_days.trim();
    let description = f.description.trim();
    let expires_in = match days {
        "" => Ok(None),
        d => match d.parse::<u64>() {
            Ok(n) if (1..=3650).contains(&n) => Ok(Some(n * 86_400)),
            _ => Err(local("expiresInDays", "a whole number of days from 1 to 3650")),
        },
    };
    let created = match expires_in {
        Ok(expires_in) => {
            let body = CreateSecretDto {
                description: Some(description.to_owned()).filter(|d| !d.is_empty()),
                expires_in,
            };
            send::<CreatedSecretDto, _>(
                &p,
                &c,
                Method::POST,
                &format!("{}/secrets", keys_path(&app, &mapping)),
                &body,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(s) => {
            let flash = Flash::Secret {
                title: "Secret added".into(),
                back: back_to(&app, key_type),
                consumer_key: None,
                secret: s.secret_value.clone(),
                shown_again: shows_secrets_again(&p, &c, &k.key_manager).await,
            };
            show_once(&p, &c, flash)
        }
        Err(Failure::SignIn) => failed(Failure::SignIn),
        Err(e) => {
            // The API names `expiresIn`; the form asks for days.
            let form = Form {
                failure: Some(&e),
                values: vec![
                    ("description", description.to_owned()),
                    ("expiresInDays", days.to_owned()),
                ],
            };
            application_page(&p, &c, &app, key_type, &form, Some(&k.key_manager)).await
        }
    }
}

/// `POST /portal/applications/{id}/keys/{mapping}/secrets/{secret}/delete`.
pub(in crate::portal) async fn delete_secret(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path((app, mapping, secret)): Path<(String, String, String)>,
    HtmlForm(f): HtmlForm<DeleteSecret>,
) -> Response {
    let (c, k) = match keys_form(&p, &headers, origin, &f, &app, &mapping).await {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let key_type = key_type_of(Some(&k.key_type));
    let path = format!(
        "{}/secrets/{}?revokeTokens={}",
        keys_path(&app, &mapping),
        seg(&secret),
        f.revoke_tokens
    );
    match call::<Value>(&p, &c, Method::DELETE, &path, None).await {
        Ok(_) => Redirect::to(&back_to(&app, key_type)).into_response(),
        Err(e) => failed(e),
    }
}

/// `POST /portal/applications/{id}/keys/{mapping}/regenerate`.
pub(in crate::portal) async fn regenerate(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path((app, mapping)): Path<(String, String)>,
    HtmlForm(f): HtmlForm<CsrfOnly>,
) -> Response {
    let (c, k) = match keys_form(&p, &headers, origin, &f, &app, &mapping).await {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let key_type = key_type_of(Some(&k.key_type));
    let path = format!("{}/regenerate-secret", keys_path(&app, &mapping));
    match call::<RegeneratedDto>(&p, &c, Method::POST, &path, None).await {
        Ok(r) => match r.consumer_secret {
            Some(s) => {
                let flash = Flash::Secret {
                    title: "Secret regenerated".into(),
                    back: back_to(&app, key_type),
                    consumer_key: Some(r.consumer_key.clone()),
                    secret: s,
                    shown_again: shows_secrets_again(&p, &c, &k.key_manager).await,
                };
                show_once(&p, &c, flash)
            }
            None => Redirect::to(&back_to(&app, key_type)).into_response(),
        },
        Err(e) => failed(e),
    }
}

/// Whether the key manager named `km` shows its clients' secrets again (`client_secret_storage = "retrievable"`);
/// `false` when that cannot be told, so the page never promises what it cannot keep.
async fn shows_secrets_again(p: &PortalState, c: &Ctx, km: &str) -> bool {
    match call::<ListDto<KeyManagerDto>>(p, c, Method::GET, "/api/key-managers", None).await {
        Ok(list) => list
            .list
            .iter()
            .any(|k| k.name == km && k.capabilities.retrievable_secrets),
        Err(_) => false,
    }
}

/// The claims of a JWT, decoded for people to read (not verified: the token came from the key manager just now).
pub(super) fn claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// `POST /portal/applications/{id}/keys/{mapping}/token`: try it.
pub(in crate::portal) async fn try_token(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path((app, mapping)): Path<(String, String)>,
    HtmlForm(f): HtmlForm<TryToken>,
) -> Response {
    let (c, k) = match keys_form(&p, &headers, origin, &f, &app, &mapping).await {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let key_type = key_type_of(Some(&k.key_type));
    let validity = f.validity_period.trim();
    let validity = match validity {
        "" => Ok(None),
        v => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=86_400 * 365).contains(n))
            .map(Some)
            .ok_or_else(|| local("validityPeriod", "a whole number of seconds from 1 to 31536000")),
    };
    let secret = f.consumer_secret.trim();
    let issued = match validity.and_then(|validity| Ok((validity, scopes_field(&f.scopes)?))) {
        Ok((validity, scopes)) => {
            let body = GenerateTokenDto {
                consumer_secret: Some(secret.to_owned()).filter(|s| !s.is_empty()),
                validity_period: validity,
                scopes,
                ..Default::default()
            };
            send::<TokenDto, _>(
                &p,
                &c,
                Method::POST,
                &format!("{}/generate-token", keys_path(&app, &mapping)),
                &body,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match issued {
        Ok(t) => show_once(
            &p,
            &c,
            Flash::Token {
                back: back_to(&app, key_type),
                access_token: t.access_token.clone(),
                scopes: t.token_scopes.clone(),
                validity: t.validity_time,
            },
        ),
        Err(Failure::SignIn) => failed(Failure::SignIn),
        Err(e) => {
            let form = Form {
                failure: Some(&e),
                values: vec![
                    ("scopes", f.scopes.trim().to_owned()),
                    ("validityPeriod", f.validity_period.trim().to_owned()),
                ],
            };
            application_page(&p, &c, &app, key_type, &form, Some(&k.key_manager)).await
        }
    }
}

/// `POST /portal/applications/{id}/keys/{mapping}/delete`: remove the keys.
pub(in crate::portal) async fn delete_keys(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path((app, mapping)): Path<(String, String)>,
    HtmlForm(f): HtmlForm<CsrfOnly>,
) -> Response {
    let (c, k) = match keys_form(&p, &headers, origin, &f, &app, &mapping).await {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let key_type = key_type_of(Some(&k.key_type));
    match call::<Value>(&p, &c, Method::DELETE, &keys_path(&app, &mapping), None).await {
        Ok(_) => Redirect::to(&back_to(&app, key_type)).into_response(),
        Err(e) => failed(e),
    }
}
