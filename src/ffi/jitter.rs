//! Jitter buffers from C: a zero-copy push (ownership handed over with a
//! release callback), a copying push into a recycled buffer pool, and pop
//! events whose packet data stays valid until the next call on the handle.

use core::ffi::c_void;

use bytes::{Bytes, BytesMut};

use crate::codec::Codec;
use crate::jitter::{
    DelayConfig, Event, JitterBuffer, JitterConfig, Mode, NackConfig, Pushed, RtxConfig,
};

use super::buffers::{BufferPool, CallerBuffer};
use super::handle::{self, Poison};
use super::{args, guard, rtm_status};

/// A jitter buffer for one RTP stream (opaque). Calls on one handle must not
/// overlap; it may move between threads.
pub struct rtm_jitter {
    jb: JitterBuffer,
    /// The packet or frame handed out by the last pop; kept alive until the
    /// next call so its data pointer stays valid.
    out: Vec<Bytes>,
    /// Buffers of consumed copied packets, reused by `rtm_jitter_push_copy`.
    pool: BufferPool,
    poisoned: bool,
}

/// The C name of the jitter buffer handle.
pub type rtm_jitter_t = rtm_jitter;

impl Poison for rtm_jitter {
    fn poisoned(&mut self) -> &mut bool {
        &mut self.poisoned
    }
}

impl rtm_jitter {
    /// Returns the previous pop's packets to the pool where possible.
    fn recycle_output(&mut self) {
        for packet in self.out.drain(..) {
            // A packet still held elsewhere is not reused.
            let _ = self.pool.recycle(packet);
        }
    }
}

/// Stream kinds (`rtm_jitter_config.mode`).
pub const RTM_JITTER_AUDIO: u8 = 0;
pub const RTM_JITTER_VIDEO_VP8: u8 = 1;
pub const RTM_JITTER_VIDEO_H264: u8 = 2;
/// Video whose payload rtmedia cannot inspect: frames are assembled but
/// keyframes are not recognised (no keyframe waits).
pub const RTM_JITTER_VIDEO_OPAQUE: u8 = 3;

/// Options of a jitter buffer; fill with `rtm_jitter_config_default`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_jitter_config {
    /// RTM_JITTER_AUDIO or one of the RTM_JITTER_VIDEO_* kinds.
    pub mode: u8,
    /// RTP clock rate (48000 for Opus, 90000 for video).
    pub clock_rate: u32,
    /// Most packets held; rounded up to a power of two.
    pub capacity_packets: u32,
    pub min_delay_us: u32,
    pub max_delay_us: u32,
    /// A fixed delay instead of adaptation; 0 = adaptive.
    pub fixed_delay_us: u32,
    pub nack_enabled: bool,
    pub nack_max_retries: u8,
    /// Wait after noticing a gap before the first NACK (reordering).
    pub nack_reorder_wait_us: u32,
    /// Round trips of extra delay to hold while losses are seen, so that
    /// retransmissions arrive in time (0 = none; default 0 for audio, 1 for
    /// video).
    pub nack_delay_rtts: f32,
    /// Recognise RTX packets (RFC 4588) of `rtx_ssrc` and restore them to
    /// `media_ssrc` / `media_payload_type`.
    pub rtx_enabled: bool,
    pub rtx_ssrc: u32,
    pub media_ssrc: u32,
    pub media_payload_type: u8,
    /// Least time between keyframe requests (video).
    pub keyframe_request_interval_us: u32,
}

fn mode(code: u8) -> Result<Mode, rtm_status> {
    Ok(match code {
        RTM_JITTER_AUDIO => Mode::Audio,
        RTM_JITTER_VIDEO_VP8 => Mode::Video(Codec::Vp8),
        RTM_JITTER_VIDEO_H264 => Mode::Video(Codec::H264),
        RTM_JITTER_VIDEO_OPAQUE => Mode::Video(Codec::Opaque),
        _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
    })
}

