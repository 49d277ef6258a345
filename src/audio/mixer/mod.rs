//! The conference mixer: one per room, owned by one thread, ticked every
//! 20 ms. Network threads push RTP into bounded per-participant queues; each
//! tick drains them into jitter buffers, decodes only what is heard (the
//! loudest N, see [`selection`](super::selection)) or tapped, mixes once,
//! and encodes once for everyone who is not a mixed speaker plus once per
//! mixed speaker (their mix-minus): N speakers + 1 encodes per tick, not one
//! per listener.
//!
//! # Threading and tick phase
//!
//! - A [`Mixer`] is `Send`, owned by one thread (the room's), and every call
//!   on it takes `&mut self` or `&self` on that thread. [`ParticipantInput`]
//!   is `Clone + Send + Sync`: any thread may [`push`](ParticipantInput::push)
//!   at any time (a lock-free bounded queue; never blocks, never allocates).
//! - Call [`Mixer::tick`] every 20 ms of your monotonic clock, with `now` in
//!   µs. Each tick plays one 20 ms frame per participant. A late tick still
//!   plays one frame; ticks late by more than 60 ms make the jitter buffers
//!   skip frames (`drift_skips`), so keep the period steady (a timerfd or an
//!   absolute-deadline sleep, not "sleep 20 ms after the work").
//! - Push each packet as soon as it is received, with its arrival time: the
//!   jitter buffer needs true arrival times to size its delay. A packet is
//!   played at the first tick with `now` ≥ its playout time (its media time
//!   on the fastest recent packets' clock + the adaptive target delay, at
//!   least 20 ms by default so that one lost packet can be rebuilt from the
//!   next one's FEC). One that arrives after the tick that needed it is
//!   counted in `late_frames` and dropped: that frame was concealed at its
//!   deadline (see [`MAX_CONCEAL_FRAMES`]). Packets pushed between two ticks
//!   wait in the queue (`queue_capacity`, default 64 ≈ 1.3 s).
//! - Each participant plays one frame per tick. When its jitter buffer
//!   lowers its delay, frames fall due faster than ticks come; the backlog
//!   is worked off by dropping frames nobody would hear (lost, DTX, or
//!   marked silent by the sender's VAD; `backlog_skips`), and anything more
//!   than 60 ms overdue is skipped (`drift_skips`).
//! - Everything a tick produced ([`Mixer::last_tick`], the tap frames of
//!   [`Mixer::take_taps`]) is read on the mixer's thread before the next
//!   tick; tap frames are kept [`TAP_QUEUE_TICKS`] ticks, the rest is
//!   replaced by the next tick.
//! - With taps that wait for retransmissions
//!   ([`MixerConfig::with_retransmitted_taps`]), ask [`Mixer::poll_nacks`]
//!   for each tapped participant after every tick, send the NACKs, report
//!   them with [`Mixer::on_nack_sent`], and keep [`Mixer::set_rtt`] current.
//!
//! # What is decoded (participants without RFC 6464 levels)
//!
//! With `audio_level_ext_id` set and present in the packets, levels come
//! from the extension and only mixed or tapped participants are decoded.
//! Without it, a participant that is not mixed or tapped is decoded only
//! when its packet may hold speech ([`QuietTracker`]):
//!
//! 1. a DTX / comfort-noise frame (≤ 2 bytes) is silence: never decoded;
//! 2. a SILK or hybrid packet carries the sender's libopus VAD decision:
//!    all VAD flags 0 is silence (not decoded); a flag turning on is
//!    decoded and its level measured;
//! 3. otherwise (VAD staying on, or CELT-only packets, which have no VAD
//!    flag): if the participant's last decoded level was below the speech
//!    floor, it is assumed still quiet while its packets stay within 1.5× +
//!    8 bytes of its quiet packets' size, and it is decoded again every
//!    [`QUIET_REFRESH_TICKS`] ticks (100 ms; participants are spread over
//!    that period) to refresh the level;
//! 4. anything else is decoded and its level measured.
//!
//! Mixed participants are decoded every tick, so what listeners hear is a
//! plain libopus decode (with PLC and FEC) of every frame.
//!
//! Switching without clicks: when a listener becomes a mixed speaker, its
//! personal encoder (and limiter) start as copies of the shared ones (see
//! [`Encoder::copy_state_from`]), so its stream continues bit-exactly from
//! the shared packets it was receiving. When it stops being mixed, the
//! personal encoder keeps coding the shared mix for [`HANGOVER_FRAMES`]:
//! both encoders then code the same signal and their states converge before
//! the listener is moved back to the shared packets.

