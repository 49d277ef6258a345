//! Keyframe requests of one source, merged and throttled per SSRC: any
//! number of subscribers asking for the same layer make one PLI, repeated
//! only if the keyframe has not arrived after the retry interval (a round
//! trip plus two frame intervals, so a 2 fps screenshare is not flooded).
//!
//! Unanswered requests back off (as libwebrtc and mediasoup do: a publisher
//! that ignores PLIs, or is already busy with a keyframe, is not flooded):
//! the first two go out one retry interval apart; from the third on, the
//! interval doubles per unanswered request and is at least
//! [`BACKOFF_MIN_US`] (1 s) and at most [`BACKOFF_MAX_US`] (2 s). A
//! keyframe arriving on the layer resets it.

/// Least interval between unanswered requests after the first two.
pub const BACKOFF_MIN_US: u64 = 1_000_000;
/// Most interval between unanswered requests.
pub const BACKOFF_MAX_US: u64 = 2_000_000;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeyframeRequest {
    wanted: bool,
    last_sent_us: Option<u64>,
    /// Requests sent since the last keyframe arrived.
    unanswered: u32,
}

impl KeyframeRequest {
    /// A subscriber wants a keyframe on this layer.
    pub fn want(&mut self) {
        self.wanted = true;
    }

    /// The keyframe arrived: nothing to repeat.
    pub fn satisfied(&mut self) {
        self.wanted = false;
        self.unanswered = 0;
    }

    /// Requests sent since the last keyframe arrived (more than one: the
    /// publisher ignores them or its keyframes get lost).
    pub fn unanswered(&self) -> u32 {
        self.unanswered
    }

    pub fn is_wanted(&self) -> bool {
        self.wanted
    }

    /// When a request may go out next (`None`: nothing wanted).
    pub fn due_at(&self, retry_us: u64) -> Option<u64> {
        self.wanted.then(|| {
            self.last_sent_us
                .map_or(0, |t| t.saturating_add(self.interval(retry_us)))
        })
    }

    /// The wait after the last request, backed off by how many went
    /// unanswered (module docs).
    fn interval(&self, retry_us: u64) -> u64 {
        match self.unanswered {
            0 | 1 => retry_us,
            n => retry_us
                .saturating_mul(1 << (n - 1).min(16))
                .clamp(BACKOFF_MIN_US, BACKOFF_MAX_US.max(retry_us)),
        }
    }

    /// Whether to send a request now; records it if so.
    pub fn poll(&mut self, now: u64, retry_us: u64) -> bool {
        if self.due_at(retry_us).is_some_and(|at| at <= now) {
            self.last_sent_us = Some(now);
            self.unanswered = self.unanswered.saturating_add(1);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_retries_after_the_interval() {
        let mut k = KeyframeRequest::default();
        assert!(!k.poll(0, 100));
        k.want();
        k.want();
        assert!(k.poll(10, 100));
        k.want();
        assert!(!k.poll(50, 100), "merged into the one in flight");
        assert!(k.poll(110, 100), "retried: no keyframe yet");
        k.satisfied();
        assert!(!k.poll(1000, 100));
    }

    #[test]
    fn unanswered_requests_back_off() {
        let mut k = KeyframeRequest::default();
        k.want();
        let mut sent = Vec::new();
        for now in (0..10_000_000).step_by(10_000) {
            if k.poll(now, 300_000) {
                sent.push(now);
            }
        }
        // 300 ms, then 1 s (the floor), 1.2 s (doubled), 2 s (the cap).
        assert_eq!(&sent[..5], &[0, 300_000, 1_300_000, 2_500_000, 4_500_000]);
        assert!(sent.windows(2).skip(3).all(|w| w[1] - w[0] == 2_000_000));
        k.satisfied();
        k.want();
        assert!(k.poll(10_000_000, 300_000));
        assert!(k.poll(10_300_000, 300_000), "reset by the keyframe");
    }
}
