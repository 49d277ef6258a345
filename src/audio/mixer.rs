//! The conference mixer: one per room, owned by one thread, ticked every
//! 20 ms. Network threads push RTP into bounded per-participant queues; each
//! tick drains them into jitter buffers, decodes only what is heard (the
//! loudest N by RFC 6464 level) or tapped, mixes once, and encodes once for
//! everyone who is not a mixed speaker plus once per mixed speaker (their
//! mix-minus): N speakers + 1 encodes per tick, not one per listener.
//!
//! Switching without clicks: when a listener becomes a mixed speaker, its
//! personal encoder (and limiter) start as copies of the shared ones (see
//! [`Encoder::copy_state_from`]), so its stream continues bit-exactly from
//! the shared packets it was receiving. When it stops being mixed, the
//! personal encoder keeps coding the shared mix for [`HANGOVER_FRAMES`]:
//! both encoders then code the same signal and their states converge before
//! the listener is moved back to the shared packets.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use crossbeam::channel::{self, Receiver};

use super::encoder::{Encoder, OpusError};
use super::input::InputShared;
pub use super::input::{ParticipantInput, DEFAULT_MAX_PACKET_LEN};
use super::level::{level_dbov, parse_audio_level, write_csrc_levels};
use super::limiter::Limiter;
use super::mixdown::{select_loudest_with_floor, MixBus};
pub use super::mixer_config::{MixerConfig, MAX_PARTICIPANTS, MAX_QUEUE_CAPACITY};
use super::resample::Decimator3;
use super::speaker::{DominantSpeaker, SpeakerChange};
use super::{FRAME_SAMPLES, TAP_FRAME_SAMPLES};
use crate::jitter::{Event, JitterBuffer};
use crate::packet::{RtpBuilder, RtpPacket, WriteError};

/// Frames a former speaker keeps its personal encoder on the shared mix.
pub const HANGOVER_FRAMES: u8 = 10;
/// Largest Opus packet the mixer produces.
pub const MAX_PAYLOAD: usize = 400;
/// Tap frames kept per participant before the oldest is dropped (1 s).
pub const TAP_QUEUE_FRAMES: usize = 50;
/// Most CSRCs an RTP packet can carry.
const MAX_CSRCS: usize = 15;
/// RTP timestamp step of one 20 ms frame at 48 kHz.
const TS_STEP: u32 = FRAME_SAMPLES as u32;

/// Why a mixer call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixerError {
    /// `max_participants` reached.
    Full,
    /// The participant id is already in the room.
    DuplicateId,
    /// No such participant.
    UnknownParticipant,
    Opus(OpusError),
}

impl From<OpusError> for MixerError {
    fn from(e: OpusError) -> Self {
        MixerError::Opus(e)
    }
}

/// 16 kHz mono audio of one participant, for transcription.
#[derive(Debug, Clone)]
pub struct TapFrame {
    pub participant: u32,
    /// Start of the frame on the mixer's media clock, in 16 kHz samples
    /// since the mixer started: one clock for every participant, so frames
    /// of different speakers line up (the decimator's delay is removed).
    pub media_time: i64,
    /// Samples in [-1, 1] (clamped: a decode may overshoot full scale).
    pub pcm: [f32; TAP_FRAME_SAMPLES],
}

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
    decoder: opus::Decoder,
    pcm: [f32; FRAME_SAMPLES],
    /// This tick's level (-dBov) and whether `pcm` holds this tick's audio.
    level: u8,
    decoded: bool,
    event: Option<Pending>,
    gain: f32,
    muted: bool,
    role: Role,
    personal: Option<(Encoder, Limiter)>,
    tap: Option<(Decimator3, VecDeque<TapFrame>)>,
}

/// The jitter buffer's event of this tick, kept until we know whether to decode.
enum Pending {
    Packet(Bytes),
    Lost(Option<Bytes>),
}

/// One listener's packet this tick: its header fields and which payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerPacket {
    pub participant: u32,
    pub ssrc: u32,
    pub sequence_number: u16,
    pub timestamp: u32,
    /// Index into the tick's payloads (0 is the shared mix).
    pub payload: usize,
}

