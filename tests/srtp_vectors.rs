//! Published SRTP/SRTCP test vectors, each checked three ways: protect gives
//! exactly the published bytes, unprotect of the published bytes gives back
//! the original, and flipping any single bit of the published packet makes
//! unprotect fail with the buffer left as it was.
//!
//! Sources (each repeated at its vector):
//! - RFC 3711 Appendix B.2 (AES-CM keystream) and B.3 (key derivation).
//! - RFC 6188 §7.2 (AES-256 key derivation).
//! - libsrtp `test/srtp_driver.c` (cisco/libsrtp): `srtp_validate()`,
//!   `srtp_validate_aes_256()`, `srtp_validate_gcm()`: whole packets made
//!   from a master key, so they exercise key derivation, encryption and
//!   authentication end to end.
//! - RFC 7714 §16.1.1, §16.2.1, §17.1, §17.2, §17.3 (AES-GCM). These give
//!   *session* keys, while rtmedia only takes master keys; see
//!   [`rfc7714_gcm_vectors`] for how they are tied to rtmedia anyway.
//! - RFC 9335 Appendix A (cryptex), from `juberti/cryptex`,
//!   `draft-ietf-avtcore-cryptex.md`, "Test Vectors".
//! - webrtc-srtp 0.17.2 `src/context/context_test.rs` (AES-256-CM SRTCP; no
//!   RFC or libsrtp vector covers AES-256 SRTCP).
//!
//! The `reference` module is an independent, deliberately naive SRTP written
//! from the RFCs on top of the same primitives (RustCrypto AES/HMAC, ring
//! GCM). It is first validated against the RFC's own numbers, then used as
//! an oracle where a published vector only exists below the key derivation.

use rtmedia::srtp::{Config, Error, Profile, Srtp, MAX_TRAILER_LEN};

/// Decodes hex, ignoring whitespace.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => panic!("not a hex digit: {}", b as char),
        })
        .collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits");
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

/// Lower-case hex, for readable assertion failures.
fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn config(cryptex: bool) -> Config {
    Config {
        cryptex,
        ..Config::default()
    }
}

fn context(profile: Profile, key: &[u8], salt: &[u8], cryptex: bool) -> Srtp {
    Srtp::new(profile, key, salt, config(cryptex)).expect("key and salt fit the profile")
}

/// Fills spare capacity with this, to see that protect writes nothing past
/// the length it returns.
const FILL: u8 = 0xee;

/// Protects `plain` as RTP with `tx` and returns the SRTP packet.
fn protect_rtp(tx: &mut Srtp, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + MAX_TRAILER_LEN + 8, FILL);
    let n = tx.protect_rtp(&mut buf, plain.len()).expect("protect_rtp");
    assert!(buf[n..].iter().all(|&b| b == FILL), "wrote past the packet");
    buf.truncate(n);
    buf
}

/// Protects `plain` as RTCP with `tx` and returns the SRTCP packet.
fn protect_rtcp(tx: &mut Srtp, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + MAX_TRAILER_LEN + 8, FILL);
    let n = tx
        .protect_rtcp(&mut buf, plain.len())
        .expect("protect_rtcp");
    assert!(buf[n..].iter().all(|&b| b == FILL), "wrote past the packet");
    buf.truncate(n);
    buf
}

/// Every single-bit flip of `packet` must fail and leave the buffer as it
/// was; flips at or after `auth_only_from` (payload, tag, trailer) must fail
/// precisely with `AuthFailed`. All flips go to the same receiver, which
/// must still accept the genuine packet afterwards: failures move no state.
fn check_bit_flips(
    rx: &mut Srtp,
    packet: &[u8],
    auth_only_from: usize,
    unprotect: fn(&mut Srtp, &mut [u8]) -> Result<usize, Error>,
) {
    for bit in 0..packet.len() * 8 {
        let mut flipped = packet.to_vec();
        flipped[bit / 8] ^= 0x80 >> (bit % 8);
        let before = flipped.clone();
        let result = unprotect(rx, &mut flipped);
        assert!(
            result.is_err(),
            "bit {bit} flipped, yet unprotect accepted {}",
            to_hex(&before)
        );
        if bit / 8 >= auth_only_from {
            assert_eq!(result, Err(Error::AuthFailed), "bit {bit}");
        }
        assert_eq!(flipped, before, "bit {bit}: buffer changed on failure");
    }
}

fn unprotect_rtp(rx: &mut Srtp, buf: &mut [u8]) -> Result<usize, Error> {
    rx.unprotect_rtp(buf)
}

fn unprotect_rtcp(rx: &mut Srtp, buf: &mut [u8]) -> Result<usize, Error> {
    rx.unprotect_rtcp(buf)
}

/// Length of the RTP header (fixed part, CSRCs, extension) of `packet`.
fn rtp_header_len(packet: &[u8]) -> usize {
    let mut len = 12 + 4 * usize::from(packet[0] & 0x0f);
    if packet[0] & 0x10 != 0 {
        len += 4 + 4 * usize::from(u16::from_be_bytes([packet[len + 2], packet[len + 3]]));
    }
    len
}

/// One RTP vector: `tx` protecting `plain` gives `protected`; a fresh
/// receiver rejects every bit flip of it, then unprotects it to
/// `unprotected`, then rejects it as a replay.
fn check_rtp_with(
    tx: &mut Srtp,
    rx: &mut Srtp,
    plain: &[u8],
    protected: &[u8],
    unprotected: &[u8],
) {
    let got = protect_rtp(tx, plain);
    assert_eq!(to_hex(&got), to_hex(protected), "protect_rtp");

    // A flip in the header may make it unparseable; past it, it can only
    // break the tag.
    check_bit_flips(rx, protected, rtp_header_len(protected), unprotect_rtp);

    let mut buf = protected.to_vec();
    let n = rx.unprotect_rtp(&mut buf).expect("unprotect_rtp");
    assert_eq!(to_hex(&buf[..n]), to_hex(unprotected), "unprotect_rtp");

    let mut again = protected.to_vec();
    assert_eq!(rx.unprotect_rtp(&mut again), Err(Error::Replayed));
    assert_eq!(again, protected, "buffer changed on replay");
}

