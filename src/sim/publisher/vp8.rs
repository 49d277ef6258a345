//! Real VP8 from libvpx: encoder, decoder, a moving test pattern, RFC 7741
//! packetization, and a publisher that ties them together.

use crate::codec::vp8::Descriptor;
use crate::packet::{ParseError, RtpBuilder, RtpPacket};
use crate::sim::DriftClock;
use crate::sim::Rng;
use bytes::Bytes;
use std::ffi::CStr;
use std::fmt;
use std::mem::MaybeUninit;
use std::os::raw::{c_int, c_long, c_uint, c_ulong};
use std::ptr;
use vpx_sys as vpx;

use super::{build, CodecError, SenderClock};

fn vpx_error(what: &str, err: vpx::vpx_codec_err_t) -> CodecError {
    // SAFETY: libvpx returns a static NUL-terminated string for every code.
    let text = unsafe { CStr::from_ptr(vpx::vpx_codec_err_to_string(err)) };
    CodecError {
        codec: "libvpx",
        message: format!("{what}: {}", text.to_string_lossy()),
    }
}

fn vpx_check(what: &str, err: vpx::vpx_codec_err_t) -> Result<(), CodecError> {
    if err == vpx::vpx_codec_err_t::VPX_CODEC_OK {
        Ok(())
    } else {
        Err(vpx_error(what, err))
    }
}

/// Settings of a [`Vp8Encoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8EncoderConfig {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    /// A keyframe every this many frames; `None`: only the first frame and
    /// forced ones (as a WebRTC sender, which answers PLIs instead).
    pub keyframe_interval: Option<u32>,
    /// libvpx speed (`VP8E_SET_CPUUSED`), -16 (best) to 16 (fastest).
    pub cpu_used: i32,
}

/// One compressed VP8 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    pub data: Vec<u8>,
    /// libvpx's own keyframe flag.
    pub keyframe: bool,
}

/// libvpx's VP8 encoder set up as for real-time communication: CBR, no
/// lag, error resilient, one token partition, no dropped frames.
pub struct Vp8Encoder {
    /// Boxed so its address never changes while libvpx holds it.
    ctx: Box<vpx::vpx_codec_ctx_t>,
    config: Vp8EncoderConfig,
    pts: i64,
}

// SAFETY: the context is owned and only used through `&mut self`; libvpx
// contexts may move between threads as long as calls are not concurrent.
unsafe impl Send for Vp8Encoder {}

impl fmt::Debug for Vp8Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vp8Encoder")
            .field("config", &self.config)
            .field("pts", &self.pts)
            .finish_non_exhaustive()
    }
}

impl Vp8Encoder {
    pub fn new(config: Vp8EncoderConfig) -> Result<Self, CodecError> {
        Self::with_cfg(config, |_| {})
    }

