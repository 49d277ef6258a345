//! Taps that wait for retransmissions ([`MixerConfig::tap_jitter`]): a
//! tapped participant's second playout, with a jitter buffer of its own
//! that requests lost packets (NACK) and keeps room for their
//! retransmissions in its delay, and a decoder of its own.
//!
//! The mix cannot wait: a listener hears a lost frame concealed 20–40 ms
//! after it was due. A transcriber can: a few hundred ms of extra latency
//! cost it nothing, a concealed word costs it the word (the conference
//! example's mobile talker lost "project" to a 140 ms burst that FEC could
//! not rebuild). So the tap plays the same packets later, from a buffer
//! whose delay holds two retransmission round trips, and decodes them
//! again; the mix is unchanged (a retransmission this lane asked for is
//! given to the mix's buffer as one, so that its lateness never raises the
//! mix's delay).
//!
//! Media time: a lane's frames are contiguous (one per tick, as every tap)
//! and stamped on the mixer's clock minus the lane's lag behind the mix,
//! measured when the lane plays its first frame (where the mix played that
//! same RTP timestamp) and rounded to whole frames. Frames of different
//! talkers line up to within how far the two buffers' delays have moved
//! apart since (a change of round-trip time moves them by twice the
//! change); `rtp_timestamp` is exact. The lane's frames start with its
//! first played frame (no `Missing` frames before the stream starts).
//!
//! [`MixerConfig::tap_jitter`]: super::MixerConfig::tap_jitter

use bytes::Bytes;

use super::config::MixerError;
use super::decode::{decode_frame, packet_meta, DecodeKind};
use super::playout::{Frame, Playout, PlayoutCounts};
use super::taps::{TapContent, TapMeta};
use super::MixerStats;
use crate::audio::encoder::OpusError;
use crate::audio::level::{level_dbov, SILENCE};
use crate::audio::FRAME_SAMPLES;
use crate::jitter::{JitterBuffer, JitterConfig};
use crate::packet::RtpPacket;

/// 48 kHz samples of one 16 kHz tap frame.
const FRAME_48K: i64 = FRAME_SAMPLES as i64;

pub(super) struct TapLane {
    pub jitter: JitterBuffer,
    playout: Playout,
    /// The lane's own (its late and skipped frames are not the mix's).
    counts: PlayoutCounts,
    decoder: opus::Decoder,
    pub pcm: [f32; FRAME_SAMPLES],
    pub meta: TapMeta,
    pub level: u8,
    /// Lag behind the mix in 48 kHz samples (whole frames), fixed when the
    /// first frame plays; `None` until then (no frames yet).
    lag_48k: Option<i64>,
}

impl TapLane {
    pub fn new(config: JitterConfig) -> Result<Self, MixerError> {
        Ok(Self {
            jitter: JitterBuffer::new(config),
            playout: Playout::default(),
            counts: PlayoutCounts::default(),
            decoder: opus::Decoder::new(48_000, opus::Channels::Mono)
                .map_err(|e| MixerError::Opus(OpusError(e.code() as i32)))?,
            pcm: [0.0; FRAME_SAMPLES],
            meta: TapMeta::default(),
            level: SILENCE,
            lag_48k: None,
        })
    }

    /// Stores a packet that arrived at `at`; `true` if it is a
    /// retransmission this lane requested (the mix's buffer should take
    /// it as one).
    pub fn push(&mut self, packet: &Bytes, at: u64) -> bool {
        let retransmission = RtpPacket::parse(&packet[..])
            .is_ok_and(|p| self.jitter.awaits_retransmission(p.sequence_number()));
        let _ = if retransmission {
            self.jitter.push_retransmission(packet.clone(), at)
        } else {
            self.jitter.push(packet.clone(), at)
        };
        retransmission
    }

    /// Plays and decodes this tick's frame at `now`; the level comes from
    /// RFC 6464 extension `ext` when the packet has it, else from the
    /// decoded audio. Decodes count in `stats.decodes`; losses and
    /// concealment are the lane's own (the mixer's stats describe the mix).
    pub fn play(&mut self, now: u64, ext: Option<u8>, stats: &mut MixerStats) {
        let frame = self.playout.next(&mut self.jitter, now, &mut self.counts);
        self.meta.start(self.playout.played_ts);
        let (mut packet_content, mut level) = (TapContent::Missing, None);
        if let Some(Frame::Packet(packet)) = &frame {
            let m = packet_meta(packet, ext);
            self.playout.played_packet(m.speech);
            self.meta.stated_vad = m.stated_vad;
            (packet_content, level) = (m.content, m.level);
        }
        let decoded = decode_frame(&mut self.decoder, frame.as_ref(), &mut self.pcm);
        stats.decodes += u64::from(decoded.kind == DecodeKind::Packet);
        self.meta.content = decoded.content(packet_content);
        self.level = match (&frame, level) {
            (Some(Frame::Packet(_)), Some(l)) => l,
            (Some(Frame::Packet(_)), None) => level_dbov(&self.pcm),
            // A lost frame keeps the talker's level, as in the mix.
            (Some(_), _) => self.level,
            (None, _) => SILENCE,
        };
    }

    /// The mixer media time (16 kHz, before the decimator's delay) of this
    /// tick's lane frame, given the tick's media time (48 kHz) and where
    /// the mix last played a packet (`(extended RTP timestamp, media time)`,
    /// 48 kHz); `None` while the lane has played nothing yet.
    pub fn media_time_16k(&mut self, tick_48k: i64, mix_anchor: Option<(i64, i64)>) -> Option<i64> {
        if self.lag_48k.is_none() {
            let ts = self.playout.played_ts?;
            let lag = match mix_anchor {
                Some((mix_ts, mix_media)) => {
                    // Same stream: the 32-bit difference is exact.
                    let since = i64::from((ts as u32).wrapping_sub(mix_ts as u32) as i32);
                    let raw = tick_48k - (mix_media + since);
                    (raw + FRAME_48K / 2).div_euclid(FRAME_48K) * FRAME_48K
                }
                // The lane played before the mix did (it cannot be later
                // than its own delay allows): no lag to measure.
                None => 0,
            };
            self.lag_48k = Some(lag.max(0));
        }
        Some((tick_48k - self.lag_48k.unwrap_or(0)) / 3)
    }
}
