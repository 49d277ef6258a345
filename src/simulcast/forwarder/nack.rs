//! Answering a subscriber's NACKs: a compact record of each packet sent,
//! and the rebuild of a packet from the source's shared history with this
//! subscriber's values.

use super::{Forwarder, ForwarderConfig, RetransmitError};
use crate::codec::{vp8::Descriptor, Codec};
use crate::packet::{RtpLayout, WriteError};
use crate::simulcast::rewrite::{self, OutFields};
use crate::simulcast::source::Source;

/// A sent packet's rewrite, to send it again on a NACK. 24 bytes: a
/// 1000-person room runs some 10,000 forwarders, each with a history.
#[derive(Debug, Clone, Copy)]
pub(super) struct SentRecord {
    src_ext_seq: u64,
    /// Low 32 bits of the output's extended sequence number (checks the slot).
    ext_seq_low: u32,
    timestamp: u32,
    picture_id: u16,
    tl0_pic_idx: u8,
    /// KEYIDX (low 5 bits) and which VP8 fields are present (`HAS_*`).
    key_idx_and_flags: u8,
    /// `EMPTY` for a slot never written.
    spatial: u8,
    /// When it was last sent again, in ms modulo 2^16 (records live for
    /// seconds), if it was.
    resent_ms: u16,
    resent: bool,
}

const _: () = assert!(core::mem::size_of::<SentRecord>() == 24);

impl SentRecord {
    const EMPTY: u8 = u8::MAX;
    const HAS_PICTURE_ID: u8 = 0x20;
    const HAS_TL0: u8 = 0x40;
    const HAS_KEY_IDX: u8 = 0x80;

    pub(super) fn new(ext_seq: u64, spatial: u8, src_ext_seq: u64, fields: &OutFields) -> Self {
        let mut flags = fields.key_idx.unwrap_or(0) & 0x1f;
        flags |= if fields.picture_id.is_some() {
            Self::HAS_PICTURE_ID
        } else {
            0
        };
        flags |= if fields.tl0_pic_idx.is_some() {
            Self::HAS_TL0
        } else {
            0
        };
        flags |= if fields.key_idx.is_some() {
            Self::HAS_KEY_IDX
        } else {
            0
        };
        Self {
            src_ext_seq,
            ext_seq_low: ext_seq as u32,
            timestamp: fields.timestamp,
            picture_id: fields.picture_id.unwrap_or(0),
            tl0_pic_idx: fields.tl0_pic_idx.unwrap_or(0),
            key_idx_and_flags: flags,
            spatial,
            resent_ms: 0,
            resent: false,
        }
    }

    /// Whether it was sent again less than `rtt_us` before `now`.
    fn resent_within(&self, now: u64, rtt_us: u64) -> bool {
        let elapsed_ms = ((now / 1000) as u16).wrapping_sub(self.resent_ms);
        self.resent && u64::from(elapsed_ms) * 1000 < rtt_us
    }

    pub(super) fn holds(&self, ext_seq: u64) -> bool {
        self.spatial != Self::EMPTY && self.ext_seq_low == ext_seq as u32
    }

    /// The values sent, with the forwarder's constant ones.
    fn fields(&self, config: &ForwarderConfig, ext_seq: u64) -> OutFields {
        let f = self.key_idx_and_flags;
        OutFields {
            ssrc: config.ssrc,
            payload_type: config.payload_type,
            seq: ext_seq as u16,
            timestamp: self.timestamp,
            picture_id: (f & Self::HAS_PICTURE_ID != 0).then_some(self.picture_id),
            tl0_pic_idx: (f & Self::HAS_TL0 != 0).then_some(self.tl0_pic_idx),
            key_idx: (f & Self::HAS_KEY_IDX != 0).then_some(f & 0x1f),
        }
    }
}

impl Default for SentRecord {
    fn default() -> Self {
        Self {
            src_ext_seq: 0,
            ext_seq_low: 0,
            timestamp: 0,
            picture_id: 0,
            tl0_pic_idx: 0,
            key_idx_and_flags: 0,
            spatial: Self::EMPTY,
            resent_ms: 0,
            resent: false,
        }
    }
}

impl Forwarder {
    /// Keeps the record of a sent packet.
    pub(super) fn remember(&mut self, record: SentRecord, ext_seq: u64) {
        let mask = self.sent.len() - 1;
        self.sent[ext_seq as usize & mask] = record;
    }

    /// Sent-packet records kept for NACKs (the ring's size).
    pub fn nack_records(&self) -> usize {
        self.sent.len()
    }

    /// Makes room for at least `packets` sent-packet records (rounded up to
    /// a power of two, at most `history_packets`); never shrinks. Call on a
    /// control path (it allocates when it grows): [`set_target`](Self::set_target)
    /// does with an estimate by spatial layer, a [`Track`](crate::simulcast::Track)
    /// with the layer's measured packet rate over [`NACK_WINDOW_US`](super::NACK_WINDOW_US).
    pub fn reserve_nack_records(&mut self, packets: usize) {
        let max = self.config.history_packets.max(1).next_power_of_two();
        let want = packets.max(1).next_power_of_two().min(max);
        if want <= self.sent.len() {
            return;
        }
        let mut grown = vec![SentRecord::default(); want];
        let mask = want - 1;
        for r in self.sent.iter().filter(|r| r.spatial != SentRecord::EMPTY) {
            grown[r.ext_seq_low as usize & mask] = *r;
        }
        self.sent = grown;
    }

