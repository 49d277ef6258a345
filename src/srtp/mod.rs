//! SRTP and SRTCP (RFC 3711, RFC 7714 AES-GCM, RFC 6188 AES-256, RFC 9335
//! cryptex): protect and unprotect in place, with no allocation per packet.
//!
//! One [`Srtp`] context holds one master key. A sender protects with its
//! context; a receiver unprotects with a context made from the sender's key.
//! Per-SSRC state (rollover counter, SRTCP index, replay windows) is kept in
//! a capped table; replay windows and ROCs only move after a packet
//! authenticates, and a packet that fails leaves the buffer as it was.
//!
//! # Key hygiene
//! The master key and salt are read once, by [`Srtp::new`], and not kept;
//! the temporaries of the RFC 3711 derivation are zeroed right after it, and
//! the frames it used are overwritten before `new` returns. The session keys,
//! salts and key schedules (AES round keys, HMAC pad states, ring's AES-GCM
//! key and GHASH table) are zeroed, with the storage around them, when the
//! context is dropped; a rekey is a new context, so the old keys go with the
//! old one. What stays the caller's job: the key and salt buffers it passed
//! in, the keying material it split, and any copy of a context returned by
//! value in its own stack frames ([`Srtp::new_boxed`] builds on the heap and
//! leaves none). Tests: `tests/srtp_zeroize.rs` (every freed heap block) and
//! `tests/srtp_zeroize_stack.rs` (the dead stack after a session).

mod context;
mod cryptex;
mod crypto;
mod keying;
mod keys;
mod profile;
mod replay;
mod rtcp;
mod rtp;
mod stream;
mod wipe;

use core::fmt;

pub use context::{Config, Srtp, Stats, MAX_REPLAY_WINDOW};
pub use keying::{keying_material_len, split_keying_material, MasterKey};
pub use profile::{Profile, MAX_TRAILER_LEN};
pub use replay::{Replay, ReplayWindow};

use crate::packet::ParseError;

/// Why a protect or unprotect call failed. The buffer is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The packet is not valid RTP/RTCP, or too short to carry a tag.
    Malformed(ParseError),
    /// Protect needs `needed` bytes of capacity.
    BufferTooSmall { needed: usize },
    /// The authentication tag does not match. Log it: keys may be wrong.
    /// If every packet of one SSRC fails while others pass, its rollover
    /// counter is lost (a loss burst over 32,768 packets, or a stream joined
    /// after a wrap): [`Srtp::set_receive_roc`] recovers it.
    AuthFailed,
    /// This index was already received. Drop silently.
    Replayed,
    /// The index is older than the replay window. Drop silently.
    TooOld,
    /// A new SSRC arrived but the context tracks its maximum already
    /// ([`Config::max_ssrcs`]): forget SSRCs that left with
    /// [`Srtp::remove_ssrc`].
    SsrcLimit,
    /// Key or salt length does not match the profile.
    BadKeyLength,
    /// A cryptex (RFC 9335) packet arrived but cryptex is not enabled.
    CryptexNotEnabled,
    /// The key's index space (2^48 RTP or 2^31 RTCP packets) is used up: rekey.
    IndexExhausted,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(e) => write!(f, "malformed packet: {e}"),
            Error::BufferTooSmall { needed } => {
                write!(f, "buffer too small: {needed} bytes needed")
            }
            Error::AuthFailed => f.write_str("authentication failed"),
            Error::Replayed => f.write_str("replayed packet"),
            Error::TooOld => f.write_str("packet older than the replay window"),
            Error::SsrcLimit => f.write_str("too many SSRCs"),
            Error::BadKeyLength => f.write_str("key or salt length does not match the profile"),
            Error::CryptexNotEnabled => f.write_str("cryptex packet but cryptex is not enabled"),
            Error::IndexExhausted => f.write_str("index space of this key is exhausted: rekey"),
        }
    }
}

impl std::error::Error for Error {}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Malformed(e)
    }
}

impl From<Replay> for Error {
    fn from(r: Replay) -> Self {
        match r {
            Replay::Duplicate => Error::Replayed,
            Replay::TooOld => Error::TooOld,
        }
    }
}
