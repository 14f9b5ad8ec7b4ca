//! Finding a cookie in a request's `Cookie` header.
//!
//! The rule is the one Express's `cookies` 0.9.1 applies with its regex
//! `(?:^|;) *<name>=([^;]*)` (docs/EXPRESS-COMPATIBILITY.md §1.4): pairs are separated by `;`, only spaces (not tabs)
//! are skipped before a name, the name is compared byte for byte (no percent-decoding, no case
//! folding: `%5F%5FHost-id` or `__host-id` never match `__Host-id`, docs/SECURITY-CHECKLIST.md item 38),
//! and the value runs to the next `;`, untrimmed. Several `Cookie` header lines are read in
//! order, as if joined with `"; "` (what Node does).

/// Every value of the cookie `name`, in the order they appear in `headers`.
///
/// ```
/// use cookie_session::cookie::cookie_values;
///
/// let headers = ["a=1; session=first", "session=second;session.sig=x"];
/// let found: Vec<&str> = cookie_values(headers.iter().copied(), "session").collect();
/// assert_eq!(found, ["first", "second"]);
/// ```
pub fn cookie_values<'h, 'n, I>(
    headers: I,
    name: &'n str,
) -> impl Iterator<Item = &'h str> + use<'h, 'n, I>
where
    I: IntoIterator<Item = &'h str>,
{
    headers.into_iter().flat_map(pairs).filter_map(move |pair| {
        let pair = pair.trim_start_matches(' ');
        let rest = pair.strip_prefix(name)?;
        rest.strip_prefix('=')
    })
}

/// `header.split(';')`, each `;` found by the `memchr` crate, which compares 16 or 32 bytes at
/// a time where the CPU can: a session cookie is a few hundred bytes without a `;`, and the
/// standard library's search, a word at a time, cost ~270 instructions a request there, ~60
/// with `memchr` (docs/PERFORMANCE.md, round five).
fn pairs(header: &str) -> Pairs<'_> {
    Pairs { rest: Some(header) }
}

/// The iterator of [`pairs`].
#[derive(Clone)]
struct Pairs<'h> {
    /// What is left after the last `;` found; `None` once the last pair was returned.
    rest: Option<&'h str>,
}

impl<'h> Iterator for Pairs<'h> {
    type Item = &'h str;

    fn next(&mut self) -> Option<&'h str> {
        let rest = self.rest?;
        match memchr::memchr(b';', rest.as_bytes()) {
            // `;` is ASCII, so both sides of it are whole characters and `get` cannot refuse.
            Some(at) => {
                self.rest = rest.get(at + 1..);
                rest.get(..at)
            }
            None => self.rest.take(),
        }
    }
}

/// The text of one `Cookie` header value given as bytes, for [`cookie_values`]: the whole
/// header when it is UTF-8 (the usual case: one check, nothing copied), else each
/// `;`-separated pair that is — so one pair with a byte that is not UTF-8 (another site's
/// cookie, say) drops that pair only, never the session cookie beside it. `;` never occurs
/// inside a UTF-8 sequence, so splitting there cuts no character.
///
/// ```
/// use cookie_session::cookie::{cookie_values, utf8_pairs};
///
/// let header = b"other=caf\xe9; session=abc";
/// let found: Vec<&str> = cookie_values(utf8_pairs(header), "session").collect();
/// assert_eq!(found, ["abc"]);
/// ```
pub fn utf8_pairs(header: &[u8]) -> impl Iterator<Item = &str> + Clone {
    let whole = utf8(header);
    let pairs = whole
        .is_none()
        .then_some(header)
        .into_iter()
        .flat_map(|header| header.split(|b| *b == b';'))
        .filter_map(|pair| std::str::from_utf8(pair).ok());
    whole.into_iter().chain(pairs)
}

/// `header` as text when it is UTF-8: the `simdutf8` crate's check, 16 or 32 bytes at a time
/// where the CPU can: 113 instructions against the standard library's 176 on a session
/// cookie's ~190 ASCII bytes (docs/PERFORMANCE.md, round five). Its `basic` check answers
/// exactly as `std::str::from_utf8` does (`same_answer_as_the_standard_check` below).
pub(crate) fn utf8(header: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(header).ok()
}

