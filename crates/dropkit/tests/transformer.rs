//! The attention-era dropouts against DESIGN.md's list for a dropout variant (mean, fraction,
//! eval rule, p = 0 and p = 1, structure of the mask, gradient, 1 vs 2 threads), and the rules
//! of R-Drop and of early/late dropout in training.

use dropkit::data::text;
use dropkit::data::Dataset;
use dropkit::dropout::schedule::DropoutSchedule;
use dropkit::dropout::{drophead, stochastic_depth};
use dropkit::kernels::mask::{keep_threshold, MaskKey};
use dropkit::layer::{Ctx, Layer, Mode};
use dropkit::model::{spec, Sequential};
use dropkit::nn::attention::{Attention, AttentionConfig};
use dropkit::optim::{Optimizer, OptimizerConfig};
use dropkit::rng::Stream;
use dropkit::tensor::Tensor;
use dropkit::train::{fit, FitOptions};

fn random(shape: &[usize], seed: u64) -> Tensor {
    let mut s = Stream::new(seed, 0, 0);
    Tensor::from_vec((0..shape.iter().product()).map(|_| s.uniform() * 2.0 - 1.0).collect(), shape).unwrap()
}

fn attention(heads: usize, causal: bool, attn_drop: f64, drop_key: f64, drop_head: f64) -> Attention {
    let mut a = Attention::new(AttentionConfig { heads, causal, attn_drop, drop_key, drop_head }).unwrap();
    a.build(&[16, 8], 2, &mut Stream::new(3, 1, 0)).unwrap();
    a
}

fn assert_fraction(dropped: usize, n: usize, p: f64, what: &str) {
    let f = dropped as f64 / n as f64;
    let sd = (p * (1.0 - p) / n as f64).sqrt();
    assert!((f - p).abs() <= 5.0 * sd + 1e-4, "{what}: dropped {f:.4}, expected {p} +- {:.4}", 5.0 * sd);
}

const TRAIN: Ctx = Ctx { mode: Mode::Train, seed: 9, step: 4, input_grad: true, data_size: 0, progress: 0.5 };

#[test]
fn attention_dropout_keeps_the_mean_drops_its_fraction_and_is_off_in_eval() {
    let x = random(&[8, 16, 8], 1);
    let p = 0.3;
    let mut a = attention(2, false, p, 0.0, 0.0);
    a.forward(&x, &TRAIN).unwrap();
    let (probs, dropped) = a.probabilities();
    let zeros = dropped.data().iter().filter(|&&v| v == 0.0).count();
    assert_fraction(zeros, dropped.len(), p, "attention dropout");
    // Kept probabilities are scaled by 1 / (1 - p): each row's mean is kept in expectation.
    for (d, q) in dropped.data().iter().zip(probs.data()) {
        assert!(*d == 0.0 || (d - q / (1.0 - p as f32)).abs() < 1e-6);
    }
    let total: f64 = dropped.data().iter().map(|&v| v as f64).sum();
    let rows = (dropped.len() / 16) as f64;
    assert!((total / rows - 1.0).abs() < 0.05, "mean row sum {}", total / rows);
    // Eval is p = 0; p = 1 drops every probability (the heads then output the biases alone).
    let eval = Ctx::new(Mode::Eval, 9, 4);
    let y_eval = a.forward(&x, &eval).unwrap().clone();
    assert_eq!(y_eval.data(), attention(2, false, 0.0, 0.0, 0.0).forward(&x, &eval).unwrap().data());
    let mut all = attention(2, false, 1.0, 0.0, 0.0);
    all.forward(&x, &TRAIN).unwrap();
    assert!(all.probabilities().1.data().iter().all(|&v| v == 0.0));
}

#[test]
fn dropkey_masks_keys_before_the_softmax_and_rows_still_sum_to_one() {
    let x = random(&[8, 16, 8], 2);
    let p = 0.25;
    let mut a = attention(2, true, 0.0, p, 0.0);
    a.forward(&x, &TRAIN).unwrap();
    let probs = a.probabilities().0.clone();
    let (mut visible, mut zeros) = (0, 0);
    for (r, row) in probs.data().chunks(16).enumerate() {
        let i = r % 16;
        let sum: f32 = row.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "row {r} sums to {sum}");
        assert!(row[i + 1..].iter().all(|&v| v == 0.0), "a future key is visible");
        // Rows whose every visible key drew a drop keep them all: count the others.
        if i >= 4 {
            visible += i + 1;
            zeros += row[..=i].iter().filter(|&&v| v == 0.0).count();
        }
    }
    assert_fraction(zeros, visible, p, "DropKey");
    // Eval: no key dropped, the same as p = 0; Monte Carlo samples differ and repeat.
    let eval = Ctx::new(Mode::Eval, 9, 4);
    let y = a.forward(&x, &eval).unwrap().clone();
    assert_eq!(y.data(), attention(2, true, 0.0, 0.0, 0.0).forward(&x, &eval).unwrap().data());
    let mut mc = |s| a.forward(&x, &Ctx::new(Mode::MonteCarlo { sample: s }, 9, 0)).unwrap().clone();
    let (m0, m1, again) = (mc(0), mc(1), mc(0));
    assert_ne!(m0.data(), m1.data());
    assert_eq!(m0.data(), again.data());
}

