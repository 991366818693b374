//! Every route is declared once, in `burst::api::ROUTES`, and every other place that declares it
//! agrees with the table: the `cargo lambda watch` router in the workspace `Cargo.toml`, the
//! HttpApi events of `template.yaml`, `docs/openapi.yaml`, the sample events in `events/`, and the
//! `main.rs` of each function, which must run the handler the table names. And the contract check
//! of `support/openapi.rs` itself: it refuses what it should, and `docs/openapi.yaml` agrees with
//! `ApiError` on every code and status.
//!
//! Pure file checks: nothing here starts DynamoDB Local or the Stripe emulator.

use burst_tests::openapi;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use burst::api::ROUTES;
use burst::error::{ApiError, PaymentError, SignatureError, StoreError};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
}

/// `"METHOD /path"`, as API Gateway writes a route key.
fn route_key(method: &str, path: &str) -> String {
    format!("{} {path}", method.to_ascii_uppercase())
}

/// The `{name}`s of a path template, in order.
fn path_variables(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_string)
        .collect()
}

/// What differs between two declarations of the routes, or `None` when they agree.
fn differences(
    left_name: &str,
    left: &BTreeSet<String>,
    right_name: &str,
    right: &BTreeSet<String>,
) -> Option<String> {
    if left == right {
        return None;
    }
    let mut text = String::new();
    for route in left.difference(right) {
        let _ = writeln!(text, "  {route}: in {left_name}, not in {right_name}");
    }
    for route in right.difference(left) {
        let _ = writeln!(text, "  {route}: in {right_name}, not in {left_name}");
    }
    Some(text)
}

// ---------------------------------------------------------------------------------------------
// burst::api::ROUTES

/// Route key → function, from the table (which declares each key once).
fn table() -> BTreeMap<String, String> {
    let mut routes = BTreeMap::new();
    for route in ROUTES {
        let previous = routes.insert(route.key(), route.function.to_string());
        assert!(
            previous.is_none(),
            "ROUTES: {} is declared twice",
            route.key()
        );
    }
    routes
}

// ---------------------------------------------------------------------------------------------
// The `cargo lambda watch` router: [workspace.metadata.lambda.watch.router] of Cargo.toml.

const ROUTER_TABLE: &str = "[workspace.metadata.lambda.watch.router]";

/// Route key → function, from the router table. The workspace has no TOML parser, and the table
/// is a list of `"/path" = [{ method = "…", function = "…" }, …]` (or `"/path" = "function"` for
/// every method, read as `ANY`): this reads exactly that and refuses anything else.
fn watch_router() -> BTreeMap<String, String> {
    let manifest = read("Cargo.toml");
    let start = manifest
        .find(ROUTER_TABLE)
        .unwrap_or_else(|| panic!("Cargo.toml has no {ROUTER_TABLE}"))
        + ROUTER_TABLE.len();
    let mut table = String::new();
    for line in manifest[start..].lines() {
        if line.starts_with('[') {
            break; // the next table
        }
        // Comments: nothing in this table has a '#' inside a string.
        table.push_str(line.split('#').next().unwrap_or_default());
        table.push('\n');
    }

    let mut routes = BTreeMap::new();
    let mut rest = table.trim_start();
    while !rest.is_empty() {
        let (path, after) =
            quoted(rest).unwrap_or_else(|| panic!("router: expected \"/path\" at {rest:?}"));
        let after = after
            .trim_start()
            .strip_prefix('=')
            .unwrap_or_else(|| panic!("router: expected `=` after \"{path}\""))
            .trim_start();
        let after = if let Some(list) = after.strip_prefix('[') {
            let end = list
                .find(']')
                .unwrap_or_else(|| panic!("router: unclosed list for \"{path}\""));
            for entry in list[..end].split('}') {
                let entry = entry.trim().trim_start_matches(',').trim();
                if entry.is_empty() {
                    continue;
                }
                let fields = inline_table(entry.strip_prefix('{').unwrap_or_else(|| {
                    panic!("router: expected {{ method, function }} for \"{path}\", got {entry:?}")
                }));
                let (Some(method), Some(function)) = (fields.get("method"), fields.get("function"))
                else {
                    panic!("router: \"{path}\" has an entry without method or function: {entry:?}");
                };
                let key = route_key(method, &path);
                assert!(
                    routes.insert(key.clone(), function.clone()).is_none(),
                    "router: {key} is declared twice"
                );
            }
            &list[end + 1..]
        } else {
            let (function, after) = quoted(after)
                .unwrap_or_else(|| panic!("router: expected a list or a function for \"{path}\""));
            routes.insert(route_key("ANY", &path), function);
            after
        };
        rest = after.trim_start();
    }
    assert!(!routes.is_empty(), "{ROUTER_TABLE} declares no route");
    routes
}

