//! The dropout variants that are not layers of their own: rates inside attention and
//! transformer blocks, and training options. `dropkit variants` lists them after the layer
//! kinds of the registry; each has its own file with its formula, eval rule and MC rule.

/// One variant that lives inside another layer or in the training loop.
pub struct Entry {
    pub name: &'static str,
    /// How to use it.
    pub spec: &'static str,
    pub description: &'static str,
    pub paper: &'static str,
}

/// Every such variant, in the order `dropkit variants` lists them.
pub const ENTRIES: &[&Entry] = &[
    &super::attention_dropout::INFO,
    &super::residual_dropout::INFO,
    &super::embed_dropout::INFO,
    &super::dropkey::INFO,
    &super::drophead::INFO,
    &super::layerdrop::INFO,
    &super::stochastic_depth::INFO,
    &super::rdrop::INFO,
    &super::schedule::INFO,
];
