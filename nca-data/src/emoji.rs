//! Emoji targets: Noto Emoji PNGs, embedded for the paper's emoji, fetched and cached for the rest.

use std::path::{Path, PathBuf};
use std::time::Duration;
use unicode_segmentation::UnicodeSegmentation;

use image::DynamicImage;

use crate::{DataError, decode, http};

/// Where Noto Emoji's 128 px PNGs are fetched from unless told otherwise.
pub const DEFAULT_BASE_URL: &str =
    "https://raw.githubusercontent.com/googlefonts/noto-emoji/main/png/128/";
/// Environment variable that replaces [`DEFAULT_BASE_URL`] (a mirror, or a test server).
pub const BASE_URL_ENV: &str = "NCA_EMOJI_BASE_URL";
/// Environment variable that replaces the cache directory.
pub const CACHE_DIR_ENV: &str = "NCA_CACHE_DIR";

/// The paper's ten emoji in the order of its demo, as embedded from `assets/emoji/<dir>/`.
macro_rules! papers_emoji {
    ($dir:literal) => {
        papers_emoji!($dir; "🦎" "1f98e", "😀" "1f600", "💥" "1f4a5", "👁" "1f441", "🐠" "1f420",
            "🦋" "1f98b", "🐞" "1f41e", "🕸" "1f578", "🥨" "1f968", "🎄" "1f384")
    };
    ($dir:literal; $($emoji:literal $code:literal),*) => {
        [$(($emoji, include_bytes!(concat!("../assets/emoji/", $dir, "/emoji_u", $code, ".png"))
            as &[u8])),*]
    };
}

/// The paper's ten emoji as the paper trained on them: Noto's 128 px PNGs of February 2020.
pub const EMBEDDED: [(&str, &[u8]); 10] = papers_emoji!("noto-2020");
/// The same ten as Noto draws them today (v2.048, Emoji 16.0; 64 px).
pub const EMBEDDED_CURRENT: [(&str, &[u8]); 10] = papers_emoji!("current");

/// Which drawing of Noto Emoji the paper's ten emoji are taken from. Any other emoji is
/// fetched from today's Noto, whichever is chosen.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum NotoEdition {
    /// February 2020, the images the paper trained its models on (the default).
    #[default]
    #[serde(rename = "2020")]
    Paper,
    /// Today's Noto, redrawn since (the lizard and the smiley among others).
    #[serde(rename = "current")]
    Current,
}

impl NotoEdition {
    /// The embedded images of this edition.
    pub fn embedded(self) -> &'static [(&'static str, &'static [u8]); 10] {
        match self {
            Self::Paper => &EMBEDDED,
            Self::Current => &EMBEDDED_CURRENT,
        }
    }
}

impl std::fmt::Display for NotoEdition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Paper => "Noto Emoji of February 2020 (the paper's)",
            Self::Current => "today's Noto Emoji",
        })
    }
}

/// The default target: the gecko of the paper's demo.
pub const DEFAULT_EMOJI: &str = "🦎";

const VARIATION_SELECTOR: char = '\u{FE0F}';

/// The PNG bytes of one of the paper's emoji as the paper had it (the variation selector FE0F
/// does not matter); `None` for any other emoji.
pub fn embedded(emoji: &str) -> Option<&'static [u8]> {
    embedded_in(emoji, NotoEdition::Paper)
}

/// The PNG bytes of one of the paper's emoji in `edition`.
pub fn embedded_in(emoji: &str, edition: NotoEdition) -> Option<&'static [u8]> {
    let wanted: String = emoji.chars().filter(|&c| c != VARIATION_SELECTOR).collect();
    edition
        .embedded()
        .iter()
        .find(|(e, _)| *e == wanted)
        .map(|(_, png)| *png)
}

