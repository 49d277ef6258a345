//! What a thumbnail costs (issue #13): 10,000 forwarders of a thumbnail
//! layer (a 1,000-person room), alone and inside a `Track`, measured with a
//! byte-counting global allocator (heap bytes live after creation, the
//! forwarders' own size included since they live in a `Vec`). Goal: at most
//! 4 KB per forwarder by default.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rtmedia::sim::{SimulcastConfig, SimulcastLayerConfig, SimulcastPublisher};
use rtmedia::simulcast::{Forwarder, ForwarderConfig, Layer, SubscriberConfig, Track, TrackConfig};

struct Counting;

thread_local! {
    /// Heap bytes this thread holds (allocated minus freed).
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.with(|c| c.set(c.get() + layout.size() as i64));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.with(|c| c.set(c.get() - layout.size() as i64));
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.with(|c| c.set(c.get() + new_size as i64 - layout.size() as i64));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> i64 {
    LIVE.with(Cell::get)
}

const N: usize = 10_000;
const THUMBNAIL: Layer = Layer::new(0, 2);
const GOAL_BYTES: i64 = 4096;

#[test]
fn ten_thousand_thumbnail_forwarders_cost_under_4_kb_each() {
    let before = live();
    let mut forwarders = Vec::with_capacity(N);
    for i in 0..N {
        let mut f = Forwarder::new(ForwarderConfig {
            ssrc: i as u32 + 1,
            ..ForwarderConfig::default()
        });
        f.set_target(THUMBNAIL);
        forwarders.push(f);
    }
    let per = (live() - before) / N as i64;
    eprintln!(
        "standalone: {per} bytes per thumbnail forwarder ({} bytes inline, {} NACK records)",
        core::mem::size_of::<Forwarder>(),
        forwarders[0].nack_records()
    );
    assert!(per <= GOAL_BYTES, "{per} bytes per forwarder");
    // A stage forwarder still remembers a second of a top layer.
    forwarders[0].set_target(Layer::new(2, 2));
    assert_eq!(forwarders[0].nack_records(), 1024);
}

#[test]
fn ten_thousand_thumbnail_subscribers_of_a_track_cost_under_4_kb_each() {
    let layer = |width, height, bitrate_kbps| SimulcastLayerConfig {
        width,
        height,
        bitrate_kbps,
    };
    let mut publisher = SimulcastPublisher::new(SimulcastConfig {
        seed: 4,
        layers: vec![
            layer(160, 96, 150),
            layer(320, 192, 400),
            layer(640, 384, 1000),
        ],
        cpu_used: 16,
        ..SimulcastConfig::default()
    })
    .unwrap();
    // The track's tables for N subscribers are allocated by `new`: counted.
    let before_new = live();
    let mut track = Track::new(
        TrackConfig {
            max_subscribers: N,
            ..TrackConfig::default()
        },
        &publisher.ssrcs(),
    )
    .unwrap();
    let tables = live() - before_new;
    // One second of video, so that the layers' packet rates are measured.
    let mut now = 0;
    for _ in 0..30 {
        let frame = publisher.next_frame();
        now = frame.send_time_us;
        for l in &frame.layers {
            for p in &l.packets {
                track.push_rtp(p.clone(), now).unwrap();
                let mut buf = [0u8; 1500];
                while !matches!(
                    track.poll_output(now, &mut buf).unwrap(),
                    rtmedia::simulcast::Output::Timeout(_)
                ) {}
            }
        }
    }
    let before = live();
    for i in 0..N as u64 {
        let config = SubscriberConfig {
            forwarder: ForwarderConfig {
                ssrc: i as u32 + 1,
                ..ForwarderConfig::default()
            },
            rtx: None,
        };
        track.add_subscriber(i, config, THUMBNAIL, now).unwrap();
    }
    let per = (live() - before + tables) / N as i64;
    let records = track.forwarder(0).unwrap().nack_records();
    eprintln!(
        "track: {per} bytes per thumbnail subscriber ({records} NACK records at {} packets/s; \
         the track's tables and source {tables} bytes in all)",
        track.source().packet_rate(0, now)
    );
    assert!(per <= GOAL_BYTES, "{per} bytes per subscriber");
}

/// The source's history is sized by time and bitrate (issue #13): after 20 s
/// of a three-layer stream, every layer still answers NACKs for the last two
/// seconds, while the thumbnail layer keeps no more than a few seconds of
/// packets (the fixed 1,024 packets per layer it had before held 30 s of
/// it, and its buffers with them).
#[test]
fn the_history_keeps_two_seconds_of_each_layer_not_1024_packets() {
    let layer = |width, height, bitrate_kbps| SimulcastLayerConfig {
        width,
        height,
        bitrate_kbps,
    };
    let mut publisher = SimulcastPublisher::new(SimulcastConfig {
        seed: 5,
        layers: vec![
            layer(160, 96, 150),
            layer(320, 192, 400),
            layer(640, 384, 1500),
        ],
        cpu_used: 16,
        ..SimulcastConfig::default()
    })
    .unwrap();
    let mut source = rtmedia::simulcast::Source::new(
        rtmedia::simulcast::SourceConfig::default(),
        &publisher.ssrcs(),
    )
    .unwrap();
    // (arrival, ext_seq) of every packet, per layer.
    let mut arrivals: Vec<Vec<(u64, u64)>> = vec![Vec::new(); 3];
    let mut now = 0;
    for _ in 0..600 {
        let frame = publisher.next_frame();
        now = frame.send_time_us;
        for l in &frame.layers {
            for p in &l.packets {
                let pkt = source.on_rtp(p.clone(), now).unwrap();
                arrivals[usize::from(pkt.spatial)].push((now, pkt.ext_seq));
            }
        }
    }
    for (spatial, seen) in arrivals.iter().enumerate() {
        let kept = seen
            .iter()
            .filter(|&&(_, seq)| source.packet(spatial as u8, seq).is_some())
            .count();
        let last_two_seconds = seen.iter().filter(|&&(at, _)| now - at < 2_000_000);
        let answerable = last_two_seconds
            .clone()
            .all(|&(_, seq)| source.packet(spatial as u8, seq).is_some());
        let oldest = seen
            .iter()
            .find(|&&(_, seq)| source.packet(spatial as u8, seq).is_some())
            .map_or(0, |&(at, _)| now - at);
        eprintln!(
            "layer {spatial}: {kept} packets kept of {} ({} in the last 2 s), the oldest {} ms old",
            seen.len(),
            last_two_seconds.count(),
            oldest / 1000
        );
        assert!(
            answerable,
            "layer {spatial}: a packet of the last 2 s forgotten"
        );
        assert!(kept <= 1024);
        if spatial == 0 {
            assert!(oldest < 6_000_000, "thumbnail history {oldest} µs long");
        }
    }
}
