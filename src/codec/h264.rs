//! H.264 keyframe detection in RTP payloads (RFC 6184): single NAL units,
//! STAP-A aggregates and the first fragment of FU-A.
//!
//! A keyframe is a frame with an SPS and an IDR slice (a decoder starting
//! there needs both; WebRTC senders put the SPS and PPS in front of every
//! IDR). Its first packet carries the SPS, so that packet starts a keyframe.

const IDR: u8 = 5;
const SPS: u8 = 7;
const PPS: u8 = 8;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

/// Which NAL units an RTP payload carries (or, for FU-A, starts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NalInfo {
    pub sps: bool,
    pub pps: bool,
    /// An IDR slice, or the first fragment of one.
    pub idr: bool,
}

impl NalInfo {
    fn add(&mut self, nal_type: u8) {
        match nal_type {
            SPS => self.sps = true,
            PPS => self.pps = true,
            IDR => self.idr = true,
            _ => {}
        }
    }
}

/// The NAL units in the payload. A STAP-A whose sizes run past the end is
/// read up to the last whole unit.
pub fn nal_info(payload: &[u8]) -> NalInfo {
    let mut info = NalInfo::default();
    let Some(&first) = payload.first() else {
        return info;
    };
    match first & 0x1f {
        STAP_A => {
            let mut at = 1;
            while at + 2 < payload.len() {
                let size = usize::from(u16::from_be_bytes([payload[at], payload[at + 1]]));
                if size == 0 || at + 2 + size > payload.len() {
                    break;
                }
                info.add(payload[at + 2] & 0x1f);
                at += 2 + size;
            }
        }
        FU_A => {
            if let Some(fu) = payload.get(1).filter(|fu| *fu & 0x80 != 0) {
                info.add(fu & 0x1f);
            }
        }
        t => info.add(t),
    }
    info
}

/// Whether the payload starts a keyframe: it carries the SPS that leads
/// the keyframe's IDR.
pub fn is_keyframe(payload: &[u8]) -> bool {
    nal_info(payload).sps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_nal_units() {
        assert!(is_keyframe(&[0x67, 0x42])); // SPS
        let idr = nal_info(&[0x65, 0x88]);
        assert!(idr.idr && !idr.sps);
        assert!(!is_keyframe(&[0x65, 0x88]), "an IDR without its SPS");
        assert!(!is_keyframe(&[0x41, 0x9a])); // non-IDR slice
        assert!(!is_keyframe(&[]));
    }

    #[test]
    fn stap_a_with_sps_pps_idr() {
        // STAP-A: [size 2][SPS..][size 2][PPS..][size 2][IDR..]
        let p = [
            0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce, 0x00, 0x02, 0x65, 0x88,
        ];
        assert_eq!(
            nal_info(&p),
            NalInfo {
                sps: true,
                pps: true,
                idr: true
            }
        );
        assert!(is_keyframe(&p));
        assert!(!is_keyframe(&[0x78, 0x00, 0x02, 0x68, 0xce]));
        assert!(!is_keyframe(&[0x78, 0xff, 0xff, 0x67])); // size past the end
        assert!(!is_keyframe(&[0x78, 0x00, 0x05, 0x67, 0x42])); // SPS cut short
    }

    #[test]
    fn fu_a_start_of_idr() {
        assert!(nal_info(&[0x7c, 0x85, 0x00]).idr); // S=1 type 5
        assert!(!nal_info(&[0x7c, 0x05, 0x00]).idr); // continuation
        assert!(!nal_info(&[0x7c, 0x81]).idr); // S=1 type 1
        assert!(!is_keyframe(&[0x7c, 0x85, 0x00]), "the SPS came before");
    }
}
