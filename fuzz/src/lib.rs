//! The checks behind the fuzz targets of `cookie-session` (docs/SECURITY-CHECKLIST.md items
//! 60–61), and the fixtures they share with the seed generator (`examples/seeds.rs`).
//!
//! Every target in `fuzz_targets/` is three lines calling the function of the same name here,
//! so a finding can be replayed from a test or a debugger without libFuzzer. The rules:
//!
//! - nothing panics, whatever the input (a panic is how libFuzzer sees a finding);
//! - an authenticated decoder (`encrypted`, `signed`, `jwt`, `express`, and the session layer
//!   over them) returns `Ok` **only** for a value the independent [`oracle`] verifies with the
//!   fixture keys, and then reads the same key, times and payload out of it. An `Ok` for
//!   anything else — random bytes, a mutation of a sealed seed — is a forgery: the target
//!   panics. The converse is checked too (an authentic value must open), which makes the
//!   native targets differential tests of the documented layouts;
//! - the pure parsers (`cookie_values`, `SessionId::parse`, `decode_value`) keep their
//!   documented invariants.
//!
//! The seeds (`fuzz/corpus/<target>/`) hold values sealed with the fixture keys, so the
//! fuzzer starts from inputs that get past the format byte, the key id and the MAC.

pub mod oracle;
pub mod seeds;

use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::Duration;

use cookie_session::cookie::{cookie_values, first_cookie_value};
use cookie_session::format::encrypted::EncryptedCodec;
use cookie_session::format::express::{
    decode_value, encode_value, is_reserved, node_base64_decode, ExpressCodec,
};
use cookie_session::format::express_session::{find_cookie, Record, SidSigner, RESERVED_KEYS};
use cookie_session::format::jwt::JwtCodec;
use cookie_session::format::signed::SignedCodec;
use cookie_session::format::{Format, Loaded, Opened, SigAlgorithm, Timestamps};
use cookie_session::store::SessionId;
use cookie_session::{from_unix_secs, KeyRing, Rejection, SessionConfig, SessionLayer};
use serde_json::{Map, Value};

use oracle::{Authentic, Keygrip};

/// The cookie name every fixture uses.
pub const NAME: &str = "session";

/// The native formats' key ring: the first seals, both open (key index 0 and 1).
pub const NATIVE_SECRETS: [&str; 2] = [
    "fuzz-native-secret-one-is-32-bytes-long",
    "fuzz-native-secret-two-is-32-bytes-long",
];

/// The Express format's key ring: the keys of the pinned Express vectors
/// (`cookie-session/tests/data/express-vectors.json`), so their cookies authenticate.
pub const EXPRESS_SECRETS: [&str; 2] = ["key-new", "key-old"];

/// The fixed clock of the session layers (Unix seconds).
pub const NOW: u64 = 1_700_000_100;

/// The layers' clock skew (the default).
pub const SKEW: u64 = 60;

/// Times valid at [`NOW`]: what the seeds are sealed with.
pub const TIMES: Timestamps = Timestamps {
    created_at: 1_700_000_000,
    issued_at: 1_700_000_000,
    expires_at: 1_700_086_400,
};

