//! One page's simulation: a model, its grid, and what the page asked for.

use nca_core::HostGrid;
use std::sync::Arc;
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Nca, Seed, host_values};

use super::protocol::{ClientMessage, ServerMessage};

/// A model the server offers, under the name the page shows.
pub struct NamedModel {
    /// Shown in the page's model list.
    pub name: String,
    /// The model, on the serving device.
    pub model: Nca,
}

/// The simulation of one connected page.
pub struct Session {
    models: Arc<Vec<NamedModel>>,
    current: usize,
    model: Nca,
    /// The goal a goal model grows towards (0 for a model without goals).
    goal: usize,
    size: usize,
    state: Tensor<4>,
    rng: Xoshiro256PlusPlus,
    step: u64,
    playing: bool,
    steps_per_frame: u32,
    rate: StepRate,
}

impl Session {
    /// A session running the first model from its seed on a `size x size` grid.
    pub fn new(models: Arc<Vec<NamedModel>>, size: usize, seed: u64) -> Self {
        let model = models[0].model.clone();
        let state = model.seed(1, size, size);
        Self {
            models,
            current: 0,
            model,
            goal: 0,
            size,
            state,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            step: 0,
            playing: true,
            steps_per_frame: 1,
            rate: StepRate::default(),
        }
    }

    /// The greeting that tells the page what is on offer.
    pub fn hello(&self) -> ServerMessage {
        ServerMessage::Hello {
            models: self.models.iter().map(|m| m.name.clone()).collect(),
            current: self.current,
            size: self.size,
            fire_rate: self.model.config().fire_rate,
            seed: self.model.config().seed,
            goals: self.model.config().goals.clone(),
            goal: self.goal,
        }
    }

    /// Whether the automaton runs.
    pub fn playing(&self) -> bool {
        self.playing
    }

    /// Steps since the last reset.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Applies a request; the answer, if any, goes back to the page.
    pub fn handle(&mut self, message: ClientMessage) -> Option<ServerMessage> {
        match message {
            ClientMessage::Play => self.playing = true,
            ClientMessage::Pause => self.playing = false,
            ClientMessage::Reset => self.reset(),
            ClientMessage::Ack => {}
            ClientMessage::Speed { steps_per_frame } => self.steps_per_frame = steps_per_frame,
            ClientMessage::Angle { degrees } => {
                return self.reconfigure(|c| c.perception_angle_deg = degrees);
            }
            ClientMessage::FireRate { value } => return self.reconfigure(|c| c.fire_rate = value),
            ClientMessage::Erase { x, y, radius } => self.edit(|values, shape| {
                // The protocol's fractions of the grid are [-1, 1] coordinates for erase_disc.
                HostGrid::new(values, shape)
                    .erase_disc((2.0 * x - 1.0, 2.0 * y - 1.0), 2.0 * radius);
            }),
            ClientMessage::Seed { .. } if self.model.config().seed != Seed::Cell => {
                return Some(ServerMessage::Refused {
                    reason: "this model starts from zeros: it has no seed cell to plant".into(),
                });
            }
            ClientMessage::Seed { x, y } => {
                let alpha = self.model.config().alpha_channel();
                let (column, row) = (self.cell(x), self.cell(y));
                self.edit(|values, shape| {
                    HostGrid::new(values, shape).plant_seed(row, column, alpha)
                });
            }
            ClientMessage::Model { index } => {
                let Some(named) = self.models.get(index) else {
                    return Some(ServerMessage::Refused {
                        reason: format!("there is no model {index}"),
                    });
                };
                self.model = named.model.clone();
                self.current = index;
                self.goal = 0;
                self.reset();
                return Some(self.hello());
            }
            ClientMessage::Goal { index } => {
                let goals = self.model.config().goals.len();
                if index >= goals {
                    let reason = match goals {
                        0 => "this model has no goals to choose from".to_string(),
                        1 => format!("there is no goal {index}: the model has 1 goal"),
                        _ => format!("there is no goal {index}: the model has {goals} goals"),
                    };
                    return Some(ServerMessage::Refused { reason });
                }
                // The cells stay as they are: the pattern grows into the new goal in place.
                self.goal = index;
            }
        }
        None
    }

