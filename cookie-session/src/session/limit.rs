//! The limits of a stored session, checked before the layer writes a record: its size, so a
//! client cannot grow one record (or a store) without bound, one request at a time; and its
//! nesting, so that what is written can be read back.

use serde_json::{Map, Value};

use super::{SessionError, Shared};

/// The deepest nesting of arrays and objects (the session's own map counting as one) that
/// every store reads back: serde_json's parser, which they all use, stops at 128 levels, and
/// `RedisStore` wraps the data in one more object. A deeper record would be written, then
/// fail every load as corrupt (a 503 until it expires), so it is never written.
const MAX_DEPTH: usize = 126;

/// Refuses `data` when its JSON text — what every store writes — is longer than the layer's
/// limit, counting it as in [`stored_size`] (the refusal is counted with the oversized
/// cookies), or when it is nested too deep to be read back.
pub(crate) fn check(shared: &Shared, data: &Map<String, Value>) -> Result<(), SessionError> {
    if too_deep(data) {
        return Err(SessionError::Serialize(format!(
            "the session is nested more than {MAX_DEPTH} levels deep, which no store reads back"
        )));
    }
    let limit = shared.max_session_size;
    let size = stored_size(data);
    if size <= limit {
        return Ok(());
    }
    shared.metrics.oversized();
    Err(SessionError::SessionTooLarge { size, limit })
}

/// The length of `data` as JSON text (serde_json, as the stores encode it), counted without
/// building the text; the same count the stores check merged records with
/// ([`Patch::oversize`](crate::store::Patch::oversize)).
pub(crate) fn stored_size(data: &Map<String, Value>) -> usize {
    crate::store::json_len(data)
}

/// Whether `data` nests arrays and objects deeper than [`MAX_DEPTH`], found without recursion
/// (a value built by the application may be nested far deeper than a stack allows).
fn too_deep(data: &Map<String, Value>) -> bool {
    let mut pending: Vec<(&Value, usize)> = data.values().map(|v| (v, 2)).collect();
    while let Some((value, depth)) = pending.pop() {
        let inner: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth > MAX_DEPTH {
            return true;
        }
        pending.extend(inner.map(|v| (v, depth + 1)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_size_is_the_stored_json_text() {
        for value in [
            json!({}),
            json!({"a": 1}),
            json!({"user": "\u{0}x", "é": ["ü", 1.5, null, {"k": "\"quoted\""}]}),
            json!({"big": "x".repeat(70_000)}),
        ] {
            let map = value.as_object().cloned().unwrap_or_default();
            let text = serde_json::to_string(&map).unwrap_or_default();
            assert_eq!(stored_size(&map), text.len(), "{text:.40}");
        }
    }

    /// `depth` nested arrays under one key.
    fn nested(depth: usize) -> Map<String, Value> {
        let mut value = json!(1);
        for _ in 0..depth {
            value = json!([value]);
        }
        let mut map = Map::new();
        map.insert("d".into(), value);
        map
    }

    #[test]
    fn too_deep_is_exactly_what_serde_json_cannot_read_back_inside_a_wrapper() {
        for depth in [0, 1, 100, 124, 125, 126, 127, 300] {
            let map = nested(depth);
            // As the Redis store writes it: the data one level down.
            let text = serde_json::to_string(&json!({ "data": map })).unwrap_or_default();
            let reads_back = serde_json::from_str::<Value>(&text).is_ok();
            assert_eq!(too_deep(&map), !reads_back, "{depth}");
        }
    }
}
