//! A recorded run of a [`SimulcastPublisher`], replayable as an endless
//! stream: benches and tests encode once (libvpx is slow) and then feed as
//! many packets as they need without any receiver seeing a replay.

use bytes::{Bytes, BytesMut};

use super::simulcast::{SimulcastConfig, SimulcastPublisher};
use super::CodecError;
use crate::codec::vp8::Descriptor;
use crate::packet::RtpLayout;

/// The packets of `frames` pictures of a [`SimulcastPublisher`], in send
/// order, with what it takes to replay them as a longer continuous stream:
/// pass `p` over the trace has every layer's sequence numbers, RTP
/// timestamps, PictureIDs and TL0PICIDX moved on by `p` trace lengths, and
/// arrival times by `p` durations ([`write`](Self::write),
/// [`replay`](Self::replay)).
///
/// Every packet is shared before it is kept. The publisher builds packets
/// as Vec-backed `Bytes`, and the first clone of such a `Bytes` allocates
/// its shared header (the `bytes` crate promotes it); a host that receives
/// into pooled buffers hands out pieces of a `BytesMut`, which are already
/// shared. Cloning each packet once here makes the trace's packets look the
/// same, so that a clone (e.g. `Source::on_rtp` keeping one for NACKs) only
/// bumps a reference count.
#[derive(Debug, Clone)]
pub struct SimulcastTrace {
    packets: Vec<Bytes>,
    /// Arrival time of each packet (its frame's send time), µs.
    arrivals_us: Vec<u64>,
    /// Spatial layer of each packet.
    layers: Vec<usize>,
    /// Offsets in each packet of the PictureID and TL0PICIDX bytes.
    pid_at: Vec<usize>,
    tl0_at: Vec<usize>,
    ssrcs: Vec<u32>,
    /// Per layer: how far one pass moves sequence numbers, PictureIDs and
    /// TL0PICIDX.
    seq_span: Vec<u64>,
    pid_span: Vec<u64>,
    tl0_span: Vec<u64>,
    /// How far one pass moves timestamps (ticks) and time (µs).
    ts_span: u64,
    duration_us: u64,
}

impl SimulcastTrace {
    /// Encodes `frames` pictures with a publisher made from `config` (every
    /// layer active throughout).
    ///
    /// Panics if the publisher's packets are not gapless per layer or lack
    /// a 15-bit PictureID and a TL0PICIDX (a publisher bug).
    pub fn record(config: SimulcastConfig, frames: usize) -> Result<Self, CodecError> {
        let step = u64::from(90_000 / config.fps.max(1));
        let mut publisher = SimulcastPublisher::new(config)?;
        let layers = publisher.layer_count();
        let start = publisher.next_send_time();
        let mut t = SimulcastTrace {
            packets: Vec::new(),
            arrivals_us: Vec::new(),
            layers: Vec::new(),
            pid_at: Vec::new(),
            tl0_at: Vec::new(),
            ssrcs: publisher.ssrcs(),
            seq_span: vec![0; layers],
            pid_span: vec![0; layers],
            tl0_span: vec![0; layers],
            ts_span: frames as u64 * step,
            duration_us: 0,
        };
        // Per layer: (sequence number, PictureID, TL0PICIDX) of its first
        // and last packet.
        let mut first = vec![None::<(u16, u16, u8)>; layers];
        let mut last = vec![(0u16, 0u16, 0u8); layers];
        for _ in 0..frames {
            let frame = publisher.next_frame();
            for lf in &frame.layers {
                for p in &lf.packets {
                    let layout = RtpLayout::parse(p).expect("publisher's RTP");
                    let payload = &p[layout.payload_start..layout.payload_end];
                    let d = Descriptor::parse(payload).expect("publisher's VP8 descriptor");
                    assert!(d.picture_id_15bit && d.tl0_pic_idx.is_some());
                    let seq = u16::from_be_bytes([p[2], p[3]]);
                    let values = (seq, d.picture_id.unwrap(), d.tl0_pic_idx.unwrap());
                    if first[lf.layer].is_some() {
                        let prev = last[lf.layer].0;
                        assert_eq!(seq, prev.wrapping_add(1), "gapless per layer");
                    } else {
                        first[lf.layer] = Some(values);
                    }
                    last[lf.layer] = values;
                    // Shared, as a host's pooled buffers are (see above).
                    drop(p.clone());
                    t.packets.push(p.clone());
                    t.arrivals_us.push(frame.send_time_us);
                    t.layers.push(lf.layer);
                    t.pid_at.push(layout.payload_start + d.picture_id_offset);
                    t.tl0_at.push(layout.payload_start + d.tl0_pic_idx_offset);
                }
            }
        }
        for l in 0..layers {
            // A layer that sent nothing has nothing to move on.
            let Some(f) = first[l] else { continue };
            let z = last[l];
            t.seq_span[l] = u64::from(z.0.wrapping_sub(f.0)) + 1;
            t.pid_span[l] = u64::from(z.1.wrapping_sub(f.1) & 0x7fff) + 1;
            t.tl0_span[l] = u64::from(z.2.wrapping_sub(f.2)) + 1;
        }
        t.duration_us = publisher.next_send_time() - start;
        Ok(t)
    }

    /// Packets in one pass.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// The recorded packets (the first pass), in send order.
    pub fn packets(&self) -> &[Bytes] {
        &self.packets
    }

    /// Arrival time of each recorded packet (its frame's send time), µs.
    pub fn arrivals_us(&self) -> &[u64] {
        &self.arrivals_us
    }

    /// Spatial layer of each recorded packet.
    pub fn layers(&self) -> &[usize] {
        &self.layers
    }