    /// Runs the steps of one frame.
    pub fn advance(&mut self) {
        let steps = self.steps_per_frame as usize;
        self.state =
            self.model
                .advance_toward_goal(self.state.clone(), self.goal, steps, &mut self.rng);
        self.step += steps as u64;
        self.rate.add(steps);
    }

    /// The grid as RGBA bytes over white, row by row.
    pub fn pixels(&self) -> (usize, Vec<u8>) {
        let image = nca_data::white_images(self.model.config(), self.state.clone()).remove(0);
        let rgba = image
            .pixels()
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect();
        (self.size, rgba)
    }

    /// The current step count and speed.
    pub fn status(&self) -> ServerMessage {
        ServerMessage::Status {
            step: self.step,
            steps_per_second: self.rate.per_second(),
            playing: self.playing,
        }
    }

    fn reset(&mut self) {
        self.state = self.model.seed(1, self.size, self.size);
        self.step = 0;
    }

    fn cell(&self, fraction: f64) -> usize {
        ((fraction * self.size as f64) as usize).min(self.size - 1)
    }

    fn reconfigure(
        &mut self,
        change: impl FnOnce(&mut nca_core::NcaConfig),
    ) -> Option<ServerMessage> {
        let mut config = self.model.config().clone();
        change(&mut config);
        match self.model.clone().with_run_config(config) {
            Ok(model) => {
                self.model = model;
                None
            }
            Err(err) => Some(ServerMessage::Refused {
                reason: err.to_string(),
            }),
        }
    }

    /// Changes the grid on the host: `edit(values, [C, H, W])`.
    fn edit(&mut self, edit: impl FnOnce(&mut [f32], [usize; 3])) {
        let [_, channels, height, width] = self.state.dims();
        let device: Device = self.state.device();
        let mut values = host_values(self.state.clone());
        edit(&mut values, [channels, height, width]);
        self.state = Tensor::from_data(
            TensorData::new(values, [1, channels, height, width]),
            &device,
        );
    }

    /// The state's values on the host (for tests).
    #[cfg(test)]
    fn values(&self) -> Vec<f32> {
        host_values(self.state.clone())
    }
}

/// Steps per second over roughly the last second.
#[derive(Default)]
struct StepRate {
    since: Option<Instant>,
    steps: usize,
    last: f64,
}

impl StepRate {
    fn add(&mut self, steps: usize) {
        let since = *self.since.get_or_insert_with(Instant::now);
        self.steps += steps;
        let elapsed = since.elapsed().as_secs_f64();
        if elapsed >= 1.0 {
            self.last = self.steps as f64 / elapsed;
            self.since = Some(Instant::now());
            self.steps = 0;
        }
    }

