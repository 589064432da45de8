//! Tensors read back to the host.

use burn::tensor::Tensor;

/// A tensor's values on the host as `f32`, in row-major order, whatever its device, element type
/// or autodiff wrapping.
pub fn host_values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .without_autodiff()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 after convert")
}