/// Counters since the mixer was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MixerStats {
    pub ticks: u64,
    pub decodes: u64,
    pub encodes: u64,
    /// Frames rebuilt by packet-loss concealment.
    pub concealed_frames: u64,
    /// Frames rebuilt from the next packet's in-band FEC.
    pub fec_frames: u64,
    /// Packets dropped because a participant's queue was full.
    pub queue_drops: u64,
    /// Packets dropped because they were longer than the mixer's
    /// [`max_packet_len`](Mixer::set_max_packet_len).
    pub oversize_drops: u64,
    /// Frames skipped to catch up with a sender running fast.
    pub drift_skips: u64,
}

/// The mixer of one room.
pub struct Mixer {
    config: MixerConfig,
    participants: Vec<Participant>,
    bus: MixBus,
    shared: Encoder,
    shared_limiter: Limiter,
    speakers: DominantSpeaker,
    levels: Vec<u8>,
    selected: Vec<usize>,
    selected_count: usize,
    mix: [f32; FRAME_SAMPLES],
    /// Payloads of this tick: (length, bytes); 0 is the shared mix.
    payloads: Vec<(usize, [u8; MAX_PAYLOAD])>,
    payload_count: usize,
    outputs: Vec<ListenerPacket>,
    /// Mixer media clock, in 48 kHz samples.
    media_time: i64,
    stats: MixerStats,
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
        Ok(Self {
            shared: Encoder::new(config.bitrate, config.expected_loss_percent)?,
            shared_limiter: Limiter::new(),
            speakers: DominantSpeaker::new(n),
            bus: MixBus::new(),
            participants: Vec::with_capacity(n),
            levels: Vec::with_capacity(n),
            selected: vec![0; config.loudest.min(n).max(1)],
            selected_count: 0,
            mix: [0.0; FRAME_SAMPLES],
            payloads: Vec::with_capacity(config.loudest.min(n) + 1 + usize::from(HANGOVER_FRAMES)),
            payload_count: 0,
            outputs: Vec::with_capacity(n),
            media_time: 0,
            config,
            stats: MixerStats::default(),
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
        if self.index(id).is_some() {
            return Err(MixerError::DuplicateId);
        }
        if self.participants.len() >= self.config.max_participants {
            return Err(MixerError::Full);
        }
        self.speakers.add(id).map_err(|_| MixerError::Full)?;
        let (tx, rx) = channel::bounded(self.config.queue_capacity.max(1));
        let decoder = opus::Decoder::new(48_000, opus::Channels::Mono)
            .map_err(|e| MixerError::Opus(OpusError(e.code() as i32)))?;
        self.participants.push(Participant {
            id,
            ssrc,
            out_ssrc,
            out_seq: 0,
            out_ts: 0,
            rx,
            jitter: JitterBuffer::new(self.config.jitter),
            decoder,
            pcm: [0.0; FRAME_SAMPLES],
            level: super::level::SILENCE,
            decoded: false,
            event: None,
            gain: 1.0,
            muted: false,
            role: Role::Listener,
            personal: None,
            tap: tap.then(|| (Decimator3::new(), VecDeque::with_capacity(TAP_QUEUE_FRAMES))),
        });
        self.levels.push(super::level::SILENCE);
        Ok(ParticipantInput {
            tx,
            shared: Arc::clone(&self.inputs),
        })
    }

    /// Removes a participant; its queue handles stop accepting packets.
    pub fn remove_participant(&mut self, id: u32) -> Result<(), MixerError> {
        let i = self.index(id).ok_or(MixerError::UnknownParticipant)?;
        // The last tick's outputs index participants: they are void now.
        self.outputs.clear();
        self.selected_count = 0;
        self.participants.swap_remove(i);
        self.levels.swap_remove(i);
        self.speakers.remove(id);
        Ok(())
    }

    fn index(&self, id: u32) -> Option<usize> {
        self.participants.iter().position(|p| p.id == id)
    }

    fn participant(&mut self, id: u32) -> Result<&mut Participant, MixerError> {
        let i = self.index(id).ok_or(MixerError::UnknownParticipant)?;
        Ok(&mut self.participants[i])
    }

    /// Mutes a participant: it is not mixed (its own mix still plays).
    pub fn set_muted(&mut self, id: u32, muted: bool) -> Result<(), MixerError> {
        self.participant(id)?.muted = muted;
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

    /// The oldest 16 kHz frame of a tapped participant, if any.
    pub fn take_tap_frame(&mut self, id: u32) -> Option<TapFrame> {
        self.participant(id).ok()?.tap.as_mut()?.1.pop_front()
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
    /// every participant receives. Call every 20 ms.
    pub fn tick(&mut self, now: u64) -> TickOutput<'_> {
        self.stats.ticks += 1;
        self.receive(now);
        self.select();
        self.track_speakers(now);
        self.mix_and_encode();
        self.tap();
        self.media_time += FRAME_SAMPLES as i64;
        TickOutput { mixer: self }
    }

    /// Drains the queues into the jitter buffers and takes each one's event
    /// of this tick; reads levels from RFC 6464 where present.
    fn receive(&mut self, now: u64) {
        let ext = self.config.audio_level_ext_id;
        for (p, level) in self.participants.iter_mut().zip(self.levels.iter_mut()) {
            while let Ok((packet, at)) = p.rx.try_recv() {
                let _ = p.jitter.push(packet, at);
            }
            p.event = match p.jitter.pop(now) {
                Some(Event::Packet { packet, .. }) => Some(Pending::Packet(packet)),
                Some(Event::Lost { fec, .. }) => Some(Pending::Lost(fec)),
                _ => None,
            };
            // A sender running fast: skip what is far overdue.
            while p.jitter.next_wakeup().is_some_and(|t| t + 60_000 <= now)
                && p.jitter.pop(now).is_some()
            {
                self.stats.drift_skips += 1;
            }
            p.decoded = false;
            p.level = match (&p.event, ext) {
                (Some(Pending::Packet(packet)), Some(id)) => RtpPacket::parse(&packet[..])
                    .ok()
                    .and_then(|rtp| rtp.extension(id).and_then(parse_audio_level))
                    .map_or(UNKNOWN_LEVEL, |l| l.level),
                (Some(Pending::Packet(_)), None) => UNKNOWN_LEVEL,
                // A lost packet keeps the speaker where it was, so that its
                // concealment is heard instead of a gap.
                (Some(Pending::Lost(_)), _) => p.level,
                (None, _) => super::level::SILENCE,
            };
            *level = if p.muted {
                super::level::SILENCE
            } else {
                p.level
            };
        }
    }

    /// Decodes participant `i`'s event of this tick into its `pcm` (once).
    fn decode_one(&mut self, i: usize) {
        let p = &mut self.participants[i];
        if p.decoded {
            return;
        }
        p.decoded = true;
        let ok = match &p.event {
            Some(Pending::Packet(packet)) => {
                self.stats.decodes += 1;
                RtpPacket::parse(&packet[..]).is_ok_and(|rtp| {
                    p.decoder
                        .decode_float(rtp.payload(), &mut p.pcm, false)
                        .is_ok()
                })
            }
            Some(Pending::Lost(Some(next))) => {
                self.stats.fec_frames += 1;
                RtpPacket::parse(&next[..]).is_ok_and(|rtp| {
                    p.decoder
                        .decode_float(rtp.payload(), &mut p.pcm, true)
                        .is_ok()
                })
            }
            Some(Pending::Lost(None)) => {
                self.stats.concealed_frames += 1;
                p.decoder.decode_float(&[], &mut p.pcm, false).is_ok()
            }
            None => false,
        };
        if !ok {
            p.pcm.fill(0.0);
        }
    }

    /// Picks the speakers to mix. Participants without an RFC 6464 level
    /// (and tapped ones) are decoded first so their level can be measured.
    fn select(&mut self) {
        for i in 0..self.participants.len() {
            let p = &self.participants[i];
            let unknown = p.level == UNKNOWN_LEVEL && matches!(p.event, Some(Pending::Packet(_)));
            if unknown || (p.tap.is_some() && p.event.is_some()) {
                self.decode_one(i);
                let p = &mut self.participants[i];
                if unknown {
                    p.level = level_dbov(&p.pcm);
                    self.levels[i] = if p.muted {
                        super::level::SILENCE
                    } else {
                        p.level
                    };
                }
            }
        }
        let n = self.config.loudest.min(self.selected.len());
        self.selected_count = select_loudest_with_floor(
            &self.levels,
            n,
            self.config.speech_floor_dbov,
            &mut self.selected,
        );
        for k in 0..self.selected_count {
            self.decode_one(self.selected[k]);
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
        for &i in &self.selected[..self.selected_count] {
            let p = &self.participants[i];
            self.bus.add(&p.pcm, p.gain);
        }
        // Roles first: a new speaker's encoder continues the shared stream
        // exactly where its last shared packet left it.
        for (i, p) in self.participants.iter_mut().enumerate() {
            let mixed = self.selected[..self.selected_count].contains(&i);
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

    /// Feeds tapped participants' audio (silence when nothing came) to
    /// their 16 kHz queues, stamped on the mixer's media clock.
    fn tap(&mut self) {
        let media_time_16k = self.media_time / 3;
        for p in self.participants.iter_mut() {
            let Some((decimator, queue)) = &mut p.tap else {
                continue;
            };
            if !p.decoded {
                p.pcm.fill(0.0);
            }
            let mut frame = TapFrame {
                participant: p.id,
                media_time: media_time_16k - decimator.delay_samples() as i64,
                pcm: [0.0; TAP_FRAME_SAMPLES],
            };
            decimator.process(&p.pcm, &mut frame.pcm);
            // Documented in [-1, 1]: an Opus decode of a full-scale talker
            // overshoots (and garbage decodes further), and a consumer that
            // converts to 16-bit would wrap.
            for s in &mut frame.pcm {
                *s = s.clamp(-1.0, 1.0);
            }
            if queue.len() == TAP_QUEUE_FRAMES {
                queue.pop_front();
            }
            queue.push_back(frame);
        }
    }
}

/// Stand-in level for a packet without RFC 6464: loud enough to be decoded,
/// after which the level is measured from the audio.
const UNKNOWN_LEVEL: u8 = 0;

/// What one tick produced: a few payloads and, per participant, which one it
/// receives under its own header. Valid until the next tick.
pub struct TickOutput<'a> {
    mixer: &'a Mixer,
}

impl TickOutput<'_> {
    /// One entry per participant.
    pub fn packets(&self) -> &[ListenerPacket] {
        &self.mixer.outputs
    }

    /// The Opus payloads of this tick; `payloads()[0]` is the shared mix.
    pub fn payload(&self, index: usize) -> &[u8] {
        let (len, bytes) = &self.mixer.payloads[index];
        &bytes[..*len]
    }

    /// Number of distinct payloads (encodes) this tick.
    pub fn payload_count(&self) -> usize {
        self.mixer.payload_count
    }

    /// Writes `packet`'s whole RTP packet (header with the mixed speakers as
    /// CSRCs and, if configured, their RFC 6465 levels; then the payload)
    /// into `out`; returns its length. Protect it with the listener's SRTP
    /// context next: that is the one copy per listener.
    pub fn write_rtp(&self, packet: &ListenerPacket, out: &mut [u8]) -> Result<usize, WriteError> {
        let m = self.mixer;
        let mut csrcs = [0u32; MAX_CSRCS];
        let mut levels = [0u8; MAX_CSRCS];
        let mut n = 0;
        for &i in &m.selected[..m.selected_count] {
            let p = &m.participants[i];
            if p.id != packet.participant && n < MAX_CSRCS {
                csrcs[n] = p.ssrc;
                levels[n] = p.level;
                n += 1;
            }
        }
        let mut level_bytes = [0u8; MAX_CSRCS];
        let written = write_csrc_levels(&levels[..n], &mut level_bytes);
        let ext_storage;
        let extensions: &[(u8, &[u8])] = match m.config.csrc_levels_ext_id {
            Some(id) if written > 0 => {
                ext_storage = [(id, &level_bytes[..written])];
                &ext_storage
            }
            _ => &[],
        };
        RtpBuilder {
            marker: false,
            payload_type: m.config.payload_type,
            sequence_number: packet.sequence_number,
            timestamp: packet.timestamp,
            ssrc: packet.ssrc,
            csrcs: &csrcs[..n],
            extensions,
            payload: self.payload(packet.payload),
            padding: 0,
        }
        .write_into(out)
    }
}
