//! The conference mixer, one 20 ms tick per criterion iteration, on real
//! Opus RTP packets with RFC 6464 levels. Rooms:
//!
//! - `mixer_100_mix_minus_3_talkers`: 100 participants, `loudest:
//!   usize::MAX` (everyone who is not silent is mixed), 3 talkers; the 97
//!   others send room noise. Goal: ≤ 5 ms of CPU per tick, and ≥ 10× the
//!   same-run baseline `naive` (below) in the same room.
//! - `mixer_1000_loudest3_4_talkers`: 1,000 participants, `loudest: 3`, 4
//!   talkers whose loudness rises and falls out of step, so the loudest three
//!   change over time (speaker switches, hangover encodes); the rest send
//!   room noise. Goal: ≤ 10 ms of CPU per tick.
//!
//! - `mixer_100_no_levels_3_talkers`: the 100-participant mix-minus room
//!   with packets *without* the RFC 6464 extension (what SIP and other
//!   non-browser clients send): levels must come from the bitstream and
//!   decodes. Goal: ≤ 2.5 ms per tick and ≥ 15× `naive` in the same room.
//! - `mixer_1000_no_levels_3_talkers`: 1,000 participants without levels,
//!   `loudest: 3`, 3 talkers. Goal: ≤ 10 ms per tick.
//! - `mixer_100_no_levels_3_talkers/rtmedia_one_flooder`: the same
//!   100-participant room plus one hostile participant who fills its input
//!   queue (64 packets) every tick with packets whose sequence numbers and
//!   timestamps jump at random (issue 19: a flooder must not push the tick
//!   past its budget). Goal: the room's 2.5 ms; the ratio to the clean room
//!   is printed.
//!
//! - `mixer_100_taps_3_talkers`: per-speaker transcription taps. The first
//!   room (100 participants, RFC 6464 levels, 3 talkers, 97 room noise,
//!   mix-minus: `loudest: usize::MAX`; with three talkers and the noise
//!   under the floor, `loudest: 3` mixes and encodes the same, and
//!   mix-minus keeps this group's baseline the first room's own
//!   configuration) in which **every** participant is tapped, as for a
//!   service that transcribes everyone; after every tick the host takes the
//!   tick's tap frames with `Mixer::take_taps` (and reads each one's PCM).
//!   Variants, all measured in the same run:
//!   - `rtmedia`: the same room without taps, the baseline;
//!   - `rtmedia_taps`: taps from the mix (`MixerConfig` as above);
//!   - `rtmedia_retransmitted_taps`: the same with
//!     `.with_retransmitted_taps()`, `set_rtt(60 ms)` for every
//!     participant, and after every tick `poll_nacks` and `on_nack_sent`
//!     for every participant (nothing is lost, so the lists are empty: the
//!     polling is the work measured; building and sending NACKs is not);
//!   - `rtmedia_retransmitted_taps_lossy`: the same with 1 % loss on every
//!     participant, spread so that one packet of the room is lost per tick;
//!     each lost packet is resent (from the bench's copy) when the mixer's
//!     poll asks for it, and arrives one round trip (60 ms) later: one
//!     NACK, one retransmission through both jitter buffers and one FEC
//!     decode or concealment in the mix per tick.
//!
//!   What a tick decodes (the pre-roll checks it): untapped, the 3 talkers;
//!   taps from the mix, all 100 participants every tick (a tap needs its
//!   PCM: the room noise, never mixed, too); retransmitted taps, 103 (each
//!   lane's decode, and the mix's of its 3 talkers: with levels in the
//!   packets the mix decodes only what it mixes, as untapped).
//!
//!   Goals, cost bounds (taps add work; there is no speed-up to claim):
//!   each tapped variant ≤ 10 ms of CPU per tick (half the tick), and
//!   retransmitted taps ≤ 2× taps from the mix per tick (each tapped
//!   participant has a second jitter buffer, and its NACKs are polled). The costs against
//!   the untapped room are printed as ratios (and as µs per tapped
//!   participant), with no goal. Before timing
//!   (untimed), a few ticks of each tapped variant check that the taps come
//!   out: one frame per participant per tick, every frame the talker's
//!   audio (none concealed, FEC or missing, also with losses: the lossy
//!   variant's retransmissions all arrive in time and are each asked for
//!   once), exactly the talkers' frames voiced, and no heap allocation in
//!   those ticks' timed part (the bench's global allocator counts them).
//!   The timed run then asserts one frame per participant and no allocation
//!   for every tick it measured.
//!
//! The goals on the rooms are absolute (CPU time per tick, out of the 20 ms
//! a tick lasts), so besides the ratio table of `support::report` the bench
//! prints each room's median milliseconds per tick with its goal.
//!
//! **What the participants send.** Every packet is a real Opus packet from
//! libopus as a browser would send it (48 kHz mono, VoIP application,
//! 32 kbit/s VBR, in-band FEC planned for 10 % loss, 20 ms, no DTX; half
//! of the room-noise sources as a low-delay client, CELT-only, which
//! carries no VAD flag) with
//! the RFC 6464 level of the frame (extension id 1, `level_dbov` of the PCM
//! that was encoded). Talkers send a synthetic voice: a glottal-like
//! harmonic series (f0 100–220 Hz, gliding) under a syllable-rate envelope
//! (≈3–4 Hz), at about -20 to -40 dBov, V flag set. The others send
//! low-pass room noise at -80 dBov (V flag clear): a real Opus stream that
//! costs a decoder the same as speech, and below the mixer's speech floor
//! (70), so rtmedia never mixes it while the naive mixer decodes and sums it
//! as naive bridges do. (Digital-silence frames would have been the other
//! choice; microphones are never digitally silent without DTX.)
//!
//! **Packets and time.** Before timing, `LOOP_FRAMES` frames (5 s) of a few
//! voice and noise sources are encoded once; each participant gets its own
//! `LOOP_FRAMES` RTP packets (own SSRC, its source started at its own
//! offset), each its own shared `Bytes`. Before every timed tick (untimed)
//! the packet of that tick is taken back from the previous loop — by then
//! the mixer has released it, so `Bytes::try_into_mut` succeeds without a
//! copy — and its sequence number and timestamp are rewritten to continue
//! the stream: the jitter buffers see one continuous stream per participant
//! (sequence numbers and timestamps wrap in the run; no duplicates, no
//! resets); only the audio repeats every 5 s. Participant `i`'s packets
//! arrive at a fixed offset (0–20 ms) before the tick, the same every tick.
//!
//! **One timed iteration = one tick**, in this thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`; the machines are shared): push every
//! participant's packet (a `Bytes` clone, a reference-count increment) into
//! its `ParticipantInput` with its arrival time, `tick(now)`, and write
//! every listener's RTP packet with `write_rtp` into a 1500-byte buffer (the
//! work a host does before SRTP); in the taps room also take the tick's tap
//! frames and, with retransmitted taps, poll NACKs (above). `now` advances
//! 20 ms per iteration. The mixer lives through warm-up and measurement (no
//! re-creation), after an untimed pre-roll of `PREROLL_TICKS` ticks.
//!
//! **Baseline `naive`**: the mixer common audio bridges start with. Every
//! tick it parses and decodes every participant's packet (a libopus decoder
//! per participant), sums all of them in f32, and per listener subtracts its
//! own frame, clips to [-1, 1] and encodes (a libopus encoder per listener,
//! the same settings as rtmedia's: 48 kHz mono VoIP, 32 kbit/s, FEC at
//! 10 %, 20 ms, default complexity), then writes the RTP packet into the
//! same kind of buffer. It has no jitter buffer, queue, levels, limiter or
//! CSRCs — less work than rtmedia outside Opus, so the ratio does not
//! flatter rtmedia.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, Criterion, SamplingMode};
use rtmedia::audio::level::{level_dbov, AudioLevel};
use rtmedia::audio::mixer::{
    Mixer, MixerConfig, MixerStats, ParticipantInput, TapContent, MAX_PAYLOAD,
};
use rtmedia::audio::FRAME_SAMPLES;
use rtmedia::packet::{RtpBuilder, RtpPacket};
use rtmedia::sim::Rng;

