//! How a connector describes itself: its connection settings and the application properties it accepts.
//!
//! The same [`Setting`] list validates a `[[key_manager]]` table (`keymanager config check`), the
//! `additional_properties` of a [`ClientSpec`](crate::model::ClientSpec), and tells a UI or the CLI what to ask.

use std::net::IpAddr;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// The type of a setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingKind {
    /// A string.
    String,
    /// An `https://` URL (`http://` only on loopback or with `allow_insecure_http`).
    Url,
    /// A non-negative integer.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A list of strings.
    StringList,
    /// A JSON object, whose members the connector checks (a JWK Set, say).
    Object,
}

/// One setting or property a connector accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setting {
    /// Its key.
    pub name: String,
    /// A short label for humans.
    pub label: String,
    /// The value's type.
    pub kind: SettingKind,
    /// Whether it must be given (a setting with a default never is).
    pub required: bool,
    /// The value used when it is not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The only values accepted, when the list is not empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
    /// Whether the value is a secret (never shown, read from `${VAR}` in configs).
    pub secret: bool,
}

impl Setting {
    /// An optional setting of a kind.
    pub fn new(name: &str, label: &str, kind: SettingKind) -> Self {
        Setting {
            name: name.into(),
            label: label.into(),
            kind,
            required: false,
            default: None,
            allowed_values: Vec::new(),
            secret: false,
        }
    }

    /// An optional string setting.
    pub fn string(name: &str, label: &str) -> Self {
        Setting::new(name, label, SettingKind::String)
    }

    /// An optional URL setting.
    pub fn url(name: &str, label: &str) -> Self {
        Setting::new(name, label, SettingKind::Url)
    }

    /// An optional integer setting.
    pub fn integer(name: &str, label: &str) -> Self {
        Setting::new(name, label, SettingKind::Integer)
    }

    /// An optional boolean setting.
    pub fn boolean(name: &str, label: &str) -> Self {
        Setting::new(name, label, SettingKind::Boolean)
    }

    /// Make it required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Give it a default.
    pub fn default_value(mut self, v: impl Into<Value>) -> Self {
        self.default = Some(v.into());
        self
    }

    /// Restrict it to these values.
    pub fn one_of(mut self, values: &[&str]) -> Self {
        self.allowed_values = values.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Mark it secret.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// What a connector type declares about itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectorDescriptor {
    /// The `type` in the configuration.
    pub kind: String,
    /// A display name.
    pub display_name: String,
    /// One sentence on what it connects to.
    pub description: String,
    /// The fields of its `[[key_manager]]` table (besides `name`, `type`, `allow_insecure_http`).
    pub connection_settings: Vec<Setting>,
    /// The `additional_properties` a client spec may carry for it.
    pub application_properties: Vec<Setting>,
}

/// Read a table into a connector's typed settings `T`: checked by `validate_settings` (unknown fields, types,
/// required fields, URL schemes), the declared defaults filled in, then deserialized. The [`Setting`] list is the
/// one source of names, defaults and secret flags; [`check_settings_type`] in a connector's tests proves that `T`
/// declares the same fields. Returns the offending key and what is wrong.
pub fn read_settings<T: DeserializeOwned>(
    values: &Map<String, Value>,
    settings: &[Setting],
    allow_insecure_http: bool,
) -> Result<T, (String, String)> {
    validate_settings(values, settings, allow_insecure_http)?;
    serde_path_to_error::deserialize(with_defaults(values, settings)).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        (field, e.into_inner().to_string())
    })
}

/// Prove that a connector's settings type `T` and its declared `settings` agree: the same field names, every
/// combination the declaration accepts (only the required fields; every field) deserializes, and a missing required
/// field does not. For connectors' tests; the error says what disagrees.
pub fn check_settings_type<T: DeserializeOwned>(settings: &[Setting]) -> Result<(), String> {
    let mut fields = introspect::struct_fields::<T>()?;
    fields.sort_unstable();
    let mut declared: Vec<&str> = settings.iter().map(|s| s.name.as_str()).collect();
    declared.sort_unstable();
    if fields != declared {
        return Err(format!("the type has fields {fields:?}, the declaration {declared:?}"));
    }
    let sample = |s: &Setting| -> Value {
        if let Some(first) = s.allowed_values.first() {
            return Value::String(first.clone());
        }
        match s.kind {
            SettingKind::String => "sample".into(),
            SettingKind::Url => "https://idp.example.com/x".into(),
            SettingKind::Integer => 1.into(),
            SettingKind::Boolean => true.into(),
            SettingKind::StringList => vec!["sample"].into(),
            SettingKind::Object => Value::Object(Map::new()),
        }
    };
    let table = |pick: &dyn Fn(&Setting) -> bool| -> Map<String, Value> {
        settings
            .iter()
            .filter(|s| pick(s))
            .map(|s| (s.name.clone(), sample(s)))
            .collect()
    };
    let required = |s: &Setting| s.required && s.default.is_none();
    read_settings::<T>(&table(&required), settings, false)
        .map_err(|(f, m)| format!("only the required fields: `{f}`: {m}"))?;
    read_settings::<T>(&table(&|_| true), settings, false).map_err(|(f, m)| format!("every field: `{f}`: {m}"))?;
    for s in settings.iter().filter(|s| required(s)) {
        let mut values = table(&required);
        values.remove(&s.name);
        if serde_json::from_value::<T>(with_defaults(&values, settings)).is_ok() {
            return Err(format!(
                "`{}` is declared required but the type does not require it",
                s.name
            ));
        }
    }
    Ok(())
}