fn check_rtp(
    profile: Profile,
    key: &[u8],
    salt: &[u8],
    cryptex: bool,
    plain: &[u8],
    protected: &[u8],
    unprotected: &[u8],
) {
    let mut tx = context(profile, key, salt, cryptex);
    let mut rx = context(profile, key, salt, cryptex);
    check_rtp_with(&mut tx, &mut rx, plain, protected, unprotected);
    assert_eq!(tx.stats().rtp_protected, 1);
    assert_eq!(rx.stats().rtp_unprotected, 1);
    assert_eq!(rx.stats().replayed, 1);
    assert!(rx.stats().auth_failures + rx.stats().malformed >= 8 * protected.len() as u64);
}

/// One SRTCP vector whose index is `index`. rtmedia numbers its first SRTCP
/// packet 0 (RFC 3711 §3.4: "The SRTCP index MUST be set to zero before the
/// first SRTCP packet is sent"), so `index` packets are protected first.
fn check_rtcp(
    profile: Profile,
    key: &[u8],
    salt: &[u8],
    index: u32,
    plain: &[u8],
    protected: &[u8],
) {
    let mut tx = context(profile, key, salt, false);
    for _ in 0..index {
        protect_rtcp(&mut tx, plain);
    }
    let got = protect_rtcp(&mut tx, plain);
    assert_eq!(to_hex(&got), to_hex(protected), "protect_rtcp");

    let mut rx = context(profile, key, salt, false);
    check_bit_flips(&mut rx, protected, 1, unprotect_rtcp);
    let mut buf = protected.to_vec();
    let n = rx.unprotect_rtcp(&mut buf).expect("unprotect_rtcp");
    assert_eq!(to_hex(&buf[..n]), to_hex(plain), "unprotect_rtcp");

    let mut again = protected.to_vec();
    assert_eq!(rx.unprotect_rtcp(&mut again), Err(Error::Replayed));
    assert_eq!(again, protected, "buffer changed on replay");
    assert_eq!(rx.stats().rtcp_unprotected, 1);
}

/// A naive SRTP written from the RFCs, used as an oracle.
mod reference {
    use aes::cipher::{KeyIvInit, StreamCipher};
    use hmac::{Hmac, Mac};
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
    use sha1::Sha1;

    /// AES in counter mode from counter block `iv` (RFC 3711 §4.1.1).
    pub fn aes_ctr(key: &[u8], iv: &[u8; 16], data: &mut [u8]) {
        match key.len() {
            16 => ctr::Ctr128BE::<aes::Aes128>::new(key.into(), iv.into()).apply_keystream(data),
            32 => ctr::Ctr128BE::<aes::Aes256>::new(key.into(), iv.into()).apply_keystream(data),
            n => panic!("AES key of {n} bytes"),
        }
    }

    /// RFC 3711 §4.3.1 and §4.3.3 (RFC 6188 §7 for AES-256) with a key
    /// derivation rate of 0: x = master_salt ^ (label << 48), AES-CM from
    /// x * 2^16. A 12-byte (GCM) master salt is multiplied by 2^16 first
    /// (RFC 7714 erratum 4938), i.e. padded with zeros on the right.
    pub fn kdf(master_key: &[u8], master_salt: &[u8], label: u8, len: usize) -> Vec<u8> {
        let mut iv = [0u8; 16];
        iv[..master_salt.len()].copy_from_slice(master_salt);
        iv[7] ^= label;
        let mut out = vec![0u8; len];
        aes_ctr(master_key, &iv, &mut out);
        out
    }

    /// RFC 3711 §4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16).
    pub fn cm_iv(salt: &[u8], ssrc: u32, index: u64) -> [u8; 16] {
        let salt = u128::from_be_bytes({
            let mut s = [0u8; 16];
            s[..14].copy_from_slice(salt);
            s
        });
        (salt ^ (u128::from(ssrc) << 64) ^ (u128::from(index) << 16)).to_be_bytes()
    }

