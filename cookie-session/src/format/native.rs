//! What the two native formats ([`encrypted`](super::encrypted), [`signed`](super::signed))
//! share: the format byte, the key id, the 24-byte timestamp block and strict base64url.
//!
//! Every native value starts (after base64url decoding) with the same 5-byte header:
//!
//! ```text
//! format byte (1) | key id (4)
//! ```
//!
//! The format byte names both the format and its version: `0xE1` is "encrypted, version 1"
//! (XChaCha20-Poly1305), `0xE2` "encrypted, version 2" (XAES-256-GCM), `0x51` is "signed,
//! version 1". A value of one format given to the other, or a value of a
//! version this code does not know, is refused on this byte before any key is looked at.
//!
//! Nothing here is secret: the key id is public (derived with its own HKDF label), so it is
//! compared with plain `==`. Secret comparisons live in the AEAD and HMAC crates only.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use super::{Timestamps, MAX_INPUT_LEN};
use crate::key::{derive_subkey, key_ids, KeyError, KeyRing, KEY_ID_LEN};
use crate::rejection::Rejection;

/// Format byte of the `encrypted` format, version 1.
pub(crate) const FORMAT_ENCRYPTED_V1: u8 = 0xE1;

/// Format byte of the `encrypted` format, version 2 (XAES-256-GCM).
pub(crate) const FORMAT_ENCRYPTED_V2: u8 = 0xE2;

/// Format byte of the `signed` format, version 1.
pub(crate) const FORMAT_SIGNED_V1: u8 = 0x51;

/// Length of the header every native value starts with: format byte and key id.
pub(crate) const HEADER_LEN: usize = 1 + KEY_ID_LEN;

/// Length of the timestamp block: `created_at | issued_at | expires_at`, each u64 big-endian.
pub(crate) const TIMES_LEN: usize = 24;

/// Strict base64url: URL-safe alphabet, no padding written or accepted, and the unused bits
/// of the last character must be zero, so every byte string has exactly one encoding and
/// every accepted text is exactly what [`encode_into`] would have written.
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// The number of base64url characters (no padding) that encode `len` bytes.
pub(crate) const fn encoded_len(len: usize) -> usize {
    // 4 characters per 3 bytes, rounded up, minus the padding that is not written.
    (len / 3) * 4
        + match len % 3 {
            0 => 0,
            1 => 2,
            _ => 3,
        }
}

/// Appends the strict base64url encoding of `bytes` to `out`.
pub(crate) fn encode_into(bytes: &[u8], out: &mut String) {
    B64.encode_string(bytes, out);
}

/// Decodes strict base64url text into a new vector, refusing anything larger than
/// [`MAX_INPUT_LEN`] before looking at it.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, Rejection> {
    if text.len() > MAX_INPUT_LEN {
        return Err(Rejection::Malformed);
    }
    let mut out = Vec::with_capacity(base64::decoded_len_estimate(text.len()));
    B64.decode_vec(text, &mut out)
        .map_err(|_| Rejection::Malformed)?;
    Ok(out)
}

/// One key of a native codec: its public id and its ready-to-use secret state (a cipher or a
/// keyed MAC), built once when the codec is built.
#[derive(Clone)]
pub(crate) struct NativeKey<S> {
    /// The key id written in every value the key seals.
    pub(crate) id: [u8; KEY_ID_LEN],
    /// The cipher or MAC state derived from the secret.
    pub(crate) state: S,
}

/// Builds the keys of a native codec from a ring: checks every secret is at least
/// [`MIN_SECRET_LEN`](crate::key::MIN_SECRET_LEN) bytes, computes the key ids (refusing two
/// secrets with one id), derives one subkey per secret under `label` and turns it into a
/// ready state with `make`. The subkey is wiped when `make` returns.
pub(crate) fn build_keys<S>(
    ring: &KeyRing,
    format: &'static str,
    label: &str,
    make: impl Fn(&[u8; 32]) -> S,
) -> Result<Vec<NativeKey<S>>, KeyError> {
    ring.require_min_len(format)?;
    let ids = key_ids(ring)?;
    Ok(ring
        .secrets()
        .zip(ids)
        .map(|(secret, id)| {
            let subkey = derive_subkey(secret, label);
            NativeKey {
                id,
                state: make(&subkey),
            }
        })
        .collect())
}

/// The key with this id, and its index in the ring, if the ring has one.
///
/// Exactly one key is ever tried per value: the one its id names.
pub(crate) fn find_key<'a, S>(
    keys: &'a [NativeKey<S>],
    kid: &[u8; KEY_ID_LEN],
) -> Option<(usize, &'a S)> {
    keys.iter()
        .enumerate()
        .find(|(_, key)| key.id == *kid)
        .map(|(index, key)| (index, &key.state))
}

