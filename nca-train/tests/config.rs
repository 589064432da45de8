//! Training config: the paper's defaults, presets, schedule, TOML and validation.

use nca_train::{Experiment, GradientMode, LrSchedule, TrainConfig};

#[test]
fn presets_are_the_papers_three_experiments() {
    let growing = TrainConfig::preset(Experiment::Growing);
    let persistent = TrainConfig::preset(Experiment::Persistent);
    let regenerating = TrainConfig::preset(Experiment::Regenerating);
    assert_eq!((growing.pool_size, growing.damaged_per_batch), (0, 0));
    assert_eq!(
        (persistent.pool_size, persistent.damaged_per_batch),
        (1024, 0)
    );
    assert_eq!(
        (regenerating.pool_size, regenerating.damaged_per_batch),
        (1024, 3)
    );
    for config in [growing, persistent, regenerating] {
        assert_eq!(config.batch_size, 8);
        assert_eq!((config.min_steps, config.max_steps), (64, 96));
        assert_eq!(config.iterations, 8000);
        assert_eq!(config.gradient, GradientMode::PerParameterNorm);
        assert!(config.validate().is_ok());
    }
}

#[test]
fn the_learning_rate_drops_from_2e3_to_2e4_at_iteration_2000() {
    let schedule = LrSchedule::default();
    assert_eq!(schedule.at(0), 2e-3);
    assert_eq!(schedule.at(1999), 2e-3);
    assert_eq!(schedule.at(2000), 2e-4);
    assert_eq!(schedule.at(7999), 2e-4);
    let stepped = LrSchedule {
        initial: 1.0,
        drops: vec![(10, 0.5), (20, 0.25)],
    };
    assert_eq!(
        [
            stepped.at(9),
            stepped.at(10),
            stepped.at(19),
            stepped.at(25)
        ],
        [1.0, 0.5, 0.5, 0.25]
    );
}

#[test]
fn toml_round_trips_and_partial_files_take_the_defaults() {
    let config = TrainConfig {
        iterations: 123,
        gradient: GradientMode::GlobalClip { max_norm: 1.0 },
        ..TrainConfig::default()
    };
    assert_eq!(TrainConfig::from_toml(&config.to_toml()).unwrap(), config);
    let partial = TrainConfig::from_toml("iterations = 50\n[model]\nfire_rate = 0.75\n").unwrap();
    assert_eq!(partial.iterations, 50);
    assert_eq!(partial.model.fire_rate, 0.75);
    assert_eq!(partial.pool_size, 1024);
    // Inside a table too: a learning rate without its drops keeps the paper's drop.
    let rate = TrainConfig::from_toml("[learning_rate]\ninitial = 1e-3\n").unwrap();
    assert_eq!(rate.learning_rate.initial, 1e-3);
    assert_eq!(rate.learning_rate.drops, vec![(2000, 2e-4)]);
}

#[test]
fn bad_toml_names_the_problem() {
    let err = TrainConfig::from_toml("iteration = 5")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `iteration`"), "{err}");
    let err = TrainConfig::from_toml("batch_size = \"eight\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid type"), "{err}");
    let err = TrainConfig::from_toml("[model]\nfire_rate = 0.0")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`fire_rate` is 0"), "{err}");
}

#[test]
fn impossible_values_are_refused_with_the_field_named() {
    let base = TrainConfig::default;
    let cases = [
        (
            TrainConfig {
                batch_size: 0,
                ..base()
            },
            "`batch_size` must be at least 1",
        ),
        (
            TrainConfig {
                pool_size: 4,
                ..base()
            },
            "`pool_size` is 4, smaller than batch_size 8",
        ),
        (
            TrainConfig {
                damaged_per_batch: 8,
                ..base()
            },
            "`damaged_per_batch` is 8",
        ),
        (
            TrainConfig {
                pool_size: 0,
                ..base()
            },
            "`damaged_per_batch` needs a sample pool",
        ),
        (
            TrainConfig {
                min_steps: 96,
                max_steps: 64,
                ..base()
            },
            "`max_steps`",
        ),
        (
            TrainConfig {
                iterations: 0,
                ..base()
            },
            "`iterations` must be at least 1",
        ),
        (
            TrainConfig {
                checkpoint_every: 0,
                ..base()
            },
            "`checkpoint_every`",
        ),
        (
            TrainConfig {
                learning_rate: LrSchedule {
                    initial: f64::NAN,
                    drops: vec![],
                },
                ..base()
            },
            "NaN is not a positive finite rate",
        ),
        (
            TrainConfig {
                learning_rate: LrSchedule {
                    initial: 1e-3,
                    drops: vec![(5, 1e-4), (5, 1e-5)],
                },
                ..base()
            },
            "increasing iteration order",
        ),
        (
            TrainConfig {
                gradient: GradientMode::GlobalClip { max_norm: -1.0 },
                ..base()
            },
            "max_norm -1",
        ),
        (
            TrainConfig {
                adam_epsilon: 0.0,
                ..base()
            },
            "`adam_epsilon`",
        ),
    ];
    for (config, expected) in cases {
        let message = config.validate().unwrap_err().to_string();
        assert!(
            message.contains(expected),
            "{message:?} should contain {expected:?}"
        );
    }
}

#[test]
fn experiment_names_parse() {
    assert_eq!(
        "persistent".parse::<Experiment>().unwrap(),
        Experiment::Persistent
    );
    let err = "regrowing".parse::<Experiment>().unwrap_err().to_string();
    assert!(
        err.contains("\"regrowing\" is not one of growing, persistent, regenerating"),
        "{err}"
    );
}

