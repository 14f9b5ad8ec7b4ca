//! Oversized sessions handled, not just refused: split over numbered cookies, and compressed.
#![allow(clippy::unwrap_used, missing_docs)]

use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use cookie_session::format::{Codec, Format, SigAlgorithm, Timestamps, MAX_DECOMPRESSED_LEN};
use cookie_session::{
    ConfigError, KeyRing, Rejection, Session, SessionConfig, SessionError, SessionLayer,
};
use http::{Request, Response, StatusCode};
use tower::ServiceExt;

const KEY: &str = "oversize-key-0123456789abcdef0123456789ab";

fn keys() -> KeyRing {
    KeyRing::new([KEY]).unwrap()
}

/// Random-looking text of `n` bytes: does not compress.
fn noise(n: usize) -> String {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route(
            "/fill/{n}",
            get(|s: Session, Path(n): Path<usize>| async move {
                s.insert("p", noise(n)).unwrap();
            }),
        )
        .route(
            "/repeat/{n}",
            get(|s: Session, Path(n): Path<usize>| async move {
                s.insert("p", "ab".repeat(n / 2)).unwrap();
            }),
        )
        .route(
            "/len",
            get(
                |s: Session| async move { s.get::<String>("p").map_or(0, |p| p.len()).to_string() },
            ),
        )
        .route(
            "/destroy",
            get(|s: Session| async move {
                s.destroy();
            }),
        )
        .layer(layer)
}

async fn call(app: &Router, uri: &str, cookie: &str) -> Response<Body> {
    let req = Request::builder()
        .uri(uri)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(req).await.unwrap()
}

fn set_cookies(res: &Response<Body>) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Applies the response's cookies to a jar (name → value, removals drop it).
fn apply(jar: &mut Vec<(String, String)>, res: &Response<Body>) {
    for c in set_cookies(res) {
        let pair = c.split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        jar.retain(|(n, _)| n != name);
        if !c.contains("Max-Age=0") {
            jar.push((name.to_owned(), value.to_owned()));
        }
    }
}

