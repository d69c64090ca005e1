//! The model spec grammar: layers separated by spaces, each `name` or `name(arg, ...)`.
//!
//! ```text
//! spec   := layer { layer }
//! layer  := name [ "(" arg { "," arg } ")" ]
//! ```
//! Layers: `dense(units[, activation])` (alias `linear`), `relu`, `sigmoid`, `tanh`, `softmax`,
//! `dropout(p)` (inverted), `classic_dropout(p)` (scaled at test time), `batchnorm` or
//! `batchnorm(momentum)` (aliases `batchnorm1d`, `batchnorm2d`), `selu`, `noise_dropout(p, axes)`,
//! `spatial_dropout{1,2,3}d(p)`, `gaussian_dropout(p)`, `gaussian_noise(stddev)`,
//! `alpha_dropout(p)`, `feature_alpha_dropout(p)`. The input size comes
//! from the data, e.g. `"dense(512) relu dropout(0.2) dense(10)"`.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::dropout::{
    AlphaDropout, AlphaKind, Cell, ConcreteDropout, DropBlock, DropConnect, DropConnectEval, DropConnectOptions,
    Dropout, Embedding, GaussianDropout, GaussianNoise, NoiseShapeDropout, Recurrent, RnnOptions, Scaling,
    VariationalDense,
};
use crate::error::{Error, Result};
use crate::layer::Layer;
use crate::nn::linear::Init;
use crate::nn::{Activation, ActivationKind, BatchNorm, Conv, Flatten, Linear, Pool, PoolKind, Residual, Softmax};

/// Every layer name the parser knows, for messages and suggestions.
pub const LAYER_NAMES: &[&str] = &[
    "dense",
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "selu",
    "softmax",
    "batchnorm",
    "dropout",
    "classic_dropout",
    "noise_dropout",
    "spatial_dropout1d",
    "spatial_dropout2d",
    "spatial_dropout3d",
    "gaussian_dropout",
    "gaussian_noise",
    "alpha_dropout",
    "feature_alpha_dropout",
    "dropconnect",
    "droppath",
    "dropblock",
    "embedding",
    "residual",
    "variational_dense",
    "concrete_dropout",
    "lstm",
    "gru",
    "locked_dropout",
    "conv1d",
    "conv2d",
    "maxpool",
    "maxpool1d",
    "maxpool2d",
    "avgpool",
    "avgpool1d",
    "avgpool2d",
    "flatten",
];

/// One parsed `name(args)` item.
#[derive(Debug, PartialEq)]
struct Item<'a> {
    name: &'a str,
    args: Vec<&'a str>,
    /// Everything between the parentheses, for layers that take a spec (residual).
    raw: &'a str,
}

/// `text` split at the commas outside any parentheses, each part trimmed.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts
}

/// Parses a spec into unbuilt layers.
pub fn parse(spec: &str) -> Result<Vec<Box<dyn Layer>>> {
    let items = tokenize(spec)?;
    if items.is_empty() {
        return Err(Error::Spec("empty; try \"dense(512) relu dropout(0.2) dense(10)\"".into()));
    }
    let mut layers = Vec::new();
    for (i, item) in items.iter().enumerate() {
        // A dense layer feeding SELU starts LeCun-normal, as self-normalizing networks need.
        let selu_next = items.get(i + 1).is_some_and(|n| n.name.eq_ignore_ascii_case("selu"))
            || item.args.get(1).is_some_and(|a| a.eq_ignore_ascii_case("selu"));
        layers.extend(make(item, i + 1, selu_next)?);
    }
    Ok(layers)
}

/// Names of the layers whose first argument is a drop probability.
pub const DROPOUT_LAYERS: &[&str] = &[
    "dropout",
    "classic_dropout",
    "noise_dropout",
    "spatial_dropout1d",
    "spatial_dropout2d",
    "spatial_dropout3d",
    "gaussian_dropout",
    "alpha_dropout",
    "feature_alpha_dropout",
    "droppath",
    "dropblock",
    "locked_dropout",
];

fn is_dropout(name: &str) -> bool {
    DROPOUT_LAYERS.contains(&name.to_ascii_lowercase().as_str())
}

fn is_activation(name: &str) -> bool {
    matches!(name.to_ascii_lowercase().as_str(), "relu" | "sigmoid" | "tanh")
}

