//! Auth0's two error shapes — the Management API's `{statusCode, error, message, errorCode}` and the Authentication
//! API's OAuth `{error, error_description}` — refined into the core kinds.

use keymanager::connector_kit::http::{ErrorDialect, ErrorFields, OAuthErrors};
use keymanager::connector_kit::Error;
use serde::Deserialize;
use serde_json::Value;

use crate::bodies::ManagementError;

/// How Auth0 writes errors. A Management API error is recognised by its `statusCode`; its code is `errorCode` when
/// present (`inexistent_client`, `insufficient_scope`, `invalid_body`), else the HTTP reason in `error`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Auth0Errors;

impl ErrorDialect for Auth0Errors {
    fn request_id_header(&self) -> Option<&'static str> {
        None
    }

    fn fields(&self, body: &Value) -> ErrorFields {
        let parsed = ManagementError::deserialize(body).unwrap_or_default();
        if parsed.status_code.is_none() {
            return OAuthErrors.fields(body);
        }
        ErrorFields {
            code: parsed.error_code.or(parsed.error),
            message: parsed.message,
            causes: Vec::new(),
        }
    }
}

/// Refine a provider error: a 404 names what was missing (`resource` `id`), a 409 is a conflict.
pub(crate) fn refine(e: Error, resource: &str, id: &str) -> Error {
    let Some(p) = e.provider().cloned() else {
        return e;
    };
    match (p.status, p.code.as_deref()) {
        (404, _) | (_, Some("inexistent_client")) => Error::not_found(resource, id),
        (409, _) => Error::conflict(p.message.unwrap_or_else(|| format!("the {resource} exists at Auth0"))),
        _ => e,
    }
}
