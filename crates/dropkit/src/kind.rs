//! Layer kinds: what every layer file says about itself. A typed config ([`LayerConfig`]: the
//! spec arguments, printed back as spec text by `Display`) and a [`LayerKind`] (names, a
//! one-line description, the paper, how it parses, and for dropout variants how `--variants`
//! puts it in place of another dropout). The table of all kinds is
//! [`model::registry`](crate::model::registry); this module sits below the layers so that
//! they can describe themselves without importing the model.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::error::{Error, Result};
use crate::layer::Layer;
use std::any::Any;
use std::fmt;

/// How a dropout variant replaces the dropout of a spec (`--variants NAME`).
#[derive(Clone, Copy)]
pub enum Substitute {
    /// Stands wherever a plain dropout layer stands, built from its rate.
    ForRate(fn(p: f64) -> Result<Box<dyn LayerConfig>>),
    /// Takes a dropout layer's rate into the layer before it (skipping activations), e.g.
    /// `dense(512) relu dropout(0.5)` -> `dropconnect(512, 0.5) relu`; None when that layer
    /// cannot host it.
    Host(fn(host: &dyn LayerConfig, p: f64) -> Option<Box<dyn LayerConfig>>),
}

/// What one spec item parses to (`dense(64, relu)` is two layers).
pub type Configs = Vec<Box<dyn LayerConfig>>;

/// One layer kind.
pub struct LayerKind {
    /// Spec names, the canonical one first (matched case-insensitively).
    pub names: &'static [&'static str],
    /// How it is written, e.g. `dropout(p)`.
    pub usage: &'static str,
    /// A spec item that parses, for hints and tests.
    pub example: &'static str,
    /// One line: what it does.
    pub summary: &'static str,
    /// Where it comes from ("" for plain layers).
    pub paper: &'static str,
    /// Some for dropout variants (listed by `dropkit variants`).
    pub dropout: Option<Substitute>,
    /// Parses one `name(args)` item; `dense(units, act)` gives two configs.
    pub parse: fn(&Call) -> Result<Configs>,
}

impl LayerKind {
    /// The canonical spec name.
    pub fn name(&self) -> &'static str {
        self.names.first().copied().unwrap_or("")
    }

    /// A plain dropout layer: it only drops, so the `none` baseline removes it.
    pub fn is_plain_dropout(&self) -> bool {
        matches!(self.dropout, Some(Substitute::ForRate(_)))
    }
}

impl fmt::Debug for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A layer's typed configuration: what the spec says, before any shape is known.
pub trait LayerConfig: ConfigBox + fmt::Display + fmt::Debug + Send + Sync {
    /// The kind this config belongs to.
    fn kind(&self) -> &'static LayerKind;

    /// An unbuilt layer (shapes are fixed later, by `Layer::build`).
    fn build(&self) -> Result<Box<dyn Layer>>;

    /// Every drop rate this layer has, in spec order (nested layers included).
    fn rates_mut(&mut self) -> Vec<&mut f64> {
        Vec::new()
    }

    /// This layer with no dropout of any kind: removed (empty) for plain dropout layers,
    /// rates set to 0 otherwise. Layers whose dropout is learned override it.
    fn without_dropout(&self) -> Vec<Box<dyn LayerConfig>> {
        if self.kind().is_plain_dropout() {
            return Vec::new();
        }
        let mut copy = self.clone_box();
        copy.rates_mut().into_iter().for_each(|r| *r = 0.0);
        vec![copy]
    }

    /// True for a layer that can take an inline activation (`dense(64, relu)`).
    fn takes_inline(&self) -> bool {
        false
    }

    /// True for an activation written inside the dense layer before it (`dense(64, relu)`),
    /// a spelling that a printed spec keeps.
    fn inline(&self) -> bool {
        false
    }

    /// Whether the layer acts differently in Train, Eval and Monte Carlo passes (so that
    /// [`Sequential::set_layer_mode`](super::Sequential::set_layer_mode) can address it).
    fn depends_on_mode(&self) -> bool {
        self.kind().dropout.is_some()
    }

    /// The sequence length this layer is made for (a position embedding's), if it fixes one.
    fn context(&self) -> Option<usize> {
        None
    }

    /// The layers nested inside this one (a residual branch), for rewrites.
    fn branch_mut(&mut self) -> Option<&mut Vec<Box<dyn LayerConfig>>> {
        None
    }
}

