//! The `jwt` format against tokens made outside this crate: by hand (base64url + HMAC with the
//! `hmac` crate, as any other service would), with the wrong algorithm, a changed key id, or
//! claims that are not ours; and read back by `jsonwebtoken` as another service would.
//!
//! The generic tamper matrix for the format lives in `native_tamper.rs`.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use cookie_session::format::jwt::JwtCodec;
use cookie_session::format::{Format, Timestamps};
use cookie_session::{KeyRing, Rejection, SessionConfig};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Sha256, Sha384, Sha512};

const SECRET: &str = "secret-number-one-is-32-bytes-long!";
const OTHER: &str = "secret-number-two-is-32-bytes-long!";
const NAME: &str = "session";
const TIMES: Timestamps = Timestamps {
    created_at: 1_700_000_000,
    issued_at: 1_700_000_100,
    expires_at: 1_700_086_500,
};

fn codec(secrets: &[&str]) -> JwtCodec {
    JwtCodec::new(&KeyRing::new(secrets).unwrap()).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The key id, computed as the module docs say another service would.
fn kid(secret: &str) -> String {
    let mut id = [0u8; 4];
    Hkdf::<Sha256>::new(None, secret.as_bytes())
        .expand(b"cookie-session/v1/key-id", &mut id)
        .unwrap();
    id.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone, Copy)]
enum Hs {
    H256,
    H384,
    H512,
}

fn mac(alg: Hs, secret: &str, message: &[u8]) -> Vec<u8> {
    let key = secret.as_bytes();
    match alg {
        Hs::H256 => {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
            m.update(message);
            m.finalize().into_bytes().to_vec()
        }
        Hs::H384 => {
            let mut m = <Hmac<Sha384> as Mac>::new_from_slice(key).unwrap();
            m.update(message);
            m.finalize().into_bytes().to_vec()
        }
        Hs::H512 => {
            let mut m = <Hmac<Sha512> as Mac>::new_from_slice(key).unwrap();
            m.update(message);
            m.finalize().into_bytes().to_vec()
        }
    }
}

/// A token from header and claims texts, exactly as given, signed by hand.
fn forge(header: &str, claims: &str, secret: &str, alg: Hs) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let tag = mac(alg, secret, message.as_bytes());
    format!("{message}.{}", b64(&tag))
}

fn our_header(secret: &str) -> String {
    format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, kid(secret))
}

fn our_claims(ses: &str) -> String {
    format!(
        r#"{{"iat":{},"exp":{},"cat":{},"aud":"{NAME}","ses":{ses}}}"#,
        TIMES.issued_at, TIMES.expires_at, TIMES.created_at
    )
}