    pub fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).unwrap();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// AES-GCM with a 16-byte tag; returns ciphertext || tag.
    pub fn gcm_seal(key: &[u8], nonce: [u8; 12], aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let alg = if key.len() == 16 {
            &AES_128_GCM
        } else {
            &AES_256_GCM
        };
        let key = LessSafeKey::new(UnboundKey::new(alg, key).unwrap());
        let mut data = plain.to_vec();
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut data,
            )
            .unwrap();
        data.extend_from_slice(tag.as_ref());
        data
    }

    /// Session keys of one direction's RTP or RTCP (RFC 3711 §4.3.2 labels).
    pub struct Session {
        pub enc: Vec<u8>,
        pub salt: Vec<u8>,
        pub auth: Vec<u8>,
    }

    impl Session {
        pub fn derive(master_key: &[u8], master_salt: &[u8], rtcp: bool) -> Self {
            let base = if rtcp { 3 } else { 0 };
            Self {
                enc: kdf(master_key, master_salt, base, master_key.len()),
                auth: kdf(master_key, master_salt, base + 1, 20),
                salt: kdf(master_key, master_salt, base + 2, master_salt.len()),
            }
        }
    }

    fn ssrc_of(packet: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(packet[at..at + 4].try_into().unwrap())
    }

    /// SRTP with AES-CM and HMAC-SHA1 (RFC 3711 §3.1, §4.1.1, §4.2.1).
    pub fn srtp_cm(
        s: &Session,
        tag_len: usize,
        packet: &[u8],
        header_len: usize,
        roc: u32,
    ) -> Vec<u8> {
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let index = u64::from(roc) << 16 | u64::from(seq);
        let mut out = packet.to_vec();
        aes_ctr(
            &s.enc,
            &cm_iv(&s.salt, ssrc_of(packet, 8), index),
            &mut out[header_len..],
        );
        let tag = hmac_sha1(&s.auth, &[&out, &roc.to_be_bytes()]);
        out.extend_from_slice(&tag[..tag_len]);
        out
    }

    /// SRTCP with AES-CM and HMAC-SHA1 (RFC 3711 §3.4), E bit set.
    pub fn srtcp_cm(s: &Session, tag_len: usize, packet: &[u8], index: u32) -> Vec<u8> {
        let mut out = packet.to_vec();
        aes_ctr(
            &s.enc,
            &cm_iv(&s.salt, ssrc_of(packet, 4), u64::from(index)),
            &mut out[8..],
        );
        out.extend_from_slice(&(0x8000_0000 | index).to_be_bytes());
        let tag = hmac_sha1(&s.auth, &[&out]);
        out.extend_from_slice(&tag[..tag_len]);
        out
    }

    /// SRTP with AES-GCM (RFC 7714 §8): nonce = (00 00 || SSRC || ROC || SEQ)
    /// XOR salt; the header is the additional data.
    pub fn srtp_gcm(s: &Session, packet: &[u8], header_len: usize, roc: u32) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        nonce[2..6].copy_from_slice(&packet[8..12]);
        nonce[6..10].copy_from_slice(&roc.to_be_bytes());
        nonce[10..12].copy_from_slice(&packet[2..4]);
        for (n, s) in nonce.iter_mut().zip(&s.salt) {
            *n ^= s;
        }
        let mut out = packet[..header_len].to_vec();
        out.extend(gcm_seal(
            &s.enc,
            nonce,
            &packet[..header_len],
            &packet[header_len..],
        ));
        out
    }

    /// SRTCP with AES-GCM (RFC 7714 §9, §17): nonce = (00 00 || SSRC || 00 00
    /// || index) XOR salt. Encrypted: AAD = first 8 bytes || E+index, the
    /// rest encrypted. Not encrypted (§17.3): AAD = whole packet || index.
    pub fn srtcp_gcm(s: &Session, packet: &[u8], index: u32, encrypt: bool) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        nonce[2..6].copy_from_slice(&packet[4..8]);
        nonce[8..12].copy_from_slice(&index.to_be_bytes());
        for (n, s) in nonce.iter_mut().zip(&s.salt) {
            *n ^= s;
        }
        let word = (if encrypt { 0x8000_0000 } else { 0 } | index).to_be_bytes();
        let mut out;
        if encrypt {
            let aad = [&packet[..8], &word[..]].concat();
            out = packet[..8].to_vec();
            out.extend(gcm_seal(&s.enc, nonce, &aad, &packet[8..]));
        } else {
            let aad = [packet, &word[..]].concat();
            out = packet.to_vec();
            out.extend(gcm_seal(&s.enc, nonce, &aad, &[]));
        }
        out.extend_from_slice(&word);
        out
    }
}

// ---------------------------------------------------------------------------
// libsrtp test/srtp_driver.c (cisco/libsrtp): the shared plaintexts.
// ---------------------------------------------------------------------------

/// `srtp_plaintext_ref`: SSRC 0xcafebabe, seq 0x1234, 16 bytes of 0xab.
const LIBSRTP_RTP: &str = "800f1234 decafbad cafebabe abababab abababab abababab abababab";
/// `rtcp_plaintext_ref`: an SR header with SSRC 0xcafebabe, 16 bytes of 0xab.
const LIBSRTP_RTCP: &str = "81c8000b cafebabe abababab abababab abababab abababab";

/// libsrtp `test_key`: the RFC 3711 B.3 master key and salt.
const B3_KEY: &str = "e1f97a0d3e018be0d64fa32c06de4139";
const B3_SALT: &str = "0ec675ad498afeebb6960b3aabe6";

/// libsrtp srtp_driver.c `srtp_validate()`, `srtp_ciphertext` (AES_CM_128_HMAC_SHA1_80).
const LIBSRTP_SRTP_AES128: &str = "800f1234 decafbad cafebabe 4e55dc4c e79978d8 8ca4d215 949d2402
     b78d6acc 99ea179b 8dbb";
/// libsrtp srtp_driver.c `srtp_validate()`, `srtcp_ciphertext` (index 1).
const LIBSRTP_SRTCP_AES128: &str = "81c8000b cafebabe 7128035b e487b9bd bef89041 f977a5a8
     80000001 993e08cd 54d6c123 0798";

/// libsrtp srtp_driver.c `srtp_validate_aes_256()` `aes_256_test_key`:
/// the RFC 6188 §7.2 master key and salt.
const AES256_KEY: &str = "f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6";
const AES256_SALT: &str = "3b04803de51ee7c96423ab5b78d2";
/// libsrtp srtp_driver.c `srtp_validate_aes_256()`, `srtp_ciphertext`.
const LIBSRTP_SRTP_AES256: &str = "800f1234 decafbad cafebabe f1d9de17 ff251ff1 aa007774 b0b4b40d
     a08d9d9a 5b3a55d8 873b";

/// libsrtp srtp_driver.c `srtp_validate_gcm()` `test_key_gcm`; also the
/// RFC 9335 Appendix A.2 master key and salt.
const GCM_KEY: &str = "000102030405060708090a0b0c0d0e0f";
const GCM_SALT: &str = "a0a1a2a3a4a5a6a7a8a9aaab";
/// libsrtp srtp_driver.c `srtp_validate_gcm()`, `srtp_ciphertext`.
const LIBSRTP_SRTP_GCM128: &str = "800f1234 decafbad cafebabe c5002ede 04cfdd2e b91159e0 880aa06e
     d2976826 f796b201 df3131a1 27e8a392";
/// libsrtp srtp_driver.c `srtp_validate_gcm()`, `srtcp_ciphertext` (index 1).
const LIBSRTP_SRTCP_GCM128: &str = "81c8000b cafebabe c98b8b5d f0392a55 852b6c21 ac8e7025
     c52c6fbe a2b3b446 ea31123b a88ce61e 80000001";

#[test]
fn libsrtp_aes128_cm_sha1_80() {
    let (key, salt) = (hex(B3_KEY), hex(B3_SALT));
    let (rtp, srtp) = (hex(LIBSRTP_RTP), hex(LIBSRTP_SRTP_AES128));
    check_rtp(
        Profile::Aes128CmHmacSha1_80,
        &key,
        &salt,
        false,
        &rtp,
        &srtp,
        &rtp,
    );
    let (rtcp, srtcp) = (hex(LIBSRTP_RTCP), hex(LIBSRTP_SRTCP_AES128));
    check_rtcp(Profile::Aes128CmHmacSha1_80, &key, &salt, 1, &rtcp, &srtcp);
}

