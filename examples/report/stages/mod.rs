//! The stage rows: one constructor per row, grouped by family, each
//! returning a [`Stage`] (rtmedia and its same-run baseline).

mod forwarder;
pub(crate) mod jitter;
mod mixer;
mod paced;
mod packet;
pub(crate) mod simulcast;
pub(crate) mod srtp;

use rtmedia::srtp::Profile;

pub(crate) use super::measure::{Baseline, RunFn, Stage};
pub(crate) use super::options::Options;

/// Every row, in print order.
pub(crate) fn stages(options: &Options) -> Vec<Stage> {
    let mut rows = vec![packet::rtp_parse_rewrite()];
    for profile in Profile::ALL {
        rows.push(srtp::srtp_protect(profile));
    }
    rows.push(srtp::srtp_unprotect(Profile::AeadAes128Gcm));
    rows.push(srtp::srtp_unprotect(Profile::AeadAes256Gcm));
    rows.push(jitter::jitter_push_pop(options));
    rows.extend(mixer::mixer_ticks(options));
    // The simulcast trace (libvpx), encoded once for the three rows.
    let trace = std::sync::Arc::new(simulcast::trace(options));
    rows.push(forwarder::forwarder_select_rewrite(&trace));
    rows.push(forwarder::sfu_leg(&trace));
    rows.push(forwarder::sfu_fanout(&trace));
    rows.push(paced::sfu_leg_paced(&trace));
    rows
}

/// The size of every packet in the packet and SRTP rows.
pub(crate) const PACKET_BYTES: usize = 1200;
/// RTP fixed header, no CSRCs or extensions.
pub(crate) const HEADER_LEN: usize = 12;
/// Packet buffer capacity (room for an SRTP tag).
pub(crate) const CAP: usize = 1536;
/// SSRC of the packet and SRTP rows.
pub(crate) const SSRC: u32 = 0x1122_3344;
