//! SRTP/SRTCP contexts from C.

use crate::srtp::{self, split_keying_material, Config, Profile, Srtp};

use super::handle;
use super::{args, guard, rtm_status};

/// One master key's SRTP/SRTCP state (opaque). Create with `rtm_srtp_new`,
/// free with `rtm_srtp_free`. Calls on one context must not overlap; it may
/// move between threads.
pub struct rtm_srtp {
    /// Boxed where it is built: no copy of the session keys is left on the
    /// stack (`Srtp::new_boxed`); wiped when dropped.
    ctx: Box<Srtp>,
    poisoned: bool,
}

/// The C name of the SRTP context handle.
pub type rtm_srtp_t = rtm_srtp;

handle::poison_flag!(rtm_srtp);

/// Options of an SRTP context (a growable struct): fill with
/// `rtm_srtp_config_init(&cfg, sizeof cfg)`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_srtp_config {
    /// `sizeof` the caller's struct, set by `rtm_srtp_config_init`.
    pub struct_size: usize,
    /// Replay window in packets, for RTP and SRTCP each, 1..=
    /// RTM_SRTP_MAX_REPLAY_WINDOW; rounded up to a power of two (at least
    /// 64). Default 1024 (at least the NACK history).
    pub replay_window: u32,
    /// Most SSRCs tracked; packets of more are rejected with
    /// RTM_ERR_SSRC_LIMIT. Default 1024. Must be > 0.
    pub max_ssrcs: u32,
    /// RFC 9335 cryptex: encrypt CSRCs and header extensions when
    /// protecting, accept such packets when unprotecting. Default false.
    pub cryptex: bool,
}

/// The largest `replay_window` (libsrtp's maximum): 4 KiB of window per
/// SSRC and direction.
pub const RTM_SRTP_MAX_REPLAY_WINDOW: usize = 32_768;
const _: () = assert!(RTM_SRTP_MAX_REPLAY_WINDOW == srtp::MAX_REPLAY_WINDOW);

/// The most bytes protect appends to any packet (SRTCP with AES-GCM).
/// A packet buffer with this much room past the packet always suffices
/// (RTP with cryptex may add 4 bytes more: an empty extension header when
/// the packet has CSRCs but no extension).
pub const RTM_SRTP_MAX_TRAILER_LEN: usize = 20;
const _: () = assert!(RTM_SRTP_MAX_TRAILER_LEN == srtp::MAX_TRAILER_LEN);

args::versioned!(rtm_srtp_config, rtm_srtp_stats);

fn default_config() -> rtm_srtp_config {
    let d = Config::default();
    rtm_srtp_config {
        struct_size: core::mem::size_of::<rtm_srtp_config>(),
        replay_window: d.replay_window as u32,
        max_ssrcs: d.max_ssrcs as u32,
        cryptex: d.cryptex,
    }
}

/// Fills `*config` with the defaults and sets `config->struct_size` to
/// `size` (pass `sizeof *config`). RTM_ERR_INVALID_ARGUMENT when `size` is
/// that is not the sizeof of a released layout (nor larger). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_srtp_config_init(
    config: *mut rtm_srtp_config,
    size: usize,
) -> rtm_status {
    guard(|| args::init(config, size, default_config()))
}

fn profile(id: u16) -> Result<Profile, rtm_status> {
    Profile::from_id(id).ok_or(rtm_status::RTM_ERR_UNKNOWN_PROFILE)
}

