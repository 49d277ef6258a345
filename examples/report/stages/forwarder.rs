//! The simulcast rows (issues #5 and #7), on the VP8 trace of
//! `stages/simulcast.rs`, each beside the naive webrtc-rs path of
//! `benches/forwarder.rs` in the same run:
//! - `forwarder_select_rewrite`: packets already parsed by a `Source`; one
//!   `Forwarder` (target (2,1)) forwards each into an output buffer (a fresh
//!   forwarder per pass, made untimed). Baseline `rtp-crate`: copy, parse,
//!   select, depacketize VP8, rewrite, marshal.
//! - `sfu_leg`: SRTP unprotect (AEAD_AES_128_GCM) → `Source::on_rtp` →
//!   `Forwarder::forward` (+ `backfill` until `None`) → SRTP protect for the
//!   subscriber. Baseline `webrtc-rs`: webrtc-srtp decrypt → the naive
//!   rewrite → webrtc-srtp encrypt.
//! - `sfu_fanout`: one source packet → `Source::on_rtp` once → 100
//!   subscribers (targets (2,2), (2,1), (1,2), (0,2) in turn), each a
//!   forward and a GCM protect; a packet is a subscriber-packet. Baseline: the naive
//!   path with webrtc-srtp encrypt once per subscriber.
//!
//! Incoming packets are the trace replayed as an endless stream, made in
//! untimed batches (protected by the publisher's context for `sfu_leg`), so
//! no receiver sees a replay. Dropped packets count as processed packets.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtmedia::simulcast::{Forwarded, Forwarder, Source, SourceConfig, SourcePacket};
use rtmedia::srtp::Srtp;
use webrtc_srtp::context::Context as WebrtcContext;

use super::simulcast::{
    forwarder, gcm, mean_bytes, send, slab_pieces, webrtc_gcm, Naive, Trace, PUBLISHER_KEY, TARGET,
    TARGETS,
};
use super::srtp::profile_name;
use super::{Baseline, RunFn, Stage, CAP};

/// Incoming packets per untimed refill (a batch stays in L2).
const BATCH: usize = 128;
/// Source packets per refill of the fan-out row.
const FANOUT_BATCH: usize = 16;
const SUBSCRIBERS: usize = 100;

/// Runs `n` iterations in batches of at most `batch`: `fill` prepares each
/// batch untimed and returns how many iterations it holds (at least one),
/// `step` processes it timed.
fn batched<S: 'static>(
    batch: usize,
    mut state: S,
    fill: impl Fn(&mut S, usize) -> usize + 'static,
    step: impl Fn(&mut S) + 'static,
) -> RunFn {
    Box::new(move |n: u64| {
        let mut left = n as usize;
        let mut timed = Duration::ZERO;
        while left > 0 {
            let k = fill(&mut state, left.min(batch));
            let start = Instant::now();
            step(&mut state);
            timed += start.elapsed();
            left -= k;
        }
        timed
    })
}

/// Where a select row is in its passes over the trace: the chunk
/// `pos..end`.
#[derive(Default)]
struct Chunk {
    pos: usize,
    end: usize,
}

impl Chunk {
    /// Moves on to the next chunk of at most `k` of the trace's `len`
    /// packets; true when it starts a new pass.
    fn advance(&mut self, k: usize, len: usize) -> bool {
        let new_pass = self.end == len;
        if new_pass {
            self.end = 0;
        }
        self.pos = self.end;
        self.end = (self.pos + k).min(len);
        new_pass
    }

    fn range(&self) -> std::ops::Range<usize> {
        self.pos..self.end
    }
}

/// The select row's rtmedia side: the parsed trace and where it is.
struct Select {
    parsed: Vec<SourcePacket>,
    trace: Arc<Trace>,
    fwd: Forwarder,
    chunk: Chunk,
    out: Box<[u8; CAP]>,
}

/// The naive side of the select row.
struct NaiveSelect {
    trace: Arc<Trace>,
    naive: Naive,
    chunk: Chunk,
    out: Box<[u8; CAP]>,
}