#[test]
fn fields_left_out_take_the_named_experiments_preset() {
    let texture = TrainConfig::from_toml("experiment = \"texture\"\niterations = 5\n").unwrap();
    assert_eq!(
        texture,
        TrainConfig {
            iterations: 5,
            ..TrainConfig::preset(Experiment::Texture)
        }
    );
    let growing =
        TrainConfig::from_toml("experiment = \"growing\"\n[model]\nchannels = 8\n").unwrap();
    assert_eq!(growing.pool_size, 0, "the growing experiment has no pool");
    assert_eq!(growing.model.channels, 8);
    assert_eq!(
        growing.model.hidden_units, 128,
        "the rest of [model] as the preset's"
    );
    let texture_loss = TrainConfig::from_toml(
        "experiment = \"texture\"\n[texture.loss]\npatch = 3\n[learning_rate]\ninitial = 5e-4\n",
    )
    .unwrap();
    let preset = TrainConfig::preset(Experiment::Texture);
    let run = texture_loss.texture.unwrap();
    assert_eq!((run.grid, run.loss.patch, run.loss.scales), (64, 3, 3));
    assert_eq!(texture_loss.learning_rate.drops, preset.learning_rate.drops);
    assert_eq!(texture_loss.learning_rate.initial, 5e-4);
}

#[test]
fn texture_settings_in_a_growing_run_and_the_reverse_are_refused() {
    let err =
        TrainConfig::from_toml("experiment = \"growing\"\n[texture]\ngrid = 64\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("`texture` is given, but the run is the paper's growing experiment"),
        "{err}"
    );
    let config = TrainConfig {
        texture: None,
        ..TrainConfig::preset(Experiment::Texture)
    };
    let err = config.validate().unwrap_err();
    assert!(err.to_string().contains("`texture` is missing"), "{err}");
}

#[test]
fn goal_runs_are_checked_with_one_message_per_problem() {
    use nca_core::NcaConfig;
    use nca_train::{GoalRun, TextureRun, TrainError};
    let goal_model = |goals: &[&str]| NcaConfig {
        goals: goals.iter().map(|goal| goal.to_string()).collect(),
        ..NcaConfig::default()
    };
    let run = TrainConfig {
        model: goal_model(&["a", "b"]),
        goals: Some(GoalRun::default()),
        ..TrainConfig::default()
    };
    assert!(run.validate().is_ok());
    assert_eq!(GoalRun::default().morph_share, 0.25);
    assert_eq!(GoalRun::default().morphs(8), 2);
    let refused = |config: TrainConfig| match config.validate() {
        Err(TrainError::InvalidConfig { field, reason }) => format!("{field}: {reason}"),
        other => panic!("not refused: {other:?}"),
    };
    let cases = [
        (
            TrainConfig {
                goals: None,
                ..run.clone()
            },
            "goals: is missing: the model has 2 goals (model.goals), and a goal run needs its [goals] table",
        ),
        (
            TrainConfig {
                model: NcaConfig::default(),
                ..run.clone()
            },
            "goals: is given, but the model has no goals (model.goals is empty)",
        ),
        (
            TrainConfig {
                goals: Some(GoalRun {
                    targets: vec![nca_data::TargetSpec::default()],
                    ..GoalRun::default()
                }),
                ..run.clone()
            },
            "goals.targets: has 1 targets, but the model has 2 goals (one target per goal)",
        ),
        (
            TrainConfig {
                goals: Some(GoalRun {
                    morph_share: 1.5,
                    ..GoalRun::default()
                }),
                ..run.clone()
            },
            "goals.morph_share: is 1.5, outside 0..=1",
        ),
        (
            TrainConfig {
                goals: Some(GoalRun {
                    morph_share: 0.75,
                    ..GoalRun::default()
                }),
                ..run.clone()
            },
            "goals.morph_share: is 0.75: 6 morphing samples of batch_size 8, but only 4 are left beside the reseeded one and the 3 damaged",
        ),
        (
            TrainConfig {
                model: goal_model(&["a"]),
                ..run.clone()
            },
            "goals.morph_share: is 0.25, but morphing needs at least 2 goals (the model has 1)",
        ),
        (
            TrainConfig {
                model: goal_model(&["a", "b"]),
                ..TrainConfig {
                    goals: run.goals.clone(),
                    ..TrainConfig::preset(Experiment::Growing)
                }
            },
            "goals.morph_share: is 0.25, but morphs start from pool states: it needs a sample pool (pool_size > 0), or 0",
        ),
    ];
    for (config, message) in cases {
        let got = refused(config);
        assert!(got.starts_with(message), "{got:?} is not {message:?}");
    }
    let many = TrainConfig {
        model: NcaConfig {
            goals: (0..65).map(|goal| goal.to_string()).collect(),
            ..NcaConfig::default()
        },
        ..run.clone()
    };
    let error = many.validate().unwrap_err().to_string();
    assert!(error.contains("at most 64"), "{error}");
    let texture = TrainConfig {
        model: NcaConfig {
            goals: vec!["a".into(), "b".into()],
            ..TrainConfig::preset(Experiment::Texture).model
        },
        goals: Some(GoalRun::default()),
        texture: Some(TextureRun::default()),
        ..TrainConfig::preset(Experiment::Texture)
    };
    assert_eq!(
        refused(texture),
        "goals: is given, but a texture run has no goals (it grows one texture)"
    );
    // A goal run's TOML round-trips; a config without goals writes no [goals] table.
    assert_eq!(TrainConfig::from_toml(&run.to_toml()).unwrap(), run);
    assert!(run.to_toml().contains("[goals]"));
    assert!(!TrainConfig::default().to_toml().contains("goals"));
}