/// A leading `"…"` and what follows it.
fn quoted(text: &str) -> Option<(String, &str)> {
    let inner = text.strip_prefix('"')?;
    let end = inner.find('"')?;
    Some((inner[..end].to_string(), &inner[end + 1..]))
}

/// `key = "value", key = "value"` (the inside of an inline table of strings).
fn inline_table(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("router: expected key = \"value\", got {pair:?}"));
            let (value, tail) = quoted(value.trim())
                .unwrap_or_else(|| panic!("router: expected a string value in {pair:?}"));
            assert!(
                tail.trim().is_empty(),
                "router: unexpected {tail:?} in {pair:?}"
            );
            (key.trim().to_string(), value)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// template.yaml

struct TemplateRoute {
    function: String,
    public: bool,
}

fn template() -> serde_yaml::Value {
    serde_yaml::from_str(&read("template.yaml")).expect("template.yaml is YAML")
}

fn yaml_str<'a>(value: &'a serde_yaml::Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(serde_yaml::Value::as_str)
}

/// Route key → the function (`functions/<name>`) its HttpApi event invokes, from every
/// `AWS::Serverless::Function`.
fn template_routes(template: &serde_yaml::Value) -> BTreeMap<String, TemplateRoute> {
    let resources = template
        .get("Resources")
        .and_then(serde_yaml::Value::as_mapping)
        .expect("template.yaml has Resources");
    let mut routes = BTreeMap::new();
    for (name, resource) in resources {
        if yaml_str(resource, "Type") != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap_or_default();
        let properties = &resource["Properties"];
        let Some(events) = properties
            .get("Events")
            .and_then(serde_yaml::Value::as_mapping)
        else {
            continue;
        };
        for (event_name, event) in events {
            if yaml_str(event, "Type") != Some("HttpApi") {
                continue;
            }
            let event_properties = &event["Properties"];
            let (Some(method), Some(path)) = (
                yaml_str(event_properties, "Method"),
                yaml_str(event_properties, "Path"),
            ) else {
                panic!(
                    "template.yaml: {name}.Events.{event_name:?} has no Method and Path (a catch-all route)"
                );
            };
            let code_uri = yaml_str(properties, "CodeUri")
                .unwrap_or_else(|| panic!("template.yaml: {name} has no CodeUri"));
            let function = code_uri
                .trim_end_matches('/')
                .strip_prefix("functions/")
                .unwrap_or_else(|| {
                    panic!("template.yaml: {name}'s CodeUri {code_uri} is not functions/<name>")
                })
                .to_string();
            let public = event_properties
                .get("Auth")
                .and_then(|auth| yaml_str(auth, "Authorizer"))
                == Some("NONE");
            let key = route_key(method, path);
            let previous = routes.insert(key.clone(), TemplateRoute { function, public });
            assert!(previous.is_none(), "template.yaml: {key} is declared twice");
        }
    }
    assert!(
        !routes.is_empty(),
        "template.yaml declares no HttpApi route"
    );
    routes
}

