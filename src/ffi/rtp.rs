//! RTP packets from C: parse into a struct of fields and offsets, rewrite
//! header fields and RFC 8285 extensions in place, build into a buffer.

use crate::packet::rtp::{add_extension, remove_extension};
use crate::packet::{RtpBuilder, RtpPacket};

use super::{args, guard, rtm_status};

/// Fields and offsets of a parsed RTP packet. Filled by `rtm_rtp_parse`.
/// Offsets are from the start of the packet. This struct's layout is frozen
/// for the life of ABI version 0: new fields would go into a new struct.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_rtp_header {
    pub marker: bool,
    pub has_padding: bool,
    pub has_extension: bool,
    /// 0–127.
    pub payload_type: u8,
    /// 0–15.
    pub csrc_count: u8,
    pub sequence_number: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Bytes before the payload: fixed header, CSRCs, extension block.
    pub header_len: usize,
    pub payload_offset: usize,
    pub payload_len: usize,
    /// Padding at the end including its count byte (0 without padding).
    pub padding_len: usize,
    /// The extension block's profile field (0xBEDE, 0x100X, or other); 0
    /// when there is no extension.
    pub extension_profile: u16,
    /// Offset and length of the extension block's data (after its 4-byte
    /// header); both 0 when there is no extension.
    pub extension_offset: usize,
    pub extension_len: usize,
}

/// Parses `packet[0..len]` as RTP into `*out`. No allocation, no copy.
///
/// Returns RTM_OK, RTM_ERR_NULL_POINTER (`packet` NULL with `len` > 0, or
/// `out` NULL), or a parse status (RTM_ERR_TRUNCATED, RTM_ERR_BAD_VERSION,
/// RTM_ERR_CSRC_PAST_END, RTM_ERR_EXTENSION_PAST_END, RTM_ERR_BAD_PADDING);
/// `*out` is written only on success. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtp_parse(
    packet: *const u8,
    len: usize,
    out: *mut rtm_rtp_header,
) -> rtm_status {
    guard(|| {
        let bytes = args::slice(packet, len)?;
        let out = args::out(out)?;
        let p = RtpPacket::parse(bytes)?;
        let ext = p.layout().extension;
        *out = rtm_rtp_header {
            marker: p.marker(),
            has_padding: p.has_padding(),
            has_extension: p.has_extension(),
            payload_type: p.payload_type(),
            csrc_count: p.csrc_count() as u8,
            sequence_number: p.sequence_number(),
            timestamp: p.timestamp(),
            ssrc: p.ssrc(),
            header_len: p.header_len(),
            payload_offset: p.payload_range().start,
            payload_len: p.payload().len(),
            padding_len: p.padding_len(),
            extension_profile: ext.map_or(0, |e| e.profile),
            extension_offset: ext.map_or(0, |e| e.data_start),
            extension_len: ext.map_or(0, |e| e.data_len),
        };
        Ok(())
    })
}

/// Finds RFC 8285 header extension element `id`: on success `*value_offset`
/// (from the packet start) and `*value_len` locate its value, which may be
/// rewritten in place. RTM_ERR_NOT_FOUND if absent; parse statuses as
/// `rtm_rtp_parse`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtp_find_extension(
    packet: *const u8,
    len: usize,
    id: u8,
    value_offset: *mut usize,
    value_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let bytes = args::slice(packet, len)?;
        let value_offset = args::out(value_offset)?;
        let value_len = args::out(value_len)?;
        let p = RtpPacket::parse(bytes)?;
        let value = p.extension(id).ok_or(rtm_status::RTM_ERR_NOT_FOUND)?;
        *value_offset = value.as_ptr() as usize - bytes.as_ptr() as usize;
        *value_len = value.len();
        Ok(())
    })
}

