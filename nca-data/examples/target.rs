//! Prepare a target as the paper does (fit in 40 px, premultiply alpha, pad by 16) and save it.
//! README's "Targets" section shows this code.
//!
//! ```sh
//! cargo run -p nca-data --example target      # writes target.png
//! ```

use burn::tensor::Device;
use nca_data::{EmojiSource, Target, TargetOptions, TargetSource};

fn main() -> Result<(), nca_data::DataError> {
    let device = Device::flex();
    let target = Target::load(
        &TargetSource::Emoji("🦋".into()),
        TargetOptions::default(),
        &EmojiSource::default(),
    )?;
    let tensor = target.tensor(&device); // [4, 72, 72], premultiplied RGBA
    println!("🦋 → {:?}", tensor.dims());
    let rgba = nca_data::rgba_images(&nca_core::NcaConfig::default(), tensor.unsqueeze());
    nca_data::save_png("target.png".as_ref(), rgba[0].clone())?;
    println!("wrote target.png");
    Ok(())
}
