//! The neural cellular automaton: one step of the paper, and rollouts of many.

use burn::module::Module;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Bool, Device, Tensor, TensorData};
use rand::Rng;

use crate::engine::{Engine, fire_decisions};
use crate::fused::FusedNca;
use crate::goal::check_goals;
use crate::host_values;
use crate::{GoalEmbedding, NcaConfig, NcaError, Perception, UpdateNet};

/// A growing neural cellular automaton (Mordvintsev et al., 2020).
///
/// The state of a grid is a `[batch, channels, height, width]` tensor; every cell runs the same
/// small network on what it perceives of its 3x3 neighbourhood. Stochastic decisions (which cells
/// fire) come from the caller's random number generator, so a seeded generator gives the same
/// rollout every time, on every backend.
///
/// A goal-conditioned model ([`NcaConfig::goals`]) grows one of several targets: each sample of a
/// rollout has a goal, an index into the config's goals, given to the `*_toward` methods
/// ([`step_toward`](Self::step_toward), [`rollout_toward`](Self::rollout_toward),
/// [`advance_toward`](Self::advance_toward), [`frames_toward`](Self::frames_toward)); the
/// methods without goals grow goal 0 in every sample.
#[derive(Module, Debug)]
pub struct Nca {
    /// Identity and Sobel filters (or learned ones).
    pub perception: Perception,
    /// The per-cell update network.
    pub update: UpdateNet,
    /// A goal model's goal input; `None` for the plain model of one target.
    pub goal: Option<GoalEmbedding>,
    #[module(skip)]
    config: NcaConfig,
    #[module(skip)]
    engine: Engine,
}

impl NcaConfig {
    /// A fresh model of this config on `device`, as burn's `Config::init` builds a module: the
    /// update network's first layer random (from `rng`), its last zero, and a goal model's goal
    /// input random (drawn after the update network, so the same `rng` gives a goal model the
    /// plain model's update network); refused if the config is invalid.
    pub fn init(&self, device: &Device, rng: &mut impl Rng) -> Result<Nca, NcaError> {
        Nca::new(self.clone(), device, rng)
    }
}

impl Nca {
    /// A fresh model (see [`NcaConfig::init`]).
    pub(crate) fn new(
        config: NcaConfig,
        device: &Device,
        rng: &mut impl Rng,
    ) -> Result<Self, NcaError> {
        config.validate()?;
        let perception = if config.trainable_perception {
            Perception::learned(
                config.channels,
                config.perception_angle_deg,
                config.laplacian,
                device,
            )
        } else {
            Perception::fixed(config.perception_angle_deg, config.laplacian)
        };
        let update = UpdateNet::new(
            config.perception_channels(),
            config.hidden_units,
            config.channels,
            device,
            rng,
        );
        let goal = config.has_goals().then(|| {
            GoalEmbedding::new(
                config.goals.len(),
                config.goal_size,
                config.hidden_units,
                device,
                rng,
            )
        });
        Ok(Self {
            perception,
            update,
            goal,
            config,
            engine: Engine::default(),
        })
    }

    /// The same model computing [`advance`](Self::advance) and [`frames`](Self::frames) (and
    /// training iterations) with `engine`.
    pub fn with_engine(self, engine: Engine) -> Self {
        Self { engine, ..self }
    }

    /// How [`advance`](Self::advance) and [`frames`](Self::frames) compute their steps.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The model's hyper-parameters.
    pub fn config(&self) -> &NcaConfig {
        &self.config
    }

    /// The device the model's weights live on.
    pub fn device(&self) -> Device {
        self.devices()[0].clone()
    }

    /// The same weights with a different fire rate, living threshold, update scale, border, seed,
    /// alive masking or (for fixed perception) perception angle: the things that change how a
    /// trained model runs, not what it learned. Fails if `config` changes the model's shape, its
    /// goals (whose embeddings are weights), or the angle of learned perception filters (which
    /// are weights, not rotated Sobel filters).
    pub fn with_run_config(self, config: NcaConfig) -> Result<Self, NcaError> {
        config.validate()?;
        let shape = |c: &NcaConfig| {
            (
                c.channels,
                c.visible_channels,
                c.hidden_units,
                c.trainable_perception,
                c.laplacian,
            )
        };
        if shape(&config) != shape(&self.config) {
            return Err(NcaError::InvalidConfig {
                field: "channels",
                reason: "(or visible_channels, hidden_units, trainable_perception, laplacian) differs from the model's".into(),
            });
        }
        if (&config.goals, config.goal_size) != (&self.config.goals, self.config.goal_size) {
            return Err(NcaError::InvalidConfig {
                field: "goals",
                reason:
                    "(or goal_size) differs from the model's: its goals' embeddings are weights"
                        .into(),
            });
        }
        if config.trainable_perception
            && config.perception_angle_deg != self.config.perception_angle_deg
        {
            return Err(NcaError::InvalidConfig {
                field: "perception_angle_deg",
                reason: "cannot change: learned perception filters are not rotated Sobel filters"
                    .into(),
            });
        }
        let perception = match self.perception {
            Perception::Fixed(_) => {
                Perception::fixed(config.perception_angle_deg, config.laplacian)
            }
            learned => learned,
        };
        Ok(Self {
            perception,
            update: self.update,
            goal: self.goal,
            config,
            engine: self.engine,
        })
    }

