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
use super::handle;
use super::{args, guard, rtm_status};

/// A jitter buffer for one RTP stream (opaque). Calls on one handle must not
/// overlap; it may move between threads.
pub struct rtm_jitter {
    pub(super) jb: JitterBuffer,
    /// The packet or frame handed out by the last pop; kept alive until the
    /// next call so its data pointer stays valid.
    out: Vec<Bytes>,
    /// Buffers of consumed copied packets, reused by `rtm_jitter_push_copy`.
    pool: BufferPool,
    /// Longest packet accepted.
    max_packet_bytes: usize,
    poisoned: bool,
}

/// The C name of the jitter buffer handle.
pub type rtm_jitter_t = rtm_jitter;

handle::poison_flag!(rtm_jitter);

impl rtm_jitter {
    /// Returns the previous pop's packets to the pool where possible.
    fn recycle_output(&mut self) {
        for packet in self.out.drain(..) {
            // A packet still held elsewhere is not reused.
            let _ = self.pool.recycle(packet);
        }
    }
}

/// Stream kind of a jitter buffer (`rtm_jitter_config.mode`,
/// `RTM_JITTER_AUDIO` or `RTM_JITTER_VIDEO_*`).
pub type rtm_jitter_mode = u8;
pub const RTM_JITTER_AUDIO: rtm_jitter_mode = 0;
pub const RTM_JITTER_VIDEO_VP8: rtm_jitter_mode = 1;
pub const RTM_JITTER_VIDEO_H264: rtm_jitter_mode = 2;
/// Video whose payload rtmedia cannot inspect: frames are assembled but
/// keyframes are not recognised (no keyframe waits).
pub const RTM_JITTER_VIDEO_OPAQUE: rtm_jitter_mode = 3;

/// Options of a jitter buffer (a growable struct): fill with
/// `rtm_jitter_config_init(&cfg, sizeof cfg, mode)`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_jitter_config {
    /// `sizeof` the caller's struct, set by `rtm_jitter_config_init`.
    pub struct_size: usize,
    /// RTM_JITTER_AUDIO or one of the RTM_JITTER_VIDEO_* kinds.
    pub mode: rtm_jitter_mode,
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
    /// Longest packet accepted, 12..=RTM_MAX_PACKET_BYTES_LIMIT; a push of a
    /// longer one returns RTM_ERR_TOO_LARGE. Bounds the memory the buffer
    /// holds: `capacity_packets` x this. Default
    /// RTM_DEFAULT_MAX_PACKET_BYTES (1500). (Appended in 0.2: a caller
    /// compiled without it gets the default.)
    pub max_packet_bytes: usize,
}

args::versioned!(rtm_jitter_event);
args::versioned_grown!(rtm_jitter_stats, first_new_field: nacked_packets);
args::versioned_grown!(rtm_jitter_config, first_new_field: max_packet_bytes);

/// Default of `max_packet_bytes`: an Ethernet MTU's worth.
pub const RTM_DEFAULT_MAX_PACKET_BYTES: usize = 1500;
/// Most `max_packet_bytes` may be (an RTP packet in one UDP datagram or
/// one RFC 4571 frame).
pub const RTM_MAX_PACKET_BYTES_LIMIT: usize = 65_535;

fn mode(code: rtm_jitter_mode) -> Result<Mode, rtm_status> {
    Ok(match code {
        RTM_JITTER_AUDIO => Mode::Audio,
        RTM_JITTER_VIDEO_VP8 => Mode::Video(Codec::Vp8),
        RTM_JITTER_VIDEO_H264 => Mode::Video(Codec::H264),
        RTM_JITTER_VIDEO_OPAQUE => Mode::Video(Codec::Opaque),
        _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
    })
}

/// Fills `*config` with the defaults for stream kind `mode` (audio: 48 kHz,
/// up to 500 ms; video: 90 kHz, up to 1 s) and sets `config->struct_size`
/// to `size` (pass `sizeof *config`). RTM_ERR_INVALID_ARGUMENT for an
/// unknown mode or a `size` that is not the sizeof of a released layout (nor larger). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_config_init(
    config: *mut rtm_jitter_config,
    size: usize,
    mode: rtm_jitter_mode,
) -> rtm_status {
    guard(|| args::init(config, size, default_config(mode)?))
}

fn default_config(kind: rtm_jitter_mode) -> Result<rtm_jitter_config, rtm_status> {
    let c = match mode(kind)? {
        Mode::Video(codec) => JitterConfig::video(codec),
        Mode::Audio => JitterConfig::audio(),
    };
    Ok(rtm_jitter_config {
        struct_size: core::mem::size_of::<rtm_jitter_config>(),
        mode: kind,
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
        max_packet_bytes: RTM_DEFAULT_MAX_PACKET_BYTES,
    })
}

