//! RTP Control Protocol feedback for congestion control (RFC 8888): RTPFB
//! FMT 11.
//!
//! ```text
//! sender SSRC
//! per RTP stream: SSRC | begin_seq (16) | num_reports (16)
//!                 num_reports × (R | ECN (2) | arrival time offset (13)), padded to 32 bits
//! report timestamp (32: the middle 32 bits of an NTP time, 16.16 s)
//! ```
//!
//! An arrival time offset (ATO) is how long, in 1/1024 s, before the report
//! timestamp the packet arrived. 0x1FFE means "longer ago than 0x1FFD
//! allows", 0x1FFF "unknown or after the report timestamp" (RFC 8888 §3.1).

use crate::cc::{PacketResult, SentPacketId};

use super::{be16, be32, put32, start_packet, ParseError, WriteError, MAX_PACKET_LEN, PT_RTPFB};

/// RTPFB format of RFC 8888 congestion control feedback.
pub const FMT_CCFB: u8 = 11;
/// RFC 8888 §3.1: at most 16384 reports per stream and packet.
pub const MAX_REPORTS_PER_BLOCK: usize = 16384;
/// ATO value for an arrival longer ago than 0x1FFD / 1024 s.
pub const ATO_OVER_RANGE: u16 = 0x1ffe;
/// ATO value for an unknown arrival time (or one after the report timestamp).
pub const ATO_UNAVAILABLE: u16 = 0x1fff;
/// Stream SSRC, begin_seq and num_reports.
const BLOCK_HEADER_LEN: usize = 8;

/// Bytes of `n` metric blocks, padded to 32 bits.
#[inline]
fn metrics_len(n: usize) -> usize {
    (2 * n).next_multiple_of(4)
}

/// A report timestamp (NTP 16.16 s, wrapping) in µs, rounded down.
pub fn ntp16_to_us(ntp: u32) -> i64 {
    (i64::from(ntp) * 15_625) >> 10
}

/// The NTP 16.16 report timestamp of `us` (wrapping every 65536 s), rounded down.
pub fn us_to_ntp16(us: u64) -> u32 {
    ((u128::from(us) << 16) / 1_000_000) as u32
}

/// One packet's entry in a report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// RTP sequence number of the packet reported.
    pub seq: u16,
    pub received: bool,
    /// ECN bits as received (0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE).
    pub ecn: u8,
    /// Arrival time offset, 1/1024 s before the report timestamp (13 bits).
    pub ato: u16,
}

impl Metric {
    /// The arrival time in µs, on the scale where the report timestamp is
    /// `report_us`; `None` if not received or the offset is 0x1FFE/0x1FFF.
    pub fn arrival_us(&self, report_us: i64) -> Option<i64> {
        if !self.received || self.ato >= ATO_OVER_RANGE {
            return None;
        }
        Some(report_us - ((i64::from(self.ato) * 15_625) >> 4))
    }

    /// The metric for a packet received at `arrival_us` reported at
    /// `report_us` (both µs on one clock): the offset rounded to 1/1024 s,
    /// 0x1FFE if too old, 0x1FFF if after the report.
    pub fn received_at(seq: u16, ecn: u8, arrival_us: i64, report_us: i64) -> Metric {
        let ago = report_us - arrival_us;
        let ato = if ago < 0 {
            ATO_UNAVAILABLE
        } else {
            // Round to nearest 1/1024 s: 1 s = 1024 units.
            let units = (ago * 1024 + 500_000) / 1_000_000;
            if units > 0x1ffd {
                ATO_OVER_RANGE
            } else {
                units as u16
            }
        };
        Metric {
            seq,
            received: true,
            ecn: ecn & 3,
            ato,
        }
    }

    /// The metric of a packet not received.
    pub fn lost(seq: u16) -> Metric {
        Metric {
            seq,
            received: false,
            ecn: 0,
            ato: 0,
        }
    }

    fn encode(&self) -> u16 {
        if self.received {
            0x8000 | u16::from(self.ecn & 3) << 13 | (self.ato & 0x1fff)
        } else {
            0
        }
    }
}

/// A validated RFC 8888 feedback packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CongestionFeedback<'a> {
    /// Sender SSRC, report blocks, report timestamp.
    body: &'a [u8],
    blocks: u16,
}

impl<'a> CongestionFeedback<'a> {
    /// Validates the body of an RTPFB FMT 11 packet (after the header,
    /// padding removed). Every report block must be whole with its padded
    /// metrics (`BadLength`), with at most 16384 reports (`Malformed`).
    pub fn parse(body: &'a [u8]) -> Result<Self, ParseError> {
        if body.len() < 8 {
            return Err(ParseError::BadLength);
        }
        let mut rest = &body[4..body.len() - 4];
        let mut blocks = 0u16;
        while !rest.is_empty() {
            if rest.len() < BLOCK_HEADER_LEN {
                return Err(ParseError::BadLength);
            }
            let n = usize::from(be16(rest, 6));
            if n > MAX_REPORTS_PER_BLOCK {
                return Err(ParseError::Malformed);
            }
            let len = BLOCK_HEADER_LEN + metrics_len(n);
            rest = rest.get(len..).ok_or(ParseError::BadLength)?;
            // At most 65536 words in a packet, 2 per block: fits u16.
            blocks += 1;
        }
        Ok(CongestionFeedback { body, blocks })
    }

