//! The seed corpus: values sealed with the fixture keys, their tampered variants, JWTs forged
//! the usual ways, and the pinned Express vectors. `cargo run --example seeds` (in `fuzz/`)
//! writes them to `fuzz/corpus/<target>/seed-<n>`; the corpus is committed, so this only needs
//! running again when the formats or the fixtures change.

use std::collections::BTreeSet;

use cookie_session::format::express::{encode_value, replace_lone_surrogates, ExpressCodec};
use cookie_session::format::{Cipher, Codec, Format, SigAlgorithm, Timestamps};
use cookie_session::store::SessionId;
use serde_json::{json, Map, Value};

use crate::oracle::{jwt_kid, jwt_mint};
use crate::{express_ring, native_ring, KeyRing, LAYERS, NAME, NATIVE_SECRETS, OTHER_NAME, TIMES};

/// The pinned Express vectors, read at run time.
const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../cookie-session/tests/data/express-vectors.json"
);

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Sessions of every shape: empty, small, unicode and control characters, numbers at the
/// edges, nesting, reserved Express keys, and one large enough to compress and split.
fn sessions() -> Vec<Map<String, Value>> {
    let noise: String = (0..9000u32)
        .map(|i| char::from(b'!' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 90))
        .collect();
    vec![
        Map::new(),
        obj(json!({"views": 1})),
        obj(json!({"user": 42, "role": "admin", "ok": true, "none": null})),
        obj(
            json!({"s": "é😀\u{0}\u{1f}\"\\\u{2028}", "n": [0, -1, 9007199254740992i64, 1.5, 1e21, -2.5e-7]}),
        ),
        obj(json!({"a": {"b": {"c": [[[{"d": []}]]]}}, "10": 1, "2": 2})),
        obj(json!({"isNew": true, "__proto__": {}, "keep": {"isNew": 1}})),
        obj(json!({"big": "x".repeat(3000)})),
        obj(json!({"noise": noise})),
    ]
}

/// Times that are valid, expired, issued in the future and out of order.
const OTHER_TIMES: [Timestamps; 3] = [
    Timestamps {
        created_at: 1,
        issued_at: 2,
        expires_at: 3,
    },
    Timestamps {
        created_at: u64::MAX,
        issued_at: u64::MAX,
        expires_at: u64::MAX,
    },
    Timestamps {
        created_at: 1_700_000_050,
        issued_at: 1_700_000_000,
        expires_at: 1_700_086_400,
    },
];

/// Tampered copies of a value: one bit flipped in the middle, the last byte dropped, a
/// character appended.
fn tampered(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !value.is_empty() {
        let mid = value.len() / 2;
        let mut flipped = value.as_bytes().to_vec();
        flipped[mid] ^= 1;
        out.extend(String::from_utf8(flipped).ok());
        out.push(value[..value.len() - 1].to_owned());
    }
    out.push(format!("{value}A"));
    out
}

/// Native values: sealed by the first key, by the second (key index 1), compressed, with odd
/// times, for another cookie name, by a key outside the ring; plus tampered copies. `cipher`
/// picks the version of `encrypted` (`Auto` for the other formats).
fn native_values(format: Format, cipher: Cipher) -> Vec<String> {
    let ring = native_ring();
    let second_first = KeyRing::new([NATIVE_SECRETS[1], NATIVE_SECRETS[0]]).expect("valid keys");
    let stranger = KeyRing::new(["a-key-that-is-not-in-the-fuzz-ring!!"]).expect("valid key");
    let codec = |ring: &KeyRing, name: &str, compress: bool| {
        Codec::new(format, ring, name)
            .expect("valid keys")
            .with_compression(compress)
            .with_cipher(cipher)
    };
    let mut out = Vec::new();
    for (i, session) in sessions().iter().enumerate() {
        let main = codec(&ring, NAME, false);
        let canonical = main.canonical(session);
        out.push(main.seal(&canonical, TIMES).value);
        if i == 2 {
            out.push(
                codec(&second_first, NAME, false)
                    .seal(&canonical, TIMES)
                    .value,
            );
            out.push(codec(&stranger, NAME, false).seal(&canonical, TIMES).value);
            out.push(codec(&ring, "other", false).seal(&canonical, TIMES).value);
            for times in OTHER_TIMES {
                out.push(main.seal(&canonical, times).value);
            }
            // Authentic but not a JSON object.
            out.push(main.seal(b"[1,2]", TIMES).value);
            out.push(main.seal(b"\x00\xff", TIMES).value);
        }
        if canonical.len() >= 128 {
            out.push(codec(&ring, NAME, true).seal(&canonical, TIMES).value);
        }
    }
    let tampered: Vec<String> = out.iter().take(4).flat_map(|v| tampered(v)).collect();
    out.extend(tampered);
    out
}

