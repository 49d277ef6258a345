//! Simulcast forwarding from C: a source per published video track (fed
//! with received, decrypted RTP packets, zero-copy or copied into a recycled
//! pool), a forwarder per subscriber and source (rewrites the source's
//! current packet into the subscriber's buffer), and an allocator per
//! subscriber (shares its bandwidth estimate between its tracks).

use std::collections::VecDeque;

use bytes::Bytes;

use crate::codec::Codec;
use crate::simulcast::{
    Allocation, Allocator, AllocatorConfig, DropReason, Forwarded, Forwarder, ForwarderConfig,
    Layer, LayerBitrates, PauseReason, RetransmitError, Source, SourceConfig, SourceError,
    SourcePacket, TrackDemand, MAX_SPATIAL, MAX_TEMPORAL,
};

use super::buffers::{shared_buffer, BufferPool, CallerBuffer};
use super::handle::{self, Poison};
use super::jitter::rtm_release_fn;
use super::{args, guard, rtm_status};

/// Most spatial layers (simulcast SSRCs) of a source.
pub const RTM_SIMULCAST_MAX_SPATIAL: usize = 3;
/// Most temporal layers (the VP8 descriptor's TID has two bits).
pub const RTM_SIMULCAST_MAX_TEMPORAL: usize = 4;
const _: () = assert!(RTM_SIMULCAST_MAX_SPATIAL == MAX_SPATIAL);
const _: () = assert!(RTM_SIMULCAST_MAX_TEMPORAL == MAX_TEMPORAL);

/// Most packets a source or forwarder keeps for retransmissions.
pub const RTM_SIMULCAST_MAX_HISTORY: u32 = 32_768;

/// Most tracks an allocator may be created for.
pub const RTM_ALLOCATOR_MAX_TRACKS: usize = 65_536;

/// Payload codecs of a source (`rtm_source_config.codec`); the values are
/// those of the jitter buffer's RTM_JITTER_VIDEO_* kinds.
pub const RTM_SOURCE_CODEC_VP8: u8 = 1;
pub const RTM_SOURCE_CODEC_H264: u8 = 2;
/// A payload rtmedia cannot inspect: no temporal layers, no keyframes seen.
pub const RTM_SOURCE_CODEC_OPAQUE: u8 = 3;

/// Why a forwarder sends nothing. Values fixed forever.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtm_pause_reason {
    /// Not paused.
    RTM_PAUSE_NONE = 0,
    /// No layer fits the subscriber's bandwidth.
    RTM_PAUSE_BANDWIDTH = 1,
    /// Paused by the host (the subscriber muted or hid the video).
    RTM_PAUSE_MUTED = 2,
    /// The source has no alive layer.
    RTM_PAUSE_NO_FEED = 3,
}

const _: () = assert!(PauseReason::Bandwidth as u8 == rtm_pause_reason::RTM_PAUSE_BANDWIDTH as u8);
const _: () = assert!(PauseReason::Muted as u8 == rtm_pause_reason::RTM_PAUSE_MUTED as u8);
const _: () = assert!(PauseReason::NoFeed as u8 == rtm_pause_reason::RTM_PAUSE_NO_FEED as u8);

/// Why a packet was not forwarded; also the index of
/// `rtm_forwarder_stats.dropped`. Values fixed forever.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rtm_drop_reason {
    /// Not dropped (the packet was sent).
    RTM_DROP_NONE = 0,
    /// The forwarder is paused (see `rtm_forwarder_pause_reason`).
    RTM_DROP_PAUSED = 1,
    /// A spatial layer this subscriber is not on.
    RTM_DROP_OTHER_LAYER = 2,
    /// A temporal layer above the one this subscriber gets.
    RTM_DROP_TEMPORAL_LAYER = 3,
    /// Nothing forwarded yet: waiting for a keyframe to start from.
    RTM_DROP_WAITING_FOR_KEYFRAME = 4,
    /// From before the last switch, or too old to number.
    RTM_DROP_LATE = 5,
    /// Padding only (a bandwidth probe of the publisher's link).
    RTM_DROP_PADDING = 6,
}

const _: () = assert!(DropReason::Paused as u8 == rtm_drop_reason::RTM_DROP_PAUSED as u8);
const _: () = assert!(DropReason::OtherLayer as u8 == rtm_drop_reason::RTM_DROP_OTHER_LAYER as u8);
const _: () =
    assert!(DropReason::TemporalLayer as u8 == rtm_drop_reason::RTM_DROP_TEMPORAL_LAYER as u8);