    /// Sends again the packet this subscriber received as `seq` (from a
    /// NACK), rebuilt from the source's shared history with this
    /// subscriber's own values, while both still hold it. Packets from
    /// before a later keyframe are sent too: a NACK can cross that keyframe
    /// on its way (it left before the keyframe arrived), and a receiver
    /// with a jitter buffer plays the frames before the keyframe first, so
    /// the NACK itself says the packet is still wanted (a receiver that
    /// restarted at the keyframe stops asking). Except before a switch to a
    /// lower spatial layer ([`RetransmitError::BeforeKeyframe`]): that
    /// switch says the link cannot carry the old layer, and its
    /// retransmissions would go ahead of the new layer's keyframe (on the
    /// conference's mobile dip, answering them raised the retransmission
    /// wait in the pacer past 15 ms on 8 of 40 seeds instead of 2).
    pub fn retransmit(
        &mut self,
        source: &Source,
        seq: u16,
        out: &mut [u8],
    ) -> Result<usize, RetransmitError> {
        self.answer(source, seq, None, out)
    }

    /// [`retransmit`](Self::retransmit) at `now`, except for a packet this
    /// forwarder sent again less than a round trip ([`set_rtt`](Self::set_rtt))
    /// ago: [`RetransmitError::InFlight`], since that retransmission has not
    /// had the time to arrive. A receiver that re-asks on a shorter timer
    /// (its RTT estimate misses the queue of a congested link) would
    /// otherwise get every packet several times, on the link that lost it.
    /// libwebrtc's and mediasoup's senders skip such NACKs too.
    pub fn retransmit_at(
        &mut self,
        source: &Source,
        seq: u16,
        now: u64,
        out: &mut [u8],
    ) -> Result<usize, RetransmitError> {
        self.answer(source, seq, Some(now), out)
    }

    /// The round trip to this subscriber, µs, for
    /// [`retransmit_at`](Self::retransmit_at) (e.g.
    /// [`Bwe::rtt_us`](crate::cc::Bwe::rtt_us)). 0 (the default): every
    /// NACK is answered.
    pub fn set_rtt(&mut self, rtt_us: u64) {
        self.rtt_us = rtt_us;
    }

    fn answer(
        &mut self,
        source: &Source,
        seq: u16,
        now: Option<u64>,
        out: &mut [u8],
    ) -> Result<usize, RetransmitError> {
        let result = self
            .locate(source, seq)
            .and_then(|(ext_seq, record, kept)| {
                let rtt = self.rtt_us;
                let now = now.filter(|_| kept && rtt > 0);
                if now.is_some_and(|now| record.resent_within(now, rtt)) {
                    return Err(RetransmitError::InFlight);
                }
                let len = self.rebuild(source, ext_seq, &record, out)?;
                if let Some(now) = now {
                    let mask = self.sent.len() - 1;
                    let slot = &mut self.sent[ext_seq as usize & mask];
                    slot.resent_ms = (now / 1000) as u16;
                    slot.resent = true;
                }
                Ok(len)
            });
        match result {
            Ok(_) => self.stats.retransmitted += 1,
            Err(RetransmitError::BeforeKeyframe) => self.stats.nacks_before_keyframe += 1,
            Err(RetransmitError::NotFound) => self.stats.nacks_not_found += 1,
            Err(RetransmitError::InFlight) => self.stats.nacks_in_flight += 1,
            Err(RetransmitError::BufferTooSmall { .. }) => {}
        }
        result
    }

    /// The packet sent `back` packets before the last one (0: the last),
    /// rebuilt as [`retransmit`](Self::retransmit) would, without counting
    /// it as a retransmission: probe padding (RFC 4588 RTX re-sends of
    /// recent packets carry a probe's bytes and are useful if a packet was
    /// lost, where padding-only packets are not).
    pub fn rebuild_recent(
        &self,
        source: &Source,
        back: u16,
        out: &mut [u8],
    ) -> Result<usize, RetransmitError> {
        let last = self.last.ok_or(RetransmitError::NotFound)?;
        let (ext_seq, record, _) = self.locate(source, (last.ext_seq as u16).wrapping_sub(back))?;
        self.rebuild(source, ext_seq, &record, out)
    }

