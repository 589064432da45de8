//! The measures the protocol takes of states: picture MSE, live cells, shape overlap, the
//! recovered share, and the rotation of a reference.

/// Mean squared error of the first `reference.len()` values of `state` (its visible channels and
/// alpha) against `reference`, both as a picture shows them: clipped to `[0, 1]`, NaN as 0. For
/// states within `[0, 1]` (a trained model near its target) this is the paper's loss; a model
/// whose values blow up gets a bounded score instead of infinity.
pub fn shown_mse(state: &[f32], reference: &[f32]) -> f64 {
    let shown = |v: f32| {
        if v.is_nan() {
            0.0
        } else {
            f64::from(v.clamp(0.0, 1.0))
        }
    };
    let sum: f64 = state
        .iter()
        .zip(reference)
        .map(|(&a, &b)| (shown(a) - shown(b)).powi(2))
        .sum();
    sum / reference.len() as f64
}

/// Indices of the live cells (alpha above `alive_alpha`) of a `[C, H, W]` state.
pub(super) fn live_cells(
    state: &[f32],
    [_, height, width]: [usize; 3],
    alpha: usize,
    alive_alpha: f32,
) -> Vec<usize> {
    let plane = height * width;
    state[alpha * plane..(alpha + 1) * plane]
        .iter()
        .enumerate()
        .filter(|&(_, &a)| a > alive_alpha)
        .map(|(index, _)| index)
        .collect()
}

/// Intersection over union of two sets of cell indices, `regrown` against `uncut`: 0 when the
/// uncut pattern has no live cell (nothing grew, so nothing regrew).
pub(super) fn iou(regrown: &[usize], uncut: &[usize]) -> f64 {
    let uncut_set: std::collections::HashSet<&usize> = uncut.iter().collect();
    let both = regrown.iter().filter(|i| uncut_set.contains(i)).count();
    let either = regrown.len() + uncut.len() - both;
    if uncut.is_empty() {
        0.0
    } else {
        both as f64 / either as f64
    }
}

/// The share of a cut's damage repaired, `1 − mse_end / mse_cut` (the errors of the regrown and
/// of the cut pattern against the uncut one): 0 when nothing had grown to be cut; when the cut
/// missed the pattern (`mse_cut` 0), 1 if it stayed as it was, else 0.
pub fn recovered(grown: bool, mse_cut: f64, mse_end: f64) -> f64 {
    if !grown {
        0.0
    } else if mse_cut > 0.0 {
        1.0 - mse_end / mse_cut
    } else if mse_end == 0.0 {
        1.0
    } else {
        0.0
    }
}

/// A `[C, H, W]` state turned by `quarter_turns` quarter turns about the seed cell `[H/2, W/2]`,
/// the way a perception turned by as many times 90° turns a pattern; cells turned out of the
/// grid are dropped, cells turned in from outside are empty.
pub fn rotate_about_seed(
    state: &[f32],
    [channels, height, width]: [usize; 3],
    quarter_turns: u8,
) -> Vec<f32> {
    let (cy, cx) = ((height / 2) as isize, (width / 2) as isize);
    let mut rotated = state.to_vec();
    for _ in 0..quarter_turns % 4 {
        let source = std::mem::replace(&mut rotated, vec![0.0; state.len()]);
        for y in 0..height as isize {
            for x in 0..width as isize {
                // (dy, dx) → (−dx, dy): one quarter turn.
                let (ry, rx) = (cy - (x - cx), cx + (y - cy));
                if (0..height as isize).contains(&ry) && (0..width as isize).contains(&rx) {
                    for c in 0..channels {
                        rotated[(c * height + ry as usize) * width + rx as usize] =
                            source[(c * height + y as usize) * width + x as usize];
                    }
                }
            }
        }
    }
    rotated
}