/// Defaults for a stream kind (audio: 48 kHz, up to 500 ms; video: 90 kHz,
/// up to 1 s); an unknown kind gives the audio defaults. Thread-safe.
#[no_mangle]
pub extern "C" fn rtm_jitter_config_default(kind: u8) -> rtm_jitter_config {
    let c = match mode(kind) {
        Ok(Mode::Video(codec)) => JitterConfig::video(codec),
        _ => JitterConfig::audio(),
    };
    rtm_jitter_config {
        mode: if matches!(c.mode, Mode::Audio) {
            RTM_JITTER_AUDIO
        } else {
            kind
        },
        clock_rate: c.clock_rate,
        capacity_packets: c.capacity_packets as u32,
        min_delay_us: c.delay.min_delay_us as u32,
        max_delay_us: c.delay.max_delay_us as u32,
        fixed_delay_us: 0,
        nack_enabled: c.nack.enabled,
        nack_max_retries: c.nack.max_retries,
        nack_reorder_wait_us: c.nack.reorder_wait_us as u32,
        nack_delay_rtts: c.nack.delay_rtts as f32,
        rtx_enabled: false,
        rtx_ssrc: 0,
        media_ssrc: 0,
        media_payload_type: 0,
        keyframe_request_interval_us: c.keyframe_request_interval_us as u32,
    }
}

/// Creates a jitter buffer; memory for `capacity_packets` is reserved here.
/// RTM_ERR_INVALID_ARGUMENT for an unknown mode, a clock rate or capacity
/// of 0, min > max delay, or capacity above 65536. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_new(
    config: *const rtm_jitter_config,
    out: *mut *mut rtm_jitter_t,
) -> rtm_status {
    guard(|| {
        let c = args::input(config)?;
        let out = args::out(out)?;
        let invalid = c.clock_rate == 0
            || c.capacity_packets == 0
            || c.capacity_packets > 65_536
            || c.min_delay_us > c.max_delay_us;
        if invalid {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let config = JitterConfig {
            mode: mode(c.mode)?,
            clock_rate: c.clock_rate,
            capacity_packets: c.capacity_packets as usize,
            delay: DelayConfig {
                min_delay_us: u64::from(c.min_delay_us),
                max_delay_us: u64::from(c.max_delay_us),
                fixed_delay_us: (c.fixed_delay_us > 0).then_some(u64::from(c.fixed_delay_us)),
                ..DelayConfig::default()
            },
            nack: NackConfig {
                enabled: c.nack_enabled,
                max_retries: c.nack_max_retries,
                reorder_wait_us: u64::from(c.nack_reorder_wait_us),
                delay_rtts: f64::from(c.nack_delay_rtts.clamp(0.0, 16.0)),
            },
            rtx: c.rtx_enabled.then_some(RtxConfig {
                rtx_ssrc: c.rtx_ssrc,
                media_ssrc: c.media_ssrc,
                media_payload_type: c.media_payload_type,
            }),
            keyframe_request_interval_us: u64::from(c.keyframe_request_interval_us),
        };
        let jb = JitterBuffer::new(config);
        let capacity = config.capacity_packets.next_power_of_two();
        *out = handle::into_raw(rtm_jitter {
            jb,
            out: Vec::with_capacity(capacity),
            pool: BufferPool::new(capacity, || BytesMut::with_capacity(1500)),
            poisoned: false,
        });
        Ok(())
    })
}

/// Frees a jitter buffer; packets still held are released (their release
/// callbacks run now, on this thread). NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_free(jb: *mut rtm_jitter_t) {
    handle::free(jb)
}

/// Called once when rtmedia no longer needs a packet handed over with
/// `rtm_jitter_push`. It runs on whichever thread drops the last reference:
/// a thread calling into this jitter buffer (push, pop, free). Must not
/// call back into the same handle.
pub type rtm_release_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, data: *mut u8, len: usize)>;

/// Outcome of a push (`*result`).
pub const RTM_JITTER_STORED: i32 = 0;
pub const RTM_JITTER_DUPLICATE: i32 = 1;
pub const RTM_JITTER_TOO_LATE: i32 = 2;
pub const RTM_JITTER_RESET: i32 = 3;
/// A padding-only RTX packet (bandwidth probing): nothing stored.
pub const RTM_JITTER_IGNORED: i32 = 4;

fn pushed_code(p: Pushed) -> i32 {
    match p {
        Pushed::Stored => RTM_JITTER_STORED,
        Pushed::Duplicate => RTM_JITTER_DUPLICATE,
        Pushed::TooLate => RTM_JITTER_TOO_LATE,
        Pushed::Reset => RTM_JITTER_RESET,
        Pushed::Ignored => RTM_JITTER_IGNORED,
    }
}

