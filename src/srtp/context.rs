//! The SRTP context: configuration, session keys, per-SSRC state, statistics.

use bytes::BytesMut;

use super::crypto::AesCtr;
use super::keys::{SessionKeys, RTCP_LABELS, RTP_LABELS};
use super::stream::StreamTable;
use super::wipe::{burn_stack, Wiped};
use super::{Error, Profile};

/// Largest replay window (packets), as libsrtp's (`0x8000`): 4 KiB of
/// bitmap per direction and SSRC. Larger settings are treated as this.
pub const MAX_REPLAY_WINDOW: usize = 32_768;

/// Options of a context. `Default` gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Replay window in packets (RTP and SRTCP each), rounded up to a
    /// power of two, at least 64 and at most [`MAX_REPLAY_WINDOW`] (larger
    /// settings are treated as that): `window / 4` bytes per SSRC. Default 1024: at least the NACK history, so that
    /// retransmissions are not dropped as replays.
    pub replay_window: usize,
    /// Most SSRCs tracked; packets of further SSRCs are rejected. Default 1024.
    pub max_ssrcs: usize,
    /// Encrypt CSRCs and header extensions (RFC 9335) when protecting, and
    /// accept such packets when unprotecting. Default off.
    pub cryptex: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            replay_window: 1024,
            max_ssrcs: 1024,
            cryptex: false,
        }
    }
}

impl Config {
    /// Whether every setting is in its documented range; `Err` names the
    /// first that is not. [`Srtp::new`] brings settings into range instead
    /// of failing; a host that wants to refuse bad settings calls this.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(1..=MAX_REPLAY_WINDOW).contains(&self.replay_window) {
            return Err("replay_window must be 1..=MAX_REPLAY_WINDOW");
        }
        if self.max_ssrcs == 0 {
            return Err("max_ssrcs must be at least 1");
        }
        Ok(())
    }
}

/// Counters since the context was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub rtp_protected: u64,
    /// Plaintext bytes of the packets protected.
    pub rtp_protected_bytes: u64,
    pub rtp_unprotected: u64,
    /// Plaintext bytes of the packets unprotected.
    pub rtp_unprotected_bytes: u64,
    pub rtcp_protected: u64,
    pub rtcp_unprotected: u64,
    pub auth_failures: u64,
    pub replayed: u64,
    pub too_old: u64,
    pub ssrc_limit_rejects: u64,
    /// Packets rejected as malformed (RTP/RTCP header, too short for a tag,
    /// cryptex not enabled, index exhausted).
    pub malformed: u64,
}

/// One master key's SRTP and SRTCP state. `Send`; use from one thread at a time.
pub struct Srtp {
    pub(super) profile: Profile,
    pub(super) config: Config,
    /// Session keys, zeroed (with the storage around them) when the
    /// context is dropped.
    pub(super) rtp: Wiped<SessionKeys>,
    pub(super) rtcp: Wiped<SessionKeys>,
    pub(super) streams: StreamTable,
    pub(super) stats: Stats,
    /// Ciphertext kept while GCM opens it in place, to restore it on failure
    /// (ring zeroes the buffer when the tag is wrong).
    pub(super) scratch: Vec<u8>,
}

impl Srtp {
    /// Derives the session keys (RFC 3711 §4.3, key derivation rate 0).
    ///
    /// The master key and salt are not kept; the session keys are zeroed
    /// when the context is dropped (the bytes of `key` and `salt` stay the
    /// caller's to clear). The context is returned by value, so copies of it
    /// may remain in the caller's stack frames: a host that keeps contexts
    /// on the heap should use [`new_boxed`](Self::new_boxed).
    pub fn new(profile: Profile, key: &[u8], salt: &[u8], config: Config) -> Result<Self, Error> {
        let context = Self::derive(profile, key, salt, config);
        burn_stack();
        context
    }

    /// [`new`](Self::new), built on the heap: no copy of the session keys
    /// or of the key schedules made while deriving them is left on the
    /// stack (the frames used are overwritten before returning).
    pub fn new_boxed(
        profile: Profile,
        key: &[u8],
        salt: &[u8],
        config: Config,
    ) -> Result<Box<Self>, Error> {
        let context = Self::derive_boxed(profile, key, salt, config);
        burn_stack();
        context
    }

    #[inline(never)]
    fn derive_boxed(
        profile: Profile,
        key: &[u8],
        salt: &[u8],
        config: Config,
    ) -> Result<Box<Self>, Error> {
        Self::derive(profile, key, salt, config).map(Box::new)
    }

