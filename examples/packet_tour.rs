//! A tour of the packet layer, as an SFU uses it: three incoming streams are
//! rewritten in place into one outgoing stream (new SSRC, gapless sequence
//! numbers, a fresh transport-wide sequence extension, one extension dropped),
//! then the RTCP a receiver would send back is built and parsed.
//!
//! Run with `make demo` or `cargo run --release --example packet_tour`.

use std::time::Instant;

use rtmedia::packet::rtcp::{self, NackBuilder, PliBuilder, RembBuilder, RtcpPacket};
use rtmedia::packet::rtp::remove_extension;
use rtmedia::packet::{RtpBuilder, RtpPacket, SeqUnwrapper};

const AUDIO_LEVEL: u8 = 1;
const TRANSPORT_SEQ: u8 = 3;
const MID: u8 = 4;
const OUT_SSRC: u32 = 0x5f0c_a11e;

fn incoming(ssrc: u32, seq: u16, ts: u32, level: u8, buf: &mut [u8]) -> usize {
    let payload = [0x42u8; 160];
    RtpBuilder {
        payload_type: 111,
        sequence_number: seq,
        timestamp: ts,
        ssrc,
        extensions: &[
            (AUDIO_LEVEL, &[0x80 | level]),
            (TRANSPORT_SEQ, &[0, 0]),
            (MID, b"a0"),
        ],
        payload: &payload,
        ..Default::default()
    }
    .write_into(buf)
    .expect("1500 bytes hold a 160-byte payload")
}

fn main() {
    println!("rtmedia packet tour\n");
    println!("1. Rewriting three sources into one outgoing stream (in place):");
    println!(
        "   {:<10} {:>6} {:>10} {:>5} -> {:<10} {:>6} {:>6} {:>5}",
        "in SSRC", "seq", "ts", "len", "out SSRC", "seq", "twcc", "len"
    );
    let sources = [
        (0x1111_1111u32, 65_533u16),
        (0x2222_2222, 10),
        (0x3333_3333, 40_000),
    ];
    let mut out_seq = 1000u16;
    let mut transport_seq = 0u16;
    let mut buf = [0u8; 1500];
    for round in 0..2u32 {
        for (i, &(ssrc, first_seq)) in sources.iter().enumerate() {
            let seq = first_seq.wrapping_add(round as u16 * 2);
            let in_len = incoming(ssrc, seq, 960 * round, 20 + i as u8, &mut buf);
            let len = remove_extension(&mut buf, in_len, MID).expect("MID present");
            let mut p = RtpPacket::parse(&mut buf[..len]).expect("we built it");
            p.set_ssrc(OUT_SSRC);
            p.set_sequence_number(out_seq);
            p.set_extension(TRANSPORT_SEQ, &transport_seq.to_be_bytes())
                .expect("same length");
            println!(
                "   {ssrc:#010x} {seq:>6} {:>10} {:>5} -> {OUT_SSRC:#010x} {out_seq:>6} {transport_seq:>6} {len:>5}",
                960 * round,
                in_len,
            );
            out_seq = out_seq.wrapping_add(1);
            transport_seq = transport_seq.wrapping_add(1);
        }
    }

    println!("\n2. Unwrapping sequence numbers across the 16-bit wrap:");
    let mut unwrap = SeqUnwrapper::new();
    let arrivals = [65_534u16, 65_535, 1, 0, 2];
    let unwrapped: Vec<i64> = arrivals
        .iter()
        .map(|&s| unwrap.unwrap(u64::from(s)))
        .collect();
    println!("   arrivals {arrivals:?} -> extended {unwrapped:?}");

    println!("\n3. Receiver feedback, built into one buffer and parsed back:");
    let mut fb = [0u8; 256];
    let lost = [65_535u16, 0, 1, 7, 60];
    let mut at = NackBuilder {
        sender_ssrc: 0xfeed,
        media_ssrc: OUT_SSRC,
        lost: &lost,
    }
    .write_into(&mut fb)
    .unwrap();
    at += PliBuilder {
        sender_ssrc: 0xfeed,
        media_ssrc: OUT_SSRC,
    }
    .write_into(&mut fb[at..])
    .unwrap();
    at += RembBuilder {
        sender_ssrc: 0xfeed,
        bitrate_bps: 1_250_000,
        ssrcs: &[OUT_SSRC],
    }
    .write_into(&mut fb[at..])
    .unwrap();
    println!("   compound packet: {at} bytes");
    for packet in rtcp::compound(&fb[..at]) {
        match packet.expect("we built it") {
            RtcpPacket::Nack(n) => println!(
                "   NACK for {:#x}: lost {:?}",
                n.media_ssrc(),
                n.lost_sequence_numbers().collect::<Vec<_>>()
            ),
            RtcpPacket::Pli(p) => println!("   PLI  for {:#x}", p.media_ssrc()),
            RtcpPacket::Remb(r) => println!(
                "   REMB {} bit/s for {:?}",
                r.bitrate_bps(),
                r.ssrcs().collect::<Vec<_>>()
            ),
            other => println!("   other packet type {}", other.packet_type()),
        }
    }

    println!("\n4. Throughput of parse + rewrite on this machine (indicative; see `cargo bench --bench packet`):");
    let len = incoming(0x1111_1111, 0, 0, 30, &mut buf);
    let n = 5_000_000u32;
    let start = Instant::now();
    for i in 0..n {
        let mut p = RtpPacket::parse(&mut buf[..len]).unwrap();
        p.set_sequence_number(i as u16);
        p.set_ssrc(OUT_SSRC ^ i);
        p.set_extension(TRANSPORT_SEQ, &(i as u16).to_be_bytes())
            .unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "   {n} packets in {:.1} ms: {:.1} M packets/s on one core",
        secs * 1e3,
        f64::from(n) / secs / 1e6
    );
}
