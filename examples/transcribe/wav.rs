//! 16-bit mono WAV files, read and written by hand (RIFF header, PCM).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

pub fn write_mono_i16(path: &Path, sample_rate: u32, samples: &[i16]) -> io::Result<()> {
    let data_len = (samples.len() * 2) as u32;
    let mut w = BufWriter::new(File::create(path)?);
    w.write_all(b"RIFF")?;
    w.write_all(&(36 + data_len).to_le_bytes())?;
    w.write_all(b"WAVEfmt ")?;
    w.write_all(&16u32.to_le_bytes())?;
    w.write_all(&1u16.to_le_bytes())?; // PCM
    w.write_all(&1u16.to_le_bytes())?; // mono
    w.write_all(&sample_rate.to_le_bytes())?;
    w.write_all(&(sample_rate * 2).to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&16u16.to_le_bytes())?;
    w.write_all(b"data")?;
    w.write_all(&data_len.to_le_bytes())?;
    for s in samples {
        w.write_all(&s.to_le_bytes())?;
    }
    w.flush()
}

/// Sample rate and samples of a 16-bit mono PCM WAV file.
pub fn read_mono_i16(path: &Path) -> io::Result<(u32, Vec<i16>)> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let (mut pos, mut rate, mut format_ok) = (12, 0, false);
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = &bytes[pos + 8..(pos + 8 + len).min(bytes.len())];
        match id {
            b"fmt " if body.len() >= 16 => {
                let format = u16::from_le_bytes([body[0], body[1]]);
                let channels = u16::from_le_bytes([body[2], body[3]]);
                let bits = u16::from_le_bytes([body[14], body[15]]);
                rate = u32::from_le_bytes(body[4..8].try_into().unwrap());
                format_ok = format == 1 && channels == 1 && bits == 16;
            }
            b"data" if format_ok => {
                let pcm = body
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]))
                    .collect();
                return Ok((rate, pcm));
            }
            _ => {}
        }
        pos += 8 + len + (len & 1);
    }
    Err(bad("no 16-bit mono PCM data"))
}
