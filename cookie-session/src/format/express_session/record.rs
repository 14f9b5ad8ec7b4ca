//! The store record: the JSON text express-session 1.19 hands its store.
//!
//! express-session saves `JSON.stringify(req.session)`: the session's data at the top level,
//! beside a `cookie` member holding the cookie's settings (`Cookie#toJSON`), in this order:
//! `originalMaxAge`, `partitioned`, `priority`, `expires`, `secure`, `httpOnly`, `domain`,
//! `path`, `sameSite` (members whose value is `undefined` are left out). connect-redis and
//! connect-pg-simple store that text as it is (recorded in
//! `cookie-session/tests/data/express-session-vectors.json`):
//!
//! ```text
//! {"cookie":{"originalMaxAge":3600000,"expires":"2026-12-01T14:18:57.921Z","httpOnly":true,"path":"/"},"views":1}
//! ```
//!
//! [`Record::parse`] refuses what express-session would crash on (no `cookie` object: a 500)
//! and what it would silently drop (a data key the session object already has, such as
//! `__proto__`, `id` or `save`), so another program's record gives a clear rejection, never
//! data Express does not see. [`Record::to_json`] writes exactly what express-session writes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::format::express::{replace_lone_surrogates, stringify_map, stringify_map_keeping};

/// The largest record [`Record::parse`] reads, in bytes. express-session has no limit; a
/// store record larger than this did not come from a working session (a cookie session is at
/// most a few kilobytes, a store session rarely more than a few hundred).
pub const MAX_RECORD_LEN: usize = 1 << 20;

/// The latest time a JavaScript `Date` can hold, in Unix milliseconds (ECMA-262 §21.4.1.22).
const MAX_DATE_MS: i64 = 8_640_000_000_000_000;

/// Top-level names express-session's `Session` already has (its own `id` and `req`, its
/// methods, and every `Object.prototype` name): loading a record skips them, so their values
/// would never reach the application.
pub const RESERVED_KEYS: &[&str] = &[
    "id",
    "req",
    "touch",
    "resetMaxAge",
    "save",
    "reload",
    "destroy",
    "regenerate",
    "constructor",
    "toString",
    "valueOf",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "__proto__",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

/// Why a record was refused. Each one means the same to a request: an empty session under a
/// new id; the record itself is left in the store untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// Larger than [`MAX_RECORD_LEN`].
    TooLarge,
    /// Not text: bytes that are not UTF-8, or (Redis) a key that holds no string at all (a
    /// hash, a list: another program's key).
    NotText,
    /// Not JSON at all.
    NotJson,
    /// JSON, but not an object (`null`, an array, a string...).
    NotAnObject,
    /// No `cookie` member.
    MissingCookie,
    /// A `cookie` member that is not an object.
    CookieNotAnObject,
    /// A member of `cookie` with the wrong type or an impossible value.
    BadCookieMember(&'static str),
    /// A data key the session object already has (`__proto__`, `id`, `save`...), or
    /// `__proto__` at any depth.
    ReservedKey(String),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::TooLarge => write!(f, "record larger than {MAX_RECORD_LEN} bytes"),
            RecordError::NotText => f.write_str("record is not UTF-8 text"),
            RecordError::NotJson => f.write_str("record is not JSON"),
            RecordError::NotAnObject => f.write_str("record is not a JSON object"),
            RecordError::MissingCookie => f.write_str("record has no `cookie` member"),
            RecordError::CookieNotAnObject => f.write_str("record's `cookie` is not an object"),
            RecordError::BadCookieMember(name) => {
                write!(f, "record's `cookie.{name}` has the wrong type or value")
            }
            // The key comes from the store; `{:?}` escapes it for the log line.
            RecordError::ReservedKey(key) => write!(f, "record uses the reserved key {key:?}"),
        }
    }
}

impl std::error::Error for RecordError {}

/// The `sameSite` setting as express-session stores it: `true`, `false`, or one of `"lax"`,
/// `"strict"`, `"none"` (any case, kept as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SameSite {
    /// `true` (cookie 0.7.2 writes `SameSite=Strict`) or `false` (no attribute).
    Bool(bool),
    /// `"lax"`, `"strict"` or `"none"`, in the case it was written.
    Text(String),
}

