//! The simulcast source from C (`rtm_source_*`): one per published video
//! track, fed with received, decrypted RTP packets.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::codec::Codec;
use crate::simulcast::{Source, SourceConfig, SourceError, SourcePacket, SourceStats, MAX_SPATIAL};

use super::buffers::{shared_buffer, BufferPool, CallerBuffer};
use super::handle;
use super::jitter::{rtm_release_fn, RTM_DEFAULT_MAX_PACKET_BYTES, RTM_MAX_PACKET_BYTES_LIMIT};
use super::simulcast::*;
use super::{args, guard, rtm_status};

/// One published video track: its simulcast SSRCs, lowest resolution first
/// (opaque). Create with `rtm_source_new`, free with `rtm_source_free`.
/// Calls that change it (push, on_rtcp, set_rtt, request_keyframe,
/// poll_keyframe_request, free) must not overlap with any other call on it;
/// the functions that take it as `const rtm_source_t *` (forward,
/// retransmit, set_available_bitrate, bitrates, get_stats) only read it and
/// may run on several threads at once (e.g. one per forwarder). It may move
/// between threads.
pub struct rtm_source {
    pub(super) source: Source,
    /// The packet of the last successful push, what forwarders forward.
    pub(super) current: Option<SourcePacket>,
    /// Empty buffers for `rtm_source_push_copy`.
    pool: BufferPool,
    /// Copied packets, per spatial layer, oldest first: each goes back to
    /// the pool once the history has let go of it.
    issued: [VecDeque<Bytes>; MAX_SPATIAL],
    issued_limit: usize,
    poisoned: bool,
}

/// The C name of the source handle.
pub type rtm_source_t = rtm_source;

handle::poison_flag!(rtm_source);

// Read-only calls share `&rtm_source` between threads.
fn _source_is_thread_safe() {
    fn check<T: Send + Sync>() {}
    check::<rtm_source>();
}

impl rtm_source {
    /// Moves copied packets that nothing else holds any more back to the
    /// pool, oldest first, for layer `spatial`.
    fn recycle(&mut self, spatial: usize) {
        let issued = &mut self.issued[spatial];
        while let Some(front) = issued.pop_front() {
            match self.pool.recycle(front) {
                Ok(()) => {}
                Err(still_held) => {
                    if issued.len() >= self.issued_limit {
                        // Stuck behind a reordered packet: stop tracking it
                        // (it is freed normally when the history drops it).
                        drop(still_held);
                        continue;
                    }
                    issued.push_front(still_held);
                    break;
                }
            }
        }
    }

    /// Parses `bytes` into the current packet. `copied`: the buffer came
    /// from the pool and should return to it.
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
        self.current = None;
        let kept = copied.then(|| bytes.clone());
        let result = self.source.on_rtp(bytes, now_us);
        let packet = match result {
            Ok(packet) => packet,
            Err(e) => {
                if let Some(kept) = kept {
                    // Back to the pool unless a clone escaped.
                    let _ = self.pool.recycle(kept);
                }
                return Err(match e {
                    SourceError::UnknownSsrc(_) => rtm_status::RTM_ERR_NOT_FOUND,
                    SourceError::Malformed(p) => p.into(),
                    SourceError::BadLayers => rtm_status::RTM_ERR_INVALID_ARGUMENT,
                    SourceError::TooLarge(_) => rtm_status::RTM_ERR_TOO_LARGE,
                });
            }
        };
        let spatial = usize::from(packet.spatial);
        if let Some(kept) = kept {
            self.issued[spatial].push_back(kept);
        }
        self.recycle(spatial);
        if !info.is_null() {
            // SAFETY (caller): `info` is valid for its `struct_size` bytes,
            // checked before the push.
            unsafe { args::write(info, packet_info(&packet))? };
        }
        self.current = Some(packet);
        Ok(())
    }
}

