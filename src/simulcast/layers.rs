//! What each layer of a source is doing: bitrate per spatial×temporal layer
//! over the last second (keyframes averaged over five), whether each spatial layer is alive (media, not
//! padding, within the inactivity timeout), and its frame interval.

use super::{Layer, MAX_SPATIAL, MAX_TEMPORAL};

/// Bitrate window: `BUCKETS` buckets of `BUCKET_US`.
const BUCKETS: usize = 10;
const BUCKET_US: u64 = 100_000;
/// Keyframe bytes are averaged over a longer window, `KEY_BUCKETS` of
/// `KEY_BUCKET_US` (5 s): a keyframe is a one-off, and counted over one
/// second it doubled a thumbnail layer's rate (57 -> 99 kbit/s on the
/// conference's s0) right after a switch or a resume asked for it, so the
/// allocator paused the track it had just resumed, whose next resume asked
/// for another keyframe (mobile link at 400 kbit/s: tracks alternating
/// between paused and sent every 100-300 ms).
const KEY_BUCKETS: usize = 10;
const KEY_BUCKET_US: u64 = 500_000;

/// Cumulative bitrate in bits/s of each layer (temporal `t` includes TIDs
/// `0..=t`); 0 for a layer that is not alive or has not been measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerBitrates(pub [[u64; MAX_TEMPORAL]; MAX_SPATIAL]);

impl LayerBitrates {
    pub fn get(&self, layer: Layer) -> u64 {
        self.0
            .get(usize::from(layer.spatial))
            .and_then(|s| s.get(usize::from(layer.temporal)))
            .copied()
            .unwrap_or(0)
    }

    /// Whether the layer is alive (has a measured bitrate).
    pub fn is_alive(&self, layer: Layer) -> bool {
        self.get(layer) > 0
    }