#[path = "mixer_parts/room.rs"]
mod room;
// The Opus RTP packets the mixer tests' talkers send (level: extension 1).
#[path = "../tests/support/opus_rtp.rs"]
mod opus_rtp;
use opus_rtp::opus_rtp;
mod support;

use room::{noise_source, opus_encoder, talker_source, Room, Source};

const GROUP_100: &str = "mixer_100_mix_minus_3_talkers";
const GROUP_1000: &str = "mixer_1000_loudest3_4_talkers";
const GROUP_100_NO_LEVELS: &str = "mixer_100_no_levels_3_talkers";
const GROUP_1000_NO_LEVELS: &str = "mixer_1000_no_levels_3_talkers";
const CANDIDATE: &str = "rtmedia";
const BASELINE: &str = "naive";
/// rtmedia in the same room with one flooding participant (`Flooded`).
const FLOODED: &str = "rtmedia_one_flooder";
const GROUP_100_TAPS: &str = "mixer_100_taps_3_talkers";
/// Every participant tapped, taps from the mix (`Tapped`).
const TAPS: &str = "rtmedia_taps";
/// Every participant tapped, taps that wait for retransmissions.
const RETRANSMITTED_TAPS: &str = "rtmedia_retransmitted_taps";
/// The same with 1 % loss answered by retransmissions (`Losses`).
const RETRANSMITTED_TAPS_LOSSY: &str = "rtmedia_retransmitted_taps_lossy";

/// Absolute goals, CPU ms per 20 ms tick.
const GOAL_100_MS: f64 = 5.0;
const GOAL_1000_MS: f64 = 10.0;
/// Goal on the speed-up over the naive mixer in the 100-participant room.
const GOAL_SPEEDUP: f64 = 10.0;
/// Goals without RFC 6464 levels (issue 15).
const GOAL_100_NO_LEVELS_MS: f64 = 2.5;
const GOAL_SPEEDUP_NO_LEVELS: f64 = 15.0;
/// Goals of the taps room: CPU per tick of each tapped variant (half the
/// tick), and retransmitted taps at most this many times taps from the mix.
const GOAL_TAPS_MS: f64 = 10.0;
const GOAL_RETRANSMITTED_OVER_TAPS: f64 = 2.0;
/// Round-trip time to every participant with retransmitted taps (µs).
const TAP_RTT_US: u64 = 60_000;
/// With losses, participant `i` loses the packet of tick `t` when
/// `(t + 7 i) % LOSS_PERIOD_TICKS == 0` (and `t > 0`): 1 % each, one per
/// tick in a room of 100.
const LOSS_PERIOD_TICKS: usize = 100;

const TICK_US: u64 = 20_000;
const TS_STEP: u32 = FRAME_SAMPLES as u32;
/// Frames of pre-encoded audio per source (5 s), looped.
const LOOP_FRAMES: usize = 250;
/// Distinct noise sources (participants start them at different offsets).
const NOISE_SOURCES: usize = 8;
/// Room noise of the silent participants, -dBov.
const NOISE_DBOV: f64 = 80.0;
/// Untimed ticks before criterion starts: jitter buffers and roles settle.
const PREROLL_TICKS: usize = 100;
/// RFC 6464 extension id (rtmedia's `MixerConfig::default()` expects 1).
const LEVEL_EXT_ID: u8 = 1;
/// What the senders and the naive mixer's encoders use (rtmedia's defaults).
const BITRATE: i32 = 32_000;
const LOSS_PERCENT: i32 = 10;
const SAMPLE_RATE: f64 = 48_000.0;

