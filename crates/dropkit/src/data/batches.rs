//! Minibatch order: a seeded shuffle per epoch (stream `SHUFFLE`, step = epoch), so any epoch's
//! order can be recomputed, e.g. on resume, without replaying earlier ones.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::rng::{streams, Stream};

/// Fills `order` with a permutation of `0..n` for `epoch` of run `seed`.
pub fn epoch_order(seed: u64, epoch: u64, n: usize, order: &mut Vec<usize>) {
    order.clear();
    order.extend(0..n);
    Stream::new(seed, streams::SHUFFLE, epoch).shuffle(order);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_seeded_permutations_that_change_per_epoch() {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        epoch_order(1, 0, 100, &mut a);
        epoch_order(1, 0, 100, &mut b);
        epoch_order(1, 1, 100, &mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
        c.sort();
        assert_eq!(c, (0..100).collect::<Vec<_>>());
    }
}
