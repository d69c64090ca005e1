//! Philox4x32-10 counter-based random numbers (Salmon et al., "Parallel random numbers: as easy
//! as 1, 2, 3", SC 2011, <https://www.thesalmons.org/john/random123/papers/random123sc11.pdf>).
//!
//! A Philox output is a pure function of a 64-bit key and a 128-bit counter, so any element's
//! random number can be computed independently: masks are reproducible on every machine, for any
//! thread count, and can be regenerated in the backward pass instead of stored.
//!
//! dropkit's convention: key = [`key_for`]`(seed, stream)`, where the stream is a layer id or a
//! named purpose (shuffling, initialisation); counter = (element block lo, element block hi,
//! step lo, step hi | tag). Each counter yields 4 u32 words, so element `i` reads word `i % 4`
//! of block `i / 4`.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Every random stream of a run, by purpose. A stream id and the seed make a Philox key
/// ([`key_for`]); the counter's upper half says which pass ([`counters`](super::counters)). Two purposes never
/// share a (key, counter) range: a test builds a model of every layer kind and checks it.
///
/// - Layer masks (dropout of every kind, Gaussian noise, concrete relaxations, variational
///   noise): the stream of the layer's spec position, [`layer`](streams::layer).
/// - Layers inside a residual branch: [`residual_branch`](streams::residual_branch), ids with
///   the top bit set.
/// - A recurrent layer's recurrent-state mask:
///   [`recurrent_state`](streams::recurrent_state) (its input mask uses the
///   layer's own stream).
/// - Monte Carlo samples, training steps and DropConnect's Wan draws: the same stream, told
///   apart by the counter's tag bits ([`counters`](super::counters)).
/// - Per-example DropConnect masks: a stream and seed mixed with the example,
///   [`per_example`](streams::per_example).
/// - Shuffling, initialisation, augmentation, the uncertainty study's input shifts and the
///   bench's synthetic data: the named constants, which no layer id reaches (layer ids are
///   spec positions, below [`MAX_LAYER_ID`](streams::MAX_LAYER_ID)).
pub mod streams {
    /// Per-epoch shuffling of the training set ("SHUF").
    pub const SHUFFLE: u64 = 0x5348_5546;
    /// Parameter initialisation ("INIT").
    pub const INIT: u64 = 0x494E_4954;
    /// Data augmentation ("AUGM").
    pub const AUGMENT: u64 = 0x4155_474D;
    /// Sampling the characters of generated text ("GENR").
    pub const GENERATE: u64 = 0x4745_4E52;
    /// The uncertainty study's shifted and noisy inputs ("SHIF").
    pub const SHIFT: u64 = 0x5348_4946;
    /// The bench's synthetic data set ("BENC").
    pub const BENCH_DATA: u64 = 0x4245_4E43;
    /// Holding out a test set from data that has none ("SPLT").
    pub const SPLIT: u64 = 0x5350_4C54;

    /// Top-level layer ids are spec positions below this; the named purposes lie above it.
    pub const MAX_LAYER_ID: u64 = 1 << 16;
    /// The bit that marks a layer inside a residual branch.
    const BRANCH: u64 = 0x8000_0000;
    /// The bit that marks a recurrent-state mask.
    const RECURRENT: u64 = 0x4000_0000;
    /// The bit that marks a layer nested two or more residual blocks deep.
    const DEEP: u64 = 1 << 63;

    /// The mask stream of the layer at spec position `id`.
    pub fn layer(id: u64) -> u64 {
        id
    }

    /// Layer `k` of the residual branch of the block with stream `block`: `BRANCH | block << 12
    /// | k` for a top-level block and a branch of fewer than 4096 layers (below 2^32, like every
    /// top-level id). Deeper nesting mixes both into 63 bits above 2^63, where two of the
    /// thousands of layers a model may nest collide with odds of about n^2 / 2^64.
    pub fn residual_branch(block: u64, k: usize) -> u64 {
        if block < MAX_LAYER_ID && k < 1 << 12 {
            BRANCH | (block << 12) | k as u64
        } else {
            DEEP | super::mix64(block ^ super::mix64(k as u64 + 1))
        }
    }

    /// Sub-stream `k` (from 1) of the layer with stream `id`, for a layer with more than one
    /// kind of mask (attention: DropKey, DropHead): mixed into 63 bits above 2^63, apart from
    /// every layer id below 2^32.
    pub fn sub_stream(id: u64, k: u64) -> u64 {
        DEEP | super::mix64(super::mix64(id) ^ k.wrapping_mul(0xA24B_AED4_963E_E407))
    }

    /// The recurrent-state mask of the recurrent layer with stream `id`.
    pub fn recurrent_state(id: u64) -> u64 {
        id ^ RECURRENT
    }

    /// The (seed, stream) of example `b`'s DropConnect mask for the layer with stream `id` in a
    /// run seeded `seed`: both are mixed with the example, so no example shares a key with
    /// another example or with any layer of the run.
    pub fn per_example(seed: u64, id: u64, b: usize) -> (u64, u64) {
        let stream = id ^ (b as u32).wrapping_mul(0x9E37_79B9).rotate_left(13) as u64;
        (seed ^ (b as u64 + 1).wrapping_mul(0xD605_BBB5_8C8A_BBB1), stream)
    }
}

