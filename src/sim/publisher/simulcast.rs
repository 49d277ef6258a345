//! A VP8 simulcast publisher as a browser sends one: several resolutions
//! of the same capture, each an independent L1T3 stream on its own SSRC,
//! with its own sequence numbers, PictureIDs and random RTP timestamp
//! offset, plus RTCP sender reports that tie those offsets to one clock.

use bytes::{Bytes, BytesMut};

use super::temporal::{TemporalInfo, Vp8TemporalEncoder, Vp8TemporalPacketizer};
use super::vp8::{i420_len, EncodedFrame, TestPattern, Vp8EncoderConfig};
use super::{CodecError, SenderClock};
use crate::packet::rtcp::SenderReportBuilder;
use crate::sim::{DriftClock, Rng};

/// NTP seconds (since 1900) of the sender's clock reading zero:
/// 2024-01-01T00:00:00Z, so reports carry a realistic wall clock.
const NTP_SECONDS_AT_ZERO: u64 = 3_913_056_000;

/// One spatial layer of a [`SimulcastConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulcastLayerConfig {
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
}

/// Options of a [`SimulcastPublisher`].
#[derive(Debug, Clone, PartialEq)]
pub struct SimulcastConfig {
    /// Seeds the picture and every layer's SSRC, first sequence number,
    /// timestamp offset, PictureID and TL0PICIDX.
    pub seed: u64,
    /// Lowest resolution first, as RIDs are usually ordered.
    pub layers: Vec<SimulcastLayerConfig>,
    pub fps: u32,
    /// Forced keyframe every this many frames of a layer; `None`: only the
    /// first frame, requested ones and the first after a layer resumes.
    pub keyframe_interval: Option<u32>,
    /// A keyframe on one layer (requested or periodic) is a keyframe on every
    /// active layer at the same capture instant, as libvpx's multi-encoder
    /// simulcast (libwebrtc's `LibvpxVp8Encoder`) and browsers do. Default
    /// false: each layer answers its own requests.
    pub keyframes_on_all_layers: bool,
    pub cpu_used: i32,
    pub mtu: usize,
    pub payload_type: u8,
    pub drift: DriftClock,
    pub start_us: u64,
}

impl Default for SimulcastConfig {
    fn default() -> Self {
        let layer = |width, height, bitrate_kbps| SimulcastLayerConfig {
            width,
            height,
            bitrate_kbps,
        };
        Self {
            seed: 1,
            layers: vec![
                layer(320, 180, 150),
                layer(640, 360, 500),
                layer(1280, 720, 1500),
            ],
            fps: 30,
            keyframe_interval: None,
            keyframes_on_all_layers: false,
            cpu_used: 8,
            mtu: 1200,
            payload_type: 96,
            drift: DriftClock { ppm: 0.0 },
            start_us: 0,
        }
    }
}

/// One layer's share of a captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulcastLayerFrame {
    /// Spatial index into [`SimulcastConfig::layers`].
    pub layer: usize,
    pub ssrc: u32,
    /// True time the packets are sent (all at once).
    pub send_time_us: u64,
    /// This layer's RTP timestamp of the capture instant.
    pub timestamp: u32,
    pub picture_id: u16,
    pub tl0_pic_idx: u8,
    pub key_idx: u8,
    pub temporal: TemporalInfo,
    /// libvpx's keyframe flag.
    pub keyframe: bool,
    pub packets: Vec<Bytes>,
}

/// Everything sent for one captured picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulcastFrame {
    /// Counts captured pictures from 0, active layers or not.
    pub capture_index: u64,
    pub send_time_us: u64,
    /// The active layers' frames, lowest index first; inactive layers are
    /// absent.
    pub layers: Vec<SimulcastLayerFrame>,
}

#[derive(Debug)]
struct Layer {
    encoder: Vp8TemporalEncoder,
    packetizer: Vp8TemporalPacketizer,
    first_ts: u32,
    active: bool,
    keyframe_requested: bool,
    packets: u32,
    octets: u32,
    frames: u64,
    /// Frames encoded since this layer's last keyframe.
    since_keyframe: u32,
    picture: Vec<u8>,
}

