//! The whole library path: an embedded emoji target, a few training iterations, the model saved
//! and loaded, its growth written as a GIF.

use burn::tensor::Device;
use image::AnimationDecoder;
use nca_core::Nca;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_data::{
    EmojiSource, GifOptions, Target, TargetOptions, TargetSource, save_gif, white_images,
};
use nca_train::{Experiment, TrainConfig, Trainer};

#[test]
fn an_emoji_target_trains_saves_loads_and_renders() {
    let device = Device::flex();
    let offline = EmojiSource {
        base_url: "http://127.0.0.1:9/".into(),
        cache_dir: None,
        ..EmojiSource::default()
    };
    let source = TargetSource::Emoji("🦋".into());
    let target = Target::load(
        &source,
        TargetOptions {
            size: 12,
            padding: 4,
        },
        &offline,
    )
    .unwrap();
    assert_eq!((target.height, target.width), (20, 20));

    // No damage: every sample of the first batch is then a seed by construction (a damaged one
    // could have its seed cell erased), so the first loss is known exactly.
    let config = TrainConfig {
        pool_size: 8,
        damaged_per_batch: 0,
        batch_size: 4,
        min_steps: 8,
        max_steps: 12,
        iterations: 3,
        ..TrainConfig::preset(Experiment::Regenerating)
    };
    let mut trainer = Trainer::new(config, target.tensor(&device), &device).unwrap();
    let first = trainer.step().unwrap();
    // The untrained model leaves its seeds as they are: the loss is the seed's error.
    let expected = seed_loss(&target.rgba, 20, 20);
    assert!(
        (first.loss - expected).abs() < 1e-6,
        "loss {} vs the seed's {expected}",
        first.loss
    );

    let dir = tempfile::tempdir().unwrap();
    let run = nca_train::RunDir::create(dir.path(), trainer.config()).unwrap();
    trainer.run(Some(&run), &mut ()).unwrap();
    let model = Nca::load(dir.path().join(nca_train::MODEL_FILE), &device).unwrap();
    assert_eq!(
        model.to_bytes().unwrap(),
        trainer.model().to_bytes().unwrap()
    );

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let states = model.frames(model.seed(1, 20, 20), 10, 5, &mut rng);
    let frames: Vec<_> = states
        .into_iter()
        .flat_map(|state| white_images(model.config(), state))
        .collect();
    let gif = dir.path().join("growth.gif");
    save_gif(
        &gif,
        &frames,
        Some(&[0, 5, 10]),
        GifOptions {
            frame_delay_ms: 50,
            scale: 2,
        },
    )
    .unwrap();
    let file = std::io::BufReader::new(std::fs::File::open(&gif).unwrap());
    let decoded = image::codecs::gif::GifDecoder::new(file)
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(decoded.len(), 3);
    assert_eq!(decoded[0].buffer().dimensions(), (40, 40));
}

/// RGBA mean squared error of a seed (transparent black, one cell of alpha 1 in the middle).
fn seed_loss(target: &[f32], height: usize, width: usize) -> f64 {
    let centre = 3 * height * width + (height / 2) * width + width / 2;
    let squares: f64 = target
        .iter()
        .enumerate()
        .map(|(i, &t)| (if i == centre { 1.0 } else { 0.0 } - f64::from(t)).powi(2))
        .sum();
    squares / target.len() as f64
}