// ---------------------------------------------------------------------------------------------
// events/

struct SampleEvent {
    file: String,
    event: Value,
}

/// Every `events/*.json` that is an API Gateway HTTP API (payload 2.0) event, by file name.
fn http_sample_events() -> (Vec<SampleEvent>, Vec<String>) {
    let dir = root().join("events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("read {}: {err}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    let mut http = Vec::new();
    let mut other = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("read a sample event");
        let event: Value = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("events/{file} is not JSON: {err}"));
        if event["version"] == "2.0" && event.get("routeKey").is_some() {
            http.push(SampleEvent { file, event });
        } else {
            other.push(file);
        }
    }
    (http, other)
}

// ---------------------------------------------------------------------------------------------
// The routes, compared.

#[test]
fn the_router_the_template_and_the_openapi_document_declare_the_routes_of_the_table() {
    let table: BTreeSet<String> = table().into_keys().collect();
    let router: BTreeSet<String> = watch_router().into_keys().collect();
    let template: BTreeSet<String> = template_routes(&template()).into_keys().collect();
    let documented = openapi::route_keys().unwrap_or_else(|err| panic!("{err}"));

    let mut problems = String::new();
    for (name, routes) in [
        ("the watch router (Cargo.toml)", &router),
        ("template.yaml", &template),
        ("docs/openapi.yaml", &documented),
    ] {
        if let Some(text) = differences("burst::api::ROUTES", &table, name, routes) {
            problems.push_str(&text);
        }
    }
    assert!(problems.is_empty(), "the routes differ:\n{problems}");
}

#[test]
fn each_route_runs_the_function_of_the_table_in_the_router_and_the_template() {
    let router = watch_router();
    let template = template_routes(&template());
    let mut problems = String::new();
    for (route, function) in &table() {
        if let Some(routed) = router.get(route)
            && routed != function
        {
            let _ = writeln!(
                problems,
                "  {route}: the table names {function}, the router runs {routed}"
            );
        }
        if let Some(declared) = template.get(route)
            && declared.function != *function
        {
            let _ = writeln!(
                problems,
                "  {route}: the table names {function}, template.yaml deploys functions/{}",
                declared.function
            );
        }
        if !root()
            .join("functions")
            .join(function)
            .join("Cargo.toml")
            .is_file()
        {
            let _ = writeln!(
                problems,
                "  {route}: functions/{function}/Cargo.toml does not exist"
            );
        }
    }
    assert!(problems.is_empty(), "functions differ:\n{problems}");
}

/// What the `main` of an HTTP function runs: `burst::http::run(burst::api::<handler>)`.
const RUN_PREFIX: &str = "burst::http::run(burst::api::";

