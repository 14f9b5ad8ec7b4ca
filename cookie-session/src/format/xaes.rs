//! XAES-256-GCM (c2sp.org/XAES-256-GCM) for version 2 of the `encrypted` format: AES-256-GCM
//! with a 192-bit nonce, made of two maintained primitives — the AES-256 block cipher of
//! RustCrypto's `aes` crate for the key derivation and `ring`'s AES-256-GCM for the message.
//!
//! # The construction
//!
//! XAES-256-GCM derives a fresh AES-256-GCM key for every nonce with the counter-mode KDF of
//! NIST SP 800-108r1, keyed by AES-256 itself (CMAC with one block, hence the `K1` subkey):
//!
//! ```text
//! L   = AES-256_K(0^128)
//! K1  = L << 1, XOR 0x87 into the last byte when the top bit of L was set
//! M1  = 0x00 ‖ 0x01 ‖ "X" ‖ 0x00 ‖ N[0..12]
//! M2  = 0x00 ‖ 0x02 ‖ "X" ‖ 0x00 ‖ N[0..12]
//! K_X = AES-256_K(M1 ⊕ K1) ‖ AES-256_K(M2 ⊕ K1)
//! XAES-256-GCM(K, N, aad, m) = AES-256-GCM(K_X, N[12..24], aad, m)
//! ```
//!
//! `K`'s key schedule and `K1` are computed once per key, in [`XaesKey::new`]. The C2SP test
//! vectors and an independent composition of the `aes` and `aes-gcm` crates (tests below, and
//! `fuzz/src/oracle.rs`) pin the output.
//!
//! # One `K_X` per nonce prefix
//!
//! `K_X` depends on `N[0..12]` alone, and building it as a `ring` key (AES key expansion, the
//! GHASH table, `ring` moving its large key types) costs more than sealing a small cookie.
//! So the key does not draw all 24 nonce bytes at random for every seal: it holds a current
//! *prefix* `P` (12 bytes from the CSPRNG) with its `K_X` ready, and each seal's nonce is
//! `P ‖ 12 fresh random bytes`. After [`SEALS_PER_PREFIX`] (2^16) seals a new `P` is drawn
//! and its `K_X` built, under a write lock taken only for that; the threads that cross the
//! limit together rotate once, and a seal reads its prefix and its `K_X` from the same
//! entry under one read lock. The last [`CACHED_PREFIXES`] (16) prefixes keep their `K_X`
//! for opening; any other nonce derives `K_X` for the message as before. Opening never adds
//! to the cache, so a client cannot fill it, and a forged value that copies our prefix is
//! checked under the right `K_X` and fails its tag.
//!
//! The values are still exactly XAES-256-GCM: a reader (another release, the oracle, any
//! C2SP implementation) derives `K_X` from the nonce as always. No format change, same
//! format byte.
//!
//! # Why these crates
//!
//! - `ring`'s AES-256-GCM is assembly (AES-NI with carry-less multiplication, and AVX/MOVBE
//!   where present) and checks the tag in constant time. It was measured against RustCrypto's
//!   `aes-gcm` 0.10 for the message part; `ring` took fewer instructions (the figures are in
//!   `docs/PERFORMANCE.md`, "XAES-256-GCM").
//! - `ring` exposes no raw AES block, so the two derivation blocks come from the `aes` crate
//!   0.8 (AES-NI when the CPU has it, chosen at run time, else its constant-time fixslice
//!   software), already in the build through `aes-gcm` for tests.
//! - The `xaes-256-gcm` crate of RustCrypto exists only as a 0.1 release candidate on the
//!   pre-release `aead` 0.6 / `hybrid-array` stack, while this crate builds on the stable
//!   `cipher` 0.4 / `generic-array` line; a release candidate is not a dependency for security
//!   code, and the composition above is a dozen lines over two stable crates.
//!
//! # Security argument
//!
//! - **Nonces under one `K_X`.** Under one prefix the messages are plain AES-256-GCM under
//!   one `K_X` with uniformly random 96-bit nonces (the last 12 bytes, fresh from the CSPRNG
//!   for every seal), at most 2^16 of them. The chance that two of them repeat a nonce is at
//!   most (2^16)^2 / 2^97 = 2^-65, while NIST SP 800-38D allows random 96-bit IVs up to 2^32
//!   invocations per key (a 2^-33 bound): a `K_X` sees 2^16 times fewer messages than that.
//! - **Distinct `K_X`.** Two different prefixes give two different `K_X` (AES-256 under `K`
//!   is a permutation, and the prefixes enter its input blocks), and prefixes are 96 random
//!   bits: over 2^48 seals (2^32 prefixes) two windows share a prefix with a chance of about
//!   2^64 / 2^97 = 2^-33, and even then they repeat a nonce only if a 96-bit suffix collides
//!   as well. Summing the per-prefix bound over 2^32 prefixes, the chance of any repeated
//!   (`K_X`, nonce) pair after 2^48 seals under one key is at most 2^32 · 2^-65 = 2^-33
//!   (plus about 2^-97 across windows).
//! - **What the cache costs.** With all 192 bits random for every seal (C2SP's use, and this
//!   crate's before the cache) the same 2^48 seals repeat a nonce with a chance of about
//!   2^-97. The cache gives part of that margin away for speed: 2^-33 instead of 2^-97 at
//!   2^48 seals. What is left is the risk NIST SP 800-38D accepts for a *single* AES-GCM key
//!   with random IVs at its 2^32-message limit, reached here only after 2^48 cookies (8.9
//!   million a second for a year) under one secret; at a billion cookies (2^30) the bound is
//!   about 2^-51, and rotating the secret starts it over. Plain AES-GCM with a random 96-bit
//!   nonce would have to stop at 2^32 messages in all.
//! - **What the prefix reveals.** Cookies sealed by the same process within one window of
//!   2^16 seals share their first 12 nonce bytes: an observer who holds two cookies can tell
//!   that the same server instance sealed them at about the same time (within its last
//!   2^16 seals). The prefix is random, so it says nothing of the content, the key or the
//!   other cookies; the rest of the value is as before.
//! - **Key separation.** The XAES key is `HKDF-SHA256(secret, info = "cookie-session/v2/encrypted")`,
//!   a subkey different from version 1's `"cookie-session/v1/encrypted"` XChaCha20 key, and
//!   the AAD starts with the label of its version and the format byte. No key is ever used by
//!   two algorithms, and a value of one version never authenticates as the other.
//! - **Constant time.** With AES-NI and carry-less multiplication (x86-64 AES-NI + PCLMULQDQ,
//!   ARMv8 AES + PMULL) AES and GHASH have no secret-dependent memory access or branch.
//!   Without them both crates fall back to constant-time software (`aes`: fixslicing;
//!   `ring`: a bitsliced AES and a constant-time GHASH), which is several times slower. That
//!   is why the codec only *seals* with XAES-256-GCM where the instructions are present (and
//!   XChaCha20-Poly1305 elsewhere), while it always *opens* both: a value sealed on a server
//!   with AES-NI still opens on one without, just more slowly.
//! - **What a value reveals.** The same as version 1: the format byte, the public key id, the
//!   nonce (whose prefix links cookies of one process and window, above) and the length of
//!   the sealed session. GCM's tag is 16 bytes like Poly1305's, so a version-2 value has
//!   exactly the length of a version-1 value of the same session.
//!
//! # Keys in memory
//!
//! The long-term key's AES schedule and `K1` are wiped when the last clone is dropped
//! (`aes`'s `zeroize` feature); the 32 bytes of each `K_X` are wiped as soon as `ring`'s
//! key is built from them. `ring` does not wipe its own AES-GCM key schedule and GHASH key
//! when they are dropped (its API offers no way to), so the up to 16 cached `K_X` schedules
//! live in memory as long as the codec, and are freed but not overwritten when a prefix
//! leaves the cache or the codec is dropped (as for version 1's ChaCha20 key).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes256;
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use zeroize::{Zeroize, Zeroizing};