/// Creates a context for protection profile `profile` (the DTLS-SRTP id:
/// 1 AES128_CM_HMAC_SHA1_80, 2 AES128_CM_HMAC_SHA1_32, 3
/// AES256_CM_HMAC_SHA1_80, 4 AES256_CM_HMAC_SHA1_32, 7 AEAD_AES_128_GCM,
/// 8 AEAD_AES_256_GCM) from the master key (16 or 32 bytes) and salt (14
/// bytes, 12 for GCM). Session keys are derived here, once. `config` may be
/// NULL for defaults. On success `*out` owns the new context.
/// RTM_ERR_UNKNOWN_PROFILE, RTM_ERR_BAD_KEY_LENGTH, RTM_ERR_INVALID_ARGUMENT
/// (a config field of 0, or a replay window above
/// RTM_SRTP_MAX_REPLAY_WINDOW). Thread-safe.
///
/// Key material: rtmedia keeps the session keys it derives (and the key
/// schedules of AES, HMAC-SHA1 and AES-GCM) only inside the context, and
/// clears every copy it made: derivation temporaries at once, the stack it
/// used before returning, the context itself when it is freed (or when
/// creation fails). It never keeps `key` or `salt`: clearing them, and any
/// `rtm_srtp_master_key` they came from, is the caller's job, as is the
/// packet buffers' plaintext. Not covered: a live context in a core dump
/// (nothing is `mlock`ed) and values still in CPU registers.
#[no_mangle]
pub unsafe extern "C" fn rtm_srtp_new(
    profile_id: u16,
    key: *const u8,
    key_len: usize,
    salt: *const u8,
    salt_len: usize,
    config: *const rtm_srtp_config,
    out: *mut *mut rtm_srtp_t,
) -> rtm_status {
    guard(|| {
        let out = args::out(out)?;
        let profile = profile(profile_id)?;
        let key = args::slice(key, key_len)?;
        let salt = args::slice(salt, salt_len)?;
        let c = if config.is_null() {
            default_config()
        } else {
            args::read(config, default_config())?
        };
        if c.replay_window == 0
            || c.replay_window as usize > RTM_SRTP_MAX_REPLAY_WINDOW
            || c.max_ssrcs == 0
        {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let config = Config {
            replay_window: c.replay_window as usize,
            max_ssrcs: c.max_ssrcs as usize,
            cryptex: c.cryptex,
        };
        let ctx = Srtp::new_boxed(profile, key, salt, config)?;
        *out = handle::into_raw(rtm_srtp {
            ctx,
            poisoned: false,
        });
        Ok(())
    })
}

/// Frees a context, clearing its key material (see "Key material" at
/// `rtm_srtp_new`); NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn rtm_srtp_free(ctx: *mut rtm_srtp_t) {
    handle::free(ctx)
}

/// Protects the RTP packet `packet[0..len]` in place in a buffer of
/// `capacity` bytes, appending the tag; `*out_len` receives the SRTP length.
/// RTM_ERR_BUFFER_TOO_SMALL unless `capacity >= len + rtp trailer` (see
/// `rtm_srtp_profile_overhead`); RTM_ERR_INVALID_ARGUMENT if `len >
/// capacity`; RTM_ERR_SSRC_LIMIT; parse statuses for a malformed header. On
/// any error the buffer is unchanged.
#[no_mangle]
pub unsafe extern "C" fn rtm_srtp_protect(
    ctx: *mut rtm_srtp_t,
    packet: *mut u8,
    len: usize,
    capacity: usize,
    out_len: *mut usize,
) -> rtm_status {
    handle::with(ctx, |h| {
        let buf = args::packet_buffer(packet, len, capacity)?;
        let out_len = args::out(out_len)?;
        *out_len = h.ctx.protect_rtp(buf, len)?;
        Ok(())
    })
}

/// Verifies and decrypts the SRTP packet `packet[0..len]` in place;
/// `*out_len` receives the RTP length. A packet too short for a header and
/// tag gives RTM_ERR_TRUNCATED. Drop silently on RTM_ERR_REPLAYED
/// and RTM_ERR_REPLAY_TOO_OLD; log RTM_ERR_AUTH_FAILED. On any error the
/// buffer is unchanged and the replay window and ROC did not move.
#[no_mangle]
pub unsafe extern "C" fn rtm_srtp_unprotect(
    ctx: *mut rtm_srtp_t,
    packet: *mut u8,
    len: usize,
    out_len: *mut usize,
) -> rtm_status {
    handle::with(ctx, |h| {
        let buf = args::slice_mut(packet, len)?;
        let out_len = args::out(out_len)?;
        *out_len = h.ctx.unprotect_rtp(buf)?;
        Ok(())
    })
}

