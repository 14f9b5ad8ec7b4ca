//! The session's keys and values as one request holds them.
//!
//! A native cookie (`encrypted`, `signed`) is read lazily: opening it checks that its JSON is
//! one object whose every value parses exactly as `serde_json::Value` would parse it, and
//! records where each key and value lies in the decrypted text — nothing is allocated per key
//! or per value. A value is deserialised only when the handler reads it, and one that is never
//! changed is copied back as the bytes it was when the session is written again. A few keys
//! live in a vector searched in order, which is cheaper than a hashed map at this size.
//!
//! The copy-through is exact because native cookies only ever hold serde_json's own compact
//! output (`Codec::canonical`): re-serialising a value parsed from that text gives the same
//! text (serde_json is built with `float_roundtrip`, so even floats come back bit for bit).
//!
//! Every other session (Express and `jwt` cookies, store records, a new session, one the
//! handler replaced) keeps the order-keeping `serde_json::Map`, as before.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use zeroize::Zeroize;

/// From this many keys on, duplicate keys in a cookie are found with a hash map rather than by
/// scanning the keys read so far, so opening stays linear in the number of keys.
const INDEX_FROM: usize = 32;

/// The most levels of arrays and objects serde_json reads (its recursion limit of 128 stops
/// at the 128th), the session's own object included: lazy reading refuses what the map did.
const MAX_DEPTH: usize = 127;

/// One session's data.
#[derive(Debug, Clone, Default)]
pub(crate) struct Data {
    /// The JSON text of the cookie it was read from (empty otherwise); `Text` keys and values
    /// are ranges of it. It never changes, so an unchanged session compares equal to it. Its
    /// strings are valid UTF-8 (checked when read; JSON has no other non-ASCII bytes).
    source: Vec<u8>,
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Map(Map<String, Value>),
    Entries(Vec<Entry>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Map(Map::new())
    }
}

#[derive(Debug, Clone)]
struct Entry {
    key: Slot<String>,
    value: Slot<Value>,
}

/// A key or value: where it lies in the source text, or its own copy.
#[derive(Debug, Clone)]
enum Slot<T> {
    Text(Span),
    Own(T),
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

impl Data {
    /// A session held as a map (new sessions, Express and `jwt` cookies, store records).
    pub(crate) fn from_map(map: Map<String, Value>) -> Self {
        Data {
            source: Vec::new(),
            repr: Repr::Map(map),
        }
    }

    /// [`Data::from_json_in`] with memory of its own.
    #[cfg(test)]
    pub(crate) fn from_json(json: Vec<u8>) -> Option<Self> {
        Self::from_json_in(json, &mut Decoded::default())
    }

    /// Reads the JSON text of a native cookie lazily, its entries in the vector `decoded`
    /// keeps (an earlier request's, whose memory is reused; it stays there when the text is
    /// refused). `None` when the text is not UTF-8, not a JSON object, or holds a value
    /// `serde_json::Value` would refuse (a number beyond `f64`, nesting deeper than
    /// serde_json reads): the same texts the map refused.
    pub(crate) fn from_json_in(json: Vec<u8>, decoded: &mut Decoded) -> Option<Self> {
        let entries = Scanner::entries(&json, &mut decoded.entries).ok()?;
        let source = json;
        Some(Data {
            source,
            repr: Repr::Entries(entries),
        })
    }

    /// The JSON text this session was read from (empty when not read from a native cookie).
    pub(crate) fn source(&self) -> &[u8] {
        &self.source
    }

    fn text(&self, span: Span) -> &[u8] {
        self.source.get(span.start..span.end).unwrap_or_default()
    }

    fn key<'a>(&'a self, entry: &'a Entry) -> &'a [u8] {
        key_text(&self.source, entry)
    }

    fn key_string(&self, entry: &Entry) -> String {
        // Checked UTF-8 when read.
        String::from_utf8_lossy(self.key(entry)).into_owned()
    }

    fn position(&self, entries: &[Entry], key: &str) -> Option<usize> {
        entries
            .iter()
            .position(|entry| self.key(entry) == key.as_bytes())
    }

    fn value_of(&self, slot: &Slot<Value>) -> Value {
        match slot {
            // Checked when the cookie was opened: it parses.
            Slot::Text(span) => serde_json::from_slice(self.text(*span)).unwrap_or(Value::Null),
            Slot::Own(value) => value.clone(),
        }
    }

    fn take_value(&self, slot: Slot<Value>) -> Value {
        match slot {
            Slot::Own(value) => value,
            text => self.value_of(&text),
        }
    }

