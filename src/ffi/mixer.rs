//! The conference audio mixer from C: one mixer handle per room, used by the
//! thread that ticks it every 20 ms, and one input handle per participant,
//! through which any network thread queues that participant's RTP packets.
//! What a tick produced is read back by index; tap frames, speaker changes
//! and stats are pulled by the host (no callbacks).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::audio::encoder::OpusError;
use crate::audio::mixer::{
    ListenerPacket, Mixer, MixerConfig, MixerError, ParticipantInput, MAX_PAYLOAD,
};

use super::buffers::IssuedPool;
use super::handle;
use super::jitter::{RTM_DEFAULT_MAX_PACKET_BYTES, RTM_MAX_PACKET_BYTES_LIMIT};
use super::{args, guard, rtm_status};

// The transcription taps' part of the mixer's C API, in its own file.
pub use super::mixer_taps::*;

/// The mixer of one room (opaque). Create with `rtm_mixer_new`, free with
/// `rtm_mixer_free`. Calls on one mixer must not overlap; it may move between
/// threads. Its input handles (`rtm_mixer_input_t`) are separate objects
/// with their own rules.
pub struct rtm_mixer {
    pub(super) mixer: Mixer,
    /// Whether the last tick's packets may still be read: a removal reorders
    /// the participants that writing a packet looks up, so it ends them.
    tick_valid: bool,
    /// Packets an input's pool tracks: what can be queued and buffered.
    pool_limit: usize,
    poisoned: bool,
}

/// The C name of the mixer handle.
pub type rtm_mixer_t = rtm_mixer;

handle::poison_flag!(rtm_mixer);

/// The queue into the mixer of one participant's RTP packets (opaque).
/// Thread-safe: see `rtm_mixer_input_push`. Free with `rtm_mixer_input_free`.
pub struct rtm_mixer_input {
    input: ParticipantInput,
    /// Recycled copies of pushed packets. A mutex because any thread may
    /// push; one network thread per participant never contends.
    pool: parking_lot::Mutex<IssuedPool>,
    /// Set by a panic during a push; shared by all pushing threads.
    poisoned: AtomicBool,
}

/// The C name of a participant's input handle.
pub type rtm_mixer_input_t = rtm_mixer_input;

// `rtm_mixer_input_push` hands out `&rtm_mixer_input` to several threads at
// once: it must be Send and Sync.
fn _input_is_thread_safe() {
    fn check<T: Send + Sync>() {}
    check::<rtm_mixer_input>();
}

/// The longest RTP packet `rtm_mixer_write_rtp` writes: the 12-byte header,
/// 15 CSRCs, an RFC 6465 extension block of 15 levels (24 bytes in two-byte
/// form) and a 400-byte Opus payload. A buffer of this size plus the SRTP
/// trailer (`RTM_SRTP_MAX_TRAILER_LEN`) always suffices.
pub const RTM_MIXER_MAX_PACKET_LEN: usize = 496;
const _: () = assert!(RTM_MIXER_MAX_PACKET_LEN == 12 + 4 * 15 + 4 + 20 + MAX_PAYLOAD);

/// Most participants a mixer may be configured for.
pub const RTM_MIXER_MAX_PARTICIPANTS: u32 = 16_384;