/// Options of a source (a growable struct): fill with
/// `rtm_source_config_init(&cfg, sizeof cfg)`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_source_config {
    /// `sizeof` the caller's struct, set by `rtm_source_config_init`.
    pub struct_size: usize,
    /// RTM_SOURCE_CODEC_VP8 (temporal layers, PictureIDs), _H264 or
    /// _OPAQUE. Default VP8.
    pub codec: rtm_source_codec,
    /// RTP clock rate, > 0. Default 90000.
    pub clock_rate: u32,
    /// Most packets kept per spatial layer to answer NACKs,
    /// 1..=RTM_SIMULCAST_MAX_HISTORY (rounded up to a power of two). The
    /// history starts at 64 packets per layer and doubles (allocating, a few
    /// times in a layer's life) whenever it would drop a packet younger
    /// than 2 s, up to this. Default 1024.
    pub history_packets: u32,
    /// A spatial layer without media for this long is not alive (padding
    /// does not count), µs. Default 1000000.
    pub inactive_after_us: u64,
    /// Least time between two keyframe requests for one SSRC, µs.
    /// Default 300000.
    pub keyframe_retry_min_us: u64,
    /// Longest packet accepted, 12..=RTM_MAX_PACKET_BYTES_LIMIT; a push of
    /// a longer one returns RTM_ERR_TOO_LARGE (counted in `oversize`).
    /// Bounds the history's memory: layers x `history_packets` x this.
    /// Default RTM_DEFAULT_MAX_PACKET_BYTES (1500). (Appended in 0.2.)
    pub max_packet_bytes: usize,
}

pub(super) fn codec_code(codec: Codec) -> rtm_source_codec {
    match codec {
        Codec::Vp8 => RTM_SOURCE_CODEC_VP8,
        Codec::H264 => RTM_SOURCE_CODEC_H264,
        Codec::Opaque => RTM_SOURCE_CODEC_OPAQUE,
    }
}

args::versioned!(rtm_source_packet_info);
args::versioned_grown!(rtm_source_config, first_new_field: max_packet_bytes);
args::versioned_grown!(rtm_source_stats, first_new_field: oversize);

fn default_config() -> rtm_source_config {
    let d = SourceConfig::default();
    rtm_source_config {
        struct_size: core::mem::size_of::<rtm_source_config>(),
        codec: codec_code(d.codec),
        clock_rate: d.clock_rate,
        history_packets: d.history_packets as u32,
        inactive_after_us: d.inactive_after_us,
        keyframe_retry_min_us: d.keyframe_retry_min_us,
        max_packet_bytes: RTM_DEFAULT_MAX_PACKET_BYTES,
    }
}

/// Fills `*config` with the defaults and sets `config->struct_size` to
/// `size` (pass `sizeof *config`). RTM_ERR_INVALID_ARGUMENT when `size` is
/// that is not the sizeof of a released layout (nor larger). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_config_init(
    config: *mut rtm_source_config,
    size: usize,
) -> rtm_status {
    guard(|| args::init(config, size, default_config()))
}

fn source_config(c: &rtm_source_config) -> Result<SourceConfig, rtm_status> {
    let codec = match c.codec {
        RTM_SOURCE_CODEC_VP8 => Codec::Vp8,
        RTM_SOURCE_CODEC_H264 => Codec::H264,
        RTM_SOURCE_CODEC_OPAQUE => Codec::Opaque,
        _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
    };
    if c.clock_rate == 0
        || c.history_packets == 0
        || c.history_packets > RTM_SIMULCAST_MAX_HISTORY
        || !(12..=RTM_MAX_PACKET_BYTES_LIMIT).contains(&c.max_packet_bytes)
    {
        return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
    }
    Ok(SourceConfig {
        codec,
        clock_rate: c.clock_rate,
        history_packets: c.history_packets as usize,
        inactive_after_us: c.inactive_after_us,
        keyframe_retry_min_us: c.keyframe_retry_min_us,
    })
}

