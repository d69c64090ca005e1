//! The layer registry is the one description of every layer kind: the parser, `dropkit
//! variants`, `--variants`, `--rates`, the `none` baseline and the README table are its views.

use dropkit::layer::{Ctx, Mode};
use dropkit::model::registry::{self, KINDS};
use dropkit::model::spec;
use dropkit::model::Sequential;
use dropkit::tensor::Tensor;

#[test]
fn every_kind_parses_its_example_and_prints_it_back() {
    for kind in KINDS {
        let model = spec::parse(kind.example).unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
        let again = spec::parse(&model.to_string()).unwrap();
        assert_eq!(model.to_string(), again.to_string(), "{} does not print back to itself", kind.name());
        // `blocks(n, ...)` is written once and expands into n `block(...)` layers.
        let first = if kind.name() == "blocks" { "block" } else { kind.name() };
        assert_eq!(model.layers[0].kind().name(), first);
    }
}

/// Specs a variant can stand in for: plain dropout after a dense, an embedding or an LSTM.
const HOSTS: &[&str] = &[
    "dense(32, relu) dropout(0.3) dense(10)",
    "embedding(100, 8) dropout(0.3) flatten dense(10)",
    "lstm(16) dropout(0.3) dense(10)",
];

#[test]
fn every_variant_name_is_accepted_by_the_parser_and_by_variants() {
    let names: Vec<_> = registry::variants().map(|k| k.name()).collect();
    assert!(names.len() >= 19, "{names:?}");
    // The catalogue adds the variants that live inside attention and blocks, and the training
    // options, each once.
    let catalogue = registry::catalogue();
    assert_eq!(catalogue.len(), names.len() + dropkit::dropout::catalogue::ENTRIES.len());
    for entry in [
        "attn_drop",
        "resid_drop",
        "embed_drop",
        "drop_key",
        "drop_head",
        "layer_drop",
        "stochastic_depth",
        "rdrop",
        "early_late",
    ] {
        assert!(catalogue.iter().any(|v| v.name == entry), "{entry} is not listed");
    }
    for name in names {
        assert!(registry::find(name).is_some(), "{name} is not a spec name");
        let rewritten: Vec<_> = HOSTS.iter().filter_map(|h| spec::with_dropout_variant(h, name).ok()).collect();
        assert!(!rewritten.is_empty(), "--variants {name} is refused on every host spec");
        for text in rewritten {
            assert!(text.contains(name), "--variants {name} gave '{text}'");
            spec::parse(&text).unwrap();
        }
    }
    assert!(spec::with_dropout_variant(HOSTS[0], "relu").unwrap_err().to_string().contains("not a dropout variant"));
}

const NESTED: &str = "dropconnect(64, 0.4, relu) residual(dense(64, relu) dropout(0.3) dense(64) droppath(0.2)) \
                      dense(32) concrete_dropout(0.2) variational_dense(10)";

#[test]
fn rates_reach_every_dropout_of_every_kind_nested_ones_included() {
    assert_eq!(spec::count_dropout(NESTED).unwrap(), 4);
    assert_eq!(
        spec::with_dropout_rates(NESTED, &[0.1, 0.25, 0.25, 0.25]).unwrap(),
        "dropconnect(64, 0.1, relu) residual(dense(64, relu) dropout(0.25) dense(64) droppath(0.25)) \
         dense(32) concrete_dropout(0.25) variational_dense(10)"
    );
    let rnn = "lstm(32, 0.1, 0.1, sequences) locked_dropout(0.2) gru(16) dense(10)";
    assert_eq!(
        spec::with_dropout_rates(rnn, &[0.5]).unwrap(),
        "lstm(32, 0.5, 0.5, sequences) locked_dropout(0.5) gru(16, 0.5, 0.5) dense(10)"
    );
}

/// Train-mode output equals Eval-mode output exactly: every mask of every layer kept all
/// units (no batch norm here, whose modes differ for another reason).
fn no_dropout_anywhere(text: &str, input: &[usize]) -> bool {
    let mut model = Sequential::from_spec(text, input, 3).unwrap();
    let n: usize = input.iter().product();
    let x = Tensor::from_vec((0..4 * n).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect(), &[4, n]).unwrap();
    let train = model.forward(&x, &Ctx::new(Mode::Train, 3, 1)).unwrap().clone();
    let eval = model.forward(&x, &Ctx::new(Mode::Eval, 3, 1)).unwrap().clone();
    train == eval
}

#[test]
fn the_none_baseline_has_no_dropout_of_any_kind() {
    let with = "dropconnect(64, 0.5, relu) residual(dense(64, relu) dropout(0.5) dense(64)) dense(10)";
    let rnn = "lstm(16, 0.5, 0.5) dense(10)";
    assert!(!no_dropout_anywhere(with, &[20]));
    assert!(!no_dropout_anywhere(rnn, &[5, 4]));
    let none = spec::without_dropout(with).unwrap();
    assert_eq!(none, "dense(64, relu) residual(dense(64, relu) dense(64)) dense(10)");
    assert!(no_dropout_anywhere(&none, &[20]));
    let none = spec::without_dropout(rnn).unwrap();
    assert_eq!(none, "lstm(16, 0, 0) dense(10)");
    assert!(no_dropout_anywhere(&none, &[5, 4]));
    assert_eq!(
        spec::without_dropout(NESTED).unwrap(),
        "dense(64, relu) residual(dense(64, relu) dense(64)) dense(32) dense(10)"
    );
}

#[test]
fn a_sweep_none_trial_trains_without_dropout() {
    let base = dropkit::train::RunConfig::new("dropconnect(64, 0.5, relu) lstm(8, 0.3, 0.3) dense(10)");
    let grid = dropkit::experiments::sweep::Grid {
        regularizers: vec![
            dropkit::experiments::sweep::Regularizer::None,
            dropkit::experiments::sweep::Regularizer::Dropout,
        ],
        ..Default::default()
    };
    let trials = grid.trials(&base).unwrap();
    assert_eq!(trials[0].config.model, "dense(64, relu) lstm(8, 0, 0) dense(10)");
    assert_eq!(trials[1].config.model, base.model);
}

#[test]
fn unknown_names_get_a_hint_from_the_registry() {
    let err = spec::parse("dense(64) dropot(0.5)").unwrap_err().to_string();
    assert!(err.contains("did you mean 'dropout'"), "{err}");
    assert!(err.contains("concrete_dropout"), "the list of known layers comes from the registry: {err}");
}

#[test]
fn the_readme_grammar_table_is_the_registry() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let table = registry::markdown_table();
    assert!(readme.contains(&table), "README's grammar table differs from the registry; paste:\n{table}");
}
