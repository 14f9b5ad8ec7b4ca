//! XChaCha20-Poly1305 for the `encrypted` format, from two maintained primitives: HChaCha20
//! from RustCrypto's `chacha20` and the ChaCha20-Poly1305 AEAD of RFC 8439 from `ring`.
//!
//! # Why not the `chacha20poly1305` crate
//!
//! It computes exactly the same function, but its Poly1305 is slow on x86-64: `poly1305` 0.8
//! picks an AVX2 backend at run time whose helpers are not inlined, and a seal of a 66-byte
//! session took ~2.1 µs (0.65 µs with `--cfg poly1305_force_soft`, a flag only the
//! application's build can set). `ring`'s assembly ChaCha20-Poly1305 is ~0.25 µs for the same
//! session, with no build flag (figures in `docs/PERFORMANCE.md`). `ring` has no
//! XChaCha20, so the extended nonce is added here, as draft-irtf-cfrg-xchacha-03 §2.3 defines
//! it:
//!
//! ```text
//! subkey = HChaCha20(key, nonce[0..16])
//! XChaCha20-Poly1305(key, nonce, aad, m) = ChaCha20-Poly1305(subkey, 0^4 ‖ nonce[16..24], aad, m)
//! ```
//!
//! The output is byte-for-byte the `chacha20poly1305` crate's: `encrypted.rs`'s known-answer
//! test (values computed in Python) and its layout test (decrypting with that crate) pin it,
//! and so does the fuzzing oracle (`fuzz/src/oracle.rs`), which opens with that crate.
//!
//! The tag is checked by `ring` in constant time. Each per-message subkey is wiped after use;
//! the long-term key is wiped when its last copy is dropped.

use std::sync::Arc;

use chacha20::cipher::consts::U10;
use chacha20::cipher::generic_array::GenericArray;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use zeroize::{Zeroize, Zeroizing};

/// Length of the extended nonce.
pub(crate) const NONCE_LEN: usize = 24;

/// Length of the Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;

/// An XChaCha20-Poly1305 key. Cheap to clone (shared); wiped when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct XChaChaKey(Arc<Zeroizing<[u8; 32]>>);

/// The tag did not verify: wrong key, nonce, associated data or a changed byte.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct OpenError;

impl XChaChaKey {
    /// A key from its 32 bytes.
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self(Arc::new(Zeroizing::new(*key)))
    }

    /// Encrypts `in_out` in place and returns the tag.
    pub(crate) fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> [u8; TAG_LEN] {
        self.with_message_key(nonce, |aead, inner_nonce| {
            let tag = aead
                .seal_in_place_separate_tag(inner_nonce, Aad::from(aad), in_out)
                // ring refuses only messages over ChaCha20's 256 GiB limit; a cookie is < 32 KiB.
                .expect("a cookie payload is far below the ChaCha20-Poly1305 message limit");
            let mut out = [0u8; TAG_LEN];
            out.copy_from_slice(tag.as_ref());
            out
        })
    }

    /// Checks the tag at the end of `in_out` (ciphertext ‖ tag) and decrypts the ciphertext
    /// in place; returns the plaintext's length. On a bad tag nothing is returned decrypted.
    pub(crate) fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<usize, OpenError> {
        self.with_message_key(nonce, |aead, inner_nonce| {
            aead.open_in_place(inner_nonce, Aad::from(aad), in_out)
                .map(|plaintext| plaintext.len())
                .map_err(|_| OpenError)
        })
    }

    /// Calls `f` with the ChaCha20-Poly1305 key and nonce of one message
    /// (draft-irtf-cfrg-xchacha-03 §2.3). A callback rather than a return value: `ring`'s key
    /// type is large and would be copied on the way out.
    #[inline(always)]
    fn with_message_key<R>(
        &self,
        nonce: &[u8; NONCE_LEN],
        f: impl FnOnce(&LessSafeKey, Nonce) -> R,
    ) -> R {
        let (prefix, suffix) = nonce.split_at(16);
        let mut subkey = chacha20::hchacha::<U10>(
            GenericArray::from_slice(&self.0[..]),
            GenericArray::from_slice(prefix),
        );
        let key = UnboundKey::new(&CHACHA20_POLY1305, &subkey)
            .map(LessSafeKey::new)
            // ring refuses only a key of the wrong length; HChaCha20 returns 32 bytes.
            .expect("HChaCha20 yields a 32-byte ChaCha20 key");
        subkey.as_mut_slice().zeroize();
        let mut inner = [0u8; 12];
        inner[4..].copy_from_slice(suffix);
        f(&key, Nonce::assume_unique_for_key(inner))
    }
}

