//! The training loop: pool sampling, rollout, loss, gradient step, write-back, checkpoints.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use nca_core::{Engine, FusedNca, Nca, host_values};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::gradients::gradients_params;
use crate::loss::Objective;
use crate::run_dir::{CHECKPOINT_FILE, MODEL_FILE};
use crate::{
    Checkpoint, Loss, RgbaLoss, RunDir, SamplePool, TextureLoss, TrainConfig, TrainError, condition,
};

/// What one iteration did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The iteration (counted from 0).
    pub iteration: usize,
    /// The run's loss of the batch after the rollout (the RGBA mean squared error in the
    /// paper's runs).
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Joint L2 norm of the gradients before conditioning.
    pub grad_norm: f64,
    /// Rollout steps of this iteration.
    pub steps: usize,
    /// Wall time of the iteration.
    pub seconds: f64,
}

/// Whether the loop should go on after an iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Write a checkpoint and stop (e.g. on Ctrl-C).
    Stop,
}

/// Receives a run's progress; the CLI draws it, a library user logs it as they like.
pub trait Observer {
    /// After every iteration; return [`Control::Stop`] to end the run with a checkpoint.
    fn on_iteration(&mut self, metrics: &Metrics) -> Control {
        let _ = metrics;
        Control::Continue
    }
    /// After a checkpoint and the model have been written to `dir`.
    fn on_checkpoint(&mut self, dir: &RunDir, trainer: &Trainer) {
        let _ = (dir, trainer);
    }
}

/// An observer that ignores everything.
impl Observer for () {}

/// Trains an [`Nca`] towards a target, as in the paper (or towards a texture).
pub struct Trainer {
    config: TrainConfig,
    device: Device,
    model: Nca,
    optimizer: ModuleOptimizer,
    objective: Objective,
    /// A goal run's targets, one per goal, kept for checkpoints; empty for a run of one target.
    goal_targets: Vec<Vec<f32>>,
    /// The picture the loss was made from, `[visible + 1, h, w]` values (premultiplied): the
    /// target, or the texture; kept in checkpoints.
    picture: Vec<f32>,
    picture_shape: [usize; 3],
    /// Height and width of the grid trained on.
    grid: [usize; 2],
    seed_state: Vec<f32>,
    pool: Option<SamplePool>,
    rng: Xoshiro256PlusPlus,
    iteration: usize,
}

impl Trainer {
    /// A new run towards `target` (`[visible + 1, H, W]`, premultiplied), training on `device`
    /// (autodiff is switched on for it). For a texture run (the config's `texture`) `target` is
    /// the texture, and the grid is the config's. A model with goals needs
    /// [`new_goals`](Self::new_goals).
    pub fn new(
        config: TrainConfig,
        target: Tensor<3>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        if config.model.has_goals() {
            return Err(TrainError::InvalidConfig {
                field: "goals",
                reason: format!(
                    "the model has {} goals (model.goals): a goal run takes one target per goal",
                    config.model.goals.len()
                ),
            });
        }
        Self::start(config, vec![target], device)
    }

    /// A new goal run: one model trained towards `targets`, one per goal of the config's
    /// `model.goals` (in their order, each `[visible + 1, H, W]`, premultiplied, all of one
    /// shape). Each pool state carries its goal (the pool starts as seeds whose goals cycle
    /// through the goals), a batch mixes goals, each sample is scored against its own goal's
    /// target, and the config's `goals.morph_share` of each batch is a pool state given another
    /// goal. The paper's experiments keep their meaning per goal: the highest-loss sample is
    /// reseeded (keeping its goal), the lowest-loss ones damaged.
    pub fn new_goals(
        config: TrainConfig,
        targets: Vec<Tensor<3>>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let goals = config.model.goals.len();
        if goals == 0 {
            return Err(TrainError::InvalidConfig {
                field: "goals",
                reason: "the model has no goals (model.goals is empty): use one target".into(),
            });
        }
        if targets.len() != goals {
            return Err(TrainError::InvalidConfig {
                field: "goals",
                reason: format!(
                    "{} targets given, but the model has {goals} goals (one target per goal)",
                    targets.len()
                ),
            });
        }
        Self::start(config, targets, device)
    }