    /// The number of keys.
    pub(crate) fn len(&self) -> usize {
        match &self.repr {
            Repr::Map(map) => map.len(),
            Repr::Entries(entries) => entries.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        match &self.repr {
            Repr::Map(map) => map.contains_key(key),
            Repr::Entries(entries) => self.position(entries, key).is_some(),
        }
    }

    /// The keys, in order.
    pub(crate) fn keys(&self) -> Vec<String> {
        match &self.repr {
            Repr::Map(map) => map.keys().cloned().collect(),
            Repr::Entries(entries) => entries.iter().map(|e| self.key_string(e)).collect(),
        }
    }

    /// The value at `key` as a `T`, deserialised from the cookie's text when it was never
    /// changed.
    pub(crate) fn get<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Option<Result<T, serde_json::Error>> {
        match &self.repr {
            Repr::Map(map) => map.get(key).map(T::deserialize),
            Repr::Entries(entries) => {
                let entry = &entries[self.position(entries, key)?];
                Some(match &entry.value {
                    Slot::Text(span) => serde_json::from_slice(self.text(*span)),
                    Slot::Own(value) => T::deserialize(value),
                })
            }
        }
    }

    /// A copy of the JSON value at `key`.
    pub(crate) fn get_value(&self, key: &str) -> Option<Value> {
        match &self.repr {
            Repr::Map(map) => map.get(key).cloned(),
            Repr::Entries(entries) => {
                let entry = &entries[self.position(entries, key)?];
                Some(self.value_of(&entry.value))
            }
        }
    }

    /// Sets `key`, keeping its place when it was present. The key becomes a `String` only
    /// when it is new: replacing a value allocates nothing for its key.
    pub(crate) fn insert(&mut self, key: impl AsRef<str> + Into<String>, value: Value) {
        let name = key.as_ref();
        match &mut self.repr {
            Repr::Map(map) => match map.get_mut(name) {
                Some(slot) => *slot = value,
                None => {
                    map.insert(key.into(), value);
                }
            },
            Repr::Entries(entries) => {
                let found = entries
                    .iter()
                    .position(|entry| key_text(&self.source, entry) == name.as_bytes());
                match found {
                    Some(index) => entries[index].value = Slot::Own(value),
                    None => entries.push(Entry {
                        key: Slot::Own(key.into()),
                        value: Slot::Own(value),
                    }),
                }
            }
        }
    }

    /// Removes `key`; later keys keep their order.
    pub(crate) fn shift_remove(&mut self, key: &str) -> Option<Value> {
        match &mut self.repr {
            Repr::Map(map) => map.shift_remove(key),
            Repr::Entries(entries) => {
                let index = entries
                    .iter()
                    .position(|entry| key_text(&self.source, entry) == key.as_bytes())?;
                let entry = entries.remove(index);
                Some(self.take_value(entry.value))
            }
        }
    }

    /// Removes every key (the source text stays: it is what the cookie held).
    pub(crate) fn clear(&mut self) {
        self.repr = Repr::default();
    }

    /// Replaces every key with `map`'s.
    pub(crate) fn set_map(&mut self, map: Map<String, Value>) {
        self.repr = Repr::Map(map);
    }

    /// The session as a map: borrowed when it is one, built otherwise.
    pub(crate) fn as_map(&self) -> Cow<'_, Map<String, Value>> {
        match &self.repr {
            Repr::Map(map) => Cow::Borrowed(map),
            Repr::Entries(entries) => Cow::Owned(
                entries
                    .iter()
                    .map(|e| (self.key_string(e), self.value_of(&e.value)))
                    .collect(),
            ),
        }
    }

    /// A copy of the session as a map.
    pub(crate) fn to_map(&self) -> Map<String, Value> {
        self.as_map().into_owned()
    }

    /// The session as a map, without copying a map it holds.
    pub(crate) fn into_map(self) -> Map<String, Value> {
        match self.repr {
            Repr::Map(map) => map,
            Repr::Entries(_) => self.to_map(),
        }
    }

    /// Appends the session's compact JSON text (serde_json's, byte for byte) to `out`: keys
    /// and values never changed are copied from the source text.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let entries = match &self.repr {
            Repr::Map(map) => return serde_json::to_writer(out, map),
            Repr::Entries(entries) => entries,
        };
        out.push(b'{');
        // Unchanged entries that lie side by side in the source (`"a":1,"b":2`, the usual
        // case) are copied as one run, commas included, rather than piece by piece.
        let mut run: Option<Span> = None;
        for (i, entry) in entries.iter().enumerate() {
            if let Some(whole) = unchanged_text(entry) {
                match &mut run {
                    // One byte between them: the scanner put a `,` there, and nothing else.
                    Some(run) if whole.start == run.end + 1 => run.end = whole.end,
                    _ => {
                        if let Some(done) = run.replace(whole) {
                            out.extend_from_slice(self.text(done));
                        }
                        if i > 0 {
                            out.push(b',');
                        }
                    }
                }
                continue;
            }
            if let Some(done) = run.take() {
                out.extend_from_slice(self.text(done));
            }
            if i > 0 {
                out.push(b',');
            }
            match &entry.key {
                // A key read without escapes is its own JSON text between quotes: it holds
                // no quote, backslash or control character, the only ones serde_json escapes.
                Slot::Text(span) => {
                    out.push(b'"');
                    out.extend_from_slice(self.text(*span));
                    out.push(b'"');
                }
                Slot::Own(key) => serde_json::to_writer(&mut *out, key)?,
            }
            out.push(b':');
            match &entry.value {
                Slot::Text(span) => out.extend_from_slice(self.text(*span)),
                Slot::Own(value) => serde_json::to_writer(&mut *out, value)?,
            }
        }
        if let Some(done) = run {
            out.extend_from_slice(self.text(done));
        }
        out.push(b'}');
        Ok(())
    }
}

