//! `Sequential`: layers in order, with an explicit forward and backward pass over them.

pub mod fuse;
pub mod registry;
pub mod spec;

pub use spec::ModelSpec;

use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer, Mode, Param};
use crate::rng::{streams, Stream};
use crate::tensor::Tensor;

/// How a model is built.
#[derive(Clone, Copy, Debug)]
pub struct BuildOptions {
    /// Merge `dense -> relu -> dropout` runs into single fused layers (same results, faster).
    pub fuse: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions { fuse: true }
    }
}

/// A stack of layers trained end to end.
pub struct Sequential {
    layers: Vec<Box<dyn Layer>>,
    nodes: Vec<Node>,
    /// For each spec position: whether its layer's behaviour depends on the mode.
    mode_dependent: Vec<bool>,
    /// The spec text it was built from.
    spec: String,
    input_shape: Vec<usize>,
    output_shape: Vec<usize>,
    seed: u64,
}

/// Where a built layer sits in the spec.
#[derive(Clone, Copy, Debug)]
struct Node {
    /// Its spec position: parameter names (`layers.{index}.weight`) and mask keys use it.
    index: usize,
    /// Spec positions it covers (a fused block covers several).
    len: usize,
    /// The `visit_params` index of its first parameter.
    first_param: usize,
    /// A mode that overrides the model's for this layer.
    mode: Option<Mode>,
    /// Values per sample of its output.
    out_len: usize,
}

