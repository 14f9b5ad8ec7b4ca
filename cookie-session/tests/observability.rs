//! Rejected cookies are counted by reason and logged without their value or any secret.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use cookie_session::format::{Format, SigAlgorithm};
use cookie_session::{KeyRing, Rejection, SessionConfig};

const KEY: &str = "observability-key-0123456789abcdef012345";

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn rejections_are_counted_and_logged_without_values() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        for format in [
            Format::Encrypted,
            Format::Signed,
            Format::Express(SigAlgorithm::Sha1),
        ] {
            let layer = SessionConfig::new(KeyRing::new([KEY]).unwrap())
                .format(format)
                .build()
                .unwrap();
            let good = layer
                .encode(
                    serde_json::json!({"secret-data": 1})
                        .as_object()
                        .cloned()
                        .unwrap(),
                )
                .unwrap();
            let pairs: Vec<&str> = good.iter().map(|h| h.split(';').next().unwrap()).collect();
            let header = pairs.join("; ");
            let value = pairs[0].strip_prefix("session=").unwrap();
            // Tamper with one character in the middle of the value.
            let mid = value.len() / 2;
            let flipped = if &value[mid..mid + 1] == "A" {
                "B"
            } else {
                "A"
            };
            let tampered = header.replacen(
                value,
                &format!("{}{}{}", &value[..mid], flipped, &value[mid + 1..]),
                1,
            );
            for _ in 0..3 {
                assert!(layer.decode([tampered.as_str()]).is_err());
            }
            assert!(layer.decode(["session=%%%"]).is_err());
            assert!(layer.decode(["other=1"]).is_err(), "missing");
            let metrics = layer.metrics();
            assert_eq!(
                metrics.count(Rejection::BadSignature),
                3,
                "{format}: {metrics:?}"
            );
            // `session=%%%` alone: not base64 (native), or no `.sig` cookie beside it (Express).
            let malformed = if format.has_server_expiry() {
                Rejection::Malformed
            } else {
                Rejection::MissingSignature
            };
            assert_eq!(metrics.count(malformed), 1, "{format}: {metrics:?}");
            assert_eq!(
                metrics.count(Rejection::Missing),
                0,
                "no cookie is not a rejection"
            );
            let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
            assert!(logs.contains("session cookie rejected"), "{logs}");
            assert!(logs.contains("bad_signature"), "{logs}");
            assert!(
                !logs.contains(value) && !logs.contains(&value[..16]),
                "a cookie value was logged"
            );
            assert!(!logs.contains(KEY) && !logs.contains("secret-data"));
        }
    });
}

/// The Express format takes short keys, as keygrip does, but says so when the layer is built:
/// one warning per short key, naming its position and length, never the key.
#[test]
fn short_express_keys_are_warned_about_without_the_key() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let short = "short-secret-Zq7";
    tracing::subscriber::with_default(subscriber, || {
        let ring = KeyRing::new(["~", KEY, short]).unwrap();
        SessionConfig::new(ring)
            .format(Format::Express(SigAlgorithm::Sha1))
            .build()
            .unwrap();
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 2, "{logs}");
    assert!(
        warnings[0].contains("key_index=0") && warnings[0].contains("key_len=1"),
        "{logs}"
    );
    assert!(
        warnings[1].contains("key_index=2") && warnings[1].contains("key_len=16"),
        "{logs}"
    );
    assert!(
        warnings.iter().all(|w| w.contains("brute-forced")),
        "{logs}"
    );
    assert!(
        !logs.contains(short) && !logs.contains('~') && !logs.contains(KEY),
        "{logs}"
    );

    // Long keys, and the native formats (which refuse short keys outright): no warning.
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        for format in [Format::Express(SigAlgorithm::Sha256), Format::Encrypted] {
            SessionConfig::new(KeyRing::new([KEY]).unwrap())
                .format(format)
                .build()
                .unwrap();
        }
    });
    assert!(captured.0.lock().unwrap().is_empty());
}