/// Creates a jitter buffer; memory for `capacity_packets` is reserved here.
/// RTM_ERR_INVALID_ARGUMENT for an unknown mode, a clock rate or capacity
/// of 0, min > max delay, or capacity above 65536; RTM_ERR_UNSUPPORTED for
/// fields of a newer header this library does not know. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_new(
    config: *const rtm_jitter_config,
    out: *mut *mut rtm_jitter_t,
) -> rtm_status {
    guard(|| {
        if config.is_null() {
            return Err(rtm_status::RTM_ERR_NULL_POINTER);
        }
        // The defaults of the caller's mode fill what an older caller lacks.
        let caller_mode = (*config).mode;
        let c = args::read(config, default_config(caller_mode)?)?;
        let out = args::out(out)?;
        let invalid = c.clock_rate == 0
            || c.capacity_packets == 0
            || c.capacity_packets > 65_536
            || c.min_delay_us > c.max_delay_us
            || !(12..=RTM_MAX_PACKET_BYTES_LIMIT).contains(&c.max_packet_bytes);
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
            max_packet_bytes: c.max_packet_bytes,
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

/// Outcome of a push (`*result`, `RTM_JITTER_STORED` ...).
pub type rtm_jitter_push_result = i32;
pub const RTM_JITTER_STORED: rtm_jitter_push_result = 0;
pub const RTM_JITTER_DUPLICATE: rtm_jitter_push_result = 1;
pub const RTM_JITTER_TOO_LATE: rtm_jitter_push_result = 2;
pub const RTM_JITTER_RESET: rtm_jitter_push_result = 3;
/// A padding-only RTX packet (bandwidth probing): nothing stored.
pub const RTM_JITTER_IGNORED: rtm_jitter_push_result = 4;

fn pushed_code(p: Pushed) -> rtm_jitter_push_result {
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
/// late; `release` may be NULL if the memory needs no release).
/// RTM_ERR_TOO_LARGE for a packet longer than `max_packet_bytes`. `*result`
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
    result: *mut rtm_jitter_push_result,
) -> rtm_status {
    let packet = match CallerBuffer::adopt(jb, data, len, release, userdata) {
        Ok(packet) => packet,
        Err(status) => return status,
    };
    push_owned(jb, packet, now_us, false, result)
}

/// `rtm_jitter_push` of a packet the host knows is a retransmission (it
/// NACKed it and it came back on the media SSRC, without RTX): it fills its
/// gap but never feeds the delay estimate (a retransmission's lateness is
/// the round trip, not network jitter). RTX packets are recognised without
/// it. Otherwise as `rtm_jitter_push` (ownership of `data` passes whatever
/// the status).
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_push_retransmission(
    jb: *mut rtm_jitter_t,
    data: *mut u8,
    len: usize,
    release: rtm_release_fn,
    userdata: *mut c_void,
    now_us: u64,
    result: *mut rtm_jitter_push_result,
) -> rtm_status {
    let packet = match CallerBuffer::adopt(jb, data, len, release, userdata) {
        Ok(packet) => packet,
        Err(status) => return status,
    };
    push_owned(jb, packet, now_us, true, result)
}

unsafe fn push_owned(
    jb: *mut rtm_jitter_t,
    packet: Bytes,
    now_us: u64,
    retransmission: bool,
    result: *mut rtm_jitter_push_result,
) -> rtm_status {
    handle::with(jb, |h| {
        h.recycle_output();
        if packet.len() > h.max_packet_bytes {
            return Err(rtm_status::RTM_ERR_TOO_LARGE);
        }
        let pushed = if retransmission {
            h.jb.push_retransmission(packet, now_us)?
        } else {
            h.jb.push(packet, now_us)?
        };
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
    result: *mut rtm_jitter_push_result,
) -> rtm_status {
    push_copied(jb, data, len, now_us, false, result)
}

/// `rtm_jitter_push_copy` of a known retransmission: see
/// `rtm_jitter_push_retransmission`.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_push_copy_retransmission(
    jb: *mut rtm_jitter_t,
    data: *const u8,
    len: usize,
    now_us: u64,
    result: *mut rtm_jitter_push_result,
) -> rtm_status {
    push_copied(jb, data, len, now_us, true, result)
}

unsafe fn push_copied(
    jb: *mut rtm_jitter_t,
    data: *const u8,
    len: usize,
    now_us: u64,
    retransmission: bool,
    result: *mut rtm_jitter_push_result,
) -> rtm_status {
    handle::with(jb, |h| {
        let bytes = args::slice(data, len)?;
        h.recycle_output();
        if bytes.len() > h.max_packet_bytes {
            return Err(rtm_status::RTM_ERR_TOO_LARGE);
        }
        let packet = h.pool.copy(bytes);
        let pushed = if retransmission {
            h.jb.push_retransmission(packet, now_us)?
        } else {
            h.jb.push(packet, now_us)?
        };
        if let Some(r) = result.as_mut() {
            *r = pushed_code(pushed);
        }
        Ok(())
    })
}

/// Kind of an `rtm_jitter_event` (`RTM_JITTER_EVENT_*`).
pub type rtm_jitter_event_kind = u8;
pub const RTM_JITTER_EVENT_PACKET: rtm_jitter_event_kind = 1;
pub const RTM_JITTER_EVENT_LOST: rtm_jitter_event_kind = 2;
pub const RTM_JITTER_EVENT_FRAME: rtm_jitter_event_kind = 3;

/// One event from `rtm_jitter_pop` (a growable struct: set
/// `struct_size = sizeof` before the call).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_jitter_event {
    pub struct_size: usize,
    /// RTM_JITTER_EVENT_PACKET (audio), _LOST (audio: conceal), _FRAME (video).
    pub kind: rtm_jitter_event_kind,
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
    /// FRAME: number of packets; read them with `rtm_jitter_frame_packets`.
    pub packet_count: usize,
}

/// The next event due at `now_us`: RTM_OK with `*event` filled (set its
/// `struct_size` first), or RTM_NOTHING_DUE when nothing is due (come back
/// at `rtm_jitter_next_wakeup`). Call until RTM_NOTHING_DUE.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_pop(
    jb: *mut rtm_jitter_t,
    now_us: u64,
    event: *mut rtm_jitter_event,
) -> rtm_status {
    let mut due = true;
    let status = handle::with(jb, |h| {
        args::check_out(event)?;
        h.recycle_output();
        let mut e = rtm_jitter_event {
            struct_size: 0,
            kind: 0,
            fec_in_next: false,
            keyframe: false,
            seq: 0,
            timestamp: 0,
            data: core::ptr::null(),
            len: 0,
            packet_count: 0,
        };
        let Some(popped) = h.jb.pop(now_us) else {
            due = false;
            return Ok(());
        };
        match popped {
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
        args::write(event, e)
    });
    match status {
        rtm_status::RTM_OK if !due => rtm_status::RTM_NOTHING_DUE,
        s => s,
    }
}

/// The packets the last `rtm_jitter_pop` handed out, in order, in one call
/// (FRAME: the frame's packets; PACKET: the packet; LOST with
/// `fec_in_next`: the next packet; otherwise none): packet `i` is
/// `data[i][0..lens[i]]` for `i < *count`, valid until the next call on
/// this handle (other than this one). Writes at most `capacity` entries:
/// pass the event's `packet_count` to get a whole frame. Read-only.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_frame_packets(
    jb: *const rtm_jitter_t,
    data: *mut *const u8,
    lens: *mut usize,
    capacity: usize,
    count: *mut usize,
) -> rtm_status {
    handle::with_shared(jb, |h| {
        let data = args::slice_mut(data, capacity)?;
        let lens = args::slice_mut(lens, capacity)?;
        let count = args::out(count)?;
        let n = h.out.len().min(capacity);
        for (i, p) in h.out.iter().take(n).enumerate() {
            (data[i], lens[i]) = (p.as_ptr(), p.len());
        }
        *count = n;
        Ok(())
    })
}

/// When to call `rtm_jitter_pop` / `rtm_jitter_nack_list` next (µs, same
/// clock as `now_us`); RTM_NOTHING_DUE when nothing is pending.
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_next_wakeup(
    jb: *const rtm_jitter_t,
    out_us: *mut u64,
) -> rtm_status {
    let mut due = true;
    let status = handle::with_shared(jb, |h| {
        let out_us = args::out(out_us)?;
        match h.jb.next_wakeup() {
            Some(at) => *out_us = at,
            None => due = false,
        }
        Ok(())
    });
    match status {
        rtm_status::RTM_OK if !due => rtm_status::RTM_NOTHING_DUE,
        s => s,
    }
}

/// Counters with webrtc-stats meanings (seconds where webrtc-stats uses
/// seconds); a growable struct: set `struct_size = sizeof` before
/// `rtm_jitter_get_stats`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_jitter_stats {
    pub struct_size: usize,
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
    /// Distinct sequence numbers requested by NACK (`nack_count` counts
    /// requests, retries included).
    pub nacked_packets: u64,
    /// Packets whose RTP timestamp disagreed with their neighbours' and
    /// were judged a single outlier (played by sequence, not timestamp).
    pub timestamp_outliers: u64,
    /// Lasting timestamp jumps taken up (a stream restart, a talk spurt).
    pub timestamp_jumps: u64,
}

/// Copies the counters into `*out`, at most `out->struct_size` bytes (set
/// it to `sizeof *out` first).
#[no_mangle]
pub unsafe extern "C" fn rtm_jitter_get_stats(
    jb: *const rtm_jitter_t,
    out: *mut rtm_jitter_stats,
) -> rtm_status {
    handle::with_shared(jb, |h| {
        let s = h.jb.stats();
        let stats = rtm_jitter_stats {
            struct_size: 0,
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
            nacked_packets: s.nacked_packets,
            timestamp_outliers: s.timestamp_outliers,
            timestamp_jumps: s.timestamp_jumps,
        };
        args::write(out, stats)
    })
}
