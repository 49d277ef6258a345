//! The pacer from C (`rtm_pacer_*`): one per transport, deciding when each
//! packet leaves.

use core::ffi::c_void;

use bytes::Bytes;

use crate::cc::{PacedPacket, Pacer, PacerConfig, PacerOutput, PacketClass, PushError};

use super::buffers::{CallerBuffer, IssuedPool};
use super::bwe::{rtm_probe_cluster, RTM_NO_PROBE_CLUSTER};
use super::handle;
use super::jitter::{rtm_release_fn, RTM_MAX_PACKET_BYTES_LIMIT};
use super::{args, guard, rtm_status};

/// Priority class of a paced packet (`RTM_PACKET_CLASS_*`), highest first.
pub type rtm_packet_class = u8;
pub const RTM_PACKET_CLASS_AUDIO: rtm_packet_class = 0;
pub const RTM_PACKET_CLASS_RETRANSMISSION: rtm_packet_class = 1;
pub const RTM_PACKET_CLASS_VIDEO: rtm_packet_class = 2;
/// Padding or probe packets the host made itself.
pub const RTM_PACKET_CLASS_PADDING: rtm_packet_class = 3;
/// Number of classes (the length of the per-class arrays of
/// `rtm_pacer_config` and `rtm_pacer_stats`).
pub const RTM_PACKET_CLASSES: usize = 4;

/// What `rtm_pacer_poll` gives (`RTM_PACER_OUTPUT_*`).
pub type rtm_pacer_output_kind = u8;
/// Nothing now (with RTM_NOTHING_DUE): see `wakeup_us`.
pub const RTM_PACER_OUTPUT_NONE: rtm_pacer_output_kind = 0;
/// Send `data[0..len]` now.
pub const RTM_PACER_OUTPUT_SEND: rtm_pacer_output_kind = 1;
/// A probe cluster needs `len` more bytes and no media is queued: send
/// RTX re-sends of recent packets or padding-only packets of about this
/// size, with `probe_cluster` given to `rtm_bwe_on_sent`. `data` is NULL;
/// the pacer already counts them as sent (say what went out with
/// `rtm_pacer_padding_sent` when it differs).
pub const RTM_PACER_OUTPUT_PADDING: rtm_pacer_output_kind = 2;

/// `rtm_pacer_output.wakeup_us` when nothing is queued and no probe runs.
pub const RTM_NO_WAKEUP: u64 = u64::MAX;

/// Paces the packets of one transport (opaque): priority classes
/// (audio, retransmissions, video, padding), a budget at a multiple of the
/// target bitrate, probe clusters. Create with `rtm_pacer_new`, free with
/// `rtm_pacer_free`. Calls on one pacer must not overlap; it may move
/// between threads.
pub struct rtm_pacer {
    pacer: Pacer,
    /// Buffers of the copying push, recycled.
    pool: IssuedPool,
    /// The packet the last poll gave (its data stays valid until the next
    /// call on the handle).
    out: Option<Bytes>,
    max_packet_bytes: usize,
    poisoned: bool,
}

/// The C name of the pacer handle.
pub type rtm_pacer_t = rtm_pacer;

handle::poison_flag!(rtm_pacer);

