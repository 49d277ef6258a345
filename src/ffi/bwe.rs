//! The send-side bandwidth estimator from C (`rtm_bwe_*`): one per
//! transport.

use crate::cc::{Bwe, BweConfig, BweState, ProbeClusterRequest, SentPacketId};
use crate::packet::rtcp::{self, ReferenceTimeUnwrapper, RtcpPacket, REFERENCE_TICK_US};

use super::cc::{
    check_results, read_result, rtm_packet_id_kind, rtm_packet_result, rust_result,
    RTM_PACKET_ID_RTP, RTM_PACKET_ID_TRANSPORT_SEQ,
};
use super::handle;
use super::{args, guard, rtm_status};

/// The send-side bandwidth estimator of one transport (opaque): delay- and
/// loss-based, with probing, from transport-cc or RFC 8888 feedback.
/// Create with `rtm_bwe_new`, free with `rtm_bwe_free`. Calls on one
/// estimator must not overlap; it may move between threads. All its memory
/// is reserved at creation; no call allocates.
pub struct rtm_bwe {
    bwe: Bwe,
    /// transport-cc reference times, unwrapped across feedbacks.
    reference: ReferenceTimeUnwrapper,
    poisoned: bool,
}

/// The C name of the estimator handle.
pub type rtm_bwe_t = rtm_bwe;

handle::poison_flag!(rtm_bwe);

/// What the estimator is doing (`RTM_BWE_*`).
pub type rtm_bwe_state = u8;
pub const RTM_BWE_NORMAL: rtm_bwe_state = 0;
/// The queue grows (or just grew): the estimate backs off.
pub const RTM_BWE_OVERUSING: rtm_bwe_state = 1;
/// The sender sends well under the target; the estimate holds.
pub const RTM_BWE_APP_LIMITED: rtm_bwe_state = 2;
/// A probe cluster is out, awaiting its result.
pub const RTM_BWE_PROBING: rtm_bwe_state = 3;

/// `probe_cluster` of a packet that belongs to no probe cluster (probe
/// cluster ids are never 0).
pub const RTM_NO_PROBE_CLUSTER: u32 = 0;

/// `rtm_bwe_on_remb`'s `bps` that lifts the REMB ceiling.
pub const RTM_BWE_NO_REMB: u64 = u64::MAX;

/// Options of an estimator (a growable struct): fill with
/// `rtm_bwe_config_init(&cfg, sizeof cfg)`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_bwe_config {
    pub struct_size: usize,
    /// First estimate, bits/s. Default 300000.
    pub start_bps: u64,
    /// Floor, bits/s (> 0, <= start_bps). Default 30000.
    pub min_bps: u64,
    /// Ceiling, bits/s (>= start_bps). Default 20000000.
    pub max_bps: u64,
    /// Probe at 3x and 6x the start rate at the first call. Default true.
    pub initial_probes: bool,
    /// Periodic probes (steady upward, application-limited, recovery after
    /// a drop). Default true.
    pub periodic_probes: bool,
    /// Without feedback for this long while sending, the target halves,
    /// µs (> 0). Default 1000000.
    pub feedback_timeout_us: u64,
}

/// The estimate now (a growable struct: set `struct_size = sizeof` before
/// `rtm_bwe_get_estimate`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_bwe_estimate {
    pub struct_size: usize,
    /// The bitrate the sender may use now, bits/s (give it to
    /// `rtm_pacer_set_target_bitrate` and the allocator).
    pub target_bps: u64,
    /// RTM_BWE_NORMAL, _OVERUSING, _APP_LIMITED or _PROBING.
    pub state: rtm_bwe_state,
    /// Whether `rtt_us` is known.
    pub has_rtt: bool,
    /// Smoothed round-trip time, µs (from `rtm_bwe_on_rtt` in the last
    /// 5 s, else from feedback).
    pub rtt_us: u64,
    /// Queuing delay the newest feedback showed, µs.
    pub queue_delay_us: u64,
    /// Loss ratio of the last interval, 0..=1.
    pub loss_ratio: f64,
    /// The random (non-congestion) loss learned, 0..=1.
    pub inherent_loss: f64,
    /// The bottleneck capacity measured at the last back-off while the
    /// estimate stays near it, bits/s; 0 when unknown.
    pub capacity_bps: u64,
}

