//! Property tests for SRTP/SRTCP protect and unprotect, every profile, with
//! and without cryptex: round trips, tamper detection, replay, rollover,
//! the SSRC cap, buffer sizing, and hostile input.

use proptest::prelude::*;
use proptest::sample::Index;
use rtmedia::srtp::{Config, Error, Profile, Srtp, MAX_TRAILER_LEN};

// ---------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------

/// The header extension of a generated packet.
#[derive(Debug, Clone)]
enum Ext {
    None,
    /// RFC 8285 one-byte elements (id 1..=14, 1..=16 bytes).
    OneByte(Vec<(u8, Vec<u8>)>),
    /// RFC 8285 two-byte elements (id 1..=255, 0..=20 bytes).
    TwoByte(Vec<(u8, Vec<u8>)>),
    /// Any other "defined by profile" value, opaque data.
    Raw(u16, Vec<u8>),
}

/// A well-formed RTP packet.
#[derive(Debug, Clone)]
struct Rtp {
    marker: bool,
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    csrcs: Vec<u32>,
    ext: Ext,
    payload: Vec<u8>,
    /// Padding bytes including the count byte; 0 for none.
    padding: u8,
}

impl Rtp {
    fn bytes(&self) -> Vec<u8> {
        let has_ext = !matches!(self.ext, Ext::None);
        let mut p = vec![
            0x80 | u8::from(self.padding > 0) << 5
                | u8::from(has_ext) << 4
                | self.csrcs.len() as u8,
            u8::from(self.marker) << 7 | self.pt,
        ];
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        for c in &self.csrcs {
            p.extend_from_slice(&c.to_be_bytes());
        }
        let (profile, mut data) = match &self.ext {
            Ext::None => (0, Vec::new()),
            Ext::OneByte(elements) => {
                let mut d = Vec::new();
                for (id, v) in elements {
                    d.push(id << 4 | (v.len() - 1) as u8);
                    d.extend_from_slice(v);
                }
                (0xbede, d)
            }
            Ext::TwoByte(elements) => {
                let mut d = Vec::new();
                for (id, v) in elements {
                    d.push(*id);
                    d.push(v.len() as u8);
                    d.extend_from_slice(v);
                }
                (0x1000, d)
            }
            Ext::Raw(profile, d) => (*profile, d.clone()),
        };
        if has_ext {
            data.resize(data.len().next_multiple_of(4), 0);
            p.extend_from_slice(&u16::to_be_bytes(profile));
            p.extend_from_slice(&((data.len() / 4) as u16).to_be_bytes());
            p.extend(data);
        }
        p.extend_from_slice(&self.payload);
        if self.padding > 0 {
            p.extend(std::iter::repeat_n(0, usize::from(self.padding) - 1));
            p.push(self.padding);
        }
        p
    }

    /// Whether a cryptex sender encrypts this packet's header too.
    fn cryptex_applies(&self) -> bool {
        match self.ext {
            Ext::None => !self.csrcs.is_empty(),
            Ext::OneByte(_) | Ext::TwoByte(_) => true,
            Ext::Raw(..) => false,
        }
    }

    /// What a cryptex receiver gets back: the packet, plus the empty
    /// extension block RFC 9335 §5.1 has the sender add when there are
    /// CSRCs and no extension.
    fn received(&self, cryptex: bool) -> Vec<u8> {
        if cryptex && matches!(self.ext, Ext::None) && !self.csrcs.is_empty() {
            let mut p = Rtp {
                ext: Ext::OneByte(Vec::new()),
                ..self.clone()
            }
            .bytes();
            p[0] |= 0x10;
            p
        } else {
            self.bytes()
        }
    }
}

fn ext() -> impl Strategy<Value = Ext> {
    prop_oneof![
        Just(Ext::None),
        prop::collection::vec((1u8..=14, prop::collection::vec(any::<u8>(), 1..=16)), 0..4)
            .prop_map(Ext::OneByte),
        prop::collection::vec(
            (1u8..=255, prop::collection::vec(any::<u8>(), 0..=20)),
            0..4
        )
        .prop_map(Ext::TwoByte),
        (
            // Not RFC 8285's 0xBEDE and 0x1000 (the cases above), nor 0xC0DE
            // and 0xC2DE, which mean "encrypted with cryptex" (RFC 9335):
            // see `plaintext_cryptex_profile_cannot_round_trip`.
            any::<u16>().prop_filter("RFC 8285 or cryptex profile", |p| {
                ![0xbede, 0x1000, 0xc0de, 0xc2de].contains(p)
            }),
            prop::collection::vec(any::<[u8; 4]>(), 0..4).prop_map(|w| w.concat()),
        )
            .prop_map(|(p, d)| Ext::Raw(p, d)),
    ]
}