const _: () = assert!(
    DropReason::WaitingForKeyframe as u8 == rtm_drop_reason::RTM_DROP_WAITING_FOR_KEYFRAME as u8
);
const _: () = assert!(DropReason::Late as u8 == rtm_drop_reason::RTM_DROP_LATE as u8);
const _: () = assert!(DropReason::Padding as u8 == rtm_drop_reason::RTM_DROP_PADDING as u8);

/// Number of `rtm_drop_reason` values (the length of
/// `rtm_forwarder_stats.dropped`).
pub const RTM_DROP_REASONS: usize = 7;

fn drop_code(reason: DropReason) -> rtm_drop_reason {
    match reason {
        DropReason::Paused => rtm_drop_reason::RTM_DROP_PAUSED,
        DropReason::OtherLayer => rtm_drop_reason::RTM_DROP_OTHER_LAYER,
        DropReason::TemporalLayer => rtm_drop_reason::RTM_DROP_TEMPORAL_LAYER,
        DropReason::WaitingForKeyframe => rtm_drop_reason::RTM_DROP_WAITING_FOR_KEYFRAME,
        DropReason::Late => rtm_drop_reason::RTM_DROP_LATE,
        DropReason::Padding => rtm_drop_reason::RTM_DROP_PADDING,
    }
}

/// A spatial and temporal layer pair; temporal layers are cumulative
/// (temporal 2 means TIDs 0, 1 and 2).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_layer {
    /// 0..RTM_SIMULCAST_MAX_SPATIAL (index of the SSRC in the source's list).
    pub spatial: u8,
    /// 0..RTM_SIMULCAST_MAX_TEMPORAL.
    pub temporal: u8,
}

fn c_layer(l: Layer) -> rtm_layer {
    rtm_layer {
        spatial: l.spatial,
        temporal: l.temporal,
    }
}

/// A layer from C: RTM_ERR_INVALID_ARGUMENT when out of range.
fn layer(spatial: u8, temporal: u8) -> Result<Layer, rtm_status> {
    if usize::from(spatial) >= MAX_SPATIAL || usize::from(temporal) >= MAX_TEMPORAL {
        return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
    }
    Ok(Layer::new(spatial, temporal))
}

/// Measured bitrates of a source's layers, bits/s, cumulative over
/// temporal layers (`bps[s][t]` counts TIDs 0..=t of spatial layer s);
/// 0 for a layer that is not alive. Layout frozen for ABI version 0.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_layer_bitrates {
    pub bps: [[u64; RTM_SIMULCAST_MAX_TEMPORAL]; RTM_SIMULCAST_MAX_SPATIAL],
}

// ---- Source ---------------------------------------------------------------

/// One published video track: its simulcast SSRCs, lowest resolution first
/// (opaque). Create with `rtm_source_new`, free with `rtm_source_free`.
/// Calls that change it (push, on_rtcp, set_rtt, request_keyframe,
/// poll_keyframe_request, free) must not overlap with any other call on it;
/// the functions that take it as `const rtm_source_t *` (forward,
/// retransmit, set_available_bitrate, bitrates, get_stats) only read it and
/// may run on several threads at once (e.g. one per forwarder). It may move
/// between threads.
pub struct rtm_source {
    source: Source,
    /// The packet of the last successful push, what forwarders forward.
    current: Option<SourcePacket>,
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

impl Poison for rtm_source {
    fn poisoned(&mut self) -> &mut bool {
        &mut self.poisoned
    }
}

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
                });
            }
        };
        let spatial = usize::from(packet.spatial);
        if let Some(kept) = kept {
            self.issued[spatial].push_back(kept);
        }
        self.recycle(spatial);
        // SAFETY (caller): `info` is NULL or valid for writes.
        if let Some(info) = unsafe { info.as_mut() } {
            *info = packet_info(&packet);
        }
        self.current = Some(packet);
        Ok(())
    }
}

/// Options of a source; fill with `rtm_source_config_default`, then change
/// fields. New fields are only ever appended.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_source_config {
    /// RTM_SOURCE_CODEC_VP8 (temporal layers, PictureIDs), _H264 or
    /// _OPAQUE. Default VP8.
    pub codec: u8,
    /// RTP clock rate, > 0. Default 90000.
    pub clock_rate: u32,
    /// Packets kept per spatial layer to answer NACKs,
    /// 1..=RTM_SIMULCAST_MAX_HISTORY (rounded up to a power of two).
    /// Reserved by `rtm_source_new`. Default 1024.
    pub history_packets: u32,
    /// A spatial layer without media for this long is not alive (padding
    /// does not count), µs. Default 1000000.
    pub inactive_after_us: u64,
    /// Least time between two keyframe requests for one SSRC, µs.
    /// Default 300000.
    pub keyframe_retry_min_us: u64,
}

