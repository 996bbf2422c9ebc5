//! The RFC 7591 request body for a client spec (answers are read by `keymanager::connector_kit::oauth::registration`).

use keymanager::connector_kit::model::{ClientSpec, GrantType};
use serde_json::{json, Value};

/// The RFC 7591 §2 request body for a spec (`client_id` added for RFC 7592 updates).
pub fn request_body(spec: &ClientSpec, client_id: Option<&str>) -> Value {
    let response_types: Vec<&str> = if spec.grant_types.contains(&GrantType::AuthorizationCode) {
        vec!["code"]
    } else {
        vec![]
    };
    let mut body = json!({
        "client_name": spec.name,
        "grant_types": spec.grant_types,
        "redirect_uris": spec.redirect_uris,
        "response_types": response_types,
        "token_endpoint_auth_method": spec.token_endpoint_auth_method().as_str(),
    });
    if let Some(obj) = body.as_object_mut() {
        // RFC 7591 §2: `scope` is optional; an empty one is refused by some providers (oidc-provider).
        if !spec.scopes.is_empty() {
            obj.insert("scope".into(), spec.scopes.to_string().into());
        }
        for (k, v) in &spec.additional_properties {
            obj.insert(k.clone(), v.clone());
        }
        if let Some(id) = client_id {
            obj.insert("client_id".into(), id.into());
        }
    }
    body
}
