//! The anchors' known failure modes, each reproduced in the seeded simulator
//! (10 seeds) and shown avoided:
//! - estimate stuck low when every layer is paused and nothing probes
//!   (mediasoup #316, #1462; LiveKit #3253; pion/interceptor #100);
//! - false drops from publisher-side loss or jitter (mediasoup #962,
//!   pion/interceptor #156);
//! - overestimation while application-limited (pion/interceptor #299);
//! - probes that cause loss (jitsi-videobridge #1447, str0m #218).

use rtmedia::cc::BweConfig;
use rtmedia::sim::ccmetrics::{loss_ratio, queue_delay_percentile};
use rtmedia::sim::{run_scenario, BottleneckConfig, FlowResult, ScenarioConfig, ScenarioResult};

const SEEDS: u64 = 10;
const S: u64 = 1_000_000;

fn run_seeds(make: impl Fn(u64) -> ScenarioConfig + Sync) -> Vec<ScenarioResult> {
    std::thread::scope(|s| {
        let make = &make;
        let handles: Vec<_> = [1..6u64, 6..SEEDS + 1]
            .into_iter()
            .map(|seeds| {
                s.spawn(move || {
                    seeds
                        .map(|seed| run_scenario(&make(seed)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("seed thread"))
            .collect()
    })
}

/// The target at time `t` (the last sample at or before it).
fn target_at(f: &FlowResult, t: u64) -> u64 {
    f.samples
        .iter()
        .take_while(|s| s.t_us <= t)
        .last()
        .map_or(0, |s| s.target_bps)
}

/// 2 Mbit/s; a 3-s collapse to 150 kbit/s at 10 s drives the estimate
/// down; every video layer pauses (audio only, 40 kbit/s) until 30 s while
/// the path is back at 2 Mbit/s. Periodic probing on or off; an optional
/// allocator probe request.
fn paused(seed: u64, periodic: bool, request_at: Option<u64>) -> ScenarioConfig {
    let forward = BottleneckConfig {
        capacity: vec![(0, 2_000_000), (10 * S, 150_000), (13 * S, 2_000_000)],
        queue_ms: 300,
        propagation_us: 50_000,
        loss: 0.0,
    };
    let mut c = ScenarioConfig::single(seed, 35 * S, forward);
    let m = &mut c.media[0];
    m.app_limit = vec![(10 * S, Some(40_000)), (30 * S, None)];
    m.bwe = BweConfig {
        periodic_probes: periodic,
        ..BweConfig::default()
    };
    if let Some(at) = request_at {
        m.probe_requests = vec![(at, 2_000_000)];
    }
    c
}

#[test]
fn estimate_recovers_while_every_layer_is_paused() {
    let with = run_seeds(|s| paused(s, true, None));
    let without = run_seeds(|s| paused(s, false, None));
    let requested = run_seeds(|s| paused(s, false, Some(20 * S)));
    let mut stuck_low = 0;
    for (i, ((w, wo), rq)) in with.iter().zip(&without).zip(&requested).enumerate() {
        let seed = i + 1;
        let low = target_at(&w.media[0], 13 * S);
        let (at20, at25) = (
            target_at(&w.media[0], 20 * S),
            target_at(&w.media[0], 25 * S),
        );
        let stuck = target_at(&wo.media[0], 25 * S);
        let asked = target_at(&rq.media[0], 22 * S);
        println!(
            "seed {seed}: after collapse {} kbit/s; paused, probing: {} at 20 s, {} at 25 s; \
             no probing: {} at 25 s; allocator request at 20 s: {} at 22 s",
            low / 1000,
            at20 / 1000,
            at25 / 1000,
            stuck / 1000,
            asked / 1000
        );
        assert!(
            low < 500_000,
            "seed {seed}: the collapse must drive the estimate down"
        );
        // The failure mode exists: with nothing probing it stays stuck low
        // (on most seeds: the recovery probe after a large drop, sent
        // whether or not probing is periodic, lifts it on some; counted
        // below)…
        stuck_low += usize::from(stuck < 500_000);
        // …ALR probes recover it while paused (AIMD cannot: nothing is sent)…
        assert!(at25 >= 1_500_000, "seed {seed}: paused estimate {at25}");
        // …and so does the allocator's probe request.
        assert!(asked >= 1_500_000, "seed {seed}: after request {asked}");
    }
    assert!(
        stuck_low >= 8,
        "without probes the estimate stayed low on only {stuck_low} of {SEEDS} seeds"
    );
}

/// 2.5 Mbit/s path; the sender forwards a 1.5 Mbit/s layer as it arrives from
/// the publisher: frames up to 80 ms late and sent in one burst each, 5 % of
/// packets lost upstream (never sent here).
fn forwarded(seed: u64) -> ScenarioConfig {
    let mut c = ScenarioConfig::single(
        seed,
        60 * S,
        BottleneckConfig::constant(2_500_000, 300, 50_000),
    );
    let m = &mut c.media[0];
    m.app_limit = vec![(0, Some(1_500_000))];
    m.upstream_jitter_us = 80_000;
    m.upstream_loss = 0.05;
    c
}

#[test]
fn no_false_drops_from_publisher_side_loss_or_jitter() {
    for (i, r) in run_seeds(forwarded).iter().enumerate() {
        let m = &r.media[0];
        let min = m
            .samples
            .iter()
            .filter(|s| s.t_us >= 5 * S)
            .map(|s| s.target_bps)
            .min()
            .unwrap();
        let bwe = m.bwe.unwrap();
        println!(
            "seed {}: min target after 5 s {} kbit/s, decreases {}, lost {}",
            i + 1,
            min / 1000,
            bwe.decreases,
            bwe.packets_lost
        );
        assert!(min >= 1_500_000, "seed {}: target fell to {min}", i + 1);
    }
}

/// 1 Mbit/s; the application sends 300 kbit/s for 30 s, then all it may.
fn app_limited(seed: u64) -> ScenarioConfig {
    let mut c = ScenarioConfig::single(
        seed,
        40 * S,
        BottleneckConfig::constant(1_000_000, 300, 50_000),
    );
    c.media[0].app_limit = vec![(0, Some(300_000)), (30 * S, None)];
    c
}

#[test]
fn no_overestimation_while_application_limited() {
    for (i, r) in run_seeds(app_limited).iter().enumerate() {
        let m = &r.media[0];
        let max = m
            .samples
            .iter()
            .filter(|s| s.t_us < 30 * S)
            .map(|s| s.target_bps)
            .max()
            .unwrap();
        let q95 = queue_delay_percentile(m, 30 * S, 35 * S, 0.95);
        println!(
            "seed {}: max target while limited {} kbit/s; after release: queue p95 {} ms, loss {:.2} %",
            i + 1,
            max / 1000,
            q95 / 1000,
            loss_ratio(m) * 100.0
        );
        assert!(
            max <= 1_100_000,
            "seed {}: estimate {max} on a 1 Mbit/s path",
            i + 1
        );
        assert!(
            q95 <= 100_000,
            "seed {}: queue p95 {q95} after release",
            i + 1
        );
        assert!(
            loss_ratio(m) < 0.01,
            "seed {}: loss {}",
            i + 1,
            loss_ratio(m)
        );
    }
}

/// 1 Mbit/s with a short (60 ms) queue; the allocator asks to probe for
/// 10 Mbit/s every 2 s.
fn greedy_probes(seed: u64) -> ScenarioConfig {
    let mut c = ScenarioConfig::single(
        seed,
        40 * S,
        BottleneckConfig::constant(1_000_000, 60, 50_000),
    );
    c.media[0].probe_requests = (5..20).map(|k| (k * 2 * S, 10_000_000)).collect();
    c
}

#[test]
fn probes_do_not_cause_loss() {
    for (i, r) in run_seeds(greedy_probes).iter().enumerate() {
        let m = &r.media[0];
        let bwe = m.bwe.unwrap();
        println!(
            "seed {}: probes {} results {}, probe packets dropped {}, loss {:.2} %",
            i + 1,
            bwe.probes_requested,
            bwe.probe_results,
            m.probe_packets_dropped,
            loss_ratio(m) * 100.0
        );
        assert!(bwe.probes_requested >= 15);
        assert_eq!(m.probe_packets_dropped, 0, "seed {}", i + 1);
        assert!(
            loss_ratio(m) < 0.01,
            "seed {}: loss {}",
            i + 1,
            loss_ratio(m)
        );
    }
}
