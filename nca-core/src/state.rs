//! Grid states: the seed, and the pictures a state shows.

use burn::tensor::{Device, Tensor, TensorData};

use crate::config::Seed;
use crate::{HostGrid, NcaConfig};

impl NcaConfig {
    /// `batch` grids of `height x width` cells in the config's start state: for [`Seed::Cell`]
    /// empty but one live seed cell at `[height / 2, width / 2]` (its alpha and hidden channels
    /// 1, its colour 0), for [`Seed::Zeros`] all zeros.
    pub fn seed(&self, batch: usize, height: usize, width: usize, device: &Device) -> Tensor<4> {
        let shape = [self.channels, height, width];
        let mut values = vec![0.0f32; batch * shape.iter().product::<usize>()];
        if self.seed == Seed::Cell {
            for sample in values.chunks_exact_mut(shape.iter().product()) {
                HostGrid::new(sample, shape).plant_seed(
                    height / 2,
                    width / 2,
                    self.alpha_channel(),
                );
            }
        }
        Tensor::from_data(
            TensorData::new(values, [batch, self.channels, height, width]),
            device,
        )
    }

    /// The visible channels and alpha of a state, `[B, visible + 1, H, W]` (RGBA by default),
    /// colour premultiplied by alpha as the model keeps it.
    pub fn rgba(&self, state: Tensor<4>) -> Tensor<4> {
        state.narrow(1, 0, self.alpha_channel() + 1)
    }

    /// The state as it looks, `[B, visible, H, W]` clipped to `[0, 1]`: over a white
    /// background, `1 − alpha + colour` (the growing NCA's alpha says where the pattern is);
    /// without alive masking, which gives alpha no such meaning (textures), `colour + 0.5`, as the
    /// textures paper shows its states.
    pub fn over_white(&self, state: Tensor<4>) -> Tensor<4> {
        let colour = state.clone().narrow(1, 0, self.visible_channels);
        if self.is_texture() {
            return (colour + 0.5).clamp(0.0, 1.0);
        }
        let alpha = state.narrow(1, self.alpha_channel(), 1).clamp(0.0, 1.0);
        (colour - alpha + 1.0).clamp(0.0, 1.0)
    }
}
