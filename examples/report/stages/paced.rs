//! `sfu_leg_paced` (issue #17's bench row): the SFU leg of `sfu_leg` with
//! congestion control on the egress, as a host runs it per packet: SRTP
//! unprotect (AEAD_AES_128_GCM) → `Source::on_rtp` → `Forwarder::forward`
//! into a pooled buffer → transport-wide sequence number stamped
//! (`stamp_transport_seq`) → `Pacer::push` → `Pacer::poll` until it waits →
//! SRTP protect in place of each packet it releases → `Bwe::on_sent`; every
//! 64 packets sent, the receiver's feedback for them goes to
//! `Bwe::on_feedback` and the new target to the pacer. The pacing rate is
//! kept above the trace's rate so nothing waits (the row measures cost, not
//! queueing). Baseline `webrtc-rs`: the `sfu_leg` baseline (webrtc-srtp and
//! the `rtp` crate, no congestion control): the ratio says what the whole
//! paced leg costs against an unpaced naive one.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtmedia::cc::SentPacketId;
use rtmedia::cc::{Bwe, BweConfig, Pacer, PacerConfig, PacerOutput, PacketClass, PacketResult};
use rtmedia::packet::stamp_transport_seq;
use rtmedia::simulcast::{Forwarded, Forwarder, Source, SourceConfig};
use rtmedia::srtp::{Profile, Srtp};

use super::forwarder::{naive_leg, Publisher};
use super::simulcast::{forwarder, gcm, mean_bytes, Trace, PUBLISHER_KEY, TARGET};
use super::srtp::profile_name;
use super::{Baseline, Stage, CAP};

const BATCH: usize = 128;
/// The subscriber's transport-wide sequence number extension id.
const TWCC_EXT_ID: u8 = 5;
/// Packets per feedback round.
const FEEDBACK_EVERY: usize = 64;
/// The SSRC the subscriber sees (the pacer's stream).
const SUBSCRIBER_SSRC: u32 = 0xabcd;
/// One-way delay the synthetic feedback reports.
const ONE_WAY_US: i64 = 20_000;

struct PacedLeg {
    publisher: Publisher,
    rx: Srtp,
    source: Source,
    fwd: Forwarder,
    tx: Srtp,
    pacer: Pacer,
    bwe: Bwe,
    /// Empty send buffers (a host's pool).
    pool: Vec<BytesMut>,
    next_seq: u16,
    /// Sent since the last feedback: (transport seq, send time).
    unacked: Vec<(u16, u64)>,
    sent: u64,
}

impl PacedLeg {
    fn new(trace: &Arc<Trace>) -> Self {
        let mut pacer = Pacer::new(PacerConfig::default());
        pacer.set_target_bitrate(40_000_000);
        Self {
            publisher: Publisher::new(trace),
            rx: gcm(PUBLISHER_KEY),
            source: Source::new(SourceConfig::default(), trace.ssrcs()).unwrap(),
            fwd: forwarder(TARGET),
            tx: gcm(1),
            pacer,
            bwe: Bwe::new(BweConfig::default(), 0),
            pool: (0..BATCH * 2).map(|_| BytesMut::zeroed(CAP)).collect(),
            next_seq: 0,
            unacked: Vec::with_capacity(FEEDBACK_EVERY),
            sent: 0,
        }
    }

    /// Forwards one received packet into the pacer (if this subscriber
    /// gets it) and sends what the pacer releases.
    fn step(&mut self, mut p: BytesMut, at: u64) {
        let len = self.rx.unprotect_rtp(&mut p).unwrap();
        p.truncate(len);
        let pkt = self.source.on_rtp(p.freeze(), at).unwrap();
        let mut buf = self.pool.pop().unwrap_or_else(|| BytesMut::zeroed(CAP));
        buf.resize(CAP, 0);
        if let Forwarded::Sent(len) = self.fwd.forward(&pkt, &mut buf, at).unwrap() {
            let len = stamp_transport_seq(&mut buf, len, TWCC_EXT_ID, self.next_seq).unwrap();
            self.next_seq = self.next_seq.wrapping_add(1);
            buf.truncate(len);
            let frozen = buf.freeze();
            let _ = self.pacer.push(
                at,
                SUBSCRIBER_SSRC,
                PacketClass::Video,
                frozen,
                pkt.keyframe,
            );
        } else {
            self.pool.push(buf);
        }
        self.drain(at);
    }

    fn drain(&mut self, now: u64) {
        while let PacerOutput::Send(out) = self.pacer.poll(now) {
            let Ok(mut buf) = out.packet.try_into_mut() else {
                continue;
            };
            let seq = u16::from_be_bytes([buf[2], buf[3]]);
            let len = buf.len();
            buf.resize(len + 16, 0);
            let n = self.tx.protect_rtp(&mut buf, len).unwrap();
            black_box(&buf[..n]);
            self.bwe
                .on_sent(now, SentPacketId::TransportSeq(seq), n, out.probe_cluster);
            self.unacked.push((seq, now));
            self.pool.push(buf);
            self.sent += 1;
        }
        if self.unacked.len() >= FEEDBACK_EVERY {
            let results = self.unacked.drain(..).map(|(seq, t)| PacketResult {
                id: SentPacketId::TransportSeq(seq),
                arrival_us: Some(t as i64 + ONE_WAY_US),
                ecn: None,
            });
            self.bwe.on_feedback(now + 40_000, results);
            self.pacer
                .set_target_bitrate(self.bwe.target_bps().max(16_000_000));
        }
    }
}

/// The paced SFU leg per incoming packet.
pub(super) fn sfu_leg_paced(trace: &Arc<Trace>) -> Stage {
    let mut state = PacedLeg::new(trace);
    let ours = Box::new(move |n: u64| {
        let mut left = n as usize;
        let mut timed = Duration::ZERO;
        while left > 0 {
            let k = state.publisher.fill(left.min(BATCH));
            let batch: Vec<_> = state.publisher.batch.drain(..).collect();
            let start = Instant::now();
            for (p, at) in batch {
                state.step(p, at);
            }
            timed += start.elapsed();
            left -= k;
        }
        black_box(state.sent);
        timed
    });
    Stage {
        name: "sfu_leg_paced",
        variant: profile_name(Profile::AeadAes128Gcm).to_string(),
        bytes: mean_bytes(trace),
        packets_per_iter: 1,
        run: ours,
        baseline: Some(Baseline {
            name: "webrtc-rs",
            run: naive_leg(trace),
        }),
    }
}
