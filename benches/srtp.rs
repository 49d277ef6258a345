//! SRTP protect and unprotect of one RTP stream (12-byte header, 160- and
//! 1200-byte payloads), every profile, against libsrtp 2 (Debian's
//! libsrtp2, NSS backend, through the small FFI shim below) and webrtc-srtp
//! in the same run; for AES-GCM also against ring's raw AEAD on the same
//! buffer, the floor of what any SRTP layer on top of ring can reach.
//!
//! Goals: AEAD_AES_128_GCM protect ≥ 3× libsrtp; AES128_CM_HMAC_SHA1_80
//! protect ≥ 4× libsrtp; GCM protect ≥ 0.85× ring's raw seal. The other rows
//! (webrtc-srtp, unprotect, other profiles) carry no goal: they are printed
//! against 1.0× ("at least as fast") so a regression stands out.
//!
//! Method, identical for every implementation:
//! - Protect: one sender context and one packet buffer with spare capacity.
//!   Each iteration writes the next sequence number into the header and
//!   protects the packet in place (its payload is then last iteration's
//!   ciphertext, which costs the same to encrypt as plaintext). webrtc-srtp
//!   reads the same buffer and returns a newly allocated packet: its API.
//! - Unprotect: a receiver must see each index once (replay protection is on
//!   in every receiver, window 1024), so every packet is different. Packets
//!   are made in batches of `BATCH` by a separate rtmedia sender (for the raw
//!   ring row: by ring itself) with consecutive sequence numbers, outside the
//!   timed region; then the receiver unprotects the batch in place, timed.
//!   No copy is timed, the receiver runs in steady state across the whole
//!   run (one stream, sequence numbers wrapping and the ROC advancing), and
//!   a batch (39 KB at 1200 B) stays in L1/L2 as a just-received packet
//!   would. Every result is checked, so a wrong key or interop failure
//!   panics instead of timing an error path.

use std::hint::black_box;
use std::os::raw::{c_int, c_uint, c_ulong, c_void};
use std::sync::Once;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
use rtmedia::srtp::{Config, Profile, Srtp};
use webrtc_srtp::context::Context as WebrtcContext;
use webrtc_srtp::option::srtp_replay_protection;
use webrtc_srtp::protection_profile::ProtectionProfile;

mod support;

/// Payload sizes: an Opus packet and a full video packet.
const PAYLOADS: [usize; 2] = [160, 1200];
const HEADER_LEN: usize = 12;
const SSRC: u32 = 0x1122_3344;
/// Packet buffer capacity: the largest packet plus any trailer.
const CAP: usize = 1536;
/// Packets per untimed refill in the unprotect benches.
const BATCH: usize = 32;
/// Replay window of every receiver (rtmedia's default).
const REPLAY_WINDOW: usize = 1024;

// ---------------------------------------------------------------------------
// libsrtp 2.5 FFI shim (/usr/include/srtp2/srtp.h, x86_64 / LP64 layouts).

#[allow(non_camel_case_types)]
type srtp_t = *mut c_void;

/// `srtp_crypto_policy_t`.
#[repr(C)]
#[derive(Clone, Copy)]
struct CryptoPolicy {
    cipher_type: u32,
    cipher_key_len: c_int,
    auth_type: u32,
    auth_key_len: c_int,
    auth_tag_len: c_int,
    sec_serv: c_int,
}

/// `srtp_ssrc_t`.
#[repr(C)]
struct SsrcSpec {
    kind: c_int,
    value: c_uint,
}

/// `srtp_ssrc_type_t` values.
const SSRC_ANY_INBOUND: c_int = 2;
const SSRC_ANY_OUTBOUND: c_int = 3;

/// `srtp_policy_t`.
#[repr(C)]
struct Policy {
    ssrc: SsrcSpec,
    rtp: CryptoPolicy,
    rtcp: CryptoPolicy,
    key: *mut u8,
    keys: *mut c_void,
    num_master_keys: c_ulong,
    deprecated_ekt: *mut c_void,
    window_size: c_ulong,
    allow_repeat_tx: c_int,
    enc_xtn_hdr: *mut c_int,
    enc_xtn_hdr_count: c_int,
    next: *mut Policy,
}

