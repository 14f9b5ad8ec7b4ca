//! The recorded Express vectors (tests/data/express-vectors.json) and how they are replayed:
//! the options, the handler, and what this library answers, vector by vector. Included with
//! `#[path]` by the tests that replay them through an adapter (tests/express_layer.rs: the
//! tower layer; tests/actix.rs: the actix-web middleware), each bringing only its transport.

use std::future::Future;
use std::time::{Duration, SystemTime};

use cookie_session::cookie::{Priority, SameSite};
use cookie_session::format::{Format, SigAlgorithm};
use cookie_session::{KeyRing, Session, SessionConfig, SessionLayer};
use serde_json::{Map, Value};

fn vectors() -> (Value, u64) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/express-vectors.json"
    ))
    .unwrap();
    // The file holds one lone surrogate (`json_escaping`), which serde_json refuses.
    let text = cookie_session::format::express::replace_lone_surrogates(&text);
    let all: Value = serde_json::from_str(&text).unwrap();
    let now = all["schema"]["fixed_now_ms"].as_u64().unwrap();
    (all, now)
}

/// What the vector's JavaScript handler does, in Rust.
#[derive(Clone)]
pub enum Act {
    Untouched,
    Read,
    Increment,
    /// Assign each key (Object.assign / `req.session.x = …` on the session).
    Assign(Map<String, Value>),
    Replace(Map<String, Value>),
    Delete(&'static str),
    Destroy,
    MaxAgeThen(Box<Act>),
    OtherCookieThen(Box<Act>),
}

fn act_for(vector: &Value) -> Option<Act> {
    let source = vector["handler_source"].as_str().unwrap();
    let after = vector["session_after"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    Some(match source {
        "function () {}" => Act::Untouched,
        s if s.contains("info.read") && !s.contains("sessionOptions") => Act::Read,
        "function (req) { req.session.views = (req.session.views || 0) + 1 }"
        | "function (req) { req.session.views++ }" => Act::Increment,
        "function (req) { req.session.views = 1 }" => Act::Assign(after),
        s if s.starts_with("function (req) { Object.assign(req.session") => Act::Assign(after),
        "function (req) { req.session.big = 'x'.repeat(5000) }" => Act::Assign(after),
        "function (req) { req.session = {} }" | "function (req) { req.session = { a: 1 } }" => Act::Replace(after),
        "function (req) { delete req.session.views }" => Act::Delete("views"),
        "function (req) { req.session = null }" => Act::Destroy,
        "function (req) { req.sessionOptions.maxAge = 86400000; req.session.views = 1 }" => {
            Act::MaxAgeThen(Box::new(Act::Assign(after)))
        }
        "function (req, res, info) { req.sessionOptions.maxAge = 86400000; info.read = req.session.views }" => {
            Act::MaxAgeThen(Box::new(Act::Read))
        }
        "function (req, res) { res.cookie('other', '1'); req.session.views = 1 }" => {
            Act::OtherCookieThen(Box::new(Act::Assign(after)))
        }
        _ => return None,
    })
}

pub fn run(act: &Act, s: &Session) {
    match act {
        Act::Untouched => {}
        Act::Read => {
            let _ = s.get_value("views");
        }
        Act::Increment => {
            let views = s.get::<f64>("views").unwrap_or(0.0) + 1.0;
            s.insert("views", views as u64).unwrap();
        }
        Act::Assign(map) => {
            for (k, v) in map {
                s.insert_value(k.clone(), v.clone());
            }
        }
        Act::Replace(map) => s.replace(map.clone()),
        Act::Delete(key) => {
            s.remove(key);
        }
        Act::Destroy => s.destroy(),
        Act::MaxAgeThen(next) => {
            s.set_max_age(Some(Duration::from_millis(86_400_000)));
            run(next, s);
        }
        Act::OtherCookieThen(next) => run(next, s),
    }
}

/// The layer configured like the vector's `cookieSession(options)`; `Err` names an option
/// this library refuses or does not have.
fn config(vector: &Value, now_ms: u64) -> Result<SessionConfig, String> {
    let options = vector["options"].as_object().unwrap();
    let keys: Vec<String> = match (&options.get("keys"), &options.get("secret")) {
        (Some(Value::Array(keys)), _) => keys
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect(),
        (None, Some(Value::String(secret))) => vec![secret.clone()],
        _ => {
            return Err(
                "no keys (signed: false is not supported: no unauthenticated format)".into(),
            )
        }
    };
    let clock = move || SystemTime::UNIX_EPOCH + Duration::from_millis(now_ms);
    let mut config = SessionConfig::new(KeyRing::new(&keys).unwrap())
        .format(Format::Express(SigAlgorithm::Sha1))
        // Express's defaults: no SameSite attribute.
        .same_site(None)
        .clock(clock);
    for (option, value) in options {
        config = match (option.as_str(), value) {
            ("name", Value::String(name)) => config.name(name),
            ("keys" | "secret", _) => config,
            ("maxAge", Value::Number(ms)) => {
                config.max_age(Some(Duration::from_millis(ms.as_u64().unwrap())))
            }
            ("expires", Value::Object(date)) => {
                let iso = date["$date"].as_str().unwrap();
                assert_eq!(
                    iso, "2030-06-01T00:00:00.000Z",
                    "only this date is recorded"
                );
                config.expires(Some(
                    SystemTime::UNIX_EPOCH + Duration::from_secs(1_906_588_800),
                ))
            }
            ("sameSite", Value::String(s)) if s.eq_ignore_ascii_case("lax") => {
                config.same_site(Some(SameSite::Lax))
            }
            ("sameSite", Value::String(s)) if s.eq_ignore_ascii_case("strict") => {
                config.same_site(Some(SameSite::Strict))
            }
            ("sameSite", Value::Bool(true)) => config.same_site(Some(SameSite::Strict)),
            ("sameSite", Value::String(s)) if s.eq_ignore_ascii_case("none") => {
                config.same_site(Some(SameSite::None))
            }
            ("httpOnly", Value::Bool(b)) => config.http_only(*b),
            ("partitioned", Value::Bool(b)) => config.partitioned(*b),
            ("priority", Value::String(p)) if p == "medium" => {
                config.priority(Some(Priority::Medium))
            }
            ("secure", Value::Bool(b)) => config.secure(*b),
            (other, value) => return Err(format!("option {other}={value} has no equivalent")),
        };
    }
    if vector["express"]["trust_proxy"] != Value::Bool(false) {
        config = config.trust_proxy(true);
    }
    Ok(config)
}

/// One request to replay: the layer configured like the vector, what the handler does, and
/// the request. The adapter routes `path` to a handler calling [`run`] (and, for
/// [`Act::OtherCookieThen`], appending `Set-Cookie: other=1; Path=/` itself), and `/untouched`
/// to a handler that ignores the session.
pub struct Replay {
    pub layer: SessionLayer,
    pub act: Act,
    /// `/` or `/untouched`.
    pub path: &'static str,
    /// The request came over HTTPS (its URI is `https://127.0.0.1{path}`).
    pub tls: bool,
    /// Request headers (`Cookie` first, when the vector has one).
    pub headers: Vec<(String, String)>,
}

/// What the adapter answered: the status and the `Set-Cookie` values, in order.
pub struct Answer {
    pub status: u16,
    pub set_cookies: Vec<String>,
}

fn request(vector: &Value, config: SessionConfig, act: Act) -> Replay {
    let tls = vector["express"]["transport"]
        .as_str()
        .unwrap()
        .starts_with("https");
    let path = if matches!(act, Act::Untouched) {
        "/untouched"
    } else {
        "/"
    };
    let mut headers = Vec::new();
    if let Some(cookie) = vector["request_cookie"].as_str() {
        headers.push(("cookie".to_owned(), cookie.to_owned()));
    }
    for (name, value) in vector["request_headers"].as_object().unwrap() {
        headers.push((name.clone(), value.as_str().unwrap().to_owned()));
    }
    Replay {
        layer: config.build().unwrap(),
        act,
        path,
        tls,
        headers,
    }
}

/// How this library answers where it deliberately differs from Express.
enum Expect {
    Same,
    /// Nothing sent: a refused cookie is simply not used (Express clears `.sig`).
    Nothing,
    /// The old-key cookie is re-issued whole, with the configured attributes (Express re-signs
    /// only `.sig`, with default attributes: https://github.com/pillarjs/cookies/issues/22).
    ReissuedWhole,
    /// Written, where Express writes nothing: exactly these headers.
    Exactly(Vec<&'static str>),
    /// The response fails loudly instead of sending a cookie browsers drop.
    TooLarge,
}

fn expectation(scenario: &str) -> Expect {
    match scenario {
        "tampered_value" | "tampered_sig" | "sig_with_padding_rejected" | "unknown_key_sig" => Expect::Nothing,
        "old_key_read_only_resign_sig" | "old_key_read_only_with_maxAge" | "old_key_read_only_https" => Expect::ReissuedWhole,
        // `req.session = {}` over a valid cookie: Express keeps the old cookie (its own test
        // calls this a quirk); replacing a loaded session with `{}` writes `{}` here.
        "assign_empty_object_existing_quirk" => Expect::Exactly(vec![
            "session=e30=; path=/; httponly",
            "session.sig=30f2IZUlGvzBGlOz-Mlg4fDkRO4; path=/; httponly",
        ]),
        // `secure: true` over plain HTTP: Express throws inside `cookies.set` and swallows it,
        // sending nothing; here the cookie is sent with `secure` and the browser decides.
        "secure_true_over_http_swallowed" | "secure_true_xfp_without_trust_proxy" => Expect::Exactly(vec![
            "session=eyJ2aWV3cyI6MX0=; path=/; secure; httponly",
            "session.sig=WcRy3bp0__-yp0ragQZ1Tz8zjtg; path=/; secure; httponly",
        ]),
        "large_session_no_size_check" => Expect::TooLarge,
        // An `expires` six years ahead: capped at 400 days, as browsers do anyway
        // (RFC 6265bis §5.5), so the server never promises a lifetime the browser won't keep.
        "expires_option" => Expect::Exactly(vec![
            "session=eyJ2aWV3cyI6MX0=; path=/; expires=Tue, 18 Feb 2025 12:00:00 GMT; httponly",
            "session.sig=WcRy3bp0__-yp0ragQZ1Tz8zjtg; path=/; expires=Tue, 18 Feb 2025 12:00:00 GMT; httponly",
        ]),
        _ => Expect::Same,
    }
}

/// Every vector not replayed, with the reason. The test fails when one of them is replayable
/// after all (it is not met) or when another vector cannot be replayed.
const SKIPPED: [(&str, &str); 11] = [
    ("json_escaping", "a lone UTF-16 surrogate cannot live in a Rust String (decoded as U+FFFD)"),
    ("set_session_to_string_throws", "assigning a string to the session does not type-check in Rust"),
    ("sessionOptions_name_override_quirk", "the cookie name is fixed per layer (Express's rename is a quirk)"),
    ("old_key_modified_overwrite_false", "`overwrite` (removing the app's own Set-Cookie headers) is not offered"),
    ("overwrite_true_replaces_same_name", "`overwrite` (removing the app's own Set-Cookie headers) is not offered"),
    ("overwrite_false_keeps_same_name", "`overwrite` (removing the app's own Set-Cookie headers) is not offered"),
    ("signed_false", "`signed: false` is not supported: there is no unauthenticated format"),
    ("signed_false_clear", "`signed: false` is not supported: there is no unauthenticated format"),
    ("sessionOptions_override_signed_false", "a per-request `signed = false` is not supported: there is no unauthenticated format"),
    ("sameSite_invalid_swallowed", "SameSite is an enum: `sameSite: 'bogus'` cannot be configured (Express swallows it at write time)"),
    ("maxAge_invalid_swallowed", "max-age is a Duration: `maxAge: '1h'` cannot be configured (Express swallows it at write time)"),
];

/// Vectors whose options this library refuses at build time (Express sends cookies browsers
/// drop), with the error's text.
const REFUSED: [(&str, &str); 2] = [
    (
        "sameSite_none_over_http",
        "SameSite=None requires secure(true)",
    ),
    ("partitioned_priority", "Partitioned requires secure(true)"),
];

/// How many vectors the file holds, and how many are compared header for header.
pub const RECORDED: usize = 57;
pub const COMPARED: usize = RECORDED - SKIPPED.len() - REFUSED.len();

/// Replays every vector through `adapter` and checks its answers; returns how many vectors were
/// compared header for header.
pub async fn replay_all<F, Fut>(mut adapter: F) -> usize
where
    F: FnMut(Replay) -> Fut,
    Fut: Future<Output = Answer>,
{
    let (all, now_ms) = vectors();
    let all = all["vectors"].as_array().unwrap();
    assert_eq!(all.len(), RECORDED, "the recorded file changed");
    let (mut compared, mut skipped, mut refused) = (0, Vec::new(), Vec::new());
    for vector in all {
        let scenario = vector["scenario"].as_str().unwrap();
        let expected: Vec<String> = vector["response_set_cookie"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        if let Some((_, reason)) = SKIPPED.iter().find(|(name, _)| *name == scenario) {
            eprintln!("skip {scenario}: {reason}");
            skipped.push(scenario);
            continue;
        }
        let config = config(vector, now_ms)
            .unwrap_or_else(|reason| panic!("{scenario}: not replayable and not listed: {reason}"));
        // Options this library refuses at build time (Express would send cookies browsers drop).
        if let Some((_, message)) = REFUSED.iter().find(|(name, _)| *name == scenario) {
            let error = config.build().expect_err(scenario).to_string();
            assert!(error.contains(message), "{scenario}: {error}");
            refused.push(scenario);
            continue;
        }
        let act = act_for(vector)
            .unwrap_or_else(|| panic!("{scenario}: handler has no equivalent and is not listed"));
        let res = adapter(request(vector, config, act)).await;
        let got = res.set_cookies;
        match expectation(scenario) {
            Expect::Same => assert_eq!(got, expected, "{scenario}"),
            Expect::Nothing => assert!(got.is_empty(), "{scenario}: {got:?}"),
            Expect::Exactly(headers) => assert_eq!(got, headers, "{scenario}"),
            Expect::TooLarge => {
                assert_eq!(res.status, 500, "{scenario}");
                assert!(got.is_empty());
            }
            Expect::ReissuedWhole => {
                let value = vector["request_cookie"]
                    .as_str()
                    .unwrap()
                    .split("; ")
                    .next()
                    .unwrap();
                let resigned = expected.last().unwrap().split(';').next().unwrap();
                assert_eq!(got.len(), 2, "{scenario}: {got:?}");
                assert!(
                    got[0].starts_with(&format!("{value}; path=/")),
                    "{scenario}: {got:?}"
                );
                assert!(
                    got[1].starts_with(&format!("{resigned}; path=/")),
                    "{scenario}: {got:?}"
                );
                if scenario.ends_with("with_maxAge") {
                    // The configured lifetime is kept on both cookies.
                    assert!(
                        got.iter()
                            .all(|c| c.contains("expires=Mon, 15 Jan 2024 13:00:00 GMT")),
                        "{got:?}"
                    );
                }
                if scenario.ends_with("https") {
                    assert!(got.iter().all(|c| c.contains("; secure")), "{got:?}");
                }
            }
        }
        compared += 1;
    }
    // Every listed exception was met exactly once, and every other vector was compared.
    skipped.sort_unstable();
    let mut listed: Vec<&str> = SKIPPED.iter().map(|(name, _)| *name).collect();
    listed.sort_unstable();
    assert_eq!(skipped, listed, "skipped vectors");
    assert_eq!(refused.len(), REFUSED.len(), "refused vectors: {refused:?}");
    assert_eq!(compared, COMPARED, "vectors compared header for header");
    compared
}