/// Writes items back as a spec, checking that it parses.
fn join(items: &[(String, Vec<String>)]) -> Result<String> {
    let text = items
        .iter()
        .map(|(name, args)| if args.is_empty() { name.clone() } else { format!("{name}({})", args.join(", ")) })
        .collect::<Vec<_>>()
        .join(" ");
    parse(&text)?;
    Ok(text)
}

fn owned_items(spec: &str) -> Result<Vec<(String, Vec<String>)>> {
    let items = tokenize(spec)?;
    Ok(items.into_iter().map(|i| (i.name.to_string(), i.args.iter().map(|a| a.to_string()).collect())).collect())
}

/// Number of dropout layers in `spec`.
pub fn count_dropout(spec: &str) -> Result<usize> {
    Ok(tokenize(spec)?.iter().filter(|i| is_dropout(i.name)).count())
}

/// `spec` with the i-th dropout layer's p set to `rates[i]` (the last rate repeats for the
/// remaining layers): `[0.2, 0.5]` gives the input 0.2 and every hidden layer 0.5.
pub fn with_dropout_rates(spec: &str, rates: &[f64]) -> Result<String> {
    let Some(&last) = rates.last() else {
        return Err(Error::Spec("no dropout rate given".into()));
    };
    let mut items = owned_items(spec)?;
    if !items.iter().any(|(n, _)| is_dropout(n)) {
        return Err(Error::Spec(format!("'{spec}' has no dropout layer whose rate could be set; add dropout(p)")));
    }
    for (k, (_, args)) in items.iter_mut().filter(|(n, _)| is_dropout(n)).enumerate() {
        let p = format!("{}", rates.get(k).copied().unwrap_or(last));
        match args.first_mut() {
            Some(first) => *first = p,
            None => args.push(p),
        }
    }
    join(&items)
}

/// `spec` with every dropout layer replaced by `variant` (a dropout layer name), same p.
pub fn with_dropout_variant(spec: &str, variant: &str) -> Result<String> {
    if !is_dropout(variant) {
        return Err(Error::Spec(format!("'{variant}' is not a dropout variant; known: {}", DROPOUT_LAYERS.join(", "))));
    }
    let mut items = owned_items(spec)?;
    for (name, args) in items.iter_mut().filter(|(n, _)| is_dropout(n)) {
        *name = variant.to_string();
        args.truncate(1);
    }
    join(&items)
}

/// `spec` without its dropout layers.
pub fn without_dropout(spec: &str) -> Result<String> {
    let items: Vec<_> = owned_items(spec)?.into_iter().filter(|(n, _)| !is_dropout(n)).collect();
    join(&items)
}

/// `spec` with batch normalization between every dense layer and its activation: the
/// "linear, batch norm, ReLU, dropout" stack.
pub fn with_batchnorm(spec: &str) -> Result<String> {
    let items = owned_items(spec)?;
    let mut out = Vec::new();
    let mut iter = items.into_iter().peekable();
    while let Some((name, args)) = iter.next() {
        let dense = matches!(name.to_ascii_lowercase().as_str(), "dense" | "linear");
        match (dense, args.get(1).cloned()) {
            (true, Some(act)) if is_activation(&act) => {
                out.push((name, args.into_iter().take(1).collect()));
                out.push(("batchnorm".to_string(), vec![]));
                out.push((act, vec![]));
            }
            (true, None) if iter.peek().is_some_and(|(next, _)| is_activation(next)) => {
                out.push((name, args));
                out.push(("batchnorm".to_string(), vec![]));
            }
            _ => out.push((name, args)),
        }
    }
    join(&out)
}

fn tokenize(spec: &str) -> Result<Vec<Item<'_>>> {
    let mut items = Vec::new();
    let mut rest = spec.trim_start();
    while !rest.is_empty() {
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if end == 0 {
            let c = rest.chars().next().unwrap_or(' ');
            return Err(Error::Spec(format!(
                "unexpected '{c}' at \"{}\"; layers look like dense(512) or relu",
                preview(rest)
            )));
        }
        let name = &rest[..end];
        rest = rest[end..].trim_start();
        let mut args = Vec::new();
        let mut raw = "";
        if let Some(inner) = rest.strip_prefix('(') {
            // The matching ')': arguments may nest, as in residual(dense(64, relu) dense(64)).
            let mut depth = 0usize;
            let close = inner
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' if depth == 0 => return true,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    false
                })
                .map(|(i, _)| i)
                .ok_or_else(|| Error::Spec(format!("'{name}(' is missing its closing ')'")))?;
            raw = &inner[..close];
            args = split_top_level(raw);
            if args == [""] {
                args.clear();
            }
            rest = inner[close + 1..].trim_start();
        }
        rest = rest.strip_prefix("->").unwrap_or(rest).trim_start();
        items.push(Item { name, args, raw });
    }
    Ok(items)
}

