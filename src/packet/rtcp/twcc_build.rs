//! Writing transport-cc feedback (RTPFB FMT 15) into a caller buffer.
//!
//! Chunks are chosen as libwebrtc's `TransportFeedback::LastChunk` does: a
//! chunk collects statuses while they stay the same (a run, up to 8191), or
//! while a status vector can still hold them (seven 2-bit statuses, or
//! fourteen 1-bit ones when no large delta is among them); when the next
//! status fits neither, the chunk is emitted (a run if all equal, else a
//! vector, keeping the statuses a 2-bit vector could not take). Its unit
//! tests' packet sizes are checked in `tests/twcc_vectors.rs`.
//!
//! Two passes over the entries: the first decides how many fit (deltas in
//! range, status count ≤ 65535, packet ≤ the size limit) and writes the
//! chunks (whose offsets do not depend on how many there will be); the
//! second writes the deltas after the last chunk. Nothing is allocated.

use super::twcc::{Status, DELTA_TICK_US, FIXED_LEN, FMT_TWCC, MAX_RUN, REFERENCE_TICK_US};
use super::{put32, start_packet, WriteError, MAX_PACKET_LEN, PT_RTPFB};

/// The common header plus the fixed part: the smallest feedback is this
/// plus one chunk and one delta, padded.
const HEADER_LEN: usize = 4 + FIXED_LEN;
/// Smallest packet holding one status: header, one chunk, one large delta.
pub const MIN_TWCC_LEN: usize = HEADER_LEN + 4;

/// Builds one transport-cc feedback packet from entries sorted by
/// transport-wide sequence number (each after the previous one, modulo
/// 2^16; gaps are reported not received).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportFeedbackBuilder {
    pub sender_ssrc: u32,
    /// libwebrtc puts the SSRC of one of the sender's media streams here;
    /// receivers ignore it.
    pub media_ssrc: u32,
    /// Increment per feedback sent (wrapping): lets the sender notice lost
    /// feedback.
    pub fb_pkt_count: u8,
    /// Longest packet to write, bytes (the buffer's length also limits it).
    pub max_len: usize,
}

impl Default for TransportFeedbackBuilder {
    fn default() -> Self {
        TransportFeedbackBuilder {
            sender_ssrc: 0,
            media_ssrc: 0,
            fb_pkt_count: 0,
            max_len: MAX_PACKET_LEN,
        }
    }
}

/// What [`TransportFeedbackBuilder::write_into`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Bytes of the packet (a multiple of 4).
    pub len: usize,
    /// Entries it reports, from the first: the rest need another packet
    /// (a delta out of range, 65535 statuses, or the size limit).
    pub entries: usize,
}

impl TransportFeedbackBuilder {
    /// Writes as many of `entries` (`(transport seq, arrival µs or None if
    /// lost)`) as fit into one packet at the start of `buf`.
    ///
    /// Arrival times are rounded down to 250 µs; the reference time is the
    /// first received entry's, rounded down to 64 ms.
    ///
    /// Errors: no entries, or entries not in increasing sequence order
    /// (`InvalidArgument`); not even the first entry fits the limit
    /// (`BufferTooSmall`).
    pub fn write_into(
        &self,
        buf: &mut [u8],
        entries: &[(u16, Option<i64>)],
    ) -> Result<Written, WriteError> {
        self.write_iter(buf, entries.iter().copied())
    }

    /// [`Self::write_into`] over any re-iterable source of entries (e.g. a
    /// receiver's ring buffer), without collecting them.
    pub fn write_iter<I>(&self, buf: &mut [u8], entries: I) -> Result<Written, WriteError>
    where
        I: Iterator<Item = (u16, Option<i64>)> + Clone,
    {
        let limit = self.max_len.min(buf.len()).min(MAX_PACKET_LEN);
        // One pass decides how many entries fit and writes the chunks at
        // their final offsets (an entry that overflows is undone; a chunk it
        // wrote is overwritten or lies past the packet).
        let mut plan = Encoder::new(buf);
        let mut used = 0;
        for (seq, arrival) in entries.clone() {
            // Only an entry that might overflow needs its state saved (a
            // copy right after byte-wise writes to it is slow).
            if plan.may_overflow(seq, limit) {
                let before = plan.snapshot();
                if !plan.add(seq, arrival)? {
                    break;
                }
                if plan.packet_len() > limit {
                    plan.restore(before);
                    break;
                }
            } else if !plan.add(seq, arrival)? {
                break;
            }
            used += 1;
        }
        if used == 0 {
            let needed = plan.packet_len().max(MIN_TWCC_LEN);
            return Err(if entries.clone().next().is_none() {
                WriteError::InvalidArgument("no feedback entries")
            } else {
                WriteError::BufferTooSmall { needed }
            });
        }
        let len = plan.packet_len();
        plan.finish();
        let status_count = plan.count as u16;
        let reference = plan.reference_ticks.unwrap_or(0);
        let deltas_start = HEADER_LEN + 2 * plan.chunks;

        let out = start_packet(buf, len, usize::from(FMT_TWCC), PT_RTPFB)?;
        put32(out, 4, self.sender_ssrc);
        put32(out, 8, self.media_ssrc);
        let (base, _) = entries.clone().next().unwrap_or((0, None));
        out[12..14].copy_from_slice(&base.to_be_bytes());
        out[14..16].copy_from_slice(&status_count.to_be_bytes());
        // 24 bits of reference time (two's complement, wrapping), then the count.
        put32(
            out,
            16,
            ((reference as u32) << 8) | u32::from(self.fb_pkt_count),
        );
        // The second pass writes the deltas, classified as the first did.
        let mut at = deltas_start;
        let mut prev = reference * (REFERENCE_TICK_US / DELTA_TICK_US);
        for (_, arrival) in entries.take(used) {
            let Some(arrival) = arrival else { continue };
            let ticks = arrival.div_euclid(DELTA_TICK_US);
            let delta = ticks - prev;
            prev = ticks;
            if (0..=255).contains(&delta) {
                out[at] = delta as u8;
                at += 1;
            } else {
                out[at..at + 2].copy_from_slice(&(delta as i16).to_be_bytes());
                at += 2;
            }
        }
        let pad = len - at;
        if pad > 0 {
            // Alignment as libwebrtc writes it: RTCP padding (P bit, count last).
            out[at..len].fill(0);
            out[len - 1] = pad as u8;
            out[0] |= 0x20;
        }
        Ok(Written { len, entries: used })
    }
}