/// Options of a pacer (a growable struct): fill with
/// `rtm_pacer_config_init(&cfg, sizeof cfg)`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_pacer_config {
    pub struct_size: usize,
    /// Packets queued at most, all classes together, 1..=65536. Default
    /// 2048.
    pub capacity_packets: usize,
    /// SSRCs at most, 1..=1024. Default 64.
    pub max_streams: usize,
    /// Longest burst, as time at the pacing rate, µs. Default 5000.
    pub max_burst_us: u64,
    /// Pacing rate / target bitrate, finite, 1..=100. Default 2.5.
    pub pacing_factor: f64,
    /// Pacing rate before the first target, bits/s (> 0). Default 2000000.
    pub initial_rate_bps: u64,
    /// Longest wait per class (index RTM_PACKET_CLASS_*), µs. Defaults:
    /// audio 100 ms, retransmission 250 ms, video 2 s, padding 50 ms.
    pub ttl_us: [u64; RTM_PACKET_CLASSES],
    /// Hold audio to the budget too. Default false: audio leaves at once.
    pub pace_audio: bool,
    /// Largest padding request, bytes (> 0). Default 1200.
    pub max_padding_bytes: usize,
    /// Longest packet accepted, 12..=RTM_MAX_PACKET_BYTES_LIMIT; a push of
    /// a longer one gives RTM_ERR_TOO_LARGE. Default
    /// RTM_DEFAULT_MAX_PACKET_BYTES (1500; copies up to this long reuse
    /// their buffers without allocating).
    pub max_packet_bytes: usize,
    /// A retransmission may leave while the budget's debt is under this
    /// much time at the pacing rate, µs; the video after it repays the
    /// debt. At 400 kbit/s one 1,200-byte video packet is 24 ms of debt:
    /// 20000 lets a retransmission go at once. Default 0 (held to the
    /// budget like video). (Appended after 0.2.0: a caller compiled
    /// without it gets the default.)
    pub retransmission_overdraft_us: u64,
}

/// `rtm_pacer_config` with its bool as a byte (same layout).
#[repr(C)]
#[derive(Clone, Copy)]
struct RawConfig {
    struct_size: usize,
    capacity_packets: usize,
    max_streams: usize,
    max_burst_us: u64,
    pacing_factor: f64,
    initial_rate_bps: u64,
    ttl_us: [u64; RTM_PACKET_CLASSES],
    pace_audio: u8,
    max_padding_bytes: usize,
    max_packet_bytes: usize,
    retransmission_overdraft_us: u64,
}
const _: () =
    assert!(core::mem::size_of::<RawConfig>() == core::mem::size_of::<rtm_pacer_config>());
const _: () = assert!(
    core::mem::offset_of!(RawConfig, retransmission_overdraft_us)
        == core::mem::offset_of!(rtm_pacer_config, retransmission_overdraft_us)
);

/// What `rtm_pacer_poll` gives (a growable struct: set `struct_size =
/// sizeof` before the call).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_pacer_output {
    pub struct_size: usize,
    /// RTM_PACER_OUTPUT_SEND, _PADDING, or _NONE (with RTM_NOTHING_DUE).
    pub kind: rtm_pacer_output_kind,
    /// SEND: the packet as pushed. Valid until the next call on this pacer
    /// (or its free); do not write through it. NULL otherwise.
    pub data: *const u8,
    /// SEND: the packet's length; PADDING: the bytes wanted.
    pub len: usize,
    /// SEND: the packet's SSRC as pushed.
    pub ssrc: u32,
    /// SEND: its class; PADDING: RTM_PACKET_CLASS_PADDING.
    pub packet_class: rtm_packet_class,
    /// The probe cluster the packet counts for (give it to
    /// `rtm_bwe_on_sent`), or RTM_NO_PROBE_CLUSTER.
    pub probe_cluster: u32,
    /// SEND: how long it waited in the pacer, µs.
    pub queued_us: u64,
    /// NONE: when to poll again (µs), or RTM_NO_WAKEUP when nothing is
    /// queued and no probe runs (poll again after a push). 0 otherwise.
    pub wakeup_us: u64,
}

/// Counters of a pacer (a growable struct: set `struct_size = sizeof`
/// before `rtm_pacer_get_stats`). Arrays are per class (RTM_PACKET_CLASS_*).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_pacer_stats {
    pub struct_size: usize,
    pub sent_packets: [u64; RTM_PACKET_CLASSES],
    pub sent_bytes: [u64; RTM_PACKET_CLASSES],
    /// Dropped after waiting longer than the class's `ttl_us`.
    pub expired: [u64; RTM_PACKET_CLASSES],
    /// Video dropped because a keyframe of the same SSRC replaced it.
    pub superseded: u64,
    /// Pushes refused (queue full or too many streams).
    pub refused: u64,
    /// Padding bytes requested for probes.
    pub padding_bytes: u64,
    /// Probe clusters finished.
    pub probes_done: u64,
    /// Longest wait of a sent packet, µs.
    pub max_queued_us: [u64; RTM_PACKET_CLASSES],
    /// Packets and bytes queued now.
    pub queued_packets: u64,
    pub queued_bytes: u64,
    /// The pacing rate now, bits/s.
    pub pacing_rate_bps: u64,
    /// How long the queued bytes take at the pacing rate, µs.
    pub queue_time_us: u64,
}