/// The handlers `functions/<name>/src/main.rs` hands to `burst::http::run`, by function, for
/// every function that is an HTTP one.
fn functions_running_handlers() -> BTreeMap<String, Vec<String>> {
    let dir = root().join("functions");
    let mut functions = BTreeMap::new();
    for entry in
        std::fs::read_dir(&dir).unwrap_or_else(|err| panic!("read {}: {err}", dir.display()))
    {
        let function = entry
            .expect("a directory entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let source = read(&format!("functions/{function}/src/main.rs"));
        let code: String = source
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .flat_map(|line| line.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        if !code.contains("burst::http::run(") {
            continue;
        }
        let handlers = code
            .match_indices(RUN_PREFIX)
            .map(|(at, _)| {
                let rest = &code[at + RUN_PREFIX.len()..];
                rest[..rest.find(')').unwrap_or(rest.len())].to_string()
            })
            .collect();
        functions.insert(function, handlers);
    }
    functions
}

#[test]
fn each_function_runs_the_handler_the_table_names_and_nothing_else() {
    let running = functions_running_handlers();
    let mut problems = String::new();
    for route in ROUTES {
        match running.get(route.function) {
            Some(handlers) if handlers == &[route.handler.to_string()] => {}
            Some(handlers) => {
                let _ = writeln!(
                    problems,
                    "  {}: functions/{}/src/main.rs runs {handlers:?}, the table names `{}` \
                     (it must run exactly {RUN_PREFIX}{}))",
                    route.key(),
                    route.function,
                    route.handler,
                    route.handler,
                );
            }
            None => {
                let _ = writeln!(
                    problems,
                    "  {}: functions/{}/src/main.rs does not run a handler with burst::http::run",
                    route.key(),
                    route.function
                );
            }
        }
    }
    let in_table: BTreeSet<&str> = ROUTES.iter().map(|route| route.function).collect();
    for function in running.keys() {
        if !in_table.contains(function.as_str()) {
            let _ = writeln!(
                problems,
                "  functions/{function} runs an HTTP handler but is no route of burst::api::ROUTES"
            );
        }
    }
    assert!(
        problems.is_empty(),
        "functions and the table differ:\n{problems}"
    );
}

#[test]
fn the_same_routes_are_public_in_the_table_the_template_and_the_openapi_document() {
    let template_yaml = template();
    let default_authorizer = template_yaml["Resources"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, resource)| yaml_str(resource, "Type") == Some("AWS::Serverless::HttpApi"))
        .filter_map(|(_, api)| api["Properties"].get("Auth")?.get("DefaultAuthorizer"))
        .count();
    assert_eq!(
        default_authorizer, 1,
        "template.yaml: the HttpApi should have one DefaultAuthorizer, so that only Authorizer: NONE routes are public"
    );
    let public_in_template: BTreeSet<String> = template_routes(&template_yaml)
        .into_iter()
        .filter(|(_, route)| route.public)
        .map(|(key, _)| key)
        .collect();

    let document = openapi::document().unwrap_or_else(|err| panic!("{err}"));
    let default_security = document.get("security").cloned().unwrap_or(json!([]));
    let mut public_in_document = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if method == "parameters" || !operation.is_object() {
                continue;
            }
            let security = operation.get("security").unwrap_or(&default_security);
            let requirements = security.as_array().expect("security is a list");
            // No requirement, or an empty one among them, means a caller may come without one.
            if requirements.is_empty()
                || requirements
                    .iter()
                    .any(|requirement| requirement.as_object().is_some_and(|r| r.is_empty()))
            {
                public_in_document.insert(route_key(method, path));
            }
        }
    }
    let public_in_table: BTreeSet<String> = ROUTES
        .iter()
        .filter(|route| route.public)
        .map(|route| route.key())
        .collect();
    let mut problems = String::new();
    for (name, public) in [
        ("template.yaml (Authorizer: NONE)", &public_in_template),
        ("docs/openapi.yaml (security: [])", &public_in_document),
    ] {
        if let Some(text) = differences(
            "burst::api::ROUTES (handlers that take no caller)",
            &public_in_table,
            name,
            public,
        ) {
            problems.push_str(&text);
        }
    }
    assert!(problems.is_empty(), "the public routes differ:\n{problems}");
}

#[test]
fn route_settings_of_the_template_name_declared_routes() {
    let template_yaml = template();
    let declared: BTreeSet<String> = table().into_keys().collect();
    let mut problems = String::new();
    for (name, resource) in template_yaml["Resources"].as_mapping().expect("Resources") {
        if yaml_str(resource, "Type") != Some("AWS::Serverless::HttpApi") {
            continue;
        }
        let Some(settings) = resource["Properties"]
            .get("RouteSettings")
            .and_then(serde_yaml::Value::as_mapping)
        else {
            continue;
        };
        for key in settings.keys() {
            let key = key.as_str().unwrap_or_default();
            if !declared.contains(key) {
                let _ = writeln!(
                    problems,
                    "  {name:?}.RouteSettings names {key:?}, not a declared route"
                );
            }
        }
    }
    assert!(problems.is_empty(), "{problems}");
}

