//! Sender and receiver reports (RFC 3550 §6.4) and their report blocks.

use super::{be32, check_count, put32, start_packet, ParseError, WriteError, PT_RR, PT_SR};

/// Bytes of sender info after the SSRC in an SR.
const SENDER_INFO_LEN: usize = 20;

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost; 24-bit signed on the wire (duplicates can
    /// make it negative), so builders reject values outside
    /// [`ReportBlock::MIN_CUMULATIVE_LOST`]..=[`ReportBlock::MAX_CUMULATIVE_LOST`].
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    /// Interarrival jitter, in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received.
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 seconds.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// Encoded size of one block.
    pub const LEN: usize = 24;
    pub const MAX_CUMULATIVE_LOST: i32 = 0x7f_ffff;
    pub const MIN_CUMULATIVE_LOST: i32 = -0x80_0000;

    /// Clamps a loss count to the 24-bit field, as RFC 3550 A.3 asks.
    pub fn clamp_cumulative_lost(lost: i64) -> i32 {
        // In range after the clamp, so the cast is lossless.
        lost.clamp(
            i64::from(Self::MIN_CUMULATIVE_LOST),
            i64::from(Self::MAX_CUMULATIVE_LOST),
        ) as i32
    }

    pub(super) fn parse(b: &[u8; Self::LEN]) -> Self {
        let lost = u32::from_be_bytes([b[5], b[6], b[7], 0]);
        ReportBlock {
            ssrc: be32(b, 0),
            fraction_lost: b[4],
            // Sign-extend the 24-bit field from the top of an i32.
            cumulative_lost: (lost as i32) >> 8,
            extended_highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        }
    }

    fn check(&self) -> Result<(), WriteError> {
        if (Self::MIN_CUMULATIVE_LOST..=Self::MAX_CUMULATIVE_LOST).contains(&self.cumulative_lost) {
            Ok(())
        } else {
            Err(WriteError::InvalidArgument(
                "cumulative_lost does not fit 24 bits",
            ))
        }
    }

    /// Writes the block into `out[..24]`.
    pub(super) fn write(&self, out: &mut [u8]) {
        put32(out, 0, self.ssrc);
        put32(out, 4, self.cumulative_lost as u32 & 0xff_ffff);
        out[4] = self.fraction_lost;
        put32(out, 8, self.extended_highest_seq);
        put32(out, 12, self.jitter);
        put32(out, 16, self.last_sr);
        put32(out, 20, self.delay_since_last_sr);
    }
}

/// Iterator over the report blocks of an SR or RR.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    data: &'a [u8],
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        let (head, tail) = self.data.split_first_chunk::<{ ReportBlock::LEN }>()?;
        self.data = tail;
        Some(ReportBlock::parse(head))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.data.len() / ReportBlock::LEN;
        (n, Some(n))
    }
}

impl ExactSizeIterator for ReportBlocks<'_> {}

/// Splits `body` after `fixed` bytes and `count` report blocks, or fails
/// with `BadLength` if the count does not fit.
fn split_blocks(body: &[u8], fixed: usize, count: u8) -> Result<(&[u8], &[u8]), ParseError> {
    let end = fixed + usize::from(count) * ReportBlock::LEN;
    if body.len() < end {
        return Err(ParseError::BadLength);
    }
    Ok((&body[fixed..end], &body[end..]))
}

/// A sender report: sender info plus reception report blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// Body after the header, padding removed; holds at least the sender
    /// info and every block the count announces.
    body: &'a [u8],
    blocks: &'a [u8],
    extension: &'a [u8],
}

impl<'a> SenderReport<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, ParseError> {
        let (blocks, extension) = split_blocks(body, 4 + SENDER_INFO_LEN, count)?;
        Ok(SenderReport {
            body,
            blocks,
            extension,
        })
    }

    pub fn ssrc(&self) -> u32 {
        be32(self.body, 0)
    }

    /// 64-bit NTP timestamp (seconds in the high word, fraction in the low).
    pub fn ntp_timestamp(&self) -> u64 {
        u64::from(be32(self.body, 4)) << 32 | u64::from(be32(self.body, 8))
    }

    pub fn rtp_timestamp(&self) -> u32 {
        be32(self.body, 12)
    }

    pub fn packet_count(&self) -> u32 {
        be32(self.body, 16)
    }

    pub fn octet_count(&self) -> u32 {
        be32(self.body, 20)
    }

    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks { data: self.blocks }
    }

    /// Bytes after the report blocks (RFC 3550 profile-specific extension).
    pub fn profile_extension(&self) -> &'a [u8] {
        self.extension
    }
}

