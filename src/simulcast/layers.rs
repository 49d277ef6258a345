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
    last_frame_us: u64,
    /// Smoothed interval between frames, microseconds.
    pub frame_interval_us: u64,
    /// The frame being received (the newest timestamp seen).
    open_frame: Option<OpenFrame>,
    /// Bytes of the last complete keyframe (0 before one is seen).
    pub keyframe_bytes: u64,
    /// Keyframe bytes over the long window.
    key_window: KeyWindow,
}

/// Keyframe bytes per long bucket, and the bucket each slot holds.
#[derive(Debug, Clone, Default)]
struct KeyWindow {
    bytes: [u64; KEY_BUCKETS],
    bucket_of: [u64; KEY_BUCKETS],
}

impl KeyWindow {
    fn add(&mut self, now: u64, bytes: u64) {
        let bucket = now / KEY_BUCKET_US;
        let slot = (bucket % KEY_BUCKETS as u64) as usize;
        if self.bucket_of[slot] != bucket {
            self.bucket_of[slot] = bucket;
            self.bytes[slot] = 0;
        }
        self.bytes[slot] += bytes;
    }

    /// Bits per second over the window's buckets up to `now`, over
    /// `span_us`.
    fn rate(&self, now: u64, span_us: u64) -> u64 {
        let current = now / KEY_BUCKET_US;
        let oldest = current.saturating_sub(KEY_BUCKETS as u64 - 1);
        let bits: u64 = (0..KEY_BUCKETS)
            .filter(|&s| (oldest..=current).contains(&self.bucket_of[s]))
            .map(|s| self.bytes[s])
            .sum::<u64>()
            * 8;
        bits * 1_000_000 / span_us
    }
}

/// The frame being received: its bytes so far, and where they went while
/// it was not known to be a keyframe.
#[derive(Debug, Clone, Copy)]
struct OpenFrame {
    timestamp: u32,
    bytes: u64,
    keyframe: bool,
    /// (bucket, TID, bytes) counted in the one-second window; a frame
    /// spans at most two buckets (bytes in a third stay counted there).
    delta: [(u64, u8, u64); 2],
}

impl OpenFrame {
    fn new(timestamp: u32) -> Self {
        Self {
            timestamp,
            bytes: 0,
            keyframe: false,
            delta: [(0, 0, 0); 2],
        }
    }

    fn note_delta(&mut self, bucket: u64, tid: u8, bytes: u64) {
        if let Some(d) = self
            .delta
            .iter_mut()
            .find(|d| d.2 == 0 || (d.0, d.1) == (bucket, tid))
        {
            *d = (bucket, tid, d.2 + bytes);
        }
    }
}

impl SpatialMeter {
    /// Counts a media packet (padding-only packets are not counted);
    /// `keyframe_start` marks a keyframe's first packet. A keyframe's bytes
    /// go to the five-second keyframe window, and its size is known when a
    /// newer frame starts. Its first packet may come after others of its
    /// frame (a publisher's link reorders a frame sent at once): those are
    /// moved out of the one-second window then. Counted there, a 29 kB
    /// keyframe read as +230 kbit/s on its layer for a second, and the
    /// allocator downgraded a subscriber for the whole upgrade hold.
    pub fn on_media(
        &mut self,
        now: u64,
        tid: u8,
        bytes: usize,
        timestamp: u32,
        keyframe_start: bool,
    ) {
        let bytes = bytes as u64;
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
        let tid = usize::from(tid).min(MAX_TEMPORAL - 1) as u8;
        let newer = self
            .open_frame
            .is_none_or(|f| (timestamp.wrapping_sub(f.timestamp) as i32) > 0);
        if newer {
            self.on_frame_start(now, timestamp);
        }
        // A late packet of an older frame counts as a delta frame's.
        let mut in_keyframe = false;
        if let Some(f) = self
            .open_frame
            .as_mut()
            .filter(|f| f.timestamp == timestamp)
        {
            f.bytes += bytes;
            if keyframe_start && !f.keyframe {
                f.keyframe = true;
                for (b, t, n) in std::mem::take(&mut f.delta) {
                    let s = (b % BUCKETS as u64) as usize;
                    if n > 0 && self.bucket_of[s] == b {
                        let counted = &mut self.bytes[usize::from(t)][s];
                        *counted = counted.saturating_sub(n);
                    }
                    self.key_window.add(now, n);
                }
            }
            in_keyframe = f.keyframe;
            if !in_keyframe {
                f.note_delta(bucket, tid, bytes);
            }
        }
        if in_keyframe {
            self.key_window.add(now, bytes);
        } else {
            self.bytes[usize::from(tid)][slot] += bytes;
        }
        self.max_tid = self.max_tid.max(tid);
        self.first_media_us.get_or_insert(now);
        self.last_media_us = Some(now);
    }

