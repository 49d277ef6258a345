//! Probe padding from C: `rtm_track_write_probe_padding` (see
//! `simulcast::Track::write_probe_padding`).

use super::*;

/// Writes into `buf[0..*len]` probe padding for `subscriber`: a recent
/// packet sent to it sent again as RFC 4588 RTX on its RTX SSRC and
/// payload type, with the next RTX sequence number. Of its last 8 packets
/// whose re-send is at most `bytes` long, the longest not sent as padding
/// by the last 8 calls (else the longest). Use it when `rtm_pacer_poll`
/// asks for RTM_PACER_OUTPUT_PADDING of `len` bytes: call it with the bytes
/// still wanted until RTM_NOTHING_DUE (the pacer counted them all as sent;
/// a longer re-send would overshoot the probe's rate), protect and send
/// each like an RTX packet from `rtm_track_poll_output`, stamped with the
/// probe cluster. It carries the probe's bytes and repairs the picture if
/// the original was lost.
/// RTM_OK; RTM_NOTHING_DUE (`*len` = 0) when the subscriber has no RTX or
/// no recent packet is short enough or can be sent again: send a
/// padding-only packet for what is left (a re-send on the media SSRC would
/// read as a duplicate).
/// RTM_ERR_BUFFER_TOO_SMALL: nothing was written or counted, `*len` is the
/// capacity needed (like `rtm_track_poll_output`'s: the longest packet + 3).
/// RTM_ERR_NOT_FOUND for an unknown subscriber; RTM_ERR_NULL_POINTER
/// (`track`, `buf`, `len`). Allocates nothing. `buf` stays the caller's.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_write_probe_padding(
    track: *mut rtm_track_t,
    subscriber: u64,
    bytes: usize,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> rtm_status {
    let mut written = false;
    let status = handle::with(track, |h| {
        let len = args::out(len)?;
        if buf.is_null() {
            return Err(rtm_status::RTM_ERR_NULL_POINTER);
        }
        let buf = args::slice_mut(buf, cap)?;
        *len = 0;
        match h.track.write_probe_padding(subscriber, bytes, buf) {
            Ok(Some(n)) => {
                *len = n;
                written = true;
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(TrackError::BufferTooSmall { needed }) => {
                *len = needed;
                Err(rtm_status::RTM_ERR_BUFFER_TOO_SMALL)
            }
            Err(e) => Err(track_status(e)),
        }
    });
    if status == rtm_status::RTM_OK && !written {
        rtm_status::RTM_NOTHING_DUE
    } else {
        status
    }
}