/// Select + rewrite of each packet for one subscriber (no SRTP).
pub(super) fn forwarder_select_rewrite(trace: &Arc<Trace>) -> Stage {
    let mut source = Source::new(SourceConfig::default(), trace.ssrcs()).unwrap();
    let parsed: Vec<SourcePacket> = (trace.packets().iter().zip(trace.arrivals_us()))
        .map(|(p, &at)| source.on_rtp(p.clone(), at).unwrap())
        .collect();

    // Both sides forward the same packets of the target layer (ours also the
    // first keyframes of the layers below on its way up): checked untimed.
    let mut out = [0u8; CAP];
    let mut fwd = forwarder(TARGET);
    let ours_on_target = (parsed.iter().zip(trace.arrivals_us()))
        .filter(|(p, &at)| {
            matches!(fwd.forward(p, &mut out, at).unwrap(), Forwarded::Sent(_))
                && p.spatial == TARGET.spatial
        })
        .count();
    let mut naive = Naive::new(trace, TARGET);
    let base_sent = (trace.packets().iter())
        .filter(|p| naive.rewrite((*p).clone(), &mut out).is_some())
        .count();
    assert_eq!(ours_on_target, base_sent, "both forward the same packets");

    let ours = Select {
        parsed,
        trace: trace.clone(),
        fwd: forwarder(TARGET),
        chunk: Chunk::default(),
        out: Box::new([0; CAP]),
    };
    let ours = batched(
        BATCH,
        ours,
        |s, k| {
            if s.chunk.advance(k, s.parsed.len()) {
                s.fwd = forwarder(TARGET); // a new pass: a new subscriber
            }
            s.chunk.range().len()
        },
        |s| {
            let range = s.chunk.range();
            let chunk = s.parsed[range.clone()]
                .iter()
                .zip(&s.trace.arrivals_us()[range]);
            for (p, &at) in chunk {
                black_box(s.fwd.forward(black_box(p), &mut s.out[..], at).unwrap());
            }
        },
    );
    let theirs = NaiveSelect {
        trace: trace.clone(),
        naive: Naive::new(trace, TARGET),
        chunk: Chunk::default(),
        out: Box::new([0; CAP]),
    };
    let theirs = batched(
        BATCH,
        theirs,
        |s, k| {
            if s.chunk.advance(k, s.trace.len()) {
                s.naive = Naive::new(&s.trace, TARGET);
            }
            s.chunk.range().len()
        },
        |s| {
            for p in &s.trace.packets()[s.chunk.range()] {
                let copy = Bytes::from(black_box(&p[..]).to_vec());
                black_box(s.naive.rewrite(copy, &mut s.out[..]));
            }
        },
    );
    Stage {
        name: "forwarder_select_rewrite",
        variant: String::new(),
        bytes: mean_bytes(trace),
        packets_per_iter: 1,
        run: ours,
        baseline: Some(Baseline {
            name: "rtp-crate",
            run: theirs,
        }),
    }
}

/// The publisher's side of the SFU leg: the endless stream protected with
/// the publisher's key, into pieces of one slab per batch (a host's pooled
/// receive buffers).
pub(super) struct Publisher {
    trace: Arc<Trace>,
    next: u64,
    ctx: Srtp,
    pub(super) batch: Vec<(BytesMut, u64)>,
}

impl Publisher {
    pub(super) fn new(trace: &Arc<Trace>) -> Self {
        Self {
            trace: trace.clone(),
            next: 0,
            ctx: gcm(PUBLISHER_KEY),
            batch: Vec::with_capacity(BATCH),
        }
    }

    /// The next `n` protected packets into `self.batch`; returns `n`.
    pub(super) fn fill(&mut self, n: usize) -> usize {
        self.batch.clear();
        for (mut piece, len, at) in slab_pieces(&self.trace, &mut self.next, n, CAP) {
            let len = self.ctx.protect_rtp(&mut piece, len).unwrap();
            piece.truncate(len);
            self.batch.push((piece, at));
        }
        n
    }
}

/// The SFU leg, rtmedia: the publisher's receive context, the source, one
/// subscriber's forwarder and send context.
struct Leg {
    publisher: Publisher,
    rx: Srtp,
    source: Source,
    fwd: Forwarder,
    tx: Srtp,
    out: Box<[u8; CAP]>,
}

/// The SFU leg, webrtc-rs.
struct NaiveLeg {
    publisher: Publisher,
    rx: WebrtcContext,
    naive: Naive,
    tx: WebrtcContext,
    out: Box<[u8; CAP]>,
}

