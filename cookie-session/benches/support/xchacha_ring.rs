//! The benchmark floor of the `encrypted` format's AEAD, shared by `benches/codec.rs` and
//! `bench/src/codec_loop.rs` (two workspaces, so a `#[path]` module rather than a crate).

use ring::aead::{LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};

/// XChaCha20-Poly1305 as the `encrypted` format computes it (`src/format/xchacha.rs`):
/// HChaCha20 from `chacha20`, then `ring`'s ChaCha20-Poly1305 with the message's subkey.
pub fn xchacha_ring(key: &[u8; 32], nonce: &[u8; 24]) -> (LessSafeKey, Nonce) {
    use chacha20::cipher::{consts::U10, generic_array::GenericArray};
    let subkey = chacha20::hchacha::<U10>(
        GenericArray::from_slice(key),
        GenericArray::from_slice(&nonce[..16]),
    );
    let aead = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &subkey).expect("32 bytes"));
    let mut inner = [0u8; 12];
    inner[4..].copy_from_slice(&nonce[16..]);
    (aead, Nonce::assume_unique_for_key(inner))
}
