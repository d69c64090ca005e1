//! Embedding dropout of the Transformer (Vaswani et al., "Attention Is All You Need", NeurIPS
//! 2017, <https://arxiv.org/abs/1706.03762>, section 5.4; `embed(..., drop=p)`): inverted dropout
//! on the sum of the token and position embeddings, `y_t = (E[id_t] + P_t) * m_t / (1 - p)`, m ~
//! Bernoulli(1 - p) per element, keyed by (seed, layer, step); the backward pass regenerates the
//! mask. (Gal and Ghahramani's embedding dropout, which drops whole words, is `embedding(V, D,
//! p)`, [`super::embedding`].) Eval: `E[id_t] + P_t`. Monte Carlo: a fresh keyed mask per sample.

pub const INFO: super::catalogue::Entry = super::catalogue::Entry {
    name: "embed_drop",
    spec: "embed(vocab=V, dim=D, context=T, drop=p)",
    description: "embedding dropout: inverted dropout on the sum of token and position embeddings",
    paper: "Vaswani et al. 2017, NeurIPS",
};
