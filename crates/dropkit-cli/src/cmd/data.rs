//! `dropkit data fetch mnist [--mirror URL]...`: download and verify MNIST.

use crate::output::say;
use anyhow::{bail, Result};
use dropkit::data::data_root;
use dropkit::data::fetch::{fetch, FetchEvent, MNIST_FILES, MNIST_MIRRORS};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Download a data set into the data directory, verifying checksums.
    Fetch {
        /// The data set: mnist.
        dataset: String,
        /// Mirror URL prefix to use instead of the canonical ones (repeatable, tried in order).
        #[arg(long)]
        mirror: Vec<String>,
        /// Data directory (default: $DROPKIT_DATA, then ~/.cache/dropkit).
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

pub fn run(args: Args) -> Result<()> {
    let Action::Fetch { dataset, mirror, data } = args.action;
    if dataset != "mnist" {
        bail!(dropkit::Error::InvalidArgument(format!("unknown data set '{dataset}'; available: mnist")));
    }
    let mirrors: Vec<String> =
        if mirror.is_empty() { MNIST_MIRRORS.iter().map(|m| m.to_string()).collect() } else { mirror };
    let dir = data_root(data.as_deref())?.join(&dataset);
    let mut lines = Vec::new();
    fetch(&dir, &MNIST_FILES, &mirrors, &mut |e| match e {
        FetchEvent::Present { name } => lines.push(format!("{name}: present, checksum ok")),
        FetchEvent::Downloaded { name, mirror, bytes } => {
            lines.push(format!("{name}: downloaded {bytes} bytes from {mirror}, checksum ok"))
        }
        FetchEvent::MirrorFailed { name, mirror, reason } => {
            eprintln!("warning: {name}: {mirror} failed ({reason})")
        }
    })?;
    for l in lines {
        say(l)?;
    }
    say(format!("{dataset} is ready in {}", dir.display()))?;
    Ok(())
}
