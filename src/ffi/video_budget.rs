//! The video budget from C (`rtm_video_budget_*`): one per transport, next
//! to its pacer and estimator.

use crate::cc::{VideoBudget, VideoBudgetConfig};

use super::handle;
use super::pacer::{class, rtm_packet_class};
use super::{args, guard, rtm_status};

/// What a subscriber's video may use of the estimator's target (opaque):
/// the target minus the audio and the retransmissions the transport sends,
/// measured over a sliding window, so that the allocator does not plan on
/// bytes already spoken for; and the probe rate that would confirm an
/// upgrade. Create with `rtm_video_budget_new`, free with
/// `rtm_video_budget_free`. Calls on one budget must not overlap; it may
/// move between threads. Its memory is fixed at creation; no call
/// allocates.
pub struct rtm_video_budget {
    budget: VideoBudget,
    poisoned: bool,
}

/// The C name of the video budget handle.
pub type rtm_video_budget_t = rtm_video_budget;

handle::poison_flag!(rtm_video_budget);

/// Options of a video budget (a growable struct): fill with
/// `rtm_video_budget_config_init(&cfg, sizeof cfg)`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_video_budget_config {
    /// `sizeof` the caller's struct, set by `rtm_video_budget_config_init`.
    pub struct_size: usize,
    /// Audio reserved even when less was measured (silent speakers still
    /// send comfort noise and will speak), bits/s. Default 50000 (32 kbit/s
    /// Opus with its RTP, SRTP and IP overhead).
    pub audio_reserve_bps: u64,
    /// Window the audio and retransmission rates are measured over, µs,
    /// RTM_VIDEO_BUDGET_MIN_WINDOW_US..=RTM_VIDEO_BUDGET_MAX_WINDOW_US (ten
    /// buckets of a tenth of it each). Default 1000000.
    pub window_us: u64,
    /// A probe for an upgrade goes this many percent above what it must
    /// confirm (the wanted rate, at least the target: a probe at the target
    /// proves nothing new, one at exactly the wanted rate reads a little
    /// under it), 0..=RTM_VIDEO_BUDGET_MAX_PROBE_MARGIN_PERCENT. Default 15.
    pub probe_margin_percent: u64,
}

/// Shortest `window_us`: each of the window's ten buckets at least 1 µs.
pub const RTM_VIDEO_BUDGET_MIN_WINDOW_US: u64 = 10;
/// Longest `window_us`: one hour.
pub const RTM_VIDEO_BUDGET_MAX_WINDOW_US: u64 = 3_600_000_000;
/// Largest `probe_margin_percent`.
pub const RTM_VIDEO_BUDGET_MAX_PROBE_MARGIN_PERCENT: u64 = 1000;

/// The rates at one time for one target (a growable struct: set
/// `struct_size = sizeof` before `rtm_video_budget_get`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_video_budget_rates {
    pub struct_size: usize,
    /// The target asked about, bits/s (as given).
    pub target_bps: u64,
    /// Audio sent over the window, bits/s, at least `audio_reserve_bps`.
    pub audio_bps: u64,
    /// Retransmissions sent over the window, bits/s.
    pub retransmission_bps: u64,
    /// What video may use: `target_bps` - `audio_bps` -
    /// `retransmission_bps`, 0 when they take it all. Give it to
    /// `rtm_allocator_allocate` as its estimate.
    pub video_bps: u64,
}

args::versioned!(rtm_video_budget_config, rtm_video_budget_rates);

fn default_config() -> rtm_video_budget_config {
    let d = VideoBudgetConfig::default();
    rtm_video_budget_config {
        struct_size: core::mem::size_of::<rtm_video_budget_config>(),
        audio_reserve_bps: d.audio_reserve_bps,
        window_us: d.window_us,
        probe_margin_percent: d.probe_margin_percent,
    }
}

/// Fills `*config` with the defaults and sets `config->struct_size` to
/// `size` (pass `sizeof *config`). RTM_ERR_NULL_POINTER;
/// RTM_ERR_INVALID_ARGUMENT when `size` is not the sizeof of a released
/// layout (nor larger). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_video_budget_config_init(
    config: *mut rtm_video_budget_config,
    size: usize,
) -> rtm_status {
    guard(|| args::init(config, size, default_config()))
}

