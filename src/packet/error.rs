use core::fmt;

/// Why bytes were rejected as an RTP or RTCP packet.
///
/// Every malformed input maps to one of these; parsers never panic and never
/// read past the end of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// Shorter than the fixed header, or than a length the packet declares.
    Truncated,
    /// The version field is not 2.
    BadVersion,
    /// The CSRC count points past the end of the buffer.
    CsrcPastEnd,
    /// The header extension's length points past the end of the buffer, or an
    /// RFC 8285 element runs past the end of its extension block.
    ExtensionPastEnd,
    /// The padding bit is set but the padding count is 0 or larger than the
    /// space after the header.
    BadPadding,
    /// An RTCP length field disagrees with the buffer or with the packet type's
    /// own layout (e.g. a report count that does not fit).
    BadLength,
    /// An RTCP packet's contents are inconsistent with its type (e.g. an SDES
    /// item running past its chunk, a REMB without its "REMB" identifier).
    Malformed,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::Truncated => "packet truncated",
            ParseError::BadVersion => "RTP/RTCP version is not 2",
            ParseError::CsrcPastEnd => "CSRC list runs past the end of the packet",
            ParseError::ExtensionPastEnd => "header extension runs past its end",
            ParseError::BadPadding => "padding length is 0 or larger than the payload",
            ParseError::BadLength => "RTCP length field is inconsistent",
            ParseError::Malformed => "RTCP packet contents are malformed",
        })
    }
}

impl std::error::Error for ParseError {}

/// Why a packet could not be written or rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteError {
    /// The destination buffer is too small; `needed` bytes are required.
    BufferTooSmall { needed: usize },
    /// An argument is out of range for the format (an extension id of 0 or
    /// 15 in one-byte form, more than 15 CSRCs, more than 31 report blocks…).
    InvalidArgument(&'static str),
    /// The requested header extension is not present.
    NotFound,
    /// The packet to rewrite is itself malformed.
    Malformed(ParseError),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::BufferTooSmall { needed } => {
                write!(f, "buffer too small: {needed} bytes needed")
            }
            WriteError::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            WriteError::NotFound => f.write_str("header extension not found"),
            WriteError::Malformed(e) => write!(f, "malformed packet: {e}"),
        }
    }
}

impl std::error::Error for WriteError {}

/// Big-endian readers that never panic: callers check lengths first, these
/// keep the indexing in one place.
#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Fails with `BufferTooSmall` unless `buf` holds at least `needed` bytes.
#[inline]
pub(crate) fn ensure_room(buf: &[u8], needed: usize) -> Result<(), WriteError> {
    if buf.len() < needed {
        Err(WriteError::BufferTooSmall { needed })
    } else {
        Ok(())
    }
}