    /// Highest temporal layer of `spatial` that is alive.
    pub fn top_temporal(&self, spatial: u8) -> Option<u8> {
        (0..MAX_TEMPORAL as u8)
            .rev()
            .find(|&t| self.is_alive(Layer::new(spatial, t)))
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct SpatialMeter {
    bytes: [[u64; BUCKETS]; MAX_TEMPORAL],
    /// Media packets per bucket (all temporal layers).
    packets: [u32; BUCKETS],
    /// Bucket index (time / BUCKET_US) each slot currently holds.
    bucket_of: [u64; BUCKETS],
    first_media_us: Option<u64>,
    pub last_media_us: Option<u64>,
    /// Highest TID seen (temporal layers the encoder uses).
    pub max_tid: u8,
    last_frame_ts: Option<u32>,
    last_frame_us: u64,
    /// Smoothed interval between frames, microseconds.
    pub frame_interval_us: u64,
    /// Timestamp and bytes so far of the keyframe being received.
    keyframe_in_progress: Option<(u32, u64)>,
    /// Bytes of the last complete keyframe (0 before one is seen).
    pub keyframe_bytes: u64,
    /// Keyframe bytes per long bucket, and the bucket each slot holds.
    key_bytes: [u64; KEY_BUCKETS],
    key_bucket_of: [u64; KEY_BUCKETS],
}

impl SpatialMeter {
    /// Adds a packet to the keyframe size measurement: a keyframe's size is
    /// the bytes of all packets with its timestamp, known when the next frame
    /// starts.
    pub fn on_keyframe_bytes(&mut self, keyframe_start: bool, bytes: usize, timestamp: u32) {
        match &mut self.keyframe_in_progress {
            Some((ts, total)) if *ts == timestamp => *total += bytes as u64,
            Some((_, total)) if !keyframe_start => {
                self.keyframe_bytes = *total;
                self.keyframe_in_progress = None;
            }
            _ => {}
        }
        if keyframe_start {
            if let Some((ts, total)) = self.keyframe_in_progress {
                if ts != timestamp {
                    self.keyframe_bytes = total;
                }
            }
            self.keyframe_in_progress = Some((timestamp, bytes as u64));
        }
    }

    /// Counts a media packet (padding-only packets are not counted).
    pub fn on_media(&mut self, now: u64, tid: u8, bytes: usize, timestamp: u32) {
        let bucket = now / BUCKET_US;
        let slot = (bucket % BUCKETS as u64) as usize;
        if self.bucket_of[slot] != bucket {
            self.bucket_of[slot] = bucket;
            for t in &mut self.bytes {
                t[slot] = 0;
            }
            self.packets[slot] = 0;
        }
        self.packets[slot] = self.packets[slot].saturating_add(1);
        let tid = usize::from(tid).min(MAX_TEMPORAL - 1);
        let in_keyframe = self
            .keyframe_in_progress
            .is_some_and(|(ts, _)| ts == timestamp);
        if in_keyframe {
            let bucket = now / KEY_BUCKET_US;
            let slot = (bucket % KEY_BUCKETS as u64) as usize;
            if self.key_bucket_of[slot] != bucket {
                self.key_bucket_of[slot] = bucket;
                self.key_bytes[slot] = 0;
            }
            self.key_bytes[slot] += bytes as u64;
        } else {
            self.bytes[tid][slot] += bytes as u64;
        }
        self.max_tid = self.max_tid.max(tid as u8);
        self.first_media_us.get_or_insert(now);
        self.last_media_us = Some(now);
        if self.last_frame_ts != Some(timestamp) {
            if self.last_frame_ts.is_some() {
                let gap = now.saturating_sub(self.last_frame_us).min(2_000_000);
                self.frame_interval_us = if self.frame_interval_us == 0 {
                    gap
                } else {
                    (self.frame_interval_us * 7 + gap) / 8
                };
            }
            self.last_frame_ts = Some(timestamp);
            self.last_frame_us = now;
        }
    }

    pub fn is_alive(&self, now: u64, inactive_after_us: u64) -> bool {
        self.last_media_us
            .is_some_and(|t| now.saturating_sub(t) < inactive_after_us)
    }

    /// Media packets per second over the window (all temporal layers).
    pub fn packet_rate(&self, now: u64) -> u64 {
        let Some(first) = self.first_media_us else {
            return 0;
        };
        let current = now / BUCKET_US;
        let oldest = current.saturating_sub(BUCKETS as u64 - 1);
        let span_us = (now - first.min(now)).clamp(BUCKET_US, BUCKETS as u64 * BUCKET_US);
        let total: u64 = (0..BUCKETS)
            .filter(|&s| (oldest..=current).contains(&self.bucket_of[s]))
            .map(|s| u64::from(self.packets[s]))
            .sum();
        total * 1_000_000 / span_us
    }

    /// Cumulative bitrates of the temporal layers, bits/s.
    pub fn bitrates(&self, now: u64) -> [u64; MAX_TEMPORAL] {
        let mut out = [0; MAX_TEMPORAL];
        let Some(first) = self.first_media_us else {
            return out;
        };
        let current = now / BUCKET_US;
        let oldest = current.saturating_sub(BUCKETS as u64 - 1);
        // Measure over the full window, or since the first packet if shorter
        // (at least one bucket, so one packet is not an enormous rate).
        let span_us = (now - first.min(now)).clamp(BUCKET_US, BUCKETS as u64 * BUCKET_US);
        let key_current = now / KEY_BUCKET_US;
        let key_oldest = key_current.saturating_sub(KEY_BUCKETS as u64 - 1);
        let key_span_us =
            (now - first.min(now)).clamp(BUCKET_US, KEY_BUCKETS as u64 * KEY_BUCKET_US);
        let key_bits: u64 = (0..KEY_BUCKETS)
            .filter(|&s| (key_oldest..=key_current).contains(&self.key_bucket_of[s]))
            .map(|s| self.key_bytes[s])
            .sum::<u64>()
            * 8;
        let key_rate = key_bits * 1_000_000 / key_span_us;
        let mut sum = 0;
        for (t, total) in out.iter_mut().enumerate() {
            for slot in 0..BUCKETS {
                let b = self.bucket_of[slot];
                if b >= oldest && b <= current {
                    sum += self.bytes[t][slot];
                }
            }
            *total = sum * 8 * 1_000_000 / span_us + key_rate;
        }
        // A temporal layer the encoder does not use is not a layer.
        for (t, total) in out.iter_mut().enumerate() {
            if t > usize::from(self.max_tid) {
                *total = 0;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframe_size_is_known_when_the_next_frame_starts() {
        let mut m = SpatialMeter::default();
        m.on_keyframe_bytes(true, 1000, 7);
        m.on_keyframe_bytes(false, 1000, 7);
        m.on_keyframe_bytes(false, 500, 7);
        assert_eq!(m.keyframe_bytes, 0, "not complete yet");
        m.on_keyframe_bytes(false, 300, 8);
        assert_eq!(m.keyframe_bytes, 2500);
        m.on_keyframe_bytes(false, 300, 9);
        assert_eq!(m.keyframe_bytes, 2500);
        // Two keyframes in a row.
        m.on_keyframe_bytes(true, 400, 10);
        m.on_keyframe_bytes(true, 600, 11);
        assert_eq!(m.keyframe_bytes, 400);
    }

    #[test]
    fn cumulative_rates_over_the_window() {
        let mut m = SpatialMeter::default();
        // 1 s of 30 fps: TID 0 frames of 1000 bytes, TID 1 of 500.
        for i in 0..30u64 {
            let tid = (i % 2) as u8;
            m.on_media(i * 33_333, tid, if tid == 0 { 1000 } else { 500 }, i as u32);
        }
        let r = m.bitrates(999_999);
        assert!((110_000..=130_000).contains(&r[0]), "{r:?}");
        assert!((170_000..=190_000).contains(&r[1]), "{r:?}");
        assert_eq!(r[2], 0, "TID 2 never seen");
        assert!((30_000..37_000).contains(&m.frame_interval_us));
        assert!(m.is_alive(1_000_000, 500_000));
        assert!(!m.is_alive(2_000_000, 500_000));
        assert_eq!(m.bitrates(5_000_000)[0], 0, "window emptied");
    }

    /// Six seconds of 30 fps, 1,000-byte frames (240 kbit/s), and one
    /// 20,000-byte keyframe (20 packets) at 5 s: half a second later the
    /// rate holds the keyframe spread over five seconds (+32 kbit/s), not
    /// over one (+160 kbit/s, two thirds more than the layer sends).
    #[test]
    fn a_keyframe_counts_over_five_seconds() {
        let mut m = SpatialMeter::default();
        let mut ts = 0u32;
        for i in 0..=165u64 {
            let now = i * 33_333;
            ts += 3000;
            if i == 150 {
                for k in 0..20 {
                    m.on_keyframe_bytes(k == 0, 1000, ts);
                    m.on_media(now, 0, 1000, ts);
                }
            } else {
                m.on_keyframe_bytes(false, 1000, ts);
                m.on_media(now, 0, 1000, ts);
            }
        }
        let r = m.bitrates(5_500_000)[0];
        // The window's delta frames read ~210 kbit/s (it is 0.9-1 s of
        // frames over 1 s); with the keyframe over one second it was 370.
        assert!((220_000..=260_000).contains(&r), "{r}");
    }
}
