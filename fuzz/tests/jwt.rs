//! The JWT oracle against the library on tokens minted with the fixture secret (what another
//! service holding it would send): edge cases of the documented header and claims that the
//! fuzzer cannot reach, since it cannot re-sign a token.

use cookie_session::format::jwt::JwtCodec;
use cookie_session::format::{Codec, Format};
use cookie_session_fuzz::oracle::{jwt, jwt_kid, jwt_mint};
use cookie_session_fuzz::{jwt_open, native_ring, NAME, NATIVE_SECRETS, TIMES};

fn secrets() -> Vec<&'static [u8]> {
    NATIVE_SECRETS.iter().map(|s| s.as_bytes()).collect()
}

fn header() -> String {
    format!(
        r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#,
        jwt_kid(NATIVE_SECRETS[0].as_bytes())
    )
}

#[test]
fn a_sealed_token_is_the_documented_layout() {
    // The library's seal and the oracle's mint of the documented header and claims are the
    // same bytes, for both keys of the ring.
    let ring = native_ring();
    let codec = Codec::new(Format::Jwt, &ring, NAME).expect("keys");
    let sealed = codec.seal(br#"{"user":42,"s":"\u00e9"}"#, TIMES).value;
    let claims = format!(
        r#"{{"iat":{},"exp":{},"cat":{},"aud":"{NAME}","ses":{{"user":42,"s":"\u00e9"}}}}"#,
        TIMES.issued_at, TIMES.expires_at, TIMES.created_at
    );
    assert_eq!(
        sealed,
        jwt_mint(NATIVE_SECRETS[0].as_bytes(), &header(), &claims)
    );
    let authentic = jwt(&secrets(), NAME, &sealed).expect("authentic");
    assert_eq!(authentic.key_index, 0);
    assert_eq!(
        authentic.times,
        [TIMES.created_at, TIMES.issued_at, TIMES.expires_at]
    );
    assert_eq!(authentic.payload, br#"{"user":42,"s":"\u00e9"}"#);
}

#[test]
fn minted_edge_cases_agree_with_the_oracle() {
    let kid = jwt_kid(NATIVE_SECRETS[0].as_bytes());
    let claims = r#"{"iat":1,"exp":2,"cat":0,"aud":"session","ses":{"a":1}}"#;
    let opens = [
        (header(), claims.to_owned()),
        (format!(r#"{{"kid":"{kid}","alg":"HS256"}}"#), claims.into()),
        (
            format!(r#" {{ "alg" : "HS\u0032\u0035\u0036", "typ":"\u004aWT" ,"kid":"{kid}" }} "#),
            claims.into(),
        ),
        (
            header(),
            r#"{"ses": 	{"a":1} ,"aud":"sess\u0069on","cat":0,"exp":18446744073709551615,"iat":0}"#
                .into(),
        ),
        (
            header(),
            r#"{"iat":1,"exp":2,"cat":0,"aud":"session","ses":{"a":1,"a":"\ud800"}}"#.into(),
        ),
    ];
    let refused = [
        (
            r#"{"alg":"HS256","typ":"JWT","kid":null}"#.to_owned(),
            claims.into(),
        ),
        (
            format!(r#"{{"alg":"HS256","typ":"jwt","kid":"{kid}"}}"#),
            claims.into(),
        ),
        (
            format!(r#"{{"alg":"HS256","kid":"{kid}","kid":"{kid}"}}"#),
            claims.into(),
        ),
        (
            format!(r#"{{"alg":"HS256","kid":"{kid}","b64":false}}"#),
            claims.into(),
        ),
        (
            format!(r#"{{"alg":"HS256","kid":"{kid}"}} x"#),
            claims.into(),
        ),
        (format!(r#"["HS256","{kid}"]"#), claims.into()),
        (
            header(),
            r#"{"iat":1,"exp":2,"cat":-0,"aud":"session","ses":{}}"#.into(),
        ),
        (
            header(),
            r#"{"iat":1,"exp":2,"cat":0,"aud":"session","ses":{},"exp":3}"#.into(),
        ),
        (
            header(),
            r#"{"iat":1,"exp":2,"cat":0,"aud":"session","ses":null}"#.into(),
        ),
        (
            header(),
            r#"{"iat":1,"exp":2,"cat":0,"aud":"session","ses":"{}"}"#.into(),
        ),
        (
            header(),
            "{\"iat\":1,\"exp\":2,\"cat\":0,\"aud\":\"session\",\"ses\":{\"\u{1}\":1}}".into(),
        ),
        (
            header(),
            r#"{"iat":1,"exp":2,"cat":0,"aud":"session","ses":{},}"#.into(),
        ),
    ];
    let secret = NATIVE_SECRETS[0].as_bytes();
    for (list, want) in [(&opens[..], true), (&refused[..], false)] {
        for (header, claims) in list {
            let token = jwt_mint(secret, header, claims);
            assert_eq!(
                jwt(&secrets(), NAME, &token).is_some(),
                want,
                "{header} {claims}"
            );
            jwt_open(token.as_bytes()); // panics when the library disagrees
        }
    }
}

/// A fixed finding (docs/FUZZING.md): the library took `"typ": null` for a missing `typ`, where
/// its decoding rule 3 allows only `"typ": "JWT"`.
#[test]
fn typ_null_is_refused_as_documented() {
    let kid = jwt_kid(NATIVE_SECRETS[0].as_bytes());
    let token = jwt_mint(
        NATIVE_SECRETS[0].as_bytes(),
        &format!(r#"{{"alg":"HS256","typ":null,"kid":"{kid}"}}"#),
        r#"{"iat":1,"exp":2,"cat":0,"aud":"session","ses":{}}"#,
    );
    let codec = JwtCodec::new(&native_ring()).expect("keys");
    assert_eq!(jwt(&secrets(), NAME, &token), None);
    assert!(codec.open(NAME, &token).is_err(), "typ: null opened");
}
