//! The configuration reference, from the code: every setting of `[server]`, `[database]`, `[portal]` and
//! `[gateway]` described once here (type, default, meaning) and every connector's settings from its own
//! [`crate::descriptor::ConnectorDescriptor`]. `keymanager config reference` prints it;
//! `docs/configuration.md` is that output. A test proves each section lists exactly the fields its type
//! deserializes, so a new setting cannot go undescribed.

use serde::Serialize;
use serde_json::Value;

use crate::config::{
    DEFAULT_AUDIT_RETENTION_DAYS, DEFAULT_HEADER_READ_TIMEOUT_SECONDS, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
};
use crate::descriptor::{ConnectorDescriptor, Setting, SettingKind};

/// One table of the file and its settings.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// How the file names it (`[server]`, `[[gateway.route]]`).
    pub table: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// Its settings.
    pub settings: Vec<Setting>,
}

/// The sections of the file, in the order the reference shows them.
pub fn sections() -> Vec<Section> {
    use Setting as S;
    vec![
        Section {
            table: "[server]",
            description: "The process: where it listens, its public address, TLS, limits, the management API's callers.",
            settings: vec![
                S::string("listen", "Address to listen on.").default_value("127.0.0.1:9443"),
                S::url("public_url", "The public base URL (the resident key manager's issuer); default http(s)://LISTEN."),
                S::string("data_dir", "Directory of the SQLite database, signing keys, the secret key and the generated admin token.")
                    .default_value("./data"),
                S::string("admin_token", "The management API's admin bearer token; default: generated into DATA_DIR/admin-token.")
                    .secret(),
                S::string("tls_cert", "TLS certificate chain (PEM file); with tls_key, serve HTTPS."),
                S::string("tls_key", "TLS private key (PEM file)."),
                S::boolean("tls_client_certificates", "Ask TLS clients for a certificate (optional for them): the resident key manager then offers tls_client_auth and self_signed_tls_client_auth and binds tokens to certificates (RFC 8705). Needs tls_cert; default false."),
                S::string("tls_client_ca", "Certificate authorities (PEM file) whose client certificates tls_client_auth accepts; without it only self_signed_tls_client_auth clients authenticate with a certificate."),
                S::integer("header_read_timeout_seconds", "Seconds a client may take to send a request head; a client that trickles its headers is disconnected. At most 3600.")
                    .default_value(DEFAULT_HEADER_READ_TIMEOUT_SECONDS),
                S::integer("request_timeout_seconds", "Seconds from a request head to the end of its answer; past it the answer is 408. At most 3600.")
                    .default_value(DEFAULT_REQUEST_TIMEOUT_SECONDS),
                S::integer("max_connections", "Connections served at once; past it new connections wait in the listen backlog. At most 100000.")
                    .default_value(DEFAULT_MAX_CONNECTIONS),
                S::boolean("metrics", "Serve Prometheus metrics at GET /metrics.").default_value(true),
                S::string("metrics_listen", "Serve /metrics on this address of its own instead of the main one."),
                S::new("api_identity", "Key managers whose access tokens the management API accepts (scopes keymanager:apps, keymanager:admin); default: the resident key manager; an empty list: admin tokens only.", SettingKind::StringList),
                S::integer("audit_retention_days", "Days the audit trail keeps a record. From 1 to 36500.")
                    .default_value(DEFAULT_AUDIT_RETENTION_DAYS),
                S::boolean("allow_private_fetches", "Let the server fetch loopback, private and plain-http URLs on someone else's say (clients' jwks_uri, run-time key managers, discovery). Development and tests only.")
                    .default_value(false),
                S::integer("api_write_burst", "Changes a holder of an access token may make at once through the management API (admin tokens are not limited). From 1 to 100000.")
                    .default_value(50),
                S::integer("api_writes_per_second", "Changes a second such a caller's quota refills by. From 1 to 100000.")
                    .default_value(10),
            ],
        },
        Section {
            table: "[database]",
            description: "Where the key service and the resident key manager keep their state.",
            settings: vec![
                S::url("url", "sqlite://PATH or postgres://USER@HOST/DB (a password may come from ${VAR}); default sqlite://DATA_DIR/keymanager.db.")
                    .secret(),
                S::integer("max_connections", "Most connections in the pool; default: sqlx's (10)."),
            ],
        },
        Section {
            table: "[portal]",
            description: "The Developer Portal that keymanager serve offers at /portal.",
            settings: vec![
                S::boolean("enabled", "Serve the portal; default true when a resident key manager is configured (it signs people in)."),
                S::new("sign_in", "[[portal.sign_in]] tables: other key managers people may sign in through.", SettingKind::Object),
            ],
        },
        Section {
            table: "[[portal.sign_in]]",
            description: "The portal as a confidential OAuth client of another key manager (authorization code with PKCE S256; redirect URI PUBLIC_URL/portal/callback).",
            settings: vec![
                S::string("key_manager", "The key manager's configured name (listed in [server] api_identity).").required(),
                S::string("label", "What the sign-in button says; default \"Sign in with KEY_MANAGER\"."),
                S::string("client_id", "The portal's client id there.").required(),
                S::string("client_secret", "Its secret.").required().secret(),
                S::new("scopes", "Scopes to ask for; default openid keymanager:apps keymanager:admin.", SettingKind::StringList),
            ],
        },
        Section {
            table: "[gateway]",
            description: "Forward auth at /gateway/auth and keymanager gateway-auth, asked by nginx, Traefik or Envoy.",
            settings: vec![
                S::string("proxy", "Which proxy asks, and so which headers carry the original request. No default: without it /gateway/auth refuses every request.")
                    .one_of(&["nginx", "traefik", "envoy"]),
                S::string("default", "What a path no [[gateway.route]] covers needs: refused, or any valid token.")
                    .one_of(&["deny", "authenticated"])
                    .default_value("deny"),
                S::integer("leeway_seconds", "Seconds of clock skew allowed on exp, nbf and iat. At most 600.").default_value(30),
                S::string("public_origin", "The scheme and authority clients call the APIs behind the proxy at (https://api.example): DPoP proofs name it with the path. Without it, DPoP-bound tokens are refused."),
                S::string("client_certificate_header", "The header the proxy forwards the client's TLS certificate in, in its family's format (nginx: $ssl_client_escaped_cert; Traefik: passTLSClientCert with pem; Envoy: x-forwarded-client-cert with the cert detail). The proxy must set it on every request. Without it, certificate-bound tokens (RFC 8705) are refused."),
                S::new("route", "[[gateway.route]] tables: which scopes requests under a path need.", SettingKind::Object),
            ],
        },
        Section {
            table: "[[gateway.route]]",
            description: "One rule: requests under a path prefix need every scope listed.",
            settings: vec![
                S::string("path_prefix", "The path prefix, from /, matched on segment boundaries.").required(),
                S::new("methods", "The methods it covers; empty: every method.", SettingKind::StringList),
                S::new("scopes", "Scopes the token needs, all of them.", SettingKind::StringList),
                S::boolean("case_sensitive", "Match the prefix's letter case exactly (else /ORDERS meets /orders's rule).")
                    .default_value(false),
            ],
        },
        Section {
            table: "[[key_manager]]",
            description: "A key manager; besides these, the fields of its type below.",
            settings: vec![
                S::string("name", "Unique name (what APIs and the CLI call it).").required(),
                S::string("type", "The connector type (one of the types below).").required(),
                S::boolean("allow_insecure_http", "Allow plain http:// endpoints on hosts that are not loopback.")
                    .default_value(false),
            ],
        },
    ]
}