// Counts this thread's heap allocations, for the check that the tapped
// ticks allocate nothing: the allocation tests' counting allocator (one
// thread-local increment per allocation, none of them in a timed step).
#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

// ------------------------------------------------------------------ sides

/// One mixer under test: takes one tick's packets, mixes, writes every
/// listener's packet; returns the bytes written.
trait Side {
    fn step(&mut self, packets: &[Bytes], arrival_offsets: &[u64], now: u64) -> usize;
}

struct Rtmedia {
    mixer: Mixer,
    inputs: Vec<ParticipantInput>,
    out: [u8; 1500],
}

impl Rtmedia {
    fn new(config: MixerConfig, n: usize) -> Self {
        Self::with_taps(config, n, false)
    }

    /// `n` participants, every one tapped if `tap`.
    fn with_taps(config: MixerConfig, n: usize, tap: bool) -> Self {
        let mut mixer = Mixer::new(config).unwrap();
        let inputs = (0..n as u32)
            .map(|i| {
                mixer
                    .add_participant(i, 0x5000_0000 + i, 0x9000_0000 + i, tap)
                    .unwrap()
            })
            .collect();
        Self {
            mixer,
            inputs,
            out: [0; 1500],
        }
    }

    /// Pushes every participant's packet with its arrival time.
    #[inline]
    fn push(&self, packets: &[Bytes], arrival_offsets: &[u64], now: u64) {
        for ((input, packet), &off) in self.inputs.iter().zip(packets).zip(arrival_offsets) {
            input.push(packet.clone(), now - off);
        }
    }

    /// Ticks at `now` and writes every listener's packet; returns the bytes.
    #[inline]
    fn mix(&mut self, now: u64) -> usize {
        let tick = self.mixer.tick(now);
        let mut bytes = 0;
        for p in tick.packets() {
            bytes += tick.write_rtp(p, &mut self.out).unwrap();
        }
        black_box(&self.out);
        bytes
    }
}

impl Side for Rtmedia {
    #[inline]
    fn step(&mut self, packets: &[Bytes], arrival_offsets: &[u64], now: u64) -> usize {
        self.push(packets, arrival_offsets, now);
        self.mix(now)
    }
}

/// A side with an rtmedia mixer in it (for the pre-roll's checks).
trait WithMixer {
    fn mixer(&self) -> &Mixer;
}

impl WithMixer for Rtmedia {
    fn mixer(&self) -> &Mixer {
        &self.mixer
    }
}

/// Tap frames as the host took them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct TapCounts {
    frames: u64,
    /// Frames holding the talker's decoded audio (`TapContent::Audio`).
    audio: u64,
    /// Frames with `voice_activity`.
    voiced: u64,
}

/// Every participant tapped (a service transcribing everyone): after each
/// tick the host takes the tick's tap frames and reads their PCM; with
/// retransmitted taps (`poll`) it then asks every participant's tap for
/// NACKs and records them as sent, and with `losses` it loses packets and
/// answers those NACKs with retransmissions.
struct Tapped {
    inner: Rtmedia,
    poll: bool,
    nacks: [i64; 64],
    losses: Option<Losses>,
    /// Ticks stepped (drives the loss pattern).
    tick: usize,
    /// The last tick's tap frames, and all so far.
    last: TapCounts,
    total: TapCounts,
    /// Sequence numbers `poll_nacks` returned.
    requested: u64,
}

impl Tapped {
    /// `n` participants, all tapped; with `config.tap_jitter` (retransmitted
    /// taps) every one's round trip is `TAP_RTT_US` and NACKs are polled
    /// after every tick; `lossy`: with `Losses`.
    fn new(config: MixerConfig, n: usize, lossy: bool) -> Self {
        let poll = config.tap_jitter.is_some();
        assert!(poll || !lossy, "losses are answered by retransmitted taps");
        let mut inner = Rtmedia::with_taps(config, n, true);
        if poll {
            for id in 0..n as u32 {
                inner.mixer.set_rtt(id, TAP_RTT_US).unwrap();
            }
        }
        Self {
            inner,
            poll,
            nacks: [0; 64],
            losses: lossy.then(|| Losses::new(n)),
            tick: 0,
            last: TapCounts::default(),
            total: TapCounts::default(),
            requested: 0,
        }
    }
}

impl WithMixer for Tapped {
    fn mixer(&self) -> &Mixer {
        &self.inner.mixer
    }
}

impl Side for Tapped {
    #[inline]
    fn step(&mut self, packets: &[Bytes], arrival_offsets: &[u64], now: u64) -> usize {
        let rt = &mut self.inner;
        match &mut self.losses {
            None => rt.push(packets, arrival_offsets, now),
            Some(losses) => losses.push(&rt.inputs, packets, arrival_offsets, now, self.tick),
        }
        let bytes = rt.mix(now);
        let mut counts = TapCounts::default();
        for frame in rt.mixer.take_taps() {
            black_box(&frame.pcm);
            counts.frames += 1;
            counts.audio += u64::from(frame.content == TapContent::Audio);
            counts.voiced += u64::from(frame.voice_activity);
        }
        self.last = counts;
        self.total.frames += counts.frames;
        self.total.audio += counts.audio;
        self.total.voiced += counts.voiced;
        if self.poll {
            for i in 0..rt.inputs.len() {
                let id = i as u32;
                let n = rt.mixer.poll_nacks(id, now, &mut self.nacks).unwrap();
                if let Some(losses) = &mut self.losses {
                    losses.answer(i, &self.nacks[..n], now);
                }
                rt.mixer.on_nack_sent(id, now, &self.nacks[..n]).unwrap();
                self.requested += n as u64;
            }
        }
        self.tick += 1;
        bytes
    }
}

