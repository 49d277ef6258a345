//! The track's C functions allocate nothing per packet in steady state: a
//! three-layer VP8 publisher through `rtm_track_push_rtp_copy`, two
//! subscribers (one with RTX) drained with `rtm_track_poll_output`, their
//! NACKs and PLIs through `rtm_track_push_subscriber_rtcp`, probe padding
//! through `rtm_track_write_probe_padding`, counted by a
//! counting global allocator (as `tests/alloc_free_cc_capi.rs`).

use rtmedia::ffi::status::rtm_status;
use rtmedia::ffi::track::*;
use rtmedia::packet::rtcp::{NackBuilder, PliBuilder};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

const SSRCS: [u32; 3] = [0x1000_0001, 0x2000_0002, 0x3000_0003];
const FRAME_US: u64 = 33_333;

struct Publisher {
    seq: [u16; 3],
    pid: [u16; 3],
}

impl Publisher {
    /// Packet `index` (0 or 1) of frame `frame` of layer `s`: a keyframe
    /// every 60 frames, TIDs 0 2 1 2.
    fn packet(&mut self, buf: &mut [u8], s: usize, frame: u64, index: usize) -> usize {
        let since_key = frame % 60;
        if index == 0 {
            self.pid[s] = (self.pid[s] + 1) & 0x7fff;
        }
        let tid = [0u8, 2, 1, 2][(since_key % 4) as usize];
        buf[0] = 0x80;
        buf[1] = if index == 1 { 0x80 | 96 } else { 96 };
        buf[2..4].copy_from_slice(&self.seq[s].to_be_bytes());
        self.seq[s] = self.seq[s].wrapping_add(1);
        buf[4..8].copy_from_slice(&((frame as u32) * 3000 + s as u32 * 77).to_be_bytes());
        buf[8..12].copy_from_slice(&SSRCS[s].to_be_bytes());
        buf[12] = 0x80 | if index == 0 { 0x10 } else { 0 };
        buf[13] = 0xf0;
        buf[14..16].copy_from_slice(&(0x8000 | self.pid[s]).to_be_bytes());
        buf[16] = (frame / 4) as u8;
        buf[17] = tid << 6 | (frame / 60) as u8 & 0x1f;
        let mut n = 18;
        if index == 0 {
            buf[n] = u8::from(since_key != 0);
            n += 1;
        }
        let fill = 200 + 300 * s;
        buf[n..n + fill].fill(s as u8);
        n + fill
    }
}

