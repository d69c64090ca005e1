//! The pre-LayerNorm transformer block (GPT-2; Xiong et al. 2020), and `blocks(n, ...)`, a
//! stack of them with the depth rules of stochastic depth, DropKey and LayerDrop:
//!
//! `h = x + droppath(dropout(attention(LN(x))))`, `y = h + droppath(dropout(W2 gelu(W1 LN(h))))`
//!
//! Shapes: x (B, T, D) -> y (B, T, D); W1 (mlp, D), W2 (D, mlp). `attn_drop` drops attention
//! probabilities, `resid_drop` each branch's output (Vaswani et al. 2017), `drop_path` whole
//! branches per sample (stochastic depth), `layer_drop` the whole block per step (LayerDrop),
//! `drop_key` keys before the softmax (DropKey), `drop_head` whole heads (DropHead); see each
//! in `dropout/`. Parameters: `attn.branch.{0: ln, 1: attention}.*`, `mlp.branch.{0: ln, 1:
//! fc1, 3: fc2}.*`.

use super::attention::{Attention, AttentionConfig};
use super::chain::{Chain, Skip};
use super::gelu::Gelu;
use super::layernorm::LayerNorm;
use super::positionwise::PositionwiseDense;
use super::residual::Residual;
use crate::dropout::{dropkey, layerdrop, stochastic_depth, Dropout, NoiseShapeDropout, Scaling};
use crate::error::{Error, Result};
use crate::kind::{Call, Configs, LayerConfig, LayerKind};
use crate::layer::{Ctx, Layer, Param};
use crate::rng::Stream;
use crate::tensor::Tensor;
use std::fmt;

/// `block(heads=H, mlp=M, causal, attn_drop=p, resid_drop=p, ...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockConfig {
    pub heads: usize,
    /// Width of the MLP's hidden layer (0: four times the model width, as GPT-2).
    pub mlp: usize,
    pub causal: bool,
    pub attn_drop: f64,
    pub resid_drop: f64,
    pub drop_path: f64,
    pub layer_drop: f64,
    pub drop_key: f64,
    pub drop_head: f64,
    /// Left out at inference (LayerDrop's pruning).
    pub pruned: bool,
}

impl BlockConfig {
    /// The optional rates, by spec name.
    fn extras(&self) -> [(&'static str, f64); 4] {
        [
            ("drop_path", self.drop_path),
            ("layer_drop", self.layer_drop),
            ("drop_key", self.drop_key),
            ("drop_head", self.drop_head),
        ]
    }

    fn validate(&self) -> Result<()> {
        if self.heads == 0 {
            return Err(Error::Spec("block: heads must be at least 1, e.g. heads=4".into()));
        }
        let rates = [("attn_drop", self.attn_drop), ("resid_drop", self.resid_drop)].into_iter().chain(self.extras());
        for (name, p) in rates {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::Spec(format!("block: {name}={p} must be in [0, 1], e.g. 0.1")));
            }
        }
        Ok(())
    }

    /// The block's two residual branches for width `d`.
    fn chain(&self, d: usize) -> Result<Chain> {
        let mlp = if self.mlp == 0 { 4 * d } else { self.mlp };
        let attention = AttentionConfig {
            heads: self.heads,
            causal: self.causal,
            attn_drop: self.attn_drop,
            drop_key: self.drop_key,
            drop_head: self.drop_head,
        };
        let attn: Vec<Box<dyn Layer>> = vec![Box::new(LayerNorm::new(1e-5)), Box::new(Attention::new(attention)?)];
        let fc: Vec<Box<dyn Layer>> = vec![
            Box::new(LayerNorm::new(1e-5)),
            Box::new(PositionwiseDense::new(mlp)),
            Box::new(Gelu::default()),
            Box::new(PositionwiseDense::new(d)),
        ];
        let branch = |mut layers: Vec<Box<dyn Layer>>| -> Result<Box<dyn Layer>> {
            if self.resid_drop > 0.0 {
                layers.push(Box::new(Dropout::new(self.resid_drop, Scaling::Inverted)?));
            }
            if self.drop_path > 0.0 {
                layers.push(Box::new(NoiseShapeDropout::per_sample(self.drop_path)?));
            }
            Ok(Box::new(Residual::new(layers, "block branch")?))
        };
        let skip = Skip { rate: self.layer_drop, pruned: self.pruned };
        Ok(Chain::new(vec![("attn", branch(attn)?), ("mlp", branch(fc)?)], self.to_string(), skip))
    }
}