/// A moving test pattern captured at `fps` frames per second of the
/// sender's clock, scaled to each layer and encoded as VP8 L1T3 by libvpx.
/// Sans-IO: [`poll`](Self::poll) hands out what is due.
///
/// Layer indices passed to methods must be below the configured layer
/// count; a larger one panics (a caller bug, not a runtime condition).
#[derive(Debug)]
pub struct SimulcastPublisher {
    config: SimulcastConfig,
    layers: Vec<Layer>,
    pattern: TestPattern,
    /// Size the pattern is rendered at: the largest layer's.
    source_size: (u32, u32),
    source: Vec<u8>,
    clock: SenderClock,
    frames: u64,
    encoded: Vec<EncodedFrame>,
}

impl SimulcastPublisher {
    pub fn new(config: SimulcastConfig) -> Result<Self, CodecError> {
        if config.layers.is_empty() {
            return Err(CodecError {
                codec: "libvpx",
                message: "a simulcast publisher needs at least one layer".into(),
            });
        }
        let mut rng = Rng::new(config.seed ^ 0x51_3c_a5);
        let mut layers: Vec<Layer> = Vec::with_capacity(config.layers.len());
        for l in &config.layers {
            let encoder = Vp8TemporalEncoder::new(Vp8EncoderConfig {
                width: l.width,
                height: l.height,
                fps: config.fps,
                bitrate_kbps: l.bitrate_kbps,
                keyframe_interval: config.keyframe_interval,
                cpu_used: config.cpu_used,
            })?;
            // Distinct SSRCs and timestamp offsets, as a browser's layers have.
            let ssrc = loop {
                let s = rng.next_u64() as u32;
                if layers.iter().all(|o| o.packetizer.ssrc != s) {
                    break s;
                }
            };
            let first_ts = loop {
                let t = rng.next_u64() as u32;
                if layers.iter().all(|o| o.first_ts != t) {
                    break t;
                }
            };
            let mut packetizer = Vp8TemporalPacketizer::new(
                ssrc,
                config.payload_type,
                rng.next_u64() as u16,
                rng.next_u64() as u16,
                rng.next_u64() as u8,
            );
            packetizer.mtu = config.mtu;
            layers.push(Layer {
                encoder,
                packetizer,
                first_ts,
                active: true,
                keyframe_requested: false,
                packets: 0,
                octets: 0,
                frames: 0,
                since_keyframe: 0,
                picture: Vec::new(),
            });
        }
        let source_size = config
            .layers
            .iter()
            .map(|l| (l.width, l.height))
            .max_by_key(|&(w, h)| u64::from(w) * u64::from(h))
            .expect("checked non-empty above");
        Ok(Self {
            pattern: TestPattern::new(rng.next_u64(), source_size.0, source_size.1),
            source_size,
            source: Vec::new(),
            clock: SenderClock::new(config.drift, config.start_us),
            frames: 0,
            encoded: Vec::new(),
            layers,
            config,
        })
    }

    pub fn config(&self) -> &SimulcastConfig {
        &self.config
    }

    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    pub fn ssrc(&self, layer: usize) -> u32 {
        self.layers[layer].packetizer.ssrc
    }

    /// Every layer's SSRC, by layer index.
    pub fn ssrcs(&self) -> Vec<u32> {
        self.layers.iter().map(|l| l.packetizer.ssrc).collect()
    }

    /// The layer sending on `ssrc`.
    pub fn layer_of(&self, ssrc: u32) -> Option<usize> {
        self.layers.iter().position(|l| l.packetizer.ssrc == ssrc)
    }

    pub fn is_layer_active(&self, layer: usize) -> bool {
        self.layers[layer].active
    }

    /// Stops or resumes a layer, as a browser does when bandwidth or CPU
    /// runs short. A stopped layer sends nothing; a resumed one starts with
    /// a keyframe, since its receivers missed its references.
    pub fn set_layer_active(&mut self, layer: usize, active: bool) {
        let l = &mut self.layers[layer];
        if active && !l.active {
            l.keyframe_requested = true;
        }
        l.active = active;
    }

