//! Parameter initialisation from the run's initialisation stream.

use crate::rng::Stream;

/// Glorot/Xavier uniform, Keras' default: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
pub(crate) fn glorot_uniform(values: &mut [f32], fan_in: usize, fan_out: usize, init: &mut Stream) {
    let a = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    for v in values {
        *v = (2.0 * init.uniform() - 1.0) * a;
    }
}

/// LeCun normal, N(0, 1 / fan_in): what SELU networks need (Klambauer et al. 2017).
pub(crate) fn lecun_normal(values: &mut [f32], fan_in: usize, init: &mut Stream) {
    let sd = (1.0 / fan_in.max(1) as f64).sqrt() as f32;
    for w in values {
        *w = init.normal() * sd;
    }
}
