//! The scaling table: whole SFU rooms sharded over worker threads.
//!
//! A room is one publisher's VP8 simulcast stream (the trace of
//! `stages/simulcast.rs`, SRTP-protected once, untimed) and
//! `SUBSCRIBERS_PER_ROOM` subscribers: per incoming packet, SRTP unprotect
//! (AEAD_AES_128_GCM) → `Source::on_rtp` → for each subscriber
//! `Forwarder::forward` (+ `backfill` until `None`) → SRTP protect with that
//! subscriber's context. Rooms are sharded over 1..N worker threads, fed by
//! one dispatcher thread through bounded crossbeam channels.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use crossbeam::channel;
use rtmedia::simulcast::{Forwarder, Source, SourceConfig};
use rtmedia::srtp::{Profile, Srtp};

use super::machine::{logical_cores, process_cpu_time};
use super::options::Options;
use super::stages::simulcast::{
    forwarder, gcm, mean_bytes, send, trace, Trace, PROFILE, PUBLISHER_KEY, TARGETS,
};
use super::stages::CAP;

pub(crate) const SCALING_PROFILE: Profile = PROFILE;
/// Subscribers of each room, subscriber `i` on target `TARGETS[i % 4]`.
pub(crate) const SUBSCRIBERS_PER_ROOM: usize = 4;

/// One room on a worker: the publisher's SRTP receive context, the source,
/// and each subscriber's forwarder and SRTP send context. A new room is a
/// new call: the trace starts again from its first keyframes.
struct ScalingRoom {
    rx: Srtp,
    source: Source,
    subs: Vec<(Forwarder, Srtp)>,
    out: Box<[u8; CAP]>,
}

impl ScalingRoom {
    fn new(trace: &Trace) -> Self {
        Self {
            rx: gcm(PUBLISHER_KEY),
            source: Source::new(SourceConfig::default(), trace.ssrcs()).unwrap(),
            subs: (0..SUBSCRIBERS_PER_ROOM)
                .map(|i| (forwarder(TARGETS[i % TARGETS.len()]), gcm(0x40 + i as u8)))
                .collect(),
            out: Box::new([0; CAP]),
        }
    }

    /// Unprotect → source → every subscriber's forward and protect. `at` is
    /// the packet's arrival time in the trace: the rooms run faster than
    /// real time, so time is an argument, not the clock. Returns the
    /// subscriber-packets sent.
    fn handle(&mut self, mut packet: BytesMut, at: u64) -> u64 {
        self.rx.unprotect_rtp_bytes(&mut packet).unwrap();
        let pkt = self.source.on_rtp(packet.freeze(), at).unwrap();
        let mut sent = 0;
        for (fwd, tx) in &mut self.subs {
            sent += send(fwd, tx, &self.source, &pkt, &mut self.out[..], at);
        }
        sent
    }
}

/// The publisher's packets, protected once with the publisher's key; every
/// room receives the same stream (each with its own contexts).
fn protected(trace: &Trace) -> Vec<Bytes> {
    let mut ctx = gcm(PUBLISHER_KEY);
    let mut buf = [0u8; CAP];
    (0..trace.len() as u64)
        .map(|k| {
            let (len, _) = trace.write(k, &mut buf);
            let n = ctx.protect_rtp(&mut buf, len).unwrap();
            Bytes::copy_from_slice(&buf[..n])
        })
        .collect()
}

/// Packets per channel message from the dispatcher: one wake-up per batch,
/// as a network thread reading with `recvmmsg` would hand them over.
const DISPATCH_BATCH: usize = 32;

/// One run's result.
#[derive(Clone, Copy)]
struct RunResult {
    /// Incoming packets per second.
    packets_per_sec: f64,
    /// Subscriber-packets sent per second.
    sent_per_sec: f64,
    cores_used: Option<f64>,
}

