//! One subscriber's transport at the SFU, sending side: everything for the
//! subscriber goes through one [`Pacer`] (audio before retransmissions
//! before video, a keyframe burst spread at the pacing rate), leaves with a
//! transport-wide sequence number, and is recorded in that subscriber's
//! [`Bwe`]; the subscriber's transport-cc feedback comes back into it. The
//! estimate (not the link's true capacity) is what the allocator shares,
//! less audio and the measured retransmissions ([`VideoBudget`]).
//!
//! Probe clusters the estimator asks for go out at their rate: queued
//! media first, then, for a subscriber that negotiated RTX, its recent
//! packets sent again on its RTX streams (`Track::write_probe_padding`:
//! they repair a loss too), else padding packets on [`PADDING_SSRC`] (the
//! subscriber only records their arrival).

use bytes::Bytes;
use rtmedia::cc::{
    Bwe, BweConfig, Pacer, PacerConfig, PacerOutput, PacketClass, SentPacketId, VideoBudget,
    VideoBudgetConfig,
};
use rtmedia::packet::rtcp::{self, ReferenceTimeUnwrapper, RtcpPacket, REFERENCE_TICK_US};

use crate::leg::Leg;

/// The RFC 8285 id the transport-wide sequence number is negotiated on.
pub const TRANSPORT_SEQ_EXT: u8 = 5;
/// SSRC and payload type of probe padding packets.
pub const PADDING_SSRC: u32 = 0x0bad_0001;
const PADDING_PT: u8 = 127;
/// Writes probe padding from recent packets (see [`Egress::poll`]).
pub type RtxPadding<'a> = dyn FnMut(usize, usize, &mut [u8]) -> Option<usize> + 'a;

/// Tracks asked for a recent packet to send again as probe padding before
/// a padding-only packet goes instead.
const RTX_PADDING_TRIES: usize = 3;
/// Pacing rate / estimate. Close to 1, so that a keyframe burst queues
/// here, where audio and retransmissions can overtake it, rather than in
/// the bottleneck's queue, where they cannot.
pub const PACING_FACTOR: f64 = 1.3;
/// A retransmission may overdraw the pacing budget by this much time: at
/// mobile's 300-500 kbit/s one video packet's debt is 20-30 ms, and a
/// retransmission waiting it out (p95 16-28 ms on seeds 4, 6, 8 without
/// it) risks missing the receiver's reserve. 50 ms: with layer rates that
/// count keyframes over 5 s the links run fuller, and at 20 ms the
/// retransmission wait p95 exceeded 15 ms on 8 of 40 seeds (3 at 50 ms).
const RETRANSMISSION_OVERDRAFT_US: u64 = 50_000;
/// The estimator's start (its default): its initial probes go at 3× and
/// 6× this. From 600 kbit/s the 3.6 Mbit/s probe put a burst of queue on
/// the DSL link while the receivers' jitter buffers had few samples, and
/// their playout delay jumped at the first switch (seeds 3, 5, 7 froze
/// 270-390 ms in the first 2.3 s; from 300 kbit/s they do not).
const START_BPS: u64 = 300_000;
/// An upgrade probe is asked for at most this often; after each that did
/// not confirm what it was for, twice as rarely, up to the maximum (a
/// probe above what the path carries only adds queue).
const UPGRADE_PROBE_INTERVAL_US: u64 = 1_500_000;
const MAX_UPGRADE_PROBE_INTERVAL_US: u64 = 12_000_000;

/// What the egress measured, for the report.
#[derive(Debug, Default)]
pub struct EgressStats {
    /// Time each sent retransmission waited in the pacer, µs.
    pub rtx_wait_us: Vec<u64>,
    /// Time each sent audio packet waited in the pacer, µs.
    pub audio_wait_us: Vec<u64>,
    /// Per packet handed to the link: (when, its wait behind the
    /// bottleneck µs).
    pub link_queue_us: Vec<(u64, u64)>,
    /// Bytes on the link, all classes; probe padding alone.
    pub bytes_sent: u64,
    pub padding_bytes: u64,
    pub padding_packets: u64,
    /// Of the padding: recent packets sent again as RTX.
    pub rtx_padding_packets: u64,
    /// Packets the pacer refused (queue full).
    pub refused: u64,
    /// Upgrade probes asked of the estimator.
    pub upgrade_probes: u64,
}