/// Options of a mixer (a growable struct): fill with
/// `rtm_mixer_config_init(&cfg, sizeof cfg)`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_mixer_config {
    /// `sizeof` the caller's struct, set by `rtm_mixer_config_init`.
    pub struct_size: usize,
    /// Most participants, 1..=RTM_MIXER_MAX_PARTICIPANTS. Memory for this
    /// many (a few KiB each) is reserved by `rtm_mixer_new`. Default 1024.
    pub max_participants: u32,
    /// Speakers mixed at once, the loudest; 0 mixes everyone who is not
    /// silent (pure mix-minus). Default 3.
    pub loudest: u32,
    /// A participant quieter than this level (-dBov, 0..=127) is not mixed.
    /// Default 70.
    pub speech_floor_dbov: u8,
    /// Opus bitrate of the outgoing mixes, 500..=512000 bit/s. Default 32000.
    pub bitrate: i32,
    /// Loss the outgoing in-band FEC is planned for, 0..=100 (0 disables
    /// FEC). Default 10.
    pub expected_loss_percent: i32,
    /// Payload type of the outgoing packets, 0..=127. Default 111.
    pub payload_type: u8,
    /// RFC 6464 audio-level extension id in the participants' packets;
    /// 0 = none (levels are then measured from the decoded audio, which
    /// means decoding every participant). Default 1.
    pub audio_level_ext_id: u8,
    /// RFC 6465 extension id for the mixed speakers' levels in the outgoing
    /// packets; 0 = none. Default 0.
    pub csrc_levels_ext_id: u8,
    /// Packets queued per participant between two ticks, 1..=65536; a push
    /// beyond it returns RTM_ERR_QUEUE_FULL. Default 64.
    pub queue_capacity: u32,
    /// Packets held by each participant's jitter buffer, 1..=65536 (rounded
    /// up to a power of two). Default 128.
    pub jitter_capacity_packets: u32,
    /// Bounds of each participant's adaptive jitter-buffer delay, µs
    /// (min <= max). Defaults 20000 and 500000. Between them the delay is
    /// the measured jitter plus one frame (20 ms), so that the packet after
    /// a lone loss is there in time to rebuild it from its in-band FEC.
    pub jitter_min_delay_us: u32,
    pub jitter_max_delay_us: u32,
    /// Longest packet `rtm_mixer_input_push` accepts,
    /// 12..=RTM_MAX_PACKET_BYTES_LIMIT; longer ones give RTM_ERR_TOO_LARGE.
    /// Bounds a participant's memory: (queue_capacity +
    /// jitter_capacity_packets) x this. Default RTM_DEFAULT_MAX_PACKET_BYTES
    /// (1500). (Appended in 0.2: a caller compiled without it gets the
    /// default.)
    pub max_packet_bytes: usize,
    /// Nonzero: tapped participants' taps wait for retransmissions, from a
    /// jitter buffer (and decoder: one more decode per tapped participant
    /// per tick) of their own that keeps two retransmission round trips in
    /// its delay; ask what to request with `rtm_mixer_poll_nacks`. Taps then
    /// lag the mix by about twice the round trip (`rtm_mixer_set_rtt`); the
    /// mix is unchanged. 0 (default): a tap is the mix's own decode, and a
    /// loss that in-band FEC cannot rebuild is concealed in it. (Appended
    /// after 0.2.0: a caller compiled without it gets the default.)
    pub tap_nack: u8,
}

args::versioned_grown!(rtm_mixer_config, first_new_fields_of_each_release: [max_packet_bytes, tap_nack]);
args::versioned!(rtm_mixer_packet, rtm_mixer_speaker_change);
args::versioned_grown!(rtm_mixer_stats, first_new_field: oversize_drops);
// (fec_attempts .. tap_frames_dropped were appended in the same release as
// oversize_drops: one older layout.)

/// Fills `*config` with the defaults and sets `config->struct_size` to
/// `size` (pass `sizeof *config`). RTM_ERR_INVALID_ARGUMENT when `size` is
/// that is not the sizeof of a released layout (nor larger). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_config_init(
    config: *mut rtm_mixer_config,
    size: usize,
) -> rtm_status {
    guard(|| args::init(config, size, default_config()))
}

fn default_config() -> rtm_mixer_config {
    let d = MixerConfig::default();
    rtm_mixer_config {
        struct_size: core::mem::size_of::<rtm_mixer_config>(),
        max_participants: d.max_participants as u32,
        loudest: if d.loudest == usize::MAX {
            0
        } else {
            d.loudest as u32
        },
        speech_floor_dbov: d.speech_floor_dbov,
        bitrate: d.bitrate,
        expected_loss_percent: d.expected_loss_percent,
        payload_type: d.payload_type,
        audio_level_ext_id: d.audio_level_ext_id.unwrap_or(0),
        csrc_levels_ext_id: d.csrc_levels_ext_id.unwrap_or(0),
        queue_capacity: d.queue_capacity as u32,
        jitter_capacity_packets: d.jitter.capacity_packets as u32,
        jitter_min_delay_us: d.jitter.delay.min_delay_us as u32,
        jitter_max_delay_us: d.jitter.delay.max_delay_us as u32,
        max_packet_bytes: RTM_DEFAULT_MAX_PACKET_BYTES,
        tap_nack: u8::from(d.tap_jitter.is_some()),
    }
}

