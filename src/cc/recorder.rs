//! The feedback recorder a receiver (the SFU, per incoming transport) runs:
//! it notes when each packet arrived and sends the arrival times back to
//! the publisher as transport-cc (default) or RFC 8888 feedback, for the
//! publisher's bandwidth estimator.
//!
//! Sans-IO: [`FeedbackRecorder::on_packet`] per packet received,
//! [`FeedbackRecorder::poll_feedback`] until it answers `None`, and
//! [`FeedbackRecorder::next_wakeup`] for when to poll again.
//!
//! Bounds (documented caps): each sequence-number space keeps the arrival
//! times of its last `window` packets (default 2048); a packet more than
//! `window` behind the highest one is dropped and counted
//! ([`RecorderStats::too_old`]), and received packets pushed out of the
//! window before being reported are counted ([`RecorderStats::evicted`]).
//! A huge sequence jump costs at most `window` slot clears. RFC 8888 keeps
//! at most `max_streams` SSRCs (default 16); packets of others are counted
//! and dropped. Nothing is allocated after a stream's first packet.
//!
//! Rate: feedback every `interval_us` (default 100 ms, 50–250 ms), stretched
//! (up to 250 ms, libwebrtc's bound too) so that feedback takes at most
//! `rtcp_share_percent` (default 5 %) of the incoming rate measured over
//! the last interval, as libwebrtc's RemoteEstimatorProxy sizes its
//! interval from the bitrate.

mod window;

use crate::packet::rtcp::{us_to_ntp16, CcfbWriter, Metric, TransportFeedbackBuilder};
use crate::packet::WriteError;

use super::SentPacketId;
use window::{Recorded, Window};

/// Shortest and longest feedback interval, µs.
pub const MIN_INTERVAL_US: u64 = 50_000;
pub const MAX_INTERVAL_US: u64 = 250_000;
/// Bytes of IPv4 + UDP + SRTCP (index, 10-byte tag) around each feedback
/// packet, counted against the RTCP share.
pub const FEEDBACK_OVERHEAD: usize = 20 + 8 + 4 + 10;
/// A buffer this long always holds a feedback packet with at least one entry.
pub const MIN_FEEDBACK_BUF: usize = 64;
/// Most packets a window may track.
pub const MAX_WINDOW: usize = 1 << 15;

/// Which feedback format to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeedbackFormat {
    /// transport-cc (RTPFB 15): packets named by transport-wide sequence
    /// number ([`SentPacketId::TransportSeq`]).
    #[default]
    TransportCc,
    /// RFC 8888 (RTPFB 11): packets named by SSRC and RTP sequence number
    /// ([`SentPacketId::Rtp`]).
    Rfc8888,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecorderConfig {
    pub format: FeedbackFormat,
    /// SSRC the feedback is sent from.
    pub sender_ssrc: u32,
    /// transport-cc's media SSRC field (one of the publisher's SSRCs; unused
    /// by receivers).
    pub media_ssrc: u32,
    /// Feedback interval, µs, 50 000–250 000.
    pub interval_us: u64,
    /// Share of the incoming rate feedback may take, percent (1–100).
    pub rtcp_share_percent: u32,
    /// Longest feedback packet, bytes (at least 64).
    pub max_packet_len: usize,
    /// Packets tracked per sequence-number space: a power of two, 64–32768.
    pub window: usize,
    /// RFC 8888: SSRCs tracked, 1–64.
    pub max_streams: usize,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            format: FeedbackFormat::TransportCc,
            sender_ssrc: 0,
            media_ssrc: 0,
            interval_us: 100_000,
            rtcp_share_percent: 5,
            max_packet_len: 1200,
            window: 2048,
            max_streams: 16,
        }
    }
}