#[test]
fn drophead_drops_whole_heads_and_rescales_the_kept_ones() {
    let key = MaskKey { key: [1, 2], step: 3, threshold: keep_threshold(0.6) };
    let mut scales = Vec::new();
    drophead::head_scales(&key, 2000, 4, &mut scales);
    let dropped = scales.iter().filter(|&&s| s == 0.0).count();
    assert_fraction(dropped, scales.len(), 0.4, "DropHead");
    for sample in scales.chunks(4) {
        let kept = sample.iter().filter(|&&s| s > 0.0).count();
        let sum: f32 = sample.iter().sum();
        // Kept heads are scaled by H / kept, so the factors of a sample sum to H.
        assert!(kept == 0 || (sum - 4.0).abs() < 1e-5, "{sample:?}");
    }
    // In a layer: eval is every head (p = 0); training at p = 1 zeroes every head's output,
    // leaving the output projection's bias.
    let x = random(&[4, 16, 8], 3);
    let eval = Ctx::new(Mode::Eval, 9, 4);
    let mut a = attention(4, false, 0.0, 0.0, 0.5);
    let y = a.forward(&x, &eval).unwrap().clone();
    assert_eq!(y.data(), attention(4, false, 0.0, 0.0, 0.0).forward(&x, &eval).unwrap().data());
    let start = Ctx { progress: 0.0, ..TRAIN };
    let mut all = attention(4, false, 0.0, 0.0, 1.0);
    let y = all.forward(&x, &start).unwrap().clone();
    let mut bias = Vec::new();
    all.visit_params(&mut |n, p| {
        if n == "out_proj.bias" {
            bias = p.value.data().to_vec()
        }
    });
    assert!(y.data().chunks(8).all(|row| row == bias.as_slice()));
    // The V-shaped schedule reaches 0 at its turn: no head drops there.
    let turn = Ctx { progress: drophead::TURN, ..TRAIN };
    assert_eq!(
        all.forward(&x, &turn).unwrap().data(),
        attention(4, false, 0.0, 0.0, 0.0).forward(&x, &turn).unwrap().data()
    );
}

fn model(spec_text: &str, sample: &[usize]) -> Sequential {
    Sequential::from_spec(spec_text, sample, 5).unwrap()
}

#[test]
fn layerdrop_skips_whole_blocks_in_training_and_prunes_at_eval() {
    let x = random(&[2, 6, 8], 4);
    let mut always = model("block(heads=2, mlp=16, layer_drop=1)", &[6, 8]);
    assert_eq!(always.forward(&x, &TRAIN).unwrap().data(), x.data(), "p = 1 skips the block");
    let eval = Ctx::new(Mode::Eval, 9, 4);
    let y = always.forward(&x, &eval).unwrap().clone();
    assert_eq!(y.data(), model("block(heads=2, mlp=16)", &[6, 8]).forward(&x, &eval).unwrap().data(), "eval runs it");
    // Over steps, a block is skipped at its rate (one draw per block and step).
    let mut half = model("block(heads=2, mlp=16, layer_drop=0.3)", &[6, 8]);
    let skipped =
        (0..400).filter(|&s| half.forward(&x, &Ctx::new(Mode::Train, 9, s)).unwrap().data() == x.data()).count();
    assert_fraction(skipped, 400, 0.3, "LayerDrop");
    // keep_every=2 prunes blocks 1 and 3 of 4 at inference.
    let pruned = spec::parse("blocks(4, heads=2, layer_drop=0.2, keep_every=2)").unwrap().to_string();
    assert_eq!(pruned.matches("pruned").count(), 2, "{pruned}");
    let mut m = model("blocks(2, heads=2, mlp=16, keep_every=2)", &[6, 8]);
    let mut first = model("block(heads=2, mlp=16)", &[6, 8]);
    // Block 1 pruned: eval is block 0 alone (same initial weights: block 0 is built first).
    assert_eq!(m.forward(&x, &eval).unwrap().data(), first.forward(&x, &eval).unwrap().data());
}

#[test]
fn stochastic_depth_and_dropkey_rates_follow_the_depth() {
    let text = spec::parse("blocks(4, heads=2, drop_path=0.3, drop_key=0.4)").unwrap().to_string();
    for (k, block) in text.split("block(").skip(1).enumerate() {
        let path = stochastic_depth::linear_rate(0.3, k, 4);
        if path > 0.0 {
            assert!(block.contains(&format!("drop_path={path}")), "block {k}: {block}");
        } else {
            assert!(!block.contains("drop_path"), "block {k}: {block}");
        }
        assert!(block.contains(&format!("drop_key={}", dropkit::dropout::dropkey::depth_rate(0.4, k, 4))));
    }
}