    /// As [`new`](Self::new), with `edit` applied to libvpx's configuration
    /// last (temporal layers set theirs this way).
    pub(super) fn with_cfg(
        config: Vp8EncoderConfig,
        edit: impl FnOnce(&mut vpx::vpx_codec_enc_cfg_t),
    ) -> Result<Self, CodecError> {
        if config.width == 0 || config.height == 0 || config.width % 2 + config.height % 2 != 0 {
            return Err(CodecError {
                codec: "libvpx",
                message: "width and height must be even and non-zero".into(),
            });
        }
        // SAFETY: plain C calls on zero-initialised POD structs that libvpx
        // fills; the context is boxed before init and destroyed in Drop.
        unsafe {
            let iface = vpx::vpx_codec_vp8_cx();
            // Zeroes are not valid for the config's enum fields: libvpx
            // fills it in completely before it is read.
            let mut cfg = MaybeUninit::<vpx::vpx_codec_enc_cfg_t>::uninit();
            vpx_check(
                "config_default",
                vpx::vpx_codec_enc_config_default(iface, cfg.as_mut_ptr(), 0),
            )?;
            let mut cfg = cfg.assume_init();
            cfg.g_w = config.width;
            cfg.g_h = config.height;
            cfg.g_timebase.num = 1;
            cfg.g_timebase.den = config.fps.max(1) as c_int;
            cfg.g_threads = 1;
            cfg.g_lag_in_frames = 0;
            cfg.g_error_resilient = vpx::VPX_ERROR_RESILIENT_DEFAULT;
            cfg.rc_end_usage = vpx::vpx_rc_mode::VPX_CBR;
            cfg.rc_target_bitrate = config.bitrate_kbps;
            cfg.rc_dropframe_thresh = 0;
            cfg.rc_resize_allowed = 0;
            cfg.rc_min_quantizer = 2;
            cfg.rc_max_quantizer = 56;
            cfg.rc_undershoot_pct = 100;
            cfg.rc_overshoot_pct = 15;
            cfg.rc_buf_initial_sz = 500;
            cfg.rc_buf_optimal_sz = 600;
            cfg.rc_buf_sz = 1000;
            match config.keyframe_interval {
                Some(n) => {
                    cfg.kf_mode = vpx::vpx_kf_mode::VPX_KF_AUTO;
                    cfg.kf_min_dist = 0;
                    cfg.kf_max_dist = n;
                }
                None => {
                    // VPX_KF_DISABLED (= VPX_KF_FIXED): no automatic keyframes.
                    cfg.kf_mode = vpx::vpx_kf_mode::VPX_KF_FIXED;
                    cfg.kf_max_dist = u32::MAX / 2;
                }
            }
            edit(&mut cfg);
            let mut ctx: Box<vpx::vpx_codec_ctx_t> = Box::new(std::mem::zeroed());
            vpx_check(
                "enc_init",
                vpx::vpx_codec_enc_init_ver(
                    &mut *ctx,
                    iface,
                    &cfg,
                    0,
                    vpx::VPX_ENCODER_ABI_VERSION as c_int,
                ),
            )?;
            let mut encoder = Self {
                ctx,
                config,
                pts: 0,
            };
            encoder.control(
                vpx::vp8e_enc_control_id::VP8E_SET_CPUUSED as c_int,
                config.cpu_used,
            )?;
            encoder.control(
                vpx::vp8e_enc_control_id::VP8E_SET_NOISE_SENSITIVITY as c_int,
                0,
            )?;
            encoder.control(
                vpx::vp8e_enc_control_id::VP8E_SET_TOKEN_PARTITIONS as c_int,
                0,
            )?;
            encoder.control(
                vpx::vp8e_enc_control_id::VP8E_SET_STATIC_THRESHOLD as c_int,
                1,
            )?;
            Ok(encoder)
        }
    }

    pub(super) fn control(&mut self, id: c_int, value: c_int) -> Result<(), CodecError> {
        // SAFETY: every control set here takes one int argument.
        let err = unsafe { vpx::vpx_codec_control_(&mut *self.ctx, id, value) };
        vpx_check("control", err)
    }

    pub fn config(&self) -> &Vp8EncoderConfig {
        &self.config
    }

    /// Bytes of an I420 picture of this size.
    pub fn picture_len(&self) -> usize {
        i420_len(self.config.width, self.config.height)
    }

    /// Encodes one I420 picture (`picture_len()` bytes) and appends what
    /// libvpx produced (one frame, in this configuration) to `out`.
    pub fn encode(
        &mut self,
        i420: &[u8],
        force_keyframe: bool,
        out: &mut Vec<EncodedFrame>,
    ) -> Result<(), CodecError> {
        let flags = if force_keyframe {
            vpx::VPX_EFLAG_FORCE_KF as vpx::vpx_enc_frame_flags_t
        } else {
            0
        };
        self.encode_with_flags(i420, flags, out)
    }

