//! Which partition keys one DynamoDB request charged, and how many units each (the rules are in
//! the module doc of `meter`).

use burst::store::keys::{GSI1, GSI1_PK, PK};
use serde_json::{Map, Value};

use super::units::{ReadKind, item_size, read_units, write_units};

/// Units charged to one partition key by one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// The base table's partition key value, or `GSI1 <value>` for an index partition.
    pub key: String,
    pub write: f64,
    pub read: f64,
}

/// What one request cost: its charges, and whether they are the meter's estimate (no
/// `ConsumedCapacity` came back: a refused conditional write or a cancelled transaction).
#[derive(Debug, Default)]
pub struct Bill {
    pub charges: Vec<Charge>,
    pub estimated: bool,
}

/// The operations that read or write items.
pub fn is_metered(operation: &str) -> bool {
    matches!(
        operation,
        "PutItem"
            | "UpdateItem"
            | "DeleteItem"
            | "GetItem"
            | "Query"
            | "Scan"
            | "BatchWriteItem"
            | "BatchGetItem"
            | "TransactWriteItems"
            | "TransactGetItems"
    )
}

/// The bill of `operation` from its request and, when it succeeded, its response; `error` is the
/// exception's name when it failed.
pub fn bill(
    operation: &str,
    request: &Value,
    response: Option<&Value>,
    error: Option<&str>,
) -> Bill {
    let consumed = response.map(|r| consumed_by_table(&r["ConsumedCapacity"]));
    match (operation, consumed) {
        ("BatchWriteItem", Some(consumed)) => measured(batch_write(request, &consumed)),
        ("BatchGetItem", Some(consumed)) => measured(batch_get(request, response, &consumed)),
        ("TransactWriteItems", Some(consumed)) => measured(transact_write(request, &consumed)),
        ("TransactGetItems", Some(consumed)) => {
            measured(transact_get(request, response, &consumed))
        }
        ("TransactWriteItems", None) if error == Some("TransactionCanceledException") => {
            estimated(transact_write_estimate(request))
        }
        (_, Some(consumed)) => measured(single_key(operation, request, &consumed)),
        ("PutItem" | "UpdateItem" | "DeleteItem", None)
            if error == Some("ConditionalCheckFailedException") =>
        {
            estimated(refused_write_estimate(operation, request))
        }
        _ => Bill::default(),
    }
}

fn measured(charges: Vec<Charge>) -> Bill {
    Bill {
        charges,
        estimated: false,
    }
}

fn estimated(charges: Vec<Charge>) -> Bill {
    Bill {
        charges,
        estimated: true,
    }
}

/// DynamoDB Local's `ConsumedCapacity` of one table: the base table's units and the GSI's.
#[derive(Debug, Default, Clone, Copy)]
struct Consumed {
    table: f64,
    index: f64,
}

/// `ConsumedCapacity` (an object, or a list of one per table) by table name. With
/// `ReturnConsumedCapacity: TOTAL` there is no split: the total counts as the table's.
fn consumed_by_table(value: &Value) -> Vec<(String, Consumed)> {
    let entries: Vec<&Value> = match value {
        Value::Array(list) => list.iter().collect(),
        Value::Object(_) => vec![value],
        _ => Vec::new(),
    };
    entries
        .into_iter()
        .map(|entry| {
            let total = entry["CapacityUnits"].as_f64().unwrap_or(0.0);
            let index = entry["GlobalSecondaryIndexes"][GSI1]["CapacityUnits"]
                .as_f64()
                .unwrap_or(0.0);
            let table = entry["Table"]["CapacityUnits"]
                .as_f64()
                .unwrap_or(total - index);
            let name = entry["TableName"].as_str().unwrap_or_default().to_string();
            (name, Consumed { table, index })
        })
        .collect()
}

fn consumed_of(consumed: &[(String, Consumed)], table: &str) -> Consumed {
    consumed
        .iter()
        .find(|(name, _)| name == table)
        .map(|(_, units)| *units)
        .unwrap_or_default()
}

fn index_key(value: &str) -> String {
    format!("{GSI1} {value}")
}

/// An index write whose index key the request does not show (an update or delete that moves or
/// removes an item's GSI1 entry).
const UNKNOWN_INDEX_KEY: &str = "GSI1 (key not in the request)";

fn attribute_text(value: &Value) -> Option<String> {
    let typed = value.as_object()?;
    let (_, inner) = typed.iter().next()?;
    inner.as_str().map(str::to_string)
}

fn partition_of(item_or_key: &Value) -> String {
    attribute_text(&item_or_key[PK]).unwrap_or_else(|| "(no PK)".into())
}