// Layouts as gcc reports them for libsrtp2-dev 2.5.0 on x86_64.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<CryptoPolicy>() == 24);
    assert!(offset_of!(CryptoPolicy, sec_serv) == 20);
    assert!(size_of::<SsrcSpec>() == 8);
    assert!(size_of::<Policy>() == 128);
    assert!(offset_of!(Policy, rtp) == 8);
    assert!(offset_of!(Policy, rtcp) == 32);
    assert!(offset_of!(Policy, key) == 56);
    assert!(offset_of!(Policy, keys) == 64);
    assert!(offset_of!(Policy, num_master_keys) == 72);
    assert!(offset_of!(Policy, deprecated_ekt) == 80);
    assert!(offset_of!(Policy, window_size) == 88);
    assert!(offset_of!(Policy, allow_repeat_tx) == 96);
    assert!(offset_of!(Policy, enc_xtn_hdr) == 104);
    assert!(offset_of!(Policy, enc_xtn_hdr_count) == 112);
    assert!(offset_of!(Policy, next) == 120);
};

type PolicySetter = unsafe extern "C" fn(*mut CryptoPolicy);

#[link(name = "srtp2")]
extern "C" {
    fn srtp_init() -> c_int;
    fn srtp_create(session: *mut srtp_t, policy: *const Policy) -> c_int;
    fn srtp_dealloc(session: srtp_t) -> c_int;
    fn srtp_protect(ctx: srtp_t, rtp_hdr: *mut c_void, len_ptr: *mut c_int) -> c_int;
    fn srtp_unprotect(ctx: srtp_t, srtp_hdr: *mut c_void, len_ptr: *mut c_int) -> c_int;
    // srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 is a macro for this one.
    fn srtp_crypto_policy_set_rtp_default(p: *mut CryptoPolicy);
    fn srtp_crypto_policy_set_rtcp_default(p: *mut CryptoPolicy);
    fn srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(p: *mut CryptoPolicy);
    fn srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(p: *mut CryptoPolicy);
    fn srtp_crypto_policy_set_aes_gcm_128_16_auth(p: *mut CryptoPolicy);
    fn srtp_crypto_policy_set_aes_gcm_256_16_auth(p: *mut CryptoPolicy);
}

/// One libsrtp session with one wildcard stream policy.
struct LibSrtp(srtp_t);

impl LibSrtp {
    fn new(case: &Case, outbound: bool) -> Self {
        static INIT: Once = Once::new();
        // SAFETY: srtp_init takes no arguments; Once runs it a single time.
        INIT.call_once(|| assert_eq!(unsafe { srtp_init() }, 0, "srtp_init"));
        let mut key_and_salt = [
            &KEY[..case.profile.key_len()],
            &SALT[..case.profile.salt_len()],
        ]
        .concat();
        let zero = CryptoPolicy {
            cipher_type: 0,
            cipher_key_len: 0,
            auth_type: 0,
            auth_key_len: 0,
            auth_tag_len: 0,
            sec_serv: 0,
        };
        let mut policy = Policy {
            ssrc: SsrcSpec {
                kind: if outbound {
                    SSRC_ANY_OUTBOUND
                } else {
                    SSRC_ANY_INBOUND
                },
                value: 0,
            },
            rtp: zero,
            rtcp: zero,
            key: key_and_salt.as_mut_ptr(),
            keys: std::ptr::null_mut(),
            num_master_keys: 0,
            deprecated_ekt: std::ptr::null_mut(),
            window_size: REPLAY_WINDOW as c_ulong,
            allow_repeat_tx: 0,
            enc_xtn_hdr: std::ptr::null_mut(),
            enc_xtn_hdr_count: 0,
            next: std::ptr::null_mut(),
        };
        let mut session: srtp_t = std::ptr::null_mut();
        // SAFETY: the setters fill the structs they are given; srtp_create
        // reads the policy and copies the key, both alive for the call.
        unsafe {
            (case.libsrtp_rtp)(&mut policy.rtp);
            (case.libsrtp_rtcp)(&mut policy.rtcp);
            assert_eq!(srtp_create(&mut session, &policy), 0, "srtp_create");
        }
        Self(session)
    }

    /// Protects `buf[..len]` in place; libsrtp 2 takes no capacity, `buf`
    /// has room for its trailer.
    #[inline]
    fn protect(&mut self, buf: &mut [u8; CAP], len: usize) -> usize {
        let mut n = len as c_int;
        // SAFETY: buf has CAP bytes, more than len + SRTP_MAX_TRAILER_LEN.
        let status = unsafe { srtp_protect(self.0, buf.as_mut_ptr().cast(), &mut n) };
        assert_eq!(status, 0, "srtp_protect");
        n as usize
    }

    #[inline]
    fn unprotect(&mut self, packet: &mut [u8]) -> usize {
        let mut n = packet.len() as c_int;
        // SAFETY: libsrtp reads and writes at most n bytes of the packet.
        let status = unsafe { srtp_unprotect(self.0, packet.as_mut_ptr().cast(), &mut n) };
        assert_eq!(status, 0, "srtp_unprotect");
        n as usize
    }
}