pub(crate) use super::xchacha::{OpenError, NONCE_LEN, TAG_LEN};

/// Length of the part of the nonce that selects the derived key.
const KDF_NONCE_LEN: usize = 12;

/// Seals under one nonce prefix (one `K_X`) before a new prefix is drawn: 2^16, so that the
/// random 96-bit GCM nonces under one `K_X` repeat with a chance of at most 2^-65 (module
/// docs, "Security argument").
const SEALS_PER_PREFIX: u32 = 1 << 16;

/// How many of the latest prefixes keep their prepared `K_X` for opening.
const CACHED_PREFIXES: usize = 16;

/// An XAES-256-GCM key: the AES-256 schedule of `K`, the CMAC subkey `K1`, and the prepared
/// `K_X` of the latest nonce prefixes this key sealed with. Cheap to clone (shared); `K`'s
/// schedule and `K1` are wiped when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct XaesKey(Arc<Inner>);

struct Inner {
    /// AES-256 keyed with `K` (wiped on drop by the `aes` crate's `zeroize` feature).
    cipher: Aes256,
    /// `K1 = L << 1 ⊕ (0x87 if msb(L))`, with `L = AES-256_K(0^128)`.
    k1: Zeroizing<[u8; 16]>,
    /// [`SEALS_PER_PREFIX`], smaller in the rotation tests.
    seals_per_prefix: u32,
    /// Written only to rotate the prefix (once per `seals_per_prefix` seals); every seal and
    /// open takes it for reading.
    prefixes: RwLock<Prefixes>,
}