    #[inline(never)]
    fn derive(
        profile: Profile,
        key: &[u8],
        salt: &[u8],
        mut config: Config,
    ) -> Result<Self, Error> {
        config.replay_window = config.replay_window.clamp(64, MAX_REPLAY_WINDOW);
        if key.len() != profile.key_len() || salt.len() != profile.salt_len() {
            return Err(Error::BadKeyLength);
        }
        // The master key's schedule is only needed for the derivation.
        let master = Wiped::new(AesCtr::new(key).ok_or(Error::BadKeyLength)?);
        Ok(Self {
            profile,
            config,
            rtp: Wiped::new(SessionKeys::derive(profile, &master, salt, RTP_LABELS)),
            rtcp: Wiped::new(SessionKeys::derive(profile, &master, salt, RTCP_LABELS)),
            streams: StreamTable::new(config.max_ssrcs, config.replay_window),
            stats: Stats::default(),
            scratch: Vec::with_capacity(1500),
        })
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Number of SSRCs this context tracks.
    pub fn ssrc_count(&self) -> usize {
        self.streams.len()
    }

    /// Tells the receiver the rollover counter of `ssrc` (e.g. from
    /// signalling, or when joining a stream after 65,536 packets), with the
    /// sequence number it refers to. `SsrcLimit` if the table is full.
    ///
    /// When to call it: every packet of an SSRC fails with
    /// [`Error::AuthFailed`] although the keys are right, after a loss burst
    /// of more than 32,768 packets or when the first packets received came
    /// after a sequence-number wrap (RFC 3711 then guesses the wrong ROC
    /// for good).
    pub fn set_receive_roc(&mut self, ssrc: u32, roc: u32, seq: u16) -> Result<(), Error> {
        if self.streams.set_rx_roc(ssrc, roc, seq) {
            Ok(())
        } else {
            Err(Error::SsrcLimit)
        }
    }

    /// Forgets everything about `ssrc` (both directions: rollover counter,
    /// SRTCP index, replay windows), making room in the SSRC table; `false`
    /// if it was not tracked. Call it when a stream ends (RTCP BYE,
    /// signalling) or when [`Error::SsrcLimit`] is returned, for streams no
    /// longer in use. A packet of a forgotten SSRC starts a new stream (its
    /// replay history is gone: forget only SSRCs that left).
    pub fn remove_ssrc(&mut self, ssrc: u32) -> bool {
        self.streams.remove(ssrc)
    }

    /// Counts a failure in the statistics and passes it on.
    pub(super) fn count(&mut self, error: Error) -> Error {
        let s = &mut self.stats;
        // The two failures an operator must act on are logged (the 1st,
        // 2nd, 4th, 8th... of each, from the counters): a full SSRC table
        // refuses every new stream, and authentication failures mean wrong
        // keys, a wrong rollover counter or forged traffic. Replays are
        // normal on networks that duplicate packets: counted only.
        match error {
            Error::AuthFailed => {
                s.auth_failures += 1;
                if s.auth_failures.is_power_of_two() {
                    crate::log::log(
                        crate::log::Level::Warn,
                        format_args!(
                            "SRTP: authentication failed ({} failures): wrong keys, a rollover \
                             counter guessed wrong after a long gap (set_receive_roc), or forged \
                             packets",
                            s.auth_failures
                        ),
                    );
                }
            }
            Error::Replayed => s.replayed += 1,
            Error::TooOld => s.too_old += 1,
            Error::SsrcLimit => {
                s.ssrc_limit_rejects += 1;
                if s.ssrc_limit_rejects.is_power_of_two() {
                    crate::log::log(
                        crate::log::Level::Warn,
                        format_args!(
                            "SRTP: packet of a new SSRC refused, the context already tracks \
                             max_ssrcs = {} SSRCs ({} refusals); remove_ssrc the streams that ended",
                            self.config.max_ssrcs, s.ssrc_limit_rejects
                        ),
                    );
                }
            }
            Error::Malformed(_) | Error::CryptexNotEnabled | Error::IndexExhausted => {
                s.malformed += 1
            }
            Error::BufferTooSmall { .. } | Error::BadKeyLength => {}
        }
        error
    }

    /// [`protect_rtp`](Self::protect_rtp) on a `BytesMut`, growing it by the tag.
    pub fn protect_rtp_bytes(&mut self, packet: &mut BytesMut) -> Result<(), Error> {
        let len = packet.len();
        packet.resize(len + self.profile.rtp_tag_len() + 4, 0);
        let result = self.protect_rtp(packet, len);
        packet.truncate(*result.as_ref().unwrap_or(&len));
        result.map(|_| ())
    }

    /// [`unprotect_rtp`](Self::unprotect_rtp) on a `BytesMut`, dropping the tag.
    pub fn unprotect_rtp_bytes(&mut self, packet: &mut BytesMut) -> Result<(), Error> {
        let n = self.unprotect_rtp(packet)?;
        packet.truncate(n);
        Ok(())
    }

    /// [`protect_rtcp`](Self::protect_rtcp) on a `BytesMut`, growing it by the trailer.
    pub fn protect_rtcp_bytes(&mut self, packet: &mut BytesMut) -> Result<(), Error> {
        let len = packet.len();
        packet.resize(len + self.profile.rtcp_trailer_len(), 0);
        let result = self.protect_rtcp(packet, len);
        packet.truncate(*result.as_ref().unwrap_or(&len));
        result.map(|_| ())
    }

    /// [`unprotect_rtcp`](Self::unprotect_rtcp) on a `BytesMut`, dropping the trailer.
    pub fn unprotect_rtcp_bytes(&mut self, packet: &mut BytesMut) -> Result<(), Error> {
        let n = self.unprotect_rtcp(packet)?;
        packet.truncate(n);
        Ok(())
    }
}

impl Drop for Srtp {
    /// The session keys clear themselves (see the module docs); this also overwrites
    /// the stack below the caller, where protect and unprotect called from
    /// the same depth may have left copies of round keys or HMAC states
    /// (unoptimised builds spill them).
    fn drop(&mut self) {
        burn_stack();
    }
}
