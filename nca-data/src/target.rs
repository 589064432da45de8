//! Targets: an emoji, an image file or an image URL, prepared as the paper does.

use std::io::Cursor;
use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use image::{DynamicImage, ImageError, ImageReader, Limits};
use serde::{Deserialize, Serialize};

use crate::thumbnail::thumbnail;
use crate::{DataError, EmojiSource, NotoEdition, http};

/// Largest width or height of an image we agree to decode.
pub const MAX_IMAGE_SIDE: u32 = 8192;
/// Most memory the decoder may allocate for one image.
pub const MAX_IMAGE_BYTES: u64 = 512 * 1024 * 1024;

/// Where a target image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSource {
    /// A single emoji such as `"🦎"`.
    Emoji(String),
    /// An image file in any format `image` decodes.
    File(PathBuf),
    /// An http(s) URL of an image.
    Url(String),
    /// One of nca's built-in textures by name ([`TEXTURES`](crate::TEXTURES)), such as `"dots"`.
    Texture(String),
}

impl Default for TargetSource {
    /// The embedded gecko.
    fn default() -> Self {
        Self::Emoji(crate::DEFAULT_EMOJI.into())
    }
}

impl std::fmt::Display for TargetSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Emoji(emoji) => write!(f, "emoji {emoji}"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Url(url) => f.write_str(url),
            Self::Texture(name) => write!(f, "texture {name}"),
        }
    }
}

/// How a target image becomes a training target: fit into `size`, then pad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetOptions {
    /// The image is scaled down to fit a `size x size` box, keeping its aspect ratio (paper: 40).
    pub size: u32,
    /// Empty cells added on every side (paper: 16, making a 72 x 72 grid).
    pub padding: u32,
}

impl Default for TargetOptions {
    fn default() -> Self {
        Self {
            size: 40,
            padding: 16,
        }
    }
}

/// Everything that makes a target: where the picture comes from, how it is fitted, and which
/// drawing of Noto Emoji. A run's `config.toml` holds it as its `[target]` table, so that the file
/// trains the same run again:
///
/// ```toml
/// [target]
/// emoji = "🦎"   # or image = "/path/to/picture.png", url = "https://…", texture = "dots"
/// size = 40
/// padding = 16
/// noto = "2020"  # or "current"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "TargetTable", into = "TargetTable")]
pub struct TargetSpec {
    /// Where the picture comes from.
    pub source: TargetSource,
    /// How it is fitted and padded.
    pub options: TargetOptions,
    /// The drawing of the paper's ten emoji.
    pub edition: NotoEdition,
}

impl TargetSpec {
    /// Loads and prepares the target (embedded emoji need no network).
    pub fn load(&self) -> Result<Target, DataError> {
        Target::load(
            &self.source,
            self.options,
            &EmojiSource::with_edition(self.edition),
        )
    }
}

/// [`TargetSpec`] as TOML writes it: one of `emoji`, `image`, `url`, `texture`; missing fields
/// take the paper's values.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    texture: Option<String>,
    #[serde(default = "paper_size")]
    size: u32,
    #[serde(default = "paper_padding")]
    padding: u32,
    #[serde(default)]
    noto: NotoEdition,
}

fn paper_size() -> u32 {
    TargetOptions::default().size
}

fn paper_padding() -> u32 {
    TargetOptions::default().padding
}

impl TryFrom<TargetTable> for TargetSpec {
    type Error = String;
    fn try_from(table: TargetTable) -> Result<Self, String> {
        let source = match (table.emoji, table.image, table.url, table.texture) {
            (Some(emoji), None, None, None) => TargetSource::Emoji(emoji),
            (None, Some(path), None, None) => TargetSource::File(path),
            (None, None, Some(url), None) => TargetSource::Url(url),
            (None, None, None, Some(name)) => TargetSource::Texture(name),
            (None, None, None, None) => TargetSource::default(),
            _ => return Err("give one of emoji, image, url and texture, not several".into()),
        };
        Ok(Self {
            source,
            options: TargetOptions {
                size: table.size,
                padding: table.padding,
            },
            edition: table.noto,
        })
    }
}

impl From<TargetSpec> for TargetTable {
    fn from(spec: TargetSpec) -> Self {
        let (mut emoji, mut image, mut url, mut texture) = (None, None, None, None);
        match spec.source {
            TargetSource::Emoji(text) => emoji = Some(text),
            TargetSource::File(path) => image = Some(path),
            TargetSource::Url(address) => url = Some(address),
            TargetSource::Texture(name) => texture = Some(name),
        }
        Self {
            emoji,
            image,
            url,
            texture,
            size: spec.options.size,
            padding: spec.options.padding,
            noto: spec.edition,
        }
    }
}

