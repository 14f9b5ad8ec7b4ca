//! Property tests over every format (docs/SECURITY-CHECKLIST.md items 13, 33 and
//! item 61), through the public [`Codec`] and [`SessionLayer`] entry points:
//!
//! - round trip: for arbitrary JSON session maps, `open(seal(canonical(s))) == s` in every
//!   format, and reading a session back gives the canonical text it was read from (so a
//!   read-only request never rewrites the cookie);
//! - authenticity: random strings and random mutations of sealed values are refused by every
//!   codec and by the whole read path of the layer;
//! - robustness: arbitrary `Cookie` headers never panic the layer, through `decode` and
//!   through a real request; a 64 KiB header and a 10,000-deep JSON session are handled.
//!
//! The fuzz targets (`fuzz/`, docs/FUZZING.md) check the same properties on unbounded input.
#![allow(clippy::unwrap_used, missing_docs)]

use std::convert::Infallible;

use base64::Engine as _;
use cookie_session::format::express::{filter_reserved, RESERVED_KEYS};
use cookie_session::format::{Cipher, Codec, Format, SigAlgorithm, Timestamps, MAX_INPUT_LEN};
use cookie_session::{from_unix_secs, KeyRing, Rejection, Session, SessionConfig, SessionLayer};
use http::{HeaderValue, Request, Response, StatusCode};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};
use tower::{service_fn, Layer, ServiceExt};

const NAME: &str = "session";
const NATIVE_KEYS: [&str; 2] = [
    "properties-secret-one-32-bytes-long!!",
    "properties-secret-two-32-bytes-long!!",
];
const EXPRESS_KEYS: [&str; 2] = ["express-key-new", "express-key-old"];
const NOW: u64 = 1_700_000_100;
const TIMES: Timestamps = Timestamps {
    created_at: 1_700_000_000,
    issued_at: 1_700_000_000,
    expires_at: 1_700_086_400,
};
const FORMATS: [Format; 5] = [
    Format::Encrypted,
    Format::Signed,
    Format::Express(SigAlgorithm::Sha1),
    Format::Express(SigAlgorithm::Sha256),
    Format::Express(SigAlgorithm::Sha512),
];
/// 2^53: the integers every format (and JS) holds exactly.
const SAFE: i64 = 1 << 53;

fn ring(format: Format) -> KeyRing {
    match format {
        Format::Express(_) => KeyRing::new(EXPRESS_KEYS).unwrap(),
        _ => KeyRing::new(NATIVE_KEYS).unwrap(),
    }
}

/// Both versions of the `encrypted` format, each pinned, so every property holds for each on
/// any CPU (the layers, built with the default cipher, open both).
const CIPHERS: [Cipher; 2] = [Cipher::XChaCha20Poly1305, Cipher::Xaes256Gcm];

/// Every codec: each format (`encrypted` in both versions), and the native ones with and
/// without compression.
fn codecs() -> Vec<Codec> {
    let mut out = Vec::new();
    for format in FORMATS {
        let base = Codec::new(format, &ring(format), NAME).unwrap();
        let versions = match format {
            Format::Encrypted => CIPHERS
                .map(|cipher| base.clone().with_cipher(cipher))
                .to_vec(),
            _ => vec![base],
        };
        for codec in versions {
            if format.has_server_expiry() {
                out.push(codec.clone().with_compression(true));
            }
            out.push(codec);
        }
    }
    out
}

fn config(format: Format) -> SessionConfig {
    SessionConfig::new(ring(format))
        .format(format)
        .clock(|| from_unix_secs(NOW))
}

/// A layer per format, plus the native ones reading split sessions.
fn layers() -> Vec<(String, SessionLayer)> {
    let mut out = Vec::new();
    for format in FORMATS {
        out.push((format.to_string(), config(format).build().unwrap()));
        if format.has_server_expiry() {
            let split = config(format).split_oversized(4).compress(true);
            out.push((format!("{format} split"), split.build().unwrap()));
        }
    }
    out
}

