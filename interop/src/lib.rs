//! Live interoperability tests against Express: see `tests/express_live.rs`.
