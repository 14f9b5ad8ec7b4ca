//! The entry index a native body may carry after its JSON, so that opening a session finds
//! its keys and values without reading the JSON byte by byte.
//!
//! ```text
//! body  = JSON | entry × n | n (u16 BE) | 0x01
//! entry = key_end (u16 BE) | value_end (u16 BE)
//! ```
//!
//! Offsets count from the JSON's first byte (`{`). Entry `i`'s key lies between the quote
//! after the byte that ends entry `i − 1` (the `{` for the first) and the quote at `key_end`;
//! its value runs from `key_end + 2` (after `":`) to the `,` or `}` at `value_end`.
//!
//! # Why it may be trusted
//!
//! The index lies inside the authenticated plaintext (docs/SECURITY-CHECKLIST.md item 12): only
//! a holder of the key can write one, and this crate writes it from the offsets of the JSON
//! it has just written (`Data::write_json_indexed`). Reading it checks every offset against
//! the JSON's structure (the quotes, the colon, the separators, the ends), so no index can
//! make a span leave the text or two spans overlap; the value texts themselves are not
//! re-read, which is the work the index saves. A key holder who seals an index over text that
//! is not JSON gets a session whose `get` of that key fails to deserialise — what sealing any
//! wrong data would give them.
//!
//! # Layouts
//!
//! The body's last byte tells the layouts apart: JSON ends with `}` (or white space, in text
//! another program sealed), never with `0x01`; a deflated body starts with `0x00`
//! (`format/codec.rs`), and is never indexed. Bodies without the index open as before.

/// The last byte of a body that carries an index.
pub(crate) const INDEXED: u8 = 0x01;

/// The bytes after the JSON: the count (2) and the marker (1).
const TAIL_LEN: usize = 3;

/// One entry's bytes in the index.
pub(crate) const ENTRY_LEN: usize = 4;

/// The entries of an index, each its two offsets as stored.
pub(crate) type Offsets<'a> = &'a [[u8; ENTRY_LEN]];

/// The body is marked as indexed but its index does not fit it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadIndex;

/// Splits an indexed body into its JSON's length and its entries' offsets `(key_end,
/// value_end)`; `Ok(None)` for a body without an index.
pub(crate) fn split(body: &[u8]) -> Result<Option<(usize, Offsets<'_>)>, BadIndex> {
    let [.., high, low, INDEXED] = body else {
        return Ok(None);
    };
    let count = usize::from(u16::from_be_bytes([*high, *low]));
    let index_len = count * ENTRY_LEN + TAIL_LEN;
    let json_len = body.len().checked_sub(index_len).ok_or(BadIndex)?;
    let entries = body.get(json_len..body.len() - TAIL_LEN).ok_or(BadIndex)?;
    let (entries, rest) = entries.as_chunks::<ENTRY_LEN>();
    if !rest.is_empty() {
        return Err(BadIndex);
    }
    Ok(Some((json_len, entries)))
}

/// The offsets of one entry.
pub(crate) fn offsets(entry: &[u8; ENTRY_LEN]) -> (usize, usize) {
    let [k1, k2, v1, v2] = *entry;
    (
        usize::from(u16::from_be_bytes([k1, k2])),
        usize::from(u16::from_be_bytes([v1, v2])),
    )
}

/// The most entries an index holds: a session with more is sealed without one (read by
/// scanning its JSON), so the index fits in a fixed buffer and writing it never allocates.
pub(crate) const MAX_ENTRIES: usize = 64;

/// An index being written, in a buffer of its own (kept between requests with the session
/// handle's other buffers).
pub(crate) struct Index {
    bytes: [u8; MAX_ENTRIES * ENTRY_LEN + TAIL_LEN],
    len: usize,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            bytes: [0; MAX_ENTRIES * ENTRY_LEN + TAIL_LEN],
            len: 0,
        }
    }
}

impl Index {
    /// The most bytes the index of a session of `entries` keys takes.
    pub(crate) fn room(entries: usize) -> usize {
        entries.min(MAX_ENTRIES) * ENTRY_LEN + TAIL_LEN
    }

