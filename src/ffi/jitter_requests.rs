//! What a jitter buffer asks of the sender, from C: the NACKs to send (and
//! that they were sent), the round trip they are timed with, the round-trip
//! reserve video keeps for retransmissions, and keyframe requests. The
//! jitter buffer handle is [`jitter`](super::jitter)'s.

use super::handle;
use super::jitter::rtm_jitter_t;
use super::{args, rtm_status};

/// The sequence numbers to NACK now, extended (the 16-bit wire numbers are
/// their low bits), oldest first, into `seqs[0..capacity]` (`*count` of
/// them): RTM_OK with `*count` > 0, or RTM_NOTHING_DUE (`*count` 0). Marks
/// nothing: once the NACK is sent, report it with `rtm_jitter_on_nack_sent`
/// (a NACK that could not be sent is then simply asked for again). Build
/// the RTCP packet with `rtm_rtcp_build_nack` from `(uint16_t)seqs[i]`.
/// Read-only.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_poll_nacks(
    jb: *const rtm_jitter_t,
    now_us: u64,
    seqs: *mut i64,
    capacity: usize,
    count: *mut usize,
) -> rtm_status {
    let mut n = 0;
    let status = handle::with_shared(jb, |h| {
        let seqs = args::slice_mut(seqs, capacity)?;
        let count = args::out(count)?;
        n = h.jb.poll_nacks(now_us, seqs);
        *count = n;
        Ok(())
    });
    match status {
        rtm_status::RTM_OK if n == 0 => rtm_status::RTM_NOTHING_DUE,
        s => s,
    }
}

/// Records that a NACK naming `seqs[0..count]` (extended, as from
/// `rtm_jitter_poll_nacks`) was sent at `now_us`: they are not asked for
/// again until a retransmission could have arrived (round trip + jitter).
/// Numbers no longer missing, or unknown, are ignored.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_on_nack_sent(
    jb: *mut rtm_jitter_t,
    now_us: u64,
    seqs: *const i64,
    count: usize,
) -> rtm_status {
    handle::with(jb, |h| {
        let seqs = args::slice(seqs, count)?;
        h.jb.on_nack_sent(now_us, seqs);
        Ok(())
    })
}

/// Older form of `rtm_jitter_poll_nacks` + `rtm_jitter_on_nack_sent` in one
/// call (kept for 0.2 callers): writes the 16-bit sequence numbers to NACK
/// now into `seqs[0..capacity]` (`*count` of them, oldest first) and marks
/// them requested as if the NACK was sent; RTM_OK even when none.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_nack_list(
    jb: *mut rtm_jitter_t,
    now_us: u64,
    seqs: *mut u16,
    capacity: usize,
    count: *mut usize,
) -> rtm_status {
    handle::with(jb, |h| {
        let seqs = args::slice_mut(seqs, capacity)?;
        let count = args::out(count)?;
        *count = h.jb.nack_list(now_us, seqs);
        Ok(())
    })
}

/// Sets the round-trip time to the sender used for NACK retries.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_set_rtt(jb: *mut rtm_jitter_t, rtt_us: u64) -> rtm_status {
    handle::with(jb, |h| {
        h.jb.set_rtt(rtt_us);
        Ok(())
    })
}

/// Video with NACK: whether the target delay keeps one round trip (the
/// RTT set with `rtm_jitter_set_rtt`) above the jitter once retransmissions
/// are needed (3 NACKs, each within 60 s of the previous; off again 60 s
/// after the last), so that a retransmission comes before its frame is
/// due instead of freezing the picture for a round trip (libwebrtc's
/// receivers do this). Costs that round trip of latency on a lossy path.
/// Off by default; ignored by an audio buffer (its reserve is
/// `nack_delay_rtts`). RTM_OK; RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_set_retransmission_reserve(
    jb: *mut rtm_jitter_t,
    on: bool,
) -> rtm_status {
    handle::with(jb, |h| {
        h.jb.set_retransmission_reserve(on);
        Ok(())
    })
}

/// RTM_OK when a keyframe request (PLI) should be sent now (rate-limited;
/// answering clears it), RTM_NOTHING_DUE otherwise.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_poll_keyframe_request(jb: *mut rtm_jitter_t) -> rtm_status {
    let mut due = false;
    let status = handle::with(jb, |h| {
        due = h.jb.take_keyframe_request();
        Ok(())
    });
    match status {
        rtm_status::RTM_OK if !due => rtm_status::RTM_NOTHING_DUE,
        s => s,
    }
}
