//! Layers: dense, activations, softmax. Each file keeps a layer's forward and backward side by
//! side, with the shape of every buffer.

pub mod activation;
pub mod attention;
pub mod batchnorm;
pub mod block;
pub mod chain;
pub mod conv;
pub mod embed;
pub mod flatten;
pub mod gelu;
pub mod layernorm;
pub mod linear;
pub mod patches;
pub mod pool;
pub mod position;
pub mod positionwise;
pub mod residual;
pub mod seqmean;
pub mod softmax;

pub use activation::{Activation, ActivationKind};
pub use attention::Attention;
pub use batchnorm::BatchNorm;
pub use conv::Conv;
pub use flatten::Flatten;
pub use gelu::Gelu;
pub use layernorm::LayerNorm;
pub use linear::Linear;
pub use pool::{Pool, PoolKind};
pub use residual::Residual;
pub use softmax::Softmax;
