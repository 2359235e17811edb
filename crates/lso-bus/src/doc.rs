//! Edits of stored JSON documents: the Seller adds and changes its own attributes and leaves
//! the Buyer's untouched.

use crate::BusError;
use lso_model::DateTime;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Reads a stored document: the text is parsed once, and the typed view read from the tree.
pub fn read<T: DeserializeOwned>(text: &str, what: &str) -> Result<(Value, T), BusError> {
    let value: Value = serde_json::from_str(text).map_err(|e| BusError::Corrupt(format!("{what}: {e}")))?;
    let typed = typed(&value, what)?;
    Ok((value, typed))
}

/// The typed view of a document, read in place (no copy of the tree).
pub fn typed<T: DeserializeOwned>(value: &Value, what: &str) -> Result<T, BusError> {
    T::deserialize(value).map_err(|e| BusError::Corrupt(format!("{what}: {e}")))
}

/// The document as stored.
pub fn text(value: &Value) -> String {
    value.to_string()
}

/// `value` as JSON.
pub fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The object `value` is, made one if it is not.
pub fn object(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("made an object above"),
    }
}

/// Sets `key` to `value`.
pub fn set(target: &mut Value, key: &str, value: impl Into<Value>) {
    object(target).insert(key.to_owned(), value.into());
}

/// Removes `key`.
pub fn remove(target: &mut Value, key: &str) {
    object(target).remove(key);
}

/// Appends `value` to the array at `key`, creating it.
pub fn push(target: &mut Value, key: &str, value: Value) {
    let slot = object(target).entry(key.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    if let Value::Array(items) = slot {
        items.push(value);
    }
}

/// The item of an order document with `id`.
pub fn item_mut<'a>(order: &'a mut Value, id: &str) -> Option<&'a mut Value> {
    order.get_mut("productOrderItem")?.as_array_mut()?.iter_mut().find(|item| item["id"] == id)
}

/// A `stateChange` entry.
pub fn state_change(state: &str, at: &DateTime, reason: Option<&str>) -> Value {
    let mut change = serde_json::json!({ "changeDate": at.as_str(), "state": state });
    if let Some(reason) = reason {
        set(&mut change, "changeReason", reason);
    }
    change
}