/// Creates a source whose spatial layers have the SSRCs `ssrcs[0..n]`,
/// lowest resolution first (layer i is `ssrcs[i]`); the array is copied.
/// `config` may be NULL for the defaults. On success `*out` owns the
/// source. RTM_ERR_INVALID_ARGUMENT for a config
/// field out of range, `n` of 0 or above RTM_SIMULCAST_MAX_SPATIAL, or an
/// SSRC given twice. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_new(
    config: *const rtm_source_config,
    ssrcs: *const u32,
    n: usize,
    out: *mut *mut rtm_source_t,
) -> rtm_status {
    guard(|| {
        if n == 0 || n > MAX_SPATIAL {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let c = if config.is_null() {
            default_config()
        } else {
            args::read(config, default_config())?
        };
        let ssrcs = args::slice(ssrcs, n)?;
        let out = args::out(out)?;
        let config = source_config(&c)?;
        let mut source =
            Source::new(config, ssrcs).map_err(|_| rtm_status::RTM_ERR_INVALID_ARGUMENT)?;
        source.set_max_packet_len(c.max_packet_bytes);
        let history = config.history_packets.next_power_of_two();
        let issued_limit = history + 8;
        *out = handle::into_raw(rtm_source {
            source,
            current: None,
            pool: BufferPool::new(64, shared_buffer),
            issued: core::array::from_fn(|s| {
                VecDeque::with_capacity(if s < n { issued_limit + 1 } else { 0 })
            }),
            issued_limit,
            poisoned: false,
        });
        Ok(())
    })
}

/// Frees a source; packets it still holds are released (the release
/// callbacks of zero-copy pushes run now, on this thread). No call may use
/// it afterwards; forwarders keep no pointer to it, so they may outlive it.
/// NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_free(src: *mut rtm_source_t) {
    handle::free(src)
}

/// What a push found in a packet (a growable struct: set
/// `struct_size = sizeof` before passing it to a push).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_source_packet_info {
    pub struct_size: usize,
    /// Spatial layer (index of the packet's SSRC in the source's list).
    pub spatial: u8,
    /// VP8 temporal layer (TID), or -1 when the packet carries none.
    pub temporal: i8,
    /// VP8 Y bit: the frame depends only on TL0 frames.
    pub layer_sync: bool,
    /// First packet of a keyframe.
    pub keyframe: bool,
    /// First packet of a frame: 1 yes, 0 no, -1 the codec does not say.
    pub frame_start: i8,
    /// The RTP marker bit.
    pub marker: bool,
    /// No payload (a padding-only bandwidth probe).
    pub padding_only: bool,
    /// The packet's SSRC.
    pub ssrc: u32,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Sequence number extended to 64 bits, per layer (starts at 65536 +
    /// the first sequence number).
    pub ext_seq: u64,
    /// VP8 PictureID extended to 64 bits, per layer, or -1 when none.
    pub ext_picture_id: i64,
    /// Capture time in µs of the sender's NTP clock (from the layer's last
    /// sender report); valid only when `has_capture_time`.
    pub capture_us: i64,
    pub has_capture_time: bool,
    /// Length of the packet.
    pub len: usize,
    /// Bytes `rtm_forwarder_forward` needs in its output buffer for this
    /// packet: `len`, plus one when a 7-bit PictureID is widened.
    pub forwarded_len: usize,
}

pub(super) fn packet_info(p: &SourcePacket) -> rtm_source_packet_info {
    rtm_source_packet_info {
        struct_size: 0,
        spatial: p.spatial,
        temporal: p.temporal.map_or(-1, |t| t as i8),
        layer_sync: p.layer_sync,
        keyframe: p.keyframe,
        frame_start: p.frame_start.map_or(-1, i8::from),
        marker: p.marker,
        padding_only: p.padding_only,
        ssrc: u32::from_be_bytes([p.bytes[8], p.bytes[9], p.bytes[10], p.bytes[11]]),
        timestamp: p.timestamp,
        ext_seq: p.ext_seq,
        ext_picture_id: p.ext_picture_id.map_or(-1, |v| v as i64),
        capture_us: p.capture_us.unwrap_or(0),
        has_capture_time: p.capture_us.is_some(),
        len: p.bytes.len(),
        forwarded_len: p.forwarded_len(),
    }
}

