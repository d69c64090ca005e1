//! `dropkit generate RUN --prompt TEXT --tokens N`: continue a prompt with a character model.

use crate::output::say;
use anyhow::Result;
use dropkit::data::text::Vocabulary;
use dropkit::train::run::{load_config, SavedRun};
use dropkit::uncertainty::generate::{generate, GenerateOptions};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A run trained on text (e.g. `--preset char-transformer`).
    run_dir: PathBuf,
    /// The text to continue.
    #[arg(long)]
    prompt: String,
    /// Characters to generate.
    #[arg(long, default_value_t = 200)]
    tokens: usize,
    /// Sampling temperature (0: always the most likely character).
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Seed of the draws: the same seed gives the same text.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Monte Carlo dropout passes per character; then each character's predictive entropy and
    /// mutual information (nats) follow the text, one line each.
    #[arg(long, value_name = "T", default_value_t = 0)]
    mc: usize,
}

pub fn run(args: Args) -> Result<()> {
    let cfg = load_config(&args.run_dir)?;
    let Some(data) = cfg.data.as_ref().filter(|d| d.format == "text") else {
        anyhow::bail!(dropkit::Error::InvalidArgument(format!(
            "{} was not trained on text; generate continues text with a character model, e.g. one trained with --preset char-transformer",
            args.run_dir.display()
        )));
    };
    let vocabulary = Vocabulary::from_names(&data.classes)?;
    let mut run = SavedRun::open(&args.run_dir, &data.sample_shape)?;
    let options =
        GenerateOptions { tokens: args.tokens, temperature: args.temperature, seed: args.seed, passes: args.mc };
    let out = generate(&mut run.model, &vocabulary, &args.prompt, &options)?;
    let text: String = out.iter().map(|g| g.char).collect();
    say(format!("{}{text}", args.prompt))?;
    if args.mc > 0 {
        say(format!("\nposition,char,entropy,mutual_information ({} MC dropout passes)", args.mc))?;
        for (i, g) in out.iter().enumerate() {
            say(format!(
                "{i},{:?},{:.4},{:.4}",
                g.char,
                g.entropy.unwrap_or(f64::NAN),
                g.mutual_information.unwrap_or(f64::NAN)
            ))?;
        }
    }
    Ok(())
}
