//! SRTP: RTP protect and unprotect (RFC 3711 §3.1, RFC 7714 §8, RFC 9335).

use subtle::ConstantTimeEq;

use super::keys::{cm_iv, gcm_rtp_nonce, SessionKeys};
use super::stream::estimate_index;
use super::{cryptex, Error, Srtp};
use crate::packet::error::{be16, be32};
use crate::packet::rtp::RtpLayout;
use crate::packet::ParseError;

impl Srtp {
    /// Protects the RTP packet in `buf[..len]` in place and appends the tag;
    /// `buf.len()` is the capacity. Returns the SRTP packet's length.
    ///
    /// Needs `len + rtp_tag_len` bytes of capacity (4 more with cryptex when
    /// the packet has CSRCs but no extension); `BufferTooSmall` otherwise.
    /// On any error the buffer is unchanged.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        self.try_protect_rtp(buf, len).map_err(|e| self.count(e))
    }

    /// Verifies and decrypts the SRTP packet `buf` (exactly the packet) in
    /// place. Returns the RTP packet's length (the tag is dropped). On any
    /// error the buffer is unchanged and no state moved.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.try_unprotect_rtp(buf).map_err(|e| self.count(e))
    }

    fn try_protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let packet = buf
            .get(..len)
            .ok_or(Error::BufferTooSmall { needed: len })?;
        let layout = RtpLayout::parse_header(packet)?;
        if cryptex::is_cryptex(layout.extension) {
            // A plaintext packet must not claim cryptex encryption: a
            // receiver would decrypt its extension into garbage.
            return Err(Error::Malformed(ParseError::Malformed));
        }
        let tag_len = self.profile.rtp_tag_len();
        let adds_block = self.config.cryptex && layout.extension.is_none() && buf[0] & 0x0f != 0;
        let needed = len + tag_len + if adds_block { 4 } else { 0 };
        if needed > buf.len() {
            return Err(Error::BufferTooSmall { needed });
        }
        let (ssrc, seq) = (be32(buf, 8), be16(buf, 2));
        let stream = self.streams.get_or_insert(ssrc).ok_or(Error::SsrcLimit)?;
        let index = estimate_index(stream.rtp_tx_highest, seq, 0).ok_or(Error::IndexExhausted)?;
        if stream.rtp_tx_highest.is_none_or(|h| index > h) {
            stream.rtp_tx_highest = Some(index);
        }

        // Nothing fails from here on.
        let (len, with_cryptex) = match self.config.cryptex {
            true => match cryptex::prepare(buf, &layout, tag_len) {
                Ok(Some(new_len)) => (new_len, true),
                _ => (len, false),
            },
            false => (len, false),
        };
        let start = if with_cryptex {
            cryptex::ENCRYPTED_FROM
        } else {
            layout.payload_start
        };
        if with_cryptex {
            cryptex::rotate_in(buf);
        }
        match &*self.rtp {
            SessionKeys::Cm { aes, mac, salt } => {
                aes.apply_keystream(&cm_iv(salt, ssrc, index), &mut buf[start..len]);
                if with_cryptex {
                    cryptex::rotate_out(buf);
                }
                let tag = mac.tag(&buf[..len], &roc_bytes(index));
                buf[len..len + tag_len].copy_from_slice(&tag[..tag_len]);
            }
            SessionKeys::Gcm { aead, salt } => {
                let (aad, rest) = buf.split_at_mut(start);
                let (data, tag) = rest.split_at_mut(len - start);
                aead.seal(
                    gcm_rtp_nonce(salt, ssrc, index),
                    aad,
                    data,
                    &mut tag[..tag_len],
                );
                if with_cryptex {
                    cryptex::rotate_out(buf);
                }
            }
        }
        self.stats.rtp_protected += 1;
        self.stats.rtp_protected_bytes += len as u64;
        Ok(len + tag_len)
    }

    fn try_unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let tag_len = self.profile.rtp_tag_len();
        let len = buf.len();
        let body_len = len
            .checked_sub(tag_len)
            .ok_or(Error::Malformed(ParseError::Truncated))?;
        let layout = RtpLayout::parse_header(&buf[..body_len])?;
        let with_cryptex = cryptex::is_cryptex(layout.extension);
        if with_cryptex && !self.config.cryptex {
            return Err(Error::CryptexNotEnabled);
        }
        let (ssrc, seq) = (be32(buf, 8), be16(buf, 2));
        let has_room = self.streams.has_room();
        let index = match self.streams.get(ssrc) {
            Some(stream) => {
                let index = estimate_index(stream.rtp_rx.highest(), seq, 0).ok_or(Error::TooOld)?;
                stream.rtp_rx.check(index)?;
                index
            }
            None if has_room => u64::from(seq),
            None => return Err(Error::SsrcLimit),
        };

        let start = if with_cryptex {
            cryptex::ENCRYPTED_FROM
        } else {
            layout.payload_start
        };
        let Self { rtp, scratch, .. } = self;
        match &**rtp {
            SessionKeys::Cm { aes, mac, salt } => {
                let expected = mac.tag(&buf[..body_len], &roc_bytes(index));
                if !bool::from(expected[..tag_len].ct_eq(&buf[body_len..])) {
                    return Err(Error::AuthFailed);
                }
                if with_cryptex {
                    cryptex::rotate_in(buf);
                }
                aes.apply_keystream(&cm_iv(salt, ssrc, index), &mut buf[start..body_len]);
                if with_cryptex {
                    cryptex::rotate_out(buf);
                }
            }
            SessionKeys::Gcm { aead, salt } => {
                if with_cryptex {
                    cryptex::rotate_in(buf);
                }
                scratch.clear();
                scratch.extend_from_slice(&buf[start..]);
                let (aad, data) = buf.split_at_mut(start);
                if !aead.open(gcm_rtp_nonce(salt, ssrc, index), aad, data) {
                    data.copy_from_slice(scratch);
                    if with_cryptex {
                        cryptex::rotate_out(buf);
                    }
                    return Err(Error::AuthFailed);
                }
                if with_cryptex {
                    cryptex::rotate_out(buf);
                }
            }
        }
        if let (true, Some(ext)) = (with_cryptex, layout.extension) {
            let plain = cryptex::plain_profile(ext.profile).expect("checked cryptex profile");
            cryptex::set_profile(buf, ext, plain);
        }
        self.streams
            .get_or_insert(ssrc)
            .expect("room checked before authenticating")
            .rtp_rx
            .accept(index);
        self.stats.rtp_unprotected += 1;
        self.stats.rtp_unprotected_bytes += body_len as u64;
        Ok(body_len)
    }
}

/// The rollover counter of a packet index, as appended to the HMAC input.
#[inline]
fn roc_bytes(index: u64) -> [u8; 4] {
    ((index >> 16) as u32).to_be_bytes()
}