/// The first value of the cookie `name` in `headers`, as Express reads it.
pub fn first_cookie_value<'h, I>(headers: I, name: &str) -> Option<&'h str>
where
    I: IntoIterator<Item = &'h str>,
{
    cookie_values(headers, name).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all<'a>(header: &'a str, name: &'a str) -> Vec<&'a str> {
        cookie_values([header], name).collect()
    }

    #[test]
    fn names_match_exactly() {
        let header =
            "xsession=1; session.sig=2; Session=3; __host-id=4; %5F%5FHost-id=5; session=6";
        assert_eq!(all(header, "session"), ["6"]);
        assert!(all(header, "__Host-id").is_empty());
        assert_eq!(all("\u{a0}__Host-id=1", "__Host-id"), Vec::<&str>::new());
    }

    #[test]
    fn spaces_are_skipped_but_not_tabs_and_values_are_not_trimmed() {
        assert_eq!(all("a=1;   session=v ; b=2", "session"), ["v "]);
        assert!(all("a=1;\tsession=v", "session").is_empty());
        assert_eq!(all("session=", "session"), [""]);
    }

    #[test]
    fn duplicates_keep_their_order() {
        assert_eq!(all("session=a; session=b", "session"), ["a", "b"]);
        assert_eq!(
            first_cookie_value(["x=1", "session=c"], "session"),
            Some("c")
        );
    }

    #[test]
    fn a_pair_that_is_not_utf8_drops_only_itself() {
        let values = |header: &'static [u8]| -> Vec<&'static str> {
            cookie_values(utf8_pairs(header), "session").collect()
        };
        assert_eq!(values(b"a=\xff; session=v"), ["v"]);
        assert_eq!(values(b"session=v; a=\xc3"), ["v"]);
        assert_eq!(
            values(b"\xfe\xff;session=v;x=\x80\x80;session=w"),
            ["v", "w"]
        );
        // The pair holding the bad byte is the one skipped, even the session's own.
        assert_eq!(values(b"session=v\xff; session=w"), ["w"]);
        assert!(values(b"session=\xff").is_empty());
        // Valid UTF-8 (non-ASCII included) is kept whole.
        let whole: Vec<&str> = utf8_pairs("a=£; session=v".as_bytes()).collect();
        assert_eq!(whole, ["a=£; session=v"]);
        assert_eq!(values("a=£; session=v".as_bytes()), ["v"]);
        assert_eq!(utf8_pairs(b"").collect::<Vec<_>>(), [""]);
    }

    #[test]
    fn pairs_are_what_split_gives() {
        for header in [
            "",
            ";",
            ";;",
            "a",
            "a;",
            ";a",
            "a;b",
            "a=1; b=2;c",
            "£;é;",
            " ; ",
        ] {
            let expected: Vec<&str> = header.split(';').collect();
            assert_eq!(pairs(header).collect::<Vec<_>>(), expected, "{header:?}");
        }
        // Past the 16 and 32 bytes the search compares at once, and at each place within them.
        for len in 0..80 {
            for at in 0..len {
                let mut bytes = vec![b'x'; len];
                bytes[at] = b';';
                let header = String::from_utf8(bytes).unwrap_or_default();
                let expected: Vec<&str> = header.split(';').collect();
                assert_eq!(pairs(&header).collect::<Vec<_>>(), expected, "{header:?}");
            }
        }
    }

    #[test]
    fn same_answer_as_the_standard_check() {
        let mut texts: Vec<Vec<u8>> = vec![
            b"session=abc".to_vec(),
            "a=£; é=€; 𝄞".as_bytes().to_vec(),
            b"\xc3".to_vec(),
            b"\xed\xa0\x80".to_vec(),     // a surrogate
            b"\xf4\x90\x80\x80".to_vec(), // past U+10FFFF
            b"\xc0\xaf".to_vec(),         // overlong
            b"\xe2\x82".to_vec(),         // cut short
        ];
        // Every byte value at every place of a 70-byte ASCII text (past the 64 bytes the
        // check takes at once), and one multi-byte character cut at every place.
        for at in 0..70 {
            for byte in [0x00, 0x7f, 0x80, 0xbf, 0xc2, 0xe0, 0xf0, 0xff] {
                let mut text = vec![b'A'; 70];
                text[at] = byte;
                texts.push(text);
            }
            let mut text = vec![b'A'; 70];
            text.splice(at..at, "€".bytes());
            texts.push(text.clone());
            text.truncate(at + 2);
            texts.push(text);
        }
        for text in &texts {
            assert_eq!(utf8(text), std::str::from_utf8(text).ok(), "{text:?}");
        }
    }

    #[test]
    fn odd_input_does_not_panic() {
        for header in [
            "",
            ";",
            ";;;",
            "=",
            "session",
            "session==",
            "£=£; session=£",
        ] {
            let _ = all(header, "session");
        }
        assert_eq!(all("session==", "session"), ["="]);
    }
}
