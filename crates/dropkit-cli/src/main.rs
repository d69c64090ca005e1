//! The `dropkit` command: parses arguments, calls the library, prints and draws.

mod cmd;
mod output;
mod report;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Neural networks with every kind of dropout, on a fast CPU engine.
#[derive(Parser)]
#[command(name = "dropkit", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model (from --model, --preset or --config) and write a run directory.
    Train(Box<cmd::train::Args>),
    /// Evaluate a saved run on its test set.
    Eval(cmd::eval::Args),
    /// Train one network with and without dropout on the embedded data and compare them.
    Demo(cmd::demo::Args),
    /// Data sets: fetch MNIST, Fashion-MNIST or CIFAR-10.
    Data(cmd::data::Args),
    /// List the presets.
    Presets,
    /// List the dropout variants, one line each (--json: a JSON list).
    Variants {
        #[arg(long)]
        json: bool,
    },
    /// Time fixed workloads (release build), optionally next to PyTorch.
    Bench(cmd::bench::Args),
    /// Predict the test set of a saved run, deterministically or with Monte Carlo dropout.
    Predict(cmd::predict::Args),
    /// Continue a prompt with a character model (--mc T: with each character's predictive
    /// entropy and mutual information from Monte Carlo dropout).
    Generate(cmd::generate::Args),
    /// Calibration, rejection and out-of-distribution detection: deterministic vs MC dropout.
    Uncertainty(cmd::uncertainty::Args),
    /// Train a grid of dropout rates, variants, regularizers, batch sizes, learning rates and
    /// seeds; write results.jsonl, plots and report.html (reruns skip finished trials).
    Sweep(Box<cmd::sweep::Args>),
    /// Merge sweep directories (shards) and redraw their plots and report.html.
    Report(cmd::sweep::ReportArgs),
    /// Reproduce a paper's results: srivastava-mnist (the 2014 dropout paper's MNIST MLPs) or
    /// gal-uci (Gal and Ghahramani's UCI regression protocol, on any CSV table).
    Reproduce(cmd::reproduce::Args),
}

/// The threads to start: `RAYON_NUM_THREADS` if set; else the CPUs this process may run on
/// (its affinity mask and cgroup CPU quota, as the OS reports them), and under Slurm at most
/// `SLURM_CPUS_PER_TASK`.
fn threads() -> usize {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<usize>().ok()).filter(|&n| n > 0);
    if let Some(n) = env("RAYON_NUM_THREADS") {
        return n;
    }
    let usable = std::thread::available_parallelism().map_or(1, |n| n.get());
    env("SLURM_CPUS_PER_TASK").map_or(usable, |slurm| slurm.min(usable))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // The main thread is one of the pool's workers (not a client waiting beside them): a
    // parallel kernel called from it starts as cheaply as from any worker, and the threads
    // never outnumber the cores. RAYON_NUM_THREADS still sets how many there are.
    if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(threads()).use_current_thread().build_global() {
        eprintln!("warning: could not start the thread pool on the main thread ({e}); using the default pool");
    }
    let result = match cli.command {
        Command::Train(a) => cmd::train::run(*a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Data(a) => cmd::data::run(a),
        Command::Presets => cmd::presets(),
        Command::Variants { json } => cmd::variants(json),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Predict(a) => cmd::predict::run(a),
        Command::Uncertainty(a) => cmd::uncertainty::run(a),
        Command::Generate(a) => cmd::generate::run(a),
        Command::Sweep(a) => cmd::sweep::run(*a),
        Command::Report(a) => cmd::sweep::report(a),
        Command::Reproduce(a) => cmd::reproduce::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(if cmd::is_usage_error(&e) { 2 } else { 1 })
        }
    }
}
