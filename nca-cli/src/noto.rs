//! `--noto`: which drawing of Noto Emoji the paper's ten emoji are taken from.

use nca_data::NotoEdition;

/// The drawing of the paper's ten emoji (any other emoji is today's Noto either way).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Noto {
    /// Noto Emoji of February 2020, the images the paper trained on.
    #[default]
    #[value(name = "2020")]
    Paper,
    /// Today's Noto Emoji (several were redrawn since, the lizard among them).
    Current,
}

impl From<Noto> for NotoEdition {
    fn from(noto: Noto) -> Self {
        match noto {
            Noto::Paper => NotoEdition::Paper,
            Noto::Current => NotoEdition::Current,
        }
    }
}