impl Drop for LibSrtp {
    fn drop(&mut self) {
        // SAFETY: the session came from srtp_create and is freed once.
        unsafe { srtp_dealloc(self.0) };
    }
}

// ---------------------------------------------------------------------------
// Profiles, keys and packets.

struct Case {
    /// Criterion name part: `srtp_protect_1200B/<tag>`.
    tag: &'static str,
    profile: Profile,
    webrtc: ProtectionProfile,
    libsrtp_rtp: PolicySetter,
    libsrtp_rtcp: PolicySetter,
}

fn cases() -> [Case; 5] {
    [
        Case {
            tag: "aes128cm80",
            profile: Profile::Aes128CmHmacSha1_80,
            webrtc: ProtectionProfile::Aes128CmHmacSha1_80,
            libsrtp_rtp: srtp_crypto_policy_set_rtp_default,
            libsrtp_rtcp: srtp_crypto_policy_set_rtcp_default,
        },
        Case {
            tag: "aes128cm32",
            profile: Profile::Aes128CmHmacSha1_32,
            webrtc: ProtectionProfile::Aes128CmHmacSha1_32,
            libsrtp_rtp: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32,
            libsrtp_rtcp: srtp_crypto_policy_set_rtcp_default,
        },
        Case {
            tag: "aes256cm80",
            profile: Profile::Aes256CmHmacSha1_80,
            webrtc: ProtectionProfile::Aes256CmHmacSha1_80,
            libsrtp_rtp: srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80,
            libsrtp_rtcp: srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80,
        },
        Case {
            tag: "aes128gcm",
            profile: Profile::AeadAes128Gcm,
            webrtc: ProtectionProfile::AeadAes128Gcm,
            libsrtp_rtp: srtp_crypto_policy_set_aes_gcm_128_16_auth,
            libsrtp_rtcp: srtp_crypto_policy_set_aes_gcm_128_16_auth,
        },
        Case {
            tag: "aes256gcm",
            profile: Profile::AeadAes256Gcm,
            webrtc: ProtectionProfile::AeadAes256Gcm,
            libsrtp_rtp: srtp_crypto_policy_set_aes_gcm_256_16_auth,
            libsrtp_rtcp: srtp_crypto_policy_set_aes_gcm_256_16_auth,
        },
    ]
}

const KEY: [u8; 32] = [
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39,
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6, 0xc1, 0x73,
];
const SALT: [u8; 14] = [
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
];

/// A packet buffer with capacity, 16-byte aligned (libsrtp reads the header
/// as 32-bit words).
#[repr(C, align(16))]
struct Packet([u8; CAP]);

impl Packet {
    /// An RTP packet (V=2, PT 96, SSRC fixed) with `payload` bytes.
    fn new(payload: usize) -> Box<Self> {
        let mut p = Box::new(Packet([0; CAP]));
        p.0[0] = 0x80;
        p.0[1] = 96;
        p.0[4..8].copy_from_slice(&90_000u32.to_be_bytes());
        p.0[8..12].copy_from_slice(&SSRC.to_be_bytes());
        p.0[HEADER_LEN..HEADER_LEN + payload].fill(0x5a);
        p
    }

    #[inline]
    fn set_seq(&mut self, seq: u16) {
        self.0[2..4].copy_from_slice(&seq.to_be_bytes());
    }
}

fn rtmedia_ctx(case: &Case) -> Srtp {
    let (key, salt) = (
        &KEY[..case.profile.key_len()],
        &SALT[..case.profile.salt_len()],
    );
    let config = Config {
        replay_window: REPLAY_WINDOW,
        ..Config::default()
    };
    Srtp::new(case.profile, key, salt, config).unwrap()
}

fn webrtc_ctx(case: &Case, receiver: bool) -> WebrtcContext {
    let (key, salt) = (
        &KEY[..case.profile.key_len()],
        &SALT[..case.profile.salt_len()],
    );
    let replay = receiver.then(|| srtp_replay_protection(REPLAY_WINDOW));
    WebrtcContext::new(key, salt, case.webrtc, replay, None).unwrap()
}

/// ring's AES-GCM key of the profile's size, for the raw rows.
fn ring_key(case: &Case) -> LessSafeKey {
    let alg = match case.profile {
        Profile::AeadAes128Gcm => &AES_128_GCM,
        _ => &AES_256_GCM,
    };
    LessSafeKey::new(UnboundKey::new(alg, &KEY[..case.profile.key_len()]).unwrap())
}