    /// Makes this layer's next frame a keyframe (the answer to a PLI or FIR
    /// on its SSRC); the other layers go on as they were.
    pub fn request_keyframe(&mut self, layer: usize) {
        self.layers[layer].keyframe_requested = true;
    }

    /// [`request_keyframe`](Self::request_keyframe) by SSRC; false if no
    /// layer sends on it.
    pub fn request_keyframe_for_ssrc(&mut self, ssrc: u32) -> bool {
        match self.layer_of(ssrc) {
            Some(layer) => {
                self.request_keyframe(layer);
                true
            }
            None => false,
        }
    }

    /// RTP packets this layer has sent.
    pub fn packets_sent(&self, layer: usize) -> u32 {
        self.layers[layer].packets
    }

    /// RTP payload octets this layer has sent (as the SR counts them).
    pub fn octets_sent(&self, layer: usize) -> u32 {
        self.layers[layer].octets
    }

    /// Frames this layer has sent.
    pub fn frames_sent(&self, layer: usize) -> u64 {
        self.layers[layer].frames
    }

    /// Pictures captured so far, whether or not any layer sent them.
    pub fn frames_captured(&self) -> u64 {
        self.frames
    }

    /// RTP timestamp of capture `capture_index` on this layer: its own
    /// random offset plus 90 kHz of the sender's clock.
    pub fn timestamp(&self, layer: usize, capture_index: u64) -> u32 {
        let step = 90_000 / self.config.fps.max(1);
        self.layers[layer]
            .first_ts
            .wrapping_add((capture_index as u32).wrapping_mul(step))
    }

    /// Sender's clock at true time `now_us`, in microseconds.
    fn local_us(&self, now_us: u64) -> u64 {
        self.config.drift.local(now_us)
    }

    /// NTP timestamp (RFC 3550: seconds since 1900, 32.32 fixed point) the
    /// sender's wall clock reads at true time `now_us`; the same for every
    /// layer.
    pub fn ntp_timestamp(&self, now_us: u64) -> u64 {
        let local = self.local_us(now_us);
        let secs = NTP_SECONDS_AT_ZERO + local / 1_000_000;
        let frac = ((local % 1_000_000) << 32) / 1_000_000;
        secs << 32 | frac
    }

    /// This layer's RTP timestamp of true time `now_us`: where its 90 kHz
    /// clock would be if a picture were captured then.
    pub fn rtp_timestamp_at(&self, layer: usize, now_us: u64) -> u32 {
        let since_start = self.local_us(now_us) as i128 - self.clock.local_start as i128;
        let ticks = (since_start * 90_000).div_euclid(1_000_000);
        self.layers[layer].first_ts.wrapping_add(ticks as u32)
    }

    /// An RTCP sender report for this layer at true time `now_us`: NTP and
    /// RTP timestamps of the same instant (so a receiver can align layers
    /// and streams), and the packet and octet counts so far.
    pub fn sender_report(&self, layer: usize, now_us: u64) -> Bytes {
        let l = &self.layers[layer];
        let builder = SenderReportBuilder {
            ssrc: l.packetizer.ssrc,
            ntp_timestamp: self.ntp_timestamp(now_us),
            rtp_timestamp: self.rtp_timestamp_at(layer, now_us),
            packet_count: l.packets,
            octet_count: l.octets,
            report_blocks: &[],
        };
        let mut buf = BytesMut::zeroed(builder.encoded_len());
        builder
            .write_into(&mut buf)
            .expect("buffer sized above, no report blocks");
        buf.freeze()
    }

    /// True time at which the next picture is captured and sent.
    pub fn next_send_time(&self) -> u64 {
        self.clock.frame_time(self.frames, self.config.fps)
    }

    /// The next frame if it is due at `now`.
    pub fn poll(&mut self, now: u64) -> Option<SimulcastFrame> {
        (self.next_send_time() <= now).then(|| self.next_frame())
    }

