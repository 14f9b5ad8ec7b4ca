//! `JSON.stringify`-compatible output, and the one `JSON.parse` leniency serde_json lacks.
//!
//! Express's `isChanged` compares the raw cookie with `encode(session)` (docs/EXPRESS-COMPATIBILITY.md §3.2), so the
//! bytes we write must be exactly what `JSON.stringify` would write, or every Express request
//! that reads the session rewrites the cookie (docs/EXPRESS-COMPATIBILITY.md §1.2).

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

use crate::format::data::plain_end;

/// `JSON.stringify(value)`, byte for byte (docs/EXPRESS-COMPATIBILITY.md §1.2, `[vec:json_escaping]`,
/// tests `key_order_hoists_indices_at_every_level` and `numbers_like_js` below).
///
/// - compact, no whitespace;
/// - at every object level, keys that are canonical array indices (`"0"`…`"4294967294"`) come
///   first in ascending numeric order, then every other key in insertion order;
/// - strings: short escapes for `\"` `\\` `\b` `\f` `\n` `\r` `\t`, other C0 controls as
///   lowercase `\u00xx`, everything else raw UTF-8 (including `/`, U+007F, U+2028/2029);
/// - numbers as JS `Number#toString` of the `f64` JS would hold: `1e+21`, `1.5e-7`, `100`,
///   `-0` → `0`, integers above 2^53 rounded as JS rounds them.
///
/// A Rust `String` cannot hold a lone surrogate, so the output is always valid UTF-8 and valid
/// JSON.
#[cfg_attr(not(feature = "__internals"), allow(dead_code))]
pub fn stringify(value: &Value) -> String {
    let mut out = String::with_capacity(64);
    write_value(&mut out, value);
    out
}

/// [`stringify()`] of an object given as a map, without wrapping it in a [`Value`].
pub fn stringify_map(map: &Map<String, Value>) -> String {
    stringify_map_keeping(map, |_, _| None)
}

/// [`stringify_map`], except that a top-level member for which `kept` returns a text is
/// written with that text as its value: JSON the caller took from a stored record, which a
/// [`Value`] could not hold (a lone surrogate, `replace_lone_surrogates`).
pub(crate) fn stringify_map_keeping<'k>(
    map: &Map<String, Value>,
    kept: impl Fn(&str, &Value) -> Option<&'k str>,
) -> String {
    let mut out = String::with_capacity(64);
    write_object(&mut out, map, kept);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map, |_, _| None),
    }
}

/// The largest integer every `f64` below it represents exactly (2^53).
const MAX_SAFE: u64 = 1 << 53;

fn write_number(out: &mut String, n: &Number) {
    // Fast path: integers within ±2^53 are exact in JS and print the same in Rust.
    // (`write!` into a String cannot fail.)
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= MAX_SAFE {
            let _ = write!(out, "{i}");
            return;
        }
    } else if let Some(u) = n.as_u64() {
        if u <= MAX_SAFE {
            let _ = write!(out, "{u}");
            return;
        }
    }
    // Everything else is what JS holds: the nearest f64 (`as` rounds to nearest, ties to even,
    // as JS's number parser does), printed by JS's algorithm.
    match n.as_f64() {
        // JS prints both zeros as "0" (`numbers_like_js` below); `-0.0 == 0.0`.
        Some(f) if f.is_finite() && f == 0.0 => out.push('0'),
        Some(f) if f.is_finite() => out.push_str(ryu_js::Buffer::new().format_finite(f)),
        // NaN and ±Infinity become null in JSON.stringify; serde_json cannot hold them, but
        // stay total anyway.
        _ => out.push_str("null"),
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    loop {
        // Up to the next quote, backslash or control character, eight bytes at a time.
        i = plain_end(bytes, i, false);
        let Some(&b) = bytes.get(i) else {
            break;
        };
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            // Not reached: `plain_end` stops only at the bytes above. Kept as plain text
            // rather than a panic.
            _ => {
                i += 1;
                continue;
            }
        };
        // `b` is ASCII, so `i` and `i + 1` are char boundaries: these slices cannot panic.
        out.push_str(&s[start..i]);
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        } else {
            out.push_str(short);
        }
        start = i + 1;
        i += 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn write_object<'k>(
    out: &mut String,
    map: &Map<String, Value>,
    kept: impl Fn(&str, &Value) -> Option<&'k str>,
) {
    out.push('{');
    let mut first = true;
    let mut member = |out: &mut String, key: &str, value: &Value| {
        if !first {
            out.push(',');
        }
        first = false;
        write_string(out, key);
        out.push(':');
        match kept(key, value) {
            Some(text) => out.push_str(text),
            None => write_value(out, value),
        }
    };
    if map.keys().any(|k| array_index(k).is_some()) {
        // JS's OrdinaryOwnPropertyKeys: array indices ascending, then the rest in insertion
        // order (`key_order_hoists_indices_at_every_level` below). Keys are unique, so an
        // unstable sort is exact.
        let mut indexed: Vec<(u32, &String, &Value)> = map
            .iter()
            .filter_map(|(k, v)| array_index(k).map(|n| (n, k, v)))
            .collect();
        indexed.sort_unstable_by_key(|&(n, _, _)| n);
        for (_, k, v) in indexed {
            member(out, k, v);
        }
        for (k, v) in map.iter().filter(|(k, _)| array_index(k).is_none()) {
            member(out, k, v);
        }
    } else {
        for (k, v) in map {
            member(out, k, v);
        }
    }
    out.push('}');
}

