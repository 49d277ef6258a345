//! The congestion-control C functions allocate nothing per packet or per
//! feedback in steady state: a sender (pacer copying push and poll,
//! transport-seq stamping, estimator on_sent, on_feedback from a caller
//! array and on_rtcp straight from the packet) and a receiver (recorder
//! on_packet and poll, feedback parse) run a closed loop through a simulated
//! bottleneck, with the video budget fed every packet sent and asked for
//! the video share and a probe rate every 10 ms (with the estimator's last
//! probe result), counted by a counting global allocator (as
//! `tests/alloc_free.rs`).

use std::collections::VecDeque;

use rtmedia::ffi::bwe::*;
use rtmedia::ffi::cc::*;
use rtmedia::ffi::feedback_recorder::*;
use rtmedia::ffi::pacer::*;
use rtmedia::ffi::rtp::*;
use rtmedia::ffi::status::rtm_status;
use rtmedia::ffi::video_budget::*;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

const EXT_ID: u8 = 3;
const LINK_BPS: u64 = 2_000_000;
const ONE_WAY_US: u64 = 20_000;

/// An RTP packet with a transport-seq element reserved (one-byte form).
fn rtp(buf: &mut [u8], seq: u16, payload: usize) -> usize {
    buf[..12].copy_from_slice(&[
        0x90,
        96,
        (seq >> 8) as u8,
        seq as u8,
        0,
        0,
        0,
        0,
        0,
        0,
        0x55,
        0x55,
    ]);
    buf[12..20].copy_from_slice(&[0xbe, 0xde, 0, 1, EXT_ID << 4 | 1, 0, 0, 0]);
    buf[20..20 + payload].fill(0x5a);
    20 + payload
}

struct Loop {
    bwe: *mut rtm_bwe_t,
    pacer: *mut rtm_pacer_t,
    rec: *mut rtm_feedback_recorder_t,
    video_budget: *mut rtm_video_budget_t,
    now: u64,
    tseq: u16,
    rtp_seq: u16,
    budget: f64,
    link_free: u64,
    /// (arrival time, transport seq, size), reserved up front.
    link: VecDeque<(u64, u16, usize)>,
    /// Feedback in flight back to the sender.
    feedback: VecDeque<(u64, usize, [u8; 1500])>,
    results: Vec<rtm_packet_result>,
    pkt: [u8; 1600],
    feedbacks: u64,
    sent: u64,
    /// Sum of the video budget's answers (so that they are used).
    video_bps: u64,
    probe_results: u64,
}

impl Loop {
    fn new() -> Self {
        let mut l = Loop {
            bwe: core::ptr::null_mut(),
            pacer: core::ptr::null_mut(),
            rec: core::ptr::null_mut(),
            video_budget: core::ptr::null_mut(),
            now: 0,
            tseq: 0,
            rtp_seq: 0,
            budget: 0.0,
            link_free: 0,
            link: VecDeque::with_capacity(8192),
            feedback: VecDeque::with_capacity(64),
            results: vec![rtm_packet_result::default(); 4096],
            pkt: [0; 1600],
            feedbacks: 0,
            sent: 0,
            video_bps: 0,
            probe_results: 0,
        };
        unsafe {
            assert_eq!(
                rtm_bwe_new(core::ptr::null(), 0, &mut l.bwe),
                rtm_status::RTM_OK
            );
            assert_eq!(
                rtm_pacer_new(core::ptr::null(), &mut l.pacer),
                rtm_status::RTM_OK
            );
            assert_eq!(
                rtm_feedback_recorder_new(core::ptr::null(), &mut l.rec),
                rtm_status::RTM_OK
            );
            assert_eq!(
                rtm_video_budget_new(core::ptr::null(), &mut l.video_budget),
                rtm_status::RTM_OK
            );
        }
        l
    }