/// Which header fields `rtm_rtp_rewrite_header` changes. Frozen (no
/// `struct_size`): RTP's fixed header cannot grow.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rtm_rtp_rewrite {
    pub set_sequence_number: bool,
    pub sequence_number: u16,
    pub set_timestamp: bool,
    pub timestamp: u32,
    pub set_ssrc: bool,
    pub ssrc: u32,
    pub set_payload_type: bool,
    /// 0–127; RTM_ERR_INVALID_ARGUMENT otherwise.
    pub payload_type: u8,
    pub set_marker: bool,
    pub marker: bool,
}

/// Rewrites the selected header fields of the RTP packet in
/// `packet[0..len]` in place, after validating it (parse statuses as
/// `rtm_rtp_parse`; nothing is written on error). Thread-safe for distinct
/// buffers.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtp_rewrite_header(
    packet: *mut u8,
    len: usize,
    rewrite: *const rtm_rtp_rewrite,
) -> rtm_status {
    guard(|| {
        let bytes = args::slice_mut(packet, len)?;
        let rw = args::input(rewrite)?;
        if rw.set_payload_type && rw.payload_type > 127 {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let mut p = RtpPacket::parse(bytes)?;
        if rw.set_sequence_number {
            p.set_sequence_number(rw.sequence_number);
        }
        if rw.set_timestamp {
            p.set_timestamp(rw.timestamp);
        }
        if rw.set_ssrc {
            p.set_ssrc(rw.ssrc);
        }
        if rw.set_payload_type {
            p.set_payload_type(rw.payload_type);
        }
        if rw.set_marker {
            p.set_marker(rw.marker);
        }
        Ok(())
    })
}

/// Adds or replaces RFC 8285 element `id` with `value[0..value_len]` in the
/// RTP packet at `packet[0..len]`, in a buffer of `capacity` bytes; the
/// payload moves if the extension block grows. `*out_len` receives the new
/// length. A new block uses one-byte form when the element allows it (id
/// 1–14, 1–16 bytes), else two-byte form. RTM_ERR_BUFFER_TOO_SMALL if it
/// does not fit in `capacity` (the packet is unchanged);
/// RTM_ERR_INVALID_ARGUMENT if the element cannot be written in the block's
/// form or `len > capacity`. Thread-safe for distinct buffers.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtp_add_extension(
    packet: *mut u8,
    len: usize,
    capacity: usize,
    id: u8,
    value: *const u8,
    value_len: usize,
    out_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let buf = args::packet_buffer(packet, len, capacity)?;
        let value = args::slice(value, value_len)?;
        let out_len = args::out(out_len)?;
        *out_len = add_extension(buf, len, id, value)?;
        Ok(())
    })
}

/// Removes RFC 8285 element `id` from the RTP packet at `packet[0..len]`,
/// shrinking the extension block (removing it and the X bit when empty).
/// `*out_len` receives the new length. RTM_ERR_NOT_FOUND if absent.
/// Thread-safe for distinct buffers.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtp_remove_extension(
    packet: *mut u8,
    len: usize,
    id: u8,
    out_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let buf = args::slice_mut(packet, len)?;
        let out_len = args::out(out_len)?;
        *out_len = remove_extension(buf, len, id)?;
        Ok(())
    })
}

/// One RFC 8285 element for `rtm_rtp_build`. Frozen (no `struct_size`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_rtp_extension {
    pub id: u8,
    pub value: *const u8,
    pub value_len: usize,
}

/// What `rtm_rtp_build` writes. Pointers may be NULL when their count is 0.
/// Frozen (no `struct_size`): it mirrors RTP's fixed header.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rtm_rtp_build_params {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence_number: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub csrcs: *const u32,
    /// At most 15.
    pub csrc_count: usize,
    pub extensions: *const rtm_rtp_extension,
    /// At most 16 elements.
    pub extension_count: usize,
    pub payload: *const u8,
    pub payload_len: usize,
    /// Padding bytes to append including the count byte (0 = none).
    pub padding: u8,
}

/// Most extension elements `rtm_rtp_build` accepts.
pub const RTM_RTP_MAX_BUILD_EXTENSIONS: usize = 16;