#[test]
fn sample_events_name_declared_routes_and_every_route_has_one() {
    let declared: BTreeSet<String> = table().into_keys().collect();
    let (events, _not_http) = http_sample_events();
    let mut problems = String::new();
    let mut covered = BTreeSet::new();
    for SampleEvent { file, event } in &events {
        let key = event["routeKey"].as_str().unwrap_or_default();
        if !declared.contains(key) {
            let _ = writeln!(
                problems,
                "  events/{file}: routeKey {key:?} is not a declared route"
            );
            continue;
        }
        covered.insert(key.to_string());
        let context = &event["requestContext"];
        if context["routeKey"] != key {
            let _ = writeln!(
                problems,
                "  events/{file}: requestContext.routeKey {} is not the routeKey {key:?}",
                context["routeKey"]
            );
        }
        let (method, template) = key.split_once(' ').expect("METHOD /path");
        if context["http"]["method"] != method {
            let _ = writeln!(
                problems,
                "  events/{file}: requestContext.http.method {} is not {method}",
                context["http"]["method"]
            );
        }
        // rawPath is the route's template with the event's path parameters filled in.
        let parameters = event
            .get("pathParameters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let names: BTreeSet<String> = parameters.keys().cloned().collect();
        let wanted: BTreeSet<String> = path_variables(template).into_iter().collect();
        if names != wanted {
            let _ = writeln!(
                problems,
                "  events/{file}: pathParameters {names:?}, the route has {wanted:?}"
            );
        }
        let path = parameters
            .iter()
            .fold(template.to_string(), |path, (name, value)| {
                path.replace(&format!("{{{name}}}"), value.as_str().unwrap_or_default())
            });
        for field in [&event["rawPath"], &context["http"]["path"]] {
            if *field != path.as_str() {
                let _ = writeln!(problems, "  events/{file}: path {field}, expected {path:?}");
            }
        }
    }
    for route in declared.difference(&covered) {
        let _ = writeln!(problems, "  {route}: no sample event in events/");
    }
    assert!(problems.is_empty(), "sample events:\n{problems}");
}

#[test]
fn openapi_path_parameters_are_the_path_templates_variables() {
    let document = openapi::document().unwrap_or_else(|err| panic!("{err}"));
    let mut problems = String::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        let wanted: BTreeSet<String> = path_variables(path).into_iter().collect();
        for (method, operation) in item.as_object().expect("a path item") {
            if method == "parameters" || !operation.is_object() {
                continue;
            }
            let declared: BTreeSet<String> = [&item["parameters"], &operation["parameters"]]
                .into_iter()
                .filter_map(Value::as_array)
                .flatten()
                .map(|parameter| resolve(document, parameter))
                .filter(|parameter| parameter["in"] == "path")
                .filter_map(|parameter| parameter["name"].as_str().map(str::to_string))
                .collect();
            if declared != wanted {
                let _ = writeln!(
                    problems,
                    "  {}: path parameters {declared:?}, the path has {wanted:?}",
                    route_key(method, path)
                );
            }
        }
    }
    assert!(problems.is_empty(), "{problems}");
}

fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => document
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{reference} points at nothing")),
        None => value,
    }
}

// ---------------------------------------------------------------------------------------------
// ApiError and the document.

