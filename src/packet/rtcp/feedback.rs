//! Generic NACK (RFC 4585 §6.2.1), PLI (RFC 4585 §6.3.1) and FIR
//! (RFC 5104 §4.3.1).

use super::{
    be16, be32, put32, start_packet, ParseError, WriteError, FMT_FIR, FMT_NACK, FMT_PLI, PT_PSFB,
    PT_RTPFB,
};

/// Sender SSRC plus media SSRC, the start of every feedback packet.
const COMMON_LEN: usize = 8;

/// Checks the common part and returns the FCI, which must be a non-empty
/// whole number of `entry`-byte entries (RFC 4585 and RFC 5104 both require
/// at least one).
fn fci(body: &[u8], entry: usize) -> Result<&[u8], ParseError> {
    let fci = body.get(COMMON_LEN..).ok_or(ParseError::BadLength)?;
    if fci.is_empty() || fci.len() % entry != 0 {
        return Err(ParseError::BadLength);
    }
    Ok(fci)
}

/// Writes the header and both SSRCs of a feedback packet.
fn start_feedback(
    buf: &mut [u8],
    len: usize,
    fmt: u8,
    packet_type: u8,
    sender_ssrc: u32,
    media_ssrc: u32,
) -> Result<&mut [u8], WriteError> {
    let out = start_packet(buf, len, usize::from(fmt), packet_type)?;
    put32(out, 4, sender_ssrc);
    put32(out, 8, media_ssrc);
    Ok(out)
}

/// A generic NACK: (PID, BLP) pairs naming lost RTP sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nack<'a> {
    /// Both SSRCs, then a non-empty whole number of pairs.
    body: &'a [u8],
}

impl<'a> Nack<'a> {
    pub(super) fn parse(body: &'a [u8]) -> Result<Self, ParseError> {
        fci(body, 4)?;
        Ok(Nack { body })
    }

    pub fn sender_ssrc(&self) -> u32 {
        be32(self.body, 0)
    }

    pub fn media_ssrc(&self) -> u32 {
        be32(self.body, 4)
    }

    /// The (PID, BLP) pairs as sent.
    pub fn pairs(&self) -> NackPairs<'a> {
        NackPairs {
            data: &self.body[COMMON_LEN..],
        }
    }

    /// Every sequence number the pairs name, in pair order. Overlapping or
    /// repeated pairs yield repeats.
    pub fn lost_sequence_numbers(&self) -> LostSequenceNumbers<'a> {
        LostSequenceNumbers {
            pairs: self.pairs(),
            pid: 0,
            mask: 0,
        }
    }
}

/// Iterator over a NACK's (PID, BLP) pairs.
#[derive(Debug, Clone)]
pub struct NackPairs<'a> {
    data: &'a [u8],
}

impl Iterator for NackPairs<'_> {
    type Item = (u16, u16);

    fn next(&mut self) -> Option<(u16, u16)> {
        let (head, tail) = self.data.split_first_chunk::<4>()?;
        self.data = tail;
        Some((be16(head, 0), be16(head, 2)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.data.len() / 4;
        (n, Some(n))
    }
}

impl ExactSizeIterator for NackPairs<'_> {}

/// Iterator expanding NACK pairs into sequence numbers.
#[derive(Debug, Clone)]
pub struct LostSequenceNumbers<'a> {
    pairs: NackPairs<'a>,
    pid: u16,
    /// Bit `i` set: `pid + i` is still to be yielded (bit 0 is the PID).
    mask: u32,
}

impl Iterator for LostSequenceNumbers<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        while self.mask == 0 {
            let (pid, blp) = self.pairs.next()?;
            self.pid = pid;
            self.mask = 1 | u32::from(blp) << 1;
        }
        let i = self.mask.trailing_zeros();
        self.mask &= self.mask - 1;
        // i <= 16, so the cast is lossless.
        Some(self.pid.wrapping_add(i as u16))
    }
}

/// Compresses lost sequence numbers into (PID, BLP) pairs; see
/// [`nack_pairs`].
#[derive(Debug, Clone)]
pub struct NackPairsFromLost<'a> {
    rest: &'a [u16],
}