/// libopus's OPUS_BAD_ARG.
const OPUS_BAD_ARG: i32 = -1;

impl From<MixerError> for rtm_status {
    fn from(e: MixerError) -> Self {
        match e {
            MixerError::Full => Self::RTM_ERR_FULL,
            MixerError::DuplicateId => Self::RTM_ERR_INVALID_ARGUMENT,
            MixerError::UnknownParticipant => Self::RTM_ERR_NOT_FOUND,
            MixerError::Opus(OpusError(OPUS_BAD_ARG)) => Self::RTM_ERR_INVALID_ARGUMENT,
            MixerError::Opus(_) => Self::RTM_ERR_CODEC,
        }
    }
}

fn mixer_config(c: &rtm_mixer_config) -> Result<MixerConfig, rtm_status> {
    let invalid = c.max_participants == 0
        || c.max_participants > RTM_MIXER_MAX_PARTICIPANTS
        || c.speech_floor_dbov > 127
        || !(500..=512_000).contains(&c.bitrate)
        || !(0..=100).contains(&c.expected_loss_percent)
        || c.payload_type > 127
        || c.queue_capacity == 0
        || c.queue_capacity > 65_536
        || c.jitter_capacity_packets == 0
        || c.jitter_capacity_packets > 65_536
        || c.jitter_min_delay_us > c.jitter_max_delay_us
        || !(12..=RTM_MAX_PACKET_BYTES_LIMIT).contains(&c.max_packet_bytes);
    if invalid {
        return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
    }
    let mut jitter = MixerConfig::default().jitter;
    jitter.capacity_packets = c.jitter_capacity_packets as usize;
    jitter.delay.min_delay_us = u64::from(c.jitter_min_delay_us);
    jitter.delay.max_delay_us = u64::from(c.jitter_max_delay_us);
    let ext_id = |id: u8| (id != 0).then_some(id);
    let config = MixerConfig {
        max_participants: c.max_participants as usize,
        loudest: if c.loudest == 0 {
            usize::MAX
        } else {
            c.loudest as usize
        },
        speech_floor_dbov: c.speech_floor_dbov,
        bitrate: c.bitrate,
        expected_loss_percent: c.expected_loss_percent,
        payload_type: c.payload_type,
        audio_level_ext_id: ext_id(c.audio_level_ext_id),
        csrc_levels_ext_id: ext_id(c.csrc_levels_ext_id),
        queue_capacity: c.queue_capacity as usize,
        jitter,
        tap_jitter: None,
    };
    Ok(if c.tap_nack != 0 {
        config.with_retransmitted_taps()
    } else {
        config
    })
}

/// Creates a mixer; `config` may be NULL for the defaults. On success `*out`
/// owns it. RTM_ERR_INVALID_ARGUMENT for a config field out of its range
/// (see `rtm_mixer_config`), RTM_ERR_CODEC if libopus fails. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_new(
    config: *const rtm_mixer_config,
    out: *mut *mut rtm_mixer_t,
) -> rtm_status {
    guard(|| {
        let out = args::out(out)?;
        let c = if config.is_null() {
            default_config()
        } else {
            args::read(config, default_config())?
        };
        let mut mixer = Mixer::new(mixer_config(&c)?)?;
        mixer.set_max_packet_len(c.max_packet_bytes);
        *out = handle::into_raw(rtm_mixer {
            pool_limit: c.queue_capacity as usize + c.jitter_capacity_packets as usize,
            mixer,
            tick_valid: false,
            poisoned: false,
        });
        Ok(())
    })
}

/// Frees a mixer and the packets still queued for it. Its input handles stay
/// valid (pushes then return RTM_ERR_QUEUE_FULL) and must still be freed
/// with `rtm_mixer_input_free`; this may run while other threads push.
/// NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_free(mixer: *mut rtm_mixer_t) {
    handle::free(mixer)
}