/// Keeps `raw[start..end]` in the same allocation (no copy into a new vector), or `None` when
/// the range does not fit.
pub(crate) fn keep_range(mut raw: Vec<u8>, start: usize, end: usize) -> Option<Vec<u8>> {
    if start > end || end > raw.len() {
        return None;
    }
    raw.truncate(end);
    raw.drain(..start);
    Some(raw)
}

/// Splits a decoded native value into its key id and the rest, after checking its format byte.
///
/// Too short for a header → [`Rejection::Malformed`]; another format byte (another format or
/// an unknown version) → [`Rejection::Malformed`].
pub(crate) fn split_header(
    raw: &[u8],
    format: u8,
) -> Result<(&[u8; KEY_ID_LEN], &[u8]), Rejection> {
    let Some((&byte, rest)) = raw.split_first() else {
        return Err(Rejection::Malformed);
    };
    if byte != format {
        return Err(Rejection::Malformed);
    }
    rest.split_first_chunk::<KEY_ID_LEN>()
        .ok_or(Rejection::Malformed)
}

/// Appends the header (format byte and key id) to `out`.
pub(crate) fn write_header(out: &mut Vec<u8>, format: u8, kid: &[u8; KEY_ID_LEN]) {
    out.push(format);
    out.extend_from_slice(kid);
}

/// Appends the 24-byte timestamp block to `out`.
#[cfg(test)]
pub(crate) fn write_times(out: &mut Vec<u8>, times: Timestamps) {
    out.extend_from_slice(&times.created_at.to_be_bytes());
    out.extend_from_slice(&times.issued_at.to_be_bytes());
    out.extend_from_slice(&times.expires_at.to_be_bytes());
}

/// Writes the 24-byte timestamp block into the first 24 bytes of `out`.
pub(crate) fn put_times(out: &mut [u8], times: Timestamps) {
    let fields = [times.created_at, times.issued_at, times.expires_at];
    for (chunk, field) in out.chunks_exact_mut(8).zip(fields) {
        chunk.copy_from_slice(&field.to_be_bytes());
    }
}

/// Reads the 24-byte timestamp block at the start of `bytes`, returning the times and the
/// bytes after the block, or `None` when fewer than 24 bytes are there.
pub(crate) fn read_times(bytes: &[u8]) -> Option<(Timestamps, &[u8])> {
    let (created_at, rest) = bytes.split_first_chunk::<8>()?;
    let (issued_at, rest) = rest.split_first_chunk::<8>()?;
    let (expires_at, rest) = rest.split_first_chunk::<8>()?;
    Some((
        Timestamps {
            created_at: u64::from_be_bytes(*created_at),
            issued_at: u64::from_be_bytes(*issued_at),
            expires_at: u64::from_be_bytes(*expires_at),
        },
        rest,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encoded_len_matches_the_engine() {
        for len in 0..100 {
            assert_eq!(
                encoded_len(len),
                B64.encode(vec![0u8; len]).len(),
                "len {len}"
            );
        }
    }

    #[test]
    fn base64_is_strict() {
        assert_eq!(decode("AAEC").unwrap(), vec![0, 1, 2]);
        assert_eq!(decode("_-8").unwrap(), vec![0xff, 0xef]);
        // Padding, the standard alphabet, non-canonical trailing bits, impossible lengths,
        // whitespace and non-ASCII are all refused.
        for bad in [
            "AA==", "AAE=", "+/8", "AB", "A", "AAAAA", " AAE", "AAE ", "AA\nE", "A£E",
        ] {
            assert_eq!(decode(bad), Err(Rejection::Malformed), "{bad:?}");
        }
        assert_eq!(
            decode(&"A".repeat(MAX_INPUT_LEN + 4)),
            Err(Rejection::Malformed)
        );
    }

    #[test]
    fn times_round_trip_and_short_input() {
        let times = Timestamps {
            created_at: 1,
            issued_at: u64::MAX,
            expires_at: 0x0102_0304,
        };
        let mut buf = Vec::new();
        write_times(&mut buf, times);
        buf.push(9);
        assert_eq!(buf.len(), TIMES_LEN + 1);
        assert_eq!(read_times(&buf), Some((times, &[9u8][..])));
        for len in 0..TIMES_LEN {
            assert_eq!(read_times(&buf[..len]), None);
        }
    }

    #[test]
    fn header_checks_format_and_length() {
        let mut buf = Vec::new();
        write_header(&mut buf, FORMAT_SIGNED_V1, &[1, 2, 3, 4]);
        buf.push(5);
        assert_eq!(
            split_header(&buf, FORMAT_SIGNED_V1),
            Ok((&[1, 2, 3, 4], &[5u8][..]))
        );
        assert_eq!(
            split_header(&buf, FORMAT_ENCRYPTED_V1),
            Err(Rejection::Malformed)
        );
        for len in 0..HEADER_LEN {
            assert_eq!(
                split_header(&buf[..len], FORMAT_SIGNED_V1),
                Err(Rejection::Malformed)
            );
        }
    }
}
