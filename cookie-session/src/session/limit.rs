//! The size limit of a stored session: checked before the layer writes a record, so a client
//! cannot grow one record (or a store) without bound, one request at a time.

use std::io;

use serde_json::{Map, Value};

use super::{SessionError, Shared};

/// Refuses `data` when its JSON text — what every store writes — is longer than the layer's
/// limit, counting it as in [`stored_size`]. The refusal is counted with the oversized cookies.
pub(crate) fn check(shared: &Shared, data: &Map<String, Value>) -> Result<(), SessionError> {
    let limit = shared.max_session_size;
    let size = stored_size(data);
    if size <= limit {
        return Ok(());
    }
    shared.metrics.oversized();
    Err(SessionError::SessionTooLarge { size, limit })
}

/// The length of `data` as JSON text (serde_json, as the stores encode it), counted without
/// building the text.
pub(crate) fn stored_size(data: &Map<String, Value>) -> usize {
    let mut counter = Counter(0);
    // Writing a map of JSON values to a counter cannot fail: every key is a string, every
    // number finite, and the counter never refuses bytes.
    match serde_json::to_writer(&mut counter, data) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

/// An `io::Write` that only counts.
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
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
}