#[test]
fn block_bits_do_not_depend_on_the_thread_count() {
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
            let mut m = model(
                "block(heads=4, mlp=32, causal, attn_drop=0.2, resid_drop=0.1, drop_path=0.2, drop_key=0.1, drop_head=0.2)",
                &[16, 16],
            );
            let x = random(&[8, 16, 16], 3);
            let y = m.forward_logits(&x, &TRAIN).unwrap().clone();
            m.backward(&x, &random(&[8, 16, 16], 6), &TRAIN).unwrap();
            let mut grads = Vec::new();
            m.visit_params(&mut |_, p| grads.extend_from_slice(p.grad.data()));
            (y.data().to_vec(), grads)
        })
    };
    assert_eq!(run(1), run(2));
}

/// A tiny character set: a repeated phrase, 16-character sequences.
fn tiny_text() -> (Dataset, Dataset) {
    let phrase = "to be or not to be, that is the question. ";
    let corpus: String = phrase.repeat(60);
    let data = text::load(&corpus, &dropkit::data::DataSource::Embedded, 16, 0.1).unwrap();
    (data.train, data.test)
}

fn char_fit(options: FitOptions, spec_text: &str) -> (Sequential, dropkit::train::History) {
    let (train, val) = tiny_text();
    let mut m = model(spec_text, &[16]);
    let mut opt = Optimizer::new(OptimizerConfig { lr: 3e-3, ..OptimizerConfig::default() }).unwrap();
    let history = fit(&mut m, &mut opt, &train, Some(&val), &options, &mut |_| {}).unwrap();
    (m, history)
}

const CHAR: &str = "embed(vocab=15, dim=16, context=16, drop=0.1) block(heads=2, mlp=32, causal, attn_drop=0.1, resid_drop=0.1) layernorm pdense(15)";

#[test]
fn a_character_model_learns_next_characters() {
    let (train, _) = tiny_text();
    assert_eq!(train.classes(), 15);
    let options = FitOptions { epochs: 6, batch_size: 8, seed: 1, ..FitOptions::default() };
    let (_, history) = char_fit(options, CHAR);
    let last = history.epochs.last().unwrap();
    // Uniform guessing is ln 15 = 2.71 nats per character; the phrase is nearly deterministic.
    assert!(last.val_loss.unwrap() < 1.0, "{:?}", history.epochs);
}

#[test]
fn rdrop_adds_the_symmetric_kl_of_two_passes_to_the_loss() {
    let base = FitOptions { epochs: 1, batch_size: 8, seed: 1, ..FitOptions::default() };
    let (_, plain) = char_fit(base.clone(), CHAR);
    let (_, rdrop) = char_fit(FitOptions { rdrop: Some(2.0), ..base.clone() }, CHAR);
    let (p, r) = (&plain.epochs[0], &rdrop.epochs[0]);
    // Without dropout the two passes are the same, so the KL term is 0.
    assert_eq!(p.loss, p.cross_entropy);
    assert!(r.loss > r.cross_entropy + 1e-4, "{r:?}");
    let (_, still) = char_fit(FitOptions { rdrop: Some(2.0), ..base }, &CHAR.replace("0.1", "0"));
    assert!((still.epochs[0].loss - still.epochs[0].cross_entropy).abs() < 1e-9, "{:?}", still.epochs[0]);
}

#[test]
fn early_and_late_dropout_train_as_no_dropout_outside_their_epochs() {
    let spec_text = "dense(16, relu) dropout(0.5) dense(15)";
    let (train, _) = tiny_text();
    let fit_with = |spec_text: &str, epochs: usize, schedule: Option<DropoutSchedule>| {
        let mut m = Sequential::from_spec(spec_text, &[16], 5).unwrap();
        let mut opt = Optimizer::new(OptimizerConfig::default()).unwrap();
        // Predict the first next character only: one label per sequence.
        let firsts: Vec<u32> = train.labels().chunks(16).map(|c| c[0]).collect();
        let set = Dataset::classified(train.images.clone(), vec![16], firsts, 15);
        let options =
            FitOptions { epochs, batch_size: 8, seed: 2, dropout_schedule: schedule, ..FitOptions::default() };
        let h = fit(&mut m, &mut opt, &set, None, &options, &mut |_| {}).unwrap();
        (m.state_dict(), h)
    };
    // Late dropout is off in epoch 1: the same weights as p = 0.
    let (late, _) = fit_with(spec_text, 1, Some(DropoutSchedule::Late { cutoff: 1 }));
    let (none, _) = fit_with(&spec_text.replace("0.5", "0"), 1, None);
    assert_eq!(late, none);
    // Early dropout is on in epoch 1 (the same as plain dropout), off in epoch 2.
    let (_, early) = fit_with(spec_text, 2, Some(DropoutSchedule::Early { cutoff: 1 }));
    let (_, plain) = fit_with(spec_text, 2, None);
    assert_eq!(early.epochs[0].loss, plain.epochs[0].loss);
    assert_ne!(early.epochs[1].loss, plain.epochs[1].loss);
}
