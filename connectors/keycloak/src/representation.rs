//! The generic client as Keycloak's `ClientRepresentation` (admin API) and back.

use keymanager::model::{ClientId, ClientSpec, GrantType, OAuthClient, PkcePolicy};
use serde_json::{json, Map, Value};

/// A `clientId` for a new client: the name as a slug, with a suffix that keeps it unique.
pub fn client_id_for(name: &str, suffix: &str) -> String {
    let mut slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while slug.contains("--") {
        slug = slug.replace("--", "-");
    }
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "client" } else { slug };
    format!("{}-{suffix}", &slug[..slug.len().min(40)])
}

/// The representation to create or update a client (admin API). Grant types map to Keycloak's flow switches;
/// PKCE, the device grant, refresh tokens and the token lifetime to client attributes (strings).
pub fn representation(spec: &ClientSpec, client_id: &str, with_scopes: bool) -> Value {
    let has = |g: GrantType| spec.grant_types.contains(&g);
    let mut attributes = Map::new();
    attributes.insert(
        "oauth2.device.authorization.grant.enabled".into(),
        has(GrantType::DeviceCode).to_string().into(),
    );
    attributes.insert(
        "use.refresh.tokens".into(),
        has(GrantType::RefreshToken).to_string().into(),
    );
    let pkce = match spec.pkce {
        PkcePolicy {
            required: true,
            allow_plain: true,
        } => "plain",
        PkcePolicy {
            required: true,
            allow_plain: false,
        } => "S256",
        _ => "",
    };
    attributes.insert("pkce.code.challenge.method".into(), pkce.into());
    if let Some(l) = spec.access_token_lifetime {
        attributes.insert("access.token.lifespan".into(), l.to_string().into());
    }
    let mut rep = json!({
        "clientId": client_id,
        "name": spec.name,
        "protocol": "openid-connect",
        "enabled": true,
        "publicClient": spec.public_client,
        "standardFlowEnabled": has(GrantType::AuthorizationCode),
        "implicitFlowEnabled": has(GrantType::Implicit),
        "directAccessGrantsEnabled": has(GrantType::Password),
        "serviceAccountsEnabled": has(GrantType::ClientCredentials),
        "redirectUris": spec.redirect_uris,
        "webOrigins": [],
        "attributes": attributes,
    });
    if let Some(obj) = rep.as_object_mut() {
        if !spec.public_client {
            obj.insert("clientAuthenticatorType".into(), "client-secret".into());
        }
        if with_scopes {
            obj.insert("optionalClientScopes".into(), json!(spec.scopes));
        }
    }
    rep
}

/// The generic client from a representation.
pub fn client_from(rep: &Value) -> OAuthClient {
    let flag = |k: &str| rep.get(k).and_then(Value::as_bool).unwrap_or(false);
    let attr = |k: &str| {
        rep.pointer(&format!("/attributes/{}", k.replace('/', "~1")))
            .and_then(Value::as_str)
    };
    let mut grants = Vec::new();
    if flag("standardFlowEnabled") {
        grants.push(GrantType::AuthorizationCode);
    }
    if flag("implicitFlowEnabled") {
        grants.push(GrantType::Implicit);
    }
    if flag("directAccessGrantsEnabled") {
        grants.push(GrantType::Password);
    }
    if flag("serviceAccountsEnabled") {
        grants.push(GrantType::ClientCredentials);
    }
    if attr("use.refresh.tokens") == Some("true") {
        grants.push(GrantType::RefreshToken);
    }
    if attr("oauth2.device.authorization.grant.enabled") == Some("true") {
        grants.push(GrantType::DeviceCode);
    }
    let list = |k: &str| -> Vec<String> {
        rep.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let pkce = match attr("pkce.code.challenge.method") {
        Some("S256") => PkcePolicy {
            required: true,
            allow_plain: false,
        },
        Some("plain") => PkcePolicy {
            required: true,
            allow_plain: true,
        },
        _ => PkcePolicy::default(),
    };
    let mut additional = Map::new();
    if let Some(id) = rep.get("id").and_then(Value::as_str) {
        additional.insert("id".into(), id.into());
    }
    OAuthClient {
        client_id: ClientId::new(rep.get("clientId").and_then(Value::as_str).unwrap_or_default()),
        client_secret: None,
        name: rep.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
        grant_types: grants,
        redirect_uris: list("redirectUris"),
        scopes: list("optionalClientScopes"),
        public_client: flag("publicClient"),
        pkce,
        access_token_lifetime: attr("access.token.lifespan").and_then(|v| v.parse().ok()),
        refresh_token_lifetime: None,
        created_at: attr("client.secret.creation.time").and_then(|v| v.parse().ok()),
        additional_properties: additional,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keymanager::model::KeyType;

    #[test]
    fn client_ids_are_slugs_with_a_suffix() {
        assert_eq!(
            client_id_for("orders-app PRODUCTION", "1a2b"),
            "orders-app-production-1a2b"
        );
        assert_eq!(client_id_for("  ", "x"), "client-x");
    }

    #[test]
    fn grants_pkce_and_lifetime_round_trip_through_the_representation() {
        let spec = ClientSpec::new("web", KeyType::Production)
            .with_grant_types([
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::Password,
            ])
            .with_redirect_uris(["https://app.example/cb"])
            .with_pkce(PkcePolicy {
                required: true,
                allow_plain: false,
            })
            .with_access_token_lifetime(600)
            .with_scopes(["orders.read"]);
        let back = client_from(&representation(&spec, "web-1", true));
        assert_eq!(
            back.grant_types,
            [
                GrantType::AuthorizationCode,
                GrantType::Password,
                GrantType::RefreshToken
            ]
        );
        assert_eq!(back.pkce, spec.pkce);
        assert_eq!(back.access_token_lifetime, Some(600));
        assert_eq!(back.scopes, ["orders.read"]);
    }
}
