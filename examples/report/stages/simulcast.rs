//! What the forwarder rows and the scaling rooms share: the VP8 simulcast
//! trace (made once, before anything is timed, as in `benches/forwarder.rs`)
//! and its replay as an endless never-replayed stream
//! ([`rtmedia::sim::SimulcastTrace`]), and, from the bench's
//! `benches/support/forwarding.rs`, the subscribers' forwarders and SRTP
//! contexts and the naive `rtp`-crate forwarder that is the baseline.

use std::hint::black_box;

use bytes::Bytes;
use rtmedia::sim::{SimulcastConfig, SimulcastTrace};
use rtmedia::simulcast::{Forwarded, Forwarder, Layer, Source, SourcePacket};
use rtmedia::srtp::{Profile, Srtp};

use super::Options;

#[path = "../../../benches/support/forwarding.rs"]
mod forwarding;

pub(crate) use forwarding::{forwarder, gcm, slab_pieces, webrtc_gcm, Naive};

/// The single-subscriber rows' target layer.
pub(crate) const TARGET: Layer = Layer::new(2, 1);
/// Targets of several subscribers: subscriber `i` gets `TARGETS[i % 4]`.
pub(crate) const TARGETS: [Layer; 4] = [
    Layer::new(2, 2),
    Layer::new(2, 1),
    Layer::new(1, 2),
    Layer::new(0, 2),
];
/// SRTP profile of the publisher and the subscribers ([`gcm`]).
pub(crate) const PROFILE: Profile = Profile::AeadAes128Gcm;
/// Key byte of the publisher's SRTP context (subscriber `i` uses `i`).
pub(crate) const PUBLISHER_KEY: u8 = 0x3c;

/// One encoded run of a [`rtmedia::sim::SimulcastPublisher`] (libvpx;
/// 320x180, 640x360 and 1280x720 at 150, 500 and 1500 kbit/s; L1T3; packets
/// of at most 1200 bytes), replayable as a longer continuous stream.
pub(crate) type Trace = SimulcastTrace;

/// The trace of the rows: 8 s at 30 fps (1 s with `--quick`).
pub(crate) fn trace(options: &Options) -> Trace {
    let frames = if options.quick { 30 } else { 240 };
    let config = SimulcastConfig {
        seed: 5,
        ..SimulcastConfig::default()
    };
    SimulcastTrace::record(config, frames).expect("libvpx encoder")
}

/// Mean RTP packet size, the `bytes` of the rows that use the trace.
pub(crate) fn mean_bytes(trace: &Trace) -> usize {
    trace.packets().iter().map(Bytes::len).sum::<usize>() / trace.len()
}

/// One subscriber's share of a source packet, as a host loop does it:
/// forward into `out`, protect in place (where the host would send it),
/// then [`Forwarder::backfill`] until `None` (packets of a new layer that
/// arrived before the keyframe that started it). Returns the packets sent.
#[inline]
pub(crate) fn send(
    fwd: &mut Forwarder,
    tx: &mut Srtp,
    source: &Source,
    pkt: &SourcePacket,
    out: &mut [u8],
    now: u64,
) -> u64 {
    let Forwarded::Sent(len) = fwd.forward(pkt, out, now).unwrap() else {
        return 0;
    };
    black_box(tx.protect_rtp(out, len).unwrap());
    let mut sent = 1;
    while let Some(len) = fwd.backfill(source, out, now).unwrap() {
        black_box(tx.protect_rtp(out, len).unwrap());
        sent += 1;
    }
    sent
}
