//! Benchmark workloads with fixed shapes, matching `bench/torch_reference.py`: the paper MLP
//! epoch, its GEMM-only floor, the dropout op against a plain copy, and Monte Carlo inference.
//! Each returns raw timings; callers summarise them with [`Summary`].

use crate::data::Dataset;
use crate::error::Result;
use crate::kernels::gemm::{matmul, MatRef};
use crate::kernels::mask::{keep_threshold, MaskKey};
use crate::model::Sequential;
use crate::optim::{Optimizer, OptimizerConfig};
use crate::rng::Stream;
use crate::train::{fit, FitOptions};
use std::time::Instant;

/// The paper MLP of the benchmarks: 784-1024-1024-10, dropout 0.2 on the input, 0.5 hidden.
pub const PAPER_MLP: &str = "dropout(0.2) dense(1024, relu) dropout(0.5) dense(1024, relu) dropout(0.5) dense(10)";
/// The Keras tutorial MLP.
pub const KERAS_MLP: &str = "dense(512, relu) dropout(0.2) dense(10, softmax)";

/// Minimum, median and maximum of some measurements.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(values: &[f64]) -> Summary {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => Summary { min: f64::NAN, median: f64::NAN, max: f64::NAN },
            n => Summary { min: v[0], median: v[n / 2], max: v[n - 1] },
        }
    }
}

/// `n` samples of 784 uniform inputs with uniform labels, like the PyTorch reference's data.
pub fn synthetic_mnist(n: usize, seed: u64) -> Dataset {
    let mut s = Stream::new(seed, 0xBE4C, 0);
    Dataset {
        images: (0..n * 784).map(|_| s.uniform()).collect(),
        sample_shape: vec![1, 28, 28],
        labels: (0..n).map(|_| s.below(10) as u8).collect(),
        classes: 10,
    }
}

/// Seconds per epoch of training `spec` with Adam on `data` (`epochs` timed epochs after a
/// short warm-up).
pub fn train_epochs(spec: &str, data: &Dataset, batch_size: usize, epochs: usize) -> Result<Vec<f64>> {
    let mut model = Sequential::from_spec(spec, &data.sample_shape, 0)?;
    let mut opt = Optimizer::new(OptimizerConfig::default())?;
    let warm = data.slice(0..(20 * batch_size).min(data.len()));
    fit(
        &mut model,
        &mut opt,
        &warm,
        None,
        &FitOptions { epochs: 1, batch_size, seed: 0, ..FitOptions::default() },
        &mut |_| {},
    )?;
    let history = fit(
        &mut model,
        &mut opt,
        data,
        None,
        &FitOptions { epochs, batch_size, seed: 0, ..FitOptions::default() },
        &mut |_| {},
    )?;
    Ok(history.epochs.iter().map(|r| r.seconds).collect())
}

/// Seconds per epoch spent in the GEMMs alone of an MLP with layer widths `dims` (input
/// first): forward, weight gradient and input gradient (none for the first layer), with the
/// same strided layouts as the layers use.
pub fn gemm_floor_epochs(dims: &[usize], samples: usize, batch: usize, epochs: usize) -> Vec<f64> {
    let mut s = Stream::new(3, 0, 0);
    let mut rand = |n: usize| (0..n).map(|_| s.uniform() - 0.5).collect::<Vec<f32>>();
    let layers = dims.len() - 1;
    let weights: Vec<Vec<f32>> = (0..layers).map(|l| rand(dims[l] * dims[l + 1])).collect();
    let mut grads: Vec<Vec<f32>> = (0..layers).map(|l| vec![0.0; dims[l] * dims[l + 1]]).collect();
    let acts: Vec<Vec<f32>> = dims.iter().map(|&d| rand(batch * d)).collect();
    let mut outs: Vec<Vec<f32>> = dims.iter().map(|&d| vec![0.0; batch * d]).collect();
    let steps = samples.div_ceil(batch);
    let mut step = |b: usize| {
        for l in 0..layers {
            let (i, o) = (dims[l], dims[l + 1]);
            let w = MatRef::new(&weights[l], o, i);
            matmul(&mut outs[l + 1][..b * o], MatRef::new(&acts[l], b, i), w.t(), false);
        }
        for l in (0..layers).rev() {
            let (i, o) = (dims[l], dims[l + 1]);
            let dy = MatRef::new(&acts[l + 1], b, o);
            matmul(&mut grads[l], dy.t(), MatRef::new(&acts[l], b, i), false);
            if l > 0 {
                matmul(&mut outs[l][..b * i], dy, MatRef::new(&weights[l], o, i), false);
            }
        }
    };
    (0..20).for_each(|_| step(batch));
    (0..epochs)
        .map(|_| {
            let t = Instant::now();
            for k in 0..steps {
                step(batch.min(samples - k * batch));
            }
            t.elapsed().as_secs_f64()
        })
        .collect()
}

/// GB/s (bytes read + written) of inverted dropout p = 0.5 over an `n x n` f32 tensor, and of a
/// parallel copy of the same buffer, `reps` times each. The two alternate, so that both see the
/// same state of a shared machine, each writing its own destination (so that neither finds the
/// other's output in cache or evicted).
pub fn dropout_and_copy_bandwidth(n: usize, reps: usize) -> (Vec<f64>, Vec<f64>) {
    let src: Vec<f32> = (0..n * n).map(|i| (i % 1000) as f32).collect();
    let (mut dst, mut copied) = (vec![0.0f32; n * n], vec![0.0f32; n * n]);
    let bytes = (n * n * 8) as f64;
    let mask = MaskKey { key: [1, 2], step: 0, threshold: keep_threshold(0.5) };
    let dropout = |d: &mut [f32]| crate::kernels::mask::apply(d, &src, &mask, 2.0);
    let copy = |d: &mut [f32]| crate::kernels::par_zip(d, &src, |d, s, _| d.copy_from_slice(s));
    let gb_s = |f: &dyn Fn(&mut [f32]), d: &mut [f32]| {
        let t = Instant::now();
        f(d);
        bytes / t.elapsed().as_secs_f64() / 1e9
    };
    // Warm-up: page in the destination and the thread pool.
    dropout(&mut dst);
    copy(&mut copied);
    (0..reps).map(|_| (gb_s(&dropout, &mut dst), gb_s(&copy, &mut copied))).unzip()
}

/// Seconds for Monte Carlo dropout inference: `samples` stochastic passes of the paper MLP over
/// `inputs` random inputs, with the per-input mean, spread and entropies of `predict`.
pub fn mc_inference(inputs: usize, samples: u64, reps: usize) -> Result<Vec<f64>> {
    let data = synthetic_mnist(inputs, 1);
    let mut model = Sequential::from_spec(PAPER_MLP, &data.sample_shape, 0)?;
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            crate::uncertainty::predict(
                &mut model,
                &data.images,
                crate::uncertainty::Inference::MonteCarlo { samples },
            )?;
            Ok(t.elapsed().as_secs_f64())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_runs_on_small_shapes() {
        let data = synthetic_mnist(600, 1);
        assert_eq!(train_epochs(KERAS_MLP, &data, 128, 2).unwrap().len(), 2);
        assert_eq!(gemm_floor_epochs(&[784, 64, 10], 600, 128, 2).len(), 2);
        let (dropout, copy) = dropout_and_copy_bandwidth(256, 2);
        assert!(dropout.iter().chain(&copy).all(|gb| gb.is_finite() && *gb > 0.0));
        assert_eq!(mc_inference(20, 3, 1).unwrap().len(), 1);
    }
}