fn codec_code(codec: Codec) -> u8 {
    match codec {
        Codec::Vp8 => RTM_SOURCE_CODEC_VP8,
        Codec::H264 => RTM_SOURCE_CODEC_H264,
        Codec::Opaque => RTM_SOURCE_CODEC_OPAQUE,
    }
}

/// The default configuration. Thread-safe.
#[no_mangle]
pub extern "C" fn rtm_source_config_default() -> rtm_source_config {
    let d = SourceConfig::default();
    rtm_source_config {
        codec: codec_code(d.codec),
        clock_rate: d.clock_rate,
        history_packets: d.history_packets as u32,
        inactive_after_us: d.inactive_after_us,
        keyframe_retry_min_us: d.keyframe_retry_min_us,
    }
}

fn source_config(c: &rtm_source_config) -> Result<SourceConfig, rtm_status> {
    let codec = match c.codec {
        RTM_SOURCE_CODEC_VP8 => Codec::Vp8,
        RTM_SOURCE_CODEC_H264 => Codec::H264,
        RTM_SOURCE_CODEC_OPAQUE => Codec::Opaque,
        _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
    };
    if c.clock_rate == 0 || c.history_packets == 0 || c.history_packets > RTM_SIMULCAST_MAX_HISTORY
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
/// lowest resolution first (layer i is `ssrcs[i]`); the array is copied. On
/// success `*out` owns the source. RTM_ERR_INVALID_ARGUMENT for a config
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
        let c = args::input(config)?;
        let ssrcs = args::slice(ssrcs, n)?;
        let out = args::out(out)?;
        let config = source_config(c)?;
        let source =
            Source::new(config, ssrcs).map_err(|_| rtm_status::RTM_ERR_INVALID_ARGUMENT)?;
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

/// What a push found in a packet. Layout frozen for ABI version 0.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_source_packet_info {
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

fn packet_info(p: &SourcePacket) -> rtm_source_packet_info {
    rtm_source_packet_info {
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
/// it), and `*info` (may be NULL) describes it.
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
/// header or VP8 descriptor. Both are counted in the stats.
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
unsafe fn source_ref<'a>(src: *const rtm_source_t) -> Result<&'a rtm_source, rtm_status> {
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
/// after the retry interval while it has not arrived. RTM_ERR_NOT_FOUND
/// when none is due. Call until RTM_ERR_NOT_FOUND.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_poll_keyframe_request(
    src: *mut rtm_source_t,
    now_us: u64,
    ssrc: *mut u32,
) -> rtm_status {
    handle::with_out(src, ssrc, |h| {
        h.source
            .poll_keyframe_request(now_us)
            .ok_or(rtm_status::RTM_ERR_NOT_FOUND)
    })
}

/// When `rtm_source_poll_keyframe_request` may next return a request (µs);
/// RTM_ERR_NOT_FOUND when no keyframe is wanted.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_next_keyframe_request_at(
    src: *const rtm_source_t,
    at_us: *mut u64,
) -> rtm_status {
    guard(|| {
        let s = source_ref(src)?;
        let at_us = args::out(at_us)?;
        *at_us = s
            .source
            .next_keyframe_request_at()
            .ok_or(rtm_status::RTM_ERR_NOT_FOUND)?;
        Ok(())
    })
}

/// Counters since the source was created. New fields are only ever
/// appended.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_source_stats {
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
}

/// Copies the counters into `*out`, writing at most `stats_size` bytes
/// (pass `sizeof(rtm_source_stats)`). Reads the source only.
#[no_mangle]
pub unsafe extern "C" fn rtm_source_get_stats(
    src: *const rtm_source_t,
    out: *mut rtm_source_stats,
    stats_size: usize,
) -> rtm_status {
    guard(|| {
        let s = source_ref(src)?;
        if out.is_null() {
            return Err(rtm_status::RTM_ERR_NULL_POINTER);
        }
        let st = s.source.stats();
        let stats = rtm_source_stats {
            packets: st.packets,
            bytes: st.bytes,
            padding_packets: st.padding_packets,
            unknown_ssrc: st.unknown_ssrc,
            malformed: st.malformed,
            keyframes: st.keyframes,
            keyframe_requests_sent: st.keyframe_requests_sent,
            sender_reports: st.sender_reports,
        };
        args::write_versioned(&stats, out, stats_size);
        Ok(())
    })
}

// ---- Forwarder ------------------------------------------------------------

/// One subscriber's forwarding state for one source (opaque): which layer it
/// gets, and the rewriting that makes the layers one continuous stream (one
/// SSRC, gapless sequence numbers, continuous timestamps and VP8
/// PictureID/TL0PICIDX/KEYIDX). Holds no pointer to the source: pass the
/// same source to every call that takes one. Create with
/// `rtm_forwarder_new`, free with `rtm_forwarder_free`. Calls on one
/// forwarder must not overlap; it may move between threads.
pub struct rtm_forwarder {
    fwd: Forwarder,
    poisoned: bool,
}

/// The C name of the forwarder handle.
pub type rtm_forwarder_t = rtm_forwarder;

impl Poison for rtm_forwarder {
    fn poisoned(&mut self) -> &mut bool {
        &mut self.poisoned
    }
}

/// Options of a forwarder; fill with `rtm_forwarder_config_default`, then
/// change fields. New fields are only ever appended.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_forwarder_config {
    /// SSRC the subscriber sees. Default 0 (set it).
    pub ssrc: u32,
    /// Payload type to write, 0..=127, or -1 to keep the source's.
    /// Default -1.
    pub payload_type: i16,
    /// Highest layer this subscriber wants (e.g. from its window size).
    /// Default {2, 3}: everything.
    pub max_layer: rtm_layer,
    /// RTP clock rate, > 0, for timestamps across a switch. Default 90000.
    pub clock_rate: u32,
    /// Sent packets remembered for NACKs, 1..=RTM_SIMULCAST_MAX_HISTORY
    /// (rounded up to a power of two). Reserved by `rtm_forwarder_new`.
    /// Default 1024.
    pub history_packets: u32,
    /// Largest disagreement between the sender-report timeline and the
    /// arrival clock at a switch before the arrival clock is used, µs.
    /// Default 500000.
    pub max_timestamp_skew_us: u64,
}