args::versioned_grown!(rtm_pacer_config, first_new_field: retransmission_overdraft_us);
args::versioned_grown!(RawConfig, first_new_field: retransmission_overdraft_us);
args::versioned!(rtm_pacer_output, rtm_pacer_stats);

/// Most `capacity_packets` may be.
pub const RTM_PACER_MAX_CAPACITY: usize = 65_536;
/// Most `max_streams` may be.
pub const RTM_PACER_MAX_STREAMS: usize = 1024;

fn default_raw() -> RawConfig {
    let d = PacerConfig::default();
    RawConfig {
        struct_size: core::mem::size_of::<rtm_pacer_config>(),
        capacity_packets: d.capacity_packets,
        max_streams: d.max_streams,
        max_burst_us: d.max_burst_us,
        pacing_factor: d.pacing_factor,
        initial_rate_bps: d.initial_rate_bps,
        ttl_us: d.ttl_us,
        pace_audio: d.pace_audio.into(),
        max_padding_bytes: d.max_padding_bytes,
        max_packet_bytes: super::jitter::RTM_DEFAULT_MAX_PACKET_BYTES,
        retransmission_overdraft_us: d.retransmission_overdraft_us,
    }
}

/// Fills `*config` with the defaults and sets `config->struct_size` to
/// `size` (pass `sizeof *config`). RTM_ERR_NULL_POINTER;
/// RTM_ERR_INVALID_ARGUMENT when `size` is not the sizeof of a released
/// layout (nor larger). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_pacer_config_init(
    config: *mut rtm_pacer_config,
    size: usize,
) -> rtm_status {
    guard(|| args::init(config.cast::<RawConfig>(), size, default_raw()))
}

/// Creates a pacer; its queues are reserved here. On success `*out` owns
/// it. `config` may be NULL for the defaults. RTM_ERR_NULL_POINTER
/// (`out`); RTM_ERR_INVALID_ARGUMENT for a bad `struct_size` or a field
/// out of its documented range; RTM_ERR_UNSUPPORTED for fields of a newer
/// header set. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_pacer_new(
    config: *const rtm_pacer_config,
    out: *mut *mut rtm_pacer_t,
) -> rtm_status {
    guard(|| {
        let c = if config.is_null() {
            default_raw()
        } else {
            args::read(config.cast::<RawConfig>(), default_raw())?
        };
        let out = args::out(out)?;
        let invalid = !(1..=RTM_PACER_MAX_CAPACITY).contains(&c.capacity_packets)
            || !(1..=RTM_PACER_MAX_STREAMS).contains(&c.max_streams)
            || !c.pacing_factor.is_finite()
            || !(1.0..=100.0).contains(&c.pacing_factor)
            || c.initial_rate_bps == 0
            || c.max_padding_bytes == 0
            || !(12..=RTM_MAX_PACKET_BYTES_LIMIT).contains(&c.max_packet_bytes);
        if invalid {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let pacer = Pacer::new(PacerConfig {
            capacity_packets: c.capacity_packets,
            max_streams: c.max_streams,
            max_burst_us: c.max_burst_us,
            pacing_factor: c.pacing_factor,
            initial_rate_bps: c.initial_rate_bps,
            ttl_us: c.ttl_us,
            pace_audio: c.pace_audio != 0,
            max_padding_bytes: c.max_padding_bytes,
            retransmission_overdraft_us: c.retransmission_overdraft_us,
        });
        *out = handle::into_raw(rtm_pacer {
            pacer,
            // Every queued packet, the one polled last, and one in flight.
            pool: IssuedPool::new(c.capacity_packets + 2),
            out: None,
            max_packet_bytes: c.max_packet_bytes,
            poisoned: false,
        });
        Ok(())
    })
}

/// Frees a pacer; the release callbacks of queued zero-copy packets run
/// here. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_pacer_free(pacer: *mut rtm_pacer_t) {
    handle::free(pacer)
}

