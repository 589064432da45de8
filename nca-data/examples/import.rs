//! Import one of the paper's published web-demo models, grow it, and save a PNG and a GIF.
//!
//! ```sh
//! cargo run -p nca-data --example import                    # the paper's regenerating 😀
//! cargo run -p nca-data --example import -- some_demo_model.json
//! ```

use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::Device;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Engine, host_values};
use nca_data::GifOptions;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os().nth(1).map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../nca-cli/models/paper/smiley-regenerating.json")
        },
        PathBuf::from,
    );
    let device = Device::flex();
    let nca = nca_data::import_demo_model_file(&path, &device)?.with_engine(Engine::Fused);
    println!("{}: {} parameters", path.display(), nca.num_params());

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let states = nca.frames(nca.seed(1, 64, 64), 200, 4, &mut rng);
    let last = states.last().expect("frames hold the seed").clone();
    let alive = host_values(nca.config().rgba(last.clone()))
        .chunks(64 * 64)
        .nth(3)
        .map_or(0, |alpha| alpha.iter().filter(|&&a| a > 0.1).count());
    println!("after 200 steps: {alive} of 64x64 cells visible");

    let frames: Vec<_> = states
        .into_iter()
        .flat_map(|state| nca_data::white_images(nca.config(), state))
        .collect();
    nca_data::save_gif(
        "imported.gif".as_ref(),
        &frames,
        None,
        GifOptions::default(),
    )?;
    let picture = nca_data::white_images(nca.config(), last).remove(0);
    nca_data::save_png("imported.png".as_ref(), nca_data::scale_up(&picture, 4))?;
    println!("wrote imported.gif and imported.png");
    Ok(())
}
