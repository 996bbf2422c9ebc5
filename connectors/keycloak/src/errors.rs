//! Keycloak's error answers: how its bodies read, and a 404 refined into the resource it was about.

use keymanager::Error;
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

impl keymanager::http::ErrorDialect for KeycloakErrors {
    fn fields(&self, body: &serde_json::Map<String, Value>) -> keymanager::http::ErrorFields {
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let message = text("error_description").or_else(|| text("errorMessage"));
        keymanager::http::ErrorFields {
            code: text("error"),
            message,
            causes: Vec::new(),
        }
    }
}