/// The _32 profiles differ from the _80 ones only in truncating the SRTP
/// tag to 4 bytes (RFC 3711 §4.2, RFC 5764 §4.1.2); SRTCP keeps the 80-bit
/// tag. So the libsrtp _80 vectors give the _32 ones.
#[test]
fn libsrtp_aes128_cm_sha1_32_is_the_80_vector_truncated() {
    let (key, salt) = (hex(B3_KEY), hex(B3_SALT));
    let rtp = hex(LIBSRTP_RTP);
    let srtp = hex(LIBSRTP_SRTP_AES128);
    check_rtp(
        Profile::Aes128CmHmacSha1_32,
        &key,
        &salt,
        false,
        &rtp,
        &srtp[..28 + 4],
        &rtp,
    );
    let (rtcp, srtcp) = (hex(LIBSRTP_RTCP), hex(LIBSRTP_SRTCP_AES128));
    check_rtcp(Profile::Aes128CmHmacSha1_32, &key, &salt, 1, &rtcp, &srtcp);
}

#[test]
fn libsrtp_aes256_cm_sha1_80_and_32() {
    let (key, salt) = (hex(AES256_KEY), hex(AES256_SALT));
    let (rtp, srtp) = (hex(LIBSRTP_RTP), hex(LIBSRTP_SRTP_AES256));
    check_rtp(
        Profile::Aes256CmHmacSha1_80,
        &key,
        &salt,
        false,
        &rtp,
        &srtp,
        &rtp,
    );
    check_rtp(
        Profile::Aes256CmHmacSha1_32,
        &key,
        &salt,
        false,
        &rtp,
        &srtp[..28 + 4],
        &rtp,
    );
}

#[test]
fn libsrtp_aead_aes128_gcm() {
    let (key, salt) = (hex(GCM_KEY), hex(GCM_SALT));
    let (rtp, srtp) = (hex(LIBSRTP_RTP), hex(LIBSRTP_SRTP_GCM128));
    check_rtp(
        Profile::AeadAes128Gcm,
        &key,
        &salt,
        false,
        &rtp,
        &srtp,
        &rtp,
    );
    let (rtcp, srtcp) = (hex(LIBSRTP_RTCP), hex(LIBSRTP_SRTCP_GCM128));
    check_rtcp(Profile::AeadAes128Gcm, &key, &salt, 1, &rtcp, &srtcp);
}

/// webrtc-srtp 0.17.2 `src/context/context_test.rs`:
/// `ENCRYPTED_AES_256_CM_RTP_PACKET` and `ENCRYPTED_AES_256_CM_RTCP_PACKET`
/// (index 1), master key `MASTER_KEY_32_BYTES`, salt `MASTER_SALT_14_BYTES`.
/// Not a standard's vector, but the only published AES-256 SRTCP one.
#[test]
fn webrtc_rs_aes256_cm_sha1_80() {
    let key = hex("000102030405060708090a0b0c0d0e0f 000102030405060708090a0b0c0d0e0f");
    let salt = hex("a0a1a2a3a4a5a6a7a8a9aaabacad");
    let rtp = hex(LIBSRTP_RTP);
    let srtp = hex(
        "800f1234 decafbad cafebabe ac3bca88 14375783 35c6d457 f1c36ba7 3d714863 909bbf15 acec",
    );
    check_rtp(
        Profile::Aes256CmHmacSha1_80,
        &key,
        &salt,
        false,
        &rtp,
        &srtp,
        &rtp,
    );
    let rtcp = hex(LIBSRTP_RTCP);
    let srtcp = hex(
        "81c8000b cafebabe 970431dc 4ae6d2af d654bf90 f435449e 80000001 bf18182d d1188128 78b1",
    );
    check_rtcp(Profile::Aes256CmHmacSha1_80, &key, &salt, 1, &rtcp, &srtcp);
    check_rtcp(Profile::Aes256CmHmacSha1_32, &key, &salt, 1, &rtcp, &srtcp);
}

// ---------------------------------------------------------------------------
// RFC 3711 Appendix B, RFC 6188 §7.2: the oracle and rtmedia's key derivation.
// ---------------------------------------------------------------------------

/// RFC 3711 B.2: validates the oracle's counter block and AES-CM (the
/// keystream itself is internal to rtmedia).
#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let key = hex("2B7E151628AED2A6ABF7158809CF4F3C");
    let iv = reference::cm_iv(&hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"), 0, 0);
    assert_eq!(to_hex(&iv), "f0f1f2f3f4f5f6f7f8f9fafbfcfd0000");
    let mut stream = vec![0u8; 65_282 * 16];
    reference::aes_ctr(&key, &iv, &mut stream);
    assert_eq!(
        to_hex(&stream[..48]),
        to_hex(&hex(
            "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB
             41E95B3BB0A2E8DD477901E4FCA894C0"
        ))
    );
    assert_eq!(
        to_hex(&stream[0xfeff * 16..]),
        to_hex(&hex(
            "EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE
             6A2CC3787889374FBEB4C81B17BA6C44"
        ))
    );
}