/// The chunk being filled (libwebrtc's `LastChunk`).
#[derive(Debug, Clone, Copy)]
struct LastChunk {
    /// The first 14 statuses (enough for either vector).
    symbols: [u8; 14],
    size: u16,
    all_same: bool,
    has_large: bool,
}

impl LastChunk {
    const EMPTY: LastChunk = LastChunk {
        symbols: [0; 14],
        size: 0,
        all_same: true,
        has_large: false,
    };

    #[inline]
    fn can_add(&self, s: u8) -> bool {
        self.size < 7
            || (self.size < 14 && !self.has_large && s != Status::LargeDelta as u8)
            || (self.size < MAX_RUN && self.all_same && self.symbols[0] == s)
    }

    #[inline]
    fn add(&mut self, s: u8) {
        if self.size < 14 {
            self.symbols[usize::from(self.size)] = s;
        }
        self.all_same &= s == self.symbols[0];
        self.has_large |= s == Status::LargeDelta as u8;
        self.size += 1;
    }

    /// In a long run (past what a vector holds) that `s` continues.
    fn in_run_of(&self, s: u8) -> bool {
        self.size >= 14 && self.all_same && self.symbols[0] == s
    }

    fn run(&self) -> u16 {
        u16::from(self.symbols[0]) << 13 | self.size
    }

    fn one_bit(&self, n: u16) -> u16 {
        (0..n).fold(0x8000, |c, i| {
            c | u16::from(self.symbols[usize::from(i)]) << (13 - i)
        })
    }

    fn two_bit(&self, n: u16) -> u16 {
        (0..n).fold(0xc000, |c, i| {
            c | u16::from(self.symbols[usize::from(i)]) << (12 - 2 * i)
        })
    }

    /// Takes a full chunk out (only when the next status cannot be added).
    fn emit(&mut self) -> u16 {
        if self.all_same {
            let c = self.run();
            *self = Self::EMPTY;
            return c;
        }
        if self.size == 14 {
            let c = self.one_bit(14);
            *self = Self::EMPTY;
            return c;
        }
        let c = self.two_bit(7);
        let rest = self.size - 7;
        let mut next = Self::EMPTY;
        for i in 0..rest {
            next.add(self.symbols[usize::from(7 + i)]);
        }
        *self = next;
        c
    }

    /// Encodes what is left at the end of the packet.
    fn encode_last(&self) -> u16 {
        if self.all_same {
            self.run()
        } else if self.size <= 7 {
            self.two_bit(self.size)
        } else {
            self.one_bit(self.size)
        }
    }
}

/// Encoder state: what the first pass measures and the second pass writes.
struct Encoder<'b> {
    last: LastChunk,
    /// Chunks emitted so far.
    chunks: usize,
    delta_bytes: usize,
    /// Statuses so far.
    count: u32,
    prev_seq: u16,
    /// The previous received packet's arrival (or the reference), 250 µs ticks.
    prev_ticks: i64,
    /// In 64 ms ticks, set by the first received entry.
    reference_ticks: Option<i64>,
    /// The caller's buffer: chunks are written at their final offsets.
    out: &'b mut [u8],
}

/// The encoder's state without the output, to undo an entry that overflowed.
#[derive(Clone, Copy)]
struct Snapshot {
    last: LastChunk,
    chunks: usize,
    delta_bytes: usize,
    count: u32,
    prev_seq: u16,
    prev_ticks: i64,
    reference_ticks: Option<i64>,
}