/// The default configuration. Thread-safe.
#[no_mangle]
pub extern "C" fn rtm_forwarder_config_default() -> rtm_forwarder_config {
    let d = ForwarderConfig::default();
    rtm_forwarder_config {
        ssrc: d.ssrc,
        payload_type: d.payload_type.map_or(-1, i16::from),
        max_layer: c_layer(d.max_layer),
        clock_rate: d.clock_rate,
        history_packets: d.history_packets as u32,
        max_timestamp_skew_us: d.max_timestamp_skew_us,
    }
}

fn forwarder_config(c: &rtm_forwarder_config) -> Result<ForwarderConfig, rtm_status> {
    let payload_type = match c.payload_type {
        -1 => None,
        pt @ 0..=127 => Some(pt as u8),
        _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
    };
    if c.clock_rate == 0 || c.history_packets == 0 || c.history_packets > RTM_SIMULCAST_MAX_HISTORY
    {
        return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
    }
    Ok(ForwarderConfig {
        ssrc: c.ssrc,
        payload_type,
        max_layer: layer(c.max_layer.spatial, c.max_layer.temporal)?,
        clock_rate: c.clock_rate,
        history_packets: c.history_packets as usize,
        max_timestamp_skew_us: c.max_timestamp_skew_us,
    })
}

/// Creates a forwarder. It starts paused (RTM_PAUSE_NO_FEED) with no
/// target: give it one with `rtm_forwarder_set_target` or
/// `rtm_forwarder_set_available_bitrate`. On success `*out` owns it.
/// RTM_ERR_INVALID_ARGUMENT for a config field out of range. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_new(
    config: *const rtm_forwarder_config,
    out: *mut *mut rtm_forwarder_t,
) -> rtm_status {
    guard(|| {
        let c = args::input(config)?;
        let out = args::out(out)?;
        let config = forwarder_config(c)?;
        *out = handle::into_raw(rtm_forwarder {
            fwd: Forwarder::new(config),
            poisoned: false,
        });
        Ok(())
    })
}

/// Frees a forwarder. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_free(fwd: *mut rtm_forwarder_t) {
    handle::free(fwd)
}