/// Sets the target bitrate (bits/s, from `rtm_bwe_get_estimate`); the
/// pacing rate becomes `pacing_factor` times it. RTM_ERR_NULL_POINTER;
/// RTM_ERR_INVALID_ARGUMENT for 0.
#[no_mangle]
pub unsafe extern "C" fn rtm_pacer_set_target_bitrate(
    pacer: *mut rtm_pacer_t,
    target_bps: u64,
) -> rtm_status {
    handle::with(pacer, |h| {
        h.out = None;
        if target_bps == 0 {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        h.pacer.set_target_bitrate(target_bps);
        Ok(())
    })
}

pub(crate) fn class(code: rtm_packet_class) -> Result<PacketClass, rtm_status> {
    Ok(match code {
        RTM_PACKET_CLASS_AUDIO => PacketClass::Audio,
        RTM_PACKET_CLASS_RETRANSMISSION => PacketClass::Retransmission,
        RTM_PACKET_CLASS_VIDEO => PacketClass::Video,
        RTM_PACKET_CLASS_PADDING => PacketClass::Padding,
        _ => return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
    })
}

fn push_status(e: PushError) -> rtm_status {
    match e {
        PushError::QueueFull => rtm_status::RTM_ERR_QUEUE_FULL,
        PushError::TooManyStreams => rtm_status::RTM_ERR_FULL,
    }
}

impl rtm_pacer {
    fn push(
        &mut self,
        now_us: u64,
        ssrc: u32,
        class: PacketClass,
        packet: Bytes,
        keyframe_start: bool,
    ) -> Result<(), rtm_status> {
        self.pacer
            .push(now_us, ssrc, class, packet, keyframe_start)
            .map_err(push_status)
    }
}

/// Zero-copy push: queues the packet `data[0..len]` of `ssrc` in `class`
/// at `now_us`. The pacer owns the buffer from this call on, whatever it
/// returns: `release(userdata, data, len)` runs exactly once when the
/// pacer is done with it (after the poll that sent it, at the next call on
/// this pacer; when it expires or is superseded; at `rtm_pacer_free`; or
/// before this call returns an error), on the thread making that call.
/// `release` may be NULL (the buffer outlives the pacer). A video RTP
/// packet is queued in sequence-number order among its SSRC's video.
/// `keyframe_start`: a video packet that starts a keyframe; the SSRC's
/// queued video numbered before it is dropped first. RTM_ERR_NULL_POINTER (`pacer`, or `data` with `len` >
/// 0); RTM_ERR_INVALID_ARGUMENT (unknown `class`, an impossible `len`);
/// RTM_ERR_TOO_LARGE (`len` > `max_packet_bytes`); RTM_ERR_QUEUE_FULL
/// (`capacity_packets` queued); RTM_ERR_FULL (`max_streams` SSRCs known).
/// Costs one small allocation (the ownership record): use
/// `rtm_pacer_push_copy` for an allocation-free path.
#[no_mangle]
pub unsafe extern "C" fn rtm_pacer_push(
    pacer: *mut rtm_pacer_t,
    now_us: u64,
    ssrc: u32,
    packet_class: rtm_packet_class,
    data: *mut u8,
    len: usize,
    release: rtm_release_fn,
    userdata: *mut c_void,
    keyframe_start: bool,
) -> rtm_status {
    let packet = match CallerBuffer::adopt(pacer, data, len, release, userdata) {
        Ok(packet) => packet,
        Err(status) => return status,
    };
    handle::with(pacer, |h| {
        h.out = None;
        let class = class(packet_class)?;
        if packet.len() > h.max_packet_bytes {
            return Err(rtm_status::RTM_ERR_TOO_LARGE);
        }
        h.push(now_us, ssrc, class, packet, keyframe_start)
    })
}

/// Copying push: `data[0..len]` is copied into a recycled buffer (no
/// allocation in steady state for packets up to 1500 bytes) and may be
/// reused as soon as this returns. Otherwise as `rtm_pacer_push`.
#[no_mangle]
pub unsafe extern "C" fn rtm_pacer_push_copy(
    pacer: *mut rtm_pacer_t,
    now_us: u64,
    ssrc: u32,
    packet_class: rtm_packet_class,
    data: *const u8,
    len: usize,
    keyframe_start: bool,
) -> rtm_status {
    handle::with(pacer, |h| {
        h.out = None;
        let bytes = args::slice(data, len)?;
        let class = class(packet_class)?;
        if bytes.len() > h.max_packet_bytes {
            return Err(rtm_status::RTM_ERR_TOO_LARGE);
        }
        let packet = h.pool.copy(bytes);
        h.push(now_us, ssrc, class, packet, keyframe_start)
    })
}

/// Starts sending probe cluster `*probe` at `now_us` (from
/// `rtm_bwe_poll_probe`); it replaces a cluster still running. The next
/// polls send queued packets, or ask for padding, at the cluster's rate.
/// RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT for a bad `struct_size`,
/// an id of 0 or a rate of 0; RTM_ERR_UNSUPPORTED for fields of a newer
/// header set.
#[no_mangle]
pub unsafe extern "C" fn rtm_pacer_start_probe(
    pacer: *mut rtm_pacer_t,
    now_us: u64,
    probe: *const rtm_probe_cluster,
) -> rtm_status {
    handle::with(pacer, |h| {
        h.out = None;
        let defaults = rtm_probe_cluster {
            struct_size: 0,
            id: RTM_NO_PROBE_CLUSTER,
            rate_bps: 0,
            min_bytes: 0,
            min_packets: 0,
            duration_us: 0,
        };
        let p = args::read(probe, defaults)?;
        if p.id == RTM_NO_PROBE_CLUSTER || p.rate_bps == 0 {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        h.pacer.start_probe(
            now_us,
            p.id,
            p.rate_bps,
            p.min_bytes,
            p.min_packets,
            p.duration_us,
        );
        Ok(())
    })
}

fn c_class(c: PacketClass) -> rtm_packet_class {
    c as u8
}

/// What to do at `now_us`, into `*out` (set `out->struct_size = sizeof
/// *out` first): RTM_OK with kind RTM_PACER_OUTPUT_SEND (send `data`,
/// valid until the next call on this pacer) or RTM_PACER_OUTPUT_PADDING;
/// RTM_NOTHING_DUE with kind RTM_PACER_OUTPUT_NONE and `wakeup_us` (the
/// output is written in this case too). Poll until RTM_NOTHING_DUE.
/// RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT for a bad
/// `struct_size` (nothing is taken then). Allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_pacer_poll(
    pacer: *mut rtm_pacer_t,
    now_us: u64,
    out: *mut rtm_pacer_output,
) -> rtm_status {
    let mut due = true;
    let status = handle::with(pacer, |h| {
        h.out = None;
        args::check_out(out)?;
        let mut o = rtm_pacer_output {
            struct_size: 0,
            kind: RTM_PACER_OUTPUT_NONE,
            data: core::ptr::null(),
            len: 0,
            ssrc: 0,
            packet_class: RTM_PACKET_CLASS_PADDING,
            probe_cluster: RTM_NO_PROBE_CLUSTER,
            queued_us: 0,
            wakeup_us: 0,
        };
        match h.pacer.poll(now_us) {
            PacerOutput::Send(PacedPacket {
                packet,
                ssrc,
                class,
                probe_cluster,
                queued_us,
            }) => {
                o.kind = RTM_PACER_OUTPUT_SEND;
                o.data = packet.as_ptr();
                o.len = packet.len();
                o.ssrc = ssrc;
                o.packet_class = c_class(class);
                o.probe_cluster = probe_cluster.unwrap_or(RTM_NO_PROBE_CLUSTER);
                o.queued_us = queued_us;
                h.out = Some(packet);
            }
            PacerOutput::Padding {
                bytes,
                probe_cluster,
            } => {
                o.kind = RTM_PACER_OUTPUT_PADDING;
                o.len = bytes;
                o.probe_cluster = probe_cluster;
            }
            PacerOutput::Wait(at) => {
                due = false;
                o.wakeup_us = at.unwrap_or(RTM_NO_WAKEUP);
            }
        }
        args::write(out, o)
    });
    if status == rtm_status::RTM_OK && !due {
        rtm_status::RTM_NOTHING_DUE
    } else {
        status
    }
}

/// When to poll next, given the time `now_us` (µs, `*at`): RTM_OK, or
/// RTM_NOTHING_DUE when nothing is queued and no probe runs (`*at`
/// untouched). RTM_ERR_NULL_POINTER. Only reads the pacer.
#[no_mangle]
pub unsafe extern "C" fn rtm_pacer_next_wakeup(
    pacer: *const rtm_pacer_t,
    now_us: u64,
    at: *mut u64,
) -> rtm_status {
    let mut due = true;
    let status = handle::with_shared(pacer, |h| {
        let at = args::out(at)?;
        match h.pacer.next_wakeup(now_us) {
            Some(t) => *at = t,
            None => due = false,
        }
        Ok(())
    });
    if status == rtm_status::RTM_OK && !due {
        rtm_status::RTM_NOTHING_DUE
    } else {
        status
    }
}

/// The host answered an RTM_PACER_OUTPUT_PADDING of `asked` bytes (its
/// `len`) with `sent` bytes: the budget and the probe cluster are charged
/// what went out, so the cluster asks for the rest when its rate allows;
/// `sent` = 0 (nothing to send) ends the cluster. Answer each request with one packet (a recent one again
/// via `rtm_track_write_probe_padding`, or a padding-only one) and this
/// call, rather than several at one instant: a burst reads as a rate the
/// path cannot carry. RTM_ERR_NULL_POINTER. Allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_pacer_padding_sent(
    pacer: *mut rtm_pacer_t,
    asked: usize,
    sent: usize,
) -> rtm_status {
    handle::with(pacer, |h| {
        h.pacer.padding_sent(asked, sent);
        Ok(())
    })
}

