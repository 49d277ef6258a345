//! SRTP protection profiles and their parameters.

/// A protection profile. Values are the DTLS-SRTP protection-profile ids
/// (RFC 5764, RFC 7714); 3 and 4 are rtmedia's ids for the RFC 6188
/// AES-256 counter-mode suites, which DTLS-SRTP never registered.
#[repr(u16)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    Aes128CmHmacSha1_80 = 1,
    Aes128CmHmacSha1_32 = 2,
    Aes256CmHmacSha1_80 = 3,
    Aes256CmHmacSha1_32 = 4,
    AeadAes128Gcm = 7,
    AeadAes256Gcm = 8,
}

impl Profile {
    /// Every profile, for tests and benches.
    pub const ALL: [Profile; 6] = [
        Profile::Aes128CmHmacSha1_80,
        Profile::Aes128CmHmacSha1_32,
        Profile::Aes256CmHmacSha1_80,
        Profile::Aes256CmHmacSha1_32,
        Profile::AeadAes128Gcm,
        Profile::AeadAes256Gcm,
    ];

    /// The profile with this id, if known.
    pub fn from_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|p| *p as u16 == id)
    }

    /// Master (and session) key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::Aes128CmHmacSha1_80 | Self::Aes128CmHmacSha1_32 | Self::AeadAes128Gcm => 16,
            Self::Aes256CmHmacSha1_80 | Self::Aes256CmHmacSha1_32 | Self::AeadAes256Gcm => 32,
        }
    }

    /// Master (and session) salt length in bytes: 14 for counter mode, 12 for GCM.
    pub fn salt_len(self) -> usize {
        if self.is_aead() {
            12
        } else {
            14
        }
    }

    /// Whether the profile is an AEAD (AES-GCM, RFC 7714).
    pub fn is_aead(self) -> bool {
        matches!(self, Self::AeadAes128Gcm | Self::AeadAes256Gcm)
    }

    /// Bytes SRTP appends to an RTP packet (the authentication tag).
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Self::Aes128CmHmacSha1_80 | Self::Aes256CmHmacSha1_80 => 10,
            Self::Aes128CmHmacSha1_32 | Self::Aes256CmHmacSha1_32 => 4,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 16,
        }
    }

    /// SRTCP tag length: 80-bit HMAC for every counter-mode profile (RFC 5764
    /// §4.1.2, as libsrtp does), 16 bytes for GCM.
    pub fn rtcp_tag_len(self) -> usize {
        if self.is_aead() {
            16
        } else {
            10
        }
    }

    /// Bytes SRTCP appends to an RTCP packet: the E-bit/index word and the tag.
    pub fn rtcp_trailer_len(self) -> usize {
        4 + self.rtcp_tag_len()
    }
}

/// The largest number of bytes protect adds to any packet (SRTCP with GCM:
/// 4-byte index plus 16-byte tag). Size buffers with this much spare room.
pub const MAX_TRAILER_LEN: usize = 20;
