//! The `dropkit` binary as a user runs it: runs on the embedded data, bit-identical weights for
//! 1 and 2 threads, and one-line errors with a non-zero exit (never a panic) for bad input.

use std::path::Path;
use std::process::{Command, Output};

fn dropkit(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dropkit"));
    cmd.args(args).env_remove("DROPKIT_DATA").env("XDG_CACHE_HOME", "/nonexistent-dropkit-cache");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("dropkit runs")
}

#[path = "../../dropkit/tests/common/mod.rs"]
mod common;
use common::scratch as temp;

/// Starts `dropkit` in the background, its output discarded, with the arguments `args` adds
/// (for tests that kill it or watch its files while it runs).
fn background(args: impl FnOnce(&mut Command)) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dropkit"));
    cmd.env_remove("DROPKIT_DATA").env("XDG_CACHE_HOME", "/nonexistent-dropkit-cache");
    args(&mut cmd);
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().expect("dropkit starts")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Fails the test unless the command failed with exactly one line on stderr containing `want`.
fn assert_clean_error(out: &Output, code: i32, want: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().filter(|l| !l.starts_with("note:")).count(), 1, "one line: {err}");
    assert!(err.contains(want), "expected '{want}' in: {err}");
}

const SMALL: &str = "dropout(0.2) dense(64, relu) dropout(0.5) dense(10)";

fn train(out: &Path, threads: &str) -> Output {
    dropkit(
        &[
            "train",
            "--model",
            SMALL,
            "--epochs",
            "2",
            "--batch-size",
            "64",
            "--seed",
            "3",
            "--out",
            out.to_str().unwrap(),
        ],
        &[("RAYON_NUM_THREADS", threads)],
    )
}

#[test]
fn train_writes_a_run_that_eval_reads_and_threads_do_not_change_the_weights() {
    let (a, b) = (temp("run1"), temp("run2"));
    let out = train(&a, "1");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Epoch 1/2 - ") && stdout.contains("val_accuracy: "), "{stdout}");
    assert!(text(&out.stderr).contains("embedded MNIST subset"));
    for f in ["config.toml", "history.jsonl", "metrics.json", "model.safetensors"] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(a.join("metrics.json")).unwrap()).unwrap();
    let acc = metrics["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.85, "2 epochs on 9,000 images reach {acc}");
    assert!(metrics["test_loss"].as_f64().is_some());
    assert_eq!(std::fs::read_to_string(a.join("history.jsonl")).unwrap().lines().count(), 2);

    assert!(train(&b, "2").status.success());
    assert_eq!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(b.join("model.safetensors")).unwrap()
    );

    let eval = dropkit(&["eval", a.to_str().unwrap()], &[]);
    assert!(eval.status.success(), "{}", text(&eval.stderr));
    assert!(text(&eval.stdout).contains(&format!("test_accuracy: {acc:.4}")), "{}", text(&eval.stdout));

    // Rerunning from config.toml reproduces the run.
    let c = temp("run3");
    let rerun =
        dropkit(&["train", "--config", a.join("config.toml").to_str().unwrap(), "--out", c.to_str().unwrap()], &[]);
    assert!(rerun.status.success(), "{}", text(&rerun.stderr));
    assert_eq!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(c.join("model.safetensors")).unwrap()
    );

    // A finished run is never overwritten.
    assert_clean_error(&train(&a, "1"), 2, "already holds a finished run");
}

