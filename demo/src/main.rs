//! The example app (being written).
fn main() {}
