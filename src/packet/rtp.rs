//! RTP (RFC 3550): a validated, zero-copy view with in-place setters, and a
//! builder that writes into a caller buffer.

use bytes::{Bytes, BytesMut};

use super::error::{be16, be32, ensure_room, ParseError, WriteError};
use super::ext::{self, ExtensionForm, Extensions};

/// Size of the fixed RTP header.
pub const FIXED_HEADER_LEN: usize = 12;

/// Where everything is in a validated RTP packet. Plain offsets, `Copy`, so a
/// host can keep it beside the buffer and skip re-parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpLayout {
    /// Total packet length the layout was computed for.
    pub len: usize,
    /// Offset of the payload (end of CSRCs and header extension).
    pub payload_start: usize,
    /// End of the payload (start of padding, or `len`).
    pub payload_end: usize,
    /// The header extension, if the X bit is set.
    pub extension: Option<ExtensionBlock>,
}

/// Location of the header extension block (RFC 3550 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionBlock {
    /// The 16-bit "defined by profile" field: 0xBEDE for RFC 8285 one-byte
    /// elements, 0x100X for two-byte elements.
    pub profile: u16,
    /// Offset of the first data byte (just after the 4-byte block header).
    pub data_start: usize,
    /// Length of the data in bytes (a multiple of 4).
    pub data_len: usize,
}

impl ExtensionBlock {
    /// The RFC 8285 element form this block uses, if any.
    pub fn form(&self) -> Option<ExtensionForm> {
        ExtensionForm::from_profile(self.profile)
    }
}

impl RtpLayout {
    /// Validates `buf` as one RTP packet and records its layout.
    ///
    /// Rejects: fewer than 12 bytes, version other than 2, a CSRC list or
    /// header extension past the end, and a padding count of 0 or larger
    /// than what follows the header.
    #[inline]
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let mut layout = Self::parse_header(buf)?;
        if buf[0] & 0x20 != 0 {
            let pad = usize::from(buf[buf.len() - 1]);
            if pad == 0 || pad > buf.len() - layout.payload_start {
                return Err(ParseError::BadPadding);
            }
            layout.payload_end = buf.len() - pad;
        }
        Ok(layout)
    }

    /// Like [`parse`](Self::parse) but without looking at the padding, whose
    /// count byte is not readable while the payload is encrypted (SRTP):
    /// `payload_end` is the end of the buffer.
    #[inline]
    pub fn parse_header(buf: &[u8]) -> Result<Self, ParseError> {
        if buf.len() < FIXED_HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        let b0 = buf[0];
        if b0 >> 6 != 2 {
            return Err(ParseError::BadVersion);
        }
        let has_extension = b0 & 0x10 != 0;
        let csrc_count = usize::from(b0 & 0x0f);

        let mut offset = FIXED_HEADER_LEN + 4 * csrc_count;
        if offset > buf.len() {
            return Err(ParseError::CsrcPastEnd);
        }
        let extension = if has_extension {
            if offset + 4 > buf.len() {
                return Err(ParseError::ExtensionPastEnd);
            }
            let profile = be16(buf, offset);
            let data_len = 4 * usize::from(be16(buf, offset + 2));
            let data_start = offset + 4;
            if data_start + data_len > buf.len() {
                return Err(ParseError::ExtensionPastEnd);
            }
            offset = data_start + data_len;
            Some(ExtensionBlock {
                profile,
                data_start,
                data_len,
            })
        } else {
            None
        };
        Ok(Self {
            len: buf.len(),
            payload_start: offset,
            payload_end: buf.len(),
            extension,
        })
    }

    /// Length of the header (fixed part, CSRCs and extension).
    pub fn header_len(&self) -> usize {
        self.payload_start
    }

    /// Number of padding bytes at the end, including the count byte.
    pub fn padding_len(&self) -> usize {
        self.len - self.payload_end
    }
}