/// Counters of an estimator (a growable struct: set `struct_size = sizeof`
/// before `rtm_bwe_get_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_bwe_stats {
    pub struct_size: usize,
    pub packets_sent: u64,
    pub bytes_sent: u64,
    /// Feedback messages taken.
    pub feedbacks: u64,
    pub packets_received: u64,
    pub packets_lost: u64,
    /// Feedback entries about packets never sent or no longer remembered
    /// (ignored).
    pub unknown: u64,
    /// Feedback entries already reported (ignored).
    pub duplicates: u64,
    /// Arrival times that jumped absurdly (ignored).
    pub absurd: u64,
    /// Entries past the most one feedback may carry (2048; ignored).
    pub overflow: u64,
    pub decreases: u64,
    pub probes_requested: u64,
    pub probe_results: u64,
    pub feedback_timeouts: u64,
    /// Probe clusters that ended with too few packets arrived to be read
    /// (a loss burst); such a probe may be repeated at once. (Appended
    /// after 0.2.0: a caller compiled without it gets the older layout.)
    pub probes_unread: u64,
}

/// A probe cluster the estimator wants sent (a growable struct: set
/// `struct_size = sizeof` before `rtm_bwe_poll_probe`; give it to
/// `rtm_pacer_start_probe` as it is).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_probe_cluster {
    pub struct_size: usize,
    /// Cluster id (never 0): stamp it on the packets sent for it
    /// (`rtm_bwe_on_sent`'s `probe_cluster`).
    pub id: u32,
    /// Rate to send the cluster at, bits/s (> 0).
    pub rate_bps: u64,
    /// The cluster counts once this many bytes...
    pub min_bytes: u32,
    /// ...and this many packets were sent.
    pub min_packets: u32,
    /// Longest time the cluster may take, µs.
    pub duration_us: u64,
}

args::versioned!(rtm_bwe_config, rtm_bwe_estimate, rtm_probe_cluster);
args::versioned_grown!(rtm_bwe_stats, first_new_field: probes_unread);

fn default_config() -> rtm_bwe_config {
    let d = BweConfig::default();
    rtm_bwe_config {
        struct_size: core::mem::size_of::<rtm_bwe_config>(),
        start_bps: d.start_bps,
        min_bps: d.min_bps,
        max_bps: d.max_bps,
        initial_probes: d.initial_probes,
        periodic_probes: d.periodic_probes,
        feedback_timeout_us: d.feedback_timeout_us,
    }
}

/// Fills `*config` with the defaults and sets `config->struct_size` to
/// `size` (pass `sizeof *config`). RTM_ERR_NULL_POINTER;
/// RTM_ERR_INVALID_ARGUMENT when `size` is not the sizeof of a released
/// layout (nor larger). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_config_init(
    config: *mut rtm_bwe_config,
    size: usize,
) -> rtm_status {
    guard(|| args::init(config, size, default_config()))
}

/// Creates an estimator at `now_us` (the caller's monotonic clock, µs; the
/// same clock for every call). On success `*out` owns it. `config` may be
/// NULL for the defaults. RTM_ERR_NULL_POINTER (`out`);
/// RTM_ERR_INVALID_ARGUMENT for a bad `struct_size` or rates out of order
/// (0 < min_bps <= start_bps <= max_bps) or a zero feedback timeout;
/// RTM_ERR_UNSUPPORTED for fields of a newer header set. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_new(
    config: *const rtm_bwe_config,
    now_us: u64,
    out: *mut *mut rtm_bwe_t,
) -> rtm_status {
    guard(|| {
        let c = if config.is_null() {
            default_config()
        } else {
            // The C bools are read as bytes: a caller's garbage is not UB.
            let raw = args::read(config.cast::<RawConfig>(), raw_default())?;
            rtm_bwe_config {
                struct_size: raw.struct_size,
                start_bps: raw.start_bps,
                min_bps: raw.min_bps,
                max_bps: raw.max_bps,
                initial_probes: raw.initial_probes != 0,
                periodic_probes: raw.periodic_probes != 0,
                feedback_timeout_us: raw.feedback_timeout_us,
            }
        };
        let out = args::out(out)?;
        let ordered = 0 < c.min_bps && c.min_bps <= c.start_bps && c.start_bps <= c.max_bps;
        if !ordered || c.feedback_timeout_us == 0 {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let config = BweConfig {
            start_bps: c.start_bps,
            min_bps: c.min_bps,
            max_bps: c.max_bps,
            initial_probes: c.initial_probes,
            periodic_probes: c.periodic_probes,
            feedback_timeout_us: c.feedback_timeout_us,
        };
        *out = handle::into_raw(rtm_bwe {
            bwe: Bwe::new(config, now_us),
            reference: ReferenceTimeUnwrapper::new(),
            poisoned: false,
        });
        Ok(())
    })
}

/// `rtm_bwe_config` with its bools as bytes (same layout).
#[repr(C)]
#[derive(Clone, Copy)]
struct RawConfig {
    struct_size: usize,
    start_bps: u64,
    min_bps: u64,
    max_bps: u64,
    initial_probes: u8,
    periodic_probes: u8,
    feedback_timeout_us: u64,
}
const _: () = assert!(core::mem::size_of::<RawConfig>() == core::mem::size_of::<rtm_bwe_config>());
args::versioned!(RawConfig);

fn raw_default() -> RawConfig {
    let d = default_config();
    RawConfig {
        struct_size: d.struct_size,
        start_bps: d.start_bps,
        min_bps: d.min_bps,
        max_bps: d.max_bps,
        initial_probes: d.initial_probes.into(),
        periodic_probes: d.periodic_probes.into(),
        feedback_timeout_us: d.feedback_timeout_us,
    }
}

/// Frees an estimator. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_free(bwe: *mut rtm_bwe_t) {
    handle::free(bwe)
}