fn bytes<const N: usize>(secrets: &[&'static str; N]) -> Vec<&'static [u8]> {
    secrets.iter().map(|s| s.as_bytes()).collect()
}

/// The native key ring.
pub fn native_ring() -> KeyRing {
    KeyRing::new(NATIVE_SECRETS).expect("fixture keys are valid")
}

/// The Express key ring.
pub fn express_ring() -> KeyRing {
    KeyRing::new(EXPRESS_SECRETS).expect("fixture keys are valid")
}

static ENCRYPTED: LazyLock<EncryptedCodec> =
    LazyLock::new(|| EncryptedCodec::new(&native_ring()).expect("32-byte keys"));
static SIGNED: LazyLock<SignedCodec> =
    LazyLock::new(|| SignedCodec::new(&native_ring()).expect("32-byte keys"));
static JWT: LazyLock<JwtCodec> =
    LazyLock::new(|| JwtCodec::new(&native_ring()).expect("32-byte keys"));

/// keygrip's three algorithms, with the oracle's name for each.
pub const ALGORITHMS: [(SigAlgorithm, Keygrip); 3] = [
    (SigAlgorithm::Sha1, Keygrip::Sha1),
    (SigAlgorithm::Sha256, Keygrip::Sha256),
    (SigAlgorithm::Sha512, Keygrip::Sha512),
];

static EXPRESS: LazyLock<Vec<(Keygrip, ExpressCodec)>> = LazyLock::new(|| {
    ALGORITHMS
        .iter()
        .map(|&(alg, grip)| (grip, ExpressCodec::new(&express_ring(), alg)))
        .collect()
});

/// A session layer under test: the whole read path (header parse → decode → time checks).
pub struct Layer {
    /// Its format.
    pub format: Format,
    /// Whether it reads sessions split over `session.0`, `session.1`, … (and compresses).
    pub split: bool,
    /// The layer, on a clock stopped at [`NOW`].
    pub layer: SessionLayer,
}

/// Every configuration the `cookie_header` target reads through.
pub static LAYERS: LazyLock<Vec<Layer>> = LazyLock::new(|| {
    let mut layers = Vec::new();
    let configs = [
        (Format::Encrypted, false),
        (Format::Signed, false),
        (Format::Encrypted, true),
        (Format::Signed, true),
        (Format::Express(SigAlgorithm::Sha1), false),
        (Format::Express(SigAlgorithm::Sha256), false),
        (Format::Jwt, false),
    ];
    for (format, split) in configs {
        let ring = match format {
            Format::Express(_) => express_ring(),
            _ => native_ring(),
        };
        let mut config = SessionConfig::new(ring)
            .format(format)
            .clock(|| from_unix_secs(NOW))
            .ttl(Duration::from_secs(TIMES.expires_at - TIMES.issued_at));
        if split {
            config = config.split_oversized(4).compress(true);
        }
        let layer = config.build().expect("fixture layer config is valid");
        layers.push(Layer {
            format,
            split,
            layer,
        });
    }
    layers
});

fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Library and oracle agree on a native value: both refuse it, or both open it the same way.
fn agree_native(
    format: &str,
    value: &str,
    got: Result<Opened, Rejection>,
    want: Option<Authentic>,
) {
    match (got, want) {
        (Err(_), None) => {}
        (Ok(opened), Some(authentic)) => {
            let times = opened
                .times
                .map(|t| [t.created_at, t.issued_at, t.expires_at]);
            assert_eq!(opened.key_index, authentic.key_index, "{format}: key index");
            assert_eq!(times, Some(authentic.times), "{format}: times");
            assert_eq!(opened.json, authentic.payload, "{format}: payload");
        }
        (Ok(opened), None) => {
            panic!(
                "FORGERY: {format} accepted a value that is not authentic: {value:?} -> {opened:?}"
            )
        }
        (Err(reason), Some(_)) => {
            panic!("{format} refused an authentic value ({reason}): {value:?}")
        }
    }
}

/// `EncryptedCodec::open` on arbitrary text.
pub fn encrypted_open(data: &[u8]) {
    let value = text(data);
    let want = oracle::encrypted(&bytes(&NATIVE_SECRETS), NAME, &value);
    agree_native("encrypted", &value, ENCRYPTED.open(NAME, &value), want);
    // Bound to the cookie name: never opens under another one.
    assert!(ENCRYPTED.open("session.0", &value).is_err() || value.is_empty());
}

/// What [`lazy_session`]'s handler does to the session it is given.
#[derive(Clone)]
enum Change {
    /// Adds a key the text does not hold (or replaces it where it does).
    Insert,
    /// Replaces a key's value.
    Replace(String),
    /// Removes a key.
    Remove(String),
}

/// The key [`Change::Insert`] adds.
const FUZZ_KEY: &str = "zz-fuzz";

/// A handler behind the layer that makes one [`Change`].
#[derive(Clone)]
struct Changer(Change);

impl tower_service::Service<http::Request<()>> for Changer {
    type Response = http::Response<String>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<http::Response<String>, std::convert::Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<()>) -> Self::Future {
        if let Some(session) = req.extensions().get::<cookie_session::Session>() {
            match &self.0 {
                Change::Insert => session.insert_value(FUZZ_KEY, Value::from(1)),
                Change::Replace(key) => session.insert_value(key.as_str(), Value::from("new")),
                Change::Remove(key) => {
                    session.remove(key);
                }
            }
        }
        std::future::ready(Ok(http::Response::new(String::new())))
    }
}

/// Lazy reading and writing of native sessions (`format/data.rs`) against serde_json, through
/// the layer. The input is one byte choosing a [`Change`] and the JSON text an `encrypted`
/// cookie holds, sealed around it by the oracle, so every text is authentic, not only what the
/// library writes. The layer serves the session exactly when serde_json reads the text as an
/// object, with the same keys and values in the same order; after the handler's change (the
/// byte also picks which key it replaces or removes), the
/// cookie written back (unchanged entries copied from the text) holds serde_json's map with
/// the same change.
///
/// With the byte's high bit set, the oracle seals serde_json's text of that map followed by
/// the entry index of `format/index.rs`, written from the documented layout
/// ([`oracle::indexed`]): the layout the layer writes, read through its index. A text that
/// itself ends with the index marker is another program's index over any bytes: the layer
/// may serve or refuse it, but must not panic.
pub fn lazy_session(data: &[u8]) {
    let Some((&op, json)) = data.split_first() else {
        return;
    };
    // A text starting with 0x00 is the compressed layout: another path.
    if json.first() == Some(&0) {
        return;
    }
    let body = match serde_json::from_slice::<Map<String, Value>>(json) {
        Ok(map) if op >= 0x80 => oracle::indexed(&map),
        _ => json.to_vec(),
    };
    let op = op & 0x7f;
    let mut plaintext = Vec::with_capacity(24 + body.len());
    for time in [TIMES.created_at, TIMES.issued_at, TIMES.expires_at] {
        plaintext.extend_from_slice(&time.to_be_bytes());
    }
    plaintext.extend_from_slice(&body);
    let value = oracle::encrypted_seal_v1(NATIVE_SECRETS[0].as_bytes(), NAME, [7; 24], &plaintext);
    if value.len() > oracle::MAX_INPUT_LEN {
        return;
    }
    let cookie = format!("{NAME}={value}");
    let layer = &LAYERS[0];
    assert!(matches!(layer.format, Format::Encrypted) && !layer.split);
    if json.last() == Some(&oracle::INDEXED) {
        // Another program's index (JSON never ends with the marker): read and written back
        // through the layer, whatever it serves.
        let _ = layer.layer.decode([cookie.as_str()]);
        for change in [Change::Insert, Change::Remove(FUZZ_KEY.into())] {
            respond(&layer.layer, change, &cookie);
        }
        return;
    }
    let got = layer.layer.decode([cookie.as_str()]);
    let Ok(mut want) = serde_json::from_slice::<Map<String, Value>>(json) else {
        assert!(
            got.is_err(),
            "lazy reading accepted what serde_json refuses: {json:?}"
        );
        return;
    };
    let loaded = got.unwrap_or_else(|reason| {
        panic!("lazy reading refused an object serde_json reads ({reason}): {json:?}")
    });
    assert_eq!(loaded.data, want, "lazy reading: {json:?}");

    // The key at a place the operation byte picks: a change in the middle splits the runs
    // of unchanged entries the writer copies.
    let picked = want
        .keys()
        .nth(usize::from(op / 3) % want.len().max(1))
        .cloned();
    let change = match (op % 3, picked) {
        (1, Some(key)) => Change::Replace(key),
        (2, Some(key)) => Change::Remove(key),
        _ => Change::Insert,
    };
    match &change {
        Change::Insert => {
            want.insert(FUZZ_KEY.into(), Value::from(1));
        }
        Change::Replace(key) => {
            want.insert(key.clone(), Value::from("new"));
        }
        Change::Remove(key) => {
            want.shift_remove(key);
        }
    }
    let response = respond(&layer.layer, change, &cookie);
    if !response.status().is_success() {
        // Refused only as too large to write back (a text near the input limit).
        assert!(json.len() > 2000, "{}: {json:?}", response.status());
        return;
    }
    let rewritten = response
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next().filter(|c| c.starts_with("session=")));
    match rewritten {
        Some(rewritten) => {
            let reread = layer
                .layer
                .decode([rewritten])
                .unwrap_or_else(|reason| panic!("the rewritten cookie is refused ({reason})"));
            assert_eq!(reread.data, want, "written back: {json:?}");
        }
        // Nothing to write: the change left the session as it was.
        None => assert_eq!(loaded.data, want, "no cookie written: {json:?}"),
    }
}

