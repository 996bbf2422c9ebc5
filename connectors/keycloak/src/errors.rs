//! Keycloak's error answers: how its bodies read, and a 404 refined into the resource it was about.

use keymanager::connector_kit::Error;
use serde_json::Value;

/// A 404 named for what it was about (`client`, `scope`) and its id.
pub(crate) fn refine(e: Error, resource: &str, id: &str) -> Error {
    match e {
        Error::NotFound { provider, .. } => {
            let refined = Error::not_found(resource, id);
            match provider {
                Some(answer) => refined.with_provider(*answer),
                None => refined,
            }
        }
        other => other,
    }
}

/// How Keycloak writes errors: the admin REST API's `errorMessage` (and, on validation failures, `error` plus
/// `error_description`), the OAuth endpoints' `error` / `error_description`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeycloakErrors;

/// `ErrorRepresentation` of the admin API, with the OAuth fields its validation failures add.
#[derive(Debug, Default, serde::Deserialize)]
struct ErrorRepresentation {
    #[serde(rename = "errorMessage")]
    error_message: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl keymanager::connector_kit::http::ErrorDialect for KeycloakErrors {
    fn fields(&self, body: &Value) -> keymanager::connector_kit::http::ErrorFields {
        use serde::Deserialize;
        let parsed = ErrorRepresentation::deserialize(body).unwrap_or_default();
        keymanager::connector_kit::http::ErrorFields {
            code: parsed.error,
            message: parsed.error_description.or(parsed.error_message),
            causes: Vec::new(),
        }
    }
}