/// Zero-copy push of a received, decrypted RTP packet `data[0..len]` of
/// this source that arrived at `now_us` (monotonic µs). On RTM_OK it becomes
/// the source's current packet, which `rtm_forwarder_forward` forwards,
/// until the next push on this source (any push, even a failed one, ends
/// it), and `*info` (may be NULL; set its `struct_size` first) describes it.
///
/// Ownership of `data` passes to rtmedia whatever the status (also on
/// RTM_ERR_NULL_POINTER for a NULL `src`): `release(userdata, data, len)`
/// is called exactly once when rtmedia no longer needs it (at once if the
/// packet is refused; `release` may be NULL). The source keeps packets for
/// retransmissions (`history_packets` per layer), so a buffer is typically
/// released only that many packets later, or by `rtm_source_free`. The
/// callback may run on any thread the source is used on: the one of the
/// call that drops the last reference (a push on this source or
/// `rtm_source_free`); it must not call into this source. Costs one small allocation for the ownership record;
/// `rtm_source_push_copy` has none in steady state.
///
/// RTM_ERR_NOT_FOUND for an SSRC that is not one of this source's; a parse
/// status (RTM_ERR_TRUNCATED, RTM_ERR_BAD_VERSION, ...) for a malformed RTP
/// header or VP8 descriptor; RTM_ERR_TOO_LARGE for a packet longer than
/// `max_packet_bytes`. All are counted in the stats.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_push(
    src: *mut rtm_source_t,
    data: *mut u8,
    len: usize,
    release: rtm_release_fn,
    userdata: *mut core::ffi::c_void,
    now_us: u64,
    info: *mut rtm_source_packet_info,
) -> rtm_status {
    let packet = match CallerBuffer::adopt(src, data, len, release, userdata) {
        Ok(packet) => packet,
        Err(status) => return status,
    };
    handle::with(src, |h| h.push(packet, false, now_us, info))
}

/// Copying push: `data[0..len]` is copied into a recycled buffer (no
/// allocation in steady state) and may be reused as soon as this returns.
/// Otherwise as `rtm_source_push`.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_push_copy(
    src: *mut rtm_source_t,
    data: *const u8,
    len: usize,
    now_us: u64,
    info: *mut rtm_source_packet_info,
) -> rtm_status {
    handle::with(src, |h| {
        let bytes = args::slice(data, len)?;
        // Checked before the copy: an oversized packet never grows a pool
        // buffer.
        if !h.source.admits(bytes.len()) {
            h.current = None;
            return Err(rtm_status::RTM_ERR_TOO_LARGE);
        }
        let packet = h.pool.copy(bytes);
        h.push(packet, true, now_us, info)
    })
}

/// Takes the sender reports of this source's SSRCs from a decrypted
/// (compound) RTCP packet `data[0..len]`: they align timestamps across
/// layers at a switch. `*used` (may be NULL) receives how many reports were
/// used; other packets are ignored, and a malformed packet stops the scan
/// (RTM_OK still).
#[no_mangle]
pub unsafe extern "C" fn rtm_source_on_rtcp(
    src: *mut rtm_source_t,
    data: *const u8,
    len: usize,
    used: *mut usize,
) -> rtm_status {
    handle::with(src, |h| {
        let data = args::slice(data, len)?;
        let n = h.source.on_rtcp(data);
        if let Some(used) = used.as_mut() {
            *used = n;
        }
        Ok(())
    })
}

/// Sets the round-trip time to the publisher, µs (spaces out repeated
/// keyframe requests). Default 100000.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_set_rtt(src: *mut rtm_source_t, rtt_us: u64) -> rtm_status {
    handle::with(src, |h| {
        h.source.set_rtt(rtt_us);
        Ok(())
    })
}

/// A read-only source handle, for the calls that only read it.
///
/// # Safety
/// `src` is NULL or a live source that no call changes meanwhile.
pub(super) unsafe fn source_ref<'a>(
    src: *const rtm_source_t,
) -> Result<&'a rtm_source, rtm_status> {
    let s = src.as_ref().ok_or(rtm_status::RTM_ERR_NULL_POINTER)?;
    if s.poisoned {
        return Err(rtm_status::RTM_ERR_PANIC);
    }
    Ok(s)
}

/// The measured bitrates of the source's alive layers over the last second
/// at `now_us`, into `*out`. Reads the source only.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_bitrates(
    src: *const rtm_source_t,
    now_us: u64,
    out: *mut rtm_layer_bitrates,
) -> rtm_status {
    guard(|| {
        let s = source_ref(src)?;
        let out = args::out(out)?;
        out.bps = s.source.bitrates(now_us).0;
        Ok(())
    })
}

