use super::*;

fn rates(scale: u64) -> LayerBitrates {
    let mut r = LayerBitrates::default();
    r.0[0] = [60_000 * scale, 90_000 * scale, 150_000 * scale, 0];
    r.0[1] = [200_000 * scale, 300_000 * scale, 500_000 * scale, 0];
    r.0[2] = [600_000 * scale, 900_000 * scale, 1_500_000 * scale, 0];
    r
}

fn track(priority: u8) -> TrackDemand {
    TrackDemand {
        priority,
        max_layer: Layer::new(2, 2),
        bitrates: rates(1),
        muted: false,
        keyframe_bytes: [0; MAX_SPATIAL],
    }
}

#[test]
fn no_upgrade_to_a_keyframe_the_link_cannot_carry_in_time() {
    let mut a = Allocator::new(AllocatorConfig::default(), 1);
    let mut t = [track(1)];
    // 40 KB keyframes on the top layer: 320 kbit, 213 ms at 1.5 Mbit/s.
    t[0].keyframe_bytes = [4_000, 12_000, 40_000];
    assert_eq!(
        a.allocate(1_500_000, &t, 0)[0].layer,
        Some(Layer::new(1, 2))
    );
    // At 3 Mbit/s it takes 107 ms: allowed.
    assert_eq!(
        a.allocate(3_000_000, &t, 100_000)[0].layer,
        Some(Layer::new(2, 2))
    );
    // Already there: staying costs no keyframe.
    let mut b = Allocator::new(AllocatorConfig::default(), 1);
    t[0].keyframe_bytes = [0; MAX_SPATIAL];
    assert_eq!(
        b.allocate(1_200_000, &t, 0)[0].layer,
        Some(Layer::new(2, 1))
    );
    t[0].keyframe_bytes = [4_000, 12_000, 40_000];
    assert_eq!(
        b.allocate(1_000_000, &t, 100_000)[0].layer,
        Some(Layer::new(2, 1))
    );
    // No limit when switched off.
    let mut c = Allocator::new(
        AllocatorConfig {
            max_keyframe_transfer_us: 0,
            ..Default::default()
        },
        1,
    );
    assert_eq!(
        c.allocate(1_500_000, &t, 0)[0].layer,
        Some(Layer::new(2, 2))
    );
}

/// The other tracks keep sending while a keyframe crosses: it gets what
/// they leave, not the whole estimate. Here the speaker's top layer
/// (1.5 Mbit/s) leaves 2 Mbit/s of 3.5 to a thumbnail whose 40 KB
/// keyframe then takes 160 ms (the whole estimate: 91 ms).
#[test]
fn a_keyframe_must_fit_in_what_the_other_tracks_leave() {
    let mut speaker = track(10);
    speaker.keyframe_bytes = [4_000, 12_000, 20_000];
    let mut thumbnail = track(1);
    thumbnail.keyframe_bytes = [4_000, 12_000, 40_000];
    let t = [speaker, thumbnail];
    let mut a = Allocator::new(AllocatorConfig::default(), 2);
    let got = a.allocate(3_500_000, &t, 0);
    assert_eq!(got[0].layer, Some(Layer::new(2, 2)));
    assert_eq!(got[1].layer, Some(Layer::new(1, 2)));
    // What the next step needs: the keyframe's 2.13 Mbit/s for 150 ms
    // beside the speaker's 1.5 Mbit/s.
    assert_eq!(a.wanted_bps(), Some(3_633_333));
    // At 4.3 Mbit/s the speaker leaves 2.8: 114 ms, allowed.
    let got = a.allocate(4_300_000, &t, 100_000);
    assert_eq!(got[1].layer, Some(Layer::new(2, 2)));
}