fn rtp() -> impl Strategy<Value = Rtp> {
    (
        (
            any::<bool>(),
            0u8..128,
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
        ),
        prop::collection::vec(any::<u32>(), 0..=15),
        ext(),
        prop::collection::vec(any::<u8>(), 0..300),
        prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
    )
        .prop_map(
            |((marker, pt, seq, ts, ssrc), csrcs, ext, payload, padding)| Rtp {
                marker,
                pt,
                seq,
                ts,
                ssrc,
                csrcs,
                ext,
                payload,
                padding,
            },
        )
}

/// A (compound) RTCP packet as far as SRTCP cares: version 2, a sender
/// SSRC, anything after.
fn rtcp() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..64,
        any::<u8>(),
        any::<u16>(),
        any::<u32>(),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(b0, pt, len, ssrc, body)| {
            let mut p = vec![0x80 | b0, pt];
            p.extend_from_slice(&len.to_be_bytes());
            p.extend_from_slice(&ssrc.to_be_bytes());
            p.extend(body);
            p
        })
}

fn profile() -> impl Strategy<Value = Profile> {
    prop::sample::select(Profile::ALL.to_vec())
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn key_for(profile: Profile) -> (Vec<u8>, Vec<u8>) {
    let key = (0..profile.key_len()).map(|i| i as u8 * 7 + 1).collect();
    let salt = (0..profile.salt_len()).map(|i| i as u8 * 13 + 5).collect();
    (key, salt)
}

fn context_with(profile: Profile, config: Config) -> Srtp {
    let (key, salt) = key_for(profile);
    Srtp::new(profile, &key, &salt, config).unwrap()
}

fn context(profile: Profile, cryptex: bool) -> Srtp {
    context_with(
        profile,
        Config {
            cryptex,
            ..Config::default()
        },
    )
}

fn protect_rtp(tx: &mut Srtp, p: &[u8]) -> Result<Vec<u8>, Error> {
    let mut buf = p.to_vec();
    buf.resize(p.len() + MAX_TRAILER_LEN + 4, 0);
    let n = tx.protect_rtp(&mut buf, p.len())?;
    buf.truncate(n);
    Ok(buf)
}

fn protect_rtcp(tx: &mut Srtp, p: &[u8]) -> Result<Vec<u8>, Error> {
    let mut buf = p.to_vec();
    buf.resize(p.len() + MAX_TRAILER_LEN, 0);
    let n = tx.protect_rtcp(&mut buf, p.len())?;
    buf.truncate(n);
    Ok(buf)
}

/// Unprotects a copy of `packet`; returns the result and what the buffer
/// holds afterwards (the whole buffer on error, the packet on success).
fn unprotect_rtp(rx: &mut Srtp, packet: &[u8]) -> Result<Vec<u8>, (Error, Vec<u8>)> {
    let mut buf = packet.to_vec();
    match rx.unprotect_rtp(&mut buf) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) => Err((e, buf)),
    }
}

fn unprotect_rtcp(rx: &mut Srtp, packet: &[u8]) -> Result<Vec<u8>, (Error, Vec<u8>)> {
    let mut buf = packet.to_vec();
    match rx.unprotect_rtcp(&mut buf) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) => Err((e, buf)),
    }
}

/// A small RTP packet with just these fields.
fn simple_rtp(ssrc: u32, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&u32::from(seq).wrapping_mul(960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// A small RTCP receiver report from `ssrc`.
fn simple_rtcp(ssrc: u32, body: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 2];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&body.to_be_bytes());
    p
}

