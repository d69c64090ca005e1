//! The model spec grammar: layers separated by spaces (or `->`), each `name` or
//! `name(arg, ...)`; the layer kinds and their arguments are those of the
//! [registry](super::registry).
//!
//! ```text
//! spec   := layer { layer }
//! layer  := name [ "(" arg { "," arg } ")" ]
//! ```
//! The input size comes from the data, e.g. `"dense(512) relu dropout(0.2) dense(10)"`.
//! A [`ModelSpec`] is the typed list of layer configs; sweeps rewrite it (rates, variants,
//! the no-dropout baseline, batch normalization) and print it back as spec text.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::registry::{self, downcast, write_spec, Call, LayerConfig, Substitute, KINDS};
use crate::error::{Error, Result};
use crate::layer::Layer;
use crate::nn::activation::ActivationConfig;
use crate::nn::linear::{DenseConfig, Init};
use std::fmt;

/// How deeply `residual(...)` may nest: deeper specs are refused before they exhaust the stack.
pub const MAX_DEPTH: usize = 32;

/// A model as the spec describes it: layer configs in order, nothing built yet.
#[derive(Clone, Debug)]
pub struct ModelSpec {
    pub layers: Vec<Box<dyn LayerConfig>>,
}

impl ModelSpec {
    /// The sequence length the model is made for: its first position embedding's, if any.
    pub fn context(&self) -> Option<usize> {
        self.layers.iter().find_map(|l| l.context())
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_spec(f, &self.layers)
    }
}

impl std::str::FromStr for ModelSpec {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        parse(text)
    }
}

/// Parses a spec into layer configs.
pub fn parse(spec: &str) -> Result<ModelSpec> {
    parse_nested(spec, 0)
}

/// [`parse`] at nesting depth `depth` (a residual branch is one deeper than its block).
pub(crate) fn parse_nested(spec: &str, depth: usize) -> Result<ModelSpec> {
    if depth > MAX_DEPTH {
        return Err(Error::Spec(format!("residual blocks nest more than {MAX_DEPTH} deep; flatten the spec")));
    }
    let items = tokenize(spec)?;
    if items.is_empty() {
        return Err(Error::Spec("empty; try \"dense(512) relu dropout(0.2) dense(10)\"".into()));
    }
    let mut layers = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let call = Call { name: item.name, args: item.args.clone(), raw: item.raw, depth, parse_spec: parse_configs };
        let kind = registry::find(item.name).ok_or_else(|| unknown(item.name, i + 1))?;
        layers.extend((kind.parse)(&call)?);
    }
    lecun_before_selu(&mut layers);
    // Making each layer checks its arguments (ranges, sizes) now, not when the model is built.
    for layer in &layers {
        layer.build()?;
    }
    Ok(ModelSpec { layers })
}

/// [`parse_nested`]'s configs: what a layer whose argument is a spec (a residual branch) gets.
fn parse_configs(spec: &str, depth: usize) -> Result<Vec<Box<dyn LayerConfig>>> {
    Ok(parse_nested(spec, depth)?.layers)
}

/// A dense layer feeding SELU starts LeCun-normal, as self-normalizing networks need.
fn lecun_before_selu(layers: &mut [Box<dyn LayerConfig>]) {
    for i in 1..layers.len() {
        let selu = layers.get(i).and_then(|l| downcast::<ActivationConfig>(l.as_ref())).is_some_and(|a| a.is_selu());
        if let (true, Some(prev)) = (selu, layers.get_mut(i - 1)) {
            if let Some(dense) = prev.as_any_mut().downcast_mut::<DenseConfig>() {
                dense.init = Init::LecunNormal;
            }
        }
    }
}

impl ModelSpec {
    /// Unbuilt layers, one per config.
    pub fn build_layers(&self) -> Result<Vec<Box<dyn Layer>>> {
        self.layers.iter().map(|c| c.build()).collect()
    }

    /// Every drop rate, in spec order, nested ones included.
    pub fn rates_mut(&mut self) -> Vec<&mut f64> {
        self.layers.iter_mut().flat_map(|l| l.rates_mut()).collect()
    }

    /// The spec text, checked by parsing it again (a rewrite cannot leave an invalid spec).
    fn checked_text(&self) -> Result<String> {
        let text = self.to_string();
        parse(&text)?;
        Ok(text)
    }
}

/// Number of drop rates in `spec` (one per plain dropout layer, two for a recurrent layer's
/// input and recurrent masks, nested layers included): what `--rates 0.2/0.5` sets in order.
pub fn count_dropout(spec: &str) -> Result<usize> {
    Ok(parse(spec)?.rates_mut().len())
}

/// `spec` with its drop rates set: one rate for all of them, or exactly one per rate in spec
/// order (a list of another length is an error naming both counts).
pub fn with_dropout_rates(spec: &str, rates: &[f64]) -> Result<String> {
    let Some(&all) = rates.first() else {
        return Err(Error::Spec("no dropout rate given".into()));
    };
    let mut model = parse(spec)?;
    let slots = model.rates_mut();
    if slots.is_empty() {
        return Err(Error::Spec(format!("'{spec}' has no dropout layer whose rate could be set; add dropout(p)")));
    }
    if rates.len() > 1 && rates.len() != slots.len() {
        return Err(Error::Spec(format!(
            "{} rates given but '{spec}' has {} drop rate{}; give one rate for all, or exactly one per rate",
            rates.len(),
            slots.len(),
            if slots.len() == 1 { "" } else { "s" }
        )));
    }
    for (k, slot) in slots.into_iter().enumerate() {
        *slot = rates.get(k).copied().unwrap_or(all);
    }
    model.checked_text()
}