impl Iterator for NackPairsFromLost<'_> {
    type Item = (u16, u16);

    fn next(&mut self) -> Option<(u16, u16)> {
        let (&pid, mut rest) = self.rest.split_first()?;
        let mut blp = 0u16;
        while let Some((&seq, tail)) = rest.split_first() {
            // Distance forward from the PID, modulo 2^16, so a run across
            // 65535 -> 0 stays in one pair.
            match seq.wrapping_sub(pid) {
                0 => {}
                d @ 1..=16 => blp |= 1 << (d - 1),
                _ => break,
            }
            rest = tail;
        }
        self.rest = rest;
        Some((pid, blp))
    }
}

/// Compresses `lost` into NACK (PID, BLP) pairs.
///
/// Each pair starts at the first number not yet covered and takes every
/// following number within 16 ahead of it. For a list sorted in sequence
/// order (as losses are found) that is the fewest pairs; any other order
/// still covers every number, with more pairs.
pub fn nack_pairs(lost: &[u16]) -> NackPairsFromLost<'_> {
    NackPairsFromLost { rest: lost }
}

/// How many pairs [`nack_pairs`] yields for `lost`, to size a buffer.
pub fn nack_pair_count(lost: &[u16]) -> usize {
    nack_pairs(lost).count()
}

/// Builds a generic NACK from lost sequence numbers (see [`nack_pairs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NackBuilder<'a> {
    pub sender_ssrc: u32,
    pub media_ssrc: u32,
    /// Lost sequence numbers, in sequence order; at least one.
    pub lost: &'a [u16],
}

impl NackBuilder<'_> {
    pub fn encoded_len(&self) -> usize {
        4 + COMMON_LEN + 4 * nack_pair_count(self.lost)
    }

    /// Writes the packet at the start of `buf`; returns its length.
    ///
    /// # Errors
    /// `InvalidArgument` for no lost sequence number; more pairs than the 16-bit length field allows (about 65,000) (nothing is written);
    /// `BufferTooSmall { needed }` when `buf` is shorter than [`encoded_len`](Self::encoded_len).
    pub fn write_into(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        if self.lost.is_empty() {
            return Err(WriteError::InvalidArgument("NACK without lost packets"));
        }
        let len = self.encoded_len();
        let out = start_feedback(
            buf,
            len,
            FMT_NACK,
            PT_RTPFB,
            self.sender_ssrc,
            self.media_ssrc,
        )?;
        write_pairs(out, nack_pairs(self.lost));
        Ok(len)
    }
}

/// Builds a generic NACK from ready-made pairs, e.g. to forward one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NackPairsBuilder<'a> {
    pub sender_ssrc: u32,
    pub media_ssrc: u32,
    /// (PID, BLP) pairs; at least one.
    pub pairs: &'a [(u16, u16)],
}

impl NackPairsBuilder<'_> {
    pub fn encoded_len(&self) -> usize {
        4 + COMMON_LEN + 4 * self.pairs.len()
    }

    /// Writes the packet at the start of `buf`; returns its length.
    ///
    /// # Errors
    /// `InvalidArgument` for no pair; more pairs than the 16-bit length field allows (about 65,000) (nothing is written);
    /// `BufferTooSmall { needed }` when `buf` is shorter than [`encoded_len`](Self::encoded_len).
    pub fn write_into(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        if self.pairs.is_empty() {
            return Err(WriteError::InvalidArgument("NACK without pairs"));
        }
        let len = self.encoded_len();
        let out = start_feedback(
            buf,
            len,
            FMT_NACK,
            PT_RTPFB,
            self.sender_ssrc,
            self.media_ssrc,
        )?;
        write_pairs(out, self.pairs.iter().copied());
        Ok(len)
    }
}

fn write_pairs(out: &mut [u8], pairs: impl Iterator<Item = (u16, u16)>) {
    for (chunk, (pid, blp)) in out[4 + COMMON_LEN..].chunks_exact_mut(4).zip(pairs) {
        chunk[..2].copy_from_slice(&pid.to_be_bytes());
        chunk[2..].copy_from_slice(&blp.to_be_bytes());
    }
}

/// A picture loss indication: "send a keyframe" without a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pli {
    sender_ssrc: u32,
    media_ssrc: u32,
}

