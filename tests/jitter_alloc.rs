//! The jitter buffer's newer paths allocate nothing in steady state:
//! `poll_nacks` + `on_nack_sent`, `push_retransmission`, timestamp
//! outliers and jumps, and resets (far sequence jumps). Counted with a
//! global allocator, as `alloc_free.rs` does for the older paths.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use rtmedia::jitter::{Event, JitterBuffer, JitterConfig};
use rtmedia::packet::RtpBuilder;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// Packet `i` of a 20 ms audio stream, with sequence and timestamp offsets.
fn packet(i: u64, seq_offset: u16, ts_offset: u32) -> Bytes {
    let mut buf = vec![0u8; 32];
    let n = RtpBuilder {
        payload_type: 111,
        sequence_number: (i as u16).wrapping_add(seq_offset),
        timestamp: (i as u32).wrapping_mul(960).wrapping_add(ts_offset),
        ssrc: 7,
        payload: &[0xab; 20],
        ..Default::default()
    }
    .write_into(&mut buf)
    .unwrap();
    buf.truncate(n);
    let p = Bytes::from(buf);
    drop(p.clone()); // promoted: clones in the loop are refcount bumps
    p
}

#[test]
fn nack_retransmission_outlier_and_reset_paths_allocate_nothing() {
    // Every 25th packet lost and retransmitted 70 ms later (pushed as a
    // retransmission), every 100th with a timestamp 5 s off, a lasting
    // timestamp jump every 2,000 packets and a sequence jump (a reset)
    // every 3,000.
    let n = 12_000u64;
    let mut arrivals: Vec<(u64, Bytes, bool)> = Vec::new();
    for i in 0..n {
        let (seq_offset, ts_jump) = ((i / 3_000) as u16 * 20_000, (i / 2_000) as u32 * 480_000);
        let ts_offset = if i % 100 == 50 {
            ts_jump + 240_000
        } else {
            ts_jump
        };
        let p = packet(i, seq_offset, ts_offset);
        let at = 1_000_000 + i * 20_000 + (i * 7 % 11) * 1_000;
        if i % 25 == 10 {
            arrivals.push((at + 70_000, p, true));
        } else {
            arrivals.push((at, p, false));
        }
    }
    arrivals.sort_by_key(|a| a.0);
    let mut jb = JitterBuffer::new(JitterConfig::audio_with_nack_reserve());
    jb.set_rtt(40_000);
    let mut nacks = [0i64; 32];
    let mut sink = 0u64;
    let mut drive = |jb: &mut JitterBuffer, part: &[(u64, Bytes, bool)]| {
        for (at, p, retransmission) in part {
            if *retransmission {
                jb.push_retransmission(p.clone(), *at).unwrap();
            } else {
                jb.push(p.clone(), *at).unwrap();
            }
            while let Some(e) = jb.pop(*at) {
                sink += match e {
                    Event::Packet { seq, .. } | Event::Lost { seq, .. } => seq as u64,
                    Event::Frame { .. } => unreachable!(),
                };
            }
            let k = jb.poll_nacks(*at, &mut nacks);
            jb.on_nack_sent(*at, &nacks[..k]);
            sink += jb.next_wakeup().unwrap_or(0);
        }
    };
    let (warm, counted) = arrivals.split_at(500);
    drive(&mut jb, warm);
    let allocations = allocations_in(|| drive(&mut jb, counted));
    let s = jb.stats();
    println!("{s:?}");
    assert_eq!(allocations, 0);
    assert!(
        s.resets >= 3
            && s.timestamp_jumps >= 2
            && s.timestamp_outliers > 50
            && s.nacked_packets > 100,
        "{s:?}"
    );
    assert!(sink > 0);
}
