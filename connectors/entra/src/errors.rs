//! Microsoft's two error shapes — Graph's `{"error": {"code", "message", "details": [{"code"}]}}` and the identity
//! platform's OAuth `{error, error_description, error_codes}` — refined into the core kinds.

use keymanager::connector_kit::http::{ErrorDialect, ErrorFields, OAuthErrors};
use keymanager::connector_kit::Error;
use serde::Deserialize;
use serde_json::Value;

use crate::bodies::ODataError;

/// How Microsoft writes errors. A Graph error's code is `error.code` (`Request_ResourceNotFound`), its causes the
/// `details[].code` (`NoBackingApplicationObject`); clients branch on codes, never on messages. Graph sends the
/// request id as `request-id`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GraphErrors;

impl ErrorDialect for GraphErrors {
    fn request_id_header(&self) -> Option<&'static str> {
        Some("request-id")
    }

    fn fields(&self, body: &Value) -> ErrorFields {
        match ODataError::deserialize(body).ok().and_then(|e| e.error) {
            Some(e) if !e.code.is_empty() => ErrorFields {
                code: Some(e.code),
                message: Some(e.message),
                causes: e.details.into_iter().map(|d| d.code).collect(),
            },
            _ => OAuthErrors.fields(body),
        }
    }
}

/// Whether Graph refused because an object made a moment ago has not replicated yet (PROVIDERS-2 §E9): a 404
/// `Request_ResourceNotFound`, or a 400 whose details say `NoBackingApplicationObject`. Nothing was made, so the
/// call may be sent again.
pub(crate) fn not_replicated_yet(e: &Error) -> bool {
    let Some(p) = e.provider() else {
        return matches!(e, Error::NotFound { .. });
    };
    p.status == 404
        || p.code.as_deref() == Some("Request_ResourceNotFound")
        || p.causes.iter().any(|c| c == "NoBackingApplicationObject")
}

/// Refine a provider error: a missing object names `resource` `id`.
pub(crate) fn refine(e: Error, resource: &str, id: &str) -> Error {
    match e.provider() {
        Some(p) if p.status == 404 || p.code.as_deref() == Some("Request_ResourceNotFound") => {
            Error::not_found(resource, id)
        }
        _ => e,
    }
}
