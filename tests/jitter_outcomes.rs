//! Jitter buffer outcomes through a simulated network, with real Opus and
//! real VP8 (libopus, libvpx) from `sim`'s synthetic publishers.
//!
//! Each test runs one sender → receiver `Link` and, where feedback matters, a
//! reverse `Link` with the same delay and jitter carrying RTCP (generic NACK,
//! PLI) back to the sender, which answers NACKs with RFC 4588 RTX from a
//! history and PLIs with a forced keyframe. Everything is seeded and driven
//! by simulated time, so a run takes the time its codecs take, not the time
//! it simulates. Each test prints a one-line summary of what it measured
//! (`cargo test --test jitter_outcomes -- --nocapture`).

mod jitter_harness;
use jitter_harness::*;
use rtmedia::sim::DriftClock;

// -------------------------------------------------------------- audio ---

/// 60 s of Opus speech over a path with 30 ms base delay each way (RTT
/// 60 ms), uniform jitter 0–30 ms on every packet (media, RTX, feedback; so
/// the forward network jitter's p95 is 28.5 ms), 5 % random loss each way,
/// NACK + RTX.
///
/// Goals: with two round trips reserved, residual loss ≤ 0.2 % at an added
/// delay (time each released packet spent in the buffer) p95 within the
/// reserve (see the bound below); with none (the default), added delay p95
/// ≤ jitter p95 + 20 ms, where jitter p95 is the p95 of the delay variation
/// of the packets as they reached the buffer (the stored copy of each
/// released packet, retransmissions included, above the fastest).
///
/// A retransmission arrives at best one RTT plus the reorder wait after the
/// gap shows, which is ~90–175 ms after the lost packet would have arrived;
/// a buffer whose delay stays near the network jitter cannot use it.
#[test]
fn audio_nack_rtx_keeps_residual_loss_low_at_bounded_delay() {
    run_audio_nack(2.0);
}

/// The same link with the default audio configuration, which reserves no
/// delay for retransmissions: the delay stays within the bound
/// (jitter p95 + 20 ms), and losses are left to Opus FEC and concealment.
#[test]
fn audio_default_delay_stays_within_jitter_plus_20ms() {
    run_audio_nack(0.0);
}

