//! H.264 keyframe detection in RTP payloads (RFC 6184): single NAL units,
//! STAP-A aggregates and the first fragment of FU-A.

const IDR: u8 = 5;
const SPS: u8 = 7;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

fn is_key_nal(nal_type: u8) -> bool {
    nal_type == IDR || nal_type == SPS
}

/// Whether the payload carries an SPS or the start of an IDR slice.
pub fn is_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    match first & 0x1f {
        STAP_A => {
            let mut at = 1;
            while at + 2 < payload.len() {
                let size = usize::from(u16::from_be_bytes([payload[at], payload[at + 1]]));
                if is_key_nal(payload[at + 2] & 0x1f) {
                    return true;
                }
                at += 2 + size;
            }
            false
        }
        FU_A => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && is_key_nal(fu & 0x1f)),
        t => is_key_nal(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_nal_units() {
        assert!(is_keyframe(&[0x65, 0x88])); // IDR
        assert!(is_keyframe(&[0x67, 0x42])); // SPS
        assert!(!is_keyframe(&[0x41, 0x9a])); // non-IDR slice
        assert!(!is_keyframe(&[]));
    }

    #[test]
    fn stap_a_with_sps() {
        // STAP-A: [size 2][SPS..][size 2][PPS..]
        assert!(is_keyframe(&[
            0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce
        ]));
        assert!(!is_keyframe(&[0x78, 0x00, 0x02, 0x68, 0xce]));
        assert!(!is_keyframe(&[0x78, 0xff, 0xff])); // size past the end
    }

    #[test]
    fn fu_a_start_of_idr_only() {
        assert!(is_keyframe(&[0x7c, 0x85, 0x00])); // S=1 type 5
        assert!(!is_keyframe(&[0x7c, 0x05, 0x00])); // continuation
        assert!(!is_keyframe(&[0x7c, 0x81])); // S=1 type 1
    }
}
