//! Random streams never overlap: every purpose (layer masks, residual branches, recurrent
//! masks, per-example DropConnect, Wan sampling, Monte Carlo samples, shuffles,
//! augmentation, initialisation) draws from its own (key, counter) range.

use dropkit::model::registry::{downcast, LayerConfig, KINDS};
use dropkit::model::spec;
use dropkit::nn::residual::ResidualConfig;
use dropkit::rng::{counters, key_for, streams};
use std::collections::HashMap;

/// A purpose and where it draws: its Philox key.
fn record(keys: &mut HashMap<[u32; 2], String>, key: [u32; 2], purpose: String) {
    if let Some(other) = keys.insert(key, purpose.clone()) {
        panic!("{purpose} and {other} share the key {key:?}");
    }
}

/// The keys the layers of `layers` use, as the layers derive them (streams of `ids`).
fn layer_keys(
    layers: &[Box<dyn LayerConfig>],
    ids: &dyn Fn(usize) -> u64,
    seed: u64,
    keys: &mut HashMap<[u32; 2], String>,
) {
    for (i, layer) in layers.iter().enumerate() {
        let id = ids(i);
        let name = format!("{} at stream {id:#x}", layer.kind().name());
        record(keys, key_for(seed, id), name.clone());
        match layer.kind().name() {
            "lstm" | "gru" => {
                record(keys, key_for(seed, streams::recurrent_state(id)), format!("{name}, recurrent mask"))
            }
            "dropconnect" => {
                for b in 0..256 {
                    let (s, stream) = streams::per_example(seed, id, b);
                    record(keys, key_for(s, stream), format!("{name}, example {b}"));
                }
            }
            _ => {}
        }
        if let Some(res) = downcast::<ResidualConfig>(layer.as_ref()) {
            layer_keys(&res.branch, &|k| streams::residual_branch(id, k), seed, keys);
        }
    }
}

#[test]
fn no_two_purposes_share_a_stream_in_a_large_model_of_every_kind() {
    let every: Vec<&str> = KINDS.iter().map(|k| k.example).collect();
    let one = every.join(" ");
    // Every kind, 100 times at the top level and nested three residual blocks deep.
    let nested = format!("residual({one} residual({one} residual({one})))");
    let text = std::iter::repeat_n(format!("{one} {nested}"), 100).collect::<Vec<_>>().join(" ");
    let model = spec::parse(&text).unwrap();
    assert!(model.layers.len() > 2000);
    for seed in [0u64, 42] {
        let mut keys = HashMap::new();
        for (purpose, id) in [
            ("shuffle", streams::SHUFFLE),
            ("init", streams::INIT),
            ("augment", streams::AUGMENT),
            ("shift", streams::SHIFT),
            ("bench data", streams::BENCH_DATA),
            ("test split", streams::SPLIT),
        ] {
            record(&mut keys, key_for(seed, id), purpose.to_string());
        }
        layer_keys(&model.layers, &|i| streams::layer(i as u64), seed, &mut keys);
        assert!(keys.len() > 10_000, "{}", keys.len());
    }
}

#[test]
fn passes_of_one_stream_are_told_apart_by_the_counter() {
    for n in [0u64, 1, 7, 1 << 20, (1 << 40) + 3] {
        let (train, mc, wan) = (counters::train(n), counters::monte_carlo(n), counters::wan_draw(n as usize));
        assert_eq!(train, n, "training steps are the step itself (masks reproduce on resume)");
        for m in [0u64, 1, 7, 1 << 20, (1 << 40) + 3] {
            assert_ne!(counters::train(m), mc);
            assert_ne!(counters::train(m), wan);
            assert_ne!(counters::monte_carlo(m), wan);
        }
    }
}

#[test]
fn a_model_with_more_layers_than_streams_is_refused() {
    let text = vec!["relu"; streams::MAX_LAYER_ID as usize + 1].join(" ");
    let err = dropkit::model::Sequential::from_spec(&text, &[4], 0).err().unwrap().to_string();
    assert!(err.contains("more than 65536 layers"), "{err}");
}
