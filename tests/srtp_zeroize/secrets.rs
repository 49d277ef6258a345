//! Secrets of an SRTP context and a session that uses them, shared by the
//! heap and stack scans of `tests/srtp_zeroize*.rs`.

use aes::cipher::{BlockEncrypt, KeyInit};
use rtmedia::packet::RtpBuilder;
use rtmedia::srtp::{Config, Profile, Srtp};

/// Deterministic key bytes (xorshift), different for each seed.
pub fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// RFC 3711 §4.3.3 AES-CM PRF with key derivation rate 0: `n` bytes for `label`.
pub fn kdf(master_key: &[u8], master_salt: &[u8], label: u8, n: usize) -> Vec<u8> {
    let mut iv = [0u8; 16];
    iv[..master_salt.len()].copy_from_slice(master_salt);
    iv[7] ^= label;
    let mut out = Vec::new();
    for counter in 0u16.. {
        if out.len() >= n {
            break;
        }
        let mut block = iv;
        block[14..].copy_from_slice(&counter.to_be_bytes());
        let mut b = block.into();
        match master_key.len() {
            16 => aes::Aes128::new_from_slice(master_key)
                .unwrap()
                .encrypt_block(&mut b),
            32 => aes::Aes256::new_from_slice(master_key)
                .unwrap()
                .encrypt_block(&mut b),
            _ => unreachable!(),
        }
        out.extend_from_slice(&b);
    }
    out.truncate(n);
    out
}

/// The SHA-1 state after one block of `key ^ pad` (HMAC's precomputed
/// inner or outer state), as it lies in memory (native-endian words).
pub fn hmac_pad_state(key: &[u8], pad: u8) -> Vec<u8> {
    let mut block = [pad; 64];
    for (b, k) in block.iter_mut().zip(key) {
        *b ^= k;
    }
    let mut state = [
        0x6745_2301u32,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    sha1::compress(&mut state, &[block.into()]);
    state.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Every secret of one context: master key and salt, and per direction
/// (RTP labels 0–2, RTCP labels 3–5) the session key, salt and, for the
/// counter-mode profiles, the authentication key and its HMAC pad states.
pub fn secrets(profile: Profile, key: &[u8], salt: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut list = vec![("master key", key.to_vec()), ("master salt", salt.to_vec())];
    let names = [
        (
            "RTP session key",
            "RTP auth key",
            "RTP session salt",
            "RTP HMAC ipad",
            "RTP HMAC opad",
        ),
        (
            "RTCP session key",
            "RTCP auth key",
            "RTCP session salt",
            "RTCP HMAC ipad",
            "RTCP HMAC opad",
        ),
    ];
    for (base, n) in [0u8, 3].into_iter().zip(names) {
        list.push((n.0, kdf(key, salt, base, profile.key_len())));
        list.push((n.2, kdf(key, salt, base + 2, profile.salt_len())));
        if !profile.is_aead() {
            let auth = kdf(key, salt, base + 1, 20);
            list.push((n.3, hmac_pad_state(&auth, 0x36)));
            list.push((n.4, hmac_pad_state(&auth, 0x5c)));
            list.push((n.1, auth));
        }
    }
    list
}

fn rtp_packet(buf: &mut [u8], ssrc: u32, seq: u16, cryptex: bool) -> usize {
    let payload = [0x5au8; 200];
    let csrcs = [0x1111_2222u32];
    RtpBuilder {
        payload_type: 111,
        sequence_number: seq,
        timestamp: u32::from(seq) * 960,
        ssrc,
        csrcs: if cryptex { &csrcs } else { &[] },
        extensions: &[(1, &[0x90])],
        payload: &payload,
        ..Default::default()
    }
    .write_into(buf)
    .unwrap()
}

fn rtcp_packet(buf: &mut [u8], ssrc: u32) -> usize {
    // A receiver report with no report blocks, then an SDES-like filler
    // (the SRTP layer needs only a valid first header and a sender SSRC).
    let rr = [0x80, 201, 0, 1];
    buf[..4].copy_from_slice(&rr);
    buf[4..8].copy_from_slice(&ssrc.to_be_bytes());
    8
}

/// new → protect/unprotect RTP and RTCP (including an authentication
/// failure and a replay) → drop, both contexts boxed.
///
/// `by_value`: the sender is made with `Srtp::new` and then boxed, as the C
/// layer does today (its stack copies are the caller's: heap test only).
pub fn session(profile: Profile, key: &[u8], salt: &[u8], cryptex: bool, by_value: bool) {
    let config = Config {
        cryptex,
        ..Config::default()
    };
    let mut tx = if by_value {
        Box::new(Srtp::new(profile, key, salt, config).unwrap())
    } else {
        Srtp::new_boxed(profile, key, salt, config).unwrap()
    };
    let mut rx = Srtp::new_boxed(profile, key, salt, config).unwrap();
    let mut buf = vec![0u8; 1500];
    for ssrc in [0x0101_0101u32, 0x0202_0202] {
        for seq in 65_530u16..=65_535 {
            let len = rtp_packet(&mut buf, ssrc, seq, cryptex);
            let n = tx.protect_rtp(&mut buf, len).unwrap();
            let mut packet = buf[..n].to_vec();
            packet[n - 1] ^= 1;
            assert!(rx.unprotect_rtp(&mut packet).is_err());
            packet[n - 1] ^= 1;
            assert_eq!(rx.unprotect_rtp(&mut packet).unwrap(), len);
            assert!(rx.unprotect_rtp(&mut buf[..n]).is_err(), "replay");
        }
        let len = rtcp_packet(&mut buf, ssrc);
        let n = tx.protect_rtcp(&mut buf, len).unwrap();
        let mut packet = buf[..n].to_vec();
        packet[9] ^= 1;
        assert!(rx.unprotect_rtcp(&mut packet).is_err());
        packet[9] ^= 1;
        assert_eq!(rx.unprotect_rtcp(&mut packet).unwrap(), len);
    }
    let len = rtp_packet(&mut buf, 7, 1, cryptex);
    let mut bytes = bytes::BytesMut::from(&buf[..len]);
    tx.protect_rtp_bytes(&mut bytes).unwrap();
    rx.unprotect_rtp_bytes(&mut bytes).unwrap();
    drop(tx);
    drop(rx);
}