/// `Some(n)` when `key` is a canonical array index: `"0"` or a digit string without a leading
/// zero whose value is at most 2^32 − 2 (`"01"`, `"-1"`, `"4294967295"` are ordinary keys).
pub(crate) fn array_index(key: &str) -> Option<u32> {
    match key.as_bytes() {
        [b'0'] => Some(0),
        [b'1'..=b'9', rest @ ..] if rest.len() < 10 && rest.iter().all(u8::is_ascii_digit) => {
            key.parse::<u32>().ok().filter(|&n| n != u32::MAX)
        }
        _ => None,
    }
}

/// Rewrites every lone-surrogate escape (`\uD800`–`\uDFFF` not part of a high+low pair) inside
/// JSON strings to `\ufffd`, so serde_json accepts what `JSON.parse` accepts.
///
/// `JSON.parse('"\ud800"')` succeeds in JS, and `JSON.stringify` writes such strings
/// (`[vec:json_escaping]`); serde_json refuses them because a Rust `String` cannot hold one. The
/// mapping is lossy: such a session loads with U+FFFD in place of the surrogate, so it
/// re-encodes differently from the cookie and a read-only request rewrites it.
///
/// Only real escapes inside strings are touched: an escaped backslash followed by `u`
/// (`"\\ud800"`) is left alone. Text without a backslash is returned borrowed.
pub fn replace_lone_surrogates(json: &str) -> Cow<'_, str> {
    if !json.contains('\\') {
        return Cow::Borrowed(json);
    }
    let bytes = json.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut in_string = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if !in_string {
            in_string = b == b'"';
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = false;
                i += 1;
            }
            b'\\' => {
                let unit = match bytes.get(i + 1) {
                    Some(b'u') => hex4(bytes, i + 2),
                    _ => None,
                };
                match unit {
                    Some(0xD800..=0xDBFF) if is_low_escape(bytes, i + 6) => i += 12,
                    Some(0xD800..=0xDFFF) => {
                        let buf = out.get_or_insert_with(|| String::with_capacity(json.len()));
                        // `i` is at an ASCII backslash and `i + 6` just after six ASCII bytes:
                        // both are char boundaries.
                        buf.push_str(&json[copied..i]);
                        buf.push_str("\\ufffd");
                        i += 6;
                        copied = i;
                    }
                    Some(_) => i += 6,
                    // Any other escape is two bytes; a multi-byte char after the backslash is
                    // invalid JSON, and its continuation bytes are never `"` or `\`.
                    None => i += 2,
                }
            }
            _ => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(json),
        Some(mut buf) => {
            buf.push_str(json.get(copied..).unwrap_or_default());
            Cow::Owned(buf)
        }
    }
}

/// The code unit of the four hex digits at `at`, if there are four.
fn hex4(bytes: &[u8], at: usize) -> Option<u16> {
    let digits = bytes.get(at..at + 4)?;
    digits.iter().try_fold(0u16, |acc, &d| {
        let v = char::from(d).to_digit(16)?;
        // 4 digits of 4 bits: fits a u16, no overflow.
        Some((acc << 4) | v as u16)
    })
}