/// Packets lost on the way to the mixer and resent when its NACK asks for
/// them (as a sender does from its history, on its media SSRC), arriving
/// `TAP_RTT_US` after the request. No allocation: one slot per participant
/// for its lost packet, and room for the retransmissions in flight.
struct Losses {
    /// Each participant's lost packet not yet asked for: (sequence number,
    /// packet).
    held: Vec<Option<(u16, Bytes)>>,
    /// Retransmissions on their way: (arrival time, participant, packet).
    in_flight: Vec<(u64, usize, Bytes)>,
    lost: u64,
    resent: u64,
    /// Requests for packets that were not lost (or already resent), and
    /// lost packets never asked for.
    unanswered: u64,
}

impl Losses {
    fn new(n: usize) -> Self {
        Self {
            held: vec![None; n],
            in_flight: Vec::with_capacity(4 * n),
            lost: 0,
            resent: 0,
            unanswered: 0,
        }
    }

    /// Pushes the retransmissions that have arrived by `now`, then this
    /// tick's packets but the lost ones.
    #[inline]
    fn push(
        &mut self,
        inputs: &[ParticipantInput],
        packets: &[Bytes],
        arrival_offsets: &[u64],
        now: u64,
        tick: usize,
    ) {
        self.in_flight.retain(|(at, i, packet)| {
            let arrived = *at <= now;
            if arrived {
                inputs[*i].push(packet.clone(), *at);
            }
            !arrived
        });
        for (i, ((input, packet), &off)) in
            inputs.iter().zip(packets).zip(arrival_offsets).enumerate()
        {
            // Not a stream's first packet: nothing tells its loss.
            if tick > 0 && (tick + 7 * i) % LOSS_PERIOD_TICKS == 0 {
                let seq = RtpPacket::parse(&packet[..]).unwrap().sequence_number();
                if self.held[i].replace((seq, packet.clone())).is_some() {
                    self.unanswered += 1;
                }
                self.lost += 1;
            } else {
                input.push(packet.clone(), now - off);
            }
        }
    }

    /// Answers participant `i`'s NACK for `seqs` sent at `now`.
    #[inline]
    fn answer(&mut self, i: usize, seqs: &[i64], now: u64) {
        for &seq in seqs {
            match self.held[i].take_if(|(s, _)| *s == seq as u16) {
                Some((_, packet)) => {
                    self.in_flight.push((now + TAP_RTT_US, i, packet));
                    self.resent += 1;
                }
                None => self.unanswered += 1,
            }
        }
    }
}

/// The room plus one hostile participant (issue 19 item 4) who fills its
/// input queue every tick with real Opus packets whose sequence numbers and
/// timestamps jump at random: each one resets its jitter buffer or opens a
/// far gap. What it costs the tick is the price of one flooder.
struct Flooded {
    inner: Rtmedia,
    flood: ParticipantInput,
    packets: Vec<Bytes>,
    next: usize,
}

impl Flooded {
    fn new(config: MixerConfig, n: usize, noise: &Source) -> Self {
        let queue = config.queue_capacity;
        let mut inner = Rtmedia::new(config, n);
        let id = n as u32;
        let flood = inner
            .mixer
            .add_participant(id, 0x5000_0000 + id, 0x9000_0000 + id, false)
            .unwrap();
        let mut rng = Rng::new(0xf100d);
        let packets = (0..queue * 16)
            .map(|i| {
                let (payload, _) = &noise.frames[i % LOOP_FRAMES];
                let seq = rng.next_u64() as u16;
                opus_rtp(seq, rng.next_u64() as u32, 0x5000_0000 + id, None, payload)
            })
            .collect();
        Self {
            inner,
            flood,
            packets,
            next: 0,
        }
    }
}

impl Side for Flooded {
    #[inline]
    fn step(&mut self, packets: &[Bytes], arrival_offsets: &[u64], now: u64) -> usize {
        // As many as its queue admits between two ticks: the rest would be
        // refused by the network thread's push.
        for _ in 0..self.inner.mixer.config().queue_capacity {
            self.flood
                .push(self.packets[self.next].clone(), now - 1_000);
            self.next = (self.next + 1) % self.packets.len();
        }
        self.inner.step(packets, arrival_offsets, now)
    }
}

struct NaiveParticipant {
    decoder: opus::Decoder,
    encoder: opus::Encoder,
    pcm: [f32; FRAME_SAMPLES],
    out_ssrc: u32,
    out_seq: u16,
    out_ts: u32,
}

/// Decode everyone, sum in f32, encode a personal mix-minus per listener.
struct Naive {
    participants: Vec<NaiveParticipant>,
    sum: [f32; FRAME_SAMPLES],
    mix: [f32; FRAME_SAMPLES],
    payload: [u8; MAX_PAYLOAD],
    out: [u8; 1500],
}

impl Naive {
    fn new(n: usize) -> Self {
        Self {
            participants: (0..n as u32)
                .map(|i| NaiveParticipant {
                    decoder: opus::Decoder::new(48_000, opus::Channels::Mono).unwrap(),
                    encoder: opus_encoder(),
                    pcm: [0.0; FRAME_SAMPLES],
                    out_ssrc: 0x9000_0000 + i,
                    out_seq: 0,
                    out_ts: 0,
                })
                .collect(),
            sum: [0.0; FRAME_SAMPLES],
            mix: [0.0; FRAME_SAMPLES],
            payload: [0; MAX_PAYLOAD],
            out: [0; 1500],
        }
    }
}