    /// One millisecond of the loop.
    unsafe fn tick(&mut self) {
        let now = self.now;
        let mut est = rtm_bwe_estimate {
            struct_size: core::mem::size_of::<rtm_bwe_estimate>(),
            ..Default::default()
        };
        assert_eq!(rtm_bwe_handle_timeout(self.bwe, now), rtm_status::RTM_OK);
        assert_eq!(rtm_bwe_get_estimate(self.bwe, &mut est), rtm_status::RTM_OK);
        if now % 10_000 == 0 {
            let mut rates = rtm_video_budget_rates {
                struct_size: core::mem::size_of::<rtm_video_budget_rates>(),
                ..Default::default()
            };
            let st = rtm_video_budget_get(self.video_budget, now, est.target_bps, &mut rates);
            assert_eq!(st, rtm_status::RTM_OK);
            self.video_bps += rates.video_bps;
            let mut probe_bps = 0;
            let st = rtm_video_budget_probe_bps(
                self.video_budget,
                now,
                rates.video_bps * 2,
                est.target_bps,
                &mut probe_bps,
            );
            assert_eq!(st, rtm_status::RTM_OK);
            assert!(probe_bps > est.target_bps);
            let (mut at, mut bps) = (0, 0);
            if rtm_bwe_last_probe_result(self.bwe, &mut at, &mut bps) == rtm_status::RTM_OK {
                self.probe_results += 1;
            }
            rtm_pacer_set_target_bitrate(self.pacer, est.target_bps);
            self.budget += est.target_bps as f64 / 800.0;
            while self.budget >= 200.0 {
                let payload = (self.budget as usize).min(1100);
                self.budget -= payload as f64;
                let len = rtp(&mut self.pkt, self.rtp_seq, payload);
                self.rtp_seq = self.rtp_seq.wrapping_add(1);
                let st = rtm_pacer_push_copy(
                    self.pacer,
                    now,
                    0x5555,
                    RTM_PACKET_CLASS_VIDEO,
                    self.pkt.as_ptr(),
                    len,
                    false,
                );
                assert_eq!(st, rtm_status::RTM_OK);
            }
        }
        let mut probe = core::mem::MaybeUninit::<rtm_probe_cluster>::zeroed().assume_init();
        probe.struct_size = core::mem::size_of::<rtm_probe_cluster>();
        while rtm_bwe_poll_probe(self.bwe, now, &mut probe) == rtm_status::RTM_OK {
            assert_eq!(
                rtm_pacer_start_probe(self.pacer, now, &probe),
                rtm_status::RTM_OK
            );
        }
        let mut out = core::mem::MaybeUninit::<rtm_pacer_output>::zeroed().assume_init();
        out.struct_size = core::mem::size_of::<rtm_pacer_output>();
        while rtm_pacer_poll(self.pacer, now, &mut out) == rtm_status::RTM_OK {
            let len = if out.kind == RTM_PACER_OUTPUT_SEND {
                self.pkt[..out.len].copy_from_slice(core::slice::from_raw_parts(out.data, out.len));
                out.len
            } else {
                let len = rtp(&mut self.pkt, self.rtp_seq, out.len.min(1100));
                self.rtp_seq = self.rtp_seq.wrapping_add(1);
                len
            };
            let mut new_len = 0;
            let st = rtm_rtp_stamp_transport_seq(
                self.pkt.as_mut_ptr(),
                len,
                self.pkt.len(),
                EXT_ID,
                self.tseq,
                &mut new_len,
            );
            assert_eq!(st, rtm_status::RTM_OK);
            let st = rtm_bwe_on_sent(
                self.bwe,
                now,
                RTM_PACKET_ID_TRANSPORT_SEQ,
                0,
                self.tseq,
                new_len,
                out.probe_cluster,
            );
            assert_eq!(st, rtm_status::RTM_OK);
            let st = rtm_video_budget_on_sent(self.video_budget, now, out.packet_class, new_len);
            assert_eq!(st, rtm_status::RTM_OK);
            let mut seq = 0;
            let st = rtm_rtp_get_transport_seq(self.pkt.as_ptr(), new_len, EXT_ID, &mut seq);
            assert_eq!((st, seq), (rtm_status::RTM_OK, self.tseq));
            self.tseq = self.tseq.wrapping_add(1);
            self.sent += 1;
            self.link_free = self.link_free.max(now);
            if self.link_free - now < 300_000 && self.link.len() < self.link.capacity() {
                self.link_free += new_len as u64 * 8 * 1_000_000 / LINK_BPS;
                self.link
                    .push_back((self.link_free + ONE_WAY_US, seq, new_len));
            }
        }
        while let Some(&(at, seq, size)) = self.link.front() {
            if at > now {
                break;
            }
            self.link.pop_front();
            let st = rtm_feedback_recorder_on_transport_packet(self.rec, seq, size, at);
            assert_eq!(st, rtm_status::RTM_OK);
        }
        if self.feedback.len() < self.feedback.capacity() {
            let mut msg = [0u8; 1500];
            let mut len = 0;
            let st =
                rtm_feedback_recorder_poll(self.rec, now, msg.as_mut_ptr(), msg.len(), &mut len);
            if st == rtm_status::RTM_OK {
                self.feedback.push_back((now + ONE_WAY_US, len, msg));
            }
        }
        while let Some(&(at, len, ref msg)) = self.feedback.front() {
            if at > now {
                break;
            }
            // Alternate: parse into a caller array, or straight into the
            // estimator.
            if self.feedbacks % 2 == 0 {
                let mut count = 0;
                let st = rtm_cc_feedback_parse(
                    msg.as_ptr(),
                    len,
                    core::ptr::null_mut(),
                    self.results.as_mut_ptr(),
                    self.results.len(),
                    &mut count,
                );
                assert_eq!(st, rtm_status::RTM_OK);
                let st = rtm_bwe_on_feedback(self.bwe, now, self.results.as_ptr(), count);
                assert_eq!(st, rtm_status::RTM_OK);
            } else {
                let mut taken = 0;
                let st = rtm_bwe_on_rtcp(self.bwe, now, msg.as_ptr(), len, &mut taken);
                assert_eq!((st, taken), (rtm_status::RTM_OK, 1));
            }
            self.feedbacks += 1;
            self.feedback.pop_front();
        }
        self.now += 1000;
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        unsafe {
            rtm_bwe_free(self.bwe);
            rtm_pacer_free(self.pacer);
            rtm_feedback_recorder_free(self.rec);
            rtm_video_budget_free(self.video_budget);
        }
    }
}

#[test]
fn cc_c_functions_allocate_nothing_in_steady_state() {
    let mut l = Loop::new();
    // Warm-up: probes, the pools filled, queues at their working size.
    for _ in 0..5_000 {
        unsafe { l.tick() };
    }
    let (sent, feedbacks) = (l.sent, l.feedbacks);
    let n = allocations_in(|| {
        for _ in 0..5_000 {
            unsafe { l.tick() };
        }
    });
    assert_eq!(n, 0, "allocations in 5 s of the C congestion-control loop");
    assert!(l.sent - sent > 500, "{}", l.sent - sent);
    assert!(l.feedbacks - feedbacks > 40, "{}", l.feedbacks - feedbacks);
    assert!(l.video_bps > 0 && l.probe_results > 0);
    let mut est = rtm_bwe_estimate {
        struct_size: core::mem::size_of::<rtm_bwe_estimate>(),
        ..Default::default()
    };
    unsafe { rtm_bwe_get_estimate(l.bwe, &mut est) };
    assert!(
        (1_000_000..=2_200_000).contains(&est.target_bps),
        "{}",
        est.target_bps
    );
}
