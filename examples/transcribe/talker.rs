//! A talker's device: its microphone signal (the script's utterances on its
//! own clock), libopus at 32 kbit/s with in-band FEC, RTP with the RFC 6464
//! level and voice flag, and an RTCP sender report every second that ties
//! its RTP clock to its wall clock (NTP), as every WebRTC sender does.

use bytes::Bytes;
use rtmedia::audio::resample::Decimator3;
use rtmedia::audio::{FRAME_SAMPLES, TAP_FRAME_SAMPLES};
use rtmedia::packet::rtcp::SenderReportBuilder;
use rtmedia::packet::RtpBuilder;
use rtmedia::sim::{audio_level, DriftClock, Rng};

use crate::script::{Talker, Utterance};

/// 20 ms at 48 kHz.
const FRAME: usize = 960;
const FRAME_US: u64 = 20_000;
/// Sender reports every second of the talker's clock.
const SR_INTERVAL_US: u64 = 1_000_000;
/// Seconds from 1900 (NTP) to 1970 (Unix).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// The microphone's noise floor, RMS of 16-bit samples (-58 dBFS).
const NOISE_RMS: f64 = 40.0;
/// RFC 6464 extension id (the mixer's default).
const LEVEL_EXT_ID: u8 = 1;

pub struct Device {
    pub ssrc: u32,
    pub ts0: u32,
    seq0: u16,
    clock: DriftClock,
    /// Wall clock at local time 0, µs since the Unix epoch.
    wall0_us: u64,
    /// The microphone signal, 48 kHz, on the talker's clock.
    mic: Vec<i16>,
    /// The same as synthesized, 16 kHz: the recognizer's floor.
    mic16: Vec<i16>,
    encoder: opus::Encoder,
    /// The codec's floor: every packet decoded at once, without the
    /// network, and decimated to 16 kHz as the mixer's taps are.
    decoder: opus::Decoder,
    decimator: Decimator3,
    codec16: Vec<i16>,
    frames: u64,
    reports: u64,
    octets: u32,
    payload: Vec<u8>,
}

impl Device {
    /// `wall0_us`: the meeting's epoch on the true clock (the talker's is
    /// off by its `clock_offset_us`); `length_us`: the meeting's length.
    pub fn new(
        talker: &Talker,
        index: usize,
        script: &[Utterance],
        wall0_us: u64,
        length_us: u64,
        seed: u64,
    ) -> Self {
        let mut rng = Rng::new(seed ^ (0x7a1c_0000 + index as u64));
        // A room's noise floor under the voice (a real microphone is never
        // digitally silent; a recognizer fed exact zeros in the original
        // and codec noise in the tap would compare unlike things).
        let frames = (length_us / FRAME_US) as usize + 1;
        let mut mic16: Vec<i16> = (0..frames * FRAME / 3)
            .map(|_| (rng.normal() * NOISE_RMS).round() as i16)
            .collect();
        for u in script.iter().filter(|u| u.talker == index) {
            let start = (u.start_us * 16 / 1000) as usize;
            for (m, s) in mic16[start.min(frames * FRAME / 3)..]
                .iter_mut()
                .zip(&u.pcm16k)
            {
                *m = m.saturating_add(*s);
            }
        }
        let mic = upsample3(&mic16);
        let mut encoder = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
            .expect("libopus encoder");
        encoder
            .set_bitrate(opus::Bitrate::Bits(32_000))
            .expect("bitrate");
        encoder.set_inband_fec(true).expect("fec");
        encoder.set_packet_loss_perc(10).expect("loss");
        Self {
            ssrc: rng.next_u64() as u32,
            ts0: rng.next_u64() as u32,
            seq0: rng.next_u64() as u16,
            clock: DriftClock {
                ppm: talker.drift_ppm,
            },
            wall0_us: wall0_us.saturating_add_signed(talker.clock_offset_us),
            mic,
            mic16,
            encoder,
            decoder: opus::Decoder::new(48_000, opus::Channels::Mono).expect("libopus decoder"),
            decimator: Decimator3::new(),
            codec16: Vec::new(),
            frames: 0,
            reports: 0,
            octets: 0,
            payload: vec![0; 1275],
        }
    }

    /// The microphone signal at 16 kHz, as synthesized (before the
    /// upsampling, Opus and the network): sample 0 at local time 0.
    pub fn original_16k(&self) -> &[i16] {
        &self.mic16
    }

    /// The microphone signal through Opus alone (encoded and decoded here,
    /// no network, no jitter buffer), 16 kHz as the taps: sample 0 at local
    /// time 0. Against the original it shows what the codec costs a
    /// recognizer, against the tap what the network and the library do.
    pub fn codec_16k(&self) -> &[i16] {
        &self.codec16
    }

