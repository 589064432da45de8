//! Pillow's `Image.thumbnail(size, LANCZOS)`, the resize of the paper's notebook, reproduced
//! step by step so that nca's targets are the paper's.
//!
//! Pillow resizes an RGBA image premultiplied (`RGBa`, 8 bits), with a Lanczos-3 filter whose
//! support widens with the reduction, in two separable 8-bit passes (horizontal, then vertical)
//! with 22-bit fixed-point weights, and converts back to straight alpha. Its size rule keeps the
//! aspect ratio and never enlarges. (Pillow since 7.0 also pre-shrinks by an integer box filter
//! when an image is over twice the box's reduction; that never happens to the paper's 128 px
//! emoji in a 40 px box, and the paper's notebook predates it, so it is left out.)

use image::RgbaImage;

/// Pillow's fixed-point precision for 8-bit resampling (`PRECISION_BITS`).
const PRECISION_BITS: u32 = 32 - 8 - 2;
/// Lanczos-3's support in source pixels at no reduction.
const LANCZOS_SUPPORT: f64 = 3.0;

/// The size Pillow's `thumbnail((box_side, box_side))` gives an image of `width x height`: the
/// aspect ratio kept, rounded as Pillow rounds it; `None` when the image already fits.
pub fn thumbnail_size(width: u32, height: u32, box_side: u32) -> Option<(u32, u32)> {
    if width <= box_side && height <= box_side {
        return None;
    }
    let aspect = f64::from(width) / f64::from(height);
    let side = f64::from(box_side);
    // Of floor and ceil, the one whose aspect ratio is nearest the image's (at least 1).
    let nearest = |exact: f64, error: &dyn Fn(f64) -> f64| {
        let (low, high) = (exact.floor(), exact.ceil());
        let pick = if error(high) < error(low) { high } else { low };
        pick.max(1.0) as u32
    };
    Some(if aspect <= 1.0 {
        let w = nearest(side * aspect, &|n| (aspect - n / side).abs());
        (w, box_side)
    } else {
        let h = nearest(side / aspect, &|n| {
            if n == 0.0 {
                0.0
            } else {
                (aspect - side / n).abs()
            }
        });
        (box_side, h)
    })
}

/// `image` fitted into a `box_side` square as Pillow's `thumbnail` with `LANCZOS` does (an image
/// that fits already is returned as it is).
pub fn thumbnail(image: &RgbaImage, box_side: u32) -> RgbaImage {
    let Some((width, height)) = thumbnail_size(image.width(), image.height(), box_side) else {
        return image.clone();
    };
    let mut premultiplied = image.clone();
    for pixel in premultiplied.pixels_mut() {
        let alpha = pixel[3];
        for channel in &mut pixel.0[..3] {
            *channel = mul_div_255(*channel, alpha);
        }
    }
    let wide = resample_rows(&premultiplied, width);
    let mut fitted = transpose(&resample_rows(&transpose(&wide), height));
    for pixel in fitted.pixels_mut() {
        let alpha = pixel[3];
        if alpha != 0 && alpha != 255 {
            for channel in &mut pixel.0[..3] {
                *channel = (255 * u32::from(*channel) / u32::from(alpha)).min(255) as u8;
            }
        }
    }
    fitted
}

/// Pillow's `MULDIV255`: `a * b / 255`, rounded.
fn mul_div_255(a: u8, b: u8) -> u8 {
    let t = u32::from(a) * u32::from(b) + 128;
    (((t >> 8) + t) >> 8) as u8
}

/// Lanczos-3: a sinc windowed by a three times wider sinc.
fn lanczos(x: f64) -> f64 {
    let sinc = |x: f64| {
        if x == 0.0 {
            1.0
        } else {
            let x = x * std::f64::consts::PI;
            x.sin() / x
        }
    };
    if (-LANCZOS_SUPPORT..LANCZOS_SUPPORT).contains(&x) {
        sinc(x) * sinc(x / LANCZOS_SUPPORT)
    } else {
        0.0
    }
}

/// For each output pixel, the first input pixel and the fixed-point weights of the inputs from
/// there (Pillow's `precompute_coeffs` and `normalize_coeffs_8bpc`).
fn weights(in_size: u32, out_size: u32) -> Vec<(usize, Vec<i32>)> {
    let scale = f64::from(in_size) / f64::from(out_size);
    let filter_scale = scale.max(1.0);
    let support = LANCZOS_SUPPORT * filter_scale;
    (0..out_size)
        .map(|out| {
            let center = (f64::from(out) + 0.5) * scale;
            // Pillow truncates towards zero here (a C cast).
            let first = ((center - support + 0.5) as i64).max(0) as usize;
            let last = ((center + support + 0.5) as i64).min(i64::from(in_size)) as usize;
            let raw: Vec<f64> = (first..last)
                .map(|x| lanczos((x as f64 - center + 0.5) / filter_scale))
                .collect();
            let total: f64 = raw.iter().sum();
            let one = f64::from(1u32 << PRECISION_BITS);
            let fixed = raw
                .iter()
                .map(|w| {
                    let w = if total == 0.0 { *w } else { w / total };
                    // C's cast truncates: Pillow adds ±0.5 first to round half away from zero.
                    (if w < 0.0 {
                        -0.5 + w * one
                    } else {
                        0.5 + w * one
                    }) as i32
                })
                .collect();
            (first, fixed)
        })
        .collect()
}

/// Every row of `image` resampled to `width` pixels, 8 bits per channel as Pillow does.
fn resample_rows(image: &RgbaImage, width: u32) -> RgbaImage {
    let weights = weights(image.width(), width);
    RgbaImage::from_fn(width, image.height(), |x, y| {
        let (first, row_weights) = &weights[x as usize];
        let mut sums = [1i64 << (PRECISION_BITS - 1); 4];
        for (offset, weight) in row_weights.iter().enumerate() {
            let pixel = image.get_pixel((first + offset) as u32, y);
            for (sum, value) in sums.iter_mut().zip(pixel.0) {
                *sum += i64::from(value) * i64::from(*weight);
            }
        }
        image::Rgba(sums.map(|sum| (sum >> PRECISION_BITS).clamp(0, 255) as u8))
    })
}

fn transpose(image: &RgbaImage) -> RgbaImage {
    RgbaImage::from_fn(image.height(), image.width(), |x, y| *image.get_pixel(y, x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_pillows_rounding() {
        assert_eq!(thumbnail_size(128, 128, 40), Some((40, 40)));
        assert_eq!(thumbnail_size(136, 128, 40), Some((40, 38)));
        assert_eq!(thumbnail_size(100, 300, 40), Some((13, 40)));
        assert_eq!(thumbnail_size(1000, 1, 40), Some((40, 1)));
        assert_eq!(thumbnail_size(301, 97, 40), Some((40, 13)));
        assert_eq!(thumbnail_size(41, 40, 40), Some((40, 39)));
        assert_eq!(thumbnail_size(40, 24, 40), None);
    }
}