/// A collapse from the top layer to 250 kbit/s: s1's base layer (200
/// kbit/s) fits the rate, but its 12 kB keyframe takes 384 ms to cross
/// the link; the track goes to s0, whose keyframe is the least a switch
/// can send (before: (1,0)).
#[test]
fn a_down_switch_skips_a_layer_whose_keyframe_does_not_fit_in_time() {
    let mut a = Allocator::new(AllocatorConfig::default(), 1);
    let mut t = [track(1)];
    t[0].keyframe_bytes = [4_000, 12_000, 40_000];
    assert_eq!(
        a.allocate(3_000_000, &t, 0)[0].layer,
        Some(Layer::new(2, 2))
    );
    assert_eq!(
        a.allocate(250_000, &t, 100_000)[0].layer,
        Some(Layer::new(0, 2))
    );
    // s0's own keyframe does not fit either (4 kB at 150 kbit/s, 213
    // ms): the lowest layer is where a track goes when nothing else does.
    let mut b = Allocator::new(AllocatorConfig::default(), 1);
    b.allocate(3_000_000, &t, 0);
    assert_eq!(
        b.allocate(150_000, &t, 100_000)[0].layer,
        Some(Layer::new(0, 2))
    );
}

#[test]
fn priority_first_then_the_rest() {
    let mut a = Allocator::new(AllocatorConfig::default(), 4);
    let tracks = [track(1), track(9), track(1)];
    let got = a.allocate(2_000_000, &tracks, 0).to_vec();
    // Everyone gets 60 kbit/s first; the stage track climbs to what is left.
    assert_eq!(got[1].layer, Some(Layer::new(2, 2)), "{got:?}");
    // Then the others in turn, with what is left: 1.5 M + 300 k + 200 k.
    assert_eq!(got[0].layer, Some(Layer::new(1, 1)), "{got:?}");
    assert_eq!(got[2].layer, Some(Layer::new(1, 0)), "{got:?}");
    assert_eq!(got.iter().map(|a| a.bitrate).sum::<u64>(), 2_000_000);
}

#[test]
fn too_little_pauses_the_lowest_priority() {
    let mut a = Allocator::new(AllocatorConfig::default(), 4);
    let got = a.allocate(100_000, &[track(1), track(5)], 0).to_vec();
    assert_eq!(got[1].layer, Some(Layer::new(0, 1)));
    assert_eq!(got[0].layer, None);
}

#[test]
fn hysteresis_no_oscillation() {
    let mut a = Allocator::new(AllocatorConfig::default(), 2);
    let t = [track(1)];
    assert_eq!(
        a.allocate(1_000_000, &t, 0)[0].layer,
        Some(Layer::new(2, 1))
    );
    // Small wobble: nothing changes.
    for (i, e) in [960_000, 1_050_000, 940_000, 1_080_000]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            a.allocate(e, &t, 100_000 * (i as u64 + 1))[0].layer,
            Some(Layer::new(2, 1))
        );
    }
    // A real drop: downgrade now.
    assert_eq!(
        a.allocate(600_000, &t, 1_000_000)[0].layer,
        Some(Layer::new(2, 0))
    );
    // Back up at once: held for 5 s.
    assert_eq!(
        a.allocate(2_000_000, &t, 2_000_000)[0].layer,
        Some(Layer::new(2, 0))
    );
    assert_eq!(
        a.allocate(2_000_000, &t, 6_100_000)[0].layer,
        Some(Layer::new(2, 2))
    );
}

#[test]
fn a_spatial_upgrade_needs_headroom_so_the_layers_wobble_does_not_take_it_back() {
    // The allocation is 0/2 (150 k); the estimate, 205 k, barely covers
    // 1/0 (200 k). Upgrading would cost a keyframe and be taken back at
    // the next allocation when 1/0 sends 210 k (encoders overshoot).
    let mut a = Allocator::new(AllocatorConfig::default(), 1);
    let mut t = [track(1)];
    t[0].max_layer = Layer::new(1, 2);
    assert_eq!(a.allocate(180_000, &t, 0)[0].layer, Some(Layer::new(0, 2)));
    let layers: Vec<_> = [205_000, 205_000]
        .into_iter()
        .zip([200_000, 210_000])
        .enumerate()
        .map(|(i, (estimate, rate))| {
            t[0].bitrates.0[1][0] = rate;
            a.allocate(estimate, &t, 200_000 * (i as u64 + 1))[0].layer
        })
        .collect();
    assert_eq!(layers, [Some(Layer::new(0, 2)); 2], "no up-and-down");
    // With min_change (10 %) to spare it goes up, and a wobble of the
    // layer's rate within that keeps it there.
    t[0].bitrates.0[1][0] = 200_000;
    assert_eq!(
        a.allocate(230_000, &t, 600_000)[0].layer,
        Some(Layer::new(1, 0))
    );
    t[0].bitrates.0[1][0] = 215_000;
    assert_eq!(
        a.allocate(225_000, &t, 800_000)[0].layer,
        Some(Layer::new(1, 0))
    );
}

