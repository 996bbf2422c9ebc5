//! RFC 7591 client metadata to and from the generic model.

use keymanager::model::{ClientId, ClientSecret, ClientSpec, GrantType, OAuthClient};
use keymanager::{Error, Result};
use serde_json::{json, Map, Value};

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
        "scope": spec.scopes.join(" "),
        "token_endpoint_auth_method": spec.token_endpoint_auth_method().as_str(),
    });
    if let Some(obj) = body.as_object_mut() {
        for (k, v) in &spec.additional_properties {
            obj.insert(k.clone(), v.clone());
        }
        if let Some(id) = client_id {
            obj.insert("client_id".into(), id.into());
        }
    }
    body
}

/// The generic client from an RFC 7591 / 7592 answer.
pub fn client_from(body: &Map<String, Value>) -> Result<OAuthClient> {
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let list = |k: &str| -> Vec<String> {
        body.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let client_id = text("client_id").ok_or_else(|| Error::MalformedResponse {
        url: "registration endpoint".into(),
        path: "client_id".into(),
        message: "the answer has no client_id".into(),
    })?;
    let mut additional = Map::new();
    for k in ["application_type", "client_uri", "logo_uri"] {
        if let Some(v) = body.get(k).filter(|v| !v.is_null()) {
            additional.insert(k.into(), v.clone());
        }
    }
    Ok(OAuthClient {
        client_id: ClientId::new(client_id),
        client_secret: text("client_secret").map(ClientSecret::new),
        name: text("client_name").unwrap_or_default(),
        grant_types: list("grant_types")
            .iter()
            .map(|g| {
                let Ok(g) = g.parse::<GrantType>();
                g
            })
            .collect(),
        redirect_uris: list("redirect_uris"),
        scopes: text("scope")
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        public_client: text("token_endpoint_auth_method").as_deref() == Some("none"),
        pkce: Default::default(),
        access_token_lifetime: None,
        refresh_token_lifetime: None,
        created_at: body.get("client_id_issued_at").and_then(Value::as_i64),
        additional_properties: additional,
    })
}