/// One of every `ApiError` variant, with every detail it can carry. The match below has no
/// wildcard: a new variant does not compile until it is added here (and documented).
fn every_api_error() -> Vec<ApiError> {
    let starts_at = chrono::Utc::now();
    let errors = vec![
        ApiError::invalid("quantity", "quantity must be a whole number"),
        ApiError::invalid_body("the body must be a JSON object"),
        ApiError::PayloadTooLarge { limit: 64 * 1024 },
        ApiError::Unauthenticated,
        ApiError::Forbidden,
        ApiError::NotFound("drop"),
        ApiError::SoldOut,
        ApiError::AlreadyClaimed {
            reservation_id: Some("0123456789abcdef0123456789abcdef".into()),
        },
        ApiError::AlreadyClaimed {
            reservation_id: None,
        },
        ApiError::DropNotLive {
            reason: "the drop has not started yet",
            starts_at,
            ends_at: None,
        },
        ApiError::DropNotLive {
            reason: "the drop has ended",
            starts_at,
            ends_at: Some(starts_at + chrono::Duration::hours(1)),
        },
        ApiError::ReservationNotHeld { status: "paid" },
        ApiError::ReservationNotHeld { status: "paying" },
        ApiError::ReservationExpired,
        ApiError::Busy,
        ApiError::NotQueued,
        ApiError::QueueNotOpen {
            opens_at: starts_at,
        },
        ApiError::QueueClosed,
        ApiError::NotInQueue,
        ApiError::DrawPending { starts_at },
        ApiError::DropLocked,
        ApiError::DropChanged { version: 3 },
        ApiError::DropPaused,
        ApiError::AdmissionRequired,
        ApiError::AdmissionInvalid,
        ApiError::QueueUnavailable,
        ApiError::PowRequired,
        ApiError::PowInvalid,
        ApiError::PowReplayed,
        ApiError::RateLimited {
            retry_after_seconds: 30,
        },
        ApiError::Throttled(StoreError::Invariant("throttled".into())),
        ApiError::InvalidSignature(SignatureError::Missing),
        ApiError::PaymentsUnavailable,
        ApiError::Payment(PaymentError::Invalid("refused".into())),
        ApiError::Store(StoreError::Invariant("broken".into())),
    ];
    let listed: BTreeSet<usize> = errors.iter().map(variant_index).collect();
    assert_eq!(listed.len(), VARIANTS, "every ApiError variant is listed");
    errors
}

const VARIANTS: usize = 31;

fn variant_index(error: &ApiError) -> usize {
    match error {
        ApiError::InvalidRequest { .. } => 0,
        ApiError::PayloadTooLarge { .. } => 1,
        ApiError::Unauthenticated => 2,
        ApiError::Forbidden => 3,
        ApiError::NotFound(_) => 4,
        ApiError::SoldOut => 5,
        ApiError::AlreadyClaimed { .. } => 6,
        ApiError::DropNotLive { .. } => 7,
        ApiError::ReservationNotHeld { .. } => 8,
        ApiError::ReservationExpired => 9,
        ApiError::Busy => 10,
        ApiError::Throttled(_) => 11,
        ApiError::InvalidSignature(_) => 12,
        ApiError::PaymentsUnavailable => 13,
        ApiError::Payment(_) => 14,
        ApiError::Store(_) => 15,
        ApiError::NotQueued => 16,
        ApiError::QueueNotOpen { .. } => 17,
        ApiError::QueueClosed => 18,
        ApiError::NotInQueue => 19,
        ApiError::DrawPending { .. } => 20,
        ApiError::AdmissionRequired => 21,
        ApiError::AdmissionInvalid => 22,
        ApiError::QueueUnavailable => 23,
        ApiError::PowRequired => 24,
        ApiError::PowInvalid => 25,
        ApiError::PowReplayed => 26,
        ApiError::RateLimited { .. } => 27,
        ApiError::DropLocked => 28,
        ApiError::DropChanged { .. } => 29,
        ApiError::DropPaused => 30,
    }
}

/// The codes a documented error response allows: its schema is
/// `allOf: [{$ref: Error}, {properties: {error: {properties: {code: {enum: […]}}}}}]`.
fn documented_codes(document: &Value, response: &Value) -> Result<BTreeSet<String>, String> {
    let response = resolve(document, response);
    let schema = &response["content"]["application/json"]["schema"];
    let parts = schema["allOf"]
        .as_array()
        .filter(|parts| parts.len() == 2 && parts[0]["$ref"] == "#/components/schemas/Error")
        .ok_or("its schema is not allOf [Error, the codes it allows]")?;
    let codes = parts[1]["properties"]["error"]["properties"]["code"]["enum"]
        .as_array()
        .ok_or("its schema does not list the codes it allows")?;
    Ok(codes
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect())
}

