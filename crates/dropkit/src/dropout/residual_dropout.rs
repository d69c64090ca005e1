//! Residual dropout (Vaswani et al., "Attention Is All You Need", NeurIPS 2017,
//! <https://arxiv.org/abs/1706.03762>, section 5.4; `block(resid_drop=p)`): inverted dropout on
//! the output of each sublayer before it is added to the residual stream,
//! `x + f(LN(x)) * m / (1 - p)`, m ~ Bernoulli(1 - p) per element, keyed by (seed, layer, step):
//! the block's branches end with a `dropout(p)` layer ([`super::standard`]), whose mask the
//! backward pass regenerates (`df = dy * m / (1 - p)`; the skip path passes `dy` unchanged).
//! Eval: `x + f(LN(x))`. Monte Carlo: a fresh keyed mask per sample.

pub const INFO: super::catalogue::Entry = super::catalogue::Entry {
    name: "resid_drop",
    spec: "block(..., resid_drop=p)",
    description: "residual dropout: inverted dropout on each sublayer's output before the residual add",
    paper: "Vaswani et al. 2017, NeurIPS",
};