pub struct Egress {
    pub pacer: Pacer,
    pub bwe: Bwe,
    pub budget: VideoBudget,
    pub stats: EgressStats,
    next_seq: u16,
    reference: ReferenceTimeUnwrapper,
    padding_seq: u16,
    padding: Vec<u8>,
    /// Counts the RTX probe padding asked for (whose packets come next).
    padding_turn: usize,
    last_probe: Option<(u64, u64)>,
    last_upgrade_probe: Option<u64>,
    /// The rate the last upgrade probe asked for (its need plus the
    /// budget's probe margin), and the interval now.
    upgrade_probe_rate: u64,
    upgrade_interval_us: u64,
    /// `--oracle`: the most the estimate may be.
    estimate_cap: Option<u64>,
}

impl Egress {
    pub fn new(now: u64) -> Self {
        let pacer = Pacer::new(PacerConfig {
            pacing_factor: PACING_FACTOR,
            retransmission_overdraft_us: RETRANSMISSION_OVERDRAFT_US,
            ..PacerConfig::default()
        });
        let bwe = Bwe::new(
            BweConfig {
                start_bps: START_BPS,
                ..BweConfig::default()
            },
            now,
        );
        Self {
            pacer,
            bwe,
            budget: VideoBudget::new(VideoBudgetConfig::default()),
            stats: EgressStats::default(),
            next_seq: 0,
            reference: ReferenceTimeUnwrapper::default(),
            padding_seq: 0,
            padding: vec![0; 1500],
            padding_turn: 0,
            last_probe: None,
            last_upgrade_probe: None,
            upgrade_probe_rate: 0,
            upgrade_interval_us: UPGRADE_PROBE_INTERVAL_US,
            estimate_cap: None,
        }
    }

    /// Queues an RTP packet for the subscriber.
    pub fn push(&mut self, now: u64, class: PacketClass, packet: Bytes, keyframe_start: bool) {
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        if self
            .pacer
            .push(now, ssrc, class, packet, keyframe_start)
            .is_err()
        {
            self.stats.refused += 1;
        }
    }

    /// A decrypted RTCP packet from the subscriber: transport-cc feedback
    /// goes to the estimator. Returns a new probe result (bit/s), if the
    /// feedback completed one.
    pub fn on_rtcp(&mut self, now: u64, packet: &[u8]) -> Option<u64> {
        let mut fed = false;
        for p in rtcp::compound(packet).flatten() {
            if let RtcpPacket::TransportCc(fb) = p {
                let base = self
                    .reference
                    .unwrap(fb.reference_time_raw().into())
                    .saturating_mul(REFERENCE_TICK_US);
                self.bwe.on_feedback(now, fb.results_from(base));
                fed = true;
            }
        }
        let result = self.bwe.last_probe_result();
        if !fed || result == self.last_probe {
            return None;
        }
        self.last_probe = result;
        if let Some((_, bps)) = result {
            // Confirmed when it reached the need: the probe went the margin
            // above it, and reads a little under the rate it was sent at.
            let margin = 100 + self.budget.config().probe_margin_percent;
            self.upgrade_interval_us = if bps * margin >= self.upgrade_probe_rate * 100 {
                UPGRADE_PROBE_INTERVAL_US
            } else {
                (self.upgrade_interval_us * 2).min(MAX_UPGRADE_PROBE_INTERVAL_US)
            };
        }
        result.map(|(_, bps)| bps)
    }

    /// The allocator's next upgrade needs `video_wanted_bps` of video: ask
    /// the estimator for a probe that would confirm it (not too often).
    pub fn want_upgrade(&mut self, now: u64, video_wanted_bps: u64) {
        let target = self.target_bps();
        let rate = self.budget.probe_bps(now, video_wanted_bps, target);
        if rate * 10 < self.upgrade_probe_rate * 9 {
            // Wanting less than the last probe failed to confirm: a new
            // question, asked at the normal pace.
            self.upgrade_interval_us = UPGRADE_PROBE_INTERVAL_US;
        }
        if self
            .last_upgrade_probe
            .is_some_and(|t| now.saturating_sub(t) < self.upgrade_interval_us)
        {
            return;
        }
        let before = self.bwe.stats().probes_requested;
        self.bwe.request_probe(now, rate);
        if self.bwe.stats().probes_requested > before {
            self.last_upgrade_probe = Some(now);
            self.upgrade_probe_rate = rate;
            self.stats.upgrade_probes += 1;
        }
    }