    /// A newer frame's first packet (in arrival order): the frame before
    /// it is complete.
    fn on_frame_start(&mut self, now: u64, timestamp: u32) {
        if let Some(f) = self.open_frame.take() {
            if f.keyframe {
                self.keyframe_bytes = f.bytes;
            }
            let gap = now.saturating_sub(self.last_frame_us).min(2_000_000);
            self.frame_interval_us = if self.frame_interval_us == 0 {
                gap
            } else {
                (self.frame_interval_us * 7 + gap) / 8
            };
        }
        self.open_frame = Some(OpenFrame::new(timestamp));
        self.last_frame_us = now;
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
        let key_span_us =
            (now - first.min(now)).clamp(BUCKET_US, KEY_BUCKETS as u64 * KEY_BUCKET_US);
        let key_rate = self.key_window.rate(now, key_span_us);
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
        m.on_media(0, 0, 1000, 7, true);
        m.on_media(0, 0, 1000, 7, false);
        m.on_media(0, 0, 500, 7, false);
        assert_eq!(m.keyframe_bytes, 0, "not complete yet");
        m.on_media(33_000, 0, 300, 8, false);
        assert_eq!(m.keyframe_bytes, 2500);
        m.on_media(66_000, 0, 300, 9, false);
        assert_eq!(m.keyframe_bytes, 2500);
        // Two keyframes in a row.
        m.on_media(99_000, 0, 400, 10, true);
        m.on_media(132_000, 0, 600, 11, true);
        assert_eq!(m.keyframe_bytes, 400);
    }

    /// 5.5 s of 30 fps, 1,000-byte frames, the one at 5 s a 20-packet
    /// keyframe (packets 0.1 ms apart) whose first packet comes after
    /// `(20 - first_at) % 20` others of its frame.
    fn frames_and_a_keyframe_at_5_s(first_at: usize) -> SpatialMeter {
        let mut m = SpatialMeter::default();
        let mut ts = 0u32;
        for i in 0..=165u64 {
            let now = i * 33_333;
            ts += 3000;
            if i == 150 {
                for k in 0..20 {
                    let order = (k + first_at) % 20;
                    m.on_media(now + k as u64 * 100, 0, 1000, ts, order == 0);
                }
            } else {
                m.on_media(now, 0, 1000, ts, false);
            }
        }
        m
    }

    /// A keyframe sent at once over a link that reorders: its first packet
    /// comes fifth of 20. Its size and its place in the rates are those of
    /// the same keyframe in order (before: the four packets ahead of its
    /// first counted as delta bytes over one second, and its size read
    /// 16 kB).
    #[test]
    fn a_keyframe_whose_first_packet_comes_late_is_counted_whole() {
        let run = |first_at: usize| {
            let m = frames_and_a_keyframe_at_5_s(first_at);
            (m.keyframe_bytes, m.bitrates(5_500_000)[0])
        };
        let (in_order_size, in_order_rate) = run(0);
        assert_eq!(in_order_size, 20_000);
        assert_eq!(run(16), (in_order_size, in_order_rate));
        // A late packet of an older frame does not end the newer one.
        let mut m = SpatialMeter::default();
        m.on_media(0, 0, 1000, 3000, true);
        m.on_media(100, 0, 1000, 0, false);
        m.on_media(200, 0, 1000, 3000, false);
        m.on_media(33_000, 0, 1000, 6000, false);
        assert_eq!(m.keyframe_bytes, 2000);
    }

    #[test]
    fn cumulative_rates_over_the_window() {
        let mut m = SpatialMeter::default();
        // 1 s of 30 fps: TID 0 frames of 1000 bytes, TID 1 of 500.
        for i in 0..30u64 {
            let tid = (i % 2) as u8;
            m.on_media(
                i * 33_333,
                tid,
                if tid == 0 { 1000 } else { 500 },
                i as u32,
                false,
            );
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
        let r = frames_and_a_keyframe_at_5_s(0).bitrates(5_500_000)[0];
        // The window's delta frames read ~210 kbit/s (it is 0.9-1 s of
        // frames over 1 s); with the keyframe over one second it was 370.
        assert!((220_000..=260_000).contains(&r), "{r}");
    }
}
