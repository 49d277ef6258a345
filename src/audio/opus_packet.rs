//! What an Opus packet says about itself without being decoded: its coding
//! mode (from the TOC byte, RFC 6716 §3.1), whether it is a DTX frame, the
//! SILK layer's voice-activity flags and whether it carries in-band FEC
//! (LBRR, §4.2.3). The mixer uses this to leave silent participants
//! undecoded and to count only frames really recovered from FEC.
//!
//! The SILK layer (SILK-only and hybrid packets) starts its range-coded
//! bitstream with one VAD flag per SILK frame and then one LBRR flag, each
//! coded with probability ½, so they are the first bits of the first frame's
//! first byte (libopus 1.5's `opus_packet_has_lbrr` reads the LBRR flag the
//! same way). CELT-only packets carry neither: no VAD flag and never FEC.
//! Frames are located with libopus's own `opus_packet_parse`.

use std::os::raw::{c_int, c_uchar};

use audiopus_sys as ffi;

/// How an Opus packet is coded (TOC configurations 0–11, 12–15, 16–31).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpusMode {
    Silk,
    Hybrid,
    Celt,
}

/// Facts read from an Opus packet's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusPacketInfo {
    pub mode: OpusMode,
    /// A DTX / comfort-noise frame: the first frame has at most two bytes
    /// (libopus's DTX emits TOC-only packets; a coded frame of speech or
    /// noise never fits in two bytes); nothing to hear.
    pub dtx: bool,
    /// The sender's SILK VAD flag (any SILK frame active); `None` for
    /// CELT-only packets, which have no such flag.
    pub voice_activity: Option<bool>,
    /// In-band FEC (LBRR) for the previous packet is present.
    pub lbrr: bool,
}