    /// The estimate (under the `--oracle` cap, if any).
    pub fn target_bps(&self) -> u64 {
        let target = self.bwe.target_bps();
        self.estimate_cap.map_or(target, |cap| target.min(cap))
    }

    /// Caps the estimate (`--oracle`); whether the cap changed.
    pub fn set_estimate_cap(&mut self, cap: u64) -> bool {
        self.estimate_cap.replace(cap) != Some(cap)
    }

    /// The video share of the estimate now.
    pub fn video_bps(&self, now: u64) -> u64 {
        self.budget.video_bps(now, self.target_bps())
    }

    /// Sends what the pacer lets go at `now` on `leg`. `rtx_padding(turn,
    /// bytes, buf)` writes into `buf` a recent packet of at most `bytes`
    /// sent again as RTX for probe padding (`turn` counts the calls: whose
    /// packets), `None` without RTX or nothing recent that fits.
    pub fn poll(&mut self, now: u64, leg: &mut Leg, rtx_padding: &mut RtxPadding<'_>) {
        if now >= self.bwe.next_wakeup() {
            self.bwe.handle_timeout(now);
        }
        if self.pacer.probing().is_none() {
            if let Some(r) = self.bwe.poll_probe(now) {
                let (bytes, packets) = (r.min_bytes, r.min_packets);
                self.pacer
                    .start_probe(now, r.id, r.rate_bps, bytes, packets, r.duration_us);
            }
        }
        self.pacer.set_target_bitrate(self.target_bps());
        loop {
            match self.pacer.poll(now) {
                PacerOutput::Send(p) => {
                    match p.class {
                        PacketClass::Retransmission => self.stats.rtx_wait_us.push(p.queued_us),
                        PacketClass::Audio => self.stats.audio_wait_us.push(p.queued_us),
                        _ => {}
                    }
                    self.send(now, leg, &p.packet, p.class, p.probe_cluster);
                }
                PacerOutput::Padding {
                    bytes,
                    probe_cluster,
                } => {
                    // One packet per request, the pacer told what went out:
                    // it asks for the rest at the probe's rate (several at
                    // once would be a burst the probe reads as saturation).
                    let mut packet = core::mem::take(&mut self.padding);
                    let mut rtx_len = None;
                    for _ in 0..RTX_PADDING_TRIES {
                        let turn = self.padding_turn;
                        self.padding_turn = self.padding_turn.wrapping_add(1);
                        rtx_len = rtx_padding(turn, bytes, &mut packet);
                        if rtx_len.is_some() {
                            break;
                        }
                    }
                    let len = match rtx_len {
                        Some(len) => {
                            self.stats.rtx_padding_packets += 1;
                            len
                        }
                        None => write_padding(&mut packet, &mut self.padding_seq, bytes),
                    };
                    let n = self.send(
                        now,
                        leg,
                        &packet[..len],
                        PacketClass::Padding,
                        Some(probe_cluster),
                    );
                    self.padding = packet;
                    self.pacer.padding_sent(bytes, n);
                    self.stats.padding_packets += 1;
                    self.stats.padding_bytes += n as u64;
                }
                PacerOutput::Wait(_) => break,
            }
        }
    }

    fn send(
        &mut self,
        now: u64,
        leg: &mut Leg,
        packet: &[u8],
        class: PacketClass,
        cluster: Option<u32>,
    ) -> usize {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        let queue = leg.link().queue_delay_us(now);
        let n = leg.send_rtp_stamped(now, packet, TRANSPORT_SEQ_EXT, seq);
        self.bwe
            .on_sent(now, SentPacketId::TransportSeq(seq), n, cluster);
        self.budget.on_sent(now, class, n);
        self.stats.link_queue_us.push((now, queue));
        self.stats.bytes_sent += n as u64;
        n
    }
}

/// A padding packet of about `bytes` (header, extension and SRTP tag
/// included) in `buf`, numbered from `seq`; returns its length.
fn write_padding(buf: &mut [u8], seq: &mut u16, bytes: usize) -> usize {
    // The transport-wide extension (8) and the SRTP tag (16) come later.
    let len = bytes.saturating_sub(24).clamp(16, 1200 - 32);
    buf[0] = 0x80;
    buf[1] = PADDING_PT;
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].fill(0);
    buf[8..12].copy_from_slice(&PADDING_SSRC.to_be_bytes());
    buf[12..len].fill(0);
    *seq = seq.wrapping_add(1);
    len
}