#[test]
fn our_token_is_the_layout_in_the_docs() {
    let value = codec(&[SECRET]).seal(NAME, TIMES, br#"{"user":42}"#);
    assert_eq!(
        value,
        forge(
            &our_header(SECRET),
            &our_claims(r#"{"user":42}"#),
            SECRET,
            Hs::H256
        )
    );
}

#[test]
fn a_token_made_by_another_implementation_opens() {
    let codec = codec(&[OTHER, SECRET]);
    // Another library's spelling: other member order, whitespace, no `typ`, escapes.
    let header = format!(r#"{{ "kid": "{}", "alg": "HS256" }}"#, kid(SECRET));
    let ses = r#"{"user": "al\u0069ce", "roles": ["admin"], "n": 1.5}"#;
    let claims = format!(
        r#"{{"ses": {ses}, "aud": "{NAME}", "cat": {}, "exp": {}, "iat": {}}}"#,
        TIMES.created_at, TIMES.expires_at, TIMES.issued_at
    );
    let token = forge(&header, &claims, SECRET, Hs::H256);
    let opened = codec.open(NAME, &token).unwrap();
    assert_eq!(opened.key_index, 1);
    assert_eq!(opened.times, Some(TIMES));
    // The `ses` claim exactly as the other service wrote it; the session layer parses it.
    assert_eq!(opened.json, ses.as_bytes());
    let parsed: Value = serde_json::from_slice(&opened.json).unwrap();
    assert_eq!(
        parsed,
        json!({"user": "alice", "roles": ["admin"], "n": 1.5})
    );
}

#[test]
fn our_token_is_readable_by_another_jwt_library() {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let times = Timestamps {
        created_at: now - 60,
        issued_at: now,
        expires_at: now + 3600,
    };
    let value = codec(&[SECRET]).seal(NAME, times, br#"{"user":"alice"}"#);

    // What a service with the shared secret does: the library's defaults (exp checked),
    // HS256 pinned, the cookie name as the audience.
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&[NAME]);
    let data = jsonwebtoken::decode::<Value>(
        &value,
        &jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .unwrap();
    assert_eq!(data.header.kid.as_deref(), Some(kid(SECRET).as_str()));
    assert_eq!(data.header.typ.as_deref(), Some("JWT"));
    assert_eq!(
        data.claims,
        json!({"iat": now, "exp": now + 3600, "cat": now - 60, "aud": NAME, "ses": {"user": "alice"}})
    );
    // The same library refuses it for another audience, as a service should.
    validation.set_audience(&["api"]);
    assert!(jsonwebtoken::decode::<Value>(
        &value,
        &jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .is_err());
}

#[test]
fn alg_none_is_refused() {
    let codec = codec(&[SECRET]);
    let claims = b64(our_claims("{}").as_bytes());
    let real = codec.seal(NAME, TIMES, b"{}");
    let real_tag = real.rsplit('.').next().unwrap();
    for header in [
        r#"{"alg":"none"}"#.to_owned(),
        r#"{"alg":"none","typ":"JWT"}"#.to_owned(),
        format!(r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#, kid(SECRET)),
        format!(r#"{{"alg":"None","kid":"{}"}}"#, kid(SECRET)),
        format!(r#"{{"alg":"NONE","kid":"{}"}}"#, kid(SECRET)),
        format!(r#"{{"alg":"","kid":"{}"}}"#, kid(SECRET)),
        format!(r#"{{"kid":"{}"}}"#, kid(SECRET)),
        format!(r#"{{"alg":null,"kid":"{}"}}"#, kid(SECRET)),
    ] {
        let h = b64(header.as_bytes());
        // Empty signature, as `none` tokens have; and a real HS256 tag of our own token.
        for token in [format!("{h}.{claims}."), format!("{h}.{claims}.{real_tag}")] {
            assert_eq!(
                codec.open(NAME, &token),
                Err(Rejection::Malformed),
                "{header} {token}"
            );
        }
        // Even correctly MACed with HS256 over that header.
        let token = forge(&header, &our_claims("{}"), SECRET, Hs::H256);
        assert_eq!(
            codec.open(NAME, &token),
            Err(Rejection::Malformed),
            "{header}"
        );
    }
}

#[test]
fn other_algorithms_under_the_right_key_are_refused() {
    let codec = codec(&[SECRET]);
    let kid = kid(SECRET);
    for (alg, hs) in [("HS384", Hs::H384), ("HS512", Hs::H512)] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#);
        // Signed as the header says: the tag is longer.
        let token = forge(&header, &our_claims("{}"), SECRET, hs);
        assert_eq!(codec.open(NAME, &token), Err(Rejection::Malformed), "{alg}");
        // Or with an HS256 tag that has the right length: refused on the header.
        let token = forge(&header, &our_claims("{}"), SECRET, Hs::H256);
        assert_eq!(codec.open(NAME, &token), Err(Rejection::Malformed), "{alg}");
    }
    // Our HS256 header with an HS384/HS512 tag: wrong length.
    for hs in [Hs::H384, Hs::H512] {
        let token = forge(&our_header(SECRET), &our_claims("{}"), SECRET, hs);
        assert_eq!(codec.open(NAME, &token), Err(Rejection::Malformed));
    }
}

#[test]
fn asymmetric_algorithms_are_refused() {
    // The classic confusion: an RS256 (or ES256, EdDSA, PS256) header whose "signature" is
    // an HMAC under a key the attacker believes is public.
    let codec = codec(&[SECRET]);
    let kid = kid(SECRET);
    for alg in ["RS256", "RS512", "PS256", "ES256", "ES384", "EdDSA"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#);
        let token = forge(&header, &our_claims("{}"), SECRET, Hs::H256);
        assert_eq!(codec.open(NAME, &token), Err(Rejection::Malformed), "{alg}");
        let h = b64(header.as_bytes());
        let c = b64(our_claims("{}").as_bytes());
        let token = format!("{h}.{c}.{}", b64(&[0x5a; 256]));
        assert_eq!(codec.open(NAME, &token), Err(Rejection::Malformed), "{alg}");
    }
}

#[test]
fn kid_names_exactly_one_key() {
    let codec = codec(&[SECRET, OTHER]);
    let claims = our_claims("{}");
    let good = forge(&our_header(SECRET), &claims, SECRET, Hs::H256);
    assert_eq!(codec.open(NAME, &good).unwrap().key_index, 0);
    // Signed by SECRET, but the header names OTHER: only OTHER is tried, and fails.
    let swapped = forge(&our_header(OTHER), &claims, SECRET, Hs::H256);
    assert_eq!(codec.open(NAME, &swapped), Err(Rejection::BadSignature));
    // The header of a real token rewritten to the other kid, tag kept.
    let real = codec.seal(NAME, TIMES, b"{}");
    let (_, rest) = real.split_once('.').unwrap();
    let rewritten = format!("{}.{rest}", b64(our_header(OTHER).as_bytes()));
    assert_eq!(codec.open(NAME, &rewritten), Err(Rejection::BadSignature));
    // Ids of no key, spelled otherwise, or absent: unknown key, even correctly signed.
    let k = kid(SECRET);
    for header in [
        r#"{"alg":"HS256","typ":"JWT","kid":"00000000"}"#.to_owned(),
        format!(
            r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#,
            k.to_uppercase()
        ),
        format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{k}0"}}"#),
        format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, &k[..7]),
        format!(r#"{{"alg":"HS256","typ":"JWT","kid":" {k}"}}"#),
        r#"{"alg":"HS256","typ":"JWT","kid":""}"#.to_owned(),
        r#"{"alg":"HS256","typ":"JWT"}"#.to_owned(),
    ] {
        let token = forge(&header, &claims, SECRET, Hs::H256);
        assert_eq!(
            codec.open(NAME, &token),
            Err(Rejection::UnknownKey),
            "{header}"
        );
    }
    // A kid that is not a string is not a header of ours.
    for header in [
        r#"{"alg":"HS256","kid":12345678}"#,
        r#"{"alg":"HS256","kid":["0df2b11d"]}"#,
    ] {
        let token = forge(header, &claims, SECRET, Hs::H256);
        assert_eq!(
            codec.open(NAME, &token),
            Err(Rejection::Malformed),
            "{header}"
        );
    }
}

#[test]
fn headers_with_members_we_would_ignore_are_refused() {
    let codec = codec(&[SECRET]);
    let k = kid(SECRET);
    for extra in [
        r#""crit":["exp"]"#,
        r#""b64":false"#,
        r#""jku":"https://example.invalid/keys""#,
        r#""jwk":{"kty":"oct","k":"AA"}"#,
        r#""x5u":"https://example.invalid/cert""#,
        r#""cty":"JWT""#,
        r#""zip":"DEF""#,
        r#""alg":"HS256""#,
        r#""kid":"00000000""#,
    ] {
        let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{k}",{extra}}}"#);
        let token = forge(&header, &our_claims("{}"), SECRET, Hs::H256);
        assert_eq!(
            codec.open(NAME, &token),
            Err(Rejection::Malformed),
            "{extra}"
        );
    }
    for header in [
        format!(r#"{{"alg":"HS256","typ":"jwt","kid":"{k}"}}"#),
        format!(r#"{{"alg":"HS256","typ":"JOSE","kid":"{k}"}}"#),
        format!(r#"{{"alg":"hs256","kid":"{k}"}}"#),
        format!(r#"[{{"alg":"HS256","kid":"{k}"}}]"#),
        format!(r#"{{"alg":"HS256","kid":"{k}"}}{{}}"#),
        // A member present must be a string: `null` is not "absent" (found by the fuzz oracle).
        format!(r#"{{"alg":"HS256","typ":null,"kid":"{k}"}}"#),
        r#"{"alg":"HS256","typ":"JWT","kid":null}"#.to_owned(),
    ] {
        let token = forge(&header, &our_claims("{}"), SECRET, Hs::H256);
        assert_eq!(
            codec.open(NAME, &token),
            Err(Rejection::Malformed),
            "{header}"
        );
    }
}

#[test]
fn claims_that_are_not_ours_are_bad_payloads() {
    let codec = codec(&[SECRET]);
    let header = our_header(SECRET);
    let t = TIMES;
    let ok = |extra: &str| {
        format!(
            r#"{{"iat":{},"exp":{},"cat":{},"aud":"{NAME}","ses":{{}}{extra}}}"#,
            t.issued_at, t.expires_at, t.created_at
        )
    };
    // Sanity: the base opens.
    assert!(codec
        .open(NAME, &forge(&header, &ok(""), SECRET, Hs::H256))
        .is_ok());
    let mut bad: Vec<String> = vec![
        // Unknown or time claims we would otherwise ignore.
        ok(r#","nbf":4000000000"#),
        ok(r#","iss":"other""#),
        ok(r#","jti":"1""#),
        // Duplicates.
        ok(r#","exp":1"#),
        ok(r#","ses":{"admin":true}"#),
        // Not JSON, not an object.
        "not json".into(),
        "[]".into(),
        String::new(),
    ];
    // Missing claims.
    for missing in ["iat", "exp", "cat", "aud", "ses"] {
        let mut claims: serde_json::Map<String, Value> = serde_json::from_str(&ok("")).unwrap();
        claims.remove(missing);
        bad.push(Value::Object(claims).to_string());
    }
    // Times that are not integers in 0..2^64 (docs/SECURITY-CHECKLIST.md item 16).
    for time in [
        "-1",
        "1.5",
        "1e3",
        "1e309",
        "18446744073709551616",
        "\"1700000000\"",
        "null",
        "true",
    ] {
        for claim in ["iat", "exp", "cat"] {
            let mut claims: serde_json::Map<String, Value> = serde_json::from_str(&ok("")).unwrap();
            claims.remove(claim);
            let text = Value::Object(claims).to_string();
            bad.push(format!(r#"{{"{claim}":{time},{}"#, &text[1..]));
        }
    }
    // A session that is not an object, an audience that is not a string.
    for (claim, value) in [
        ("ses", "[]"),
        ("ses", "\"{}\""),
        ("ses", "null"),
        ("ses", "42"),
        ("aud", "[\"session\"]"),
        ("aud", "null"),
    ] {
        let mut claims: serde_json::Map<String, Value> = serde_json::from_str(&ok("")).unwrap();
        claims.remove(claim);
        let text = Value::Object(claims).to_string();
        bad.push(format!(r#"{{"{claim}":{value},{}"#, &text[1..]));
    }
    for claims in &bad {
        let token = forge(&header, claims, SECRET, Hs::H256);
        assert_eq!(
            codec.open(NAME, &token),
            Err(Rejection::BadPayload),
            "{claims}"
        );
    }
    // The extreme integers are fine (the session layer judges them).
    let extreme =
        format!(r#"{{"iat":18446744073709551615,"exp":0,"cat":0,"aud":"{NAME}","ses":{{}}}}"#);
    let opened = codec
        .open(NAME, &forge(&header, &extreme, SECRET, Hs::H256))
        .unwrap();
    assert_eq!(
        opened.times,
        Some(Timestamps {
            created_at: 0,
            issued_at: u64::MAX,
            expires_at: 0
        })
    );
}

#[test]
fn the_audience_binds_the_cookie_name() {
    let codec = codec(&[SECRET]);
    let claims = our_claims("{}").replace(r#""aud":"session""#, r#""aud":"api""#);
    let token = forge(&our_header(SECRET), &claims, SECRET, Hs::H256);
    assert_eq!(codec.open(NAME, &token), Err(Rejection::BadSignature));
    assert!(codec.open("api", &token).is_ok());
}

/// Through the session layer with a fixed clock: the codec returns the times, the layer's
/// `TimePolicy` refuses an expired token (and one issued in the future).
#[test]
fn expiry_is_enforced_by_the_session_layer() {
    let layer_at = |secs: u64| {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        SessionConfig::new(KeyRing::new([SECRET]).unwrap())
            .format(Format::Jwt)
            .clock_skew(Duration::from_secs(5))
            .clock(move || at)
            .build()
            .unwrap()
    };
    let token = forge(
        &our_header(SECRET),
        &our_claims(r#"{"user":"alice"}"#),
        SECRET,
        Hs::H256,
    );
    let header = format!("{NAME}={token}");
    let loaded = layer_at(TIMES.issued_at + 10)
        .decode([header.as_str()])
        .unwrap();
    assert_eq!(loaded.data["user"], "alice");
    assert_eq!(loaded.times, Some(TIMES));
    // Accepted up to the expiry plus the allowed skew, refused one second later, although
    // the browser still sends it.
    assert!(layer_at(TIMES.expires_at + 5)
        .decode([header.as_str()])
        .is_ok());
    assert_eq!(
        layer_at(TIMES.expires_at + 6).decode([header.as_str()]),
        Err(Rejection::Expired)
    );
    assert_eq!(
        layer_at(TIMES.issued_at - 6).decode([header.as_str()]),
        Err(Rejection::IssuedInFuture)
    );

    // A layer's own token round-trips, and is refused once expired.
    let layer = layer_at(TIMES.issued_at);
    let data = json!({"views": 3}).as_object().cloned().unwrap();
    let set_cookie = layer.encode(data.clone()).unwrap();
    let cookie = set_cookie[0].split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("session=eyJ"), "{cookie}");
    let loaded = layer.decode([cookie.as_str()]).unwrap();
    assert_eq!(loaded.data, data);
    let expires_at = loaded.times.unwrap().expires_at;
    assert_eq!(
        layer_at(expires_at + 6).decode([cookie.as_str()]),
        Err(Rejection::Expired)
    );
}

/// Compression is never applied to this format (the `ses` claim stays plain JSON), so asking
/// for it is refused rather than silently ignored.
#[test]
fn compression_is_not_applied() {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(TIMES.issued_at);
    let config = SessionConfig::new(KeyRing::new([SECRET]).unwrap())
        .format(Format::Jwt)
        .clock(move || at);
    assert!(matches!(
        config.clone().compress(true).build(),
        Err(cookie_session::ConfigError::Unsupported {
            option: "compress",
            ..
        })
    ));
    let layer = config.build().unwrap();
    let data = json!({"text": "a".repeat(1000)})
        .as_object()
        .cloned()
        .unwrap();
    let set_cookie = layer.encode(data.clone()).unwrap();
    let cookie = set_cookie[0].split(';').next().unwrap().to_owned();
    let token = cookie.strip_prefix("session=").unwrap();
    let claims = URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).unwrap())
        .unwrap();
    let claims: Value = serde_json::from_slice(&claims).unwrap();
    assert_eq!(claims["ses"], Value::Object(data.clone()));
    assert_eq!(layer.decode([cookie.as_str()]).unwrap().data, data);
}