/// The latest prefixes this key sealed with, oldest first; the last one is the current.
struct Prefixes {
    recent: VecDeque<Prepared>,
}

/// One nonce prefix `P` and its AES-256-GCM key `K_X`, ready for `ring`.
struct Prepared {
    prefix: [u8; KDF_NONCE_LEN],
    /// `ring` keeps the AES-256 schedule and GHASH key inside and does not wipe them on drop;
    /// the 32 bytes of `K_X` it was built from are wiped as soon as it is built.
    key: LessSafeKey,
    /// Seals started under this prefix. Only ever compared with `seals_per_prefix`: once it
    /// is reached, every further seal rotates instead of sealing, so the count exceeds the
    /// limit by at most the number of threads sealing at that moment.
    seals: AtomicU32,
}

impl Prefixes {
    fn current(&self) -> &Prepared {
        // `new` puts one in, and `rotate` only removes one after pushing one.
        match self.recent.back() {
            Some(current) => current,
            None => unreachable!("a key always holds its current prefix"),
        }
    }
}

impl XaesKey {
    /// A key from its 32 bytes; computes `K`'s key schedule and `K1` once, and draws the
    /// first nonce prefix.
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self::with_seals_per_prefix(key, SEALS_PER_PREFIX)
    }

    /// [`new`](Self::new) with another rotation limit: the tests cross it without 2^16 seals.
    pub(crate) fn with_seals_per_prefix(key: &[u8; 32], seals_per_prefix: u32) -> Self {
        let cipher = Aes256::new(GenericArray::from_slice(key));
        let mut block = GenericArray::from([0u8; 16]);
        cipher.encrypt_block(&mut block);
        let l = Zeroizing::new(u128::from_be_bytes(block.into()));
        block.as_mut_slice().zeroize();
        // Doubling in GF(2^128); the reduction is applied by a mask, not a branch on a secret bit.
        let k1 = Zeroizing::new(((*l << 1) ^ (0x87 & (*l >> 127).wrapping_neg())).to_be_bytes());
        let mut inner = Inner {
            cipher,
            k1,
            // At least one seal a prefix, or `seal_in_place` would rotate forever.
            seals_per_prefix: seals_per_prefix.max(1),
            prefixes: RwLock::new(Prefixes {
                recent: VecDeque::with_capacity(CACHED_PREFIXES + 1),
            }),
        };
        let first = inner.prepare_fresh();
        inner
            .prefixes
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .recent
            .push_back(first);
        Self(Arc::new(inner))
    }

    /// Encrypts `in_out` in place under a nonce this key chooses: the current prefix
    /// followed by 12 fresh random bytes. Returns the nonce and the tag.
    pub(crate) fn seal_in_place(
        &self,
        aad: &[u8],
        in_out: &mut [u8],
    ) -> ([u8; NONCE_LEN], [u8; TAG_LEN]) {
        loop {
            {
                let prefixes = self.read_prefixes();
                let current = prefixes.current();
                // Relaxed is enough: the count only has to be exact per prefix, and the
                // prefix and its key are published by the lock, not by this counter.
                if current.seals.fetch_add(1, Ordering::Relaxed) < self.0.seals_per_prefix {
                    let mut nonce = [0u8; NONCE_LEN];
                    nonce[..KDF_NONCE_LEN].copy_from_slice(&current.prefix);
                    rand::thread_rng().fill_bytes(&mut nonce[KDF_NONCE_LEN..]);
                    // The nonce's prefix and the key are the same entry's, read under one
                    // lock: a seal never uses a K_X with another prefix than its nonce's.
                    let tag = seal(&current.key, &nonce, aad, in_out);
                    return (nonce, tag);
                }
                // Spent: rotate (below, without the read lock) and seal under the new one.
                let spent = current.prefix;
                drop(prefixes);
                self.rotate(&spent);
            }
        }
    }

    /// Encrypts `in_out` in place under the given nonce and returns the tag; derives `K_X`
    /// for this message alone (the known-answer tests pin the format with it).
    pub(crate) fn seal_with_nonce(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> [u8; TAG_LEN] {
        self.with_message_key(nonce, |aead| seal(aead, nonce, aad, in_out))
    }

    /// Checks the tag at the end of `in_out` (ciphertext ‖ tag) and decrypts the ciphertext
    /// in place; returns the plaintext's length. On a bad tag nothing is returned decrypted.
    ///
    /// A nonce with one of the last [`CACHED_PREFIXES`] prefixes this key sealed with uses
    /// that prefix's prepared `K_X`; any other derives `K_X` for this message. Nothing is
    /// added to the cache here, so values from outside cannot fill it.
    pub(crate) fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<usize, OpenError> {
        {
            let prefixes = self.read_prefixes();
            // The prefix is public (it is in the value), so a plain comparison is fine.
            if let Some(hit) = prefixes
                .recent
                .iter()
                .rev()
                .find(|p| p.prefix[..] == nonce[..KDF_NONCE_LEN])
            {
                return open(&hit.key, nonce, aad, in_out);
            }
        }
        self.with_message_key(nonce, |aead| open(aead, nonce, aad, in_out))
    }

    fn read_prefixes(&self) -> std::sync::RwLockReadGuard<'_, Prefixes> {
        // A panic while the lock was held cannot leave `Prefixes` half-changed (`rotate`
        // builds the new entry before it changes anything), so a poisoned lock is still good.
        self.0
            .prefixes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Draws a new current prefix, unless another thread already replaced `spent`: threads
    /// that cross the limit together rotate once.
    #[cold]
    fn rotate(&self, spent: &[u8; KDF_NONCE_LEN]) {
        let mut prefixes = self
            .0
            .prefixes
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if prefixes.current().prefix != *spent {
            return;
        }
        let fresh = self.0.prepare_fresh();
        prefixes.recent.push_back(fresh);
        if prefixes.recent.len() > CACHED_PREFIXES {
            prefixes.recent.pop_front();
        }
    }

    /// Calls `f` with the AES-256-GCM key `K_X` of one message's nonce, derived for it (the
    /// path of nonces whose prefix is not cached, and of given nonces).
    #[inline(always)]
    fn with_message_key<R>(&self, nonce: &[u8; NONCE_LEN], f: impl FnOnce(&LessSafeKey) -> R) -> R {
        let mut prefix = [0u8; KDF_NONCE_LEN];
        prefix.copy_from_slice(&nonce[..KDF_NONCE_LEN]);
        let key = self.0.message_key(&prefix);
        f(&key)
    }
}

