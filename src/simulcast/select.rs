//! Which layer a subscriber can take: the highest alive layer, up to its
//! preferred maximum, whose measured bitrate fits the bandwidth available.

use super::{Layer, LayerBitrates, MAX_SPATIAL, MAX_TEMPORAL};

/// The best layer for `available_bps` among the alive ones up to `max`:
/// highest spatial first, then highest temporal. `None` if no alive layer
/// fits (or none is alive).
pub fn select_layer(bitrates: &LayerBitrates, available_bps: u64, max: Layer) -> Option<Layer> {
    let top_s = usize::from(max.spatial).min(MAX_SPATIAL - 1) as u8;
    let top_t = usize::from(max.temporal).min(MAX_TEMPORAL - 1) as u8;
    (0..=top_s).rev().find_map(|s| {
        (0..=top_t).rev().map(|t| Layer::new(s, t)).find(|&l| {
            let rate = bitrates.get(l);
            rate > 0 && rate <= available_bps
        })
    })
}

/// Every alive layer up to `max`, cheapest first (the steps an allocator
/// climbs).
pub(crate) fn alive_layers(
    bitrates: &LayerBitrates,
    max: Layer,
) -> impl Iterator<Item = Layer> + '_ {
    let top_s = usize::from(max.spatial).min(MAX_SPATIAL - 1) as u8;
    let top_t = usize::from(max.temporal).min(MAX_TEMPORAL - 1) as u8;
    (0..=top_s)
        .flat_map(move |s| (0..=top_t).map(move |t| Layer::new(s, t)))
        .filter(|&l| bitrates.is_alive(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates() -> LayerBitrates {
        let mut r = LayerBitrates::default();
        r.0[0] = [60_000, 90_000, 150_000, 0];
        r.0[1] = [200_000, 300_000, 500_000, 0];
        r.0[2] = [600_000, 900_000, 1_500_000, 0];
        r
    }

    #[test]
    fn highest_layer_that_fits() {
        let r = rates();
        let all = Layer::new(2, 3);
        assert_eq!(select_layer(&r, 10_000_000, all), Some(Layer::new(2, 2)));
        assert_eq!(select_layer(&r, 1_000_000, all), Some(Layer::new(2, 1)));
        assert_eq!(select_layer(&r, 550_000, all), Some(Layer::new(1, 2)));
        assert_eq!(select_layer(&r, 100_000, all), Some(Layer::new(0, 1)));
        assert_eq!(select_layer(&r, 50_000, all), None);
        assert_eq!(
            select_layer(&r, u64::MAX, Layer::new(1, 0)),
            Some(Layer::new(1, 0))
        );
    }

    #[test]
    fn dead_layers_are_skipped() {
        let mut r = rates();
        r.0[2] = [0; 4]; // top layer stopped
        assert_eq!(
            select_layer(&r, u64::MAX, Layer::new(2, 3)),
            Some(Layer::new(1, 2))
        );
        assert_eq!(alive_layers(&r, Layer::new(2, 3)).count(), 6);
        assert_eq!(
            select_layer(&LayerBitrates::default(), u64::MAX, Layer::new(2, 3)),
            None
        );
    }
}