/// Creates a video budget; nothing is measured yet (the audio reserve
/// only). On success `*out` owns it. `config` may be NULL for the
/// defaults. RTM_ERR_NULL_POINTER (`out`); RTM_ERR_INVALID_ARGUMENT for a
/// bad `struct_size` or a field out of its documented range;
/// RTM_ERR_UNSUPPORTED for fields of a newer header set. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_video_budget_new(
    config: *const rtm_video_budget_config,
    out: *mut *mut rtm_video_budget_t,
) -> rtm_status {
    guard(|| {
        let c = if config.is_null() {
            default_config()
        } else {
            args::read(config, default_config())?
        };
        let out = args::out(out)?;
        let invalid = !(RTM_VIDEO_BUDGET_MIN_WINDOW_US..=RTM_VIDEO_BUDGET_MAX_WINDOW_US)
            .contains(&c.window_us)
            || c.probe_margin_percent > RTM_VIDEO_BUDGET_MAX_PROBE_MARGIN_PERCENT;
        if invalid {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        *out = handle::into_raw(rtm_video_budget {
            budget: VideoBudget::new(VideoBudgetConfig {
                audio_reserve_bps: c.audio_reserve_bps,
                window_us: c.window_us,
                probe_margin_percent: c.probe_margin_percent,
            }),
            poisoned: false,
        });
        Ok(())
    })
}

/// Frees a video budget. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_video_budget_free(budget: *mut rtm_video_budget_t) {
    handle::free(budget)
}

/// A packet of `bytes` bytes (as given to `rtm_bwe_on_sent`) of class
/// `packet_class` (RTM_PACKET_CLASS_*, the pacer output's) left at
/// `now_us` (the caller's monotonic clock, µs; the same clock for every
/// call). Call it for every packet sent; audio and retransmissions are
/// counted, video and padding are not. RTM_ERR_NULL_POINTER;
/// RTM_ERR_INVALID_ARGUMENT for an unknown class (nothing is counted).
/// Allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_video_budget_on_sent(
    budget: *mut rtm_video_budget_t,
    now_us: u64,
    packet_class: rtm_packet_class,
    bytes: usize,
) -> rtm_status {
    handle::with(budget, |h| {
        h.budget.on_sent(now_us, class(packet_class)?, bytes);
        Ok(())
    })
}

/// The rates over the window ending at `now_us`, and what video may use of
/// `target_bps` (the estimator's target, `rtm_bwe_estimate.target_bps`),
/// into `*rates` (set `rates->struct_size = sizeof *rates` first).
/// RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT for a bad
/// `struct_size`. Only reads the budget; allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_video_budget_get(
    budget: *const rtm_video_budget_t,
    now_us: u64,
    target_bps: u64,
    rates: *mut rtm_video_budget_rates,
) -> rtm_status {
    handle::with_shared(budget, |h| {
        let b = &h.budget;
        args::write(
            rates,
            rtm_video_budget_rates {
                struct_size: 0,
                target_bps,
                audio_bps: b.audio_bps(now_us),
                retransmission_bps: b.retransmission_bps(now_us),
                video_bps: b.video_bps(now_us, target_bps),
            },
        )
    })
}

/// The probe rate that would confirm `video_wanted_bps` of video (e.g.
/// `rtm_allocator_wanted_bps`) at `now_us`, into `*probe_bps`: that plus
/// the audio and retransmission rates (or `target_bps` if more: an
/// estimator only probes above its estimate), `probe_margin_percent` above
/// it (a probe reads a little under the rate it was asked for). Give
/// it to `rtm_bwe_request_probe`. RTM_ERR_NULL_POINTER. Only reads the
/// budget; allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_video_budget_probe_bps(
    budget: *const rtm_video_budget_t,
    now_us: u64,
    video_wanted_bps: u64,
    target_bps: u64,
    probe_bps: *mut u64,
) -> rtm_status {
    handle::with_shared_out(budget, probe_bps, |h| {
        Ok(h.budget.probe_bps(now_us, video_wanted_bps, target_bps))
    })
}