impl Side for Naive {
    #[inline]
    fn step(&mut self, packets: &[Bytes], _arrival_offsets: &[u64], _now: u64) -> usize {
        self.sum.fill(0.0);
        for (p, packet) in self.participants.iter_mut().zip(packets) {
            let ok = RtpPacket::parse(&packet[..]).is_ok_and(|rtp| {
                p.decoder
                    .decode_float(rtp.payload(), &mut p.pcm, false)
                    .is_ok_and(|n| n == FRAME_SAMPLES)
            });
            if !ok {
                p.pcm.fill(0.0);
            }
            for (s, &x) in self.sum.iter_mut().zip(&p.pcm) {
                *s += x;
            }
        }
        let mut bytes = 0;
        for p in &mut self.participants {
            for ((m, &s), &own) in self.mix.iter_mut().zip(&self.sum).zip(&p.pcm) {
                *m = (s - own).clamp(-1.0, 1.0);
            }
            let n = p
                .encoder
                .encode_float(&self.mix, &mut self.payload)
                .unwrap();
            bytes += RtpBuilder {
                payload_type: 111,
                sequence_number: p.out_seq,
                timestamp: p.out_ts,
                ssrc: p.out_ssrc,
                payload: &self.payload[..n],
                ..Default::default()
            }
            .write_into(&mut self.out)
            .unwrap();
            p.out_seq = p.out_seq.wrapping_add(1);
            p.out_ts = p.out_ts.wrapping_add(TS_STEP);
        }
        black_box(&self.out);
        bytes
    }
}

// ------------------------------------------------------------------ timing

/// A side driven through a room, tick after tick.
struct Run<S> {
    side: S,
    room: Room,
    now: u64,
    bytes: u64,
    ticks: u64,
    /// Heap allocations in the timed part of the ticks (the side's step;
    /// `Room::prepare` allocates when it re-shares the packets it rewrote).
    step_allocations: u64,
}

impl<S: Side> Run<S> {
    fn new(side: S, room: Room) -> Self {
        Self {
            side,
            room,
            now: 1_000_000,
            bytes: 0,
            ticks: 0,
            step_allocations: 0,
        }
    }

    /// One tick; returns its CPU time (packet preparation is not timed).
    #[inline]
    fn tick(&mut self) -> Duration {
        self.room.prepare();
        let (mut bytes, mut spent) = (0, Duration::ZERO);
        self.step_allocations += allocations_in(|| {
            let t = support::cpu_now();
            bytes = self.side.step(
                black_box(&self.room.current),
                &self.room.arrival_offsets,
                black_box(self.now),
            );
            spent = support::cpu_now() - t;
        });
        self.bytes += bytes as u64;
        self.ticks += 1;
        self.now += TICK_US;
        spent
    }
}

fn bench_run<S: Side>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    run: &mut Run<S>,
) {
    g.bench_function(name, |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run.tick()).sum())
    });
}

fn per_tick(after: MixerStats, before: MixerStats) -> String {
    let ticks = (after.ticks - before.ticks).max(1) as f64;
    format!(
        "{} ticks: {:.2} decodes, {:.2} encodes, {:.1} silent skips per tick; {} concealed, \
         {} FEC, {} queue drops, {} drift skips",
        after.ticks - before.ticks,
        (after.decodes - before.decodes) as f64 / ticks,
        (after.encodes - before.encodes) as f64 / ticks,
        (after.silent_skips - before.silent_skips) as f64 / ticks,
        after.concealed_frames - before.concealed_frames,
        after.fec_frames - before.fec_frames,
        after.queue_drops - before.queue_drops,
        after.drift_skips - before.drift_skips,
    )
}

/// Runs the untimed pre-roll and checks the mixer's steady state: every
/// participant's packet arrives and is taken every tick (no concealment,
/// drops or skips), `decodes` and `encodes` per tick within their ranges,
/// and every listener a packet.
fn preroll<S: Side + WithMixer>(
    run: &mut Run<S>,
    decodes: std::ops::RangeInclusive<u64>,
    encodes: std::ops::RangeInclusive<u64>,
) {
    for _ in 0..PREROLL_TICKS / 2 {
        run.tick();
    }
    let before = run.side.mixer().stats();
    let mut encodes_seen = Vec::new();
    for _ in PREROLL_TICKS / 2..PREROLL_TICKS {
        let s0 = run.side.mixer().stats();
        run.tick();
        let s1 = run.side.mixer().stats();
        assert!(
            decodes.contains(&(s1.decodes - s0.decodes)),
            "decodes per tick: {} not in {decodes:?}",
            s1.decodes - s0.decodes
        );
        encodes_seen.push(s1.encodes - s0.encodes);
        assert_eq!(
            run.side.mixer().last_tick().packets().len(),
            run.room.streams.len()
        );
    }
    let after = run.side.mixer().stats();
    assert_eq!(
        after.concealed_frames, before.concealed_frames,
        "concealment in steady state"
    );
    assert_eq!(after.fec_frames, before.fec_frames);
    assert_eq!(after.queue_drops, 0);
    assert_eq!(after.drift_skips, 0);
    assert!(
        encodes_seen.iter().all(|e| encodes.contains(e)),
        "encodes per tick {encodes_seen:?}, expected {encodes:?}"
    );
    // The talkers are the contributors heard by a listener that is not one.
    let listener = (0..run.room.streams.len() as u32)
        .find(|i| !run.room.talkers.contains(&(*i as usize)))
        .unwrap();
    let tick = run.side.mixer().last_tick();
    let p = tick
        .packets()
        .iter()
        .find(|p| p.participant == listener)
        .unwrap();
    let mut out = [0u8; 1500];
    let n = tick.write_rtp(p, &mut out).unwrap();
    let rtp = RtpPacket::parse(&out[..n]).unwrap();
    let talker_ssrcs: Vec<u32> = run
        .room
        .talkers
        .iter()
        .map(|&i| 0x5000_0000 + i as u32)
        .collect();
    assert!((1..=3).contains(&rtp.csrc_count()));
    assert!(
        rtp.csrcs().all(|c| talker_ssrcs.contains(&c)),
        "a non-talker was mixed"
    );
}