    pub fn sender_ssrc(&self) -> u32 {
        be32(self.body, 0)
    }

    /// The report timestamp (NTP 16.16 s, wrapping).
    pub fn report_timestamp(&self) -> u32 {
        be32(self.body, self.body.len() - 4)
    }

    /// Report blocks, one per RTP stream.
    pub fn blocks(&self) -> CcfbBlocks<'a> {
        CcfbBlocks {
            rest: &self.body[4..self.body.len() - 4],
            left: self.blocks,
        }
    }

    /// Every packet reported, block by block, with arrival times in µs on the
    /// scale where the report timestamp is [`ntp16_to_us`] of it.
    ///
    /// Packets reported received with an unknown arrival (ATO 0x1FFE or
    /// 0x1FFF) are skipped: [`PacketResult`] cannot say "received, time
    /// unknown", and reporting them lost would be false. [`Self::blocks`]
    /// shows them.
    pub fn results(&self) -> CcfbResults<'a> {
        self.results_from(ntp16_to_us(self.report_timestamp()))
    }

    /// As [`Self::results`], with the report timestamp given in µs, e.g.
    /// unwrapped across the 65536 s wrap with a
    /// [`TimestampUnwrapper`](crate::packet::TimestampUnwrapper):
    /// `(unwrapper.unwrap(fb.report_timestamp().into()) * 15_625) >> 10`.
    pub fn results_from(&self, report_us: i64) -> CcfbResults<'a> {
        CcfbResults {
            blocks: self.blocks(),
            current: None,
            report_us,
        }
    }
}

/// One RTP stream's report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcfbBlock<'a> {
    pub ssrc: u32,
    pub begin_seq: u16,
    /// Exactly `num_reports` 2-byte metric blocks (padding cut off).
    metrics: &'a [u8],
}

impl<'a> CcfbBlock<'a> {
    pub fn num_reports(&self) -> usize {
        self.metrics.len() / 2
    }

    /// The metric blocks, for `begin_seq`, `begin_seq + 1`, …
    pub fn metrics(&self) -> CcfbMetrics<'a> {
        CcfbMetrics {
            data: self.metrics,
            seq: self.begin_seq,
        }
    }
}

/// Iterator over report blocks.
#[derive(Debug, Clone)]
pub struct CcfbBlocks<'a> {
    rest: &'a [u8],
    left: u16,
}

impl<'a> Iterator for CcfbBlocks<'a> {
    type Item = CcfbBlock<'a>;

    fn next(&mut self) -> Option<CcfbBlock<'a>> {
        // Parse checked every block's length.
        let head = self.rest.get(..BLOCK_HEADER_LEN)?;
        let n = usize::from(be16(head, 6));
        let metrics = self.rest.get(BLOCK_HEADER_LEN..BLOCK_HEADER_LEN + 2 * n)?;
        self.rest = self
            .rest
            .get(BLOCK_HEADER_LEN + metrics_len(n)..)
            .unwrap_or_default();
        self.left = self.left.saturating_sub(1);
        Some(CcfbBlock {
            ssrc: be32(head, 0),
            begin_seq: be16(head, 4),
            metrics,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::from(self.left), Some(usize::from(self.left)))
    }
}

impl ExactSizeIterator for CcfbBlocks<'_> {}

/// Iterator over one block's metric blocks.
#[derive(Debug, Clone)]
pub struct CcfbMetrics<'a> {
    data: &'a [u8],
    seq: u16,
}

impl Iterator for CcfbMetrics<'_> {
    type Item = Metric;

    fn next(&mut self) -> Option<Metric> {
        let (head, tail) = self.data.split_first_chunk::<2>()?;
        self.data = tail;
        let v = u16::from_be_bytes(*head);
        let seq = self.seq;
        self.seq = seq.wrapping_add(1);
        // RFC 8888: when R is 0 the other bits carry nothing (pion ignores them too).
        Some(if v & 0x8000 == 0 {
            Metric::lost(seq)
        } else {
            Metric {
                seq,
                received: true,
                ecn: ((v >> 13) & 3) as u8,
                ato: v & 0x1fff,
            }
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.data.len() / 2;
        (n, Some(n))
    }
}

impl ExactSizeIterator for CcfbMetrics<'_> {}

/// Iterator returned by [`CongestionFeedback::results`].
#[derive(Debug, Clone)]
pub struct CcfbResults<'a> {
    blocks: CcfbBlocks<'a>,
    current: Option<(u32, CcfbMetrics<'a>)>,
    report_us: i64,
}

impl Iterator for CcfbResults<'_> {
    type Item = PacketResult;

    fn next(&mut self) -> Option<PacketResult> {
        loop {
            if let Some((ssrc, metrics)) = &mut self.current {
                for m in metrics.by_ref() {
                    let arrival_us = m.arrival_us(self.report_us);
                    if m.received && arrival_us.is_none() {
                        continue;
                    }
                    return Some(PacketResult {
                        id: SentPacketId::Rtp {
                            ssrc: *ssrc,
                            seq: m.seq,
                        },
                        arrival_us,
                        ecn: Some(m.ecn),
                    });
                }
            }
            let block = self.blocks.next()?;
            self.current = Some((block.ssrc, block.metrics()));
        }
    }
}

