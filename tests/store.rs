//! The store against DynamoDB Local: items round-trip, drops are written whole, and the table
//! the tests and `make dev` create is the one `template.yaml` declares.

use burst::domain::drops::input::parse_new_drop;
use burst::model::drop::{AdminAction, AdminEvent, UnitCounts};
use burst::store::keys;
use burst::store::table::{TEMPLATE, TableDefinition};
use burst_tests::{TestEnv, drop_body};
use chrono::Utc;
use serde_json::json;

#[tokio::test]
async fn a_drop_and_its_shards_round_trip() {
    let env = TestEnv::new().await;
    let now = Utc::now();
    let drop = parse_new_drop(
        drop_body(95, json!({ "shard_count": 4, "per_user_limit": 3 })),
        now,
    )
    .unwrap();
    let shards = drop.initial_shards();
    let created = AdminEvent::new(&drop.id, "tester", AdminAction::Created, json!({}), now);
    env.app
        .store
        .put_drop(&drop, &shards, None, &created)
        .await
        .unwrap();

    let read = env
        .app
        .store
        .drop(&drop.id)
        .await
        .unwrap()
        .expect("drop stored");
    assert_eq!(*read, drop);
    let read_shards = env.app.store.shards(&drop, true).await.unwrap();
    assert_eq!(read_shards, shards);
    assert_eq!(
        read_shards.iter().map(|s| s.units).collect::<Vec<_>>(),
        [24, 24, 24, 23]
    );
    assert_eq!(
        UnitCounts::sum(&read_shards),
        UnitCounts {
            available: 95,
            held: 0,
            sold: 0
        }
    );
    assert_eq!(
        env.count_items(&format!("DROP#{}", drop.id)).await,
        6,
        "drop item + 4 shards + the creation's event"
    );
    let listed = env
        .app
        .store
        .drops_open_since(now - chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(listed, vec![drop.clone()]);

    // Written once, never twice: the same drop cannot be created over itself.
    assert!(
        env.app
            .store
            .put_drop(&drop, &shards, None, &created)
            .await
            .is_err()
    );
    assert_eq!(env.count_items("DROP#").await, 6);
}

#[tokio::test]
async fn unknown_and_malformed_ids_read_as_absent() {
    let env = TestEnv::new().await;
    assert!(
        env.app
            .store
            .drop("0123456789abcdef0123456789abcdef")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.app
            .store
            .drop("DROP#x#SHARD#00")
            .await
            .unwrap()
            .is_none()
    );
    assert!(env.app.store.reservation("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn the_test_table_is_the_template_table() {
    let env = TestEnv::new().await;
    let described = env
        .client
        .describe_table()
        .table_name(env.app.store.table())
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let definition = TableDefinition::from_template(TEMPLATE).unwrap();
    let key_names: Vec<&str> = described
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(key_names, [keys::PK, keys::SK]);
    assert_eq!(
        definition.key_schema,
        [
            (keys::PK.to_string(), "HASH".to_string()),
            (keys::SK.to_string(), "RANGE".to_string())
        ]
    );
    let index = &described.global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some(keys::GSI1));
    let index_keys: Vec<&str> = index
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(index_keys, [keys::GSI1_PK, keys::GSI1_SK]);
    assert_eq!(definition.ttl_attribute.as_deref(), Some(keys::TTL));
    // A table made as `make dev` makes it has TTL and the stream on (test tables leave them off:
    // see tests/support).
    let table = format!("{}-ttl", env.app.store.table());
    definition.create(&env.client, &table).await.unwrap();
    let ttl = env
        .client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let stream = env
        .client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .stream_specification
        .unwrap();
    env.client
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert!(
        definition.stream_view_type.is_some(),
        "the template's table has a stream"
    );
    assert_eq!(
        (
            stream.stream_enabled(),
            stream.stream_view_type().map(|v| v.as_str())
        ),
        (true, definition.stream_view_type.as_deref())
    );
    let described = ttl.time_to_live_description().unwrap();
    assert_eq!(described.attribute_name(), Some(keys::TTL));
    assert_eq!(
        described.time_to_live_status(),
        Some(&aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled)
    );
}