/// `jwt` tokens: sealed by the first key and by the second (key index 1), for another cookie
/// name ([`OTHER_NAME`]), by a key outside the ring, with odd times; the classic forgeries
/// (`alg: none` with and without the tag, HS512 under the right secret, the `kid` swapped to
/// the other key); tokens minted with the right secret (so past the tag) whose header or
/// claims are not the documented ones, and some that are (no `typ`, members reordered); and
/// tampered copies. Only the small sessions, to keep the corpus small.
fn jwt_values() -> Vec<String> {
    let ring = native_ring();
    let second_first = KeyRing::new([NATIVE_SECRETS[1], NATIVE_SECRETS[0]]).expect("valid keys");
    let stranger = KeyRing::new(["a-key-that-is-not-in-the-fuzz-ring!!"]).expect("valid key");
    let codec = |ring: &KeyRing, name: &str| Codec::new(Format::Jwt, ring, name).expect("keys");
    let main = codec(&ring, NAME);
    let mut out = Vec::new();
    for session in sessions().iter().take(6) {
        out.push(main.seal(&main.canonical(session), TIMES).value);
    }
    let session = main.canonical(&sessions()[2]);
    let by_second = codec(&second_first, NAME).seal(&session, TIMES).value;
    out.push(by_second.clone());
    out.push(codec(&ring, OTHER_NAME).seal(&session, TIMES).value);
    out.push(codec(&stranger, NAME).seal(&session, TIMES).value);
    for times in OTHER_TIMES {
        out.push(main.seal(&session, times).value);
    }

    let sealed = main.seal(&session, TIMES).value;
    let parts: Vec<&str> = sealed.split('.').collect();
    let (claims_b64, tag_b64) = (parts[1], parts[2]);
    let b64 = |text: &str| b64_bytes(text.as_bytes());
    let [kid0, kid1] = NATIVE_SECRETS.map(|s| jwt_kid(s.as_bytes()));
    // alg: none, with an empty tag and with the real one.
    let none = b64(&format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid0}"}}"#));
    out.push(format!("{none}.{claims_b64}."));
    out.push(format!("{none}.{claims_b64}.{tag_b64}"));
    // HS512 under the right secret: a 64-byte tag.
    let hs512 = b64(&format!(r#"{{"alg":"HS512","typ":"JWT","kid":"{kid0}"}}"#));
    let tag = {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha512> as Mac>::new_from_slice(NATIVE_SECRETS[0].as_bytes())
            .expect("any key length");
        mac.update(format!("{hs512}.{claims_b64}").as_bytes());
        b64_bytes(&mac.finalize().into_bytes())
    };
    out.push(format!("{hs512}.{claims_b64}.{tag}"));
    // kid swapped: sealed by the second key, naming the first (and the other way round).
    let second: Vec<&str> = by_second.split('.').collect();
    let header0 = b64(&format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid0}"}}"#));
    out.push(format!("{header0}.{}.{}", second[1], second[2]));
    let header1 = b64(&format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid1}"}}"#));
    out.push(format!("{header1}.{claims_b64}.{tag_b64}"));

    // Minted with the first secret: past the tag.
    let secret = NATIVE_SECRETS[0].as_bytes();
    let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid0}"}}"#);
    let claims = |extra: &str| {
        format!(
            r#"{{"iat":{},"exp":{},"cat":{},{extra}}}"#,
            TIMES.issued_at, TIMES.expires_at, TIMES.created_at
        )
    };
    let good = claims(r#""aud":"session","ses":{"user":42}"#);
    for (header, claims) in [
        // As documented: no typ, members reordered, whitespace.
        (format!(r#"{{"kid":"{kid0}","alg":"HS256"}}"#), good.clone()),
        (
            header.clone(),
            r#" { "ses" : {"a":1} , "aud":"session", "cat":1700000000, "exp":1700086400, "iat":1700000000 } "#
                .to_owned(),
        ),
        // Not as documented.
        (
            format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid0}","crit":["exp"]}}"#),
            good.clone(),
        ),
        (
            format!(
                r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#,
                kid0.to_uppercase()
            ),
            good.clone(),
        ),
        (
            format!(r#"{{"alg":"HS256","alg":"none","kid":"{kid0}"}}"#),
            good.clone(),
        ),
        (
            header.clone(),
            claims(r#""aud":"session","ses":{},"nbf":0"#),
        ),
        (header.clone(), claims(r#""aud":"session","ses":[1,2]"#)),
        (header.clone(), claims(r#""aud":["session"],"ses":{}"#)),
        (
            header.clone(),
            claims(r#""aud":"session","aud":"other","ses":{}"#),
        ),
        (
            header.clone(),
            r#"{"iat":1.7e9,"exp":1700086400,"cat":1700000000,"aud":"session","ses":{}}"#.into(),
        ),
        (
            header.clone(),
            r#"{"iat":-1,"exp":18446744073709551616,"cat":0,"aud":"session","ses":{}}"#.into(),
        ),
        (
            header.clone(),
            r#"{"exp":1700086400,"aud":"session","ses":{}}"#.into(),
        ),
        (header, "[]".into()),
    ] {
        out.push(jwt_mint(secret, &header, &claims));
    }
    let tampered: Vec<String> = out.iter().take(2).flat_map(|v| tampered(v)).collect();
    out.extend(tampered);
    out
}

/// base64url without padding.
fn b64_bytes(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn vectors() -> Value {
    let text = std::fs::read_to_string(VECTORS).expect("the pinned Express vectors");
    // The file holds a lone surrogate escape, which serde_json refuses: rewrite it first, as
    // the library's own vector tests do.
    serde_json::from_str(&replace_lone_surrogates(&text)).expect("vectors are JSON")
}

fn strings<'a>(v: &'a Value, list: &str, field: &str) -> impl Iterator<Item = &'a str> + 'a {
    let field = field.to_owned();
    v[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(move |item| item[field.as_str()].as_str())
}

/// Express `(value, sig)` pairs: sealed with each algorithm, and from the vectors.
fn express_pairs(vectors: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (alg, _) in crate::ALGORITHMS {
        let codec = ExpressCodec::new(&express_ring(), alg);
        for session in sessions().iter().take(7) {
            out.push(codec.seal(NAME, session));
        }
        // Signed, but not base64 JSON.
        out.push((
            "!!!notbase64".into(),
            codec.sign_cookie(NAME, "!!!notbase64"),
        ));
    }
    for data in strings(vectors, "signature_vectors", "data") {
        if let Some(value) = data.strip_prefix("session=") {
            let sig =
                ExpressCodec::new(&express_ring(), SigAlgorithm::Sha1).sign_cookie(NAME, value);
            out.push((value.to_owned(), sig));
        }
    }
    for item in vectors["signature_vectors"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let (Some(data), Some(sig)) = (item["data"].as_str(), item["sig"].as_str()) {
            if let Some(value) = data.strip_prefix("session=") {
                out.push((value.to_owned(), sig.to_owned()));
            }
        }
    }
    out
}

/// The native formats the seeds are sealed in: `encrypted` in both versions.
const NATIVE: [(Format, Cipher); 3] = [
    (Format::Encrypted, Cipher::XChaCha20Poly1305),
    (Format::Encrypted, Cipher::Xaes256Gcm),
    (Format::Signed, Cipher::Auto),
];

/// `Cookie` header texts (lines joined with `\n`) for the `cookie_header` target.
fn cookie_headers(vectors: &Value) -> Vec<String> {
    let mut out: Vec<String> = strings(vectors, "vectors", "request_cookie")
        .map(str::to_owned)
        .collect();
    for layer in LAYERS.iter() {
        for session in sessions() {
            // What the browser sends back: the name=value part of each Set-Cookie.
            let Ok(set_cookies) = layer.layer.encode(session) else {
                continue;
            };
            let pairs: Vec<&str> = set_cookies
                .iter()
                .filter_map(|c| c.split(';').next())
                .filter(|pair| !pair.ends_with('='))
                .collect();
            if pairs.is_empty() {
                continue;
            }
            out.push(pairs.join("; "));
            // Shadowed by a forged cookie first, and spread over two header lines.
            out.push(format!("session=forged; a=1;  {}", pairs.join(";")));
            out.push(pairs.join("\n"));
        }
    }
    for (format, cipher) in NATIVE {
        for value in native_values(format, cipher).into_iter().take(12) {
            out.push(format!("{NAME}={value}"));
        }
    }
    for value in jwt_values().into_iter().take(16) {
        out.push(format!("{NAME}={value}"));
    }
    out.extend(
        [
            "",
            ";",
            "session=",
            "session=; session=\"\"",
            "a=b;session.0=x;session.1=y",
            "__Host-session=1; Session=2; session.sig=3",
        ]
        .map(String::from),
    );
    out
}

/// Every seed, as (target, bytes). Deterministic but for the random nonces of `encrypted`.
pub fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let vectors = vectors();
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    for cipher in [Cipher::XChaCha20Poly1305, Cipher::Xaes256Gcm] {
        for value in native_values(Format::Encrypted, cipher) {
            out.push(("encrypted_open", value.into_bytes()));
        }
    }
    for value in native_values(Format::Signed, Cipher::Auto) {
        out.push(("signed_open", value.into_bytes()));
    }
    // An operation byte (insert, replace the first key, remove it) and a session's JSON text.
    let texts = [
        r#"{"views":1,"user_id":42,"csrf":"0123456789abcdef0123456789abcdef"}"#,
        r#"{ "a" : 1 , "b":"x","c" :[1,{"d":2.5e-3}],"d": null}"#,
        r#"{"a":1,"b":2,"a":3,"\u0061b":true}"#,
        r#"{"caf\u00e9":"\ud83d\ude00","n":-0,"f":0.30000000000000004}"#,
        "{}",
        "[]",
        r#"{"a":1,}"#,
    ];
    for (op, text) in (0u8..).zip(texts) {
        let mut input = vec![op % 3];
        input.extend_from_slice(text.as_bytes());
        out.push(("lazy_session", input.clone()));
        // The high bit: the same session sealed with its entry index (`format/index.rs`).
        input[0] |= 0x80;
        out.push(("lazy_session", input));
    }
    // Another program's index: over two entries as one, then one past the text.
    for index in [
        &b"\x00\x03\x00\x0c\x00\x01\x01"[..],
        b"\x00\x03\x00\x0d\x00\x01\x01",
    ] {
        let mut input = b"\x00{\"a\":1,\"b\":2}".to_vec();
        input.extend_from_slice(index);
        out.push(("lazy_session", input));
    }
    // Removes the second key: the entries on both sides are copied as two runs.
    out.push((
        "lazy_session",
        b"\x05{\"a\":1,\"b\":2,\"c\":3,\"d\":[4]}".to_vec(),
    ));
    for value in jwt_values() {
        out.push(("jwt_open", value.into_bytes()));
    }
    for (value, sig) in express_pairs(&vectors) {
        out.push(("express_open", format!("{value}\n{sig}").into_bytes()));
        out.push((
            "express_open",
            format!("\"{value}\"\n\"{sig}\"").into_bytes(),
        ));
        out.push(("express_decode_value", value.into_bytes()));
    }
    for input in strings(&vectors, "node_base64_decode_vectors", "input").chain(strings(
        &vectors,
        "encoding_vectors",
        "base64",
    )) {
        out.push(("express_decode_value", input.as_bytes().to_vec()));
    }
    for session in sessions() {
        out.push(("express_decode_value", encode_value(&session).into_bytes()));
    }
    for header in cookie_headers(&vectors) {
        out.push(("cookie_header", header.into_bytes()));
    }
    let id = SessionId::generate();
    for text in [
        id.as_str().to_owned(),
        format!("{}=", &id.as_str()[..31]),
        format!("{}+", &id.as_str()[..31]),
        id.as_str()[1..].to_owned(),
        format!("{}A", id.as_str()),
        "' OR 1=1 --aaaaaaaaaaaaaaaaaaaaaa".to_owned(),
    ] {
        out.push(("session_id_parse", text.into_bytes()));
    }
    for (target, bytes) in express_session_seeds() {
        out.push((target, bytes));
    }
    // Duplicates (e.g. the same vector cookie twice) are dropped.
    let mut seen = BTreeSet::new();
    out.retain(|(target, bytes)| seen.insert((*target, bytes.clone())));
    out
}

/// The recorded express-session vectors, read at run time.
const SESSION_VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../cookie-session/tests/data/express-session-vectors.json"
);

/// `connect.sid` values (signed with each fixture secret, the recorded ones, tampered copies)
/// and store records (every one recorded, and those another program wrote in the
/// `*_bad_records` scenarios).
fn express_session_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let text = std::fs::read_to_string(SESSION_VECTORS).expect("the express-session vectors");
    let vectors: Value = serde_json::from_str(&text).expect("vectors are JSON");
    let mut out = Vec::new();
    for item in vectors["unsign"].as_array().into_iter().flatten() {
        if let Some(input) = item["input"].as_str() {
            out.push(("express_session_sid", format!("s:{input}").into_bytes()));
            out.push(("express_session_sid", input.as_bytes().to_vec()));
        }
    }
    for item in vectors["signatures"].as_array().into_iter().flatten() {
        if let Some(signed) = item["signed"].as_str() {
            let value = format!("s:{signed}");
            let mut flipped = value.clone().into_bytes();
            if let Some(last) = flipped.last_mut() {
                *last ^= 1;
            }
            out.push(("express_session_sid", value.into_bytes()));
            out.push(("express_session_sid", flipped));
        }
    }
    for scenario in vectors["scenarios"].as_array().into_iter().flatten() {
        for step in scenario["steps"].as_array().into_iter().flatten() {
            for record in step["store_after"].as_array().into_iter().flatten() {
                let text = record.get("value").or_else(|| record.get("sess"));
                if let Some(text) = text.and_then(Value::as_str) {
                    out.push(("express_session_record", text.as_bytes().to_vec()));
                }
            }
            let write = &step["write"];
            if let Some(text) = write["value"].as_str().or_else(|| write["sess"].as_str()) {
                out.push(("express_session_record", text.as_bytes().to_vec()));
            }
        }
    }
    out
}