/// SplitMix64, for the seeded non-proptest tests.
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
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// unprotect(protect(p)) == p for every profile, with and without
    /// cryptex; the header stays readable; the tag has the profile's length.
    #[test]
    fn rtp_round_trip(profile in profile(), cryptex in any::<bool>(), p in rtp()) {
        let plain = p.bytes();
        let (mut tx, mut rx) = (context(profile, cryptex), context(profile, cryptex));
        let protected = protect_rtp(&mut tx, &plain).unwrap();
        let expected = p.received(cryptex);
        prop_assert_eq!(protected.len(), expected.len() + profile.rtp_tag_len());
        // Version to SSRC are never encrypted.
        prop_assert_eq!(&protected[..12], &expected[..12]);
        if cryptex && p.cryptex_applies() {
            let at = 12 + 4 * p.csrcs.len();
            let marker = u16::from_be_bytes([protected[at], protected[at + 1]]);
            prop_assert!(marker == 0xc0de || marker == 0xc2de, "profile {:#x}", marker);
            if !p.csrcs.is_empty() {
                prop_assert_ne!(&protected[12..at], &expected[12..at], "CSRCs in the clear");
            }
        } else {
            let header = plain.len() - p.payload.len() - usize::from(p.padding);
            prop_assert_eq!(&protected[..header], &plain[..header]);
        }
        let got = unprotect_rtp(&mut rx, &protected).unwrap();
        prop_assert_eq!(got, expected);
        prop_assert_eq!(tx.stats().rtp_protected, 1);
        prop_assert_eq!(rx.stats().rtp_unprotected, 1);
        prop_assert_eq!(rx.stats().rtp_unprotected_bytes, (protected.len() - profile.rtp_tag_len()) as u64);
    }

    #[test]
    fn rtcp_round_trip(profile in profile(), p in rtcp(), index_skip in 0u32..4) {
        let (mut tx, mut rx) = (context(profile, false), context(profile, false));
        for _ in 0..index_skip {
            protect_rtcp(&mut tx, &p).unwrap();
        }
        let protected = protect_rtcp(&mut tx, &p).unwrap();
        prop_assert_eq!(protected.len(), p.len() + profile.rtcp_trailer_len());
        prop_assert_eq!(&protected[..8], &p[..8]);
        let got = unprotect_rtcp(&mut rx, &protected).unwrap();
        prop_assert_eq!(got, p);
        prop_assert_eq!(rx.stats().rtcp_unprotected, 1);
    }

    /// Flipping any single bit of a protected RTP packet makes unprotect
    /// fail and leaves the buffer as it was; nothing moves, so the genuine
    /// packet is accepted afterwards.
    #[test]
    fn rtp_any_bit_flip_is_rejected(
        profile in profile(),
        cryptex in any::<bool>(),
        p in rtp(),
        bit in any::<Index>(),
    ) {
        let (mut tx, mut rx) = (context(profile, cryptex), context(profile, cryptex));
        let protected = protect_rtp(&mut tx, &p.bytes()).unwrap();
        let bit = bit.index(protected.len() * 8);
        let mut flipped = protected.clone();
        flipped[bit / 8] ^= 0x80 >> (bit % 8);
        match unprotect_rtp(&mut rx, &flipped) {
            Ok(got) => prop_assert!(false, "bit {} flipped, accepted as {:02x?}", bit, got),
            Err((e, buf)) => {
                prop_assert_eq!(&buf, &flipped, "buffer changed ({:?})", e);
                // Past the header a flip can only break the tag.
                if bit / 8 >= p.received(cryptex).len() - p.payload.len() - usize::from(p.padding) {
                    prop_assert_eq!(e, Error::AuthFailed);
                }
            }
        }
        prop_assert_eq!(unprotect_rtp(&mut rx, &protected).unwrap(), p.received(cryptex));
    }

    #[test]
    fn rtcp_any_bit_flip_is_rejected(profile in profile(), p in rtcp(), bit in any::<Index>()) {
        let (mut tx, mut rx) = (context(profile, false), context(profile, false));
        let protected = protect_rtcp(&mut tx, &p).unwrap();
        let bit = bit.index(protected.len() * 8);
        let mut flipped = protected.clone();
        flipped[bit / 8] ^= 0x80 >> (bit % 8);
        match unprotect_rtcp(&mut rx, &flipped) {
            Ok(got) => prop_assert!(false, "bit {} flipped, accepted as {:02x?}", bit, got),
            Err((e, buf)) => {
                prop_assert_eq!(&buf, &flipped, "buffer changed ({:?})", e);
                if bit >= 2 {
                    // Only the version bits are parsed before the tag check.
                    prop_assert_eq!(e, Error::AuthFailed);
                }
            }
        }
        prop_assert_eq!(unprotect_rtcp(&mut rx, &protected).unwrap(), p);
    }

    /// Truncating or extending a protected packet is rejected too.
    #[test]
    fn truncated_or_extended_packets_are_rejected(
        profile in profile(),
        p in rtp(),
        r in rtcp(),
        cut in any::<Index>(),
        extra in prop::collection::vec(any::<u8>(), 1..8),
    ) {
        let mut tx = context(profile, false);
        let mut rx = context(profile, false);
        for (protected, rtcp) in [
            (protect_rtp(&mut tx, &p.bytes()).unwrap(), false),
            (protect_rtcp(&mut tx, &r).unwrap(), true),
        ] {
            let unprotect = if rtcp { unprotect_rtcp } else { unprotect_rtp };
            let short = &protected[..cut.index(protected.len())];
            prop_assert!(matches!(unprotect(&mut rx, short), Err((_, b)) if b == short));
            let long = [&protected[..], &extra].concat();
            prop_assert!(matches!(unprotect(&mut rx, &long), Err((_, b)) if b == long));
        }
    }

    /// Delivering N packets in any order (within the window) accepts each
    /// once; every duplicate is `Replayed`, buffer unchanged. The first
    /// packet comes first: it pins the receiver's ROC (a receiver assumes
    /// ROC 0 for the first packet it sees, RFC 3711 §3.3.1), and the
    /// sequence numbers may wrap after it.
    #[test]
    fn rtp_replay_any_permutation(
        profile in profile(),
        start in any::<u16>(),
        order in (2usize..200).prop_flat_map(|n| Just((1..n).collect::<Vec<_>>()).prop_shuffle()),
        dup_order in any::<u64>(),
    ) {
        let n = order.len() + 1;
        let mut tx = context(profile, false);
        let mut rx = context(profile, false);
        let plain: Vec<Vec<u8>> = (0..n)
            .map(|i| simple_rtp(0xabcd, start.wrapping_add(i as u16), &(i as u32).to_be_bytes()))
            .collect();
        let protected: Vec<Vec<u8>> = plain.iter().map(|p| protect_rtp(&mut tx, p).unwrap()).collect();

        let first: Vec<usize> = std::iter::once(0).chain(order.iter().copied()).collect();
        for &i in &first {
            prop_assert_eq!(unprotect_rtp(&mut rx, &protected[i]).unwrap(), plain[i].clone(), "packet {}", i);
        }
        let mut rng = Rng(dup_order);
        for _ in 0..n {
            let i = rng.below(n);
            let (e, buf) = unprotect_rtp(&mut rx, &protected[i]).unwrap_err();
            prop_assert_eq!(e, Error::Replayed);
            prop_assert_eq!(buf, protected[i].clone());
        }
        prop_assert_eq!(rx.stats().rtp_unprotected, n as u64);
        prop_assert_eq!(rx.stats().replayed, n as u64);
    }

    /// The same for SRTCP, whose index is explicit: any order at all.
    #[test]
    fn rtcp_replay_any_permutation(
        profile in profile(),
        order in (1usize..200).prop_flat_map(|n| Just((0..n).collect::<Vec<_>>()).prop_shuffle()),
    ) {
        let mut tx = context(profile, false);
        let mut rx = context(profile, false);
        let plain: Vec<Vec<u8>> = (0..order.len()).map(|i| simple_rtcp(0x1234, i as u32)).collect();
        let protected: Vec<Vec<u8>> = plain.iter().map(|p| protect_rtcp(&mut tx, p).unwrap()).collect();
        for &i in &order {
            prop_assert_eq!(unprotect_rtcp(&mut rx, &protected[i]).unwrap(), plain[i].clone());
        }
        for &i in order.iter().rev() {
            let (e, buf) = unprotect_rtcp(&mut rx, &protected[i]).unwrap_err();
            prop_assert_eq!(e, Error::Replayed);
            prop_assert_eq!(buf, protected[i].clone());
        }
    }

    /// Protect with one byte too little capacity: `BufferTooSmall` with the
    /// exact need, buffer unchanged, and nothing used up (the SRTCP index
    /// of the next attempt is still 0).
    #[test]
    fn capacity_short_by_one(profile in profile(), cryptex in any::<bool>(), p in rtp(), r in rtcp()) {
        let plain = p.bytes();
        let mut tx = context(profile, cryptex);
        let needed = p.received(cryptex).len() + profile.rtp_tag_len();
        let mut buf = plain.clone();
        buf.resize(needed - 1, 0x5a);
        let before = buf.clone();
        prop_assert_eq!(tx.protect_rtp(&mut buf, plain.len()), Err(Error::BufferTooSmall { needed }));
        prop_assert_eq!(&buf, &before);
        // len past the buffer.
        prop_assert_eq!(
            tx.protect_rtp(&mut buf, needed),
            Err(Error::BufferTooSmall { needed })
        );
        prop_assert_eq!(&buf, &before);
        buf.push(0x5a);
        prop_assert_eq!(tx.protect_rtp(&mut buf, plain.len()), Ok(needed));
        let mut rx = context(profile, cryptex);
        prop_assert_eq!(unprotect_rtp(&mut rx, &buf).unwrap(), p.received(cryptex));

        let needed = r.len() + profile.rtcp_trailer_len();
        let mut buf = r.clone();
        buf.resize(needed - 1, 0x5a);
        let before = buf.clone();
        prop_assert_eq!(tx.protect_rtcp(&mut buf, r.len()), Err(Error::BufferTooSmall { needed }));
        prop_assert_eq!(&buf, &before);
        buf.push(0x5a);
        prop_assert_eq!(tx.protect_rtcp(&mut buf, r.len()), Ok(needed));
        let at = if profile.is_aead() { needed - 4 } else { r.len() };
        prop_assert_eq!(&buf[at..at + 4], &[0x80, 0, 0, 0][..], "an SRTCP index was used up");
        prop_assert_eq!(tx.stats().rtp_protected, 1);
        prop_assert_eq!(tx.stats().rtcp_protected, 1);
    }

    /// Arbitrary bytes never make unprotect panic; it fails and leaves them
    /// as they were. Protect of arbitrary bytes never panics either, and
    /// leaves the buffer as it was when it fails.
    #[test]
    fn arbitrary_bytes_never_panic(
        profile in profile(),
        cryptex in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 0..120),
        version_2 in any::<bool>(),
        len in any::<Index>(),
    ) {
        let mut bytes = bytes;
        if version_2 && !bytes.is_empty() {
            bytes[0] = bytes[0] & 0x3f | 0x80;
        }
        let mut rx = context(profile, cryptex);
        for rtcp in [false, true] {
            let mut buf = bytes.clone();
            let result = if rtcp { rx.unprotect_rtcp(&mut buf) } else { rx.unprotect_rtp(&mut buf) };
            prop_assert!(result.is_err(), "random bytes accepted: {:?}", result);
            prop_assert_eq!(&buf, &bytes);
        }
        let mut tx = context(profile, cryptex);
        let len = len.index(bytes.len() + 1);
        for rtcp in [false, true] {
            let mut buf = bytes.clone();
            let result = if rtcp { tx.protect_rtcp(&mut buf, len) } else { tx.protect_rtp(&mut buf, len) };
            if result.is_err() {
                prop_assert_eq!(&buf, &bytes);
            }
        }
    }

    /// The SSRC table holds at most `max_ssrcs`. Beyond it, both directions
    /// refuse new SSRCs with `SsrcLimit`, buffer unchanged; known SSRCs go
    /// on working; forged packets do not take slots.
    #[test]
    fn ssrc_cap(profile in profile(), cap in 1usize..8, forged in prop::collection::vec(any::<u32>(), 1..20)) {
        let config = Config { max_ssrcs: cap, ..Config::default() };
        let mut tx = context_with(profile, config);
        let mut rx = context_with(profile, config);

        // Forged packets from unknown SSRCs fail and take no slot.
        for ssrc in forged {
            let mut p = simple_rtp(ssrc, 1, &[0; 20]);
            p.extend_from_slice(&[0; 16][..profile.rtp_tag_len()]);
            prop_assert!(unprotect_rtp(&mut rx, &p).is_err());
            let mut r = simple_rtcp(ssrc, 0);
            r.extend_from_slice(&[0x80, 0, 0, 1]);
            r.extend_from_slice(&[0; 16][..profile.rtcp_tag_len()]);
            prop_assert!(unprotect_rtcp(&mut rx, &r).is_err());
        }
        prop_assert_eq!(rx.ssrc_count(), 0);

        for ssrc in 0..cap as u32 {
            let srtp = protect_rtp(&mut tx, &simple_rtp(ssrc, 9, &[1])).unwrap();
            prop_assert!(unprotect_rtp(&mut rx, &srtp).is_ok());
        }
        prop_assert_eq!(tx.ssrc_count(), cap);
        prop_assert_eq!(rx.ssrc_count(), cap);

        let new = cap as u32;
        let plain = simple_rtp(new, 9, &[1]);
        let mut buf = plain.clone();
        buf.resize(plain.len() + MAX_TRAILER_LEN, 0);
        let before = buf.clone();
        prop_assert_eq!(tx.protect_rtp(&mut buf, plain.len()), Err(Error::SsrcLimit));
        prop_assert_eq!(&buf, &before);
        let rtcp = simple_rtcp(new, 0);
        let mut buf = rtcp.clone();
        buf.resize(rtcp.len() + MAX_TRAILER_LEN, 0);
        let before = buf.clone();
        prop_assert_eq!(tx.protect_rtcp(&mut buf, rtcp.len()), Err(Error::SsrcLimit));
        prop_assert_eq!(&buf, &before);
        prop_assert_eq!(tx.stats().ssrc_limit_rejects, 2);

        // A genuine packet of a new SSRC, from a sender without the cap.
        let mut free_tx = context(profile, false);
        let srtp = protect_rtp(&mut free_tx, &plain).unwrap();
        let (e, buf) = unprotect_rtp(&mut rx, &srtp).unwrap_err();
        prop_assert_eq!(e, Error::SsrcLimit);
        prop_assert_eq!(buf, srtp);
        let srtcp = protect_rtcp(&mut free_tx, &rtcp).unwrap();
        prop_assert_eq!(unprotect_rtcp(&mut rx, &srtcp).unwrap_err().0, Error::SsrcLimit);
        prop_assert_eq!(rx.stats().ssrc_limit_rejects, 2);
        prop_assert!(rx.set_receive_roc(new, 0, 0).is_err());

        // Known SSRCs still work, both ways.
        let srtp = protect_rtp(&mut tx, &simple_rtp(0, 10, &[2])).unwrap();
        prop_assert!(unprotect_rtp(&mut rx, &srtp).is_ok());
        let srtcp = protect_rtcp(&mut tx, &simple_rtcp(cap as u32 - 1, 5)).unwrap();
        prop_assert!(unprotect_rtcp(&mut rx, &srtcp).is_ok());
        prop_assert_eq!(rx.ssrc_count(), cap);
    }
}

