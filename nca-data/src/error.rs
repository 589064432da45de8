//! The one error type of `nca-data`: each variant names the input it is about.

use std::path::PathBuf;

/// Everything that can go wrong turning the outside world into targets and models, or
/// writing pictures.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The bytes are not an image in a format we decode, or the image is corrupt.
    #[error("{source_name} is not a readable image: {reason}")]
    NotAnImage {
        /// File name or URL of the input.
        source_name: String,
        /// The decoder's complaint.
        reason: String,
    },
    /// The image is larger than we agree to decode (a guard against decompression bombs).
    #[error("{source_name} is too large to use as a target: {reason}")]
    ImageTooLarge {
        /// File name or URL of the input.
        source_name: String,
        /// Which limit it exceeds.
        reason: String,
    },
    /// The text given as an emoji is several.
    #[error("{text:?} is {count} emoji; give one, such as 🦎")]
    SeveralEmoji {
        /// The text given.
        text: String,
        /// How many emoji it holds.
        count: usize,
    },
    /// The text given as an emoji is not one.
    #[error("{text:?} is not an emoji (give a single emoji such as 🦎, or use an image file)")]
    NotAnEmoji {
        /// The text.
        text: String,
    },
    /// No built-in texture has this name.
    #[error("{name:?} is not one of nca's textures ({known})")]
    UnknownTexture {
        /// The name asked for.
        name: String,
        /// The names there are, comma separated.
        known: String,
    },
    /// The emoji is well formed but Noto Emoji has no image of it.
    #[error("Noto Emoji has no image for {emoji} ({url} answered 404)")]
    UnknownEmoji {
        /// The emoji.
        emoji: String,
        /// The address asked.
        url: String,
    },
    /// A server answered with an error status.
    #[error("{url} answered HTTP {status}")]
    HttpStatus {
        /// The address asked.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The request did not complete: no connection, a timeout, a broken or oversized response.
    #[error("could not fetch {url}: {reason}")]
    Network {
        /// The address asked.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The URL is not an http(s) address.
    #[error("{url:?} is not an http:// or https:// URL")]
    BadUrl {
        /// The text given.
        url: String,
    },
    /// A web-demo model file is malformed.
    #[error("{source_name} is not a usable web-demo model: {reason}")]
    BadModel {
        /// The model file.
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A model the web-demo format cannot express.
    #[error("{name} cannot be written in the web-demo format: {reason}")]
    NotExportable {
        /// The model.
        name: String,
        /// What the format lacks.
        reason: String,
    },
    /// A picture or model could not be written or built.
    #[error(transparent)]
    Core(#[from] nca_core::NcaError),
}
