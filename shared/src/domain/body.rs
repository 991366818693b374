//! Typed request bodies: a JSON body decoded into a serde type. A field that does not fit is a
//! `400 invalid_request` naming its path as serde found it (`quantity`, an unknown `qty`), so no
//! use case parses a body by hand unless it must name nested paths itself (a new drop's).

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, Result};

/// `body` as a `T`: `T::default()` when there is none (or it is `null`), a `400` when it is
/// not an object or a field does not fit.
pub fn decode<T: DeserializeOwned + Default>(body: Option<Value>) -> Result<T> {
    let fields = match body {
        None | Some(Value::Null) => return Ok(T::default()),
        Some(fields @ Value::Object(_)) => fields,
        Some(_) => return Err(ApiError::invalid_body("the body must be a JSON object")),
    };
    serde_path_to_error::deserialize(fields).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        if path == "." {
            return ApiError::invalid_body(message);
        }
        // serde names an unknown field itself; any other complaint gets the field's name.
        let message = if message.contains(&format!("`{path}`")) {
            message
        } else {
            format!("{path}: {message}")
        };
        ApiError::invalid(path, message)
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Body {
        quantity: Option<u32>,
        note: Option<String>,
    }

    #[test]
    fn a_body_decodes_or_names_the_field_that_does_not_fit() {
        assert_eq!(decode::<Body>(None).unwrap(), Body::default());
        assert_eq!(decode::<Body>(Some(Value::Null)).unwrap(), Body::default());
        assert_eq!(
            decode::<Body>(Some(json!({ "quantity": 2, "note": null }))).unwrap(),
            Body {
                quantity: Some(2),
                note: None
            }
        );
        for (body, field) in [
            (json!({ "quantity": "2" }), Some("quantity")),
            (json!({ "quantity": 1.5 }), Some("quantity")),
            (json!({ "quantity": -1 }), Some("quantity")),
            (json!({ "quantity": 5_000_000_000_u64 }), Some("quantity")),
            (json!({ "note": 7 }), Some("note")),
            (json!({ "qty": 1 }), Some("qty")),
            (json!([1]), None),
            (json!("quantity"), None),
        ] {
            let error = decode::<Body>(Some(body.clone())).expect_err("refused");
            assert_eq!(error.status_and_code().1, "invalid_request", "{body}");
            assert_eq!(error.field(), field, "{body}: {error}");
        }
        let unknown = decode::<Body>(Some(json!({ "qty": 1 }))).unwrap_err();
        assert!(
            unknown.to_string().starts_with("unknown field `qty`"),
            "{unknown}"
        );
    }
}
