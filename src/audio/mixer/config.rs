//! The mixer's options and errors.

use crate::audio::encoder::OpusError;
use crate::jitter::JitterConfig;

/// Most participants a mixer can be configured for.
pub const MAX_PARTICIPANTS: usize = 16_384;
/// Largest per-participant input queue, in packets.
pub const MAX_QUEUE_CAPACITY: usize = 65_536;

/// Delay every participant's jitter buffer keeps above its jitter (the
/// percentile of packet delays it targets): one 20 ms frame, so that the
/// packet after a lone loss, which carries its in-band FEC, is there by the
/// lost frame's playout time.
pub const FEC_RESERVE_US: u64 = 20_000;

/// Options of a mixer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixerConfig {
    /// Most participants (memory is reserved per participant when it joins),
    /// at most [`MAX_PARTICIPANTS`].
    pub max_participants: usize,
    /// Speakers mixed at once, the loudest (with hysteresis, see
    /// [`selection`](crate::audio::selection)); `usize::MAX` mixes everyone who is
    /// not silent (pure mix-minus).
    pub loudest: usize,
    /// A participant quieter than this (-dBov) is not mixed.
    pub speech_floor_dbov: u8,
    /// Opus bitrate of the outgoing mixes.
    pub bitrate: i32,
    /// Loss the outgoing in-band FEC is planned for (0 disables FEC).
    pub expected_loss_percent: i32,
    /// Payload type of the outgoing mixes.
    pub payload_type: u8,
    /// RFC 6464 extension id in the participants' packets (levels are
    /// computed from decoded audio when absent; see the module docs).
    pub audio_level_ext_id: Option<u8>,
    /// RFC 6465 extension id for the contributors' levels in outgoing packets.
    pub csrc_levels_ext_id: Option<u8>,
    /// Packets queued per participant between ticks, 1 to
    /// [`MAX_QUEUE_CAPACITY`]; each at most the mixer's
    /// [`max_packet_len`](super::Mixer::set_max_packet_len) bytes.
    pub queue_capacity: usize,
    pub jitter: JitterConfig,
    /// `Some`: tapped participants' taps wait for retransmissions, from a
    /// jitter buffer of their own with this configuration (and a decoder of
    /// their own: one more decode per tapped participant per tick) that
    /// requests lost packets ([`Mixer::poll_nacks`](super::Mixer::poll_nacks)).
    /// A transcriber can wait a few hundred ms where a listener cannot; a
    /// word concealed is a word lost to it. The mix is unchanged (a
    /// retransmission the tap asked for never raises the mix's delay). The
    /// tap's frames are on the mixer's clock minus its lag behind the mix,
    /// measured at its first frame and rounded to frames (frames of
    /// different talkers line up to within how far the delays drifted
    /// apart since; `rtp_timestamp` is exact), and start with its first
    /// played frame. [`with_retransmitted_taps`](Self::with_retransmitted_taps)
    /// sets the usual configuration. `None` (default): a tap is the mix's
    /// own decode.
    pub tap_jitter: Option<JitterConfig>,
}

impl Default for MixerConfig {
    fn default() -> Self {
        let mut jitter = JitterConfig::audio();
        jitter.capacity_packets = 128;
        // The mixer has no way to send NACKs (and audio is concealed, not
        // retransmitted): no NACK timers to keep or walk.
        jitter.nack.enabled = false;
        // One frame of delay above the jitter (FEC_RESERVE_US): when a packet
        // is lost alone, the next one is there by its playout time as often
        // as packets are on time, so its in-band FEC can rebuild it (with
        // less, the mixer must conceal it with PLC at its deadline). A
        // floor of one frame alone is not enough on a jittery path: the
        // next packet comes a frame later than the lost one would have, and
        // as late as any packet.
        jitter.delay.min_delay_us = FEC_RESERVE_US;
        jitter.delay.margin_us = FEC_RESERVE_US;
        Self {
            max_participants: 1024,
            loudest: 3,
            speech_floor_dbov: 70,
            bitrate: 32_000,
            expected_loss_percent: 10,
            payload_type: 111,
            audio_level_ext_id: Some(1),
            csrc_levels_ext_id: None,
            queue_capacity: 64,
            jitter,
            tap_jitter: None,
        }
    }
}

impl MixerConfig {
    /// This configuration with taps that wait for retransmissions: the
    /// mix's jitter settings with NACK on and two retransmission round
    /// trips kept in the delay (a loss whose first retransmission is lost
    /// too is recovered), as [`JitterConfig::audio_with_nack_reserve`].
    /// Taps lag the mix by that reserve (about twice the round trip) and
    /// their delay never falls (the most the path needed so far: a tap
    /// drops nothing to catch up); the mix is unchanged.
    pub fn with_retransmitted_taps(mut self) -> Self {
        let mut tap = self.jitter;
        // A falling delay is worked off by dropping frames the mix would
        // not miss (pauses); a tap keeps them, and a constant lag behind
        // the mix. Its delay only grows.
        tap.delay.shrink_us_per_s = 0;
        tap.nack.enabled = true;
        tap.nack.delay_rtts = JitterConfig::audio_with_nack_reserve().nack.delay_rtts;
        self.tap_jitter = Some(tap);
        self
    }

    /// Whether the mixer's own settings are in their documented ranges
    /// (the jitter buffer's are its own); `Err` names the first that is
    /// not. [`Mixer::new`](super::Mixer::new) brings the sizes into range instead of failing;
    /// libopus refuses a bitrate or loss it cannot use.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(1..=MAX_PARTICIPANTS).contains(&self.max_participants) {
            return Err("max_participants must be 1..=MAX_PARTICIPANTS");
        }
        if !(1..=MAX_QUEUE_CAPACITY).contains(&self.queue_capacity) {
            return Err("queue_capacity must be 1..=MAX_QUEUE_CAPACITY");
        }
        if !(500..=512_000).contains(&self.bitrate) {
            return Err("bitrate must be 500..=512000 (Opus)");
        }
        if !(0..=100).contains(&self.expected_loss_percent) {
            return Err("expected_loss_percent must be 0..=100");
        }
        Ok(())
    }
}

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
