//! Tests of the synthetic publishers against libopus and libvpx.
use super::*;
use crate::codec::vp8::Descriptor;
use crate::jitter::{restore_rtx, RtxConfig};
use crate::packet::RtpPacket;

#[test]
fn opus_packets_are_rtp_and_decode() {
    let mut publisher = OpusPublisher::new(OpusConfig::default()).unwrap();
    let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
    let mut pcm = vec![0i16; OPUS_FRAME_SAMPLES];
    let mut levels = Vec::new();
    let mut previous: Option<Bytes> = None;
    for i in 0..200u32 {
        let (at, packet) = publisher.next_packet();
        assert_eq!(at, u64::from(i) * 20_000);
        let p = RtpPacket::parse(&packet[..]).unwrap();
        assert_eq!(p.payload_type(), 111);
        assert_eq!(p.ssrc(), publisher.ssrc());
        assert_eq!(
            p.sequence_number(),
            publisher.first_sequence_number().wrapping_add(i as u16)
        );
        assert_eq!(
            p.timestamp(),
            publisher.first_timestamp().wrapping_add(i * 960)
        );
        assert_eq!(p.marker(), i == 0);
        levels.push(p.extension(1).unwrap()[0]);
        let n = decoder.decode(p.payload(), &mut pcm, false).unwrap();
        assert_eq!(n, OPUS_FRAME_SAMPLES);
        // In-band FEC: the packet carries the previous frame again.
        if previous.is_some() {
            let n = decoder.decode(p.payload(), &mut pcm, true).unwrap();
            assert_eq!(n, OPUS_FRAME_SAMPLES);
        }
        previous = Some(packet);
    }
    // Speech: loud syllables and quiet pauses, both flagged.
    assert!(levels.iter().any(|l| l & 0x80 != 0 && l & 0x7f < 30));
    assert!(levels.iter().any(|l| l & 0x80 == 0 && l & 0x7f > 50));
}

#[test]
fn same_seed_same_stream_and_looping_repeats_payloads() {
    let config = OpusConfig {
        seed: 7,
        distinct_frames: Some(10),
        ..OpusConfig::default()
    };
    let mut a = OpusPublisher::new(config).unwrap();
    let mut b = OpusPublisher::new(config).unwrap();
    let pa: Vec<Bytes> = (0..25).map(|_| a.next_packet().1).collect();
    let pb: Vec<Bytes> = (0..25).map(|_| b.next_packet().1).collect();
    assert_eq!(pa, pb);
    let payload = |p: &Bytes| RtpPacket::parse(&p[..]).unwrap().payload().to_vec();
    assert_eq!(payload(&pa[3]), payload(&pa[13]));
    assert_ne!(pa[3], pa[13], "sequence number and timestamp move on");
}

#[test]
fn drifting_sender_stamps_its_own_clock() {
    let mut fast = OpusPublisher::new(OpusConfig {
        drift: DriftClock { ppm: 200.0 },
        distinct_frames: Some(1),
        ..OpusConfig::default()
    })
    .unwrap();
    let mut last = 0;
    for _ in 0..=50_000 {
        last = fast.next_packet().0;
    }
    // 1000 s of the sender's clock is 0.2 s less of true time.
    assert_eq!(last, 999_800_040);
}

#[test]
fn vp8_frames_packetize_and_decode() {
    let mut publisher = Vp8Publisher::new(Vp8Config {
        mtu: 400,
        ..Vp8Config::default()
    })
    .unwrap();
    let mut decoder = Vp8Decoder::new().unwrap();
    let mut keyframes = 0;
    let mut last_pid = None;
    for i in 0..45 {
        if i == 30 {
            publisher.force_keyframe();
        }
        let frame = publisher.next_frame();
        assert!(!frame.packets.is_empty());
        for (k, packet) in frame.packets.iter().enumerate() {
            assert!(packet.len() <= 400);
            let p = RtpPacket::parse(&packet[..]).unwrap();
            assert_eq!(p.marker(), k + 1 == frame.packets.len());
            assert_eq!(p.timestamp(), frame.timestamp);
            let d = Descriptor::parse(p.payload()).unwrap();
            assert_eq!(d.start_of_partition, k == 0);
            assert_eq!(d.picture_id, Some(frame.picture_id));
            assert!(d.picture_id_15bit);
            if k == 0 {
                assert_eq!(d.keyframe, frame.keyframe, "frame {i}");
            } else {
                assert!(!d.keyframe);
            }
        }
        if let Some(prev) = last_pid {
            assert_eq!(frame.picture_id, (prev + 1) & 0x7fff);
        }
        last_pid = Some(frame.picture_id);
        assert_eq!(frame.keyframe, i == 0 || i == 30, "frame {i}");
        keyframes += usize::from(frame.keyframe);
        let data = vp8_depacketize(&frame.packets).unwrap();
        let d = decoder.decode(&data).unwrap();
        assert_eq!((d.width, d.height, d.corrupted), (320, 180, false));
    }
    assert_eq!(keyframes, 2);
    // 90 kHz at 15 fps.
    let next = publisher.next_frame();
    assert_eq!(next.send_time_us, 45 * 1_000_000 / 15);
}

#[test]
fn rtx_round_trips_through_the_jitter_buffer_restore() {
    let mut publisher = OpusPublisher::new(OpusConfig::default()).unwrap();
    let (_, original) = publisher.next_packet();
    let mut sender = RtxSender::new(0xfeed, 97, 1000, 64);
    sender.remember(&original);
    let rtx = sender
        .retransmit(publisher.first_sequence_number())
        .unwrap();
    let p = RtpPacket::parse(&rtx[..]).unwrap();
    assert_eq!(
        (p.ssrc(), p.payload_type(), p.sequence_number()),
        (0xfeed, 97, 1000)
    );
    let restored = restore_rtx(
        rtx,
        &RtxConfig {
            rtx_ssrc: 0xfeed,
            media_ssrc: publisher.ssrc(),
            media_payload_type: 111,
        },
    )
    .unwrap();
    assert_eq!(restored, original);
    assert!(sender
        .retransmit(publisher.first_sequence_number().wrapping_add(1))
        .is_none());
}
