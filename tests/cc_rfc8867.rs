//! RFC 8867's test cases for real-time media congestion control, run in the
//! seeded simulator (`rtmedia::sim::run_scenario`) over 10 seeds each, with
//! RFC 8868's metrics printed as a table (`-- --nocapture`) and the issue's
//! goals asserted (over every seed: worst case, not the mean).
//!
//! Parameters follow RFC 8867 §5: 50 ms one-way propagation, 300 ms
//! drop-tail queues, capacity schedules as listed per case. Media flows are
//! video-like senders pacing at the estimator's target (see `sim::ccsim`).

use rtmedia::sim::ccmetrics::{
    convergence_time, dips, jain, loss_ratio, oscillation, queue_delay_max, queue_delay_percentile,
    throughput, time_to_fall, time_to_reach, utilisation,
};
use rtmedia::sim::{
    run_scenario, BottleneckConfig, MediaFlowConfig, ScenarioConfig, ScenarioResult, TcpFlowConfig,
};

const SEEDS: u64 = 10;
const S: u64 = 1_000_000;
const ONE_WAY_US: u64 = 50_000;
const QUEUE_MS: u64 = 300;

/// Runs a case for every seed, two threads at a time.
fn run_seeds(make: impl Fn(u64) -> ScenarioConfig + Sync) -> Vec<ScenarioResult> {
    let seeds: Vec<u64> = (1..=SEEDS).collect();
    let mut out: Vec<(u64, ScenarioResult)> = std::thread::scope(|s| {
        let handles: Vec<_> = seeds
            .chunks(SEEDS.div_ceil(2) as usize)
            .map(|chunk| {
                let make = &make;
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|&seed| (seed, run_scenario(&make(seed))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("seed thread"))
            .collect()
    });
    out.sort_by_key(|r| r.0);
    out.into_iter().map(|r| r.1).collect()
}

/// "mean [min … max]" of a metric over seeds.
fn stat(v: &[f64], scale: f64, unit: &str) -> String {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{:.2}{unit} [{:.2} … {:.2}]",
        mean * scale,
        min * scale,
        max * scale
    )
}

fn row(case: &str, metric: &str, v: &[f64], scale: f64, unit: &str) {
    println!(
        "| {case:<6} | {metric:<44} | {:<30} |",
        stat(v, scale, unit)
    );
}

fn schedule(points: &[(u64, u64)]) -> BottleneckConfig {
    BottleneckConfig {
        capacity: points.iter().map(|&(s, bps)| (s * S, bps)).collect(),
        queue_ms: QUEUE_MS,
        propagation_us: ONE_WAY_US,
        loss: 0.0,
    }
}

fn case_5_1(seed: u64) -> ScenarioConfig {
    let mut c = ScenarioConfig::single(
        seed,
        100 * S,
        schedule(&[
            (0, 1_000_000),
            (40, 2_500_000),
            (60, 600_000),
            (80, 1_000_000),
        ]),
    );
    c.sample_us = 10_000;
    c
}

/// §5.1: one flow on 1.0 / 2.5 / 0.6 / 1.0 Mbit/s at 0 / 40 / 60 / 80 s.
#[test]
fn rfc8867_5_1_variable_capacity_single_flow() {
    let runs = run_seeds(case_5_1);
    let c0 = case_5_1(0);
    let cap = |t: u64| c0.forward.capacity_at(t);
    let f = |r: &ScenarioResult| r.media[0].clone();
    let startup: Vec<f64> = runs
        .iter()
        .map(|r| time_to_reach(&f(r), 0, 900_000).map_or(f64::INFINITY, |t| t as f64))
        .collect();
    let step_up: Vec<f64> = runs
        .iter()
        .map(|r| time_to_reach(&f(r), 40 * S, 2_250_000).map_or(f64::INFINITY, |t| t as f64))
        .collect();
    let drop: Vec<f64> = runs
        .iter()
        .map(|r| time_to_fall(&f(r), 60 * S, 600_000).map_or(f64::INFINITY, |t| t as f64))
        .collect();
    let drain: Vec<f64> = runs
        .iter()
        .map(|r| queue_delay_max(&f(r), 61 * S, 62 * S) as f64)
        .collect();
    let steady = [(10, 40), (45, 60), (65, 80), (85, 100)];
    let util: Vec<f64> = runs
        .iter()
        .map(|r| {
            let m = f(r);
            let (mut used, mut n) = (0.0, 0.0);
            for (a, b) in steady {
                used += utilisation(&[&m], cap, a * S, b * S) * (b - a) as f64;
                n += (b - a) as f64;
            }
            used / n
        })
        .collect();
    let q95: Vec<f64> = runs
        .iter()
        .map(|r| {
            let m = f(r);
            steady
                .iter()
                .map(|&(a, b)| queue_delay_percentile(&m, a * S, b * S, 0.95))
                .max()
                .unwrap_or(0) as f64
        })
        .collect();
    let padding: Vec<f64> = runs
        .iter()
        .map(|r| {
            let m = f(r);
            let (mut pad, mut cap_sum) = (0.0, 0.0);
            for x in m.samples.iter().filter(|x| {
                steady
                    .iter()
                    .any(|&(a, b)| x.t_us > a * S && x.t_us <= b * S)
            }) {
                pad += x.padding_bps as f64;
                cap_sum += cap(x.t_us - 1) as f64;
            }
            pad / cap_sum
        })
        .collect();
    let loss: Vec<f64> = runs.iter().map(|r| loss_ratio(&f(r))).collect();
    let osc: Vec<f64> = runs
        .iter()
        .map(|r| oscillation(&f(r), 10 * S, 40 * S))
        .collect();
    println!("\nRFC 8867 §5.1 (10 seeds: mean [min … max])");
    row(
        "5.1",
        "start-up to 90 % of 1 Mbit/s (s)",
        &startup,
        1e-6,
        " s",
    );
    row("5.1", "1 → 2.5 Mbit/s, to 90 % (s)", &step_up, 1e-6, " s");
    row(
        "5.1",
        "2.5 → 0.6: estimate ≤ capacity after (ms)",
        &drop,
        1e-3,
        " ms",
    );
    row(
        "5.1",
        "2.5 → 0.6: max queuing delay 1–2 s after (ms)",
        &drain,
        1e-3,
        " ms",
    );
    row("5.1", "steady utilisation (media only)", &util, 100.0, " %");
    row(
        "5.1",
        "probe padding (share of capacity)",
        &padding,
        100.0,
        " %",
    );
    row(
        "5.1",
        "steady queuing delay p95, worst period (ms)",
        &q95,
        1e-3,
        " ms",
    );
    row("5.1", "loss", &loss, 100.0, " %");
    row(
        "5.1",
        "oscillation (CoV of target, 10–40 s)",
        &osc,
        100.0,
        " %",
    );
    for (i, r) in runs.iter().enumerate() {
        let seed = i + 1;
        assert!(startup[i] <= 1e6, "seed {seed}: start-up {} µs", startup[i]);
        assert!(step_up[i] <= 3e6, "seed {seed}: step up {} µs", step_up[i]);
        assert!(drop[i] <= 300e3, "seed {seed}: drop {} µs", drop[i]);
        assert!(
            drain[i] < 100e3,
            "seed {seed}: queue after drop {} µs",
            drain[i]
        );
        assert!(util[i] >= 0.90, "seed {seed}: utilisation {}", util[i]);
        assert!(q95[i] <= 50e3, "seed {seed}: queue p95 {} µs", q95[i]);
        let _ = r;
    }
}

fn two_flows(seed: u64) -> ScenarioConfig {
    let mut c = ScenarioConfig::single(
        seed,
        125 * S,
        schedule(&[
            (0, 4_000_000),
            (25, 2_000_000),
            (50, 3_500_000),
            (75, 1_000_000),
            (100, 2_000_000),
        ]),
    );
    c.media = vec![MediaFlowConfig::default(), MediaFlowConfig::default()];
    c
}

/// §5.2: two flows on 4 / 2 / 3.5 / 1 / 2 Mbit/s at 0 / 25 / 50 / 75 / 100 s.
#[test]
fn rfc8867_5_2_variable_capacity_two_flows() {
    let runs = run_seeds(two_flows);
    let c0 = two_flows(0);
    let cap = |t: u64| c0.forward.capacity_at(t);
    let periods = [(5, 25), (30, 50), (55, 75), (80, 100), (105, 125)];
    let util: Vec<f64> = runs
        .iter()
        .map(|r| {
            let fl = [&r.media[0], &r.media[1]];
            periods
                .iter()
                .map(|&(a, b)| utilisation(&fl, cap, a * S, b * S))
                .sum::<f64>()
                / periods.len() as f64
        })
        .collect();
    let fair: Vec<f64> = runs
        .iter()
        .map(|r| {
            jain(&[
                throughput(&r.media[0], 5 * S, 125 * S),
                throughput(&r.media[1], 5 * S, 125 * S),
            ])
        })
        .collect();
    let q95: Vec<f64> = runs
        .iter()
        .map(|r| queue_delay_percentile(&r.media[0], 5 * S, 125 * S, 0.95) as f64)
        .collect();
    let loss: Vec<f64> = runs
        .iter()
        .map(|r| (loss_ratio(&r.media[0]) + loss_ratio(&r.media[1])) / 2.0)
        .collect();
    println!("\nRFC 8867 §5.2 (10 seeds)");
    row("5.2", "utilisation (mean of 5 periods)", &util, 100.0, " %");
    row("5.2", "Jain fairness (2 flows)", &fair, 1.0, "");
    row("5.2", "queuing delay p95 (ms)", &q95, 1e-3, " ms");
    row("5.2", "loss", &loss, 100.0, " %");
    for (i, u) in util.iter().enumerate() {
        assert!(*u >= 0.85, "seed {}: utilisation {u}", i + 1);
        assert!(fair[i] >= 0.9, "seed {}: fairness {}", i + 1, fair[i]);
    }
}

fn feedback_congested(seed: u64) -> ScenarioConfig {
    let mut c = ScenarioConfig::single(
        seed,
        100 * S,
        schedule(&[
            (0, 2_000_000),
            (20, 1_000_000),
            (40, 500_000),
            (60, 2_000_000),
        ]),
    );
    c.reverse = schedule(&[(0, 2_000_000), (35, 800_000), (70, 2_000_000)]);
    c.media = vec![
        MediaFlowConfig::default(),
        MediaFlowConfig {
            reverse: true,
            ..MediaFlowConfig::default()
        },
    ];
    c
}

/// §5.3: media both ways; each direction's feedback shares the other's
/// bottleneck (forward 2 / 1 / 0.5 / 2 Mbit/s at 0 / 20 / 40 / 60 s,
/// backward 2 / 0.8 / 2 at 0 / 35 / 70 s).
#[test]
fn rfc8867_5_3_congested_feedback_link() {
    let runs = run_seeds(feedback_congested);
    let c0 = feedback_congested(0);
    let fwd = |t: u64| c0.forward.capacity_at(t);
    let rev = |t: u64| c0.reverse.capacity_at(t);
    let periods = [(5, 20), (25, 40), (45, 60), (65, 100)];
    let util_f: Vec<f64> = runs
        .iter()
        .map(|r| {
            periods
                .iter()
                .map(|&(a, b)| utilisation(&[&r.media[0]], fwd, a * S, b * S))
                .sum::<f64>()
                / 4.0
        })
        .collect();
    let util_r: Vec<f64> = runs
        .iter()
        .map(|r| utilisation(&[&r.media[1]], rev, 5 * S, 100 * S))
        .collect();
    let q95: Vec<f64> =
        runs.iter()
            .map(|r| {
                queue_delay_percentile(&r.media[0], 5 * S, 100 * S, 0.95)
                    .max(queue_delay_percentile(&r.media[1], 5 * S, 100 * S, 0.95))
                    as f64
            })
            .collect();
    let timeouts: Vec<f64> = runs
        .iter()
        .map(|r| r.media[0].bwe.map_or(0, |b| b.feedback_timeouts) as f64)
        .collect();
    println!("\nRFC 8867 §5.3 (10 seeds)");
    row(
        "5.3",
        "forward utilisation (mean of 4 periods)",
        &util_f,
        100.0,
        " %",
    );
    row("5.3", "backward utilisation", &util_r, 100.0, " %");
    row(
        "5.3",
        "queuing delay p95, worse direction (ms)",
        &q95,
        1e-3,
        " ms",
    );
    row(
        "5.3",
        "feedback timeouts (forward flow)",
        &timeouts,
        1.0,
        "",
    );
    for (i, u) in util_f.iter().enumerate() {
        assert!(*u >= 0.8, "seed {}: forward utilisation {u}", i + 1);
        assert!(util_r[i] >= 0.8, "seed {}: backward {}", i + 1, util_r[i]);
        assert!(q95[i] <= 100e3, "seed {}: queue p95 {}", i + 1, q95[i]);
    }
}

fn three_flows(seed: u64) -> ScenarioConfig {
    let mut c = ScenarioConfig::single(seed, 120 * S, schedule(&[(0, 3_500_000)]));
    c.media = [0, 20, 40]
        .iter()
        .map(|&start| MediaFlowConfig {
            start_us: start * S,
            ..MediaFlowConfig::default()
        })
        .collect();
    c
}

/// §5.4: three flows sharing 3.5 Mbit/s, starting at 0 / 20 / 40 s.
#[test]
fn rfc8867_5_4_three_flows_fairness() {
    let runs = run_seeds(three_flows);
    let fair: Vec<f64> = runs
        .iter()
        .map(|r| {
            let t: Vec<f64> = r
                .media
                .iter()
                .map(|m| throughput(m, 50 * S, 120 * S))
                .collect();
            jain(&t)
        })
        .collect();
    let util: Vec<f64> = runs
        .iter()
        .map(|r| {
            let fl: Vec<_> = r.media.iter().collect();
            utilisation(&fl, |_| 3_500_000, 50 * S, 120 * S)
        })
        .collect();
    let conv: Vec<f64> = runs
        .iter()
        .map(|r| {
            convergence_time(&r.media[2], 40 * S, 3_500_000.0 / 3.0, 0.2, 5 * S)
                .map_or(f64::INFINITY, |t| t as f64)
        })
        .collect();
    let q95: Vec<f64> = runs
        .iter()
        .map(|r| queue_delay_percentile(&r.media[0], 50 * S, 120 * S, 0.95) as f64)
        .collect();
    println!("\nRFC 8867 §5.4 (10 seeds)");
    row("5.4", "Jain fairness, 50–120 s (3 flows)", &fair, 1.0, "");
    row("5.4", "utilisation, 50–120 s", &util, 100.0, " %");
    row(
        "5.4",
        "third flow to share ±20 % (5-s mean, s)",
        &conv,
        1e-6,
        " s",
    );
    row("5.4", "queuing delay p95 (ms)", &q95, 1e-3, " ms");
    for (i, j) in fair.iter().enumerate() {
        assert!(*j >= 0.9, "seed {}: Jain {j}", i + 1);
    }
}

fn against_tcp(seed: u64) -> ScenarioConfig {
    let mut c = ScenarioConfig::single(seed, 120 * S, schedule(&[(0, 2_000_000)]));
    c.tcp = vec![TcpFlowConfig {
        start_us: 0,
        stop_us: u64::MAX,
    }];
    c
}

/// §5.6: one media flow against one long TCP (Reno) flow on 2 Mbit/s.
#[test]
fn rfc8867_5_6_media_against_long_tcp() {
    let runs = run_seeds(against_tcp);
    let share: Vec<f64> = runs
        .iter()
        .map(|r| {
            let m = throughput(&r.media[0], 20 * S, 120 * S);
            let t = throughput(&r.tcp[0], 20 * S, 120 * S);
            m / (m + t)
        })
        .collect();
    let q95: Vec<f64> = runs
        .iter()
        .map(|r| queue_delay_percentile(&r.media[0], 20 * S, 120 * S, 0.95) as f64)
        .collect();
    println!("\nRFC 8867 §5.6 (10 seeds)");
    row(
        "5.6",
        "media share against one TCP flow",
        &share,
        100.0,
        " %",
    );
    row("5.6", "media queuing delay p95 (ms)", &q95, 1e-3, " ms");
    for (i, s) in share.iter().enumerate() {
        assert!((0.25..=0.60).contains(s), "seed {}: media share {s}", i + 1);
    }
}

fn pause_resume(seed: u64) -> ScenarioConfig {
    let mut c = three_flows(seed);
    for m in &mut c.media {
        m.start_us = 0;
    }
    c.media[1].app_limit = vec![(40 * S, Some(0)), (60 * S, None)];
    c
}

/// §5.8: three flows on 3.5 Mbit/s; the second pauses at 40 s and resumes
/// at 60 s.
#[test]
fn rfc8867_5_8_pause_and_resume() {
    let runs = run_seeds(pause_resume);
    let others_util: Vec<f64> = runs
        .iter()
        .map(|r| utilisation(&[&r.media[0], &r.media[2]], |_| 3_500_000, 45 * S, 60 * S))
        .collect();
    let conv: Vec<f64> = runs
        .iter()
        .map(|r| {
            convergence_time(&r.media[1], 60 * S, 3_500_000.0 / 3.0, 0.2, 5 * S)
                .map_or(f64::INFINITY, |t| t as f64)
        })
        .collect();
    // The pause/resume failure the anchors' users hit is a flow that does not
    // get going again: time until its delivered rate over 1 s first reaches
    // half its fair share.
    let restart: Vec<f64> = runs
        .iter()
        .map(|r| {
            (0..200u64)
                .map(|k| 60 * S + k * 100_000)
                .find(|&t| throughput(&r.media[1], t, t + S) >= 0.5 * 3_500_000.0 / 3.0)
                .map_or(f64::INFINITY, |t| (t - 60 * S) as f64)
        })
        .collect();
    let q_resume: Vec<f64> = runs
        .iter()
        .map(|r| {
            r.media
                .iter()
                .map(|m| queue_delay_percentile(m, 60 * S, 65 * S, 0.95))
                .max()
                .unwrap_or(0) as f64
        })
        .collect();
    let fair: Vec<f64> = runs
        .iter()
        .map(|r| {
            let t: Vec<f64> = r
                .media
                .iter()
                .map(|m| throughput(m, 75 * S, 120 * S))
                .collect();
            jain(&t)
        })
        .collect();
    println!("\nRFC 8867 §5.8 (10 seeds)");
    row(
        "5.8",
        "others' utilisation while paused (45–60 s)",
        &others_util,
        100.0,
        " %",
    );
    row(
        "5.8",
        "resumed flow to half its share (1-s mean, s)",
        &restart,
        1e-6,
        " s",
    );
    row(
        "5.8",
        "resumed flow to share ±20 % (5-s mean, s)",
        &conv,
        1e-6,
        " s",
    );
    row(
        "5.8",
        "queuing delay p95 after resume (60–65 s, ms)",
        &q_resume,
        1e-3,
        " ms",
    );
    row("5.8", "Jain fairness 75–120 s", &fair, 1.0, "");
    for (i, u) in others_util.iter().enumerate() {
        assert!(*u >= 0.85, "seed {}: utilisation while paused {u}", i + 1);
        // RFC 8867 and the issue set no bound here; these are ours, chosen
        // for the failure mode (a resumed flow that stays stuck), not to the
        // measured figures. Full convergence (5-s mean within ±20 % of the
        // share) is reported above, not asserted: in some seeds the three
        // flows keep swapping ±25 % around their shares.
        assert!(restart[i] <= 5e6, "seed {}: restart {}", i + 1, restart[i]);
        assert!(fair[i] >= 0.8, "seed {}: fairness {}", i + 1, fair[i]);
    }
}

fn lossy(seed: u64) -> ScenarioConfig {
    let mut forward = BottleneckConfig::constant(4_000_000, QUEUE_MS, ONE_WAY_US);
    forward.loss = 0.2;
    let mut c = ScenarioConfig::single(seed, 60 * S, forward);
    c.media[0].bwe.max_bps = 2_000_000;
    c.sample_us = 10_000;
    c
}

/// The random-loss goal: 20 % random loss on a path with spare
/// capacity (4 Mbit/s, the sender wants at most 2): at most one dip of the
/// target deeper than 100 kbit/s per 5 s (after the 5-s start-up).
#[test]
fn goal_random_loss_20_percent_without_congestion() {
    let runs = run_seeds(lossy);
    let worst: Vec<f64> = runs
        .iter()
        .map(|r| {
            let d = dips(&r.media[0], 5 * S, 60 * S, 100_000);
            (1..12)
                .map(|w| {
                    d.iter()
                        .filter(|t| **t >= w * 5 * S && **t < (w + 1) * 5 * S)
                        .count()
                })
                .max()
                .unwrap_or(0) as f64
        })
        .collect();
    let mean_target: Vec<f64> = runs
        .iter()
        .map(|r| {
            let s = &r.media[0].samples;
            let w: Vec<f64> = s
                .iter()
                .filter(|x| x.t_us >= 5 * S)
                .map(|x| x.target_bps as f64)
                .collect();
            w.iter().sum::<f64>() / w.len() as f64
        })
        .collect();
    println!("\n20 % random loss, 4 Mbit/s, max 2 Mbit/s (10 seeds)");
    row(
        "loss",
        "dips > 100 kbit/s, worst 5-s window",
        &worst,
        1.0,
        "",
    );
    row(
        "loss",
        "mean target after 5 s (kbit/s)",
        &mean_target,
        1e-3,
        " kbit/s",
    );
    for (i, w) in worst.iter().enumerate() {
        assert!(*w <= 1.0, "seed {}: {w} dips in one 5-s window", i + 1);
    }
}