/// Cloning and downcasting of boxed configs, implemented for every config type.
pub trait ConfigBox {
    fn clone_box(&self) -> Box<dyn LayerConfig>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: LayerConfig + Clone + 'static> ConfigBox for T {
    fn clone_box(&self) -> Box<dyn LayerConfig> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl Clone for Box<dyn LayerConfig> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Writes layer configs as spec text: separated by spaces, an inline activation inside the
/// dense layer before it (`dense(64, relu)`).
pub fn write_spec(f: &mut fmt::Formatter<'_>, layers: &[Box<dyn LayerConfig>]) -> fmt::Result {
    let mut layers = layers.iter().peekable();
    let mut first = true;
    while let Some(layer) = layers.next() {
        if !first {
            f.write_str(" ")?;
        }
        first = false;
        let text = layer.to_string();
        match layers.next_if(|next| layer.takes_inline() && next.inline()) {
            Some(act) => write!(f, "{}, {act})", text.strip_suffix(')').unwrap_or(&text))?,
            None => f.write_str(&text)?,
        }
    }
    Ok(())
}

/// The config as type `T`, if it is one.
pub fn downcast<T: 'static>(config: &dyn LayerConfig) -> Option<&T> {
    config.as_any().downcast_ref::<T>()
}

/// Boxes one config, for `parse` functions.
pub fn one(config: impl LayerConfig + 'static) -> Result<Vec<Box<dyn LayerConfig>>> {
    Ok(vec![Box::new(config)])
}

/// One `name(args)` item of a spec, with helpers that parse its arguments and say what was
/// expected when they do not.
#[derive(Debug)]
pub struct Call<'a> {
    /// The name as written.
    pub name: &'a str,
    /// Arguments split at top-level commas, trimmed.
    pub args: Vec<&'a str>,
    /// Everything between the parentheses (for layers that take a spec).
    pub raw: &'a str,
    /// How deeply this item is nested inside residual blocks.
    pub depth: usize,
    /// The spec parser, for layers whose argument is a spec (a residual branch): parses text
    /// at a nesting depth.
    pub parse_spec: fn(&str, usize) -> Result<Configs>,
}

impl Call<'_> {
    /// The item as written, for messages: `dropout(1.5)`.
    pub fn text(&self) -> String {
        format!("{}({})", self.name, self.args.join(", "))
    }

    /// An error about this item: `"{call}: {message}"`.
    pub fn error(&self, message: impl fmt::Display) -> Error {
        Error::Spec(format!("{}: {message}", self.text()))
    }

    /// The name, lower case.
    pub fn lower_name(&self) -> String {
        self.name.to_ascii_lowercase()
    }

    /// Checks the argument count; `usage` shows the right form.
    pub fn expect(&self, min: usize, max: usize, usage: &str) -> Result<()> {
        if self.args.len() < min || self.args.len() > max {
            return Err(self.error(format!("expected {usage}")));
        }
        Ok(())
    }

    /// Argument `i`, if given.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).copied()
    }

    /// Argument `i` as a drop probability (its range is checked when the layer is made).
    pub fn prob(&self, i: usize) -> Result<f64> {
        let arg = self.arg(i).unwrap_or_default();
        arg.parse::<f64>()
            .ok()
            .filter(|p| !p.is_nan())
            .ok_or_else(|| self.error(format!("'{arg}' is not a number; p is a drop probability such as 0.5")))
    }

    /// Argument `i` as a probability, or `default` when absent.
    pub fn prob_or(&self, i: usize, default: f64) -> Result<f64> {
        if self.arg(i).is_some() {
            self.prob(i)
        } else {
            Ok(default)
        }
    }

    /// Argument `i` as a size of at least 1 (`what`: "units", "the hidden size").
    pub fn positive(&self, i: usize, what: &str) -> Result<usize> {
        let arg = self.arg(i).unwrap_or_default();
        arg.parse::<usize>()
            .ok()
            .filter(|&u| u > 0)
            .ok_or_else(|| self.error(format!("{what} must be a positive integer, got '{arg}'")))
    }

    /// Argument `i` as a whole number, or `default` when absent (None: required).
    pub fn whole(&self, i: usize, what: &str, default: Option<u64>) -> Result<u64> {
        match (self.arg(i), default) {
            (None, Some(d)) => Ok(d),
            (arg, _) => {
                let arg = arg.unwrap_or_default();
                arg.parse::<u64>().map_err(|_| self.error(format!("{what} must be a whole number, got '{arg}'")))
            }
        }
    }

    /// Argument `i` as a whole number that fits in memory sizes.
    pub fn size(&self, i: usize, what: &str, default: Option<usize>) -> Result<usize> {
        let n = self.whole(i, what, default.map(|d| d as u64))?;
        usize::try_from(n).map_err(|_| self.error(format!("{what} {n} is too large")))
    }

    /// Argument `i` as a finite number.
    pub fn number(&self, i: usize, what: &str) -> Result<f64> {
        let arg = self.arg(i).unwrap_or_default();
        arg.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| self.error(format!("'{arg}' is not a number; {what}")))
    }
}
