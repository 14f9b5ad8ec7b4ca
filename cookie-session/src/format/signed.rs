//! The `signed` format (being written).
