//! DynamoDB's capacity rules for items the meter only sees in JSON: an item's size, and the
//! units a write or a read of that size costs.

use serde_json::{Map, Value};

const WRITE_UNIT_BYTES: usize = 1024;
const READ_UNIT_BYTES: usize = 4096;

/// How a read is charged: an eventually consistent read costs half a strongly consistent one,
/// a transactional read twice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReadKind {
    Eventual,
    Consistent,
    Transactional,
}

impl ReadKind {
    pub fn consistent(flag: bool) -> Self {
        if flag {
            Self::Consistent
        } else {
            Self::Eventual
        }
    }

    fn factor(self) -> f64 {
        match self {
            Self::Eventual => 0.5,
            Self::Consistent => 1.0,
            Self::Transactional => 2.0,
        }
    }
}

/// Write units for an item of `bytes`: one per started KB (at least one); ×2 in a transaction.
pub fn write_units(bytes: usize, transactional: bool) -> f64 {
    let units = bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as f64;
    if transactional { 2.0 * units } else { units }
}

/// Read units for `bytes` read in one request (an item, or a Query's items summed): one per
/// started 4 KB (at least one), times the read's factor.
pub fn read_units(bytes: usize, kind: ReadKind) -> f64 {
    bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64 * kind.factor()
}

/// An item's size as DynamoDB counts it: each attribute's name plus its value (Developer Guide,
/// "Item sizes and formats"). Good to a few bytes, which only matters at a KB boundary.
pub fn item_size(item: &Map<String, Value>) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|typed| typed.iter().next()) else {
        return 0;
    };
    match (kind.as_str(), inner) {
        ("S", Value::String(text)) => text.len(),
        ("N", Value::String(number)) => number_size(number),
        // Binary travels base64-encoded; its size is the decoded length.
        ("B", Value::String(encoded)) => encoded.len() / 4 * 3,
        ("BOOL" | "NULL", _) => 1,
        ("SS", Value::Array(items)) | ("BS", Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map_or(0, str::len))
            .sum(),
        ("NS", Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map_or(0, number_size))
            .sum(),
        // Lists and maps: 3 bytes, plus one byte and the value per element (and its name).
        ("L", Value::Array(items)) => {
            3 + items.iter().map(|item| 1 + value_size(item)).sum::<usize>()
        }
        ("M", Value::Object(entries)) => {
            3 + entries
                .iter()
                .map(|(name, item)| 1 + name.len() + value_size(item))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// A number: one byte per two significant digits, plus one.
fn number_size(number: &str) -> usize {
    let digits: String = number
        .chars()
        .take_while(|c| *c != 'e' && *c != 'E')
        .filter(char::is_ascii_digit)
        .collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_round_up_per_kb_and_double_in_transactions() {
        assert_eq!(write_units(1, false), 1.0);
        assert_eq!(write_units(1024, false), 1.0);
        assert_eq!(write_units(1025, false), 2.0);
        assert_eq!(write_units(3000, true), 6.0);
    }

    #[test]
    fn reads_round_up_per_4kb_with_their_factor() {
        assert_eq!(read_units(100, ReadKind::Eventual), 0.5);
        assert_eq!(read_units(4097, ReadKind::Consistent), 2.0);
        assert_eq!(read_units(4096, ReadKind::Transactional), 2.0);
    }

    #[test]
    fn an_item_counts_names_and_values() {
        let item = json!({
            "PK": {"S": "abc"},
            "n": {"N": "12345"},
            "flag": {"BOOL": true},
            "m": {"M": {"k": {"S": "vv"}}},
        });
        // PK 2+3, n 1+4, flag 4+1, m 1+(3 + 1+1+2)
        assert_eq!(item_size(item.as_object().unwrap()), 5 + 5 + 5 + 8);
    }
}
