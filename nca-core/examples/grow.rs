//! Grow a trained model from its seed and print the result in the terminal.
//!
//! ```sh
//! cargo run -p nca-core --example grow                      # the shipped gecko-growing
//! cargo run -p nca-core --example grow -- runs/regenerating/model.nca
//! ```

use std::path::PathBuf;

use burn::tensor::Device;
use nca_core::rand::SeedableRng;
use nca_core::rand::rngs::Xoshiro256PlusPlus;
use nca_core::{Engine, Nca, host_values};

fn main() -> Result<(), nca_core::NcaError> {
    let path = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../nca-cli/models/gecko-growing.nca"),
        PathBuf::from,
    );
    let device = Device::flex();
    // nca's fused CPU kernel computes the rollout; `Engine::Tensor` would use burn's ops.
    let nca = Nca::load(&path, &device)?.with_engine(Engine::Fused);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let grown = nca.advance(nca.seed(1, 72, 72), 96, &mut rng);

    // RGB over white, [1, 3, 72, 72]: two cells a character, in 24-bit colour.
    let rgb = host_values(nca.config().over_white(grown));
    let plane = 72 * 72;
    for y in (0..72).step_by(2) {
        let line: String = (0..72)
            .map(|x| {
                let [r, g, b] = [0, 1, 2].map(|c| {
                    let top = rgb[c * plane + y * 72 + x];
                    let bottom = rgb[c * plane + (y + 1) * 72 + x];
                    (255.0 * (top + bottom) / 2.0).clamp(0.0, 255.0) as u8
                });
                format!("\x1b[38;2;{r};{g};{b}m█")
            })
            .collect();
        println!("{line}\x1b[0m");
    }
    println!("{} after 96 steps from its seed", path.display());
    Ok(())
}