/// The request's `Cookie` header for sealed values.
fn header(codec: &Codec, value: &str, sig: Option<&str>) -> String {
    match (codec.sig_name(), sig) {
        (Some(sig_name), Some(sig)) => format!("{NAME}={value}; {sig_name}={sig}"),
        _ => format!("{NAME}={value}"),
    }
}

// ---- strategies ----

/// Strings of any chars, with control characters, quotes, backslashes and the JS line
/// separators well represented (`any::<String>()` alone rarely gives controls).
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<char>(),
            1 => (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap()),
            1 => prop::sample::select(vec!['"', '\\', '/', '\u{7f}', '\u{2028}', '\u{2029}', '\u{feff}', '😀', 'é']),
        ],
        0..12,
    )
    .prop_map(String::from_iter)
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-SAFE..=SAFE).prop_map(Value::from),
        prop::sample::select(vec![0, 1, -1, SAFE, -SAFE]).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite, not integral", |f| f.is_finite()
                && f.fract() != 0.0)
            .prop_map(|f| Value::Number(Number::from_f64(f).unwrap())),
        text().prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn session() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec(
        (
            prop_oneof![4 => text(), 1 => prop::sample::select(vec!["0".to_owned(), "10".into(), "2".into(), "isNew".into(), "__proto__".into()])],
            json(),
        ),
        0..8,
    )
    .prop_map(|kv| kv.into_iter().collect())
}

/// JSON equality as JS sees it after a round trip through doubles: numbers compare as `f64`,
/// object members in any order (Express writes array-index keys first).
fn same_as_js(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_as_js(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_as_js(v, w)))
        }
        _ => a == b,
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Replace(usize, char),
    Delete(usize),
    Insert(usize, char),
    Truncate(usize),
    Swap(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let c = prop_oneof![
        3 => prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=.".chars().collect::<Vec<_>>()
        ),
        1 => any::<char>(),
    ];
    prop_oneof![
        (any::<usize>(), 0u8..7).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), c.clone()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), c).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::Swap(i, j)),
    ]
}

/// Applies a mutation to an ASCII value (sealed values are ASCII); indexes wrap.
fn mutate(value: &str, m: &Mutation) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    let n = chars.len().max(1);
    match *m {
        Mutation::Flip(i, bit) => {
            if let Some(c) = chars.get_mut(i % n) {
                // Stay ASCII (bit < 7) so the value stays a valid header.
                *c = char::from((*c as u8) ^ (1 << bit));
            }
        }
        Mutation::Replace(i, c) => {
            if let Some(slot) = chars.get_mut(i % n) {
                *slot = c;
            }
        }
        Mutation::Delete(i) => {
            if !chars.is_empty() {
                chars.remove(i % n);
            }
        }
        Mutation::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
        Mutation::Truncate(i) => chars.truncate(i % n),
        Mutation::Swap(i, j) => {
            if !chars.is_empty() {
                chars.swap(i % n, j % n);
            }
        }
    }
    chars.into_iter().collect()
}

/// A request through the layer, whose handler reads the session (and writes it on `/write`);
/// returns the status and what the handler saw.
fn request(
    layer: &SessionLayer,
    path: &str,
    cookies: &[HeaderValue],
) -> (StatusCode, Map<String, Value>) {
    let (status, seen, _) = request_full(layer, path, cookies);
    (status, seen)
}