/// 60 s of Opus over the NACK link with `delay_rtts` round trips reserved.
fn run_audio_nack(delay_rtts: f64) {
    let link = LinkConfig {
        base_delay_us: 30_000,
        jitter: Jitter::Uniform { max_us: 30_000 },
        loss: Loss::Random { p: 0.05 },
        ..LinkConfig::default()
    };
    let publisher = OpusPublisher::new(OpusConfig {
        seed: 11,
        ..OpusConfig::default()
    })
    .unwrap();
    let mut config = with_rtx(audio_config(true), publisher.ssrc(), 111);
    config.nack.delay_rtts = delay_rtts;
    let mut sim = Sim::new(publisher, link, 11, config, true);
    sim.run(60_000_000);

    let sent = sim.log.len();
    let lost: Vec<usize> = sim
        .audio
        .iter()
        .filter_map(|(_, e)| match e {
            AudioOut::Lost { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    let residual = lost.len() as f64 / sent as f64;
    let mut net = relative_transits(&sim.log, |l| l.first_original);
    let mut arrivals = relative_transits(&sim.log, |l| l.stored.map(|s| s.0));
    // With a reserve, the first seconds hold the larger reserve a jitter not
    // yet measured needs (see `DelayEstimator::jitter_us`): the bound is on
    // the steady state, after 10 s.
    let settled = if delay_rtts > 0.0 { 10_000_000 } else { 0 };
    let mut added: Vec<u64> = sim
        .residence
        .iter()
        .filter(|r| r.0 >= settled)
        .map(|r| r.2)
        .collect();
    let jitter_p95 = percentile(&mut arrivals, 0.95);
    let added_p95 = percentile(&mut added, 0.95);
    let (samples, fec) = decode_audio(&sim.audio);
    let s = sim.jb.stats();
    println!(
        "audio nack+rtx, {delay_rtts} RTT reserved: sent {sent} dropped_by_link {} rtx_sent {} nacks {} residual {:.3}% \
         ({} lost, {fec} via FEC, {} arrived too late) | network jitter p95 {:.1} ms, arrival jitter p95 {:.1} ms, \
         added delay p95 {:.1} ms (goal <= {:.1}), target max {:.1} ms | samples {samples} \
         (60 s = {})",
        sim.fwd.stats().lost,
        sim.rtx.as_ref().unwrap().sent(),
        sim.nacks_sent,
        100.0 * residual,
        lost.len(),
        s.packets_discarded,
        ms(percentile(&mut net, 0.95)),
        ms(jitter_p95),
        ms(added_p95),
        ms(jitter_p95 + 20_000),
        ms(sim.target_max),
        48_000 * 60,
    );
    assert_contiguous(&sim.audio);
    assert_eq!(samples, sim.audio.len() * OPUS_FRAME_SAMPLES);
    assert!(
        samples.abs_diff(48_000 * 60) <= OPUS_FRAME_SAMPLES,
        "continuous audio"
    );
    assert_eq!(s.resets, 0);
    if delay_rtts >= 2.0 {
        // Recovering a loss whose first retransmission is lost too takes:
        // a packet interval and a jitter before the gap shows, the reorder
        // wait, and two round trips each with the jitter of both ways (a
        // retry waits for that, so as not to request a retransmission still
        // on its way). That, not the jitter alone, bounds the delay here.
        let rtt = 60_000;
        let reorder = sim.jb.reorder_wait_us();
        let bound = 20_000 + jitter_p95 + reorder + 2 * (rtt + 2 * jitter_p95) + 20_000;
        assert!(residual <= 0.002, "residual loss {:.3}%", 100.0 * residual);
        assert!(added_p95 <= bound, "added p95 {added_p95} > {bound}");
    } else {
        assert!(added_p95 <= jitter_p95 + 20_000, "added p95 {added_p95}");
        // What is not retransmitted in time is mostly rebuilt from FEC.
        assert!(residual <= 0.07, "residual loss {:.3}%", 100.0 * residual);
    }
}

/// Bursty loss (Gilbert–Elliott, 5 % in bursts of 4 on average), 1 %
/// duplicates, uniform jitter 0–20 ms with reordering, no retransmission:
/// every packet that did not make it is reported lost exactly once, and
/// nothing else is; nothing is released twice or out of order.
#[test]
fn audio_bursty_loss_is_reported_exactly_once() {
    let link = LinkConfig {
        base_delay_us: 30_000,
        jitter: Jitter::Uniform { max_us: 20_000 },
        loss: Loss::bursty(0.05, 4.0),
        duplicate: 0.01,
        ..LinkConfig::default()
    };
    let publisher = OpusPublisher::new(OpusConfig {
        seed: 12,
        distinct_frames: Some(250),
        ..OpusConfig::default()
    })
    .unwrap();
    let mut sim = Sim::new(publisher, link, 12, audio_config(false), false);
    sim.run(60_000_000);

    let first = index_of_event(&sim.audio[0].1);
    let last_arrived = sim.log.iter().rposition(|l| l.copies > 0).unwrap();
    let mut expected: Vec<usize> = (first..=last_arrived)
        .filter(|&i| sim.log[i].stored.is_none())
        .collect();
    let mut lost: Vec<usize> = sim
        .audio
        .iter()
        .filter_map(|(_, e)| match e {
            AudioOut::Lost { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    let dropped = sim.never_arrived().len();
    let late = expected.len() - sim.never_arrived().iter().filter(|&&i| i >= first).count();
    let released: Vec<usize> = sim
        .audio
        .iter()
        .filter_map(|(_, e)| match e {
            AudioOut::Packet { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    let s = sim.jb.stats();
    println!(
        "audio bursty: sent {} dropped_by_link {dropped} (link lost {}, duplicated {}) late {late} \
         lost_events {} concealment_events {} duplicates_seen {} released {} first {first} \
         last_arrived {last_arrived}",
        sim.log.len(),
        sim.fwd.stats().lost,
        sim.fwd.stats().duplicated,
        lost.len(),
        s.concealment_events,
        s.packets_duplicated,
        released.len(),
    );
    assert_contiguous(&sim.audio);
    assert!(released.windows(2).all(|w| w[0] < w[1]));
    expected.sort_unstable();
    lost.sort_unstable();
    assert_eq!(
        lost, expected,
        "Lost events are exactly the packets that never made it"
    );
    assert_eq!(s.packets_lost, lost.len() as u64);
    assert_eq!(index_of_event(&sim.audio.last().unwrap().1), last_arrived);
}

/// Ten minutes from a sender whose clock runs 200 ppm fast or slow (120 ms
/// over the run), uniform jitter 0–20 ms, 1 % random loss: the delay stays
/// bounded (target ≤ 30 ms, every packet ≤ 40 ms in the buffer), does not
/// creep (first and last minute's mean within 2 ms), no resets, and the only
/// losses are the link's.
#[test]
fn audio_sender_drift_keeps_delay_bounded() {
    for ppm in [200.0, -200.0] {
        let link = LinkConfig {
            base_delay_us: 30_000,
            jitter: Jitter::Uniform { max_us: 20_000 },
            loss: Loss::Random { p: 0.01 },
            ..LinkConfig::default()
        };
        let publisher = OpusPublisher::new(OpusConfig {
            seed: 13,
            drift: DriftClock { ppm },
            distinct_frames: Some(250),
            ..OpusConfig::default()
        })
        .unwrap();
        let mut sim = Sim::new(publisher, link, 13, audio_config(false), false);
        let minutes = 10;
        sim.run(minutes * 60_000_000);

        let mean_in = |from: u64, to: u64| {
            let v: Vec<u64> = sim
                .residence
                .iter()
                .filter(|r| (from..to).contains(&r.0))
                .map(|r| r.2)
                .collect();
            v.iter().sum::<u64>() as f64 / v.len() as f64
        };
        let first_minute = mean_in(0, 60_000_000);
        let last_minute = mean_in((minutes - 1) * 60_000_000, minutes * 60_000_000);
        let max_residence = sim.residence.iter().map(|r| r.2).max().unwrap();
        let mut lost: Vec<usize> = sim
            .audio
            .iter()
            .filter_map(|(_, e)| match e {
                AudioOut::Lost { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        lost.sort_unstable();
        let first = index_of_event(&sim.audio[0].1);
        let dropped: Vec<usize> = sim
            .never_arrived()
            .into_iter()
            .filter(|&i| i >= first)
            .collect();
        let s = sim.jb.stats();
        println!(
            "audio drift {ppm:+} ppm: sent {} lost {} (link dropped {}) discarded_late {} resets {} \
             | target max {:.1} ms, residence max {:.1} ms, mean first minute {:.2} ms, last \
             minute {:.2} ms",
            sim.log.len(),
            lost.len(),
            dropped.len(),
            s.packets_discarded,
            s.resets,
            ms(sim.target_max),
            ms(max_residence),
            first_minute / 1000.0,
            last_minute / 1000.0,
        );
        assert_contiguous(&sim.audio);
        assert_eq!(s.resets, 0);
        assert_eq!(lost, dropped, "no losses beyond the link's");
        // The target starts at the 40 ms initial delay and only falls from there.
        assert!(sim.target_max <= 40_000);
        assert!(max_residence <= 45_000);
        assert!((first_minute - last_minute).abs() <= 2_000.0);
    }
}

// -------------------------------------------------------------- video ---

/// What the released frames amounted to.
/// Real VP8 (320x180, 15 fps, 300 kbit/s) for 60 s, 30 ms base delay each
/// way, uniform jitter 0–30 ms, 2 % random loss each way, NACK + RTX: every
/// released frame decodes and at least 98 % of the frames are released.
#[test]
fn video_nack_rtx_releases_nearly_every_frame_decodable() {
    let link = LinkConfig {
        base_delay_us: 30_000,
        jitter: Jitter::Uniform { max_us: 30_000 },
        loss: Loss::Random { p: 0.02 },
        ..LinkConfig::default()
    };
    let mut sim = video_sim(link, 21, true);
    sim.run(60_000_000);
    let r = decode_video(&sim.video, sim.source.frames.len());
    let mut added: Vec<u64> = sim.residence.iter().map(|r| r.2).collect();
    let share = r.released as f64 / r.frames_sent as f64;
    let s = sim.jb.stats();
    println!(
        "video nack+rtx: frames sent {} released {} ({:.1} %) keyframes released {} \
         decode errors {} | packets {} dropped_by_link {} rtx_sent {} nacks {} \
         plis {} frames_dropped {} | added delay p95 {:.1} ms, target max {:.1} ms",
        r.frames_sent,
        r.released,
        100.0 * share,
        r.keyframes_released,
        r.decode_errors.len(),
        sim.log.len(),
        sim.fwd.stats().lost,
        sim.rtx.as_ref().unwrap().sent(),
        sim.nacks_sent,
        sim.plis_sent.len(),
        s.frames_dropped,
        ms(percentile(&mut added, 0.95)),
        ms(sim.target_max),
    );
    assert!(r.decode_errors.is_empty(), "{:?}", r.decode_errors);
    assert!(share >= 0.98, "released {:.1} % of frames", 100.0 * share);
}

/// Real VP8, 10 % bursty loss (bursts of 3 on average), no NACK: whatever
/// is released decodes (the buffer skips to the next keyframe), and
/// keyframe requests, answered by the publisher, are at least the
/// configured interval apart.
#[test]
fn video_bursty_loss_without_nack_skips_to_keyframes() {
    let link = LinkConfig {
        base_delay_us: 30_000,
        jitter: Jitter::Uniform { max_us: 10_000 },
        loss: Loss::bursty(0.10, 3.0),
        ..LinkConfig::default()
    };
    let mut sim = video_sim(link, 22, false);
    let interval = sim.jb.config().keyframe_request_interval_us;
    sim.run(30_000_000);
    let r = decode_video(&sim.video, sim.source.frames.len());
    let min_gap = sim
        .plis_sent
        .windows(2)
        .map(|w| w[1] - w[0])
        .min()
        .unwrap_or(u64::MAX);
    let keyframes_sent = sim.source.frames.iter().filter(|f| f.1).count();
    let s = sim.jb.stats();
    println!(
        "video bursty: frames sent {} released {} ({:.1} %) keyframes sent {keyframes_sent} \
         released {} | decode errors {} | plis {} (min gap {:.0} ms, interval {:.0} ms) \
         forced {} frames_dropped {} | packets {} dropped_by_link {}",
        r.frames_sent,
        r.released,
        100.0 * r.released as f64 / r.frames_sent as f64,
        r.keyframes_released,
        r.decode_errors.len(),
        sim.plis_sent.len(),
        ms(min_gap),
        ms(interval),
        sim.source.keyframes_forced,
        s.frames_dropped,
        sim.log.len(),
        sim.fwd.stats().lost,
    );
    assert!(r.decode_errors.is_empty(), "{:?}", r.decode_errors);
    assert!(
        !sim.plis_sent.is_empty(),
        "losses this heavy need keyframes"
    );
    assert!(min_gap >= interval, "keyframe requests rate-limited");
    assert_eq!(sim.plis_sent.len() as u64, s.keyframe_requests);
    assert!(keyframes_sent > 1, "the publisher answered");
}

/// Real VP8 over a lossless path whose jitter reorders packets within
/// frames (uniform 0–10 ms, then 0–30 ms): once the first keyframe is out
/// (within a second), every frame is released, and decodes.
#[test]
fn video_jitter_without_loss_drops_no_frame() {
    for (max_us, seed) in [(10_000, 23), (30_000, 24)] {
        let link = LinkConfig {
            base_delay_us: 30_000,
            jitter: Jitter::Uniform { max_us },
            ..LinkConfig::default()
        };
        let mut sim = video_sim(link, seed, false);
        sim.run(30_000_000);
        let r = decode_video(&sim.video, sim.source.frames.len());
        let startup = sim
            .video
            .first()
            .and_then(|f| sim.source.frames.iter().position(|s| s.0 == f.first_index))
            .unwrap_or(r.frames_sent);
        let s = sim.jb.stats();
        println!(
            "video jitter 0-{} ms, no loss: frames sent {} released {} ({:.1} %), first released \
             frame {startup} | frames_dropped {} plis {} packets too late {} | decode errors {}",
            max_us / 1000,
            r.frames_sent,
            r.released,
            100.0 * r.released as f64 / r.frames_sent as f64,
            s.frames_dropped,
            sim.plis_sent.len(),
            s.packets_discarded,
            r.decode_errors.len(),
        );
        assert!(r.decode_errors.is_empty(), "{:?}", r.decode_errors);
        assert!(startup <= 15, "first frame released within a second");
        assert_eq!(
            r.released,
            r.frames_sent - startup,
            "no frame dropped after startup"
        );
    }
}
