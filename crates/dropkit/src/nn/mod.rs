//! Layers: dense, activations, softmax. Each file keeps a layer's forward and backward side by
//! side, with the shape of every buffer.

pub mod activation;
pub mod batchnorm;
pub mod conv;
pub mod flatten;
pub mod linear;
pub mod pool;
pub mod residual;
pub mod softmax;

pub use activation::{Activation, ActivationKind};
pub use batchnorm::BatchNorm;
pub use conv::Conv;
pub use flatten::Flatten;
pub use linear::Linear;
pub use pool::{Pool, PoolKind};
pub use residual::Residual;
pub use softmax::Softmax;

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Checks that `x` has the per-sample shape a layer was built for.
pub(crate) fn check_input(x: &Tensor, features: usize, layer: impl FnOnce() -> String) -> Result<()> {
    if x.shape().is_empty() || x.cols() != features {
        return Err(Error::Shape {
            context: layer(),
            got: x.shape().to_vec(),
            expected: format!("(batch, {features}) or a shape with {features} features per sample"),
        });
    }
    Ok(())
}
pub mod fused;
