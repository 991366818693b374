//! `burst-bench meter`: known requests through the meter, each phase's units held against the
//! figures DynamoDB's rules give by hand, and the meter's overhead on a PutItem loop. The same
//! check runs in `cargo test -p burst-bench` against DynamoDB Local on `DYNAMODB_LOCAL_PORT`.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Get, KeysAndAttributes, Put, PutRequest,
    ReturnConsumedCapacity, TransactGetItem, TransactWriteItem, WriteRequest,
};
use burst::store::table::TableDefinition;

use super::{Meter, Units};

/// Puts per loop of the overhead measurement (one at a time, direct and through the meter), and
/// loops of each, alternating so that DynamoDB Local's warm-up and the machine's other load fall
/// on both alike.
const OVERHEAD_PUTS: usize = 300;
const OVERHEAD_ROUNDS: usize = 3;

pub fn client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "bench"))
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(config)
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

/// An item of partition `pk` with a payload of `payload` bytes (names and keys add ~20 bytes,
/// far from any KB boundary in the sizes used here).
fn item(pk: &str, sk: &str, payload: usize) -> std::collections::HashMap<String, AttributeValue> {
    [
        ("PK".to_string(), s(pk)),
        ("SK".to_string(), s(sk)),
        ("payload".to_string(), s(&"x".repeat(payload))),
    ]
    .into()
}

fn key(pk: &str, sk: &str) -> std::collections::HashMap<String, AttributeValue> {
    [("PK".to_string(), s(pk)), ("SK".to_string(), s(sk))].into()
}

fn units(write: f64, read: f64) -> Units {
    Units { write, read }
}

/// Asserts the current phase's total and each listed key's units.
fn expect(meter: &Meter, phase: &str, total: Units, keys: &[(&str, Units)]) {
    let report = meter.report(phase).expect("the phase saw requests");
    assert_eq!(report.total, total, "{phase}: total units");
    for (key, expected) in keys {
        assert_eq!(meter.key_units(key), *expected, "{phase}: units of {key}");
    }
}

/// Runs the check against DynamoDB Local at `upstream`; returns the report's lines.
pub async fn run(upstream: &str) -> Vec<String> {
    let meter = Meter::start(upstream).await;
    let metered = client(meter.endpoint());
    let table = format!("meter-check-{}", uuid::Uuid::new_v4().simple());
    TableDefinition::from_compiled_template()
        .create(&metered, &table)
        .await
        .expect("create the check's table through the meter");

    single_puts(&meter, &metered, &table).await;
    batch_and_query(&meter, &metered, &table).await;
    transaction(&meter, &metered, &table).await;
    gets(&meter, &metered, &table).await;
    refused(&meter, &metered, &table).await;

    let (direct, through) = overhead(&client(upstream), &metered, &table).await;
    vec![format!(
        "- **capacity meter**: self-check passed (puts of 1, 2 and 3 KB, a GSI1 put, a batch write, eventually and strongly consistent queries, a transaction with a condition check, gets, batch and transactional gets, a refused conditional put: each phase's units equal the rules' figures); overhead on a PutItem loop (one at a time, {OVERHEAD_ROUNDS} alternating rounds of {OVERHEAD_PUTS} puts after a warm-up): direct {direct:.0}/s, through the meter {through:.0}/s = **{:.2}×**",
        through / direct
    )]
}

async fn single_puts(meter: &Meter, client: &Client, table: &str) {
    meter.phase("put");
    for (pk, payload) in [("check-a", 400), ("check-b", 1_500), ("check-c", 3_000)] {
        let put = client
            .put_item()
            .table_name(table)
            .set_item(Some(item(pk, "1", payload)))
            .send()
            .await
            .expect("put");
        assert!(
            put.consumed_capacity().is_none(),
            "the meter's capacity figure leaked to a caller who did not ask"
        );
    }
    expect(
        meter,
        "put",
        units(6.0, 0.0),
        &[
            ("check-a", units(1.0, 0.0)),
            ("check-b", units(2.0, 0.0)),
            ("check-c", units(3.0, 0.0)),
        ],
    );

    meter.phase("index");
    let mut indexed = item("check-indexed", "1", 400);
    indexed.insert("GSI1PK".into(), s("check-index"));
    indexed.insert("GSI1SK".into(), s("1"));
    let put = client
        .put_item()
        .table_name(table)
        .set_item(Some(indexed))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .expect("indexed put");
    assert_eq!(
        put.consumed_capacity().and_then(|c| c.capacity_units()),
        Some(2.0),
        "a caller who asked for capacity gets Local's figure"
    );
    expect(
        meter,
        "index",
        units(2.0, 0.0),
        &[
            ("check-indexed", units(1.0, 0.0)),
            ("GSI1 check-index", units(1.0, 0.0)),
        ],
    );
}

