//! `nca targets`: the embedded emoji, the built-in textures, the shipped models and the
//! paper's.

use nca_cli::say;

/// Runs `nca targets`.
pub fn run() {
    say!(
        "embedded emoji (no network needed; Noto of February 2020 as the paper, `--noto current` for today's):"
    );
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
    let textures: Vec<&str> = nca_data::TEXTURES.iter().map(|(name, _)| *name).collect();
    say!(
        "built-in textures (give the name to train --texture): {}",
        textures.join(", ")
    );
    // The goal model with its goals, which `--goal` picks from.
    let (goal_model, goals) = nca_cli::models::SHIPPED_GOALS;
    let shipped: Vec<String> = nca_cli::models::SHIPPED
        .iter()
        .map(|&(name, _)| {
            if name == goal_model {
                format!("{name} (goals {})", goals.join(" "))
            } else {
                name.to_string()
            }
        })
        .collect();
    say!(
        "shipped models (give the name to --model): {}",
        shipped.join(", ")
    );
    say!("the paper's published models (Distill 2020, CC BY 4.0; give the name to --model):");
    for models in nca_cli::models::PAPER_ZOO.chunk_by(|a, b| a.emoji == b.emoji) {
        let emoji = models[0].emoji.unwrap_or(" ");
        let names: Vec<&str> = models.iter().map(|model| model.name).collect();
        say!("  {emoji}  {}", names.join(", "));
    }
}
