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
//! A cookie this crate wrote in the `encrypted` format also carries the index of its entries
//! after the JSON (`format/index.rs`): opening it reads the offsets and checks them against
//! the JSON's structure instead of reading the text byte by byte.
//!
//! Every other session (Express and `jwt` cookies, store records, a new session, one the
//! handler replaced) keeps the order-keeping `serde_json::Map`, as before.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use zeroize::Zeroize;

use super::index::{self, Index, Offsets, Recorder};

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
    /// Read from a body with an entry index (`format/index.rs`) of at most [`INDEX_FROM`]
    /// entries whose JSON holds no escape: `source` is the JSON followed by the index, and
    /// keys and values are found through the index when read (a few entries, so a search in
    /// order). The first change builds `Entries`, in the vector `spare` (empty) holds.
    Indexed {
        json_len: usize,
        spare: Vec<Entry>,
    },
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

    /// [`Data::from_json_in`] of a body that may end with the index of its entries
    /// (`format/index.rs`). With one, every offset is checked against the JSON's structure,
    /// and the entries are found through it when read (a JSON text with an escape anywhere,
    /// whose keys may need decoding, or with more than [`INDEX_FROM`] entries, has its
    /// entries built at once instead). Without one, the JSON is read as by
    /// [`Data::from_json_in`]. `None` when the index does not fit the text.
    pub(crate) fn from_body_in(mut body: Vec<u8>, decoded: &mut Decoded) -> Option<Self> {
        let Some((json_len, offsets)) = index::split(&body).ok()? else {
            return Self::from_json_in(body, decoded);
        };
        let json = body.get(..json_len)?;
        check_index(json, offsets).ok()?;
        let mut entries = std::mem::take(&mut decoded.entries);
        if offsets.len() <= INDEX_FROM && memchr::memchr(b'\\', json).is_none() {
            return Some(Data {
                source: body,
                repr: Repr::Indexed {
                    json_len,
                    spare: entries,
                },
            });
        }
        if entries.capacity() == 0 {
            entries.reserve_exact(4);
        }
        if indexed_entries(json, offsets, &mut entries).is_err() {
            entries.clear();
            decoded.entries = entries;
            return None;
        }
        body.truncate(json_len);
        Some(Data {
            source: body,
            repr: Repr::Entries(entries),
        })
    }

    /// The JSON text of a native body (see [`Data::from_body_in`]): the body itself, or its
    /// JSON with the index checked and cut off; `None` when the index does not fit the text.
    pub(crate) fn json_of_body(mut body: Vec<u8>) -> Option<Vec<u8>> {
        let Some((json_len, offsets)) = index::split(&body).ok()? else {
            return Some(body);
        };
        check_index(body.get(..json_len)?, offsets).ok()?;
        body.truncate(json_len);
        Some(body)
    }

    /// The JSON and the index offsets of an indexed session.
    fn indexed(&self) -> (&[u8], Offsets<'_>) {
        let json_len = match self.repr {
            Repr::Indexed { json_len, .. } => json_len,
            _ => 0,
        };
        match index::split(&self.source) {
            Ok(Some((len, offsets))) if len == json_len => (self.text_to(json_len), offsets),
            _ => (&[], &[]),
        }
    }

    fn text_to(&self, end: usize) -> &[u8] {
        self.source.get(..end).unwrap_or_default()
    }

    /// The keys of an indexed session in order, each once (a repeated key keeps its first
    /// place, as in the map).
    fn indexed_keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let (json, offsets) = self.indexed();
        let name = move |(key, _): (Span, Span)| json.get(key.start..key.end).unwrap_or_default();
        let names = move || spans(offsets).map(name);
        names()
            .enumerate()
            .filter(move |(i, key)| !names().take(*i).any(|seen| seen == *key))
            .map(|(_, key)| key)
    }

    /// The value of the last entry named `key` of an indexed session (the last of repeated
    /// keys wins, as in the map).
    fn indexed_value(&self, key: &str) -> Option<Span> {
        let (json, offsets) = self.indexed();
        let mut found = None;
        for (name, value) in spans(offsets) {
            if json.get(name.start..name.end) == Some(key.as_bytes()) {
                found = Some(value);
            }
        }
        found
    }

    /// Builds the entries of an indexed session, to change them.
    fn build_entries(&mut self) {
        if let Repr::Indexed { json_len, spare } = &mut self.repr {
            let json_len = *json_len;
            let mut entries = std::mem::take(spare);
            let (json, offsets) = self.indexed();
            // Checked when read, and without an escape: every key is its own text.
            let mut lookup = None;
            for (key, value) in spans(offsets) {
                let entry = Entry {
                    key: Slot::Text(key),
                    value: Slot::Text(value),
                };
                add_entry(json, &mut entries, &mut lookup, entry);
            }
            self.source.truncate(json_len);
            self.repr = Repr::Entries(entries);
        }
    }

    /// The JSON text this session was read from (empty when not read from a native cookie).
    pub(crate) fn source(&self) -> &[u8] {
        match self.repr {
            Repr::Indexed { json_len, .. } => self.text_to(json_len),
            _ => &self.source,
        }
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
            Repr::Indexed { .. } => self.indexed_keys().count(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match &self.repr {
            Repr::Indexed { .. } => self.indexed().1.is_empty(),
            _ => self.len() == 0,
        }
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        match &self.repr {
            Repr::Map(map) => map.contains_key(key),
            Repr::Entries(entries) => self.position(entries, key).is_some(),
            Repr::Indexed { .. } => self.indexed_value(key).is_some(),
        }
    }

    /// The keys, in order.
    pub(crate) fn keys(&self) -> Vec<String> {
        match &self.repr {
            Repr::Map(map) => map.keys().cloned().collect(),
            Repr::Entries(entries) => entries.iter().map(|e| self.key_string(e)).collect(),
            Repr::Indexed { .. } => self
                .indexed_keys()
                .map(|name| String::from_utf8_lossy(name).into_owned())
                .collect(),
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
            Repr::Indexed { .. } => {
                let span = self.indexed_value(key)?;
                Some(serde_json::from_slice(self.text(span)))
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
            Repr::Indexed { .. } => Some(self.value_of(&Slot::Text(self.indexed_value(key)?))),
        }
    }

    /// Sets `key`, keeping its place when it was present. The key becomes a `String` only
    /// when it is new: replacing a value allocates nothing for its key.
    pub(crate) fn insert(&mut self, key: impl AsRef<str> + Into<String>, value: Value) {
        let name = key.as_ref();
        self.build_entries();
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
            // Built above.
            Repr::Indexed { .. } => {}
        }
    }

    /// Removes `key`; later keys keep their order.
    pub(crate) fn shift_remove(&mut self, key: &str) -> Option<Value> {
        self.build_entries();
        match &mut self.repr {
            Repr::Map(map) => map.shift_remove(key),
            Repr::Entries(entries) => {
                let index = entries
                    .iter()
                    .position(|entry| key_text(&self.source, entry) == key.as_bytes())?;
                let entry = entries.remove(index);
                Some(self.take_value(entry.value))
            }
            // Built above.
            Repr::Indexed { .. } => None,
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
            // Collected as serde_json collects an object: a repeated key keeps its first
            // place and takes the last value.
            Repr::Indexed { .. } => {
                let (json, offsets) = self.indexed();
                Cow::Owned(
                    spans(offsets)
                        .map(|(name, value)| {
                            let name = json.get(name.start..name.end).unwrap_or_default();
                            let value = Slot::Text(value);
                            (
                                String::from_utf8_lossy(name).into_owned(),
                                self.value_of(&value),
                            )
                        })
                        .collect(),
                )
            }
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
            Repr::Entries(_) | Repr::Indexed { .. } => self.to_map(),
        }
    }

    /// Appends the session's compact JSON text (serde_json's, byte for byte) to `out`: keys
    /// and values never changed are copied from the source text.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        self.write_json_with(out, None)
    }

    /// [`Data::write_json`], with the entry index of what it wrote (`format/index.rs`) left in
    /// `index` (empty when the text is too long to index).
    pub(crate) fn write_json_indexed(
        &self,
        out: &mut Vec<u8>,
        index: &mut Index,
    ) -> Result<(), serde_json::Error> {
        let mut recorder = Recorder::new(index, out.len());
        self.write_json_with(out, Some(&mut recorder))?;
        recorder.finish();
        Ok(())
    }

    fn write_json_with(
        &self,
        out: &mut Vec<u8>,
        mut index: Option<&mut Recorder<'_>>,
    ) -> Result<(), serde_json::Error> {
        let entries = match &self.repr {
            Repr::Map(map) if index.is_none() => return serde_json::to_writer(out, map),
            Repr::Map(map) => return write_map(map, out, index),
            Repr::Entries(entries) => entries,
            Repr::Indexed { .. } if self.len() == self.indexed().1.len() => {
                // No repeated key: the text is serde_json's for the map, copied whole.
                let (json, offsets) = self.indexed();
                let start = out.len();
                out.extend_from_slice(json);
                if let Some(index) = &mut index {
                    for (name, value) in spans(offsets) {
                        index.entry(start + name.end, start + value.end);
                    }
                }
                return Ok(());
            }
            Repr::Indexed { .. } => return write_map(&self.as_map(), out, index),
        };
        out.push(b'{');
        // Unchanged entries that lie side by side in the source (`"a":1,"b":2`, the usual
        // case) are copied as one run, commas included, rather than piece by piece. The run's
        // text goes at `run_at` in `out` once it is complete.
        let mut run: Option<Span> = None;
        let mut run_at = 0;
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
                        run_at = out.len();
                    }
                }
                if let (Some(index), Some(run), Slot::Text(key)) = (&mut index, &run, &entry.key) {
                    let at = |source: usize| run_at + (source - run.start);
                    index.entry(at(key.end), at(whole.end));
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
            let key_end = out.len() - 1;
            out.push(b':');
            match &entry.value {
                Slot::Text(span) => out.extend_from_slice(self.text(*span)),
                Slot::Own(value) => serde_json::to_writer(&mut *out, value)?,
            }
            if let Some(index) = &mut index {
                index.entry(key_end, out.len());
            }
        }
        if let Some(done) = run {
            out.extend_from_slice(self.text(done));
        }
        out.push(b'}');
        Ok(())
    }
}

