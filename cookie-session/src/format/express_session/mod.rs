//! express-session 1.19's formats: the signed `connect.sid` cookie and the store record.
//!
//! Pure codecs, no HTTP or store types, for sharing sessions with an Express app that uses
//! express-session with connect-redis 10 or connect-pg-simple 10 (`docs/EXPRESS-SESSION.md`
//! explains how the store mode maps onto them). What these codecs reproduce was measured
//! against the real packages by `interop/express-session/record.js`; the vectors are in
//! `cookie-session/tests/data/express-session-vectors.json`.
//!
//! - [`SidSigner`]: the cookie, `s:<sid>.<signature>` URL-encoded, HMAC-SHA256 with a list of
//!   secrets (the first signs, every one verifies; comparisons in constant time);
//! - [`Record`]: the JSON the store holds, `{"cookie":{…},…data}`, read strictly and written
//!   byte for byte as express-session writes it;
//! - the stores' expiry rules: [`redis_ttl_secs`] (connect-redis), [`pg_expire_unix_secs`]
//!   (connect-pg-simple), and [`is_live`], which also refuses a record whose own
//!   `cookie.expires` has passed while the store still holds it.
//!
//! ```
//! use cookie_session::format::express_session::{find_cookie, is_live, Record, SidSigner};
//! use cookie_session::KeyRing;
//!
//! let signer = SidSigner::new(&KeyRing::new(["secret-new", "secret-old"])?);
//! // A request from a browser holding express-session's cookie:
//! let header = "connect.sid=s%3AVBFEUUBshl3roZSnqe-caSobqroPU8q6.ew9mk6Uqcwrc78WCT2TxmQK0pX8dOpCQr4A4wPdAtv4";
//! let value = find_cookie(header, "connect.sid").unwrap_or_default();
//! let (sid, _key_index) = signer.open(&value).expect("signed with secret-new");
//! assert_eq!(sid, "VBFEUUBshl3roZSnqe-caSobqroPU8q6");
//!
//! // ...whose record the store holds under `sess:<sid>` (Redis) or `session.sid` (PostgreSQL):
//! let text = r#"{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"views":1}"#;
//! let record = Record::parse(text).expect("a record express-session wrote");
//! assert!(is_live(record.cookie(), 1_796_130_000_000, Some(1_796_216_400_000)));
//! assert_eq!(record.data()["views"], 1);
//! # Ok::<(), cookie_session::KeyError>(())
//! ```

mod cookie;
mod record;

pub use self::cookie::{
    decode_uri_component, encode_uri_component, find_cookie, generate_sid, SidSigner,
    RECOMMENDED_SECRET_LEN, SIGNATURE_LEN,
};
pub use self::record::{
    iso_from_ms, ms_from_iso, CookieMeta, Record, RecordError, SameSite, MAX_RECORD_LEN,
    RESERVED_KEYS,
};

/// express-session's default cookie name.
pub const DEFAULT_COOKIE_NAME: &str = "connect.sid";

/// connect-redis's default key prefix: a session lives at `sess:<sid>`.
pub const REDIS_KEY_PREFIX: &str = "sess:";

/// connect-redis's and connect-pg-simple's default `ttl`, in seconds, for a session whose
/// cookie has no expiry (`cookie.expires` null).
pub const DEFAULT_STORE_TTL_SECS: i64 = 86_400;

/// connect-pg-simple's default table: `session (sid varchar, sess json, expire timestamp(6))`.
pub const PG_TABLE: &str = "session";

/// The Redis key connect-redis uses for `sid` with its default prefix.
///
/// ```
/// assert_eq!(cookie_session::format::express_session::redis_key("abc"), "sess:abc");
/// ```
pub fn redis_key(sid: &str) -> String {
    format!("{REDIS_KEY_PREFIX}{sid}")
}

/// connect-redis 10's TTL for a record saved at `now_ms`, in seconds:
/// `ceil((cookie.expires − now) / 1000)`, or `default_ttl_secs` when the cookie has no expiry.
///
/// `None` when that is not positive: connect-redis then deletes the key instead of writing
/// it (a session saved after its own expiry ends).
///
/// ```
/// use cookie_session::format::express_session::{redis_ttl_secs, CookieMeta};
/// let meta = CookieMeta::express_default(Some(3_600_000), 1_000_000);
/// assert_eq!(redis_ttl_secs(&meta, 1_000_000, 86_400), Some(3600));
/// assert_eq!(redis_ttl_secs(&meta, 1_000_001, 86_400), Some(3600)); // rounded up
/// assert_eq!(redis_ttl_secs(&meta, 4_600_000, 86_400), None);
/// assert_eq!(redis_ttl_secs(&CookieMeta::express_default(None, 0), 5, 86_400), Some(86_400));
/// ```
pub fn redis_ttl_secs(cookie: &CookieMeta, now_ms: i64, default_ttl_secs: i64) -> Option<u64> {
    let ttl = match cookie.expires_at_ms() {
        Some(expires) => ceil_div_1000(expires.saturating_sub(now_ms)),
        None => default_ttl_secs,
    };
    u64::try_from(ttl).ok().filter(|&ttl| ttl > 0)
}