/// The response of `layer` around a handler making `change`, to a request carrying `cookie`:
/// ready at once, as every cookie-mode response is.
fn respond(
    layer: &cookie_session::SessionLayer,
    change: Change,
    cookie: &str,
) -> http::Response<String> {
    use std::future::Future as _;
    use tower_layer::Layer as _;
    use tower_service::Service as _;

    let mut service = layer.layer(Changer(change));
    let request = http::Request::builder()
        .header(http::header::COOKIE, cookie)
        .body(())
        .expect("a valid request");
    let mut future = std::pin::pin!(service.call(request));
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    let std::task::Poll::Ready(Ok(response)) = future.as_mut().poll(&mut context) else {
        panic!("a cookie-mode response is ready at once");
    };
    response
}

/// `SignedCodec::open` on arbitrary text.
pub fn signed_open(data: &[u8]) {
    let value = text(data);
    let want = oracle::signed(&bytes(&NATIVE_SECRETS), NAME, &value);
    agree_native("signed", &value, SIGNED.open(NAME, &value), want);
    assert!(SIGNED.open("session.0", &value).is_err());
}

/// The other cookie name `jwt_open` opens under: tokens minted for it (a seed) must open there
/// and nowhere else.
pub const OTHER_NAME: &str = "other";

/// `JwtCodec::open` on arbitrary text, under [`NAME`] and [`OTHER_NAME`]. An `Ok` for an
/// `alg: none` or HS512 token, a token whose `kid` was swapped, or any mutation of a sealed
/// token is a forgery; an authentic token that does not open is a disagreement with the
/// documented layout. And the claims are only looked at once the tag verified (decoding rule
/// 5): `BadPayload` only for a token whose tag is authentic.
pub fn jwt_open(data: &[u8]) {
    let value = text(data);
    let secrets = bytes(&NATIVE_SECRETS);
    for name in [NAME, OTHER_NAME] {
        let got = JWT.open(name, &value);
        if got == Err(Rejection::BadPayload) {
            assert!(
                oracle::jwt_verify(&secrets, &value).is_some(),
                "jwt: claims read before the tag verified: {value:?}"
            );
        }
        let want = oracle::jwt(&secrets, name, &value);
        agree_native("jwt", &value, got, want);
    }
}