mod config;
mod decode;
mod output;
mod playout;
mod quiet;
mod tap_lane;
mod taps;
mod transcription;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use crossbeam::channel::{self, Receiver};

use super::encoder::{Encoder, OpusError};
use super::input::InputShared;
pub use super::input::{ParticipantInput, DEFAULT_MAX_PACKET_LEN};
use super::level::{level_dbov, SILENCE};
use super::limiter::Limiter;
use super::mixdown::MixBus;
use super::resample::Decimator3;
use super::selection::Selector;
use super::speaker::{DominantSpeaker, SpeakerChange};
use super::FRAME_SAMPLES;
use crate::jitter::JitterBuffer;
use decode::{decode_frame, packet_meta, DecodeKind};

pub use config::{MixerConfig, MixerError, FEC_RESERVE_US, MAX_PARTICIPANTS, MAX_QUEUE_CAPACITY};
pub use output::{ListenerPacket, TickOutput};
use playout::{Frame, Playout, PlayoutCounts};
pub use playout::{MAX_CONCEAL_FRAMES, MAX_FOLLOW_FRAMES};
pub use quiet::{QuietTracker, QUIET_REFRESH_TICKS};
use tap_lane::TapLane;
pub use taps::{TapContent, TapFrame, Taps, TAP_QUEUE_TICKS, VOICE_LEVEL_DBOV};
use taps::{TapMeta, TapQueue};

/// Frames a former speaker keeps its personal encoder on the shared mix.
pub const HANGOVER_FRAMES: u8 = 10;
/// Largest Opus packet the mixer produces.
pub const MAX_PAYLOAD: usize = 400;
/// Tap frames kept per tapped participant (see [`TAP_QUEUE_TICKS`]).
pub const TAP_QUEUE_FRAMES: usize = TAP_QUEUE_TICKS;
/// Most CSRCs an RTP packet can carry.
const MAX_CSRCS: usize = 15;
/// RTP timestamp step of one 20 ms frame at 48 kHz.
const TS_STEP: u32 = FRAME_SAMPLES as u32;

/// Where a participant's outgoing stream comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The shared mix.
    Listener,
    /// Its own mix-minus.
    Speaker,
    /// A former speaker still on its personal encoder for this many frames.
    Hangover(u8),
}

struct Participant {
    id: u32,
    /// The participant's media SSRC (a CSRC of the mixes it is in).
    ssrc: u32,
    /// SSRC, sequence number and timestamp of the stream it receives.
    out_ssrc: u32,
    out_seq: u16,
    out_ts: u32,
    rx: Receiver<(Bytes, u64)>,
    jitter: JitterBuffer,
    playout: Playout,
    decoder: opus::Decoder,
    pcm: [f32; FRAME_SAMPLES],
    /// This tick's level (-dBov), whether it is known yet (without RFC
    /// 6464 it may take a decode), and whether `pcm` holds this tick's audio.
    level: u8,
    level_known: bool,
    decoded: bool,
    frame: Option<Frame>,
    /// Opus payload length of this tick's packet (0 if none).
    payload_len: usize,
    quiet: QuietTracker,
    gain: f32,
    muted: bool,
    role: Role,
    personal: Option<(Encoder, Limiter)>,
    tap: Option<Decimator3>,
    /// What this tick's frame is, for the tap frame.
    meta: TapMeta,
    /// The tap's own playout when taps wait for retransmissions
    /// ([`MixerConfig::tap_jitter`]).
    lane: Option<Box<TapLane>>,
    /// Where the mix last played a packet: (extended RTP timestamp, media
    /// time), 48 kHz; places the lane's frames on the mixer's clock.
    mix_anchor: Option<(i64, i64)>,
}

impl Participant {
    /// Whether its tap is the mix's own decode (so every frame must be
    /// decoded), not a lane's that waits for retransmissions.
    fn taps_from_mix(&self) -> bool {
        self.tap.is_some() && self.lane.is_none()
    }
}

