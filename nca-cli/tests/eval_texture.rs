//! `nca eval` of a texture model as a user runs it: its own section (the texture protocol's
//! table, JSON key and sheet strip) beside a growing model's, and one clear line when its
//! texture is not known.

mod support;

use std::path::Path;

use nca_train::eval::{PROTOCOL, TEXTURE_PROTOCOL};
use support::{fails, ok, ok_notes};

/// Trains a texture run into `dir/run` (the built-in dots on a 20-cell grid, 2 iterations of a
/// small model) and copies its model to `dir/texture.nca`, a model file whose texture is unknown.
fn train_texture(dir: &Path) {
    let train = "train --texture dots --target-size 24 --grid 20 --iterations 2 --batch-size 2 \
                 --pool-size 4 --min-steps 4 --max-steps 6 --hidden-units 16 --out run";
    ok_notes(&words(train), dir);
    std::fs::copy(dir.join("run/model.nca"), dir.join("texture.nca")).unwrap();
}

/// A command line's words.
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn eval_scores_a_texture_model_in_its_own_section_beside_a_growing_one() {
    let dir = tempfile::tempdir().unwrap();
    train_texture(dir.path());
    let eval = "eval --model gecko run --seeds 2 --grid 20 --json card.json --sheet card.png";
    let table = ok(&words(eval), dir.path());
    let texture = table
        .find(&format!(
            "{}: mean ± sd over 2 seeds",
            TEXTURE_PROTOCOL.name
        ))
        .unwrap_or_else(|| panic!("no texture section:\n{table}"));
    let (growing, texture) = table.split_at(texture);
    assert!(growing.starts_with(PROTOCOL.name), "{table}");
    // The third line names the models of a section.
    let names = |section: &str| section.lines().nth(2).unwrap_or("").trim().to_string();
    assert_eq!(names(growing), "gecko", "{table}");
    assert_eq!(names(texture), "run", "{table}");
    for row in [
        "texture loss @32",
        "texture loss @500",
        "after a disc (0.00, 0.00) r 0.50 @200",
        "after a left half @200",
        "  200 steps later",
        "  recovered",
        "20x20",
    ] {
        assert!(texture.contains(row), "{row:?} missing:\n{texture}");
    }
    assert!(
        table.lines().all(|line| line.chars().count() <= 100),
        "{table}"
    );

    // The JSON: the growing model under the growing protocol, the texture under its own key.
    let text = std::fs::read_to_string(dir.path().join("card.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["protocol"], PROTOCOL.name);
    assert_eq!(value["models"].as_array().unwrap().len(), 1);
    assert_eq!(value["models"][0]["model"], "gecko");
    let section = &value[TEXTURE_PROTOCOL.name];
    assert_eq!(section["models"][0]["model"], "run");
    assert_eq!(section["settings"]["cut_at"], TEXTURE_PROTOCOL.cut_at);
    let card = &section["models"][0]["scorecard"];
    assert_eq!(
        card["steps"].as_array().unwrap().len(),
        TEXTURE_PROTOCOL.steps.len()
    );
    assert_eq!(card["cuts"][1]["cut"], serde_json::json!({"half": "left"}));
    assert_eq!(
        card["steps"][0]["loss"]["values"].as_array().unwrap().len(),
        2
    );
    let report: nca_train::eval::Report = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_value(&report).unwrap(), value);

    // The sheet: the gecko's block, then the texture's strip of 10 captioned frames (the
    // texture, 5 steps, 2 cuts and their regrowth) at 2 pixels a cell.
    let sheet = image::open(dir.path().join("card.png")).unwrap();
    let caption = nca_data::CAPTION_HEIGHT;
    let gecko_height = caption + 3 * (2 * 36 + caption + 1) + 1;
    let strip = (10 * (2 * 20 + 1) + 1, caption + (2 * 20 + caption + 1) + 1);
    assert_eq!(sheet.height(), gecko_height + 8 + strip.1 + 8);
    assert!(sheet.width() >= strip.0);
}

#[test]
fn eval_of_a_texture_model_needs_its_texture_and_says_how_to_give_it() {
    let dir = tempfile::tempdir().unwrap();
    train_texture(dir.path());
    let err = fails(&["eval", "--model", "texture.nca"], dir.path());
    assert!(
        err.contains("texture.nca is a texture model")
            && err.contains("its texture")
            && err.contains("--texture IMAGE"),
        "{err}"
    );
    let eval = "eval --model texture.nca --texture dots --target-size 24 --grid 20 --seeds 1 \
                --summary";
    let table = ok(&words(eval), dir.path());
    assert!(table.starts_with(TEXTURE_PROTOCOL.name), "{table}");
    assert!(table.contains("| texture.nca |"), "{table}");
    let small = fails(&words("eval --model run --grid 12"), dir.path());
    assert!(small.contains("--grid 12 is too small"), "{small}");
}