/// The `cookie` member of a record: the cookie's settings, with its expiry.
///
/// Every field is `None` when the member is absent, `Some(None)` when it is `null`: records
/// are written back with the same members. `expires` is in Unix milliseconds (the record holds
/// the ISO 8601 text `Date#toJSON` writes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CookieMeta {
    /// `originalMaxAge`: the cookie's lifetime in milliseconds (`null`: a browser-session
    /// cookie, kept until the browser closes).
    pub original_max_age: Option<Option<i64>>,
    /// `partitioned` (CHIPS).
    pub partitioned: Option<Option<bool>>,
    /// `priority`: `"low"`, `"medium"` or `"high"`.
    pub priority: Option<Option<String>>,
    /// `expires`, in Unix milliseconds: when the cookie (and so the session) ends.
    pub expires: Option<Option<i64>>,
    /// `secure`.
    pub secure: Option<Option<bool>>,
    /// `httpOnly`.
    pub http_only: Option<Option<bool>>,
    /// `domain`.
    pub domain: Option<Option<String>>,
    /// `path`.
    pub path: Option<Option<String>>,
    /// `sameSite`.
    pub same_site: Option<Option<SameSite>>,
}

impl CookieMeta {
    /// What express-session 1.19 stores for a new session with its default cookie options and
    /// `cookie.maxAge = max_age_ms` (`None`: no maxAge), created at `now_ms`:
    /// `{"originalMaxAge":…,"expires":…,"httpOnly":true,"path":"/"}`.
    ///
    /// ```
    /// use cookie_session::format::express_session::CookieMeta;
    /// let meta = CookieMeta::express_default(Some(3_600_000), 1_796_130_000_000);
    /// assert_eq!(meta.expires_at_ms(), Some(1_796_133_600_000));
    /// assert_eq!(CookieMeta::express_default(None, 0).expires_at_ms(), None);
    /// ```
    pub fn express_default(max_age_ms: Option<i64>, now_ms: i64) -> Self {
        Self {
            original_max_age: Some(max_age_ms),
            expires: Some(max_age_ms.map(|ms| now_ms.saturating_add(ms))),
            http_only: Some(Some(true)),
            path: Some(Some("/".to_owned())),
            ..Self::default()
        }
    }

    /// When the session ends by its own clock (`cookie.expires`), in Unix milliseconds;
    /// `None` when it has no expiry of its own (the store's TTL is then the only one).
    pub fn expires_at_ms(&self) -> Option<i64> {
        self.expires.flatten()
    }

    /// The cookie's lifetime in milliseconds (`originalMaxAge`), if it has one.
    pub fn max_age_ms(&self) -> Option<i64> {
        self.original_max_age.flatten()
    }

    /// express-session's `session.touch()` at `now_ms`: `expires = now + originalMaxAge`
    /// (`null` without one). It runs on every request that has a session.
    pub fn touch(&mut self, now_ms: i64) {
        self.expires = Some(self.max_age_ms().map(|ms| now_ms.saturating_add(ms)));
    }

    fn parse(map: &Map<String, Value>) -> Result<Self, RecordError> {
        let mut meta = Self::default();
        for (key, value) in map {
            match key.as_str() {
                "originalMaxAge" => meta.original_max_age = Some(nullable(value, key_ms)?),
                "partitioned" => meta.partitioned = Some(nullable(value, key_bool("partitioned"))?),
                "priority" => meta.priority = Some(nullable(value, key_priority)?),
                "expires" => meta.expires = Some(nullable(value, key_expires)?),
                "secure" => meta.secure = Some(nullable(value, key_bool("secure"))?),
                "httpOnly" => meta.http_only = Some(nullable(value, key_bool("httpOnly"))?),
                "domain" => meta.domain = Some(nullable(value, key_string("domain"))?),
                "path" => meta.path = Some(nullable(value, key_string("path"))?),
                "sameSite" => meta.same_site = Some(nullable(value, key_same_site)?),
                other if other == "__proto__" || RESERVED_KEYS.contains(&other) => {
                    return Err(RecordError::ReservedKey(format!("cookie.{other}")));
                }
                // express-session's Cookie keeps unknown members but never writes them back
                // (`Cookie#toJSON` lists its members): ignore them likewise.
                _ => {}
            }
        }
        Ok(meta)
    }

