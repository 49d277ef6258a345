//! What comes into a track from C: the publisher's RTP (zero-copy or
//! copied into the track's pool) and RTCP, and the subscribers' RTCP.

use super::*;

impl rtm_track {
    /// Moves copied packets nothing else holds any more back to the pool,
    /// oldest first, for layer `spatial`.
    fn recycle(&mut self, spatial: usize) {
        let issued = &mut self.issued[spatial];
        while let Some(front) = issued.pop_front() {
            if let Err(still_held) = self.pool.recycle(front) {
                if issued.len() >= self.issued_limit {
                    // Stuck (a reordered packet): forget it, it is freed
                    // normally when the history drops it.
                    continue;
                }
                issued.push_front(still_held);
                break;
            }
        }
    }

    /// Queues `bytes`; `copied`: the buffer came from the pool and goes
    /// back to it.
    fn push(
        &mut self,
        bytes: Bytes,
        copied: bool,
        now_us: u64,
        info: *mut rtm_source_packet_info,
    ) -> Result<(), rtm_status> {
        if !info.is_null() {
            // SAFETY (caller): `info` is valid for reads of a usize.
            unsafe { args::check_out(info)? };
        }
        let kept = copied.then(|| bytes.clone());
        if let Err(e) = self.track.push_rtp(bytes, now_us) {
            if let Some(kept) = kept {
                // Back to the pool unless a clone escaped.
                let _ = self.pool.recycle(kept);
            }
            return Err(track_status(e));
        }
        let packet = self.track.last_pushed().expect("just queued");
        let spatial = usize::from(packet.spatial);
        let pi = packet_info(packet);
        if let Some(kept) = kept {
            self.issued[spatial].push_back(kept);
        }
        self.recycle(spatial);
        if !info.is_null() {
            // SAFETY (caller): checked above.
            unsafe { args::write(info, pi)? };
        }
        Ok(())
    }
}

/// Zero-copy push of a received, decrypted RTP packet `data[0..len]` of the
/// publisher, arrived at `now_us` (monotonic µs); then drain with
/// `rtm_track_poll_output` before the next push. `*info` (may be NULL; set
/// its `struct_size` first) describes it on RTM_OK.
///
/// Ownership of `data` passes to rtmedia whatever the status (also on
/// RTM_ERR_NULL_POINTER for a NULL `track`): `release(userdata, data, len)`
/// is called exactly once when rtmedia no longer needs it (at once if the
/// packet is refused; `release` may be NULL). The track keeps packets for
/// retransmissions and joins (`history_packets` per layer), so a buffer is
/// typically released that many packets of its layer later, or by
/// `rtm_track_free`, on the thread of that call; the callback must not call
/// into this track. Costs one small allocation for the ownership record;
/// `rtm_track_push_rtp_copy` has none in steady state.
///
/// RTM_ERR_NOT_FOUND for an SSRC that is not one of the track's layers; a
/// parse status (RTM_ERR_TRUNCATED, RTM_ERR_BAD_VERSION, ...) for a
/// malformed RTP header or VP8 descriptor; RTM_ERR_TOO_LARGE above
/// `max_packet_bytes` (these three are counted in the source stats);
/// RTM_ERR_QUEUE_FULL when `queue_packets` pushes were not drained.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_push_rtp(
    track: *mut rtm_track_t,
    data: *mut u8,
    len: usize,
    release: rtm_release_fn,
    userdata: *mut core::ffi::c_void,
    now_us: u64,
    info: *mut rtm_source_packet_info,
) -> rtm_status {
    let packet = match CallerBuffer::adopt(track, data, len, release, userdata) {
        Ok(packet) => packet,
        Err(status) => return status,
    };
    handle::with(track, |h| h.push(packet, false, now_us, info))
}

/// Copying push: `data[0..len]` is copied into a recycled buffer (no
/// allocation in steady state) and may be reused as soon as this returns.
/// Otherwise as `rtm_track_push_rtp`; RTM_ERR_NULL_POINTER for a NULL
/// `data` with `len` > 0.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_push_rtp_copy(
    track: *mut rtm_track_t,
    data: *const u8,
    len: usize,
    now_us: u64,
    info: *mut rtm_source_packet_info,
) -> rtm_status {
    handle::with(track, |h| {
        let bytes = args::slice(data, len)?;
        // Before the copy: an oversized packet never grows a pool buffer.
        if !h.track.source_mut().admits(bytes.len()) {
            return Err(rtm_status::RTM_ERR_TOO_LARGE);
        }
        let packet = h.pool.copy(bytes);
        h.push(packet, true, now_us, info)
    })
}

/// A decrypted (compound) RTCP packet `data[0..len]` from the publisher:
/// the sender reports of the track's SSRCs align timestamps across layers
/// at a switch; other packets are ignored, and a malformed packet stops
/// the scan (RTM_OK still). `*used` (may be NULL) receives how many reports
/// were used. RTM_ERR_NULL_POINTER (`track`, or `data` with `len` > 0).
#[no_mangle]
pub unsafe extern "C" fn rtm_track_push_publisher_rtcp(
    track: *mut rtm_track_t,
    data: *const u8,
    len: usize,
    used: *mut usize,
) -> rtm_status {
    handle::with(track, |h| {
        let data = args::slice(data, len)?;
        let n = h.track.push_publisher_rtcp(data);
        if let Some(used) = used.as_mut() {
            *used = n;
        }
        Ok(())
    })
}

/// A decrypted (compound) RTCP packet `data[0..len]` from a subscriber,
/// routed by the media SSRC each feedback message names (a subscriber's
/// media or RTX SSRC): generic NACKs queue retransmissions (answered from
/// the history, as RTX when that subscriber negotiated it), PLIs and FIR
/// entries become a keyframe request on the layer that subscriber gets,
/// merged with everyone's. The answers come out of `rtm_track_poll_output`.
/// Messages naming no subscriber of this track, and other packets (receiver
/// reports, transport-cc: give those to `rtm_bwe_on_rtcp`), are ignored; a
/// malformed packet stops the scan (RTM_OK still). `*used` (may be NULL)
/// receives how many feedback messages named a subscriber.
/// RTM_ERR_NULL_POINTER (`track`, or `data` with `len` > 0). Allocates
/// nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_push_subscriber_rtcp(
    track: *mut rtm_track_t,
    data: *const u8,
    len: usize,
    used: *mut usize,
) -> rtm_status {
    handle::with(track, |h| {
        let data = args::slice(data, len)?;
        let n = h.track.push_subscriber_rtcp(data);
        if let Some(used) = used.as_mut() {
            *used = n;
        }
        Ok(())
    })
}