/// `ExpressCodec::open` with every algorithm. The input is `value`, or `value \n sig`.
pub fn express_open(data: &[u8]) {
    let text = text(data);
    let (value, sig) = match text.split_once('\n') {
        Some((value, sig)) => (value, Some(sig)),
        None => (&*text, None),
    };
    for (grip, codec) in EXPRESS.iter() {
        let got = codec.open(NAME, Some(value), sig);
        let want =
            sig.and_then(|sig| oracle::express(&bytes(&EXPRESS_SECRETS), *grip, NAME, value, sig));
        match (got, want) {
            (Err(_), None) => {}
            (Ok((index, map)), Some(expected)) => {
                assert_eq!(index, expected, "express {grip:?}: key index");
                assert_eq!(Some(map), decode_value(oracle::unquote(value)));
            }
            // Authentic, but not JSON: refused after the signature, as documented.
            (Err(Rejection::Malformed), Some(_)) => {
                assert_eq!(decode_value(oracle::unquote(value)), None)
            }
            (Ok(found), None) => {
                panic!("FORGERY: express {grip:?} accepted {value:?} / {sig:?} -> {found:?}")
            }
            (Err(reason), Some(_)) => {
                panic!(
                    "express {grip:?} refused an authentic cookie ({reason}): {value:?} / {sig:?}"
                )
            }
        }
    }
}

