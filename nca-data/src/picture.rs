//! Pictures out: states as images, PNG and animated GIF files, grids of many states.

use std::path::Path;

use burn::tensor::Tensor;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use nca_core::{NcaConfig, host_values};

use crate::DataError;

/// A `[B, C, H, W]` tensor read back to the host.
struct HostState {
    values: Vec<f32>,
    dims: [usize; 4],
}

impl HostState {
    fn new(tensor: Tensor<4>) -> Self {
        let dims = tensor.dims();
        let values = host_values(tensor);
        Self { values, dims }
    }

    fn at(&self, sample: usize, channel: usize, y: u32, x: u32) -> f32 {
        let [_, channels, height, width] = self.dims;
        self.values[((sample * channels + channel) * height + y as usize) * width + x as usize]
    }

    /// The colour channel to show as red, green or blue: grey when there is only one.
    fn colour(&self, sample: usize, rgb: usize, y: u32, x: u32) -> f32 {
        let visible = self.dims[1].min(3);
        self.at(sample, if visible == 3 { rgb } else { 0 }, y, x)
    }

    fn image<P: image::Pixel>(
        &self,
        pixel: impl Fn(usize, u32, u32) -> P,
    ) -> Vec<image::ImageBuffer<P, Vec<P::Subpixel>>> {
        let [batch, _, height, width] = self.dims;
        (0..batch)
            .map(|sample| {
                image::ImageBuffer::from_fn(width as u32, height as u32, |x, y| pixel(sample, y, x))
            })
            .collect()
    }
}