/// Whether a `\uDC00`–`\uDFFF` escape starts at `at`.
fn is_low_escape(bytes: &[u8], at: usize) -> bool {
    bytes.get(at) == Some(&b'\\')
        && bytes.get(at + 1) == Some(&b'u')
        && matches!(hex4(bytes, at + 2), Some(0xDC00..=0xDFFF))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// `JSON.stringify`'s string escaping, one byte at a time: quote, backslash, the five
    /// short escapes, `\u00XX` for the other control characters, everything else as it is.
    fn escaped_bytewise(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\0'..='\u{1f}' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// The word-at-a-time escaping writes what a byte loop writes, for a special character at
    /// every place of the first words, beside ASCII and non-ASCII text.
    #[test]
    fn strings_are_escaped_wherever_the_special_character_is() {
        for special in [
            "\"", "\\", "\u{8}", "\u{c}", "\n", "\r", "\t", "\0", "\u{1f}", "\u{7f}", "é", "😀",
        ] {
            for fill in ["a", "é"] {
                for before in 0..18 {
                    for after in 0..10 {
                        let s = [fill.repeat(before), special.into(), fill.repeat(after)].concat();
                        let mut out = String::new();
                        write_string(&mut out, &s);
                        assert_eq!(out, escaped_bytewise(&s), "{s:?}");
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_escaped_as_a_byte_loop_does(s in "\\PC{0,40}|[\\x00-\\x7f]{0,40}") {
            let mut out = String::new();
            write_string(&mut out, &s);
            proptest::prop_assert_eq!(out, escaped_bytewise(&s));
        }
    }

    #[test]
    fn array_index_bounds() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("4294967294"), Some(4_294_967_294));
        for not in [
            "4294967295",
            "99999999999",
            "01",
            "-1",
            "",
            "1a",
            "+1",
            " 1",
            "1.0",
        ] {
            assert_eq!(array_index(not), None, "{not:?}");
        }
    }

    #[test]
    fn key_order_hoists_indices_at_every_level() {
        let v: Value = serde_json::from_str(
            r#"{"b":1,"a":2,"10":3,"2":4,"-1":5,"01":6,"n":{"z":0,"1":1,"0":0}}"#,
        )
        .unwrap();
        assert_eq!(
            stringify(&v),
            r#"{"2":4,"10":3,"b":1,"a":2,"-1":5,"01":6,"n":{"0":0,"1":1,"z":0}}"#
        );
    }

    #[test]
    fn escapes_like_js() {
        let all_c0: String = (0u8..0x20).map(char::from).collect();
        let got = stringify(&json!(all_c0));
        assert_eq!(
            got,
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\
             \\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\
             \\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\""
        );
        assert_eq!(
            stringify(&json!("\"\\/\u{7f}\u{2028}\u{2029}<>&'é😀")),
            "\"\\\"\\\\/\u{7f}\u{2028}\u{2029}<>&'é😀\""
        );
    }

    #[test]
    fn numbers_like_js() {
        let cases: &[(Value, &str)] = &[
            (json!(1e21), "1e+21"),
            (json!(1.5e-7), "1.5e-7"),
            (json!(-0.0), "0"),
            (json!(0), "0"),
            (json!(100.0), "100"),
            (json!(9007199254740993u64), "9007199254740992"),
            (json!(-9007199254740993i64), "-9007199254740992"),
            (json!(9007199254740992u64), "9007199254740992"),
            (json!(0.1 + 0.2), "0.30000000000000004"),
            (json!(u64::MAX), "18446744073709552000"),
            (json!(1.5), "1.5"),
            (json!(-1), "-1"),
            (json!(123456789012345680000.0), "123456789012345680000"),
            (json!(1e-7), "1e-7"),
            (json!(0.000001), "0.000001"),
        ];
        for (v, want) in cases {
            assert_eq!(stringify(v), *want, "{v:?}");
        }
        // "-0" parsed from text prints as 0 too.
        assert_eq!(stringify(&serde_json::from_str("-0").unwrap()), "0");
        assert_eq!(stringify(&serde_json::from_str("-0.0").unwrap()), "0");
    }

    #[test]
    fn stringify_matches_serde_for_plain_values() {
        let v = json!({"user": {"id": 42, "roles": ["a", "b"], "x": null, "t": true}, "e": [], "o": {}});
        assert_eq!(stringify(&v), serde_json::to_string(&v).unwrap());
    }

    #[test]
    fn lone_surrogates() {
        let cases = [
            (r#""\ud800""#, r#""\ufffd""#),
            (r#""\uDFFF""#, r#""\ufffd""#),
            (r#""\udc00\ud800""#, r#""\ufffd\ufffd""#),
            (r#""\ud800\ud800\udc00""#, r#""\ufffd\ud800\udc00""#),
            (r#""\ud800\n""#, r#""\ufffd\n""#),
            (r#""\\\ud800""#, r#""\\\ufffd""#),
            (r#""\\ud800""#, r#""\\ud800""#),
            (r#""\ud83d\ude00""#, r#""\ud83d\ude00""#),
            (r#""\u00e9\ud8""#, r#""\u00e9\ud8""#),
            (r#"{"\udead":1}"#, r#"{"\ufffd":1}"#),
            (r#""é\"\udead""#, r#""é\"\ufffd""#),
        ];
        for (input, want) in cases {
            assert_eq!(replace_lone_surrogates(input), want, "{input}");
        }
        assert!(matches!(
            replace_lone_surrogates(r#"{"a":"\n"}"#),
            Cow::Borrowed(_)
        ));
        // Truncated escapes at the very end never panic.
        for s in [
            "\"\\",
            "\"\\u",
            "\"\\ud8",
            "\"\\ud800\\",
            "\"\\ud800\\u",
            "\"\\ud800\\udc",
        ] {
            let _ = replace_lone_surrogates(s);
        }
    }
}