/// connect-pg-simple 10's `expire` for a record saved (or touched) at `now_ms`, in Unix
/// seconds: `ceil(cookie.expires / 1000)`, or `ceil(now / 1000 + default_ttl_secs)` when the
/// cookie has no expiry. The column is a `timestamp` without time zone, written with
/// `to_timestamp()`, so it reads back in the database session's time zone.
///
/// ```
/// use cookie_session::format::express_session::{pg_expire_unix_secs, CookieMeta};
/// let meta = CookieMeta::express_default(Some(3_600_000), 1_796_130_000_485);
/// assert_eq!(pg_expire_unix_secs(&meta, 1_796_130_000_485, 86_400), 1_796_133_601);
/// let none = CookieMeta::express_default(None, 0);
/// assert_eq!(pg_expire_unix_secs(&none, 1_796_130_000_485, 86_400), 1_796_216_401);
/// ```
pub fn pg_expire_unix_secs(cookie: &CookieMeta, now_ms: i64, default_ttl_secs: i64) -> i64 {
    match cookie.expires_at_ms() {
        Some(expires) => ceil_div_1000(expires),
        None => ceil_div_1000(now_ms.saturating_add(default_ttl_secs.saturating_mul(1000))),
    }
}

/// Whether a record the store still holds may be served at `now_ms`.
///
/// `store_expires_at_ms` is when the store itself drops it (now + Redis `PTTL`, or the
/// `expire` column; `None` when it never does). The rule:
///
/// - past the store's expiry: not live (express-session would not find it either);
/// - no `cookie.expires` (a browser-session cookie): live, the store's TTL is the only limit;
/// - `cookie.expires` in the future: live;
/// - `cookie.expires` passed: express-session still serves it, but we do not, **unless** the
///   store's expiry is within one `originalMaxAge` (plus a second of rounding) from now.
///   express-session's touch (on every request with `rolling`, or any read-only request with
///   `resave: false`) moves the store's TTL to now + maxAge without rewriting the record,
///   so such a record is one Express is still renewing, and the browser's cookie with it
///   (`rolling` re-sends it). A longer-lived store entry is explained by no touch: another
///   program, a custom `ttl`, or `disableTTL`.
///
/// ```
/// use cookie_session::format::express_session::{is_live, CookieMeta};
/// let now = 1_796_130_000_000;
/// // Saved an hour ago with maxAge 60 s, Redis still holding it for a day: not served.
/// let stale = CookieMeta::express_default(Some(60_000), now - 3_600_000);
/// assert!(!is_live(&stale, now, Some(now + 86_400_000)));
/// // The same record just touched by Express (`rolling`): TTL = 60 s from now. Served.
/// assert!(is_live(&stale, now, Some(now + 60_000)));
/// // No expiry of its own: the store decides.
/// let browser = CookieMeta::express_default(None, now);
/// assert!(is_live(&browser, now, Some(now + 1)));
/// assert!(!is_live(&browser, now, Some(now)));
/// ```
pub fn is_live(cookie: &CookieMeta, now_ms: i64, store_expires_at_ms: Option<i64>) -> bool {
    if store_expires_at_ms.is_some_and(|at| at <= now_ms) {
        return false;
    }
    match cookie.expires_at_ms() {
        None => true,
        Some(expires) if expires > now_ms => true,
        Some(_) => match (store_expires_at_ms, cookie.max_age_ms()) {
            (Some(at), Some(max_age)) if max_age > 0 => {
                at <= now_ms.saturating_add(max_age).saturating_add(1000)
            }
            _ => false,
        },
    }
}

/// `Math.ceil(ms / 1000)` for integers.
fn ceil_div_1000(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_matches_math_ceil() {
        assert_eq!(ceil_div_1000(0), 0);
        assert_eq!(ceil_div_1000(1), 1);
        assert_eq!(ceil_div_1000(1000), 1);
        assert_eq!(ceil_div_1000(1001), 2);
        assert_eq!(ceil_div_1000(-1), 0);
        assert_eq!(ceil_div_1000(-1000), -1);
        assert_eq!(ceil_div_1000(-1001), -1);
    }

    #[test]
    fn an_expired_record_without_max_age_is_never_live() {
        let now = 10_000_000;
        let mut meta = CookieMeta::express_default(None, now);
        meta.expires = Some(Some(now - 1));
        assert!(!is_live(&meta, now, Some(now + 1000)));
        assert!(!is_live(&meta, now, None));
        // No store expiry at all (disableTTL): an expired cookie.expires ends it.
        let stale = CookieMeta::express_default(Some(60_000), now - 120_000);
        assert!(!is_live(&stale, now, None));
    }
}