/// The counter's upper 64 bits ("step"): which pass a stream's numbers are for.
pub mod counters {
    use super::MC_TAG;

    /// Training step `step` (initialisation and shuffles use the epoch here).
    pub fn train(step: u64) -> u64 {
        step & !(MC_TAG | WAN_TAG)
    }

    /// Monte Carlo sample `sample` at inference.
    pub fn monte_carlo(sample: u64) -> u64 {
        sample | MC_TAG
    }

    /// Draw `z` of DropConnect's Gaussian (Wan) inference.
    pub fn wan_draw(z: usize) -> u64 {
        WAN_TAG | z as u64
    }

    /// Tag of Wan's inference draws.
    const WAN_TAG: u64 = 1 << 62;
}

/// Tag in the counter's top bit that separates Monte Carlo samples from training steps.
pub const MC_TAG: u64 = 1 << 63;

#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = a as u64 * b as u64;
    ((p >> 32) as u32, p as u32)
}

/// Philox4x32 with 10 rounds: the Random123 reference function.
#[inline(always)]
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let [mut c0, mut c1, mut c2, mut c3] = ctr;
    let [mut k0, mut k1] = key;
    for round in 0..10 {
        let (hi0, lo0) = mulhilo(M0, c0);
        let (hi1, lo1) = mulhilo(M1, c2);
        (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
        if round < 9 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
    }
    [c0, c1, c2, c3]
}

/// SplitMix64 finaliser: turns (seed, stream) into a well-mixed 64-bit key.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The Philox key of one stream (a layer, or a purpose from [`streams`]) of a run.
pub fn key_for(seed: u64, stream: u64) -> [u32; 2] {
    let k = mix64(seed ^ mix64(stream ^ 0xD1B5_4A32_D192_ED03));
    [k as u32, (k >> 32) as u32]
}

/// The counter of element block `block` at step (or tagged MC sample) `step`.
#[inline(always)]
pub fn counter(block: u64, step: u64) -> [u32; 4] {
    [block as u32, (block >> 32) as u32, step as u32, (step >> 32) as u32]
}

/// A sequential generator over one (key, step): word after word of the Philox stream.
/// Used where numbers are consumed in order (shuffles, initialisation), not in hot loops.
#[derive(Clone, Debug)]
pub struct Stream {
    key: [u32; 2],
    step: u64,
    block: u64,
    buf: [u32; 4],
    used: usize,
}

impl Stream {
    /// The stream `stream` of run `seed` at step `step`.
    pub fn new(seed: u64, stream: u64, step: u64) -> Self {
        Stream { key: key_for(seed, stream), step, block: 0, buf: [0; 4], used: 4 }
    }

    /// The next uniform 32-bit word.
    pub fn next_u32(&mut self) -> u32 {
        if self.used == 4 {
            self.buf = philox4x32_10(counter(self.block, self.step), self.key);
            self.block += 1;
            self.used = 0;
        }
        let v = self.buf[self.used];
        self.used += 1;
        v
    }

    /// A uniform f32 in [0, 1) with 24 random bits.
    pub fn uniform(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// A standard normal sample (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = ((self.next_u32() >> 8) as f64 + 0.5) / (1u64 << 24) as f64;
        let u2 = (self.next_u32() >> 8) as f64 / (1u64 << 24) as f64;
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    /// An unbiased integer in [0, n) (Lemire's method with rejection); n > 0.
    pub fn below(&mut self, n: u32) -> u32 {
        debug_assert!(n > 0);
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = self.next_u32() as u64 * n as u64;
            if (m as u32) >= threshold {
                return (m >> 32) as u32;
            }
        }
    }

    /// Fisher-Yates shuffle in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u32 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known-answer vectors from Random123's kat_vectors (philox4x32_10).
    #[test]
    fn philox_matches_random123_known_answers() {
        assert_eq!(philox4x32_10([0, 0, 0, 0], [0, 0]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
        assert_eq!(philox4x32_10([u32::MAX; 4], [u32::MAX; 2]), [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
        assert_eq!(
            philox4x32_10([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    #[test]
    fn streams_differ_and_repeat() {
        let a: Vec<u32> = (0..8)
            .map({
                let mut s = Stream::new(1, 2, 3);
                move |_| s.next_u32()
            })
            .collect();
        let b: Vec<u32> = (0..8)
            .map({
                let mut s = Stream::new(1, 2, 3);
                move |_| s.next_u32()
            })
            .collect();
        let c: Vec<u32> = (0..8)
            .map({
                let mut s = Stream::new(1, 3, 3);
                move |_| s.next_u32()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn below_is_roughly_uniform_and_shuffle_is_a_permutation() {
        let mut s = Stream::new(7, 0, 0);
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[s.below(10) as usize] += 1;
        }
        // Each bucket expects 10,000 with sd ~95; 6 sd bounds.
        assert!(counts.iter().all(|&c| (9_430..=10_570).contains(&c)), "{counts:?}");
        let mut v: Vec<u32> = (0..1000).collect();
        s.shuffle(&mut v);
        assert_ne!(v, (0..1000).collect::<Vec<_>>());
        v.sort();
        assert_eq!(v, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn normal_has_unit_moments() {
        let mut s = Stream::new(11, 0, 0);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| s.normal() as f64).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.02, "{var}");
    }
}
