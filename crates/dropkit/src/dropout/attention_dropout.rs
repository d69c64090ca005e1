//! The three dropouts of the Transformer (Vaswani et al., "Attention Is All You Need", NeurIPS
//! 2017, <https://arxiv.org/abs/1706.03762>, section 5.4), all inverted dropout
//! `y = x * m / (1 - p)`, m ~ Bernoulli(1 - p), keyed by (seed, layer, step):
//!
//! - **attention dropout** (`attention(attn_drop=p)`, `block(attn_drop=p)`): on the attention
//!   probabilities `P' = P * m / (1 - p)`, one mask element per (sample, head, query, key),
//!   applied after the softmax task over the (B, H, T, T) buffer and regenerated from its key
//!   in backward (`dP = dP' * m / (1 - p)`), never stored;
//! - **residual dropout** (`block(resid_drop=p)`): on each sublayer's output before it is added
//!   to the residual stream, `x + dropout(f(LN(x)))`;
//! - **embedding dropout** (`embed(drop=p)`): on the sum of token and position embeddings.
//!
//! Eval: identity, whatever p (unlike PyTorch's `F.scaled_dot_product_attention`, which drops
//! whenever `dropout_p > 0`, in eval too: pytorch#124464). Monte Carlo: a fresh keyed mask per
//! sample, the same mask when a sample is repeated.

use super::catalogue::Entry;
use super::{drop_mask, inverted_scale};
use crate::kernels::mask;
use crate::layer::Ctx;

/// `P' = P * m / (1 - p)` into `dropped` for the layer with stream `id`; a copy when nothing
/// drops in this pass (Eval, or p = 0). Returns whether a mask was applied.
pub fn apply(dropped: &mut [f32], probs: &[f32], ctx: &Ctx, id: u64, p: f32) -> bool {
    match drop_mask(ctx, id, p) {
        Some(k) => {
            mask::apply(dropped, probs, &k, inverted_scale(p));
            true
        }
        None => {
            dropped.copy_from_slice(probs);
            false
        }
    }
}

/// `dP = dP' * m / (1 - p)` into `out`, with the forward pass's mask; false (and `out` left as
/// it is) when the forward pass applied none.
pub fn backward(out: &mut [f32], d_dropped: &[f32], ctx: &Ctx, id: u64, p: f32) -> bool {
    match drop_mask(ctx, id, p) {
        Some(k) => {
            mask::apply(out, d_dropped, &k, inverted_scale(p));
            true
        }
        None => false,
    }
}

pub const INFO: Entry = Entry {
    name: "attn_drop",
    spec: "attention(heads=H, attn_drop=p)`, `block(..., attn_drop=p)",
    description: "attention dropout: inverted dropout on the attention probabilities, mask regenerated in backward; off in eval, keyed per MC sample",
    paper: "Vaswani et al. 2017, NeurIPS",
};

pub const RESIDUAL: Entry = Entry {
    name: "resid_drop",
    spec: "block(..., resid_drop=p)",
    description: "residual dropout: inverted dropout on each sublayer's output before the residual add",
    paper: "Vaswani et al. 2017, NeurIPS",
};

pub const EMBEDDING: Entry = Entry {
    name: "embed_drop",
    spec: "embed(vocab=V, dim=D, context=T, drop=p)",
    description: "embedding dropout: inverted dropout on the sum of token and position embeddings",
    paper: "Vaswani et al. 2017, NeurIPS",
};