fn to_byte(value: f32) -> u8 {
    (value.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Each sample of a state as it looks over a white background (the paper's display).
pub fn white_images(config: &NcaConfig, state: Tensor<4>) -> Vec<RgbImage> {
    let host = HostState::new(config.over_white(state));
    host.image(|sample, y, x| Rgb([0, 1, 2].map(|c| to_byte(host.colour(sample, c, y, x)))))
}

/// Each sample of a state as RGBA with straight (not premultiplied) colour, for a PNG with
/// transparency.
pub fn rgba_images(config: &NcaConfig, state: Tensor<4>) -> Vec<RgbaImage> {
    let alpha_channel = config.alpha_channel();
    let host = HostState::new(config.rgba(state));
    host.image(|sample, y, x| {
        let alpha = host.at(sample, alpha_channel, y, x).clamp(0.0, 1.0);
        let straight = |c| {
            if alpha > 0.0 {
                to_byte(host.colour(sample, c, y, x) / alpha)
            } else {
                0
            }
        };
        Rgba([straight(0), straight(1), straight(2), to_byte(alpha)])
    })
}

/// Writes an image as PNG, atomically: a failure leaves any previous file intact.
pub fn save_png(path: &Path, image: impl Into<image::DynamicImage>) -> Result<(), DataError> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .into()
        .write_to(&mut bytes, ImageFormat::Png)
        .map_err(|err| DataError::Io {
            path: path.into(),
            source: std::io::Error::other(err),
        })?;
    nca_core::io::write_atomic(path, bytes.get_ref())?;
    Ok(())
}

/// How frames become an animated GIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GifOptions {
    /// Time each frame is shown, in milliseconds.
    pub frame_delay_ms: u32,
    /// Each cell becomes a `scale x scale` block (nearest neighbour), so small grids stay sharp.
    pub scale: u32,
}

impl Default for GifOptions {
    fn default() -> Self {
        Self {
            frame_delay_ms: 50,
            scale: 4,
        }
    }
}

/// Writes `frames` as a looping GIF, atomically. With `steps`, each frame shows its step number
/// in its top-left corner.
pub fn save_gif(
    path: &Path,
    frames: &[RgbImage],
    steps: Option<&[usize]>,
    options: GifOptions,
) -> Result<(), DataError> {
    let mut gif = GifWriter::create(path, options)?;
    for (index, frame) in frames.iter().enumerate() {
        gif.push(frame, steps.and_then(|steps| steps.get(index)).copied())?;
    }
    gif.finish()
}

/// A looping GIF written frame by frame, so that a long growth never sits in memory whole; the
/// file replaces `path` atomically at [`finish`](Self::finish) (dropped before, nothing changes).
pub struct GifWriter {
    encoder: GifEncoder<std::fs::File>,
    file: nca_core::io::AtomicFile,
    path: std::path::PathBuf,
    options: GifOptions,
}

impl GifWriter {
    /// Starts a GIF at `path`.
    pub fn create(path: &Path, options: GifOptions) -> Result<Self, DataError> {
        let file = nca_core::io::AtomicFile::create(path)?;
        let handle = file.file().try_clone().map_err(|source| DataError::Io {
            path: path.into(),
            source,
        })?;
        let mut encoder = GifEncoder::new_with_speed(handle, 10);
        encoder
            .set_repeat(Repeat::Infinite)
            .map_err(|err| encode_error(path, err))?;
        Ok(Self {
            encoder,
            file,
            path: path.into(),
            options,
        })
    }

    /// Appends a frame, scaled up as the options say, with its step number when given.
    pub fn push(&mut self, frame: &RgbImage, step: Option<usize>) -> Result<(), DataError> {
        let mut frame = scale_up(frame, self.options.scale.max(1));
        if let Some(step) = step {
            draw_number(&mut frame, step);
        }
        let rgba = image::DynamicImage::ImageRgb8(frame).into_rgba8();
        let delay = Delay::from_numer_denom_ms(self.options.frame_delay_ms, 1);
        self.encoder
            .encode_frame(Frame::from_parts(rgba, 0, 0, delay))
            .map_err(|err| encode_error(&self.path, err))
    }

    /// Ends the GIF and puts it in place.
    pub fn finish(self) -> Result<(), DataError> {
        // The encoder writes straight to the file (a write error surfaces in `push`); dropping
        // it writes the one-byte trailer.
        drop(self.encoder);
        self.file.commit()?;
        Ok(())
    }
}

fn encode_error(path: &Path, err: image::ImageError) -> DataError {
    DataError::Io {
        path: path.into(),
        source: std::io::Error::other(err),
    }
}

/// Nearest-neighbour enlargement by an integer factor.
pub fn scale_up(image: &RgbImage, scale: u32) -> RgbImage {
    image::imageops::resize(
        image,
        image.width() * scale,
        image.height() * scale,
        image::imageops::FilterType::Nearest,
    )
}

/// `image` repeated `times x times`, edge to edge: a texture on a wrapped grid tiles with no
/// seam.
pub fn tiled(image: &RgbImage, times: u32) -> RgbImage {
    let (width, height) = image.dimensions();
    RgbImage::from_fn(width * times, height * times, |x, y| {
        *image.get_pixel(x % width, y % height)
    })
}

/// Many equally sized images in rows of `columns`, separated by a 1-pixel grey line: a pool
/// of samples at a glance.
///
/// # Panics
/// If `images` is empty or `columns` is 0.
pub fn grid_image(images: &[RgbImage], columns: usize) -> RgbImage {
    assert!(
        !images.is_empty() && columns > 0,
        "grid_image needs images and at least one column"
    );
    let (cell_w, cell_h) = (images[0].width() + 1, images[0].height() + 1);
    let rows = images.len().div_ceil(columns) as u32;
    let columns = columns.min(images.len()) as u32;
    let mut grid = RgbImage::from_pixel(
        columns * cell_w + 1,
        rows * cell_h + 1,
        Rgb([200, 200, 200]),
    );
    for (index, image) in images.iter().enumerate() {
        let (column, row) = (index as u32 % columns, index as u32 / columns);
        image::imageops::replace(
            &mut grid,
            image,
            i64::from(column * cell_w + 1),
            i64::from(row * cell_h + 1),
        );
    }
    grid
}

/// 3x5 pixel glyphs of the digits 0-9, one row per `u8` (3 low bits, left to right).
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

/// Writes `number` in dark grey, 2-pixel dots, in the top-left corner (the step counter of GIFs
/// and contact sheets).
pub fn draw_number(image: &mut RgbImage, number: usize) {
    const DOT: u32 = 2;
    for (index, digit) in number.to_string().bytes().enumerate() {
        let glyph = DIGITS[usize::from(digit - b'0')];
        let left = 2 + index as u32 * 4 * DOT;
        for (row, bits) in glyph.iter().enumerate() {
            for column in 0..3u32 {
                if bits & (4 >> column) == 0 {
                    continue;
                }
                for dy in 0..DOT {
                    for dx in 0..DOT {
                        let (x, y) = (left + column * DOT + dx, 2 + row as u32 * DOT + dy);
                        if x < image.width() && y < image.height() {
                            image.put_pixel(x, y, Rgb([60, 60, 60]));
                        }
                    }
                }
            }
        }
    }
}

/// Writes `text` in dark grey from `(left, top)`, 8x8 pixels a character (ASCII; anything else
/// shows as `?`), cut at the image's edge: the captions of contact sheets.
pub fn draw_text(image: &mut RgbImage, left: u32, top: u32, text: &str) {
    use font8x8::UnicodeFonts;
    for (index, character) in text.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS
            .get(character)
            .or_else(|| font8x8::BASIC_FONTS.get('?'))
            .unwrap_or([0; 8]);
        for (row, bits) in glyph.iter().enumerate() {
            for column in 0..8u32 {
                let (x, y) = (left + index as u32 * 8 + column, top + row as u32);
                if bits & (1 << column) != 0 && x < image.width() && y < image.height() {
                    image.put_pixel(x, y, Rgb([60, 60, 60]));
                }
            }
        }
    }
}

/// `image` with a white strip of `text` above it, cut to the image's width.
pub fn captioned(image: &RgbImage, text: &str) -> RgbImage {
    let mut out = RgbImage::from_pixel(
        image.width(),
        image.height() + CAPTION_HEIGHT,
        Rgb([255; 3]),
    );
    image::imageops::replace(&mut out, image, 0, i64::from(CAPTION_HEIGHT));
    draw_text(&mut out, 1, 2, text);
    out
}

/// Height of the strip [`captioned`] adds, in pixels.
pub const CAPTION_HEIGHT: u32 = 11;
