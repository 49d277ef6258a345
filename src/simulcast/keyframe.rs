//! Keyframe requests of one source, merged and throttled per SSRC: any
//! number of subscribers asking for the same layer make one PLI, repeated
//! only if the keyframe has not arrived after the retry interval (a round
//! trip plus two frame intervals, so a 2 fps screenshare is not flooded).

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
        self.wanted
            .then(|| self.last_sent_us.map_or(0, |t| t.saturating_add(retry_us)))
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
}
