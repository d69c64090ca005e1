//! Text from a character model: each next character sampled from the model's distribution at
//! the last position of the prompt so far, `p = softmax(z / temperature)` (temperature 0: the
//! most likely character). A causal model reads the last `T` characters, placed at positions
//! 0..n and the rest padded, so the padding is never seen. The draws are keyed by (seed,
//! character index): the same seed gives the same text.
//!
//! With Monte Carlo dropout (`passes` > 0) the distribution is the mean of `passes` stochastic
//! passes, and every character carries the predictive entropy `H[mean p]` and the mutual
//! information `H[mean p] - mean H[p]` (BALD) of that distribution, in nats.

use crate::data::text::Vocabulary;
use crate::error::{Error, Result};
use crate::layer::{Ctx, Mode};
use crate::model::Sequential;
use crate::rng::{streams, Stream};
use crate::tensor::Tensor;

/// How to sample.
#[derive(Clone, Copy, Debug)]
pub struct GenerateOptions {
    pub tokens: usize,
    pub temperature: f64,
    pub seed: u64,
    /// Monte Carlo passes per character (0: one deterministic pass).
    pub passes: usize,
}

/// One generated character.
#[derive(Clone, Debug, PartialEq)]
pub struct Generated {
    pub char: char,
    /// Predictive entropy and mutual information (Monte Carlo only).
    pub entropy: Option<f64>,
    pub mutual_information: Option<f64>,
}

fn entropy(p: &[f64]) -> f64 {
    -p.iter().filter(|&&v| v > 0.0).map(|&v| v * v.ln()).sum::<f64>()
}

/// Softmax of `z / temperature` in f64 (temperature 0 is treated as 1 here; the caller takes
/// the most likely character).
fn softmax(z: &[f32], temperature: f64) -> Vec<f64> {
    let t = if temperature > 0.0 { temperature } else { 1.0 };
    let max = z.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let e: Vec<f64> = z.iter().map(|&v| ((v as f64 - max) / t).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

/// Continues `prompt` by `options.tokens` characters.
pub fn generate(
    model: &mut Sequential,
    vocabulary: &Vocabulary,
    prompt: &str,
    options: &GenerateOptions,
) -> Result<Vec<Generated>> {
    let &[t] = model.input_shape() else {
        return Err(Error::InvalidArgument(format!(
            "this model reads samples of {:?}, not character sequences; generate needs a run trained on text",
            model.input_shape()
        )));
    };
    let v: usize = vocabulary.len();
    if model.output_shape() != [t, v] {
        return Err(Error::InvalidArgument(format!(
            "this model outputs {:?} per sequence, not one of the {v} characters per position",
            model.output_shape()
        )));
    }
    if !(options.temperature.is_finite() && options.temperature >= 0.0) {
        return Err(Error::InvalidArgument(format!(
            "temperature {}: must be 0 (most likely character) or positive, e.g. 0.8",
            options.temperature
        )));
    }
    let mut ids = Vec::with_capacity(prompt.len() + options.tokens);
    for c in prompt.chars() {
        ids.push(vocabulary.id(c).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "the prompt's character {c:?} is not in the model's vocabulary of {v} characters"
            ))
        })?);
    }
    if ids.is_empty() {
        return Err(Error::InvalidArgument(
            "the prompt is empty; give at least one character, e.g. --prompt 'ROMEO:'".into(),
        ));
    }
    let mut x = Tensor::zeros(&[1, t]);
    let mut out = Vec::with_capacity(options.tokens);
    for k in 0..options.tokens {
        let window = &ids[ids.len().saturating_sub(t)..];
        let last = window.len() - 1;
        x.data_mut().iter_mut().enumerate().for_each(|(i, slot)| *slot = window.get(i).map_or(0.0, |&id| id as f32));
        let (mean, measures) = if options.passes == 0 {
            let logits = model.forward_logits(&x, &Ctx::new(Mode::Eval, model.seed(), 0))?;
            (softmax(&logits.data()[last * v..(last + 1) * v], options.temperature), None)
        } else {
            let (mut mean, mut expected) = (vec![0.0; v], 0.0);
            for s in 0..options.passes {
                // One sample index per (character, pass): every character gets fresh masks.
                let sample = (k * options.passes + s) as u64;
                let logits = model.forward_logits(&x, &Ctx::new(Mode::MonteCarlo { sample }, model.seed(), 0))?;
                let p = softmax(&logits.data()[last * v..(last + 1) * v], options.temperature);
                expected += entropy(&p);
                mean.iter_mut().zip(&p).for_each(|(m, &q)| *m += q);
            }
            let n = options.passes as f64;
            mean.iter_mut().for_each(|m| *m /= n);
            let h = entropy(&mean);
            (mean, Some((h, h - expected / n)))
        };
        let id = if options.temperature == 0.0 {
            mean.iter().enumerate().fold(0, |best, (i, &p)| if p > mean[best] { i } else { best })
        } else {
            let u = Stream::new(options.seed, streams::GENERATE, k as u64).uniform() as f64;
            let mut acc = 0.0;
            mean.iter()
                .position(|&p| {
                    acc += p;
                    u < acc
                })
                .unwrap_or(v - 1)
        };
        ids.push(id as u32);
        out.push(Generated {
            char: vocabulary.char(id as u32).unwrap_or('?'),
            entropy: measures.map(|m| m.0),
            mutual_information: measures.map(|m| m.1),
        });
    }
    Ok(out)
}