/// The values, with each declared default filled in where the value is absent.
fn with_defaults(values: &Map<String, Value>, settings: &[Setting]) -> Value {
    let mut filled = values.clone();
    for s in settings {
        if let (Some(default), false) = (&s.default, filled.contains_key(&s.name)) {
            filled.insert(s.name.clone(), default.clone());
        }
    }
    Value::Object(filled)
}

pub(crate) mod introspect {
    //! The field names of a `Deserialize` struct, read from what it asks a deserializer for.

    use serde::de::{self, Deserializer, Visitor};
    use serde::forward_to_deserialize_any;

    struct Fields<'a>(&'a mut Vec<&'static str>);

    impl<'de> Deserializer<'de> for Fields<'_> {
        type Error = de::value::Error;

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.extend_from_slice(fields);
            Err(de::Error::custom("fields read"))
        }

        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct with named fields"))
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }

    pub(crate) fn struct_fields<T: serde::de::DeserializeOwned>() -> Result<Vec<&'static str>, String> {
        let mut out = Vec::new();
        let _ = T::deserialize(Fields(&mut out));
        if out.is_empty() {
            return Err("the settings type is not a struct with named fields".into());
        }
        Ok(out)
    }
}

/// Check `values` against `settings`: unknown keys, missing required ones, types, allowed values and URL schemes.
/// Returns the offending key and what is wrong.
pub(crate) fn validate_settings(
    values: &Map<String, Value>,
    settings: &[Setting],
    allow_insecure_http: bool,
) -> Result<(), (String, String)> {
    for key in values.keys() {
        if !settings.iter().any(|s| &s.name == key) {
            let known: Vec<&str> = settings.iter().map(|s| s.name.as_str()).collect();
            let hint = if known.is_empty() {
                "this connector takes no fields here".to_owned()
            } else {
                format!("known fields: {}", known.join(", "))
            };
            return Err((key.clone(), format!("unknown field; {hint}")));
        }
    }
    for s in settings {
        let Some(v) = values.get(&s.name) else {
            if s.required && s.default.is_none() {
                return Err((s.name.clone(), "is required".into()));
            }
            continue;
        };
        let err = |m: String| Err((s.name.clone(), m));
        match s.kind {
            SettingKind::String => {
                if !v.is_string() {
                    return err("must be a string".into());
                }
            }
            SettingKind::Integer => {
                if !v.is_u64() {
                    return err("must be a non-negative integer".into());
                }
            }
            SettingKind::Boolean => {
                if !v.is_boolean() {
                    return err("must be true or false".into());
                }
            }
            SettingKind::StringList => {
                if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                    return err("must be a list of strings".into());
                }
            }
            SettingKind::Object => {
                if !v.is_object() {
                    return err("must be a JSON object".into());
                }
            }
            SettingKind::Url => {
                let Some(text) = v.as_str() else {
                    return err("must be a URL string".into());
                };
                if let Err(m) = check_endpoint_url(text, allow_insecure_http) {
                    return err(m);
                }
            }
        }
        if !s.allowed_values.is_empty() {
            let as_text = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
            if !s.allowed_values.contains(&as_text) {
                return err(format!(
                    "`{as_text}` is not allowed; expected one of: {}",
                    s.allowed_values.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// Check an endpoint URL: `https://`, or `http://` on a loopback host (or anywhere with `allow_insecure_http`).
///
/// ```
/// use keymanager::connector_kit::check_endpoint_url;
/// assert!(check_endpoint_url("https://dev-1.okta.com", false).is_ok());
/// assert!(check_endpoint_url("http://127.0.0.1:8080", false).is_ok());
/// assert!(check_endpoint_url("http://idp.example.com", false).is_err());
/// assert!(check_endpoint_url("http://idp.example.com", true).is_ok());
/// ```
pub fn check_endpoint_url(text: &str, allow_insecure_http: bool) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a valid URL: {e}"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_insecure_http || is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "plain http:// is refused for the non-loopback host `{}`; use https:// or set allow_insecure_http = true",
            url.host_str().unwrap_or_default()
        )),
        other => Err(format!("scheme `{other}` is not supported; use https://")),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> Vec<Setting> {
        vec![
            Setting::url("org_url", "Org URL").required(),
            Setting::string("api_token", "API token").required().secret(),
            Setting::string("mode", "Mode").one_of(&["a", "b"]).default_value("a"),
            Setting::integer("limit", "Limit"),
            Setting::boolean("flag", "Flag"),
            Setting::new("list", "List", SettingKind::StringList),
        ]
    }

    fn check(v: Value, insecure: bool) -> Result<(), (String, String)> {
        validate_settings(v.as_object().unwrap(), &settings(), insecure)
    }

    #[test]
    fn every_rule_reports_field_and_reason() {
        let ok = json!({"org_url": "https://x.okta.com", "api_token": "t"});
        assert!(check(ok, false).is_ok());
        let cases = [
            (json!({"api_token": "t"}), "org_url", "is required"),
            (json!({"org_url": "https://x", "api_token": "t", "bogus": 1}), "bogus", "unknown field; known fields: org_url, api_token, mode, limit, flag, list"),
            (json!({"org_url": "http://x.example", "api_token": "t"}), "org_url", "plain http:// is refused for the non-loopback host `x.example`; use https:// or set allow_insecure_http = true"),
            (json!({"org_url": "ftp://x", "api_token": "t"}), "org_url", "scheme `ftp` is not supported; use https://"),
            (json!({"org_url": "https://x", "api_token": 3}), "api_token", "must be a string"),
            (json!({"org_url": "https://x", "api_token": "t", "mode": "c"}), "mode", "`c` is not allowed; expected one of: a, b"),
            (json!({"org_url": "https://x", "api_token": "t", "limit": -1}), "limit", "must be a non-negative integer"),
            (json!({"org_url": "https://x", "api_token": "t", "flag": "yes"}), "flag", "must be true or false"),
            (json!({"org_url": "https://x", "api_token": "t", "list": [1]}), "list", "must be a list of strings"),
        ];
        for (v, field, msg) in cases {
            assert_eq!(check(v, false).unwrap_err(), (field.to_owned(), msg.to_owned()));
        }
        assert!(check(json!({"org_url": "http://x.example", "api_token": "t"}), true).is_ok());
        for host in ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"] {
            assert!(
                check(json!({"org_url": host, "api_token": "t"}), false).is_ok(),
                "{host}"
            );
        }
    }

    #[allow(dead_code)]
    #[derive(serde::Deserialize)]
    struct Good {
        org_url: String,
        api_token: String,
        mode: String,
        limit: Option<u64>,
        flag: Option<bool>,
        list: Option<Vec<String>>,
    }

    #[allow(dead_code)]
    #[derive(serde::Deserialize)]
    struct Loose {
        org_url: Option<String>,
        api_token: String,
        mode: String,
        limit: Option<u64>,
        flag: Option<bool>,
        list: Option<Vec<String>>,
    }

    #[allow(dead_code)]
    #[derive(serde::Deserialize)]
    struct Undeclared {
        org_url: String,
        api_token: String,
        mode: String,
        limit: Option<u64>,
        flag: Option<bool>,
        list: Option<Vec<String>>,
        extra: Option<String>,
    }

    #[allow(dead_code)]
    #[derive(serde::Deserialize)]
    struct WrongType {
        org_url: String,
        api_token: String,
        mode: String,
        limit: Option<String>,
        flag: Option<bool>,
        list: Option<Vec<String>>,
    }

    #[test]
    fn a_settings_type_must_agree_with_its_declaration() {
        check_settings_type::<Good>(&settings()).unwrap();
        let loose = check_settings_type::<Loose>(&settings()).unwrap_err();
        assert!(loose.contains("`org_url` is declared required"), "{loose}");
        let extra = check_settings_type::<Undeclared>(&settings()).unwrap_err();
        assert!(extra.contains("extra"), "{extra}");
        let wrong = check_settings_type::<WrongType>(&settings()).unwrap_err();
        assert!(wrong.starts_with("every field: `limit`: invalid type"), "{wrong}");
    }

    #[test]
    fn reading_fills_declared_defaults() {
        let values = json!({"org_url": "https://x", "api_token": "t"});
        let good: Good = read_settings(values.as_object().unwrap(), &settings(), false).unwrap();
        assert_eq!(good.mode, "a");
    }
}