/// `express::decode_value` (Node's lenient base64, then `JSON.parse`), which runs only after
/// the signature verified, but must still be total; and what it loads is canonical: written
/// back, it loads and re-encodes to the same text (no rewrite loop, docs/EXPRESS-COMPATIBILITY.md §3.2).
pub fn express_decode_value(data: &[u8]) {
    let text = text(data);
    let decoded = node_base64_decode(&text);
    assert!(
        decoded.len() <= text.len() / 4 * 3 + 2,
        "base64 output larger than its input"
    );
    if let Some(map) = decode_value(&text) {
        assert!(
            !map.keys().any(|k| is_reserved(k)),
            "a reserved key was loaded"
        );
        let once = encode_value(&map);
        let again = decode_value(&once).expect("what we write loads back");
        assert_eq!(
            encode_value(&again),
            once,
            "re-encoding is not stable for {text:?}"
        );
    }
}

/// express-session's secrets in the fixtures: those of the recorded vectors
/// (`cookie-session/tests/data/express-session-vectors.json`), both shorter than 32 bytes
/// (accepted, as express-session accepts them).
pub const EXPRESS_SESSION_SECRETS: [&str; 2] = ["secret-new", "secret-old"];

static SID_SIGNER: LazyLock<SidSigner> = LazyLock::new(|| {
    SidSigner::new(&KeyRing::new(EXPRESS_SESSION_SECRETS).expect("fixture secrets are valid"))
});

/// `SidSigner::open` of a `connect.sid` value (as `find_cookie` hands it over): `Ok` exactly
/// when the independent oracle verifies it with the fixture secrets, with the same sid and
/// secret index (an `Ok` for anything else is a forgery); and any text used as a sid goes
/// through `cookie_value` → `find_cookie` → `open` unchanged.
pub fn express_session_sid(data: &[u8]) {
    let text = text(data);
    let got = SID_SIGNER.open(&text);
    let want = oracle::express_session(&bytes(&EXPRESS_SESSION_SECRETS), &text);
    match (got, want) {
        (Ok(found), Some(expected)) => assert_eq!(found, expected, "sid or secret index"),
        (Err(_), None) => {}
        (Ok(found), None) => panic!("FORGERY: express-session accepted {text:?} -> {found:?}"),
        // Refused before any signature check: empty, or longer than every cookie.
        (Err(Rejection::Missing | Rejection::Malformed), Some(_))
            if text.is_empty() || text.len() > cookie_session::format::MAX_INPUT_LEN => {}
        (Err(reason), Some(_)) => panic!("refused an authentic value ({reason}): {text:?}"),
    }
    if text.len() <= 1024 {
        let header = format!("a=b; connect.sid={}", SID_SIGNER.cookie_value(&text));
        let value = find_cookie(&header, "connect.sid").expect("the cookie just written");
        assert_eq!(
            SID_SIGNER.open(&value),
            Ok((text.clone().into_owned(), 0)),
            "a signed sid does not read back: {text:?}"
        );
    }
}