/// [`request`], also returning the response's `Set-Cookie` headers.
fn request_full(
    layer: &SessionLayer,
    path: &str,
    cookies: &[HeaderValue],
) -> (StatusCode, Map<String, Value>, Vec<String>) {
    let service = layer.layer(service_fn(|req: Request<String>| async move {
        let session = req.extensions().get::<Session>().unwrap().clone();
        let data = session.data();
        if req.uri().path() == "/write" {
            session.insert_value("n", Value::from(1));
        }
        Ok::<_, Infallible>(Response::new(serde_json::to_string(&data).unwrap()))
    }));
    let mut req = Request::builder().uri(path);
    for cookie in cookies {
        req = req.header(http::header::COOKIE, cookie.clone());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let response = runtime
        .block_on(service.oneshot(req.body(String::new()).unwrap()))
        .unwrap();
    let status = response.status();
    let set_cookies = response
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let seen = serde_json::from_str(response.body()).unwrap();
    (status, seen, set_cookies)
}

// ---- properties ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// docs/SECURITY-CHECKLIST.md item 13: `decode(encode(s)) == s` in every format. Native formats hold
    /// JSON exactly; Express holds what JS would (reserved keys dropped, numbers as doubles).
    #[test]
    fn every_format_round_trips_any_session(s in session()) {
        for codec in codecs() {
            let canonical = codec.canonical(&s);
            let sealed = codec.seal(&canonical, TIMES);
            prop_assume!(sealed.value.len() <= MAX_INPUT_LEN);
            let header = header(&codec, &sealed.value, sealed.sig.as_deref());
            let loaded = codec.open([header.as_str()]);
            prop_assert!(loaded.is_ok(), "{}: {:?}", codec.format(), loaded);
            let loaded = loaded.unwrap();
            prop_assert_eq!(loaded.key_index, 0);
            if codec.format().has_server_expiry() {
                prop_assert_eq!(loaded.times, Some(TIMES));
                prop_assert_eq!(&loaded.data, &s, "{}", codec.format());
            } else {
                prop_assert_eq!(loaded.times, None);
                let want = Value::Object(filter_reserved(s.clone()));
                let got = Value::Object(loaded.data.clone());
                prop_assert!(same_as_js(&got, &want), "{}: {} != {}", codec.format(), got, want);
            }
            // Unchanged after a read: no rewrite (Express's isChanged, docs/EXPRESS-COMPATIBILITY.md §3.2). Express
            // drops reserved keys on load, so a cookie holding one differs from its session,
            // there as here; the session API never writes one.
            let reserved = s.keys().any(|k| RESERVED_KEYS.contains(&k.as_str()));
            if codec.format().has_server_expiry() || !reserved {
                prop_assert_eq!(codec.canonical(&loaded.data), loaded.canonical, "{}", codec.format());
            }
        }
    }

    /// The session layer reads a native cookie lazily (`format/data.rs`: a scanner that
    /// records where each value lies, values deserialised when read). Whatever session a
    /// native codec sealed, the layer reads the map serde_json reads, and a request that sets
    /// one key re-seals every other value byte for byte (copied, not re-serialised), in order.
    #[test]
    fn the_layer_reads_any_native_session_as_serde_json_does(s in session()) {
        for codec in codecs().into_iter().filter(|c| c.format().has_server_expiry()) {
            let layer = config(codec.format()).build().unwrap();
            let sealed = codec.seal(&codec.canonical(&s), TIMES);
            prop_assume!(sealed.value.len() <= 3_000);
            let cookie = HeaderValue::from_str(&header(&codec, &sealed.value, None)).unwrap();
            let (status, seen) = request(&layer, "/read", std::slice::from_ref(&cookie));
            prop_assert_eq!(status, StatusCode::OK);
            prop_assert_eq!(&seen, &s, "{}", codec.format());

            let (status, _, set_cookies) = request_full(&layer, "/write", &[cookie]);
            prop_assert_eq!(status, StatusCode::OK);
            let written = set_cookies.first().and_then(|c| c.split(';').next()).unwrap();
            let reopened = codec.open([written]).unwrap();
            let mut want = s.clone();
            want.insert("n".into(), Value::from(1));
            prop_assert_eq!(&reopened.canonical, &codec.canonical(&want), "{}", codec.format());
        }
    }

    /// §8.8 item 61: random text is refused by every codec and every layer.
    #[test]
    fn random_values_are_refused(value in "\\PC{0,200}", sig in "[A-Za-z0-9_-]{0,90}") {
        for codec in codecs() {
            let header = header(&codec, &value, Some(&sig));
            prop_assert!(codec.open([header.as_str()]).is_err(), "{}: {}", codec.format(), header);
        }
        for (name, layer) in layers() {
            for header in [format!("{NAME}={value}; {NAME}.sig={sig}"), format!("{NAME}.0={value}")] {
                prop_assert!(layer.decode([header.as_str()]).is_err(), "{}: {}", name, header);
            }
        }
    }

    /// §8.8 item 61: any change to a sealed value (or to its signature cookie) is refused, by
    /// the codec and by the layer with the same keys.
    #[test]
    fn mutated_values_are_refused(s in session(), m in mutation(), on_sig in any::<bool>()) {
        let layers = layers();
        for codec in codecs() {
            let sealed = codec.seal(&codec.canonical(&s), TIMES);
            let (value, sig) = match (&sealed.sig, on_sig) {
                (Some(sig), true) => (sealed.value.clone(), Some(mutate(sig, &m))),
                _ => (mutate(&sealed.value, &m), sealed.sig.clone()),
            };
            prop_assume!(value != sealed.value || sig != sealed.sig);
            let header = header(&codec, &value, sig.as_deref());
            prop_assert!(codec.open([header.as_str()]).is_err(), "{}: {}", codec.format(), header);
            for (name, layer) in &layers {
                if name == codec.format().as_str() {
                    prop_assert!(layer.decode([header.as_str()]).is_err(), "{}: {}", name, header);
                }
            }
        }
    }

    /// `encrypted::inspect` and `signed::inspect` (the demo runs them on the cookie a client
    /// sent) read back the parts `seal` wrote, and never panic on a changed or random value.
    #[test]
    fn inspect_reads_our_layouts_and_never_panics(
        s in session(),
        m in mutation(),
        random in "\\PC{0,200}",
    ) {
        use cookie_session::format::{encrypted, signed};
        let ring = KeyRing::new(NATIVE_KEYS).unwrap();
        let json = serde_json::to_vec(&s).unwrap();

        for cipher in CIPHERS {
            let codec = encrypted::EncryptedCodec::with_cipher(&ring, cipher).unwrap();
            let sealed = codec.seal(NAME, TIMES, &json);
            let parts = encrypted::inspect(&sealed).unwrap();
            prop_assert_eq!(parts.sealed_len, 24 + json.len() + 16);
            prop_assert_eq!(parts.cipher, cipher);
            let _ = encrypted::inspect(&mutate(&sealed, &m));
        }

        let sealed = signed::SignedCodec::new(&ring).unwrap().seal(NAME, TIMES, &json);
        let parts = signed::inspect(&sealed).unwrap();
        prop_assert_eq!((parts.times, parts.json), (TIMES, json));
        let _ = signed::inspect(&mutate(&sealed, &m));

        prop_assert_eq!(encrypted::inspect(&random), None);
        prop_assert_eq!(signed::inspect(&random), None);
    }

    /// The layer never panics on arbitrary `Cookie` headers: through `decode`, and through a
    /// request whose handler reads (and on `/write` writes) the session. A header that holds
    /// no sealed value gives the handler an empty session.
    #[test]
    fn any_cookie_header_is_handled(
        lines in prop::collection::vec(
            prop_oneof![
                "\\PC{0,80}",
                prop::collection::vec(
                    (
                        prop::sample::select(vec!["session", "session.sig", "session.0", "session.1", " session", "x"]),
                        "[^;]{0,40}",
                    ),
                    0..6,
                )
                .prop_map(|pairs| {
                    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
                }),
            ],
            0..3,
        ),
        write in any::<bool>(),
    ) {
        let cookies: Vec<HeaderValue> = lines
            .iter()
            .filter_map(|line| HeaderValue::from_str(line).ok())
            .collect();
        let path = if write { "/write" } else { "/read" };
        for (name, layer) in layers() {
            prop_assert!(layer.decode(lines.iter().map(String::as_str)).is_err(), "{}", name);
            let (status, seen) = request(&layer, path, &cookies);
            prop_assert_eq!(status, StatusCode::OK, "{}", name);
            prop_assert!(seen.is_empty(), "{}: {:?}", name, seen);
        }
    }
}