/// Protects the (compound) RTCP packet `packet[0..len]` in place, appending
/// the E-bit/SRTCP index word and the tag (see `rtm_srtp_profile_overhead`).
/// Same statuses as `rtm_srtp_protect`.
#[no_mangle]
pub unsafe extern "C" fn rtm_srtcp_protect(
    ctx: *mut rtm_srtp_t,
    packet: *mut u8,
    len: usize,
    capacity: usize,
    out_len: *mut usize,
) -> rtm_status {
    handle::with(ctx, |h| {
        let buf = args::packet_buffer(packet, len, capacity)?;
        let out_len = args::out(out_len)?;
        *out_len = h.ctx.protect_rtcp(buf, len)?;
        Ok(())
    })
}

/// Verifies and decrypts the SRTCP packet `packet[0..len]` in place.
/// Same statuses as `rtm_srtp_unprotect`.
#[no_mangle]
pub unsafe extern "C" fn rtm_srtcp_unprotect(
    ctx: *mut rtm_srtp_t,
    packet: *mut u8,
    len: usize,
    out_len: *mut usize,
) -> rtm_status {
    handle::with(ctx, |h| {
        let buf = args::slice_mut(packet, len)?;
        let out_len = args::out(out_len)?;
        *out_len = h.ctx.unprotect_rtcp(buf)?;
        Ok(())
    })
}

/// Sets the rollover counter of received SSRC `ssrc` to `roc` at sequence
/// number `seq` (from signalling, or when joining a stream late). Use it
/// when every packet of an SSRC fails with RTM_ERR_AUTH_FAILED although
/// the keys are right: after a loss burst of more than 32,768 packets, or
/// when the first packets received came after a sequence-number wrap (RFC
/// 3711's estimate is then wrong for good). RTM_ERR_SSRC_LIMIT when the
/// SSRC is new and the table is full (forget one first).
#[no_mangle]
pub unsafe extern "C" fn rtm_srtp_set_receive_roc(
    ctx: *mut rtm_srtp_t,
    ssrc: u32,
    roc: u32,
    seq: u16,
) -> rtm_status {
    handle::with(ctx, |h| Ok(h.ctx.set_receive_roc(ssrc, roc, seq)?))
}

/// Forgets everything about `ssrc` in both directions (rollover counter,
/// SRTCP index, replay windows), freeing its place in the table: call it
/// when a stream ends (RTCP BYE, signalling) and when RTM_ERR_SSRC_LIMIT
/// shows the table full of SSRCs no longer in use. A later packet of that
/// SSRC starts a new stream (its replay history is gone: forget only SSRCs
/// that left). RTM_ERR_NOT_FOUND if it was not tracked.
#[no_mangle]
pub unsafe extern "C" fn rtm_srtp_remove_ssrc(ctx: *mut rtm_srtp_t, ssrc: u32) -> rtm_status {
    handle::with(ctx, |h| {
        if h.ctx.remove_ssrc(ssrc) {
            Ok(())
        } else {
            Err(rtm_status::RTM_ERR_NOT_FOUND)
        }
    })
}

/// Counters of a context, RTP and SRTCP together unless named (a growable
/// struct: set `struct_size = sizeof` before `rtm_srtp_get_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_srtp_stats {
    pub struct_size: usize,
    pub rtp_protected: u64,
    /// Plaintext RTP bytes protected (without tags).
    pub rtp_protected_bytes: u64,
    pub rtp_unprotected: u64,
    /// Plaintext RTP bytes recovered (without tags).
    pub rtp_unprotected_bytes: u64,
    pub rtcp_protected: u64,
    pub rtcp_unprotected: u64,
    pub auth_failures: u64,
    pub replayed: u64,
    pub too_old: u64,
    /// Packets refused because `max_ssrcs` SSRCs (RTP and SRTCP share the
    /// table) are tracked already.
    pub ssrc_limit_rejects: u64,
    /// Malformed packets, cryptex packets without cryptex, exhausted keys.
    pub malformed: u64,
}