/// `rooms` rooms sharded over `threads` workers for about `duration`. The
/// dispatcher (this thread's child) plays the network thread: it copies
/// each packet into a fresh buffer, as a socket read would, and sends it to
/// the room's worker over a bounded channel, in batches of
/// `DISPATCH_BATCH`. Cores used: CPU time over wall time, dispatcher
/// included, if known.
fn scaling_run(
    trace: &Trace,
    packets: &[Bytes],
    rooms: usize,
    threads: usize,
    duration: Duration,
) -> RunResult {
    let trace_len = packets.len();
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..threads)
        .map(|_| channel::bounded::<Vec<(u32, BytesMut)>>(1024 / DISPATCH_BATCH))
        .unzip();
    let cpu_start = process_cpu_time();
    let start = Instant::now();
    let (processed, sent) = std::thread::scope(|s| {
        let workers: Vec<_> = receivers
            .into_iter()
            .map(|rx| {
                // Room r is on worker r % threads, as its (r / threads)th room.
                let mine = rooms.div_ceil(threads);
                s.spawn(move || {
                    let mut rooms: Vec<ScalingRoom> =
                        (0..mine).map(|_| ScalingRoom::new(trace)).collect();
                    let mut seen = vec![0usize; mine];
                    let (mut handled, mut sent) = (0u64, 0u64);
                    for (local, packet) in rx.into_iter().flatten() {
                        let local = local as usize;
                        if seen[local] == trace_len {
                            // The trace loops: a new call in this room.
                            rooms[local] = ScalingRoom::new(trace);
                            seen[local] = 0;
                        }
                        let at = trace.arrivals_us()[seen[local]];
                        seen[local] += 1;
                        sent += rooms[local].handle(packet, at);
                        handled += 1;
                    }
                    (handled, sent)
                })
            })
            .collect();
        s.spawn(move || {
            let mut pending: Vec<Vec<(u32, BytesMut)>> = vec![Vec::new(); threads];
            let mut i = 0;
            'outer: loop {
                for room in 0..rooms {
                    let packet = BytesMut::from(&packets[i][..]);
                    let batch = &mut pending[room % threads];
                    batch.push(((room / threads) as u32, packet));
                    if batch.len() == DISPATCH_BATCH {
                        let full = std::mem::replace(batch, Vec::with_capacity(DISPATCH_BATCH));
                        if senders[room % threads].send(full).is_err() {
                            break 'outer;
                        }
                    }
                }
                i = (i + 1) % trace_len;
                if i % 16 == 0 && start.elapsed() >= duration {
                    break;
                }
            }
        });
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .fold((0, 0), |(a, b), (h, s)| (a + h, b + s))
    });
    let wall = start.elapsed().as_secs_f64();
    let cores_used = match (cpu_start, process_cpu_time()) {
        (Some(a), Some(b)) => Some((b - a).as_secs_f64() / wall),
        _ => None,
    };
    RunResult {
        packets_per_sec: processed as f64 / wall,
        sent_per_sec: sent as f64 / wall,
        cores_used,
    }
}

/// One scaling row.
pub(crate) struct ScalingRow {
    pub threads: usize,
    pub rooms: usize,
    /// Mean RTP packet size of the publisher's stream, before SRTP.
    pub bytes: usize,
    /// Incoming (publisher) packets handled per second.
    pub packets_per_sec: f64,
    pub efficiency: f64,
    /// Cores busy on average during the run (of the median run).
    pub cores_used: Option<f64>,
    /// Subscribers per room.
    pub subscribers: usize,
    /// Subscriber-packets forwarded and protected per second (of the median
    /// run).
    pub forwarded_per_sec: f64,
}

pub(crate) fn scaling(options: &Options) -> Vec<ScalingRow> {
    let max = options.threads.unwrap_or_else(|| logical_cores().max(2));
    let rooms = 4 * max;
    let trace = trace(options);
    let packets = protected(&trace);
    let (duration, runs) = if options.quick {
        (Duration::from_millis(100), 1)
    } else {
        (Duration::from_millis(700), 3)
    };
    let mut rows: Vec<ScalingRow> = Vec::new();
    for threads in 1..=max {
        let mut results: Vec<RunResult> = (0..runs)
            .map(|_| scaling_run(&trace, &packets, rooms, threads, duration))
            .collect();
        results.sort_by(|a, b| a.packets_per_sec.total_cmp(&b.packets_per_sec));
        let r = results[results.len() / 2];
        let one = rows
            .first()
            .map_or(r.packets_per_sec, |r| r.packets_per_sec);
        rows.push(ScalingRow {
            threads,
            rooms,
            bytes: mean_bytes(&trace),
            packets_per_sec: r.packets_per_sec,
            efficiency: r.packets_per_sec / (one * threads as f64),
            cores_used: r.cores_used,
            subscribers: SUBSCRIBERS_PER_ROOM,
            forwarded_per_sec: r.sent_per_sec,
        });
    }
    rows
}