/// RFC 3711 B.3: the session keys derived from the B.3 master key. The
/// oracle's derivation is checked against the RFC's numbers (all 94 bytes of
/// the auth key stream, so more than one PRF block); then the RFC's session
/// keys, fed to the oracle, must give exactly rtmedia's SRTP packet from the
/// master key, and libsrtp's. So rtmedia derives the B.3 cipher key, cipher
/// salt and auth key.
#[test]
fn rfc3711_b3_key_derivation() {
    let (key, salt) = (hex(B3_KEY), hex(B3_SALT));
    let cipher_key = hex("C61E7A93744F39EE10734AFE3FF7A087");
    let cipher_salt = hex("30CBBC08863D8C85D49DB34A9AE1");
    let auth_stream = hex(
        "CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE
         E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25
         6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2",
    );
    assert_eq!(reference::kdf(&key, &salt, 0, 16), cipher_key);
    assert_eq!(reference::kdf(&key, &salt, 2, 14), cipher_salt);
    assert_eq!(reference::kdf(&key, &salt, 1, 94), auth_stream);

    let rfc = reference::Session {
        enc: cipher_key,
        salt: cipher_salt,
        auth: auth_stream[..20].to_vec(),
    };
    let rtp = hex(LIBSRTP_RTP);
    let expected = reference::srtp_cm(&rfc, 10, &rtp, 12, 0);
    assert_eq!(to_hex(&expected), to_hex(&hex(LIBSRTP_SRTP_AES128)));
    let mut tx = context(Profile::Aes128CmHmacSha1_80, &key, &salt, false);
    assert_eq!(to_hex(&protect_rtp(&mut tx, &rtp)), to_hex(&expected));

    // Another packet (other SSRC, sequence number and length) under the same
    // keys: the derived keys, not one packet, are what match.
    let other = hex("80e1ffff 00000001 01020304 000102030405060708090a0b0c0d0e0f10111213141516");
    assert_eq!(
        to_hex(&protect_rtp(&mut tx, &other)),
        to_hex(&reference::srtp_cm(&rfc, 10, &other, 12, 0))
    );
}

/// RFC 6188 §7.2: AES_256_CM_PRF. The same argument as B.3, with libsrtp's
/// AES-256 packet (made from the RFC 6188 master key).
#[test]
fn rfc6188_aes256_key_derivation() {
    let (key, salt) = (hex(AES256_KEY), hex(AES256_SALT));
    let rfc = reference::Session {
        enc: hex("5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4"),
        salt: hex("fa31791685ca444a9e07c6c64e93"),
        auth: hex("fd9c32d39ed5fbb5a9dc96b30818454d1313dc05"),
    };
    assert_eq!(reference::kdf(&key, &salt, 0, 32), rfc.enc);
    assert_eq!(reference::kdf(&key, &salt, 2, 14), rfc.salt);
    assert_eq!(reference::kdf(&key, &salt, 1, 20), rfc.auth);

    let rtp = hex(LIBSRTP_RTP);
    let expected = reference::srtp_cm(&rfc, 10, &rtp, 12, 0);
    assert_eq!(to_hex(&expected), to_hex(&hex(LIBSRTP_SRTP_AES256)));
    let mut tx = context(Profile::Aes256CmHmacSha1_80, &key, &salt, false);
    assert_eq!(to_hex(&protect_rtp(&mut tx, &rtp)), to_hex(&expected));
}

/// SRTCP uses labels 3, 4, 5 (RFC 3711 §4.3.2); no RFC lists those keys, so
/// the oracle's derivation must reproduce libsrtp's SRTCP packet.
#[test]
fn srtcp_key_derivation_matches_libsrtp() {
    let (key, salt) = (hex(B3_KEY), hex(B3_SALT));
    let s = reference::Session::derive(&key, &salt, true);
    let got = reference::srtcp_cm(&s, 10, &hex(LIBSRTP_RTCP), 1);
    assert_eq!(to_hex(&got), to_hex(&hex(LIBSRTP_SRTCP_AES128)));

    let (key, salt) = (hex(GCM_KEY), hex(GCM_SALT));
    let s = reference::Session::derive(&key, &salt, true);
    let got = reference::srtcp_gcm(&s, &hex(LIBSRTP_RTCP), 1, true);
    assert_eq!(to_hex(&got), to_hex(&hex(LIBSRTP_SRTCP_GCM128)));
}

// ---------------------------------------------------------------------------
// RFC 7714 §16 and §17: AES-GCM.
// ---------------------------------------------------------------------------

/// RFC 7714 §16: "Gallia est omnis divisa in partes tres", SSRC 0x5501a0b2,
/// seq 0xf17b, ROC 0.
const RFC7714_RTP: &str = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973
     20646976 69736120 696e2070 61727465 73207472 6573";
/// RFC 7714 §16.1.1, AEAD_AES_128_GCM "Encrypted and tagged packet".
const RFC7714_SRTP_128: &str = "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca
     be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce";
/// RFC 7714 §16.2.1, AEAD_AES_256_GCM "Encrypted and tagged packet".
const RFC7714_SRTP_256: &str = "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa
     b1801238 9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7 6c13";
/// RFC 7714 §17.1 to §17.4: SR from SSRC "Mars", SRTCP index 0x5d4. (The
/// preamble of §17 prints a slightly different packet; every subsection
/// encrypts and decrypts this one.)
const RFC7714_RTCP: &str = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
     4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef";
/// RFC 7714 §17.1, AEAD_AES_128_GCM SRTCP.
const RFC7714_SRTCP_128: &str = "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7
     6c06f32d c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872
     45d9eade 800005d4";
/// RFC 7714 §17.2, AEAD_AES_256_GCM SRTCP.
const RFC7714_SRTCP_256: &str = "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d
     bffe0a50 a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c 4446839f 57ff6f6c
     b26ac3be 800005d4";
/// RFC 7714 §17.3, AEAD_AES_128_GCM SRTCP tagged but not encrypted (E = 0).
const RFC7714_SRTCP_128_CLEAR: &str = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a
     0000e930 4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef 841dd968 3dd78ec9
     2ae58790 125f62b3 000005d4";
const RFC7714_KEY_128: &str = "000102030405060708090a0b0c0d0e0f";
const RFC7714_KEY_256: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const RFC7714_SALT: &str = "517569642070726f2071756f";
const RFC7714_INDEX: u32 = 0x5d4;

