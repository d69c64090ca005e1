//! The layer registry: every layer kind described once, beside its implementation.
//!
//! Each layer file defines a typed config and a [`LayerKind`] (see [`crate::kind`]). The spec
//! parser, its "did you mean" hints, `dropkit variants`, `--rates`, `--variants`, the `none`
//! baseline and the README's grammar table are views of [`KINDS`]. Adding a variant is one new
//! file, its `mod` line and one line here.

pub use crate::kind::*;

/// Every layer kind, in the order `dropkit variants` and the README list them.
pub const KINDS: &[&LayerKind] = &[
    &crate::nn::linear::KIND,
    &crate::nn::activation::KIND,
    &crate::nn::gelu::KIND,
    &crate::nn::softmax::KIND,
    &crate::nn::conv::KIND,
    &crate::nn::pool::KIND,
    &crate::nn::flatten::KIND,
    &crate::nn::batchnorm::KIND,
    &crate::nn::layernorm::KIND,
    &crate::nn::attention::KIND,
    &crate::nn::positionwise::KIND,
    &crate::nn::position::KIND,
    &crate::nn::embed::KIND,
    &crate::nn::patches::KIND,
    &crate::nn::seqmean::KIND,
    &crate::nn::block::BLOCK,
    &crate::nn::block::BLOCKS,
    &crate::nn::residual::KIND,
    &crate::dropout::standard::INVERTED,
    &crate::dropout::standard::CLASSIC,
    &crate::dropout::noise_shape::NOISE_SHAPE,
    &crate::dropout::noise_shape::SPATIAL1D,
    &crate::dropout::noise_shape::SPATIAL2D,
    &crate::dropout::noise_shape::SPATIAL3D,
    &crate::dropout::gaussian::DROPOUT,
    &crate::dropout::gaussian::NOISE,
    &crate::dropout::alpha::KIND,
    &crate::dropout::alpha::FEATURE,
    &crate::dropout::dropconnect::KIND,
    &crate::dropout::dropblock::KIND,
    &crate::dropout::noise_shape::DROPPATH,
    &crate::dropout::embedding::KIND,
    &crate::dropout::variational_rnn::LSTM,
    &crate::dropout::variational_rnn::GRU,
    &crate::dropout::noise_shape::LOCKED,
    &crate::dropout::variational::KIND,
    &crate::dropout::concrete::KIND,
    &crate::dropout::drop_activation::KIND,
];

/// The kind named `name` (any of its names, any case).
pub fn find(name: &str) -> Option<&'static LayerKind> {
    KINDS.iter().copied().find(|k| k.names.iter().any(|n| n.eq_ignore_ascii_case(name)))
}

/// Every dropout variant, by canonical name.
pub fn variants() -> impl Iterator<Item = &'static LayerKind> {
    KINDS.iter().copied().filter(|k| k.dropout.is_some())
}

/// One line of the catalogue `dropkit variants` prints.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VariantInfo {
    /// The spec name (also what `--variants` takes).
    pub name: &'static str,
    /// How to write it in a model spec.
    pub spec: &'static str,
    pub description: &'static str,
    pub paper: &'static str,
}

/// The catalogue of dropout variants: the layer kinds, then the variants inside attention and
/// blocks and the training options ([`crate::dropout::catalogue`]).
pub fn catalogue() -> Vec<VariantInfo> {
    let layers =
        variants().map(|k| VariantInfo { name: k.name(), spec: k.usage, description: k.summary, paper: k.paper });
    let inner = crate::dropout::catalogue::ENTRIES.iter().map(|e| VariantInfo {
        name: e.name,
        spec: e.spec,
        description: e.description,
        paper: e.paper,
    });
    layers.chain(inner).collect()
}

/// The README's grammar table, one row per layer kind.
pub fn markdown_table() -> String {
    let mut out = String::from("| layer | meaning | paper |\n|---|---|---|\n");
    for kind in KINDS {
        let paper = if kind.paper.is_empty() { "" } else { kind.paper };
        out.push_str(&format!("| `{}` | {} | {} |\n", kind.usage, kind.summary, paper));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<String> =
            KINDS.iter().flat_map(|k| k.names.iter().map(|n| n.to_ascii_lowercase())).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "a name belongs to two kinds");
    }
}