/// Counters, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecorderStats {
    /// Packets recorded (not duplicates, not dropped).
    pub packets: u64,
    pub duplicates: u64,
    /// More than `window` behind the highest sequence number.
    pub too_old: u64,
    /// Received, then pushed out of the window before any feedback covered it.
    pub evicted: u64,
    /// RFC 8888: from an SSRC beyond `max_streams`; or an id of the other
    /// format's kind.
    pub rejected: u64,
    pub feedback_packets: u64,
    pub feedback_bytes: u64,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError(pub &'static str);

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid recorder configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Records arrivals and writes feedback. See the module documentation.
#[derive(Debug)]
pub struct FeedbackRecorder {
    config: RecorderConfig,
    /// transport-cc: one window; RFC 8888: one per SSRC, created on first packet.
    streams: Vec<(u32, Window)>,
    fb_pkt_count: u8,
    /// When the last feedback round ended (or the first packet arrived).
    last_feedback_us: Option<u64>,
    /// The current interval (the configured one, stretched for the share).
    interval_us: u64,
    /// Bytes received since the last feedback round.
    bytes_since: u64,
    /// Bytes of feedback (with overhead) sent in the current round.
    round_bytes: u64,
    stats: RecorderStats,
}

impl FeedbackRecorder {
    pub fn new(config: RecorderConfig) -> Result<Self, ConfigError> {
        if !(MIN_INTERVAL_US..=MAX_INTERVAL_US).contains(&config.interval_us) {
            return Err(ConfigError("interval_us outside 50 000–250 000"));
        }
        if !(1..=100).contains(&config.rtcp_share_percent) {
            return Err(ConfigError("rtcp_share_percent outside 1–100"));
        }
        if config.max_packet_len < 64 {
            return Err(ConfigError("max_packet_len below 64"));
        }
        if !config.window.is_power_of_two() || !(64..=MAX_WINDOW).contains(&config.window) {
            return Err(ConfigError("window not a power of two in 64–32768"));
        }
        if !(1..=64).contains(&config.max_streams) {
            return Err(ConfigError("max_streams outside 1–64"));
        }
        let mut streams = Vec::with_capacity(match config.format {
            FeedbackFormat::TransportCc => 1,
            FeedbackFormat::Rfc8888 => config.max_streams,
        });
        if config.format == FeedbackFormat::TransportCc {
            streams.push((0, Window::new(config.window)));
        }
        Ok(FeedbackRecorder {
            config,
            streams,
            fb_pkt_count: 0,
            last_feedback_us: None,
            interval_us: config.interval_us,
            bytes_since: 0,
            round_bytes: 0,
            stats: RecorderStats::default(),
        })
    }

    pub fn config(&self) -> &RecorderConfig {
        &self.config
    }

    pub fn stats(&self) -> RecorderStats {
        let mut s = self.stats;
        s.evicted = self.streams.iter().map(|(_, w)| w.evicted).sum();
        s
    }

    /// The interval in use now, µs.
    pub fn interval_us(&self) -> u64 {
        self.interval_us
    }

    /// A packet of `size` bytes arrived at `arrival_us` (the host's clock,
    /// µs), ECN Not-ECT.
    pub fn on_packet(&mut self, id: SentPacketId, size: usize, arrival_us: u64) {
        self.on_packet_ecn(id, size, 0, arrival_us);
    }

    /// [`Self::on_packet`] with the packet's ECN bits (RFC 8888 reports them).
    #[inline]
    pub fn on_packet_ecn(&mut self, id: SentPacketId, size: usize, ecn: u8, arrival_us: u64) {
        let (ssrc, seq) = match (self.config.format, id) {
            (FeedbackFormat::TransportCc, SentPacketId::TransportSeq(seq)) => (0, seq),
            (FeedbackFormat::Rfc8888, SentPacketId::Rtp { ssrc, seq }) => (ssrc, seq),
            _ => {
                self.stats.rejected += 1;
                return;
            }
        };
        let Some(window) = self.window_for(ssrc) else {
            self.stats.rejected += 1;
            return;
        };
        let arrival = i64::try_from(arrival_us).unwrap_or(i64::MAX);
        match window.record(seq, arrival, ecn & 3) {
            Recorded::New => self.stats.packets += 1,
            Recorded::Duplicate => self.stats.duplicates += 1,
            Recorded::TooOld => self.stats.too_old += 1,
        }
        self.bytes_since += size as u64;
        self.last_feedback_us.get_or_insert(arrival_us);
    }

    /// The window of `ssrc`, created on its first packet while under the cap.
    #[inline]
    fn window_for(&mut self, ssrc: u32) -> Option<&mut Window> {
        if self.config.format == FeedbackFormat::TransportCc {
            return self.streams.first_mut().map(|(_, w)| w);
        }
        let i = match self.streams.iter().position(|(s, _)| *s == ssrc) {
            Some(i) => i,
            None if self.streams.len() < self.config.max_streams => {
                self.streams.push((ssrc, Window::new(self.config.window)));
                self.streams.len() - 1
            }
            None => return None,
        };
        Some(&mut self.streams[i].1)
    }

    fn pending(&self) -> bool {
        self.streams.iter().any(|(_, w)| w.pending())
    }

    /// When feedback is next due (µs), or `None` with nothing to report.
    pub fn next_wakeup(&self) -> Option<u64> {
        if !self.pending() {
            return None;
        }
        self.last_feedback_us
            .map(|t| t.saturating_add(self.interval_us))
    }

    /// Writes the next feedback packet into `buf` when one is due at `now`
    /// and returns its length; call again until `Ok(None)` (a round may
    /// need several packets). Fails with `BufferTooSmall` if `buf` is
    /// shorter than [`MIN_FEEDBACK_BUF`].
    pub fn poll_feedback(&mut self, now: u64, buf: &mut [u8]) -> Result<Option<usize>, WriteError> {
        match self.next_wakeup() {
            Some(due) if now >= due => {}
            _ => return Ok(None),
        }
        if buf.len() < MIN_FEEDBACK_BUF {
            return Err(WriteError::BufferTooSmall {
                needed: MIN_FEEDBACK_BUF,
            });
        }
        let len = match self.config.format {
            FeedbackFormat::TransportCc => self.write_transport_cc(buf)?,
            FeedbackFormat::Rfc8888 => self.write_rfc8888(now, buf)?,
        };
        self.fb_pkt_count = self.fb_pkt_count.wrapping_add(1);
        self.stats.feedback_packets += 1;
        self.stats.feedback_bytes += len as u64;
        self.round_bytes += (len + FEEDBACK_OVERHEAD) as u64;
        if !self.pending() {
            self.end_round(now);
        }
        Ok(Some(len))
    }

    /// The round is complete: size the next interval from this round's
    /// feedback bytes and the incoming rate since the last round.
    fn end_round(&mut self, now: u64) {
        let elapsed = now
            .saturating_sub(self.last_feedback_us.unwrap_or(now))
            .max(1);
        // Feedback may take share% of the incoming bytes over the interval:
        // interval >= round_bytes * 100 / share / (incoming bytes per µs).
        let share = u128::from(self.config.rtcp_share_percent);
        let incoming = u128::from(self.bytes_since.max(1));
        let needed = u128::from(self.round_bytes) * 100 * u128::from(elapsed) / (share * incoming);
        let needed = u64::try_from(needed).unwrap_or(u64::MAX);
        self.interval_us = needed.clamp(self.config.interval_us, MAX_INTERVAL_US);
        self.last_feedback_us = Some(now);
        self.bytes_since = 0;
        self.round_bytes = 0;
    }

    fn write_transport_cc(&mut self, buf: &mut [u8]) -> Result<usize, WriteError> {
        let builder = TransportFeedbackBuilder {
            sender_ssrc: self.config.sender_ssrc,
            media_ssrc: self.config.media_ssrc,
            fb_pkt_count: self.fb_pkt_count,
            max_len: self.config.max_packet_len,
        };
        let window = &mut self.streams[0].1;
        let written = builder.write_iter(buf, window.entries())?;
        window.reported(written.entries);
        Ok(written.len)
    }

    fn write_rfc8888(&mut self, now: u64, buf: &mut [u8]) -> Result<usize, WriteError> {
        let report_us = i64::try_from(now).unwrap_or(i64::MAX);
        let mut writer = CcfbWriter::new(buf, self.config.sender_ssrc, self.config.max_packet_len)?;
        for (ssrc, window) in self.streams.iter_mut() {
            if !window.pending() {
                continue;
            }
            let mut entries = window.entries();
            let metrics =
                core::iter::from_fn(|| entries.next_with_ecn()).map(|(seq, arrival, ecn)| {
                    match arrival {
                        Some(at) => Metric::received_at(seq, ecn, at, report_us),
                        None => Metric::lost(seq),
                    }
                });
            let n = writer.push_block(*ssrc, metrics);
            if n == 0 {
                break;
            }
            window.reported(n);
        }
        writer.finish(us_to_ntp16(now))
    }
}