fn bench(c: &mut Criterion) {
    let voices: Vec<Source> = (0..4).map(talker_source).collect();
    let noises: Vec<Source> = (0..NOISE_SOURCES as u64).map(noise_source).collect();
    let mean_payload = |s: &[Source]| {
        s.iter()
            .flat_map(|s| s.frames.iter().map(|(p, _)| p.len()))
            .sum::<usize>() as f64
            / (s.len() * LOOP_FRAMES) as f64
    };
    println!(
        "sources: {} voices (mean level -{:.0} dBov, {:.0} B/packet), {} noises \
         (mean level -{:.0} dBov, {:.0} B/packet), {} frames each",
        voices.len(),
        voices.iter().map(|s| s.mean_level).sum::<f64>() / voices.len() as f64,
        mean_payload(&voices),
        noises.len(),
        noises.iter().map(|s| s.mean_level).sum::<f64>() / noises.len() as f64,
        mean_payload(&noises),
        LOOP_FRAMES
    );
    let floor = MixerConfig::default().speech_floor_dbov;
    for v in &voices {
        assert!(
            v.frames.iter().all(|&(_, l)| l & 0x7f <= floor),
            "a talker dips below the floor"
        );
    }
    for s in &noises {
        assert!(
            s.frames.iter().all(|&(_, l)| l & 0x7f > floor),
            "noise above the floor"
        );
    }
    assert_eq!(MixerConfig::default().bitrate, BITRATE);
    assert_eq!(MixerConfig::default().expected_loss_percent, LOSS_PERCENT);
    assert_eq!(
        MixerConfig::default().audio_level_ext_id,
        Some(LEVEL_EXT_ID)
    );

    // ---- 100 participants, mix-minus, 3 talkers: rtmedia and naive.
    let mut g = c.benchmark_group(GROUP_100);
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));

    let config = MixerConfig {
        loudest: usize::MAX,
        ..MixerConfig::default()
    };
    let mut run = Run::new(
        Rtmedia::new(config, 100),
        Room::new(100, 3, &voices, &noises, true),
    );
    preroll(&mut run, 3..=3, 4..=4);
    let before = run.side.mixer.stats();
    bench_run(&mut g, CANDIDATE, &mut run);
    println!(
        "{GROUP_100}/{CANDIDATE}: {}",
        per_tick(run.side.mixer.stats(), before)
    );
    assert_eq!(run.room.copies, 0, "a packet was still held when reused");
    black_box(run.bytes);
    drop(run);

    let mut naive = Run::new(Naive::new(100), Room::new(100, 3, &voices, &noises, true));
    for _ in 0..PREROLL_TICKS {
        naive.tick();
    }
    bench_run(&mut g, BASELINE, &mut naive);
    println!(
        "{GROUP_100}/{BASELINE}: {} ticks, {} decodes and {} encodes per tick",
        naive.ticks, 100, 100
    );
    black_box(naive.bytes);
    drop(naive);
    g.finish();

    // ---- 1,000 participants, loudest 3, 4 talkers: rtmedia.
    let mut g = c.benchmark_group(GROUP_1000);
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    let config = MixerConfig {
        loudest: 3,
        ..MixerConfig::default()
    };
    let mut run = Run::new(
        Rtmedia::new(config, 1000),
        Room::new(1000, 4, &voices, &noises, true),
    );
    // 3 speakers + the shared mix, plus up to one hangover encode per
    // talker that just left the loudest three.
    preroll(&mut run, 3..=3, 4..=5);
    let before = run.side.mixer.stats();
    bench_run(&mut g, CANDIDATE, &mut run);
    println!(
        "{GROUP_1000}/{CANDIDATE}: {}",
        per_tick(run.side.mixer.stats(), before)
    );
    assert_eq!(run.room.copies, 0, "a packet was still held when reused");
    black_box(run.bytes);
    g.finish();
    drop(run);

    bench_no_levels(c, &voices, &noises);
    bench_taps(c, &voices, &noises);
}

/// A group of mixer rooms: flat sampling, 10 samples of 3 s.
fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    g
}

/// The rooms without RFC 6464 levels (issue 15): 100 participants against
/// the naive bridge, and 1,000 participants.
fn bench_no_levels(c: &mut Criterion, voices: &[Source], noises: &[Source]) {
    let no_levels = |loudest| MixerConfig {
        loudest,
        audio_level_ext_id: None,
        ..MixerConfig::default()
    };
    let mut g = group(c, GROUP_100_NO_LEVELS);
    let mut run = Run::new(
        Rtmedia::new(no_levels(usize::MAX), 100),
        Room::new(100, 3, voices, noises, false),
    );
    // The 3 talkers every tick, plus quiet ones refreshed every 5 ticks
    // (CELT-only, or SILK with the VAD on) or whose VAD turned on.
    preroll(&mut run, 3..=3 + 97 / 2, 4..=4);
    let before = run.side.mixer.stats();
    bench_run(&mut g, CANDIDATE, &mut run);
    println!(
        "{GROUP_100_NO_LEVELS}/{CANDIDATE}: {}",
        per_tick(run.side.mixer.stats(), before)
    );
    drop(run);
    let mut flooded = Run::new(
        Flooded::new(no_levels(usize::MAX), 100, &noises[0]),
        Room::new(100, 3, voices, noises, false),
    );
    for _ in 0..PREROLL_TICKS {
        flooded.tick();
    }
    let before = flooded.side.inner.mixer.stats();
    bench_run(&mut g, FLOODED, &mut flooded);
    println!(
        "{GROUP_100_NO_LEVELS}/{FLOODED}: {}",
        per_tick(flooded.side.inner.mixer.stats(), before)
    );
    drop(flooded);
    let mut naive = Run::new(Naive::new(100), Room::new(100, 3, voices, noises, false));
    for _ in 0..PREROLL_TICKS {
        naive.tick();
    }
    bench_run(&mut g, BASELINE, &mut naive);
    black_box(naive.bytes);
    drop(naive);
    g.finish();

    let mut g = group(c, GROUP_1000_NO_LEVELS);
    let mut run = Run::new(
        Rtmedia::new(no_levels(3), 1000),
        Room::new(1000, 3, voices, noises, false),
    );
    preroll(&mut run, 3..=3 + 997 / 2, 4..=5);
    let before = run.side.mixer.stats();
    bench_run(&mut g, CANDIDATE, &mut run);
    println!(
        "{GROUP_1000_NO_LEVELS}/{CANDIDATE}: {}",
        per_tick(run.side.mixer.stats(), before)
    );
    assert_eq!(run.room.copies, 0, "a packet was still held when reused");
    black_box(run.bytes);
    g.finish();
}

