//! `nca train --texture` as a user runs it: a small texture run trains, shows its pictures and
//! grows in `nca grow`; texture flags in a growing run (and the reverse) get one clear line.

mod support;

use support::{fails, ok, ok_notes};

/// A texture run small enough for a test: a 24-cell grid, 3x3 patches at 2 scales, 3 iterations.
fn train_small(dir: &std::path::Path, out: &str) -> String {
    let config = dir.join("texture.toml");
    std::fs::write(
        &config,
        "experiment = \"texture\"\nbatch_size = 2\npool_size = 8\nmin_steps = 4\nmax_steps = 6\n\
         iterations = 3\n[texture]\ngrid = 24\n[texture.loss]\npatch = 3\nscales = 2\nprojections = 4\n",
    )
    .unwrap();
    ok_notes(
        &[
            "train",
            "--config",
            "texture.toml",
            "--texture",
            "dots",
            "--target-size",
            "32",
            "--out",
            out,
        ],
        dir,
    )
}

#[test]
fn a_texture_run_trains_from_a_built_in_texture_and_grows() {
    let dir = tempfile::tempdir().unwrap();
    let notes = train_small(dir.path(), "run");
    assert!(notes.contains("training texture"), "{notes}");
    let run = dir.path().join("run");
    for file in ["model.nca", "growth.gif", "pool.png", "loss.svg"] {
        assert!(run.join(file).is_file(), "{file} missing: {notes}");
    }
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    for line in [
        "texture = \"dots\"",
        "border = \"wrap\"",
        "alive_masking = false",
        "grid = 24",
    ] {
        assert!(config.contains(line), "{line} not in {config}");
    }
    // On its own grid by default: the run's 24 cells, not its 32-pixel texture's.
    let grow = [
        "grow",
        "--model",
        "run",
        "--out",
        "grown.png",
        "--steps",
        "8",
        "--scale",
        "1",
    ];
    ok(&grow, dir.path());
    let picture = image::open(dir.path().join("grown.png")).unwrap();
    assert_eq!((picture.width(), picture.height()), (24, 24));
    // regenerate measures a texture's healing by the texture loss, not against the uncut pixels.
    let healed = ok(
        &[
            "regenerate",
            "--model",
            "run",
            "--cut",
            "half",
            "--out",
            "healed.png",
        ],
        dir.path(),
    );
    assert!(
        healed.contains("(texture loss: 1 − (regrown − uncut) / (cut − uncut)"),
        "{healed}"
    );
    // --tile 2: the same picture twice in each direction.
    let tiled = [
        "grow",
        "--model",
        "run",
        "--out",
        "tiled.png",
        "--steps",
        "8",
        "--scale",
        "1",
        "--tile",
        "2",
    ];
    ok(&tiled, dir.path());
    let tiled = image::open(dir.path().join("tiled.png")).unwrap().to_rgb8();
    assert_eq!(tiled.dimensions(), (48, 48));
    let picture = picture.to_rgb8();
    for (x, y, pixel) in tiled.enumerate_pixels() {
        assert_eq!(pixel, picture.get_pixel(x % 24, y % 24), "({x}, {y})");
    }
}

#[test]
fn texture_flags_in_a_growing_run_and_the_reverse_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let err = fails(
        &["train", "--texture", "dots", "--experiment", "growing"],
        cwd,
    );
    assert!(
        err.contains("--texture trains a texture, but --experiment growing grows a target picture"),
        "{err}"
    );
    let err = fails(&["train", "--experiment", "texture"], cwd);
    assert!(err.contains("pass --texture IMAGE"), "{err}");
    let err = fails(&["train", "--emoji", "🦎", "--grid", "64"], cwd);
    assert!(err.contains("--grid sets a texture run's grid"), "{err}");
    let err = fails(&["train", "--texture", "stripes"], cwd);
    assert!(err.contains("stripes"), "{err}");
}

#[test]
fn textures_and_grids_too_small_for_the_patches_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let err = fails(&["train", "--texture", "dots", "--target-size", "12"], cwd);
    assert!(
        err.contains("12x12 pixels, too small for 5x5 patches at 3 scales"),
        "{err}"
    );
    assert!(!cwd.join("runs/texture").exists(), "nothing is left behind");
    let err = fails(&["train", "--texture", "dots", "--grid", "16"], cwd);
    assert!(err.contains("grid") && err.contains("16"), "{err}");
}

#[test]
fn targets_lists_the_built_in_textures() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&["targets"], dir.path());
    assert!(
        out.contains("built-in textures (give the name to train --texture): dots"),
        "{out}"
    );
}