fn header(jar: &[(String, String)]) -> String {
    jar.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn body(res: Response<Body>) -> String {
    String::from_utf8(
        axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap()
}

#[tokio::test]
async fn split_sessions_round_trip_and_clean_up() {
    for format in [
        Format::Encrypted,
        Format::Signed,
        #[cfg(feature = "jwt")]
        Format::Jwt,
    ] {
        let app = app(SessionConfig::new(keys())
            .format(format)
            .split_oversized(4)
            .build()
            .unwrap());
        let mut jar = Vec::new();

        let res = call(&app, "/fill/9000", "").await;
        assert_eq!(res.status(), StatusCode::OK, "{format}");
        let written = set_cookies(&res);
        assert_eq!(written.len(), 3, "{format}: {written:?}");
        for (i, c) in written.iter().enumerate() {
            assert!(c.starts_with(&format!("session.{i}=")), "{c}");
            assert!(c.split(';').next().unwrap().len() <= 4096);
        }
        apply(&mut jar, &res);
        assert_eq!(
            body(call(&app, "/len", &header(&jar)).await).await,
            "9000",
            "{format}"
        );

        // A missing or swapped chunk breaks the seal: a fresh session.
        let mut missing = jar.clone();
        missing.remove(1);
        assert_eq!(body(call(&app, "/len", &header(&missing)).await).await, "0");
        let mut swapped = jar.clone();
        let (v0, v1) = (swapped[0].1.clone(), swapped[1].1.clone());
        swapped[0].1 = v1;
        swapped[1].1 = v0;
        assert_eq!(body(call(&app, "/len", &header(&swapped)).await).await, "0");
        // A chunk after ours (left over, or planted) does not hide the session: every chunk
        // count is tried, and only ours opens (tests/shadowing.rs has the planted cases).
        let mut stale = jar.clone();
        stale.push(("session.3".into(), jar[2].1.clone()));
        assert_eq!(
            body(call(&app, "/len", &header(&stale)).await).await,
            "9000"
        );

        // Shrinking to one cookie removes every chunk.
        let res = call(&app, "/fill/100", &header(&jar)).await;
        let written = set_cookies(&res);
        assert!(written[0].starts_with("session="), "{written:?}");
        for i in 0..3 {
            assert!(
                written
                    .iter()
                    .any(|c| c.starts_with(&format!("session.{i}=; ")) && c.contains("Max-Age=0")),
                "{written:?}"
            );
        }
        apply(&mut jar, &res);
        assert_eq!(jar.len(), 1);
        assert_eq!(body(call(&app, "/len", &header(&jar)).await).await, "100");

        // Growing again removes the single cookie.
        let res = call(&app, "/fill/5000", &header(&jar)).await;
        assert!(set_cookies(&res)
            .iter()
            .any(|c| c.starts_with("session=; ")));
        apply(&mut jar, &res);
        assert_eq!(
            jar.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["session.0", "session.1"]
        );
        assert_eq!(body(call(&app, "/len", &header(&jar)).await).await, "5000");

        // Destroy removes the chunks too.
        let res = call(&app, "/destroy", &header(&jar)).await;
        apply(&mut jar, &res);
        assert!(jar.is_empty(), "{jar:?}");

        // Beyond the cookie budget: the typed error, nothing sent.
        let res = call(&app, "/fill/20000", "").await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(matches!(
            res.extensions().get::<SessionError>(),
            Some(SessionError::CookieTooLarge { .. })
        ));
        assert!(set_cookies(&res).is_empty());
    }
}

/// The entry index an `encrypted` cookie carries (`format/index.rs`) is left out when it alone
/// would push the cookie past the size limit: a session that fits without it is written as
/// one cookie, not refused or split.
#[tokio::test]
async fn the_index_never_makes_a_session_too_large() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    let unlimited = app(SessionConfig::new(keys()).build().unwrap());
    let written = set_cookies(&call(&unlimited, "/fill/2000", "").await);
    let value = written[0]
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("session=")
        .unwrap();
    // One entry: 4 bytes of offsets, 2 of count, 1 marker.
    let raw_without_index = URL_SAFE_NO_PAD.decode(value).unwrap().len() - 7;
    let without_index = "session=".len() + (raw_without_index * 4).div_ceil(3);
    assert!(without_index < "session=".len() + value.len());

    let tight = app(SessionConfig::new(keys())
        .max_cookie_size(without_index)
        .build()
        .unwrap());
    let res = call(&tight, "/fill/2000", "").await;
    assert_eq!(res.status(), StatusCode::OK);
    let written = set_cookies(&res);
    assert_eq!(written.len(), 1, "{written:?}");
    let pair = written[0].split(';').next().unwrap();
    assert_eq!(pair.len(), without_index);
    assert_eq!(body(call(&tight, "/len", pair).await).await, "2000");

    // One byte less: too large even without the index.
    let tighter = app(SessionConfig::new(keys())
        .max_cookie_size(without_index - 1)
        .build()
        .unwrap());
    let res = call(&tighter, "/fill/2000", "").await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn compression_makes_repetitive_sessions_fit() {
    for format in [Format::Encrypted, Format::Signed] {
        let plain = app(SessionConfig::new(keys()).format(format).build().unwrap());
        assert_eq!(
            call(&plain, "/repeat/20000", "").await.status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );

        let compressed = app(SessionConfig::new(keys())
            .format(format)
            .compress(true)
            .build()
            .unwrap());
        let res = call(&compressed, "/repeat/20000", "").await;
        assert_eq!(res.status(), StatusCode::OK, "{format}");
        let cookie = set_cookies(&res)[0].split(';').next().unwrap().to_owned();
        assert!(cookie.len() < 1000, "{}", cookie.len());
        assert_eq!(
            body(call(&compressed, "/len", &cookie).await).await,
            "20000"
        );
        // A layer without compression configured still reads it (the flag is in the payload).
        assert_eq!(body(call(&plain, "/len", &cookie).await).await, "20000");
    }
}

#[test]
fn a_compressed_bomb_is_refused_after_authentication() {
    // Only a key holder can seal one; even then, inflation stops at the cap.
    for format in [Format::Encrypted, Format::Signed] {
        let codec = Codec::new(format, &keys(), "session")
            .unwrap()
            .with_compression(true);
        let huge = format!("{{\"p\":\"{}\"}}", "a".repeat(MAX_DECOMPRESSED_LEN + 10));
        let times = Timestamps {
            created_at: 1,
            issued_at: 1,
            expires_at: u64::MAX,
        };
        let sealed = codec.seal(huge.as_bytes(), times);
        assert!(
            sealed.value.len() < 4096,
            "compressed well: {}",
            sealed.value.len()
        );
        let header = format!("session={}", sealed.value);
        assert_eq!(
            codec.open([header.as_str()]).unwrap_err(),
            Rejection::BadPayload,
            "{format}"
        );
        // Just under the cap opens.
        let fits = format!("{{\"p\":\"{}\"}}", "a".repeat(MAX_DECOMPRESSED_LEN - 100));
        let header = format!("session={}", codec.seal(fits.as_bytes(), times).value);
        assert!(codec.open([header.as_str()]).is_ok());
    }
}

#[test]
fn split_needs_a_native_format_and_a_sane_budget() {
    let express = SessionConfig::new(keys())
        .format(Format::Express(SigAlgorithm::Sha1))
        .split_oversized(4);
    assert!(matches!(
        express.build().unwrap_err(),
        ConfigError::Split { .. }
    ));
    for n in [0, 1, 9] {
        assert!(
            matches!(
                SessionConfig::new(keys())
                    .split_oversized(n)
                    .build()
                    .unwrap_err(),
                ConfigError::Split { .. }
            ),
            "{n}"
        );
    }
    SessionConfig::new(keys())
        .split_oversized(8)
        .build()
        .unwrap();
}