/// The reference as Markdown: the sections, then each connector type's settings and application properties.
pub fn markdown(connectors: &[ConnectorDescriptor]) -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         Generated by `keymanager config reference` from the code; `keymanager config check FILE` checks a file \
         against the same descriptions. String values may use `${VAR}` to read an environment variable (`$${` for a \
         literal `${`). Settings marked secret are never shown, in logs or anywhere else.\n",
    );
    for section in sections() {
        out.push_str(&format!("\n## `{}`\n\n{}\n\n", section.table, section.description));
        table(&mut out, &section.settings);
    }
    for c in connectors {
        out.push_str(&format!(
            "\n## `type = \"{}\"`: {}\n\n{}\n\n",
            c.kind, c.display_name, c.description
        ));
        table(&mut out, &c.connection_settings);
        if !c.application_properties.is_empty() {
            out.push_str("\nApplication properties (`additionalProperties` of an application's keys):\n\n");
            table(&mut out, &c.application_properties);
        }
    }
    out
}

fn table(out: &mut String, settings: &[Setting]) {
    if settings.is_empty() {
        out.push_str("No settings.\n");
        return;
    }
    out.push_str("| Setting | Type | Default | Meaning |\n|---|---|---|---|\n");
    for s in settings {
        let kind = match s.kind {
            SettingKind::String if !s.allowed_values.is_empty() => format!("one of {}", s.allowed_values.join(", ")),
            SettingKind::String => "string".into(),
            SettingKind::Url => "URL".into(),
            SettingKind::Integer => "integer".into(),
            SettingKind::Boolean => "boolean".into(),
            SettingKind::StringList => "list of strings".into(),
            SettingKind::Object => "table".into(),
        };
        let default = match (&s.default, s.required) {
            (Some(Value::String(v)), _) => format!("`{v}`"),
            (Some(v), _) => format!("`{v}`"),
            (None, true) => "required".into(),
            (None, false) => "—".into(),
        };
        let secret = if s.secret { " Secret." } else { "" };
        out.push_str(&format!(
            "| `{}` | {kind} | {default} | {}{secret} |\n",
            s.name,
            s.label.replace('|', "\\|")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DatabaseConfig, GatewayConfig, GatewayRoute, PortalConfig, PortalSignIn, ServerConfig};
    use crate::descriptor::introspect::struct_fields;

    fn declared(table: &str) -> Vec<String> {
        let mut names: Vec<String> = sections()
            .into_iter()
            .find(|s| s.table == table)
            .unwrap_or_else(|| panic!("no section {table}"))
            .settings
            .into_iter()
            .map(|s| s.name)
            .collect();
        names.sort();
        names
    }

    fn fields<T: serde::de::DeserializeOwned>() -> Vec<String> {
        let mut f: Vec<String> = struct_fields::<T>().unwrap().into_iter().map(String::from).collect();
        f.sort();
        f
    }

    #[test]
    fn every_field_of_every_section_is_described_and_nothing_else() {
        assert_eq!(declared("[server]"), fields::<ServerConfig>());
        assert_eq!(declared("[database]"), fields::<DatabaseConfig>());
        assert_eq!(declared("[portal]"), fields::<PortalConfig>());
        assert_eq!(declared("[[portal.sign_in]]"), fields::<PortalSignIn>());
        assert_eq!(declared("[gateway]"), fields::<GatewayConfig>());
        assert_eq!(declared("[[gateway.route]]"), fields::<GatewayRoute>());
    }

    #[test]
    fn the_described_defaults_are_the_ones_the_code_applies() {
        let server = sections().remove(0);
        let default = |name: &str| {
            server
                .settings
                .iter()
                .find(|s| s.name == name)
                .and_then(|s| s.default.clone())
        };
        assert_eq!(
            default("header_read_timeout_seconds"),
            Some(DEFAULT_HEADER_READ_TIMEOUT_SECONDS.into())
        );
        assert_eq!(default("max_connections"), Some(DEFAULT_MAX_CONNECTIONS.into()));
        let parsed = crate::config::Config::from_toml_str("[gateway]\nproxy = \"nginx\"\n", None).unwrap();
        assert_eq!(parsed.gateway.default, crate::config::UncoveredPaths::Deny);
        assert!(markdown(&[]).contains("| `default` | one of deny, authenticated | `deny` |"));
    }
}