/// Zero-copy push of the RTP packet `data[0..len]` that arrived at `now_us`
/// (monotonic µs). Ownership of `data` passes to rtmedia whatever the status:
/// `release(userdata, data, len)` is called exactly once when it is no
/// longer needed (at once if the packet is rejected, a duplicate or too
/// late; `release` may be NULL if the memory needs no release). `*result`
/// (may be NULL) receives RTM_JITTER_STORED/DUPLICATE/TOO_LATE/RESET/IGNORED.
/// Costs one small allocation for the ownership record; use
/// `rtm_jitter_push_copy` for an allocation-free path.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_push(
    jb: *mut rtm_jitter_t,
    data: *mut u8,
    len: usize,
    release: rtm_release_fn,
    userdata: *mut c_void,
    now_us: u64,
    result: *mut i32,
) -> rtm_status {
    let packet = match CallerBuffer::adopt(jb, data, len, release, userdata) {
        Ok(packet) => packet,
        Err(status) => return status,
    };
    handle::with(jb, |h| {
        h.recycle_output();
        let pushed = h.jb.push(packet, now_us)?;
        if let Some(r) = result.as_mut() {
            *r = pushed_code(pushed);
        }
        Ok(())
    })
}

/// Copying push: `data[0..len]` is copied (into a recycled buffer: no
/// allocation in steady state) and may be reused as soon as this returns.
/// Otherwise as `rtm_jitter_push`.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_push_copy(
    jb: *mut rtm_jitter_t,
    data: *const u8,
    len: usize,
    now_us: u64,
    result: *mut i32,
) -> rtm_status {
    handle::with(jb, |h| {
        let bytes = args::slice(data, len)?;
        h.recycle_output();
        let pushed = h.jb.push(h.pool.copy(bytes), now_us)?;
        if let Some(r) = result.as_mut() {
            *r = pushed_code(pushed);
        }
        Ok(())
    })
}

/// Kinds of `rtm_jitter_event`.
pub const RTM_JITTER_EVENT_PACKET: u8 = 1;
pub const RTM_JITTER_EVENT_LOST: u8 = 2;
pub const RTM_JITTER_EVENT_FRAME: u8 = 3;

/// One event from `rtm_jitter_pop`. Layout frozen for ABI version 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_jitter_event {
    /// RTM_JITTER_EVENT_PACKET (audio), _LOST (audio: conceal), _FRAME (video).
    pub kind: u8,
    /// LOST: the next packet is held (`data`/`len` point at it); decode its
    /// in-band FEC for this one. The packet still comes as its own event.
    pub fec_in_next: bool,
    /// FRAME: the frame is a keyframe.
    pub keyframe: bool,
    /// Extended (unwrapped) sequence number; FRAME: of its first packet.
    pub seq: i64,
    /// Extended (unwrapped) RTP timestamp.
    pub timestamp: i64,
    /// PACKET: the whole RTP packet; FRAME: its first packet; LOST with
    /// `fec_in_next`: the next packet (NULL otherwise). Valid until the next
    /// call on this handle.
    pub data: *const u8,
    pub len: usize,
    /// FRAME: number of packets; read each with `rtm_jitter_frame_packet`.
    pub packet_count: usize,
}

/// The next event due at `now_us`: RTM_OK with `*event` filled, or
/// RTM_ERR_NOT_FOUND when nothing is due (come back at
/// `rtm_jitter_next_wakeup`). Call until RTM_ERR_NOT_FOUND.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_pop(
    jb: *mut rtm_jitter_t,
    now_us: u64,
    event: *mut rtm_jitter_event,
) -> rtm_status {
    handle::with(jb, |h| {
        let event = args::out(event)?;
        h.recycle_output();
        let mut e = rtm_jitter_event {
            kind: 0,
            fec_in_next: false,
            keyframe: false,
            seq: 0,
            timestamp: 0,
            data: core::ptr::null(),
            len: 0,
            packet_count: 0,
        };
        match h.jb.pop(now_us).ok_or(rtm_status::RTM_ERR_NOT_FOUND)? {
            Event::Packet {
                packet,
                seq,
                timestamp,
            } => {
                e.kind = RTM_JITTER_EVENT_PACKET;
                (e.seq, e.timestamp, e.packet_count) = (seq, timestamp, 1);
                h.out.push(packet);
            }
            Event::Lost {
                seq,
                timestamp,
                fec,
            } => {
                e.kind = RTM_JITTER_EVENT_LOST;
                (e.seq, e.timestamp, e.fec_in_next) = (seq, timestamp, fec.is_some());
                h.out.extend(fec);
            }
            Event::Frame {
                packets,
                first_seq,
                timestamp,
                keyframe,
            } => {
                e.kind = RTM_JITTER_EVENT_FRAME;
                (e.seq, e.timestamp, e.keyframe, e.packet_count) =
                    (first_seq, timestamp, keyframe, packets.len());
                h.out.extend(packets.iter().cloned());
            }
        }
        if let Some(first) = h.out.first() {
            (e.data, e.len) = (first.as_ptr(), first.len());
        }
        *event = e;
        Ok(())
    })
}

