//! Smoke: round trip every profile, tamper, replay.
use rtmedia::packet::RtpBuilder;
use rtmedia::srtp::{Config, Error, Profile, Srtp};

#[test]
fn round_trip_every_profile() {
    for p in Profile::ALL {
        for cryptex in [false, true] {
            let key = vec![7u8; p.key_len()];
            let salt = vec![9u8; p.salt_len()];
            let cfg = Config {
                cryptex,
                ..Config::default()
            };
            let mut tx = Srtp::new(p, &key, &salt, cfg).unwrap();
            let mut rx = Srtp::new(p, &key, &salt, cfg).unwrap();
            for seq in 65_530u16..=65_535 {
                let mut buf = [0u8; 256];
                let n = RtpBuilder {
                    sequence_number: seq,
                    ssrc: 5,
                    csrcs: &[1, 2],
                    extensions: &[(1, &[3])],
                    payload: b"hello world",
                    ..Default::default()
                }
                .write_into(&mut buf)
                .unwrap();
                let orig = buf[..n].to_vec();
                let m = tx.protect_rtp(&mut buf, n).unwrap();
                assert_ne!(&buf[..n], &orig[..]);
                let mut bad = buf[..m].to_vec();
                bad[m - 1] ^= 1;
                assert_eq!(rx.unprotect_rtp(&mut bad), Err(Error::AuthFailed), "{p:?}");
                let mut copy = buf[..m].to_vec();
                let k = rx.unprotect_rtp(&mut buf[..m]).unwrap();
                assert_eq!(&buf[..k], &orig[..], "{p:?} cryptex {cryptex}");
                assert_eq!(rx.unprotect_rtp(&mut copy), Err(Error::Replayed));
                // RTCP
                let mut rb = [0u8; 128];
                rb[..8].copy_from_slice(&[0x81, 0xc9, 0, 1, 0, 0, 0, 5]);
                let m = tx.protect_rtcp(&mut rb, 8).unwrap();
                let k = rx.unprotect_rtcp(&mut rb[..m]).unwrap();
                assert_eq!(&rb[..k], &[0x81, 0xc9, 0, 1, 0, 0, 0, 5]);
            }
        }
    }
}

#[test]
fn interop_webrtc_srtp_aes128cm() {
    use webrtc_srtp::context::Context;
    use webrtc_srtp::protection_profile::ProtectionProfile;
    let key = [1u8; 16];
    let salt = [2u8; 14];
    let mut tx = Srtp::new(Profile::Aes128CmHmacSha1_80, &key, &salt, Config::default()).unwrap();
    let mut theirs = Context::new(
        &key,
        &salt,
        ProtectionProfile::Aes128CmHmacSha1_80,
        None,
        None,
    )
    .unwrap();
    for (i, p) in [Profile::Aes128CmHmacSha1_80].into_iter().enumerate() {
        let _ = (i, p);
        let mut buf = [0u8; 256];
        let n = RtpBuilder {
            sequence_number: 1,
            ssrc: 5,
            payload: b"hello world",
            ..Default::default()
        }
        .write_into(&mut buf)
        .unwrap();
        let orig = buf[..n].to_vec();
        let m = tx.protect_rtp(&mut buf, n).unwrap();
        let dec = theirs.decrypt_rtp(&buf[..m]).unwrap();
        assert_eq!(&dec[..], &orig[..]);
    }
}
