//! Differential tests against webrtc-srtp (webrtc-rs), an implementation
//! nobody here wrote, for every profile both implement (all six).
//!
//! For each profile, thousands of random packets (empty to 1200-byte
//! payloads, CSRCs, one-byte, two-byte and non-RFC 8285 extensions, padding)
//! on several SSRCs, across a sequence-number wrap, with retransmissions:
//! - rtmedia's protected bytes equal webrtc-srtp's for the same input;
//! - webrtc-srtp decrypts what rtmedia protects;
//! - rtmedia unprotects what webrtc-srtp encrypts, and rejects the
//!   retransmitted duplicates as replays (webrtc-srtp's contexts are made
//!   without replay protection, its default).
//!
//! Known difference: webrtc-srtp (like libsrtp) numbers its first SRTCP
//! packet 1, rtmedia 0 as RFC 3711 §3.4 says ("The SRTCP index MUST be set
//! to zero before the first SRTCP packet is sent"). Receivers read the
//! index from the packet, so both interoperate; to compare bytes, rtmedia
//! protects one packet more first.

use rtmedia::srtp::{Config, Error, Profile, Srtp, MAX_TRAILER_LEN};
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

fn webrtc_profile(profile: Profile) -> ProtectionProfile {
    match profile {
        Profile::Aes128CmHmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        Profile::Aes128CmHmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        Profile::Aes256CmHmacSha1_80 => ProtectionProfile::Aes256CmHmacSha1_80,
        Profile::Aes256CmHmacSha1_32 => ProtectionProfile::Aes256CmHmacSha1_32,
        Profile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        Profile::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
    }
}

/// SplitMix64: a small seeded generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Extension profiles other than RFC 8285's (and cryptex's), carried as
/// opaque data.
fn raw_extension_profile(rng: &mut Rng) -> u16 {
    loop {
        let p = rng.next() as u16;
        if p != 0xbede && p & 0xfff0 != 0x1000 && p != 0xc0de && p != 0xc2de {
            return p;
        }
    }
}

/// A random, well-formed RTP packet.
fn random_rtp(rng: &mut Rng, seq: u16, ssrc: u32) -> Vec<u8> {
    let cc = rng.pick(&[0usize, 0, 0, 1, 2, 15]);
    let payload_len = rng.pick(&[0usize, 1, 2, 15, 16, 17, 31, 100, 160, 1200]);
    let padding = if rng.chance(20) { 1 + rng.below(32) } else { 0 };
    let extension = rng.below(4); // none, one-byte, two-byte, other profile

    let mut p = vec![
        0x80 | u8::from(padding > 0) << 5 | u8::from(extension > 0) << 4 | cc as u8,
        (rng.next() as u8 & 0x80) | rng.below(128) as u8,
    ];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(rng.next() as u32).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    for _ in 0..cc {
        p.extend_from_slice(&(rng.next() as u32).to_be_bytes());
    }
    if extension > 0 {
        let mut data = Vec::new();
        let profile = match extension {
            1 => {
                for _ in 0..rng.below(5) {
                    let len = 1 + rng.below(16);
                    data.push((1 + rng.below(14) as u8) << 4 | (len - 1) as u8);
                    data.extend(rng.bytes(len));
                    if rng.chance(10) {
                        data.push(0); // padding between elements
                    }
                }
                0xbede
            }
            2 => {
                for _ in 0..rng.below(5) {
                    let len = rng.below(21);
                    data.push(1 + rng.below(255) as u8);
                    data.push(len as u8);
                    data.extend(rng.bytes(len));
                }
                0x1000
            }
            _ => {
                let words = rng.below(5);
                data = rng.bytes(4 * words);
                raw_extension_profile(rng)
            }
        };
        data.resize(data.len().next_multiple_of(4), 0);
        p.extend_from_slice(&u16::to_be_bytes(profile));
        p.extend_from_slice(&((data.len() / 4) as u16).to_be_bytes());
        p.extend(data);
    }
    p.extend(rng.bytes(payload_len));
    if padding > 0 {
        p.extend(std::iter::repeat_n(0, padding - 1));
        p.push(padding as u8);
    }
    p
}

/// A random compound RTCP packet from `ssrc`: one to three packets of types
/// 200 to 206 with random bodies and correct length fields.
fn random_rtcp(rng: &mut Rng, ssrc: u32) -> Vec<u8> {
    let mut p = Vec::new();
    for i in 0..1 + rng.below(3) {
        let words = rng.below(20) + usize::from(i == 0);
        p.push(0x80 | rng.below(32) as u8);
        p.push(200 + rng.below(7) as u8);
        p.extend_from_slice(&(words as u16).to_be_bytes());
        let mut body = rng.bytes(4 * words);
        if i == 0 {
            body[..4].copy_from_slice(&ssrc.to_be_bytes());
        }
        p.extend(body);
    }
    p
}