impl Inner {
    /// A fresh random prefix and its `K_X`.
    fn prepare_fresh(&self) -> Prepared {
        let mut prefix = [0u8; KDF_NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut prefix);
        Prepared {
            prefix,
            key: self.message_key(&prefix),
            seals: AtomicU32::new(0),
        }
    }

    /// `K_X` for the nonce prefix `prefix`, as a `ring` key; the 32 bytes are wiped once it
    /// is built.
    #[inline(always)]
    fn message_key(&self, prefix: &[u8; KDF_NONCE_LEN]) -> LessSafeKey {
        let mut blocks = [GenericArray::from([0u8; 16]); 2];
        for (counter, block) in (1u8..).zip(blocks.iter_mut()) {
            block[1] = counter;
            block[2] = b'X';
            block[4..].copy_from_slice(prefix);
            for (byte, k) in block.iter_mut().zip(self.k1.iter()) {
                *byte ^= k;
            }
        }
        // Both blocks in one call, so the AES-NI backend pipelines them.
        self.cipher.encrypt_blocks(&mut blocks);
        let mut kx = Zeroizing::new([0u8; 32]);
        kx[..16].copy_from_slice(&blocks[0]);
        kx[16..].copy_from_slice(&blocks[1]);
        for block in &mut blocks {
            block.as_mut_slice().zeroize();
        }
        UnboundKey::new(&AES_256_GCM, &kx[..])
            .map(LessSafeKey::new)
            // ring refuses only a key of the wrong length; K_X is 32 bytes.
            .expect("K_X is a 32-byte AES-256 key")
    }
}