    /// As [`encode`](Self::encode) with raw libvpx frame flags
    /// (`VPX_EFLAG_FORCE_KF`, `VP8_EFLAG_NO_REF_*`, `VP8_EFLAG_NO_UPD_*`).
    pub(super) fn encode_with_flags(
        &mut self,
        i420: &[u8],
        flags: vpx::vpx_enc_frame_flags_t,
        out: &mut Vec<EncodedFrame>,
    ) -> Result<(), CodecError> {
        if i420.len() < self.picture_len() {
            return Err(CodecError {
                codec: "libvpx",
                message: "picture too short for the configured size".into(),
            });
        }
        // SAFETY: the image only borrows `i420` (checked long enough) for the
        // duration of the encode call, which copies it (no lag); libvpx does
        // not write through the pointer. Packets are copied out before the
        // next call on the context.
        unsafe {
            let mut image = MaybeUninit::<vpx::vpx_image_t>::zeroed();
            let wrapped = vpx::vpx_img_wrap(
                image.as_mut_ptr(),
                vpx::vpx_img_fmt::VPX_IMG_FMT_I420,
                self.config.width as c_uint,
                self.config.height as c_uint,
                1,
                i420.as_ptr() as *mut u8,
            );
            if wrapped.is_null() {
                return Err(CodecError {
                    codec: "libvpx",
                    message: "vpx_img_wrap failed".into(),
                });
            }
            vpx_check(
                "encode",
                vpx::vpx_codec_encode(
                    &mut *self.ctx,
                    wrapped,
                    self.pts,
                    1,
                    flags,
                    vpx::VPX_DL_REALTIME as c_ulong,
                ),
            )?;
            self.pts += 1;
            let mut iter: vpx::vpx_codec_iter_t = ptr::null();
            loop {
                let pkt = vpx::vpx_codec_get_cx_data(&mut *self.ctx, &mut iter);
                if pkt.is_null() {
                    break;
                }
                if (*pkt).kind != vpx::vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                    continue;
                }
                let frame = &(*pkt).data.frame;
                out.push(EncodedFrame {
                    data: std::slice::from_raw_parts(frame.buf as *const u8, frame.sz as usize)
                        .to_vec(),
                    keyframe: frame.flags & vpx::VPX_FRAME_IS_KEY != 0,
                });
            }
        }
        Ok(())
    }
}

impl Drop for Vp8Encoder {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe {
            vpx::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

/// What [`Vp8Decoder::decode`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedFrame {
    pub width: u32,
    pub height: u32,
    /// libvpx's `VP8D_GET_FRAME_CORRUPTED`: the frame or a reference it
    /// uses is known to be damaged.
    pub corrupted: bool,
    /// Mean of the luma plane, a cheap fingerprint of the picture.
    pub mean_luma: u8,
    /// FNV-1a of the luma plane: equal pictures, equal hashes, so a test
    /// can tell that a layer subset decodes to exactly the full stream.
    pub luma_hash: u64,
}

/// libvpx's VP8 decoder.
pub struct Vp8Decoder {
    ctx: Box<vpx::vpx_codec_ctx_t>,
}

// SAFETY: as for `Vp8Encoder`.
unsafe impl Send for Vp8Decoder {}

impl fmt::Debug for Vp8Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vp8Decoder").finish_non_exhaustive()
    }
}

impl Vp8Decoder {
    pub fn new() -> Result<Self, CodecError> {
        // SAFETY: as in `Vp8Encoder::new`; libvpx copies the config.
        unsafe {
            let cfg = vpx::vpx_codec_dec_cfg_t {
                threads: 1,
                w: 0,
                h: 0,
            };
            let mut ctx: Box<vpx::vpx_codec_ctx_t> = Box::new(std::mem::zeroed());
            vpx_check(
                "dec_init",
                vpx::vpx_codec_dec_init_ver(
                    &mut *ctx,
                    vpx::vpx_codec_vp8_dx(),
                    &cfg,
                    0,
                    vpx::VPX_DECODER_ABI_VERSION as c_int,
                ),
            )?;
            Ok(Self { ctx })
        }
    }

