//! Okta's two error shapes (`errorCode` / `errorSummary` / `errorCauses`, and OAuth `error`), refined into the
//! core kinds.

use keymanager::connector_kit::http::{ErrorDialect, ErrorFields, OAuthErrors};
use keymanager::connector_kit::Error;
use serde::Deserialize;
use serde_json::Value;

use crate::bodies::ManagementError;

/// How Okta writes errors: its management API's `errorCode` / `errorSummary` / `errorCauses[].errorSummary`, its
/// OAuth endpoints' `error` / `error_description`; the request id in `X-Okta-Request-Id`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OktaErrors;

impl ErrorDialect for OktaErrors {
    fn request_id_header(&self) -> Option<&'static str> {
        Some("x-okta-request-id")
    }

    fn fields(&self, body: &Value) -> ErrorFields {
        let parsed = ManagementError::deserialize(body).unwrap_or_default();
        let Some(code) = parsed.error_code else {
            return OAuthErrors.fields(body);
        };
        ErrorFields {
            code: Some(code),
            message: parsed.error_summary,
            causes: parsed
                .error_causes
                .into_iter()
                .filter_map(|c| c.error_summary)
                .collect(),
        }
    }
}

/// Okta's limit on client secrets per app.
pub const MAX_SECRETS: u32 = 2;

/// Refine a generic provider error with Okta's codes; `resource` and `id` name what a 404 was about.
pub fn refine(e: Error, resource: &str, id: &str) -> Error {
    let Some(p) = e.provider().cloned() else {
        return e;
    };
    let causes = p.causes.join(" ");
    let refined = match p.code.as_deref() {
        Some("E0000007") => Error::not_found(resource, id),
        Some("E0000001") if causes.contains("maximum number of client secrets") => Error::limit_exceeded(
            format!("Okta keeps at most {MAX_SECRETS} secrets per client: {causes}"),
            Some(MAX_SECRETS),
        ),
        Some("E0000001")
            if causes.contains("can't delete an active client secret")
                || causes.contains("can't deactivate the only active client secret") =>
        {
            Error::conflict(causes)
        }
        _ => return e,
    };
    refined.with_provider(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keymanager::connector_kit::ProviderError;

    fn okta(status: u16, file: &str) -> Error {
        let path = format!("{}/../../fixtures/okta/examples/{file}", env!("CARGO_MANIFEST_DIR"));
        let body = std::fs::read(&path).unwrap();
        Error::from_provider(ProviderError::from_body_in(status, &body, None, &OktaErrors), None)
    }

    #[test]
    fn okta_error_shape_is_parsed_and_summarised() {
        let body = br#"{"errorCode":"E0000001","errorSummary":"Api validation failed: client_secret","errorLink":"E0000001","errorId":"oae1","errorCauses":[{"errorSummary":"client_secret: 'client_secret' must be at least '14' characters long."}]}"#;
        let p = ProviderError::from_body_in(400, body, Some("req-1".into()), &OktaErrors);
        assert_eq!(p.code.as_deref(), Some("E0000001"));
        assert_eq!(p.causes.len(), 1);
        assert!(p.summary().contains("at least '14'"));
        assert_eq!(Error::from_provider(p, None).kind(), "invalid_request");
        // Its OAuth endpoints answer in the standard shape.
        let p = ProviderError::from_body_in(
            401,
            br#"{"error":"invalid_client","error_description":"x"}"#,
            None,
            &OktaErrors,
        );
        assert_eq!(Error::from_provider(p, None).kind(), "unauthorized");
    }

    #[test]
    fn okta_codes_become_core_kinds() {
        assert!(
            matches!(refine(okta(404, "management.ErrorResourceNotFound.json"), "client", "0oa1"), Error::NotFound { ref id, .. } if id == "0oa1")
        );
        assert!(matches!(
            refine(okta(400, "management.ErrorMaxNumberOfSecrets.json"), "secret", ""),
            Error::LimitExceeded { limit: Some(2), .. }
        ));
        assert!(matches!(
            refine(okta(400, "management.ErrorDeleteActiveSecret.json"), "secret", ""),
            Error::Conflict { .. }
        ));
        assert!(matches!(
            refine(
                okta(400, "management.ErrorDeactivateTheOnlyClientSecret.json"),
                "secret",
                ""
            ),
            Error::Conflict { .. }
        ));
        match refine(okta(400, "management.ErrorApiValidationFailed.json"), "client", "") {
            Error::InvalidRequest { provider, .. } => assert_eq!(provider.unwrap().code.as_deref(), Some("E0000001")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            okta(401, "management.ErrorInvalidTokenProvided.json"),
            Error::Unauthorized { .. }
        ));
        assert!(matches!(
            okta(403, "management.ErrorAccessDenied.json"),
            Error::Forbidden { .. }
        ));
        assert!(matches!(
            okta(429, "management.ErrorTooManyRequests.json"),
            Error::RateLimited { .. }
        ));
        assert!(matches!(
            okta(401, "oauth.OAuthError401InvalidClient_InvalidClientId.json"),
            Error::Unauthorized { .. }
        ));
        assert!(matches!(
            okta(400, "oauth.OAuthError400InvalidScope_MissingScopes.json"),
            Error::InvalidScope { .. }
        ));
        assert!(matches!(
            okta(400, "oauth.ErrorInvalidClientMetadata.json"),
            Error::InvalidRequest { .. }
        ));
    }
}
