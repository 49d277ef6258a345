//! One direction of one network path under SRTP: a seeded [`Link`] with a
//! sending and a receiving SRTP context made from the same (per-leg) master
//! key, so every packet that crosses the simulated network is really
//! encrypted and authenticated, as it would be in a browser call.

use bytes::{Bytes, BytesMut};
use rtmedia::sim::{Link, LinkConfig, Rng};
use rtmedia::srtp::{Config, Profile, Srtp, Stats};

const PROFILE: Profile = Profile::AeadAes128Gcm;

/// A packet that came out of a leg, decrypted.
pub enum Received {
    Rtp(Bytes),
    Rtcp(Bytes),
}

/// RFC 5761 demultiplexing: RTCP packet types 192–223 sit where RTP has
/// the marker bit and payload type.
fn is_rtcp(packet: &[u8]) -> bool {
    packet.len() >= 2 && (192..=223).contains(&packet[1])
}

pub struct Leg {
    link: Link,
    tx: Srtp,
    rx: Srtp,
    scratch: Vec<u8>,
}

impl Leg {
    /// A leg whose link and key both come from `seed`: two legs never share
    /// a key.
    pub fn new(config: LinkConfig, seed: u64) -> Self {
        let mut rng = Rng::new(seed ^ 0x5e_c2e7);
        let mut key = vec![0u8; PROFILE.key_len()];
        let mut salt = vec![0u8; PROFILE.salt_len()];
        for b in key.iter_mut().chain(salt.iter_mut()) {
            *b = rng.next_u64() as u8;
        }
        let srtp = || Srtp::new(PROFILE, &key, &salt, Config::default()).expect("key sized above");
        Self {
            link: Link::new(config, seed),
            tx: srtp(),
            rx: srtp(),
            scratch: vec![0; 1600],
        }
    }

    pub fn link(&self) -> &Link {
        &self.link
    }

    pub fn link_mut(&mut self) -> &mut Link {
        &mut self.link
    }

    /// Protects the RTP packet in `buf[..len]` in place (`buf` has room
    /// for the tag) and sends it.
    pub fn send_rtp_in_place(&mut self, now: u64, buf: &mut [u8], len: usize) {
        let n = self
            .tx
            .protect_rtp(buf, len)
            .expect("valid RTP, room for the tag");
        self.link.send(now, Bytes::copy_from_slice(&buf[..n]));
    }

    /// Copies `packet` into the leg's scratch buffer, stamps the
    /// transport-wide sequence number `seq` as header extension `ext_id`
    /// (added when the packet has none), protects and sends it. Returns
    /// the bytes that went on the link.
    pub fn send_rtp_stamped(&mut self, now: u64, packet: &[u8], ext_id: u8, seq: u16) -> usize {
        let mut buf = core::mem::take(&mut self.scratch);
        buf[..packet.len()].copy_from_slice(packet);
        let len = rtmedia::packet::stamp_transport_seq(&mut buf, packet.len(), ext_id, seq)
            .expect("valid RTP with room for the extension");
        let n = self
            .tx
            .protect_rtp(&mut buf, len)
            .expect("valid RTP, room for the tag");
        self.link.send(now, Bytes::copy_from_slice(&buf[..n]));
        self.scratch = buf;
        n
    }

    /// Protects (SRTCP) and sends a compound RTCP packet.
    pub fn send_rtcp(&mut self, now: u64, packet: &[u8]) {
        let mut buf = BytesMut::from(packet);
        self.tx
            .protect_rtcp_bytes(&mut buf)
            .expect("valid RTCP from our own builders");
        self.link.send(now, buf.freeze());
    }

    /// The next packet delivered by `now`, decrypted. Packets that fail to
    /// unprotect (replays of duplicated packets, for instance) are counted
    /// in [`rx_stats`](Self::rx_stats) and skipped.
    pub fn poll(&mut self, now: u64) -> Option<Received> {
        while let Some(packet) = self.link.poll(now) {
            // The link holds the only reference: decrypt without a copy.
            let mut buf = packet
                .try_into_mut()
                .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
            if is_rtcp(&buf) {
                if self.rx.unprotect_rtcp_bytes(&mut buf).is_ok() {
                    return Some(Received::Rtcp(buf.freeze()));
                }
            } else if self.rx.unprotect_rtp_bytes(&mut buf).is_ok() {
                return Some(Received::Rtp(buf.freeze()));
            }
        }
        None
    }

    pub fn tx_stats(&self) -> &Stats {
        self.tx.stats()
    }

    pub fn rx_stats(&self) -> &Stats {
        self.rx.stats()
    }
}
