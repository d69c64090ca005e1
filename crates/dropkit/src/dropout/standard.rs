//! Standard dropout (Srivastava, Hinton, Krizhevsky, Sutskever, Salakhutdinov, "Dropout: a
//! simple way to prevent neural networks from overfitting", JMLR 2014,
//! <https://jmlr.org/papers/v15/srivastava14a.html>).
//!
//! Drops: individual units, each independently, `m_i ~ Bernoulli(1 - p)`.
//! - Inverted (default, PyTorch/Keras): train `y = x * m / (1 - p)`; eval `y = x`.
//! - Classic (the paper's form): train `y = x * m`; eval `y = x * (1 - p)` (weight scaling).
//!
//! Backward: `dx = dy * m * scale`, the mask regenerated from its key. Monte Carlo: a fresh
//! mask per sample, scaled as in training. `p = 1` gives zeros and zero gradient.

use super::{drop_mask, inverted_scale, plain_kind, same_op_passes, validate_p};
use crate::error::Result;
use crate::kernels::{mask, par_zip};
use crate::layer::{Ctx, Layer, Mode};
use crate::rng::Stream;
use crate::tensor::Tensor;

/// Where dropout puts its `1 / (1 - p)` correction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scaling {
    /// Scale kept units by `1 / (1 - p)` in training; identity at eval.
    Inverted,
    /// No scaling in training; multiply by `1 - p` at eval.
    Classic,
}

/// Dropout of individual units.
///
/// Args: `p`, the drop probability in [0, 1]; `scaling`, inverted (default) or classic.
/// Shape: any; the output has the input's shape.
///
/// ```
/// use dropkit::dropout::{Dropout, Scaling};
/// let layer = Dropout::new(0.5, Scaling::Inverted).unwrap();
/// assert!(Dropout::new(1.5, Scaling::Inverted).is_err());
/// ```
pub struct Dropout {
    p: f32,
    scaling: Scaling,
    id: u64,
    y: Tensor,
    dx: Tensor,
}

impl Dropout {
    /// Dropout with drop probability `p`.
    pub fn new(p: f64, scaling: Scaling) -> Result<Self> {
        let name = if scaling == Scaling::Classic { "classic_dropout" } else { "dropout" };
        let p = validate_p(name, p)?;
        Ok(Dropout { p, scaling, id: 0, y: Tensor::default(), dx: Tensor::default() })
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }

    /// Where the `1 / (1 - p)` correction goes.
    pub fn scaling(&self) -> Scaling {
        self.scaling
    }

    /// The factor applied to kept units in a stochastic pass.
    pub fn keep_scale(&self) -> f32 {
        match self.scaling {
            Scaling::Inverted => inverted_scale(self.p),
            Scaling::Classic => 1.0,
        }
    }

    /// The factor applied to every unit in eval mode.
    pub fn eval_scale(&self) -> f32 {
        match self.scaling {
            Scaling::Inverted => 1.0,
            Scaling::Classic => 1.0 - self.p,
        }
    }

    /// The mask this pass uses, or None when the pass is deterministic (eval mode or p = 0).
    pub fn mask_for(&self, ctx: &Ctx) -> Option<crate::kernels::mask::MaskKey> {
        drop_mask(ctx, self.id, self.p)
    }

    /// The factor a deterministic pass applies: the eval rule in eval mode, 1 otherwise.
    pub fn deterministic_scale(&self, ctx: &Ctx) -> f32 {
        if ctx.mode == Mode::Eval {
            self.eval_scale()
        } else {
            1.0
        }
    }

    /// `out = src * mask * scale` (stochastic) or `out = src * eval_scale` (eval).
    fn apply(&self, out: &mut Tensor, src: &Tensor, ctx: &Ctx) {
        out.resize(src.shape());
        match self.mask_for(ctx) {
            Some(key) => mask::apply(out.data_mut(), src.data(), &key, self.keep_scale()),
            None => {
                let s = self.deterministic_scale(ctx);
                par_zip(out.data_mut(), src.data(), |o, x, _| o.iter_mut().zip(x).for_each(|(o, &x)| *o = x * s));
            }
        }
    }
}

impl Layer for Dropout {
    fn spec(&self) -> String {
        match self.scaling {
            Scaling::Inverted => format!("dropout({})", self.p),
            Scaling::Classic => format!("classic_dropout({})", self.p),
        }
    }

    crate::layer::buffers!();

    fn build(&mut self, input: &[usize], id: u64, _init: &mut Stream) -> Result<Vec<usize>> {
        self.id = id;
        Ok(input.to_vec())
    }

    // y = x * m * scale; dx = dy * m * scale.
    same_op_passes!();

    fn is_stochastic(&self) -> bool {
        self.p > 0.0
    }
}

plain_kind!(
    INVERTED,
    ["dropout"],
    "inverted dropout: train `y = x * m / (1 - p)`, eval `y = x`",
    "Srivastava et al. 2014, JMLR 15",
    |p| Ok(Box::new(Dropout::new(p, Scaling::Inverted)?))
);

plain_kind!(
    CLASSIC,
    ["classic_dropout"],
    "the 2014 paper's form: train `y = x * m`, eval `y = x * (1 - p)` (weight scaling)",
    "Srivastava et al. 2014, JMLR 15",
    |p| Ok(Box::new(Dropout::new(p, Scaling::Classic)?))
);