/// A unique 96-bit nonce per packet, as an SRTP layer would build it.
#[inline]
fn raw_nonce(index: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&SSRC.to_be_bytes());
    n[4..].copy_from_slice(&index.to_be_bytes());
    for (b, s) in n.iter_mut().zip(&SALT) {
        *b ^= s;
    }
    Nonce::assume_unique_for_key(n)
}

// ---------------------------------------------------------------------------
// Benches.

fn configure(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(500));
    g.sample_size(20);
}

fn bench_protect(c: &mut Criterion, payload: usize) {
    let len = HEADER_LEN + payload;
    let mut g = c.benchmark_group(format!("srtp_protect_{payload}B"));
    configure(&mut g);
    for case in cases() {
        let id = |who: &str| BenchmarkId::new(case.tag, who);

        let mut ctx = rtmedia_ctx(&case);
        let mut p = Packet::new(payload);
        let mut seq = 0u16;
        g.bench_function(id("rtmedia"), |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                p.set_seq(seq);
                black_box(ctx.protect_rtp(black_box(&mut p.0[..]), len).unwrap())
            })
        });

        let mut ctx = LibSrtp::new(&case, true);
        let mut p = Packet::new(payload);
        g.bench_function(id("libsrtp"), |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                p.set_seq(seq);
                black_box(ctx.protect(black_box(&mut p.0), len))
            })
        });

        let mut ctx = webrtc_ctx(&case, false);
        let mut p = Packet::new(payload);
        g.bench_function(id("webrtc_srtp"), |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                p.set_seq(seq);
                black_box(ctx.encrypt_rtp(black_box(&p.0[..len])).unwrap())
            })
        });

        if case.profile.is_aead() {
            // ring's AES-GCM alone: the header as additional data, the
            // payload sealed in place, the tag appended.
            let key = ring_key(&case);
            let mut p = Packet::new(payload);
            let mut index = 0u64;
            g.bench_function(id("ring_raw_seal"), |b| {
                b.iter(|| {
                    index += 1;
                    p.set_seq(index as u16);
                    let (header, body) = black_box(&mut p.0).split_at_mut(HEADER_LEN);
                    let tag = key
                        .seal_in_place_separate_tag(
                            raw_nonce(index),
                            Aad::from(&*header),
                            &mut body[..payload],
                        )
                        .unwrap();
                    body[payload..payload + 16].copy_from_slice(tag.as_ref());
                })
            });
        }
    }
    g.finish();
}

/// Unprotect `iters` packets: batches of `BATCH` made by `make` (untimed,
/// each into its buffer, returning its length), then unprotected by
/// `receive` in order (timed).
fn batched(
    iters: u64,
    batch: &mut [Box<Packet>],
    mut make: impl FnMut(&mut Packet) -> usize,
    mut receive: impl FnMut(&mut [u8]),
) -> Duration {
    let mut lens = [0usize; BATCH];
    let mut timed = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH as u64) as usize;
        for (p, l) in batch[..n].iter_mut().zip(&mut lens) {
            *l = make(p);
        }
        let start = Instant::now();
        for (p, &l) in batch[..n].iter_mut().zip(&lens) {
            receive(black_box(&mut p.0[..l]));
        }
        timed += start.elapsed();
        left -= n as u64;
    }
    timed
}

/// An rtmedia sender of consecutive packets, the source for the receivers.
fn sender(case: &Case, payload: usize) -> impl FnMut(&mut Packet) -> usize {
    let mut ctx = rtmedia_ctx(case);
    let template = Packet::new(payload);
    let len = HEADER_LEN + payload;
    let mut seq = 0u16;
    move |p| {
        seq = seq.wrapping_add(1);
        p.0[..len].copy_from_slice(&template.0[..len]);
        p.set_seq(seq);
        ctx.protect_rtp(&mut p.0, len).unwrap()
    }
}

