//! The SFU side of one subscriber's transport running on rtmedia's own
//! estimate, for the outcome tests: a pacer, transport-wide sequence numbers
//! stamped as packets leave, the estimator their transport-cc feedback
//! feeds, the video budget; and the subscriber's feedback recorder.

use bytes::Bytes;
use rtmedia::cc::recorder::{FeedbackRecorder, RecorderConfig};
use rtmedia::cc::{
    Bwe, BweConfig, Pacer, PacerConfig, PacerOutput, PacketClass, SentPacketId, VideoBudget,
    VideoBudgetConfig,
};
use rtmedia::packet::rtcp::ReferenceTimeUnwrapper;
use rtmedia::packet::stamp_transport_seq;
use rtmedia::sim::Link;

/// Transport-wide sequence number extension id, and the probe padding SSRC.
pub const TRANSPORT_SEQ_EXT: u8 = 5;
pub const PADDING_SSRC: u32 = 0x0bad_0001;

/// The SFU side of a subscriber running on rtmedia's own estimate: a pacer,
/// the estimator its transport-cc feedback feeds, the video budget; and the
/// subscriber's feedback recorder.
pub struct Cc {
    pub bwe: Bwe,
    pub pacer: Pacer,
    pub budget: VideoBudget,
    pub recorder: FeedbackRecorder,
    next_seq: u16,
    pub reference: ReferenceTimeUnwrapper,
    pub last_probe: Option<(u64, u64)>,
    pub last_upgrade_probe: Option<u64>,
    scratch: Vec<u8>,
}

impl Cc {
    pub fn new() -> Self {
        Self {
            bwe: Bwe::new(BweConfig::default(), 0),
            pacer: Pacer::new(PacerConfig {
                pacing_factor: 1.3,
                ..PacerConfig::default()
            }),
            budget: VideoBudget::new(VideoBudgetConfig {
                audio_reserve_bps: 0,
                ..VideoBudgetConfig::default()
            }),
            recorder: FeedbackRecorder::new(RecorderConfig::default()).unwrap(),
            next_seq: 0,
            reference: ReferenceTimeUnwrapper::default(),
            last_probe: None,
            last_upgrade_probe: None,
            scratch: vec![0; 1600],
        }
    }

    /// Sends what the pacer lets go at `now` on `down`, each packet stamped
    /// with the next transport-wide sequence number and recorded.
    pub fn pace(&mut self, now: u64, down: &mut Link) {
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
        self.pacer.set_target_bitrate(self.bwe.target_bps());
        loop {
            let (len, class, cluster) = match self.pacer.poll(now) {
                PacerOutput::Send(p) => {
                    self.scratch[..p.packet.len()].copy_from_slice(&p.packet);
                    (p.packet.len(), p.class, p.probe_cluster)
                }
                PacerOutput::Padding {
                    bytes,
                    probe_cluster,
                } => {
                    let len = bytes.clamp(40, 1200);
                    let b = &mut self.scratch;
                    b[..len].fill(0);
                    b[0] = 0x80;
                    b[1] = 127;
                    b[8..12].copy_from_slice(&PADDING_SSRC.to_be_bytes());
                    (len, PacketClass::Padding, Some(probe_cluster))
                }
                PacerOutput::Wait(_) => break,
            };
            let seq = self.next_seq;
            self.next_seq = seq.wrapping_add(1);
            let n = stamp_transport_seq(&mut self.scratch, len, TRANSPORT_SEQ_EXT, seq).unwrap();
            self.bwe
                .on_sent(now, SentPacketId::TransportSeq(seq), n, cluster);
            self.budget.on_sent(now, class, n);
            down.send(now, Bytes::copy_from_slice(&self.scratch[..n]));
        }
    }
}