/// A validated RTP packet over any byte container: `&[u8]`, `&mut [u8]`,
/// `Bytes`, `BytesMut`, `Vec<u8>`. Accessors read the buffer directly; the
/// setters (when the buffer is mutable) rewrite it in place.
#[derive(Debug, Clone)]
pub struct RtpPacket<B> {
    buf: B,
    layout: RtpLayout,
}

impl<B: AsRef<[u8]>> RtpPacket<B> {
    /// Validates `buf` (see [`RtpLayout::parse`]).
    pub fn parse(buf: B) -> Result<Self, ParseError> {
        let layout = RtpLayout::parse(buf.as_ref())?;
        Ok(Self { buf, layout })
    }

    /// The layout computed at parse time.
    pub fn layout(&self) -> &RtpLayout {
        &self.layout
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    pub fn version(&self) -> u8 {
        self.b()[0] >> 6
    }

    pub fn has_padding(&self) -> bool {
        self.b()[0] & 0x20 != 0
    }

    pub fn has_extension(&self) -> bool {
        self.b()[0] & 0x10 != 0
    }

    pub fn csrc_count(&self) -> usize {
        usize::from(self.b()[0] & 0x0f)
    }

    pub fn marker(&self) -> bool {
        self.b()[1] & 0x80 != 0
    }

    pub fn payload_type(&self) -> u8 {
        self.b()[1] & 0x7f
    }

    pub fn sequence_number(&self) -> u16 {
        be16(self.b(), 2)
    }

    pub fn timestamp(&self) -> u32 {
        be32(self.b(), 4)
    }

    pub fn ssrc(&self) -> u32 {
        be32(self.b(), 8)
    }

    /// The CSRC at `index` (0-based), if present.
    pub fn csrc(&self, index: usize) -> Option<u32> {
        (index < self.csrc_count()).then(|| be32(self.b(), FIXED_HEADER_LEN + 4 * index))
    }

    /// All CSRCs in order.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.csrc_count()).map(move |i| be32(self.b(), FIXED_HEADER_LEN + 4 * i))
    }

    /// The raw header extension block: its profile field and its data.
    pub fn extension_block(&self) -> Option<(u16, &[u8])> {
        self.layout.extension.map(|e| {
            (
                e.profile,
                &self.b()[e.data_start..e.data_start + e.data_len],
            )
        })
    }

    /// RFC 8285 elements in order; empty if there is no block or its profile
    /// is not 0xBEDE / 0x100X. Iteration stops at the first malformed element
    /// (as libwebrtc does) rather than rejecting the whole packet.
    pub fn extensions(&self) -> Extensions<'_> {
        match self.layout.extension {
            Some(e) => match e.form() {
                Some(form) => {
                    Extensions::new(form, &self.b()[e.data_start..e.data_start + e.data_len])
                }
                None => Extensions::empty(),
            },
            None => Extensions::empty(),
        }
    }

    /// The value of the RFC 8285 element with `id`, if present.
    pub fn extension(&self, id: u8) -> Option<&[u8]> {
        self.extensions().find(|e| e.id == id).map(|e| e.data)
    }

    /// The payload, without header or padding.
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.layout.payload_start..self.layout.payload_end]
    }

    /// Byte range of the payload within the packet.
    pub fn payload_range(&self) -> core::ops::Range<usize> {
        self.layout.payload_start..self.layout.payload_end
    }

    pub fn header_len(&self) -> usize {
        self.layout.header_len()
    }

    /// Padding bytes at the end, including the count byte (0 if none).
    pub fn padding_len(&self) -> usize {
        self.layout.padding_len()
    }
}