/// A receiver report: the reporter's SSRC plus reception report blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    body: &'a [u8],
    blocks: &'a [u8],
    extension: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, ParseError> {
        let (blocks, extension) = split_blocks(body, 4, count)?;
        Ok(ReceiverReport {
            body,
            blocks,
            extension,
        })
    }

    pub fn ssrc(&self) -> u32 {
        be32(self.body, 0)
    }

    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks { data: self.blocks }
    }

    /// Bytes after the report blocks (RFC 3550 profile-specific extension).
    pub fn profile_extension(&self) -> &'a [u8] {
        self.extension
    }
}

/// Writes the blocks from `at` on; `out` was sized for them.
fn write_blocks(out: &mut [u8], at: usize, blocks: &[ReportBlock]) {
    for (chunk, block) in out[at..].chunks_exact_mut(ReportBlock::LEN).zip(blocks) {
        block.write(chunk);
    }
}

fn check_blocks(blocks: &[ReportBlock]) -> Result<(), WriteError> {
    check_count(blocks.len(), "more than 31 report blocks")?;
    blocks.iter().try_for_each(ReportBlock::check)
}

/// Builds a sender report. More than 31 blocks need a second packet (an RR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderReportBuilder<'a> {
    pub ssrc: u32,
    pub ntp_timestamp: u64,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
    pub report_blocks: &'a [ReportBlock],
}

impl SenderReportBuilder<'_> {
    pub fn encoded_len(&self) -> usize {
        8 + SENDER_INFO_LEN + self.report_blocks.len() * ReportBlock::LEN
    }

    /// Writes the packet at the start of `buf`; returns its length.
    ///
    /// # Errors
    /// `InvalidArgument` for more than 31 report blocks (the 5-bit count; send the rest in an RR); a block whose `cumulative_lost` does not fit 24 bits (see [`ReportBlock::clamp_cumulative_lost`]) (nothing is written);
    /// `BufferTooSmall { needed }` when `buf` is shorter than [`encoded_len`](Self::encoded_len).
    pub fn write_into(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        check_blocks(self.report_blocks)?;
        let len = self.encoded_len();
        let out = start_packet(buf, len, self.report_blocks.len(), PT_SR)?;
        put32(out, 4, self.ssrc);
        put32(out, 8, (self.ntp_timestamp >> 32) as u32);
        put32(out, 12, self.ntp_timestamp as u32);
        put32(out, 16, self.rtp_timestamp);
        put32(out, 20, self.packet_count);
        put32(out, 24, self.octet_count);
        write_blocks(out, 28, self.report_blocks);
        Ok(len)
    }
}

/// Builds a receiver report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiverReportBuilder<'a> {
    pub ssrc: u32,
    pub report_blocks: &'a [ReportBlock],
}

impl ReceiverReportBuilder<'_> {
    pub fn encoded_len(&self) -> usize {
        8 + self.report_blocks.len() * ReportBlock::LEN
    }

    /// Writes the packet at the start of `buf`; returns its length.
    ///
    /// # Errors
    /// `InvalidArgument` for more than 31 report blocks (the 5-bit count; send the rest in another RR); a block whose `cumulative_lost` does not fit 24 bits (see [`ReportBlock::clamp_cumulative_lost`]) (nothing is written);
    /// `BufferTooSmall { needed }` when `buf` is shorter than [`encoded_len`](Self::encoded_len).
    pub fn write_into(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        check_blocks(self.report_blocks)?;
        let len = self.encoded_len();
        let out = start_packet(buf, len, self.report_blocks.len(), PT_RR)?;
        put32(out, 4, self.ssrc);
        write_blocks(out, 8, self.report_blocks);
        Ok(len)
    }
}