/// The source text of an entry read from it and never changed, `"key":value`, when it lies
/// there in one piece: a key read without escapes (its span is between its quotes) whose
/// value starts right after `":` — no space around the colon, as serde_json writes it.
fn unchanged_text(entry: &Entry) -> Option<Span> {
    match (&entry.key, &entry.value) {
        (Slot::Text(key), Slot::Text(value)) if value.start == key.end + 2 => Some(Span {
            start: key.start.checked_sub(1)?,
            end: value.end,
        }),
        _ => None,
    }
}

fn key_text<'a>(source: &'a [u8], entry: &'a Entry) -> &'a [u8] {
    match &entry.key {
        Slot::Text(span) => source.get(span.start..span.end).unwrap_or_default(),
        Slot::Own(key) => key.as_bytes(),
    }
}

/// The memory a session read from a native cookie lives in, kept between requests so that
/// reading one allocates nothing: the buffer its value is decoded into (which becomes the
/// session's text) and the vector of its entries.
#[derive(Default)]
pub(crate) struct Decoded {
    /// Where the cookie's value is decoded and opened.
    pub(crate) text: Vec<u8>,
    /// Empty; the capacity of an earlier session's entries.
    entries: Vec<Entry>,
}

/// Entry vectors up to this capacity are kept for the next session (most sessions have a few
/// keys); a larger one, from a session with many, is freed.
const KEEP_ENTRIES: usize = INDEX_FROM;

impl Decoded {
    /// Takes back the memory of a session done with: its text's buffer if larger than the
    /// one kept (the other is wiped, then freed), and its entries' vector, emptied.
    pub(crate) fn keep(&mut self, data: Data) {
        let Data { source, repr } = data;
        keep(&mut self.text, source);
        if let Repr::Entries(mut entries) = repr {
            if entries.capacity() > self.entries.capacity() && entries.capacity() <= KEEP_ENTRIES {
                entries.clear();
                self.entries = entries;
            }
        }
    }

    /// Wipes the text, keeping the memory.
    pub(crate) fn wipe(&mut self) {
        wipe(&mut self.text);
    }
}

impl Drop for Decoded {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// Wipes a kept buffer that may hold a session's decrypted text or JSON: every byte of its
/// memory, not only its length (a shorter text left older bytes past it). The memory stays,
/// for the next request.
pub(crate) fn wipe(buffer: &mut Vec<u8>) {
    if buffer.capacity() == 0 {
        // Nothing was ever written (a route that never read or wrote the session).
        return;
    }
    buffer.clear();
    buffer.spare_capacity_mut().zeroize();
}

/// Keeps the larger of `slot` and `buffer` in `slot`, wiping the other before it is freed.
fn keep(slot: &mut Vec<u8>, mut buffer: Vec<u8>) {
    if buffer.capacity() > slot.capacity() {
        std::mem::swap(slot, &mut buffer);
    }
    wipe(&mut buffer);
}

/// Reads the top-level object of a native cookie into entries (see [`Data::from_json_in`]): a
/// strict RFC 8259 reader that accepts exactly the texts serde_json parses into a map. The
/// common parts (structure, literals, integers, strings without escapes) are checked here;
/// floats, long integers and strings with escapes, whose edge cases (range, surrogates) are
/// serde_json's to decide, are handed to serde_json itself.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// The text is not JSON that serde_json reads into a map.
struct Invalid;

impl<'a> Scanner<'a> {
    /// The entries of `text`, in the vector `spare` held (empty), or left in `spare` when the
    /// text is refused.
    fn entries(text: &'a [u8], spare: &mut Vec<Entry>) -> Result<Vec<Entry>, Invalid> {
        let mut entries = std::mem::take(spare);
        if entries.capacity() == 0 {
            entries.reserve_exact(4);
        }
        match Self::entries_into(text, &mut entries) {
            Ok(()) => Ok(entries),
            Err(invalid) => {
                entries.clear();
                *spare = entries;
                Err(invalid)
            }
        }
    }

