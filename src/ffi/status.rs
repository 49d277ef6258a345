//! `rtm_status`: the one return type of every fallible C function.

use core::ffi::c_char;

use crate::packet::{ParseError, WriteError};
use crate::srtp;

/// Status of a C call. 0 is success, errors are negative, and positive
/// values are answers that are not errors (`RTM_NOTHING_DUE`). Values are fixed
/// forever: new codes are appended, none is ever renumbered or reused.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtm_status {
    /// Success.
    RTM_OK = 0,
    /// Not an error: nothing is due now (a poll, pop or wakeup query with
    /// nothing to give). Call again later, e.g. at the object's next wakeup.
    /// Statuses > 0 are never errors: test failure with `RTM_FAILED(s)`.
    RTM_NOTHING_DUE = 1,
    /// Not an error: the call succeeded, but data was dropped before it
    /// because the caller fell behind (e.g. tap frames not read for more
    /// than a second); the function says how much.
    RTM_DATA_DROPPED = 2,
    /// A required pointer argument was NULL.
    RTM_ERR_NULL_POINTER = -1,
    /// An argument is out of range (see the function's documentation).
    RTM_ERR_INVALID_ARGUMENT = -2,
    /// The output buffer's capacity is too small; nothing was written.
    RTM_ERR_BUFFER_TOO_SMALL = -3,
    /// A bug inside rtmedia was caught at the boundary. The handle involved is
    /// poisoned: every later call on it returns this status. Free it.
    RTM_ERR_PANIC = -4,
    /// The requested item (e.g. a header extension) is not present.
    RTM_ERR_NOT_FOUND = -5,
    /// The input uses a feature that is not implemented or not enabled
    /// (e.g. a cryptex SRTP packet on a context without cryptex).
    RTM_ERR_UNSUPPORTED = -6,
    /// A packet longer than the object's `max_packet_bytes`: refused (and
    /// counted where the object has stats). Drop it; raise the limit if
    /// your network really carries such packets.
    RTM_ERR_TOO_LARGE = -7,
    /// Shorter than the fixed header or than a length the packet declares.
    RTM_ERR_TRUNCATED = -10,
    /// The RTP/RTCP version field is not 2.
    RTM_ERR_BAD_VERSION = -11,
    /// The CSRC count points past the end of the packet.
    RTM_ERR_CSRC_PAST_END = -12,
    /// The header extension runs past the end of the packet.
    RTM_ERR_EXTENSION_PAST_END = -13,
    /// Padding count of 0, or larger than the payload.
    RTM_ERR_BAD_PADDING = -14,
    /// An RTCP length field disagrees with the buffer or the packet layout.
    RTM_ERR_BAD_LENGTH = -15,
    /// An RTCP packet's contents are inconsistent with its type.
    RTM_ERR_MALFORMED = -16,
    /// SRTP/SRTCP authentication tag mismatch. Log it: keys may be wrong.
    RTM_ERR_AUTH_FAILED = -20,
    /// SRTP/SRTCP replay: this index was already received. Drop silently.
    RTM_ERR_REPLAYED = -21,
    /// SRTP/SRTCP index older than the replay window. Drop silently.
    RTM_ERR_REPLAY_TOO_OLD = -22,
    /// A new SSRC arrived but the context already tracks its maximum.
    RTM_ERR_SSRC_LIMIT = -23,
    /// Key or salt length does not match the profile.
    RTM_ERR_BAD_KEY_LENGTH = -24,
    /// Unknown SRTP protection profile id.
    RTM_ERR_UNKNOWN_PROFILE = -25,
    /// The key's SRTP (2^48) or SRTCP (2^31) index space is used up: rekey.
    RTM_ERR_KEY_EXHAUSTED = -26,
    /// A participant's input queue is full (the mixer has not ticked for a
    /// while) or closed (the participant was removed, or the mixer freed):
    /// the packet was dropped. Drop silently; a full queue is counted in the
    /// mixer's stats.
    RTM_ERR_QUEUE_FULL = -30,
    /// A table is at its configured maximum (e.g. a mixer's
    /// `max_participants`); nothing was added.
    RTM_ERR_FULL = -31,
    /// The codec library (libopus) failed: out of memory or an internal error.
    RTM_ERR_CODEC = -32,
    /// A retransmission was asked for a packet from before a later switch
    /// to a lower spatial layer: the link could not carry the old layer.
    /// Drop the NACK.
    RTM_ERR_BEFORE_KEYFRAME = -33,
}