/// Forwards the current packet of `src` (the last successful push) if this
/// subscriber gets it: the packet rewritten with this subscriber's values is
/// written to `out[0..*out_len]` (one copy, ready for SRTP protection in
/// place), and `*dropped` (may be NULL) is RTM_DROP_NONE. A packet this
/// subscriber does not get gives RTM_OK with `*out_len` 0 and the reason in
/// `*dropped`.
///
/// `out_cap` must be at least the packet's `forwarded_len` (its length + 1
/// is always enough), whether the packet is sent or dropped: otherwise
/// RTM_ERR_BUFFER_TOO_SMALL and nothing changes. To protect in place
/// afterwards, give it `len + 1 + RTM_SRTP_MAX_TRAILER_LEN`.
/// RTM_ERR_NOT_FOUND when the source has no current packet (nothing pushed,
/// or the last push failed). `src` is only read. Forward each packet to a
/// forwarder once, in the order pushed.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_forward(
    fwd: *mut rtm_forwarder_t,
    src: *const rtm_source_t,
    out: *mut u8,
    out_cap: usize,
    now_us: u64,
    out_len: *mut usize,
    dropped: *mut rtm_drop_reason,
) -> rtm_status {
    handle::with(fwd, |h| {
        let s = source_ref(src)?;
        let buf = args::slice_mut(out, out_cap)?;
        let out_len = args::out(out_len)?;
        let packet = s.current.as_ref().ok_or(rtm_status::RTM_ERR_NOT_FOUND)?;
        let (len, reason) = match h.fwd.forward(packet, buf, now_us)? {
            Forwarded::Sent(len) => (len, rtm_drop_reason::RTM_DROP_NONE),
            Forwarded::Dropped(reason) => (0, drop_code(reason)),
        };
        *out_len = len;
        if let Some(d) = dropped.as_mut() {
            *d = reason;
        }
        Ok(())
    })
}

/// After a forward that sent a packet: the next packet of the new layer
/// that reached `src` before the keyframe that started a layer switch (the
/// network reordered them), written to `out[0..*out_len]` as
/// `rtm_forwarder_forward` would. Call after every sent packet until
/// `*out_len` is 0 (a cheap check when there was no switch); skipping it
/// leaves those packets for the subscriber to NACK. `out_cap`: as for
/// `rtm_forwarder_forward` (RTM_ERR_BUFFER_TOO_SMALL, nothing changes).
/// `src` is only read.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_backfill(
    fwd: *mut rtm_forwarder_t,
    src: *const rtm_source_t,
    out: *mut u8,
    out_cap: usize,
    now_us: u64,
    out_len: *mut usize,
) -> rtm_status {
    handle::with(fwd, |h| {
        let s = source_ref(src)?;
        let buf = args::slice_mut(out, out_cap)?;
        let out_len = args::out(out_len)?;
        *out_len = h.fwd.backfill(&s.source, buf, now_us)?.unwrap_or(0);
        Ok(())
    })
}

/// Heads for the layer {`spatial`, `temporal`} (capped at the maximum
/// layer) and ends an automatic pause (a host pause stays). A spatial
/// change asks for a keyframe (see `rtm_forwarder_poll_keyframe_request`);
/// the current layer keeps flowing until it arrives. RTM_ERR_INVALID_ARGUMENT
/// for `spatial` >= RTM_SIMULCAST_MAX_SPATIAL or `temporal` >=
/// RTM_SIMULCAST_MAX_TEMPORAL.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_set_target(
    fwd: *mut rtm_forwarder_t,
    spatial: u8,
    temporal: u8,
) -> rtm_status {
    handle::with(fwd, |h| {
        h.fwd.set_target(layer(spatial, temporal)?);
        Ok(())
    })
}

/// Picks the target from the layers `src` measures at `now_us` and the
/// bandwidth this subscriber has for it (`available_bps`): the highest alive
/// layer up to the maximum that fits. When none fits it pauses with
/// RTM_PAUSE_BANDWIDTH (some layer is alive) or RTM_PAUSE_NO_FEED (none
/// is). `src` is only read.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_set_available_bitrate(
    fwd: *mut rtm_forwarder_t,
    src: *const rtm_source_t,
    now_us: u64,
    available_bps: u64,
) -> rtm_status {
    handle::with(fwd, |h| {
        let s = source_ref(src)?;
        let rates = s.source.bitrates(now_us);
        h.fwd.set_available_bitrate(&rates, available_bps);
        Ok(())
    })
}

/// Caps the layers this subscriber gets (e.g. its window shrank); the
/// target is capped at once. RTM_ERR_INVALID_ARGUMENT as for
/// `rtm_forwarder_set_target`.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_set_max_layer(
    fwd: *mut rtm_forwarder_t,
    spatial: u8,
    temporal: u8,
) -> rtm_status {
    handle::with(fwd, |h| {
        h.fwd.set_max_layer(layer(spatial, temporal)?);
        Ok(())
    })
}

