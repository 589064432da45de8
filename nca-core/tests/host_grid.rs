//! Grid edits on the host: seeds, discs and halves, on owned or borrowed values.

use burn::tensor::Device;
use nca_core::{Half, HostGrid, NcaConfig, host_values};

#[test]
fn a_disc_of_radius_half_at_the_centre_of_an_11x11_grid_erases_21_cells() {
    // Cells sit at -1, -0.8, …, 1; (0.2i)² + (0.2j)² < 0.25 holds for 21 (i, j) pairs.
    let mut state = vec![1.0f32; 2 * 11 * 11];
    HostGrid::new(&mut state[..], [2, 11, 11]).erase_disc((0.0, 0.0), 0.5);
    let erased = |channel: usize| {
        state[channel * 121..(channel + 1) * 121]
            .iter()
            .filter(|&&v| v == 0.0)
            .count()
    };
    assert_eq!((erased(0), erased(1)), (21, 21));
    assert_eq!(state[5 * 11 + 5], 0.0, "centre");
    assert_eq!(state[5 * 11 + 8], 1.0, "0.6 from the centre");
    assert_eq!(state[5 * 11 + 7], 0.0, "0.4 from the centre");
}

#[test]
fn halves_split_odd_grids_at_the_middle_cell() {
    // 3 channels, 5 rows, 7 columns: the left half is columns 0..3, the top half rows 0..2.
    for (half, kept) in [
        (Half::Left, 5 * 4),
        (Half::Right, 5 * 3),
        (Half::Top, 3 * 7),
        (Half::Bottom, 2 * 7),
    ] {
        let mut grid = HostGrid::new(vec![1.0f32; 3 * 5 * 7], [3, 5, 7]);
        grid.erase_half(half);
        let ones = grid.values().iter().filter(|&&v| v == 1.0).count();
        assert_eq!(ones, 3 * kept, "{half:?}");
    }
}

#[test]
fn a_seed_is_the_middle_cell_with_alpha_and_hidden_channels_at_1_and_survives_a_tensor() {
    // 16 channels (RGB, alpha at 3, 12 hidden) of 9 x 12 cells; the middle cell, row 4 and
    // column 6, is value 4 · 12 + 6 = 54 of each channel's 108.
    let expected: Vec<(usize, f32)> = (3..16).map(|channel| (channel * 108 + 54, 1.0)).collect();
    let config = NcaConfig::default();
    assert_eq!((config.channels, config.alpha_channel()), (16, 3));

    let mut grid = HostGrid::new(vec![0.0f32; 16 * 108], [16, 9, 12]);
    grid.plant_seed(4, 6, config.alpha_channel());
    assert_eq!(nonzero(grid.values()), expected, "planted");
    let device = Device::flex();
    let seed = host_values(config.seed(1, 9, 12, &device));
    assert_eq!(nonzero(&seed), expected, "the model's seed");
    let back = HostGrid::from_tensor(grid.to_tensor(&device));
    assert_eq!(back.shape(), [16, 9, 12]);
    assert_eq!(nonzero(back.values()), expected, "through a tensor");
}

/// The non-zero values, as (index, value).
fn nonzero(values: &[f32]) -> Vec<(usize, f32)> {
    values
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, value)| value != 0.0)
        .collect()
}
