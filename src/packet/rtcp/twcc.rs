//! Transport-wide congestion control feedback ("transport-cc",
//! draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1): RTPFB FMT 15.
//!
//! ```text
//! sender SSRC | media SSRC | base seq (16) | status count (16)
//! reference time (24, signed, ×64 ms) | fb pkt count (8)
//! packet chunks (16 bits each) … | recv deltas (8 or 16 bits each) … | zero padding
//! ```
//!
//! A chunk is either a run (`0 SS LLLLLLLLLLLLL`: one status, 13-bit length)
//! or a status vector (`1 0` + fourteen 1-bit statuses, or `1 1` + seven 2-bit
//! statuses). Statuses: 0 not received, 1 received with a small delta (u8 ×
//! 250 µs), 2 received with a large or negative delta (i16 × 250 µs), 3
//! reserved. Each delta is relative to the previous received packet's
//! arrival; the first to the reference time.
//!
//! The view checks everything once in [`TransportFeedback::parse`] (every
//! status covered by a chunk, no reserved status, every delta present), so
//! its iterator cannot fail and cannot run past the buffer. Its cost is
//! bounded by the packet's length and the 16-bit status count.

use crate::cc::{PacketResult, SentPacketId};

use super::{be16, be32, ParseError};

/// RTPFB format of transport-cc feedback.
pub const FMT_TWCC: u8 = 15;
/// Resolution of a receive delta, µs.
pub const DELTA_TICK_US: i64 = 250;
/// Resolution of the reference time, µs.
pub const REFERENCE_TICK_US: i64 = 64_000;
/// Both SSRCs, base sequence number, status count, reference time, count.
pub(super) const FIXED_LEN: usize = 16;
/// Most statuses one run-length chunk holds.
pub(super) const MAX_RUN: u16 = 0x1fff;

/// The 24-bit wrapping reference time, unwrapped across feedback messages:
/// `unwrapper.unwrap(fb.reference_time_raw().into()) * REFERENCE_TICK_US`
/// is a base for [`TransportFeedback::results_from`] that keeps arrival
/// times continuous when the reference time wraps (every 2^24 × 64 ms).
pub type ReferenceTimeUnwrapper = crate::packet::seq::Unwrapper<24>;

/// A packet's status as a chunk encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    NotReceived = 0,
    /// Received; its delta fits one unsigned byte.
    SmallDelta = 1,
    /// Received; its delta needs a signed 16-bit value.
    LargeDelta = 2,
}

impl Status {
    /// Bytes of receive delta this status carries.
    #[inline]
    pub(super) fn delta_len(self) -> usize {
        self as usize
    }
}

/// Symbols a chunk holds when the status count does not cut it short.
#[inline]
fn chunk_capacity(chunk: u16) -> u16 {
    if chunk & 0x8000 == 0 {
        chunk & MAX_RUN
    } else if chunk & 0x4000 == 0 {
        14
    } else {
        7
    }
}

/// The raw 2-bit status of symbol `i` (< capacity) of `chunk`.
#[inline]
fn chunk_symbol(chunk: u16, i: u16) -> u8 {
    if chunk & 0x8000 == 0 {
        ((chunk >> 13) & 3) as u8
    } else if chunk & 0x4000 == 0 {
        ((chunk >> (13 - i)) & 1) as u8
    } else {
        ((chunk >> (12 - 2 * i)) & 3) as u8
    }
}

/// A validated transport-cc feedback packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportFeedback<'a> {
    /// From the sender SSRC to the last delta (padding cut off).
    body: &'a [u8],
    /// Offset of the first delta in `body` (end of the chunks).
    deltas_start: usize,
    /// Statuses reporting a received packet.
    received: u16,
}

