//! The `encrypted` format (being written).