    fn to_value(&self) -> Value {
        let mut map = Map::new();
        let mut put = |name: &str, value: Option<Option<Value>>| {
            if let Some(value) = value {
                map.insert(name.to_owned(), value.unwrap_or(Value::Null));
            }
        };
        put(
            "originalMaxAge",
            self.original_max_age.map(|v| v.map(Value::from)),
        );
        put("partitioned", self.partitioned.map(|v| v.map(Value::from)));
        put(
            "priority",
            self.priority.clone().map(|v| v.map(Value::from)),
        );
        put(
            "expires",
            self.expires
                .map(|v| v.map(|ms| Value::from(iso_from_ms(ms)))),
        );
        put("secure", self.secure.map(|v| v.map(Value::from)));
        put("httpOnly", self.http_only.map(|v| v.map(Value::from)));
        put("domain", self.domain.clone().map(|v| v.map(Value::from)));
        put("path", self.path.clone().map(|v| v.map(Value::from)));
        put(
            "sameSite",
            self.same_site.clone().map(|v| {
                v.map(|s| match s {
                    SameSite::Bool(b) => Value::from(b),
                    SameSite::Text(t) => Value::from(t),
                })
            }),
        );
        Value::Object(map)
    }
}

fn nullable<T>(
    value: &Value,
    parse: impl FnOnce(&Value) -> Result<T, RecordError>,
) -> Result<Option<T>, RecordError> {
    match value {
        Value::Null => Ok(None),
        other => parse(other).map(Some),
    }
}

fn key_ms(value: &Value) -> Result<i64, RecordError> {
    // An integer number of milliseconds, within what a Date can add (express-session throws
    // on a non-number, and never writes a fraction unless the application set one).
    value
        .as_i64()
        .filter(|ms| ms.unsigned_abs() <= MAX_DATE_MS.unsigned_abs())
        .ok_or(RecordError::BadCookieMember("originalMaxAge"))
}

fn key_bool(name: &'static str) -> impl FnOnce(&Value) -> Result<bool, RecordError> {
    move |value| value.as_bool().ok_or(RecordError::BadCookieMember(name))
}

fn key_string(name: &'static str) -> impl FnOnce(&Value) -> Result<String, RecordError> {
    move |value| {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or(RecordError::BadCookieMember(name))
    }
}

fn key_priority(value: &Value) -> Result<String, RecordError> {
    // cookie 0.7.2 throws on any other priority when writing Set-Cookie.
    match value.as_str() {
        Some(p) if ["low", "medium", "high"].contains(&p.to_ascii_lowercase().as_str()) => {
            Ok(p.to_owned())
        }
        _ => Err(RecordError::BadCookieMember("priority")),
    }
}

fn key_same_site(value: &Value) -> Result<SameSite, RecordError> {
    // cookie 0.7.2 throws on any other sameSite when writing Set-Cookie.
    match value {
        Value::Bool(b) => Ok(SameSite::Bool(*b)),
        Value::String(s)
            if ["lax", "strict", "none"].contains(&s.to_ascii_lowercase().as_str()) =>
        {
            Ok(SameSite::Text(s.clone()))
        }
        _ => Err(RecordError::BadCookieMember("sameSite")),
    }
}

fn key_expires(value: &Value) -> Result<i64, RecordError> {
    value
        .as_str()
        .and_then(ms_from_iso)
        .ok_or(RecordError::BadCookieMember("expires"))
}

/// An express-session store record: the cookie's settings and the session's data.
///
/// # Examples
///
/// ```
/// use cookie_session::format::express_session::Record;
///
/// // A record connect-redis stored (recorded from express-session 1.19).
/// let text = r#"{"cookie":{"originalMaxAge":3600000,"expires":"2026-12-01T14:18:57.921Z","httpOnly":true,"path":"/"},"views":1}"#;
/// let mut record = Record::parse(text)?;
/// assert_eq!(record.data()["views"], 1);
/// assert_eq!(record.cookie().expires_at_ms(), Some(1_796_134_737_921));
/// assert_eq!(record.to_json(), text);
///
/// record.data_mut().insert("user".into(), "ann".into());
/// assert!(record.to_json().ends_with(r#""views":1,"user":"ann"}"#));
///
/// // What express-session would answer with a 500, or silently drop, is refused.
/// assert!(Record::parse(r#"{"views":1}"#).is_err());
/// assert!(Record::parse(r#"{"cookie":5}"#).is_err());
/// assert!(Record::parse(r#"{"cookie":{},"__proto__":{"admin":true}}"#).is_err());
/// # Ok::<(), cookie_session::format::express_session::RecordError>(())
/// ```
///
/// # Errors
///
/// [`Record::parse`] returns a [`RecordError`] for anything express-session would not load as
/// it stands; the store mode answers such a record with an empty session and leaves it alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    cookie: CookieMeta,
    data: Map<String, Value>,
}