/// Inspects an Opus payload (the RTP payload). `None` if libopus cannot
/// parse it (including an empty payload).
pub fn inspect(payload: &[u8]) -> Option<OpusPacketInfo> {
    let &toc = payload.first()?;
    let config = toc >> 3;
    let mode = match config {
        0..=11 => OpusMode::Silk,
        12..=15 => OpusMode::Hybrid,
        _ => OpusMode::Celt,
    };
    let stereo = toc & 0x04 != 0;
    let mut frames: [*const c_uchar; 48] = [std::ptr::null(); 48];
    let mut sizes = [0i16; 48];
    let mut out_toc: c_uchar = 0;
    let mut offset: c_int = 0;
    let len = payload.len().min(i32::MAX as usize) as i32;
    // SAFETY: `payload` holds `len` bytes; `frames` and `sizes` have the 48
    // entries libopus may write; the other out-parameters are plain values.
    let n = unsafe {
        ffi::opus_packet_parse(
            payload.as_ptr(),
            len,
            &mut out_toc,
            frames.as_mut_ptr(),
            sizes.as_mut_ptr(),
            &mut offset,
        )
    };
    if n <= 0 {
        return None;
    }
    let first_size = sizes[0].max(0) as usize;
    if first_size <= 2 {
        return Some(OpusPacketInfo {
            mode,
            dtx: true,
            voice_activity: (mode != OpusMode::Celt).then_some(false),
            lbrr: false,
        });
    }
    if mode == OpusMode::Celt {
        return Some(OpusPacketInfo {
            mode,
            dtx: false,
            voice_activity: None,
            lbrr: false,
        });
    }
    // SAFETY: libopus pointed frames[0] into `payload`, with `first_size` > 2 bytes.
    let first = unsafe { *frames[0] };
    // SILK frames per Opus frame: 10 and 20 ms hold one, 40 ms two, 60 ms three.
    let silk_frames = match (mode, config & 3) {
        (OpusMode::Silk, 2) => 2,
        (OpusMode::Silk, 3) => 3,
        _ => 1,
    };
    // Mid channel: `silk_frames` VAD bits, then its LBRR bit; stereo adds the
    // side channel's VAD bits and LBRR bit after them.
    let vad_mask = !(0xffu8 >> silk_frames);
    let mut active = first & vad_mask != 0;
    let mut lbrr = (first >> (7 - silk_frames)) & 1 != 0;
    if stereo {
        let side_vad = (first << (silk_frames + 1)) & vad_mask;
        active |= side_vad != 0;
        lbrr |= (first >> (6 - 2 * silk_frames)) & 1 != 0;
    }
    Some(OpusPacketInfo {
        mode,
        dtx: false,
        voice_activity: Some(active),
        lbrr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoder(app: opus::Application, fec: bool, dtx: bool) -> opus::Encoder {
        let mut e = opus::Encoder::new(48_000, opus::Channels::Mono, app).unwrap();
        e.set_inband_fec(fec).unwrap();
        e.set_packet_loss_perc(if fec { 20 } else { 0 }).unwrap();
        e.set_dtx(dtx).unwrap();
        e.set_bitrate(opus::Bitrate::Bits(24_000)).unwrap();
        e
    }

    fn tone(f: usize, amp: f32) -> [f32; 960] {
        std::array::from_fn(|i| {
            let t = (f * 960 + i) as f32 / 48_000.0;
            amp * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
        })
    }

    /// libopus itself is the reference: in SILK mode, decoding the next
    /// packet's FEC gives something else than plain concealment exactly when
    /// LBRR is present. (In hybrid mode the FEC path differs from PLC in its
    /// CELT part even without LBRR, so the flag is compared only in SILK.)
    #[test]
    fn lbrr_flag_agrees_with_what_libopus_recovers() {
        for (app, fec, bitrate) in [
            (opus::Application::Voip, true, 24_000),
            (opus::Application::Voip, false, 24_000),
            (opus::Application::Voip, true, 32_000),
            (opus::Application::LowDelay, true, 32_000),
        ] {
            let mut enc = encoder(app, fec, false);
            enc.set_bitrate(opus::Bitrate::Bits(bitrate)).unwrap();
            enc.set_signal(opus::Signal::Voice).unwrap();
            if bitrate <= 24_000 {
                enc.set_max_bandwidth(opus::Bandwidth::Wideband).unwrap();
            }
            let mut dec = RawDecoder::new();
            let mut buf = [0u8; 400];
            let (mut with_lbrr, mut compared) = (0, 0);
            for f in 0..60 {
                let n = enc.encode_float(&tone(f, 0.3), &mut buf).unwrap();
                let info = inspect(&buf[..n]).unwrap();
                if app == opus::Application::LowDelay {
                    assert_eq!(info.mode, OpusMode::Celt);
                }
                let mut a = dec.clone_state();
                let mut b = dec.clone_state();
                let (mut pa, mut pb) = ([0f32; 960], [0f32; 960]);
                a.decode_float(&buf[..n], &mut pa, true);
                b.decode_float(&[], &mut pb, false);
                if f > 2 {
                    with_lbrr += usize::from(info.lbrr);
                    if info.mode == OpusMode::Silk {
                        compared += 1;
                        assert_eq!(
                            info.lbrr,
                            pa != pb,
                            "frame {f} ({app:?}, fec {fec}) {info:?}"
                        );
                    }
                }
                dec.decode_float(&buf[..n], &mut pa, false);
            }
            println!("{app:?} fec {fec} {bitrate}: {with_lbrr} with LBRR, {compared} compared");
            assert_eq!(with_lbrr > 0, fec && app == opus::Application::Voip);
            assert!(compared > 40 || bitrate > 24_000);
        }
    }

    /// A libopus decoder whose state can be copied (one contiguous block,
    /// as `encoder::Encoder` relies on for the encoder).
    struct RawDecoder(Box<[u64]>);

    impl RawDecoder {
        fn new() -> Self {
            // SAFETY: size query, then init of a block of that size.
            unsafe {
                let size = ffi::opus_decoder_get_size(1) as usize;
                let mut d = RawDecoder(vec![0u64; size.div_ceil(8)].into_boxed_slice());
                assert_eq!(ffi::opus_decoder_init(d.ptr(), 48_000, 1), 0);
                d
            }
        }
        fn ptr(&mut self) -> *mut ffi::OpusDecoder {
            self.0.as_mut_ptr().cast()
        }
        fn clone_state(&self) -> Self {
            RawDecoder(self.0.clone())
        }
        fn decode_float(&mut self, data: &[u8], pcm: &mut [f32; 960], fec: bool) {
            let ptr = if data.is_empty() {
                std::ptr::null()
            } else {
                data.as_ptr()
            };
            // SAFETY: `data` and `pcm` are valid for the lengths given.
            let n = unsafe {
                ffi::opus_decode_float(
                    self.ptr(),
                    ptr,
                    data.len() as i32,
                    pcm.as_mut_ptr(),
                    960,
                    i32::from(fec),
                )
            };
            assert_eq!(n, 960);
        }
    }

    #[test]
    fn dtx_and_vad_flags_follow_the_signal() {
        let mut enc = encoder(opus::Application::Voip, false, true);
        let mut buf = [0u8; 400];
        let mut silent = Vec::new();
        let mut loud = Vec::new();
        for f in 0..100 {
            let amp = if (f / 25) % 2 == 0 { 0.3 } else { 0.0 };
            let n = enc.encode_float(&tone(f, amp), &mut buf).unwrap();
            let info = inspect(&buf[..n]).unwrap();
            if f % 25 > 5 {
                if amp > 0.0 { &mut loud } else { &mut silent }.push((n, info));
            }
        }
        println!("loud {loud:?}\nsilent {silent:?}");
        assert!(loud
            .iter()
            .all(|(_, i)| !i.dtx && i.voice_activity != Some(false)));
        assert!(silent
            .iter()
            .all(|(_, i)| i.dtx || i.voice_activity == Some(false)));
        assert!(silent.iter().any(|(_, i)| i.dtx), "{silent:?}");
    }
}
