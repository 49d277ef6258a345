//! Seeded network simulation for tests, benches and examples: impaired links,
//! drifting clocks and synthetic publishers of real Opus and VP8, all driven
//! by an explicit clock so a run is reproducible bit for bit. The publishers
//! (libopus, libvpx) need the `sim-codecs` feature, which tests, benches and
//! examples have through the crate's dev-dependency on itself.

mod bottleneck;
pub mod ccmetrics;
mod ccsim;
mod link;
#[cfg(feature = "sim-codecs")]
mod publisher;
mod rng;

pub use bottleneck::{
    Bottleneck, BottleneckConfig, BottleneckStats, Delivered, Drop as NetDrop, NetPacket,
};
pub use ccsim::{
    run as run_scenario, FlowResult, MediaFlowConfig, Sample, ScenarioConfig, ScenarioResult,
    TcpFlowConfig,
};
pub use link::{DriftClock, Jitter, Link, LinkConfig, LinkStats, Loss};
#[cfg(feature = "sim-codecs")]
pub use publisher::{
    audio_level, make_rtx, vp8_depacketize, CodecError, DecodedFrame, EncodedFrame, OpusConfig,
    OpusPublisher, RtxSender, SimulcastConfig, SimulcastFrame, SimulcastLayerConfig,
    SimulcastLayerFrame, SimulcastPublisher, SimulcastTrace, SpeechSource, TemporalInfo,
    TestPattern, Vp8Config, Vp8Decoder, Vp8Encoder, Vp8EncoderConfig, Vp8Frame, Vp8Packetizer,
    Vp8Publisher, Vp8TemporalEncoder, Vp8TemporalPacketizer, L1T3_PATTERN, OPUS_FRAME_SAMPLES,
    VP8_DESCRIPTOR_LEN, VP8_TEMPORAL_DESCRIPTOR_LEN,
};
pub use rng::Rng;