/// Stops forwarding for a host reason (an `rtm_pause_reason` other than
/// RTM_PAUSE_NONE, usually RTM_PAUSE_MUTED) until `rtm_forwarder_resume`.
/// RTM_ERR_INVALID_ARGUMENT for another value.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_pause(fwd: *mut rtm_forwarder_t, reason: u8) -> rtm_status {
    handle::with(fwd, |h| {
        let reason = match reason {
            1 => PauseReason::Bandwidth,
            2 => PauseReason::Muted,
            3 => PauseReason::NoFeed,
            _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
        };
        h.fwd.pause(reason);
        Ok(())
    })
}

/// Undoes `rtm_forwarder_pause` and asks for a keyframe to restart from
/// (see `rtm_forwarder_poll_keyframe_request`); forwarding restarts at
/// that keyframe. No effect when not paused by the host.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_resume(fwd: *mut rtm_forwarder_t) -> rtm_status {
    handle::with(fwd, |h| {
        h.fwd.resume();
        Ok(())
    })
}

/// RTM_OK with `*spatial` set when this forwarder needs a keyframe on that
/// layer (once per decision): pass it to `rtm_source_request_keyframe`,
/// which merges the requests of all subscribers. RTM_ERR_NOT_FOUND when
/// none is wanted.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_poll_keyframe_request(
    fwd: *mut rtm_forwarder_t,
    spatial: *mut u8,
) -> rtm_status {
    handle::with_out(fwd, spatial, |h| {
        h.fwd
            .poll_keyframe_request()
            .ok_or(rtm_status::RTM_ERR_NOT_FOUND)
    })
}

/// Writes again into `out[0..*out_len]` the packet this subscriber received
/// with sequence number `seq` (from its NACK), rebuilt from the source's
/// history: the same bytes as first sent. RTM_ERR_NOT_FOUND if it was never
/// sent to this subscriber or is forgotten (by the forwarder or the
/// source); RTM_ERR_BEFORE_KEYFRAME if it is from before the keyframe the
/// subscriber's decoder restarted at (not needed: drop the NACK);
/// RTM_ERR_BUFFER_TOO_SMALL if `out_cap` is below its length (the original
/// packet's length + 1 always suffices). `src` must be the source this
/// forwarder forwards; it is only read.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_retransmit(
    fwd: *mut rtm_forwarder_t,
    src: *const rtm_source_t,
    seq: u16,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> rtm_status {
    handle::with(fwd, |h| {
        let s = source_ref(src)?;
        let buf = args::slice_mut(out, out_cap)?;
        let out_len = args::out(out_len)?;
        *out_len = h.fwd.retransmit(&s.source, seq, buf).map_err(|e| match e {
            RetransmitError::NotFound => rtm_status::RTM_ERR_NOT_FOUND,
            RetransmitError::BeforeKeyframe => rtm_status::RTM_ERR_BEFORE_KEYFRAME,
            RetransmitError::BufferTooSmall { .. } => rtm_status::RTM_ERR_BUFFER_TOO_SMALL,
        })?;
        Ok(())
    })
}

/// The layer being forwarded now into `*out`; RTM_ERR_NOT_FOUND while
/// paused or waiting for a keyframe.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_current_layer(
    fwd: *mut rtm_forwarder_t,
    out: *mut rtm_layer,
) -> rtm_status {
    handle::with_out(fwd, out, |h| {
        h.fwd
            .current_layer()
            .map(c_layer)
            .ok_or(rtm_status::RTM_ERR_NOT_FOUND)
    })
}

/// The layer the forwarder is heading for into `*out`; RTM_ERR_NOT_FOUND
/// when it has none (before the first target, or paused for bandwidth or
/// no feed).
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_target_layer(
    fwd: *mut rtm_forwarder_t,
    out: *mut rtm_layer,
) -> rtm_status {
    handle::with_out(fwd, out, |h| {
        h.fwd
            .target_layer()
            .map(c_layer)
            .ok_or(rtm_status::RTM_ERR_NOT_FOUND)
    })
}

