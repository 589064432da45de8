//! `nca targets`: the embedded emoji and the shipped models.

use nca_cli::say;

/// Runs `nca targets`.
pub fn run() {
    say!("embedded emoji (no network needed):");
    for (emoji, _) in nca_data::EMBEDDED {
        let name = nca_data::noto_file_name(emoji).unwrap_or_default();
        let marker = if emoji == nca_data::DEFAULT_EMOJI {
            "  (default)"
        } else {
            ""
        };
        say!("  {emoji}  {name}{marker}");
    }
    say!(
        "any other emoji is fetched from Noto Emoji once and cached (set {} for a mirror)",
        nca_data::BASE_URL_ENV
    );
    let shipped: Vec<&str> = nca_cli::models::SHIPPED
        .iter()
        .map(|(name, _)| *name)
        .collect();
    say!(
        "shipped models (give the name to --model): {}",
        shipped.join(", ")
    );
}