/// Unprotect → parse → forward → protect, one subscriber, per packet.
pub(super) fn sfu_leg(trace: &Arc<Trace>) -> Stage {
    let ours = Leg {
        publisher: Publisher::new(trace),
        rx: gcm(PUBLISHER_KEY),
        source: Source::new(SourceConfig::default(), trace.ssrcs()).unwrap(),
        fwd: forwarder(TARGET),
        tx: gcm(1),
        out: Box::new([0; CAP]),
    };
    let ours = batched(
        BATCH,
        ours,
        |s, k| s.publisher.fill(k),
        |s| {
            for (mut p, at) in s.publisher.batch.drain(..) {
                let len = s.rx.unprotect_rtp(&mut p).unwrap();
                p.truncate(len);
                let pkt = s.source.on_rtp(p.freeze(), at).unwrap();
                send(&mut s.fwd, &mut s.tx, &s.source, &pkt, &mut s.out[..], at);
            }
        },
    );
    let theirs = naive_leg(trace);
    Stage {
        name: "sfu_leg",
        variant: profile_name(super::simulcast::PROFILE).to_string(),
        bytes: mean_bytes(trace),
        packets_per_iter: 1,
        run: ours,
        baseline: Some(Baseline {
            name: "webrtc-rs",
            run: theirs,
        }),
    }
}

/// The `sfu_leg` baseline, webrtc-rs: decrypt, the naive rewrite, encrypt.
pub(super) fn naive_leg(trace: &Arc<Trace>) -> RunFn {
    let theirs = NaiveLeg {
        publisher: Publisher::new(trace),
        rx: webrtc_gcm(PUBLISHER_KEY, true),
        naive: Naive::new(trace, TARGET),
        tx: webrtc_gcm(1, false),
        out: Box::new([0; CAP]),
    };
    batched(
        BATCH,
        theirs,
        |s, k| s.publisher.fill(k),
        |s| {
            for (p, _) in s.publisher.batch.drain(..) {
                let plain = s.rx.decrypt_rtp(&p).unwrap();
                if let Some(len) = s.naive.rewrite(plain, &mut s.out[..]) {
                    black_box(s.tx.encrypt_rtp(&s.out[..len]).unwrap());
                }
            }
        },
    )
}

/// Plain source packets of the endless stream, shared pieces of a slab.
struct Plain {
    trace: Arc<Trace>,
    next: u64,
    batch: Vec<(Bytes, u64)>,
}

impl Plain {
    fn fill(&mut self, n: usize) -> usize {
        self.batch.clear();
        for (mut piece, len, at) in slab_pieces(&self.trace, &mut self.next, n, CAP) {
            piece.truncate(len);
            self.batch.push((piece.freeze(), at));
        }
        n
    }
}

struct Fanout {
    plain: Plain,
    source: Source,
    subs: Vec<(Forwarder, Srtp, [u8; CAP])>,
}

struct NaiveFanout {
    plain: Plain,
    subs: Vec<(Naive, WebrtcContext, [u8; CAP])>,
}

/// One source packet to 100 subscribers; per subscriber-packet.
pub(super) fn sfu_fanout(trace: &Arc<Trace>) -> Stage {
    let plain = || Plain {
        trace: trace.clone(),
        next: 0,
        batch: Vec::with_capacity(FANOUT_BATCH),
    };
    let target = |i: usize| TARGETS[i % TARGETS.len()];
    let ours = Fanout {
        plain: plain(),
        source: Source::new(SourceConfig::default(), trace.ssrcs()).unwrap(),
        subs: (0..SUBSCRIBERS)
            .map(|i| (forwarder(target(i)), gcm(i as u8), [0; CAP]))
            .collect(),
    };
    let ours = batched(
        FANOUT_BATCH,
        ours,
        |s, k| s.plain.fill(k),
        |s| {
            for (p, at) in s.plain.batch.drain(..) {
                let pkt = s.source.on_rtp(p, at).unwrap();
                for (fwd, tx, out) in &mut s.subs {
                    send(fwd, tx, &s.source, &pkt, out, at);
                }
            }
        },
    );
    let theirs = NaiveFanout {
        plain: plain(),
        subs: (0..SUBSCRIBERS)
            .map(|i| {
                (
                    Naive::new(trace, target(i)),
                    webrtc_gcm(i as u8, false),
                    [0; CAP],
                )
            })
            .collect(),
    };
    let theirs = batched(
        FANOUT_BATCH,
        theirs,
        |s, k| s.plain.fill(k),
        |s| {
            for (p, _) in s.plain.batch.drain(..) {
                for (naive, tx, out) in &mut s.subs {
                    let copy = Bytes::from(p.to_vec());
                    if let Some(len) = naive.rewrite(copy, out) {
                        black_box(tx.encrypt_rtp(&out[..len]).unwrap());
                    }
                }
            }
        },
    );
    Stage {
        name: "sfu_fanout",
        variant: format!("{SUBSCRIBERS}_subscribers"),
        bytes: mean_bytes(trace),
        packets_per_iter: SUBSCRIBERS as u64,
        run: ours,
        baseline: Some(Baseline {
            name: "webrtc-rs",
            run: theirs,
        }),
    }
}