/// Why nothing is forwarded into `*out` (the host's pause first), or
/// RTM_PAUSE_NONE.
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_pause_reason(
    fwd: *mut rtm_forwarder_t,
    out: *mut rtm_pause_reason,
) -> rtm_status {
    handle::with_out(fwd, out, |h| {
        Ok(match h.fwd.pause_reason() {
            None => rtm_pause_reason::RTM_PAUSE_NONE,
            Some(PauseReason::Bandwidth) => rtm_pause_reason::RTM_PAUSE_BANDWIDTH,
            Some(PauseReason::Muted) => rtm_pause_reason::RTM_PAUSE_MUTED,
            Some(PauseReason::NoFeed) => rtm_pause_reason::RTM_PAUSE_NO_FEED,
        })
    })
}

/// Counters since the forwarder was created. New fields are only ever
/// appended.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_forwarder_stats {
    pub packets_sent: u64,
    pub bytes_sent: u64,
    /// Frames started (first packets sent).
    pub frames_sent: u64,
    pub keyframes_sent: u64,
    /// Dropped packets, indexed by `rtm_drop_reason` (index 0 unused).
    pub dropped: [u64; RTM_DROP_REASONS],
    pub spatial_switches: u64,
    pub temporal_switches: u64,
    /// Keyframe requests this forwarder asked for (one per decision).
    pub keyframe_requests: u64,
    pub retransmitted: u64,
    /// NACKs answered RTM_ERR_BEFORE_KEYFRAME.
    pub nacks_before_keyframe: u64,
    /// NACKs answered RTM_ERR_NOT_FOUND.
    pub nacks_not_found: u64,
    /// Switches where the last frame of the old layer was cut (a deliberate
    /// one-number sequence gap was left).
    pub cut_frames: u64,
}

/// Copies the counters into `*out`, writing at most `stats_size` bytes
/// (pass `sizeof(rtm_forwarder_stats)`).
#[no_mangle]
pub unsafe extern "C" fn rtm_forwarder_get_stats(
    fwd: *mut rtm_forwarder_t,
    out: *mut rtm_forwarder_stats,
    stats_size: usize,
) -> rtm_status {
    handle::with(fwd, |h| {
        if out.is_null() {
            return Err(rtm_status::RTM_ERR_NULL_POINTER);
        }
        let s = h.fwd.stats();
        let stats = rtm_forwarder_stats {
            packets_sent: s.packets_sent,
            bytes_sent: s.bytes_sent,
            frames_sent: s.frames_sent,
            keyframes_sent: s.keyframes_sent,
            dropped: s.dropped,
            spatial_switches: s.spatial_switches,
            temporal_switches: s.temporal_switches,
            keyframe_requests: s.keyframe_requests,
            retransmitted: s.retransmitted,
            nacks_before_keyframe: s.nacks_before_keyframe,
            nacks_not_found: s.nacks_not_found,
            cut_frames: s.cut_frames,
        };
        args::write_versioned(&stats, out, stats_size);
        Ok(())
    })
}

// ---- Allocator ------------------------------------------------------------

/// Shares one subscriber's bandwidth estimate between its video tracks by
/// priority, with hysteresis (opaque). Create with `rtm_allocator_new`,
/// free with `rtm_allocator_free`. Calls on one allocator must not overlap;
/// it may move between threads.
pub struct rtm_allocator {
    alloc: Allocator,
    /// The demands of one call, converted (reserved at creation).
    tracks: Vec<TrackDemand>,
    max_tracks: usize,
    poisoned: bool,
}

/// The C name of the allocator handle.
pub type rtm_allocator_t = rtm_allocator;

impl Poison for rtm_allocator {
    fn poisoned(&mut self) -> &mut bool {
        &mut self.poisoned
    }
}

/// Options of an allocator; fill with `rtm_allocator_config_default`, then
/// change fields. New fields are only ever appended.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_allocator_config {
    /// Relative estimate change (finite, >= 0) below which nothing is
    /// re-allocated, unless the current allocation no longer fits.
    /// Default 0.1.
    pub min_change: f64,
    /// No upgrade for this long after a bandwidth downgrade, µs.
    /// Default 5000000.
    pub upgrade_hold_us: u64,
    /// A track is not moved up to a spatial layer whose last keyframe would
    /// take longer than this to cross the link at the estimate, µs (on a
    /// slow link a big keyframe is a frozen picture); 0: no limit.
    /// Default 150000.
    pub max_keyframe_transfer_us: u64,
}

/// The default configuration. Thread-safe.
#[no_mangle]
pub extern "C" fn rtm_allocator_config_default() -> rtm_allocator_config {
    let d = AllocatorConfig::default();
    rtm_allocator_config {
        min_change: d.min_change,
        upgrade_hold_us: d.upgrade_hold_us,
        max_keyframe_transfer_us: d.max_keyframe_transfer_us,
    }
}