    fn per_second(&self) -> f64 {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use nca_core::NcaConfig;

    /// A model that adds 0.1 to every channel of every live cell each step (fire rate 1).
    fn growing_model() -> Nca {
        let device = Device::flex();
        let config = NcaConfig {
            fire_rate: 1.0,
            ..NcaConfig::default()
        };
        let mut nca = config
            .init(&device, &mut Xoshiro256PlusPlus::seed_from_u64(0))
            .unwrap();
        nca.update.output.bias = Some(Param::from_data(
            TensorData::new(vec![0.1f32; 16], [16]),
            &device,
        ));
        nca
    }

    fn session() -> Session {
        let models = vec![
            NamedModel {
                name: "grower".into(),
                model: growing_model(),
            },
            NamedModel {
                name: "still".into(),
                model: NcaConfig::default()
                    .init(&Device::flex(), &mut Xoshiro256PlusPlus::seed_from_u64(1))
                    .unwrap(),
            },
        ];
        Session::new(Arc::new(models), 16, 0)
    }

    fn alive_cells(session: &Session) -> usize {
        session.values()[3 * 256..4 * 256]
            .iter()
            .filter(|&&a| a > 0.1)
            .count()
    }

    #[test]
    fn the_session_grows_and_counts_steps() {
        let mut session = session();
        assert_eq!(alive_cells(&session), 1);
        session.handle(ClientMessage::Speed { steps_per_frame: 3 });
        session.advance();
        assert_eq!(session.step_count(), 3);
        assert!(alive_cells(&session) > 1);
        let (size, pixels) = session.pixels();
        assert_eq!((size, pixels.len()), (16, 16 * 16 * 4));
    }

    #[test]
    fn reset_plants_the_seed_again() {
        let mut session = session();
        session.advance();
        session.handle(ClientMessage::Reset);
        assert_eq!(session.step_count(), 0);
        assert_eq!(alive_cells(&session), 1);
    }

    #[test]
    fn erase_clears_a_disc_and_seed_plants_a_cell() {
        let mut session = session();
        session.handle(ClientMessage::Erase {
            x: 0.5,
            y: 0.5,
            radius: 0.2,
        });
        assert_eq!(alive_cells(&session), 0, "the centre seed is erased");
        session.handle(ClientMessage::Seed { x: 0.0, y: 1.0 });
        let values = session.values();
        assert_eq!(
            values[3 * 256 + 15 * 16],
            1.0,
            "alpha of the bottom-left cell"
        );
        assert_eq!(values[15 * 16], 0.0, "its colour stays 0");
    }

    #[test]
    fn switching_models_resets_and_greets_and_bad_indices_are_refused() {
        let mut session = session();
        session.advance();
        let hello = session.handle(ClientMessage::Model { index: 1 });
        assert!(matches!(
            hello,
            Some(ServerMessage::Hello { current: 1, .. })
        ));
        assert_eq!(session.step_count(), 0);
        let refused = session.handle(ClientMessage::Model { index: 7 });
        assert!(
            matches!(refused, Some(ServerMessage::Refused { reason }) if reason.contains("no model 7"))
        );
    }

    #[test]
    fn a_texture_model_starts_from_zeros_and_has_no_seed_cell_to_plant() {
        let texture = nca_train::TrainConfig::preset(nca_train::Experiment::Texture)
            .model
            .init(&Device::flex(), &mut Xoshiro256PlusPlus::seed_from_u64(2))
            .unwrap();
        let models = vec![NamedModel {
            name: "texture".into(),
            model: texture,
        }];
        let mut session = Session::new(Arc::new(models), 16, 0);
        assert!(matches!(
            session.hello(),
            ServerMessage::Hello {
                seed: Seed::Zeros,
                ..
            }
        ));
        assert!(session.values().iter().all(|&v| v == 0.0));
        let refused = session.handle(ClientMessage::Seed { x: 0.5, y: 0.5 });
        assert!(
            matches!(refused, Some(ServerMessage::Refused { reason }) if reason.contains("no seed cell")),
        );
        assert!(
            session.values().iter().all(|&v| v == 0.0),
            "nothing planted"
        );
        // Shown as colour + 0.5: zeros are mid-grey, not white.
        let (_, pixels) = session.pixels();
        assert!(
            pixels.chunks(4).all(|p| p[..3] == [128, 128, 128]),
            "{:?}",
            &pixels[..4]
        );
    }

    /// A goal model of two goals ("a", "b") whose goals update the cells differently: its
    /// output layer is not zero, so each goal's hidden term shows in the update (fire rate 1).
    fn goal_model() -> Nca {
        let device = Device::flex();
        let config = NcaConfig {
            fire_rate: 1.0,
            goals: vec!["a".into(), "b".into()],
            ..NcaConfig::default()
        };
        let mut nca = config
            .init(&device, &mut Xoshiro256PlusPlus::seed_from_u64(3))
            .unwrap();
        let [inputs, outputs] = nca.update.output.weight.dims();
        nca.update.output.weight = Param::from_data(
            TensorData::new(vec![0.01f32; inputs * outputs], [inputs, outputs]),
            &device,
        );
        nca
    }

    /// A session of the goal model, then the growing model without goals.
    fn goal_session() -> Session {
        let models = vec![
            NamedModel {
                name: "goals".into(),
                model: goal_model(),
            },
            NamedModel {
                name: "grower".into(),
                model: growing_model(),
            },
        ];
        Session::new(Arc::new(models), 16, 0)
    }

    fn greeted_goal(session: &Session) -> (Vec<String>, usize) {
        match session.hello() {
            ServerMessage::Hello { goals, goal, .. } => (goals, goal),
            other => panic!("not a hello: {other:?}"),
        }
    }

    #[test]
    fn switching_the_goal_keeps_the_cells_and_changes_how_they_grow() {
        let (mut toward_a, mut toward_b) = (goal_session(), goal_session());
        assert_eq!(greeted_goal(&toward_a), (vec!["a".into(), "b".into()], 0));
        toward_a.advance();
        toward_b.advance();
        assert_eq!(toward_a.values(), toward_b.values());
        let grown = toward_b.values();
        assert_eq!(toward_b.handle(ClientMessage::Goal { index: 1 }), None);
        assert_eq!(toward_b.values(), grown, "the cells stay as they were");
        assert_eq!(toward_b.step_count(), 1, "no reset");
        assert_eq!(greeted_goal(&toward_b).1, 1);
        toward_a.advance();
        toward_b.advance();
        assert_ne!(
            toward_a.values(),
            toward_b.values(),
            "the same cells and random stream grow otherwise towards the other goal"
        );
    }

    #[test]
    fn bad_goals_are_refused_and_a_model_without_goals_has_none_to_pick() {
        let mut session = goal_session();
        let refused = session.handle(ClientMessage::Goal { index: 7 });
        assert!(
            matches!(&refused, Some(ServerMessage::Refused { reason }) if reason == "there is no goal 7: the model has 2 goals"),
            "{refused:?}"
        );
        assert_eq!(greeted_goal(&session).1, 0, "the goal is unchanged");
        session.handle(ClientMessage::Model { index: 1 });
        let refused = session.handle(ClientMessage::Goal { index: 0 });
        assert!(
            matches!(&refused, Some(ServerMessage::Refused { reason }) if reason.contains("no goals")),
            "{refused:?}"
        );
        assert_eq!(greeted_goal(&session), (Vec::new(), 0));
    }

    #[test]
    fn reset_keeps_the_goal_and_switching_models_resets_it() {
        let mut session = goal_session();
        session.handle(ClientMessage::Goal { index: 1 });
        session.advance();
        session.handle(ClientMessage::Reset);
        assert_eq!(session.step_count(), 0);
        assert_eq!(greeted_goal(&session).1, 1, "reset keeps the goal");
        let hello = session.handle(ClientMessage::Model { index: 1 });
        assert!(
            matches!(&hello, Some(ServerMessage::Hello { goals, goal: 0, .. }) if goals.is_empty()),
            "{hello:?}"
        );
        let hello = session.handle(ClientMessage::Model { index: 0 });
        assert!(
            matches!(&hello, Some(ServerMessage::Hello { goals, goal: 0, .. }) if goals.len() == 2),
            "{hello:?}"
        );
    }

    #[test]
    fn fire_rate_and_angle_change_the_running_model() {
        let mut session = session();
        assert_eq!(
            session.handle(ClientMessage::FireRate { value: 0.25 }),
            None
        );
        assert_eq!(session.handle(ClientMessage::Angle { degrees: 45.0 }), None);
        assert_eq!(session.model.config().fire_rate, 0.25);
        assert_eq!(session.model.config().perception_angle_deg, 45.0);
        session.handle(ClientMessage::Pause);
        assert!(!session.playing());
    }
}