/// Hex digits to bytes, for the test vectors here and in `format/xaes.rs`.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The checks of both AEADs' agreement tests (here and in `format/xaes.rs`): for random
/// keys, nonces and associated data (`len % 41` bytes) at every message length of `lengths`,
/// `seal` gives exactly the bytes of the independent `reference` (ciphertext ‖ tag), and
/// `open` takes them back to the message.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn assert_agrees_with_reference<K>(
    lengths: impl IntoIterator<Item = usize>,
    new_key: impl Fn(&[u8; 32]) -> K,
    seal: impl Fn(&K, &[u8; NONCE_LEN], &[u8], &mut [u8]) -> [u8; TAG_LEN],
    open: impl Fn(&K, &[u8; NONCE_LEN], &[u8], &mut [u8]) -> Result<usize, OpenError>,
    reference: impl Fn(&[u8; 32], &[u8; NONCE_LEN], &[u8], &[u8]) -> Vec<u8>,
) {
    use rand::RngCore;

    let mut rng = rand::thread_rng();
    for len in lengths {
        let mut key = [0u8; 32];
        let mut nonce = [0u8; NONCE_LEN];
        let mut aad = vec![0u8; len % 41];
        let mut message = vec![0u8; len];
        for buf in [&mut key[..], &mut nonce, &mut aad, &mut message] {
            rng.fill_bytes(buf);
        }
        let expected = reference(&key, &nonce, &aad, &message);

        let ours = new_key(&key);
        let mut sealed = message.clone();
        let tag = seal(&ours, &nonce, &aad, &mut sealed);
        sealed.extend_from_slice(&tag);
        assert_eq!(sealed, expected, "length {len}");

        let opened = open(&ours, &nonce, &aad, &mut sealed).unwrap();
        assert_eq!(&sealed[..opened], &message[..], "length {len}");
    }
}

/// The checks of both AEADs' `changes_are_refused` tests (here and in `format/xaes.rs`):
/// `sealed` (ciphertext ‖ tag of `nonce` and the associated data `b"aad"`) opens under no
/// changed byte of itself, no changed byte of the nonce, other associated data, the `other`
/// key, or a truncation.
#[cfg(test)]
pub(crate) fn assert_changes_refused<K>(
    key: &K,
    other: &K,
    nonce: &[u8; NONCE_LEN],
    sealed: &[u8],
    open: impl Fn(&K, &[u8; NONCE_LEN], &[u8], &mut [u8]) -> Result<usize, OpenError>,
) {
    for i in 0..sealed.len() {
        let mut changed = sealed.to_vec();
        changed[i] ^= 1;
        assert_eq!(
            open(key, nonce, b"aad", &mut changed),
            Err(OpenError),
            "byte {i}"
        );
    }
    for i in 0..NONCE_LEN {
        let mut changed = *nonce;
        changed[i] ^= 1;
        assert_eq!(
            open(key, &changed, b"aad", &mut sealed.to_vec()),
            Err(OpenError),
            "nonce byte {i}"
        );
    }
    assert_eq!(
        open(key, nonce, b"aaD", &mut sealed.to_vec()),
        Err(OpenError)
    );
    assert_eq!(
        open(other, nonce, b"aad", &mut sealed.to_vec()),
        Err(OpenError)
    );
    assert_eq!(
        open(key, nonce, b"aad", &mut sealed[..TAG_LEN - 1].to_vec()),
        Err(OpenError)
    );
    // The unchanged value opens: every refusal above is the change's.
    assert!(open(key, nonce, b"aad", &mut sealed.to_vec()).is_ok());
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The AEAD test vector of draft-irtf-cfrg-xchacha-03, appendix A.3.1.
    #[test]
    fn draft_xchacha_test_vector() {
        let key: [u8; 32] =
            unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
                .try_into()
                .unwrap();
        let nonce: [u8; 24] = unhex("404142434445464748494a4b4c4d4e4f5051525354555657")
            .try_into()
            .unwrap();
        let aad = unhex("50515253c0c1c2c3c4c5c6c7");
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let ciphertext = unhex(concat!(
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb",
            "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452",
            "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9",
            "21f9664c97637da9768812f615c68b13b52e"
        ));
        let tag = unhex("c0875924c1c7987947deafd8780acf49");

        let key = XChaChaKey::new(&key);
        let mut buf = plaintext.to_vec();
        let got_tag = key.seal_in_place(&nonce, &aad, &mut buf);
        assert_eq!(buf, ciphertext);
        assert_eq!(got_tag.to_vec(), tag);

        buf.extend_from_slice(&got_tag);
        let len = key.open_in_place(&nonce, &aad, &mut buf).unwrap();
        assert_eq!(&buf[..len], plaintext);
    }

    /// Same bytes as the `chacha20poly1305` crate (an independent implementation) for random
    /// keys, nonces and associated data, at every message length around ChaCha20's 64-byte
    /// blocks and Poly1305's 16-byte blocks, both ways.
    #[test]
    fn agrees_with_the_chacha20poly1305_crate() {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};

        assert_agrees_with_reference(
            (0..=200).chain([1000, 4096]),
            XChaChaKey::new,
            XChaChaKey::seal_in_place,
            XChaChaKey::open_in_place,
            |key, nonce, aad, msg| {
                let theirs = chacha20poly1305::XChaCha20Poly1305::new(key.into());
                theirs.encrypt(nonce.into(), Payload { msg, aad }).unwrap()
            },
        );
    }

    /// Any changed byte of the tag, ciphertext, nonce or associated data is refused.
    #[test]
    fn changes_are_refused() {
        let key = XChaChaKey::new(&[7; 32]);
        let nonce = [9; NONCE_LEN];
        let mut sealed = b"some session".to_vec();
        let tag = key.seal_in_place(&nonce, b"aad", &mut sealed);
        sealed.extend_from_slice(&tag);
        assert_changes_refused(
            &key,
            &XChaChaKey::new(&[8; 32]),
            &nonce,
            &sealed,
            |k, n, a, b| k.open_in_place(n, a, b),
        );
    }
}
