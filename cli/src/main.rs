//! The `cookie-session` command (being written).
fn main() {}