/// Epochs completed by the checkpoint in `dir`, if any.
fn checkpointed_epoch(dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join("checkpoint.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["epoch"].as_u64()
}

#[test]
fn a_killed_training_process_resumes_to_byte_identical_weights() {
    let spec = "dense(256, relu) dropout(0.5) dense(10)";
    let args = |dir: &Path| {
        let dir = dir.to_str().unwrap().to_string();
        ["train", "--model", spec, "--epochs", "6", "--seed", "5", "-q", "--out", &dir].map(String::from)
    };
    let full = temp("kill-full");
    let out = dropkit(&args(&full).iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = std::fs::read(full.join("model.safetensors")).unwrap();
    let mut resumed = 0;
    for kill_after in [1, 4] {
        let dir = temp(&format!("kill-{kill_after}"));
        let mut child = background(|cmd| {
            cmd.args(args(&dir));
        });
        while checkpointed_epoch(&dir).is_none_or(|e| e < kill_after) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
        let killed_at = checkpointed_epoch(&dir);
        if dir.join("model.safetensors").exists() {
            continue; // finished before the kill landed; nothing to resume
        }
        let out = dropkit(&["train", "--resume", dir.to_str().unwrap()], &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains(&format!("after epoch {}", killed_at.unwrap())), "{}", text(&out.stdout));
        assert!(std::fs::read(dir.join("model.safetensors")).unwrap() == expected, "killed after epoch {killed_at:?}");
        resumed += 1;
    }
    assert!(resumed > 0, "no kill landed before the run finished");
    // A finished run has nothing to resume; a fresh run refuses to overwrite it.
    assert_clean_error(&dropkit(&["train", "--resume", full.to_str().unwrap()], &[]), 2, "nothing to resume");
    assert_clean_error(&dropkit(&args(&full).iter().map(String::as_str).collect::<Vec<_>>(), &[]), 2, "finished run");
}

#[test]
fn bad_specs_and_flags_get_one_line_errors() {
    let out = temp("bad");
    let o = out.to_str().unwrap();
    assert_clean_error(
        &dropkit(&["train", "--model", "dense(64) dropout(1.5) dense(10)", "--out", o], &[]),
        2,
        "dropout(1.5): p must be in [0, 1]",
    );
    assert_clean_error(
        &dropkit(&["train", "--model", "dense(64) relu dense(10) sofmax", "--out", o], &[]),
        2,
        "did you mean 'softmax'",
    );
    assert_clean_error(
        &dropkit(&["train", "--preset", "keras-mnsit", "--out", o], &[]),
        2,
        "unknown preset 'keras-mnsit'",
    );
    assert_clean_error(&dropkit(&["train", "--model", SMALL, "--lr=-1", "--out", o], &[]), 2, "lr = -1");
    assert_clean_error(
        &dropkit(&["train", "--model", "dense(5)", "--epochs", "1", "--out", o], &[]),
        2,
        "data has 10 classes",
    );
    assert_clean_error(&dropkit(&["train", "--out", o], &[]), 2, "give --model SPEC");
    assert_clean_error(&dropkit(&["eval", "/nonexistent/run"], &[]), 1, "does not exist");
    let bad = dropkit(&["train", "--epochs", "abc"], &[]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn data_problems_get_one_line_errors() {
    let o = temp("data-out");
    let o = o.to_str().unwrap();
    assert_clean_error(
        &dropkit(&["train", "--model", SMALL, "--data", "/nonexistent/data", "--out", o], &[]),
        1,
        "data directory /nonexistent/data (from --data) does not exist",
    );
    assert_clean_error(
        &dropkit(&["train", "--model", SMALL, "--out", o], &[("DROPKIT_DATA", "/nonexistent/env")]),
        1,
        "from DROPKIT_DATA",
    );
    // A data directory with a truncated and then a wrong-magic image file.
    let root = temp("idx");
    let dir = root.join("mnist");
    std::fs::create_dir_all(&dir).unwrap();
    let header = |magic: u32, dims: &[u32]| {
        let mut v = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| v.extend(d.to_be_bytes()));
        v
    };
    let mut images = header(0x803, &[2, 28, 28]);
    images.extend(vec![0u8; 2 * 784]);
    let mut labels = header(0x801, &[2]);
    labels.extend([1, 2]);
    for split in ["train", "t10k"] {
        std::fs::write(dir.join(format!("{split}-images-idx3-ubyte")), &images).unwrap();
        std::fs::write(dir.join(format!("{split}-labels-idx1-ubyte")), &labels).unwrap();
    }
    std::fs::write(dir.join("train-images-idx3-ubyte"), &images[..1000]).unwrap();
    let r = root.to_str().unwrap();
    assert_clean_error(&dropkit(&["train", "--model", SMALL, "--data", r, "--out", o], &[]), 1, "truncated");
    std::fs::write(dir.join("train-images-idx3-ubyte"), &labels).unwrap();
    assert_clean_error(
        &dropkit(&["train", "--model", SMALL, "--data", r, "--out", o], &[]),
        1,
        "magic 0x00000801 is not an IDX3 image file (expected 0x00000803)",
    );
    // Each failed mirror is reported as it happens; the last line is the error.
    let fetch = dropkit(&["data", "fetch", "mnist", "--data", r, "--mirror", "http://127.0.0.1:9/"], &[]);
    let err = text(&fetch.stderr);
    assert_eq!(fetch.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"));
    assert!(err.trim_end().lines().last().unwrap().contains("every mirror failed"), "{err}");
}

#[test]
fn demo_compares_with_and_without_dropout_and_draws_both_curves() {
    let out = temp("demo");
    let run = dropkit(&["demo", "--epochs", "2", "--out", out.to_str().unwrap()], &[]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(
        stdout.contains("without dropout") && stdout.contains("with dropout") && stdout.contains("train - val gap"),
        "{stdout}"
    );
    for f in ["val_accuracy.svg", "val_accuracy.png", "with_dropout/metrics.json", "without_dropout/metrics.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let svg = std::fs::read_to_string(out.join("val_accuracy.svg")).unwrap();
    assert!(svg.contains("validation accuracy") && svg.contains("with dropout"));
    assert!(std::fs::read(out.join("val_accuracy.png")).unwrap().starts_with(b"\x89PNG"));
}

#[test]
fn a_closed_stdout_pipe_is_not_an_error() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_dropkit"))
        .arg("presets")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!text(&out.stderr).contains("panicked"), "{}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn predict_and_uncertainty_on_a_saved_run() {
    let run = temp("mc-run");
    assert!(train(&run, "2").status.success());
    let r = run.to_str().unwrap();
    let out = dropkit(&["predict", r, "--mc", "5"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("index,label,predicted,p_0") && header.ends_with("mutual_information"), "{header}");
    assert_eq!(lines.count(), 2_000);
    // Same seed, same numbers.
    assert_eq!(text(&dropkit(&["predict", r, "--mc", "5"], &[]).stdout), csv);
    let pred_dir = temp("mc-pred");
    let out = dropkit(&["predict", r, "--format", "jsonl", "--out", pred_dir.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let jsonl = std::fs::read_to_string(pred_dir.join("predictions.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(first["probs"].as_array().unwrap().len(), 10);
    assert_clean_error(&dropkit(&["predict", r, "--mc", "0"], &[]), 2, "--mc 0");

    let unc = temp("mc-unc");
    let out = dropkit(&["uncertainty", r, "--mc", "5", "--ood-inputs", "200", "--out", unc.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("MC dropout T=5") && stdout.contains("uniform_noise") && stdout.contains("ECE"),
        "{stdout}"
    );
    for f in
        ["metrics.json", "report.html", "reliability.svg", "reliability.png", "rejection.png", "error_vs_passes.svg"]
    {
        assert!(unc.join(f).is_file(), "{f} missing");
    }
    let html = std::fs::read_to_string(unc.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("NLL"));
}

/// The valid result lines of a sweep directory, by trial key, without wall-clock figures.
fn sweep_results(dir: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("results.jsonl")).unwrap_or_default();
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines() {
        let Ok(mut v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        for e in v["history"]["epochs"].as_array_mut().unwrap() {
            e["seconds"] = 0.into();
        }
        for k in ["train_seconds", "seconds_per_epoch"] {
            v["metrics"][k] = 0.into();
        }
        out.insert(v["key"].as_str().unwrap().to_string(), v);
    }
    out
}

#[test]
fn a_killed_sweep_reruns_only_the_missing_trials_and_matches_an_uninterrupted_one() {
    let sweep = |dir: &Path, jobs: &str| -> Vec<String> {
        let d = dir.to_str().unwrap().to_string();
        [
            "sweep",
            "--model",
            "dense(32, relu) dropout(0.5) dense(10)",
            "--rates",
            "0,0.3,0.5,0.7,0.9",
            "--seeds",
            "3",
            "--epochs",
            "2",
            "--jobs",
            jobs,
            "--out",
            &d,
        ]
        .map(String::from)
        .to_vec()
    };
    let full = temp("sweep-full");
    let out = dropkit(&sweep(&full, "1").iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = sweep_results(&full);
    assert_eq!(expected.len(), 15);
    for file in ["report.html", "val_accuracy.svg", "val_accuracy.png", "test_error_vs_rate.svg", "gap_vs_rate.png"] {
        assert!(full.join(file).exists(), "{file} missing");
    }
    let html = std::fs::read_to_string(full.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("best setting") && html.contains("dropkit train --model"));

    let dir = temp("sweep-killed");
    let mut child = background(|cmd| {
        cmd.args(sweep(&dir, "2"));
    });
    while sweep_results(&dir).len() < 4 && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // A line torn by the kill is skipped and its trial rerun.
    let mut f = std::fs::OpenOptions::new().append(true).open(dir.join("results.jsonl")).unwrap();
    std::io::Write::write_all(&mut f, b"{\"key\":\"torn").unwrap();
    let done = sweep_results(&dir).len();
    assert!((4..15).contains(&done), "killed after {done} trials");
    let out = dropkit(&sweep(&dir, "2").iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains(&format!("15 trials, {done} already in")), "{printed}");
    assert_eq!(printed.lines().filter(|l| l.starts_with('[')).count(), 15 - done, "{printed}");
    assert_eq!(sweep_results(&dir), expected, "same results with 2 jobs and an interruption");
    // The torn line was compacted away by that run: a report no longer mentions it.
    let report = dropkit(&["report", dir.to_str().unwrap()], &[]);
    assert!(!text(&report.stderr).contains("unreadable"), "{}", text(&report.stderr));
    assert!(!std::fs::read_to_string(dir.join("results.jsonl")).unwrap().contains("\"torn"));
}

#[test]
fn shards_cover_the_sweep_and_report_merges_them() {
    let (a, b, merged) = (temp("shard-a"), temp("shard-b"), temp("shard-merged"));
    for (dir, shard) in [(&a, "1/2"), (&b, "2/2")] {
        let out = dropkit(
            &[
                "sweep",
                "--model",
                "dense(16, relu) dropout(0.5) dense(10)",
                "--rates",
                "0,0.5",
                "--batch-sizes",
                "32,128",
                "--seeds",
                "2",
                "--epochs",
                "1",
                "--shard",
                shard,
                "-q",
                "--out",
                dir.to_str().unwrap(),
            ],
            &[],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains(&format!("(shard {shard}): 4 trials")), "{}", text(&out.stdout));
    }
    let out = dropkit(&["report", a.to_str().unwrap(), b.to_str().unwrap(), "--out", merged.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("8 trials"), "{}", text(&out.stdout));
    for file in ["report.html", "accuracy_vs_batch_size.svg", "time_vs_batch_size.png", "test_error_vs_rate.svg"] {
        assert!(merged.join(file).exists(), "{file} missing");
    }
    assert_clean_error(&dropkit(&["sweep", "--model", SMALL, "--shard", "3/2", "--out", "x"], &[]), 2, "shard '3/2'");
    assert_clean_error(&dropkit(&["sweep", "--model", SMALL, "--rates", "0,2", "--out", "x"], &[]), 2, "rate '2'");
}

#[test]
fn reproduce_prints_the_papers_errors_next_to_its_own() {
    let out_dir = temp("reproduce");
    let o = out_dir.to_str().unwrap();
    let out = dropkit(&["reproduce", "srivastava-mnist", "--epochs", "1", "--rows", "baseline", "--out", o], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("baseline") && printed.contains("1.60%"), "{printed}");
    assert!(out_dir.join("report.html").exists());
    // Rerun: the finished row is skipped.
    let again = dropkit(&["reproduce", "srivastava-mnist", "--epochs", "1", "--rows", "baseline", "--out", o], &[]);
    assert!(text(&again.stdout).contains("1 rows already in"), "{}", text(&again.stdout));
    assert_clean_error(
        &dropkit(&["reproduce", "srivastava-mnist", "--rows", "huge", "--out", o], &[]),
        2,
        "unknown row 'huge'",
    );
    assert_clean_error(&dropkit(&["reproduce", "hinton-2012", "--out", o], &[]), 2, "unknown experiment");
}

#[test]
fn variants_lists_every_variant_in_text_and_json() {
    let out = dropkit(&["variants", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    for want in [
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
        "lstm",
        "gru",
        "locked_dropout",
        "variational_dense",
        "concrete_dropout",
        "dropblock",
        "droppath",
        "embedding",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(list.as_array().unwrap().iter().all(|v| !v["description"].as_str().unwrap().is_empty()));
    let plain = text(&dropkit(&["variants"], &[]).stdout);
    assert_eq!(plain.lines().count(), names.len());
}

/// An MNIST-format data directory made from part of the embedded subset: 3000 training images
/// and a test set (500 images starting at `test_from`) that the embedded test set is not.
fn write_mnist_dir(root: &Path, test_from: usize) {
    use dropkit::data::{idx::encode_idx, load_mnist, DataSource, Dataset};
    let m = load_mnist(&DataSource::Embedded, "mnist").unwrap();
    let dir = root.join("mnist");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |stem: &str, set: &Dataset| {
        let pixels: Vec<u8> = set.images.iter().map(|&v| (v * 255.0).round() as u8).collect();
        let labels: Vec<u8> = set.labels().iter().map(|&l| l as u8).collect();
        std::fs::write(dir.join(format!("{stem}-images-idx3-ubyte")), encode_idx(&[set.len(), 28, 28], &pixels))
            .unwrap();
        std::fs::write(dir.join(format!("{stem}-labels-idx1-ubyte")), encode_idx(&[set.len()], &labels)).unwrap();
    };
    write("train", &m.train.slice(0..3000));
    write("t10k", &m.test.slice(test_from..test_from + 500));
}

#[test]
fn eval_reads_the_data_the_run_was_trained_on_without_being_told() {
    let (data, run) = (temp("owndata"), temp("owndata-run"));
    write_mnist_dir(&data, 1000);
    let d = data.to_str().unwrap();
    let train =
        dropkit(&["train", "--model", SMALL, "--epochs", "1", "--data", d, "--out", run.to_str().unwrap()], &[]);
    assert!(train.status.success(), "{}", text(&train.stderr));
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("[data]") && config.contains("format = \"idx\""), "{config}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    let acc = metrics["test_accuracy"].as_f64().unwrap();
    // No --data, no DROPKIT_DATA: the recorded directory, not the embedded subset.
    let eval = dropkit(&["eval", run.to_str().unwrap()], &[]);
    assert!(eval.status.success(), "{}", text(&eval.stderr));
    let stdout = text(&eval.stdout);
    assert!(stdout.contains(&format!("test_accuracy: {acc:.4}")), "{stdout}");
    assert!(stdout.contains("(500 test images)"), "{stdout}");
    assert!(!text(&eval.stderr).contains("embedded"), "{}", text(&eval.stderr));
    // Other data at the same place: still read, and said.
    write_mnist_dir(&data, 1500);
    let eval = dropkit(&["eval", run.to_str().unwrap()], &[]);
    assert!(eval.status.success(), "{}", text(&eval.stderr));
    assert!(text(&eval.stderr).contains("differs from the data this run was trained on"), "{}", text(&eval.stderr));
    // The data gone: an error that says how to go on.
    std::fs::remove_dir_all(&*data).unwrap();
    assert_clean_error(&dropkit(&["eval", run.to_str().unwrap()], &[]), 1, "pass --data DIR");
}

// Issue: what a run says is true.

#[test]
fn nonsense_models_and_unknown_data_sets_are_errors() {
    let out = temp("nonsense");
    let o = out.to_str().unwrap();
    for model in ["relu", "dropout(0.5)"] {
        assert_clean_error(
            &dropkit(&["train", "--model", model, "--epochs", "1", "--out", o], &[]),
            2,
            "ends with 784 outputs per sample but the data has 10 classes",
        );
    }
    assert_clean_error(
        &dropkit(&["train", "--model", "dense(64, relu) dense(12)", "--epochs", "1", "--out", o], &[]),
        2,
        "ends with 12 outputs",
    );
    let config = temp("cifar-config");
    std::fs::write(
        &*config,
        "model = \"dense(64, relu) dense(10)\"\ndataset = \"cifar10\"\nepochs = 1\nbatch_size = 64\nseed = 1\n[optimizer]\n",
    )
    .unwrap();
    let out = dropkit(&["train", "--config", config.to_str().unwrap(), "--out", o], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("\"cifar10\" is not a data set"), "{}", text(&out.stderr));
}

#[test]
fn a_rate_list_longer_than_the_rates_is_an_error_naming_both_counts() {
    let out = temp("rates-sweep");
    assert_clean_error(
        &dropkit(
            &[
                "sweep",
                "--model",
                "dense(32, relu) dropout(0.5) dense(10)",
                "--rates",
                "0.2/0.5",
                "--epochs",
                "1",
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        ),
        2,
        "2 rates given but 'dense(32, relu) dropout(0.5) dense(10)' has 1 drop rate",
    );
    let three = "dropout(0.2) dense(32, relu) dropout(0.5) dense(32, relu) dropout(0.5) dense(10)";
    assert_clean_error(
        &dropkit(
            &["sweep", "--model", three, "--rates", "0.2/0.5", "--epochs", "1", "--out", out.to_str().unwrap()],
            &[],
        ),
        2,
        "has 3 drop rates; give one rate for all, or exactly one per rate",
    );
}

#[test]
fn a_changed_model_file_is_refused_by_eval() {
    let run = temp("sha-run");
    assert!(train(&run, "2").status.success());
    let r = run.to_str().unwrap();
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["model_sha256"].as_str().unwrap().len(), 64);
    assert!(dropkit(&["eval", r], &[]).status.success());
    let path = run.join("model.safetensors");
    let original = std::fs::read(&path).unwrap();
    let mut flipped = original.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x40;
    std::fs::write(&path, &flipped).unwrap();
    assert_clean_error(&dropkit(&["eval", r], &[]), 1, "does not match");
    assert_clean_error(&dropkit(&["predict", r], &[]), 1, "restore it, or train the run again");
    std::fs::write(&path, &original).unwrap();
    assert!(dropkit(&["eval", r], &[]).status.success(), "the restored file is accepted");
}

#[test]
fn predict_and_uncertainty_do_not_replace_earlier_results_unless_told() {
    let run = temp("overwrite-run");
    assert!(train(&run, "2").status.success());
    let r = run.to_str().unwrap();
    let pred = temp("overwrite-pred");
    let p = pred.to_str().unwrap();
    assert!(dropkit(&["predict", r, "--mc", "3", "--out", p], &[]).status.success());
    let first = std::fs::read_to_string(pred.join("predictions.csv")).unwrap();
    assert_clean_error(&dropkit(&["predict", r, "--out", p], &[]), 2, "pass --overwrite");
    assert_eq!(std::fs::read_to_string(pred.join("predictions.csv")).unwrap(), first, "left as it was");
    assert!(dropkit(&["predict", r, "--out", p, "--overwrite"], &[]).status.success());
    let unc = temp("overwrite-unc");
    let u = unc.to_str().unwrap();
    let study = |extra: &[&str]| {
        let mut a = vec!["uncertainty", r, "--mc", "2", "--ood-inputs", "50", "--out", u];
        a.extend_from_slice(extra);
        dropkit(&a, &[])
    };
    assert!(study(&[]).status.success());
    assert_clean_error(&study(&[]), 2, "pass --overwrite");
    assert!(study(&["--overwrite"]).status.success());
}

#[test]
fn a_sweep_reports_commands_that_reproduce_its_trials_data_included() {
    let (data, sweep, rerun) = (temp("sweep-data"), temp("sweep-data-out"), temp("sweep-data-rerun"));
    write_mnist_dir(&data, 1000);
    let (d, s) = (data.to_str().unwrap(), sweep.to_str().unwrap());
    let out = dropkit(&["sweep", "--model", SMALL, "--rates", "0.3", "--epochs", "1", "--data", d, "--out", s], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(sweep.join("report.html")).unwrap();
    let html = html.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    assert!(html.contains("<table>") && html.contains("<th>setting</th>"), "the table is an HTML table");
    let command = html
        .lines()
        .filter_map(|l| l.trim().strip_prefix("<code>").and_then(|l| l.strip_suffix("</code>")))
        .find(|l| l.starts_with("dropkit train "))
        .expect("a command, in a copyable block")
        .to_string();
    assert!(command.contains(&format!("--data {d}")), "{command}");
    // Run it as printed (its --out replaced) and compare the test accuracy.
    let (before_out, _) = command.rsplit_once(" --out ").unwrap();
    let shell = format!(
        "{} {} --out {}",
        env!("CARGO_BIN_EXE_dropkit"),
        before_out.trim_start_matches("dropkit "),
        rerun.display()
    );
    let run = Command::new("sh")
        .arg("-c")
        .arg(&shell)
        .env_remove("DROPKIT_DATA")
        .env("XDG_CACHE_HOME", "/nonexistent-dropkit-cache")
        .output()
        .unwrap();
    assert!(run.status.success(), "{shell}: {}", text(&run.stderr));
    let rerun_metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rerun.join("metrics.json")).unwrap()).unwrap();
    let trial: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(sweep.join("results.jsonl")).unwrap().lines().next().unwrap())
            .unwrap();
    assert_eq!(rerun_metrics["test_accuracy"], trial["metrics"]["test_accuracy"], "the command reproduces the trial");
    assert_eq!(rerun_metrics["data"], trial["metrics"]["data"]);
}

#[test]
fn without_validation_figures_say_n_a_and_how_the_best_was_chosen() {
    let sweep = temp("no-val");
    let s = sweep.to_str().unwrap();
    let out = dropkit(
        &["sweep", "--model", SMALL, "--rates", "0.2,0.5", "--epochs", "1", "--validation-split", "0", "--out", s],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("val accuracy n/a") && !stdout.contains("-0.0000"), "{stdout}");
    assert!(stdout.contains("best setting (by test accuracy: no trial has a validation split)"), "{stdout}");
    assert!(!sweep.join("val_accuracy.svg").exists(), "no empty validation plot");
    assert!(sweep.join("test_error_vs_rate.svg").exists());
}

#[test]
fn the_thread_count_follows_slurm_and_is_printed() {
    let run = temp("threads-run");
    let out = dropkit(
        &["train", "--model", SMALL, "--epochs", "1", "--out", run.to_str().unwrap()],
        &[("SLURM_CPUS_PER_TASK", "1")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("threads: 1\n"), "{}", text(&out.stdout));
    let run2 = temp("threads-run2");
    let out = dropkit(
        &["train", "--model", SMALL, "--epochs", "1", "--out", run2.to_str().unwrap()],
        &[("SLURM_CPUS_PER_TASK", "1"), ("RAYON_NUM_THREADS", "2")],
    );
    assert!(text(&out.stdout).contains("threads: 2\n"), "RAYON_NUM_THREADS wins: {}", text(&out.stdout));
}

#[test]
fn the_slurm_example_runs_as_an_array_and_its_report_merges_the_shards() {
    let out = temp("slurm-sweep");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let script = |name: &str, task: Option<&str>| {
        let mut cmd = Command::new("bash");
        cmd.arg(format!("{root}/slurm/{name}"))
            .env("DROPKIT", env!("CARGO_BIN_EXE_dropkit"))
            .env("OUT", &*out)
            .env("EPOCHS", "1")
            .env("MODEL", SMALL)
            .env("SLURM_CPUS_PER_TASK", "1")
            .env_remove("DROPKIT_DATA")
            .env("XDG_CACHE_HOME", "/nonexistent-dropkit-cache");
        if let Some(t) = task {
            cmd.env("SLURM_ARRAY_TASK_ID", t).env("SLURM_ARRAY_TASK_COUNT", "1");
        }
        cmd.output().unwrap()
    };
    for task in ["1", "2", "3", "4"] {
        let o = script("sweep.sbatch", Some(task));
        assert!(o.status.success(), "task {task}: {}", text(&o.stderr));
        assert!(out.join(format!("results-shard-{task}-of-4.jsonl")).is_file());
    }
    let report = script("report.sbatch", None);
    assert!(report.status.success(), "{}", text(&report.stderr));
    assert!(text(&report.stdout).contains("8 trials"), "{}", text(&report.stdout));
    let merged = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(merged.lines().count(), 8, "each trial once in the merged file");
    // The merged directory merges again, to the same trials.
    let again = dropkit(&["report", out.to_str().unwrap(), "--out", out.to_str().unwrap()], &[]);
    assert!(text(&again.stdout).contains("8 trials"));
    let k8s = std::fs::read_to_string(format!("{root}/kubernetes/sweep-job.yaml")).unwrap();
    assert!(k8s.contains("--shard $((JOB_COMPLETION_INDEX + 1))/4") && k8s.contains("completionMode: Indexed"));
}

#[test]
fn a_diverging_trial_is_recorded_as_failed_and_the_sweep_goes_on() {
    let out = temp("swnan");
    let o = out.to_str().unwrap();
    let sweep = |extra: &[&str]| {
        let mut a = vec![
            "sweep",
            "--model",
            "dense(256, relu) dropout(0.5) dense(10)",
            "--lrs",
            "0.001,1e30",
            "--epochs",
            "1",
            "--out",
            o,
        ];
        a.extend_from_slice(extra);
        dropkit(&a, &[])
    };
    let first = sweep(&[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let err = text(&first.stderr);
    assert!(err.contains("lr 1000000000000000000000000000000, seed 42 failed: ") && err.contains("recorded"), "{err}");
    let stdout = text(&first.stdout);
    assert!(stdout.contains("1 trial failed") && stdout.contains("lr 0.001"), "the report lists it: {stdout}");
    assert!(std::fs::read_to_string(out.join("report.html")).unwrap().contains("1 trial failed"));
    // A rerun skips both; --retry-failed trains the failed one again (and it fails again).
    let again = sweep(&[]);
    assert!(
        text(&again.stdout).contains("2 already in") && text(&again.stdout).contains("0 to run"),
        "{}",
        text(&again.stdout)
    );
    let retry = sweep(&["--retry-failed"]);
    assert!(text(&retry.stdout).contains("1 to run"), "{}", text(&retry.stdout));
}

/// The TFRecords of an event file: each record's length and data, their CRCs checked.
fn tf_records(bytes: &[u8]) -> Vec<Vec<u8>> {
    use dropkit::train::tensorboard::masked_crc;
    let (mut out, mut at) = (Vec::new(), 0);
    while at < bytes.len() {
        let len_bytes = &bytes[at..at + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
        assert_eq!(u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()), masked_crc(len_bytes), "length CRC");
        let data = &bytes[at + 12..at + 12 + len];
        let crc = u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap());
        assert_eq!(crc, masked_crc(data), "data CRC");
        out.push(data.to_vec());
        at += 16 + len;
    }
    out
}

#[test]
fn history_grows_while_training_and_tensorboard_events_are_written() {
    let run = temp("live-run");
    let mut child = background(|cmd| {
        cmd.args([
            "train",
            "--model",
            "dense(256, relu) dropout(0.5) dense(10)",
            "--epochs",
            "30",
            "-q",
            "--tensorboard",
        ])
        .args(["--out", run.to_str().unwrap()]);
    });
    let lines = || std::fs::read_to_string(run.join("history.jsonl")).map(|t| t.lines().count()).unwrap_or(0);
    while lines() < 2 && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let unfinished = !run.join("model.safetensors").exists();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(unfinished, "30 epochs should take longer than two");
    let text = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["epoch"], 1, "epoch lines are there before the run ends");
    // The event file: a version record, then batch and epoch scalars with valid CRCs.
    let events = std::fs::read_dir(&*run)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("events.out.tfevents."))
        .expect("an event file");
    let records = tf_records(&std::fs::read(events).unwrap());
    assert!(records[0].windows(13).any(|w| w == b"brain.Event:2"));
    let has = |tag: &[u8]| records.iter().any(|r| r.windows(tag.len()).any(|w| w == tag));
    assert!(has(b"batch/loss") && has(b"epoch/val_accuracy") && has(b"epoch/lr"));
    assert!(records.len() > 2 * 70, "a batch loss per batch ({} records)", records.len());
}

#[test]
fn small_things_users_notice() {
    let out = temp("small-things");
    let o = out.to_str().unwrap();
    // A negative learning rate is a value, refused with its own message.
    assert_clean_error(&dropkit(&["train", "--model", SMALL, "--lr", "-0.1", "--out", o], &[]), 2, "lr = -0.1");
    // An OS error is said once, with its path.
    let file = temp("a-file");
    std::fs::write(&*file, b"x").unwrap();
    let under_file = file.join("run");
    let err = dropkit(&["train", "--model", SMALL, "--epochs", "1", "--out", under_file.to_str().unwrap()], &[]);
    let msg = text(&err.stderr);
    assert_eq!(msg.matches("os error").count(), 1, "{msg}");
    assert!(msg.contains(&*under_file.to_string_lossy()), "{msg}");
    // A failed fetch leaves no empty data folder behind.
    let data = temp("fetch-empty");
    std::fs::create_dir_all(&*data).unwrap();
    let fetch =
        dropkit(&["data", "fetch", "mnist", "--data", data.to_str().unwrap(), "--mirror", "http://127.0.0.1:9/"], &[]);
    assert_eq!(fetch.status.code(), Some(1));
    assert!(!data.join("mnist").exists(), "an empty mnist/ would look like data");
    // Help says what --epochs and --batch-size are.
    let help = text(&dropkit(&["train", "--help"], &[]).stdout);
    assert!(help.contains("Passes over the training set") && help.contains("Samples per minibatch"), "{help}");
    // The uncertainty study warns about a model without dropout.
    let run = temp("no-dropout-run");
    let trained = dropkit(
        &["train", "--model", "dense(32, relu) dense(10)", "--epochs", "1", "--out", run.to_str().unwrap()],
        &[],
    );
    assert!(trained.status.success(), "{}", text(&trained.stderr));
    let unc = temp("no-dropout-unc");
    let study = dropkit(
        &["uncertainty", run.to_str().unwrap(), "--mc", "2", "--ood-inputs", "20", "--out", unc.to_str().unwrap()],
        &[],
    );
    assert!(text(&study.stderr).contains("has no dropout layer"), "{}", text(&study.stderr));
    assert_clean_error(
        &dropkit(
            &["uncertainty", run.to_str().unwrap(), "--ood-inputs", "0", "--out", temp("ood0").to_str().unwrap()],
            &[],
        ),
        2,
        "--ood-inputs 0",
    );
}

#[test]
fn specs_too_deep_or_too_large_for_memory_are_refused_before_building() {
    let out = temp("huge");
    let o = out.to_str().unwrap();
    let nested = format!("{}relu{} dense(10)", "residual(".repeat(2000), ")".repeat(2000));
    assert_clean_error(&dropkit(&["train", "--model", &nested, "--out", o], &[]), 2, "nest more than 32 deep");
    let wide = format!("{} dense(10)", vec!["relu"; 20_000].join(" "));
    assert_clean_error(
        &dropkit(&["train", "--model", &wide, "--out", o], &[]),
        2,
        "GiB for its buffers (20001 layers)",
    );
}

#[test]
fn a_run_that_diverged_resumes_with_a_new_learning_rate() {
    let run = temp("nan-run");
    let r = run.to_str().unwrap();
    let model = "dense(256, relu) dropout(0.5) dense(10)";
    let diverged = dropkit(&["train", "--model", model, "--lr", "1e30", "--epochs", "2", "--out", r], &[]);
    assert_eq!(diverged.status.code(), Some(1), "{}", text(&diverged.stderr));
    assert!(text(&diverged.stderr).contains("lower the learning rate"), "{}", text(&diverged.stderr));
    let resumed = dropkit(&["train", "--resume", r, "--lr", "0.001"], &[]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("lr = 0.001") && config.contains("resumed after epoch 0 with lr 0.001"), "{config}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["test_accuracy"].as_f64().unwrap() > 0.5);
}

#[test]
fn run_directories_and_results_files_are_locked_and_stale_locks_taken_over() {
    let run = temp("locked-run");
    assert!(train(&run, "2").status.success());
    std::fs::remove_file(run.join("model.safetensors")).unwrap(); // unfinished again, as if killed
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    let host = if host.is_empty() { "localhost".to_string() } else { host };
    // A live holder: this test's own process.
    let lock = run.join(".dropkit.lock");
    std::fs::write(&lock, format!("{} {host}\n", std::process::id())).unwrap();
    assert_clean_error(
        &dropkit(&["train", "--resume", run.to_str().unwrap()], &[]),
        2,
        &format!("in use by process {}", std::process::id()),
    );
    // A dead holder: a process that has exited.
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    std::fs::write(&lock, format!("{pid} {host}\n")).unwrap();
    let out = dropkit(&["train", "--resume", run.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr)
        .contains(&format!("took over the lock of the run in {} left by process {pid}", run.display())));
    assert!(!lock.exists(), "released when the run ends");
    // Two sweeps on one results file.
    let sweep = temp("locked-sweep");
    std::fs::create_dir_all(&*sweep).unwrap();
    std::fs::write(sweep.join("results.jsonl.lock"), format!("{} {host}\n", std::process::id())).unwrap();
    let out = dropkit(&["sweep", "--model", SMALL, "--epochs", "1", "--out", sweep.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("results.jsonl is in use by process"), "{}", text(&out.stderr));
}

#[test]
fn a_config_may_leave_out_defaults_and_flags_and_its_errors_are_one_line_usage_errors() {
    let (config, run) = (temp("short-config"), temp("short-config-run"));
    std::fs::write(&*config, "epochs = 1\n").unwrap();
    let c = config.to_str().unwrap();
    let out = dropkit(&["train", "--config", c, "--model", SMALL, "--out", run.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(run.join("config.toml")).unwrap().contains("batch_size = 128"));
    std::fs::write(&*config, "epochs = 1\nbatch_size = \"many\"\n").unwrap();
    assert_clean_error(
        &dropkit(&["train", "--config", c, "--model", SMALL, "--out", temp("x").to_str().unwrap()], &[]),
        2,
        "line 2, column 14",
    );
    std::fs::write(&*config, "epochs = 1\n").unwrap();
    assert_clean_error(&dropkit(&["train", "--config", c, "--out", temp("y").to_str().unwrap()], &[]), 2, "model");
}

/// A CSV table of 60 rows: two features, a text label and a real value that follows them.
fn write_table(path: &Path, rows: std::ops::Range<usize>, with_label: bool) {
    let mut t = String::from(if with_label { "x1,x2,price,kind\n" } else { "x1,x2,price\n" });
    for i in rows {
        let kind = if (i * 7) % 10 < 5 { "small" } else { "large" };
        let x2 = ((i * 7) % 10) as f64;
        t.push_str(&format!("{i},{x2},{}", 2.0 * x2 + 0.1 * i as f64));
        t.push_str(&if with_label { format!(",{kind}\n") } else { "\n".into() });
    }
    std::fs::write(path, t).unwrap();
}

#[test]
fn own_csv_data_trains_evaluates_and_predicts_new_rows_with_class_names() {
    let dir = temp("own-csv");
    std::fs::create_dir_all(&dir).unwrap();
    let (table, new) = (dir.join("t.csv"), dir.join("new.csv"));
    write_table(&table, 0..60, true);
    write_table(&new, 100..104, false);
    let run = dir.join("run");
    let out = dropkit(
        &[
            "train",
            "--data",
            table.to_str().unwrap(),
            "--model",
            "dense(16, relu) dropout(0.2) dense(2)",
            "--epochs",
            "5",
            "--test-split",
            "0.25",
            "--out",
            run.to_str().unwrap(),
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("45 training samples") && stdout.contains("15 test samples held out"), "{stdout}");
    for f in ["standardization.json", "split.json", "model.safetensors"] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let eval = dropkit(&["eval", run.to_str().unwrap()], &[]);
    assert!(text(&eval.stdout).contains("test_accuracy"), "{}", text(&eval.stderr));

    // New rows the run never saw, without their label column: a class name per row.
    let out = dropkit(&["predict", run.to_str().unwrap(), "--input", new.to_str().unwrap(), "--mc", "20"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("index,predicted,class,p_0,p_1,std_0"), "{csv}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.contains(",small,") || r.contains(",large,")), "{csv}");

    // A label the run was not trained on, and a missing feature column: one-line errors.
    std::fs::write(&new, "x1,x2,price,kind\n1,2,3,medium\n").unwrap();
    let e = dropkit(&["predict", run.to_str().unwrap(), "--input", new.to_str().unwrap()], &[]);
    assert_clean_error(&e, 2, "label 'medium' is not one of the run's 2 training classes (large, small)");
    std::fs::write(&new, "x1,price\n1,2\n").unwrap();
    let e = dropkit(&["predict", run.to_str().unwrap(), "--input", new.to_str().unwrap()], &[]);
    assert_clean_error(&e, 1, "no column 'x2', which the run was trained on");
    let e = dropkit(&["train", "--model", "dense(2)", "--target", "kind"], &[]);
    assert_clean_error(&e, 2, "give it with --data FILE.csv");
}

#[test]
fn a_regression_run_predicts_mean_and_std_and_gal_uci_resumes() {
    let dir = temp("own-regression");
    std::fs::create_dir_all(&dir).unwrap();
    let table = dir.join("t.csv");
    write_table(&table, 0..60, false);
    let run = dir.join("run");
    let out = dropkit(
        &[
            "train",
            "--data",
            table.to_str().unwrap(),
            "--model",
            "dense(16, relu) dropout(0.1) dense(1)",
            "--epochs",
            "5",
            "--out",
            run.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("test_rmse"), "{}", text(&out.stdout));
    let out = dropkit(&["predict", run.to_str().unwrap(), "--mc", "30"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("index,target_0,mean_0,std_0,total_std_0\n"));
    assert!(
        text(&out.stderr).contains("RMSE") && text(&out.stderr).contains("log-likelihood"),
        "{}",
        text(&out.stderr)
    );
    let e = dropkit(&["uncertainty", run.to_str().unwrap(), "--out", dir.join("u").to_str().unwrap()], &[]);
    assert_clean_error(&e, 2, "is a regression run");

    let gal = dir.join("gal");
    let args = |splits: &str| {
        vec![
            "reproduce",
            "gal-uci",
            "--data",
            table.to_str().unwrap(),
            "--target",
            "price",
            "--splits",
            splits,
            "--passes",
            "50",
            "--epochs",
            "3",
            "--rates",
            "0.01,0.1",
            "--out",
            gal.to_str().unwrap(),
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    let run_gal = |splits: &str| {
        let a = args(splits);
        dropkit(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[])
    };
    let first = run_gal("2");
    assert!(first.status.success(), "{}", text(&first.stderr));
    let stdout = text(&first.stdout);
    assert!(
        stdout.contains("0 splits already")
            && stdout.contains("RMSE (MC dropout, T=50)")
            && stdout.contains("test log-likelihood"),
        "{stdout}"
    );
    let splits: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(gal.join("splits.json")).unwrap()).unwrap();
    assert_eq!(splits["splits"][0]["test_rows"].as_array().unwrap().len(), 6);
    // Two more splits: the first two are kept, not run again.
    let lines_before = std::fs::read_to_string(gal.join("results.jsonl")).unwrap();
    let second = run_gal("4");
    assert!(text(&second.stdout).contains("2 splits already in"), "{}", text(&second.stdout));
    // Other settings in the same directory are refused.
    let mut other = args("4");
    let at = other.iter().position(|a| a == "0.01,0.1").unwrap();
    other[at] = "0.2".into();
    let e = dropkit(&other.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert_clean_error(&e, 2, "holds results of other settings");
    assert!(std::fs::read_to_string(gal.join("results.jsonl")).unwrap().starts_with(&lines_before));
}

#[test]
fn predict_reads_a_png_folder_the_run_never_saw() {
    let run = temp("png-run");
    assert!(train(&run, "2").status.success());
    // Two digit-like images per class folder, drawn here: never part of MNIST.
    let folder = temp("png-new");
    for (class, stroke) in [("3", 6u32), ("7", 20)] {
        std::fs::create_dir_all(folder.join(class)).unwrap();
        for k in 0..2u32 {
            let img = image::GrayImage::from_fn(28, 28, |x, y| {
                image::Luma([if x.abs_diff(stroke + k) < 2 && y > 4 && y < 24 { 255 } else { 0 }])
            });
            img.save(folder.join(class).join(format!("{k}.png"))).unwrap();
        }
    }
    let out =
        dropkit(&["predict", run.to_str().unwrap(), "--input", folder.to_str().unwrap(), "--format", "jsonl"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["probs"].as_array().unwrap().len(), 10);
    // Folder "3" holds class 3 of a digit run; rows go by file name, then class.
    let labels: Vec<u64> = lines.iter().map(|l| l["label"].as_u64().unwrap()).collect();
    assert_eq!(labels, vec![3, 7, 3, 7]);
    assert_eq!(lines[1]["file"], "7/0.png");
    // An image of another size is resized to the run's.
    image::GrayImage::new(20, 20).save(folder.join("3").join("9.png")).unwrap();
    let e = dropkit(&["predict", run.to_str().unwrap(), "--input", folder.to_str().unwrap()], &[]);
    assert!(e.status.success(), "resized to the run's 28x28: {}", text(&e.stderr));
}

#[test]
fn a_character_model_trains_on_a_text_file_and_generate_repeats_with_its_seed() {
    let dir = temp("text");
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = dir.join("tiny.txt");
    std::fs::write(&corpus, "to be or not to be, that is the question.\n".repeat(40)).unwrap();
    let run = dir.join("run");
    let model = "embed(vocab=16, dim=16, context=16, drop=0.1) block(heads=2, mlp=32, causal, attn_drop=0.1, resid_drop=0.1) layernorm pdense(16)";
    let out = dropkit(
        &[
            "train",
            "--data",
            corpus.to_str().unwrap(),
            "--model",
            model,
            "--epochs",
            "3",
            "--out",
            run.to_str().unwrap(),
        ],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", text(&out.stderr));
    let generate = |seed: &str, mc: &str| {
        let args =
            ["generate", run.to_str().unwrap(), "--prompt", "to be", "--tokens", "30", "--seed", seed, "--mc", mc];
        let out = dropkit(&args, &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let (a, b, c) = (generate("1", "0"), generate("1", "0"), generate("2", "0"));
    assert!(a.starts_with("to be") && a.trim_end().chars().count() == 35, "{a}");
    assert_eq!(a, b, "the same seed gives the same text");
    assert_ne!(a, c);
    let mc = generate("1", "8");
    assert!(mc.contains("position,char,entropy,mutual_information") && mc.lines().count() >= 30, "{mc}");
    // A prompt outside the vocabulary, and a run that is not a character model, are clean errors.
    let bad = dropkit(&["generate", run.to_str().unwrap(), "--prompt", "Z!"], &[]);
    assert_clean_error(&bad, 2, "not in the model's vocabulary");
    let predict = dropkit(&["predict", run.to_str().unwrap()], &[]);
    assert_clean_error(&predict, 2, "dropkit generate");
}
