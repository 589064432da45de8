//! The memory check of the commands whose inputs decide how much they hold (`nca train`, `nca
//! bench`, `nca eval`): each estimates a lower bound of what it will hold and is refused, before
//! anything is allocated, when that cannot fit in the memory this machine has available. A
//! refused run could never have finished; one let through may still be too large.

use anyhow::{Context, bail};
use nca_core::{Engine, NcaConfig};
use nca_train::eval::{PROTOCOL, TEXTURE_PROTOCOL};

/// Overrides the memory counted as available, in bytes.
pub const MEMORY_AVAILABLE_ENV: &str = "NCA_MEMORY_AVAILABLE";

/// What a run would hold at least, in bytes, what takes the most of it, and the flags that
/// lower that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// Bytes at least.
    pub bytes: u128,
    /// What takes the most, e.g. "the states of 4 seeds".
    pub mostly: String,
    /// The flags that lower it, e.g. "--seeds, or the grid: --grid".
    pub flags: &'static str,
}

/// Refuses a run that needs more than the memory available: `NCA_MEMORY_AVAILABLE` bytes when
/// set, else Linux's `MemAvailable` (elsewhere nothing is refused). The message names what takes
/// the most and the flags that lower it.
pub fn check(need: &Need) -> anyhow::Result<()> {
    let available = match std::env::var(MEMORY_AVAILABLE_ENV) {
        Ok(bytes) => Some(bytes.trim().parse::<u128>().with_context(|| {
            format!("{MEMORY_AVAILABLE_ENV} must be a number of bytes, not {bytes:?}")
        })?),
        Err(_) => mem_available(),
    };
    if let Some(available) = available
        && need.bytes > available
    {
        let gib = |bytes: u128| bytes as f64 / (1u128 << 30) as f64;
        bail!(
            "this run needs at least {:.1} GiB of memory, mostly for {} ({}), but {:.1} GiB are available",
            gib(need.bytes),
            need.mostly,
            need.flags,
            gib(available)
        );
    }
    Ok(())
}

/// Linux's `MemAvailable` in bytes; `None` elsewhere.
fn mem_available() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = info
        .lines()
        .find_map(|line| line.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u128>()
        .ok()?;
    Some(kib * 1024)
}

/// Bytes of `count` states of `config` on a `[height, width]` grid (f32 values).
pub fn states(config: &NcaConfig, [height, width]: [usize; 2], count: usize) -> u128 {
    count as u128 * config.channels as u128 * height as u128 * width as u128 * 4
}

/// Bytes of the fire decisions `engine` draws ahead for `steps` steps of `samples` states: the
/// fused kernel draws every step's before the first (one byte per cell and step below a fire
/// rate of 1, and a vector per step), burn's tensors one step at a time.
pub fn fire_decisions(
    config: &NcaConfig,
    engine: Engine,
    [height, width]: [usize; 2],
    samples: usize,
    steps: usize,
) -> u128 {
    let cells = if config.fire_rate < 1.0 {
        samples as u128 * height as u128 * width as u128
    } else {
        0
    };
    match engine {
        Engine::Fused => steps as u128 * (cells + 24),
        Engine::Tensor => 0,
    }
}

/// A rollout without gradients of `samples` states for `steps` steps (`nca bench --task
/// rollout`): the states it starts from and those it ends with (it keeps one state per sample,
/// whatever the steps), and the fire decisions `engine` draws ahead.
pub fn rollout(
    config: &NcaConfig,
    grid: [usize; 2],
    samples: usize,
    steps: usize,
    engine: Engine,
) -> Need {
    let states = 2 * states(config, grid, samples);
    let fires = fire_decisions(config, engine, grid, samples, steps);
    Need {
        bytes: states + fires,
        mostly: if fires > states {
            format!("the fire decisions of {samples} samples over {steps} steps")
        } else {
            format!("the states of {samples} samples")
        },
        flags: "--batch-size, --rollout-steps, --grid",
    }
}

