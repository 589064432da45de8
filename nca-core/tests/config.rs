//! Config defaults and validation.

use nca_core::NcaConfig;

#[test]
fn defaults_are_the_papers() {
    let config = NcaConfig::default();
    assert_eq!(
        (
            config.channels,
            config.visible_channels,
            config.hidden_units
        ),
        (16, 3, 128)
    );
    assert_eq!(
        (
            config.fire_rate,
            config.living_threshold,
            config.update_scale
        ),
        (0.5, 0.1, 1.0)
    );
    assert!(!config.trainable_perception);
    assert_eq!(config.perception_angle_deg, 0.0);
    assert_eq!(config.alpha_channel(), 3);
    assert!(config.validate().is_ok());
}

fn error_of(config: NcaConfig) -> String {
    config.validate().unwrap_err().to_string()
}

#[test]
fn impossible_values_are_refused_with_the_field_named() {
    let cases = [
        (
            NcaConfig {
                fire_rate: 0.0,
                ..Default::default()
            },
            "`fire_rate` is 0, but must lie in (0, 1]",
        ),
        (
            NcaConfig {
                fire_rate: 1.5,
                ..Default::default()
            },
            "`fire_rate` is 1.5",
        ),
        (
            NcaConfig {
                fire_rate: f64::NAN,
                ..Default::default()
            },
            "`fire_rate` is NaN",
        ),
        (
            NcaConfig {
                channels: 3,
                ..Default::default()
            },
            "`channels` is 3, but a cell needs at least 4",
        ),
        (
            NcaConfig {
                visible_channels: 16,
                ..Default::default()
            },
            "`channels` is 16",
        ),
        (
            NcaConfig {
                visible_channels: 0,
                ..Default::default()
            },
            "`visible_channels` must be at least 1",
        ),
        (
            NcaConfig {
                hidden_units: 0,
                ..Default::default()
            },
            "`hidden_units` must be at least 1",
        ),
        (
            NcaConfig {
                living_threshold: -0.1,
                ..Default::default()
            },
            "`living_threshold` is -0.1",
        ),
        (
            NcaConfig {
                update_scale: f64::INFINITY,
                ..Default::default()
            },
            "`update_scale` is inf",
        ),
        (
            NcaConfig {
                perception_angle_deg: f64::NAN,
                ..Default::default()
            },
            "`perception_angle_deg` is NaN",
        ),
        (
            NcaConfig {
                goals: vec!["🦎".into(), String::new()],
                ..Default::default()
            },
            "`goals` has an empty name at index 1",
        ),
        (
            NcaConfig {
                goals: vec!["🦎".into(), "🦋".into(), "🦎".into()],
                ..Default::default()
            },
            "`goals` names \"🦎\" twice",
        ),
        (
            NcaConfig {
                goals: (0..65).map(|goal| goal.to_string()).collect(),
                ..Default::default()
            },
            "`goals` has 65 names, but a model may have at most 64",
        ),
        (
            NcaConfig {
                goals: vec!["🦎".into()],
                goal_size: 0,
                ..Default::default()
            },
            "`goal_size` is 0, but must lie in 1..=64",
        ),
        (
            NcaConfig {
                goals: vec!["🦎".into()],
                goal_size: 65,
                ..Default::default()
            },
            "`goal_size` is 65",
        ),
    ];
    for (config, expected) in cases {
        let message = error_of(config);
        assert!(
            message.contains(expected),
            "{message:?} should contain {expected:?}"
        );
    }
}

#[test]
fn config_reads_from_partial_json_and_rejects_unknown_fields() {
    let config: NcaConfig = serde_json::from_str(r#"{"fire_rate": 0.75}"#).unwrap();
    assert_eq!(
        config,
        NcaConfig {
            fire_rate: 0.75,
            ..Default::default()
        }
    );
    let err = serde_json::from_str::<NcaConfig>(r#"{"fire_rat": 0.75}"#).unwrap_err();
    assert!(
        err.to_string().contains("unknown field `fire_rat`"),
        "{err}"
    );
}

#[test]
fn goals_are_an_option_that_plain_configs_do_not_write() {
    let plain = NcaConfig::default();
    assert!(plain.goals.is_empty() && !plain.has_goals());
    assert_eq!(plain.goal_size, 8);
    // A plain model's config reads and writes as before goals existed.
    let json = serde_json::to_string(&plain).unwrap();
    assert!(!json.contains("goal"), "{json}");
    assert_eq!(serde_json::from_str::<NcaConfig>(&json).unwrap(), plain);
    // goal_size is unused without goals.
    assert!(
        NcaConfig {
            goal_size: 0,
            ..Default::default()
        }
        .validate()
        .is_ok()
    );

    let config = NcaConfig {
        goals: vec!["🦎".into(), "🦋".into()],
        goal_size: 4,
        ..Default::default()
    };
    assert!(config.validate().is_ok() && config.has_goals());
    assert!(config.is_growing(), "goals are an input, not another step");
    assert_eq!(config.goal_index("🦋"), Some(1));
    assert_eq!(config.goal_index("😀"), None);
    let json = serde_json::to_string(&config).unwrap();
    assert!(
        json.contains(r#""goals":["🦎","🦋"],"goal_size":4"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<NcaConfig>(&json).unwrap(), config);
    let default_size = NcaConfig {
        goal_size: 8,
        ..config
    };
    let json = serde_json::to_string(&default_size).unwrap();
    assert_eq!(
        serde_json::from_str::<NcaConfig>(&json).unwrap(),
        default_size
    );
}
