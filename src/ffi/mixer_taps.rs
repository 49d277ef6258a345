//! The mixer's transcription taps in C: tap frames and their metadata
//! (`rtm_mixer_take_tap_frame`, `rtm_mixer_take_taps`), and for taps that
//! wait for retransmissions (`rtm_mixer_config.tap_nack`) the NACKs to send
//! and the round trip they are timed with. The mixer handle is
//! [`mixer`](super::mixer)'s.

use crate::audio::mixer::{TapContent, TapFrame};
use crate::audio::TAP_FRAME_SAMPLES;

use super::handle;
use super::mixer::rtm_mixer_t;
use super::{args, rtm_status};

/// Samples of one tap frame: 20 ms of 16 kHz mono audio.
pub const RTM_MIXER_TAP_FRAME_SAMPLES: usize = 320;
const _: () = assert!(RTM_MIXER_TAP_FRAME_SAMPLES == TAP_FRAME_SAMPLES);

args::versioned_grown!(rtm_mixer_tap_frame, first_new_field: ssrc);

/// Round-trip time to participant `id`'s sender, µs (default 100000 until
/// set): the NACK timing and retransmission reserve of its tap (see
/// `rtm_mixer_config.tap_nack`). Take it from RTCP: the receiver reports
/// the participant sends about the mix it receives give the round trip of
/// the same path. RTM_ERR_NOT_FOUND if `id` is not in the room.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_set_rtt(
    mixer: *mut rtm_mixer_t,
    id: u32,
    rtt_us: u64,
) -> rtm_status {
    handle::with(mixer, |h| Ok(h.mixer.set_rtt(id, rtt_us)?))
}

/// The sequence numbers participant `id`'s tap asks to be retransmitted
/// now, extended (the 16-bit wire numbers are their low bits), oldest
/// first, into `seqs[0..capacity]` (`*count` of them): RTM_OK with
/// `*count` > 0, or RTM_NOTHING_DUE (`*count` 0; always so without
/// `rtm_mixer_config.tap_nack`: the mix conceals, it never asks). Send them
/// to the participant's sender as a generic NACK (`rtm_rtcp_build_nack`
/// with `(uint16_t)seqs[i]`), then report them with
/// `rtm_mixer_on_nack_sent`; marks nothing itself. Call after every tick.
/// RTM_ERR_NOT_FOUND if `id` is not in the room. Read-only.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_poll_nacks(
    mixer: *const rtm_mixer_t,
    id: u32,
    now_us: u64,
    seqs: *mut i64,
    capacity: usize,
    count: *mut usize,
) -> rtm_status {
    let mut n = 0;
    let status = handle::with_shared(mixer, |h| {
        let seqs = args::slice_mut(seqs, capacity)?;
        let count = args::out(count)?;
        n = h.mixer.poll_nacks(id, now_us, seqs)?;
        *count = n;
        Ok(())
    });
    match status {
        rtm_status::RTM_OK if n == 0 => rtm_status::RTM_NOTHING_DUE,
        s => s,
    }
}

/// Records that a NACK naming `seqs[0..count]` (extended, as from
/// `rtm_mixer_poll_nacks`) was sent to participant `id`'s sender at
/// `now_us`: they are not asked for again until a retransmission could have
/// arrived. Numbers no longer missing, or unknown, are ignored.
/// RTM_ERR_NOT_FOUND if `id` is not in the room.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_on_nack_sent(
    mixer: *mut rtm_mixer_t,
    id: u32,
    now_us: u64,
    seqs: *const i64,
    count: usize,
) -> rtm_status {
    handle::with(mixer, |h| {
        let seqs = args::slice(seqs, count)?;
        Ok(h.mixer.on_nack_sent(id, now_us, seqs)?)
    })
}

/// What a tap frame's samples are (`rtm_mixer_tap_frame.content`). Only
/// RTM_TAP_AUDIO and RTM_TAP_FEC carry what the talker said; the others are
/// gaps a transcriber should not put words into.
pub type rtm_tap_content = u8;
/// The decoded audio of a packet that arrived in time.
pub const RTM_TAP_AUDIO: rtm_tap_content = 0;
/// A lost packet rebuilt from the next packet's in-band FEC.
pub const RTM_TAP_FEC: rtm_tap_content = 1;
/// A lost or late packet concealed by libopus PLC (an extrapolation that
/// fades out, not the talker's words).
pub const RTM_TAP_CONCEALED: rtm_tap_content = 2;
/// The sender's DTX: comfort noise, it stopped sending speech.
pub const RTM_TAP_DTX: rtm_tap_content = 3;
/// Muted by the host (`rtm_mixer_set_muted`): silence; a muted participant
/// is not transcribed.
pub const RTM_TAP_MUTED: rtm_tap_content = 4;
/// Nothing to play (stream not started or stopped, a loss longer than
/// concealment, an undecodable packet): silence.
pub const RTM_TAP_MISSING: rtm_tap_content = 5;
const _: () = assert!(TapContent::Missing as u8 == RTM_TAP_MISSING && TapContent::Audio as u8 == 0);

