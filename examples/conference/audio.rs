//! The room's audio: every publisher's Opus goes into the library's mixer
//! (`rtmedia::audio::mixer`), which ticks every 20 ms and hands back one
//! packet per participant (the shared mix for listeners, a mix-minus for
//! each mixed speaker). Those go out over the SFU's SRTP legs. The shared
//! mix is also decoded here into the room recording, and the per-speaker
//! 16 kHz taps (what a transcriber would get) are collected.
//!
//! Each tick is timed with `Instant` around `Mixer::tick` alone: that is
//! the mixer's CPU cost per 20 ms, the number a room-capacity plan needs.

use std::time::Instant;

use bytes::Bytes;
use rtmedia::audio::mixer::{Mixer, MixerConfig, ParticipantInput};
use rtmedia::audio::{FRAME_SAMPLES, TAP_FRAME_SAMPLES};

use crate::leg::Leg;

/// Participant ids: publishers from 1, listeners (subscribers) from 1001.
const PUBLISHER_ID: u32 = 1;
const LISTENER_ID: u32 = 1001;

/// A dominant-speaker change, by publisher index.
#[derive(Debug, Clone, Copy)]
pub struct Change {
    pub at_us: u64,
    pub from: Option<usize>,
    pub to: usize,
}

pub struct RoomAudio {
    mixer: Mixer,
    inputs: Vec<ParticipantInput>,
    publishers: usize,
    room_decoder: opus::Decoder,
    /// The shared mix, 48 kHz mono, decoded from what listeners receive.
    pub room_mix: Vec<i16>,
    /// Each publisher's 16 kHz tap.
    pub taps: Vec<Vec<i16>>,
    /// Wall-clock nanoseconds of each `Mixer::tick`.
    pub tick_ns: Vec<u64>,
    /// Ticks that did not produce a non-empty shared payload and one packet
    /// per participant.
    pub incomplete_ticks: u64,
    pub changes: Vec<Change>,
    pub packets_out: u64,
    buf: Vec<u8>,
    pcm: Vec<i16>,
}

impl RoomAudio {
    /// `publisher_ssrcs[p]`: publisher `p`'s Opus SSRC; `listeners`
    /// subscribers only listen (no media of their own).
    pub fn new(publisher_ssrcs: &[u32], listeners: usize) -> Self {
        let mut mixer = Mixer::new(MixerConfig::default()).expect("libopus encoder");
        let inputs = publisher_ssrcs
            .iter()
            .enumerate()
            .map(|(p, &ssrc)| {
                let id = PUBLISHER_ID + p as u32;
                mixer
                    .add_participant(id, ssrc, 0x3a00_0000 + id, true)
                    .expect("room has space")
            })
            .collect();
        for l in 0..listeners {
            let id = LISTENER_ID + l as u32;
            // A listener sends nothing; its SSRC only names it.
            mixer
                .add_participant(id, 0x1500_0000 + id, 0x3a00_0000 + id, false)
                .expect("room has space");
        }
        Self {
            mixer,
            inputs,
            publishers: publisher_ssrcs.len(),
            room_decoder: opus::Decoder::new(48_000, opus::Channels::Mono)
                .expect("libopus decoder"),
            room_mix: Vec::new(),
            taps: vec![Vec::new(); publisher_ssrcs.len()],
            tick_ns: Vec::new(),
            incomplete_ticks: 0,
            changes: Vec::new(),
            packets_out: 0,
            buf: vec![0; 1500],
            pcm: vec![0; FRAME_SAMPLES],
        }
    }

    /// A decrypted Opus packet of publisher `p` that reached the SFU.
    pub fn push(&mut self, p: usize, packet: Bytes, now: u64) {
        self.inputs[p].push(packet, now);
    }

    fn publisher_of(&self, id: u32) -> Option<usize> {
        let p = id.checked_sub(PUBLISHER_ID)? as usize;
        (p < self.publishers).then_some(p)
    }

    /// The dominant speaker, as a publisher index.
    pub fn dominant(&self) -> Option<usize> {
        self.mixer
            .dominant_speaker()
            .and_then(|id| self.publisher_of(id))
    }

    pub fn mixer(&self) -> &Mixer {
        &self.mixer
    }

    /// One 20 ms tick: mix, send every participant its packet (listener
    /// `l`'s to `to_subscriber(l, packet)`, the SFU's pacer; publishers get
    /// their mix-minus on the leg that carries their PLIs), record the room
    /// mix, taps and speaker changes.
    pub fn tick(
        &mut self,
        now: u64,
        listeners: usize,
        to_subscriber: &mut dyn FnMut(usize, &[u8]),
        to_publishers: &mut [Leg],
    ) {
        let start = Instant::now();
        let out = self.mixer.tick(now);
        self.tick_ns.push(start.elapsed().as_nanos() as u64);
        let participants = self.publishers + listeners;
        if out.payload_count() == 0
            || out.payload(0).is_empty()
            || out.packets().len() != participants
        {
            self.incomplete_ticks += 1;
        }
        let n = self
            .room_decoder
            .decode(out.payload(0), &mut self.pcm, false)
            .unwrap_or(0);
        self.room_mix.extend_from_slice(&self.pcm[..n]);
        for packet in out.packets() {
            let Ok(len) = out.write_rtp(packet, &mut self.buf) else {
                continue;
            };
            match packet.participant.checked_sub(LISTENER_ID) {
                Some(l) => to_subscriber(l as usize, &self.buf[..len]),
                None => to_publishers[(packet.participant - PUBLISHER_ID) as usize]
                    .send_rtp_in_place(now, &mut self.buf, len),
            }
            self.packets_out += 1;
        }
        while let Some(c) = self.mixer.take_speaker_change() {
            if let Some(to) = self.publisher_of(c.to) {
                let from = c.from.and_then(|id| self.publisher_of(id));
                self.changes.push(Change {
                    at_us: c.now,
                    from,
                    to,
                });
            }
        }
        for p in 0..self.publishers {
            while let Some(frame) = self.mixer.take_tap_frame(PUBLISHER_ID + p as u32) {
                let pcm = frame
                    .pcm
                    .iter()
                    .map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16);
                self.taps[p].extend(pcm);
            }
        }
        debug_assert_eq!(TAP_FRAME_SAMPLES * 3, FRAME_SAMPLES);
    }
}