    /// What the device sends by true time `now`: RTP packets (one per 20 ms
    /// of its clock, once the frame is captured) and sender reports.
    pub fn poll(&mut self, now: u64, mut send: impl FnMut(Bytes)) {
        let local = self.clock.local(now);
        while (self.frames + 1) * FRAME_US <= local
            && ((self.frames + 1) as usize) * FRAME <= self.mic.len()
        {
            send(self.next_packet());
        }
        while (self.reports + 1) * SR_INTERVAL_US <= local {
            self.reports += 1;
            send(self.sender_report(self.reports * SR_INTERVAL_US));
        }
    }

    fn next_packet(&mut self) -> Bytes {
        let k = self.frames as usize;
        let pcm = &self.mic[k * FRAME..(k + 1) * FRAME];
        let n = self
            .encoder
            .encode(pcm, &mut self.payload)
            .expect("libopus encodes 20 ms");
        let mut decoded = [0f32; FRAME_SAMPLES];
        let got = self
            .decoder
            .decode_float(&self.payload[..n], &mut decoded, false)
            .expect("libopus decodes its own packet");
        debug_assert_eq!(got, FRAME_SAMPLES);
        let mut out = [0f32; TAP_FRAME_SAMPLES];
        self.decimator.process(&decoded, &mut out);
        self.codec16.extend(
            out.iter()
                .map(|x| (x.clamp(-1.0, 1.0) * 32767.0).round() as i16),
        );
        let level = [audio_level(pcm)];
        let ext = [(LEVEL_EXT_ID, &level[..])];
        let packet = build(&RtpBuilder {
            marker: k == 0,
            payload_type: 111,
            sequence_number: self.seq0.wrapping_add(k as u16),
            timestamp: self.ts0.wrapping_add((k * FRAME) as u32),
            ssrc: self.ssrc,
            extensions: &ext,
            payload: &self.payload[..n],
            ..Default::default()
        });
        self.frames += 1;
        self.octets = self.octets.wrapping_add(n as u32);
        packet
    }

    /// The sender report at local time `local_us`: the RTP timestamp of
    /// that instant and the wall clock's NTP time.
    fn sender_report(&self, local_us: u64) -> Bytes {
        let wall = self.wall0_us + local_us;
        let secs = wall / 1_000_000 + NTP_UNIX_OFFSET;
        let frac = ((wall % 1_000_000) << 32) / 1_000_000;
        let sr = SenderReportBuilder {
            ssrc: self.ssrc,
            ntp_timestamp: (secs << 32) | frac,
            rtp_timestamp: self.ts0.wrapping_add((local_us * 48 / 1000) as u32),
            packet_count: self.frames as u32,
            octet_count: self.octets,
            report_blocks: &[],
        };
        let mut buf = vec![0u8; sr.encoded_len()];
        sr.write_into(&mut buf).expect("sized above");
        Bytes::from(buf)
    }
}

fn build(b: &RtpBuilder<'_>) -> Bytes {
    let mut buf = vec![0u8; b.encoded_len().expect("valid header")];
    b.write_into(&mut buf).expect("sized above");
    Bytes::from(buf)
}

/// 16 kHz → 48 kHz: a Hann-windowed sinc interpolator (16 input samples
/// each side, cut-off 7.6 kHz). Offline, once per utterance.
fn upsample3(x: &[i16]) -> Vec<i16> {
    const HALF: i64 = 16;
    let cutoff = 7_600.0 / 8_000.0; // of the 16 kHz Nyquist
    let h = |t: f64| {
        if t.abs() >= HALF as f64 {
            return 0.0;
        }
        let sinc = if t == 0.0 {
            1.0
        } else {
            (std::f64::consts::PI * cutoff * t).sin() / (std::f64::consts::PI * t)
        };
        let window = 0.5 + 0.5 * (std::f64::consts::PI * t / HALF as f64).cos();
        if t == 0.0 {
            cutoff * window
        } else {
            sinc * window
        }
    };
    // The three phases' coefficients.
    let phases: Vec<Vec<f64>> = (0..3)
        .map(|p| {
            (-HALF..=HALF)
                .map(|k| h(p as f64 / 3.0 - k as f64))
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity(x.len() * 3);
    for n in 0..x.len() as i64 {
        for coef in &phases {
            let mut acc = 0.0;
            for (j, c) in coef.iter().enumerate() {
                let i = n + j as i64 - HALF;
                if (0..x.len() as i64).contains(&i) {
                    acc += c * f64::from(x[i as usize]);
                }
            }
            out.push(acc.round().clamp(-32768.0, 32767.0) as i16);
        }
    }
    out
}