    fn entries_into(text: &'a [u8], entries: &mut Vec<Entry>) -> Result<(), Invalid> {
        let mut scanner = Scanner {
            bytes: text,
            pos: 0,
        };
        scanner.skip_space();
        scanner.expect(b'{')?;
        let mut index: Option<HashMap<Vec<u8>, usize>> = None;
        scanner.skip_space();
        if scanner.peek() == Some(b'}') {
            scanner.pos += 1;
        } else {
            loop {
                scanner.skip_space();
                let key = scanner.key()?;
                scanner.skip_space();
                scanner.expect(b':')?;
                scanner.skip_space();
                let start = scanner.pos;
                scanner.value(1)?;
                let value = Slot::Text(Span {
                    start,
                    end: scanner.pos,
                });
                let key_str = match &key {
                    Slot::Text(span) => text.get(span.start..span.end).unwrap_or_default(),
                    Slot::Own(key) => key.as_bytes(),
                };
                // A repeated key: the last value wins, at the first one's place (as the map).
                let found = match &index {
                    Some(index) => index.get(key_str).copied(),
                    None => entries.iter().position(|e| key_text(text, e) == key_str),
                };
                match found {
                    Some(found) => entries[found].value = value,
                    None => {
                        if let Some(index) = &mut index {
                            index.insert(key_str.to_vec(), entries.len());
                        }
                        entries.push(Entry { key, value });
                        if index.is_none() && entries.len() >= INDEX_FROM {
                            index = Some(
                                entries
                                    .iter()
                                    .enumerate()
                                    .map(|(i, e)| (key_text(text, e).to_vec(), i))
                                    .collect(),
                            );
                        }
                    }
                }
                scanner.skip_space();
                match scanner.next() {
                    Some(b',') => continue,
                    Some(b'}') => break,
                    _ => return Err(Invalid),
                }
            }
        }
        scanner.skip_space();
        if scanner.pos == scanner.bytes.len() {
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Result<(), Invalid> {
        match self.next() {
            Some(b) if b == byte => Ok(()),
            _ => Err(Invalid),
        }
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// A string starting at the current `"`: its contents' span, and whether it has escapes.
    /// Its UTF-8 is checked (the only place JSON may hold non-ASCII bytes).
    #[inline]
    fn string(&mut self) -> Result<(Span, bool), Invalid> {
        self.expect(b'"')?;
        let start = self.pos;
        // Most strings (every key and value this crate writes, but for text a user stored)
        // are plain ASCII up to their closing quote.
        let end = plain_end(self.bytes, start, true);
        if self.bytes.get(end) == Some(&b'"') {
            self.pos = end + 1;
            return Ok((Span { start, end }, false));
        }
        self.pos = end;
        self.string_rest(start)
    }

    /// [`Scanner::string`] from its first byte that is not plain ASCII on.
    #[inline(never)]
    fn string_rest(&mut self, start: usize) -> Result<(Span, bool), Invalid> {
        let mut escaped = false;
        let mut ascii = true;
        loop {
            // Plain characters skipped eight at a time; the others are looked at one by one.
            self.pos = plain_end(self.bytes, self.pos, ascii);
            match self.next().ok_or(Invalid)? {
                b'"' => {
                    let span = Span {
                        start,
                        end: self.pos - 1,
                    };
                    if !ascii {
                        let bytes = self.bytes.get(span.start..span.end).ok_or(Invalid)?;
                        std::str::from_utf8(bytes).map_err(|_| Invalid)?;
                    }
                    return Ok((span, escaped));
                }
                0x80..=0xFF => ascii = false,
                // Checked by serde_json below; here only skipped.
                b'\\' => {
                    escaped = true;
                    self.next().ok_or(Invalid)?;
                }
                0x00..=0x1f => return Err(Invalid),
                _ => {}
            }
        }
    }

    /// The text of a string with escapes, decoded by serde_json (which checks the escapes).
    fn decode(&self, span: Span) -> Result<String, Invalid> {
        let quoted = self
            .bytes
            .get(span.start - 1..span.end + 1)
            .ok_or(Invalid)?;
        serde_json::from_slice(quoted).map_err(|_| Invalid)
    }

    fn key(&mut self) -> Result<Slot<String>, Invalid> {
        let (span, escaped) = self.string()?;
        Ok(if escaped {
            Slot::Own(self.decode(span)?)
        } else {
            Slot::Text(span)
        })
    }

    /// Skips one value, checking it; `depth` counts the enclosing arrays and objects.
    fn value(&mut self, depth: usize) -> Result<(), Invalid> {
        match self.peek().ok_or(Invalid)? {
            b'"' => {
                let (span, escaped) = self.string()?;
                if escaped {
                    self.decode(span)?;
                }
                Ok(())
            }
            b'{' | b'[' if depth >= MAX_DEPTH => Err(Invalid),
            b'{' => {
                self.pos += 1;
                self.skip_space();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.skip_space();
                    let (span, escaped) = self.string()?;
                    if escaped {
                        self.decode(span)?;
                    }
                    self.skip_space();
                    self.expect(b':')?;
                    self.skip_space();
                    self.value(depth + 1)?;
                    self.skip_space();
                    match self.next() {
                        Some(b',') => continue,
                        Some(b'}') => return Ok(()),
                        _ => return Err(Invalid),
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                self.skip_space();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.skip_space();
                    self.value(depth + 1)?;
                    self.skip_space();
                    match self.next() {
                        Some(b',') => continue,
                        Some(b']') => return Ok(()),
                        _ => return Err(Invalid),
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Invalid),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Invalid> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. Integers of up to 18 digits
    /// always fit an `i64`/`u64`; any other number is read by serde_json, which refuses what
    /// overflows an `f64`.
    fn number(&mut self) -> Result<(), Invalid> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = self.pos;
        match self.next() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(Invalid),
        }
        let mut simple = self.pos - digits <= 18;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits()?;
            simple = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits()?;
            simple = false;
        }
        if simple {
            return Ok(());
        }
        let text = self.bytes.get(start..self.pos).ok_or(Invalid)?;
        serde_json::from_slice::<f64>(text)
            .map(|_| ())
            .map_err(|_| Invalid)
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// One or more digits.
    fn digits(&mut self) -> Result<(), Invalid> {
        match self.peek() {
            Some(b'0'..=b'9') => {
                self.skip_digits();
                Ok(())
            }
            _ => Err(Invalid),
        }
    }
}

/// Every byte of a word set to `byte`.
const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// The index of the first byte at or after `from` that a string's plain run stops at: `"`,
/// `\`, a control character (below 0x20) and, while `ascii`, a byte of 0x80 or more (once one
/// was seen, the string's UTF-8 is checked whole at its end, so they need no stop); the length
/// of `bytes` when there is none.
///
/// Eight bytes at a time with integer operations on a little-endian word: a byte's high bit
/// in `stops` is set when that byte stops the run. In `x - 0x01…01`, a byte of `x` below 0x80
/// gets its high bit set only when it was zero, or when a byte below it borrowed, which only
/// a zero byte does: so the lowest set bit is always the first byte that is `"` (zero in
/// `word ^ 0x22…22`), `\` or (with `- 0x20…20`) a control character. Bytes of 0x80 and more
/// never borrow, and `& !word` keeps them from counting as any of these.
#[inline]
pub(crate) fn plain_end(bytes: &[u8], from: usize, ascii: bool) -> usize {
    let high = splat(0x80);
    let non_ascii = if ascii { high } else { 0 };
    let rest = bytes.get(from..).unwrap_or_default();
    let (words, tail) = rest.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let word = u64::from_le_bytes(*word);
        let quote = word ^ splat(b'"');
        let backslash = word ^ splat(b'\\');
        let below = quote.wrapping_sub(splat(1))
            | backslash.wrapping_sub(splat(1))
            | word.wrapping_sub(splat(0x20));
        let stops = (below & !word | word & non_ascii) & high;
        if stops != 0 {
            return from + i * 8 + (stops.trailing_zeros() / 8) as usize;
        }
    }
    let done = from + words.len() * 8;
    done + tail
        .iter()
        .position(|&b| matches!(b, b'"' | b'\\' | 0x00..=0x1F) || (ascii && b >= 0x80))
        .unwrap_or(tail.len())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// The zeroing itself is `zeroize`'s (reading the memory back would take `unsafe`);
    /// what is ours: the length goes, the memory stays for the next request.
    #[test]
    fn wipe_empties_and_keeps_the_memory() {
        let mut buffer = b"secret plaintext, then a shorter one".to_vec();
        buffer.truncate(6);
        let capacity = buffer.capacity();
        wipe(&mut buffer);
        assert!(buffer.is_empty());
        assert_eq!(buffer.capacity(), capacity);
    }

    #[test]
    fn keep_keeps_the_larger_buffer_emptied_or_not() {
        let mut slot = Vec::with_capacity(8);
        keep(&mut slot, b"a larger text: the session's JSON".to_vec());
        assert_eq!(slot, b"a larger text: the session's JSON");
        keep(&mut slot, vec![1u8; 4]);
        assert_eq!(
            slot, b"a larger text: the session's JSON",
            "the smaller one went"
        );
    }

    /// A session done with gives its entries' vector back, emptied, and the next session
    /// read lazily fills that same vector; a refused text leaves it where it was.
    #[test]
    fn decoded_keeps_the_entries_vector_for_the_next_session() {
        let mut decoded = Decoded::default();
        let first =
            Data::from_json_in(br#"{"a":1,"b":[2],"c":"x"}"#.to_vec(), &mut decoded).unwrap();
        let capacity = match &first.repr {
            Repr::Entries(entries) => entries.capacity(),
            Repr::Map(_) => panic!("read lazily"),
        };
        decoded.keep(first);
        assert!(decoded.entries.is_empty());
        assert_eq!(decoded.entries.capacity(), capacity);
        assert!(Data::from_json_in(b"[1]".to_vec(), &mut decoded).is_none());
        assert_eq!(decoded.entries.capacity(), capacity, "kept when refused");
        let second = Data::from_json_in(br#"{"n":2}"#.to_vec(), &mut decoded).unwrap();
        assert_eq!(decoded.entries.capacity(), 0, "taken by the session");
        assert_eq!(second.to_map(), *json!({"n": 2}).as_object().unwrap());
        match &second.repr {
            Repr::Entries(entries) => assert_eq!(entries.capacity(), capacity),
            Repr::Map(_) => panic!("read lazily"),
        }
        // A vector grown past `KEEP_ENTRIES` by a session with many keys is not kept.
        let many: Map<String, Value> = (0..KEEP_ENTRIES + 1)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        let text = serde_json::to_vec(&many).unwrap();
        let mut fresh = Decoded::default();
        let big = Data::from_json_in(text, &mut fresh).unwrap();
        fresh.keep(big);
        assert_eq!(fresh.entries.capacity(), 0);
    }

    fn canonical(data: &Data) -> String {
        let mut out = Vec::new();
        data.write_json(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn map_of(text: &str) -> Option<Map<String, Value>> {
        serde_json::from_str(text).ok()
    }

    /// Lazy reading accepts exactly what the map accepted, with the same content, and writes
    /// back serde_json's text of it.
    #[test]
    fn lazy_reading_agrees_with_the_map() {
        let numbers = [
            "0",
            "-0",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1E+2",
            "1e-2",
            "-1.5e3",
            "1e309",
            "-1e309",
            "0e99999999999999999999",
            "1e-99999999999999999999",
            "123456789012345678",
            "1234567890123456789",
            "18446744073709551616",
            "-9223372036854775809",
            "123456789012345678901234567890",
            &"9".repeat(400),
            "2.",
            "-a",
            "+1",
            "0x10",
        ];
        let numbers: Vec<String> = numbers.iter().map(|n| format!("{{\"n\":{n}}}")).collect();
        let strings = [
            r#""\/\b\f\n\r\t\"""#,
            r#""\x""#,
            r#""\u12""#,
            r#""\ud83d\ude00""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            "\"tab\there\"",
            "\"\u{7f}\u{80}\"",
        ];
        let strings: Vec<String> = strings
            .iter()
            .flat_map(|s| {
                [
                    format!("{{\"s\":{s}}}"),
                    format!("{{{s}:1}}"),
                    format!("{{\"o\":{{{s}:[{s}]}}}}"),
                ]
            })
            .collect();
        let deep_ok = format!("{{\"a\":{}1{}}}", "[".repeat(126), "]".repeat(126));
        let deep_bad = format!("{{\"a\":{}1{}}}", "[".repeat(127), "]".repeat(127));
        let texts = [
            r#"{}"#,
            r#"{"views":1,"user_id":42,"csrf":"0123456789abcdef"}"#,
            r#"{"a":1,"b":2,"a":3}"#,
            r#"{"f":0.1,"g":-0.0,"h":1e300,"i":18446744073709551615,"j":-9223372036854775808}"#,
            r#"{"big":1e400}"#,
            r#"{"s":"\u00e9\n\"\\\u2028","\u0041":"x","é":[1,{"x":null}]}"#,
            r#"{"lone":"\ud800"}"#,
            r#" { "spaced" : [ 1 , 2 ] } "#,
            r#"[1,2]"#,
            r#""text""#,
            r#"{"a":1"#,
            r#"{"a":1}x"#,
            r#"{"a":tru}"#,
            r#"{"a":[1,{"b":[]},{},"x",true,false,null]}"#,
            "{\"a\":1,}",
            "{\"a\":[1,]}",
            "{,}",
            "{\"a\" 1}",
            "\t{\r\n}\n",
            "{\"a\":nul}",
            "{\"a\":truex}",
            &deep_ok,
            &deep_bad,
        ];
        for text in texts
            .iter()
            .copied()
            .chain(numbers.iter().map(String::as_str))
            .chain(strings.iter().map(String::as_str))
        {
            let expected = map_of(text);
            let lazy = Data::from_json(text.as_bytes().to_vec());
            assert_eq!(lazy.is_some(), expected.is_some(), "{text}");
            let (Some(lazy), Some(expected)) = (lazy, expected) else {
                continue;
            };
            assert_eq!(lazy.to_map(), expected, "{text}");
            assert_eq!(lazy.len(), expected.len());
            assert_eq!(lazy.keys(), expected.keys().cloned().collect::<Vec<_>>());
            for (key, value) in &expected {
                assert_eq!(lazy.get_value(key).as_ref(), Some(value), "{text} {key}");
                assert_eq!(lazy.get::<Value>(key).unwrap().unwrap(), *value);
            }
            // Written back, it means the same; serde_json's own text comes back byte for byte.
            let written = canonical(&lazy);
            assert_eq!(map_of(&written), Some(expected.clone()), "{text}");
            let compact = serde_json::to_string(&expected).unwrap();
            if text == compact {
                assert_eq!(written, compact);
            }
        }
        for bad in [
            &b"{\"a\":\"\xff\"}"[..],
            b"{\"\xc3\":1}",
            b"{\"a\":[{\"\xe2\x82\":0}]}",
            b"{\"a\":1}\xff",
        ] {
            assert!(Data::from_json(bad.to_vec()).is_none(), "{bad:?}");
            assert!(serde_json::from_slice::<Map<String, Value>>(bad).is_err());
        }
        let good = "{\"é\":[\"ü€😀\"]}".as_bytes();
        assert_eq!(
            Data::from_json(good.to_vec()).unwrap().to_map(),
            serde_json::from_slice::<Map<String, Value>>(good).unwrap()
        );
    }

    /// The word-at-a-time skip stops where a byte-by-byte loop does, for every byte value
    /// at every place in and after a word, among plain, non-ASCII and stopping bytes.
    #[test]
    fn plain_end_stops_where_a_byte_loop_does() {
        for stop in 0..=255u8 {
            for len in 0..20 {
                for at in 0..len {
                    for fill in [b'a', b' ', 0x7f, 0xc3, 0x00, b'"'] {
                        let mut bytes = vec![fill; len];
                        bytes[at] = stop;
                        for from in [0, 1, 5].into_iter().filter(|&from| from <= len) {
                            for ascii in [true, false] {
                                assert_eq!(
                                    plain_end(&bytes, from, ascii),
                                    byte_by_byte(&bytes, from, ascii),
                                    "{bytes:?} from {from} ascii {ascii}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    fn byte_by_byte(bytes: &[u8], from: usize, ascii: bool) -> usize {
        from + bytes[from..]
            .iter()
            .position(|&b| matches!(b, b'"' | b'\\' | 0x00..=0x1F) || (ascii && b >= 0x80))
            .unwrap_or(bytes.len() - from)
    }

    /// Strings with a quote, backslash, control, DEL or non-ASCII byte at every place of the
    /// first words are accepted and read exactly as serde_json reads them.
    #[test]
    fn strings_agree_whatever_the_place_of_a_special_byte() {
        let specials: [&[u8]; 11] = [
            b"\"",
            b"\\\"",
            b"\\n",
            b"\\u00e9",
            b"\x00",
            b"\x1f",
            b"\n",
            b"\x7f",
            "é".as_bytes(),
            "😀".as_bytes(),
            b"\xff",
        ];
        for special in specials {
            for before in 0..19 {
                for after in [0, 1, 7, 9] {
                    let mut string = vec![b'x'; before];
                    string.extend_from_slice(special);
                    string.extend(std::iter::repeat_n(b'y', after));
                    for text in [
                        [&b"{\"s\":\""[..], &string, b"\"}"].concat(),
                        [&b"{\""[..], &string, b"\":[\"", &string, b"\"]}"].concat(),
                    ] {
                        let expected = serde_json::from_slice::<Map<String, Value>>(&text).ok();
                        let lazy = Data::from_json(text.clone()).map(|data| data.to_map());
                        assert_eq!(lazy, expected, "{:?}", String::from_utf8_lossy(&text));
                    }
                }
            }
        }
    }

    #[test]
    fn unchanged_values_are_copied_and_changes_written() {
        let text = r#"{"views":1,"user_id":42,"csrf":"0123456789abcdef","f":0.30000000000000004}"#;
        let mut data = Data::from_json(text.as_bytes().to_vec()).unwrap();
        assert_eq!(canonical(&data), text);
        assert_eq!(data.source(), text.as_bytes());
        assert_eq!(data.get::<u64>("views").unwrap().unwrap(), 1);
        assert_eq!(data.get::<f64>("f").unwrap().unwrap(), 0.30000000000000004);
        assert!(data.get::<u64>("csrf").unwrap().is_err());
        assert!(data.get::<u64>("missing").is_none());
        data.insert("views", Value::from(2));
        data.insert("new", Value::from("x\"y"));
        assert_eq!(
            canonical(&data),
            r#"{"views":2,"user_id":42,"csrf":"0123456789abcdef","f":0.30000000000000004,"new":"x\"y"}"#
        );
        assert_eq!(data.shift_remove("user_id"), Some(Value::from(42)));
        assert_eq!(data.shift_remove("user_id"), None);
        assert!(data.contains_key("csrf"));
        assert!(!data.contains_key("user_id"));
        assert_eq!(
            canonical(&data),
            r#"{"views":2,"csrf":"0123456789abcdef","f":0.30000000000000004,"new":"x\"y"}"#
        );
        data.clear();
        assert!(data.is_empty());
        assert_eq!(canonical(&data), "{}");
        assert_eq!(data.source(), text.as_bytes(), "the source text stays");
    }

    /// Unchanged entries are copied in runs: spaces, repeated keys, removed and changed
    /// entries between them all break a run, and the text written is serde_json's either way.
    #[test]
    fn runs_of_unchanged_entries_write_what_serde_json_writes() {
        let texts = [
            r#"{"a":1,"b":"x","c":[1,{"d":2}]}"#,
            r#"{ "a" : 1 , "b":"x","c" :3,"d": 4}"#,
            r#"{"a":1,"b":2,"a":3,"c":4}"#,
            r#"{"a\u0041":1,"b":2,"c":3}"#,
            r#"{"a":1}"#,
            r#"{}"#,
        ];
        let edits: [&dyn Fn(&mut Data); 5] = [
            &|_| {},
            &|d| {
                d.shift_remove("b");
            },
            &|d| d.insert("b", Value::from(9)),
            &|d| d.insert("z", Value::from("new")),
            &|d| {
                d.shift_remove("a");
                d.insert("a", Value::from(0));
            },
        ];
        for text in texts {
            for edit in edits {
                let mut lazy = Data::from_json(text.as_bytes().to_vec()).unwrap();
                let mut map = Data::from_map(map_of(text).unwrap());
                edit(&mut lazy);
                edit(&mut map);
                assert_eq!(canonical(&lazy), canonical(&map), "{text}");
            }
        }
    }

    #[test]
    fn many_keys_and_repeats() {
        let mut text = String::from("{");
        for i in 0..200 {
            text.push_str(&format!("\"k{}\":{i},", i % 150));
        }
        text.push_str("\"k0\":\"last\"}");
        let expected = map_of(&text).unwrap();
        let lazy = Data::from_json(text.clone().into_bytes()).unwrap();
        assert_eq!(lazy.to_map(), expected);
        assert_eq!(canonical(&lazy), serde_json::to_string(&expected).unwrap());
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::vec((".{0,6}", inner), 0..6)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Any session serde_json writes reads back lazily as the same map, and is written
        /// back byte for byte, also after a change.
        #[test]
        fn serde_json_output_round_trips(
            entries in proptest::collection::vec((".{0,8}", json_value()), 0..10),
            change in (".{0,8}", json_value()),
        ) {
            let map: Map<String, Value> = entries.into_iter().collect();
            let text = serde_json::to_vec(&map).unwrap();
            let mut lazy = Data::from_json(text.clone()).unwrap();
            proptest::prop_assert_eq!(&lazy.to_map(), &map);
            let mut out = Vec::new();
            lazy.write_json(&mut out).unwrap();
            proptest::prop_assert_eq!(&out, &text);
            for (key, value) in &map {
                proptest::prop_assert_eq!(lazy.get_value(key), Some(value.clone()));
            }
            let mut changed = map.clone();
            changed.insert(change.0.clone(), change.1.clone());
            lazy.insert(change.0, change.1);
            let mut out = Vec::new();
            lazy.write_json(&mut out).unwrap();
            proptest::prop_assert_eq!(out, serde_json::to_vec(&changed).unwrap());
        }

        /// The word-at-a-time skip agrees with a byte loop on any bytes.
        #[test]
        fn plain_end_agrees_on_any_bytes(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            from in 0usize..40,
            ascii in proptest::prelude::any::<bool>(),
        ) {
            let from = from.min(bytes.len());
            proptest::prop_assert_eq!(
                plain_end(&bytes, from, ascii),
                byte_by_byte(&bytes, from, ascii)
            );
        }

        /// Arbitrary text: accepted lazily exactly when serde_json reads it into a map.
        #[test]
        fn acceptance_matches_serde_json(text in r#"[{}\[\]":,0-9eE.+\-a-z \\]{0,24}"#) {
            let expected = serde_json::from_slice::<Map<String, Value>>(text.as_bytes()).ok();
            let lazy = Data::from_json(text.clone().into_bytes()).map(|d| d.to_map());
            proptest::prop_assert_eq!(lazy, expected, "{}", text);
        }
    }
}