fn packet_id(kind: rtm_packet_id_kind, ssrc: u32, seq: u16) -> Result<SentPacketId, rtm_status> {
    match kind {
        RTM_PACKET_ID_TRANSPORT_SEQ => Ok(SentPacketId::TransportSeq(seq)),
        RTM_PACKET_ID_RTP => Ok(SentPacketId::Rtp { ssrc, seq }),
        _ => Err(rtm_status::RTM_ERR_INVALID_ARGUMENT),
    }
}

/// A packet of `size` bytes (the whole UDP payload) has just left at
/// `now_us`: call it for every packet the feedback will name, at the
/// socket, after pacing. `id_kind` RTM_PACKET_ID_TRANSPORT_SEQ names it by
/// its transport-wide sequence number `seq` (`ssrc` ignored), or
/// RTM_PACKET_ID_RTP by `ssrc`/`seq` (RFC 8888 feedback). `probe_cluster`:
/// the id of the probe cluster it was sent for (the pacer's output), or
/// RTM_NO_PROBE_CLUSTER. RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT
/// for an unknown `id_kind`. Allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_on_sent(
    bwe: *mut rtm_bwe_t,
    now_us: u64,
    id_kind: rtm_packet_id_kind,
    ssrc: u32,
    seq: u16,
    size: usize,
    probe_cluster: u32,
) -> rtm_status {
    handle::with(bwe, |h| {
        let id = packet_id(id_kind, ssrc, seq)?;
        let probe = (probe_cluster != RTM_NO_PROBE_CLUSTER).then_some(probe_cluster);
        h.bwe.on_sent(now_us, id, size, probe);
        Ok(())
    })
}

/// One feedback message's results `results[0..n]`, received at `now_us`
/// (e.g. from `rtm_cc_feedback_parse`, or the host's own parser). Entries
/// about packets never sent, no longer remembered or already reported,
/// absurd arrival times and entries past 2048 are counted in the stats
/// and ignored: the estimate stays sane. RTM_ERR_NULL_POINTER (`bwe`, or
/// `results` with `n` > 0); RTM_ERR_INVALID_ARGUMENT for an entry with an
/// unknown `id_kind` (checked first: nothing is taken then). Allocates
/// nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_on_feedback(
    bwe: *mut rtm_bwe_t,
    now_us: u64,
    results: *const rtm_packet_result,
    n: usize,
) -> rtm_status {
    handle::with(bwe, |h| {
        check_results(results, n)?;
        for i in 0..n {
            rust_result(&read_result(results, i))?;
        }
        let iter = (0..n).filter_map(|i| {
            // SAFETY: `i < n`; every entry was checked above.
            rust_result(&unsafe { read_result(results, i) }).ok()
        });
        h.bwe.on_feedback(now_us, iter);
        Ok(())
    })
}