/// RFC 7714's vectors give the GCM *session* key and salt; rtmedia derives
/// session keys from a master key and has no way in below that. So:
/// 1. the oracle, given the RFC's session keys, must produce the RFC's
///    packets byte for byte (this checks the oracle's nonce and AAD layout,
///    and the transcription of the vectors);
/// 2. rtmedia, given the RFC's key and salt as its *master* key and salt,
///    must produce exactly what the oracle produces from the session keys
///    derived from them (the oracle's derivation being pinned by
///    [`rfc3711_b3_key_derivation`], [`rfc6188_aes256_key_derivation`] and,
///    for 12-byte salts, [`rfc9335_session_keys`]);
/// 3. rtmedia unprotects those packets, the §17.3 unencrypted SRTCP form
///    included, and rejects every bit flip.
#[test]
fn rfc7714_gcm_vectors() {
    let salt = hex(RFC7714_SALT);
    let rtp = hex(RFC7714_RTP);
    let rtcp = hex(RFC7714_RTCP);
    for (profile, key, srtp, srtcp) in [
        (
            Profile::AeadAes128Gcm,
            RFC7714_KEY_128,
            RFC7714_SRTP_128,
            RFC7714_SRTCP_128,
        ),
        (
            Profile::AeadAes256Gcm,
            RFC7714_KEY_256,
            RFC7714_SRTP_256,
            RFC7714_SRTCP_256,
        ),
    ] {
        let key = hex(key);
        // 1. The oracle reproduces the RFC.
        let session = reference::Session {
            enc: key.clone(),
            salt: salt.clone(),
            auth: Vec::new(),
        };
        assert_eq!(
            to_hex(&reference::srtp_gcm(&session, &rtp, 12, 0)),
            to_hex(&hex(srtp))
        );
        assert_eq!(
            to_hex(&reference::srtcp_gcm(&session, &rtcp, RFC7714_INDEX, true)),
            to_hex(&hex(srtcp))
        );
        if profile == Profile::AeadAes128Gcm {
            assert_eq!(
                to_hex(&reference::srtcp_gcm(&session, &rtcp, RFC7714_INDEX, false)),
                to_hex(&hex(RFC7714_SRTCP_128_CLEAR))
            );
        }

        // 2. and 3. rtmedia from the same bytes as master key and salt.
        let rtp_keys = reference::Session::derive(&key, &salt, false);
        let srtp = reference::srtp_gcm(&rtp_keys, &rtp, 12, 0);
        check_rtp(profile, &key, &salt, false, &rtp, &srtp, &rtp);

        let rtcp_keys = reference::Session::derive(&key, &salt, true);
        let srtcp = reference::srtcp_gcm(&rtcp_keys, &rtcp, RFC7714_INDEX, true);
        check_rtcp(profile, &key, &salt, RFC7714_INDEX, &rtcp, &srtcp);

        let clear = reference::srtcp_gcm(&rtcp_keys, &rtcp, RFC7714_INDEX, false);
        let mut rx = context(profile, &key, &salt, false);
        check_bit_flips(&mut rx, &clear, 1, unprotect_rtcp);
        let mut buf = clear.clone();
        let n = rx.unprotect_rtcp(&mut buf).expect("unencrypted SRTCP");
        assert_eq!(to_hex(&buf[..n]), to_hex(&rtcp));
        // The index of an unencrypted SRTCP packet counts for replay too.
        let mut again = clear.clone();
        assert_eq!(rx.unprotect_rtcp(&mut again), Err(Error::Replayed));
    }
}

/// RFC 3711 §3.4 and RFC 7714 §17.3: an SRTCP packet with the E bit clear
/// carries its RTCP in the clear, authenticated only, for the
/// counter-mode profiles too.
#[test]
fn unencrypted_srtcp_is_accepted_for_counter_mode() {
    let (key, salt) = (hex(B3_KEY), hex(B3_SALT));
    let rtcp = hex(LIBSRTP_RTCP);
    let s = reference::Session::derive(&key, &salt, true);
    let mut packet = rtcp.clone();
    packet.extend_from_slice(&7u32.to_be_bytes());
    let tag = reference::hmac_sha1(&s.auth, &[&packet]);
    packet.extend_from_slice(&tag[..10]);
    for profile in [Profile::Aes128CmHmacSha1_80, Profile::Aes128CmHmacSha1_32] {
        let mut rx = context(profile, &key, &salt, false);
        check_bit_flips(&mut rx, &packet, 1, unprotect_rtcp);
        let mut buf = packet.clone();
        let n = rx.unprotect_rtcp(&mut buf).expect("unencrypted SRTCP");
        assert_eq!(buf[..n], rtcp[..]);
    }
}

// ---------------------------------------------------------------------------
// RFC 9335 Appendix A: cryptex.
// ---------------------------------------------------------------------------

/// RFC 9335 Appendix A (juberti/cryptex, draft-ietf-avtcore-cryptex.md,
/// "Test Vectors"): (name, RTP packet, encrypted RTP packet). Each with a
/// fresh context (ROC 0).
const CRYPTEX_CTR: [(&str, &str, &str); 6] = [
    (
        "1-byte header extension",
        "900f1235 decafbad cafebabe bede0001 51000200 abababab abababab abababab abababab",
        "900f1235 decafbad cafebabe c0de0001 eb923652 51c3e036 f8de27e9 c27ee3e0 b4651d9f
         bc4218a7 0244522f 34a5",
    ),
    (
        "2-byte header extension",
        "900f1236 decafbad cafebabe 10000001 05020002 abababab abababab abababab abababab",
        "900f1236 decafbad cafebabe c2de0001 4ed9cc4e 6a712b30 96c5ca77 339d4204 ce0d7739
         6cab6958 5fbce381 94a5",
    ),
    (
        "1-byte header extension and CSRC fields",
        "920f1238 decafbad cafebabe 0001e240 0000b26e bede0001 51000200 abababab abababab
         abababab abababab",
        "920f1238 decafbad cafebabe 8bb6e12b 5cff16dd c0de0001 92838c8c 09e58393 e1de3a9a
         74734d67 45671338 c3acf11d a2df8423 bee0",
    ),
    (
        "2-byte header extension and CSRC fields",
        "920f1239 decafbad cafebabe 0001e240 0000b26e 10000001 05020002 abababab abababab
         abababab abababab",
        "920f1239 decafbad cafebabe f70e513e b90b9b25 c2de0001 bbed4848 faa64466 5f3d7f34
         125914e9 f4d0ae92 3c6f479b 95a0f7b5 3133",
    ),
    (
        "empty 1-byte header extension and CSRC fields",
        "920f123a decafbad cafebabe 0001e240 0000b26e bede0000 abababab abababab abababab
         abababab",
        "920f123a decafbad cafebabe 7130b6ab fe2ab0e3 c0de0000 e3d9f64b 25c9e74c b4cf8e43
         fb92e378 1c2c0cea b6b3a499 a14c",
    ),
    (
        "empty 2-byte header extension and CSRC fields",
        "920f123b decafbad cafebabe 0001e240 0000b26e 10000000 abababab abababab abababab
         abababab",
        "920f123b decafbad cafebabe cbf24c12 4330e1c8 c2de0000 599dd45b c9d687b6 03e8b59d
         771fd38e 88b170e0 cd31e125 eabe",
    ),
];