#[test]
fn error_codes_and_statuses_agree_with_api_error() {
    let document = openapi::document().unwrap_or_else(|err| panic!("{err}"));
    let errors = every_api_error();

    // Code → HTTP status, as status_and_code decides.
    let mut status_of: BTreeMap<String, u16> = BTreeMap::new();
    for error in &errors {
        let (status, code) = error.status_and_code();
        status_of.insert(code.to_string(), status.as_u16());
    }
    let enum_codes: BTreeSet<String> = document["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("components.schemas.ErrorCode.enum")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let api_codes: BTreeSet<String> = status_of.keys().cloned().collect();
    if let Some(text) = differences(
        "ApiError::status_and_code",
        &api_codes,
        "docs/openapi.yaml ErrorCode",
        &enum_codes,
    ) {
        panic!("the error codes differ:\n{text}");
    }

    let mut problems = String::new();
    let mut documented_somewhere = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
                continue;
            };
            let route = route_key(method, path);
            for (status, response) in responses {
                let status: u16 = status.parse().expect("explicit statuses");
                if status < 400 {
                    continue;
                }
                let codes = match documented_codes(document, response) {
                    Ok(codes) => codes,
                    Err(why) => {
                        let _ = writeln!(problems, "  {route} {status}: {why}");
                        continue;
                    }
                };
                for code in &codes {
                    documented_somewhere.insert(code.clone());
                    if status_of.get(code) != Some(&status) {
                        let _ = writeln!(
                            problems,
                            "  {route} {status} allows `{code}`, which ApiError answers with {:?}",
                            status_of.get(code)
                        );
                    }
                }
                // The answer ApiError really gives for each of those codes passes the check of
                // support/openapi.rs, Retry-After included.
                let declared_headers = &resolve(document, response)["headers"];
                for error in errors
                    .iter()
                    .filter(|error| codes.contains(error.status_and_code().1))
                {
                    let answer = burst::http::error_response(error);
                    let body: Value =
                        serde_json::from_slice(answer.body().as_ref()).expect("errors answer JSON");
                    if let Err(why) = openapi::validate_response(&route, status, &body) {
                        let _ = writeln!(problems, "  {why}");
                    }
                    let retry_after = answer.headers().contains_key("retry-after");
                    let declared = declared_headers.get("Retry-After");
                    if retry_after && declared.is_none() {
                        let _ = writeln!(
                            problems,
                            "  {route} {status}: `{}` answers Retry-After, not documented",
                            error.status_and_code().1
                        );
                    }
                    let required = declared
                        .map(|header| resolve(document, header))
                        .is_some_and(|header| header["required"] == true);
                    if required && !retry_after {
                        let _ = writeln!(
                            problems,
                            "  {route} {status}: Retry-After is documented as required, `{}` answers none",
                            error.status_and_code().1
                        );
                    }
                }
            }
        }
    }
    for code in api_codes.difference(&documented_somewhere) {
        let _ = writeln!(problems, "  `{code}` is documented for no route");
    }
    assert!(problems.is_empty(), "error responses:\n{problems}");
}

// ---------------------------------------------------------------------------------------------
// support/openapi.rs refuses what it should.

fn drop_body() -> Value {
    json!({
        "id": "0123456789abcdef0123456789abcdef",
        "name": "Aurora Runner",
        "description": "",
        "price": { "amount": 12500, "currency": "EUR" },
        "total_units": 250,
        "starts_at": "2026-11-23T18:00:00Z",
        "per_user_limit": 1,
        "hold_seconds": 600,
        "shard_count": 25,
        "created_at": "2026-11-20T09:30:00.123456789Z",
        "available": 250,
        "held": 0,
        "sold": 0,
        "status": "upcoming",
        "mode": "claim",
        "paused": false,
        "version": 0,
        "price_now": { "amount": 12500, "currency": "EUR" },
    })
}