impl Record {
    /// A record for a new session: `cookie` and no data.
    pub fn new(cookie: CookieMeta) -> Self {
        Self {
            cookie,
            data: Map::new(),
        }
    }

    /// Reads a record as express-session's store hands it over (the Redis value, or the
    /// `sess` column's text).
    ///
    /// # Errors
    ///
    /// See [`RecordError`]: too large, not JSON, not an object, no `cookie` object, a `cookie`
    /// member of the wrong type, or a reserved key.
    pub fn parse(text: &str) -> Result<Self, RecordError> {
        if text.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLarge);
        }
        // JSON.parse accepts lone surrogates, serde_json does not: read them as U+FFFD.
        let text = replace_lone_surrogates(text);
        let value: Value = serde_json::from_str(&text).map_err(|_| RecordError::NotJson)?;
        Self::from_value(value)
    }

    /// [`Record::parse`] of JSON already parsed (a `json`/`jsonb` column read as a value).
    ///
    /// # Errors
    ///
    /// As [`Record::parse`], except `TooLarge` and `NotJson`.
    pub fn from_value(value: Value) -> Result<Self, RecordError> {
        let Value::Object(mut map) = value else {
            return Err(RecordError::NotAnObject);
        };
        let cookie = match map.shift_remove("cookie") {
            None => return Err(RecordError::MissingCookie),
            Some(Value::Object(cookie)) => CookieMeta::parse(&cookie)?,
            Some(_) => return Err(RecordError::CookieNotAnObject),
        };
        check_data(&map)?;
        Ok(Self { cookie, data: map })
    }

    /// The record as express-session writes it: `JSON.stringify` of the session, the `cookie`
    /// member first (after any integer-like keys, which JavaScript always puts first).
    ///
    /// Keys the data must not hold (`cookie`, [`RESERVED_KEYS`]) are left out: express-session
    /// would not have them either.
    pub fn to_json(&self) -> String {
        stringify_map(&self.to_map())
    }

    /// [`Record::to_json`] of a record that replaces `stored` (the text
    /// [`Record::parse`] read): a member of `stored` whose value holds a lone UTF-16
    /// surrogate (`"\ud800"`, which `JSON.parse` and `JSON.stringify` keep, and which
    /// [`Record::parse`] reads as U+FFFD) is written back as it was stored, as long as this
    /// record holds what was read from it. So a write never changes a value it did not
    /// change, as express-session's own write would not (attack review A3).
    pub fn to_json_over(&self, stored: &str) -> String {
        let map = self.to_map();
        // The common case: nothing in `stored` was read differently from how it is written.
        if let Cow::Borrowed(_) = replace_lone_surrogates(stored) {
            return stringify_map(&map);
        }
        // serde_json checks no `\u` escape inside a raw value. A key holding a lone surrogate
        // fails here: then that record is written as read, as before.
        let Ok(members) = serde_json::from_str::<HashMap<String, Box<RawValue>>>(stored) else {
            return stringify_map(&map);
        };
        stringify_map_keeping(&map, |key, value| {
            let raw = members.get(key)?.get();
            let Cow::Owned(read) = replace_lone_surrogates(raw) else {
                return None;
            };
            let read: Value = serde_json::from_str(&read).ok()?;
            (read == *value).then_some(raw)
        })
    }

    /// The members [`Record::to_json`] writes: `cookie` first, then the data but for the keys
    /// it must not hold.
    fn to_map(&self) -> Map<String, Value> {
        let mut map = Map::with_capacity(self.data.len() + 1);
        map.insert("cookie".to_owned(), self.cookie.to_value());
        for (key, value) in &self.data {
            if key != "cookie" && !RESERVED_KEYS.contains(&key.as_str()) {
                map.insert(key.clone(), value.clone());
            }
        }
        map
    }

    /// The cookie's settings and expiry.
    pub fn cookie(&self) -> &CookieMeta {
        &self.cookie
    }

    /// The cookie's settings, to change (a new `maxAge`, a touch).
    pub fn cookie_mut(&mut self) -> &mut CookieMeta {
        &mut self.cookie
    }

    /// The session's data: every member but `cookie`, in order.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }

    /// The session's data, to change. [`Record::to_json`] leaves out a `cookie` or reserved key.
    pub fn data_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.data
    }

    /// The record split into its parts.
    pub fn into_parts(self) -> (CookieMeta, Map<String, Value>) {
        (self.cookie, self.data)
    }
}

