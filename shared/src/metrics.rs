//! What the operator watches during a drop, without a single extra call: each measurement is one
//! CloudWatch Embedded Metric Format (EMF) line on stdout, which Lambda already ships to
//! CloudWatch Logs, where the metric is extracted. Namespace `Burst`; each value is published
//! twice, under `Stack` (what the dashboard and alarms of template.yaml read) and under
//! `Stack` + `Function` (to find which function it came from).
//!
//! The names are the `Metric` enum and nothing else, so the code can only emit catalogued
//! metrics: docs/metrics.yaml describes each, and `tests/metrics.rs` checks that the catalogue,
//! this enum and what template.yaml's dashboard and alarms read are the same set.
//!
//! EMF lines are written to stdout directly, not through `tracing`: its JSON formatter nests an
//! event's fields under `fields`, where CloudWatch does not look for them. Nothing is written
//! unless `METRICS_STACK` is set (template.yaml sets it to the stack's name): local runs and
//! tests keep a quiet stdout.

use std::io::Write;
use std::sync::OnceLock;

use chrono::Utc;
use serde_json::{Value, json};

pub const NAMESPACE: &str = "Burst";

/// Every metric Burst emits. Refusals are one metric per layer that refuses, so the dashboard
/// shows which defence is working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// A shopper got a new ticket in a queue.
    QueueJoins,
    /// The controller admitted a ticket (may claim now).
    Admissions,
    /// Members placed by a draw step (the draw's progress).
    DrawMembers,
    /// How late a controller tick ran after the second it was due.
    ControllerTickLag,
    /// A claim committed a hold.
    Claims,
    /// Refused, inventory layer: nothing left.
    SoldOut,
    /// Refused, velocity layer: too many requests from a shopper or address (429).
    RateLimited,
    /// Refused, proof-of-work layer: missing, wrong or replayed proof.
    PowRefused,
    /// Refused, admission layer: no admission token or a bad one.
    AdmissionRefused,
    /// Refused, contention: transactions kept colliding (429 `busy`).
    Contention,
    /// DynamoDB kept throttling after the SDK's retries (503 `unavailable`).
    DynamoDbThrottled,
    /// Any other 5xx answered by Burst's code.
    ServerErrors,
    /// A call to Stripe failed, or Stripe is not configured (502 / 503).
    StripeFailures,
    /// From a stream record's commit to the fan-out posting it.
    FanOutLag,
    /// `PostToConnection` calls made by the fan-out.
    FanOutPosts,
    /// Holds the sweeper returned to stock.
    HoldsExpired,
    /// Holds the sweeper could not end this run (Stripe failing, a payment not settled yet).
    HoldsSkipped,
    /// Payments the sweeper settled because no webhook had: the webhook is not arriving.
    WebhooksMissed,
    /// Refunds decided but not yet confirmed by Stripe, seen at the start of a sweep.
    RefundsPending,
}

/// CloudWatch's units for the two kinds of value Burst emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

impl Metric {
    pub const ALL: [Metric; 19] = [
        Self::QueueJoins,
        Self::Admissions,
        Self::DrawMembers,
        Self::ControllerTickLag,
        Self::Claims,
        Self::SoldOut,
        Self::RateLimited,
        Self::PowRefused,
        Self::AdmissionRefused,
        Self::Contention,
        Self::DynamoDbThrottled,
        Self::ServerErrors,
        Self::StripeFailures,
        Self::FanOutLag,
        Self::FanOutPosts,
        Self::HoldsExpired,
        Self::HoldsSkipped,
        Self::WebhooksMissed,
        Self::RefundsPending,
    ];

    /// The metric's name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Self::QueueJoins => "QueueJoins",
            Self::Admissions => "Admissions",
            Self::DrawMembers => "DrawMembers",
            Self::ControllerTickLag => "ControllerTickLag",
            Self::Claims => "Claims",
            Self::SoldOut => "SoldOut",
            Self::RateLimited => "RateLimited",
            Self::PowRefused => "PowRefused",
            Self::AdmissionRefused => "AdmissionRefused",
            Self::Contention => "Contention",
            Self::DynamoDbThrottled => "DynamoDbThrottled",
            Self::ServerErrors => "ServerErrors",
            Self::StripeFailures => "StripeFailures",
            Self::FanOutLag => "FanOutLag",
            Self::FanOutPosts => "FanOutPosts",
            Self::HoldsExpired => "HoldsExpired",
            Self::HoldsSkipped => "HoldsSkipped",
            Self::WebhooksMissed => "WebhooksMissed",
            Self::RefundsPending => "RefundsPending",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Self::ControllerTickLag | Self::FanOutLag => Unit::Milliseconds,
            _ => Unit::Count,
        }
    }
}

/// Where the lines are attributed: the stack, and the function writing them.
struct Source {
    stack: String,
    function: String,
}

fn source() -> Option<&'static Source> {
    static SOURCE: OnceLock<Option<Source>> = OnceLock::new();
    SOURCE
        .get_or_init(|| {
            let stack = std::env::var("METRICS_STACK").ok()?;
            let function =
                std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
            Some(Source { stack, function })
        })
        .as_ref()
}

/// One occurrence of `metric`.
pub fn count(metric: Metric) {
    record(&[(metric, 1.0)]);
}

/// A duration, in milliseconds.
pub fn duration(metric: Metric, elapsed: std::time::Duration) {
    record(&[(metric, elapsed.as_secs_f64() * 1_000.0)]);
}

/// Several values in one line (a sweep's or a batch's report). Zero counts are published too:
/// an alarm on "still pending" needs to see the zero that clears it.
pub fn record(values: &[(Metric, f64)]) {
    let Some(source) = source() else {
        return;
    };
    let line = emf_line(
        &source.stack,
        &source.function,
        values,
        Utc::now().timestamp_millis(),
    );
    // One write of the whole line, so it never interleaves with a log line.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(format!("{line}\n").as_bytes());
}

/// The EMF document for `values` (CloudWatch's "Specification: Embedded metric format").
pub fn emf_line(stack: &str, function: &str, values: &[(Metric, f64)], timestamp_ms: i64) -> Value {
    let definitions: Vec<Value> = values
        .iter()
        .map(|(metric, _)| json!({ "Name": metric.name(), "Unit": metric.unit().as_str() }))
        .collect();
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Stack"], ["Stack", "Function"]],
                "Metrics": definitions,
            }],
        },
        "Stack": stack,
        "Function": function,
    });
    for (metric, value) in values {
        line[metric.name()] = json!(value);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_distinct() {
        let names: std::collections::BTreeSet<_> =
            Metric::ALL.iter().map(|metric| metric.name()).collect();
        assert_eq!(names.len(), Metric::ALL.len());
    }

    #[test]
    fn a_line_carries_its_values_under_both_dimension_sets() {
        let line = emf_line(
            "burst-prod",
            "burst-prod-ClaimFunction-x",
            &[(Metric::Claims, 1.0), (Metric::ControllerTickLag, 12.5)],
            1_700_000_000_000,
        );
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Burst");
        assert_eq!(
            directive["Dimensions"],
            json!([["Stack"], ["Stack", "Function"]])
        );
        assert_eq!(
            directive["Metrics"],
            json!([
                { "Name": "Claims", "Unit": "Count" },
                { "Name": "ControllerTickLag", "Unit": "Milliseconds" }
            ])
        );
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(line["Stack"], "burst-prod");
        assert_eq!(line["Function"], "burst-prod-ClaimFunction-x");
        assert_eq!(line["Claims"], 1.0);
        assert_eq!(line["ControllerTickLag"], 12.5);
    }
}