/// A map's compact JSON text, entry by entry (serde_json's text for the map, byte for byte),
/// noting each entry in `index`.
fn write_map(
    map: &Map<String, Value>,
    out: &mut Vec<u8>,
    mut index: Option<&mut Recorder<'_>>,
) -> Result<(), serde_json::Error> {
    out.push(b'{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, key)?;
        let key_end = out.len() - 1;
        out.push(b':');
        serde_json::to_writer(&mut *out, value)?;
        if let Some(index) = &mut index {
            index.entry(key_end, out.len());
        }
    }
    out.push(b'}');
    Ok(())
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

/// Adds an entry read from `text` to `entries`. A repeated key: the last value wins, at the
/// first one's place (as in the map). From [`INDEX_FROM`] keys on, `index` finds the keys read
/// so far by hashing rather than by comparing each, so reading stays linear.
#[inline(always)]
fn add_entry(
    text: &[u8],
    entries: &mut Vec<Entry>,
    index: &mut Option<HashMap<Vec<u8>, usize>>,
    entry: Entry,
) {
    let key = key_text(text, &entry);
    let found = match index {
        Some(index) => index.get(key).copied(),
        None => entries.iter().position(|e| key_text(text, e) == key),
    };
    match found {
        Some(found) => entries[found].value = entry.value,
        None => {
            if let Some(index) = index {
                index.insert(key.to_vec(), entries.len());
            }
            entries.push(entry);
            if index.is_none() && entries.len() >= INDEX_FROM {
                *index = Some(
                    entries
                        .iter()
                        .enumerate()
                        .map(|(i, e)| (key_text(text, e).to_vec(), i))
                        .collect(),
                );
            }
        }
    }
}

/// The key and value spans of the entries at `offsets` (checked by [`check_index`]).
fn spans(offsets: Offsets<'_>) -> impl Iterator<Item = (Span, Span)> + '_ {
    let mut end = 0;
    offsets.iter().map(move |entry| {
        let (key_end, value_end) = index::offsets(entry);
        let key = Span {
            start: end + 2,
            end: key_end,
        };
        let value = Span {
            start: key_end + 2,
            end: value_end,
        };
        end = value_end;
        (key, value)
    })
}

/// Checks the offsets of an index (`format/index.rs`) against the JSON: the object's braces,
/// the quotes around every key, the colon after it, a value of at least one byte, the
/// separator after every value, and nothing after the last. The value texts are not read.
fn check_index(json: &[u8], offsets: Offsets<'_>) -> Result<(), Invalid> {
    if json.first() != Some(&b'{') {
        return Err(Invalid);
    }
    // Where the previous entry ended: the `{`, then each `,`.
    let mut end = 0;
    for (i, (key, value)) in spans(offsets).enumerate() {
        let separator = if i + 1 == offsets.len() { b'}' } else { b',' };
        let fits = json.get(end + 1) == Some(&b'"')
            && key.end >= key.start
            && json.get(key.end) == Some(&b'"')
            && json.get(key.end + 1) == Some(&b':')
            && value.end > value.start
            && json.get(value.end) == Some(&separator);
        if !fits {
            return Err(Invalid);
        }
        end = value.end;
    }
    let last = if offsets.is_empty() { 1 } else { end };
    if json.get(last) == Some(&b'}') && last + 1 == json.len() {
        Ok(())
    } else {
        Err(Invalid)
    }
}

/// The entries of `json` at the offsets of its index, checked by [`check_index`]: keys with
/// escapes are decoded, as the scanner does.
fn indexed_entries(
    json: &[u8],
    offsets: Offsets<'_>,
    entries: &mut Vec<Entry>,
) -> Result<(), Invalid> {
    let mut lookup = None;
    for (key, value) in spans(offsets) {
        // A key whose text runs plain (no escape, quote or control character) to its closing
        // quote is its own text.
        let key = if plain_end(json, key.start, false) == key.end {
            Slot::Text(key)
        } else {
            Slot::Own(decode(json, key)?)
        };
        add_entry(
            json,
            entries,
            &mut lookup,
            Entry {
                key,
                value: Slot::Text(value),
            },
        );
    }
    Ok(())
}

/// The text of the string with escapes whose contents lie at `span` of `text`, decoded by
/// serde_json (which checks the escapes).
fn decode(text: &[u8], span: Span) -> Result<String, Invalid> {
    let quoted = text
        .get(span.start.checked_sub(1).ok_or(Invalid)?..span.end + 1)
        .ok_or(Invalid)?;
    serde_json::from_slice(quoted).map_err(|_| Invalid)
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
        if let Repr::Entries(mut entries)
        | Repr::Indexed {
            spare: mut entries, ..
        } = repr
        {
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
        let mut index = None;
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
                add_entry(text, entries, &mut index, Entry { key, value });
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

    fn decode(&self, span: Span) -> Result<String, Invalid> {
        decode(self.bytes, span)
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
            _ => panic!("read lazily"),
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
            _ => panic!("read lazily"),
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

    /// What the `encrypted` format seals for `data`: its JSON and the index of its entries.
    fn indexed_body(data: &Data) -> Vec<u8> {
        let mut body = Vec::new();
        let mut index = Index::default();
        data.write_json_indexed(&mut body, &mut index).unwrap();
        body.extend_from_slice(index.as_bytes());
        body
    }

    /// `data` written with its index and read back through it.
    fn through_index(data: &Data) -> Data {
        Data::from_body_in(indexed_body(data), &mut Decoded::default()).unwrap()
    }

    /// Every reading method of `data` agrees with `expected`.
    fn agrees(data: &Data, expected: &Map<String, Value>, what: &str) {
        assert_eq!(data.to_map(), *expected, "{what}");
        assert_eq!(data.len(), expected.len(), "{what}");
        assert_eq!(data.is_empty(), expected.is_empty(), "{what}");
        assert_eq!(
            data.keys(),
            expected.keys().cloned().collect::<Vec<_>>(),
            "{what}"
        );
        for (key, value) in expected {
            assert!(data.contains_key(key), "{what} {key}");
            assert_eq!(data.get_value(key).as_ref(), Some(value), "{what} {key}");
            assert_eq!(
                data.get::<Value>(key).unwrap().unwrap(),
                *value,
                "{what} {key}"
            );
        }
        assert!(!data.contains_key("\u{0}absent"));
        assert!(data.get::<Value>("\u{0}absent").is_none());
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
            agrees(&lazy, &expected, text);
            // Written with its index and read through it, it is the same session, written
            // back as the same text.
            let indexed = through_index(&lazy);
            agrees(&indexed, &expected, text);
            assert_eq!(canonical(&indexed), canonical(&lazy), "{text}");
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
                let mut indexed = through_index(&lazy);
                edit(&mut lazy);
                edit(&mut map);
                edit(&mut indexed);
                assert_eq!(canonical(&lazy), canonical(&map), "{text}");
                assert_eq!(canonical(&indexed), canonical(&map), "{text}");
                // The index written after the change reads back as the change.
                let again = through_index(&indexed);
                assert_eq!(again.to_map(), map.to_map(), "{text}");
            }
        }
    }

    /// A JSON text with its index, offsets written by hand: the layout of `format/index.rs`.
    fn by_hand(json: &str, offsets: &[(u16, u16)]) -> Vec<u8> {
        let mut body = json.as_bytes().to_vec();
        for (key_end, value_end) in offsets {
            body.extend_from_slice(&key_end.to_be_bytes());
            body.extend_from_slice(&value_end.to_be_bytes());
        }
        body.extend_from_slice(&u16::try_from(offsets.len()).unwrap().to_be_bytes());
        body.push(index::INDEXED);
        body
    }

    /// The index the writer records is the layout's, offset for offset.
    #[test]
    fn the_recorded_index_is_the_layout() {
        let data = Data::from_json(br#"{"a":1,"bc":"x,y"}"#.to_vec()).unwrap();
        assert_eq!(
            indexed_body(&data),
            by_hand(r#"{"a":1,"bc":"x,y"}"#, &[(3, 6), (10, 17)])
        );
        let empty = Data::from_map(Map::new());
        assert_eq!(indexed_body(&empty), by_hand("{}", &[]));
        let mut map = Map::new();
        map.insert("k\"ey".to_owned(), json!([1, 2]));
        let written = Data::from_map(map);
        assert_eq!(
            indexed_body(&written),
            by_hand(r#"{"k\"ey":[1,2]}"#, &[(7, 14)])
        );
    }

    /// Sessions of more than `INDEX_FROM` entries have their entries built when read (a
    /// search in order would grow with them); past `index::MAX_ENTRIES`, no index is written.
    #[test]
    fn large_sessions_are_read_by_their_entries() {
        for keys in [INDEX_FROM, INDEX_FROM + 1, index::MAX_ENTRIES + 1] {
            let map: Map<String, Value> = (0..keys).map(|i| (format!("k{i}"), json!(i))).collect();
            let body = indexed_body(&Data::from_map(map.clone()));
            let indexed = index::split(&body).unwrap().is_some();
            assert_eq!(indexed, keys <= index::MAX_ENTRIES, "{keys} keys");
            let read = Data::from_body_in(body, &mut Decoded::default()).unwrap();
            let lazy = matches!(read.repr, Repr::Indexed { .. });
            assert_eq!(lazy, keys <= INDEX_FROM, "{keys} keys");
            agrees(&read, &map, "large");
        }
    }

    /// An index over repeated keys (which this crate never writes) reads as serde_json reads
    /// the text: the last value, at the first key's place.
    #[test]
    fn repeated_keys_in_an_index_read_as_the_map() {
        let text = r#"{"a":1,"b":2,"a":3}"#;
        let body = by_hand(text, &[(3, 6), (9, 12), (15, 18)]);
        let mut data = Data::from_body_in(body, &mut Decoded::default()).unwrap();
        assert!(matches!(data.repr, Repr::Indexed { .. }));
        agrees(&data, &map_of(text).unwrap(), text);
        assert_eq!(canonical(&data), r#"{"a":3,"b":2}"#);
        data.insert("c", Value::from(4));
        assert_eq!(canonical(&data), r#"{"a":3,"b":2,"c":4}"#);
    }

    /// Offsets that do not fit the text's structure are refused; the JSON without its index is
    /// what `json_of_body` gives.
    #[test]
    fn an_index_that_does_not_fit_is_refused() {
        let text = r#"{"a":1,"b":2}"#;
        let good = [(3, 6), (9, 12)];
        let read = |offsets: &[(u16, u16)]| {
            Data::from_body_in(by_hand(text, offsets), &mut Decoded::default()).is_some()
        };
        assert!(read(&good));
        assert_eq!(
            Data::json_of_body(by_hand(text, &good)).unwrap(),
            text.as_bytes()
        );
        for bad in [
            &[(3, 6)][..],      // the last value does not end at the `}`
            &[(3, 6), (9, 11)], // a value's end that is not a separator
            &[(4, 6), (9, 12)], // a key's end that is not its quote
            &[(3, 5), (9, 12)], // an empty value
            &[(3, 6), (9, 12), (3, 6)],
            &[(1, 6), (9, 12)], // a key's end before its start
            &[],
            &[(3, 6), (9, 13)], // past the text
            &[(3, 6), (9, 65535)],
        ] {
            assert!(!read(bad), "{bad:?}");
            assert_eq!(Data::json_of_body(by_hand(text, bad)), None, "{bad:?}");
        }
        // Each check alone refuses one of these: no quote opens the key, a key ending before
        // it starts, a key's end that is not a quote, a value of no bytes, a value's end that
        // is no separator (inside the string `"x"`).
        for (text, offsets) in [
            (r#"{ "a":1}"#, &[(4, 7)][..]),
            (r#"{":1}"#, &[(1, 4)]),
            (r#"{"ab:1}"#, &[(3, 6)]),
            (r#"{"a":}"#, &[(3, 5)]),
            (r#"{"a":"x","b":2}"#, &[(3, 6), (11, 14)]),
        ] {
            let body = by_hand(text, offsets);
            assert!(
                Data::from_body_in(body, &mut Decoded::default()).is_none(),
                "{text}"
            );
        }
        // A key's end at a quote that no colon follows (the end of the string `"b"`).
        let quoted = r#"{"a":"b","c":1}"#;
        let read_quoted = |offsets: &[(u16, u16)]| {
            Data::from_body_in(by_hand(quoted, offsets), &mut Decoded::default()).is_some()
        };
        assert!(read_quoted(&[(3, 8), (11, 14)]));
        assert!(!read_quoted(&[(7, 14)]));
        // The value texts are not read: an index a key holder wrote over two entries as one
        // is followed, and that value fails to deserialise (`format/index.rs`).
        let one = Data::from_body_in(by_hand(text, &[(3, 12)]), &mut Decoded::default()).unwrap();
        assert!(one.get::<Value>("a").unwrap().is_err());
        assert!(!one.contains_key("b"));
        assert!(Data::from_body_in(by_hand(r#"["a",1]"#, &[]), &mut Decoded::default()).is_none());
        assert!(Data::from_body_in(by_hand("{}", &[]), &mut Decoded::default()).is_some());
        assert!(Data::from_body_in(by_hand("{} ", &[]), &mut Decoded::default()).is_none());
    }

    /// Any byte of an index changed to any value: refused, or read with every span inside the
    /// text — never a panic, whatever is asked of the session then.
    #[test]
    fn every_change_to_an_index_is_refused_or_stays_inside_the_text() {
        let data = Data::from_json(br#"{"views":1,"user_id":42,"csrf":"0123"}"#.to_vec()).unwrap();
        let body = indexed_body(&data);
        let json_len = Data::json_of_body(body.clone()).unwrap().len();
        let mut accepted = 0;
        for at in json_len..body.len() {
            for byte in 0..=255u8 {
                let mut changed = body.clone();
                changed[at] = byte;
                let Some(mut read) = Data::from_body_in(changed, &mut Decoded::default()) else {
                    continue;
                };
                accepted += 1;
                let _ = (read.to_map(), read.len(), read.keys(), canonical(&read));
                let _ = read.get::<Value>("views");
                read.insert("views", Value::from(2));
                let _ = canonical(&read);
            }
        }
        // The unchanged byte at each place, and the few changes that still fit.
        assert!(accepted >= body.len() - json_len, "{accepted}");
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

    /// A change to a session, for [`changes_to_a_read_session_agree_with_the_map`]: a key
    /// it holds (picked by place) set or removed, or a key set that it may not hold.
    #[derive(Debug, Clone)]
    enum Change {
        Set(usize, Value),
        Add(String, Value),
        Remove(usize),
    }

    fn change() -> impl proptest::strategy::Strategy<Value = Change> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (0usize..16, json_value()).prop_map(|(at, value)| Change::Set(at, value)),
            1 => ("[a-c]{0,2}", json_value()).prop_map(|(key, value)| Change::Add(key, value)),
            1 => (0usize..16).prop_map(Change::Remove),
        ]
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
            // Written with its index and read through it: the same, also after the change.
            let mut indexed = through_index(&Data::from_map(map.clone()));
            proptest::prop_assert_eq!(&indexed.to_map(), &map);
            proptest::prop_assert_eq!(canonical(&indexed).into_bytes(), text.clone());
            for (key, value) in &map {
                proptest::prop_assert_eq!(indexed.get_value(key), Some(value.clone()));
            }
            let mut changed = map.clone();
            changed.insert(change.0.clone(), change.1.clone());
            indexed.insert(change.0.clone(), change.1.clone());
            lazy.insert(change.0, change.1);
            let mut out = Vec::new();
            lazy.write_json(&mut out).unwrap();
            proptest::prop_assert_eq!(&out, &serde_json::to_vec(&changed).unwrap());
            proptest::prop_assert_eq!(canonical(&indexed).into_bytes(), out);
            proptest::prop_assert_eq!(through_index(&indexed).to_map(), changed);
        }

        /// Any changes to a session read through its index, or by scanning its JSON, read
        /// and write as the same changes to the map, and what is written reads back as it.
        #[test]
        fn changes_to_a_read_session_agree_with_the_map(
            entries in proptest::collection::vec(("[a-c]{0,2}", json_value()), 0..6),
            changes in proptest::collection::vec(change(), 1..5),
        ) {
            let mut map: Map<String, Value> = entries.into_iter().collect();
            let text = serde_json::to_vec(&map).unwrap();
            let mut indexed = through_index(&Data::from_map(map.clone()));
            let mut scanned = Data::from_json(text).unwrap();
            for change in changes {
                let held = |at: usize| map.keys().nth(at % map.len().max(1)).cloned();
                match change {
                    Change::Set(at, value) => {
                        let Some(key) = held(at) else { continue };
                        indexed.insert(key.clone(), value.clone());
                        scanned.insert(key.clone(), value.clone());
                        map.insert(key, value);
                    }
                    Change::Add(key, value) => {
                        indexed.insert(key.clone(), value.clone());
                        scanned.insert(key.clone(), value.clone());
                        map.insert(key, value);
                    }
                    Change::Remove(at) => {
                        let Some(key) = held(at) else { continue };
                        let removed = map.shift_remove(&key);
                        proptest::prop_assert_eq!(indexed.shift_remove(&key), removed.clone());
                        proptest::prop_assert_eq!(scanned.shift_remove(&key), removed);
                    }
                }
                let text = serde_json::to_string(&map).unwrap();
                for data in [&indexed, &scanned] {
                    agrees(data, &map, &text);
                    proptest::prop_assert_eq!(&canonical(data), &text);
                    proptest::prop_assert_eq!(&through_index(data).to_map(), &map);
                }
            }
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
