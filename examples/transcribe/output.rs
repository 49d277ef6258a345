//! What the example leaves for the transcript consumer (`transcribe.py`):
//! per talker its tap and its original as 16 kHz WAV, the room mix, and
//! `meeting.json` with the script, the tap frames' metadata and the sender
//! reports received. JSON by hand: flat, and not worth a dependency.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use crate::room::RoomOut;
use crate::script::{Talker, Utterance};
use crate::wav::write_mono_i16;

/// `s` as a JSON string.
fn quoted(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn list<T>(items: impl IntoIterator<Item = T>, f: impl Fn(T) -> String) -> String {
    let v: Vec<String> = items.into_iter().map(f).collect();
    format!("[{}]", v.join(","))
}

/// Writes everything into `dir`; returns the paths written.
pub fn write(
    dir: &Path,
    talkers: &[Talker],
    script: &[Utterance],
    room: &RoomOut,
    wall0_us: u64,
    seed: u64,
) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let mut wav = |name: String, pcm: &[i16]| -> io::Result<String> {
        let path = dir.join(&name);
        write_mono_i16(&path, 16_000, pcm)?;
        written.push(path);
        Ok(name)
    };
    let mut talkers_json = Vec::new();
    for (t, o) in talkers.iter().zip(&room.talkers) {
        let lower = t.name.to_lowercase();
        let tap = wav(format!("tap_{lower}.wav"), &o.tap)?;
        let original = wav(format!("original_{lower}.wav"), &o.original)?;
        let codec = wav(format!("codec_{lower}.wav"), &o.codec)?;
        let f = &o.frames;
        talkers_json.push(format!(
            concat!(
                "{{\"name\":{},\"voice\":{},\"network\":{},\"participant\":{},\"ssrc\":{},",
                "\"clock_offset_ms\":{},\"drift_ppm\":{},\"tap_wav\":{},\"original_wav\":{},\"codec_wav\":{},",
                "\"packets_sent\":{},\"packets_lost\":{},",
                "\"sender_reports\":{},",
                "\"frames\":{{\"media_time\":{},\"rtp_timestamp\":{},\"voice\":{},\"content\":{},\"level\":{}}}}}"
            ),
            quoted(t.name),
            quoted(t.voice),
            quoted(t.network),
            o.participant,
            o.ssrc,
            t.clock_offset_us as f64 / 1e3,
            t.drift_ppm,
            quoted(&tap),
            quoted(&original),
            quoted(&codec),
            o.packets_sent,
            o.packets_lost,
            list(&o.reports, |r| format!(
                "[{:.6},{:.6},{}]",
                r.arrival_s, r.wall_s, r.rtp
            )),
            list(f, |m| m.media_time.to_string()),
            list(f, |m| m
                .rtp_timestamp
                .map_or("null".into(), |ts| ts.to_string())),
            list(f, |m| u8::from(m.voice).to_string()),
            list(f, |m| (m.content as u8).to_string()),
            list(f, |m| m.level.to_string()),
        ));
    }
    let mix = wav("room_mix.wav".into(), &room.mix)?;
    let utterances = list(script, |u| {
        format!(
            "{{\"talker\":{},\"text\":{},\"start_s\":{:.6},\"end_s\":{:.6}}}",
            u.talker,
            quoted(u.text),
            u.start_us as f64 / 1e6,
            (u.start_us + u.duration_us()) as f64 / 1e6
        )
    });
    let json = format!(
        concat!(
            "{{\"seed\":{},\"epoch_unix_s\":{:.6},\"sample_rate\":16000,",
            "\"content_names\":[\"audio\",\"fec\",\"concealed\",\"dtx\",\"muted\",\"missing\"],",
            "\"mix_wav\":{},\"mix_media_time0\":{},\"utterances\":{},\"talkers\":[{}]}}\n"
        ),
        seed,
        wall0_us as f64 / 1e6,
        quoted(&mix),
        room.mix_media_time0,
        utterances,
        talkers_json.join(",\n"),
    );
    let path = dir.join("meeting.json");
    std::fs::write(&path, json)?;
    written.push(path);
    Ok(written)
}