    /// Decodes one compressed frame; an error if libvpx rejects it or
    /// produces no picture.
    pub fn decode(&mut self, frame: &[u8]) -> Result<DecodedFrame, CodecError> {
        if frame.is_empty() {
            return Err(CodecError {
                codec: "libvpx",
                message: "empty frame".into(),
            });
        }
        // SAFETY: `frame` outlives the call; the returned image is read
        // before the next call on the context.
        unsafe {
            vpx_check(
                "decode",
                vpx::vpx_codec_decode(
                    &mut *self.ctx,
                    frame.as_ptr(),
                    frame.len() as c_uint,
                    ptr::null_mut(),
                    0 as c_long,
                ),
            )?;
            let mut corrupted: c_int = 0;
            vpx_check(
                "get_frame_corrupted",
                vpx::vpx_codec_control_(
                    &mut *self.ctx,
                    vpx::vp8_dec_control_id::VP8D_GET_FRAME_CORRUPTED as c_int,
                    &mut corrupted as *mut c_int,
                ),
            )?;
            let mut iter: vpx::vpx_codec_iter_t = ptr::null();
            let img = vpx::vpx_codec_get_frame(&mut *self.ctx, &mut iter);
            if img.is_null() {
                return Err(CodecError {
                    codec: "libvpx",
                    message: "no picture decoded".into(),
                });
            }
            let img = &*img;
            let (w, h) = (img.d_w as usize, img.d_h as usize);
            let stride = img.stride[0] as usize;
            let mut sum = 0u64;
            let mut hash = 0xcbf2_9ce4_8422_2325u64;
            for row in 0..h {
                let line = std::slice::from_raw_parts(img.planes[0].add(row * stride), w);
                for &v in line {
                    sum += u64::from(v);
                    hash = (hash ^ u64::from(v)).wrapping_mul(0x0100_0000_01b3);
                }
            }
            while !vpx::vpx_codec_get_frame(&mut *self.ctx, &mut iter).is_null() {}
            Ok(DecodedFrame {
                width: img.d_w,
                height: img.d_h,
                corrupted: corrupted != 0,
                mean_luma: (sum / (w * h).max(1) as u64) as u8,
                luma_hash: hash,
            })
        }
    }
}

impl Drop for Vp8Decoder {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe {
            vpx::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

pub(super) fn i420_len(width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    w * h + 2 * (w / 2) * (h / 2)
}

/// A seeded moving picture: a scrolling noise texture (so every frame has
/// detail to code), a bright square bouncing across it, and slowly cycling
/// colour.
#[derive(Debug, Clone)]
pub struct TestPattern {
    width: usize,
    height: usize,
    texture: Vec<u8>,
    /// Scroll velocity (pixels per frame) and the square's position and velocity.
    scroll: (usize, usize),
    square: (i64, i64, i64, i64),
    frame: u64,
}

impl TestPattern {
    pub fn new(seed: u64, width: u32, height: u32) -> Self {
        let (w, h) = (width as usize, height as usize);
        let mut rng = Rng::new(seed);
        // 8x8 blocks of random brightness with fine grain on top.
        let blocks_w = w.div_ceil(8);
        let blocks: Vec<u8> = (0..blocks_w * h.div_ceil(8))
            .map(|_| 40 + rng.below(160) as u8)
            .collect();
        let mut texture = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let grain = rng.below(24) as u8;
                texture[y * w + x] = blocks[(y / 8) * blocks_w + x / 8].saturating_add(grain);
            }
        }
        let scroll = (1 + rng.below(3) as usize, rng.below(2) as usize);
        let square = (
            rng.below(w as u64 / 2) as i64,
            rng.below(h as u64 / 2) as i64,
            2 + rng.below(4) as i64,
            1 + rng.below(3) as i64,
        );
        Self {
            width: w,
            height: h,
            texture,
            scroll,
            square,
            frame: 0,
        }
    }

    /// Writes the next picture into `out` (resized to the I420 size).
    pub fn render(&mut self, out: &mut Vec<u8>) {
        let (w, h) = (self.width, self.height);
        out.resize(i420_len(w as u32, h as u32), 0);
        let f = self.frame as usize;
        let dx = (f * self.scroll.0) % w;
        let dy = (f * self.scroll.1) % h;
        let (luma, chroma) = out.split_at_mut(w * h);
        for (y, row) in luma.chunks_exact_mut(w).enumerate() {
            let src = &self.texture[((y + dy) % h) * w..][..w];
            row[..w - dx].copy_from_slice(&src[dx..]);
            row[w - dx..].copy_from_slice(&src[..dx]);
        }
        // The bouncing square.
        let side = (h / 4).max(2) as i64;
        let (sx, sy, vx, vy) = &mut self.square;
        let (max_x, max_y) = (w as i64 - side, h as i64 - side);
        *sx += *vx;
        *sy += *vy;
        if *sx < 0 || *sx > max_x {
            *vx = -*vx;
            *sx = (*sx).clamp(0, max_x);
        }
        if *sy < 0 || *sy > max_y {
            *vy = -*vy;
            *sy = (*sy).clamp(0, max_y);
        }
        for y in *sy..*sy + side {
            let start = y as usize * w + *sx as usize;
            luma[start..start + side as usize].fill(235);
        }
        let (cw, ch) = (w / 2, h / 2);
        let (u, v) = chroma.split_at_mut(cw * ch);
        let t = self.frame as f64 * 0.03;
        u.fill((128.0 + 50.0 * t.sin()) as u8);
        v.fill((128.0 + 50.0 * (t * 0.7).cos()) as u8);
        self.frame += 1;
    }
}

