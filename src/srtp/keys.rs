//! Session keys of one direction's RTP or RTCP, derived from the master key.

use super::crypto::{derive, AesCtr, AesGcm, HmacSha1};
use super::Profile;
use zeroize::Zeroizing;

/// RFC 3711 §4.3.2 labels: (encryption, authentication, salt) for RTP and RTCP.
pub(crate) const RTP_LABELS: (u8, u8, u8) = (0, 1, 2);
pub(crate) const RTCP_LABELS: (u8, u8, u8) = (3, 4, 5);

/// Length of the HMAC-SHA1 session authentication key.
const AUTH_KEY_LEN: usize = 20;

// One per context, used on every packet: inline beats a boxed indirection.
#[allow(clippy::large_enum_variant)]
pub(crate) enum SessionKeys {
    /// AES counter mode with HMAC-SHA1.
    Cm {
        aes: AesCtr,
        mac: HmacSha1,
        salt: [u8; 14],
    },
    /// AES-GCM (RFC 7714).
    Gcm { aead: AesGcm, salt: [u8; 12] },
}

impl SessionKeys {
    /// Derives the session keys for `labels` (key and salt lengths already
    /// checked). The derived bytes are cleared from this frame once the
    /// cipher objects hold them; the caller keeps the result in a
    /// [`Wiped`](super::wipe::Wiped).
    pub fn derive(
        profile: Profile,
        master: &AesCtr,
        master_salt: &[u8],
        labels: (u8, u8, u8),
    ) -> Self {
        let (enc_label, auth_label, salt_label) = labels;
        let mut key_buf = Zeroizing::new([0u8; 32]);
        let key = &mut key_buf[..profile.key_len()];
        derive(master, master_salt, enc_label, key);
        if profile.is_aead() {
            let mut salt = Zeroizing::new([0u8; 12]);
            derive(master, master_salt, salt_label, &mut *salt);
            Self::Gcm {
                aead: AesGcm::new(key).expect("16- or 32-byte key"),
                salt: *salt,
            }
        } else {
            let mut auth = Zeroizing::new([0u8; AUTH_KEY_LEN]);
            derive(master, master_salt, auth_label, &mut *auth);
            let mut salt = Zeroizing::new([0u8; 14]);
            derive(master, master_salt, salt_label, &mut *salt);
            Self::Cm {
                aes: AesCtr::new(key).expect("16- or 32-byte key"),
                mac: HmacSha1::new(&*auth),
                salt: *salt,
            }
        }
    }
}

/// AES-CM counter block: (salt << 16) ^ (SSRC << 64) ^ (index << 16).
#[inline]
pub(crate) fn cm_iv(salt: &[u8; 14], ssrc: u32, index: u64) -> [u8; 16] {
    let mut block = [0u8; 16];
    block[..14].copy_from_slice(salt);
    let iv = u128::from_be_bytes(block) ^ (u128::from(ssrc) << 64) ^ (u128::from(index) << 16);
    iv.to_be_bytes()
}

/// A 12-byte GCM salt as the low 96 bits of a `u128`.
#[inline]
fn salt96(salt: &[u8; 12]) -> u128 {
    let mut block = [0u8; 16];
    block[4..].copy_from_slice(salt);
    u128::from_be_bytes(block)
}

/// The low 12 bytes of a `u128`.
#[inline]
fn nonce96(v: u128) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&v.to_be_bytes()[4..]);
    nonce
}

/// RFC 7714 §8.1 RTP nonce: (0x0000 || SSRC || ROC || SEQ) ^ salt.
#[inline]
pub(crate) fn gcm_rtp_nonce(salt: &[u8; 12], ssrc: u32, index: u64) -> [u8; 12] {
    nonce96(salt96(salt) ^ (u128::from(ssrc) << 48) ^ u128::from(index & 0xffff_ffff_ffff))
}

/// RFC 7714 §9.1 RTCP nonce: (0x0000 || SSRC || 0x0000 || 0 || index) ^ salt.
#[inline]
pub(crate) fn gcm_rtcp_nonce(salt: &[u8; 12], ssrc: u32, index: u32) -> [u8; 12] {
    nonce96(salt96(salt) ^ (u128::from(ssrc) << 48) ^ u128::from(index & 0x7fff_ffff))
}
