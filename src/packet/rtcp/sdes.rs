//! Source description (RFC 3550 §6.5).

use super::{be32, check_count, put32, start_packet, ParseError, WriteError, PT_SDES};

/// SDES item type of the canonical name, the one item every compound
/// packet must carry.
pub const SDES_CNAME: u8 = 1;

/// Splits the first chunk off `data`: its SSRC, its items (without the
/// terminating null octets) and what follows its 32-bit-aligned end.
fn split_chunk(data: &[u8]) -> Result<(u32, &[u8], &[u8]), ParseError> {
    if data.len() < 4 {
        // The count announces a chunk that is not there.
        return Err(ParseError::BadLength);
    }
    let mut at = 4;
    loop {
        match data.get(at) {
            None => return Err(ParseError::Malformed),
            Some(0) => break,
            Some(_) => {
                let len = *data.get(at + 1).ok_or(ParseError::Malformed)?;
                at += 2 + usize::from(len);
                if at > data.len() {
                    return Err(ParseError::Malformed);
                }
            }
        }
    }
    // The null octet at `at` ends the list; nulls pad to the next word.
    let end = (at + 4) & !3;
    if end > data.len() {
        return Err(ParseError::Malformed);
    }
    Ok((be32(data, 0), &data[4..at], &data[end..]))
}

/// A source description packet: chunks of (SSRC, items).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sdes<'a> {
    count: u8,
    /// Holds at least `count` well-formed chunks.
    body: &'a [u8],
}

impl<'a> Sdes<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, ParseError> {
        let mut rest = body;
        for _ in 0..count {
            rest = split_chunk(rest)?.2;
        }
        Ok(Sdes { count, body })
    }

    /// The chunks, each an SSRC and an iterator over its items.
    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            data: self.body,
            remaining: self.count,
        }
    }

    /// The first CNAME item in the packet, with its chunk's SSRC.
    pub fn cname(&self) -> Option<(u32, &'a [u8])> {
        self.chunks().find_map(|(ssrc, mut items)| {
            items
                .find(|&(kind, _)| kind == SDES_CNAME)
                .map(|(_, value)| (ssrc, value))
        })
    }
}

/// Iterator over the chunks of an SDES packet.
#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    data: &'a [u8],
    remaining: u8,
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = (u32, SdesItems<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        self.remaining = self.remaining.checked_sub(1)?;
        // Cannot fail: parse checked every chunk.
        let (ssrc, items, rest) = split_chunk(self.data).ok()?;
        self.data = rest;
        Some((ssrc, SdesItems { data: items }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.remaining);
        (n, Some(n))
    }
}

impl ExactSizeIterator for SdesChunks<'_> {}

/// Iterator over one chunk's items, as (item type, value).
#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, rest) = self.data.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let (value, rest) = rest.split_at_checked(usize::from(len))?;
        self.data = rest;
        Some((kind, value))
    }
}

/// Builds an SDES packet with one CNAME item per chunk: `(ssrc, cname)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SdesBuilder<'a> {
    pub chunks: &'a [(u32, &'a [u8])],
}

/// Chunk size: SSRC, type, length, value, then 1–4 nulls to a word boundary.
fn chunk_len(cname: &[u8]) -> usize {
    (cname.len() + 10) & !3
}

impl SdesBuilder<'_> {
    pub fn encoded_len(&self) -> usize {
        4 + self.chunks.iter().map(|(_, c)| chunk_len(c)).sum::<usize>()
    }

    /// Writes the packet at the start of `buf`; returns its length.
    ///
    /// # Errors
    /// `InvalidArgument` for more than 31 chunks (the 5-bit count); a CNAME longer than 255 bytes (nothing is written);
    /// `BufferTooSmall { needed }` when `buf` is shorter than [`encoded_len`](Self::encoded_len).
    pub fn write_into(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        check_count(self.chunks.len(), "more than 31 SDES chunks")?;
        if self.chunks.iter().any(|(_, c)| c.len() > 255) {
            return Err(WriteError::InvalidArgument("CNAME longer than 255 bytes"));
        }
        let len = self.encoded_len();
        let out = start_packet(buf, len, self.chunks.len(), PT_SDES)?;
        let mut at = 4;
        for &(ssrc, cname) in self.chunks {
            let end = at + chunk_len(cname);
            put32(out, at, ssrc);
            out[at + 4] = SDES_CNAME;
            // Checked above: at most 255.
            out[at + 5] = cname.len() as u8;
            let value_end = at + 6 + cname.len();
            out[at + 6..value_end].copy_from_slice(cname);
            out[value_end..end].fill(0);
            at = end;
        }
        Ok(len)
    }
}
