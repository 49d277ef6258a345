//! The primitives SRTP needs, wrapped so each key schedule is expanded once
//! per session and nothing allocates per packet. No primitive is implemented
//! here: AES and HMAC-SHA1 come from RustCrypto (AES-NI and SHA-NI chosen at
//! run time), AES-GCM from ring. Neither `hmac` nor ring clears its key
//! state on drop: the context keeps these in [`Wiped`](super::wipe::Wiped).

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper};
use aes::{Aes128, Aes256};
use ctr::flavors::Ctr128BE;
use ctr::CtrCore;
use hmac::{Hmac, Mac};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
use sha1::Sha1;
use zeroize::Zeroize;

/// An expanded AES key used in counter mode (RFC 3711 AES-CM).
// One per context, used on every packet: inline beats a boxed indirection.
#[allow(clippy::large_enum_variant)]
pub(crate) enum AesCtr {
    Aes128(Aes128),
    Aes256(Aes256),
}

impl AesCtr {
    /// `None` unless `key` is 16 or 32 bytes.
    pub fn new(key: &[u8]) -> Option<Self> {
        match key.len() {
            16 => Aes128::new_from_slice(key).ok().map(Self::Aes128),
            32 => Aes256::new_from_slice(key).ok().map(Self::Aes256),
            _ => None,
        }
    }

    /// XORs the keystream starting at counter block `iv` into `data`.
    #[inline]
    pub fn apply_keystream(&self, iv: &[u8; 16], data: &mut [u8]) {
        match self {
            Self::Aes128(k) => {
                let core = CtrCore::<&Aes128, Ctr128BE>::inner_iv_init(k, iv.into());
                StreamCipherCoreWrapper::from_core(core).apply_keystream(data);
            }
            Self::Aes256(k) => {
                let core = CtrCore::<&Aes256, Ctr128BE>::inner_iv_init(k, iv.into());
                StreamCipherCoreWrapper::from_core(core).apply_keystream(data);
            }
        }
    }
}

/// HMAC-SHA1 with the key's inner and outer pads hashed once; each tag
/// starts from a copy of that state.
#[derive(Clone)]
pub(crate) struct HmacSha1(Hmac<Sha1>);

impl HmacSha1 {
    pub fn new(key: &[u8]) -> Self {
        Self(<Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length"))
    }

    /// HMAC over `data || trailer`.
    #[inline]
    pub fn tag(&self, data: &[u8], trailer: &[u8]) -> [u8; 20] {
        let mut mac = self.0.clone();
        mac.update(data);
        mac.update(trailer);
        mac.finalize().into_bytes().into()
    }
}

/// An expanded AES-GCM key with a 16-byte tag.
pub(crate) struct AesGcm(LessSafeKey);

impl AesGcm {
    /// `None` unless `key` is 16 or 32 bytes.
    pub fn new(key: &[u8]) -> Option<Self> {
        let alg = match key.len() {
            16 => &AES_128_GCM,
            32 => &AES_256_GCM,
            _ => return None,
        };
        UnboundKey::new(alg, key)
            .ok()
            .map(|k| Self(LessSafeKey::new(k)))
    }

    /// Encrypts `data` in place and writes the 16-byte tag to `tag_out`.
    #[inline]
    pub fn seal(&self, nonce: [u8; 12], aad: &[u8], data: &mut [u8], tag_out: &mut [u8]) {
        let tag = self
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), data)
            .expect("SRTP packets are far below GCM's length limit");
        tag_out.copy_from_slice(tag.as_ref());
    }

    /// Verifies and decrypts `data_and_tag` (ciphertext then 16-byte tag) in
    /// place. On failure ring zeroes the ciphertext: the caller restores it.
    #[inline]
    pub fn open(&self, nonce: [u8; 12], aad: &[u8], data_and_tag: &mut [u8]) -> bool {
        self.0
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                data_and_tag,
            )
            .is_ok()
    }
}

/// RFC 3711 §4.3 key derivation with the AES-CM PRF and a key derivation
/// rate of 0: fills `out` with the session key material for `label`.
/// A 12-byte (GCM) master salt is zero-padded to 14 bytes, as libsrtp does.
pub(crate) fn derive(master: &AesCtr, master_salt: &[u8], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..master_salt.len()].copy_from_slice(master_salt);
    iv[7] ^= label;
    out.fill(0);
    master.apply_keystream(&iv, out);
    iv.zeroize();
}
