//! Targets in, pictures out, for growing neural cellular automata.
//!
//! - **Targets**: an emoji (embedded for the paper's set, otherwise fetched from Noto Emoji and
//!   cached), an image file or an image URL, prepared as in the paper: fit into 40 px, premultiply
//!   alpha, pad by 16 → a `[4, 72, 72]` tensor.
//! - **Pictures**: states as RGBA or over-white images, PNG, animated GIF, a grid of many states.
//! - **The paper's web-demo format**: its published models imported as an [`nca_core::Nca`], and
//!   any of ours exported to it.
//!
//! ```
//! use nca_data::{EmojiSource, Target, TargetOptions, TargetSource};
//!
//! // The gecko ships inside the crate: no network needed.
//! let target = Target::load(&TargetSource::default(), TargetOptions::default(), &EmojiSource::default())?;
//! assert_eq!((target.height, target.width), (72, 72));
//! # Ok::<(), nca_data::DataError>(())
//! ```

mod demo_model;
mod emoji;
mod error;
mod http;
mod picture;
mod target;
mod textures;
mod thumbnail;

pub use demo_model::{export_demo_model, import_demo_model, import_demo_model_file};
pub use emoji::{
    BASE_URL_ENV, CACHE_DIR_ENV, DEFAULT_BASE_URL, DEFAULT_EMOJI, EMBEDDED, EMBEDDED_CURRENT,
    EmojiSource, NotoEdition, embedded, embedded_in, noto_file_name,
};
pub use error::DataError;
pub use http::{DEFAULT_TIMEOUT, MAX_DOWNLOAD_BYTES, fetch};
pub use picture::{
    CAPTION_HEIGHT, GifOptions, GifWriter, captioned, draw_number, draw_text, grid_image,
    rgba_images, save_gif, save_png, scale_up, tiled, white_images,
};
pub use target::{
    MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, Target, TargetOptions, TargetSource, TargetSpec, decode,
};
pub use textures::{TEXTURES, texture_png};
pub use thumbnail::{thumbnail, thumbnail_size};
