//! `nca export --format html` end to end in headless Chromium (SwiftShader's WebGL2): the page
//! computes the same steps as nca (at fire rate 1 state for state, at 0.5 in distribution, about
//! half the living cells changing in a step), grows the pattern, and a regenerating model heals a
//! disc erased by a click.

use std::path::{Path, PathBuf};
use std::process::Command;

use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Engine, Nca, NcaConfig, host_values};

mod support;

/// Steps compared state for state at fire rate 1.
const STEPS: usize = 48;

fn shipped(name: &str) -> Nca {
    nca_tests::shipped(name).with_engine(Engine::Fused)
}

/// nca's state after `steps` steps from the seed at `fire_rate`, `[C, H, W]`.
fn nca_state(model: &Nca, fire_rate: f64, steps: usize, seed: u64) -> Vec<f32> {
    let model = model
        .clone()
        .with_run_config(NcaConfig {
            fire_rate,
            ..model.config().clone()
        })
        .unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    host_values(model.advance(model.seed(1, 72, 72), steps, &mut rng))
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
    let exported = Command::new(env!("CARGO_BIN_EXE_nca"))
        .args([
            "export",
            "--model",
            "gecko-regenerating",
            "--format",
            "html",
            "--force",
            "--out",
        ])
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );

    let run = Command::new("node")
        .arg(browser_dir.join("export.mjs"))
        .arg(format!("file://{}", page.display()))
        .arg(&out)
        .arg(STEPS.to_string())
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success() && report.contains("PASS"), "{report}");
    for picture in ["grown.png", "healed.png"] {
        assert!(out.join(picture).is_file(), "{picture} missing");
    }

    // Fire rate 1 (no randomness): the page's state is nca's, up to float rounding on the GPU.
    let model = shipped("gecko-regenerating");
    let ours = nca_state(&model, 1.0, STEPS, 0);
    let theirs = page_state(&out.join("state.json"));
    assert_eq!(theirs.len(), ours.len());
    let mse = nca_tests::mse(&ours, &theirs);
    let worst = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    let measured = format!("MSE {mse:e}, largest difference {worst:e}");
    println!("page vs nca after {STEPS} steps at fire rate 1: {measured}");
    assert!(
        mse < 1e-8 && worst < 1e-4,
        "page vs nca after {STEPS} steps: {measured}"
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