/// Noto's file name for an emoji: `emoji_u` + its code points in lower-case hex joined by `_`,
/// without the variation selector FE0F, + `.png`. Text that is not an emoji is refused.
pub fn noto_file_name(emoji: &str) -> Result<String, DataError> {
    let not_an_emoji = || DataError::NotAnEmoji { text: emoji.into() };
    let mut chars = emoji
        .chars()
        .filter(|&c| c != VARIATION_SELECTOR)
        .peekable();
    let first = *chars.peek().ok_or_else(not_an_emoji)?;
    let keycap =
        emoji.ends_with('\u{20E3}') && (first.is_ascii_digit() || first == '#' || first == '*');
    if !(is_pictographic(first) || keycap)
        || !emoji
            .chars()
            .all(|c| is_pictographic(c) || is_emoji_joiner(c) || keycap)
    {
        return Err(not_an_emoji());
    }
    let count = emoji.graphemes(true).count();
    if count > 1 {
        return Err(DataError::SeveralEmoji {
            text: emoji.into(),
            count,
        });
    }
    let points: Vec<String> = chars.map(|c| format!("{:04x}", c as u32)).collect();
    Ok(format!("emoji_u{}.png", points.join("_")))
}

/// Code points that begin or make up an emoji (pictographs, symbols, flags, skin tones, tags).
fn is_pictographic(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF | 0x2190..=0x21FF
        | 0x25A0..=0x25FF | 0x2900..=0x297F | 0x3030 | 0x303D | 0x3297 | 0x3299 | 0x00A9 | 0x00AE
        | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x24C2 | 0xE0020..=0xE007F)
}

/// The glue inside emoji sequences: zero-width joiner, variation selectors, keycap.
fn is_emoji_joiner(c: char) -> bool {
    matches!(c as u32, 0x200D | 0xFE0E | 0xFE0F | 0x20E3)
}

/// Where emoji images come from: the embedded set (in the chosen edition), then a disk cache,
/// then the network (today's Noto).
#[derive(Debug, Clone)]
pub struct EmojiSource {
    /// Base URL the file name is appended to (ends with `/`).
    pub base_url: String,
    /// Directory of cached downloads; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Time allowed for one download.
    pub timeout: Duration,
    /// The drawing of the paper's ten emoji (embedded either way).
    pub edition: NotoEdition,
}

impl Default for EmojiSource {
    /// Noto's repository (or `NCA_EMOJI_BASE_URL`), cached in the user's cache directory
    /// (or `NCA_CACHE_DIR`) under `nca/emoji`.
    fn default() -> Self {
        let base_url = std::env::var(BASE_URL_ENV).unwrap_or_else(|_| DEFAULT_BASE_URL.into());
        let cache_dir = std::env::var_os(CACHE_DIR_ENV)
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|dir| dir.join("nca")))
            .map(|dir| dir.join("emoji"));
        Self {
            base_url,
            cache_dir,
            timeout: http::DEFAULT_TIMEOUT,
            edition: NotoEdition::Paper,
        }
    }
}

impl EmojiSource {
    /// The default source, with the paper's ten emoji in `edition`.
    pub fn with_edition(edition: NotoEdition) -> Self {
        Self {
            edition,
            ..Self::default()
        }
    }

    /// The image of `emoji`: embedded if it ships with the crate, else from the cache, else
    /// downloaded (and, once it decodes, cached, so the next use needs no network).
    pub fn image(&self, emoji: &str) -> Result<DynamicImage, DataError> {
        let file_name = noto_file_name(emoji)?;
        if let Some(png) = embedded_in(emoji, self.edition) {
            return decode(png, emoji);
        }
        let cached = self.cache_dir.as_ref().map(|dir| dir.join(&file_name));
        if let Some(image) = cached
            .as_deref()
            .and_then(|path| decode(&std::fs::read(path).ok()?, emoji).ok())
        {
            return Ok(image);
        }
        let url = format!("{}/{file_name}", self.base_url.trim_end_matches('/'));
        let png = http::fetch(&url, self.timeout).map_err(|err| match err {
            DataError::HttpStatus { status: 404, url } => DataError::UnknownEmoji {
                emoji: emoji.into(),
                url,
            },
            other => other,
        })?;
        let image = decode(&png, &url)?;
        if let Some(path) = cached {
            // A cache that cannot be written is no reason to fail: the image is in hand.
            let _ = store(&path, &png);
        }
        Ok(image)
    }
}

fn store(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
            path: dir.into(),
            source,
        })?;
    }
    nca_core::io::write_atomic(path, bytes)?;
    Ok(())
}