impl fmt::Display for BlockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "block(heads={}", self.heads)?;
        if self.mlp > 0 {
            write!(f, ", mlp={}", self.mlp)?;
        }
        if self.causal {
            f.write_str(", causal")?;
        }
        write!(f, ", attn_drop={}, resid_drop={}", self.attn_drop, self.resid_drop)?;
        for (name, p) in self.extras() {
            if p > 0.0 {
                write!(f, ", {name}={p}")?;
            }
        }
        if self.pruned {
            f.write_str(", pruned")?;
        }
        f.write_str(")")
    }
}

impl LayerConfig for BlockConfig {
    fn kind(&self) -> &'static LayerKind {
        &BLOCK
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        self.validate()?;
        Ok(Box::new(Block { config: self.clone(), chain: None }))
    }
    /// The attention and residual dropout rates, and the others when they are used.
    fn rates_mut(&mut self) -> Vec<&mut f64> {
        let mut rates = vec![&mut self.attn_drop, &mut self.resid_drop];
        let extras = [&mut self.drop_path, &mut self.layer_drop, &mut self.drop_key, &mut self.drop_head];
        rates.extend(extras.into_iter().filter(|p| **p > 0.0));
        rates
    }
    fn depends_on_mode(&self) -> bool {
        true
    }
}

/// A block: its chain is made when the width is known.
struct Block {
    config: BlockConfig,
    chain: Option<Chain>,
}

impl Block {
    fn chain(&mut self) -> Result<&mut Chain> {
        self.chain.as_mut().ok_or_else(|| Error::Spec(format!("{} is used before it is built", self.config)))
    }
}

impl Layer for Block {
    fn spec(&self) -> String {
        self.config.to_string()
    }
    fn output(&self) -> &Tensor {
        self.chain.as_ref().map_or(&EMPTY, |c| c.output())
    }
    fn input_grad(&self) -> &Tensor {
        self.chain.as_ref().map_or(&EMPTY, |c| c.input_grad())
    }
    fn build(&mut self, input: &[usize], id: u64, init: &mut Stream) -> Result<Vec<usize>> {
        let &[_, d] = input else {
            return Err(Error::Spec(format!(
                "{}: takes sequences (T, D), got samples of {input:?}; put it after embed(...) or patches(...)",
                self.config
            )));
        };
        let mut chain = self.config.chain(d)?;
        let shape = chain.build(input, id, init)?;
        self.chain = Some(chain);
        Ok(shape)
    }
    // x: (B, T, D) -> y: (B, T, D)
    fn forward(&mut self, x: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        self.chain()?.forward(x, ctx)
    }
    fn backward(&mut self, x: &Tensor, dy: &Tensor, ctx: &Ctx) -> Result<&Tensor> {
        self.chain()?.backward(x, dy, ctx)
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(&str, &mut Param)) {
        if let Some(c) = self.chain.as_mut() {
            c.visit_params(f)
        }
    }
    fn is_stochastic(&self) -> bool {
        self.chain.as_ref().is_some_and(|c| c.is_stochastic())
    }
}

static EMPTY: Tensor = Tensor::empty();