#[test]
fn a_paused_track_resumes_when_its_layers_get_cheaper() {
    let mut a = Allocator::new(AllocatorConfig::default(), 1);
    let mut t = [track(1)];
    t[0].bitrates = rates(10); // a keyframe burst at the start
    assert_eq!(a.allocate(300_000, &t, 0)[0].layer, None);
    t[0].bitrates = rates(1);
    assert_eq!(
        a.allocate(300_000, &t, 100_000)[0].layer,
        Some(Layer::new(1, 1))
    );
}

#[test]
fn a_stopped_layer_is_left_at_once_and_does_not_hold() {
    let mut a = Allocator::new(AllocatorConfig::default(), 1);
    let mut t = [track(1)];
    assert_eq!(
        a.allocate(5_000_000, &t, 0)[0].layer,
        Some(Layer::new(2, 2))
    );
    t[0].bitrates.0[2] = [0; 4];
    assert_eq!(
        a.allocate(5_000_000, &t, 10)[0].layer,
        Some(Layer::new(1, 2))
    );
    t[0].bitrates = rates(1);
    assert_eq!(
        a.allocate(5_000_000, &t, 20)[0].layer,
        Some(Layer::new(2, 2))
    );
    t[0].muted = true;
    assert_eq!(a.allocate(5_000_000, &t, 30)[0].layer, None);
}

fn probe_mode() -> Allocator {
    Allocator::new(
        AllocatorConfig {
            probe_confirmed_upgrades: true,
            ..AllocatorConfig::default()
        },
        2,
    )
}

#[test]
fn probe_mode_downgrades_at_once_and_upgrades_only_when_a_probe_confirms() {
    let mut a = probe_mode();
    let t = [track(1)];
    assert_eq!(
        a.allocate(1_600_000, &t, 0)[0].layer,
        Some(Layer::new(2, 2))
    );
    // Nothing left to upgrade: nothing to probe for.
    assert_eq!(a.wanted_bps(), None);
    // A drop of a third: the next call downgrades.
    assert_eq!(
        a.allocate(1_000_000, &t, 100_000)[0].layer,
        Some(Layer::new(2, 1))
    );
    assert_eq!(a.confirmed_bps(), Some(1_000_000));
    // The next step (2/2, 1.5 M) is what to probe for.
    assert_eq!(a.wanted_bps(), Some(1_500_000));
    // The estimate climbs back without a probe: capped.
    assert_eq!(
        a.allocate(1_700_000, &t, 200_000)[0].layer,
        Some(Layer::new(2, 1))
    );
    // A probe that gets only 1.2 M through confirms nothing new.
    a.on_probe_result(1_200_000);
    assert_eq!(
        a.allocate(1_700_000, &t, 300_000)[0].layer,
        Some(Layer::new(2, 1))
    );
    // One at 1.6 M does, long before the 5 s timer hold would end.
    a.on_probe_result(1_600_000);
    assert_eq!(
        a.allocate(1_700_000, &t, 400_000)[0].layer,
        Some(Layer::new(2, 2))
    );
}