/// Adds participant `id` (any value, unique in the room), whose media
/// arrives with SSRC `ssrc` (named as a CSRC in the mixes it is in) and who
/// receives its mix as SSRC `out_ssrc`. `tap` asks for 16 kHz frames of its
/// audio (`rtm_mixer_take_tap_frame`). On success `*input` owns a new input
/// handle for its packets, owned by the caller and independent of the mixer
/// (free it with `rtm_mixer_input_free`, also after the mixer is freed).
/// RTM_ERR_INVALID_ARGUMENT if `id` is already in the room, RTM_ERR_FULL at
/// `max_participants`, RTM_ERR_CODEC if libopus fails; nothing is added then.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_add_participant(
    mixer: *mut rtm_mixer_t,
    id: u32,
    ssrc: u32,
    out_ssrc: u32,
    tap: bool,
    input: *mut *mut rtm_mixer_input_t,
) -> rtm_status {
    handle::with(mixer, |h| {
        let out = args::out(input)?;
        let input = h.mixer.add_participant(id, ssrc, out_ssrc, tap)?;
        *out = handle::into_raw(rtm_mixer_input {
            input,
            pool: parking_lot::Mutex::new(IssuedPool::new(h.pool_limit)),
            poisoned: AtomicBool::new(false),
        });
        Ok(())
    })
}

/// Removes participant `id`: its queued packets and tap frames are dropped
/// and pushes on its input handle return RTM_ERR_QUEUE_FULL from now on (the
/// handle must still be freed). It also ends the last tick's packets:
/// `rtm_mixer_get_packet` and `rtm_mixer_write_rtp` return RTM_ERR_NOT_FOUND
/// until the next tick (payloads stay readable), so send them first.
/// RTM_ERR_NOT_FOUND if `id` is not in the room.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_remove_participant(
    mixer: *mut rtm_mixer_t,
    id: u32,
) -> rtm_status {
    handle::with(mixer, |h| {
        h.mixer.remove_participant(id)?;
        h.tick_valid = false;
        Ok(())
    })
}

/// Mutes or unmutes participant `id`: a muted participant is not mixed into
/// anyone's stream (it still receives its own mix), and its tap frames are
/// silence marked RTM_TAP_MUTED, from the next tick.
/// RTM_ERR_NOT_FOUND if `id` is not in the room.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_set_muted(
    mixer: *mut rtm_mixer_t,
    id: u32,
    muted: bool,
) -> rtm_status {
    handle::with(mixer, |h| Ok(h.mixer.set_muted(id, muted)?))
}

/// Sets the linear gain applied to participant `id`'s audio in the mix
/// (default 1.0), clamped to 0..=8. RTM_ERR_INVALID_ARGUMENT for NaN,
/// RTM_ERR_NOT_FOUND if `id` is not in the room.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_set_gain(
    mixer: *mut rtm_mixer_t,
    id: u32,
    gain: f32,
) -> rtm_status {
    handle::with(mixer, |h| {
        if gain.is_nan() {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        Ok(h.mixer.set_gain(id, gain)?)
    })
}

/// Queues participant `input`'s RTP packet `data[0..len]` (as received,
/// after SRTP unprotect) that arrived at `now_us` (monotonic µs, the
/// clock of `rtm_mixer_tick`). The packet is copied into a buffer recycled
/// once the mixer is done with it (no allocation in steady state): `data`
/// may be reused as soon as this returns. Malformed packets are accepted
/// here and dropped at the tick.
///
/// Thread-safe: unlike other handles, one input handle may be used by any
/// number of threads at once, concurrently with each other and with any
/// call on the mixer (including `rtm_mixer_tick` and `rtm_mixer_free`); only
/// `rtm_mixer_input_free` must not overlap with a push on the same handle.
///
/// RTM_ERR_QUEUE_FULL (drop the packet silently) when `queue_capacity`
/// packets are already waiting for the next tick (counted in the mixer's
/// `queue_drops`), or when the participant was removed or the mixer freed.
/// RTM_ERR_TOO_LARGE if `len` exceeds the mixer's `max_packet_bytes`.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_input_push(
    input: *const rtm_mixer_input_t,
    data: *const u8,
    len: usize,
    now_us: u64,
) -> rtm_status {
    let Some(h) = input.as_ref() else {
        return rtm_status::RTM_ERR_NULL_POINTER;
    };
    if h.poisoned.load(Ordering::Acquire) {
        return rtm_status::RTM_ERR_PANIC;
    }
    let pushed = catch_unwind(AssertUnwindSafe(|| {
        let bytes = args::slice(data, len)?;
        // Checked before the copy: an oversized packet never grows a pool
        // buffer (counted in the stats' oversize_drops).
        if !h.input.admits(len) {
            return Err(rtm_status::RTM_ERR_TOO_LARGE);
        }
        let packet = h.pool.lock().copy(bytes);
        if h.input.push(packet, now_us) {
            Ok(())
        } else {
            Err(rtm_status::RTM_ERR_QUEUE_FULL)
        }
    }));
    match pushed {
        Ok(Ok(())) => rtm_status::RTM_OK,
        Ok(Err(status)) => status,
        Err(_) => {
            h.poisoned.store(true, Ordering::Release);
            rtm_status::RTM_ERR_PANIC
        }
    }
}

