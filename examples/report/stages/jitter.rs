//! The jitter buffer row.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtmedia::jitter::{DelayConfig, Event, JitterBuffer, JitterConfig};
use rtmedia::packet::{RtpBuilder, RtpPacket, SeqUnwrapper, TimestampUnwrapper};
use rtmedia::sim::Rng;

use super::{Baseline, Options, RunFn, Stage, HEADER_LEN};

/// The seeded audio trace of `benches/jitter.rs`: 20 ms Opus-sized packets,
/// 5 % held back behind the next 1–3 packets, 2 % lost; played with the
/// same fixed delay on both sides.
const JITTER_PAYLOAD: usize = 60;
pub(crate) const JITTER_PTIME_US: u64 = 20_000;
const JITTER_DELAY_US: u64 = 80_000;

struct Arrival {
    at: u64,
    packet: Bytes,
}

fn jitter_trace(sent: usize) -> Vec<Arrival> {
    let mut rng = Rng::new(0x06a1_77e5);
    let mut out = Vec::with_capacity(sent);
    let mut payload = [0u8; JITTER_PAYLOAD];
    for i in 0..sent {
        if i > 0 && rng.chance(0.02) {
            continue;
        }
        let mut at = 1_000_000 + i as u64 * JITTER_PTIME_US + 40_000;
        if i > 0 && rng.chance(0.05) {
            at += (1 + rng.below(3)) * JITTER_PTIME_US + 1_000;
        }
        for b in payload.iter_mut() {
            *b = rng.next_u64() as u8;
        }
        let mut buf = vec![0u8; HEADER_LEN + JITTER_PAYLOAD];
        RtpBuilder {
            payload_type: 111,
            sequence_number: 65_000u16.wrapping_add(i as u16),
            timestamp: (u32::MAX - 96_000).wrapping_add(i as u32 * 960),
            ssrc: 0x5eed_0001,
            payload: &payload,
            ..Default::default()
        }
        .write_into(&mut buf)
        .unwrap();
        let packet = Bytes::from(buf);
        drop(packet.clone()); // shared storage now: clones are refcounts
        out.push(Arrival { at, packet });
    }
    out.sort_by_key(|a| a.at);
    out
}

/// One jitter buffer under test: push an arrival, pop everything due.
trait JitterSide {
    fn step(&mut self, at: u64, packet: &Bytes) -> u64;
}

impl JitterSide for JitterBuffer {
    #[inline]
    fn step(&mut self, at: u64, packet: &Bytes) -> u64 {
        let _ = self.push(packet.clone(), at);
        let mut sink = 0;
        while let Some(event) = self.pop(at) {
            sink += match event {
                Event::Packet { packet, seq, .. } => packet.len() as u64 ^ seq as u64,
                Event::Lost { seq, .. } => seq as u64,
                Event::Frame { .. } => unreachable!("audio mode"),
            };
        }
        sink
    }
}

fn rtmedia_jitter() -> JitterBuffer {
    let mut config = JitterConfig::audio();
    config.delay = DelayConfig {
        fixed_delay_us: Some(JITTER_DELAY_US),
        ..config.delay
    };
    JitterBuffer::new(config)
}

/// The jitter buffer most code bases start with (the baseline of
/// `benches/jitter.rs`, without its NACK part): packets in a `BTreeMap` by
/// unwrapped sequence number, the first released at its playout time, a
/// gap before a due packet declared lost.
#[derive(Default)]
struct BTreeJitter {
    seq_unwrap: SeqUnwrapper,
    ts_unwrap: TimestampUnwrapper,
    packets: BTreeMap<i64, (Bytes, i64)>,
    next: Option<i64>,
    /// First arrival time and its unwrapped timestamp.
    origin: (u64, i64),
}

/// Playout time of timestamp `ts`: the fixed delay after the first
/// packet's arrival, plus its media time since then.
fn btree_playout(origin: (u64, i64), ts: i64) -> u64 {
    let media_us = (ts - origin.1) * 1_000_000 / 48_000;
    (origin.0 as i64 + media_us + JITTER_DELAY_US as i64).max(0) as u64
}

impl JitterSide for BTreeJitter {
    #[inline]
    fn step(&mut self, at: u64, packet: &Bytes) -> u64 {
        if let Ok(p) = RtpPacket::parse(&packet[..]) {
            let seq = self.seq_unwrap.unwrap(u64::from(p.sequence_number()));
            let ts = self.ts_unwrap.unwrap(u64::from(p.timestamp()));
            let next = *self.next.get_or_insert_with(|| {
                self.origin = (at, ts);
                seq
            });
            if seq >= next {
                if let Entry::Vacant(v) = self.packets.entry(seq) {
                    v.insert((packet.clone(), ts));
                }
            }
        }
        let origin = self.origin;
        let mut sink = 0;
        while let Some(next) = self.next {
            let Some(first) = self.packets.first_entry() else {
                break;
            };
            let seq = *first.key();
            if at < btree_playout(origin, first.get().1) {
                break;
            }
            if seq == next {
                let (packet, _) = first.remove();
                sink += packet.len() as u64 ^ seq as u64;
            } else {
                sink += next as u64; // a gap before a due packet: lost
            }
            self.next = Some(next + 1);
        }
        sink
    }
}

/// Replays `trace` one arrival per iteration, from a fresh buffer whenever
/// it runs out (untimed).
fn jitter_run<S: JitterSide + 'static>(
    trace: std::sync::Arc<Vec<Arrival>>,
    make: impl Fn() -> S + 'static,
) -> RunFn {
    let mut side = make();
    let mut pos = 0;
    Box::new(move |n: u64| {
        let mut left = n as usize;
        let mut timed = Duration::ZERO;
        let mut sink = 0;
        while left > 0 {
            if pos == trace.len() {
                side = make();
                pos = 0;
            }
            let k = left.min(trace.len() - pos);
            let start = Instant::now();
            for a in &trace[pos..pos + k] {
                sink += side.step(black_box(a.at), &a.packet);
            }
            timed += start.elapsed();
            pos += k;
            left -= k;
        }
        black_box(sink);
        timed
    })
}

/// Jitter buffer push + pop of every due packet, per arriving packet.
pub(super) fn jitter_push_pop(options: &Options) -> Stage {
    let trace = std::sync::Arc::new(jitter_trace(if options.quick { 1024 } else { 8192 }));
    Stage {
        name: "jitter_push_pop",
        variant: "audio_reorder5_loss2".to_string(),
        bytes: HEADER_LEN + JITTER_PAYLOAD,
        packets_per_iter: 1,
        run: jitter_run(trace.clone(), rtmedia_jitter),
        baseline: Some(Baseline {
            name: "btreemap",
            run: jitter_run(trace, BTreeJitter::default),
        }),
    }
}