    /// `batch` grids of `height x width` cells in the config's start state (see
    /// [`NcaConfig::seed`]).
    pub fn seed(&self, batch: usize, height: usize, width: usize) -> Tensor<4> {
        self.config.seed(batch, height, width, &self.device())
    }

    /// One step of the automaton, as in the paper:
    ///
    /// 1. cells alive before the step: some alpha in the 3x3 neighbourhood above the threshold;
    /// 2. perception: identity and Sobel gradients (and the Laplacian) of every channel, with
    ///    the config's border beyond the edge;
    /// 3. the update network proposes a change for every cell;
    /// 4. each cell applies it with probability `fire_rate` (no rescaling);
    /// 5. cells that were not alive both before and after the update are zeroed.
    ///
    /// Without alive masking, steps 1 and 5 are left out. A goal model grows goal 0 in every
    /// sample (see [`step_toward`](Self::step_toward)).
    pub fn step(&self, state: Tensor<4>, rng: &mut impl Rng) -> Tensor<4> {
        let goal = self.goal_term(None, state.dims()[0]);
        self.step_with(state, goal, rng)
    }

    /// One step of a goal model, each sample towards its own goal: `goals[i]` (an index into
    /// [`NcaConfig::goals`]) for sample `i`. Its update network's hidden pre-activation gets the
    /// goal's term ([`GoalEmbedding::forward`]) in every cell of the sample.
    ///
    /// # Panics
    /// If `goals` does not hold one goal per sample, or a goal is out of range (any goal, for a
    /// model without goals): callers check goals against [`NcaConfig::goals`].
    pub fn step_toward(&self, state: Tensor<4>, goals: &[usize], rng: &mut impl Rng) -> Tensor<4> {
        let goal = self.goal_term(Some(goals), state.dims()[0]);
        self.step_with(state, goal, rng)
    }

    /// One step with each sample's goal term (`None` for a plain model).
    fn step_with(
        &self,
        state: Tensor<4>,
        goal: Option<Tensor<2>>,
        rng: &mut impl Rng,
    ) -> Tensor<4> {
        let masking = self.config.alive_masking;
        let alive_before = masking.then(|| self.alive(&state));
        let perceived = self.perception.forward(state.clone(), self.config.border);
        let update = self.scaled(self.update.forward(perceived, goal));
        let state = state + self.fire(update, rng);
        match alive_before {
            Some(before) => {
                let alive_after = self.alive(&state);
                state * before.bool_and(alive_after).float()
            }
            None => state,
        }
    }

    /// `steps` steps from `state`; on an autodiff device the result carries the whole graph. A
    /// goal model grows goal 0 in every sample.
    pub fn rollout(&self, state: Tensor<4>, steps: usize, rng: &mut impl Rng) -> Tensor<4> {
        self.rollout_goals(state, None, steps, rng)
    }

    /// [`rollout`](Self::rollout) with one goal per sample, as [`step_toward`](Self::step_toward).
    ///
    /// # Panics
    /// As [`step_toward`](Self::step_toward).
    pub fn rollout_toward(
        &self,
        state: Tensor<4>,
        goals: &[usize],
        steps: usize,
        rng: &mut impl Rng,
    ) -> Tensor<4> {
        self.rollout_goals(state, Some(goals), steps, rng)
    }

    fn rollout_goals(
        &self,
        state: Tensor<4>,
        goals: Option<&[usize]>,
        steps: usize,
        rng: &mut impl Rng,
    ) -> Tensor<4> {
        // The goal's term is the same at every step: computed once, in the graph once.
        let goal = self.goal_term(goals, state.dims()[0]);
        (0..steps).fold(state, |state, _| self.step_with(state, goal.clone(), rng))
    }

    /// `steps` steps from `state` without autodiff, computed by the model's [`Engine`]: the
    /// state to show or keep, not to differentiate. A goal model grows goal 0 in every sample.
    pub fn advance(&self, state: Tensor<4>, steps: usize, rng: &mut impl Rng) -> Tensor<4> {
        self.advance_goals(state, None, steps, rng)
    }

    /// [`advance`](Self::advance) with one goal per sample, as [`step_toward`](Self::step_toward).
    ///
    /// # Panics
    /// As [`step_toward`](Self::step_toward).
    pub fn advance_toward(
        &self,
        state: Tensor<4>,
        goals: &[usize],
        steps: usize,
        rng: &mut impl Rng,
    ) -> Tensor<4> {
        self.advance_goals(state, Some(goals), steps, rng)
    }