    /// Captures the next picture and encodes it on every active layer.
    ///
    /// # Panics
    /// If libvpx fails to encode (it does not, for a valid configuration).
    pub fn next_frame(&mut self) -> SimulcastFrame {
        let send_time_us = self.next_send_time();
        let capture_index = self.frames;
        // Rendered even when every layer is off, so that the picture at a
        // given capture index does not depend on which layers were on.
        self.pattern.render(&mut self.source);
        if self.config.keyframes_on_all_layers {
            let due = self.layers.iter().any(|l| {
                let periodic = self
                    .config
                    .keyframe_interval
                    .is_some_and(|n| l.since_keyframe >= n.max(1));
                l.active && (l.keyframe_requested || periodic)
            });
            for l in &mut self.layers {
                l.keyframe_requested |= due;
            }
        }
        let mut layers = Vec::new();
        for index in 0..self.layers.len() {
            if !self.layers[index].active {
                continue;
            }
            let timestamp = self.timestamp(index, capture_index);
            let (sw, sh) = self.source_size;
            let layer = &mut self.layers[index];
            let size = layer.encoder.config();
            scale_i420(
                &self.source,
                sw,
                sh,
                &mut layer.picture,
                size.width,
                size.height,
            );
            self.encoded.clear();
            let temporal = layer
                .encoder
                .encode(
                    &layer.picture,
                    core::mem::take(&mut layer.keyframe_requested),
                    &mut self.encoded,
                )
                .expect("libvpx encodes a frame");
            let picture_id = layer.packetizer.picture_id;
            let mut packets = Vec::new();
            let mut keyframe = false;
            for f in &self.encoded {
                let octets = layer.packetizer.packetize(
                    &f.data,
                    timestamp,
                    f.keyframe,
                    temporal,
                    &mut packets,
                );
                layer.octets = layer.octets.wrapping_add(octets as u32);
                keyframe |= f.keyframe;
            }
            if packets.is_empty() {
                continue;
            }
            layer.packets = layer.packets.wrapping_add(packets.len() as u32);
            layer.frames += 1;
            layer.since_keyframe = if keyframe {
                1
            } else {
                layer.since_keyframe.saturating_add(1)
            };
            layers.push(SimulcastLayerFrame {
                layer: index,
                ssrc: layer.packetizer.ssrc,
                send_time_us,
                timestamp,
                picture_id,
                tl0_pic_idx: layer.packetizer.tl0_pic_idx,
                key_idx: layer.packetizer.key_idx,
                temporal,
                keyframe,
                packets,
            });
        }
        self.frames += 1;
        SimulcastFrame {
            capture_index,
            send_time_us,
            layers,
        }
    }
}

/// Nearest-neighbour scaling of an I420 picture: cheap, and the encoder
/// only needs the same scene at each size, not a pretty one.
fn scale_i420(src: &[u8], sw: u32, sh: u32, dst: &mut Vec<u8>, dw: u32, dh: u32) {
    let len = i420_len(dw, dh);
    dst.resize(len, 0);
    if (sw, sh) == (dw, dh) {
        dst.copy_from_slice(&src[..len]);
        return;
    }
    let (src_y, src_c) = src.split_at(sw as usize * sh as usize);
    let (src_u, src_v) = src_c.split_at((sw / 2) as usize * (sh / 2) as usize);
    let (dst_y, dst_c) = dst.split_at_mut(dw as usize * dh as usize);
    let (dst_u, dst_v) = dst_c.split_at_mut((dw / 2) as usize * (dh / 2) as usize);
    scale_plane(src_y, sw, sh, dst_y, dw, dh);
    scale_plane(src_u, sw / 2, sh / 2, dst_u, dw / 2, dh / 2);
    scale_plane(src_v, sw / 2, sh / 2, dst_v, dw / 2, dh / 2);
}

fn scale_plane(src: &[u8], sw: u32, sh: u32, dst: &mut [u8], dw: u32, dh: u32) {
    let (sw, sh, dw, dh) = (sw as usize, sh as usize, dw as usize, dh as usize);
    if dw == 0 || dh == 0 {
        return;
    }
    for (y, row) in dst.chunks_exact_mut(dw).enumerate() {
        let src_row = &src[(y * sh / dh) * sw..][..sw];
        for (x, out) in row.iter_mut().enumerate() {
            *out = src_row[x * sw / dw];
        }
    }
}
