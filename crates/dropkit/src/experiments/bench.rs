//! Benchmark workloads with fixed shapes, matching `bench/torch_reference.py`: the paper MLP
//! epoch, its GEMM-only floor, the dropout op against a plain copy, and Monte Carlo inference.
//! Each returns raw timings; callers summarise them with [`Summary`].

use crate::data::Dataset;
use crate::error::Result;
use crate::kernels::gemm::{faster_transposed, matmul, matmul_transposed, MatRef};
use crate::kernels::mask::{keep_threshold, MaskKey};
use crate::model::Sequential;
use crate::optim::{Optimizer, OptimizerConfig};
use crate::rng::Stream;
use crate::train::{fit, FitOptions, Progress};
use std::ops::Range;
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
    let mut s = Stream::new(seed, crate::rng::streams::BENCH_DATA, 0);
    let images = (0..n * 784).map(|_| s.uniform()).collect();
    Dataset::classified(images, vec![1, 28, 28], (0..n).map(|_| s.below(10)).collect(), 10)
}

/// Training `spec` with Adam on `data`, an epoch at a time, after a short warm-up.
pub struct Training {
    model: Sequential,
    optimizer: Optimizer,
    batch_size: usize,
}

impl Training {
    pub fn new(spec: &str, data: &Dataset, batch_size: usize) -> Result<Self> {
        Self::with_optimizer(spec, data, batch_size, OptimizerConfig::default())
    }

    /// [`Training::new`] with the optimizer `optimizer`.
    pub fn with_optimizer(spec: &str, data: &Dataset, batch_size: usize, optimizer: OptimizerConfig) -> Result<Self> {
        let mut t = Training {
            model: Sequential::from_spec(spec, &data.sample_shape, 0)?,
            optimizer: Optimizer::new(optimizer)?,
            batch_size,
        };
        t.epoch(&data.slice(0..(20 * batch_size).min(data.len())))?;
        Ok(t)
    }

    /// Seconds for one epoch over `data`.
    pub fn epoch(&mut self, data: &Dataset) -> Result<f64> {
        self.epoch_with(data, &mut |_, _| {})
    }

    /// [`Training::epoch`], calling `after_batch(batches_done, batches)` after every batch;
    /// the seconds returned include the time spent in it.
    pub fn epoch_with(&mut self, data: &Dataset, after_batch: &mut dyn FnMut(usize, usize)) -> Result<f64> {
        let options = FitOptions { epochs: 1, batch_size: self.batch_size, seed: 0, ..FitOptions::default() };
        let mut on_progress = |p: Progress| {
            if let Progress::Batch { batch, batches, .. } = p {
                after_batch(batch, batches)
            }
        };
        let history = fit(&mut self.model, &mut self.optimizer, data, None, &options, &mut on_progress)?;
        Ok(history.epochs.iter().map(|r| r.seconds).sum())
    }
}

impl Training {
    /// Bytes of mask the model keeps per element its stochastic layers output, after a pass.
    pub fn mask_bytes_per_element(&self) -> f64 {
        let (bytes, elements) = self.model.mask_memory();
        bytes as f64 / elements.max(1) as f64
    }
}

/// Seconds per epoch of training `spec` with Adam on `data` (`epochs` timed epochs after a
/// short warm-up).
pub fn train_epochs(spec: &str, data: &Dataset, batch_size: usize, epochs: usize) -> Result<Vec<f64>> {
    let mut training = Training::new(spec, data, batch_size)?;
    (0..epochs).map(|_| training.epoch(data)).collect()
}

/// The GEMMs alone of an MLP with layer widths `dims` (input first): forward, weight gradient
/// and input gradient (none for the first layer), with the same strided layouts as the layers
/// use (the forward product written transposed where a dense layer writes it so).
pub struct GemmFloor {
    dims: Vec<usize>,
    batch: usize,
    weights: Vec<Vec<f32>>,
    grads: Vec<Vec<f32>>,
    acts: Vec<Vec<f32>>,
    outs: Vec<Vec<f32>>,
}