    /// [`advance`](Self::advance) with every sample towards goal `goal` (an index into
    /// [`NcaConfig::goals`]); a model without goals has one goal, 0, which is what `advance`
    /// grows.
    ///
    /// # Panics
    /// If the goal is out of range, as [`step_toward`](Self::step_toward).
    pub fn advance_toward_goal(
        &self,
        state: Tensor<4>,
        goal: usize,
        steps: usize,
        rng: &mut impl Rng,
    ) -> Tensor<4> {
        if self.goal.is_none() && goal == 0 {
            return self.advance(state, steps, rng);
        }
        let goals = vec![goal; state.dims()[0]];
        self.advance_toward(state, &goals, steps, rng)
    }

    fn advance_goals(
        &self,
        state: Tensor<4>,
        goals: Option<&[usize]>,
        steps: usize,
        rng: &mut impl Rng,
    ) -> Tensor<4> {
        let state = state.without_autodiff();
        match self.engine {
            Engine::Tensor => self.valid().rollout_goals(state, goals, steps, rng),
            Engine::Fused => {
                let [batch, channels, height, width] = state.dims();
                let device = state.device();
                let values = host_values(state);
                let end = FusedNca::new(self).advance_goals(
                    &values,
                    [batch, height, width],
                    goals,
                    steps,
                    rng,
                );
                Tensor::from_data(
                    TensorData::new(end, [batch, channels, height, width]),
                    &device,
                )
            }
        }
    }

    /// The states after `0, every, 2·every, …` steps up to `steps` (the start state included, and
    /// the last state when `steps` is not a multiple of `every`), computed as
    /// [`advance`](Self::advance) does. A goal model grows goal 0 in every sample.
    ///
    /// # Panics
    /// If `every` is 0.
    pub fn frames(
        &self,
        state: Tensor<4>,
        steps: usize,
        every: usize,
        rng: &mut impl Rng,
    ) -> Vec<Tensor<4>> {
        self.frames_goals(state, None, steps, every, rng)
    }

    /// [`frames`](Self::frames) with one goal per sample, as [`step_toward`](Self::step_toward).
    ///
    /// # Panics
    /// If `every` is 0, or as [`step_toward`](Self::step_toward).
    pub fn frames_toward(
        &self,
        state: Tensor<4>,
        goals: &[usize],
        steps: usize,
        every: usize,
        rng: &mut impl Rng,
    ) -> Vec<Tensor<4>> {
        self.frames_goals(state, Some(goals), steps, every, rng)
    }

    fn frames_goals(
        &self,
        state: Tensor<4>,
        goals: Option<&[usize]>,
        steps: usize,
        every: usize,
        rng: &mut impl Rng,
    ) -> Vec<Tensor<4>> {
        assert!(every > 0, "frames: `every` must be at least 1");
        let mut frames = vec![state.without_autodiff()];
        let mut done = 0;
        while done < steps {
            let chunk = every.min(steps - done);
            let last = frames.last().expect("never empty").clone();
            frames.push(self.advance_goals(last, goals, chunk, rng));
            done += chunk;
        }
        frames
    }

    /// Cells whose 3x3 neighbourhood (with the config's border) holds an alpha above the
    /// living threshold, `[B, 1, H, W]`.
    pub fn alive(&self, state: &Tensor<4>) -> Tensor<4, Bool> {
        let alpha = state.clone().narrow(1, self.config.alpha_channel(), 1);
        let neighbourhood_max = max_pool2d(
            self.config.border.pad(alpha),
            MaxPoolOptions::new([3, 3]).with_stride([1, 1]),
        );
        neighbourhood_max.greater_elem(self.config.living_threshold)
    }

    /// Each sample's goal term, `[batch, hidden]`: `goals` (checked), or goal 0 for every sample
    /// when `None`; `None` for a plain model.
    fn goal_term(&self, goals: Option<&[usize]>, batch: usize) -> Option<Tensor<2>> {
        if let Some(goals) = goals {
            assert_eq!(goals.len(), batch, "one goal per sample");
        }
        match (&self.goal, goals) {
            (None, goals) => {
                check_goals(goals.unwrap_or_default(), 0);
                None
            }
            (Some(goal), Some(goals)) => Some(goal.forward(goals)),
            (Some(goal), None) => Some(goal.forward(&vec![0; batch])),
        }
    }

    fn scaled(&self, update: Tensor<4>) -> Tensor<4> {
        if self.config.update_scale == 1.0 {
            update
        } else {
            update * self.config.update_scale
        }
    }

    /// Keeps each cell's update with probability `fire_rate`, one decision per cell.
    fn fire(&self, update: Tensor<4>, rng: &mut impl Rng) -> Tensor<4> {
        let [batch, _, height, width] = update.dims();
        let Some(fired) = fire_decisions(batch * height * width, self.config.fire_rate, rng) else {
            return update;
        };
        let mask: Vec<f32> = fired.into_iter().map(f32::from).collect();
        let mask = Tensor::<4>::from_data(
            TensorData::new(mask, [batch, 1, height, width]),
            &update.device(),
        );
        update * mask
    }
}