fn check_data(map: &Map<String, Value>) -> Result<(), RecordError> {
    for (key, value) in map {
        if RESERVED_KEYS.contains(&key.as_str()) {
            return Err(RecordError::ReservedKey(key.clone()));
        }
        if has_proto_key(value) {
            return Err(RecordError::ReservedKey(format!("{key}.…__proto__")));
        }
    }
    Ok(())
}

/// Whether `__proto__` is a key anywhere in `value`. Iterative: a `Value` built by a caller
/// may be nested deeper than serde_json's parser allows.
fn has_proto_key(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if map.contains_key("__proto__") {
                    return true;
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    false
}

// ---- Date#toJSON ------------------------------------------------------------------------------

/// `new Date(ms).toJSON()`: `YYYY-MM-DDTHH:MM:SS.sssZ` (years 0–9999; JavaScript writes
/// `±YYYYYY` outside them, which no session reaches: such times are clamped).
///
/// ```
/// use cookie_session::format::express_session::iso_from_ms;
/// assert_eq!(iso_from_ms(1_796_134_737_921), "2026-12-01T14:18:57.921Z");
/// assert_eq!(iso_from_ms(0), "1970-01-01T00:00:00.000Z");
/// ```
pub fn iso_from_ms(ms: i64) -> String {
    // 0000-01-01 and 9999-12-31T23:59:59.999, the range of 4-digit years.
    let ms = ms.clamp(-62_167_219_200_000, 253_402_300_799_999);
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The Unix milliseconds of a `Date#toJSON` text, exactly that form (what express-session
/// writes); `None` for anything else.
///
/// ```
/// use cookie_session::format::express_session::ms_from_iso;
/// assert_eq!(ms_from_iso("2026-12-01T14:18:57.921Z"), Some(1_796_134_737_921));
/// assert_eq!(ms_from_iso("2026-02-30T00:00:00.000Z"), None);
/// assert_eq!(ms_from_iso("garbage"), None);
/// ```
pub fn ms_from_iso(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 24 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            part.iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')),
        )
    };
    let seps = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ];
    if seps.iter().any(|&(i, c)| b.get(i) != Some(&c)) {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s, frac) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(days * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 + frac)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn iso_round_trips_over_the_range() {
        for ms in [
            0i64,
            1,
            999,
            -1,
            951_782_400_000,     // 2000-02-29
            4_107_542_399_999,   // 2100-02-28T23:59:59.999
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            -62_167_219_200_000, // 0000-01-01
        ] {
            let text = iso_from_ms(ms);
            assert_eq!(ms_from_iso(&text), Some(ms), "{text}");
        }
        assert_eq!(iso_from_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(ms_from_iso("2100-02-29T00:00:00.000Z"), None);
        assert_eq!(ms_from_iso("2026-12-01T14:18:57.921"), None);
        assert_eq!(ms_from_iso("2026-12-01T24:00:00.000Z"), None);
        assert_eq!(
            ms_from_iso("2026-12-01T14:18:57.921Z"),
            Some(1_796_134_737_921)
        );
        assert_eq!(ms_from_iso("+02026-12-01T14:18:57.921Z"), None);
        assert_eq!(ms_from_iso("2026-12-01T14:18:57,921Z"), None);
        assert_eq!(ms_from_iso("２026-12-01T14:18:57.921Z"), None);
    }

    #[test]
    fn wrong_types_are_refused_with_a_reason() {
        let cases: &[(&str, RecordError)] = &[
            ("not json", RecordError::NotJson),
            ("[1,2]", RecordError::NotAnObject),
            ("null", RecordError::NotAnObject),
            ("\"text\"", RecordError::NotAnObject),
            (r#"{"views":1}"#, RecordError::MissingCookie),
            (r#"{"cookie":5}"#, RecordError::CookieNotAnObject),
            (r#"{"cookie":[]}"#, RecordError::CookieNotAnObject),
            (r#"{"cookie":null}"#, RecordError::CookieNotAnObject),
            (
                r#"{"cookie":{"originalMaxAge":"3600000"}}"#,
                RecordError::BadCookieMember("originalMaxAge"),
            ),
            (
                r#"{"cookie":{"originalMaxAge":1.5}}"#,
                RecordError::BadCookieMember("originalMaxAge"),
            ),
            (
                r#"{"cookie":{"expires":"garbage"}}"#,
                RecordError::BadCookieMember("expires"),
            ),
            (
                r#"{"cookie":{"expires":1900000000000}}"#,
                RecordError::BadCookieMember("expires"),
            ),
            (
                r#"{"cookie":{"path":5}}"#,
                RecordError::BadCookieMember("path"),
            ),
            (
                r#"{"cookie":{"sameSite":"sometimes"}}"#,
                RecordError::BadCookieMember("sameSite"),
            ),
            (
                r#"{"cookie":{"priority":"urgent"}}"#,
                RecordError::BadCookieMember("priority"),
            ),
            (
                r#"{"cookie":{"__proto__":{}}}"#,
                RecordError::ReservedKey("cookie.__proto__".into()),
            ),
            (
                r#"{"cookie":{},"save":1}"#,
                RecordError::ReservedKey("save".into()),
            ),
            (
                r#"{"cookie":{},"a":[{"__proto__":1}]}"#,
                RecordError::ReservedKey("a.…__proto__".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Record::parse(text).as_ref().err(), Some(want), "{text}");
            // The reason is printable and never panics.
            assert!(!want.to_string().is_empty());
        }
        assert_eq!(
            Record::parse(&" ".repeat(MAX_RECORD_LEN + 1)),
            Err(RecordError::TooLarge)
        );
    }

    #[test]
    fn nulls_and_absent_members_are_written_back_as_they_were() {
        for text in [
            r#"{"cookie":{},"views":1}"#,
            r#"{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}}"#,
            r#"{"cookie":{"originalMaxAge":60000,"partitioned":false,"priority":"high","expires":"2026-12-01T14:21:22.824Z","secure":false,"httpOnly":true,"domain":"example.test","path":"/","sameSite":"strict"},"views":1}"#,
            r#"{"cookie":{"domain":null,"sameSite":true}}"#,
            r#"{"1":"one","cookie":{"path":"/"},"b":2}"#,
        ] {
            assert_eq!(Record::parse(text).unwrap().to_json(), text);
        }
        // Unknown cookie members are dropped, as Cookie#toJSON drops them.
        assert_eq!(
            Record::parse(r#"{"cookie":{"path":"/","maxAge":5}}"#)
                .unwrap()
                .to_json(),
            r#"{"cookie":{"path":"/"}}"#
        );
    }

    #[test]
    fn touch_moves_expires_by_the_original_max_age() {
        let mut meta = CookieMeta::express_default(Some(60_000), 1_000);
        assert_eq!(meta.expires_at_ms(), Some(61_000));
        meta.touch(5_000);
        assert_eq!(meta.expires_at_ms(), Some(65_000));
        let mut none = CookieMeta::express_default(None, 1_000);
        none.touch(5_000);
        assert_eq!(none.expires, Some(None));
    }

    #[test]
    fn lone_surrogates_are_written_back_as_stored() {
        let stored = r#"{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"s":"a\ud800b","n":{"k":["\udc00"]},"p":"😀","v":1}"#;
        let mut record = Record::parse(stored).unwrap();
        assert_eq!(record.data()["s"], "a\u{fffd}b");
        // Read as U+FFFD, written back as stored; the changed value as set.
        record.data_mut().insert("v".into(), 2.into());
        let written = record.to_json_over(stored);
        assert_eq!(written, stored.replace(r#""v":1"#, r#""v":2"#));
        assert!(
            record.to_json().contains("a\u{fffd}b"),
            "to_json cannot keep it"
        );
        // A value the write changed is written as it now is, even to what was read.
        record.data_mut().insert("s".into(), "new".into());
        let written = record.to_json_over(stored);
        assert!(written.contains(r#""s":"new""#), "{written}");
        assert!(written.contains(r#""n":{"k":["\udc00"]}"#), "{written}");
        // A key removed is gone.
        record.data_mut().shift_remove("n");
        assert!(!record.to_json_over(stored).contains(r#""n""#));
        // A key with a lone surrogate: serde_json cannot read it as a key; written as read.
        let odd_key = r#"{"cookie":{"originalMaxAge":null,"expires":null,"path":"/"},"\ud800":1}"#;
        let record = Record::parse(odd_key).unwrap();
        assert_eq!(record.to_json_over(odd_key), record.to_json());
        // No lone surrogate: to_json.
        let plain = r#"{"cookie":{"originalMaxAge":null,"expires":null,"path":"/"},"s":"\"x\\"}"#;
        let record = Record::parse(plain).unwrap();
        assert_eq!(record.to_json_over(plain), record.to_json());
    }
}