/// 20 ms of one participant's audio for transcription: 16 kHz mono, floats
/// in [-1, 1], and what a transcriber needs to know about it (a growable
/// struct: set `struct_size = sizeof` before `rtm_mixer_take_tap_frame` or
/// on element 0 before `rtm_mixer_take_taps`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_mixer_tap_frame {
    pub struct_size: usize,
    pub participant: u32,
    /// Start of the frame on the mixer's media clock, in 16 kHz samples
    /// since the mixer was created: one clock for every participant, so the
    /// frames of different speakers line up. Consecutive frames of one
    /// participant differ by RTM_MIXER_TAP_FRAME_SAMPLES. With
    /// `rtm_mixer_config.tap_nack`, the time the mix played (or would have
    /// played) the same audio, the tap's lag behind the mix being measured
    /// at its first frame in whole frames (exact to within how far the two
    /// delays moved apart since); its frames start with that first frame.
    pub media_time: i64,
    pub pcm: [f32; RTM_MIXER_TAP_FRAME_SAMPLES],
    /// The participant's media SSRC (as given to
    /// `rtm_mixer_add_participant`). (Appended in 0.2, as are the fields
    /// below: a caller compiled without them gets the frame without them.)
    pub ssrc: u32,
    /// If `has_rtp_timestamp`: the sender's RTP timestamp (48 kHz, as in
    /// its packets) of the frame's first sample (the played packet's
    /// timestamp less the 16 kHz decimator's delay, 51 at 48 kHz). Map it
    /// to the talker's wall clock with the sender's RTCP sender reports
    /// (NTP time and RTP timestamp pairs). Absent (false) for
    /// RTM_TAP_MISSING frames and for a frame inserted while the jitter
    /// buffer lengthened its delay.
    pub rtp_timestamp: u32,
    pub has_rtp_timestamp: bool,
    /// Whether the talker was speaking: the sender's own decision if its
    /// packets state one (the RFC 6464 V flag when `audio_level_ext_id` is
    /// set, else the Opus SILK VAD flag), else a level louder than -50 dBov
    /// (not the speech floor: a noise floor is not speech). FEC and
    /// concealed frames keep the previous frame's decision;
    /// DTX, muted and missing frames are false.
    pub voice_activity: bool,
    /// What the samples are: RTM_TAP_AUDIO, _FEC, _CONCEALED, _DTX, _MUTED
    /// or _MISSING.
    pub content: rtm_tap_content,
    /// The frame's level, -dBov (0 loudest, 127 silence).
    pub level_dbov: u8,
}

fn tap_frame(f: TapFrame) -> rtm_mixer_tap_frame {
    rtm_mixer_tap_frame {
        struct_size: 0,
        participant: f.participant,
        media_time: f.media_time,
        pcm: f.pcm,
        ssrc: f.ssrc,
        rtp_timestamp: f.rtp_timestamp.unwrap_or(0),
        has_rtp_timestamp: f.rtp_timestamp.is_some(),
        voice_activity: f.voice_activity,
        content: f.content as rtm_tap_content,
        level_dbov: f.level,
    }
}

/// The oldest tap frame of participant `id` into `*out`. A tapped
/// participant gets one frame per tick (silence marked RTM_TAP_MISSING when
/// nothing arrived; see `rtm_mixer_tap_frame.content`); up to
/// 50 (1 s) are kept, the oldest dropped beyond that, so take them after
/// every tick. RTM_NOTHING_DUE when none is waiting (also when `id` is not
/// in the room or was added without `tap`).
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_take_tap_frame(
    mixer: *mut rtm_mixer_t,
    id: u32,
    out: *mut rtm_mixer_tap_frame,
) -> rtm_status {
    let mut due = true;
    let status = handle::with(mixer, |h| {
        args::check_out(out)?;
        let Some(f) = h.mixer.take_tap_frame(id) else {
            due = false;
            return Ok(());
        };
        args::write(out, tap_frame(f))
    });
    match status {
        rtm_status::RTM_OK if !due => rtm_status::RTM_NOTHING_DUE,
        s => s,
    }
}

/// Every tap frame waiting, oldest tick first (each tick adds one per
/// tapped participant), up to `capacity` into `frames` (a growable struct:
/// set `frames[0].struct_size = sizeof *frames`; the array's stride is that
/// size); `*count` receives how many were written, and the rest stay
/// queued. RTM_OK; RTM_NOTHING_DUE (`*count` 0) when none is waiting;
/// RTM_DATA_DROPPED (not an error: the frames written are valid) when the
/// consumer fell behind and frames were dropped since the last call,
/// `*dropped` (may be NULL) saying how many. Up to 50 ticks of frames are
/// kept per tapped participant; read them after every tick. Frames carry
/// the mixer's media clock (`media_time`), so frames of different speakers
/// line up.
#[no_mangle]
pub unsafe extern "C" fn rtm_mixer_take_taps(
    mixer: *mut rtm_mixer_t,
    frames: *mut rtm_mixer_tap_frame,
    capacity: usize,
    count: *mut usize,
    dropped: *mut u64,
) -> rtm_status {
    let (mut n, mut lost) = (0usize, 0u64);
    let status = handle::with(mixer, |h| {
        let count = args::out(count)?;
        let mut out = args::OutArray::new(frames, capacity)?;
        let taps = h.mixer.take_taps_max(capacity);
        lost = taps.dropped();
        for (i, f) in taps.enumerate() {
            out.set(i, tap_frame(f));
            n = i + 1;
        }
        *count = n;
        if let Some(d) = dropped.as_mut() {
            *d = lost;
        }
        Ok(())
    });
    match status {
        rtm_status::RTM_OK if lost > 0 => rtm_status::RTM_DATA_DROPPED,
        rtm_status::RTM_OK if n == 0 => rtm_status::RTM_NOTHING_DUE,
        s => s,
    }
}