impl rtm_status {
    /// A NUL-terminated, human-readable name.
    fn message(self) -> &'static [u8] {
        match self {
            Self::RTM_OK => b"ok\0",
            Self::RTM_NOTHING_DUE => b"nothing due now\0",
            Self::RTM_DATA_DROPPED => b"data was dropped: the caller fell behind\0",
            Self::RTM_ERR_NULL_POINTER => b"null pointer argument\0",
            Self::RTM_ERR_INVALID_ARGUMENT => b"invalid argument\0",
            Self::RTM_ERR_BUFFER_TOO_SMALL => b"buffer too small\0",
            Self::RTM_ERR_PANIC => b"internal error (handle poisoned)\0",
            Self::RTM_ERR_NOT_FOUND => b"not found\0",
            Self::RTM_ERR_UNSUPPORTED => b"unsupported\0",
            Self::RTM_ERR_TOO_LARGE => b"packet larger than max_packet_bytes\0",
            Self::RTM_ERR_TRUNCATED => b"packet truncated\0",
            Self::RTM_ERR_BAD_VERSION => b"version is not 2\0",
            Self::RTM_ERR_CSRC_PAST_END => b"CSRC list past end of packet\0",
            Self::RTM_ERR_EXTENSION_PAST_END => b"header extension past end\0",
            Self::RTM_ERR_BAD_PADDING => b"bad padding length\0",
            Self::RTM_ERR_BAD_LENGTH => b"inconsistent RTCP length\0",
            Self::RTM_ERR_MALFORMED => b"malformed packet contents\0",
            Self::RTM_ERR_AUTH_FAILED => b"authentication failed\0",
            Self::RTM_ERR_REPLAYED => b"replayed packet\0",
            Self::RTM_ERR_REPLAY_TOO_OLD => b"packet older than replay window\0",
            Self::RTM_ERR_SSRC_LIMIT => b"too many SSRCs\0",
            Self::RTM_ERR_BAD_KEY_LENGTH => b"bad key or salt length\0",
            Self::RTM_ERR_UNKNOWN_PROFILE => b"unknown SRTP profile\0",
            Self::RTM_ERR_KEY_EXHAUSTED => b"key index space exhausted\0",
            Self::RTM_ERR_QUEUE_FULL => b"queue full or closed\0",
            Self::RTM_ERR_FULL => b"table full\0",
            Self::RTM_ERR_CODEC => b"codec error\0",
            Self::RTM_ERR_BEFORE_KEYFRAME => b"packet from before a switch to a lower layer\0",
        }
    }
}

/// Every status, for `rtm_status_str` and tests.
const ALL_STATUSES: [rtm_status; 28] = [
    rtm_status::RTM_OK,
    rtm_status::RTM_NOTHING_DUE,
    rtm_status::RTM_DATA_DROPPED,
    rtm_status::RTM_ERR_NULL_POINTER,
    rtm_status::RTM_ERR_INVALID_ARGUMENT,
    rtm_status::RTM_ERR_BUFFER_TOO_SMALL,
    rtm_status::RTM_ERR_PANIC,
    rtm_status::RTM_ERR_NOT_FOUND,
    rtm_status::RTM_ERR_UNSUPPORTED,
    rtm_status::RTM_ERR_TOO_LARGE,
    rtm_status::RTM_ERR_TRUNCATED,
    rtm_status::RTM_ERR_BAD_VERSION,
    rtm_status::RTM_ERR_CSRC_PAST_END,
    rtm_status::RTM_ERR_EXTENSION_PAST_END,
    rtm_status::RTM_ERR_BAD_PADDING,
    rtm_status::RTM_ERR_BAD_LENGTH,
    rtm_status::RTM_ERR_MALFORMED,
    rtm_status::RTM_ERR_AUTH_FAILED,
    rtm_status::RTM_ERR_REPLAYED,
    rtm_status::RTM_ERR_REPLAY_TOO_OLD,
    rtm_status::RTM_ERR_SSRC_LIMIT,
    rtm_status::RTM_ERR_BAD_KEY_LENGTH,
    rtm_status::RTM_ERR_UNKNOWN_PROFILE,
    rtm_status::RTM_ERR_KEY_EXHAUSTED,
    rtm_status::RTM_ERR_QUEUE_FULL,
    rtm_status::RTM_ERR_FULL,
    rtm_status::RTM_ERR_CODEC,
    rtm_status::RTM_ERR_BEFORE_KEYFRAME,
];

impl From<ParseError> for rtm_status {
    fn from(e: ParseError) -> Self {
        match e {
            ParseError::Truncated => Self::RTM_ERR_TRUNCATED,
            ParseError::BadVersion => Self::RTM_ERR_BAD_VERSION,
            ParseError::CsrcPastEnd => Self::RTM_ERR_CSRC_PAST_END,
            ParseError::ExtensionPastEnd => Self::RTM_ERR_EXTENSION_PAST_END,
            ParseError::BadPadding => Self::RTM_ERR_BAD_PADDING,
            ParseError::BadLength => Self::RTM_ERR_BAD_LENGTH,
            ParseError::Malformed => Self::RTM_ERR_MALFORMED,
        }
    }
}

impl From<WriteError> for rtm_status {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::BufferTooSmall { .. } => Self::RTM_ERR_BUFFER_TOO_SMALL,
            WriteError::InvalidArgument(_) => Self::RTM_ERR_INVALID_ARGUMENT,
            WriteError::NotFound => Self::RTM_ERR_NOT_FOUND,
            WriteError::Malformed(p) => p.into(),
        }
    }
}

impl From<srtp::Error> for rtm_status {
    fn from(e: srtp::Error) -> Self {
        match e {
            srtp::Error::Malformed(p) => p.into(),
            srtp::Error::BufferTooSmall { .. } => Self::RTM_ERR_BUFFER_TOO_SMALL,
            srtp::Error::AuthFailed => Self::RTM_ERR_AUTH_FAILED,
            srtp::Error::Replayed => Self::RTM_ERR_REPLAYED,
            srtp::Error::TooOld => Self::RTM_ERR_REPLAY_TOO_OLD,
            srtp::Error::SsrcLimit => Self::RTM_ERR_SSRC_LIMIT,
            srtp::Error::BadKeyLength => Self::RTM_ERR_BAD_KEY_LENGTH,
            srtp::Error::CryptexNotEnabled => Self::RTM_ERR_UNSUPPORTED,
            srtp::Error::IndexExhausted => Self::RTM_ERR_KEY_EXHAUSTED,
        }
    }
}

/// Name of a status as a static NUL-terminated string. Never returns NULL;
/// an unknown value gives "unknown status". Thread-safe.
#[no_mangle]
pub extern "C" fn rtm_status_str(status: i32) -> *const c_char {
    let msg: &'static [u8] = ALL_STATUSES
        .iter()
        .find(|s| **s as i32 == status)
        .map_or(b"unknown status\0", |s| s.message());
    msg.as_ptr().cast()
}
