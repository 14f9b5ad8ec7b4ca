//! STUB (replaced by the express branch).
#![allow(missing_docs, unused_variables)]
use super::Rejection;
use crate::KeyRing;
use serde_json::{Map, Value};
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigAlgorithm {
    #[default]
    Sha1,
    Sha256,
    Sha512,
}
#[derive(Clone, Debug)]
pub struct ExpressCodec;
impl ExpressCodec {
    pub fn new(ring: &KeyRing, algorithm: SigAlgorithm) -> Self {
        Self
    }
    pub fn algorithm(&self) -> SigAlgorithm {
        SigAlgorithm::Sha1
    }
    pub fn sign(&self, data: &[u8]) -> String {
        String::new()
    }
    pub fn verify(&self, data: &[u8], sig: &str) -> Option<usize> {
        None
    }
    pub fn open(
        &self,
        name: &str,
        value: Option<&str>,
        sig: Option<&str>,
    ) -> Result<(usize, Map<String, Value>), Rejection> {
        Err(Rejection::Malformed)
    }
    pub fn seal(&self, name: &str, data: &Map<String, Value>) -> (String, String) {
        (String::new(), String::new())
    }
}
pub fn unquote(value: &str) -> &str {
    value
}
pub fn encode_value(data: &Map<String, Value>) -> String {
    String::new()
}
pub fn decode_value(value: &str) -> Option<Map<String, Value>> {
    None
}
pub fn stringify(value: &Value) -> String {
    String::new()
}
pub fn filter_reserved(map: Map<String, Value>) -> Map<String, Value> {
    map
}
