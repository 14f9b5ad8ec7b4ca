//! What the SQL stores share: converting between the API's `u64`s and SQL's `i64`s, encoding
//! the data, reading rows back, and mapping errors.

use serde_json::{Map, Value};

use super::{Record, StoreError};

/// A Unix time for a `BIGINT`/`INTEGER` column: times past `i64::MAX` (the year 292 billion)
/// are clamped to it, which keeps every comparison the stores make (`expires_at > now`) right.
pub(super) fn time_to_db(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// A stored time, refused when negative (the stores never write one).
pub(super) fn time_from_db(secs: i64, column: &str) -> Result<u64, StoreError> {
    u64::try_from(secs).map_err(|_| StoreError::Corrupt(format!("negative {column}: {secs}")))
}

/// A version for a `BIGINT` column. Versions are only compared for equality, so they are
/// stored bit for bit (two's complement): every `u64` round-trips, none is clamped.
pub(super) fn version_to_db(version: u64) -> i64 {
    i64::from_ne_bytes(version.to_ne_bytes())
}

/// The inverse of [`version_to_db`].
pub(super) fn version_from_db(version: i64) -> u64 {
    u64::from_ne_bytes(version.to_ne_bytes())
}

/// The data as JSON text, keys in their order (serde_json's `preserve_order`).
pub(super) fn data_to_db(data: &Map<String, Value>) -> Result<String, StoreError> {
    serde_json::to_string(data).map_err(|e| StoreError::Backend(format!("encoding data: {e}")))
}

/// A stored row, as its columns read back.
pub(super) struct Row {
    pub(super) data: String,
    pub(super) version: i64,
    pub(super) created_at: i64,
    pub(super) expires_at: i64,
    pub(super) user: Option<String>,
}

impl Row {
    /// The record, or [`StoreError::Corrupt`] when the row does not hold one.
    pub(super) fn into_record(self) -> Result<Record, StoreError> {
        let data = match serde_json::from_str::<Value>(&self.data) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(StoreError::Corrupt("data is not a JSON object".into())),
            // serde_json's message names a line and column, never the content.
            Err(e) => return Err(StoreError::Corrupt(format!("data is not JSON: {e}"))),
        };
        Ok(Record {
            data,
            version: version_from_db(self.version),
            created_at: time_from_db(self.created_at, "created_at")?,
            expires_at: time_from_db(self.expires_at, "expires_at")?,
            user: self.user,
        })
    }
}

/// A driver error, for the operator's logs (clients only ever see an opaque 503).
pub(super) fn backend(error: sqlx::Error) -> StoreError {
    match error {
        // A column of the wrong type or missing: the row, not the backend, is at fault.
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::ColumnNotFound(_) => {
            StoreError::Corrupt(error.to_string())
        }
        _ => StoreError::Backend(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_clamp_and_versions_round_trip() {
        assert_eq!(time_to_db(0), 0);
        assert_eq!(time_to_db(1_800_000_000), 1_800_000_000);
        assert_eq!(time_to_db(u64::MAX), i64::MAX);
        assert_eq!(time_to_db(i64::MAX as u64 + 1), i64::MAX);
        assert!(time_from_db(-1, "expires_at").is_err());
        for v in [0, 1, 2, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            assert_eq!(version_from_db(version_to_db(v)), v);
        }
        assert_eq!(version_to_db(7), 7);
    }

    #[test]
    fn rows_that_hold_no_record_are_corrupt() {
        let row = |data: &str, created_at| Row {
            data: data.into(),
            version: 1,
            created_at,
            expires_at: 10,
            user: None,
        };
        assert!(matches!(
            row("[1]", 0).into_record(),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            row("{", 0).into_record(),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            row("{}", -5).into_record(),
            Err(StoreError::Corrupt(_))
        ));
        let record = row(r#"{"b":1,"a":2}"#, 0).into_record().unwrap();
        assert_eq!(record.data.keys().collect::<Vec<_>>(), ["b", "a"]);
    }
}