proptest! {
    // Each case protects up to ~3,000 packets.
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The window is `replay_window` rounded up to a power of two: an
    /// index exactly that far behind the highest is `TooOld`, one less is
    /// accepted.
    #[test]
    fn replay_window_edge(profile in profile(), window in 1usize..3000, start in any::<u16>()) {
        let size = window.max(64).next_power_of_two();
        let config = Config { replay_window: window, ..Config::default() };
        let mut tx = context_with(profile, config);
        let mut rx = context_with(profile, config);
        let seq = |i: usize| start.wrapping_add(i as u16);
        let packets: Vec<Vec<u8>> = (0..=size + 2)
            .map(|i| protect_rtp(&mut tx, &simple_rtp(7, seq(i), &[1, 2, 3])).unwrap())
            .collect();
        prop_assert!(unprotect_rtp(&mut rx, &packets[0]).is_ok());
        prop_assert!(unprotect_rtp(&mut rx, &packets[size + 1]).is_ok());
        let (e, buf) = unprotect_rtp(&mut rx, &packets[1]).unwrap_err();
        prop_assert_eq!(e, Error::TooOld);
        prop_assert_eq!(buf, packets[1].clone());
        prop_assert!(unprotect_rtp(&mut rx, &packets[2]).is_ok());
        prop_assert_eq!(rx.stats().too_old, 1);

        let mut tx = context_with(profile, config);
        let mut rx = context_with(profile, config);
        let packets: Vec<Vec<u8>> = (0..=size + 2)
            .map(|i| protect_rtcp(&mut tx, &simple_rtcp(7, i as u32)).unwrap())
            .collect();
        prop_assert!(unprotect_rtcp(&mut rx, &packets[size + 1]).is_ok());
        prop_assert_eq!(unprotect_rtcp(&mut rx, &packets[1]).unwrap_err().0, Error::TooOld);
        prop_assert!(unprotect_rtcp(&mut rx, &packets[2]).is_ok());
        prop_assert!(unprotect_rtcp(&mut rx, &packets[0]).is_err());
    }
}

