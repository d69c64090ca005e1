//! `dropkit eval RUN_DIR`: rebuild a saved run's model and evaluate it on the test set.

use super::train::load_data;
use crate::output::say;
use anyhow::Result;
use dropkit::layer::Mode;
use dropkit::train::evaluate;
use dropkit::train::run::{load_config, load_model};
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
    let (_, mut model) = load_model(&args.run_dir, &data.train.sample_shape)?;
    let stats = evaluate(&mut model, &data.test, Mode::Eval)?;
    say(format!("model: {}", model.spec()))?;
    say(format!("data: {} ({} test images)", data.source, data.test.len()))?;
    say(format!("test_loss: {:.4} - test_accuracy: {:.4}", stats.loss(), stats.accuracy()))?;
    Ok(())
}