impl GemmFloor {
    pub fn new(dims: &[usize], batch: usize) -> Self {
        let mut s = Stream::new(3, 0, 0);
        let mut rand = |n: usize| (0..n).map(|_| s.uniform() - 0.5).collect::<Vec<f32>>();
        let layers = dims.len().saturating_sub(1);
        let mut floor = GemmFloor {
            dims: dims.to_vec(),
            batch,
            weights: (0..layers).map(|l| rand(dims[l] * dims[l + 1])).collect(),
            grads: (0..layers).map(|l| vec![0.0; dims[l] * dims[l + 1]]).collect(),
            acts: dims.iter().map(|&d| rand(batch * d)).collect(),
            outs: dims.iter().map(|&d| vec![0.0; batch * d]).collect(),
        };
        (0..20).for_each(|_| floor.step(batch));
        floor
    }

    fn step(&mut self, b: usize) {
        let (dims, layers) = (&self.dims, self.weights.len());
        for l in 0..layers {
            let (i, o) = (dims[l], dims[l + 1]);
            let (x, wt) = (MatRef::new(&self.acts[l], b, i), MatRef::new(&self.weights[l], o, i).t());
            let out = &mut self.outs[l + 1][..b * o];
            if faster_transposed(b, o) {
                matmul_transposed(out, x, wt, false);
            } else {
                matmul(out, x, wt, false);
            }
        }
        for l in (0..layers).rev() {
            let (i, o) = (dims[l], dims[l + 1]);
            let dy = MatRef::new(&self.acts[l + 1], b, o);
            matmul(&mut self.grads[l], dy.t(), MatRef::new(&self.acts[l], b, i), false);
            if l > 0 {
                matmul(&mut self.outs[l][..b * i], dy, MatRef::new(&self.weights[l], o, i), false);
            }
        }
    }

    /// Seconds for the GEMMs of one epoch over `samples` examples.
    pub fn epoch(&mut self, samples: usize) -> f64 {
        self.steps(0..samples.div_ceil(self.batch), samples)
    }

    /// Seconds for the GEMMs of steps `range` of an epoch over `samples` examples.
    pub fn steps(&mut self, range: Range<usize>, samples: usize) -> f64 {
        let t = Instant::now();
        for k in range {
            self.step(self.batch.min(samples - k * self.batch));
        }
        t.elapsed().as_secs_f64()
    }
}

/// Seconds per epoch of the GEMM floor alone.
pub fn gemm_floor_epochs(dims: &[usize], samples: usize, batch: usize, epochs: usize) -> Vec<f64> {
    let mut floor = GemmFloor::new(dims, batch);
    (0..epochs).map(|_| floor.epoch(samples)).collect()
}

/// Training batches between two runs of the GEMM floor's matching steps.
pub(crate) const INTERLEAVE_BATCHES: usize = 16;

/// Untimed training batches before each timed round (epoch), as `bench/torch_reference.py`
/// runs before its own timed steps: with PyTorch's rounds in between, each side then starts
/// its round from the same state (threads awake, its buffers back in cache).
pub(crate) const WARM_UP_BATCHES: usize = 5;

impl Training {
    /// [`WARM_UP_BATCHES`] untimed batches of `data`.
    pub(crate) fn warm_up(&mut self, data: &Dataset) -> Result<()> {
        self.epoch(&data.slice(0..(WARM_UP_BATCHES * self.batch_size).min(data.len())))?;
        Ok(())
    }
}

