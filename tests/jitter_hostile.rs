//! Hostile sequence numbers (issue 19, item 4): a push that resets the
//! buffer or opens a far gap must cost time in proportion to the packets
//! held, not to the capacity. Measured as a ratio against clean pushes on
//! the same buffer in the same run (debug builds included: the old cost,
//! a walk over every slot, is thousands of times a clean push at capacity
//! 65,536).

use std::time::Instant;

use bytes::Bytes;
use rtmedia::jitter::{JitterBuffer, JitterConfig, Pushed};
use rtmedia::packet::RtpBuilder;

fn rtp(seq: u16, ts: u32) -> Bytes {
    let mut buf = vec![0u8; 13];
    RtpBuilder {
        payload_type: 111,
        sequence_number: seq,
        timestamp: ts,
        ssrc: 7,
        payload: b"a",
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    Bytes::from(buf)
}

fn big_buffer() -> JitterBuffer {
    let mut config = JitterConfig::audio();
    config.capacity_packets = 65_536;
    JitterBuffer::new(config)
}

/// Median time of `rounds` runs of `f`, in ns.
fn median_ns(rounds: usize, mut f: impl FnMut(usize)) -> u128 {
    let mut times: Vec<u128> = (0..rounds)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed().as_nanos()
        })
        .collect();
    times.sort_unstable();
    times[rounds / 2]
}

#[test]
fn resets_and_far_gaps_cost_no_more_than_a_few_clean_pushes() {
    let mut jb = big_buffer();
    let mut now = 0u64;
    // Clean pushes: consecutive packets, released as they go.
    let mut seq = 0u16;
    let clean = median_ns(2_000, |_| {
        seq = seq.wrapping_add(1);
        now += 20_000;
        jb.push(rtp(seq, u32::from(seq) * 960), now).unwrap();
        while jb.pop(now + 1_000_000).is_some() {}
    });
    // Resets: every push jumps 30,000 sequence numbers ahead, farther than
    // a 16,384-packet window (the buffer's slots are all written first).
    let mut config = JitterConfig::audio();
    config.capacity_packets = 16_384;
    let mut jb = JitterBuffer::new(config);
    for seq in 0..16_384u16 {
        jb.push(rtp(seq, u32::from(seq) * 960), 0).unwrap();
    }
    let mut seq = 0u16;
    let mut resets = 0;
    let reset = median_ns(400, |_| {
        seq = seq.wrapping_add(30_000);
        now += 20_000;
        if jb.push(rtp(seq, u32::from(seq) * 960), now).unwrap() == Pushed::Reset {
            resets += 1;
        }
    });
    println!("clean push+pop {clean} ns, reset push {reset} ns ({resets} resets)");
    assert!(resets >= 200, "the jumps reset the buffer");
    assert!(
        reset <= 20 * clean.max(200),
        "reset {reset} ns vs clean {clean} ns"
    );
}

/// Opening a far gap costs no more than a few clean pushes, and NACK and
/// wakeup queries over it cost the same at capacity 65,536 as at 2,048
/// (they look at most at the newest 1,024 sequence numbers).
#[test]
fn a_far_gap_costs_no_more_than_a_few_clean_pushes() {
    let measure = |capacity: usize, jump: u16| {
        let mut config = JitterConfig::audio();
        config.capacity_packets = capacity;
        let mut jb = JitterBuffer::new(config);
        jb.set_rtt(20_000);
        let mut now = 1_000_000u64;
        for seq in 0..100u16 {
            jb.push(rtp(seq, u32::from(seq) * 960), now).unwrap();
            now += 20_000;
        }
        let clean = median_ns(99, |i| {
            let seq = 100 + i as u16;
            jb.push(rtp(seq, u32::from(seq) * 960), now).unwrap();
        });
        let mut base = 200u16;
        let gap = median_ns(20, |_| {
            base = base.wrapping_add(jump);
            jb.push(rtp(base, u32::from(base) * 960), now).unwrap();
        });
        let mut out = [0u16; 64];
        let queries = median_ns(50, |_| {
            now += 10_000;
            jb.nack_list(now, &mut out);
            std::hint::black_box(jb.next_wakeup());
        });
        (clean, gap, queries)
    };
    let (clean, gap, queries) = measure(65_536, 60_001);
    let (_, _, small_queries) = measure(2_048, 2_001);
    println!(
        "capacity 65,536: clean push {clean} ns, far-gap push {gap} ns, nack_list + next_wakeup {queries} ns \
         (capacity 2,048: {small_queries} ns)"
    );
    assert!(
        gap <= 20 * clean.max(200),
        "far gap {gap} ns vs clean push {clean} ns"
    );
    assert!(
        queries <= 3 * small_queries.max(1_000),
        "queries {queries} ns at 65,536 vs {small_queries} ns at 2,048"
    );
}