/// Writes the bytes of each spatial layer's last complete keyframe into
/// `out[0..RTM_SIMULCAST_MAX_SPATIAL]` (0 for a layer without one yet): what
/// a switch to that layer sends at once, for `rtm_track_demand.keyframe_bytes`.
/// `src` is only read.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_keyframe_bytes(
    src: *const rtm_source_t,
    out: *mut u64,
) -> rtm_status {
    guard(|| {
        let s = source_ref(src)?;
        let out = args::slice_mut(out, RTM_SIMULCAST_MAX_SPATIAL)?;
        out.copy_from_slice(&s.source.keyframe_bytes());
        Ok(())
    })
}

/// A subscriber needs a keyframe on `spatial` (e.g. from
/// `rtm_forwarder_poll_keyframe_request`). Requests of all subscribers are
/// merged: see `rtm_source_poll_keyframe_request`. RTM_ERR_INVALID_ARGUMENT
/// if the source has no such layer.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_request_keyframe(
    src: *mut rtm_source_t,
    spatial: u8,
) -> rtm_status {
    handle::with(src, |h| {
        if usize::from(spatial) >= h.source.layer_count() {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        h.source.request_keyframe(spatial);
        Ok(())
    })
}

/// RTM_OK with `*ssrc` set when a keyframe request (PLI/FIR) for that SSRC
/// should be sent to the publisher now: once per wanted keyframe, again
/// after the retry interval while it has not arrived. RTM_NOTHING_DUE when
/// none is due. Call until RTM_NOTHING_DUE.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_poll_keyframe_request(
    src: *mut rtm_source_t,
    now_us: u64,
    ssrc: *mut u32,
) -> rtm_status {
    handle::poll_out(src, ssrc, |h| Ok(h.source.poll_keyframe_request(now_us)))
}

/// When `rtm_source_poll_keyframe_request` may next return a request (µs);
/// RTM_NOTHING_DUE when no keyframe is wanted.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_next_keyframe_request_at(
    src: *const rtm_source_t,
    at_us: *mut u64,
) -> rtm_status {
    let mut due = true;
    let status = handle::with_shared(src, |s| {
        let at_us = args::out(at_us)?;
        match s.source.next_keyframe_request_at() {
            Some(at) => *at_us = at,
            None => due = false,
        }
        Ok(())
    });
    match status {
        rtm_status::RTM_OK if !due => rtm_status::RTM_NOTHING_DUE,
        s => s,
    }
}

/// Counters since the source was created (a growable struct: set
/// `struct_size = sizeof` before `rtm_source_get_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_source_stats {
    pub struct_size: usize,
    /// Packets accepted (including padding-only ones).
    pub packets: u64,
    pub bytes: u64,
    pub padding_packets: u64,
    /// Packets refused: SSRC not of this source.
    pub unknown_ssrc: u64,
    /// Packets refused: malformed RTP header or VP8 descriptor.
    pub malformed: u64,
    /// Keyframes received, per spatial layer.
    pub keyframes: [u64; RTM_SIMULCAST_MAX_SPATIAL],
    /// Keyframe requests the host was told to send (after merging), per
    /// spatial layer.
    pub keyframe_requests_sent: [u64; RTM_SIMULCAST_MAX_SPATIAL],
    pub sender_reports: u64,
    /// Packets refused for exceeding `max_packet_bytes`.
    pub oversize: u64,
}

/// Copies the counters into `*out`, at most `out->struct_size` bytes (set
/// it to `sizeof *out` first). Reads the source only.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_get_stats(
    src: *const rtm_source_t,
    out: *mut rtm_source_stats,
) -> rtm_status {
    handle::with_shared(src, |s| args::write(out, source_stats(s.source.stats())))
}

/// The C form of a source's counters.
pub(super) fn source_stats(st: &SourceStats) -> rtm_source_stats {
    rtm_source_stats {
        struct_size: 0,
        packets: st.packets,
        bytes: st.bytes,
        padding_packets: st.padding_packets,
        unknown_ssrc: st.unknown_ssrc,
        malformed: st.malformed,
        keyframes: st.keyframes,
        keyframe_requests_sent: st.keyframe_requests_sent,
        sender_reports: st.sender_reports,
        oversize: st.oversize,
    }
}