/// Seconds per epoch of training the paper MLP on `data` and of its GEMM floor. The floor's
/// steps run between the training's batches, catching up every [`INTERLEAVE_BATCHES`], so
/// that both see the same state of a shared machine (whose speed can drift by a third within
/// seconds); each epoch's training time is its whole time less the floor's.
pub fn paper_mlp_and_floor_epochs(
    data: &Dataset,
    batch: usize,
    epochs: usize,
    after_epoch: AfterRound,
) -> Result<PairedEpochs> {
    let mut training = Training::new(PAPER_MLP, data, batch)?;
    let mut floor = GemmFloor::new(&[784, 1024, 1024, 10], batch);
    let mut pairs = Vec::with_capacity(epochs);
    for _ in 0..epochs {
        training.warm_up(data)?;
        let (mut floor_s, mut floor_done) = (0.0, 0);
        let total = training.epoch_with(data, &mut |done, batches| {
            if done % INTERLEAVE_BATCHES == 0 || done == batches {
                floor_s += floor.steps(floor_done..done, data.len());
                floor_done = done;
            }
        })?;
        pairs.push((total - floor_s, floor_s));
        after_epoch()?;
    }
    let (train, floor) = pairs.into_iter().unzip();
    Ok(PairedEpochs { train, floor, mask_bytes_per_element: training.mask_bytes_per_element() })
}

/// The paper MLP's epochs and its floor's, measured in alternation.
#[derive(Clone, Debug)]
pub struct PairedEpochs {
    pub train: Vec<f64>,
    pub floor: Vec<f64>,
    /// Mask memory the trained model keeps, per element its dropout layers output.
    pub mask_bytes_per_element: f64,
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

/// Seconds for Monte Carlo dropout inference: `samples` stochastic passes of the network `spec`
/// over `inputs` random MNIST-shaped inputs, with the per-input mean, spread and entropies of
/// `predict`. The layers before the first stochastic one run once per input (the CNN's
/// convolutions; none of the paper MLP's, whose inputs are dropped).
pub fn mc_inference(spec: &str, inputs: usize, samples: u64, reps: usize) -> Result<Vec<f64>> {
    let data = synthetic_mnist(inputs, 1);
    let mut model = Sequential::from_spec(spec, &data.sample_shape, 0)?;
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

/// Inputs of the CNN's Monte Carlo workload (100 passes each; its dense layer alone is 1.2M
/// multiply-adds per input and pass).
const CNN_MC_INPUTS: usize = 1_000;

/// Training steps per timed round of the transformer workload.
const TRANSFORMER_STEPS: usize = 16;

/// The workloads `dropkit bench` can run.
pub const WORKLOADS: [&str; 9] =
    ["paper-mlp", "gemm-floor", "keras", "dropout", "mc", "transformer", "cnn", "lstm", "gru"];

/// The keys of a network workload's figures: its epoch, its floor's, their ratio, PyTorch's
/// epoch (its reference mode is the workload's name) and the ratio to it.
struct NetKeys {
    name: &'static str,
    epoch: &'static str,
    floor: &'static str,
    over_floor: &'static str,
    torch: &'static str,
    over_torch: &'static str,
}

const NET_KEYS: [NetKeys; 3] = [
    NetKeys {
        name: "cnn",
        epoch: "cnn_epoch_s",
        floor: "cnn_floor_epoch_s",
        over_floor: "cnn_over_floor",
        torch: "torch_cnn_epoch_s",
        over_torch: "cnn_over_torch",
    },
    NetKeys {
        name: "lstm",
        epoch: "lstm_epoch_s",
        floor: "lstm_floor_epoch_s",
        over_floor: "lstm_over_floor",
        torch: "torch_lstm_epoch_s",
        over_torch: "lstm_over_torch",
    },
    NetKeys {
        name: "gru",
        epoch: "gru_epoch_s",
        floor: "gru_floor_epoch_s",
        over_floor: "gru_over_floor",
        torch: "torch_gru_epoch_s",
        over_torch: "gru_over_torch",
    },
];

/// What a bench run measures.
#[derive(Clone, Debug, Default)]
pub struct BenchOptions {
    /// Timed epochs per training workload.
    pub epochs: usize,
    /// The workloads to run (names from [`WORKLOADS`]); empty runs them all.
    pub only: Vec<String>,
}

/// The PyTorch reference as the caller runs it: a mode (`train`, `dropout`, `mc`, ...) and its
/// counts (epochs; steps and rounds for `transformer`; none for the defaults) to its timing.
pub type Reference<'a> = &'a mut dyn FnMut(&str, &[usize]) -> Result<Summary>;

/// What a timed workload calls after each of its rounds (epochs): PyTorch's round, or nothing.
pub type AfterRound<'a> = &'a mut dyn FnMut() -> Result<()>;

/// PyTorch's rounds of one workload, each run right after one of dropkit's, so that the two
/// series alternate and their ratio (the median of per-pair ratios) compares like with like
/// on a shared machine, as the floors do.
struct TorchRounds<'r, 'a> {
    reference: &'r mut Option<Reference<'a>>,
    mode: &'static str,
    counts: &'static [usize],
    times: Vec<f64>,
}

impl<'r, 'a> TorchRounds<'r, 'a> {
    fn new(reference: &'r mut Option<Reference<'a>>, mode: &'static str, counts: &'static [usize]) -> Self {
        TorchRounds { reference, mode, counts, times: Vec::new() }
    }

    fn after_round(&mut self) -> Result<()> {
        if let Some(reference) = self.reference.as_mut() {
            self.times.push(reference(self.mode, self.counts)?.median);
        }
        Ok(())
    }

    /// PyTorch's times under `key`, and `ours / PyTorch's` under `ratio`, when it ran.
    fn record(self, ours: &[f64], key: &'static str, ratio: &'static str, report: &mut Figures) {
        if !self.times.is_empty() {
            report.ratios.insert(ratio, pair_median(ours, &self.times));
            report.results.insert(key, Summary::of(&self.times));
        }
    }
}

/// Timings and ratios by name, as a report gathers them.
#[derive(Default)]
struct Figures {
    results: std::collections::BTreeMap<&'static str, Summary>,
    ratios: std::collections::BTreeMap<&'static str, f64>,
}

/// Every figure of a bench run: timings by workload and unit (`paper_mlp_epoch_s`,
/// `dropout_gb_s`, ...), the ratios between them, and memory.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchReport {
    pub threads: usize,
    pub epochs: usize,
    pub results: std::collections::BTreeMap<&'static str, Summary>,
    pub ratios: std::collections::BTreeMap<&'static str, f64>,
    /// Peak resident memory after training the paper MLP (Linux).
    pub peak_rss_bytes: Option<u64>,
    /// Mask memory of the trained paper MLP, per element its dropout layers output.
    pub mask_bytes_per_element: Option<f64>,
}

/// Peak resident memory of this process in bytes (Linux), if known.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The median of the per-pair ratios of two series measured in alternation: each pair saw the
/// same state of a shared machine.
pub fn pair_median(a: &[f64], b: &[f64]) -> f64 {
    let ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| a / b).collect();
    Summary::of(&ratios).median
}

