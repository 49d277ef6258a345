//! Receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb-03): a
//! PSFB application-layer feedback message tagged "REMB".

use super::{be32, put32, start_packet, ParseError, Ssrcs, WriteError, FMT_AFB, PT_PSFB};

const IDENTIFIER: &[u8; 4] = b"REMB";
/// Sender SSRC, media SSRC, "REMB", count and bitrate.
const FIXED_LEN: usize = 16;
const MANTISSA_MAX: u64 = (1 << 18) - 1;

/// A REMB packet: the receiver's bandwidth estimate for some SSRCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remb<'a> {
    /// The fixed part and exactly the announced SSRCs.
    body: &'a [u8],
}

impl<'a> Remb<'a> {
    /// `None` if this application-layer feedback is not a REMB, which is
    /// not an error: FMT 15 is shared by every AFB message.
    pub(super) fn parse(body: &'a [u8]) -> Result<Option<Self>, ParseError> {
        if body.get(8..12) != Some(&IDENTIFIER[..]) {
            return Ok(None);
        }
        let count = *body.get(12).ok_or(ParseError::BadLength)?;
        let end = FIXED_LEN + 4 * usize::from(count);
        let body = body.get(..end).ok_or(ParseError::BadLength)?;
        Ok(Some(Remb { body }))
    }

    pub fn sender_ssrc(&self) -> u32 {
        be32(self.body, 0)
    }

    /// Unused by REMB (the draft says 0); the targets are in [`Self::ssrcs`].
    pub fn media_ssrc(&self) -> u32 {
        be32(self.body, 4)
    }

    /// The 6-bit exponent and 18-bit mantissa as sent.
    pub fn exponent_mantissa(&self) -> (u8, u32) {
        let raw = be32(self.body, 12) & 0xff_ffff;
        ((raw >> 18) as u8, raw & MANTISSA_MAX as u32)
    }

    /// `mantissa << exponent` bits per second, saturating at `u64::MAX`
    /// (exponents above 46 can overflow; no real estimate is that large).
    pub fn bitrate_bps(&self) -> u64 {
        let (exp, mantissa) = self.exponent_mantissa();
        let mantissa = u64::from(mantissa);
        if mantissa == 0 {
            0
        } else if u32::from(exp) > mantissa.leading_zeros() {
            u64::MAX
        } else {
            mantissa << exp
        }
    }

    pub fn ssrcs(&self) -> Ssrcs<'a> {
        Ssrcs::new(&self.body[FIXED_LEN..])
    }
}

/// Builds a REMB packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RembBuilder<'a> {
    pub sender_ssrc: u32,
    /// Rounded down to what 18 bits of mantissa can express.
    pub bitrate_bps: u64,
    /// At most 255.
    pub ssrcs: &'a [u32],
}

impl RembBuilder<'_> {
    pub fn encoded_len(&self) -> usize {
        4 + FIXED_LEN + 4 * self.ssrcs.len()
    }

    /// The smallest exponent whose mantissa fits 18 bits, and that mantissa.
    fn exponent_mantissa(&self) -> (u32, u32) {
        let exp = (64 - self.bitrate_bps.leading_zeros()).saturating_sub(18);
        // Fits 18 bits by the choice of exponent (at most 46).
        (exp, (self.bitrate_bps >> exp) as u32)
    }

    /// Writes the packet at the start of `buf`; returns its length.
    ///
    /// # Errors
    /// `InvalidArgument` for more than 255 SSRCs (the 8-bit count) (nothing is written);
    /// `BufferTooSmall { needed }` when `buf` is shorter than [`encoded_len`](Self::encoded_len).
    pub fn write_into(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        let count = u8::try_from(self.ssrcs.len())
            .map_err(|_| WriteError::InvalidArgument("more than 255 REMB SSRCs"))?;
        let len = self.encoded_len();
        let out = start_packet(buf, len, usize::from(FMT_AFB), PT_PSFB)?;
        put32(out, 4, self.sender_ssrc);
        put32(out, 8, 0);
        out[12..16].copy_from_slice(IDENTIFIER);
        let (exp, mantissa) = self.exponent_mantissa();
        put32(out, 16, u32::from(count) << 24 | exp << 18 | mantissa);
        for (i, &ssrc) in self.ssrcs.iter().enumerate() {
            put32(out, 20 + 4 * i, ssrc);
        }
        Ok(len)
    }
}
