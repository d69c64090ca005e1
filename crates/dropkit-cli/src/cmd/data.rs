//! `dropkit data fetch mnist|fashion-mnist|cifar-10 [--mirror URL]...`: download and verify a
//! data set.

use crate::output::say;
use anyhow::Result;
use dropkit::data::data_root;
use dropkit::data::fetch::{fetch_set, remote_set, FetchEvent};
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
        /// The data set: mnist, fashion-mnist or cifar-10.
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
    let set = remote_set(&dataset)?;
    let dir = data_root(data.as_deref())?.join(set.name);
    let mut lines = Vec::new();
    fetch_set(&dir, set, &mirror, &mut |e| match e {
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
    say(format!("{dataset} is ready in {} ({})", dir.display(), set.credit))?;
    Ok(())
}
