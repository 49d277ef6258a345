//! SRTCP: RTCP protect and unprotect (RFC 3711 §3.4, RFC 7714 §9).

use subtle::ConstantTimeEq;

use super::keys::{cm_iv, gcm_rtcp_nonce, SessionKeys};
use super::{Error, Srtp};
use crate::packet::error::be32;
use crate::packet::ParseError;

/// The E bit of the SRTCP index word: the packet is encrypted.
const ENCRYPTED: u32 = 0x8000_0000;
/// RTCP fixed header plus sender SSRC: always authenticated, never encrypted.
const CLEAR_PREFIX: usize = 8;
/// Largest SRTCP index (31 bits).
const MAX_INDEX: u32 = 0x7fff_ffff;

impl Srtp {
    /// Protects the (compound) RTCP packet in `buf[..len]` in place,
    /// appending the E-bit/index word and the tag; `buf.len()` is the
    /// capacity. The SRTCP index counts per SSRC (the first packet's sender).
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        self.try_protect_rtcp(buf, len).map_err(|e| self.count(e))
    }

    /// Verifies and decrypts the SRTCP packet `buf` in place; returns the
    /// RTCP length. On any error the buffer is unchanged and no state moved.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.try_unprotect_rtcp(buf).map_err(|e| self.count(e))
    }

    fn try_protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let packet = buf
            .get(..len)
            .ok_or(Error::BufferTooSmall { needed: len })?;
        check_rtcp_header(packet)?;
        let trailer = self.profile.rtcp_trailer_len();
        if len + trailer > buf.len() {
            return Err(Error::BufferTooSmall {
                needed: len + trailer,
            });
        }
        let ssrc = be32(buf, 4);
        let stream = self.streams.get_or_insert(ssrc).ok_or(Error::SsrcLimit)?;
        let index = stream.rtcp_tx_next;
        if index > MAX_INDEX {
            return Err(Error::IndexExhausted);
        }
        stream.rtcp_tx_next += 1;
        let word = (ENCRYPTED | index).to_be_bytes();

        match &*self.rtcp {
            SessionKeys::Cm { aes, mac, salt } => {
                aes.apply_keystream(
                    &cm_iv(salt, ssrc, u64::from(index)),
                    &mut buf[CLEAR_PREFIX..len],
                );
                buf[len..len + 4].copy_from_slice(&word);
                let tag = mac.tag(&buf[..len + 4], &[]);
                let tag_len = self.profile.rtcp_tag_len();
                buf[len + 4..len + 4 + tag_len].copy_from_slice(&tag[..tag_len]);
            }
            SessionKeys::Gcm { aead, salt } => {
                let aad = gcm_aad(buf, word);
                let (data, tag) = buf[CLEAR_PREFIX..].split_at_mut(len - CLEAR_PREFIX);
                aead.seal(
                    gcm_rtcp_nonce(salt, ssrc, index),
                    &aad,
                    data,
                    &mut tag[..16],
                );
                buf[len + 16..len + 20].copy_from_slice(&word);
            }
        }
        self.stats.rtcp_protected += 1;
        Ok(len + trailer)
    }

    fn try_unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let trailer = self.profile.rtcp_trailer_len();
        let tag_len = self.profile.rtcp_tag_len();
        let len = buf.len();
        if len < CLEAR_PREFIX + trailer {
            return Err(Error::Malformed(ParseError::Truncated));
        }
        let body_len = len - trailer;
        check_rtcp_header(&buf[..body_len])?;
        // CM: header | body | E+index | tag.  GCM: header | body | tag | E+index.
        let word_at = if self.profile.is_aead() {
            len - 4
        } else {
            body_len
        };
        let word = be32(buf, word_at);
        let (encrypted, index) = (word & ENCRYPTED != 0, word & MAX_INDEX);
        let ssrc = be32(buf, 4);
        let has_room = self.streams.has_room();
        match self.streams.get(ssrc) {
            Some(stream) => stream.rtcp_rx.check(u64::from(index))?,
            None if has_room => {}
            None => return Err(Error::SsrcLimit),
        }

        let Self { rtcp, scratch, .. } = self;
        match &**rtcp {
            SessionKeys::Cm { aes, mac, salt } => {
                let expected = mac.tag(&buf[..body_len + 4], &[]);
                if !bool::from(expected[..tag_len].ct_eq(&buf[body_len + 4..])) {
                    return Err(Error::AuthFailed);
                }
                if encrypted {
                    aes.apply_keystream(
                        &cm_iv(salt, ssrc, u64::from(index)),
                        &mut buf[CLEAR_PREFIX..body_len],
                    );
                }
            }
            SessionKeys::Gcm { aead, salt } => {
                let nonce = gcm_rtcp_nonce(salt, ssrc, index);
                let word = word.to_be_bytes();
                if encrypted {
                    let aad = gcm_aad(buf, word);
                    scratch.clear();
                    scratch.extend_from_slice(&buf[CLEAR_PREFIX..len - 4]);
                    let data = &mut buf[CLEAR_PREFIX..len - 4];
                    if !aead.open(nonce, &aad, data) {
                        data.copy_from_slice(scratch);
                        return Err(Error::AuthFailed);
                    }
                } else {
                    // Unencrypted SRTCP: the whole packet and the index word
                    // are additional data; only the tag is checked.
                    scratch.clear();
                    scratch.extend_from_slice(&buf[..body_len]);
                    scratch.extend_from_slice(&word);
                    let mut tag = [0u8; 16];
                    tag.copy_from_slice(&buf[body_len..body_len + 16]);
                    if !aead.open(nonce, scratch, &mut tag) {
                        return Err(Error::AuthFailed);
                    }
                }
            }
        }
        self.streams
            .get_or_insert(ssrc)
            .expect("room checked before authenticating")
            .rtcp_rx
            .accept(u64::from(index));
        self.stats.rtcp_unprotected += 1;
        Ok(body_len)
    }
}

/// RFC 7714 §9.1 additional data: the first 8 bytes and the E/index word.
#[inline]
fn gcm_aad(buf: &[u8], word: [u8; 4]) -> [u8; 12] {
    let mut aad = [0u8; 12];
    aad[..8].copy_from_slice(&buf[..8]);
    aad[8..].copy_from_slice(&word);
    aad
}

/// Enough of an RTCP header to protect: version 2 and a sender SSRC.
fn check_rtcp_header(packet: &[u8]) -> Result<(), Error> {
    if packet.len() < CLEAR_PREFIX {
        return Err(Error::Malformed(ParseError::Truncated));
    }
    if packet[0] >> 6 != 2 {
        return Err(Error::Malformed(ParseError::BadVersion));
    }
    Ok(())
}
