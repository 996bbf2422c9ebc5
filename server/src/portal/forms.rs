//! The portal's forms, one type each, read from `application/x-www-form-urlencoded` bodies ([`HtmlForm`]): what a
//! handler may read of a form is what its type declares, and every form carries the session's CSRF token ([`Csrf`]).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::pages;

/// An HTML form body (`application/x-www-form-urlencoded`) read into its type, repeated names (checkboxes) into a
/// `Vec`; a body that does not fit is a `400` page.
pub(super) struct HtmlForm<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for HtmlForm<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        serde_html_form::from_bytes(&bytes).map(HtmlForm).map_err(|e| {
            pages::problem(
                StatusCode::BAD_REQUEST,
                &format!("This form could not be read ({e}). Go back, reload the page and try again."),
            )
        })
    }
}

/// Every portal form carries the session's CSRF token.
pub(super) trait Csrf {
    fn csrf(&self) -> &str;
}

macro_rules! csrf_forms {
    ($($form:ty),*) => {
        $(impl Csrf for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })*
    };
}

csrf_forms!(CsrfOnly, Named, NewKeys, NewSecret, DeleteSecret, TryToken);

/// A form with only its CSRF token (sign out, regenerate, delete).
#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

/// A form that names something and says what it is: `POST /portal/applications` (an application),
/// `POST /portal/key-managers/{km}/scopes` (a scope).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Named {
    pub(super) csrf: String,
    pub(super) name: String,
    pub(super) description: String,
}

/// `POST /portal/applications/{id}/generate-keys`: the checkboxes are present (`true`) or absent.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct NewKeys {
    pub(super) csrf: String,
    pub(super) key_type: String,
    pub(super) key_manager: String,
    pub(super) callback_url: String,
    pub(super) scopes: String,
    pub(super) grant_types_to_be_supported: Vec<String>,
    pub(super) pkce_mandatory: bool,
    pub(super) pkce_support_plain: bool,
    pub(super) bypass_client_credentials: bool,
}

/// `POST /portal/applications/{id}/keys/{mapping}/secrets`.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct NewSecret {
    pub(super) csrf: String,
    pub(super) description: String,
    /// Days, as typed: checked here, so the refusal names this field.
    pub(super) expires_in_days: String,
}

/// `POST /portal/applications/{id}/keys/{mapping}/secrets/{secret}/delete`.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct DeleteSecret {
    pub(super) csrf: String,
    pub(super) revoke_tokens: bool,
}

/// `POST /portal/applications/{id}/keys/{mapping}/token`.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct TryToken {
    pub(super) csrf: String,
    /// Seconds, as typed: checked here, so the refusal names this field.
    pub(super) validity_period: String,
    pub(super) consumer_secret: String,
    pub(super) scopes: String,
}
