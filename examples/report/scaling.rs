//! The scaling table: whole rooms sharded over worker threads.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use crossbeam::channel;
use rtmedia::jitter::{DelayConfig, Event, JitterBuffer, JitterConfig};
use rtmedia::srtp::{Config, Profile, Srtp};

use super::machine::{logical_cores, process_cpu_time};
use super::options::Options;
use super::stages::jitter::JITTER_PTIME_US;
use super::stages::srtp::{plain_packet, rtmedia_srtp, KEY, SALT};
use super::stages::{CAP, PACKET_BYTES};

// ---------------------------------------------------------------- scaling

/// Packets each room's trace holds before it loops (the room's SRTP and
/// jitter state start afresh then, as a new call would).
fn scaling_trace_len(options: &Options) -> usize {
    if options.quick {
        64
    } else {
        512
    }
}

/// One room on a worker: the publisher's SRTP receive context, the jitter
/// buffer and the subscriber's SRTP send context.
struct ScalingRoom {
    rx: Srtp,
    jitter: JitterBuffer,
    tx: Srtp,
    /// Virtual time of the next packet (20 ms apart): the rooms run faster
    /// than real time, so time is an argument, not the clock.
    now: u64,
    out: Box<[u8; CAP]>,
}

pub(crate) const SCALING_PROFILE: Profile = Profile::AeadAes128Gcm;

impl ScalingRoom {
    fn new() -> Self {
        let mut config = JitterConfig::audio();
        config.delay = DelayConfig {
            fixed_delay_us: Some(40_000),
            ..config.delay
        };
        config.nack.enabled = false;
        Self {
            rx: rtmedia_srtp(SCALING_PROFILE),
            jitter: JitterBuffer::new(config),
            tx: Srtp::new(
                SCALING_PROFILE,
                &KEY[16..32],
                &SALT[2..14],
                Config::default(),
            )
            .unwrap(),
            now: 1_000_000,
            out: Box::new([0; CAP]),
        }
    }

    /// Unprotect → jitter push → pop what is due → protect each for the
    /// subscriber. Returns the packets sent on.
    fn handle(&mut self, mut packet: BytesMut) -> u64 {
        self.rx.unprotect_rtp_bytes(&mut packet).unwrap();
        let _ = self.jitter.push(packet.freeze(), self.now);
        let mut sent = 0;
        while let Some(event) = self.jitter.pop(self.now) {
            if let Event::Packet { packet, .. } = event {
                self.out[..packet.len()].copy_from_slice(&packet);
                black_box(
                    self.tx
                        .protect_rtp(&mut self.out[..], packet.len())
                        .unwrap(),
                );
                sent += 1;
            }
        }
        self.now += JITTER_PTIME_US;
        sent
    }
}

/// A room's protected packets, made once: `len` consecutive packets of
/// `PACKET_BYTES`, SSRC per room.
fn scaling_trace(room: usize, len: usize) -> Vec<Bytes> {
    let mut ctx = rtmedia_srtp(SCALING_PROFILE);
    let mut p = plain_packet();
    p[8..12].copy_from_slice(&(0x7000_0000 + room as u32).to_be_bytes());
    (0..len)
        .map(|i| {
            let mut q = p.clone();
            q[2..4].copy_from_slice(&(i as u16).to_be_bytes());
            q[4..8].copy_from_slice(&(i as u32 * 960).to_be_bytes());
            let n = ctx.protect_rtp(&mut q[..], PACKET_BYTES).unwrap();
            Bytes::copy_from_slice(&q[..n])
        })
        .collect()
}

/// Packets per channel message from the dispatcher: one wake-up per batch,
/// as a network thread reading with `recvmmsg` would hand them over.
const DISPATCH_BATCH: usize = 32;

/// Packets per second through `rooms` rooms sharded over `threads` workers
/// for about `duration`. The dispatcher (this thread's child) plays the
/// network thread: it copies each packet into a fresh buffer, as a socket
/// read would, and sends it to the room's worker over a bounded channel, in
/// batches of `DISPATCH_BATCH`.
/// Returns packets per second and the cores used on average (CPU time over
/// wall time, dispatcher included), if known.
fn scaling_run(traces: &[Vec<Bytes>], threads: usize, duration: Duration) -> (f64, Option<f64>) {
    let trace_len = traces[0].len();
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..threads)
        .map(|_| channel::bounded::<Vec<(u32, BytesMut)>>(1024 / DISPATCH_BATCH))
        .unzip();
    let cpu_start = process_cpu_time();
    let start = Instant::now();
    let processed: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = receivers
            .into_iter()
            .map(|rx| {
                // Room r is on worker r % threads, as its (r / threads)th room.
                let mine = traces.len().div_ceil(threads);
                s.spawn(move || {
                    let mut rooms: Vec<ScalingRoom> =
                        (0..mine).map(|_| ScalingRoom::new()).collect();
                    let mut seen = vec![0usize; mine];
                    let mut handled = 0u64;
                    for (local, packet) in rx.into_iter().flatten() {
                        let local = local as usize;
                        if seen[local] == trace_len {
                            // The trace loops: a new call in this room.
                            rooms[local] = ScalingRoom::new();
                            seen[local] = 0;
                        }
                        seen[local] += 1;
                        rooms[local].handle(packet);
                        handled += 1;
                    }
                    handled
                })
            })
            .collect();
        s.spawn(move || {
            let mut pending: Vec<Vec<(u32, BytesMut)>> = vec![Vec::new(); threads];
            let mut i = 0;
            'outer: loop {
                for (room, trace) in traces.iter().enumerate() {
                    let packet = BytesMut::from(&trace[i][..]);
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
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let wall = start.elapsed().as_secs_f64();
    let cores = match (cpu_start, process_cpu_time()) {
        (Some(a), Some(b)) => Some((b - a).as_secs_f64() / wall),
        _ => None,
    };
    (processed as f64 / wall, cores)
}

/// One scaling row.
pub(crate) struct ScalingRow {
    pub threads: usize,
    pub rooms: usize,
    pub packets_per_sec: f64,
    pub efficiency: f64,
    /// Cores busy on average during the run (of the median run).
    pub cores_used: Option<f64>,
}

pub(crate) fn scaling(options: &Options) -> Vec<ScalingRow> {
    let max = options.threads.unwrap_or_else(|| logical_cores().max(2));
    let rooms = 4 * max;
    let traces: Vec<Vec<Bytes>> = (0..rooms)
        .map(|r| scaling_trace(r, scaling_trace_len(options)))
        .collect();
    let (duration, runs) = if options.quick {
        (Duration::from_millis(100), 1)
    } else {
        (Duration::from_millis(700), 3)
    };
    let mut rows: Vec<ScalingRow> = Vec::new();
    for threads in 1..=max {
        let mut results: Vec<(f64, Option<f64>)> = (0..runs)
            .map(|_| scaling_run(&traces, threads, duration))
            .collect();
        results.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (pps, cores_used) = results[results.len() / 2];
        let one = rows.first().map_or(pps, |r| r.packets_per_sec);
        rows.push(ScalingRow {
            threads,
            rooms,
            packets_per_sec: pps,
            efficiency: pps / (one * threads as f64),
            cores_used,
        });
    }
    rows
}