/// RFC 9335 Appendix A, AES-GCM (AEAD_AES_128_GCM), same plaintexts.
const CRYPTEX_GCM: [(&str, &str, &str); 6] = [
    (
        "1-byte header extension",
        "900f1235 decafbad cafebabe bede0001 51000200 abababab abababab abababab abababab",
        "900f1235 decafbad cafebabe c0de0001 39972dc9 572c4d99 e8fc355d e743fb2e 94f9d8ff
         54e72f41 93bbc5c7 4ffab0fa 9fa0fbeb",
    ),
    (
        "2-byte header extension",
        "900f1236 decafbad cafebabe 10000001 05020002 abababab abababab abababab abababab",
        "900f1236 decafbad cafebabe c2de0001 bb75a4c5 45cd1f41 3bdb7daa 2b1e3263 de313667
         c9632490 81b35a65 f5cb6c88 b394235f",
    ),
    (
        "1-byte header extension and CSRC fields",
        "920f1238 decafbad cafebabe 0001e240 0000b26e bede0001 51000200 abababab abababab
         abababab abababab",
        "920f1238 decafbad cafebabe 63bbccc4 a7f695c4 c0de0001 8ad7c71f ac70a80c 92866b4c
         6ba98546 ef913586 e95ffaaf fe956885 bb0647a8 bc094ac8",
    ),
    (
        "2-byte header extension and CSRC fields",
        "920f1239 decafbad cafebabe 0001e240 0000b26e 10000001 05020002 abababab abababab
         abababab abababab",
        "920f1239 decafbad cafebabe 3680524f 8d312b00 c2de0001 c78d1200 38422bc1 11a7187a
         18246f98 0c059cc6 bc9df8b6 26394eca 344e4b05 d80fea83",
    ),
    (
        "empty 1-byte header extension and CSRC fields",
        "920f123a decafbad cafebabe 0001e240 0000b26e bede0000 abababab abababab abababab
         abababab",
        "920f123a decafbad cafebabe 15b6bb43 37906fff c0de0000 b7b96453 7a2b03ab 7ba5389c
         e9331712 6b5d974d f30c6884 dcb651c5 e120c1da",
    ),
    (
        "empty 2-byte header extension and CSRC fields",
        "920f123b decafbad cafebabe 0001e240 0000b26e 10000000 abababab abababab abababab
         abababab",
        "920f123b decafbad cafebabe dcb38c9e 48bf95f4 c2de0000 61ee432c f9203170 76613258
         d3ce4236 c06ac429 681ad084 13512dc9 8b5207d8",
    ),
];

fn check_cryptex(profile: Profile, key: &[u8], salt: &[u8], vectors: &[(&str, &str, &str)]) {
    for (name, plain, protected) in vectors {
        let (plain, protected) = (hex(plain), hex(protected));
        println!("cryptex {profile:?}: {name}");
        // The receiver gets back the packet as sent, 0xBEDE/0x1000 restored.
        check_rtp(profile, key, salt, true, &plain, &protected, &plain);

        // A receiver without cryptex refuses it, buffer unchanged.
        let mut rx = context(profile, key, salt, false);
        let mut buf = protected.clone();
        assert_eq!(
            rx.unprotect_rtp(&mut buf),
            Err(Error::CryptexNotEnabled),
            "{name}"
        );
        assert_eq!(buf, protected);
    }
}

#[test]
fn rfc9335_cryptex_aes_ctr() {
    check_cryptex(
        Profile::Aes128CmHmacSha1_80,
        &hex(B3_KEY),
        &hex(B3_SALT),
        &CRYPTEX_CTR,
    );
}

#[test]
fn rfc9335_cryptex_aes_gcm() {
    check_cryptex(
        Profile::AeadAes128Gcm,
        &hex(GCM_KEY),
        &hex(GCM_SALT),
        &CRYPTEX_GCM,
    );
}

/// RFC 9335 Appendix A lists the session keys it derives: the CTR ones are
/// RFC 3711 B.3's; the GCM ones pin the derivation from a 12-byte master
/// salt (RFC 7714 erratum 4938: the salt is multiplied by 2^16), which the
/// oracle must follow, and which libsrtp's GCM packet confirms.
#[test]
fn rfc9335_session_keys() {
    let (key, salt) = (hex(B3_KEY), hex(B3_SALT));
    assert_eq!(
        to_hex(&reference::kdf(&key, &salt, 0, 16)),
        "c61e7a93744f39ee10734afe3ff7a087"
    );
    assert_eq!(
        to_hex(&reference::kdf(&key, &salt, 2, 14)),
        "30cbbc08863d8c85d49db34a9ae1"
    );
    assert_eq!(
        to_hex(&reference::kdf(&key, &salt, 1, 20)),
        "cebe321f6ff7716b6fd4ab49af256a156d38baa4"
    );

    let (key, salt) = (hex(GCM_KEY), hex(GCM_SALT));
    let published = reference::Session {
        enc: hex("077c6143cb221bc355ff23d5f984a16e"),
        salt: hex("9af3e95364ebac9c99c5a7c4"),
        auth: Vec::new(),
    };
    assert_eq!(reference::kdf(&key, &salt, 0, 16), published.enc);
    assert_eq!(reference::kdf(&key, &salt, 2, 12), published.salt);
    let rtp = hex(LIBSRTP_RTP);
    assert_eq!(
        to_hex(&reference::srtp_gcm(&published, &rtp, 12, 0)),
        to_hex(&hex(LIBSRTP_SRTP_GCM128))
    );
}