/// Frees an input handle (the participant stays in the room: remove it with
/// `rtm_mixer_remove_participant`). Packets it queued stay queued. Must not
/// overlap with a push on the same handle. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_input_free(input: *mut rtm_mixer_input_t) {
    handle::free(input)
}

/// Runs one 20 ms tick at `now_us`. Tick phase and threading:
/// - Call it every 20 ms of your monotonic clock (a timerfd or an
///   absolute-deadline sleep, not "sleep 20 ms after the work"); each tick
///   plays one 20 ms frame per participant. Ticks more than 60 ms late make
///   the jitter buffers skip frames (`drift_skips`).
/// - Push each packet (`rtm_mixer_input_push`, any thread) as soon as it is
///   received, with its arrival time on the same clock: a packet plays at
///   the first tick with `now_us` at or after its playout time (its media
///   time plus the adaptive delay, at least 20 ms so a lone loss is
///   rebuilt from the next packet's FEC). A frame still missing at its tick is
///   concealed (PLC, or FEC when the next packet carries it); the packet
///   arriving after that is dropped (`late_frames`). Packets wait between
///   ticks in a queue of `queue_capacity`.
/// - Read what the tick produced (packets, payloads, tap frames) on the
///   mixer's thread before the next tick; tap frames are kept 50 ticks.
///
/// The tick: drains
/// the input queues, mixes the loudest speakers, encodes the shared mix once
/// and each mixed speaker's mix-minus once (see `rtm_mixer_stats.encodes`),
/// and fills the taps.
/// `*packet_count` receives the number of outgoing packets, one per
/// participant: read them with `rtm_mixer_get_packet` / `rtm_mixer_write_rtp`
/// for indices 0..*packet_count, until the next tick (or a removal). Without
/// `packet_count` (NULL) nothing runs.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_tick(
    mixer: *mut rtm_mixer_t,
    now_us: u64,
    packet_count: *mut usize,
) -> rtm_status {
    handle::with(mixer, |h| {
        let count = args::out(packet_count)?;
        h.tick_valid = false;
        *count = h.mixer.tick(now_us).packets().len();
        h.tick_valid = true;
        Ok(())
    })
}

/// One outgoing packet of the last tick: who receives it, its RTP header
/// fields, and which payload it carries (a growable struct: set
/// `struct_size = sizeof` before `rtm_mixer_get_packet`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_mixer_packet {
    pub struct_size: usize,
    /// The participant that receives this packet.
    pub participant: u32,
    /// Its RTP SSRC (the participant's `out_ssrc`), timestamp (48 kHz) and
    /// sequence number.
    pub ssrc: u32,
    pub timestamp: u32,
    pub seq: u16,
    /// Index of its payload for `rtm_mixer_payload`: 0 is the shared mix,
    /// others a mixed speaker's mix-minus. Listeners with the same index
    /// receive the same bytes.
    pub payload_index: usize,
}

