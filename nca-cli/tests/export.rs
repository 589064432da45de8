//! `nca export` end to end. The page (`--format html`) in headless Chromium (SwiftShader's
//! WebGL2): it computes the same steps as nca (at fire rate 1 state for state, at 0.5 in
//! distribution, about half the living cells changing in a step), grows the pattern, and a
//! regenerating model heals a disc erased by a click; a page with a texture model beside a
//! growing one runs each with its own settings (a wrapped grid, the Laplacian, a zero seed, no
//! alive mask); a goal model's page grows each goal as nca does, the goal switched mid-run
//! included. The web-demo format (`--format distill`) refuses texture models with the reason.

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::tensor::{Tensor, TensorData};
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Engine, Nca, NcaConfig, host_values};
use nca_train::{Experiment, TrainConfig};

mod support;

/// Steps compared state for state at fire rate 1.
const STEPS: usize = 48;
/// The paper's grid, on which the growing model's page is tested.
const GRID: usize = 72;
/// The grid of the page with a texture (small: SwiftShader computes it on the CPU).
const TEXTURE_GRID: usize = 32;

fn shipped(name: &str) -> Nca {
    nca_tests::shipped(name).with_engine(Engine::Fused)
}

/// A texture model (the textures paper's config) with random weights that keep changing the
/// state, on the fused engine; its updates scaled down so that states stay of order 1 for the
/// steps compared (unscaled, nothing bounds them: they pass 1000 in 48 steps).
fn texture_model() -> Nca {
    let config = NcaConfig {
        update_scale: 0.2,
        ..TrainConfig::preset(Experiment::Texture).model
    };
    nca_tests::random_model(config, 3).with_engine(Engine::Fused)
}