/// Copies the context's counters into `*out`, at most `out->struct_size`
/// bytes (set it to `sizeof *out` first).
#[no_mangle]
pub unsafe extern "C" fn rtm_srtp_get_stats(
    ctx: *const rtm_srtp_t,
    out: *mut rtm_srtp_stats,
) -> rtm_status {
    handle::with_shared(ctx, |h| {
        let s = h.ctx.stats();
        let stats = rtm_srtp_stats {
            struct_size: 0,
            rtp_protected: s.rtp_protected,
            rtp_protected_bytes: s.rtp_protected_bytes,
            rtp_unprotected: s.rtp_unprotected,
            rtp_unprotected_bytes: s.rtp_unprotected_bytes,
            rtcp_protected: s.rtcp_protected,
            rtcp_unprotected: s.rtcp_unprotected,
            auth_failures: s.auth_failures,
            replayed: s.replayed,
            too_old: s.too_old,
            ssrc_limit_rejects: s.ssrc_limit_rejects,
            malformed: s.malformed,
        };
        args::write(out, stats)
    })
}

/// Bytes protect appends for `profile`: `*rtp_trailer` for SRTP (the tag),
/// `*rtcp_trailer` for SRTCP (index word and tag). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_srtp_profile_overhead(
    profile_id: u16,
    rtp_trailer: *mut usize,
    rtcp_trailer: *mut usize,
) -> rtm_status {
    guard(|| {
        let rtp_trailer = args::out(rtp_trailer)?;
        let rtcp_trailer = args::out(rtcp_trailer)?;
        let p = profile(profile_id)?;
        *rtp_trailer = p.rtp_tag_len();
        *rtcp_trailer = p.rtcp_trailer_len();
        Ok(())
    })
}

/// One side's master key and salt, split from DTLS keying material. It
/// holds secrets: clear it (e.g. `explicit_bzero`) once `rtm_srtp_new` has
/// used it.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct rtm_srtp_master_key {
    pub key: [u8; 32],
    pub key_len: usize,
    pub salt: [u8; 14],
    pub salt_len: usize,
}

/// Length of the keying material to export from DTLS (RFC 5764 §4.2,
/// label "EXTRACTOR-dtls_srtp") for `profile`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_srtp_keying_material_len(
    profile_id: u16,
    out_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let out_len = args::out(out_len)?;
        *out_len = srtp::keying_material_len(profile(profile_id)?);
        Ok(())
    })
}

/// Splits DTLS-SRTP keying material `client_key | server_key | client_salt |
/// server_salt` into the client's and server's master keys. The DTLS client
/// protects with `*client` and unprotects with `*server`; the server the
/// reverse. RTM_ERR_BAD_KEY_LENGTH unless `material_len` equals
/// `rtm_srtp_keying_material_len(profile)`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_srtp_split_keying_material(
    profile_id: u16,
    material: *const u8,
    material_len: usize,
    client: *mut rtm_srtp_master_key,
    server: *mut rtm_srtp_master_key,
) -> rtm_status {
    guard(|| {
        let material = args::slice(material, material_len)?;
        let client = args::out(client)?;
        let server = args::out(server)?;
        let (c, s) = split_keying_material(profile(profile_id)?, material)?;
        for (out, side) in [(client, c), (server, s)] {
            *out = rtm_srtp_master_key::default();
            out.key[..side.key.len()].copy_from_slice(side.key);
            out.key_len = side.key.len();
            out.salt[..side.salt.len()].copy_from_slice(side.salt);
            out.salt_len = side.salt.len();
        }
        Ok(())
    })
}
