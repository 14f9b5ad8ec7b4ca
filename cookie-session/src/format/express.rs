//! The `express` format (being written).