// ---- limits (docs/SECURITY-CHECKLIST.md item 33) ----

/// The headers a browser would send back for `data`, through the layer's own writer.
fn cookie_pairs(layer: &SessionLayer, data: Map<String, Value>) -> String {
    layer
        .encode(data)
        .unwrap()
        .iter()
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn a_64_kib_cookie_header_is_handled() {
    let data: Map<String, Value> = serde_json::from_str(r#"{"user":42}"#).unwrap();
    for (name, layer) in layers() {
        let ours = cookie_pairs(&layer, data.clone());
        // 64 KiB of other cookies before ours: found, after a linear scan.
        let mut crowd = String::new();
        let mut i = 0;
        while crowd.len() < 64 * 1024 {
            crowd.push_str(&format!("c{i}=v{i}; "));
            i += 1;
        }
        let big = format!("{crowd}{ours}");
        assert_eq!(layer.decode([big.as_str()]).unwrap().data, data, "{name}");
        // 64 KiB of junk values under our name first: each refused cheaply (native formats
        // try every cookie of the name; Express reads only the first, so it refuses).
        let junk = format!("{NAME}=AAAA; ").repeat(64 * 1024 / 13);
        let shadowed = format!("{junk}{ours}");
        let result = layer.decode([shadowed.as_str()]);
        if name.starts_with("express") {
            assert!(result.is_err(), "{name}");
        } else {
            assert_eq!(result.unwrap().data, data, "{name}");
        }
        // One value of 64 KiB: refused before decoding (over MAX_INPUT_LEN).
        let huge = format!(
            "{NAME}={}; {NAME}.sig={}",
            "A".repeat(64 * 1024),
            "B".repeat(27)
        );
        assert!(layer.decode([huge.as_str()]).is_err(), "{name}");
        // The same through a request, split over several header lines too.
        for cookies in [
            vec![HeaderValue::from_str(&big).unwrap()],
            vec![HeaderValue::from_str(&huge).unwrap()],
            vec![
                HeaderValue::from_str(&crowd).unwrap(),
                HeaderValue::from_str(&ours).unwrap(),
            ],
        ] {
            let (status, _) = request(&layer, "/write", &cookies);
            assert_eq!(status, StatusCode::OK, "{name}");
        }
        let (_, seen) = request(&layer, "/read", &[HeaderValue::from_str(&big).unwrap()]);
        assert_eq!(seen, data, "{name}");
    }
}

#[test]
fn a_10_000_deep_json_session_is_refused_without_overflow() {
    // Sealed with the right key, so it gets past authentication and reaches the JSON parser,
    // whose recursion limit (128) refuses it: no stack overflow, no unbounded memory.
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let express_value = base64::engine::general_purpose::STANDARD.encode(&deep);
    for codec in codecs() {
        let canonical = match codec.format() {
            // Express's canonical text is the base64 cookie value.
            Format::Express(_) => express_value.as_bytes(),
            _ => deep.as_bytes(),
        };
        let sealed = codec.seal(canonical, TIMES);
        assert!(
            sealed.value.len() <= MAX_INPUT_LEN,
            "{}",
            sealed.value.len()
        );
        let header = header(&codec, &sealed.value, sealed.sig.as_deref());
        let refused = codec.open([header.as_str()]).unwrap_err();
        let expected = match codec.format() {
            Format::Express(_) => Rejection::Malformed,
            _ => Rejection::BadPayload,
        };
        assert_eq!(refused, expected, "{}", codec.format());
        for (name, layer) in layers() {
            if name == codec.format().as_str() {
                assert_eq!(layer.decode([header.as_str()]).unwrap_err(), expected);
                let (status, seen) =
                    request(&layer, "/read", &[HeaderValue::from_str(&header).unwrap()]);
                assert_eq!((status, seen.len()), (StatusCode::OK, 0), "{name}");
            }
        }
    }
    // Just under the limit loads: the limit is serde_json's, not an accident of this test.
    let nested = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
    let codec = Codec::new(Format::Encrypted, &ring(Format::Encrypted), NAME).unwrap();
    let header = format!("{NAME}={}", codec.seal(nested.as_bytes(), TIMES).value);
    assert!(codec.open([header.as_str()]).is_ok());
}

#[test]
fn expired_and_future_cookies_are_refused_by_the_layer_whatever_the_payload() {
    // The layer's clock is fixed at NOW: the round-trip property above would mean nothing if
    // time checks were skipped on the way.
    let data: Map<String, Value> = serde_json::from_str(r#"{"user":42}"#).unwrap();
    for format in [Format::Encrypted, Format::Signed] {
        let codec = Codec::new(format, &ring(format), NAME).unwrap();
        let layer = config(format).build().unwrap();
        for (times, reason) in [
            (
                Timestamps {
                    expires_at: NOW - 61,
                    ..TIMES
                },
                Rejection::Expired,
            ),
            (
                Timestamps {
                    created_at: NOW + 61,
                    issued_at: NOW + 61,
                    expires_at: NOW + 1000,
                },
                Rejection::IssuedInFuture,
            ),
        ] {
            let header = format!(
                "{NAME}={}",
                codec.seal(&codec.canonical(&data), times).value
            );
            assert_eq!(
                layer.decode([header.as_str()]).unwrap_err(),
                reason,
                "{format}"
            );
        }
    }
}

#[test]
fn floats_read_back_exactly_and_a_read_does_not_rewrite_the_cookie() {
    // Found by `every_format_round_trips_any_session`: serde_json parses floats to the nearest
    // double only with its `float_roundtrip` feature. Without it this float loaded one bit off,
    // so the session differed from its cookie and every read-only request re-sealed it (with
    // a fresh expiry: a non-rolling session became rolling).
    // Built from Rust literals (exact), not parsed from JSON text (the code under test).
    let float = |f: f64| Value::Number(Number::from_f64(f).unwrap());
    let mut data = Map::new();
    data.insert("f".into(), float(2.5623857228103182e-49));
    data.insert(
        "g".into(),
        Value::Array(
            [
                0.1,
                1e-7,
                5e-324,
                1.7976931348623157e308,
                -2.2250738585072014e-308,
                1.0 / 3.0,
            ]
            .map(float)
            .to_vec(),
        ),
    );
    for format in FORMATS {
        let layer = config(format).build().unwrap();
        let cookie = cookie_pairs(&layer, data.clone());
        let loaded = layer.decode([cookie.as_str()]).unwrap();
        assert_eq!(loaded.data, data, "{format}");
        let (status, seen, set_cookies) =
            request_full(&layer, "/read", &[HeaderValue::from_str(&cookie).unwrap()]);
        assert_eq!((status, seen), (StatusCode::OK, data.clone()), "{format}");
        assert_eq!(
            set_cookies,
            Vec::<String>::new(),
            "{format}: rewritten on a read"
        );
    }
}

// ---- time and lifetime edges: clamped or refused, never a panic ----

/// A time anywhere a clock could say: before the epoch, now-ish, past year 9999, and as far as
/// `from_unix_secs` goes.
fn any_time() -> impl Strategy<Value = std::time::SystemTime> {
    use std::time::{Duration, SystemTime};
    prop_oneof![
        any::<u64>().prop_map(from_unix_secs),
        (0u64..1 << 40).prop_map(|s| SystemTime::UNIX_EPOCH
            .checked_sub(Duration::from_secs(s))
            .unwrap_or(SystemTime::UNIX_EPOCH)),
        (253_402_300_000u64..253_402_400_000).prop_map(from_unix_secs),
        Just(from_unix_secs(NOW)),
    ]
}

/// A lifetime of any size, down to the nanosecond.
fn any_lifetime() -> impl Strategy<Value = std::time::Duration> {
    (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| std::time::Duration::new(s, n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A layer whose clock says any time, with any configured `max_age` and any per-request
    /// override, answers every write (200 and a cookie, no panic). In the native formats the
    /// sealed expiry never passes the configured lifetime, whatever the override asks for.
    #[test]
    fn any_clock_and_any_lifetime_override_are_handled(
        now in any_time(),
        configured in prop::option::of(any_lifetime()),
        asked in prop::option::of(any_lifetime()),
    ) {
        for format in [Format::Encrypted, Format::Signed, Format::Express(SigAlgorithm::Sha1)] {
            let layer = SessionConfig::new(ring(format))
                .format(format)
                .max_age(configured)
                .clock(move || now)
                .build()
                .unwrap();
            let service = layer.layer(service_fn(move |req: Request<String>| async move {
                let session = req.extensions().get::<Session>().unwrap().clone();
                session.set_max_age(asked);
                session.insert_value("n", Value::from(1));
                Ok::<_, Infallible>(Response::new(String::new()))
            }));
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let response = runtime
                .block_on(service.oneshot(Request::new(String::new())))
                .unwrap();
            prop_assert_eq!(response.status(), StatusCode::OK, "{}", format);
            let cookie = response
                .headers()
                .get(http::header::SET_COOKIE)
                .map(|v| v.to_str().unwrap().to_owned());
            prop_assert!(cookie.is_some(), "{}", format);
            let cookie = cookie.unwrap();
            if format.has_server_expiry() {
                let ceiling = configured
                    .unwrap_or(cookie_session::DEFAULT_TTL)
                    .min(cookie_session::cookie::MAX_COOKIE_LIFETIME)
                    .as_secs();
                let pair = cookie.split(';').next().unwrap();
                let times = Codec::new(format, &ring(format), NAME)
                    .unwrap()
                    .open([pair])
                    .unwrap()
                    .times
                    .unwrap();
                let now_secs = cookie_session::unix_secs(now);
                prop_assert!(times.expires_at <= now_secs.saturating_add(ceiling), "{}: {}", format, cookie);
                if let Some(max_age) = cookie.split("Max-Age=").nth(1) {
                    let secs: u64 = max_age.split(';').next().unwrap().parse().unwrap();
                    prop_assert!(secs <= ceiling, "{}: {}", format, cookie);
                }
            }
        }
    }
}

/// Bytes a `Cookie` header may carry (visible ASCII, space and obs-text), except `;`.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![0x20u8..0x3b, 0x3cu8..0x7f, 0x80u8..=0xff],
        0..24,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Other cookies holding bytes that are not UTF-8, before or after the session cookie, in
    /// the same header or on their own line, never hide the session.
    #[test]
    fn bytes_that_are_not_utf8_never_hide_the_session(
        before in header_bytes(),
        after in header_bytes(),
        separate_lines in any::<bool>(),
    ) {
        let data: Map<String, Value> = serde_json::from_str(r#"{"user":42}"#).unwrap();
        for (name, layer) in layers() {
            let ours = cookie_pairs(&layer, data.clone());
            let other = |bytes: &[u8]| [b"x=".as_slice(), bytes].concat();
            let cookies: Vec<HeaderValue> = if separate_lines {
                [other(&before), ours.clone().into_bytes(), other(&after)]
                    .iter()
                    .map(|line| HeaderValue::from_bytes(line).unwrap())
                    .collect()
            } else {
                let line = [other(&before), b"; ".to_vec(), ours.clone().into_bytes(), b"; ".to_vec(), other(&after)].concat();
                vec![HeaderValue::from_bytes(&line).unwrap()]
            };
            let (status, seen) = request(&layer, "/read", &cookies);
            prop_assert_eq!(status, StatusCode::OK, "{}", name);
            prop_assert_eq!(&seen, &data, "{}", name);
        }
    }
}