/// Untimed, after the pre-roll: `ticks` more ticks, each of which must give
/// the host one tap frame per participant, every one the talker's decoded
/// audio (none concealed, FEC, DTX or missing), exactly the talkers' frames
/// voiced; and none of which may allocate (outside the untimed packet
/// preparation).
fn check_taps(run: &mut Run<Tapped>, ticks: usize) {
    let n = run.room.streams.len() as u64;
    let talkers = run.room.talkers.len() as u64;
    let allocs = run.step_allocations;
    for _ in 0..ticks {
        run.tick();
        let last = run.side.last;
        assert_eq!(last.frames, n, "tap frames per tick");
        assert_eq!(last.audio, n, "tap frames that are the talker's audio");
        assert_eq!(last.voiced, talkers, "voiced tap frames");
    }
    assert_eq!(
        run.step_allocations - allocs,
        0,
        "allocations in {ticks} tapped ticks"
    );
}

/// Times a tapped side and checks that it took one tap frame per
/// participant on every tick it was timed; prints what a tick did.
fn bench_tapped(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    run: &mut Run<Tapped>,
) {
    let n = run.room.streams.len() as u64;
    let (stats, ticks, taps, requested, allocs) = (
        run.side.inner.mixer.stats(),
        run.ticks,
        run.side.total,
        run.side.requested,
        run.step_allocations,
    );
    bench_run(g, name, run);
    let timed = run.ticks - ticks;
    assert_eq!(run.step_allocations, allocs, "allocations in timed ticks");
    let taps = TapCounts {
        frames: run.side.total.frames - taps.frames,
        audio: run.side.total.audio - taps.audio,
        voiced: run.side.total.voiced - taps.voiced,
    };
    assert_eq!(
        taps.frames,
        timed * n,
        "a timed tick without its tap frames"
    );
    let per = |x: u64| x as f64 / timed.max(1) as f64;
    println!(
        "{GROUP_100_TAPS}/{name}: {}; tap frames per tick {:.2} ({:.2} audio, {:.2} voiced); \
         NACKed sequence numbers per tick {:.2}",
        per_tick(run.side.inner.mixer.stats(), stats),
        per(taps.frames),
        per(taps.audio),
        per(taps.voiced),
        per(run.side.requested - requested),
    );
    if let Some(l) = &run.side.losses {
        println!(
            "{GROUP_100_TAPS}/{name}: since the start: {} packets lost, {} resent on request, \
             {} requests unanswered",
            l.lost, l.resent, l.unanswered
        );
    }
    assert_eq!(run.room.copies, 0, "a packet was still held when reused");
    black_box(run.bytes);
}

/// The taps room: every participant of the first room tapped, taps from the
/// mix and taps that wait for retransmissions, against the same room
/// untapped.
fn bench_taps(c: &mut Criterion, voices: &[Source], noises: &[Source]) {
    const N: usize = 100;
    let config = MixerConfig {
        loudest: usize::MAX,
        ..MixerConfig::default()
    };
    let room = || Room::new(N, 3, voices, noises, true);
    let mut g = group(c, GROUP_100_TAPS);

    let mut run = Run::new(Rtmedia::new(config, N), room());
    preroll(&mut run, 3..=3, 4..=4);
    let before = run.side.mixer.stats();
    bench_run(&mut g, CANDIDATE, &mut run);
    println!(
        "{GROUP_100_TAPS}/{CANDIDATE}: {}",
        per_tick(run.side.mixer.stats(), before)
    );
    assert_eq!(run.room.copies, 0, "a packet was still held when reused");
    black_box(run.bytes);
    drop(run);

    // Taps from the mix: every tapped participant is decoded every tick,
    // room noise too.
    let mut run = Run::new(Tapped::new(config, N, false), room());
    preroll(&mut run, N as u64..=N as u64, 4..=4);
    check_taps(&mut run, 50);
    bench_tapped(&mut g, TAPS, &mut run);
    drop(run);

    // Retransmitted taps: each tapped participant's lane decodes it; the
    // mix decodes only its talkers.
    let retransmitted = config.with_retransmitted_taps();
    let mut run = Run::new(Tapped::new(retransmitted, N, false), room());
    preroll(&mut run, N as u64 + 3..=N as u64 + 3, 4..=4);
    check_taps(&mut run, 50);
    assert_eq!(run.side.requested, 0, "NACKs without losses");
    bench_tapped(&mut g, RETRANSMITTED_TAPS, &mut run);
    assert_eq!(run.side.requested, 0, "NACKs without losses");
    drop(run);

    // With losses: the mix recovers them with FEC or conceals them; the
    // taps must have every one back from its retransmission.
    let mut run = Run::new(Tapped::new(retransmitted, N, true), room());
    for _ in 0..PREROLL_TICKS {
        run.tick();
    }
    let (lost, resent) = run
        .side
        .losses
        .as_ref()
        .map(|l| (l.lost, l.resent))
        .unwrap();
    check_taps(&mut run, 2 * LOSS_PERIOD_TICKS);
    let l = run.side.losses.as_ref().unwrap();
    assert_eq!(
        l.unanswered, 0,
        "NACKs for packets not lost, or losses not NACKed"
    );
    assert_eq!(
        l.lost - lost,
        2 * LOSS_PERIOD_TICKS as u64,
        "one loss per tick"
    );
    assert!(
        l.resent - resent >= l.lost - lost - 5,
        "losses not asked for: {} lost, {} resent",
        l.lost - lost,
        l.resent - resent
    );
    bench_tapped(&mut g, RETRANSMITTED_TAPS_LOSSY, &mut run);
    assert_eq!(run.side.losses.as_ref().unwrap().unanswered, 0);
    drop(run);
    g.finish();
}