/// RFC 9335 §5.1: "If the packet contains CSRCs but no header extensions,
/// an empty extension block consisting of the 0xC0DE tag and a 16-bit
/// length field set to zero MUST be appended, and the X bit MUST be set".
/// So the "empty 1-byte header extension and CSRC fields" plaintext without
/// its empty block must protect to that vector's exact bytes, and the
/// receiver sees the empty block (§5.2: "it can be left as-is").
#[test]
fn rfc9335_csrcs_without_extension_get_an_empty_block() {
    let cases = [
        (
            Profile::Aes128CmHmacSha1_80,
            B3_KEY,
            B3_SALT,
            CRYPTEX_CTR[4],
        ),
        (Profile::AeadAes128Gcm, GCM_KEY, GCM_SALT, CRYPTEX_GCM[4]),
    ];
    for (profile, key, salt, (_, with_block, protected)) in cases {
        let (key, salt) = (hex(key), hex(salt));
        let with_block = hex(with_block);
        let protected = hex(protected);
        // 820f123a ...: X = 0, the same CSRCs and payload, no block.
        let mut plain = with_block.clone();
        plain.drain(20..24);
        plain[0] &= !0x10;
        check_rtp(profile, &key, &salt, true, &plain, &protected, &with_block);

        // The block needs 4 bytes of capacity more than the tag.
        let needed = plain.len() + profile.rtp_tag_len() + 4;
        let mut tx = context(profile, &key, &salt, true);
        let mut buf = plain.clone();
        buf.resize(needed - 1, FILL);
        let before = buf.clone();
        assert_eq!(
            tx.protect_rtp(&mut buf, plain.len()),
            Err(Error::BufferTooSmall { needed })
        );
        assert_eq!(buf, before, "buffer changed");
        // Nothing moved: the next attempt with room gives the vector.
        assert_eq!(to_hex(&protect_rtp(&mut tx, &plain)), to_hex(&protected));
    }
}

/// Cryptex only applies to packets with CSRCs or an RFC 8285 extension; a
/// bare packet under a cryptex context is plain SRTP (libsrtp's vector).
#[test]
fn cryptex_context_leaves_bare_packets_alone() {
    let rtp = hex(LIBSRTP_RTP);
    check_rtp(
        Profile::Aes128CmHmacSha1_80,
        &hex(B3_KEY),
        &hex(B3_SALT),
        true,
        &rtp,
        &hex(LIBSRTP_SRTP_AES128),
        &rtp,
    );
    check_rtp(
        Profile::AeadAes128Gcm,
        &hex(GCM_KEY),
        &hex(GCM_SALT),
        true,
        &rtp,
        &hex(LIBSRTP_SRTP_GCM128),
        &rtp,
    );
}

// ---------------------------------------------------------------------------
// Conventions the vectors pin down.
// ---------------------------------------------------------------------------

/// RFC 3711 §3.4: the first SRTCP packet carries index 0 (libsrtp and
/// webrtc-srtp start at 1, which is why their vectors carry 1; receivers
/// read the index from the packet, so both interoperate).
#[test]
fn first_srtcp_index_is_zero() {
    for profile in Profile::ALL {
        let key = vec![1u8; profile.key_len()];
        let salt = vec![2u8; profile.salt_len()];
        let mut tx = context(profile, &key, &salt, false);
        let rtcp = hex(LIBSRTP_RTCP);
        for index in 0u32..3 {
            let srtcp = protect_rtcp(&mut tx, &rtcp);
            let at = if profile.is_aead() {
                srtcp.len() - 4
            } else {
                rtcp.len()
            };
            assert_eq!(
                srtcp[at..at + 4],
                (0x8000_0000 | index).to_be_bytes(),
                "{profile:?}"
            );
            assert_eq!(srtcp.len(), rtcp.len() + profile.rtcp_trailer_len());
        }
    }
}

/// The `BytesMut` variants give the same bytes as the slice API.
#[test]
fn bytes_mut_variants_give_the_vector() {
    use bytes::BytesMut;
    let (key, salt) = (hex(B3_KEY), hex(B3_SALT));
    let mut tx = context(Profile::Aes128CmHmacSha1_80, &key, &salt, false);
    let mut rx = context(Profile::Aes128CmHmacSha1_80, &key, &salt, false);

    let mut packet = BytesMut::from(&hex(LIBSRTP_RTP)[..]);
    tx.protect_rtp_bytes(&mut packet).unwrap();
    assert_eq!(to_hex(&packet), to_hex(&hex(LIBSRTP_SRTP_AES128)));
    rx.unprotect_rtp_bytes(&mut packet).unwrap();
    assert_eq!(packet[..], hex(LIBSRTP_RTP)[..]);

    let mut packet = BytesMut::from(&hex(LIBSRTP_RTCP)[..]);
    tx.protect_rtcp_bytes(&mut packet).unwrap(); // index 0
    let mut packet = BytesMut::from(&hex(LIBSRTP_RTCP)[..]);
    tx.protect_rtcp_bytes(&mut packet).unwrap(); // index 1
    assert_eq!(to_hex(&packet), to_hex(&hex(LIBSRTP_SRTCP_AES128)));
    rx.unprotect_rtcp_bytes(&mut packet).unwrap();
    assert_eq!(packet[..], hex(LIBSRTP_RTCP)[..]);

    // A failure leaves the BytesMut as it was.
    let mut rx = context(Profile::Aes128CmHmacSha1_80, &key, &salt, false);
    let mut packet = BytesMut::from(&hex(LIBSRTP_SRTP_AES128)[..]);
    packet[20] ^= 1;
    let before = packet.clone();
    assert_eq!(rx.unprotect_rtp_bytes(&mut packet), Err(Error::AuthFailed));
    assert_eq!(packet, before);
}

/// Keys of the wrong length are refused for every profile.
#[test]
fn wrong_key_or_salt_length_is_refused() {
    for profile in Profile::ALL {
        let (k, s) = (profile.key_len(), profile.salt_len());
        for (key, salt) in [(k - 1, s), (k + 1, s), (k, s - 1), (k, s + 1), (0, 0)] {
            assert!(matches!(
                Srtp::new(profile, &vec![0; key], &vec![0; salt], Config::default()),
                Err(Error::BadKeyLength)
            ));
        }
        assert!(Srtp::new(profile, &vec![0; k], &vec![0; s], Config::default()).is_ok());
    }
}
