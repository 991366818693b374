//! The API's contract, `docs/openapi.yaml`, held against real answers: every response a test
//! receives must be one the document lists for its route and status, with a body its schema
//! accepts. Pure: no DynamoDB, no network.
//!
//! The document is read once (compiled in with `include_str!`, so editing it rebuilds the tests)
//! and every response schema is compiled once, as JSON Schema 2020-12 (OpenAPI 3.1's dialect),
//! with `#/components/...` references resolved inside the document and `format`s (`date-time`,
//! `uri`) asserted rather than only annotated.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value};

/// `docs/openapi.yaml`, as compiled into the tests.
pub const DOCUMENT_PATH: &str = "docs/openapi.yaml";
const DOCUMENT: &str = include_str!("../../docs/openapi.yaml");

/// The HTTP methods an OpenAPI path item may hold operations under.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// What one documented response accepts.
enum Expected {
    /// A JSON body its schema accepts.
    Json(Box<Validator>),
    /// No body at all.
    Empty,
    /// A `text/plain` body (given as a JSON string).
    Text,
}

struct Contract {
    document: Value,
    /// Route key (`"GET /drops/{drop_id}"`) → status → what the body must be.
    routes: BTreeMap<String, BTreeMap<u16, Expected>>,
}

/// `docs/openapi.yaml` as JSON (parsed once).
pub fn document() -> Result<&'static Value, String> {
    contract().map(|contract| &contract.document)
}

/// Every operation of the document as an API Gateway route key, `"METHOD /path/{param}"`.
pub fn route_keys() -> Result<BTreeSet<String>, String> {
    Ok(contract()?.routes.keys().cloned().collect())
}

/// Checks one answer against the document: `route_key` is API Gateway's `"METHOD /path"`
/// (`"GET /drops/{drop_id}"`), `status` must be documented for that operation exactly (there is
/// no `default` to fall back on), and `body` must match the response's `application/json`
/// schema (or be `null` when the response documents no content).
pub fn validate_response(route_key: &str, status: u16, body: &Value) -> Result<(), String> {
    let contract = contract()?;
    let Some(responses) = contract.routes.get(route_key) else {
        return Err(format!(
            "{route_key} is not an operation of {DOCUMENT_PATH} (it has: {})",
            join(contract.routes.keys())
        ));
    };
    let Some(expected) = responses.get(&status) else {
        return Err(format!(
            "{route_key} answered {status}, a status {DOCUMENT_PATH} does not document for it \
             (documented: {}); body: {body}",
            join(responses.keys())
        ));
    };
    match expected {
        Expected::Empty if body.is_null() => Ok(()),
        Expected::Empty => Err(format!(
            "{route_key} {status} is documented without content, but answered {body}"
        )),
        Expected::Text if body.is_string() => Ok(()),
        Expected::Text => Err(format!(
            "{route_key} {status} is documented as text/plain, but answered {body}"
        )),
        Expected::Json(validator) => {
            let problems: Vec<String> = validator
                .iter_errors(body)
                .map(|error| {
                    let at = error.instance_path().to_string();
                    let at = if at.is_empty() { "/".into() } else { at };
                    format!("  at {at}: {error}")
                })
                .collect();
            if problems.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{route_key} {status}: the body does not match {DOCUMENT_PATH}:\n{}\nbody: {body}",
                    problems.join("\n")
                ))
            }
        }
    }
}

fn contract() -> Result<&'static Contract, String> {
    static CONTRACT: OnceLock<Result<Contract, String>> = OnceLock::new();
    CONTRACT
        .get_or_init(|| load(DOCUMENT).map_err(|error| format!("{DOCUMENT_PATH}: {error}")))
        .as_ref()
        .map_err(Clone::clone)
}

fn load(text: &str) -> Result<Contract, String> {
    let document: Value =
        serde_yaml::from_str(text).map_err(|error| format!("not valid YAML: {error}"))?;
    let version = document["openapi"].as_str().unwrap_or_default();
    if !version.starts_with("3.1.") {
        return Err(format!(
            "openapi is {version:?}; this check reads OpenAPI 3.1"
        ));
    }
    let components = document
        .get("components")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    let paths = document["paths"]
        .as_object()
        .ok_or("the document has no `paths`")?;

    let mut routes = BTreeMap::new();
    for (path, item) in paths {
        let item = resolve(&document, item)?;
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let route_key = format!("{} {path}", method.to_ascii_uppercase());
            let responses = operation["responses"]
                .as_object()
                .ok_or_else(|| format!("{route_key} has no `responses`"))?;
            let mut by_status = BTreeMap::new();
            for (status, response) in responses {
                let code = status
                    .parse::<u16>()
                    .ok()
                    .filter(|code| (100..=599).contains(code))
                    .ok_or_else(|| {
                        format!(
                            "{route_key}: response `{status}` is not an explicit status; every \
                             answer is documented by its own status (no `default`, no `2XX`)"
                        )
                    })?;
                let response = resolve(&document, response)?;
                let expected = expected_body(response, &components)
                    .map_err(|error| format!("{route_key} {status}: {error}"))?;
                by_status.insert(code, expected);
            }
            routes.insert(route_key, by_status);
        }
    }
    Ok(Contract { document, routes })
}

/// The validator of a response's JSON body.
fn expected_body(response: &Value, components: &Value) -> Result<Expected, String> {
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return Ok(Expected::Empty);
    };
    if content.len() == 1 && content.contains_key("text/plain") {
        return Ok(Expected::Text);
    }
    let Some(media) = content.get("application/json") else {
        return Err(format!(
            "documents {} but every answer is application/json or text/plain",
            join(content.keys())
        ));
    };
    let schema = media
        .get("schema")
        .ok_or("application/json without a schema")?;
    // The response's schema is the root; the document's components ride along under the same
    // name, so `#/components/schemas/...` points where it points in the document.
    let mut root = match schema {
        Value::Object(object) => object.clone(),
        Value::Bool(accepts) if *accepts => Map::new(),
        other => return Err(format!("the schema {other} is not a schema object")),
    };
    if root.contains_key("components") {
        return Err("a response schema may not use the keyword `components`".into());
    }
    root.insert(
        "$schema".into(),
        Value::from("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert("components".into(), components.clone());
    let validator = jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&Value::Object(root))
        .map_err(|error| format!("the schema does not compile: {error}"))?;
    Ok(Expected::Json(Box::new(validator)))
}

/// Follows an object's `$ref` (`#/components/...`) within the document, however many there are.
fn resolve<'a>(document: &'a Value, mut value: &'a Value) -> Result<&'a Value, String> {
    for _ in 0..16 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return Ok(value);
        };
        let pointer = reference.strip_prefix('#').ok_or_else(|| {
            format!("`{reference}`: only references within the document are read")
        })?;
        value = document
            .pointer(pointer)
            .ok_or_else(|| format!("`{reference}` points at nothing"))?;
    }
    Err("a `$ref` chain longer than 16".into())
}

fn join<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
