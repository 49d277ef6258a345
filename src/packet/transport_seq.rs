//! The transport-wide sequence number header extension
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2,
//! `http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01`):
//! one 16-bit counter across every stream of a transport, stamped by the
//! sender as a packet leaves and echoed back in transport-cc feedback.
//!
//! Reading and stamping reuse the RFC 8285 code of [`RtpPacket`] and
//! [`add_extension`]; both one- and two-byte forms work, with the id the
//! session negotiated.

use super::rtp::add_extension;
use super::{RtpPacket, WriteError};

/// Length of the element's value (draft-01: one 16-bit sequence number).
pub const TRANSPORT_SEQ_LEN: usize = 2;

impl<B: AsRef<[u8]>> RtpPacket<B> {
    /// The transport-wide sequence number in element `id`, if present and
    /// two bytes long (other lengths are a different extension).
    pub fn transport_seq(&self, id: u8) -> Option<u16> {
        let v = self.extension(id)?;
        let v: [u8; TRANSPORT_SEQ_LEN] = v.try_into().ok()?;
        Some(u16::from_be_bytes(v))
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> RtpPacket<B> {
    /// Overwrites the transport-wide sequence number in element `id` in
    /// place. `NotFound` if the packet has no such element (reserve one when
    /// building the packet, or use [`stamp_transport_seq`]);
    /// `InvalidArgument` if it is not two bytes long.
    pub fn set_transport_seq(&mut self, id: u8, seq: u16) -> Result<(), WriteError> {
        self.set_extension(id, &seq.to_be_bytes())
    }
}

/// Stamps `seq` as element `id` of the packet in `buf[..len]` (capacity
/// `buf.len()`): in place when the element exists, else by adding it (which
/// moves the payload). Returns the new length.
pub fn stamp_transport_seq(
    buf: &mut [u8],
    len: usize,
    id: u8,
    seq: u16,
) -> Result<usize, WriteError> {
    let value = seq.to_be_bytes();
    let packet = buf
        .get_mut(..len)
        .ok_or(WriteError::InvalidArgument("len exceeds buffer"))?;
    let mut packet = RtpPacket::parse(packet).map_err(WriteError::Malformed)?;
    match packet.set_extension(id, &value) {
        Ok(()) => Ok(len),
        Err(WriteError::NotFound) => add_extension(buf, len, id, &value),
        Err(e) => Err(e),
    }
}
