//! Train a small model for a few iterations towards a red disc, and watch the loss fall.
//!
//! ```sh
//! cargo run -p nca-train --example train
//! ```
//! Real targets (emoji, image files, URLs) come from `nca-data`; `nca train` is the full tool.

use burn::tensor::{Device, Tensor, TensorData};
use nca_core::Engine;
use nca_train::{Experiment, Metrics, Observer, TrainConfig, Trainer};

/// Prints every tenth iteration's loss.
struct PrintLoss;

impl Observer for PrintLoss {
    fn on_iteration(&mut self, metrics: &Metrics) -> nca_train::Control {
        if metrics.iteration % 10 == 0 {
            println!(
                "iteration {:>3}  loss {:.5}",
                metrics.iteration, metrics.loss
            );
        }
        nca_train::Control::Continue
    }
}

fn main() -> Result<(), nca_train::TrainError> {
    // A target is premultiplied RGBA, [4, H, W]: here a red disc of radius 6 on a 24x24 grid.
    let size = 24;
    let mut rgba = vec![0.0f32; 4 * size * size];
    for y in 0..size {
        for x in 0..size {
            let (dy, dx) = (y as f32 - 11.5, x as f32 - 11.5);
            if dx * dx + dy * dy < 36.0 {
                rgba[y * size + x] = 1.0; // red
                rgba[3 * size * size + y * size + x] = 1.0; // alpha
            }
        }
    }
    let device = Device::flex();
    let target = Tensor::<3>::from_data(TensorData::new(rgba, [4, size, size]), &device);

    let config = TrainConfig {
        iterations: 60,
        batch_size: 4,
        min_steps: 16,
        max_steps: 24,
        ..TrainConfig::preset(Experiment::Growing)
    };
    let mut trainer = Trainer::new(config, target, &device)?.with_engine(Engine::Fused);
    trainer.run(None, &mut PrintLoss)?;
    trainer.model().save("disc.nca")?;
    println!("wrote disc.nca (grow it with `nca grow --model disc.nca --size 24`)");
    Ok(())
}