/// Creates an allocator for up to `max_tracks` tracks
/// (1..=RTM_ALLOCATOR_MAX_TRACKS; memory for them is reserved here). On
/// success `*out` owns it. RTM_ERR_INVALID_ARGUMENT for `max_tracks` or a
/// config field out of range. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_allocator_new(
    config: *const rtm_allocator_config,
    max_tracks: usize,
    out: *mut *mut rtm_allocator_t,
) -> rtm_status {
    guard(|| {
        let c = args::input(config)?;
        let out = args::out(out)?;
        let invalid = max_tracks == 0
            || max_tracks > RTM_ALLOCATOR_MAX_TRACKS
            || !c.min_change.is_finite()
            || c.min_change < 0.0;
        if invalid {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let config = AllocatorConfig {
            min_change: c.min_change,
            upgrade_hold_us: c.upgrade_hold_us,
            max_keyframe_transfer_us: c.max_keyframe_transfer_us,
        };
        *out = handle::into_raw(rtm_allocator {
            alloc: Allocator::new(config, max_tracks),
            tracks: Vec::with_capacity(max_tracks),
            max_tracks,
            poisoned: false,
        });
        Ok(())
    })
}

/// Frees an allocator. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_allocator_free(alloc: *mut rtm_allocator_t) {
    handle::free(alloc)
}

/// What one track can use, as the host knows it now.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_track_demand {
    /// Higher is served first; equal priorities keep the array's order.
    pub priority: u8,
    /// The subscriber does not want this track now (hidden): it gets
    /// nothing.
    pub muted: bool,
    /// Highest layer wanted (window size); layers above are never assigned.
    pub max_layer: rtm_layer,
    /// The source's measured layers (`rtm_source_bitrates`).
    pub bitrates: rtm_layer_bitrates,
    /// Bytes of each spatial layer's last keyframe
    /// (`rtm_source_keyframe_bytes`); 0: unknown (no keyframe limit).
    pub keyframe_bytes: [u64; RTM_SIMULCAST_MAX_SPATIAL],
}

/// One track's share.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_allocation {
    /// Whether the track gets a layer; false: pause its forwarder.
    pub has_layer: bool,
    /// The layer (give it to `rtm_forwarder_set_target`); valid when
    /// `has_layer`.
    pub layer: rtm_layer,
    /// That layer's measured bitrate, bits/s (0 without a layer).
    pub bitrate: u64,
}

fn c_allocation(a: &Allocation) -> rtm_allocation {
    rtm_allocation {
        has_layer: a.layer.is_some(),
        layer: a.layer.map(c_layer).unwrap_or_default(),
        bitrate: a.bitrate,
    }
}

/// Shares `estimate_bps` between the tracks `tracks[0..n]` at `now_us`:
/// first every track gets its lowest alive layer by priority while the
/// budget lasts, then each in turn climbs as high as the rest allows.
/// Writes one allocation per track to `out[0..n]`. Pass the same tracks in
/// the same order on every call (the hysteresis compares with the last
/// call). RTM_ERR_INVALID_ARGUMENT for `n` above the allocator's
/// `max_tracks` or a `max_layer` out of range; RTM_ERR_BUFFER_TOO_SMALL
/// for `out_cap` < `n` (nothing changes on either).
#[no_mangle]
pub unsafe extern "C" fn rtm_allocator_allocate(
    alloc: *mut rtm_allocator_t,
    estimate_bps: u64,
    tracks: *const rtm_track_demand,
    n: usize,
    now_us: u64,
    out: *mut rtm_allocation,
    out_cap: usize,
) -> rtm_status {
    handle::with(alloc, |h| {
        let tracks = args::slice(tracks, n)?;
        let out = args::slice_mut(out, out_cap)?;
        if n > h.max_tracks {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        if out_cap < n {
            return Err(rtm_status::RTM_ERR_BUFFER_TOO_SMALL);
        }
        h.tracks.clear();
        for t in tracks {
            let max_layer = layer(t.max_layer.spatial, t.max_layer.temporal)?;
            h.tracks.push(TrackDemand {
                priority: t.priority,
                max_layer,
                bitrates: LayerBitrates(t.bitrates.bps),
                muted: t.muted,
                keyframe_bytes: t.keyframe_bytes,
            });
        }
        let got = h.alloc.allocate(estimate_bps, &h.tracks, now_us);
        for (o, a) in out.iter_mut().zip(got) {
            *o = c_allocation(a);
        }
        Ok(())
    })
}