/// The value an expression sets or compares `attribute` to with `=`, placeholders resolved
/// (`PK = :pk`, `#pk = :pk`, `SET GSI1PK = :g, ...`).
fn equality_value(expression: &str, request: &Value, attribute: &str) -> Option<String> {
    let spaced = expression.replace('=', " = ").replace(['(', ')', ','], " ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let resolve = |token: &str| -> String {
        request["ExpressionAttributeNames"][token]
            .as_str()
            .unwrap_or(token)
            .to_string()
    };
    tokens.windows(3).find_map(|window| {
        (resolve(window[0]) == attribute && window[1] == "=")
            .then(|| attribute_text(&request["ExpressionAttributeValues"][window[2]]))
            .flatten()
    })
}

/// Where an item's GSI1 entry is written: the item's own `GSI1PK` (a put) or the value an
/// update sets it to.
fn index_key_of_write(operation: &str, body: &Value) -> Option<String> {
    match operation {
        "PutItem" | "Put" => attribute_text(&body["Item"][GSI1_PK]).map(|v| index_key(&v)),
        "UpdateItem" | "Update" => body["UpdateExpression"]
            .as_str()
            .and_then(|expression| equality_value(expression, body, GSI1_PK))
            .map(|v| index_key(&v)),
        _ => None,
    }
}

/// PutItem, UpdateItem, DeleteItem, GetItem, Query, Scan: one partition (a Scan: the whole
/// table), Local's figure as it is.
fn single_key(operation: &str, request: &Value, consumed: &[(String, Consumed)]) -> Vec<Charge> {
    let table = request["TableName"].as_str().unwrap_or_default();
    let units = consumed_of(consumed, table);
    let write = |key: String, units: f64| Charge {
        key,
        write: units,
        read: 0.0,
    };
    let read = |key: String, units: f64| Charge {
        key,
        write: 0.0,
        read: units,
    };
    match operation {
        "PutItem" | "UpdateItem" | "DeleteItem" => {
            let base = if operation == "PutItem" {
                partition_of(&request["Item"])
            } else {
                partition_of(&request["Key"])
            };
            let mut charges = vec![write(base, units.table)];
            if units.index > 0.0 {
                let key = index_key_of_write(operation, request)
                    .unwrap_or_else(|| UNKNOWN_INDEX_KEY.into());
                charges.push(write(key, units.index));
            }
            charges
        }
        "GetItem" => vec![read(partition_of(&request["Key"]), units.table)],
        "Query" => {
            let on_index = request["IndexName"].as_str() == Some(GSI1);
            let attribute = if on_index { GSI1_PK } else { PK };
            let value = request["KeyConditionExpression"]
                .as_str()
                .and_then(|expression| equality_value(expression, request, attribute))
                .unwrap_or_else(|| "(no partition key)".into());
            let key = if on_index { index_key(&value) } else { value };
            vec![read(key, units.table + units.index)]
        }
        _ => vec![read("(scan)".into(), units.table + units.index)],
    }
}

/// Splits `total` over `weights` in proportion (every weight is a rule's estimate for one item,
/// so the split is exact when Local's total agrees with the rules).
fn share(total: f64, weights: &[Weight], write: bool) -> Vec<Charge> {
    let sum: f64 = weights.iter().map(|(_, weight)| weight).sum();
    if total == 0.0 || sum == 0.0 {
        return Vec::new();
    }
    weights
        .iter()
        .map(|(key, weight)| {
            let units = total * weight / sum;
            Charge {
                key: key.clone(),
                write: if write { units } else { 0.0 },
                read: if write { 0.0 } else { units },
            }
        })
        .collect()
}

/// One write's weights: the base item's units, and its GSI1 entry's (same size) if it has one.
fn write_weights(operation: &str, body: &Value, transactional: bool) -> (Weight, Option<Weight>) {
    let (base, units) = match operation {
        "Put" | "PutRequest" | "PutItem" => {
            let size = body["Item"].as_object().map_or(0, item_size);
            (
                partition_of(&body["Item"]),
                write_units(size, transactional),
            )
        }
        // The item's size is not in the request: the rule's minimum.
        _ => (partition_of(&body["Key"]), write_units(0, transactional)),
    };
    let index = index_key_of_write(operation, body).map(|key| (key, units));
    ((base, units), index)
}

/// A partition key and the units the rules give its item: what a split is proportional to.
type Weight = (String, f64);

/// One table's writes in a request: the base items' weights and their GSI1 entries'.
struct TableWrites {
    table: String,
    base: Vec<Weight>,
    index: Vec<Weight>,
}