    fn start(
        config: TrainConfig,
        targets: Vec<Tensor<3>>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        config.validate()?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
        let plain = device.clone().without_autodiff();
        let model = config.model.clone().init(&plain, &mut rng)?;
        let shape = targets[0].dims();
        let mut values = Vec::with_capacity(targets.len());
        for target in targets {
            if target.dims() != shape {
                return Err(TrainError::InvalidConfig {
                    field: "goals",
                    reason: format!(
                        "the goals' targets differ in shape: {:?} and {shape:?}",
                        target.dims()
                    ),
                });
            }
            values.push(host_values(target));
        }
        let optimizer = adam(&config);
        Self::assemble(
            config, device, model, optimizer, values, shape, None, rng, 0,
        )
    }

    /// Continues the run saved in `checkpoint` on `device`, exactly where it stopped.
    pub fn resume(checkpoint: Checkpoint, device: &Device) -> Result<Self, TrainError> {
        let plain = device.clone().without_autodiff();
        let model =
            Nca::from_bytes(&checkpoint.model, &plain).map_err(TrainError::CheckpointModel)?;
        if model.config() != &checkpoint.config.model {
            return Err(TrainError::InvalidConfig {
                field: "model",
                reason: "of the checkpoint's model differs from its training config".into(),
            });
        }
        let optimizer = adam(&checkpoint.config)
            .from_bytes(Bytes::from_bytes_vec(checkpoint.optimizer))
            .map_err(|err| TrainError::InvalidConfig {
                field: "optimizer",
                reason: format!("state unreadable: {err}"),
            })?;
        Self::assemble(
            checkpoint.config,
            device,
            model,
            optimizer,
            if checkpoint.goal_targets.is_empty() {
                vec![checkpoint.target]
            } else {
                checkpoint.goal_targets
            },
            checkpoint.target_shape,
            checkpoint.pool,
            checkpoint.rng,
            checkpoint.iteration,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        config: TrainConfig,
        device: &Device,
        model: Nca,
        optimizer: ModuleOptimizer,
        targets: Vec<Vec<f32>>,
        [channels, height, width]: [usize; 3],
        pool: Option<SamplePool>,
        rng: Xoshiro256PlusPlus,
        iteration: usize,
    ) -> Result<Self, TrainError> {
        let expected = config.model.alpha_channel() + 1;
        if channels != expected {
            return Err(TrainError::TargetShape {
                expected,
                got: [channels, height, width],
            });
        }
        let grid = match &config.texture {
            Some(texture) => [texture.grid, texture.grid],
            None => [height, width],
        };
        if let Some(pool) = &pool
            && pool.shape() != [config.model.channels, grid[0], grid[1]]
        {
            return Err(TrainError::InvalidConfig {
                field: "pool_size",
                reason: format!(
                    "pool states of shape {:?} do not fit the model and grid",
                    pool.shape()
                ),
            });
        }
        let goals = config.model.goals.len();
        if goals > 0 && targets.len() != goals {
            return Err(TrainError::InvalidConfig {
                field: "goals",
                reason: format!(
                    "the run has {} targets, but the model has {goals} goals",
                    targets.len()
                ),
            });
        }
        if let Some(pool) = &pool
            && let Some(goal) = pool.goals().iter().find(|&&goal| goal >= goals.max(1))
        {
            return Err(TrainError::InvalidConfig {
                field: "pool_size",
                reason: format!("a pool state has goal {goal}, but the model has {goals} goals"),
            });
        }
        let device = device.clone().autodiff();
        let shape = [channels, height, width];
        let target_values = targets[0].clone();
        let objective = if goals > 0 {
            let losses = targets
                .iter()
                .map(|target| RgbaLoss::new(target.clone(), shape, &device));
            Objective::Goals(losses.collect())
        } else if let Some(texture) = &config.texture {
            let loss = TextureLoss::of_picture(&target_values, shape, texture.loss.clone())?;
            loss.check_grid(grid)?;
            Objective::One(Box::new(loss))
        } else {
            Objective::One(Box::new(RgbaLoss::new(
                target_values.clone(),
                shape,
                &device,
            )))
        };
        let goal_targets = if goals > 0 { targets } else { Vec::new() };
        let seed_state = host_values(model.seed(1, grid[0], grid[1]));
        // A new run fills its pool with seeds; a resumed one brings its own.
        // A goal run's new pool cycles through the goals.
        let pool = pool.or_else(|| {
            (config.pool_size > 0).then(|| {
                let pool = SamplePool::new(
                    config.pool_size,
                    seed_state.clone(),
                    [config.model.channels, grid[0], grid[1]],
                );
                match goals {
                    0 => pool,
                    _ => pool.with_goals((0..config.pool_size).map(|i| i % goals).collect()),
                }
            })
        });
        Ok(Self {
            model: model.train(),
            config,
            device,
            optimizer,
            objective,
            goal_targets,
            picture: target_values,
            picture_shape: shape,
            grid,
            seed_state,
            pool,
            rng,
            iteration,
        })
    }

    /// The same run minimising `loss` instead of the config's (a library user's own loss; on a
    /// goal run, every goal's). A checkpoint keeps the run's pictures but not the loss: give it
    /// again after [`resume`](Self::resume).
    pub fn with_loss(self, loss: impl Loss + 'static) -> Self {
        Self {
            objective: Objective::One(Box::new(loss)),
            ..self
        }
    }

    /// The same run computing its iterations with `engine` ([`Engine::Fused`]: nca's CPU
    /// kernel; [`Engine::Tensor`], the default: burn's autodiff on the run's device).
    pub fn with_engine(mut self, engine: Engine) -> Self {
        self.model = self.model.with_engine(engine);
        self
    }

    /// The same new run starting from `model`'s weights instead of fresh ones (fine-tuning).
    /// Fails if the model's config differs from the run's, or if the run has begun.
    pub fn with_model(self, model: Nca) -> Result<Self, TrainError> {
        if model.config() != &self.config.model {
            return Err(TrainError::InvalidConfig {
                field: "model",
                reason: "of the starting model differs from the run's".into(),
            });
        }
        if self.iteration > 0 {
            return Err(TrainError::InvalidConfig {
                field: "model",
                reason: "can only be replaced before the first iteration".into(),
            });
        }
        let plain = self.device.clone().without_autodiff();
        let engine = self.model.engine();
        Ok(Self {
            model: model.fork(&plain).train().with_engine(engine),
            ..self
        })
    }

    /// The run's config.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Iterations completed so far.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// Height and width of the grid (the padded target's, or a texture run's).
    pub fn grid(&self) -> [usize; 2] {
        self.grid
    }

    /// The sample pool, if the run has one.
    pub fn pool(&self) -> Option<&SamplePool> {
        self.pool.as_ref()
    }

    /// The model as trained so far, without autodiff: ready to run, save or show.
    pub fn model(&self) -> Nca {
        self.model.valid()
    }

    /// One iteration: draw a batch, roll it out for `min_steps..max_steps` steps (the paper:
    /// 64–95), compare with the target,
    /// condition the gradients, take an Adam step, write the batch back into the pool.
    pub fn step(&mut self) -> Result<Metrics, TrainError> {
        let (started, steps) = self.begin();
        let (batch, indices, goals) = self.draw_batch();
        self.iterate(batch, indices, goals, steps, started)
    }

    /// One iteration as [`step`](Self::step) from the given start states (`[B, C, H, W]` values,
    /// `B` the config's batch size) instead of drawn ones; the pool, if any, is left alone. On a
    /// goal run the samples' goals cycle through the goals (sample `i` grows goal `i mod
    /// goals`).
    ///
    /// # Panics
    /// If `start` does not hold a batch of states of the run's shape.
    pub fn step_from(&mut self, start: Vec<f32>) -> Result<Metrics, TrainError> {
        assert_eq!(
            start.len(),
            self.batch_shape().iter().product::<usize>(),
            "start states must be [batch, channels, height, width]"
        );
        let (started, steps) = self.begin();
        let goals = self.cycled_goals(0);
        self.iterate(start, None, goals, steps, started)
    }

    /// A batch's goals cycling through the model's, the first `first` (none without goals).
    fn cycled_goals(&self, first: usize) -> Vec<usize> {
        let goals = self.config.model.goals.len();
        match goals {
            0 => Vec::new(),
            _ => (0..self.config.batch_size)
                .map(|i| (first + i) % goals)
                .collect(),
        }
    }

    /// The start of an iteration: the loss's draws (if it has any), then the rollout length,
    /// drawn from the config's range.
    fn begin(&mut self) -> (Instant, usize) {
        let started = Instant::now();
        self.objective.prepare(&mut self.rng);
        let steps = self
            .rng
            .random_range(self.config.min_steps..self.config.max_steps);
        (started, steps)
    }

    /// One iteration of `steps` steps from `batch`, whose end states go back to the pool at
    /// `indices`; `started` is when the iteration began.
    fn iterate(
        &mut self,
        batch: Vec<f32>,
        indices: Option<Vec<usize>>,
        goals: Vec<usize>,
        steps: usize,
        started: Instant,
    ) -> Result<Metrics, TrainError> {
        let iteration = self.iteration;
        let (end, loss_value, mut grads) = match self.model.engine() {
            Engine::Tensor => self.tensor_iteration(batch, &goals, steps),
            Engine::Fused => self.fused_iteration(&batch, &goals, steps),
        };
        if !loss_value.is_finite() {
            return Err(TrainError::NonFinite {
                iteration,
                what: "loss",
                value: loss_value,
            });
        }
        let grad_norm = condition(&self.model, &mut grads, self.config.gradient);
        if !grad_norm.is_finite() {
            return Err(TrainError::NonFinite {
                iteration,
                what: "gradient norm",
                value: grad_norm,
            });
        }
        let lr = self.config.learning_rate.at(iteration);
        self.model = self.optimizer.step(lr, self.model.clone(), grads);

        if let (Some(pool), Some(indices), Some(end)) = (&mut self.pool, indices, end) {
            let size = end.len() / indices.len();
            for (sample, (index, state)) in
                indices.into_iter().zip(end.chunks_exact(size)).enumerate()
            {
                pool.put(index, state.to_vec());
                if let Some(&goal) = goals.get(sample) {
                    pool.set_goal(index, goal);
                }
            }
        }
        self.iteration += 1;
        Ok(Metrics {
            iteration,
            loss: loss_value,
            lr,
            grad_norm,
            steps,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The end states (`[B, C, H, W]` values, read back only for a pool), loss and gradients of a
    /// rollout from `batch` (each sample towards its goal in `goals`; none without goals) by
    /// burn's autodiff.
    fn tensor_iteration(
        &mut self,
        batch: Vec<f32>,
        goals: &[usize],
        steps: usize,
    ) -> (Option<Vec<f32>>, f64, GradientsParams) {
        let start =
            Tensor::<4>::from_data(TensorData::new(batch, self.batch_shape()), &self.device);
        let end = if goals.is_empty() {
            self.model.rollout(start, steps, &mut self.rng)
        } else {
            self.model
                .rollout_toward(start, goals, steps, &mut self.rng)
        };
        let loss = self.objective.batch(end.clone(), goals);
        let loss_value = loss.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        (
            self.pool.is_some().then(|| host_values(end)),
            loss_value,
            grads,
        )
    }

    /// The same as [`tensor_iteration`](Self::tensor_iteration) by the fused CPU kernel.
    fn fused_iteration(
        &mut self,
        batch: &[f32],
        goals: &[usize],
        steps: usize,
    ) -> (Option<Vec<f32>>, f64, GradientsParams) {
        let [batch_size, _, height, width] = self.batch_shape();
        let fused = FusedNca::new(&self.model);
        let shape = [batch_size, height, width];
        let rng = &mut self.rng;
        let iteration = self.objective.on_host(goals, |loss| {
            if goals.is_empty() {
                fused.train_rollout(batch, shape, steps, loss, rng)
            } else {
                fused.train_rollout_toward(batch, shape, goals, steps, loss, rng)
            }
        });
        let device = self.device.clone().without_autodiff();
        let grads = gradients_params(
            &self.model,
            iteration.gradients.into_params(&self.model),
            &device,
        );
        (Some(iteration.end), iteration.loss, grads)
    }

    /// `[B, C, H, W]` of a training batch.
    fn batch_shape(&self) -> [usize; 4] {
        let [height, width] = self.grid;
        [
            self.config.batch_size,
            self.config.model.channels,
            height,
            width,
        ]
    }

    /// The batch's start states (flattened `[B, C, H, W]`), with a pool the pool indices they
    /// return to, and on a goal run each sample's goal (empty otherwise); without a pool, every
    /// sample is a seed (a goal run's goals cycling through the goals).
    fn draw_batch(&mut self) -> (Vec<f32>, Option<Vec<usize>>, Vec<usize>) {
        let Some(pool) = &self.pool else {
            let goals = self.cycled_goals(self.iteration * self.config.batch_size);
            return (self.seed_state.repeat(self.config.batch_size), None, goals);
        };
        let shape = pool.shape();
        let objective = &self.objective;
        let batch = pool.draw_ranked(
            self.config.batch_size,
            self.config.damaged_per_batch,
            &self.seed_state,
            |index, state| objective.rank(pool.goal(index), state, shape),
            &mut self.rng,
        );
        let indices: Vec<usize> = batch.iter().map(|(index, _)| *index).collect();
        let goals = match self.config.model.goals.len() {
            0 => Vec::new(),
            count => {
                let mut goals: Vec<usize> = indices.iter().map(|&i| pool.goal(i)).collect();
                // The morphs: the lowest-loss samples that are not damaged (the grown patterns),
                // each given another goal drawn uniformly.
                let morphs = self
                    .config
                    .goals
                    .as_ref()
                    .map_or(0, |run| run.morphs(self.config.batch_size));
                let end = self.config.batch_size - self.config.damaged_per_batch;
                for goal in &mut goals[end - morphs..end] {
                    *goal = (*goal + 1 + self.rng.random_range(0..count - 1)) % count;
                }
                goals
            }
        };
        (
            batch.into_iter().flat_map(|(_, state)| state).collect(),
            Some(indices),
            goals,
        )
    }

    /// The run frozen as a checkpoint.
    pub fn checkpoint(&self) -> Result<Checkpoint, TrainError> {
        let optimizer = self
            .optimizer
            .into_bytes()
            .map_err(|err| TrainError::Checkpoint {
                path: "<memory>".into(),
                reason: format!("the optimiser state does not serialise: {err}"),
            })?;
        Ok(Checkpoint {
            config: self.config.clone(),
            iteration: self.iteration,
            rng: self.rng.clone(),
            model: self.model().to_bytes()?,
            optimizer: optimizer.to_vec(),
            target: self.picture.clone(),
            target_shape: self.picture_shape,
            goal_targets: self.goal_targets.clone(),
            pool: self.pool.clone(),
        })
    }

    /// Trains to the config's last iteration, telling `observer` of each; with a run directory,
    /// records metrics and writes a checkpoint and the model into it every
    /// `checkpoint_every` iterations, at the end, and when the observer stops the run.
    pub fn run(
        &mut self,
        dir: Option<&RunDir>,
        observer: &mut impl Observer,
    ) -> Result<(), TrainError> {
        if let Some(dir) = dir {
            dir.trim_metrics(self.iteration)?;
        }
        while self.iteration < self.config.iterations {
            let metrics = self.step()?;
            if let Some(dir) = dir {
                dir.append_metrics(&metrics)?;
            }
            let stop = observer.on_iteration(&metrics) == Control::Stop;
            let due = self.iteration.is_multiple_of(self.config.checkpoint_every)
                || self.iteration == self.config.iterations;
            if let Some(dir) = dir
                && (due || stop)
            {
                self.save(dir)?;
                observer.on_checkpoint(dir, self);
            }
            if stop {
                break;
            }
        }
        Ok(())
    }

    /// Writes the checkpoint and the model into `dir`, each atomically.
    pub fn save(&self, dir: &RunDir) -> Result<(), TrainError> {
        self.checkpoint()?.save(&dir.file(CHECKPOINT_FILE))?;
        self.model().save(dir.file(MODEL_FILE))?;
        Ok(())
    }
}

/// Adam with the config's epsilon (β₁ 0.9, β₂ 0.999 as in Keras and the paper's notebook).
fn adam(config: &TrainConfig) -> ModuleOptimizer {
    AdamConfig::new()
        .with_epsilon(config.adam_epsilon as f32)
        .init()
}
