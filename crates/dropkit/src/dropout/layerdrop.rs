//! LayerDrop (Fan, Grave, Joulin, "Reducing Transformer Depth on Demand with Structured
//! Dropout", ICLR 2020, <https://arxiv.org/abs/1909.11556>): whole transformer blocks skipped.
//!
//! In training, each block is skipped with probability p for the whole batch of a step
//! (`y = x`, one draw per (block, step), as fairseq draws per forward pass); a skipped block
//! gets no gradient (its parameters' gradients are 0 for that step). There is no rescaling.
//! Eval: every block, unless the model is pruned (`blocks(n, layer_drop=p, keep_every=k)`):
//! then only every k-th block runs at inference, the paper's "every other" pruning
//! ([`pruned`]). Monte Carlo: a fresh draw per block per sample (pruned blocks stay out).

use super::catalogue::Entry;
use super::mask_key;
use crate::layer::Ctx;

/// Whether the block with stream `id` is skipped in this pass, for a LayerDrop rate `p`.
pub fn skips(ctx: &Ctx, id: u64, p: f64) -> bool {
    p > 0.0 && mask_key(ctx, id, 1.0 - p).is_some_and(|k| !k.keeps(0))
}

/// Whether block `k` (0-based) is pruned at inference when only every `every`-th block is kept:
/// blocks 0, every, 2 every, ... stay.
pub fn pruned(k: usize, every: usize) -> bool {
    every > 1 && !k.is_multiple_of(every)
}

pub const INFO: Entry = Entry {
    name: "layer_drop",
    spec: "block(..., layer_drop=p)`, `blocks(n, ..., layer_drop=p, keep_every=k)",
    description:
        "LayerDrop: whole blocks skipped per training step; all blocks at eval, or every k-th block when pruned",
    paper: "Fan et al. 2020, ICLR",
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::Mode;

    #[test]
    fn blocks_skip_at_the_rate_in_training_and_never_in_eval() {
        let skipped = (0..4000).filter(|&s| skips(&Ctx::new(Mode::Train, 7, s), 3, 0.3)).count();
        assert!((1000..1400).contains(&skipped), "{skipped} of 4000");
        assert!((0..100).all(|s| !skips(&Ctx::new(Mode::Eval, 7, s), 3, 0.9)));
        assert!((0..100).all(|s| !skips(&Ctx::new(Mode::Train, 7, s), 3, 0.0)));
        assert!((0..100).all(|s| skips(&Ctx::new(Mode::Train, 7, s), 3, 1.0)));
        assert_eq!((0..6).filter(|&k| !pruned(k, 2)).collect::<Vec<_>>(), vec![0, 2, 4]);
    }
}