/// Bytes of the VP8 payload descriptor written by [`Vp8Packetizer`]
/// (X, I, 15-bit PictureID).
pub const VP8_DESCRIPTOR_LEN: usize = 4;

/// RFC 7741 packetizer: one frame per call, split into near-equal packets
/// no longer than the MTU, each with a payload descriptor carrying a 15-bit
/// PictureID, S=1 and PID=0 on the first, the RTP marker on the last.
#[derive(Debug, Clone)]
pub struct Vp8Packetizer {
    pub ssrc: u32,
    pub payload_type: u8,
    /// Next RTP sequence number.
    pub sequence_number: u16,
    /// Next PictureID (15 bits).
    pub picture_id: u16,
    /// Largest RTP packet (header included).
    pub mtu: usize,
    payload: Vec<u8>,
}

impl Vp8Packetizer {
    pub fn new(ssrc: u32, payload_type: u8, sequence_number: u16, picture_id: u16) -> Self {
        Self {
            ssrc,
            payload_type,
            sequence_number,
            picture_id: picture_id & 0x7fff,
            mtu: 1200,
            payload: Vec::new(),
        }
    }

    /// Appends the RTP packets of `frame` (stamped `timestamp`) to `out`.
    pub fn packetize(&mut self, frame: &[u8], timestamp: u32, out: &mut Vec<Bytes>) {
        let room = self.mtu.saturating_sub(12 + VP8_DESCRIPTOR_LEN).max(1);
        let count = frame.len().div_ceil(room).max(1);
        let (base, extra) = (frame.len() / count, frame.len() % count);
        let mut at = 0;
        for i in 0..count {
            let len = base + usize::from(i < extra);
            let chunk = &frame[at..at + len];
            at += len;
            let pid = self.picture_id;
            self.payload.clear();
            self.payload.extend_from_slice(&[
                0x80 | if i == 0 { 0x10 } else { 0 },
                0x80,
                0x80 | (pid >> 8) as u8,
                pid as u8,
            ]);
            self.payload.extend_from_slice(chunk);
            out.push(build(&RtpBuilder {
                marker: i + 1 == count,
                payload_type: self.payload_type,
                sequence_number: self.sequence_number,
                timestamp,
                ssrc: self.ssrc,
                payload: &self.payload,
                ..Default::default()
            }));
            self.sequence_number = self.sequence_number.wrapping_add(1);
        }
        self.picture_id = (self.picture_id + 1) & 0x7fff;
    }
}

/// Reassembles the VP8 frame carried by `packets` (one frame's RTP packets,
/// in order): the payloads without their descriptors, concatenated.
pub fn vp8_depacketize(packets: &[Bytes]) -> Result<Vec<u8>, ParseError> {
    let mut frame = Vec::new();
    for p in packets {
        let rtp = RtpPacket::parse(&p[..])?;
        let d = Descriptor::parse(rtp.payload())?;
        frame.extend_from_slice(&rtp.payload()[d.len..]);
    }
    Ok(frame)
}

/// Options of a [`Vp8Publisher`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vp8Config {
    /// Seeds the picture, the SSRC, the first sequence number, timestamp
    /// and PictureID.
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    pub keyframe_interval: Option<u32>,
    pub cpu_used: i32,
    pub mtu: usize,
    pub payload_type: u8,
    pub drift: DriftClock,
    pub start_us: u64,
}

impl Default for Vp8Config {
    fn default() -> Self {
        Self {
            seed: 1,
            width: 320,
            height: 180,
            fps: 15,
            bitrate_kbps: 300,
            keyframe_interval: None,
            cpu_used: -6,
            mtu: 1200,
            payload_type: 96,
            drift: DriftClock { ppm: 0.0 },
            start_us: 0,
        }
    }
}