fn preview(s: &str) -> String {
    s.chars().take(20).collect()
}

fn make(item: &Item, position: usize, selu_next: bool) -> Result<Vec<Box<dyn Layer>>> {
    let name = item.name.to_ascii_lowercase();
    let call = format!("{}({})", item.name, item.args.join(", "));
    let n_args = |min: usize, max: usize, usage: &str| -> Result<()> {
        if item.args.len() < min || item.args.len() > max {
            return Err(Error::Spec(format!("{call}: expected {usage}")));
        }
        Ok(())
    };
    let prob = |arg: &str| -> Result<f64> {
        arg.parse::<f64>()
            .ok()
            .filter(|p| !p.is_nan())
            .ok_or_else(|| Error::Spec(format!("{call}: '{arg}' is not a number; p is a drop probability such as 0.5")))
    };
    // The first argument as a size of at least 1 (`what`: "units", "the hidden size").
    let positive = |what: &str| -> Result<usize> {
        let arg = item.args.first().copied().unwrap_or_default();
        arg.parse::<usize>()
            .ok()
            .filter(|&u| u > 0)
            .ok_or_else(|| Error::Spec(format!("{call}: {what} must be a positive integer, got '{arg}'")))
    };
    let layer: Box<dyn Layer> = match name.as_str() {
        "dense" | "linear" => {
            n_args(1, 2, "dense(units) or dense(units, activation), e.g. dense(512, relu)")?;
            let units = positive("units")?;
            let init = if selu_next { Init::LecunNormal } else { Init::GlorotUniform };
            let dense: Box<dyn Layer> = Box::new(Linear::new(units)?.with_init(init));
            return match item.args.get(1) {
                None => Ok(vec![dense]),
                Some(act) => {
                    let mut v = vec![dense];
                    v.extend(make(&Item { name: act, args: vec![], raw: "" }, position, false)?);
                    Ok(v)
                }
            };
        }
        "relu" | "sigmoid" | "tanh" | "selu" | "softmax" => {
            n_args(0, 0, &format!("no arguments: {name}"))?;
            match name.as_str() {
                "relu" => Box::new(Activation::new(ActivationKind::Relu)),
                "sigmoid" => Box::new(Activation::new(ActivationKind::Sigmoid)),
                "tanh" => Box::new(Activation::new(ActivationKind::Tanh)),
                "selu" => Box::new(Activation::new(ActivationKind::Selu)),
                _ => Box::new(Softmax::new()),
            }
        }
        "noise_dropout" => {
            n_args(2, 2, "noise_dropout(p, axes): axes share the mask, joined by '/' (0 is the batch), e.g. 2/3")?;
            let axes = item.args.get(1).copied().unwrap_or_default();
            let broadcast =
                axes.split('/').map(|a| a.trim().parse::<usize>()).collect::<std::result::Result<Vec<_>, _>>();
            let broadcast = broadcast.map_err(|_| {
                Error::Spec(format!("{call}: axes '{axes}' must be axis numbers joined by '/', e.g. 2/3"))
            })?;
            Box::new(NoiseShapeDropout::new(prob(item.args.first().copied().unwrap_or_default())?, broadcast)?)
        }
        "concrete_dropout" => {
            n_args(0, 1, "concrete_dropout or concrete_dropout(init_p), e.g. concrete_dropout(0.1)")?;
            let p = match item.args.first() {
                Some(a) => prob(a)?,
                None => 0.1,
            };
            Box::new(ConcreteDropout::new(p)?)
        }
        "variational_dense" => {
            n_args(1, 2, "variational_dense(units[, kl_warmup_steps]), e.g. variational_dense(512, 5000)")?;
            let units = positive("units")?;
            let warmup = match item.args.get(1) {
                None => 0,
                Some(a) => a.parse::<u64>().map_err(|_| {
                    Error::Spec(format!("{call}: the KL warm-up must be a whole number of steps, got '{a}'"))
                })?,
            };
            Box::new(VariationalDense::new(units, warmup)?)
        }
        "lstm" | "gru" => {
            n_args(
                1,
                4,
                &format!("{name}(hidden[, dropout[, recurrent_dropout[, sequences]]]), e.g. {name}(128, 0.25, 0.25)"),
            )?;
            let hidden = positive("the hidden size")?;
            let mut options = RnnOptions::default();
            for (i, extra) in item.args.iter().enumerate().skip(1) {
                match (i, *extra) {
                    (_, "sequences") => options.sequences = true,
                    (1, p) => options.dropout = prob(p)?,
                    (2, p) => options.recurrent_dropout = prob(p)?,
                    _ => {
                        return Err(Error::Spec(format!(
                            "{call}: unexpected '{extra}'; the last argument may be 'sequences'"
                        )))
                    }
                }
            }
            let cell = if name == "lstm" { Cell::Lstm } else { Cell::Gru };
            Box::new(Recurrent::new(cell, hidden, options)?)
        }
        "locked_dropout" => {
            n_args(1, 1, "locked_dropout(p) on (batch, time, features), e.g. locked_dropout(0.3)")?;
            Box::new(NoiseShapeDropout::locked(prob(item.args.first().copied().unwrap_or_default())?)?)
        }
        "embedding" => {
            n_args(2, 3, "embedding(vocab, dim[, p]), e.g. embedding(10000, 128, 0.1)")?;
            let whole = |i: usize, what: &str| -> Result<usize> {
                let arg = item.args.get(i).copied().unwrap_or_default();
                arg.parse::<usize>()
                    .map_err(|_| Error::Spec(format!("{call}: {what} must be a whole number, got '{arg}'")))
            };
            let p = match item.args.get(2) {
                Some(a) => prob(a)?,
                None => 0.0,
            };
            Box::new(Embedding::new(whole(0, "the vocabulary size")?, whole(1, "the dimension")?, p)?)
        }
        "dropblock" => {
            n_args(2, 3, "dropblock(p, block[, ramp_steps]), e.g. dropblock(0.1, 5) or dropblock(0.1, 5, 5000)")?;
            let p = prob(item.args.first().copied().unwrap_or_default())?;
            let whole = |i: usize, what: &str| -> Result<u64> {
                let arg = item.args.get(i).copied().unwrap_or("0");
                arg.parse::<u64>()
                    .map_err(|_| Error::Spec(format!("{call}: {what} must be a whole number, got '{arg}'")))
            };
            let block = usize::try_from(whole(1, "the block size")?).unwrap_or(usize::MAX);
            Box::new(DropBlock::new(p, block, whole(2, "the ramp (steps)")?)?)
        }
        "droppath" | "drop_path" => {
            n_args(1, 1, "droppath(p), e.g. droppath(0.1), last in a residual branch")?;
            Box::new(NoiseShapeDropout::per_sample(prob(item.args.first().copied().unwrap_or_default())?)?)
        }
        "spatial_dropout1d" | "spatial_dropout2d" | "spatial_dropout3d" => {
            n_args(1, 1, &format!("{name}(p), e.g. {name}(0.2)"))?;
            let dims = if name.ends_with("1d") {
                1
            } else if name.ends_with("2d") {
                2
            } else {
                3
            };
            Box::new(NoiseShapeDropout::spatial(prob(item.args.first().copied().unwrap_or_default())?, dims)?)
        }
        "gaussian_dropout" | "alpha_dropout" | "feature_alpha_dropout" => {
            n_args(1, 1, &format!("{name}(p) with p the drop probability, e.g. {name}(0.1)"))?;
            let p = prob(item.args.first().copied().unwrap_or_default())?;
            match name.as_str() {
                "gaussian_dropout" => Box::new(GaussianDropout::new(p)?),
                "alpha_dropout" => Box::new(AlphaDropout::new(p, AlphaKind::Units)?),
                _ => Box::new(AlphaDropout::new(p, AlphaKind::Features)?),
            }
        }
        "conv1d" | "conv2d" => {
            n_args(
                2,
                4,
                &format!("{name}(filters, kernel[, stride[, padding]]), e.g. {name}(32, 3) or {name}(32, 3, 1, same)"),
            )?;
            let dims = if name == "conv1d" { 1 } else { 2 };
            let whole = |i: usize, what: &str, default: Option<usize>| -> Result<usize> {
                match (item.args.get(i), default) {
                    (None, Some(d)) => Ok(d),
                    (arg, _) => {
                        let arg = arg.copied().unwrap_or_default();
                        arg.parse::<usize>()
                            .map_err(|_| Error::Spec(format!("{call}: {what} must be a whole number, got '{arg}'")))
                    }
                }
            };
            let (filters, kernel, stride) =
                (whole(0, "filters", None)?, whole(1, "kernel", None)?, whole(2, "stride", Some(1))?);
            let padding = match item.args.get(3).map(|a| a.to_ascii_lowercase()) {
                None => 0,
                Some(p) if p == "valid" => 0,
                // Keeps the size at stride 1 for odd kernels.
                Some(p) if p == "same" => kernel / 2,
                Some(_) => whole(3, "padding (or same, valid)", None)?,
            };
            Box::new(Conv::new(dims, filters, kernel, stride, padding)?)
        }
        "maxpool" | "maxpool2d" | "maxpool1d" | "avgpool" | "avgpool2d" | "avgpool1d" => {
            n_args(1, 2, &format!("{name}(kernel[, stride]), e.g. {name}(2)"))?;
            let whole = |i: usize| -> Result<Option<usize>> {
                item.args
                    .get(i)
                    .map(|a| {
                        a.parse::<usize>().map_err(|_| Error::Spec(format!("{call}: '{a}' is not a whole number")))
                    })
                    .transpose()
            };
            let kernel = whole(0)?.unwrap_or(2);
            let stride = whole(1)?.unwrap_or(kernel);
            let kind = if name.starts_with("max") { PoolKind::Max } else { PoolKind::Average };
            Box::new(Pool::new(kind, if name.ends_with("1d") { 1 } else { 2 }, kernel, stride)?)
        }
        "residual" => {
            if item.raw.trim().is_empty() {
                return Err(Error::Spec(format!(
                    "{call}: give the branch, e.g. residual(dense(64, relu) dense(64) droppath(0.1))"
                )));
            }
            Box::new(Residual::new(parse(item.raw)?, item.raw.trim())?)
        }
        "flatten" => {
            n_args(0, 0, "no arguments: flatten")?;
            Box::new(Flatten::default())
        }
        "dropconnect" => {
            n_args(
                2,
                5,
                "dropconnect(units, p[, activation][, per_example][, samples=Z]), e.g. dropconnect(512, 0.5, relu)",
            )?;
            let units = positive("units")?;
            let p = prob(item.args.get(1).copied().unwrap_or_default())?;
            let mut options = DropConnectOptions::default();
            for extra in item.args.iter().skip(2) {
                if let Some(act) = ActivationKind::from_name(extra) {
                    options.activation = Some(act);
                } else if extra.eq_ignore_ascii_case("per_example") {
                    options.per_example = true;
                } else if let Some(z) = extra.strip_prefix("samples=") {
                    let z = z.trim().parse::<usize>().map_err(|_| {
                        Error::Spec(format!("{call}: samples='{z}' must be a whole number of draws, e.g. samples=100"))
                    })?;
                    options.eval = DropConnectEval::Sampling(z);
                } else {
                    return Err(Error::Spec(format!(
                        "{call}: unknown option '{extra}'; use an activation (relu, tanh, sigmoid, selu), per_example or samples=Z"
                    )));
                }
            }
            Box::new(DropConnect::new(units, p, options)?)
        }
        "gaussian_noise" => {
            n_args(1, 1, "gaussian_noise(stddev), e.g. gaussian_noise(0.1)")?;
            let arg = item.args.first().copied().unwrap_or_default();
            let sd = arg.parse::<f64>().map_err(|_| {
                Error::Spec(format!("{call}: '{arg}' is not a number; stddev is the noise's standard deviation"))
            })?;
            Box::new(GaussianNoise::new(sd)?)
        }
        "dropout" | "classic_dropout" => {
            n_args(1, 1, &format!("{name}(p) with p the drop probability, e.g. {name}(0.5)"))?;
            let scaling = if name == "dropout" { Scaling::Inverted } else { Scaling::Classic };
            Box::new(Dropout::new(prob(item.args.first().copied().unwrap_or_default())?, scaling)?)
        }
        "batchnorm" | "batchnorm1d" | "batchnorm2d" | "batch_norm" => {
            n_args(0, 1, "batchnorm or batchnorm(momentum), e.g. batchnorm(0.1)")?;
            let momentum = match item.args.first() {
                None => 0.1,
                Some(arg) => arg.parse::<f64>().ok().filter(|m| m.is_finite()).ok_or_else(|| {
                    Error::Spec(format!("{call}: '{arg}' is not a number; momentum is in [0, 1], e.g. 0.1"))
                })?,
            };
            Box::new(BatchNorm::new(momentum)?)
        }
        _ => return Err(unknown(item.name, position)),
    };
    Ok(vec![layer])
}

