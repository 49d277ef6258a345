//! The readable report and the quality goals. Everything printed is
//! computed here from the finished meeting; nothing in the simulation
//! depends on it.

use crate::meeting::Meeting;
use crate::scenario::NetProfile;
use crate::subscriber::{Freeze, FREEZE_MARGIN_US};

/// A freeze is blamed on a switch when the SFU switched (or decided to
/// switch) this subscription's spatial layer between this long before the
/// last frame before the freeze was rendered (the old layer's last frames
/// were still crossing the link and the jitter buffer) and the moment the
/// next frame was due. A decision taken later, during the freeze, cannot
/// have caused it.
const SWITCH_BLAME_US: u64 = 500_000;

pub struct Goal {
    pub name: String,
    pub measured: String,
    pub pass: bool,
}

fn percentile(values: &[u64], q: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn ms(us: u64) -> String {
    format!("{:.0} ms", us as f64 / 1000.0)
}

fn describe(p: &NetProfile) -> String {
    use rtmedia::sim::{Jitter, Loss};
    let loss = match p.link.loss {
        Loss::None => "no loss".to_string(),
        Loss::Random { p } => format!("{:.1} % random loss", p * 100.0),
        Loss::GilbertElliott { .. } => "3 % bursty loss (Gilbert-Elliott)".to_string(),
    };
    let jitter = match p.link.jitter {
        Jitter::None => "no jitter".to_string(),
        Jitter::Uniform { max_us } => format!("jitter 0-{}", ms(max_us)),
        Jitter::HalfNormal { std_us } => format!("half-normal jitter σ {}", ms(std_us)),
        Jitter::Exponential { mean_us } => format!("exponential jitter mean {}", ms(mean_us)),
    };
    let bw = p.link.bandwidth_bps.map_or("uncapped".into(), |b| {
        format!("{:.1} Mbit/s", b as f64 / 1e6)
    });
    let trace = match p.trace {
        crate::scenario::Trace::Constant => String::new(),
        crate::scenario::Trace::Dip { low_bps, from, to } => format!(
            ", {} kbit/s from {:.0} % to {:.0} % of the meeting",
            low_bps / 1000,
            from * 100.0,
            to * 100.0
        ),
    };
    format!(
        "{} delay, {jitter}, {loss}, {bw}{trace}",
        ms(p.link.base_delay_us)
    )
}

/// Whether a freeze of subscriber `i`'s track `j` coincides with a switch.
fn switch_caused(m: &Meeting, i: usize, j: usize, f: &Freeze) -> bool {
    let sub = &m.sfu.subscribers[i].subs[j];
    sub.decided_us
        .iter()
        .chain(&sub.switched_us)
        .any(|&t| t + SWITCH_BLAME_US >= f.start_us && t <= f.start_us + f.nominal_us)
}

pub fn print(m: &Meeting) {
    let p = &m.preset;
    println!(
        "rtmedia conference: {} publishers, {} subscribers",
        p.publishers,
        p.subscribers.len()
    );
    println!(
        "preset {}, seed {}, {:.1} s of meeting in {:.2} s of wall time (step {} ms)",
        p.name,
        m.seed,
        p.seconds,
        m.wall.as_secs_f64(),
        p.step_us as f64 / 1000.0
    );
    if p.uplink_reordering {
        println!(
            "publishers' uplinks reorder the packets they send together (--uplink-reordering)"
        );
    }
    if let Some(f) = m.oracle {
        println!(
            "DIAGNOSTIC --oracle {f}: every subscriber's estimate is capped at {:.0} % of its link's true capacity; the congestion-control figures are not rtmedia's estimator's",
            f * 100.0
        );
    }
    let sizes: Vec<String> = p
        .layers
        .iter()
        .map(|l| format!("{}x{}", l.width, l.height))
        .collect();
    println!(
        "video: VP8 simulcast {} at {} fps, L1T3; audio: Opus 20 ms; every leg SRTP AEAD_AES_128_GCM\n",
        sizes.join("/"),
        p.fps
    );

    println!("Publishers (layers sent over the whole meeting)");
    for (k, pb) in m.publishers.iter().enumerate() {
        let layers: Vec<String> = (0..p.layers.len())
            .map(|s| {
                format!(
                    "s{s} {} fr {} kb/s {} key",
                    pb.frames[s],
                    pb.bytes[s] * 8 / 1000 / (p.seconds.max(0.001) as u64).max(1),
                    pb.keyframes[s]
                )
            })
            .collect();
        println!(
            "  video {k}: {} | PLIs received {}",
            layers.join(" | "),
            pb.plis_received
        );
    }

    println!(
        "\nSubscribers (freeze: gap between rendered frames > nominal interval + {}, nominal = median of the previous 8 gaps)",
        ms(FREEZE_MARGIN_US)
    );
    for (i, sub) in m.subscribers.iter().enumerate() {
        let state = &m.sfu.subscribers[i];
        let link = m.sfu.to_subscribers[i].link().stats();
        let unrecovered: u64 = sub
            .tracks
            .iter()
            .map(|t| t.jitter.stats().packets_lost)
            .sum();
        // NACKs for packets sent again less than a round trip before.
        let in_flight: u64 = (0..state.subs.len())
            .map(|j| m.sfu.forwarder(i, j).stats().nacks_in_flight)
            .sum();
        println!("  {} ({})", sub.profile.name, describe(&sub.profile));
        println!(
            "    link: {} packets sent, {} lost + {} queue drops; NACKed {} seqs, {} retransmitted, {} skipped (in flight); unrecovered after NACK {}; audio packets {}",
            link.sent, link.lost, link.queue_drops, sub.nacks_sent, state.retransmitted, in_flight, unrecovered, sub.audio_packets
        );
        for (j, t) in sub.tracks.iter().enumerate() {
            let fwd = m.sfu.forwarder(i, j).stats();
            let total: u64 = t.layer_time_us.iter().sum::<u64>().max(1);
            let share: Vec<String> = t
                .layer_time_us
                .iter()
                .take(p.layers.len())
                .enumerate()
                .map(|(s, &us)| format!("s{s} {:>3.0}%", us as f64 * 100.0 / total as f64))
                .collect();
            let longest = t.freezes.iter().map(Freeze::duration_us).max().unwrap_or(0);
            let by_switch = t
                .freezes
                .iter()
                .filter(|f| switch_caused(m, i, j, f))
                .count();
            println!(
                "    video {j}: on screen {} | spatial switches {} (decided {}) | freezes {} ({} at a switch), longest {} | decoded {} ({} key), errors {} | jb delay p50 {} p95 {} (added after the frame is complete: p95 {})",
                share.join(" "),
                fwd.spatial_switches,
                m.sfu.subscribers[i].subs[j].decided_us.len(),
                t.freezes.len(),
                by_switch,
                ms(longest),
                t.frames_decoded,
                t.keyframes_decoded,
                t.decode_errors,
                ms(percentile(&t.jb_delay_us, 0.5)),
                ms(percentile(&t.jb_delay_us, 0.95)),
                ms(percentile(&t.jb_added_us, 0.95)),
            );
        }
    }

    let room = &m.room;
    let stats = room.mixer().stats();
    let mut speakers: Vec<usize> = room.changes.iter().map(|c| c.to).collect();
    speakers.sort_unstable();
    speakers.dedup();
    let tick_us: Vec<u64> = room.tick_ns.iter().map(|n| n / 1000).collect();
    println!("\nMixer");
    println!(
        "  {} participants, {} ticks of {} expected, {} incomplete; {} decodes, {} encodes, {} concealed, {} FEC, {} drift skips",
        room.mixer().len(),
        stats.ticks,
        m.expected_ticks,
        room.incomplete_ticks,
        stats.decodes,
        stats.encodes,
        stats.concealed_frames,
        stats.fec_frames,
        stats.drift_skips
    );
    let changes: Vec<String> = room
        .changes
        .iter()
        .map(|c| {
            let from = c.from.map_or("-".into(), |f| f.to_string());
            format!("{:.1}s {from}→{}", c.at_us as f64 / 1e6, c.to)
        })
        .collect();
    println!(
        "  speakers detected (ever dominant): {:?}; dominant changes {}: {}",
        speakers,
        room.changes.len(),
        changes.join(" ")
    );
    println!(
        "  tick CPU: median {} µs, p99 {} µs, max {} µs; taps: {} s of 16 kHz per speaker",
        percentile(&tick_us, 0.5),
        percentile(&tick_us, 0.99),
        tick_us.iter().max().unwrap_or(&0),
        room.taps.first().map_or(0.0, |t| t.len() as f64 / 16_000.0)
    );

    let legs = m
        .publishers
        .iter()
        .map(|p| &p.up)
        .chain(m.subscribers.iter().map(|s| &s.up))
        .chain(&m.sfu.to_subscribers)
        .chain(&m.sfu.to_publishers);
    let (mut protected, mut unprotected, mut auth, mut replayed) = (0, 0, 0, 0);
    for leg in legs {
        protected += leg.tx_stats().rtp_protected + leg.tx_stats().rtcp_protected;
        let rx = leg.rx_stats();
        unprotected += rx.rtp_unprotected + rx.rtcp_unprotected;
        auth += rx.auth_failures;
        replayed += rx.replayed;
    }
    println!("\nSRTP");
    println!(
        "  {protected} packets protected, {unprotected} unprotected, {auth} auth failures, {replayed} replays dropped (link duplicates / late retransmissions)"
    );
}

pub fn goals(m: &Meeting) -> Vec<Goal> {
    let mut goals = Vec::new();
    let mut errors = 0;
    let mut silent = Vec::new();
    for (i, sub) in m.subscribers.iter().enumerate() {
        for (j, t) in sub.tracks.iter().enumerate() {
            errors += t.decode_errors;
            if t.frames_decoded == 0 {
                silent.push(format!("{}/video {j}", m.subscribers[i].profile.name));
            }
        }
    }
    goals.push(Goal {
        name: "every forwarded video decodes, without error".into(),
        measured: format!(
            "{errors} decode errors, {} streams never decoded {silent:?}",
            silent.len()
        ),
        pass: errors == 0 && silent.is_empty(),
    });

    let mut switch_freezes = Vec::new();
    for (i, sub) in m
        .subscribers
        .iter()
        .enumerate()
        .filter(|(_, s)| s.profile.freeze_goal)
    {
        for (j, t) in sub.tracks.iter().enumerate() {
            for f in t.freezes.iter().filter(|f| switch_caused(m, i, j, f)) {
                switch_freezes.push(format!(
                    "{}/video {j} {} at {:.2}s",
                    sub.profile.name,
                    ms(f.duration_us()),
                    f.start_us as f64 / 1e6
                ));
            }
        }
    }
    let names: Vec<&str> = m
        .subscribers
        .iter()
        .filter(|s| s.profile.freeze_goal)
        .map(|s| s.profile.name)
        .collect();
    goals.push(Goal {
        name: format!("no freeze caused by a switch on {}", names.join("/")),
        measured: format!("{} {switch_freezes:?}", switch_freezes.len()),
        pass: switch_freezes.is_empty(),
    });

    let per_source: Vec<String> = m
        .sfu
        .tracks
        .iter()
        .map(|t| {
            format!(
                "{} PLIs/{}+{}",
                t.plis_sent, t.switch_requests, t.recovery_requests
            )
        })
        .collect();
    goals.push(Goal {
        name: "at most one keyframe request per switch, per source (PLIs sent / switch decisions + subscriber PLIs)".into(),
        measured: per_source.join(", "),
        pass: m.sfu.tracks.iter().all(|t| t.plis_sent <= t.switch_requests + t.recovery_requests),
    });

    let joins: Vec<String> = m
        .sfu
        .tracks
        .iter()
        .map(|t| {
            let j = t.late_join;
            format!(
                "{} (keyframe {} old) first frame {} PLIs {}",
                if j.from_history { "history" } else { "waited" },
                j.keyframe_age_us.map_or("never".into(), ms),
                j.first_frame_us.map_or("never".into(), ms),
                j.plis
            )
        })
        .collect();
    goals.push(Goal {
        name: format!(
            "a late joiner (thumbnail, at {:.0} s) starts from the history when its keyframe is at most {} old: no PLI, first frame at once",
            crate::sfu::LATE_JOIN_AT_US as f64 / 1e6,
            ms(rtmedia::simulcast::TrackConfig::default().max_history_start_us)
        ),
        measured: joins.join(", "),
        pass: m.sfu.tracks.iter().all(|t| {
            let j = t.late_join;
            !j.from_history || (j.plis == 0 && j.first_frame_us.is_some_and(|us| us < 50_000))
        }),
    });

    let checks = m
        .sfu
        .subscribers
        .iter()
        .flat_map(|s| s.subs.iter().map(|x| &x.check));
    let (mut gaps, mut cuts, mut disorder, mut regress, mut packets) = (0, 0, 0, 0, 0);
    let mut reordered = 0;
    for c in checks.clone() {
        reordered += c.reordered;
        gaps += c.unexplained_gaps;
        cuts += c.cut_gaps;
        disorder += c.out_of_order;
        regress += c.timestamp_regressions;
        packets += c.packets;
    }
    goals.push(Goal {
        name: "SFU output: sequence numbers gapless, timestamps increasing per frame".into(),
        measured: format!(
            "{packets} packets: {gaps} missing, {disorder} out of order, {regress} timestamp regressions ({cuts} numbers left out on purpose, of frames a switch cut short; {reordered} sent after a higher number, as the publisher's uplink reordered them)"
        ),
        pass: checks.into_iter().all(|c| c.passes()),
    });

    let room = &m.room;
    let ticks = room.mixer().stats().ticks;
    goals.push(Goal {
        name: "audio: the mixer produced every tick".into(),
        measured: format!(
            "{ticks} of {} ticks, {} incomplete",
            m.expected_ticks, room.incomplete_ticks
        ),
        pass: ticks == m.expected_ticks && room.incomplete_ticks == 0,
    });
    goals
}

pub fn print_goals(goals: &[Goal]) {
    println!("\nQuality goals");
    for g in goals {
        println!(
            "  [{}] {}: {}",
            if g.pass { "PASS" } else { "FAIL" },
            g.name,
            g.measured
        );
    }
}