// ---------------------------------------------------------------------------
// Rollover
// ---------------------------------------------------------------------------

/// 70,000 sequential packets per profile from sequence number 65,000, so two
/// wraps (ROC 0, 1, 2), delivered with reordering (shuffled in blocks of 8,
/// and 1 in 50 held back by up to 300 packets): every packet round-trips.
/// A wrong ROC on either side would fail authentication.
fn wrap_with_reordering(profile: Profile, cryptex: bool) {
    const N: usize = 70_000;
    let mut rng = Rng(profile as u64 + u64::from(cryptex) * 100);
    let mut tx = context(profile, cryptex);
    let mut rx = context(profile, cryptex);
    let ssrc = 0x0bad_cafe;
    let csrcs = [0x1111_1111u32, 0x2222_2222];

    let mut order: Vec<usize> = (0..N).collect();
    for block in order[1..].chunks_mut(8) {
        for i in (1..block.len()).rev() {
            block.swap(i, rng.below(i + 1));
        }
    }
    let mut i = 1;
    while i + 300 < N {
        if rng.below(50) == 0 {
            let late = order.remove(i);
            order.insert(i + 1 + rng.below(300), late);
        }
        i += 1;
    }

    let packet = |i: usize| {
        let seq = 65_000u16.wrapping_add(i as u16);
        let mut p = Rtp {
            marker: false,
            pt: 96,
            seq,
            ts: i as u32 * 960,
            ssrc,
            csrcs: if i % 3 == 0 {
                csrcs.to_vec()
            } else {
                Vec::new()
            },
            ext: if i % 2 == 0 {
                Ext::OneByte(vec![(1, vec![i as u8])])
            } else {
                Ext::None
            },
            payload: (i as u32).to_be_bytes().to_vec(),
            padding: 0,
        };
        if i % 5 == 0 {
            p.padding = 4;
        }
        p
    };
    let protected: Vec<Vec<u8>> = (0..N)
        .map(|i| protect_rtp(&mut tx, &packet(i).bytes()).unwrap())
        .collect();
    for &i in &order {
        let got = unprotect_rtp(&mut rx, &protected[i])
            .unwrap_or_else(|(e, _)| panic!("{profile:?} cryptex {cryptex}: packet {i}: {e}"));
        assert_eq!(got, packet(i).received(cryptex), "{profile:?} packet {i}");
    }
    assert_eq!(rx.stats().rtp_unprotected, N as u64);

    // Packets again: replays within the window, too old before it (up to
    // 2^15 back: further back, the index estimate aliases a newer packet).
    for i in (N - 1_000..N).step_by(97) {
        assert_eq!(
            unprotect_rtp(&mut rx, &protected[i]).unwrap_err().0,
            Error::Replayed
        );
    }
    for i in (N - 32_000..N - 1_024).step_by(997) {
        assert_eq!(
            unprotect_rtp(&mut rx, &protected[i]).unwrap_err().0,
            Error::TooOld
        );
    }
    // The packets of ROC 2 differ from what the same plaintext under ROC 0
    // would give (a sender ignoring the ROC would repeat its keystream).
    let mut fresh = context(profile, cryptex);
    let roc0 = protect_rtp(&mut fresh, &packet(N - 1).bytes()).unwrap();
    assert_ne!(roc0, protected[N - 1]);
}

