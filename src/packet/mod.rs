//! Zero-copy RTP and RTCP: validated views over caller buffers, in-place
//! rewriting, and builders that write into caller buffers.
//!
//! Nothing here allocates: a view holds the buffer plus a few offsets, and
//! every builder writes into a slice the caller owns.

pub mod rtcp;
pub mod rtp;
pub mod seq;
pub mod transport_seq;

pub(crate) mod error;
mod ext;

pub use error::{ParseError, WriteError};
pub use ext::{Extension, ExtensionForm, Extensions};
pub use rtp::{ExtensionBlock, RtpBuilder, RtpLayout, RtpPacket};
pub use seq::{SeqUnwrapper, TimestampUnwrapper};
pub use transport_seq::stamp_transport_seq;