/// `spec` with its dropout replaced by the variant `variant` (a name `dropkit variants` prints),
/// at the same rates. Plain dropout layers are replaced by a plain variant; a variant that
/// lives inside another layer (DropConnect, variational dense, embedding or recurrent dropout)
/// takes the rate of each dropout layer into the layer before it.
pub fn with_dropout_variant(spec: &str, variant: &str) -> Result<String> {
    let (kind, substitute) = registry::find(variant).and_then(|k| k.dropout.map(|s| (k, s))).ok_or_else(|| {
        let names: Vec<_> = registry::variants().map(|k| k.name()).collect();
        Error::Spec(format!("'{variant}' is not a dropout variant; known: {}", names.join(", ")))
    })?;
    let mut model = parse(spec)?;
    let mut replaced = 0;
    substitute_in(&mut model.layers, substitute, &mut replaced)?;
    if replaced == 0 {
        let needs = match substitute {
            Substitute::ForRate(_) => "a dropout layer such as dropout(0.5)".to_string(),
            Substitute::Host(_) => format!("a dropout layer after a layer that {} can replace", kind.name()),
        };
        return Err(Error::Spec(format!("--variants {}: '{spec}' has no place for it; it needs {needs}", kind.name())));
    }
    model.checked_text()
}

fn substitute_in(layers: &mut Vec<Box<dyn LayerConfig>>, rule: Substitute, replaced: &mut usize) -> Result<()> {
    let mut i = 0;
    while i < layers.len() {
        if let Some(branch) = layers.get_mut(i).and_then(|l| l.branch_mut()) {
            substitute_in(branch, rule, replaced)?;
        }
        let plain_rate = layers.get_mut(i).filter(|l| l.kind().is_plain_dropout()).and_then(|l| {
            let rates = l.rates_mut();
            rates.first().map(|r| **r)
        });
        let Some(p) = plain_rate else {
            i += 1;
            continue;
        };
        match rule {
            Substitute::ForRate(make) => {
                if let Some(slot) = layers.get_mut(i) {
                    *slot = make(p)?;
                    *replaced += 1;
                }
                i += 1;
            }
            Substitute::Host(absorb) => {
                // The host is the nearest earlier layer that is not an activation.
                let host = (0..i)
                    .rev()
                    .find(|&h| layers.get(h).is_some_and(|l| downcast::<ActivationConfig>(l.as_ref()).is_none()));
                let merged = host.and_then(|h| layers.get(h).and_then(|l| absorb(l.as_ref(), p)).map(|m| (h, m)));
                match merged {
                    Some((h, m)) => {
                        if let Some(slot) = layers.get_mut(h) {
                            *slot = m;
                        }
                        layers.remove(i);
                        *replaced += 1;
                    }
                    None => i += 1,
                }
            }
        }
    }
    Ok(())
}

/// `spec` with no dropout of any kind: plain dropout layers removed, every other rate set to 0,
/// learned-rate layers replaced by their deterministic counterparts, nested layers included.
pub fn without_dropout(spec: &str) -> Result<String> {
    let model = parse(spec)?;
    let layers: Vec<_> = model.layers.iter().flat_map(|l| l.without_dropout()).collect();
    ModelSpec { layers }.checked_text()
}

/// `spec` with batch normalization between every dense layer and the activation after it:
/// the "linear, batch norm, ReLU, dropout" stack.
pub fn with_batchnorm(spec: &str) -> Result<String> {
    let model = parse(spec)?;
    let mut out: Vec<Box<dyn LayerConfig>> = Vec::new();
    let mut iter = model.layers.into_iter().peekable();
    while let Some(layer) = iter.next() {
        let dense = downcast::<DenseConfig>(layer.as_ref()).is_some();
        out.push(layer);
        let activation_next = iter.peek().is_some_and(|n| downcast::<ActivationConfig>(n.as_ref()).is_some());
        if dense && activation_next {
            let call = Call { name: "batchnorm", args: Vec::new(), raw: "", depth: 0, parse_spec: parse_configs };
            out.extend((crate::nn::batchnorm::KIND.parse)(&call)?);
        }
    }
    ModelSpec { layers: out }.checked_text()
}

/// One parsed `name(args)` item.
#[derive(Debug, PartialEq)]
struct Item<'a> {
    name: &'a str,
    args: Vec<&'a str>,
    /// Everything between the parentheses, for layers that take a spec (residual).
    raw: &'a str,
}

fn unknown(name: &str, position: usize) -> Error {
    let lower = name.to_ascii_lowercase();
    let names: Vec<&str> = KINDS.iter().flat_map(|k| k.names.iter().copied()).collect();
    let best = names.iter().min_by_key(|k| edit_distance(&lower, k)).copied();
    let hint = match best {
        Some(b) if edit_distance(&lower, b) <= 3.min(lower.len().saturating_sub(1)).max(1) => {
            format!("did you mean '{b}'? ")
        }
        _ => String::new(),
    };
    let canonical: Vec<&str> = KINDS.iter().map(|k| k.name()).collect();
    Error::Spec(format!("unknown layer '{name}' (item {position}); {hint}known layers: {}", canonical.join(", ")))
}

fn preview(s: &str) -> String {
    s.chars().take(20).collect()
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
        parse(s).unwrap().layers.iter().map(|l| l.to_string()).collect()
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
            with_dropout_rates(paper, &[0.1, 0.3, 0.3]).unwrap(),
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
        let msg = |s: &str| parse(s).expect_err(s).to_string();
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