/// nca's state after `steps` steps at `fire_rate` on a `grid`-cell grid, from `start` (`[C, H,
/// W]`) or else from the model's seed, `[C, H, W]`.
fn nca_steps(
    model: &Nca,
    start: Option<&[f32]>,
    grid: usize,
    fire_rate: f64,
    steps: usize,
    seed: u64,
) -> Vec<f32> {
    let model = model
        .clone()
        .with_run_config(NcaConfig {
            fire_rate,
            ..model.config().clone()
        })
        .unwrap();
    let start = match start {
        Some(values) => Tensor::from_data(
            TensorData::new(values.to_vec(), [1, model.config().channels, grid, grid]),
            &model.device(),
        ),
        None => model.seed(1, grid, grid),
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    host_values(model.advance(start, steps, &mut rng))
}

/// nca's state after `steps` steps from the seed on the paper's grid at `fire_rate`.
fn nca_state(model: &Nca, fire_rate: f64, steps: usize, seed: u64) -> Vec<f32> {
    nca_steps(model, None, GRID, fire_rate, steps, seed)
}

/// Asserts that the page's state is nca's up to float rounding on the GPU.
fn assert_same_state(what: &str, ours: &[f32], theirs: &[f32]) {
    assert_eq!(theirs.len(), ours.len(), "{what}: values");
    let mse = nca_tests::mse(ours, theirs);
    let worst = nca_tests::max_abs_diff(ours, theirs);
    let measured = format!("MSE {mse:e}, largest difference {worst:e}");
    let largest = ours.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    println!("page vs nca, {what}: {measured}; largest value {largest:e}");
    assert!(
        mse < 1e-8 && worst < 1e-4,
        "page vs nca, {what}: {measured}"
    );
}

/// Runs `nca export` with `args`; panics with its messages if it fails.
fn export(args: &[&str], out: &Path) {
    let exported = Command::new(env!("CARGO_BIN_EXE_nca"))
        .arg("export")
        .args(args)
        .args(["--force", "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
}

/// Runs browser test `script` with `args`; returns its report, which must end in PASS.
fn run_browser_test(browser_dir: &Path, script: &str, args: &[String]) -> String {
    let (passed, report) = support::run_browser_script(browser_dir, script, args);
    assert!(passed, "{report}");
    report
}

/// The state the page wrote (`{"steps", "channels", "grid", "state"}`).
fn page_state(path: &Path) -> Vec<f32> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["state"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

/// Live cells (alpha above 0.1) and the mean colour of the live cells, of a `[C, 72, 72]` state.
fn live_and_colour(state: &[f32]) -> (usize, [f32; 3]) {
    let cells = 72 * 72;
    let live: Vec<usize> = (0..cells).filter(|&i| state[3 * cells + i] > 0.1).collect();
    let colour = [0, 1, 2].map(|c| {
        live.iter().map(|&i| state[c * cells + i]).sum::<f32>() / live.len().max(1) as f32
    });
    (live.len(), colour)
}

/// Of the cells living (a neighbour's alpha above 0.1) both before and after one step, how many
/// changed, and how many there are, for two `[C, 72, 72]` states.
fn changed_living_cells(before: &[f32], after: &[f32]) -> (usize, usize) {
    let cells = 72 * 72;
    let living = |state: &[f32], i: usize| {
        let (y, x) = ((i / 72) as isize, (i % 72) as isize);
        (-1..=1).any(|dy| {
            (-1..=1).any(|dx| {
                let (ny, nx) = (y + dy, x + dx);
                (0..72).contains(&ny)
                    && (0..72).contains(&nx)
                    && state[3 * cells + (ny * 72 + nx) as usize] > 0.1
            })
        })
    };
    let channels = before.len() / cells;
    let living: Vec<usize> = (0..cells)
        .filter(|&i| living(before, i) && living(after, i))
        .collect();
    let changed = living
        .iter()
        .filter(|&&i| (0..channels).any(|c| before[c * cells + i] != after[c * cells + i]))
        .count();
    (changed, living.len())
}

#[test]
fn the_exported_page_computes_nca_s_steps_and_heals_in_chromium() {
    let Some(browser_dir) = support::browser_tests("`nca export --format html`") else {
        return;
    };
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("export");
    std::fs::create_dir_all(&out).unwrap();
    let page = out.join("gecko.html");
    export(
        &["--model", "gecko-regenerating", "--format", "html"],
        &page,
    );
    let report = run_browser_test(
        &browser_dir,
        "export.mjs",
        &[
            format!("file://{}", page.display()),
            out.display().to_string(),
            STEPS.to_string(),
        ],
    );
    for picture in ["grown.png", "healed.png"] {
        assert!(out.join(picture).is_file(), "{picture} missing");
    }

    // Fire rate 1 (no randomness): the page's state is nca's, up to float rounding on the GPU.
    let model = shipped("gecko-regenerating");
    assert_same_state(
        &format!("{STEPS} steps at fire rate 1"),
        &nca_state(&model, 1.0, STEPS, 0),
        &page_state(&out.join("state.json")),
    );

    // Fire rate 0.5: other random draws, the same distribution: live cells and colour of the
    // page's 96 steps within the spread of nca's over five seeds (and a margin).
    let runs: Vec<(usize, [f32; 3])> = (0..5)
        .map(|seed| live_and_colour(&nca_state(&model, 0.5, 96, seed)))
        .collect();
    let (live, colour) = live_and_colour(&page_state(&out.join("state-fire-0.5.json")));
    let (low, high) = runs
        .iter()
        .fold((usize::MAX, 0), |(lo, hi), (n, _)| (lo.min(*n), hi.max(*n)));
    println!(
        "fire rate 0.5, 96 steps: page {live} live cells, colour {colour:?}; nca {low}..{high}"
    );
    assert!(
        live as f32 >= low as f32 * 0.9 && live as f32 <= high as f32 * 1.1,
        "page: {live} live cells; nca: {low}..{high}"
    );
    for (c, page) in colour.iter().enumerate() {
        let mean = runs.iter().map(|(_, colour)| colour[c]).sum::<f32>() / runs.len() as f32;
        assert!(
            (page - mean).abs() < 0.05,
            "colour {c}: page {page} vs nca {mean}"
        );
    }
    // One step more at fire rate 0.5: about half of the living cells fire and change (a page
    // ignoring the fire rate would change them all); nca's own step measured the same way.
    let (changed, living) = changed_living_cells(
        &page_state(&out.join("state-fire-0.5.json")),
        &page_state(&out.join("state-fire-0.5-next.json")),
    );
    let page_share = changed as f64 / living as f64;
    let (nca_changed, nca_living) = changed_living_cells(
        &nca_state(&model, 0.5, 96, 0),
        &nca_state(&model, 0.5, 97, 0),
    );
    let nca_share = nca_changed as f64 / nca_living as f64;
    // The measure tells fire rates apart: at fire rate 1 every living cell changes.
    let (all_changed, all_living) = changed_living_cells(
        &nca_state(&model, 1.0, 96, 0),
        &nca_state(&model, 1.0, 97, 0),
    );
    assert!(
        all_changed as f64 > 0.9 * all_living as f64,
        "fire rate 1: {all_changed} of {all_living} living cells changed"
    );
    println!(
        "fire rate 0.5, step 97: page changed {changed} of {living} living cells ({page_share:.3}); nca {nca_changed} of {nca_living} ({nca_share:.3})"
    );
    for (who, share) in [("page", page_share), ("nca", nca_share)] {
        assert!(
            (0.4..=0.6).contains(&share),
            "{who}: {share:.3} of the living cells changed in one step at fire rate 0.5"
        );
    }
    println!("{report}");
}

/// A page with the gecko (model 0) and a texture model (model 1) on a 32-cell grid: each runs as
/// nca does with its own settings. The texture from its seed (all zeros), from a random state
/// (`start.json`), and one step from a single value at the left edge (`edge.json`), which the
/// wrapped grid's right edge perceives; a click erases a disc to zeros, shown mid-grey.
#[test]
fn a_page_runs_a_texture_beside_a_growing_model_as_nca_does_in_chromium() {
    let Some(browser_dir) = support::browser_tests("`nca export --format html` with a texture")
    else {
        return;
    };
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("export-texture");
    std::fs::create_dir_all(&out).unwrap();
    let texture = texture_model();
    let model_file = out.join("texture.nca");
    texture.save(&model_file).unwrap();
    let page = out.join("mixed.html");
    export(
        &[
            "--model",
            "gecko-regenerating",
            model_file.to_str().unwrap(),
            "--format",
            "html",
            "--grid",
            &TEXTURE_GRID.to_string(),
        ],
        &page,
    );

    let (grid, channels) = (TEXTURE_GRID, texture.config().channels);
    let cells = grid * grid;
    let start = nca_tests::uniform(channels * cells, 0.5, &mut nca_tests::rng(8));
    // Channel 0 of the cell at the left edge of the middle row.
    let row = grid / 2;
    let mut edge = vec![0.0f32; channels * cells];
    edge[row * grid] = 3.0;
    for (file, state) in [("start.json", &start), ("edge.json", &edge)] {
        std::fs::write(out.join(file), serde_json::to_string(state).unwrap()).unwrap();
    }
    let report = run_browser_test(
        &browser_dir,
        "texture.mjs",
        &[
            format!("file://{}", page.display()),
            out.display().to_string(),
            STEPS.to_string(),
        ],
    );

    let page_state = |file: &str| page_state(&out.join(file));
    // The wrapped grid, first: one step from a value at the left edge moves the right edge's
    // cell beside it. Every cell moves by the update of zero perception (the background); the
    // cells that perceive the value more.
    let next = page_state("edge-next.json");
    let background = nca_steps(&texture, None, grid, 1.0, 1, 0);
    let moved = |y: usize, x: usize| {
        (0..channels)
            .map(|c| (next[c * cells + y * grid + x] - background[c * cells + y * grid + x]).abs())
            .fold(0.0f32, f32::max)
    };
    println!(
        "a value at the left edge moves the right edge's cell by {:e}, one two columns away by {:e}",
        moved(row, grid - 1),
        moved(row, grid - 2)
    );
    // Both against the comparison's tolerance (1e-4).
    assert!(
        moved(row, grid - 1) > 1e-3,
        "the right edge does not perceive the left edge's value: the grid does not wrap"
    );
    assert!(
        moved(row, grid - 2) < 1e-5,
        "two columns away from the value, a cell perceives it"
    );
    assert_same_state(
        "a texture one step from a value at the left edge",
        &nca_steps(&texture, Some(&edge), grid, 1.0, 1, 0),
        &next,
    );

    let gecko = shipped("gecko-regenerating");
    assert_same_state(
        "the gecko beside a texture",
        &nca_steps(&gecko, None, grid, 1.0, STEPS, 0),
        &page_state("gecko.json"),
    );
    assert!(
        page_state("seed.json").iter().all(|&v| v == 0.0),
        "a texture's seed is all zeros"
    );
    assert_same_state(
        "a texture from its seed",
        &nca_steps(&texture, None, grid, 1.0, STEPS, 0),
        &page_state("from-seed.json"),
    );
    assert_same_state(
        "a texture from a random state",
        &nca_steps(&texture, Some(&start), grid, 1.0, STEPS, 0),
        &page_state("texture.json"),
    );

    // The click in the middle erased a disc to zeros and left the corners as they were.
    let erased = page_state("erased.json");
    let centre = row * grid + grid / 2;
    assert!((0..channels).all(|c| erased[c * cells + centre] == 0.0));
    assert!((0..channels).all(|c| erased[c * cells] == start[c * cells]));
    println!("{report}");
}

/// A goal model of two goals (the paper's growing config) with random weights, on the fused
/// engine: its goals' embeddings (drawn at random) give each goal its own hidden bias. Its
/// updates scaled down, as the texture's, so that states stay of order 1 for the steps compared
/// (unscaled they pass 500 in 48 steps).
fn goal_model() -> Nca {
    let config = NcaConfig {
        goals: vec!["🦎".into(), "🦋".into()],
        update_scale: 0.2,
        ..NcaConfig::default()
    };
    nca_tests::random_model(config, 5).with_engine(Engine::Fused)
}

/// nca's state after each `(goal, steps)` of `legs` in turn from the seed on a `grid`-cell grid
/// at fire rate 1, `[C, H, W]`.
fn nca_toward(model: &Nca, grid: usize, legs: &[(usize, usize)]) -> Vec<f32> {
    let model = model
        .clone()
        .with_run_config(NcaConfig {
            fire_rate: 1.0,
            ..model.config().clone()
        })
        .unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let end = legs
        .iter()
        .fold(model.seed(1, grid, grid), |state, &(goal, steps)| {
            model.advance_toward(state, &[goal], steps, &mut rng)
        });
    host_values(end)
}

/// A page with a goal model (model 0) and the gecko (model 1): towards goal 1, goal 0, and goal
/// 0 then 1 switched mid-run, the page computes nca's steps towards that goal; its goal menu
/// offers the goal model's goals and only for it.
#[test]
fn a_goal_models_page_grows_each_goal_as_nca_does_in_chromium() {
    let Some(browser_dir) = support::browser_tests("`nca export --format html` with a goal model")
    else {
        return;
    };
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("export-goals");
    std::fs::create_dir_all(&out).unwrap();
    let model = goal_model();
    let model_file = out.join("goals.nca");
    model.save(&model_file).unwrap();
    let page = out.join("goals.html");
    let grid = TEXTURE_GRID;
    export(
        &[
            "--model",
            model_file.to_str().unwrap(),
            "gecko-regenerating",
            "--format",
            "html",
            "--grid",
            &grid.to_string(),
        ],
        &page,
    );
    let report = run_browser_test(
        &browser_dir,
        "goals.mjs",
        &[
            format!("file://{}", page.display()),
            out.display().to_string(),
            STEPS.to_string(),
        ],
    );
    let page_state = |file: &str| page_state(&out.join(file));
    let half = STEPS / 2;
    let goal_0 = nca_toward(&model, grid, &[(0, STEPS)]);
    let goal_1 = nca_toward(&model, grid, &[(1, STEPS)]);
    // The goals grow apart, far beyond the comparison's tolerance (1e-4).
    let apart = nca_tests::max_abs_diff(&goal_0, &goal_1);
    println!("goals 0 and 1 differ by {apart:e} after {STEPS} steps");
    assert!(apart > 1e-2, "the goals grow the same: {apart:e}");
    assert_same_state("towards goal 1", &goal_1, &page_state("goal-1.json"));
    assert_same_state("towards goal 0", &goal_0, &page_state("goal-0.json"));
    // The switch mid-run matters: neither goal's own run ends there.
    let switched = nca_toward(&model, grid, &[(0, half), (1, half)]);
    for (goal, alone) in [(0, &goal_0), (1, &goal_1)] {
        let apart = nca_tests::max_abs_diff(&switched, alone);
        assert!(apart > 1e-2, "the switch ends where goal {goal} does");
    }
    assert_same_state(
        "towards goal 0, then goal 1",
        &switched,
        &page_state("switch.json"),
    );
    println!("{report}");
}

#[test]
fn the_web_demo_format_refuses_a_texture_model_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("texture.nca");
    texture_model().save(&model).unwrap();
    let out = dir.path().join("texture.json");
    let args = [
        "export",
        "--model",
        model.to_str().unwrap(),
        "--format",
        "distill",
        "--out",
        out.to_str().unwrap(),
    ];
    let line = support::fails(&args, dir.path());
    assert!(
        line.contains(
            "cannot be written in the web-demo format: it is not a growing NCA (the demo has only a live seed cell"
        ),
        "{line}"
    );
    assert!(!out.exists(), "nothing written");
}