/// `Record::parse` of a store record from anyone: total; what it accepts holds no reserved
/// key and no `__proto__` anywhere, and is canonical (written back with `to_json`, it parses
/// to the same record and writes the same text again: no rewrite on every request).
pub fn express_session_record(data: &[u8]) {
    let text = text(data);
    let Ok(record) = Record::parse(&text) else {
        return;
    };
    for key in record.data().keys() {
        assert!(
            key != "cookie" && !RESERVED_KEYS.contains(&key.as_str()),
            "a reserved key was loaded: {key:?}"
        );
    }
    let once = record.to_json();
    // A key, not any text: `"__proto__"` as a string value is data like any other.
    let written: Value = serde_json::from_str(&once).expect("what we write is JSON");
    assert!(
        !has_key(&written, "__proto__"),
        "__proto__ survived in {text:?}"
    );
    let again = Record::parse(&once).expect("what we write parses back");
    // Equal as JavaScript sees them: `21e0` read back from our `21` is the same number, though
    // serde_json tells a float from an integer.
    assert_eq!(
        again.cookie(),
        record.cookie(),
        "the cookie changed: {text:?}"
    );
    assert!(
        same_js_map(again.data(), record.data()),
        "written and parsed back, the data changed: {text:?}"
    );
    assert_eq!(
        Record::parse(&again.to_json()).expect("parses back"),
        again,
        "a record we wrote is not a fixed point: {text:?}"
    );
    assert_eq!(
        again.to_json(),
        once,
        "re-writing is not stable for {text:?}"
    );
    // Written over the stored text (members with a lone surrogate copied as stored): the same
    // record when read back.
    let over = record.to_json_over(&text);
    let reread = Record::parse(&over).expect("what we write over a record parses back");
    assert_eq!(
        reread.cookie(),
        record.cookie(),
        "the cookie changed: {text:?}"
    );
    assert!(
        same_js_map(reread.data(), record.data()),
        "written over the stored text, the data changed: {text:?}"
    );
}

/// Whether `key` is the key of a member of any object in `value`, at any depth.
fn has_key(value: &Value, key: &str) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| k == key || has_key(v, key)),
        Value::Array(items) => items.iter().any(|v| has_key(v, key)),
        _ => false,
    }
}

/// `a == b` as `JSON.parse` results: numbers compare as the `f64` JavaScript holds.
fn same_js_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_js_value(x, y))
        }
        (Value::Object(x), Value::Object(y)) => same_js_map(x, y),
        _ => a == b,
    }
}

/// [`same_js_value`] of two objects, whatever their order: JavaScript moves integer-like keys
/// to the front (`stringify` in cookie-session/src/format/express/json.rs).
fn same_js_map(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(key, x)| b.get(key).is_some_and(|y| same_js_value(x, y)))
}

/// `SessionId::parse`: exactly 32 base64url characters (24 bytes), nothing else.
pub fn session_id_parse(data: &[u8]) {
    let text = text(data);
    let well_formed = text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match SessionId::parse(&text) {
        Some(id) => {
            assert!(well_formed, "accepted a malformed id {text:?}");
            assert_eq!(id.as_str(), text);
            let key = id.store_key();
            assert_eq!(key.as_str().len(), 64);
            assert!(key
                .as_str()
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
            assert_ne!(key.as_str(), text);
        }
        None => assert!(!well_formed, "refused a well-formed id {text:?}"),
    }
}

/// Arbitrary `Cookie` header lines (the input split on `\n`) through `cookie_values` and
/// through `SessionLayer::decode` of every [`LAYERS`] configuration.
pub fn cookie_header(data: &[u8]) {
    let text = text(data);
    let headers: Vec<&str> = text.split('\n').collect();
    let values: Vec<&str> = cookie_values(headers.iter().copied(), NAME).collect();
    // The rule (Express's `(?:^|;) *<name>=([^;]*)`, docs/EXPRESS-COMPATIBILITY.md §1.4) with
    // the standard library's split: the library finds each `;` with `memchr` instead.
    let reference: Vec<&str> = headers
        .iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| {
            pair.trim_start_matches(' ')
                .strip_prefix(NAME)?
                .strip_prefix('=')
        })
        .collect();
    assert_eq!(values, reference, "the split disagrees with str::split");
    let pairs = headers.iter().map(|h| h.split(';').count()).sum::<usize>();
    assert!(values.len() <= pairs);
    for value in &values {
        assert!(!value.contains(';'), "a value runs past its ';'");
        assert!(text.contains(&format!("{NAME}={value}")));
    }
    assert_eq!(
        first_cookie_value(headers.iter().copied(), NAME),
        values.first().copied()
    );
    for layer in LAYERS.iter() {
        if let Ok(loaded) = layer.layer.decode(headers.iter().copied()) {
            check_layer_accept(layer, &headers, &loaded);
        }
    }
}