/// AES-256-GCM under `K_X` with the nonce's last 12 bytes.
#[inline(always)]
fn seal(
    key: &LessSafeKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    in_out: &mut [u8],
) -> [u8; TAG_LEN] {
    let tag = key
        .seal_in_place_separate_tag(inner_nonce(nonce), Aad::from(aad), in_out)
        // ring refuses only messages over AES-GCM's 64 GiB limit; a cookie is < 32 KiB.
        .expect("a cookie payload is far below the AES-GCM message limit");
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(tag.as_ref());
    out
}

#[inline(always)]
fn open(
    key: &LessSafeKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    in_out: &mut [u8],
) -> Result<usize, OpenError> {
    key.open_in_place(inner_nonce(nonce), Aad::from(aad), in_out)
        .map(|plaintext| plaintext.len())
        .map_err(|_| OpenError)
}

/// `N[12..24]`, the AES-GCM nonce under `K_X`.
fn inner_nonce(nonce: &[u8; NONCE_LEN]) -> Nonce {
    let mut inner = [0u8; NONCE_LEN - KDF_NONCE_LEN];
    inner.copy_from_slice(&nonce[KDF_NONCE_LEN..]);
    Nonce::assume_unique_for_key(inner)
}

/// Whether this CPU seals XAES-256-GCM in constant time and at full speed: AES and carry-less
/// multiplication instructions (checked at run time, once per codec).
pub(crate) fn hardware_accelerated() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("aes") && std::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::format::xchacha::{assert_agrees_with_reference, assert_changes_refused, unhex};

    /// The two test vectors of c2sp.org/XAES-256-GCM ("Test vectors").
    #[test]
    fn c2sp_test_vectors() {
        let nonce: &[u8; 24] = b"ABCDEFGHIJKLMNOPQRSTUVWX";
        for (key, aad, ciphertext, tag) in [
            (
                [0x01; 32],
                &b""[..],
                "ce546ef63c9cc60765923609",
                "b33a9a1974e96e52daf2fcf7075e2271",
            ),
            (
                [0x03; 32],
                b"c2sp.org/XAES-256-GCM",
                "986ec1832593df5443a17943",
                "7fd083bf3fdb41abd740a21f71eb769d",
            ),
        ] {
            let key = XaesKey::new(&key);
            let mut buf = b"XAES-256-GCM".to_vec();
            let got_tag = key.seal_with_nonce(nonce, aad, &mut buf);
            assert_eq!(buf, unhex(ciphertext));
            assert_eq!(got_tag.to_vec(), unhex(tag));

            buf.extend_from_slice(&got_tag);
            let len = key.open_in_place(nonce, aad, &mut buf).unwrap();
            assert_eq!(&buf[..len], b"XAES-256-GCM");
        }
    }

    /// The accumulated randomized test of c2sp.org/XAES-256-GCM ("Accumulated randomized
    /// tests"): `iterations` messages whose key, nonce, plaintext and additional data (each
    /// of the last two 0 to 255 bytes, its length first) are read from one SHAKE-128 stream of
    /// the empty input; each is sealed, ciphertext and tag go into a second SHAKE-128, and
    /// each opens again. Returns the first 32 bytes of that hash.
    fn c2sp_accumulated(iterations: usize) -> Vec<u8> {
        use sha3::digest::{ExtendableOutput, Update, XofReader};

        let mut stream = sha3::Shake128::default().finalize_xof();
        let mut hash = sha3::Shake128::default();
        let mut read = |len: usize| {
            let mut bytes = vec![0u8; len];
            stream.read(&mut bytes);
            bytes
        };
        for _ in 0..iterations {
            let key: [u8; 32] = read(32).try_into().unwrap();
            let nonce: [u8; 24] = read(24).try_into().unwrap();
            let len = read(1)[0];
            let message = read(len.into());
            let len = read(1)[0];
            let aad = read(len.into());
            let key = XaesKey::new(&key);
            let mut buf = message.clone();
            let tag = key.seal_with_nonce(&nonce, &aad, &mut buf);
            buf.extend_from_slice(&tag);
            hash.update(&buf);
            let opened = key.open_in_place(&nonce, &aad, &mut buf).unwrap();
            assert_eq!(&buf[..opened], &message[..]);
        }
        let mut out = vec![0u8; 32];
        hash.finalize_xof().read(&mut out);
        out
    }

    #[test]
    fn c2sp_accumulated_10_000() {
        // The stream's first bytes, as the specification gives them: the right SHAKE-128.
        use sha3::digest::{ExtendableOutput, XofReader};
        let mut first = [0u8; 16];
        sha3::Shake128::default().finalize_xof().read(&mut first);
        assert_eq!(first.to_vec(), unhex("7f9c2ba4e88f827d616045507605853e"));
        assert_eq!(
            c2sp_accumulated(10_000),
            unhex("e6b9edf2df6cec60c8cbd864e2211b597fb69a529160cd040d56c0c210081939")
        );
    }

    /// The specification's longer run: `cargo test --release -p cookie-session --lib
    /// c2sp_accumulated_1_000_000 -- --ignored` (5 s in release, minutes in a debug build;
    /// passed on 2026-12-02).
    #[test]
    #[ignore = "minutes in a debug build; run with --release --ignored"]
    fn c2sp_accumulated_1_000_000() {
        assert_eq!(
            c2sp_accumulated(1_000_000),
            unhex("2163ae1445985a30b60585ee67daa55674df06901b890593e824b8a7c885ab15")
        );
    }

    /// The same construction composed independently, from the `aes` crate's block cipher and
    /// the `aes-gcm` crate's AEAD (not `ring`), written straight from the C2SP text.
    fn reference_seal(key: &[u8; 32], nonce: &[u8; 24], aad: &[u8], msg: &[u8]) -> Vec<u8> {
        use aes_gcm::aead::{Aead, Payload};
        let aes = Aes256::new(key.into());
        let mut l = GenericArray::from([0u8; 16]);
        aes.encrypt_block(&mut l);
        let l = u128::from_be_bytes(l.into());
        let k1 = (l << 1) ^ if l >> 127 == 1 { 0x87 } else { 0 };
        let mut kx = Vec::new();
        for counter in [1u8, 2] {
            let mut m = [0u8; 16];
            m[1] = counter;
            m[2] = b'X';
            m[4..].copy_from_slice(&nonce[..12]);
            let mut block = GenericArray::from((u128::from_be_bytes(m) ^ k1).to_be_bytes());
            aes.encrypt_block(&mut block);
            kx.extend_from_slice(&block);
        }
        let gcm = aes_gcm::Aes256Gcm::new_from_slice(&kx).unwrap();
        gcm.encrypt(
            aes_gcm::Nonce::from_slice(&nonce[12..]),
            Payload { msg, aad },
        )
        .unwrap()
    }

    /// Same bytes as the independent composition for random keys (both values of the top bit
    /// of `L` occur), nonces and associated data, at every length around AES's 16-byte blocks
    /// and beyond ring's 8-block stride, both ways.
    #[test]
    fn agrees_with_an_independent_composition() {
        assert_agrees_with_reference(
            (0..=300).chain([1000, 4096]),
            XaesKey::new,
            XaesKey::seal_with_nonce,
            XaesKey::open_in_place,
            reference_seal,
        );
    }

    /// Both branches of `K1`'s reduction: keys whose `L` has its top bit clear and set.
    #[test]
    fn k1_reduction_both_ways() {
        let mut seen = [false; 2];
        for seed in 0u8..=255 {
            let key = [seed; 32];
            let mut l = GenericArray::from([0u8; 16]);
            Aes256::new(&key.into()).encrypt_block(&mut l);
            seen[usize::from(l[0] >> 7)] = true;
            let nonce = [seed ^ 0x5a; NONCE_LEN];
            let mut sealed = b"k1".to_vec();
            let tag = XaesKey::new(&key).seal_with_nonce(&nonce, b"", &mut sealed);
            sealed.extend_from_slice(&tag);
            assert_eq!(sealed, reference_seal(&key, &nonce, b"", b"k1"), "{seed}");
        }
        assert_eq!(seen, [true, true]);
    }

    /// Any changed byte of the tag, ciphertext, nonce (either half) or associated data is
    /// refused, and so is another key or a truncated value.
    #[test]
    fn changes_are_refused() {
        let key = XaesKey::new(&[7; 32]);
        let nonce = [9; NONCE_LEN];
        let mut sealed = b"some session".to_vec();
        let tag = key.seal_with_nonce(&nonce, b"aad", &mut sealed);
        sealed.extend_from_slice(&tag);
        assert_changes_refused(
            &key,
            &XaesKey::new(&[8; 32]),
            &nonce,
            &sealed,
            |k, n, a, b| k.open_in_place(n, a, b),
        );
    }

    /// The prefixes whose `K_X` a key holds, oldest first.
    fn cached_prefixes(key: &XaesKey) -> Vec<[u8; KDF_NONCE_LEN]> {
        key.read_prefixes()
            .recent
            .iter()
            .map(|p| p.prefix)
            .collect()
    }

    /// One sealed value: the nonce, the AAD, the message and ciphertext ‖ tag.
    type Sealed = ([u8; NONCE_LEN], Vec<u8>, Vec<u8>, Vec<u8>);

    /// Seals `count` random messages with `key`.
    fn seal_many(key: &XaesKey, count: usize) -> Vec<Sealed> {
        use rand::Rng;

        let mut rng = rand::thread_rng();
        (0..count)
            .map(|i| {
                let aad = vec![rng.gen::<u8>(); i % 7];
                let message: Vec<u8> = (0..rng.gen_range(0..100)).map(|_| rng.gen()).collect();
                let mut sealed = message.clone();
                let (nonce, tag) = key.seal_in_place(&aad, &mut sealed);
                sealed.extend_from_slice(&tag);
                (nonce, aad, message, sealed)
            })
            .collect()
    }

    /// After the limit the prefix changes; values of the last 16 prefixes open with their
    /// cached `K_X`, older ones with a derived one, and every value is the independent
    /// composition's bytes for its nonce. Opening caches nothing.
    #[test]
    fn prefix_rotation() {
        let bytes = [0x42; 32];
        let key = XaesKey::with_seals_per_prefix(&bytes, 4);
        let sealed = seal_many(&key, 4 * 20);

        let prefixes: Vec<[u8; KDF_NONCE_LEN]> = sealed
            .iter()
            .map(|(nonce, ..)| nonce[..KDF_NONCE_LEN].try_into().unwrap())
            .collect();
        for (group, chunk) in prefixes.chunks(4).enumerate() {
            assert!(chunk.iter().all(|p| *p == chunk[0]), "group {group}");
            if group > 0 {
                assert_ne!(chunk[0], prefixes[(group - 1) * 4], "group {group}");
            }
        }
        let groups: Vec<_> = prefixes.iter().step_by(4).copied().collect();
        // The last 16 prefixes are cached (the 20th became current at seal 77, and the
        // 81st seal would rotate again).
        assert_eq!(cached_prefixes(&key), groups[4..]);

        // A fresh key of the same bytes has none of these prefixes: it derives every K_X.
        let other = XaesKey::new(&bytes);
        let before = cached_prefixes(&other);
        for (nonce, aad, message, value) in &sealed {
            assert_eq!(value, &reference_seal(&bytes, nonce, aad, message));
            for opener in [&key, &other] {
                let mut buf = value.clone();
                let len = opener.open_in_place(nonce, aad, &mut buf).unwrap();
                assert_eq!(&buf[..len], &message[..]);
            }
        }
        assert_eq!(cached_prefixes(&other), before, "open caches nothing");
        assert_eq!(cached_prefixes(&key), groups[4..]);
    }

    /// The C2SP vectors through the cached path: a key whose cache holds the vectors' prefix
    /// opens them with the prepared `K_X`.
    #[test]
    fn c2sp_test_vectors_through_the_cache() {
        let nonce: &[u8; 24] = b"ABCDEFGHIJKLMNOPQRSTUVWX";
        for (key, aad, sealed) in [
            (
                [0x01; 32],
                &b""[..],
                "ce546ef63c9cc60765923609b33a9a1974e96e52daf2fcf7075e2271",
            ),
            (
                [0x03; 32],
                b"c2sp.org/XAES-256-GCM",
                "986ec1832593df5443a179437fd083bf3fdb41abd740a21f71eb769d",
            ),
        ] {
            let key = XaesKey::new(&key);
            {
                let mut prefixes = key.0.prefixes.write().unwrap();
                let prefix = nonce[..KDF_NONCE_LEN].try_into().unwrap();
                let key_x = key.0.message_key(&prefix);
                prefixes.recent.push_back(Prepared {
                    prefix,
                    key: key_x,
                    seals: AtomicU32::new(0),
                });
            }
            let mut buf = unhex(sealed);
            let len = key.open_in_place(nonce, aad, &mut buf).unwrap();
            assert_eq!(&buf[..len], b"XAES-256-GCM");
            // And a seal under that current prefix is still the composition's bytes.
            let mut msg = b"XAES-256-GCM".to_vec();
            let (n, tag) = key.seal_in_place(aad, &mut msg);
            assert_eq!(&n[..KDF_NONCE_LEN], b"ABCDEFGHIJKL");
            msg.extend_from_slice(&tag);
            let bytes = if aad.is_empty() {
                [0x01; 32]
            } else {
                [0x03; 32]
            };
            assert_eq!(msg, reference_seal(&bytes, &n, aad, b"XAES-256-GCM"));
        }
    }

    /// Threads sealing at once across many rotations: every value opens and is the
    /// composition's bytes for its nonce (so each seal used its own prefix's K_X), no nonce
    /// repeats, and no prefix seals more than the limit.
    #[test]
    fn concurrent_seals_across_rotations() {
        let bytes = [0x17; 32];
        let key = XaesKey::with_seals_per_prefix(&bytes, 8);
        let all: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| seal_many(&key, 300)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        assert_eq!(all.len(), 1200);
        let mut per_prefix = std::collections::HashMap::<[u8; 12], usize>::new();
        let mut nonces = std::collections::HashSet::new();
        for (nonce, aad, message, value) in &all {
            assert!(nonces.insert(*nonce));
            *per_prefix
                .entry(nonce[..KDF_NONCE_LEN].try_into().unwrap())
                .or_default() += 1;
            assert_eq!(value, &reference_seal(&bytes, nonce, aad, message));
            let mut buf = value.clone();
            let len = key.open_in_place(nonce, aad, &mut buf).unwrap();
            assert_eq!(&buf[..len], &message[..]);
        }
        assert!(per_prefix.values().all(|&n| n <= 8), "{per_prefix:?}");
        // 1200 seals at 8 a prefix: at least 150 prefixes, so the rotations raced.
        assert!(per_prefix.len() >= 150, "{}", per_prefix.len());
        assert_eq!(cached_prefixes(&key).len(), CACHED_PREFIXES);
    }

    /// A value with the current (cached) prefix but any byte changed — tag, ciphertext,
    /// either half of the nonce, the AAD — is refused under the cached K_X, and so is a
    /// forged nonce that keeps our prefix.
    #[test]
    fn changes_under_the_current_prefix_are_refused() {
        let key = XaesKey::new(&[5; 32]);
        let mut sealed = b"a session under the cached key".to_vec();
        let (nonce, tag) = key.seal_in_place(b"aad", &mut sealed);
        sealed.extend_from_slice(&tag);
        let ours: [u8; KDF_NONCE_LEN] = nonce[..KDF_NONCE_LEN].try_into().unwrap();
        assert_eq!(cached_prefixes(&key), [ours]);
        assert!(key
            .open_in_place(&nonce, b"aad", &mut sealed.clone())
            .is_ok());

        for i in 0..sealed.len() {
            let mut changed = sealed.clone();
            changed[i] ^= 0x80;
            assert_eq!(
                key.open_in_place(&nonce, b"aad", &mut changed),
                Err(OpenError)
            );
        }
        for i in 0..NONCE_LEN {
            let mut other = nonce;
            other[i] ^= 0x80;
            assert_eq!(
                key.open_in_place(&other, b"aad", &mut sealed.clone()),
                Err(OpenError)
            );
        }
        let mut forged = nonce;
        rand::thread_rng().fill_bytes(&mut forged[KDF_NONCE_LEN..]);
        assert_eq!(
            key.open_in_place(&forged, b"aad", &mut sealed.clone()),
            Err(OpenError)
        );
        assert_eq!(
            key.open_in_place(&nonce, b"aaD", &mut sealed.clone()),
            Err(OpenError)
        );
        assert_eq!(cached_prefixes(&key), [ours]);
    }
}