/// The probe cluster still being sent (`*id`, as given to
/// `rtm_pacer_start_probe`): RTM_OK, or RTM_NOTHING_DUE when none runs
/// (`*id` untouched). Start the next cluster from `rtm_bwe_poll_probe` only
/// when none runs: `rtm_pacer_start_probe` replaces a running one, whose
/// result is then lost. RTM_ERR_NULL_POINTER. Only reads the pacer.
#[no_mangle]
pub unsafe extern "C" fn rtm_pacer_probing(pacer: *const rtm_pacer_t, id: *mut u32) -> rtm_status {
    let mut running = true;
    let status = handle::with_shared(pacer, |h| {
        let id = args::out(id)?;
        match h.pacer.probing() {
            Some(p) => *id = p,
            None => running = false,
        }
        Ok(())
    });
    if status == rtm_status::RTM_OK && !running {
        rtm_status::RTM_NOTHING_DUE
    } else {
        status
    }
}

/// The pacer's counters into `*stats` (set `stats->struct_size = sizeof
/// *stats` first). RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT for a
/// bad `struct_size`. Only reads the pacer.
#[no_mangle]
pub unsafe extern "C" fn rtm_pacer_get_stats(
    pacer: *const rtm_pacer_t,
    stats: *mut rtm_pacer_stats,
) -> rtm_status {
    handle::with_shared(pacer, |h| {
        let s = h.pacer.stats();
        let (packets, bytes) = h.pacer.queued();
        args::write(
            stats,
            rtm_pacer_stats {
                struct_size: 0,
                sent_packets: s.sent_packets,
                sent_bytes: s.sent_bytes,
                expired: s.expired,
                superseded: s.superseded,
                refused: s.refused,
                padding_bytes: s.padding_bytes,
                probes_done: s.probes_done,
                max_queued_us: s.max_queued_us,
                queued_packets: packets as u64,
                queued_bytes: bytes as u64,
                pacing_rate_bps: h.pacer.pacing_rate_bps(),
                queue_time_us: h.pacer.queue_time_us(),
            },
        )
    })
}