impl RtpPacket<Bytes> {
    /// The payload as a `Bytes` sharing this packet's storage (no copy).
    pub fn payload_bytes(&self) -> Bytes {
        self.buf.slice(self.payload_range())
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> RtpPacket<B> {
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }

    pub fn set_marker(&mut self, marker: bool) {
        let b = self.bm();
        b[1] = (b[1] & 0x7f) | (u8::from(marker) << 7);
    }

    /// Sets the 7-bit payload type; the high bit of `pt` is ignored.
    pub fn set_payload_type(&mut self, pt: u8) {
        let b = self.bm();
        b[1] = (b[1] & 0x80) | (pt & 0x7f);
    }

    pub fn set_sequence_number(&mut self, seq: u16) {
        self.bm()[2..4].copy_from_slice(&seq.to_be_bytes());
    }

    pub fn set_timestamp(&mut self, ts: u32) {
        self.bm()[4..8].copy_from_slice(&ts.to_be_bytes());
    }

    pub fn set_ssrc(&mut self, ssrc: u32) {
        self.bm()[8..12].copy_from_slice(&ssrc.to_be_bytes());
    }

    /// Rewrites the CSRC at `index`; `false` if there is no such CSRC.
    pub fn set_csrc(&mut self, index: usize, csrc: u32) -> bool {
        if index >= self.csrc_count() {
            return false;
        }
        let at = FIXED_HEADER_LEN + 4 * index;
        self.bm()[at..at + 4].copy_from_slice(&csrc.to_be_bytes());
        true
    }

    /// The value of element `id`, writable in place.
    pub fn extension_mut(&mut self, id: u8) -> Option<&mut [u8]> {
        let e = self.layout.extension?;
        let form = e.form()?;
        let block = &mut self.buf.as_mut()[e.data_start..e.data_start + e.data_len];
        let range = ext::find_value_range(form, block, id)?;
        Some(&mut block[range])
    }

    /// Overwrites element `id` with `value` of the same length.
    ///
    /// Use [`add_extension`] to change the length or add a new element.
    pub fn set_extension(&mut self, id: u8, value: &[u8]) -> Result<(), WriteError> {
        let slot = self.extension_mut(id).ok_or(WriteError::NotFound)?;
        if slot.len() != value.len() {
            return Err(WriteError::InvalidArgument(
                "value length differs from the element's; use add_extension",
            ));
        }
        slot.copy_from_slice(value);
        Ok(())
    }

    /// The payload, writable in place.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let r = self.payload_range();
        &mut self.bm()[r]
    }
}

/// Adds (or replaces) the RFC 8285 element `id` in the packet held in
/// `buf[..len]`, moving the payload if the extension block must grow.
/// `buf.len()` is the capacity. Returns the new packet length.
///
/// Without an extension block, one is created in one-byte form when the
/// element allows it (id 1–14, 1–16 bytes), else in two-byte form. Fails with
/// `BufferTooSmall` if the grown packet exceeds the capacity (the packet is
/// then unchanged), and with `InvalidArgument` if the element cannot be
/// expressed in the block's existing form or the block is not RFC 8285.
/// On any error the buffer is unchanged, replacements included.
pub fn add_extension(
    buf: &mut [u8],
    len: usize,
    id: u8,
    value: &[u8],
) -> Result<usize, WriteError> {
    if find_extension_in(buf, len, id)?.is_none() {
        return ext::add(buf, len, id, value);
    }
    // Replace: remove then add, once it is known that the add will succeed
    // (issue 19: a failed replace must leave the packet as it was).
    let expected = ext::replaced_len(buf, len, id, value)?;
    let removed = remove_extension(buf, len, id)?;
    let result = ext::add(buf, removed, id, value);
    debug_assert_eq!(result, Ok(expected));
    result
}

/// Removes the RFC 8285 element `id` from the packet in `buf[..len]`,
/// shrinking the extension block (and dropping it, with the X bit, when it
/// becomes empty). Returns the new length; `NotFound` if absent.
pub fn remove_extension(buf: &mut [u8], len: usize, id: u8) -> Result<usize, WriteError> {
    ext::remove(buf, len, id)
}

/// [`add_extension`] on a `BytesMut`, growing it if needed.
pub fn add_extension_bytes(pkt: &mut BytesMut, id: u8, value: &[u8]) -> Result<(), WriteError> {
    let len = pkt.len();
    // An element needs at most 2 + 255 bytes plus 3 of padding and a 4-byte block header.
    pkt.resize(len + value.len() + 12, 0);
    match add_extension(pkt, len, id, value) {
        Ok(new_len) => {
            pkt.truncate(new_len);
            Ok(())
        }
        Err(e) => {
            pkt.truncate(len);
            Err(e)
        }
    }
}