#[test]
fn probe_mode_cap_ends_with_the_hold_when_no_probe_comes() {
    let mut a = probe_mode();
    let t = [track(1)];
    a.allocate(1_600_000, &t, 0);
    a.allocate(700_000, &t, 100_000);
    assert_eq!(a.allocations()[0].layer, Some(Layer::new(2, 0)));
    assert_eq!(
        a.allocate(1_600_000, &t, 5_000_000)[0].layer,
        Some(Layer::new(2, 0))
    );
    assert_eq!(
        a.allocate(1_600_000, &t, 5_200_000)[0].layer,
        Some(Layer::new(2, 2))
    );
    assert_eq!(a.confirmed_bps(), None);
}

#[test]
fn without_probe_mode_probe_results_change_nothing() {
    let mut a = Allocator::new(AllocatorConfig::default(), 1);
    let t = [track(1)];
    a.allocate(1_600_000, &t, 0);
    a.allocate(1_000_000, &t, 100_000);
    a.on_probe_result(5_000_000);
    assert_eq!(a.confirmed_bps(), None);
    assert_eq!(
        a.allocate(1_700_000, &t, 200_000)[0].layer,
        Some(Layer::new(2, 1)),
        "the timer hold still applies"
    );
}

#[test]
fn wanted_covers_the_next_keyframe_too() {
    let mut a = probe_mode();
    let mut t = [track(1)];
    // 40 KB top-layer keyframes: the step to 2/x needs 320 kbit in
    // 150 ms, 2.13 Mbit/s, more than its bitrate.
    t[0].keyframe_bytes = [4_000, 12_000, 40_000];
    assert_eq!(
        a.allocate(1_000_000, &t, 0)[0].layer,
        Some(Layer::new(1, 2))
    );
    assert_eq!(a.wanted_bps(), Some(2_133_333));
}

/// An upgrade to s1 is decided, and the estimate collapses before s1's
/// keyframe has come: the subscriber still receives s0, so staying on s1
/// is a switch whose 12 kB keyframe takes 384 ms at 250 kbit/s. Told what
/// is forwarded, the allocator keeps s0; without, the last allocation
/// stands for it and s1 stays.
#[test]
fn a_pending_upgrade_is_a_switch_for_the_keyframe_limit() {
    let mut t = [track(1)];
    t[0].max_layer = Layer::new(1, 2);
    t[0].keyframe_bytes = [4_000, 12_000, 40_000];
    let mut a = Allocator::new(AllocatorConfig::default(), 1);
    assert_eq!(a.allocate(400_000, &t, 0)[0].layer, Some(Layer::new(0, 2)));
    a.set_forwarded_layer(0, Some(Layer::new(0, 2)));
    assert_eq!(
        a.allocate(1_200_000, &t, 100_000)[0].layer,
        Some(Layer::new(1, 2))
    );
    let wanted_when_told = a.wanted_bps();
    // The forwarder still waits for s1's keyframe.
    a.set_forwarded_layer(0, Some(Layer::new(0, 2)));
    assert_eq!(
        a.allocate(250_000, &t, 200_000)[0].layer,
        Some(Layer::new(0, 2))
    );
    // Once s1 is forwarded, staying costs nothing.
    let mut b = Allocator::new(AllocatorConfig::default(), 1);
    b.allocate(1_200_000, &t, 0);
    b.set_forwarded_layer(0, Some(Layer::new(1, 2)));
    assert_eq!(
        b.allocate(250_000, &t, 100_000)[0].layer,
        Some(Layer::new(1, 0))
    );
    // Not told: the last allocation counts as forwarded (as before).
    let mut c = Allocator::new(AllocatorConfig::default(), 1);
    c.allocate(400_000, &t, 0);
    c.allocate(1_200_000, &t, 100_000);
    // What to probe for follows the allocation either way: the decided
    // switch's keyframe is asked for already (counting it again asked for
    // probes a collapsed link could not carry).
    assert_eq!(c.wanted_bps(), wanted_when_told);
    assert_eq!(
        c.allocate(250_000, &t, 200_000)[0].layer,
        Some(Layer::new(1, 0))
    );
    // An index beyond the allocator's tracks is ignored.
    c.set_forwarded_layer(5, None);
}