/// What the layer accepted must be what the documented rules pick: native formats (and `jwt`)
/// take the first cookie of the name that authenticates, holds a JSON object and has times
/// valid at [`NOW`] — an authentic cookie with bad times is skipped, not served and not a stop
/// — among the first [`MAX_CANDIDATES`] authentic ones (or, when there is no non-empty one and
/// splitting is on, the joined chunks); Express takes the first `session` and `session.sig`
/// cookies.
fn check_layer_accept(layer: &Layer, headers: &[&str], loaded: &Loaded) {
    let format = layer.format;
    if let Format::Express(alg) = format {
        let grip = ALGORITHMS
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, g)| *g)
            .expect("every algorithm has a grip");
        let value = first_cookie_value(headers.iter().copied(), NAME).unwrap_or_default();
        let sig = first_cookie_value(headers.iter().copied(), "session.sig").unwrap_or_default();
        let index = oracle::express(&bytes(&EXPRESS_SECRETS), grip, NAME, value, sig);
        assert_eq!(
            index,
            Some(loaded.key_index),
            "FORGERY: layer {format} accepted {headers:?}"
        );
        assert_eq!(
            Some(&loaded.data),
            decode_value(oracle::unquote(value)).as_ref()
        );
        return;
    }
    let secrets = bytes(&NATIVE_SECRETS);
    let open = |value: &str| match format {
        Format::Encrypted => oracle::encrypted(&secrets, NAME, value),
        Format::Jwt => oracle::jwt(&secrets, NAME, value),
        _ => oracle::signed(&secrets, NAME, value),
    };
    let mut candidates: Vec<String> = cookie_values(headers.iter().copied(), NAME)
        .map(str::to_owned)
        .collect();
    if layer.split && candidates.iter().all(String::is_empty) {
        let mut joined = String::new();
        for i in 0..4 {
            match first_cookie_value(headers.iter().copied(), &format!("{NAME}.{i}")) {
                Some(chunk) if !chunk.is_empty() => joined.push_str(chunk),
                _ => break,
            }
        }
        candidates.push(joined);
    }
    let mut first = None;
    let mut authentic = 0;
    for value in &candidates {
        if authentic == MAX_CANDIDATES {
            break;
        }
        let Some((opened, data)) = open(value).and_then(|a| session_of(&a.payload).map(|m| (a, m)))
        else {
            continue;
        };
        authentic += 1;
        if times_valid(opened.times) {
            first = Some((opened, data));
            break;
        }
    }
    let Some((authentic, data)) = first else {
        panic!(
            "FORGERY or SHADOWING: layer {format} (split: {}) accepted {headers:?}",
            layer.split
        );
    };
    assert_eq!(loaded.key_index, authentic.key_index);
    assert_eq!(loaded.data, data);
    let [created, issued, expires] = authentic.times;
    let times = loaded.times.expect("native formats carry times");
    assert_eq!(
        [times.created_at, times.issued_at, times.expires_at],
        authentic.times
    );
    assert!(
        times_valid([created, issued, expires]),
        "layer {format} accepted times {:?} at {NOW}",
        authentic.times
    );
}

/// How many authentic cookies of the name the layer examines at most
/// (`MAX_CANDIDATES` in `cookie-session/src/session/open.rs`).
const MAX_CANDIDATES: usize = 4;

/// Whether `[created, issued, expires]` pass the layers' time policy at [`NOW`] (ordered,
/// not issued in the future, not expired; the fixture layers set no absolute lifetime).
fn times_valid([created, issued, expires]: [u64; 3]) -> bool {
    created <= issued
        && issued <= expires
        && issued <= NOW + SKEW
        && NOW <= expires.saturating_add(SKEW)
}

/// The session map of an authentic native payload: JSON, or 0x00 + raw deflate of it (at most
/// 64 KiB inflated; a `jwt` payload, the `ses` claim, is always JSON); `None` when it is not a
/// JSON object.
fn session_of(payload: &[u8]) -> Option<Map<String, Value>> {
    let json: Cow<'_, [u8]> = match payload.split_first() {
        Some((0, deflated)) => {
            miniz_oxide::inflate::decompress_to_vec_with_limit(deflated, 64 * 1024)
                .ok()?
                .into()
        }
        _ => payload.into(),
    };
    serde_json::from_slice(&json).ok()
}
