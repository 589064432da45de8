//! The two orders of perception's `bands · C` values: nca's, interleaved per channel, and band
//! order, which the fused kernel and the web demo use.

/// Rows indexed by perception value (`bands · C` rows of equal length, e.g. the first layer's
/// weights `[bands·C, hidden]` or the filters `[bands·C, 9]`), from nca's interleaved order
/// (channel `c`, band `b` at row `bands·c + b`, as [`Perception`](crate::Perception) computes
/// them) to band order: all identities, then all x gradients, then all y gradients (then all
/// Laplacians), `b·C + c`.
///
/// # Panics
/// If `channels` or `bands` is zero or `rows` does not hold `bands · channels` rows of equal
/// length.
pub fn perception_rows_to_bands(rows: &[f32], channels: usize, bands: usize) -> Vec<f32> {
    reorder(rows, channels, bands, |interleaved, band| {
        (interleaved, band)
    })
}

/// The inverse of [`perception_rows_to_bands`]: band-order rows back to nca's interleaved order.
///
/// # Panics
/// As [`perception_rows_to_bands`].
pub fn perception_rows_to_interleaved(rows: &[f32], channels: usize, bands: usize) -> Vec<f32> {
    reorder(rows, channels, bands, |interleaved, band| {
        (band, interleaved)
    })
}

/// Copies each row to its place in the other order; `from_to(interleaved, band)` gives the
/// (source, destination) rows of one perception value.
fn reorder(
    rows: &[f32],
    channels: usize,
    bands: usize,
    from_to: impl Fn(usize, usize) -> (usize, usize),
) -> Vec<f32> {
    let values = bands * channels;
    assert!(
        values > 0 && rows.len().is_multiple_of(values),
        "{} values are not {bands} · {channels} rows of equal length",
        rows.len()
    );
    let len = rows.len() / values;
    let mut out = vec![0.0; rows.len()];
    for band in 0..bands {
        for channel in 0..channels {
            let (from, to) = from_to(bands * channel + band, band * channels + channel);
            out[to * len..(to + 1) * len].copy_from_slice(&rows[from * len..(from + 1) * len]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_rows_go_to_their_band_and_back() {
        // Two channels, rows of two values: row `3c + b` holds `10c + b` and its negative.
        let interleaved: Vec<f32> = (0..2)
            .flat_map(|channel| (0..3).map(move |band| (10 * channel + band) as f32))
            .flat_map(|value| [value, -value])
            .collect();
        let bands = perception_rows_to_bands(&interleaved, 2, 3);
        // Identities of channels 0 and 1, then their x gradients, then their y gradients.
        let expected = [0.0, 10.0, 1.0, 11.0, 2.0, 12.0].map(|value: f32| [value, -value]);
        assert_eq!(bands, expected.as_flattened());
        assert_eq!(perception_rows_to_interleaved(&bands, 2, 3), interleaved);
    }

    #[test]
    #[should_panic(expected = "7 values are not 3 · 2 rows")]
    fn values_that_are_not_3c_rows_are_refused() {
        perception_rows_to_bands(&[0.0; 7], 2, 3);
    }
}