impl Pli {
    /// Accepts (and ignores) FCI bytes, which RFC 4585 does not define for
    /// PLI, as libwebrtc does.
    pub(super) fn parse(body: &[u8]) -> Result<Self, ParseError> {
        if body.len() < COMMON_LEN {
            return Err(ParseError::BadLength);
        }
        Ok(Pli {
            sender_ssrc: be32(body, 0),
            media_ssrc: be32(body, 4),
        })
    }

    pub fn sender_ssrc(&self) -> u32 {
        self.sender_ssrc
    }

    pub fn media_ssrc(&self) -> u32 {
        self.media_ssrc
    }
}

/// Builds a PLI (always 12 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PliBuilder {
    pub sender_ssrc: u32,
    pub media_ssrc: u32,
}

impl PliBuilder {
    pub const LEN: usize = 12;

    pub fn encoded_len(&self) -> usize {
        Self::LEN
    }

    /// Writes the packet at the start of `buf`; returns its length.
    ///
    /// # Errors
    /// `BufferTooSmall { needed }` when `buf` is shorter than [`encoded_len`](Self::encoded_len) (never `InvalidArgument`).
    pub fn write_into(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        start_feedback(
            buf,
            Self::LEN,
            FMT_PLI,
            PT_PSFB,
            self.sender_ssrc,
            self.media_ssrc,
        )?;
        Ok(Self::LEN)
    }
}

/// A full intra request: per-SSRC keyframe requests, each with a command
/// sequence number so that a repeated request is recognised as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fir<'a> {
    /// Both SSRCs, then a non-empty whole number of 8-byte entries.
    body: &'a [u8],
}

impl<'a> Fir<'a> {
    pub(super) fn parse(body: &'a [u8]) -> Result<Self, ParseError> {
        fci(body, 8)?;
        Ok(Fir { body })
    }

    pub fn sender_ssrc(&self) -> u32 {
        be32(self.body, 0)
    }

    /// Unused by FIR (RFC 5104 says 0); the targets are in the entries.
    pub fn media_ssrc(&self) -> u32 {
        be32(self.body, 4)
    }

    /// The (SSRC, command sequence number) entries.
    pub fn entries(&self) -> FirEntries<'a> {
        FirEntries {
            data: &self.body[COMMON_LEN..],
        }
    }
}

/// Iterator over a FIR's (SSRC, sequence number) entries.
#[derive(Debug, Clone)]
pub struct FirEntries<'a> {
    data: &'a [u8],
}

impl Iterator for FirEntries<'_> {
    type Item = (u32, u8);

    fn next(&mut self) -> Option<(u32, u8)> {
        let (head, tail) = self.data.split_first_chunk::<8>()?;
        self.data = tail;
        Some((be32(head, 0), head[4]))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.data.len() / 8;
        (n, Some(n))
    }
}

impl ExactSizeIterator for FirEntries<'_> {}

/// Builds a FIR; the media SSRC field is written as 0 (RFC 5104 §4.3.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FirBuilder<'a> {
    pub sender_ssrc: u32,
    /// (SSRC, command sequence number); at least one.
    pub entries: &'a [(u32, u8)],
}

impl FirBuilder<'_> {
    pub fn encoded_len(&self) -> usize {
        4 + COMMON_LEN + 8 * self.entries.len()
    }

    /// Writes the packet at the start of `buf`; returns its length.
    ///
    /// # Errors
    /// `InvalidArgument` for no entry; more entries than the 16-bit length field allows (about 32,000) (nothing is written);
    /// `BufferTooSmall { needed }` when `buf` is shorter than [`encoded_len`](Self::encoded_len).
    pub fn write_into(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        if self.entries.is_empty() {
            return Err(WriteError::InvalidArgument("FIR without entries"));
        }
        let len = self.encoded_len();
        let out = start_feedback(buf, len, FMT_FIR, PT_PSFB, self.sender_ssrc, 0)?;
        let fci = &mut out[4 + COMMON_LEN..];
        for (chunk, &(ssrc, seq)) in fci.chunks_exact_mut(8).zip(self.entries) {
            put32(chunk, 0, ssrc);
            chunk[4] = seq;
            chunk[5..].fill(0);
        }
        Ok(len)
    }
}