/// A prepared target: premultiplied RGBA in `[0, 1]`, padded, channel-major `[4, height, width]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// `4 * height * width` values: R, G, B (premultiplied by alpha) and alpha planes.
    pub rgba: Vec<f32>,
    /// Grid height, padding included.
    pub height: usize,
    /// Grid width, padding included.
    pub width: usize,
    /// Whether the source image had an alpha channel. One without is taken as fully opaque: the
    /// whole rectangle is the shape to grow.
    pub had_alpha: bool,
}

impl Target {
    /// Loads and prepares the target named by `source`; emoji come through `emoji`.
    pub fn load(
        source: &TargetSource,
        options: TargetOptions,
        emoji: &EmojiSource,
    ) -> Result<Self, DataError> {
        let image = match source {
            TargetSource::Emoji(text) => emoji.image(text)?,
            TargetSource::File(path) => decode(&read_capped(path)?, &path.display().to_string())?,
            TargetSource::Url(url) => decode(&http::fetch(url, http::DEFAULT_TIMEOUT)?, url)?,
            TargetSource::Texture(name) => {
                let bytes = crate::texture_png(name).ok_or_else(|| DataError::UnknownTexture {
                    name: name.clone(),
                    known: crate::TEXTURES.map(|(name, _)| name).join(", "),
                })?;
                decode(bytes, &source.to_string())?
            }
        };
        Ok(Self::from_image(&image, options))
    }

    /// Prepares a decoded image as the paper's notebook does: fit into `size` as Pillow's
    /// `thumbnail` does (Lanczos, aspect kept, never enlarged; see [`thumbnail`]), premultiply
    /// colour by alpha, pad with `padding` empty cells on every side.
    pub fn from_image(image: &DynamicImage, options: TargetOptions) -> Self {
        let had_alpha = image.color().has_alpha();
        let fitted = thumbnail(&image.to_rgba8(), options.size);
        let pad = options.padding as usize;
        let (inner_width, inner_height) = (fitted.width() as usize, fitted.height() as usize);
        let (width, height) = (inner_width + 2 * pad, inner_height + 2 * pad);
        let mut rgba = vec![0.0f32; 4 * height * width];
        for (x, y, pixel) in fitted.enumerate_pixels() {
            let alpha = f32::from(pixel[3]) / 255.0;
            let at = (y as usize + pad) * width + x as usize + pad;
            for channel in 0..3 {
                rgba[channel * height * width + at] = f32::from(pixel[channel]) / 255.0 * alpha;
            }
            rgba[3 * height * width + at] = alpha;
        }
        Self {
            rgba,
            height,
            width,
            had_alpha,
        }
    }

    /// The target as a `[4, height, width]` tensor on `device`.
    pub fn tensor(&self, device: &Device) -> Tensor<3> {
        Tensor::from_data(
            TensorData::new(self.rgba.clone(), [4, self.height, self.width]),
            device,
        )
    }
}

/// Decodes image bytes of any supported format, refusing images over the size limits.
pub fn decode(bytes: &[u8], source_name: &str) -> Result<DynamicImage, DataError> {
    let not_an_image = |reason: String| DataError::NotAnImage {
        source_name: source_name.into(),
        reason,
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|err| not_an_image(err.to_string()))?;
    if reader.format().is_none() {
        return Err(not_an_image("unknown image format".into()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_BYTES);
    reader.limits(limits);
    reader.decode().map_err(|err| match err {
        ImageError::Limits(limit) => DataError::ImageTooLarge {
            source_name: source_name.into(),
            reason: format!("{limit} (at most {MAX_IMAGE_SIDE} x {MAX_IMAGE_SIDE} pixels)"),
        },
        other => not_an_image(other.to_string()),
    })
}

/// The bytes of an image file, refused as soon as it proves longer than
/// [`MAX_DOWNLOAD_BYTES`](crate::MAX_DOWNLOAD_BYTES) (a huge file or `/dev/zero` is never read
/// whole).
fn read_capped(path: &std::path::Path) -> Result<Vec<u8>, DataError> {
    use std::io::Read;
    let io_error = |source| DataError::Io {
        path: path.into(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut bytes = Vec::new();
    file.take(crate::MAX_DOWNLOAD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > crate::MAX_DOWNLOAD_BYTES {
        return Err(DataError::ImageTooLarge {
            source_name: path.display().to_string(),
            reason: format!(
                "the file is over {} MiB",
                crate::MAX_DOWNLOAD_BYTES / (1024 * 1024)
            ),
        });
    }
    Ok(bytes)
}
