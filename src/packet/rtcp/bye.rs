//! Goodbye (RFC 3550 §6.6).

use super::{check_count, put32, start_packet, ParseError, Ssrcs, WriteError, PT_BYE};

/// A BYE packet: the sources leaving, and an optional reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    ssrcs: &'a [u8],
    reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, ParseError> {
        let (ssrcs, rest) = body
            .split_at_checked(usize::from(count) * 4)
            .ok_or(ParseError::BadLength)?;
        // Whatever follows the SSRCs is a length-prefixed reason, then nulls
        // to the word boundary.
        let reason = match rest.split_first() {
            None => None,
            Some((&len, text)) => Some(text.get(..usize::from(len)).ok_or(ParseError::Malformed)?),
        };
        Ok(Bye { ssrcs, reason })
    }

    pub fn ssrcs(&self) -> Ssrcs<'a> {
        Ssrcs::new(self.ssrcs)
    }

    /// The reason for leaving, if one is given (UTF-8 by RFC 3550, unchecked).
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.reason
    }
}

/// Builds a BYE packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByeBuilder<'a> {
    pub ssrcs: &'a [u32],
    pub reason: Option<&'a [u8]>,
}

impl ByeBuilder<'_> {
    pub fn encoded_len(&self) -> usize {
        let reason = self.reason.map_or(0, |r| (r.len() + 4) & !3);
        4 + self.ssrcs.len() * 4 + reason
    }

    /// Writes the packet at the start of `buf`; returns its length.
    ///
    /// # Errors
    /// `InvalidArgument` for no SSRC (a BYE must name who leaves); more than 31 SSRCs (the 5-bit count); a reason longer than 255 bytes (nothing is written);
    /// `BufferTooSmall { needed }` when `buf` is shorter than [`encoded_len`](Self::encoded_len).
    pub fn write_into(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        if self.ssrcs.is_empty() {
            return Err(WriteError::InvalidArgument("BYE without SSRCs"));
        }
        check_count(self.ssrcs.len(), "more than 31 BYE SSRCs")?;
        if self.reason.is_some_and(|r| r.len() > 255) {
            return Err(WriteError::InvalidArgument(
                "BYE reason longer than 255 bytes",
            ));
        }
        let len = self.encoded_len();
        let out = start_packet(buf, len, self.ssrcs.len(), PT_BYE)?;
        let mut at = 4;
        for &ssrc in self.ssrcs {
            put32(out, at, ssrc);
            at += 4;
        }
        if let Some(reason) = self.reason {
            // Checked above: at most 255.
            out[at] = reason.len() as u8;
            let text_end = at + 1 + reason.len();
            out[at + 1..text_end].copy_from_slice(reason);
            out[text_end..].fill(0);
        }
        Ok(len)
    }
}
