//! Lambda's DynamoDB Streams event source mapping, locally: polls the table's stream and invokes
//! the fan-out with each batch as a real `aws_lambda_events` DynamoDB event.
//!
//! DynamoDB Local's stream has one shard; a table in AWS has one per partition, and Lambda reads
//! each separately, one batch at a time per shard. The pump stands in for that with `shards`
//! lanes: a record goes to the lane of its item's partition key (so one item's records stay in
//! order, as on a real shard), and each lane invokes its batches one at a time, concurrently with
//! the other lanes, while the pump goes on polling.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use burst::model::ids::stable_hash;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::invoker::Invoker;

/// Lambda polls a stream shard about four times a second.
const POLL: Duration = Duration::from_millis(250);
const BATCH_SIZE: usize = 100;

pub struct Pump {
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub stream_arn: String,
    pub invoker: Arc<dyn Invoker>,
    pub function: String,
    /// Stream shards the records are spread over (1 unless set).
    pub shards: usize,
}

impl Pump {
    /// Finds the table's stream (the table must have one: template.yaml turns it on).
    pub async fn for_table(
        sdk: &aws_config::SdkConfig,
        table: &str,
        invoker: Arc<dyn Invoker>,
        function: &str,
    ) -> Result<Self, String> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let described = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "describe {table}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
        let stream_arn = described
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| format!("{table} has no stream"))?;
        Ok(Self {
            streams: aws_sdk_dynamodbstreams::Client::new(sdk),
            stream_arn,
            invoker,
            function: function.to_string(),
            shards: 1,
        })
    }

    /// Spreads the records over `shards` stream shards, each invoking the function on its own.
    pub fn with_shards(mut self, shards: usize) -> Self {
        self.shards = shards.max(1);
        self
    }

    /// Polls every shard from now on, forever.
    pub async fn run(self) {
        let lanes: Vec<mpsc::UnboundedSender<Value>> = (0..self.shards)
            .map(|_| {
                let (records, queued) = mpsc::unbounded_channel();
                tokio::spawn(invoke_batches(
                    self.invoker.clone(),
                    self.function.clone(),
                    self.stream_arn.clone(),
                    queued,
                ));
                records
            })
            .collect();
        let mut iterators: HashMap<String, Option<String>> = HashMap::new();
        let mut last_seen: HashMap<String, String> = HashMap::new();
        let mut first_pass = true;
        loop {
            if let Ok(described) = self
                .streams
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .send()
                .await
            {
                for shard in described
                    .stream_description
                    .map(|d| d.shards.unwrap_or_default())
                    .unwrap_or_default()
                {
                    let Some(id) = shard.shard_id else { continue };
                    if iterators.contains_key(&id) {
                        continue;
                    }
                    // Shards open when the pump starts are read from now; later ones whole.
                    let kind = if first_pass {
                        ShardIteratorType::Latest
                    } else {
                        ShardIteratorType::TrimHorizon
                    };
                    let iterator = self.iterator(&id, kind, None).await;
                    iterators.insert(id, iterator);
                }
            }
            first_pass = false;
            let mut records = Vec::new();
            for (shard, iterator) in iterators.iter_mut() {
                let Some(current) = iterator.clone() else {
                    continue;
                };
                match self
                    .streams
                    .get_records()
                    .shard_iterator(current)
                    .send()
                    .await
                {
                    Ok(output) => {
                        for record in output.records.unwrap_or_default() {
                            if let Some(sequence) = record
                                .dynamodb
                                .as_ref()
                                .and_then(|d| d.sequence_number.clone())
                            {
                                last_seen.insert(shard.clone(), sequence);
                            }
                            records.push(record);
                        }
                        *iterator = output.next_shard_iterator;
                    }
                    // DynamoDB Local refuses an iterator taken while its shard was empty once
                    // records arrive: take a new one after the last record seen.
                    Err(_) => {
                        *iterator = match last_seen.get(shard) {
                            Some(sequence) => {
                                self.iterator(
                                    shard,
                                    ShardIteratorType::AfterSequenceNumber,
                                    Some(sequence),
                                )
                                .await
                            }
                            None => {
                                self.iterator(shard, ShardIteratorType::TrimHorizon, None)
                                    .await
                            }
                        };
                    }
                }
            }
            for record in &records {
                let lane = stable_hash(&partition_key(record)) % lanes.len() as u64;
                // A lane ends only with the pump.
                let _ = lanes[lane as usize].send(self.lambda_record(record));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn iterator(
        &self,
        shard: &str,
        kind: ShardIteratorType,
        after: Option<&str>,
    ) -> Option<String> {
        self.streams
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard)
            .shard_iterator_type(kind)
            .set_sequence_number(after.map(str::to_string))
            .send()
            .await
            .ok()?
            .shard_iterator
    }

    /// A stream record as Lambda delivers it. DynamoDB Local reports TTL deletes with an
    /// operation the SDK does not know; AWS calls them `REMOVE` (by `dynamodb.amazonaws.com`).
    fn lambda_record(&self, record: &Record) -> Value {
        let change = record.dynamodb.as_ref();
        let name = match record.event_name.as_ref().map(|n| n.as_str()) {
            Some(name @ ("INSERT" | "MODIFY" | "REMOVE")) => name.to_string(),
            _ => "REMOVE".to_string(),
        };
        let item = |image: Option<&HashMap<String, AttributeValue>>| {
            image.map(|image| {
                let item: HashMap<String, serde_dynamo::AttributeValue> = image
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_dynamo::AttributeValue::from(v.clone())))
                    .collect();
                serde_json::to_value(item).unwrap_or(Value::Null)
            })
        };
        let mut dynamodb = json!({
            "ApproximateCreationDateTime": change
                .and_then(|c| c.approximate_creation_date_time)
                .map_or(0.0, |t| t.as_secs_f64()),
            "SequenceNumber": change.and_then(|c| c.sequence_number.clone()),
            "SizeBytes": change.and_then(|c| c.size_bytes).unwrap_or(0),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        });
        for (field, image) in [
            ("Keys", change.and_then(|c| c.keys.as_ref())),
            ("NewImage", change.and_then(|c| c.new_image.as_ref())),
            ("OldImage", change.and_then(|c| c.old_image.as_ref())),
        ] {
            if let Some(value) = item(image) {
                dynamodb[field] = value;
            }
        }
        json!({
            "eventID": record.event_id,
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "local",
            "eventSourceARN": self.stream_arn,
            "dynamodb": dynamodb,
        })
    }
}

/// One stream shard's batches, one invocation at a time: whatever has queued, up to
/// `BATCH_SIZE` records.
async fn invoke_batches(
    invoker: Arc<dyn Invoker>,
    function: String,
    stream_arn: String,
    mut queued: mpsc::UnboundedReceiver<Value>,
) {
    while let Some(first) = queued.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH_SIZE {
            match queued.try_recv() {
                Ok(record) => batch.push(record),
                Err(_) => break,
            }
        }
        let event = json!({ "Records": batch });
        if let Err(error) = invoker.invoke(&function, event).await {
            tracing::error!(%error, stream = stream_arn, "fan-out failed");
        }
    }
}

/// The `PK` of a record's item (records without one share a lane).
fn partition_key(record: &Record) -> String {
    record
        .dynamodb
        .as_ref()
        .and_then(|change| change.keys.as_ref())
        .and_then(|keys| keys.get("PK"))
        .and_then(|pk| pk.as_s().ok())
        .cloned()
        .unwrap_or_default()
}