impl TableWrites {
    fn new(table: String) -> Self {
        Self {
            table,
            base: Vec::new(),
            index: Vec::new(),
        }
    }
}

/// How a split total is taken: Local's as it is, or at least the rules' per-item sum.
#[derive(Clone, Copy, PartialEq)]
enum Total {
    Local,
    AtLeastTheRules,
}

/// Splits each table's base and index units over its items' weights.
fn share_writes(
    per_table: Vec<TableWrites>,
    consumed: &[(String, Consumed)],
    total: Total,
) -> Vec<Charge> {
    let mut charges = Vec::new();
    for TableWrites { table, base, index } in per_table {
        let mut units = consumed_of(consumed, &table);
        if total == Total::AtLeastTheRules {
            units.table = units.table.max(base.iter().map(|(_, w)| w).sum());
            units.index = units.index.max(index.iter().map(|(_, w)| w).sum());
        }
        charges.extend(share(units.table, &base, true));
        let index = if index.is_empty() {
            vec![(UNKNOWN_INDEX_KEY.to_string(), 1.0)]
        } else {
            index
        };
        charges.extend(share(units.index, &index, true));
    }
    charges
}

/// BatchWriteItem: Local's units per table, split by each item's rule (a put by its size, a
/// delete at the minimum). Local never leaves items unprocessed.
fn batch_write(request: &Value, consumed: &[(String, Consumed)]) -> Vec<Charge> {
    let tables = request["RequestItems"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let per_table = tables
        .into_iter()
        .map(|(table, writes)| {
            let mut table = TableWrites::new(table);
            for write in writes.as_array().into_iter().flatten() {
                let (kind, body) = match write.get("PutRequest") {
                    Some(put) => ("PutRequest", put),
                    None => ("DeleteRequest", &write["DeleteRequest"]),
                };
                let (item, entry) = write_weights(kind, body, false);
                table.base.push(item);
                table.index.extend(entry);
            }
            table
        })
        .collect();
    share_writes(per_table, consumed, Total::Local)
}

fn transact_actions(request: &Value) -> Vec<(String, String, Value)> {
    request["TransactItems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|action| {
            let (kind, body) = action.as_object()?.iter().next()?;
            let table = body["TableName"].as_str()?.to_string();
            Some((table, kind.clone(), body.clone()))
        })
        .collect()
}

fn transact_weights(request: &Value) -> Vec<TableWrites> {
    let mut per_table: Vec<TableWrites> = Vec::new();
    for (table, kind, body) in transact_actions(request) {
        let (item, entry) = write_weights(&kind, &body, true);
        let slot = match per_table.iter().position(|writes| writes.table == table) {
            Some(slot) => slot,
            None => {
                per_table.push(TableWrites::new(table));
                per_table.len() - 1
            }
        };
        per_table[slot].base.push(item);
        per_table[slot].index.extend(entry);
    }
    per_table
}

/// TransactWriteItems: each action's rule ×2 (a put by its size; an update, delete or condition
/// check at the minimum), or Local's per-table total split that way when it is larger (an update
/// of a big item). Local rounds a transaction's summed sizes once (two 10-byte puts: 2 units),
/// where AWS rounds each item (4 units), so Local's figure alone would undercount.
fn transact_write(request: &Value, consumed: &[(String, Consumed)]) -> Vec<Charge> {
    share_writes(transact_weights(request), consumed, Total::AtLeastTheRules)
}

/// A cancelled transaction still consumes its writes (AWS charges them; Local returns no
/// figure): the rules' estimate.
fn transact_write_estimate(request: &Value) -> Vec<Charge> {
    transact_weights(request)
        .into_iter()
        .flat_map(|writes| writes.base.into_iter().chain(writes.index))
        .map(|(key, units)| Charge {
            key,
            write: units,
            read: 0.0,
        })
        .collect()
}

/// A refused conditional write consumes units too (Local returns no figure): a put by its
/// item's size, an update or delete at the minimum.
fn refused_write_estimate(operation: &str, request: &Value) -> Vec<Charge> {
    let ((key, units), _) = write_weights(operation, request, false);
    vec![Charge {
        key,
        write: units,
        read: 0.0,
    }]
}

fn key_identity(item: &Value, key_names: &[String]) -> String {
    key_names
        .iter()
        .map(|name| item[name].to_string())
        .collect::<Vec<_>>()
        .join("|")
}

