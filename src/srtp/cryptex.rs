//! RFC 9335 cryptex: CSRCs and RFC 8285 header extensions encrypted along
//! with the payload.
//!
//! The region to encrypt is CSRCs, extension data and payload, but the
//! 4-byte extension header sits between the CSRCs and the extension data and
//! stays clear. As libsrtp does, the header is rotated in front of the CSRCs
//! for the cipher call, making the region contiguous from byte 16 and the
//! GCM additional data (fixed header + extension header) the first 16 bytes,
//! then rotated back.

use crate::packet::rtp::{ExtensionBlock, RtpLayout};

/// Extension profile of a one-byte block encrypted with cryptex.
pub(super) const ONE_BYTE: u16 = 0xC0DE;
/// Extension profile of a two-byte block encrypted with cryptex.
pub(super) const TWO_BYTE: u16 = 0xC2DE;

/// Where cryptex's contiguous layout starts encrypting.
pub(super) const ENCRYPTED_FROM: usize = 16;

/// The cryptex profile for a plain RFC 8285 block profile, if it has one.
pub(super) fn encrypted_profile(profile: u16) -> Option<u16> {
    match profile {
        0xBEDE => Some(ONE_BYTE),
        // Two-byte blocks with app bits cannot be expressed (RFC 9335 §4).
        0x1000 => Some(TWO_BYTE),
        _ => None,
    }
}

/// The plain RFC 8285 profile of a cryptex block profile.
pub(super) fn plain_profile(profile: u16) -> Option<u16> {
    match profile {
        ONE_BYTE => Some(0xBEDE),
        TWO_BYTE => Some(0x1000),
        _ => None,
    }
}

/// Whether the packet's extension block is a cryptex one.
pub(super) fn is_cryptex(ext: Option<ExtensionBlock>) -> bool {
    ext.is_some_and(|e| plain_profile(e.profile).is_some())
}

/// CSRC count of a validated packet.
fn csrc_count(buf: &[u8]) -> usize {
    usize::from(buf[0] & 0x0f)
}

/// Moves the extension header in front of the CSRCs (no-op without CSRCs).
pub(super) fn rotate_in(buf: &mut [u8]) {
    let cc = csrc_count(buf);
    if cc > 0 {
        buf[12..16 + 4 * cc].rotate_right(4);
    }
}

/// Undoes [`rotate_in`].
pub(super) fn rotate_out(buf: &mut [u8]) {
    let cc = csrc_count(buf);
    if cc > 0 {
        buf[12..16 + 4 * cc].rotate_left(4);
    }
}

/// Rewrites the extension profile field of the block in `layout`.
pub(super) fn set_profile(buf: &mut [u8], ext: ExtensionBlock, profile: u16) {
    buf[ext.data_start - 4..ext.data_start - 2].copy_from_slice(&profile.to_be_bytes());
}

/// Makes a packet ready for cryptex protection, in `buf[..len]` with
/// capacity `buf.len() - reserve`: marks its extension block as encrypted,
/// or appends an empty 0xC0DE block when it has CSRCs but no extension.
/// Returns the new length, or `None` when cryptex does not apply (no CSRCs
/// and no extension, or a non-RFC 8285 extension) and nothing changed.
/// `Err(needed)` if the empty block does not fit.
pub(super) fn prepare(
    buf: &mut [u8],
    layout: &RtpLayout,
    reserve: usize,
) -> Result<Option<usize>, usize> {
    let len = layout.len;
    match layout.extension {
        Some(ext) => match encrypted_profile(ext.profile) {
            Some(profile) => {
                set_profile(buf, ext, profile);
                Ok(Some(len))
            }
            None => Ok(None),
        },
        None if csrc_count(buf) > 0 => {
            let needed = len + 4 + reserve;
            if needed > buf.len() {
                return Err(needed);
            }
            let at = layout.payload_start;
            buf.copy_within(at..len, at + 4);
            buf[at..at + 2].copy_from_slice(&ONE_BYTE.to_be_bytes());
            buf[at + 2..at + 4].fill(0);
            buf[0] |= 0x10;
            Ok(Some(len + 4))
        }
        None => Ok(None),
    }
}
