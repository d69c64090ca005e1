//! The `Layer` trait every layer and dropout variant implements, and the context of a pass.

use crate::error::Result;
use crate::rng::Stream;
use crate::tensor::Tensor;

/// What a pass is for. Explicit, never inferred.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// Training: fresh masks every step, gradients flow.
    #[default]
    Train,
    /// Inference: deterministic; dropout applies its eval rule.
    Eval,
    /// Monte Carlo inference: masks on, independent per `sample`, no gradients.
    MonteCarlo { sample: u64 },
}

/// Per-pass context shared by all layers.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    /// The mode of this pass (the model's, or a layer's override: see
    /// [`Sequential::set_layer_mode`](crate::model::Sequential::set_layer_mode)).
    pub mode: Mode,
    /// The run seed: with the layer id it keys every mask.
    pub seed: u64,
    /// The optimizer step (training) that picks this pass's masks.
    pub step: u64,
    /// Whether the backward pass must produce the gradient of the input (false for the first
    /// layer that has parameters: nothing upstream needs it).
    pub input_grad: bool,
    /// Training examples per epoch (0 outside training): layers with a KL or other per-dataset
    /// regularizer add `term / data_size` to the per-example loss.
    pub data_size: usize,
    /// The fraction of training done before this step, in [0, 1) (0 outside training): for
    /// rates scheduled over training (DropHead's).
    pub progress: f32,
}

impl Ctx {
    /// A context for `mode` at `step` of run `seed`.
    pub fn new(mode: Mode, seed: u64, step: u64) -> Self {
        Ctx { mode, seed, step, input_grad: true, data_size: 0, progress: 0.0 }
    }
}

/// How the optimizer treats a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A weight matrix (out, in...): L2 decay and max-norm on each row (a unit's fan-in).
    Weight,
    /// A bias or other vector: no decay, no constraint.
    Bias,
}

/// A trainable tensor and its gradient.
#[derive(Clone, Debug)]
pub struct Param {
    pub value: Tensor,
    pub grad: Tensor,
    pub kind: ParamKind,
}

/// Most scalars one parameter tensor may hold (2^28: 1 GiB of f32, 4 GiB with its gradient and
/// Adam's moments). A spec asking for more is almost surely a typo, and would exhaust memory.
pub const MAX_PARAM_LEN: usize = 1 << 28;

impl Param {
    /// A zero parameter of `shape`.
    pub fn zeros(shape: &[usize], kind: ParamKind) -> Self {
        Param { value: Tensor::zeros(shape), grad: Tensor::zeros(shape), kind }
    }

    /// A zero parameter of `shape` for the layer `spec`, refused when larger than [`MAX_PARAM_LEN`].
    pub fn checked(shape: &[usize], kind: ParamKind, spec: &str) -> crate::Result<Self> {
        let len = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).filter(|&n| n <= MAX_PARAM_LEN);
        match len {
            Some(_) => Ok(Param::zeros(shape, kind)),
            None => Err(crate::Error::InvalidArgument(format!(
                "{spec}: a parameter of shape {shape:?} is larger than the limit of {MAX_PARAM_LEN} values; use fewer units"
            ))),
        }
    }
}

/// A network layer with an explicit forward and backward pass.
///
/// A layer owns its output and input-gradient buffers; they are allocated on the first pass
/// and reused (resized within capacity when the batch shrinks), so steps do not allocate.
pub trait Layer: Send {
    /// The layer in model-spec syntax, e.g. `dense(512)` or `dropout(0.2)`.
    fn spec(&self) -> String;

    /// Fixes the per-sample input shape, allocates and initialises parameters from `init`,
    /// and returns the per-sample output shape. `id` keys the layer's random streams.
    fn build(&mut self, input: &[usize], id: u64, init: &mut Stream) -> Result<Vec<usize>>;

    /// `x: (B, input...) -> y: (B, output...)`.
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor>;

    /// The output of the last forward pass.
    fn output(&self) -> &Tensor;

    /// The input gradient of the last backward pass.
    fn input_grad(&self) -> &Tensor;

    /// Given the forward input `x` and `dy = dL/dy`, stores parameter gradients and returns
    /// `dL/dx` (left stale when `ctx.input_grad` is false).
    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor>;

    /// Visits the parameters in a fixed order with their PyTorch-style names.
    fn visit_params(&mut self, _f: &mut dyn FnMut(&str, &mut Param)) {}

    /// Visits state that is saved with the weights but not trained (PyTorch buffers, e.g.
    /// batch norm's `running_mean`).
    fn visit_buffers(&mut self, _f: &mut dyn FnMut(&str, &mut Tensor)) {}

    /// True for a final softmax, which training fuses into the cross-entropy loss.
    fn is_softmax(&self) -> bool {
        false
    }

    /// True when the output depends on random masks in Train/MonteCarlo mode.
    fn is_stochastic(&self) -> bool {
        false
    }

    /// The term this layer adds to the per-example training loss in this pass (e.g. a KL term
    /// over the training-set size, `ctx.data_size`); 0 outside training.
    fn regularizer(&self, _ctx: &Ctx) -> f64 {
        0.0
    }

    /// Bytes of mask (or noise) this layer keeps between its forward and backward pass; 0 for
    /// layers that regenerate their masks from the key.
    fn mask_bytes(&self) -> usize {
        0
    }

    /// What training learned that a user should see (e.g. a learned dropout rate), printed
    /// after training.
    fn summary(&self) -> Option<String> {
        None
    }
}

/// `output()` and `input_grad()` for a layer whose output and input gradient are its fields
/// `y` and `dx` (most layers).
macro_rules! buffers {
    () => {
        fn output(&self) -> &$crate::tensor::Tensor {
            &self.y
        }

        fn input_grad(&self) -> &$crate::tensor::Tensor {
            &self.dx
        }
    };
}
pub(crate) use buffers;

/// Checks that `x` has the per-sample size a layer was built for; `layer` names it (built only
/// on error, so passes do not allocate).
pub(crate) fn check_input(x: &Tensor, features: usize, layer: impl FnOnce() -> String) -> Result<()> {
    if x.shape().is_empty() || x.cols() != features {
        return Err(crate::Error::Shape {
            context: layer(),
            got: x.shape().to_vec(),
            expected: format!("(batch, {features}) or a shape with {features} features per sample"),
        });
    }
    Ok(())
}
