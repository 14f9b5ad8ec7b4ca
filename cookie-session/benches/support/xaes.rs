//! XAES-256-GCM (c2sp.org/XAES-256-GCM) for the benchmarks, shared by `benches/codec.rs` and
//! `bench/src/codec_loop.rs` (two workspaces, so a `#[path]` module rather than a crate): the
//! key derivation from the `aes` block cipher, as `src/format/xaes.rs` computes it, and the
//! message under either `ring`'s AES-256-GCM (what the format uses) or RustCrypto's
//! `aes-gcm` 0.10 (the alternative it was measured against).

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes256;
use ring::aead::{LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

/// `K`'s AES-256 schedule and the CMAC subkey `K1`, computed once per key.
pub struct Xaes {
    aes: Aes256,
    k1: [u8; 16],
}

impl Xaes {
    /// Precomputes `K`'s key schedule and `K1 = L << 1 ⊕ (0x87 if msb(L))`, `L = AES_K(0)`.
    pub fn new(key: &[u8; 32]) -> Self {
        let aes = Aes256::new(GenericArray::from_slice(key));
        let mut l = GenericArray::from([0u8; 16]);
        aes.encrypt_block(&mut l);
        let l = u128::from_be_bytes(l.into());
        let k1 = ((l << 1) ^ (0x87 & (l >> 127).wrapping_neg())).to_be_bytes();
        Self { aes, k1 }
    }

    /// The message key `K_X = AES_K(M1 ⊕ K1) ‖ AES_K(M2 ⊕ K1)` of a 24-byte nonce.
    pub fn message_key(&self, nonce: &[u8; 24]) -> [u8; 32] {
        let mut blocks = [GenericArray::from([0u8; 16]); 2];
        for (counter, block) in (1u8..).zip(blocks.iter_mut()) {
            block[1] = counter;
            block[2] = b'X';
            block[4..].copy_from_slice(&nonce[..12]);
            for (byte, k) in block.iter_mut().zip(self.k1) {
                *byte ^= k;
            }
        }
        self.aes.encrypt_blocks(&mut blocks);
        let mut kx = [0u8; 32];
        kx[..16].copy_from_slice(&blocks[0]);
        kx[16..].copy_from_slice(&blocks[1]);
        kx
    }

    /// `ring`'s AES-256-GCM keyed for this nonce, and its 12-byte nonce.
    pub fn ring(&self, nonce: &[u8; 24]) -> (LessSafeKey, Nonce) {
        let aead = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.message_key(nonce)).expect("32 bytes"),
        );
        let mut inner = [0u8; 12];
        inner.copy_from_slice(&nonce[12..]);
        (aead, Nonce::assume_unique_for_key(inner))
    }

    /// RustCrypto's `aes-gcm` keyed for this nonce (the nonce is `nonce[12..]`).
    pub fn aes_gcm(&self, nonce: &[u8; 24]) -> aes_gcm::Aes256Gcm {
        aes_gcm::Aes256Gcm::new(&self.message_key(nonce).into())
    }
}