/// `nca eval` scoring one model for `seeds` seeds on a `grid`, after earlier models' contact
/// sheets of `sheets` bytes, with a sheet of its own when `sheet`. What its protocol
/// ([`nca_train::eval`], the growing or the texture one, [`EvalRuns`]) keeps: per seed, the
/// states at each scored step, the uncut pattern, each cut and its regrowth, the rotated growth;
/// the first seed's again as the sheet's frames. The largest of its phases counts: all the
/// seeds' states once run, or, during the last seed's regrowth, the earlier seeds' states with
/// the cut states as input and output and their fire decisions; then the sheets, each model's 2x
/// RGB frames, stacked into one at the end.
pub fn eval(
    config: &NcaConfig,
    grid: [usize; 2],
    seeds: usize,
    engine: Engine,
    sheets: u128,
    sheet: bool,
) -> Need {
    let EvalRuns {
        timeline,
        cuts,
        regrow_steps,
        others,
        frames,
    } = EvalRuns::of(config);
    let kept = timeline + 1 + 2 * cuts + others;
    let all_seeds = states(config, grid, (seeds + 1) * kept);
    let regrowth = states(
        config,
        grid,
        seeds.saturating_sub(1) * kept + timeline + 1 + 2 * cuts,
    ) + fire_decisions(config, engine, grid, cuts, regrow_steps);
    let runs = all_seeds.max(regrowth);
    let own_sheet = if sheet {
        frames as u128 * (2 * grid[0] as u128) * (2 * grid[1] as u128) * 3
    } else {
        0
    };
    let bytes = (runs + sheets).max(2 * (sheets + own_sheet));
    Need {
        bytes,
        mostly: if runs >= 2 * (sheets + own_sheet) {
            format!("the states of {seeds} seeds")
        } else {
            "the contact sheets".into()
        },
        flags: match (runs >= 2 * (sheets + own_sheet), config.is_texture()) {
            (true, false) => "--seeds, or the grid: --target-size, --padding, --grid",
            (true, true) => "--seeds, or --grid",
            (false, _) => "--sheet, or fewer --model",
        },
    }
}

/// What the protocol that scores a model keeps of each seed, and the frames of its sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalRuns {
    /// States scored on the run from the start state.
    pub timeline: usize,
    /// Cuts, each kept with its regrowth.
    pub cuts: usize,
    /// Steps of regrowth after the cuts.
    pub regrow_steps: usize,
    /// Other states kept (the growing protocol's rotated growth).
    pub others: usize,
    /// Frames on the model's contact sheet.
    pub frames: usize,
}

impl EvalRuns {
    /// The texture protocol's for a texture model ([`NcaConfig::is_texture`]), else the growing
    /// one's.
    pub fn of(config: &NcaConfig) -> Self {
        if config.is_texture() {
            let (timeline, cuts) = (TEXTURE_PROTOCOL.steps.len(), TEXTURE_PROTOCOL.cuts.len());
            return Self {
                timeline,
                cuts,
                regrow_steps: TEXTURE_PROTOCOL.regrow_steps,
                others: 0,
                // One strip: the texture, each scored step, each cut and its regrowth.
                frames: 1 + timeline + 2 * cuts,
            };
        }
        let timeline = PROTOCOL.growth_steps.len() + PROTOCOL.persistence_steps.len();
        let cuts = PROTOCOL.battery().len();
        let rotated = usize::from(!config.trainable_perception);
        Self {
            timeline,
            cuts,
            regrow_steps: PROTOCOL.regrow_steps,
            others: rotated,
            // Three rows of frames, as many columns as the longest row.
            frames: 3 * (1 + timeline + rotated).max(cuts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_counts_every_state_the_protocol_keeps() {
        let config = NcaConfig::default();
        let grid = [72, 72];
        let state = states(&config, grid, 1);
        // 6 timeline states, the uncut one, 8 cuts and their regrowth, the rotation: 24 a seed,
        // and the first seed's again.
        let need = eval(&config, grid, 4, Engine::Tensor, 0, false);
        assert_eq!(need.bytes, 5 * 24 * state);
        // The fused kernel's fire decisions of the regrowth: 400 steps of 8 grids.
        let need = eval(&config, [1024, 1024], 1, Engine::Fused, 0, false);
        assert!(need.bytes >= 400 * 8 * 1024 * 1024);
        // A texture model: 5 scored states, the uncut one, 2 cuts and their regrowth.
        let texture = NcaConfig {
            alive_masking: false,
            ..NcaConfig::default()
        };
        let need = eval(&texture, grid, 4, Engine::Tensor, 0, false);
        assert_eq!(need.bytes, 5 * 10 * state);
        assert_eq!(EvalRuns::of(&texture).frames, 10);
    }

    #[test]
    fn a_rollout_keeps_one_state_whatever_its_steps() {
        let config = NcaConfig::default();
        let short = rollout(&config, [72, 72], 8, 10, Engine::Tensor);
        let long = rollout(&config, [72, 72], 8, 1_000_000, Engine::Tensor);
        assert_eq!(short.bytes, long.bytes);
        let fused = rollout(&config, [72, 72], 8, 1_000_000, Engine::Fused);
        assert!(fused.bytes > 8 * 72 * 72 * 1_000_000);
        assert!(fused.mostly.contains("fire decisions"));
    }
}