fn unknown(name: &str, position: usize) -> Error {
    let best = LAYER_NAMES.iter().min_by_key(|k| edit_distance(&name.to_ascii_lowercase(), k)).copied();
    let hint = match best {
        Some(b) if edit_distance(&name.to_ascii_lowercase(), b) <= 3 => {
            format!("did you mean '{b}'? ")
        }
        _ => String::new(),
    };
    Error::Spec(format!("unknown layer '{name}' (item {position}); {hint}known layers: {}", LAYER_NAMES.join(", ")))
}

/// Levenshtein distance, for "did you mean" hints.
#[allow(clippy::indexing_slicing)] // rows have b.len() + 1 entries and j < b.len()
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + (ca != cb) as usize).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(s: &str) -> Vec<String> {
        parse(s).unwrap().iter().map(|l| l.spec()).collect()
    }

    #[test]
    fn parses_layers_and_dense_activation_shorthand() {
        assert_eq!(
            specs("dense(512) relu dropout(0.2) dense(10)"),
            ["dense(512)", "relu", "dropout(0.2)", "dense(10)"]
        );
        assert_eq!(
            specs("dense(64, tanh) -> classic_dropout(0.5) -> dense(10, softmax)"),
            ["dense(64)", "tanh", "classic_dropout(0.5)", "dense(10)", "softmax"]
        );
    }

    #[test]
    fn specs_are_rewritten_for_sweeps() {
        let paper = "dropout(0.2) dense(1024, relu) dropout(0.5) dense(1024) relu dropout(0.5) dense(10)";
        assert_eq!(count_dropout(paper).unwrap(), 3);
        assert_eq!(
            with_dropout_rates(paper, &[0.1, 0.3]).unwrap(),
            "dropout(0.1) dense(1024, relu) dropout(0.3) dense(1024) relu dropout(0.3) dense(10)"
        );
        assert_eq!(
            with_dropout_variant(paper, "classic_dropout").unwrap(),
            "classic_dropout(0.2) dense(1024, relu) classic_dropout(0.5) dense(1024) relu classic_dropout(0.5) dense(10)"
        );
        assert_eq!(without_dropout(paper).unwrap(), "dense(1024, relu) dense(1024) relu dense(10)");
        assert_eq!(
            with_batchnorm(paper).unwrap(),
            "dropout(0.2) dense(1024) batchnorm relu dropout(0.5) dense(1024) batchnorm relu dropout(0.5) dense(10)"
        );
        assert!(with_dropout_rates("dense(10)", &[0.5]).unwrap_err().to_string().contains("no dropout layer"));
        assert!(with_dropout_rates(paper, &[1.5]).is_err());
        assert!(with_dropout_variant(paper, "relu").is_err());
    }

    #[test]
    fn errors_name_the_problem() {
        let msg = |s: &str| parse(s).err().expect(s).to_string();
        assert!(msg("denze(512) relu").contains("did you mean 'dense'"));
        assert!(msg("dense(512) dropout(1.5)").contains("dropout(1.5): p must be in [0, 1]"));
        assert!(msg("dropout(abc)").contains("'abc' is not a number"));
        assert!(msg("dense(-3)").contains("positive integer"));
        assert!(msg("dense(3").contains("closing ')'"));
        assert!(msg("dropout(nan)").contains("not a number"));
        assert!(msg("").contains("empty"));
        assert!(msg("relu(2)").contains("no arguments"));
    }
}