impl<'b> Encoder<'b> {
    fn new(out: &'b mut [u8]) -> Self {
        Encoder {
            last: LastChunk::EMPTY,
            chunks: 0,
            delta_bytes: 0,
            count: 0,
            prev_seq: 0,
            prev_ticks: 0,
            reference_ticks: None,
            out,
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            last: self.last,
            chunks: self.chunks,
            delta_bytes: self.delta_bytes,
            count: self.count,
            prev_seq: self.prev_seq,
            prev_ticks: self.prev_ticks,
            reference_ticks: self.reference_ticks,
        }
    }

    fn restore(&mut self, s: Snapshot) {
        self.last = s.last;
        self.chunks = s.chunks;
        self.delta_bytes = s.delta_bytes;
        self.count = s.count;
        self.prev_seq = s.prev_seq;
        self.prev_ticks = s.prev_ticks;
        self.reference_ticks = s.reference_ticks;
    }

    /// Whether adding `seq` could take the packet past `limit`: an entry
    /// adds at most a 2-byte delta, the chunks its gap's not-received run
    /// and itself complete (at most 5 plus one per 8191 statuses) and 3
    /// bytes of padding.
    fn may_overflow(&self, seq: u16, limit: usize) -> bool {
        let gap = usize::from(seq.wrapping_sub(self.prev_seq));
        let chunks = self.chunks + usize::from(self.last.size > 0);
        HEADER_LEN + 2 * chunks + self.delta_bytes + 2 + 2 * (5 + (gap >> 13)) + 3 > limit
    }

    /// Packet length if it ended now, padded to 32 bits.
    fn packet_len(&self) -> usize {
        let chunks = self.chunks + usize::from(self.last.size > 0);
        (HEADER_LEN + 2 * chunks + self.delta_bytes).next_multiple_of(4)
    }

    /// Adds one entry (and the not-received statuses of a gap before it).
    /// `Ok(false)` when it cannot go in this packet (delta out of range or
    /// too many statuses); the state is then unchanged.
    #[inline(always)]
    fn add(&mut self, seq: u16, arrival_us: Option<i64>) -> Result<bool, WriteError> {
        let gap = if self.count == 0 {
            1
        } else {
            match seq.wrapping_sub(self.prev_seq) {
                0 | 0x8001.. => {
                    return Err(WriteError::InvalidArgument(
                        "feedback entries must be in increasing sequence order",
                    ))
                }
                g => u32::from(g),
            }
        };
        if self.count + gap > u32::from(u16::MAX) {
            return Ok(false);
        }
        let status = match arrival_us {
            None => Status::NotReceived,
            Some(at) => {
                let ticks = at.div_euclid(DELTA_TICK_US);
                let prev = match self.reference_ticks {
                    Some(_) => self.prev_ticks,
                    None => at.div_euclid(REFERENCE_TICK_US) * (REFERENCE_TICK_US / DELTA_TICK_US),
                };
                let delta = ticks - prev;
                let status = match delta {
                    0..=255 => Status::SmallDelta,
                    -32768..=32767 => Status::LargeDelta,
                    _ => return Ok(false),
                };
                if self.reference_ticks.is_none() {
                    self.reference_ticks = Some(at.div_euclid(REFERENCE_TICK_US));
                }
                self.prev_ticks = ticks;
                status
            }
        };
        if gap > 1 {
            self.push(Status::NotReceived as u8, gap - 1);
        }
        self.push_one(status as u8);
        self.delta_bytes += status.delta_len();
        self.count += gap;
        self.prev_seq = seq;
        Ok(true)
    }

    /// Appends one status.
    #[inline(always)]
    fn push_one(&mut self, s: u8) {
        if !self.last.can_add(s) {
            self.emit();
        }
        self.last.add(s);
    }

    /// Appends `n` statuses `s`; long runs in O(1) per chunk.
    fn push(&mut self, s: u8, mut n: u32) {
        while n > 0 {
            if !self.last.can_add(s) {
                self.emit();
            }
            if self.last.in_run_of(s) {
                let take = (u32::from(MAX_RUN - self.last.size)).min(n);
                self.last.size += take as u16;
                n -= take;
            } else {
                self.last.add(s);
                n -= 1;
            }
        }
    }

    fn emit(&mut self) {
        let chunk = self.last.emit();
        self.put_chunk(chunk);
    }

    fn put_chunk(&mut self, chunk: u16) {
        let at = HEADER_LEN + 2 * self.chunks;
        if let Some(slot) = self.out.get_mut(at..at + 2) {
            slot.copy_from_slice(&chunk.to_be_bytes());
        }
        self.chunks += 1;
    }

    /// Writes the chunk still being filled.
    fn finish(&mut self) {
        if self.last.size > 0 {
            let chunk = self.last.encode_last();
            self.put_chunk(chunk);
            self.last = LastChunk::EMPTY;
        }
    }
}