/// Counters since the mixer was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MixerStats {
    pub ticks: u64,
    pub decodes: u64,
    pub encodes: u64,
    /// Frames rebuilt by packet-loss concealment (libopus PLC), including
    /// lost frames whose next packet carried no FEC.
    pub concealed_frames: u64,
    /// Frames recovered from the next packet's in-band FEC (only packets
    /// with LBRR data count: CELT-only packets carry none).
    pub fec_frames: u64,
    /// Lost frames whose next packet was there in time to try FEC
    /// (`fec_frames` of them had FEC data; the rest were concealed).
    pub fec_attempts: u64,
    /// Packets dropped because a participant's queue was full.
    pub queue_drops: u64,
    /// Packets dropped because they were longer than the mixer's
    /// [`max_packet_len`](Mixer::set_max_packet_len).
    pub oversize_drops: u64,
    /// Frames skipped to catch up with a sender running fast (over 60 ms
    /// behind).
    pub drift_skips: u64,
    /// Frames nobody would hear (lost, DTX, VAD-silent) dropped to work off
    /// a backlog after the jitter buffer lowered its delay.
    pub backlog_skips: u64,
    /// Packets (and losses) that arrived for frames the mixer had already
    /// concealed at their playout time, dropped.
    pub late_frames: u64,
    /// Packets whose decode was skipped because the bitstream or the level
    /// history showed silence (no RFC 6464 levels; see the module docs).
    pub silent_skips: u64,
    /// Tap frames dropped because the consumer fell behind.
    pub tap_frames_dropped: u64,
}

/// The mixer of one room.
pub struct Mixer {
    config: MixerConfig,
    participants: Vec<Participant>,
    /// Participant id → index in `participants`.
    ids: HashMap<u32, usize>,
    bus: MixBus,
    shared: Encoder,
    shared_limiter: Limiter,
    speakers: DominantSpeaker,
    levels: Vec<u8>,
    selector: Selector,
    mix: [f32; FRAME_SAMPLES],
    /// Payloads of this tick: (length, bytes); 0 is the shared mix.
    payloads: Vec<(usize, [u8; MAX_PAYLOAD])>,
    payload_count: usize,
    outputs: Vec<ListenerPacket>,
    taps: TapQueue,
    /// Mixer media clock, in 48 kHz samples.
    media_time: i64,
    stats: MixerStats,
    playout_counts: PlayoutCounts,
    /// Drop counters kept by the input handles, and their size limit.
    inputs: Arc<InputShared>,
}

impl Mixer {
    /// Settings out of their documented ranges are brought into them (see
    /// [`MixerConfig`]); [`config`](Self::config) returns what is used.
    pub fn new(mut config: MixerConfig) -> Result<Self, MixerError> {
        config.max_participants = config.max_participants.min(MAX_PARTICIPANTS);
        config.queue_capacity = config.queue_capacity.clamp(1, MAX_QUEUE_CAPACITY);
        let n = config.max_participants;
        let loudest = config.loudest.min(n).max(1);
        Ok(Self {
            shared: Encoder::new(config.bitrate, config.expected_loss_percent)?,
            shared_limiter: Limiter::new(),
            speakers: DominantSpeaker::new(n),
            bus: MixBus::new(),
            participants: Vec::with_capacity(n),
            ids: HashMap::with_capacity(n),
            levels: Vec::with_capacity(n),
            selector: Selector::new(loudest, n),
            mix: [0.0; FRAME_SAMPLES],
            payloads: Vec::with_capacity(loudest + 1 + usize::from(HANGOVER_FRAMES)),
            payload_count: 0,
            outputs: Vec::with_capacity(n),
            taps: TapQueue::default(),
            media_time: 0,
            config,
            stats: MixerStats::default(),
            playout_counts: PlayoutCounts::default(),
            inputs: Arc::default(),
        })
    }

    pub fn config(&self) -> &MixerConfig {
        &self.config
    }

    /// Largest RTP packet the participants' inputs accept from now on
    /// (default [`DEFAULT_MAX_PACKET_LEN`]); longer ones are dropped and
    /// counted in [`MixerStats::oversize_drops`]. What bounds a
    /// participant's packet memory: `(queue_capacity + jitter
    /// capacity_packets) × max_packet_len`.
    pub fn set_max_packet_len(&mut self, len: usize) {
        self.inputs.max_packet_len.store(len, Ordering::Relaxed);
    }