/// One encoded frame as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vp8Frame {
    /// True time the packets are sent (all at once).
    pub send_time_us: u64,
    pub timestamp: u32,
    pub picture_id: u16,
    /// libvpx's keyframe flag.
    pub keyframe: bool,
    pub packets: Vec<Bytes>,
}

/// A moving test pattern encoded with libvpx and sent as RTP at `fps`
/// frames per second of the sender's clock (90 kHz timestamps).
#[derive(Debug)]
pub struct Vp8Publisher {
    config: Vp8Config,
    encoder: Vp8Encoder,
    pattern: TestPattern,
    packetizer: Vp8Packetizer,
    clock: SenderClock,
    first_ts: u32,
    frames: u64,
    force_keyframe: bool,
    picture: Vec<u8>,
    encoded: Vec<EncodedFrame>,
}

impl Vp8Publisher {
    pub fn new(config: Vp8Config) -> Result<Self, CodecError> {
        let encoder = Vp8Encoder::new(Vp8EncoderConfig {
            width: config.width,
            height: config.height,
            fps: config.fps,
            bitrate_kbps: config.bitrate_kbps,
            keyframe_interval: config.keyframe_interval,
            cpu_used: config.cpu_used,
        })?;
        let mut rng = Rng::new(config.seed ^ 0x5680);
        let ssrc = rng.next_u64() as u32;
        let seq = rng.next_u64() as u16;
        let first_ts = rng.next_u64() as u32;
        let mut packetizer =
            Vp8Packetizer::new(ssrc, config.payload_type, seq, rng.next_u64() as u16);
        packetizer.mtu = config.mtu;
        Ok(Self {
            encoder,
            pattern: TestPattern::new(rng.next_u64(), config.width, config.height),
            packetizer,
            clock: SenderClock::new(config.drift, config.start_us),
            first_ts,
            frames: 0,
            force_keyframe: false,
            picture: Vec::new(),
            encoded: Vec::new(),
            config,
        })
    }

    pub fn config(&self) -> &Vp8Config {
        &self.config
    }

    pub fn ssrc(&self) -> u32 {
        self.packetizer.ssrc
    }

    pub fn payload_type(&self) -> u8 {
        self.config.payload_type
    }

    /// Sequence number of the next packet.
    pub fn next_sequence_number(&self) -> u16 {
        self.packetizer.sequence_number
    }

    pub fn frames_sent(&self) -> u64 {
        self.frames
    }

    /// Makes the next frame a keyframe (the answer to a PLI or FIR).
    pub fn force_keyframe(&mut self) {
        self.force_keyframe = true;
    }

    /// True time at which the next frame is sent.
    pub fn next_send_time(&self) -> u64 {
        self.clock.frame_time(self.frames, self.config.fps)
    }

    /// The next frame if it is due at `now`.
    pub fn poll(&mut self, now: u64) -> Option<Vp8Frame> {
        (self.next_send_time() <= now).then(|| self.next_frame())
    }

    /// Encodes and packetizes the next frame.
    ///
    /// # Panics
    /// If libvpx fails to encode (it does not, for a valid configuration).
    pub fn next_frame(&mut self) -> Vp8Frame {
        let send_time_us = self.next_send_time();
        let fps = self.config.fps.max(1);
        let timestamp = self
            .first_ts
            .wrapping_add((self.frames as u32).wrapping_mul(90_000 / fps));
        self.pattern.render(&mut self.picture);
        self.encoded.clear();
        self.encoder
            .encode(
                &self.picture,
                core::mem::take(&mut self.force_keyframe),
                &mut self.encoded,
            )
            .expect("libvpx encodes a frame");
        let picture_id = self.packetizer.picture_id;
        let mut packets = Vec::new();
        let mut keyframe = false;
        for f in &self.encoded {
            self.packetizer.packetize(&f.data, timestamp, &mut packets);
            keyframe |= f.keyframe;
        }
        self.frames += 1;
        Vp8Frame {
            send_time_us,
            timestamp,
            picture_id,
            keyframe,
            packets,
        }
    }
}