/// A named parameter tensor, as in a PyTorch `state_dict` (`layers.0.weight`).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Sequential {
    /// Builds hand-made `layers` (unfused) for samples of `input_shape`, initialising
    /// parameters from `seed`.
    pub fn new(layers: Vec<Box<dyn Layer>>, input_shape: &[usize], seed: u64) -> Result<Self> {
        let spec = layers.iter().map(|l| l.spec()).collect::<Vec<_>>().join(" ");
        let mode_dependent = layers.iter().map(|l| l.is_stochastic()).collect();
        let planned = layers.into_iter().enumerate().map(|(index, layer)| fuse::Planned { layer, index, len: 1 });
        Self::assemble(planned.collect(), mode_dependent, spec, input_shape, seed)
    }

    /// Builds `model` for samples of `input_shape`, initialising parameters from `seed`.
    pub fn from_model_spec(model: &ModelSpec, input_shape: &[usize], seed: u64, options: BuildOptions) -> Result<Self> {
        let planned = fuse::plan(&model.layers, options.fuse)?;
        let mode_dependent = model.layers.iter().map(|c| c.depends_on_mode()).collect();
        Self::assemble(planned, mode_dependent, model.to_string(), input_shape, seed)
    }

    fn assemble(
        planned: Vec<fuse::Planned>,
        mode_dependent: Vec<bool>,
        spec: String,
        input_shape: &[usize],
        seed: u64,
    ) -> Result<Self> {
        if planned.is_empty() {
            return Err(Error::Spec("the model has no layers; try \"dense(512) relu dropout(0.2) dense(10)\"".into()));
        }
        let mut init = Stream::new(seed, streams::INIT, 0);
        let mut shape = input_shape.to_vec();
        let (mut layers, mut nodes) = (Vec::with_capacity(planned.len()), Vec::with_capacity(planned.len()));
        let mut params = 0;
        if planned.last().is_some_and(|p| p.index + p.len > streams::MAX_LAYER_ID as usize) {
            return Err(Error::Spec(format!(
                "the model has more than {} layers; each needs its own random stream",
                streams::MAX_LAYER_ID
            )));
        }
        for fuse::Planned { mut layer, index, len } in planned {
            shape = layer.build(&shape, index as u64, &mut init)?;
            nodes.push(Node { index, len, first_param: params, mode: None, out_len: shape.iter().product() });
            layer.visit_params(&mut |_, _| params += 1);
            layers.push(layer);
        }
        Ok(Sequential {
            layers,
            nodes,
            mode_dependent,
            spec,
            input_shape: input_shape.to_vec(),
            output_shape: shape,
            seed,
        })
    }

    /// Parses `spec` (see [`spec`]) and builds it, fused.
    pub fn from_spec(spec_text: &str, input_shape: &[usize], seed: u64) -> Result<Self> {
        Self::from_spec_with(spec_text, input_shape, seed, BuildOptions::default())
    }

    /// [`Sequential::from_spec`] with explicit build options.
    pub fn from_spec_with(spec_text: &str, input_shape: &[usize], seed: u64, options: BuildOptions) -> Result<Self> {
        Self::from_model_spec(&spec::parse(spec_text)?, input_shape, seed, options)
    }

    /// The model in spec syntax.
    pub fn spec(&self) -> String {
        self.spec.clone()
    }

    /// The run seed that keys masks.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Per-sample input shape.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// Per-sample output shape.
    pub fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// Where the logits are: before a final softmax, which the loss absorbs.
    fn logits_end(&self) -> usize {
        match self.layers.last() {
            Some(l) if l.is_softmax() => self.layers.len() - 1,
            _ => self.layers.len(),
        }
    }

    fn check_input(&self, x: &Tensor) -> Result<()> {
        let want: usize = self.input_shape.iter().product();
        if x.shape().is_empty() || x.cols() != want {
            return Err(Error::Shape {
                context: "model input".into(),
                got: x.shape().to_vec(),
                expected: format!(
                    "(batch, {}) samples",
                    self.input_shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
                ),
            });
        }
        Ok(())
    }

    fn forward_to<'a>(&'a mut self, x: &'a Tensor, ctx: &Ctx, end: usize) -> Result<&'a Tensor> {
        self.forward_span(x, ctx, 0, end)
    }

    /// Index (into [`Sequential::layers`]) of the first layer whose output is random in
    /// Monte Carlo mode; the layers before it give the same output in every pass.
    pub fn first_stochastic(&self) -> Option<usize> {
        self.layers.iter().position(|l| l.is_stochastic())
    }

    /// Number of layers up to the logits (a final softmax excluded).
    pub fn logits_len(&self) -> usize {
        self.logits_end()
    }

    /// Runs layers `start..end` on `x`, the output of layer `start - 1` (or the model input
    /// when `start` is 0).
    pub fn forward_span<'a>(&'a mut self, x: &'a Tensor, ctx: &Ctx, start: usize, end: usize) -> Result<&'a Tensor> {
        if start == 0 {
            self.check_input(x)?;
        }
        let end = end.min(self.layers.len());
        let mut cur = x;
        for (layer, node) in self.layers[start.min(end)..end].iter_mut().zip(&self.nodes[start.min(end)..end]) {
            cur = layer.forward(cur, &node.ctx(ctx))?;
        }
        Ok(cur)
    }

    /// The whole model: `x: (B, input...) -> (B, output...)`.
    pub fn forward<'a>(&'a mut self, x: &'a Tensor, ctx: &Ctx) -> Result<&'a Tensor> {
        let n = self.layers.len();
        self.forward_to(x, ctx, n)
    }

    /// The model up to its logits (a final softmax left out, for the loss).
    pub fn forward_logits<'a>(&'a mut self, x: &'a Tensor, ctx: &Ctx) -> Result<&'a Tensor> {
        let end = self.logits_end();
        self.forward_to(x, ctx, end)
    }

    /// Backpropagates `dlogits` (the gradient at [`Sequential::forward_logits`]'s output)
    /// through the layers, storing every parameter's gradient. Call after `forward_logits` on
    /// the same `x` and `ctx`.
    pub fn backward(&mut self, x: &Tensor, dlogits: &Tensor, ctx: &Ctx) -> Result<()> {
        self.backward_with(x, dlogits, ctx, &mut |_, _| {})
    }

    /// [`Sequential::backward`], calling `on_param(index, param)` for each parameter as soon as
    /// its layer's backward pass is done (the layer no longer needs its weights), so that an
    /// optimizer can update them while they are still in cache.
    pub fn backward_with(
        &mut self,
        x: &Tensor,
        dlogits: &Tensor,
        ctx: &Ctx,
        on_param: &mut dyn FnMut(usize, &mut Param),
    ) -> Result<()> {
        let end = self.logits_end();
        // Layers before the first parameter need no gradient at all.
        let first = match self.layers[..end].iter_mut().position(|l| has_params(l.as_mut())) {
            Some(i) => i,
            None => return Ok(()),
        };
        for i in (first..end).rev() {
            let (before, rest) = self.layers.split_at_mut(i);
            // `rest` is never empty: i < end <= len.
            let Some((layer, after)) = rest.split_first_mut() else { continue };
            let dy = if i + 1 == end { dlogits } else { after[0].input_grad() };
            let input = if i == 0 { x } else { before[i - 1].output() };
            let node = self.nodes[i];
            let layer_ctx = Ctx { input_grad: i > first, ..node.ctx(ctx) };
            layer.backward(input, dy, &layer_ctx)?;
            let mut index = node.first_param;
            layer.visit_params(&mut |_, p| {
                on_param(index, p);
                index += 1;
            });
        }
        Ok(())
    }

    /// Mask memory after a pass: bytes of masks the layers keep, and the elements their
    /// stochastic layers output (what the masks are for).
    pub fn mask_memory(&self) -> (usize, usize) {
        let bytes = self.layers.iter().map(|l| l.mask_bytes()).sum();
        let elements = self.layers.iter().filter(|l| l.is_stochastic()).map(|l| l.output().len()).sum();
        (bytes, elements)
    }

    /// The regularizers of every layer (KL terms, the concrete-dropout term) this training
    /// pass adds to the per-example loss.
    pub fn regularizer(&self, ctx: &Ctx) -> f64 {
        self.layers.iter().zip(&self.nodes).map(|(l, node)| l.regularizer(&node.ctx(ctx))).sum()
    }

    /// Visits every parameter as (`layers.{i}.{name}`, param), in a fixed order.
    pub fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        let mut name = String::new();
        for (layer, node) in self.layers.iter_mut().zip(&self.nodes) {
            let i = node.index;
            layer.visit_params(&mut |local, p| {
                name.clear();
                use std::fmt::Write;
                let _ = write!(name, "layers.{i}.{local}");
                f(&name, p)
            });
        }
    }

    /// Every parameter's name, in `visit_params` order (the index an optimizer sees).
    pub fn param_names(&mut self) -> Vec<String> {
        let mut names = Vec::new();
        self.visit_params(&mut |name, _| names.push(name.to_string()));
        names
    }

    /// After a forward pass: the first layer whose output holds a NaN or an infinity, as
    /// `layer {i} ({spec})`. For saying where a non-finite loss came from.
    pub fn first_nonfinite_output(&self) -> Option<String> {
        let end = self.logits_end();
        let (layer, node) = self.layers[..end]
            .iter()
            .zip(&self.nodes)
            .find(|(l, _)| l.output().data().iter().any(|v| !v.is_finite()))?;
        Some(format!("layer {} ({})", node.index, layer.spec()))
    }

    /// About how many bytes a pass over `batch` samples needs: each layer's output and input
    /// gradient, and each parameter with its gradient and two optimizer moments.
    pub fn memory_estimate(&mut self, batch: usize) -> u64 {
        let activations: u64 = self.nodes.iter().map(|n| n.out_len as u64 * batch as u64 * 4 * 2).sum();
        activations + self.num_params() as u64 * 4 * 4
    }

    /// Total number of trainable scalars.
    pub fn num_params(&mut self) -> usize {
        let mut n = 0;
        self.visit_params(&mut |_, p| n += p.value.len());
        n
    }

    /// Overrides the mode of the layer at spec position `index` (e.g. Monte Carlo on the last
    /// dropout only); None returns it to the model's mode. Only layers that depend on the mode
    /// (dropout of any kind) can be addressed.
    pub fn set_layer_mode(&mut self, index: usize, mode: Option<Mode>) -> Result<()> {
        let n = self.mode_dependent.len();
        if index >= n {
            return Err(Error::InvalidArgument(format!(
                "layer {index} does not exist; the model has {n} layers (0..{n})"
            )));
        }
        let covers = |node: &Node| (node.index..node.index + node.len).contains(&index);
        let Some(k) = self.nodes.iter().position(covers) else {
            return Err(Error::InvalidArgument(format!("layer {index} was not built")));
        };
        if !self.mode_dependent[index] {
            return Err(Error::InvalidArgument(format!(
                "layer {index} (in {}) does not depend on the mode; pick a dropout layer",
                self.layers[k].spec()
            )));
        }
        self.nodes[k].mode = mode;
        Ok(())
    }

    /// Sets the mode of every layer that depends on it (dropout of any kind) to `mode`, or back
    /// to the model's (None): early and late dropout turn dropout off with `Some(Mode::Eval)`.
    pub fn set_dropout_mode(&mut self, mode: Option<Mode>) {
        for node in &mut self.nodes {
            if self.mode_dependent.get(node.index..node.index + node.len).is_some_and(|m| m.iter().any(|&d| d)) {
                node.mode = mode;
            }
        }
    }

    /// Visits every parameter value and buffer (the model's saved state) by `state_dict` name.
    fn visit_state(&mut self, f: &mut dyn FnMut(&str, &mut Tensor)) {
        let mut name = String::new();
        for (layer, node) in self.layers.iter_mut().zip(&self.nodes) {
            let i = node.index;
            let mut named = |local: &str, t: &mut Tensor| {
                name.clear();
                use std::fmt::Write;
                let _ = write!(name, "layers.{i}.{local}");
                f(&name, t)
            };
            layer.visit_params(&mut |local, p| named(local, &mut p.value));
            layer.visit_buffers(&mut named);
        }
    }

    /// The parameters and buffers by PyTorch `state_dict` names.
    pub fn state_dict(&mut self) -> Vec<NamedTensor> {
        let mut out = Vec::new();
        self.visit_state(&mut |name, t| {
            out.push(NamedTensor { name: name.to_string(), shape: t.shape().to_vec(), data: t.data().to_vec() })
        });
        out
    }

    /// Loads parameters and buffers by name; each must be present with its exact shape.
    pub fn load_state_dict(&mut self, tensors: &[NamedTensor]) -> Result<()> {
        let mut missing = Vec::new();
        let mut error = None;
        self.visit_state(&mut |name, value| match tensors.iter().find(|t| t.name == name) {
            None => missing.push(name.to_string()),
            Some(t) if t.shape != value.shape() || t.data.len() != value.len() => {
                error.get_or_insert_with(|| Error::Shape {
                    context: format!("loading {name}"),
                    got: t.shape.clone(),
                    expected: format!("{:?} (the model spec must match the saved model)", value.shape()),
                });
            }
            Some(t) => value.data_mut().copy_from_slice(&t.data),
        });
        if let Some(e) = error {
            return Err(e);
        }
        if !missing.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "saved weights lack {}; were they written for a different model spec?",
                missing.join(", ")
            )));
        }
        Ok(())
    }
}

impl Node {
    /// The context this layer runs in: the model's, in this layer's mode if it overrides it.
    fn ctx(&self, model: &Ctx) -> Ctx {
        match self.mode {
            Some(mode) => Ctx { mode, ..*model },
            None => *model,
        }
    }
}

fn has_params(layer: &mut dyn Layer) -> bool {
    let mut any = false;
    layer.visit_params(&mut |_, _| any = true);
    any
}
