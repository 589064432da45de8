//! Emoji → Noto file names, and the embedded set.

use nca_data::{DataError, EMBEDDED, NotoEdition, embedded, embedded_in, noto_file_name};

#[test]
fn file_names_follow_notos_scheme() {
    let cases = [
        ("🦎", "emoji_u1f98e.png"),
        ("👁️", "emoji_u1f441.png"),
        ("👩‍🚀", "emoji_u1f469_200d_1f680.png"),
        ("🇫🇷", "emoji_u1f1eb_1f1f7.png"),
        ("1️⃣", "emoji_u0031_20e3.png"),
        ("©", "emoji_u00a9.png"),
        ("👍🏽", "emoji_u1f44d_1f3fd.png"),
    ];
    for (emoji, name) in cases {
        assert_eq!(noto_file_name(emoji).unwrap(), name, "{emoji}");
    }
}

#[test]
fn text_that_is_not_an_emoji_is_refused_by_name() {
    for text in ["", "gecko", "a", "🦎 and text", "12", "\u{FE0F}"] {
        let err = noto_file_name(text).unwrap_err();
        assert!(
            matches!(err, DataError::NotAnEmoji { .. }),
            "{text:?}: {err}"
        );
        assert!(err.to_string().contains("is not an emoji"), "{err}");
    }
}

#[test]
fn the_papers_emoji_are_embedded_in_both_editions_and_decode() {
    for emoji in ["🦎", "😀", "💥", "👁", "🐠", "🦋", "🐞", "🕸", "🥨", "🎄"] {
        // The paper's 128 px images of 2020, today's at 64 px.
        for (edition, side) in [(NotoEdition::Paper, 128), (NotoEdition::Current, 64)] {
            let png = embedded_in(emoji, edition).unwrap_or_else(|| panic!("{emoji} is embedded"));
            let image = nca_data::decode(png, emoji).unwrap();
            assert_eq!((image.width(), image.height()), (side, side), "{emoji}");
            assert!(image.color().has_alpha(), "{emoji}");
        }
        assert_eq!(embedded(emoji), embedded_in(emoji, NotoEdition::Paper));
        assert_ne!(embedded(emoji), embedded_in(emoji, NotoEdition::Current));
    }
    assert_eq!(EMBEDDED.len(), 10);
    assert!(
        embedded("👁️").is_some(),
        "the variation selector does not matter"
    );
    assert!(embedded("🐙").is_none());
}

#[test]
fn several_emoji_are_refused_as_several() {
    for (text, count) in [("🦎🦋", 2), ("🇫🇷🇩🇪", 2), ("👩‍🚀🦎😀", 3)] {
        let err = noto_file_name(text).unwrap_err();
        assert!(
            matches!(err, DataError::SeveralEmoji { count: c, .. } if c == count),
            "{text}: {err}"
        );
        assert!(
            err.to_string().contains(&format!("is {count} emoji")),
            "{err}"
        );
    }
}