    /// The record a packet of the current layer would have had: one whose
    /// number the subscriber was given but which never went out, because it
    /// arrived (reordered) before the keyframe packet that started the layer.
    fn never_sent(&self, source: &Source, ext_seq: u64) -> Result<SentRecord, RetransmitError> {
        let current = self.current.ok_or(RetransmitError::NotFound)?;
        if ext_seq < self.layer_first_ext_seq {
            return Err(RetransmitError::NotFound);
        }
        let src_ext_seq = self.seq.inverse(ext_seq).ok_or(RetransmitError::NotFound)?;
        let bytes = source
            .packet(current.spatial, src_ext_seq)
            .ok_or(RetransmitError::NotFound)?;
        let layout = RtpLayout::parse(bytes).map_err(|_| RetransmitError::NotFound)?;
        let payload = &bytes[layout.payload_start..layout.payload_end];
        let timestamp = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let vp8 = match source.config().codec {
            Codec::Vp8 => Some(Descriptor::parse(payload).map_err(|_| RetransmitError::NotFound)?),
            _ => None,
        };
        if vp8
            .and_then(|d| d.temporal_id)
            .is_some_and(|t| t > current.temporal)
        {
            return Err(RetransmitError::NotFound);
        }
        let picture_id = match vp8.and_then(|d| d.picture_id) {
            Some(_) => {
                let ext = source
                    .extended_picture_id(current.spatial, payload)
                    .ok_or(RetransmitError::NotFound)?;
                let out = self.picture_id.peek(ext).ok_or(RetransmitError::NotFound)?;
                Some((out & 0x7fff) as u16)
            }
            None => None,
        };
        let fields = OutFields {
            ssrc: self.config.ssrc,
            payload_type: self.config.payload_type,
            seq: ext_seq as u16,
            timestamp: timestamp.wrapping_add(self.ts_offset),
            picture_id,
            tl0_pic_idx: vp8
                .and_then(|d| d.tl0_pic_idx)
                .map(|t| t.wrapping_sub(self.tl0_offset)),
            key_idx: vp8
                .and_then(|d| d.key_idx)
                .map(|k| k.wrapping_sub(self.key_idx_offset) & 0x1f),
        };
        Ok(SentRecord::new(
            ext_seq,
            current.spatial,
            src_ext_seq,
            &fields,
        ))
    }

    /// The extended number a NACKed `seq` names and its record; `true` when
    /// the record is kept in the ring (not rebuilt by `never_sent`).
    fn locate(
        &self,
        source: &Source,
        seq: u16,
    ) -> Result<(u64, SentRecord, bool), RetransmitError> {
        let last = self.last.ok_or(RetransmitError::NotFound)?;
        // The extended number nearest the last one sent.
        let delta = seq.wrapping_sub(last.ext_seq as u16) as i16;
        let ext_seq = last.ext_seq.wrapping_add_signed(i64::from(delta));
        if delta > 0 {
            return Err(RetransmitError::NotFound);
        }
        if ext_seq < self.down_switch_ext_seq {
            return Err(RetransmitError::BeforeKeyframe);
        }
        let record = self.sent[ext_seq as usize & (self.sent.len() - 1)];
        if record.holds(ext_seq) {
            Ok((ext_seq, record, true))
        } else {
            Ok((ext_seq, self.never_sent(source, ext_seq)?, false))
        }
    }

    /// Writes the packet `record` describes, as this subscriber got it.
    fn rebuild(
        &self,
        source: &Source,
        ext_seq: u64,
        record: &SentRecord,
        out: &mut [u8],
    ) -> Result<usize, RetransmitError> {
        let fields = record.fields(&self.config, ext_seq);
        let bytes = source
            .packet(record.spatial, record.src_ext_seq)
            .ok_or(RetransmitError::NotFound)?;
        let layout = RtpLayout::parse(bytes).map_err(|_| RetransmitError::NotFound)?;
        let payload = &bytes[layout.payload_start..layout.payload_end];
        let vp8 = if fields.picture_id.is_some()
            || fields.tl0_pic_idx.is_some()
            || fields.key_idx.is_some()
        {
            Descriptor::parse(payload).ok()
        } else {
            None
        };
        rewrite::write(bytes, layout.payload_start, vp8.as_ref(), &fields, out).map_err(|e| match e
        {
            WriteError::BufferTooSmall { needed } => RetransmitError::BufferTooSmall { needed },
            _ => RetransmitError::NotFound,
        })
    }
}

#[cfg(test)]
mod record_tests {
    use super::*;

    #[test]
    fn a_sent_record_is_small_and_round_trips() {
        assert_eq!(core::mem::size_of::<SentRecord>(), 24);
        let config = ForwarderConfig {
            ssrc: 9,
            payload_type: Some(100),
            ..Default::default()
        };
        let fields = OutFields {
            ssrc: 9,
            payload_type: Some(100),
            seq: 0x2345,
            timestamp: 77,
            picture_id: Some(0x7fff),
            tl0_pic_idx: Some(0),
            key_idx: Some(31),
        };
        let r = SentRecord::new(0x1_0001_2345, 2, 55, &fields);
        assert!(r.holds(0x1_0001_2345) && !r.holds(0x1_0001_2346));
        assert_eq!(r.fields(&config, 0x1_0001_2345), fields);
        let bare = OutFields {
            picture_id: None,
            tl0_pic_idx: None,
            key_idx: None,
            ..fields
        };
        assert_eq!(
            SentRecord::new(5, 0, 1, &bare).fields(&config, 0x2345),
            bare
        );
        assert!(!SentRecord::default().holds(0));
    }
}