/// Parses `key=value` and flag arguments into a block config (`first` is where they start).
fn parse_block(call: &Call, first: usize) -> Result<BlockConfig> {
    let usage = "block(heads=4, mlp=512, causal, attn_drop=0.1, resid_drop=0.1, drop_path=0.1, layer_drop=0.1, drop_key=0.1, drop_head=0.1, pruned)";
    let mut c = BlockConfig {
        heads: 1,
        mlp: 0,
        causal: false,
        attn_drop: 0.0,
        resid_drop: 0.0,
        drop_path: 0.0,
        layer_drop: 0.0,
        drop_key: 0.0,
        drop_head: 0.0,
        pruned: false,
    };
    for arg in call.args.iter().skip(first) {
        let rate = |v: &str| -> Result<f64> {
            v.parse()
                .ok()
                .filter(|p: &f64| !p.is_nan())
                .ok_or_else(|| call.error(format!("'{arg}': {v} is not a number; {usage}")))
        };
        let whole = |v: &str| -> Result<usize> {
            v.parse().map_err(|_| call.error(format!("'{arg}': {v} is not a whole number; {usage}")))
        };
        match arg.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("heads", v)) => c.heads = whole(v)?,
            Some(("mlp", v)) => c.mlp = whole(v)?,
            Some(("attn_drop", v)) => c.attn_drop = rate(v)?,
            Some(("resid_drop", v)) => c.resid_drop = rate(v)?,
            Some(("drop_path", v)) => c.drop_path = rate(v)?,
            Some(("layer_drop", v)) => c.layer_drop = rate(v)?,
            Some(("drop_key", v)) => c.drop_key = rate(v)?,
            Some(("drop_head", v)) => c.drop_head = rate(v)?,
            None if *arg == "causal" => c.causal = true,
            None if *arg == "pruned" => c.pruned = true,
            _ => return Err(call.error(format!("unknown argument '{arg}'; {usage}"))),
        }
    }
    c.validate().map_err(|e| call.error(e.to_string().trim_start_matches("model spec: ")))?;
    Ok(c)
}

pub const BLOCK: LayerKind = LayerKind {
    names: &["block", "transformer_block"],
    usage: "block(heads=H, mlp=M, causal, attn_drop=p, resid_drop=p)`, also `drop_path=p, layer_drop=p, drop_key=p, drop_head=p, pruned",
    example: "block(heads=2, mlp=16, causal, attn_drop=0.1, resid_drop=0.1)",
    summary: "a pre-LayerNorm transformer block over (T, D): attention and a GELU MLP, each residual, with every attention-era dropout",
    paper: "Vaswani et al. 2017, NeurIPS; Radford et al. 2019 (GPT-2)",
    dropout: None,
    parse: |call| Ok(vec![Box::new(parse_block(call, 0)?)]),
};

/// `blocks(n, ...)`: n blocks, block k of n with drop path `linear_rate(drop_path, k, n)`, DropKey
/// `depth_rate(drop_key, k, n)`, and with `keep_every=e` all but every e-th block pruned.
fn parse_blocks(call: &Call) -> Result<Configs> {
    let n = call.positive(0, "the number of blocks")?;
    let keep_every =
        match call.args.iter().find_map(|a| a.strip_prefix("keep_every=")) {
            Some(v) => v.trim().parse::<usize>().ok().filter(|&k| k > 0).ok_or_else(|| {
                call.error(format!("keep_every={v} must be a positive whole number, e.g. keep_every=2"))
            })?,
            None => 1,
        };
    let rest: Vec<&str> = call.args.iter().skip(1).copied().filter(|a| !a.starts_with("keep_every=")).collect();
    let inner = Call { args: rest, ..*call };
    let base = parse_block(&inner, 0)?;
    Ok((0..n)
        .map(|k| {
            Box::new(BlockConfig {
                drop_path: stochastic_depth::linear_rate(base.drop_path, k, n),
                drop_key: dropkey::depth_rate(base.drop_key, k, n),
                pruned: layerdrop::pruned(k, keep_every),
                ..base.clone()
            }) as Box<dyn LayerConfig>
        })
        .collect())
}

pub const BLOCKS: LayerKind = LayerKind {
    names: &["blocks"],
    usage: "blocks(n, heads=H, mlp=M, ..., drop_path=p, drop_key=p, layer_drop=p, keep_every=k)",
    example: "blocks(2, heads=2, mlp=16, causal, drop_path=0.1)",
    summary: "n transformer blocks; drop_path rises linearly 0 to p over them (stochastic depth), drop_key falls from p, keep_every=k prunes to every k-th block at inference",
    paper: "Huang et al. 2016, ECCV; Li et al. 2023, CVPR; Fan et al. 2020, ICLR",
    dropout: None,
    parse: parse_blocks,
};