impl<'a> TransportFeedback<'a> {
    /// Validates the body of an RTPFB FMT 15 packet (after the 4-byte
    /// header, RTCP padding already removed).
    ///
    /// Rejects: a body shorter than the fixed part or missing chunks or
    /// deltas (`BadLength`); a status count of 0 or a reserved status inside
    /// the count (`Malformed`), as libwebrtc's parser does. Bytes after the
    /// last delta (alignment) are ignored, as libwebrtc does.
    ///
    /// libwebrtc also accepts feedback whose deltas are all missing as
    /// "without timestamps" (a mode browsers do not send for congestion
    /// control); it is `BadLength` here, as in pion, since a result without
    /// an arrival time would read as a loss.
    pub fn parse(body: &'a [u8]) -> Result<Self, ParseError> {
        if body.len() < FIXED_LEN {
            return Err(ParseError::BadLength);
        }
        let count = be16(body, 10);
        if count == 0 {
            return Err(ParseError::Malformed);
        }
        let mut remaining = count;
        let mut at = FIXED_LEN;
        let mut delta_bytes = 0usize;
        let mut received = 0u16;
        while remaining > 0 {
            let chunk = body
                .get(at..at + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or(ParseError::BadLength)?;
            at += 2;
            let n = chunk_capacity(chunk).min(remaining);
            remaining -= n;
            if chunk & 0x8000 == 0 {
                if n == 0 {
                    continue;
                }
                let symbol = chunk_symbol(chunk, 0);
                if symbol == 3 {
                    return Err(ParseError::Malformed);
                }
                delta_bytes += usize::from(symbol) * usize::from(n);
                if symbol != 0 {
                    received += n;
                }
            } else {
                for i in 0..n {
                    match chunk_symbol(chunk, i) {
                        0 => {}
                        3 => return Err(ParseError::Malformed),
                        s => {
                            delta_bytes += usize::from(s);
                            received += 1;
                        }
                    }
                }
            }
        }
        let end = at + delta_bytes;
        if end > body.len() {
            return Err(ParseError::BadLength);
        }
        Ok(TransportFeedback {
            body: &body[..end],
            deltas_start: at,
            received,
        })
    }

    pub fn sender_ssrc(&self) -> u32 {
        be32(self.body, 0)
    }

    pub fn media_ssrc(&self) -> u32 {
        be32(self.body, 4)
    }

    /// Transport-wide sequence number of the first status.
    pub fn base_seq(&self) -> u16 {
        be16(self.body, 8)
    }

    /// Statuses reported (at least 1).
    pub fn status_count(&self) -> u16 {
        be16(self.body, 10)
    }

    /// Statuses reporting a packet received.
    pub fn received_count(&self) -> u16 {
        self.received
    }

    /// The reference time field as sent (24 bits, multiples of 64 ms).
    pub fn reference_time_raw(&self) -> u32 {
        be32(self.body, 12) >> 8
    }

    /// The reference time as a signed 24-bit count of 64 ms ticks, in µs.
    pub fn reference_time_us(&self) -> i64 {
        let raw = self.reference_time_raw() as i32;
        i64::from((raw << 8) >> 8) * REFERENCE_TICK_US
    }

    /// The feedback packet count: increments by one per feedback sent, so a
    /// gap reveals lost feedback.
    pub fn fb_pkt_count(&self) -> u8 {
        self.body[15]
    }

    /// Every status in sequence order, with arrival times reconstructed from
    /// the reference time ([`Self::reference_time_us`]) and the deltas.
    pub fn results(&self) -> TransportFeedbackResults<'a> {
        self.results_from(self.reference_time_us())
    }

    /// As [`Self::results`], with `base_us` in place of the reference time
    /// (e.g. unwrapped with a [`ReferenceTimeUnwrapper`]).
    pub fn results_from(&self, base_us: i64) -> TransportFeedbackResults<'a> {
        TransportFeedbackResults {
            chunks: &self.body[FIXED_LEN..self.deltas_start],
            deltas: &self.body[self.deltas_start..],
            chunk: 0,
            in_chunk: 0,
            chunk_len: 0,
            remaining: self.status_count(),
            seq: self.base_seq(),
            arrival_us: base_us,
        }
    }
}

/// Iterator returned by [`TransportFeedback::results`]: one
/// [`PacketResult`] per status, `id` a [`SentPacketId::TransportSeq`].
#[derive(Debug, Clone)]
pub struct TransportFeedbackResults<'a> {
    /// The chunks not yet loaded.
    chunks: &'a [u8],
    /// The deltas not yet consumed.
    deltas: &'a [u8],
    /// The chunk being read.
    chunk: u16,
    in_chunk: u16,
    /// Symbols of `chunk` that count (capacity cut by the status count).
    chunk_len: u16,
    remaining: u16,
    seq: u16,
    arrival_us: i64,
}

impl Iterator for TransportFeedbackResults<'_> {
    type Item = PacketResult;

    fn next(&mut self) -> Option<PacketResult> {
        if self.remaining == 0 {
            return None;
        }
        while self.in_chunk == self.chunk_len {
            // Parse checked that chunks cover every status.
            let (head, tail) = self.chunks.split_first_chunk::<2>()?;
            self.chunks = tail;
            self.chunk = u16::from_be_bytes(*head);
            self.in_chunk = 0;
            self.chunk_len = chunk_capacity(self.chunk).min(self.remaining);
        }
        let symbol = chunk_symbol(self.chunk, self.in_chunk);
        self.in_chunk += 1;
        self.remaining -= 1;
        let seq = self.seq;
        self.seq = seq.wrapping_add(1);
        let delta_ticks = match symbol {
            1 => {
                let (&d, tail) = self.deltas.split_first()?;
                self.deltas = tail;
                Some(i64::from(d))
            }
            2 => {
                let (d, tail) = self.deltas.split_first_chunk::<2>()?;
                self.deltas = tail;
                Some(i64::from(i16::from_be_bytes(*d)))
            }
            _ => None,
        };
        let arrival_us = delta_ticks.map(|d| {
            self.arrival_us += d * DELTA_TICK_US;
            self.arrival_us
        });
        Some(PacketResult {
            id: SentPacketId::TransportSeq(seq),
            arrival_us,
            ecn: None,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.remaining);
        (n, Some(n))
    }
}

impl ExactSizeIterator for TransportFeedbackResults<'_> {}
impl core::iter::FusedIterator for TransportFeedbackResults<'_> {}