    pub fn stats(&self) -> MixerStats {
        MixerStats {
            queue_drops: self.inputs.queue_drops.load(Ordering::Relaxed),
            oversize_drops: self.inputs.oversize_drops.load(Ordering::Relaxed),
            drift_skips: self.playout_counts.drift_skips,
            backlog_skips: self.playout_counts.backlog_skips,
            late_frames: self.playout_counts.late_frames,
            tap_frames_dropped: self.taps.dropped,
            ..self.stats
        }
    }

    /// Adds a participant whose media arrives with SSRC `ssrc` and who
    /// receives its mix as SSRC `out_ssrc`; `tap` asks for 16 kHz frames of
    /// its speech. Returns the queue handle for the network threads.
    pub fn add_participant(
        &mut self,
        id: u32,
        ssrc: u32,
        out_ssrc: u32,
        tap: bool,
    ) -> Result<ParticipantInput, MixerError> {
        if self.ids.contains_key(&id) {
            return Err(MixerError::DuplicateId);
        }
        if self.participants.len() >= self.config.max_participants {
            return Err(MixerError::Full);
        }
        self.speakers.add(id).map_err(|_| MixerError::Full)?;
        let (tx, rx) = channel::bounded(self.config.queue_capacity.max(1));
        let decoder = opus::Decoder::new(48_000, opus::Channels::Mono)
            .map_err(|e| MixerError::Opus(OpusError(e.code() as i32)))?;
        let lane = match (tap, self.config.tap_jitter) {
            (true, Some(config)) => Some(Box::new(TapLane::new(config)?)),
            _ => None,
        };
        self.ids.insert(id, self.participants.len());
        self.participants.push(Participant {
            id,
            ssrc,
            out_ssrc,
            out_seq: 0,
            out_ts: 0,
            rx,
            jitter: JitterBuffer::new(self.config.jitter),
            playout: Playout::default(),
            decoder,
            pcm: [0.0; FRAME_SAMPLES],
            level: SILENCE,
            level_known: true,
            decoded: false,
            frame: None,
            payload_len: 0,
            quiet: QuietTracker::new(id),
            gain: 1.0,
            muted: false,
            role: Role::Listener,
            personal: None,
            tap: tap.then(Decimator3::new),
            meta: TapMeta::default(),
            lane,
            mix_anchor: None,
        });
        self.levels.push(SILENCE);
        self.selector.add();
        if tap {
            self.taps.add_tapped();
        }
        Ok(ParticipantInput {
            tx,
            shared: Arc::clone(&self.inputs),
        })
    }

    /// Removes a participant; its queue handles stop accepting packets.
    pub fn remove_participant(&mut self, id: u32) -> Result<(), MixerError> {
        let i = self.ids.remove(&id).ok_or(MixerError::UnknownParticipant)?;
        // The last tick's outputs index participants: they are void now.
        self.outputs.clear();
        if self.participants[i].tap.is_some() {
            self.taps.remove_tapped();
        }
        self.participants.swap_remove(i);
        self.levels.swap_remove(i);
        self.selector.swap_remove(i);
        if let Some(moved) = self.participants.get(i) {
            self.ids.insert(moved.id, i);
        }
        self.speakers.remove(id);
        Ok(())
    }

    fn index(&self, id: u32) -> Option<usize> {
        self.ids.get(&id).copied()
    }

    fn participant(&mut self, id: u32) -> Result<&mut Participant, MixerError> {
        let i = self.index(id).ok_or(MixerError::UnknownParticipant)?;
        Ok(&mut self.participants[i])
    }

    /// Mutes a participant: it is not mixed (its own mix still plays) and
    /// its tap frames are silence marked [`TapContent::Muted`].
    pub fn set_muted(&mut self, id: u32, muted: bool) -> Result<(), MixerError> {
        let i = self.index(id).ok_or(MixerError::UnknownParticipant)?;
        self.participants[i].muted = muted;
        if muted {
            self.selector.silence(i);
        }
        Ok(())
    }

    /// Linear gain applied to a participant's audio in the mix.
    pub fn set_gain(&mut self, id: u32, gain: f32) -> Result<(), MixerError> {
        self.participant(id)?.gain = gain.clamp(0.0, 8.0);
        Ok(())
    }

