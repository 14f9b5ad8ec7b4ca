//! Small HTML helpers: escaping, the page layout, dates and byte dumps.

use std::fmt::Write as _;
use std::time::SystemTime;

/// Escapes text for HTML element content and double- or single-quoted attribute values.
///
/// ```
/// assert_eq!(demo::escape_html(r#"<a href="x">'&'</a>"#),
///            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
/// ```
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}\
nav a{margin-right:1rem}nav{border-bottom:1px solid #ddd;padding-bottom:.5rem;margin-bottom:1rem}\
.flash{background:#e8f5e9;border:1px solid #a5d6a7;padding:.5rem 1rem;border-radius:4px}\
.error{background:#ffebee;border:1px solid #ef9a9a;padding:.5rem 1rem;border-radius:4px}\
pre{background:#f5f5f5;padding:.75rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}\
dt{font-weight:bold}dd{margin:0 0 .5rem 1rem}\
.counter{font-size:2.5rem;font-weight:bold}\
form.inline{display:inline}label{display:block;margin:.5rem 0}\
button{font:inherit;padding:.25rem .75rem}small,.note{color:#555}";

/// A whole page: `title` (escaped here) around `body` (already HTML), with an optional flash
/// message (escaped here).
pub(crate) fn page(title: &str, flash: Option<&str>, body: &str) -> String {
    let flash = flash
        .map(|text| {
            format!(
                "<p id=\"flash\" class=\"flash\" role=\"status\">{}</p>\n",
                escape_html(text)
            )
        })
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{title} · cookie-session demo</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
<nav><a href=\"/\">Home</a><a href=\"/login\">Log in</a><a href=\"/inside\">Inside my session</a><a href=\"/api\">API</a></nav>\n\
<h1>{title}</h1>\n{flash}{body}\n</body>\n</html>\n",
        title = escape_html(title),
    )
}

/// `2024-01-15 12:00:00 UTC`.
pub(crate) fn fmt_utc(time: SystemTime) -> String {
    let secs = cookie_session::unix_secs(time);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Bytes as hex, 16 to a line, with a printable view beside them (`·` for anything else).
pub(crate) fn hex_dump(bytes: &[u8], limit: usize) -> String {
    let mut out = String::new();
    for chunk in bytes[..bytes.len().min(limit)].chunks(16) {
        for b in chunk {
            let _ = write!(out, "{b:02x} ");
        }
        for _ in chunk.len()..16 {
            out.push_str("   ");
        }
        out.push(' ');
        out.push_str(&printable(chunk));
        out.push('\n');
    }
    if bytes.len() > limit {
        let _ = writeln!(out, "… ({} bytes in all)", bytes.len());
    }
    out
}

/// Bytes as text: printable ASCII kept, anything else shown as `·`.
pub(crate) fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b == b' ' || b.is_ascii_graphic() {
                b as char
            } else {
                '·'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_705_320_000);
        assert_eq!(fmt_utc(t), "2024-01-15 12:00:00 UTC");
        assert_eq!(fmt_utc(SystemTime::UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(fmt_utc(leap), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(
            escape_html("<script>&\"'"),
            "&lt;script&gt;&amp;&quot;&#39;"
        );
        assert_eq!(escape_html("plain ü"), "plain ü");
    }

    #[test]
    fn dump() {
        let d = hex_dump(b"{\"a\":1}\x00", 64);
        assert!(d.starts_with("7b 22 61 22 3a 31 7d 00"));
        assert!(d.ends_with("{\"a\":1}·\n"));
    }
}
