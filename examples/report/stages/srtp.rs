//! The SRTP rows, and the keys and contexts other rows share.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rtmedia::srtp::{Config, Profile, Srtp};
use webrtc_srtp::context::Context as WebrtcContext;
use webrtc_srtp::option::srtp_replay_protection;
use webrtc_srtp::protection_profile::ProtectionProfile;

use super::{Baseline, Stage, CAP, HEADER_LEN, PACKET_BYTES, SSRC};

pub(crate) const KEY: [u8; 32] = [
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39,
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6, 0xc1, 0x73,
];
pub(crate) const SALT: [u8; 14] = [
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
];

/// The IANA-style name of a profile, the `variant` of the SRTP rows.
pub(crate) fn profile_name(profile: Profile) -> &'static str {
    match profile {
        Profile::Aes128CmHmacSha1_80 => "AES128_CM_HMAC_SHA1_80",
        Profile::Aes128CmHmacSha1_32 => "AES128_CM_HMAC_SHA1_32",
        Profile::Aes256CmHmacSha1_80 => "AES256_CM_HMAC_SHA1_80",
        Profile::Aes256CmHmacSha1_32 => "AES256_CM_HMAC_SHA1_32",
        Profile::AeadAes128Gcm => "AEAD_AES_128_GCM",
        Profile::AeadAes256Gcm => "AEAD_AES_256_GCM",
    }
}

pub(crate) fn webrtc_profile(profile: Profile) -> ProtectionProfile {
    match profile {
        Profile::Aes128CmHmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        Profile::Aes128CmHmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        Profile::Aes256CmHmacSha1_80 => ProtectionProfile::Aes256CmHmacSha1_80,
        Profile::Aes256CmHmacSha1_32 => ProtectionProfile::Aes256CmHmacSha1_32,
        Profile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        Profile::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
    }
}

pub(crate) fn rtmedia_srtp(profile: Profile) -> Srtp {
    let key = &KEY[..profile.key_len()];
    let salt = &SALT[..profile.salt_len()];
    Srtp::new(profile, key, salt, Config::default()).unwrap()
}

pub(crate) fn webrtc_srtp(profile: Profile, receiver: bool) -> WebrtcContext {
    let key = &KEY[..profile.key_len()];
    let salt = &SALT[..profile.salt_len()];
    let replay = receiver.then(|| srtp_replay_protection(Config::default().replay_window));
    WebrtcContext::new(key, salt, webrtc_profile(profile), replay, None).unwrap()
}

/// A plain RTP packet of `PACKET_BYTES` in a buffer of `CAP`.
pub(crate) fn plain_packet() -> Box<[u8; CAP]> {
    let mut p = Box::new([0u8; CAP]);
    p[0] = 0x80;
    p[1] = 96;
    p[4..8].copy_from_slice(&90_000u32.to_be_bytes());
    p[8..12].copy_from_slice(&SSRC.to_be_bytes());
    p[HEADER_LEN..PACKET_BYTES].fill(0x5a);
    p
}

/// SRTP protect in place, one stream, the next sequence number each time;
/// baseline: webrtc-srtp's `encrypt_rtp` (which returns a new buffer: its
/// API) on the same packet.
pub(super) fn srtp_protect(profile: Profile) -> Stage {
    let mut ctx = rtmedia_srtp(profile);
    let mut p = plain_packet();
    let mut seq = 0u16;
    let ours = move |n: u64| {
        let start = Instant::now();
        for _ in 0..n {
            seq = seq.wrapping_add(1);
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            black_box(
                ctx.protect_rtp(black_box(&mut p[..]), PACKET_BYTES)
                    .unwrap(),
            );
        }
        start.elapsed()
    };
    let mut ctx = webrtc_srtp(profile, false);
    let mut p = plain_packet();
    let mut seq = 0u16;
    let theirs = move |n: u64| {
        let start = Instant::now();
        for _ in 0..n {
            seq = seq.wrapping_add(1);
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            black_box(ctx.encrypt_rtp(black_box(&p[..PACKET_BYTES])).unwrap());
        }
        start.elapsed()
    };
    Stage {
        name: "srtp_protect",
        variant: profile_name(profile).to_string(),
        bytes: PACKET_BYTES,
        packets_per_iter: 1,
        run: Box::new(ours),
        baseline: Some(Baseline {
            name: "webrtc-srtp",
            run: Box::new(theirs),
        }),
    }
}

/// Packets protected per untimed refill of the unprotect rows.
const BATCH: usize = 32;

/// Unprotects `n` packets: batches of `BATCH` consecutive packets are made
/// by an rtmedia sender (untimed), then `receive` unprotects each in place
/// (timed). Every packet is new, as replay protection requires.
fn batched_unprotect(
    profile: Profile,
    mut receive: impl FnMut(&mut [u8]) + 'static,
) -> impl FnMut(u64) -> Duration {
    let mut sender = rtmedia_srtp(profile);
    let template = plain_packet();
    let mut batch: Vec<Box<[u8; CAP]>> = (0..BATCH).map(|_| plain_packet()).collect();
    let mut lens = [0usize; BATCH];
    let mut seq = 0u16;
    move |n: u64| {
        let mut timed = Duration::ZERO;
        let mut left = n;
        while left > 0 {
            let k = left.min(BATCH as u64) as usize;
            for (p, len) in batch[..k].iter_mut().zip(&mut lens) {
                seq = seq.wrapping_add(1);
                p[..PACKET_BYTES].copy_from_slice(&template[..PACKET_BYTES]);
                p[2..4].copy_from_slice(&seq.to_be_bytes());
                *len = sender.protect_rtp(&mut p[..], PACKET_BYTES).unwrap();
            }
            let start = Instant::now();
            for (p, &len) in batch[..k].iter_mut().zip(&lens) {
                receive(black_box(&mut p[..len]));
            }
            timed += start.elapsed();
            left -= k as u64;
        }
        timed
    }
}

/// SRTP unprotect in place with replay protection (window 1024); baseline:
/// webrtc-srtp's `decrypt_rtp` with the same window.
pub(super) fn srtp_unprotect(profile: Profile) -> Stage {
    let mut ctx = rtmedia_srtp(profile);
    let ours = batched_unprotect(profile, move |p| {
        black_box(ctx.unprotect_rtp(p).unwrap());
    });
    let mut ctx = webrtc_srtp(profile, true);
    let theirs = batched_unprotect(profile, move |p| {
        black_box(ctx.decrypt_rtp(p).unwrap());
    });
    Stage {
        name: "srtp_unprotect",
        variant: profile_name(profile).to_string(),
        bytes: PACKET_BYTES,
        packets_per_iter: 1,
        run: Box::new(ours),
        baseline: Some(Baseline {
            name: "webrtc-srtp",
            run: Box::new(theirs),
        }),
    }
}