/// Writes an RFC 8888 packet block by block into a caller buffer:
/// [`Self::new`], [`Self::push_block`] per stream, [`Self::finish`].
#[derive(Debug)]
pub struct CcfbWriter<'b> {
    out: &'b mut [u8],
    /// Bytes written so far (header, sender SSRC, blocks).
    len: usize,
    /// The packet may not grow past this (report timestamp included).
    limit: usize,
}

impl<'b> CcfbWriter<'b> {
    /// Starts a packet in `buf`, at most `max_len` bytes long.
    pub fn new(buf: &'b mut [u8], sender_ssrc: u32, max_len: usize) -> Result<Self, WriteError> {
        let limit = max_len.min(buf.len()).min(MAX_PACKET_LEN);
        if limit < 12 {
            return Err(WriteError::BufferTooSmall { needed: 12 });
        }
        put32(buf, 4, sender_ssrc);
        Ok(CcfbWriter {
            out: buf,
            len: 8,
            limit,
        })
    }

    /// Bytes a block of `n` reports takes.
    pub fn block_len(n: usize) -> usize {
        BLOCK_HEADER_LEN + metrics_len(n)
    }

    /// Room left for blocks, bytes.
    pub fn room(&self) -> usize {
        self.limit - 4 - self.len
    }

    /// Appends a block for `ssrc` with as many of `metrics` (consecutive
    /// sequence numbers from the first's; at most 16384) as fit, and returns
    /// how many. 0 and nothing written when not even one fits; an empty
    /// `metrics` writes a block with no reports.
    pub fn push_block<I>(&mut self, ssrc: u32, metrics: I) -> usize
    where
        I: IntoIterator<Item = Metric>,
    {
        if self.room() < BLOCK_HEADER_LEN {
            return 0;
        }
        let fit = ((self.room() - BLOCK_HEADER_LEN) / 4 * 2).min(MAX_REPORTS_PER_BLOCK);
        let mut metrics = metrics.into_iter().peekable();
        let begin = match metrics.peek() {
            Some(_) if fit == 0 => return 0,
            Some(m) => m.seq,
            // An empty block (RFC 8888 allows num_reports 0).
            None => 0,
        };
        let start = self.len;
        let mut n = 0;
        for m in metrics.take(fit) {
            let at = start + BLOCK_HEADER_LEN + 2 * n;
            self.out[at..at + 2].copy_from_slice(&m.encode().to_be_bytes());
            n += 1;
        }
        put32(self.out, start, ssrc);
        self.out[start + 4..start + 6].copy_from_slice(&begin.to_be_bytes());
        self.out[start + 6..start + 8].copy_from_slice(&(n as u16).to_be_bytes());
        if n % 2 == 1 {
            let at = start + BLOCK_HEADER_LEN + 2 * n;
            self.out[at..at + 2].fill(0);
        }
        self.len += Self::block_len(n);
        n
    }

    /// Writes the report timestamp and the header; returns the length.
    pub fn finish(self, report_timestamp: u32) -> Result<usize, WriteError> {
        let len = self.len + 4;
        put32(self.out, self.len, report_timestamp);
        start_packet(self.out, len, usize::from(FMT_CCFB), PT_RTPFB)?;
        Ok(len)
    }
}

/// One stream's reports, for [`CcfbBuilder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcfbStream<'a> {
    pub ssrc: u32,
    /// Consecutive sequence numbers, the first being the block's begin_seq.
    pub metrics: &'a [Metric],
}

/// Builds a whole RFC 8888 packet from slices (all of it or an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CcfbBuilder<'a> {
    pub sender_ssrc: u32,
    pub report_timestamp: u32,
    pub streams: &'a [CcfbStream<'a>],
}

impl CcfbBuilder<'_> {
    pub fn encoded_len(&self) -> usize {
        12 + self
            .streams
            .iter()
            .map(|s| CcfbWriter::block_len(s.metrics.len()))
            .sum::<usize>()
    }

    pub fn write_into(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        let len = self.encoded_len();
        if len > MAX_PACKET_LEN {
            return Err(WriteError::InvalidArgument(
                "RTCP packet longer than its length field allows",
            ));
        }
        super::ensure_room(buf, len)?;
        let mut w = CcfbWriter::new(buf, self.sender_ssrc, len)?;
        for s in self.streams {
            if s.metrics.len() > MAX_REPORTS_PER_BLOCK {
                return Err(WriteError::InvalidArgument(
                    "more than 16384 reports in one RFC 8888 block",
                ));
            }
            if w.push_block(s.ssrc, s.metrics.iter().copied()) != s.metrics.len() {
                return Err(WriteError::InvalidArgument(
                    "an RFC 8888 block has no reports",
                ));
            }
        }
        w.finish(self.report_timestamp)
    }
}
