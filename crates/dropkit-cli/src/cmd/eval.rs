//! `dropkit eval RUN_DIR`: rebuild a saved run's model and evaluate it on the test set.

use super::train::load_data;
use crate::output::say;
use anyhow::Result;
use dropkit::train::run::{load_config, SavedRun};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A directory written by `dropkit train`.
    run_dir: PathBuf,
    /// Data directory (default: the data-directory rules).
    #[arg(long)]
    data: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let cfg = load_config(&args.run_dir)?;
    let data = load_data(args.data.as_deref(), &cfg)?;
    let mut run = SavedRun::open(&args.run_dir, &data.train.sample_shape)?;
    let (stats, regression) = run.evaluate(&data)?;
    say(format!("model: {}", run.model.spec()))?;
    let what = match cfg.data.as_ref().map(|d| d.format.as_str()) {
        Some("text") => "sequences",
        _ if cfg.input.is_some() => "samples",
        _ => "images",
    };
    say(format!("data: {} ({} test {what})", data.source, data.test.len()))?;
    match regression {
        Some(r) => say(format!(
            "test_loss: {:.4} - test_rmse: {:.4} - test_nll: {:.4}",
            stats.loss(),
            r.test_rmse,
            r.test_nll
        ))?,
        None => say(format!("test_loss: {:.4} - test_accuracy: {:.4}", stats.loss(), stats.accuracy()))?,
    }
    Ok(())
}