/// BatchGetItem: each key's rule (a found item by its size, a missing one at the minimum;
/// eventually consistent unless the table's `ConsistentRead`), or Local's per-table total split
/// that way when larger.
fn batch_get(
    request: &Value,
    response: Option<&Value>,
    consumed: &[(String, Consumed)],
) -> Vec<Charge> {
    let tables = request["RequestItems"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut charges = Vec::new();
    for (table, wanted) in tables {
        let kind = ReadKind::consistent(wanted["ConsistentRead"].as_bool() == Some(true));
        let keys: Vec<&Map<String, Value>> = wanted["Keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .collect();
        let key_names: Vec<String> = keys
            .first()
            .map(|key| key.keys().cloned().collect())
            .unwrap_or_default();
        let found: Vec<(String, usize)> = response
            .and_then(|r| r["Responses"][&table].as_array())
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let size = item_size(item.as_object()?);
                Some((key_identity(item, &key_names), size))
            })
            .collect();
        let weights: Vec<Weight> = keys
            .iter()
            .map(|key| {
                let identity = key_identity(&Value::Object((*key).clone()), &key_names);
                let size = found
                    .iter()
                    .find(|(id, _)| *id == identity)
                    .map_or(0, |(_, size)| *size);
                (
                    partition_of(&Value::Object((*key).clone())),
                    read_units(size, kind),
                )
            })
            .collect();
        // Local charges nothing for a key not found; AWS charges a read's minimum.
        let rules: f64 = weights.iter().map(|(_, units)| units).sum();
        let total = consumed_of(consumed, &table).table.max(rules);
        charges.extend(share(total, &weights, false));
    }
    charges
}

/// TransactGetItems: Local's units per table, split by each get's rule ×2 (the responses come
/// in the order of the gets).
fn transact_get(
    request: &Value,
    response: Option<&Value>,
    consumed: &[(String, Consumed)],
) -> Vec<Charge> {
    let answers: Vec<Value> = response
        .and_then(|r| r["Responses"].as_array().cloned())
        .unwrap_or_default();
    let mut per_table: Vec<(String, Vec<Weight>)> = Vec::new();
    for (i, (table, _, body)) in transact_actions(request).into_iter().enumerate() {
        let size = answers
            .get(i)
            .and_then(|answer| answer["Item"].as_object())
            .map_or(0, item_size);
        let weight = (
            partition_of(&body["Key"]),
            read_units(size, ReadKind::Transactional),
        );
        match per_table.iter_mut().find(|(name, _)| *name == table) {
            Some((_, weights)) => weights.push(weight),
            None => per_table.push((table, vec![weight])),
        }
    }
    per_table
        .into_iter()
        .flat_map(|(table, weights)| share(consumed_of(consumed, &table).table, &weights, false))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_query_charges_the_partition_its_key_condition_names() {
        let request = json!({
            "TableName": "t",
            "KeyConditionExpression": "#pk = :pk AND begins_with(SK, :sk)",
            "ExpressionAttributeNames": {"#pk": "PK"},
            "ExpressionAttributeValues": {":pk": {"S": "QUEUE#d#ORDER"}, ":sk": {"S": "C#"}},
        });
        let response = json!({"ConsumedCapacity": {"TableName": "t", "CapacityUnits": 18.0}});
        let bill = bill("Query", &request, Some(&response), None);
        assert_eq!(
            bill.charges,
            vec![Charge {
                key: "QUEUE#d#ORDER".into(),
                write: 0.0,
                read: 18.0
            }]
        );
    }

    #[test]
    fn a_batch_write_splits_the_tables_units_by_item_size() {
        let item = |pk: &str, bytes: usize| json!({"PutRequest": {"Item": {"PK": {"S": pk}, "SK": {"S": "x"}, "p": {"S": "x".repeat(bytes)}}}});
        let request = json!({"RequestItems": {"t": [item("a", 2500), item("b", 500)]}});
        let response = json!({"ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 4.0}]});
        let bill = bill("BatchWriteItem", &request, Some(&response), None);
        let by_key: Vec<(String, f64)> = bill
            .charges
            .iter()
            .map(|c| (c.key.clone(), c.write))
            .collect();
        assert_eq!(by_key, vec![("a".into(), 3.0), ("b".into(), 1.0)]);
    }

    #[test]
    fn a_refused_conditional_put_is_estimated_from_its_item() {
        let request =
            json!({"TableName": "t", "Item": {"PK": {"S": "a"}, "p": {"S": "x".repeat(1500)}}});
        let bill = bill(
            "PutItem",
            &request,
            None,
            Some("ConditionalCheckFailedException"),
        );
        assert!(bill.estimated);
        assert_eq!(bill.charges[0].write, 2.0);
    }
}