/// Writes an RTP packet described by `*params` into `out[0..capacity]`;
/// `*out_len` receives its length. RTM_ERR_BUFFER_TOO_SMALL if it does not
/// fit (nothing useful is written), RTM_ERR_INVALID_ARGUMENT for more than
/// 15 CSRCs, more than 16 extensions, or an element no form can hold.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtp_build(
    params: *const rtm_rtp_build_params,
    out: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let p = args::input(params)?;
        let buf = args::slice_mut(out, capacity)?;
        let out_len = args::out(out_len)?;
        let c_exts = args::slice(p.extensions, p.extension_count)?;
        if p.payload_type > 127 || c_exts.len() > RTM_RTP_MAX_BUILD_EXTENSIONS {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        let mut exts: [(u8, &[u8]); RTM_RTP_MAX_BUILD_EXTENSIONS] =
            [(0, &[]); RTM_RTP_MAX_BUILD_EXTENSIONS];
        for (slot, e) in exts.iter_mut().zip(c_exts) {
            *slot = (e.id, args::slice(e.value, e.value_len)?);
        }
        let builder = RtpBuilder {
            marker: p.marker,
            payload_type: p.payload_type,
            sequence_number: p.sequence_number,
            timestamp: p.timestamp,
            ssrc: p.ssrc,
            csrcs: args::slice(p.csrcs, p.csrc_count)?,
            extensions: &exts[..c_exts.len()],
            payload: args::slice(p.payload, p.payload_len)?,
            padding: p.padding,
        };
        *out_len = builder.write_into(buf)?;
        Ok(())
    })
}

/// Reads the transport-wide sequence number
/// (draft-holmer-rmcat-transport-wide-cc-extensions-01) from RFC 8285
/// extension element `ext_id` (the id the session negotiated) of the RTP
/// packet `packet[0..len]` into `*seq`. RTM_ERR_NOT_FOUND when the packet
/// has no such element (or it is not two bytes long); the RTP parse
/// statuses of `rtm_rtp_parse` for a damaged packet; RTM_ERR_NULL_POINTER
/// for a NULL `seq` or a NULL `packet` with a length. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtp_get_transport_seq(
    packet: *const u8,
    len: usize,
    ext_id: u8,
    seq: *mut u16,
) -> rtm_status {
    guard(|| {
        let bytes = args::slice(packet, len)?;
        let seq = args::out(seq)?;
        let p = RtpPacket::parse(bytes)?;
        *seq = p
            .transport_seq(ext_id)
            .ok_or(rtm_status::RTM_ERR_NOT_FOUND)?;
        Ok(())
    })
}

/// Stamps `seq` as the transport-wide sequence number in extension element
/// `ext_id` of the RTP packet `buf[0..len]` (a buffer of `capacity`
/// bytes): in place when the element exists (the usual case: reserve it
/// when building the packet), else by adding the element (which moves the
/// payload and needs room, at most 8 bytes). `*new_len` receives the
/// packet's length. Stamp after SRTP protection is impossible: stamp, then
/// protect. Statuses: RTM_OK; RTM_ERR_NULL_POINTER; RTM_ERR_INVALID_ARGUMENT
/// (`len` > `capacity`, an id the packet's extension form cannot hold, or
/// an existing element that is not two bytes long); RTM_ERR_BUFFER_TOO_SMALL
/// (no room to add it); the parse statuses of `rtm_rtp_parse`. Nothing is
/// changed on failure. Thread-safe; allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn rtm_rtp_stamp_transport_seq(
    buf: *mut u8,
    len: usize,
    capacity: usize,
    ext_id: u8,
    seq: u16,
    new_len: *mut usize,
) -> rtm_status {
    guard(|| {
        let bytes = args::packet_buffer(buf, len, capacity)?;
        let new_len = args::out(new_len)?;
        *new_len = crate::packet::stamp_transport_seq(bytes, len, ext_id, seq)?;
        Ok(())
    })
}