/// Gives the estimator every transport-cc and RFC 8888 feedback packet of
/// the (compound) RTCP packet `packet[0..len]`, received at `now_us`,
/// parsed straight into it (no caller array, no allocation); other RTCP
/// packets are skipped (read REMB and RRs with `rtm_rtcp_next` and give
/// them to `rtm_bwe_on_remb` / `rtm_bwe_on_rtt`). The whole compound is
/// validated first: a damaged one changes nothing and returns the parse
/// status of `rtm_rtcp_next` (RTM_ERR_TRUNCATED, RTM_ERR_BAD_VERSION,
/// RTM_ERR_BAD_LENGTH, RTM_ERR_BAD_PADDING, RTM_ERR_MALFORMED). `*taken`
/// (may be NULL) receives the number of feedback packets taken. Bad
/// entries are counted and ignored as in `rtm_bwe_on_feedback`.
/// RTM_ERR_NULL_POINTER (`bwe`, or `packet` with `len` > 0).
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_on_rtcp(
    bwe: *mut rtm_bwe_t,
    now_us: u64,
    packet: *const u8,
    len: usize,
    taken: *mut usize,
) -> rtm_status {
    handle::with(bwe, |h| {
        let packet = args::slice(packet, len)?;
        for p in rtcp::compound(packet) {
            p?;
        }
        let mut n = 0;
        for p in rtcp::compound(packet).flatten() {
            match p {
                RtcpPacket::TransportCc(fb) => {
                    let base = h
                        .reference
                        .unwrap(fb.reference_time_raw().into())
                        .saturating_mul(REFERENCE_TICK_US);
                    h.bwe.on_feedback(now_us, fb.results_from(base));
                    n += 1;
                }
                RtcpPacket::CongestionFeedback(fb) => {
                    h.bwe.on_feedback(now_us, fb.results());
                    n += 1;
                }
                _ => {}
            }
        }
        if let Some(taken) = taken.as_mut() {
            *taken = n;
        }
        Ok(())
    })
}

/// A round-trip time `rtt_us` from RTCP receiver reports (DLSR/LSR) at
/// `now_us`. RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_on_rtt(
    bwe: *mut rtm_bwe_t,
    now_us: u64,
    rtt_us: u64,
) -> rtm_status {
    handle::with(bwe, |h| {
        h.bwe.on_rtt(now_us, rtt_us);
        Ok(())
    })
}

/// A REMB of `bps` from the peer at `now_us`: a ceiling on the target, and
/// the target itself for a peer that sends no transport-wide feedback.
/// RTM_BWE_NO_REMB lifts the ceiling. RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_on_remb(bwe: *mut rtm_bwe_t, now_us: u64, bps: u64) -> rtm_status {
    handle::with(bwe, |h| {
        h.bwe
            .on_remb(now_us, (bps != RTM_BWE_NO_REMB).then_some(bps));
        Ok(())
    })
}

/// The allocator wants `target_bps` (an upgrade): the estimator queues a
/// probe toward it (at most twice the estimate now), unless the estimate
/// already reaches it or the link is overusing. Take the probe with
/// `rtm_bwe_poll_probe`. RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_request_probe(
    bwe: *mut rtm_bwe_t,
    now_us: u64,
    target_bps: u64,
) -> rtm_status {
    handle::with(bwe, |h| {
        h.bwe.request_probe(now_us, target_bps);
        Ok(())
    })
}

/// The next probe cluster to send (runs the timers first, as
/// `rtm_bwe_handle_timeout`): RTM_OK with `*probe` written (set
/// `probe->struct_size = sizeof *probe` first; give it to
/// `rtm_pacer_start_probe`), RTM_NOTHING_DUE when none is wanted.
/// RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT for a bad
/// `struct_size` (nothing is taken then).
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_poll_probe(
    bwe: *mut rtm_bwe_t,
    now_us: u64,
    probe: *mut rtm_probe_cluster,
) -> rtm_status {
    let mut due = true;
    let status = handle::with(bwe, |h| {
        args::check_out(probe)?;
        match h.bwe.poll_probe(now_us) {
            Some(req) => args::write(probe, c_probe(&req)),
            None => {
                due = false;
                Ok(())
            }
        }
    });
    if status == rtm_status::RTM_OK && !due {
        rtm_status::RTM_NOTHING_DUE
    } else {
        status
    }
}

fn c_probe(r: &ProbeClusterRequest) -> rtm_probe_cluster {
    rtm_probe_cluster {
        struct_size: 0,
        id: r.id,
        rate_bps: r.rate_bps,
        min_bytes: r.min_bytes,
        min_packets: r.min_packets,
        duration_us: r.duration_us,
    }
}