#[test]
fn seq_wrap_with_reordering_every_profile() {
    for profile in Profile::ALL {
        wrap_with_reordering(profile, false);
    }
}

#[test]
fn seq_wrap_with_reordering_cryptex() {
    wrap_with_reordering(Profile::Aes128CmHmacSha1_80, true);
    wrap_with_reordering(Profile::AeadAes256Gcm, true);
}

/// Late joiners: a receiver told the ROC (`set_receive_roc`) of a stream
/// that has wrapped twice accepts the packet at the position it was told
/// about and those after it. libsrtp's `srtp_set_stream_roc` and
/// webrtc-srtp's `set_roc` take a ROC for the packets to come; neither
/// marks a packet as already received.
#[test]
fn set_receive_roc_lets_a_late_receiver_join() {
    for profile in Profile::ALL {
        let mut tx = context(profile, false);
        let ssrc = 77;
        let start = 65_500u16;
        let packets: Vec<(Vec<u8>, Vec<u8>)> = (0..65_536 + 200)
            .map(|i: u32| {
                let p = simple_rtp(ssrc, start.wrapping_add(i as u16), &i.to_be_bytes());
                (protect_rtp(&mut tx, &p).unwrap(), p)
            })
            .collect();
        // Packet 65,600 has ROC 2 (the sequence wrapped after packets 35
        // and 65,571) and sequence number 65,500 + 65,600 - 131,072 = 28.
        let join = 65_600;
        let seq = start.wrapping_add(join as u16);
        assert_eq!(seq, 28);

        // Without the ROC, a receiver assumes 0 and fails.
        let mut rx = context(profile, false);
        assert_eq!(
            unprotect_rtp(&mut rx, &packets[join].0).unwrap_err().0,
            Error::AuthFailed
        );

        let mut rx = context(profile, false);
        rx.set_receive_roc(ssrc, 2, seq).unwrap();
        for (i, (srtp, plain)) in packets.iter().enumerate().skip(join) {
            let got = unprotect_rtp(&mut rx, srtp)
                .unwrap_or_else(|(e, _)| panic!("{profile:?}: packet {i} after joining: {e}"));
            assert_eq!(&got, plain);
        }
        // Older packets of the same ROC, within the window, too.
        assert!(unprotect_rtp(&mut rx, &packets[join - 5].0).is_ok());
    }
}

