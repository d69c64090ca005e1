//! A run interrupted at any point and resumed from its run directory ends byte-identical to an
//! uninterrupted run: same `model.safetensors`, same history. Early stopping and the finite
//! check behave as documented.

use dropkit::data::{load_mnist, DataSource, TrainTest};
use dropkit::optim::{OptimizerConfig, OptimizerKind, Schedule};
use dropkit::train::run::{resume_run, train_run};
use dropkit::train::{checkpoint, EarlyStopping, EpochRecord, Monitor, Progress, RunConfig};
use std::path::Path;

mod common;
use common::scratch as temp;

fn data() -> TrainTest {
    let mut data = load_mnist(&DataSource::Embedded, "mnist").unwrap();
    data.train = data.train.slice(0..3_000);
    data
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if !entry.file_name().to_string_lossy().starts_with('.') {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// The history without wall-clock times.
fn figures(dir: &Path) -> Vec<EpochRecord> {
    let text = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    text.lines().map(|l| EpochRecord { seconds: 0.0, ..serde_json::from_str(l).unwrap() }).collect()
}

/// Trains `config` without interruption, snapshotting the run directory at `(epoch, batch)`
/// points: each snapshot is what a process killed at that moment leaves behind. Then resumes
/// every snapshot and compares it with the uninterrupted run.
fn check_resume_from_snapshots(name: &str, config: &RunConfig, points: &[(usize, usize)]) {
    let data = data();
    let full = temp(&format!("{name}-full"));
    let mut snapshots = Vec::new();
    train_run(config, &data, Some(&full), &mut |p| {
        if let Progress::Batch { epoch, batch, .. } = p {
            if points.contains(&(epoch, batch)) {
                let snap = temp(&format!("{name}-killed-e{epoch}-b{batch}"));
                copy_dir(&full, &snap);
                snapshots.push(snap);
            }
        }
    })
    .unwrap();
    assert_eq!(snapshots.len(), points.len(), "every interruption point was reached");
    let expected_weights = std::fs::read(full.join("model.safetensors")).unwrap();
    for snap in &snapshots {
        assert!(!snap.join("model.safetensors").exists());
        let saved = checkpoint::load(snap).unwrap();
        resume_run(snap, &data, saved, &mut |_| {}).unwrap();
        let label = snap.display();
        assert!(std::fs::read(snap.join("model.safetensors")).unwrap() == expected_weights, "{label}: weights differ");
        assert_eq!(figures(snap), figures(&full), "{label}: history differs");
    }
}

#[test]
fn a_run_killed_at_several_points_resumes_to_identical_weights() {
    let config = RunConfig {
        epochs: 4,
        batch_size: 100,
        seed: 3,
        ..RunConfig::new("dropout(0.2) dense(64, relu) dropout(0.5) dense(10)")
    };
    // Before the first checkpoint, mid-epoch, and just before the last epoch ends.
    check_resume_from_snapshots("adam", &config, &[(1, 5), (2, 1), (3, 14), (4, 27)]);
}

#[test]
fn sgd_momentum_with_a_schedule_and_sparse_checkpoints_resumes_identically() {
    let config = RunConfig {
        epochs: 5,
        batch_size: 64,
        seed: 11,
        checkpoint_every: 2,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: 0.05,
            momentum: 0.9,
            max_norm: Some(2.0),
            schedule: Schedule::Exponential { gamma: 0.9 },
            ..OptimizerConfig::default()
        },
        ..RunConfig::new("dense(32, relu) dropout(0.3) dense(10)")
    };
    check_resume_from_snapshots("sgd", &config, &[(2, 3), (4, 40), (5, 2)]);
}

#[test]
fn early_stopping_restores_the_best_epoch_and_resumes_identically() {
    let rule = EarlyStopping { monitor: Monitor::ValLoss, patience: 1, min_delta: 0.0, restore_best: true };
    // A large learning rate makes validation loss turn up within a few epochs.
    let config = RunConfig {
        epochs: 30,
        batch_size: 50,
        validation_split: 0.3,
        early_stopping: Some(rule),
        optimizer: OptimizerConfig { lr: 0.01, ..OptimizerConfig::default() },
        ..RunConfig::new("dense(128, relu) dense(10)")
    };
    let data = data();
    let dir = temp("early");
    let outcome = train_run(&config, &data, Some(&dir), &mut |_| {}).unwrap();
    let m = &outcome.metrics;
    assert!(m.stopped_early && m.epochs < 30, "stopped after {} epochs", m.epochs);
    let best = m.best_epoch.unwrap();
    assert_eq!(best, m.epochs - 1, "patience 1 stops one epoch after the best");
    let losses: Vec<f64> = outcome.history.epochs.iter().map(|r| r.val_loss.unwrap()).collect();
    let min = losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(losses[best - 1], min);
    // The restored weights are the best epoch's: validation loss equals that epoch's figure.
    let (_, val) = data.train.split_last(0.3).unwrap();
    let mut model = outcome.model;
    let now = dropkit::train::evaluate(&mut model, &val, dropkit::layer::Mode::Eval).unwrap().loss();
    assert_eq!(now, min);
    check_resume_from_snapshots("early", &config, &[(2, 3), (best + 1, 10)]);
}

#[test]
fn a_non_finite_loss_names_epoch_step_and_layer_and_keeps_the_last_checkpoint() {
    // The learning rate explodes in epoch 3.
    let config = RunConfig {
        epochs: 5,
        batch_size: 100,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: 0.01,
            schedule: Schedule::Step { every: 2, gamma: 1e18 },
            ..OptimizerConfig::default()
        },
        ..RunConfig::new("dense(32, relu) dense(10)")
    };
    let dir = temp("nan");
    let err = train_run(&config, &data(), Some(&dir), &mut |_| {}).err().expect("training must fail").to_string();
    assert!(err.contains("epoch 3, step") && err.contains("layer") && err.contains("learning rate"), "{err}");
    let saved = checkpoint::load(&dir).unwrap().expect("the checkpoint of epoch 2 is kept");
    assert_eq!(saved.info.epoch, 2);
    assert!(!dir.join("model.safetensors").exists());
}

