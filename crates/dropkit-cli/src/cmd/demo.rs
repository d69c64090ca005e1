//! `dropkit demo`: the same network trained with and without dropout on the embedded data;
//! test accuracy and train/validation gaps side by side, and both validation curves plotted.

use crate::output::{say, ProgressView};
use crate::report::plot::{line_chart, Chart, Series, XAxis};
use anyhow::Result;
use dropkit::data::{load_mnist, DataSource};
use dropkit::optim::{OptimizerConfig, OptimizerKind};
use dropkit::train::run::{train_run, Metrics};
use dropkit::train::{History, RunConfig};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Output directory (its demo files are replaced).
    #[arg(long, default_value = "runs/demo")]
    out: PathBuf,
    /// Epochs per network.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// No progress bar or epoch lines.
    #[arg(long, short)]
    quiet: bool,
}

// The 2014 paper's recipe in small: dropout 0.2 on the input and 0.5 on hidden units,
// SGD with momentum.
const WITH: &str = "dropout(0.2) dense(512, relu) dropout(0.5) dense(512, relu) dropout(0.5) dense(10, softmax)";
const WITHOUT: &str = "dense(512, relu) dense(512, relu) dense(10, softmax)";

pub fn run(args: Args) -> Result<()> {
    let data = load_mnist(&DataSource::Embedded, "mnist")?;
    say(format!(
        "dropkit demo: the same MLP with and without dropout, {} epoch{} each, on the embedded MNIST subset ({} training images, the last 20% for validation; {} test images)",
        args.epochs,
        if args.epochs == 1 { "" } else { "s" },
        data.train.len(),
        data.test.len()
    ))?;
    let mut results: Vec<(&str, History, Metrics)> = Vec::new();
    for (label, spec, dir) in [("without dropout", WITHOUT, "without_dropout"), ("with dropout", WITH, "with_dropout")]
    {
        say(format!("\n{label}: {spec}"))?;
        let cfg = RunConfig {
            epochs: args.epochs,
            validation_split: 0.2,
            seed: args.seed,
            optimizer: OptimizerConfig {
                kind: OptimizerKind::Sgd,
                lr: 0.05,
                momentum: 0.9,
                ..OptimizerConfig::default()
            },
            checkpoint_every: 0,
            ..RunConfig::new(spec)
        };
        let mut view = ProgressView::new(args.epochs, label, args.quiet);
        let outcome = train_run(&cfg, &data, Some(&args.out.join(dir)), &mut |p| {
            if !args.quiet {
                view.update(p)
            }
        })?;
        view.finish();
        results.push((label, outcome.history, outcome.metrics));
    }

    say("")?;
    say(format!("{:<24}{:>18}{:>18}", "", results[0].0, results[1].0))?;
    let row = |name: &str, f: &dyn Fn(&Metrics) -> Option<f64>| {
        let cell = |m: &Metrics| f(m).map(|v| format!("{v:.4}")).unwrap_or_else(|| "n/a".into());
        format!("{name:<24}{:>18}{:>18}", cell(&results[0].2), cell(&results[1].2))
    };
    say(row("test accuracy", &|m| Some(m.test_accuracy)))?;
    say(row("test loss", &|m| Some(m.test_loss)))?;
    say(row("train acc. (dropout off)", &|m| Some(m.train_accuracy)))?;
    say(row("val accuracy", &|m| m.val_accuracy))?;
    say(row("train - val gap", &|m| m.generalization_gap))?;
    say(row("seconds per epoch", &|m| Some(m.seconds_per_epoch)))?;
    say("(the epoch lines measure training accuracy with dropout on, as Keras does; the table measures it after training, with dropout off)")?;

    let series: Vec<Series> = results
        .iter()
        .map(|(label, h, _)| {
            Series::new(
                label.to_string(),
                h.epochs.iter().filter_map(|r| r.val_accuracy.map(|a| (r.epoch as f64, a))).collect(),
            )
        })
        .collect();
    let chart = Chart {
        title: "Validation accuracy with and without dropout",
        x_label: "epoch",
        y_label: "validation accuracy",
        x_axis: XAxis::Integer,
    };
    let files = line_chart(&args.out.join("val_accuracy"), &chart, &series)?;
    say(format!(
        "\nplot: {}\nruns: {} and {}",
        files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
        args.out.join("without_dropout").display(),
        args.out.join("with_dropout").display()
    ))?;
    Ok(())
}