/// A plaintext RTP packet whose extension profile is 0xC0DE or 0xC2DE (the
/// values RFC 9335 reserves to mean "encrypted with cryptex") cannot come
/// back out of an rtmedia receiver: with cryptex off, the receiver refuses
/// it (`CryptexNotEnabled`); with cryptex on, it "decrypts" the clear CSRCs,
/// extension and payload as if they were encrypted, authenticates, and
/// returns different bytes. Protect should refuse such a packet (RFC 9335
/// §5.1: cryptex "MUST NOT be used with header extensions other than the
/// RFC 8285 variety", and this packet cannot be sent without it).
#[test]
fn plaintext_cryptex_profile_cannot_round_trip() {
    // V=2, X=1, CC=1, seq 1, SSRC 0x01020304, CSRC 0x0a0b0c0d, extension
    // 0xC0DE with one word of data, 4 bytes of payload.
    let plain = [
        0x91, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c,
        0x0d, 0xc0, 0xde, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, 0xde, 0xad, 0xbe, 0xef,
    ];
    let mut failures = Vec::new();
    for profile in Profile::ALL {
        for cryptex in [false, true] {
            let mut tx = context(profile, cryptex);
            let mut rx = context(profile, cryptex);
            match protect_rtp(&mut tx, &plain) {
                Err(_) => {} // refused: fine
                Ok(srtp) => match unprotect_rtp(&mut rx, &srtp) {
                    Ok(got) if got == plain => {}
                    other => failures.push(format!(
                        "{profile:?} cryptex={cryptex}: protect accepted, unprotect gave {:02x?}",
                        other.map_err(|(e, _)| e)
                    )),
                },
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The default window (1024) covers a NACK history: a retransmission 1000
/// packets late is accepted.
#[test]
fn default_window_accepts_late_retransmissions() {
    for profile in Profile::ALL {
        let mut tx = context(profile, false);
        let mut rx = context(profile, false);
        let packets: Vec<Vec<u8>> = (0..1100u16)
            .map(|i| protect_rtp(&mut tx, &simple_rtp(5, i, &[9; 10])).unwrap())
            .collect();
        for (i, p) in packets.iter().enumerate() {
            if i != 99 {
                assert!(unprotect_rtp(&mut rx, p).is_ok());
            }
        }
        assert!(unprotect_rtp(&mut rx, &packets[99]).is_ok(), "{profile:?}");
    }
}
