//! Train on the embedded gecko for a few iterations, watching the loss, then save the model.
//! README's "Training" section shows this code.
//!
//! ```sh
//! cargo run -p nca-train --example train      # writes runs/example/ and gecko-example.nca
//! ```

use burn::tensor::Device;
use nca_core::Engine;
use nca_data::{EmojiSource, Target, TargetOptions, TargetSource};
use nca_train::{Experiment, RunDir, TrainConfig, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::flex();
    let target = Target::load(
        &TargetSource::default(),
        TargetOptions::default(),
        &EmojiSource::default(),
    )?;
    // 20 iterations to watch the loss fall; the paper trains for 8,000.
    let config = TrainConfig {
        iterations: 20,
        ..TrainConfig::preset(Experiment::Regenerating)
    };
    // A run directory takes only a new run: start afresh each time.
    let _ = std::fs::remove_dir_all("runs/example");
    let dir = RunDir::create("runs/example".as_ref(), &config)?;
    // nca's CPU kernel; Engine::Tensor trains on any burn device.
    let mut trainer =
        Trainer::new(config, target.tensor(&device), &device)?.with_engine(Engine::Fused);
    for _ in 0..10 {
        let metrics = trainer.step()?; // one iteration: loss, lr, gradient norm, steps, seconds
        println!("{} {:.5}", metrics.iteration, metrics.loss);
    }
    // The rest, with checkpoints; any `Observer` sees progress.
    trainer.run(Some(&dir), &mut ())?; // into the locked run directory
    trainer.model().save("gecko-example.nca")?;
    Ok(())
}