fn last_packet(h: &rtm_mixer, index: usize) -> Result<ListenerPacket, rtm_status> {
    if !h.tick_valid {
        return Err(rtm_status::RTM_ERR_NOT_FOUND);
    }
    h.mixer
        .last_tick()
        .packets()
        .get(index)
        .copied()
        .ok_or(rtm_status::RTM_ERR_NOT_FOUND)
}

/// Packet `index` of the last tick into `*out`. RTM_ERR_NOT_FOUND if
/// `index` is not below the tick's packet count, before the first tick, and
/// after a removal until the next tick.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_get_packet(
    mixer: *const rtm_mixer_t,
    index: usize,
    out: *mut rtm_mixer_packet,
) -> rtm_status {
    handle::with_shared(mixer, |h| {
        // A NULL or unsized `out` is reported before "no such packet".
        args::check_out(out)?;
        let p = last_packet(h, index)?;
        let packet = rtm_mixer_packet {
            struct_size: 0,
            participant: p.participant,
            ssrc: p.ssrc,
            timestamp: p.timestamp,
            seq: p.sequence_number,
            payload_index: p.payload,
        };
        args::write(out, packet)
    })
}

/// Writes the whole RTP packet `index` of the last tick (header, the mixed
/// speakers other than the receiver as CSRCs with their RFC 6465 levels if
/// configured, then the payload) into `out[0..capacity]`; `*out_len`
/// receives its length. Protect it with the receiver's SRTP context next
/// (`rtm_srtp_protect`, in place: leave room for the trailer).
/// RTM_ERR_BUFFER_TOO_SMALL (nothing written) if it does not fit;
/// RTM_MIXER_MAX_PACKET_LEN always fits. RTM_ERR_NOT_FOUND as for
/// `rtm_mixer_get_packet`.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_write_rtp(
    mixer: *const rtm_mixer_t,
    index: usize,
    out: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> rtm_status {
    handle::with_shared(mixer, |h| {
        let buf = args::slice_mut(out, capacity)?;
        let out_len = args::out(out_len)?;
        let p = last_packet(h, index)?;
        *out_len = h.mixer.last_tick().write_rtp(&p, buf)?;
        Ok(())
    })
}

/// The Opus payload `payload_index` of the last tick (see
/// `rtm_mixer_packet.payload_index`): `*data`/`*len` point into the mixer
/// and stay valid until the next `rtm_mixer_tick` or `rtm_mixer_free`.
/// RTM_ERR_NOT_FOUND if there is no such payload (before the first tick, or
/// past the tick's payloads).
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_payload(
    mixer: *const rtm_mixer_t,
    payload_index: usize,
    data: *mut *const u8,
    len: *mut usize,
) -> rtm_status {
    handle::with_shared(mixer, |h| {
        let data = args::out(data)?;
        let len = args::out(len)?;
        let tick = h.mixer.last_tick();
        if payload_index >= tick.payload_count() {
            return Err(rtm_status::RTM_ERR_NOT_FOUND);
        }
        let payload = tick.payload(payload_index);
        (*data, *len) = (payload.as_ptr(), payload.len());
        Ok(())
    })
}

/// The dominant speaker (the participant holding the floor by sustained
/// speech, not loudness) into `*id`. It stays dominant while nobody talks.
/// RTM_ERR_NOT_FOUND when there is none yet (or it was removed).
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_dominant_speaker(
    mixer: *const rtm_mixer_t,
    id: *mut u32,
) -> rtm_status {
    handle::with_shared(mixer, |h| {
        let id = args::out(id)?;
        *id = h
            .mixer
            .dominant_speaker()
            .ok_or(rtm_status::RTM_ERR_NOT_FOUND)?;
        Ok(())
    })
}