async fn batch_and_query(meter: &Meter, client: &Client, table: &str) {
    meter.phase("batch");
    let writes: Vec<WriteRequest> = [
        item("check-q", "1", 1_500),
        item("check-q", "2", 1_500),
        item("check-q", "3", 1_500),
        item("check-r", "1", 3_000),
    ]
    .into_iter()
    .map(|item| {
        let put = PutRequest::builder().set_item(Some(item)).build().unwrap();
        WriteRequest::builder().put_request(put).build()
    })
    .collect();
    client
        .batch_write_item()
        .request_items(table, writes)
        .send()
        .await
        .expect("batch write");
    expect(
        meter,
        "batch",
        units(9.0, 0.0),
        &[("check-q", units(6.0, 0.0)), ("check-r", units(3.0, 0.0))],
    );

    meter.phase("query");
    for consistent in [false, true] {
        let query = client
            .query()
            .table_name(table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "PK")
            .expression_attribute_values(":pk", s("check-q"))
            .consistent_read(consistent)
            .send()
            .await
            .expect("query");
        assert_eq!(query.count(), 3);
    }
    // ~4.6 KB summed: 2 units consistent, 1 eventually consistent.
    expect(
        meter,
        "query",
        units(0.0, 3.0),
        &[("check-q", units(0.0, 3.0))],
    );
}

async fn transaction(meter: &Meter, client: &Client, table: &str) {
    meter.phase("transaction");
    let put = |pk: &str, payload| {
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item(pk, "1", payload)))
            .build()
            .unwrap();
        TransactWriteItem::builder().put(put).build()
    };
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key("check-r", "1")))
        .condition_expression("attribute_exists(PK)")
        .build()
        .unwrap();
    client
        .transact_write_items()
        .transact_items(put("check-t1", 1_500))
        .transact_items(put("check-t2", 400))
        .transact_items(TransactWriteItem::builder().condition_check(check).build())
        .send()
        .await
        .expect("transaction");
    expect(
        meter,
        "transaction",
        units(8.0, 0.0),
        &[
            ("check-t1", units(4.0, 0.0)),
            ("check-t2", units(2.0, 0.0)),
            ("check-r", units(2.0, 0.0)),
        ],
    );
}

async fn gets(meter: &Meter, client: &Client, table: &str) {
    meter.phase("get");
    for consistent in [true, false] {
        client
            .get_item()
            .table_name(table)
            .set_key(Some(key("check-c", "1")))
            .consistent_read(consistent)
            .send()
            .await
            .expect("get");
    }
    let batch = KeysAndAttributes::builder()
        .keys(key("check-c", "1"))
        .keys(key("check-b", "1"))
        .keys(key("check-missing", "1"))
        .build()
        .unwrap();
    let got = client
        .batch_get_item()
        .request_items(table, batch)
        .send()
        .await
        .expect("batch get");
    assert_eq!(got.responses().map_or(0, |r| r[table].len()), 2);
    let get = |pk: &str| {
        let get = Get::builder()
            .table_name(table)
            .set_key(Some(key(pk, "1")))
            .build()
            .unwrap();
        TransactGetItem::builder().get(get).build()
    };
    client
        .transact_get_items()
        .transact_items(get("check-c"))
        .transact_items(get("check-missing"))
        .send()
        .await
        .expect("transactional get");
    // Gets 1 + ½, the batch ½ × 3, the transactional gets 2 × 2.
    expect(
        meter,
        "get",
        units(0.0, 7.0),
        &[
            ("check-c", units(0.0, 4.0)),
            ("check-b", units(0.0, 0.5)),
            ("check-missing", units(0.0, 2.5)),
        ],
    );
}

async fn refused(meter: &Meter, client: &Client, table: &str) {
    meter.phase("refused");
    let refused = client
        .put_item()
        .table_name(table)
        .set_item(Some(item("check-b", "1", 1_500)))
        .condition_expression("attribute_not_exists(PK)")
        .send()
        .await;
    assert!(refused.is_err(), "the condition refuses an existing item");
    expect(
        meter,
        "refused",
        units(2.0, 0.0),
        &[("check-b", units(2.0, 0.0))],
    );
    assert_eq!(meter.report("refused").unwrap().estimated, 1);
}

/// PutItems per second, one at a time, (direct, through the meter): a warm-up loop, then
/// alternating loops of each.
async fn overhead(direct: &Client, metered: &Client, table: &str) -> (f64, f64) {
    put_loop(direct, table, "warm-up").await;
    let (mut direct_time, mut metered_time) = (Duration::ZERO, Duration::ZERO);
    for round in 0..OVERHEAD_ROUNDS {
        direct_time += put_loop(direct, table, &format!("direct-{round}")).await;
        metered_time += put_loop(metered, table, &format!("metered-{round}")).await;
    }
    let puts = (OVERHEAD_PUTS * OVERHEAD_ROUNDS) as f64;
    (
        puts / direct_time.as_secs_f64(),
        puts / metered_time.as_secs_f64(),
    )
}

/// `OVERHEAD_PUTS` PutItems one at a time; how long they took.
async fn put_loop(client: &Client, table: &str, prefix: &str) -> Duration {
    let started = Instant::now();
    for i in 0..OVERHEAD_PUTS {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item(&format!("{prefix}-{i}"), "1", 300)))
            .send()
            .await
            .expect("put");
    }
    started.elapsed()
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread")]
    async fn the_meter_bills_known_requests_by_the_rules() {
        let lines = super::run(&burst_tests::dynamodb_local::endpoint()).await;
        assert!(lines[0].contains("self-check passed"));
    }
}
