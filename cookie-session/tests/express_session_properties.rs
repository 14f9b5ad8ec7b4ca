//! Property tests of the express-session codecs (`format::express_session`):
//!
//! - the signed sid: `open(find_cookie(cookie_value(sid)))` gives back any sid, with the index
//!   of the signing secret; any other secret list, and any change to the value, is refused;
//! - the record: for arbitrary data and cookie settings, `parse(to_json(r)) == r` and
//!   `to_json(parse(text)) == text`, so a record read and written back is byte-identical;
//! - robustness: arbitrary text never panics `Record::parse`, `find_cookie` or `open`.
#![allow(clippy::unwrap_used, missing_docs)]

use cookie_session::format::express_session::{
    decode_uri_component, encode_uri_component, find_cookie, iso_from_ms, ms_from_iso, CookieMeta,
    Record, SameSite, SidSigner, RESERVED_KEYS,
};
use cookie_session::KeyRing;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Integers JavaScript holds exactly, so `JSON.stringify` writes them back unchanged.
const SAFE: i64 = (1 << 53) - 1;

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-SAFE..=SAFE).prop_map(Value::from),
        // Finite doubles: serde_json (float_roundtrip) and the JS-exact writer agree on them,
        // except -0, which JavaScript writes as 0 (checked in `negative_zero_is_written_as_zero`).
        any::<f64>()
            .prop_filter("finite, not -0", |f| f.is_finite()
                && !(*f == 0.0 && f.is_sign_negative()))
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// Data keys: anything but `cookie` and the names express-session's Session already has.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[0-9]{1,3}", "[a-z]{1,8}"].prop_filter("not reserved", |k| {
        k != "cookie" && k != "__proto__" && !RESERVED_KEYS.contains(&k.as_str())
    })
}

fn data() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((key(), json_value()), 0..6).prop_map(|pairs| pairs.into_iter().collect())
}

fn member<T: std::fmt::Debug + Clone + 'static>(
    inner: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Option<Option<T>>> {
    prop_oneof![
        Just(None),
        Just(Some(None)),
        inner.prop_map(|v| Some(Some(v)))
    ]
}

fn cookie_meta() -> impl Strategy<Value = CookieMeta> {
    let dates = -62_167_219_200_000i64..=253_402_300_799_999;
    (
        (
            member(-1_000_000_000_000i64..1_000_000_000_000),
            member(any::<bool>()),
            member(prop::sample::select(vec!["low", "Medium", "HIGH"]).prop_map(String::from)),
            member(dates),
            member(any::<bool>()),
        ),
        (
            member(any::<bool>()),
            member(any::<String>()),
            member(any::<String>()),
            member(prop_oneof![
                any::<bool>().prop_map(SameSite::Bool),
                prop::sample::select(vec!["lax", "Strict", "none"])
                    .prop_map(|s| SameSite::Text(s.to_owned())),
            ]),
        ),
    )
        .prop_map(
            |(
                (original_max_age, partitioned, priority, expires, secure),
                (http_only, domain, path, same_site),
            )| CookieMeta {
                original_max_age,
                partitioned,
                priority,
                expires,
                secure,
                http_only,
                domain,
                path,
                same_site,
            },
        )
}

/// Equality as JavaScript sees JSON: numbers are doubles (`100.0` is `100`), object key order
/// does not matter.
fn js_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| js_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| js_eq(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn negative_zero_is_written_as_zero() {
    let mut record = Record::new(CookieMeta::express_default(None, 0));
    record
        .data_mut()
        .insert("z".into(), serde_json::json!([-0.0]));
    assert!(record.to_json().ends_with(r#""z":[0]}"#));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn signed_sids_round_trip(
        sid in any::<String>(),
        secrets in prop::collection::vec("[ -~]{1,40}", 1..4),
        signing in 0usize..4,
    ) {
        prop_assume!(signing < secrets.len());
        // The app verifies with every secret; the cookie was signed with one of them.
        let signer = SidSigner::new(&KeyRing::new(&secrets).unwrap());
        let only = SidSigner::new(&KeyRing::new([&secrets[signing]]).unwrap());
        let value = only.cookie_value(&sid);
        let found = find_cookie(&format!("a=1; connect.sid={value}; b=2"), "connect.sid").unwrap();
        let (opened, index) = signer.open(&found).unwrap();
        prop_assert_eq!(&opened, &sid);
        // The first secret equal to the signing one (a list may repeat a secret).
        let first = secrets.iter().position(|s| *s == secrets[signing]).unwrap();
        prop_assert_eq!(index, first);
        // Another secret list refuses it.
        let other = SidSigner::new(&KeyRing::new(["not-one-of-them"]).unwrap());
        prop_assert!(secrets.iter().any(|s| s == "not-one-of-them") || other.open(&found).is_err());
    }

    #[test]
    fn a_changed_value_is_refused(sid in "[A-Za-z0-9_-]{32}", at in any::<prop::sample::Index>(), to in any::<char>()) {
        let signer = SidSigner::new(&KeyRing::new(["secret-new", "secret-old"]).unwrap());
        let signed = format!("s:{}", signer.sign(&sid));
        let chars: Vec<char> = signed.chars().collect();
        let i = at.index(chars.len());
        prop_assume!(chars[i] != to);
        let mut changed = chars.clone();
        changed[i] = to;
        let changed: String = changed.into_iter().collect();
        prop_assert!(signer.open(&changed).is_err(), "{}", changed);
    }

    #[test]
    fn records_round_trip(cookie in cookie_meta(), data in data()) {
        let mut record = Record::new(cookie);
        *record.data_mut() = data;
        let text = record.to_json();
        let parsed = Record::parse(&text).unwrap();
        // Byte for byte, and the same record (object key order aside: JavaScript moves
        // integer-like keys first, so compare as maps).
        prop_assert_eq!(parsed.to_json(), text.clone());
        prop_assert_eq!(parsed.cookie(), record.cookie());
        let a = Value::Object(parsed.data().clone());
        let b = Value::Object(record.data().clone());
        prop_assert!(js_eq(&a, &b), "{:?} != {:?}", a, b);
    }

    #[test]
    fn iso_dates_round_trip(ms in -62_167_219_200_000i64..=253_402_300_799_999) {
        prop_assert_eq!(ms_from_iso(&iso_from_ms(ms)), Some(ms));
    }

    #[test]
    fn uri_components_round_trip(text in any::<String>()) {
        prop_assert_eq!(decode_uri_component(&encode_uri_component(&text)), Some(text));
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>(), json in json_value()) {
        let _ = Record::parse(&text);
        let _ = Record::from_value(json.clone());
        let _ = Record::from_value(serde_json::json!({"cookie": json.clone(), "x": json}));
        let signer = SidSigner::new(&KeyRing::new(["k"]).unwrap());
        if let Some(value) = find_cookie(&text, "connect.sid") {
            let _ = signer.open(&value);
        }
        let _ = signer.open(&text);
        let _ = ms_from_iso(&text);
    }
}
