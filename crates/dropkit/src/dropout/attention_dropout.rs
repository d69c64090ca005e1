//! Attention dropout (Vaswani et al., "Attention Is All You Need", NeurIPS 2017,
//! <https://arxiv.org/abs/1706.03762>, section 5.4; `attention(attn_drop=p)`,
//! `block(attn_drop=p)`): inverted dropout on the attention probabilities,
//! `P' = P * m / (1 - p)`, m ~ Bernoulli(1 - p) per (sample, head, query, key), keyed by (seed,
//! layer, step). It is applied in the softmax's task for each (sample, head), and regenerated
//! from its key in backward (`dP = dP' * m / (1 - p)`, [`apply_at`] again), never stored. A
//! dropped probability leaves its row summing to less than 1; the expected sum stays 1.
//!
//! Eval: identity, whatever p (unlike PyTorch's `F.scaled_dot_product_attention`, which drops
//! whenever `dropout_p > 0`, in eval too: pytorch#124464). Monte Carlo: a fresh keyed mask per
//! sample, the same mask when a sample is repeated.

use super::catalogue::Entry;
use super::{drop_mask, inverted_scale};
use crate::kernels::mask;
use crate::layer::Ctx;

/// The mask of this pass for the layer with stream `id` (None in Eval or at p = 0) and its
/// scale.
pub fn key(ctx: &Ctx, id: u64, p: f32) -> (Option<mask::MaskKey>, f32) {
    (drop_mask(ctx, id, p), inverted_scale(p))
}

/// `P' = P * m / (1 - p)` into `dropped` for the part of the probabilities that starts at
/// element `first` (one (sample, head) task, right after its softmax); a copy when nothing
/// drops in this pass.
pub fn apply_at(dropped: &mut [f32], probs: &[f32], key: &(Option<mask::MaskKey>, f32), first: u64) {
    match &key.0 {
        Some(k) => mask::apply_at(dropped, probs, k, key.1, first),
        None => dropped.copy_from_slice(probs),
    }
}

pub const INFO: Entry = Entry {
    name: "attn_drop",
    spec: "attention(heads=H, attn_drop=p)`, `block(..., attn_drop=p)",
    description: "attention dropout: inverted dropout on the attention probabilities, mask regenerated in backward; off in eval, keyed per MC sample",
    paper: "Vaswani et al. 2017, NeurIPS",
};
