//! States as pictures: over white, RGBA, PNG, GIF and grids.

use burn::tensor::{Device, Tensor, TensorData};
use image::{AnimationDecoder, Rgb};
use nca_core::NcaConfig;
use nca_data::{GifOptions, grid_image, rgba_images, save_gif, save_png, white_images};

/// A `[2, 16, 2, 3]` state: sample 0 has one half-transparent red cell at (0, 0).
fn state() -> Tensor<4> {
    let mut values = vec![0.0f32; 2 * 16 * 6];
    values[0] = 0.5; // red, premultiplied by alpha 0.5
    values[3 * 6] = 0.5; // alpha
    Tensor::from_data(TensorData::new(values, [2, 16, 2, 3]), &Device::flex())
}

#[test]
fn over_white_shows_one_image_per_sample() {
    let images = white_images(&NcaConfig::default(), state());
    assert_eq!(images.len(), 2);
    assert_eq!(images[0].dimensions(), (3, 2));
    assert_eq!(images[0].get_pixel(0, 0), &Rgb([255, 128, 128]));
    assert_eq!(images[0].get_pixel(1, 0), &Rgb([255, 255, 255]));
}

#[test]
fn rgba_images_carry_straight_colour_and_alpha() {
    let images = rgba_images(&NcaConfig::default(), state());
    assert_eq!(images[0].get_pixel(0, 0).0, [255, 0, 0, 128]);
    assert_eq!(images[1].get_pixel(0, 0).0, [0, 0, 0, 0]);
}

#[test]
fn png_and_gif_files_decode_with_the_right_size_and_frames() {
    let dir = tempfile::tempdir().unwrap();
    let frames = white_images(&NcaConfig::default(), state());

    let png = dir.path().join("frame.png");
    save_png(&png, frames[0].clone()).unwrap();
    assert_eq!(image::open(&png).unwrap().to_rgb8(), frames[0]);

    let gif = dir.path().join("growth.gif");
    let options = GifOptions {
        frame_delay_ms: 40,
        scale: 10,
    };
    save_gif(&gif, &frames, Some(&[0, 96]), options).unwrap();
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(
        std::fs::File::open(&gif).unwrap(),
    ))
    .unwrap();
    let decoded = decoder.into_frames().collect_frames().unwrap();
    assert_eq!(decoded.len(), 2);
    assert_eq!(decoded[0].buffer().dimensions(), (30, 20));
    assert_eq!(decoded[0].delay().numer_denom_ms(), (40, 1));
    // The step counter darkens the top-left corner of the first frame.
    assert!(
        decoded[1].buffer().get_pixel(3, 3).0[0] < 100,
        "step counter drawn"
    );
    assert_eq!(
        decoded[0].buffer().get_pixel(29, 19).0,
        [255, 255, 255, 255]
    );
}

#[test]
fn writing_into_a_missing_directory_fails_and_names_the_file() {
    let frames = white_images(&NcaConfig::default(), state());
    let err = save_png(
        std::path::Path::new("/no/such/dir/frame.png"),
        frames[0].clone(),
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("/no/such/dir/frame.png: "),
        "{err}"
    );
}

#[test]
fn a_grid_lays_samples_out_in_rows() {
    let frames = white_images(&NcaConfig::default(), state());
    let tiles: Vec<_> = frames.iter().cycle().take(5).cloned().collect();
    let grid = grid_image(&tiles, 3);
    // 3 columns of 3+1 pixels + 1, 2 rows of 2+1 pixels + 1.
    assert_eq!(grid.dimensions(), (13, 7));
    assert_eq!(grid.get_pixel(1, 1), &Rgb([255, 128, 128]));
}