/// Packet `index` of the frame returned by the last `rtm_jitter_pop`:
/// `*data`/`*len` valid until the next call on this handle.
/// RTM_ERR_NOT_FOUND if `index` is past the frame's packets.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_frame_packet(
    jb: *mut rtm_jitter_t,
    index: usize,
    data: *mut *const u8,
    len: *mut usize,
) -> rtm_status {
    handle::with(jb, |h| {
        let data = args::out(data)?;
        let len = args::out(len)?;
        let p = h.out.get(index).ok_or(rtm_status::RTM_ERR_NOT_FOUND)?;
        (*data, *len) = (p.as_ptr(), p.len());
        Ok(())
    })
}

/// When to call `rtm_jitter_pop` / `rtm_jitter_nack_list` next (µs, same
/// clock as `now_us`); RTM_ERR_NOT_FOUND when nothing is pending.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_next_wakeup(
    jb: *mut rtm_jitter_t,
    out_us: *mut u64,
) -> rtm_status {
    handle::with_out(jb, out_us, |h| {
        h.jb.next_wakeup().ok_or(rtm_status::RTM_ERR_NOT_FOUND)
    })
}

/// Writes the sequence numbers to NACK now into `seqs[0..capacity]`
/// (`*count` of them, oldest first) and marks them requested; build the
/// RTCP packet with `rtm_rtcp_build_nack`.
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

/// `*out` is true when a keyframe request (PLI) should be sent now
/// (rate-limited); reading it clears it.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_take_keyframe_request(
    jb: *mut rtm_jitter_t,
    out: *mut bool,
) -> rtm_status {
    handle::with_out(jb, out, |h| Ok(h.jb.take_keyframe_request()))
}

/// Counters with webrtc-stats meanings (seconds where webrtc-stats uses
/// seconds). New fields are only ever appended.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_jitter_stats {
    pub packets_received: u64,
    pub packets_lost: u64,
    pub packets_discarded: u64,
    pub packets_duplicated: u64,
    pub retransmitted_packets_received: u64,
    pub jitter: f64,
    pub jitter_buffer_delay: f64,
    pub jitter_buffer_target_delay: f64,
    pub jitter_buffer_emitted_count: u64,
    pub concealment_events: u64,
    pub nack_count: u64,
    pub frames_dropped: u64,
    pub frames_decoded: u64,
    pub key_frames_decoded: u64,
    pub keyframe_requests: u64,
    pub resets: u64,
    /// Current target delay, µs.
    pub target_delay_us: u64,
}

/// Copies the counters into `*out`, writing at most `stats_size` bytes
/// (pass `sizeof(rtm_jitter_stats)`).
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_get_stats(
    jb: *mut rtm_jitter_t,
    out: *mut rtm_jitter_stats,
    stats_size: usize,
) -> rtm_status {
    handle::with(jb, |h| {
        if out.is_null() {
            return Err(rtm_status::RTM_ERR_NULL_POINTER);
        }
        let s = h.jb.stats();
        let stats = rtm_jitter_stats {
            packets_received: s.packets_received,
            packets_lost: s.packets_lost,
            packets_discarded: s.packets_discarded,
            packets_duplicated: s.packets_duplicated,
            retransmitted_packets_received: s.retransmitted_packets_received,
            jitter: s.jitter,
            jitter_buffer_delay: s.jitter_buffer_delay,
            jitter_buffer_target_delay: s.jitter_buffer_target_delay,
            jitter_buffer_emitted_count: s.jitter_buffer_emitted_count,
            concealment_events: s.concealment_events,
            nack_count: s.nack_count,
            frames_dropped: s.frames_dropped,
            frames_decoded: s.frames_decoded,
            key_frames_decoded: s.key_frames_decoded,
            keyframe_requests: s.keyframe_requests,
            resets: s.resets,
            target_delay_us: h.jb.target_delay_us(),
        };
        args::write_versioned(&stats, out, stats_size);
        Ok(())
    })
}