/// A change of dominant speaker (a growable struct: set
/// `struct_size = sizeof` before `rtm_mixer_take_speaker_change`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_mixer_speaker_change {
    pub struct_size: usize,
    /// The `now_us` of the tick that decided it.
    pub now_us: u64,
    /// The new dominant speaker.
    pub to: u32,
    /// The speaker named by the last change taken, if `has_from` (false at
    /// the start of a room, or once that participant was removed; `from`
    /// is 0 then).
    pub from: u32,
    pub has_from: bool,
}

/// The change of dominant speaker not yet taken into `*out`: changes between
/// two calls merge into one (from the last one taken to the latest), so
/// polling once per tick or less often both work. RTM_NOTHING_DUE when
/// there is none.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_take_speaker_change(
    mixer: *mut rtm_mixer_t,
    out: *mut rtm_mixer_speaker_change,
) -> rtm_status {
    let mut due = true;
    let status = handle::with(mixer, |h| {
        args::check_out(out)?;
        let Some(c) = h.mixer.take_speaker_change() else {
            due = false;
            return Ok(());
        };
        let change = rtm_mixer_speaker_change {
            struct_size: 0,
            now_us: c.now,
            to: c.to,
            from: c.from.unwrap_or(0),
            has_from: c.from.is_some(),
        };
        args::write(out, change)
    });
    match status {
        rtm_status::RTM_OK if !due => rtm_status::RTM_NOTHING_DUE,
        s => s,
    }
}

/// Counters since the mixer was created (a growable struct: set
/// `struct_size = sizeof` before `rtm_mixer_get_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_mixer_stats {
    pub struct_size: usize,
    pub ticks: u64,
    /// Opus frames decoded (only participants heard, tapped or without an
    /// RFC 6464 level are decoded).
    pub decodes: u64,
    /// Opus frames encoded: per tick, the shared mix, one mix-minus per mixed
    /// speaker, and one per former speaker for 10 ticks after it stops
    /// being mixed (so that its stream switches back without a click).
    pub encodes: u64,
    /// Frames rebuilt by packet-loss concealment.
    pub concealed_frames: u64,
    /// Frames rebuilt from the next packet's in-band FEC.
    pub fec_frames: u64,
    /// Pushes refused because a participant's queue was full.
    pub queue_drops: u64,
    /// Frames skipped to catch up with a sender whose clock runs fast.
    pub drift_skips: u64,
    /// Participants in the room now.
    pub participants: u64,
    /// Pushes refused for exceeding `max_packet_bytes` (RTM_ERR_TOO_LARGE).
    pub oversize_drops: u64,
    /// Lost frames whose next packet was there in time to try its in-band
    /// FEC (`fec_frames` of them carried FEC; the rest were concealed).
    pub fec_attempts: u64,
    /// Frames nobody would hear (lost, DTX, silent) dropped to work off a
    /// backlog after a jitter buffer lowered its delay.
    pub backlog_skips: u64,
    /// Packets (and losses) for frames already concealed at their playout
    /// time, dropped.
    pub late_frames: u64,
    /// Packets whose decode was skipped because the bitstream or the level
    /// history showed silence (no RFC 6464 levels).
    pub silent_skips: u64,
    /// Tap frames dropped because the consumer fell behind.
    pub tap_frames_dropped: u64,
}

/// Copies the mixer's counters into `*out`, at most `out->struct_size`
/// bytes (set it to `sizeof *out` first).
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_get_stats(
    mixer: *const rtm_mixer_t,
    out: *mut rtm_mixer_stats,
) -> rtm_status {
    handle::with_shared(mixer, |h| {
        let s = h.mixer.stats();
        let stats = rtm_mixer_stats {
            struct_size: 0,
            ticks: s.ticks,
            decodes: s.decodes,
            encodes: s.encodes,
            concealed_frames: s.concealed_frames,
            fec_frames: s.fec_frames,
            queue_drops: s.queue_drops,
            drift_skips: s.drift_skips,
            participants: h.mixer.len() as u64,
            oversize_drops: s.oversize_drops,
            fec_attempts: s.fec_attempts,
            backlog_skips: s.backlog_skips,
            late_frames: s.late_frames,
            silent_skips: s.silent_skips,
            tap_frames_dropped: s.tap_frames_dropped,
        };
        args::write(out, stats)
    })
}