fn keys(rng: &mut Rng, profile: Profile) -> (Vec<u8>, Vec<u8>) {
    (rng.bytes(profile.key_len()), rng.bytes(profile.salt_len()))
}

fn rtm(profile: Profile, key: &[u8], salt: &[u8]) -> Srtp {
    Srtp::new(profile, key, salt, Config::default()).unwrap()
}

fn webrtc(profile: Profile, key: &[u8], salt: &[u8]) -> Context {
    Context::new(key, salt, webrtc_profile(profile), None, None).unwrap()
}

fn rtm_protect_rtp(tx: &mut Srtp, p: &[u8]) -> Vec<u8> {
    let mut buf = p.to_vec();
    buf.resize(p.len() + MAX_TRAILER_LEN, 0);
    let n = tx.protect_rtp(&mut buf, p.len()).unwrap();
    buf.truncate(n);
    buf
}

fn rtm_protect_rtcp(tx: &mut Srtp, p: &[u8]) -> Vec<u8> {
    let mut buf = p.to_vec();
    buf.resize(p.len() + MAX_TRAILER_LEN, 0);
    let n = tx.protect_rtcp(&mut buf, p.len()).unwrap();
    buf.truncate(n);
    buf
}

/// Streams per test, packets per test, and how far before the wrap the
/// sequence numbers start.
const STREAMS: usize = 3;
const PACKETS: usize = 6_000;
const BEFORE_WRAP: u16 = 1_500;

fn rtp_differential(profile: Profile) {
    let mut rng = Rng(0x5eed_0000 + profile as u64);
    let (key, salt) = keys(&mut rng, profile);
    let (mut rtm_tx, mut rtm_rx) = (rtm(profile, &key, &salt), rtm(profile, &key, &salt));
    let (mut web_tx, mut web_rx) = (webrtc(profile, &key, &salt), webrtc(profile, &key, &salt));

    let ssrcs: Vec<u32> = (0..STREAMS).map(|_| rng.next() as u32).collect();
    let mut next_seq: Vec<u16> = (0..STREAMS)
        .map(|i| 0u16.wrapping_sub(BEFORE_WRAP) + 97 * i as u16)
        .collect();
    let mut sent: Vec<Vec<Vec<u8>>> = vec![Vec::new(); STREAMS];
    let (mut new, mut resent) = (0, 0);

    for i in 0..PACKETS {
        let s = rng.below(STREAMS);
        let retransmission = sent[s].len() > 10 && rng.chance(5);
        let p = if retransmission {
            let back = 1 + rng.below(10.min(sent[s].len()));
            sent[s][sent[s].len() - back].clone()
        } else {
            let p = random_rtp(&mut rng, next_seq[s], ssrcs[s]);
            next_seq[s] = next_seq[s].wrapping_add(1);
            sent[s].push(p.clone());
            p
        };

        let ours = rtm_protect_rtp(&mut rtm_tx, &p);
        let theirs = web_tx.encrypt_rtp(&p).expect("webrtc-srtp encrypt_rtp");
        assert_eq!(
            ours,
            theirs[..],
            "{profile:?} packet {i}: protected bytes differ for {p:02x?}"
        );

        let decrypted = web_rx.decrypt_rtp(&ours).expect("webrtc-srtp decrypt_rtp");
        assert_eq!(
            decrypted[..],
            p[..],
            "{profile:?} packet {i}: webrtc-srtp decrypt"
        );

        let mut buf = theirs.to_vec();
        let result = rtm_rx.unprotect_rtp(&mut buf);
        if retransmission {
            assert_eq!(result, Err(Error::Replayed), "{profile:?} packet {i}");
            assert_eq!(buf[..], theirs[..], "buffer changed on replay");
            resent += 1;
        } else {
            let n = result.unwrap_or_else(|e| panic!("{profile:?} packet {i}: {e}"));
            assert_eq!(buf[..n], p[..], "{profile:?} packet {i}: rtmedia unprotect");
            new += 1;
        }
    }
    // Every stream crossed the wrap, so ran with ROC 1.
    assert!(
        next_seq.iter().all(|&s| s > 100 && s < 0x8000),
        "{next_seq:?}"
    );
    assert_eq!(rtm_rx.stats().rtp_unprotected, new);
    assert_eq!(rtm_rx.stats().replayed, resent);
    assert!(resent > 100);
}

