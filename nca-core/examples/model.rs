//! The model API in a few lines: a fresh model, a differentiable rollout, the fused kernel,
//! frames, pictures, and a model file. README's "Use the model from Rust" shows this code.
//!
//! ```sh
//! cargo run -p nca-core --example model
//! ```

use burn::tensor::Device;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Engine, Nca, NcaConfig};

fn main() -> Result<(), nca_core::NcaError> {
    let dir = std::env::temp_dir().join(format!("nca-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| nca_core::NcaError::Io {
        path: dir.clone(),
        source,
    })?;
    let file = dir.join("gecko.nca");

    let device = Device::flex();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(42);
    let nca = NcaConfig::default().init(&device, &mut rng)?; // the paper's 8,336 parameters
    let grown = nca.rollout(nca.seed(1, 72, 72), 96, &mut rng); // [1, 16, 72, 72], differentiable
    let fast = nca.clone().with_engine(Engine::Fused); // nca's CPU kernel (no autodiff)
    let batch = fast.advance(nca.seed(8, 72, 72), 96, &mut rng); // [8, 16, 72, 72]
    let frames = fast.frames(nca.seed(1, 72, 72), 96, 8, &mut rng); // every 8th state
    let picture = nca.config().over_white(grown); // [1, 3, 72, 72] RGB over white
    nca.save(&file)?; // config + weights, one file
    let again = Nca::load(&file, &device)?;

    println!(
        "batch {:?}, {} frames, picture {:?}, reloaded {} channels",
        batch.dims(),
        frames.len(),
        picture.dims(),
        again.config().channels
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
