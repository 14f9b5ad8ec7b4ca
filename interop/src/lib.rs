//! Live interoperability tests against Express (see `tests/`).