    /// The dominant speaker, if any.
    pub fn dominant_speaker(&self) -> Option<u32> {
        self.speakers.current()
    }

    /// The latest dominant-speaker change not yet taken.
    pub fn take_speaker_change(&mut self) -> Option<SpeakerChange> {
        self.speakers.take_change()
    }

    /// What the last tick produced (empty before the first tick).
    pub fn last_tick(&self) -> TickOutput<'_> {
        TickOutput { mixer: self }
    }

    /// Participants in the room.
    pub fn len(&self) -> usize {
        self.participants.len()
    }

    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// Runs one 20 ms tick at `now` (µs): mixes, encodes, and returns what
    /// every participant receives. Call every 20 ms (see the module docs
    /// for the phase rules).
    pub fn tick(&mut self, now: u64) -> TickOutput<'_> {
        self.stats.ticks += 1;
        self.receive(now);
        self.measure();
        self.select();
        self.track_speakers(now);
        self.mix_and_encode();
        self.tap();
        self.media_time += FRAME_SAMPLES as i64;
        TickOutput { mixer: self }
    }

    /// Drains the queues into the jitter buffers and takes each one's frame
    /// of this tick; reads levels from RFC 6464 where present.
    fn receive(&mut self, now: u64) {
        let ext = self.config.audio_level_ext_id;
        let floor = self.config.speech_floor_dbov;
        for (i, p) in self.participants.iter_mut().enumerate() {
            // Heard participants are decoded anyway: measure, do not guess.
            let heard = self.selector.is_selected(i) || p.taps_from_mix();
            while let Ok((packet, at)) = p.rx.try_recv() {
                // A retransmission the tap lane asked for is one to the mix
                // too: its lateness is not the network's.
                let retransmission = p.lane.as_mut().is_some_and(|l| l.push(&packet, at));
                let _ = if retransmission {
                    p.jitter.push_retransmission(packet, at)
                } else {
                    p.jitter.push(packet, at)
                };
            }
            p.frame = p.playout.next(&mut p.jitter, now, &mut self.playout_counts);
            p.meta.start(p.playout.played_ts);
            if let Some(ts) = p.playout.played_ts {
                p.mix_anchor = Some((ts, self.media_time));
            }
            if let Some(lane) = &mut p.lane {
                lane.play(now, ext, &mut self.stats);
            }
            p.decoded = false;
            p.level_known = true;
            match &p.frame {
                Some(Frame::Packet(packet)) => {
                    let m = packet_meta(packet, ext);
                    p.payload_len = m.payload_len;
                    p.playout.played_packet(m.speech);
                    p.meta.content = m.content;
                    p.meta.stated_vad = m.stated_vad;
                    match m.level {
                        Some(level) => p.level = level,
                        None if heard => p.level_known = false,
                        None => {
                            match p.quiet.level_without_decoding(m.info, m.payload_len, floor) {
                                Some(level) => {
                                    p.level = level;
                                    self.stats.silent_skips += 1;
                                }
                                None => p.level_known = false,
                            }
                        }
                    }
                }
                // A lost or concealed frame keeps the talker's level, so
                // that its concealment is heard instead of a gap.
                Some(Frame::Lost(_) | Frame::Conceal) => {}
                None => p.level = SILENCE,
            }
        }
    }

    /// Decodes participant `i`'s frame of this tick into its `pcm` (once).
    fn decode_one(&mut self, i: usize) {
        let p = &mut self.participants[i];
        if p.decoded {
            return;
        }
        p.decoded = true;
        let decoded = decode_frame(&mut p.decoder, p.frame.as_ref(), &mut p.pcm);
        match decoded.kind {
            DecodeKind::Packet => self.stats.decodes += 1,
            DecodeKind::Fec => self.stats.fec_frames += 1,
            DecodeKind::Concealed => self.stats.concealed_frames += 1,
            DecodeKind::Nothing => {}
        }
        self.stats.fec_attempts += u64::from(decoded.fec_attempt);
        p.meta.content = decoded.content(p.meta.content);
    }

    /// Decodes what must be decoded before selecting: the current speakers
    /// (heard every frame), tapped participants, and packets whose level is
    /// unknown without a decode.
    fn measure(&mut self) {
        let floor = self.config.speech_floor_dbov;
        for i in 0..self.participants.len() {
            let p = &self.participants[i];
            let heard = self.selector.is_selected(i) || p.taps_from_mix();
            if p.frame.is_some() && (heard || !p.level_known) {
                self.decode_one(i);
            }
            let p = &mut self.participants[i];
            if !p.level_known {
                p.level = level_dbov(&p.pcm);
                p.quiet.decoded(p.level, p.payload_len, floor);
                p.level_known = true;
            }
            self.levels[i] = if p.muted { SILENCE } else { p.level };
        }
    }

    /// Picks the speakers to mix (sticky loudest-N) and decodes newcomers.
    fn select(&mut self) {
        self.selector
            .update(&self.levels, self.config.speech_floor_dbov);
        for k in 0..self.selector.selected().len() {
            let i = self.selector.selected()[k];
            self.decode_one(i);
        }
    }

    fn track_speakers(&mut self, now: u64) {
        let levels = self
            .participants
            .iter()
            .zip(&self.levels)
            .map(|(p, l)| (p.id, *l));
        self.speakers.update(now, levels);
    }

    /// Mixes the selected speakers, encodes the shared mix and each
    /// personal one, and fills in every participant's packet.
    fn mix_and_encode(&mut self) {
        self.bus.clear();
        for &i in self.selector.selected() {
            let p = &self.participants[i];
            if p.decoded {
                self.bus.add(&p.pcm, p.gain);
            }
        }
        // Roles first: a new speaker's encoder continues the shared stream
        // exactly where its last shared packet left it.
        for (i, p) in self.participants.iter_mut().enumerate() {
            let mixed = self.selector.is_selected(i) && p.decoded;
            p.role = match (mixed, p.role) {
                (true, Role::Speaker) => Role::Speaker,
                (true, _) => {
                    match &mut p.personal {
                        Some((enc, lim)) => {
                            enc.copy_state_from(&self.shared);
                            *lim = self.shared_limiter.clone();
                        }
                        None => {
                            p.personal = Some((self.shared.clone(), self.shared_limiter.clone()))
                        }
                    }
                    Role::Speaker
                }
                (false, Role::Speaker) => Role::Hangover(HANGOVER_FRAMES),
                (false, Role::Hangover(0 | 1)) => Role::Listener,
                (false, Role::Hangover(n)) => Role::Hangover(n - 1),
                (false, Role::Listener) => Role::Listener,
            };
        }
        self.payload_count = 0;
        self.mix.copy_from_slice(self.bus.sum());
        self.shared_limiter.process(&mut self.mix);
        let shared = self.next_payload();
        let (len, buf) = &mut self.payloads[shared];
        *len = self.shared.encode(&self.mix, buf).unwrap_or(0);
        self.stats.encodes += 1;

        self.outputs.clear();
        for p in self.participants.iter_mut() {
            let payload = match (p.role, &mut p.personal) {
                (Role::Speaker | Role::Hangover(_), Some((enc, lim))) => {
                    if p.role == Role::Speaker {
                        self.bus.mix_minus(&p.pcm, p.gain, &mut self.mix);
                    } else {
                        self.mix.copy_from_slice(self.bus.sum());
                    }
                    lim.process(&mut self.mix);
                    if self.payload_count == self.payloads.len() {
                        self.payloads.push((0, [0; MAX_PAYLOAD]));
                    }
                    let slot = self.payload_count;
                    self.payload_count += 1;
                    let (len, buf) = &mut self.payloads[slot];
                    *len = enc.encode(&self.mix, buf).unwrap_or(0);
                    self.stats.encodes += 1;
                    slot
                }
                _ => shared,
            };
            self.outputs.push(ListenerPacket {
                participant: p.id,
                ssrc: p.out_ssrc,
                sequence_number: p.out_seq,
                timestamp: p.out_ts,
                payload,
            });
            p.out_seq = p.out_seq.wrapping_add(1);
            p.out_ts = p.out_ts.wrapping_add(TS_STEP);
        }
    }

    /// A payload slot for this tick (slots are kept between ticks).
    fn next_payload(&mut self) -> usize {
        if self.payload_count == self.payloads.len() {
            self.payloads.push((0, [0; MAX_PAYLOAD]));
        }
        self.payload_count += 1;
        self.payload_count - 1
    }
}