#[test]
fn a_documented_answer_passes() {
    openapi::validate_response("GET /drops/{drop_id}", 200, &drop_body()).unwrap();
    openapi::validate_response(
        "GET /drops",
        200,
        &json!({ "drops": [drop_body()], "next_cursor": null }),
    )
    .unwrap();
    openapi::validate_response(
        "POST /webhooks/stripe",
        200,
        &json!({ "received": true, "outcome": "duplicate" }),
    )
    .unwrap();
}

#[test]
fn a_body_that_drifted_is_refused() {
    let route = "GET /drops/{drop_id}";
    let mut missing = drop_body();
    missing.as_object_mut().unwrap().remove("sold");
    let mut extra = drop_body();
    extra["shards"] = json!([]);
    let mut bad_status = drop_body();
    bad_status["status"] = json!("paused");
    let mut bad_time = drop_body();
    bad_time["starts_at"] = json!("tomorrow at six");
    let mut bad_type = drop_body();
    bad_type["total_units"] = json!("250");
    for (what, body) in [
        ("a required field missing", missing),
        ("an undocumented field", extra),
        ("a status outside the enum", bad_status),
        ("a timestamp that is not date-time", bad_time),
        ("a number as a string", bad_type),
    ] {
        let refused = openapi::validate_response(route, 200, &body);
        assert!(refused.is_err(), "{what} was accepted");
    }
    let error = openapi::validate_response(route, 200, &json!({ "drop": drop_body() }))
        .expect_err("a wrapped drop is not a drop");
    assert!(error.contains(route) && error.contains("200"), "{error}");
}

#[test]
fn an_undocumented_status_or_route_is_refused() {
    let not_found = json!({ "error": { "code": "not_found", "message": "drop not found" } });
    openapi::validate_response("GET /drops/{drop_id}", 404, &not_found).unwrap();
    // GET /drops/{drop_id} never answers 401 or 409; no `default` stands in for them.
    for status in [401, 409, 418] {
        let error = openapi::validate_response("GET /drops/{drop_id}", status, &not_found)
            .expect_err("an undocumented status");
        assert!(error.contains("does not document"), "{error}");
    }
    for route in ["GET /drops/{id}", "PUT /drops/{drop_id}", "GET /nowhere"] {
        let error = openapi::validate_response(route, 200, &drop_body())
            .expect_err("an undocumented route");
        assert!(error.contains("is not an operation"), "{error}");
    }
}

#[test]
fn an_error_is_refused_under_the_wrong_status_or_without_its_details() {
    let route = "POST /drops/{drop_id}/claims";
    let sold_out = json!({ "error": { "code": "sold_out", "message": "the drop is sold out" } });
    openapi::validate_response(route, 409, &sold_out).unwrap();
    // The code belongs to another status.
    assert!(openapi::validate_response(route, 404, &sold_out).is_err());
    // A detail the Error schema does not know.
    let mut extra = sold_out.clone();
    extra["error"]["hint"] = json!("try later");
    assert!(openapi::validate_response(route, 409, &extra).is_err());
    // drop_not_live always says when the drop starts.
    let not_live = json!({ "error": { "code": "drop_not_live", "message": "not yet" } });
    assert!(openapi::validate_response(route, 403, &not_live).is_err());
    // busy always carries retry_after_seconds; other codes never do.
    let busy = json!({ "error": { "code": "busy", "message": "retry" } });
    assert!(openapi::validate_response(route, 429, &busy).is_err());
    let mut sold_out_retry = sold_out.clone();
    sold_out_retry["error"]["retry_after_seconds"] = json!(1);
    assert!(openapi::validate_response(route, 409, &sold_out_retry).is_err());
}