    /// The bytes to seal after the JSON; empty when there is no index.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    fn push(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.len + bytes.len();
        self.bytes.get_mut(self.len..end)?.copy_from_slice(bytes);
        self.len = end;
        Some(())
    }
}

/// Builds the index of JSON being written: offsets are noted as the entries are written,
/// then [`Recorder::finish`] completes the bytes to seal after the JSON.
pub(crate) struct Recorder<'a> {
    index: &'a mut Index,
    json_start: usize,
    count: u16,
    fits: bool,
}

impl<'a> Recorder<'a> {
    /// Records into `index` (emptied) for JSON whose `{` is at `json_start` of its buffer.
    pub(crate) fn new(index: &'a mut Index, json_start: usize) -> Self {
        index.clear();
        Recorder {
            index,
            json_start,
            count: 0,
            fits: true,
        }
    }

    /// Notes an entry, from the positions in the buffer of its key's closing quote and of the
    /// `,` or `}` after its value (not written yet: the value's end).
    pub(crate) fn entry(&mut self, key_end: usize, value_end: usize) {
        if !self.fits {
            return;
        }
        let offset = |at: usize| {
            at.checked_sub(self.json_start)
                .and_then(|at| u16::try_from(at).ok())
        };
        let pushed = offset(key_end)
            .zip(offset(value_end))
            .and_then(|(key_end, value_end)| {
                let [k1, k2] = key_end.to_be_bytes();
                let [v1, v2] = value_end.to_be_bytes();
                self.index.push(&[k1, k2, v1, v2])
            });
        match pushed {
            Some(()) => self.count += 1,
            None => self.fits = false,
        }
    }

    /// Completes the index; empties it when the JSON is too long for 16-bit offsets or has
    /// more than [`MAX_ENTRIES`] entries (such a body is sealed without one).
    pub(crate) fn finish(self) {
        let [high, low] = self.count.to_be_bytes();
        if !self.fits || self.index.push(&[high, low, INDEXED]).is_none() {
            self.index.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_without_the_marker_have_no_index() {
        assert_eq!(split(b"{}"), Ok(None));
        assert_eq!(split(b""), Ok(None));
        assert_eq!(split(b"\x01"), Ok(None));
        assert_eq!(split(b"\x00\x01"), Ok(None));
    }

    #[test]
    fn an_index_longer_than_the_body_is_refused() {
        assert_eq!(split(b"\x00\x00\x01"), Ok(Some((0, &[][..]))));
        assert_eq!(split(b"\x00\x01\x01"), Err(BadIndex));
        assert_eq!(split(b"{}\x00\x00\x00\x01\x00\x02\x01"), Err(BadIndex));
        assert_eq!(split(b"\xff\xff\x01"), Err(BadIndex));
    }

    #[test]
    fn recorded_offsets_read_back() {
        let mut index = Index::default();
        let mut recorder = Recorder::new(&mut index, 10);
        recorder.entry(14, 16);
        recorder.entry(10 + 300, 10 + 65_535);
        recorder.finish();
        let mut body = vec![b'x'; 7];
        body.extend_from_slice(index.as_bytes());
        let (json_len, entries) = split(&body).unwrap().unwrap();
        assert_eq!(json_len, 7);
        let read: Vec<_> = entries.iter().map(offsets).collect();
        assert_eq!(read, [(4, 6), (300, 65_535)]);
    }

    #[test]
    fn offsets_past_16_bits_leave_no_index() {
        let mut index = Index::default();
        let mut recorder = Recorder::new(&mut index, 0);
        recorder.entry(4, 6);
        recorder.entry(70_000, 70_002);
        recorder.finish();
        assert!(index.as_bytes().is_empty());
    }

    #[test]
    fn more_entries_than_it_holds_leave_no_index() {
        let mut index = Index::default();
        for count in [MAX_ENTRIES, MAX_ENTRIES + 1] {
            let mut recorder = Recorder::new(&mut index, 0);
            for i in 0..count {
                recorder.entry(4 * i + 3, 4 * i + 5);
            }
            recorder.finish();
            let expected = if count == MAX_ENTRIES {
                count * ENTRY_LEN + TAIL_LEN
            } else {
                0
            };
            assert_eq!(index.as_bytes().len(), expected, "{count} entries");
        }
    }
}