    /// The layers' SSRCs, lowest resolution first.
    pub fn ssrcs(&self) -> &[u32] {
        &self.ssrcs
    }

    /// How far one pass moves arrival times, µs.
    pub fn duration_us(&self) -> u64 {
        self.duration_us
    }

    /// Writes packet `k` of the endless stream (packet `k % len` of pass
    /// `k / len`) into the start of `buf`, and returns its length and
    /// arrival time. Allocates nothing.
    ///
    /// Panics if the trace is empty or `buf` is shorter than the packet.
    pub fn write(&self, k: u64, buf: &mut [u8]) -> (usize, u64) {
        let n = self.len() as u64;
        let (pass, i) = (k / n, (k % n) as usize);
        let p = &self.packets[i];
        let l = self.layers[i];
        buf[..p.len()].copy_from_slice(p);
        let seq = u64::from(u16::from_be_bytes([p[2], p[3]])) + pass * self.seq_span[l];
        buf[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
        let ts = u64::from(u32::from_be_bytes([p[4], p[5], p[6], p[7]])) + pass * self.ts_span;
        buf[4..8].copy_from_slice(&(ts as u32).to_be_bytes());
        let at = self.pid_at[i];
        let pid =
            u64::from(u16::from_be_bytes([p[at], p[at + 1]]) & 0x7fff) + pass * self.pid_span[l];
        buf[at..at + 2].copy_from_slice(&(0x8000 | (pid & 0x7fff) as u16).to_be_bytes());
        let at = self.tl0_at[i];
        buf[at] = (u64::from(p[at]) + pass * self.tl0_span[l]) as u8;
        (p.len(), self.arrivals_us[i] + pass * self.duration_us)
    }

    /// The endless stream from its first packet: each packet (a new buffer)
    /// with its arrival time. Empty if the trace is.
    pub fn replay(&self) -> impl Iterator<Item = (Bytes, u64)> + '_ {
        (0..)
            .take_while(|_| !self.is_empty())
            .map(|k| self.packet(k))
    }

    /// Packet `k` of the endless stream in a new buffer, with its arrival
    /// time (see [`write`](Self::write)).
    pub fn packet(&self, k: u64) -> (Bytes, u64) {
        let len = self.packets[(k % self.len() as u64) as usize].len();
        let mut buf = BytesMut::zeroed(len);
        let (_, at) = self.write(k, &mut buf);
        (buf.freeze(), at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimulcastLayerConfig;

    fn small() -> SimulcastConfig {
        let layer = |width, height, bitrate_kbps| SimulcastLayerConfig {
            width,
            height,
            bitrate_kbps,
        };
        SimulcastConfig {
            seed: 7,
            layers: vec![layer(160, 90, 100), layer(320, 180, 300)],
            cpu_used: 16,
            mtu: 600,
            ..SimulcastConfig::default()
        }
    }

    /// (sequence number, timestamp, PictureID, TL0PICIDX) of a packet.
    fn counters(p: &[u8]) -> (u16, u32, u16, u8) {
        let layout = RtpLayout::parse(p).unwrap();
        let d = Descriptor::parse(&p[layout.payload_start..layout.payload_end]).unwrap();
        (
            u16::from_be_bytes([p[2], p[3]]),
            u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
            d.picture_id.unwrap(),
            d.tl0_pic_idx.unwrap(),
        )
    }

    #[test]
    fn replay_continues_every_layer_across_passes() {
        const FRAMES: usize = 12;
        let trace = SimulcastTrace::record(small(), FRAMES).unwrap();
        assert_eq!(trace.ssrcs().len(), 2);
        assert_eq!(trace.arrivals_us().len(), trace.len());
        let d = trace.duration_us();
        assert!(
            d.abs_diff(FRAMES as u64 * 1_000_000 / 30) <= FRAMES as u64,
            "{d}"
        );
        // The first pass is the recording itself.
        let first: Vec<_> = trace.replay().take(trace.len()).collect();
        for (i, (p, at)) in first.iter().enumerate() {
            assert_eq!(p, &trace.packets()[i]);
            assert_eq!(*at, trace.arrivals_us()[i]);
        }
        // Three passes: per layer, every counter follows on from the one
        // before, as one never-replayed stream would; time too.
        let mut prev = [None::<(u16, u32, u16, u8)>; 2];
        let mut last_at = 0;
        for (k, (p, at)) in trace.replay().take(3 * trace.len()).enumerate() {
            assert!(at >= last_at);
            last_at = at;
            let l = trace.layers()[k % trace.len()];
            assert_eq!(
                u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
                trace.ssrcs()[l]
            );
            let c = counters(&p);
            if let Some((seq, ts, pid, tl0)) = prev[l] {
                assert_eq!(c.0, seq.wrapping_add(1), "sequence number at {k}");
                let dts = c.1.wrapping_sub(ts);
                assert!(dts == 0 || dts == 3000, "timestamp step {dts} at {k}");
                let dpid = c.2.wrapping_sub(pid) & 0x7fff;
                assert_eq!(u32::from(dpid), u32::from(dts != 0), "PictureID at {k}");
                let dtl0 = c.3.wrapping_sub(tl0);
                assert!(dtl0 <= 1 && (dts != 0 || dtl0 == 0), "TL0PICIDX at {k}");
            }
            prev[l] = Some(c);
        }
        // `write` into a larger buffer gives the same packet.
        let k = 2 * trace.len() as u64 + 5;
        let mut buf = [0u8; 1500];
        let (len, at) = trace.write(k, &mut buf);
        let (p, p_at) = trace.packet(k);
        assert_eq!((&buf[..len], at), (&p[..], p_at));
    }
}
