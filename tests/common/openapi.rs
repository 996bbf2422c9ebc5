//! Every answer the API tests get, checked against the OpenAPI document the server publishes: the operation the
//! request reached, the response its status selects (the exact code, else `4XX` / `5XX`), and its body against that
//! response's schema — strictly: a member the schema does not declare fails, so a field added to an answer without
//! its type saying so fails the test that sees it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

/// The published document, as JSON.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(keymanager::api::openapi::document()).expect("the document serializes"))
}

/// The path template of the document that `path` (no query) is an instance of: literal segments beat `{name}`s.
pub fn template_of(path: &str) -> Option<String> {
    let segs: Vec<&str> = path.split('/').collect();
    let doc = document();
    let mut best: Option<(usize, String)> = None;
    for template in doc["paths"].as_object()?.keys() {
        let t: Vec<&str> = template.split('/').collect();
        if t.len() != segs.len() {
            continue;
        }
        let mut literal = 0;
        let fits = t.iter().zip(&segs).all(|(t, s)| {
            if t.starts_with('{') {
                !s.is_empty()
            } else {
                literal += 1;
                t == s
            }
        });
        if fits && best.as_ref().is_none_or(|(n, _)| literal > *n) {
            best = Some((literal, template.clone()));
        }
    }
    best.map(|(_, t)| t)
}

/// Every object schema made strict (`unevaluatedProperties: false` where the schema says nothing of members it
/// does not declare), so that an undeclared member fails.
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let is_object = map.get("type") == Some(&json!("object")) || map.contains_key("properties");
            if is_object && !map.contains_key("additionalProperties") && !map.contains_key("unevaluatedProperties") {
                map.insert("unevaluatedProperties".into(), json!(false));
            }
            for v in map.values_mut() {
                strict(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

fn validator(schema: &Value) -> std::sync::Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>> = OnceLock::new();
    let key = schema.to_string();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache
        .entry(key)
        .or_insert_with(|| {
            let mut components = document()["components"].clone();
            strict(&mut components);
            let mut root = schema.clone();
            strict(&mut root);
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "allOf": [root],
                "components": components,
            });
            std::sync::Arc::new(
                jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("the document's schema {schema}: {e}")),
            )
        })
        .clone()
}

/// Check one answer: `method` upper or lower case, `path` as requested (a query is ignored), `body` `Null` when
/// there was none or it was not JSON.
pub fn check(method: &str, path: &str, status: u16, body: &Value) {
    let path = path.split('?').next().unwrap_or_default();
    let doc = document();
    let method = method.to_ascii_lowercase();
    let operation = template_of(path).and_then(|t| doc["paths"][&t].get(&method).cloned());
    let Some(operation) = operation else {
        // Not an operation of the document: the router's fallback, in the error shape.
        assert!(
            status == 404 || status == 405,
            "{method} {path} is in no operation of the document but answered {status}"
        );
        return check_schema(
            &json!({"$ref": "#/components/schemas/ErrorDto"}),
            body,
            &method,
            path,
            status,
        );
    };
    let responses = &operation["responses"];
    let code = status.to_string();
    let range = format!("{}XX", status / 100);
    let Some(response) = responses.get(&code).or_else(|| responses.get(&range)) else {
        panic!("{method} {path} answered {status}, which the document does not list ({responses})");
    };
    match response["content"].as_object() {
        None => assert!(
            body.is_null(),
            "{method} {path} {status} has no body in the document, but sent {body}"
        ),
        Some(content) => {
            if let Some(schema) = content.get("application/json").map(|c| &c["schema"]) {
                check_schema(schema, body, &method, path, status);
            }
        }
    }
}

fn check_schema(schema: &Value, body: &Value, method: &str, path: &str, status: u16) {
    let v = validator(schema);
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: the answer does not follow the OpenAPI document: {errors:#?}\n{body:#}"
    );
}