/// [`remove_extension`] on a `BytesMut`.
pub fn remove_extension_bytes(pkt: &mut BytesMut, id: u8) -> Result<(), WriteError> {
    let len = pkt.len();
    let new_len = remove_extension(pkt, len, id)?;
    pkt.truncate(new_len);
    Ok(())
}

fn find_extension_in(buf: &[u8], len: usize, id: u8) -> Result<Option<()>, WriteError> {
    let pkt = RtpPacket::parse(
        buf.get(..len)
            .ok_or(WriteError::InvalidArgument("len exceeds buffer"))?,
    )
    .map_err(WriteError::Malformed)?;
    Ok(pkt.extension(id).map(|_| ()))
}

/// Writes an RTP packet into a caller buffer. Extensions are written in
/// one-byte form when every element allows it, else in two-byte form.
#[derive(Debug, Clone, Copy, Default)]
pub struct RtpBuilder<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence_number: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// At most 15.
    pub csrcs: &'a [u32],
    /// RFC 8285 elements `(id, value)`, written in this order.
    pub extensions: &'a [(u8, &'a [u8])],
    pub payload: &'a [u8],
    /// Padding bytes to append, including the count byte (0 = no padding).
    pub padding: u8,
}

impl RtpBuilder<'_> {
    fn extension_form(&self) -> Result<Option<ExtensionForm>, WriteError> {
        ext::form_for(self.extensions.iter().map(|(id, v)| (*id, v.len())))
    }

    /// Bytes [`write_into`](Self::write_into) will write.
    pub fn encoded_len(&self) -> Result<usize, WriteError> {
        if self.csrcs.len() > 15 {
            return Err(WriteError::InvalidArgument("more than 15 CSRCs"));
        }
        let ext_len = match self.extension_form()? {
            Some(form) => {
                let data: usize = self
                    .extensions
                    .iter()
                    .map(|(_, v)| form.element_len(v.len()))
                    .sum();
                let data = data.next_multiple_of(4);
                if data / 4 > usize::from(u16::MAX) {
                    return Err(WriteError::InvalidArgument("extension block too long"));
                }
                4 + data
            }
            None => 0,
        };
        Ok(FIXED_HEADER_LEN
            + 4 * self.csrcs.len()
            + ext_len
            + self.payload.len()
            + usize::from(self.padding))
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn write_into(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        let total = self.encoded_len()?;
        ensure_room(buf, total)?;
        let form = self.extension_form()?;
        buf[0] = 0x80
            | (u8::from(self.padding > 0) << 5)
            | (u8::from(form.is_some()) << 4)
            | self.csrcs.len() as u8;
        buf[1] = (u8::from(self.marker) << 7) | (self.payload_type & 0x7f);
        buf[2..4].copy_from_slice(&self.sequence_number.to_be_bytes());
        buf[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        buf[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut at = FIXED_HEADER_LEN;
        for csrc in self.csrcs {
            buf[at..at + 4].copy_from_slice(&csrc.to_be_bytes());
            at += 4;
        }
        if let Some(form) = form {
            let header = at;
            at += 4;
            let data_start = at;
            for (id, value) in self.extensions {
                at += form.write_element(&mut buf[at..], *id, value);
            }
            let data_len = (at - data_start).next_multiple_of(4);
            buf[at..data_start + data_len].fill(0);
            at = data_start + data_len;
            buf[header..header + 2].copy_from_slice(&form.profile().to_be_bytes());
            buf[header + 2..header + 4].copy_from_slice(&((data_len / 4) as u16).to_be_bytes());
        }
        buf[at..at + self.payload.len()].copy_from_slice(self.payload);
        at += self.payload.len();
        if self.padding > 0 {
            let pad = usize::from(self.padding);
            buf[at..at + pad - 1].fill(0);
            buf[at + pad - 1] = self.padding;
            at += pad;
        }
        debug_assert_eq!(at, total);
        Ok(total)
    }
}