fn rtcp_differential(profile: Profile) {
    let mut rng = Rng(0xc0ff_ee00 + profile as u64);
    let (key, salt) = keys(&mut rng, profile);
    let (mut rtm_tx, mut rtm_rx) = (rtm(profile, &key, &salt), rtm(profile, &key, &salt));
    let (mut web_tx, mut web_rx) = (webrtc(profile, &key, &salt), webrtc(profile, &key, &salt));
    let ssrcs: Vec<u32> = (0..STREAMS).map(|_| rng.next() as u32).collect();

    // rtmedia's index 0 packet of each SSRC: webrtc-srtp reads it fine.
    for &ssrc in &ssrcs {
        let p = random_rtcp(&mut rng, ssrc);
        let ours = rtm_protect_rtcp(&mut rtm_tx, &p);
        let at = if profile.is_aead() {
            ours.len() - 4
        } else {
            p.len()
        };
        assert_eq!(ours[at..at + 4], [0x80, 0, 0, 0]);
        assert_eq!(web_rx.decrypt_rtcp(&ours).expect("index 0")[..], p[..]);
    }

    for i in 0..PACKETS / 3 {
        let ssrc = ssrcs[rng.below(STREAMS)];
        let p = random_rtcp(&mut rng, ssrc);
        let ours = rtm_protect_rtcp(&mut rtm_tx, &p);
        let theirs = web_tx.encrypt_rtcp(&p).expect("webrtc-srtp encrypt_rtcp");
        assert_eq!(
            ours,
            theirs[..],
            "{profile:?} RTCP {i}: protected bytes differ for {p:02x?}"
        );
        let decrypted = web_rx
            .decrypt_rtcp(&ours)
            .expect("webrtc-srtp decrypt_rtcp");
        assert_eq!(
            decrypted[..],
            p[..],
            "{profile:?} RTCP {i}: webrtc-srtp decrypt"
        );

        let mut buf = theirs.to_vec();
        let n = rtm_rx
            .unprotect_rtcp(&mut buf)
            .unwrap_or_else(|e| panic!("{profile:?} RTCP {i}: {e}"));
        assert_eq!(buf[..n], p[..], "{profile:?} RTCP {i}: rtmedia unprotect");

        // The same SRTCP packet again is a replay.
        let mut again = theirs.to_vec();
        assert_eq!(rtm_rx.unprotect_rtcp(&mut again), Err(Error::Replayed));
        assert_eq!(again[..], theirs[..]);
    }
}

#[test]
fn rtp_aes128_cm_sha1_80() {
    rtp_differential(Profile::Aes128CmHmacSha1_80);
}

#[test]
fn rtp_aes128_cm_sha1_32() {
    rtp_differential(Profile::Aes128CmHmacSha1_32);
}

#[test]
fn rtp_aes256_cm_sha1_80() {
    rtp_differential(Profile::Aes256CmHmacSha1_80);
}

#[test]
fn rtp_aes256_cm_sha1_32() {
    rtp_differential(Profile::Aes256CmHmacSha1_32);
}

#[test]
fn rtp_aead_aes128_gcm() {
    rtp_differential(Profile::AeadAes128Gcm);
}

#[test]
fn rtp_aead_aes256_gcm() {
    rtp_differential(Profile::AeadAes256Gcm);
}

#[test]
fn rtcp_every_profile() {
    for profile in Profile::ALL {
        rtcp_differential(profile);
    }
}

/// A receiver that starts late in a stream, in order from a sequence number
/// near the wrap, with webrtc-srtp as the sender: the ROC the receiver
/// infers follows the sender's over two wraps.
#[test]
fn rtp_two_wraps_from_webrtc_sender() {
    for profile in Profile::ALL {
        let mut rng = Rng(0x7770 + profile as u64);
        let (key, salt) = keys(&mut rng, profile);
        let mut web_tx = webrtc(profile, &key, &salt);
        let mut rtm_rx = rtm(profile, &key, &salt);
        let ssrc = rng.next() as u32;
        let mut seq = 65_000u16;
        for i in 0..68_000u32 {
            let mut p = vec![0x80, 111];
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&i.to_be_bytes());
            p.extend_from_slice(&ssrc.to_be_bytes());
            p.extend_from_slice(&i.to_le_bytes());
            let theirs = web_tx.encrypt_rtp(&p).unwrap();
            let mut buf = theirs.to_vec();
            let n = rtm_rx
                .unprotect_rtp(&mut buf)
                .unwrap_or_else(|e| panic!("{profile:?} packet {i} seq {seq}: {e}"));
            assert_eq!(buf[..n], p[..]);
            seq = seq.wrapping_add(1);
        }
    }
}
