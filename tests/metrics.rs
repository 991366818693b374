//! The operator's view agrees with the code: the metrics the code can emit (`burst::metrics::Metric`)
//! are exactly those catalogued in docs/metrics.yaml and exactly those template.yaml's dashboard
//! and alarms read, under the dimension the code publishes them with.

use std::collections::BTreeSet;

use burst::metrics::{Metric, NAMESPACE};
use serde_yaml::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn template() -> Value {
    serde_yaml::from_str(&read("template.yaml")).expect("template.yaml is YAML")
}

fn emitted() -> BTreeSet<String> {
    Metric::ALL
        .iter()
        .map(|metric| metric.name().to_string())
        .collect()
}

/// `(tag, value)` of a `!Tag value`, the tag without its `!`.
fn tagged(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => Some((
            tagged.tag.to_string().trim_start_matches('!').to_string(),
            &tagged.value,
        )),
        _ => None,
    }
}

#[test]
fn the_catalogue_lists_every_metric_the_code_can_emit_with_its_unit() {
    let catalogue: Value = serde_yaml::from_str(&read("docs/metrics.yaml")).unwrap();
    assert_eq!(catalogue["namespace"].as_str(), Some(NAMESPACE));
    let listed: Vec<(String, String)> = catalogue["metrics"]
        .as_sequence()
        .expect("metrics: a list")
        .iter()
        .map(|entry| {
            (
                entry["name"].as_str().unwrap().to_string(),
                entry["unit"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let from_code: Vec<(String, String)> = Metric::ALL
        .iter()
        .map(|metric| {
            (
                metric.name().to_string(),
                metric.unit().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(listed, from_code, "docs/metrics.yaml, in the enum's order");
}

/// The Burst metrics the dashboard reads: every `["Burst", name, "Stack", stack, …]` row.
fn dashboard_reads(template: &Value) -> BTreeSet<String> {
    let body = &template["Resources"]["Dashboard"]["Properties"]["DashboardBody"];
    let (tag, text) = tagged(body).expect("the body is a !Sub");
    assert_eq!(tag, "Sub");
    // Substitutions become plain strings: the JSON's shape is what is checked here.
    let text = text.as_str().unwrap().replace("${AWS::StackName}", "STACK");
    let body: serde_json::Value = serde_json::from_str(&text).expect("the dashboard body is JSON");
    let mut names = BTreeSet::new();
    for widget in body["widgets"].as_array().unwrap() {
        for row in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if row[0] == NAMESPACE {
                assert_eq!(
                    (&row[2], &row[3]),
                    (&serde_json::json!("Stack"), &serde_json::json!("STACK")),
                    "{row}: selects this stack, as the code publishes it"
                );
                names.insert(row[1].as_str().unwrap().to_string());
            }
        }
    }
    names
}

/// The Burst metrics an alarm reads, directly or in a metric-math expression.
fn alarm_reads(alarm: &Value) -> BTreeSet<String> {
    let properties = &alarm["Properties"];
    let mut metrics: Vec<&Value> = vec![properties];
    if let Some(queries) = properties["Metrics"].as_sequence() {
        metrics.extend(queries.iter().map(|query| &query["MetricStat"]["Metric"]));
    }
    let mut names = BTreeSet::new();
    for metric in metrics {
        if metric["Namespace"].as_str() != Some(NAMESPACE) {
            continue;
        }
        let dimensions = metric["Dimensions"].as_sequence().unwrap();
        assert_eq!(dimensions.len(), 1, "{metric:?}: the Stack dimension alone");
        assert_eq!(dimensions[0]["Name"].as_str(), Some("Stack"));
        assert_eq!(
            tagged(&dimensions[0]["Value"]).and_then(|(_, value)| value.as_str()),
            Some("AWS::StackName")
        );
        names.insert(metric["MetricName"].as_str().unwrap().to_string());
    }
    names
}

#[test]
fn the_dashboard_and_alarms_read_exactly_the_metrics_the_code_emits() {
    let template = template();
    let stack = &template["Globals"]["Function"]["Environment"]["Variables"]["METRICS_STACK"];
    assert_eq!(
        tagged(stack).and_then(|(_, value)| value.as_str()),
        Some("AWS::StackName"),
        "every function publishes under its stack's name"
    );

    let mut read = dashboard_reads(&template);
    let mut alarms = BTreeSet::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() == Some("AWS::CloudWatch::Alarm") {
            alarms.insert(name.as_str().unwrap().to_string());
            read.extend(alarm_reads(resource));
            let actions = &resource["Properties"]["AlarmActions"];
            assert_eq!(
                tagged(actions).map(|(tag, _)| tag).as_deref(),
                Some("If"),
                "{name:?} notifies AlarmTopicArn when one is given"
            );
        }
    }
    assert_eq!(
        read,
        emitted(),
        "the Burst metrics the dashboard and alarms read, against those the code can emit"
    );
    for alarm in [
        "ThrottlingAlarm",
        "ServerErrorsAlarm",
        "ControllerLagAlarm",
        "FanOutLagAlarm",
        "RefundStuckAlarm",
        "PaymentStuckAlarm",
    ] {
        assert!(alarms.contains(alarm), "{alarm} exists");
    }
    let lag = &template["Resources"]["ControllerLagAlarm"]["Properties"];
    assert_eq!(lag["MetricName"].as_str(), Some("ControllerTickLag"));
    assert_eq!(
        lag["Threshold"].as_i64(),
        Some(5_000),
        "5 s, in milliseconds"
    );
}