/// Runs the estimator's timers at `now_us` (initial and periodic probes,
/// the feedback timeout). Call it at `rtm_bwe_next_wakeup`.
/// RTM_ERR_NULL_POINTER.
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_handle_timeout(bwe: *mut rtm_bwe_t, now_us: u64) -> rtm_status {
    handle::with(bwe, |h| {
        h.bwe.handle_timeout(now_us);
        Ok(())
    })
}

/// When `rtm_bwe_handle_timeout` (or `rtm_bwe_poll_probe`) next has work
/// (µs, `*at`; at most 100 ms after the latest time the estimator has
/// seen). The estimator always has a timer, so this returns RTM_OK; a
/// caller should still treat RTM_NOTHING_DUE (reserved) as "no timer".
/// RTM_ERR_NULL_POINTER. Only reads the estimator.
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_next_wakeup(bwe: *const rtm_bwe_t, at: *mut u64) -> rtm_status {
    handle::with_shared_out(bwe, at, |h| Ok(h.bwe.next_wakeup()))
}

/// The last probe result the estimate took: RTM_OK with `*at_us` (when it
/// was taken, µs, the caller's clock) and `*bps` (the rate the probe got
/// through, bits/s) written; RTM_NOTHING_DUE when no probe result has been
/// taken yet (results taken while overusing are not kept), `*at_us` and
/// `*bps` untouched. An allocator waiting for a probe to confirm an
/// upgrade gives `*bps` to `rtm_allocator_on_probe_result` when `*at_us`
/// is newer than the last one it saw. RTM_ERR_NULL_POINTER (`bwe`, `at_us`
/// or `bps`). Only reads the estimator; allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_last_probe_result(
    bwe: *const rtm_bwe_t,
    at_us: *mut u64,
    bps: *mut u64,
) -> rtm_status {
    let mut due = true;
    let status = handle::with_shared(bwe, |h| {
        let at_us = args::out(at_us)?;
        let bps = args::out(bps)?;
        match h.bwe.last_probe_result() {
            Some((at, rate)) => {
                *at_us = at;
                *bps = rate;
            }
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

/// The estimate now into `*estimate` (set `estimate->struct_size = sizeof
/// *estimate` first). RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT for a
/// bad `struct_size`. Only reads the estimator.
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_get_estimate(
    bwe: *const rtm_bwe_t,
    estimate: *mut rtm_bwe_estimate,
) -> rtm_status {
    handle::with_shared(bwe, |h| {
        let b = &h.bwe;
        let (loss_ratio, inherent_loss) = b.loss();
        let rtt = b.rtt_us();
        args::write(
            estimate,
            rtm_bwe_estimate {
                struct_size: 0,
                target_bps: b.target_bps(),
                state: match b.state() {
                    BweState::Normal => RTM_BWE_NORMAL,
                    BweState::Overusing => RTM_BWE_OVERUSING,
                    BweState::AppLimited => RTM_BWE_APP_LIMITED,
                    BweState::Probing => RTM_BWE_PROBING,
                },
                has_rtt: rtt.is_some(),
                rtt_us: rtt.unwrap_or(0),
                queue_delay_us: b.queue_delay_us(),
                loss_ratio,
                inherent_loss,
                capacity_bps: b.capacity_bps().unwrap_or(0),
            },
        )
    })
}

/// The estimator's counters into `*stats` (set `stats->struct_size =
/// sizeof *stats` first). RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT
/// for a bad `struct_size`. Only reads the estimator.
#[no_mangle]
pub unsafe extern "C" fn rtm_bwe_get_stats(
    bwe: *const rtm_bwe_t,
    stats: *mut rtm_bwe_stats,
) -> rtm_status {
    handle::with_shared(bwe, |h| {
        let s = h.bwe.stats();
        args::write(
            stats,
            rtm_bwe_stats {
                struct_size: 0,
                packets_sent: s.packets_sent,
                bytes_sent: s.bytes_sent,
                feedbacks: s.feedbacks,
                packets_received: s.packets_received,
                packets_lost: s.packets_lost,
                unknown: s.unknown,
                duplicates: s.duplicates,
                absurd: s.absurd,
                overflow: s.overflow,
                decreases: s.decreases,
                probes_requested: s.probes_requested,
                probe_results: s.probe_results,
                feedback_timeouts: s.feedback_timeouts,
                probes_unread: s.probes_unread,
            },
        )
    })
}
