//! `embed(vocab=V, dim=D, context=T, drop=p)`: token embedding plus a learned position
//! embedding, then embedding dropout (Vaswani et al. 2017, section 5.4; the GPT input layer):
//! `y_t = dropout(E[id_t] + P_t)`.
//!
//! Shapes: ids (B, T) as f32 whole numbers in [0, V) -> (B, T, D); E (V, D), P (T, D).
//! Parameters: `tok.weight` (E), `pos.weight` (P). The dropout is
//! [`crate::dropout::embed_dropout`]: off in eval, keyed per MC sample.

use super::chain::{Chain, Skip};
use super::position::PositionEmbedding;
use crate::dropout::{Dropout, Embedding, Scaling};
use crate::error::Result;
use crate::kind::{one, LayerConfig, LayerKind};
use crate::layer::Layer;
use std::fmt;

/// `embed(vocab=V, dim=D, context=T, drop=p)`.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbedConfig {
    pub vocab: usize,
    pub dim: usize,
    pub context: usize,
    pub drop: f64,
}

impl fmt::Display for EmbedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "embed(vocab={}, dim={}, context={}", self.vocab, self.dim, self.context)?;
        if self.drop > 0.0 {
            write!(f, ", drop={}", self.drop)?;
        }
        f.write_str(")")
    }
}

impl LayerConfig for EmbedConfig {
    fn kind(&self) -> &'static LayerKind {
        &KIND
    }
    fn build(&self) -> Result<Box<dyn Layer>> {
        let mut parts: Vec<(&'static str, Box<dyn Layer>)> = vec![
            ("tok", Box::new(Embedding::new(self.vocab, self.dim, 0.0)?)),
            ("pos", Box::new(PositionEmbedding::new(Some(self.context)))),
        ];
        if self.drop > 0.0 {
            parts.push(("drop", Box::new(Dropout::new(self.drop, Scaling::Inverted)?)));
        }
        Ok(Box::new(Chain::new(parts, self.to_string(), Skip::default())))
    }
    fn rates_mut(&mut self) -> Vec<&mut f64> {
        vec![&mut self.drop]
    }
    fn depends_on_mode(&self) -> bool {
        true
    }
    fn context(&self) -> Option<usize> {
        Some(self.context)
    }
}

pub const KIND: LayerKind = LayerKind {
    names: &["embed"],
    usage: "embed(vocab=V, dim=D, context=T, drop=p)",
    example: "embed(vocab=12, dim=8, context=6, drop=0.1)",
    summary: "token ids (B, T) to token plus learned position embeddings (B, T, D), then embedding dropout",
    paper: "Vaswani et al. 2017, NeurIPS",
    dropout: None,
    parse: |call| {
        let usage = "embed(vocab=65, dim=128, context=128, drop=0.1)";
        let (mut vocab, mut dim, mut context, mut drop) = (None, None, None, 0.0);
        for arg in &call.args {
            let Some((k, v)) = arg.split_once('=').map(|(k, v)| (k.trim(), v.trim())) else {
                return Err(call.error(format!("'{arg}' is not key=value; {usage}")));
            };
            let size = || -> Result<usize> {
                v.parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| call.error(format!("{k}={v} must be a positive whole number; {usage}")))
            };
            match k {
                "vocab" => vocab = Some(size()?),
                "dim" => dim = Some(size()?),
                "context" => context = Some(size()?),
                "drop" => {
                    drop = v
                        .parse()
                        .ok()
                        .filter(|p: &f64| (0.0..=1.0).contains(p))
                        .ok_or_else(|| call.error(format!("drop={v} must be a probability in [0, 1]; {usage}")))?
                }
                _ => return Err(call.error(format!("unknown argument '{k}'; {usage}"))),
            }
        }
        match (vocab, dim, context) {
            (Some(vocab), Some(dim), Some(context)) => one(EmbedConfig { vocab, dim, context, drop }),
            _ => Err(call.error(format!("give vocab, dim and context; {usage}"))),
        }
    },
};
