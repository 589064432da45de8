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