/// Runs the chosen workloads, and the reference's where one is given, and computes the ratios.
pub fn run(options: &BenchOptions, mut reference: Option<Reference>) -> Result<BenchReport> {
    if options.epochs == 0 {
        return Err(crate::Error::InvalidArgument("--epochs 0: time at least 1 epoch".into()));
    }
    if let Some(bad) = options.only.iter().find(|w| !WORKLOADS.contains(&w.as_str())) {
        return Err(crate::Error::InvalidArgument(format!("unknown workload '{bad}'; use {}", WORKLOADS.join(", "))));
    }
    let epochs = options.epochs;
    let runs = |w: &str| options.only.is_empty() || options.only.iter().any(|o| o == w);
    let mut figures = Figures::default();
    let (mut peak_rss_bytes, mut mask_bytes_per_element) = (None, None);
    let data = synthetic_mnist(60_000, 42);
    if runs("paper-mlp") {
        let mut torch = TorchRounds::new(&mut reference, "train", &[1]);
        let train = if runs("gemm-floor") {
            // Interleaved steps: the ratio compares like with like on a shared machine.
            let paired = paper_mlp_and_floor_epochs(&data, 128, epochs, &mut || torch.after_round())?;
            figures.ratios.insert("paper_mlp_over_gemm_floor", pair_median(&paired.train, &paired.floor));
            figures.results.insert("gemm_floor_epoch_s", Summary::of(&paired.floor));
            mask_bytes_per_element = Some(paired.mask_bytes_per_element);
            paired.train
        } else {
            let mut training = Training::new(PAPER_MLP, &data, 128)?;
            let mut train = Vec::with_capacity(epochs);
            for _ in 0..epochs {
                training.warm_up(&data)?;
                train.push(training.epoch(&data)?);
                torch.after_round()?;
            }
            mask_bytes_per_element = Some(training.mask_bytes_per_element());
            train
        };
        peak_rss_bytes = peak_rss();
        figures.results.insert("paper_mlp_epoch_s", Summary::of(&train));
        torch.record(&train, "torch_train_epoch_s", "paper_mlp_over_torch", &mut figures);
    } else if runs("gemm-floor") {
        let floor = gemm_floor_epochs(&[784, 1024, 1024, 10], 60_000, 128, epochs);
        figures.results.insert("gemm_floor_epoch_s", Summary::of(&floor));
    }
    if runs("keras") {
        let keras = data.slice(0..48_000);
        figures.results.insert("keras_mnist_epoch_s", Summary::of(&train_epochs(KERAS_MLP, &keras, 128, epochs)?));
    }
    if runs("dropout") {
        let (dropout, copy) = dropout_and_copy_bandwidth(4096, 20);
        figures.ratios.insert("dropout_over_copy", pair_median(&dropout, &copy));
        figures.results.insert("dropout_gb_s", Summary::of(&dropout));
        figures.results.insert("copy_gb_s", Summary::of(&copy));
    }
    if runs("mc") {
        figures.results.insert("mc100_s", Summary::of(&mc_inference(PAPER_MLP, 10_000, 100, 3)?));
        let cnn = mc_inference(super::bench_nets::CNN, CNN_MC_INPUTS, 100, 3)?;
        figures.results.insert("cnn_mc100_s", Summary::of(&cnn));
    }
    if runs("transformer") {
        let mut torch = TorchRounds::new(&mut reference, "transformer", &[TRANSFORMER_STEPS, 1]);
        let (train, floor) =
            super::bench_transformer::transformer_and_floor_steps(TRANSFORMER_STEPS, epochs, &mut || {
                torch.after_round()
            })?;
        figures.ratios.insert("transformer_over_floor", pair_median(&train, &floor));
        figures.results.insert("transformer_step_s", Summary::of(&train));
        figures.results.insert("transformer_floor_step_s", Summary::of(&floor));
        torch.record(&train, "torch_transformer_step_s", "transformer_over_torch", &mut figures);
    }
    for net in NET_KEYS.iter().filter(|k| runs(k.name)) {
        let mut torch = TorchRounds::new(&mut reference, net.name, &[1]);
        let samples = super::bench_nets::SAMPLES;
        let (train, floor) =
            super::bench_nets::net_and_floor_epochs(net.name, samples, epochs, &mut || torch.after_round())?;
        figures.ratios.insert(net.over_floor, pair_median(&train, &floor));
        figures.results.insert(net.epoch, Summary::of(&train));
        figures.results.insert(net.floor, Summary::of(&floor));
        torch.record(&train, net.torch, net.over_torch, &mut figures);
    }
    let Figures { results: mut r, mut ratios } = figures;
    if let Some(reference) = reference.as_mut() {
        if runs("dropout") {
            // The reference times the op; as bandwidth, its slowest run is its lowest GB/s.
            let d = reference("dropout", &[])?;
            let gb = |s: f64| 4096.0 * 4096.0 * 8.0 / s / 1e9;
            r.insert("torch_dropout_gb_s", Summary { min: gb(d.max), median: gb(d.median), max: gb(d.min) });
        }
        if runs("mc") {
            r.insert("torch_mc100_s", reference("mc", &[])?);
            r.insert("torch_cnn_mc100_s", reference("mc-cnn", &[])?);
        }
    }
    let med = |k: &str| r.get(k).map(|s: &Summary| s.median);
    for (name, a, b) in [
        ("mc100_over_torch", "mc100_s", "torch_mc100_s"),
        ("cnn_mc100_over_torch", "cnn_mc100_s", "torch_cnn_mc100_s"),
        ("dropout_over_torch", "dropout_gb_s", "torch_dropout_gb_s"),
    ] {
        if let (Some(a), Some(b)) = (med(a), med(b)) {
            ratios.insert(name, a / b);
        }
    }
    Ok(BenchReport {
        threads: rayon::current_num_threads(),
        epochs,
        results: r,
        ratios,
        peak_rss_bytes,
        mask_bytes_per_element,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_round_is_followed_by_one_of_the_references_and_the_ratio_pairs_them() {
        let mut calls = Vec::new();
        let mut fake = |mode: &str, counts: &[usize]| -> Result<Summary> {
            calls.push((mode.to_string(), counts.to_vec()));
            let s = [2.0, 4.0, 1.0][calls.len() - 1];
            Ok(Summary { min: s, median: s, max: s })
        };
        let mut reference: Option<Reference> = Some(&mut fake);
        let mut torch = TorchRounds::new(&mut reference, "transformer", &[16, 1]);
        for _ in 0..3 {
            torch.after_round().unwrap();
        }
        let mut figures = Figures::default();
        // Ours 1, 3, 1 against 2, 4, 1: per-pair ratios 0.5, 0.75, 1, median 0.75 (the ratio
        // of the medians would be 0.5).
        torch.record(&[1.0, 3.0, 1.0], "torch_x", "x_over_torch", &mut figures);
        assert_eq!(figures.ratios["x_over_torch"], 0.75);
        assert_eq!(figures.results["torch_x"].median, 2.0);
        assert_eq!(calls, vec![("transformer".to_string(), vec![16, 1]); 3]);
        // No reference: nothing is run or recorded.
        let mut none: Option<Reference> = None;
        let mut torch = TorchRounds::new(&mut none, "cnn", &[1]);
        torch.after_round().unwrap();
        torch.record(&[1.0], "torch_cnn_epoch_s", "cnn_over_torch", &mut figures);
        assert!(!figures.ratios.contains_key("cnn_over_torch"));
    }

    #[test]
    fn every_workload_runs_on_small_shapes() {
        let data = synthetic_mnist(600, 1);
        assert_eq!(train_epochs(KERAS_MLP, &data, 128, 2).unwrap().len(), 2);
        assert_eq!(gemm_floor_epochs(&[784, 64, 10], 600, 128, 2).len(), 2);
        let paired = paper_mlp_and_floor_epochs(&data, 128, 2, &mut || Ok(())).unwrap();
        assert_eq!((paired.train.len(), paired.floor.len()), (2, 2));
        assert!(paired.train.iter().chain(&paired.floor).all(|s| s.is_finite() && *s > 0.0));
        assert_eq!(paired.mask_bytes_per_element, 0.0, "the paper MLP regenerates its masks");
        let (dropout, copy) = dropout_and_copy_bandwidth(256, 2);
        assert!(dropout.iter().chain(&copy).all(|gb| gb.is_finite() && *gb > 0.0));
        assert_eq!(mc_inference(PAPER_MLP, 20, 3, 1).unwrap().len(), 1);
        assert_eq!(mc_inference(super::super::bench_nets::CNN, 5, 3, 2).unwrap().len(), 2);
        let (train, floor) =
            super::super::bench_transformer::transformer_and_floor_steps(1, 1, &mut || Ok(())).unwrap();
        assert!(train.iter().chain(&floor).all(|s| s.is_finite() && *s > 0.0));
        for (name, _) in super::super::bench_nets::NETS {
            let (train, floor) = super::super::bench_nets::net_and_floor_epochs(name, 200, 1, &mut || Ok(())).unwrap();
            assert!(train.iter().chain(&floor).all(|s| s.is_finite() && *s > 0.0), "{name}");
        }
    }
}