/// Prints each room's median CPU milliseconds per 20 ms tick against its
/// absolute goal; returns false if one was missed.
fn report_absolute(rows: &[(&str, &str, Option<f64>)]) -> bool {
    let mut all_met = true;
    println!(
        "\n{:<32} {:<32} {:>12} {:>10} {:>8} {:>8}",
        "room", "mixer", "ms / tick", "% of 20ms", "goal ms", ""
    );
    for &(group, function, goal_ms) in rows {
        let Some(ns) = support::median_ns(group, function) else {
            println!("{group:<32} {function:<32} not measured in this run");
            continue;
        };
        let ms = ns / 1e6;
        let (goal, verdict) = match goal_ms {
            Some(goal) => {
                let met = ms <= goal;
                all_met &= met;
                (format!("{goal:.1}"), if met { "met" } else { "MISSED" })
            }
            None => ("-".to_string(), ""),
        };
        println!(
            "{group:<32} {function:<32} {ms:>12.3} {:>9.1}% {goal:>8} {verdict:>8}",
            ms / 20.0 * 100.0
        );
    }
    all_met
}

/// Prints each candidate's median CPU per tick as a cost against its
/// same-run baseline (candidate / baseline: the baseline's tick is 1.00x)
/// and the difference per participant of a room of `participants`, with an
/// upper bound on the ratio where there is one; returns false if one was
/// exceeded. For work added on purpose (taps), where a "speed-up" would be
/// below 1 by design.
fn report_costs(participants: f64, rows: &[(&str, &str, &str, Option<f64>)]) -> bool {
    let mut all_met = true;
    println!(
        "\n{:<26} {:<62} {:>9} {:>9} {:>7} {:>12} {:>12}",
        "group", "candidate / baseline", "cand. ms", "base ms", "cost", "+µs/partic.", "bound"
    );
    for &(group, candidate, baseline, max_ratio) in rows {
        let (Some(cand), Some(base)) = (
            support::median_ns(group, candidate),
            support::median_ns(group, baseline),
        ) else {
            println!("{group:<26} {candidate} / {baseline}: not measured in this run");
            continue;
        };
        let ratio = cand / base;
        let bound = match max_ratio {
            Some(max) => {
                let met = ratio <= max;
                all_met &= met;
                format!("≤{max:.1}x {}", if met { "met" } else { "MISSED" })
            }
            None => "-".to_string(),
        };
        println!(
            "{group:<26} {:<62} {:>9.3} {:>9.3} {:>6.2}x {:>12.1} {bound:>12}",
            format!("{candidate} / {baseline}"),
            cand / 1e6,
            base / 1e6,
            ratio,
            (cand - base) / 1e3 / participants,
        );
    }
    all_met
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let mut met = support::report(&[
        support::Comparison {
            group: GROUP_100,
            candidate: CANDIDATE,
            baseline: BASELINE,
            min_speedup: GOAL_SPEEDUP,
            min_packets_per_sec: None,
        },
        support::Comparison {
            group: GROUP_100_NO_LEVELS,
            candidate: CANDIDATE,
            baseline: BASELINE,
            min_speedup: GOAL_SPEEDUP_NO_LEVELS,
            min_packets_per_sec: None,
        },
    ]);
    met &= report_absolute(&[
        (GROUP_100, CANDIDATE, Some(GOAL_100_MS)),
        (GROUP_100, BASELINE, None),
        (GROUP_1000, CANDIDATE, Some(GOAL_1000_MS)),
        (GROUP_100_NO_LEVELS, CANDIDATE, Some(GOAL_100_NO_LEVELS_MS)),
        (GROUP_100_NO_LEVELS, FLOODED, Some(GOAL_100_NO_LEVELS_MS)),
        (GROUP_100_NO_LEVELS, BASELINE, None),
        (GROUP_1000_NO_LEVELS, CANDIDATE, Some(GOAL_1000_MS)),
        (GROUP_100_TAPS, CANDIDATE, Some(GOAL_100_MS)),
        (GROUP_100_TAPS, TAPS, Some(GOAL_TAPS_MS)),
        (GROUP_100_TAPS, RETRANSMITTED_TAPS, Some(GOAL_TAPS_MS)),
        (GROUP_100_TAPS, RETRANSMITTED_TAPS_LOSSY, Some(GOAL_TAPS_MS)),
    ]);
    // What the taps cost: against the untapped room, and retransmitted
    // taps against taps from the mix (the bound).
    met &= report_costs(
        100.0,
        &[
            (GROUP_100_TAPS, TAPS, CANDIDATE, None),
            (GROUP_100_TAPS, RETRANSMITTED_TAPS, CANDIDATE, None),
            (GROUP_100_TAPS, RETRANSMITTED_TAPS_LOSSY, CANDIDATE, None),
            (
                GROUP_100_TAPS,
                RETRANSMITTED_TAPS,
                TAPS,
                Some(GOAL_RETRANSMITTED_OVER_TAPS),
            ),
            (
                GROUP_100_TAPS,
                RETRANSMITTED_TAPS_LOSSY,
                RETRANSMITTED_TAPS,
                None,
            ),
        ],
    );
    if let (Some(flooded), Some(clean)) = (
        support::median_ns(GROUP_100_NO_LEVELS, FLOODED),
        support::median_ns(GROUP_100_NO_LEVELS, CANDIDATE),
    ) {
        println!(
            "one flooding participant (64 packets per tick, random sequence numbers and \
             timestamps): {:.2}x the clean room's tick",
            flooded / clean
        );
    }
    if !met {
        println!("mixer bench: a goal was missed (see MISSED above)");
    }
}