fn bench_unprotect(c: &mut Criterion, payload: usize) {
    let mut g = c.benchmark_group(format!("srtp_unprotect_{payload}B"));
    configure(&mut g);
    let mut batch: Vec<Box<Packet>> = (0..BATCH).map(|_| Packet::new(payload)).collect();
    for case in cases() {
        let id = |who: &str| BenchmarkId::new(case.tag, who);

        let mut make = sender(&case, payload);
        let mut ctx = rtmedia_ctx(&case);
        g.bench_function(id("rtmedia"), |b| {
            b.iter_custom(|iters| {
                batched(iters, &mut batch, &mut make, |p| {
                    black_box(ctx.unprotect_rtp(p).unwrap());
                })
            })
        });

        let mut make = sender(&case, payload);
        let mut ctx = LibSrtp::new(&case, false);
        g.bench_function(id("libsrtp"), |b| {
            b.iter_custom(|iters| {
                batched(iters, &mut batch, &mut make, |p| {
                    black_box(ctx.unprotect(p));
                })
            })
        });

        let mut make = sender(&case, payload);
        let mut ctx = webrtc_ctx(&case, true);
        g.bench_function(id("webrtc_srtp"), |b| {
            b.iter_custom(|iters| {
                batched(iters, &mut batch, &mut make, |p| {
                    black_box(ctx.decrypt_rtp(p).unwrap());
                })
            })
        });

        if case.profile.is_aead() {
            // ring's AES-GCM open alone, on packets ring sealed the same way
            // as in ring_raw_seal; the opener's index runs in step.
            let key = ring_key(&case);
            let (mut sealed, mut opened) = (0u64, 0u64);
            let len = HEADER_LEN + payload;
            g.bench_function(id("ring_raw_open"), |b| {
                b.iter_custom(|iters| {
                    batched(
                        iters,
                        &mut batch,
                        |p| {
                            sealed += 1;
                            p.set_seq(sealed as u16);
                            let (header, body) = p.0.split_at_mut(HEADER_LEN);
                            let tag = key
                                .seal_in_place_separate_tag(
                                    raw_nonce(sealed),
                                    Aad::from(&*header),
                                    &mut body[..payload],
                                )
                                .unwrap();
                            body[payload..payload + 16].copy_from_slice(tag.as_ref());
                            len + 16
                        },
                        |p| {
                            opened += 1;
                            let (header, body) = p.split_at_mut(HEADER_LEN);
                            let plain = key
                                .open_in_place(raw_nonce(opened), Aad::from(&*header), body)
                                .unwrap();
                            black_box(plain.len());
                        },
                    )
                })
            });
        }
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    for payload in PAYLOADS.into_iter().rev() {
        bench_protect(c, payload);
        bench_unprotect(c, payload);
    }
}

criterion_group!(benches, bench);

/// Prints ratios that carry no goal, beside the goal table.
fn report_info(rows: &[(String, &str, &str)]) {
    println!("\nNo goal, against the raw primitive:");
    for (group, cand, base) in rows {
        match (
            support::median_ns(group, cand),
            support::median_ns(group, base),
        ) {
            (Some(c), Some(b)) => println!(
                "{:<31} {:<30} {:>12.1} {:>12.1} {:>8.2}x",
                group,
                format!("{cand} / {base}"),
                c,
                b,
                b / c
            ),
            _ => println!("{group} {cand} / {base}: not measured in this run"),
        }
    }
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();

    // Group names outlive the comparisons that borrow them.
    let mut groups = Vec::new();
    for payload in PAYLOADS.into_iter().rev() {
        for case in cases() {
            for dir in ["protect", "unprotect"] {
                let group = format!("srtp_{dir}_{payload}B/{}", case.tag);
                groups.push((case.profile, dir == "protect", group));
            }
        }
    }
    let row = |group, baseline, min_speedup| support::Comparison {
        group,
        candidate: "rtmedia",
        baseline,
        min_speedup,
        min_packets_per_sec: None,
    };
    let (mut goals, mut parity, mut info) = (Vec::new(), Vec::new(), Vec::new());
    for (profile, protect, group) in &groups {
        match (profile, protect) {
            (Profile::AeadAes128Gcm, true) => goals.push(row(group, "libsrtp", 3.0)),
            (Profile::Aes128CmHmacSha1_80, true) => goals.push(row(group, "libsrtp", 4.0)),
            _ => parity.push(row(group, "libsrtp", 1.0)),
        }
        if profile.is_aead() && *protect {
            goals.push(row(group, "ring_raw_seal", 0.85));
        }
        parity.push(row(group, "webrtc_srtp", 1.0));
        if profile.is_aead() && !*protect {
            info.push((group.clone(), "rtmedia", "ring_raw_open"));
        }
    }

    println!("\nGoals: aes128gcm protect >= 3x libsrtp; aes128cm80 protect >= 4x libsrtp; GCM protect >= 0.85x ring_raw_seal");
    let met = support::report(&goals);
    println!("\nNo goal, against parity (1.0x):");
    let at_parity = support::report(&parity);
    report_info(&info);
    if !met {
        println!("srtp bench: a goal was missed (see MISSED in the goals table)");
    }
    if !at_parity {
        println!(
            "srtp bench: rtmedia is slower than a baseline somewhere (MISSED in the no-goal table)"
        );
    }
}