#[test]
fn a_damaged_or_foreign_checkpoint_is_refused() {
    let config = RunConfig { epochs: 1, batch_size: 100, ..RunConfig::new("dense(16, relu) dense(10)") };
    let data = data();
    let dir = temp("damaged");
    train_run(&config, &data, Some(&dir), &mut |_| {}).unwrap();
    let tensors = dir.join("checkpoint-1.safetensors");
    let mut bytes = std::fs::read(&tensors).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&tensors, &bytes).unwrap();
    let err = checkpoint::load(&dir).unwrap_err().to_string();
    assert!(err.contains("checksum"), "{err}");
    bytes[last] ^= 1;
    std::fs::write(&tensors, &bytes).unwrap();
    // Other data than the run was trained on.
    let mut other = data.clone();
    other.train = other.train.slice(0..2_000);
    let saved = checkpoint::load(&dir).unwrap();
    let err = resume_run(&dir, &other, saved, &mut |_| {}).err().unwrap().to_string();
    assert!(err.contains("other data"), "{err}");
}

#[test]
fn after_early_stopping_every_figure_describes_the_saved_model() {
    use dropkit::data::{load_mnist, DataSource, TrainTest};
    use dropkit::train::run::train_run;
    use dropkit::train::{EarlyStopping, RunConfig};
    let m = load_mnist(&DataSource::Embedded, "mnist").unwrap();
    let data = TrainTest {
        train: m.train.slice(0..3000),
        test: m.test.slice(0..500),
        source: m.source.clone(),
        test_rows: Vec::new(),
    };
    // A large learning rate on a small set: the validation loss rises after its best epoch.
    let mut config = RunConfig::new("dense(256, relu) dense(10)");
    config.epochs = 8;
    config.validation_split = 0.3;
    config.optimizer.lr = 0.01;
    config.checkpoint_every = 0;
    config.early_stopping =
        Some(EarlyStopping { monitor: Default::default(), patience: 8, min_delta: 0.0, restore_best: true });
    let outcome = train_run(&config, &data, None, &mut |_| {}).unwrap();
    let best = outcome.metrics.best_epoch.expect("a best epoch");
    let record = &outcome.history.epochs[best - 1];
    assert!(best < outcome.history.epochs.len(), "the last epoch should not be the best here");
    assert_eq!(outcome.metrics.val_loss, record.val_loss, "the saved (best) epoch's val_loss");
    assert_eq!(outcome.metrics.val_accuracy, record.val_accuracy);
    let gap = outcome.metrics.train_accuracy - record.val_accuracy.unwrap();
    assert_eq!(outcome.metrics.generalization_gap, Some(gap), "the gap of one model, not of two");
}