#[test]
fn push_poll_and_feedback_allocate_nothing_in_steady_state() {
    let mut track = core::ptr::null_mut();
    let mut buf = [0u8; 1600];
    let mut pkt = [0u8; 1600];
    let mut rtcp = [0u8; 64];
    let mut publisher = Publisher {
        seq: [100, 30_000, 65_000],
        pid: [1, 2, 3],
    };
    unsafe {
        let mut config: rtm_track_config = core::mem::zeroed();
        let size = core::mem::size_of::<rtm_track_config>();
        assert_eq!(rtm_track_config_init(&mut config, size), rtm_status::RTM_OK);
        // A short history: the copying push's buffers come back after 64
        // packets per layer, well within the warm-up.
        config.history_packets = 64;
        assert_eq!(
            rtm_track_new(&config, SSRCS.as_ptr(), 3, &mut track),
            rtm_status::RTM_OK
        );
        for (id, spatial, rtx) in [(1u64, 2u8, true), (2, 0, false)] {
            let mut sub: rtm_track_subscriber_config = core::mem::zeroed();
            let size = core::mem::size_of::<rtm_track_subscriber_config>();
            assert_eq!(
                rtm_track_subscriber_config_init(&mut sub, size),
                rtm_status::RTM_OK
            );
            sub.ssrc = 0xa000_0000 + id as u32;
            sub.target.spatial = spatial;
            if rtx {
                sub.rtx_payload_type = 97;
                sub.rtx_ssrc = 0xb000_0000 + id as u32;
            }
            assert_eq!(
                rtm_track_add_subscriber(track, id, &sub, 0),
                rtm_status::RTM_OK
            );
        }
        let mut last_seq = [0u16; 3];
        // Runs frames; returns the retransmissions that came out.
        let mut run = |frames: std::ops::Range<u64>| {
            let mut nacked = 0u64;
            for frame in frames {
                let now = 1_000_000 + frame * FRAME_US;
                for s in 0..3 {
                    for index in 0..2 {
                        let len = publisher.packet(&mut pkt, s, frame, index);
                        let st = rtm_track_push_rtp_copy(
                            track,
                            pkt.as_ptr(),
                            len,
                            now,
                            core::ptr::null_mut(),
                        );
                        assert_eq!(st, rtm_status::RTM_OK);
                        let mut out: rtm_track_output = core::mem::zeroed();
                        out.struct_size = core::mem::size_of::<rtm_track_output>();
                        while rtm_track_poll_output(
                            track,
                            now,
                            buf.as_mut_ptr(),
                            buf.len(),
                            &mut out,
                        ) == rtm_status::RTM_OK
                        {
                            if out.kind == RTM_TRACK_OUTPUT_RTP
                                && out.rtp_kind == RTM_TRACK_RTP_MEDIA
                            {
                                last_seq[out.subscriber as usize] = out.seq;
                            } else if out.kind == RTM_TRACK_OUTPUT_RTP {
                                nacked += 1;
                            }
                        }
                    }
                }
                // Probe padding for both subscribers each frame: an RTX
                // re-send for the one with RTX, nothing for the other.
                for id in [1u64, 2] {
                    let mut len = 0;
                    let st = rtm_track_write_probe_padding(
                        track,
                        id,
                        1000,
                        buf.as_mut_ptr(),
                        buf.len(),
                        &mut len,
                    );
                    assert!(
                        st == rtm_status::RTM_OK || st == rtm_status::RTM_NOTHING_DUE,
                        "{st:?}"
                    );
                }
                // Every fifth frame each subscriber NACKs its packet before
                // last; every 50th it sends a PLI.
                for id in [1u64, 2] {
                    let media = 0xa000_0000 + id as u32;
                    let len = if frame % 50 == 49 {
                        PliBuilder {
                            sender_ssrc: 9,
                            media_ssrc: media,
                        }
                        .write_into(&mut rtcp)
                        .unwrap()
                    } else if frame % 5 == 4 {
                        let lost = [last_seq[id as usize].wrapping_sub(1)];
                        NackBuilder {
                            sender_ssrc: 9,
                            media_ssrc: media,
                            lost: &lost,
                        }
                        .write_into(&mut rtcp)
                        .unwrap()
                    } else {
                        continue;
                    };
                    let mut used = 0;
                    let st = rtm_track_push_subscriber_rtcp(track, rtcp.as_ptr(), len, &mut used);
                    assert_eq!((st, used), (rtm_status::RTM_OK, 1));
                }
            }
            nacked
        };
        run(0..150);
        let mut nacked = 0;
        let n = allocations_in(|| nacked = run(150..450));
        assert_eq!(n, 0, "allocations in 10 s of steady state");
        let mut stats: rtm_track_stats = core::mem::zeroed();
        stats.struct_size = core::mem::size_of::<rtm_track_stats>();
        assert_eq!(rtm_track_get_stats(track, &mut stats), rtm_status::RTM_OK);
        assert!(stats.rtx_sent > 0 && stats.retransmitted > stats.rtx_sent);
        assert!(nacked > 100, "NACKs answered while measured: {nacked}");
        assert!(stats.keyframe_requests_sent > 2);
        assert!(
            stats.probe_padding_sent >= 450,
            "{}",
            stats.probe_padding_sent
        );
        rtm_track_free(track);
    }
}
