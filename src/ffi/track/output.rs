//! The track's one drain from C, `rtm_track_poll_output`: forwarded and
//! retransmitted RTP for each subscriber, keyframe requests for the
//! publisher, and when to call again.

use super::*;

impl rtm_track {
    /// The C form of one output; `buf[..len]` holds the RTP packet.
    fn rtp_output(
        &self,
        subscriber: u64,
        len: usize,
        kind: RtpKind,
        buf: &[u8],
    ) -> rtm_track_output {
        let packet = &buf[..len];
        let keyframe_start = kind == RtpKind::Media
            && RtpLayout::parse(packet).is_ok_and(|l| {
                codec::is_keyframe_start(self.codec, &packet[l.payload_start..l.payload_end])
            });
        rtm_track_output {
            struct_size: 0,
            kind: RTM_TRACK_OUTPUT_RTP,
            subscriber,
            len,
            rtp_kind: match kind {
                RtpKind::Media => RTM_TRACK_RTP_MEDIA,
                RtpKind::Retransmission => RTM_TRACK_RTP_RETRANSMISSION,
                RtpKind::Rtx => RTM_TRACK_RTP_RTX,
            },
            packet_class: if kind == RtpKind::Media {
                RTM_PACKET_CLASS_VIDEO
            } else {
                RTM_PACKET_CLASS_RETRANSMISSION
            },
            keyframe_start,
            ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
            seq: u16::from_be_bytes([packet[2], packet[3]]),
            wakeup_us: 0,
        }
    }
}

/// The next thing to do at `now_us`, written into `*out` (set
/// `out->struct_size = sizeof *out` first) and, for a packet, into
/// `buf[0..out->len]`: RTM_OK with kind RTM_TRACK_OUTPUT_RTP (an RTP packet
/// for `out->subscriber`, ready for SRTP protection in place: `cap` must
/// hold the longest packet + 3 bytes (2 for an RTX OSN, 1 for a widened
/// PictureID), and a buffer RTM_SRTP_MAX_TRAILER_LEN bytes longer than
/// `cap` lets the host protect there) or
/// RTM_TRACK_OUTPUT_KEYFRAME_REQUEST (a PLI for the publisher);
/// RTM_NOTHING_DUE with kind RTM_TRACK_OUTPUT_NONE and `wakeup_us` when
/// nothing more is due (the output is written in this case too). Call it
/// after every input until RTM_NOTHING_DUE, and again at `wakeup_us`. What
/// comes first: NACK answers, history replays of joins, the pushed packets
/// to each subscriber in turn (each forward followed by the packets of the
/// new layer that arrived before the keyframe a switch started at),
/// keyframe requests.
///
/// `buf` stays the caller's: the packet is valid until the caller reuses
/// the buffer. RTM_ERR_BUFFER_TOO_SMALL when the next packet does not fit
/// in `cap` (or `cap` < 12): nothing was taken, `out->len` is the capacity
/// needed, call again with a larger buffer. RTM_ERR_NULL_POINTER (`track`,
/// `buf`, `out`); RTM_ERR_INVALID_ARGUMENT for a bad `struct_size`
/// (nothing is taken then). Allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_track_poll_output(
    track: *mut rtm_track_t,
    now_us: u64,
    buf: *mut u8,
    cap: usize,
    out: *mut rtm_track_output,
) -> rtm_status {
    let mut due = true;
    let status = handle::with(track, |h| {
        args::check_out(out)?;
        if buf.is_null() {
            return Err(rtm_status::RTM_ERR_NULL_POINTER);
        }
        let buf = args::slice_mut(buf, cap)?;
        let mut o = rtm_track_output {
            struct_size: 0,
            kind: RTM_TRACK_OUTPUT_NONE,
            subscriber: 0,
            len: 0,
            rtp_kind: RTM_TRACK_RTP_MEDIA,
            packet_class: RTM_PACKET_CLASS_VIDEO,
            keyframe_start: false,
            ssrc: 0,
            seq: 0,
            wakeup_us: 0,
        };
        if buf.len() < PliBuilder::LEN {
            o.len = PliBuilder::LEN;
            args::write(out, o)?;
            return Err(rtm_status::RTM_ERR_BUFFER_TOO_SMALL);
        }
        match h.track.poll_output(now_us, buf) {
            Ok(Output::Rtp {
                subscriber,
                len,
                kind,
            }) => o = h.rtp_output(subscriber, len, kind, buf),
            Ok(Output::KeyframeRequest { ssrc }) => {
                let pli = PliBuilder {
                    sender_ssrc: h.rtcp_ssrc,
                    media_ssrc: ssrc,
                };
                o.len = pli.write_into(buf)?;
                o.kind = RTM_TRACK_OUTPUT_KEYFRAME_REQUEST;
                o.ssrc = ssrc;
            }
            Ok(Output::Timeout(at)) => {
                due = false;
                o.wakeup_us = if at == u64::MAX { RTM_NO_WAKEUP } else { at };
            }
            Err(TrackError::BufferTooSmall { needed }) => {
                o.len = needed;
                args::write(out, o)?;
                return Err(rtm_status::RTM_ERR_BUFFER_TOO_SMALL);
            }
            Err(e) => return Err(track_status(e)),
        }
        args::write(out, o)
    });
    if status == rtm_status::RTM_OK && !due {
        rtm_status::RTM_NOTHING_DUE
    } else {
        status
    }
}
