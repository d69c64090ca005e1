//! Printing: lines on stdout that end quietly on a closed pipe, and training progress as an
//! indicatif bar on a terminal or one plain line per epoch otherwise (Keras verbose=2).

use dropkit::train::{EpochRecord, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};

/// Writes one line to stdout; a closed pipe becomes an error that `main` turns into exit 0.
pub fn say(line: impl AsRef<str>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", line.as_ref())?;
    out.flush()?;
    Ok(())
}

/// True when `e` is a write to a closed pipe (`dropkit ... | head`).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// The Keras-style epoch line.
pub fn epoch_line(r: &EpochRecord, epochs: usize) -> String {
    let mut s =
        format!("Epoch {}/{} - {:.1}s - loss: {:.4} - accuracy: {:.4}", r.epoch, epochs, r.seconds, r.loss, r.accuracy);
    if let (Some(vl), Some(va)) = (r.val_loss, r.val_accuracy) {
        s.push_str(&format!(" - val_loss: {vl:.4} - val_accuracy: {va:.4}"));
    }
    s
}

/// Shows training progress; `label` prefixes lines (e.g. "with dropout").
pub struct ProgressView {
    bar: Option<ProgressBar>,
    epochs: usize,
    label: String,
    failed: Option<std::io::Error>,
}

impl ProgressView {
    pub fn new(epochs: usize, label: &str, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        ProgressView { bar, epochs, label: label.to_string(), failed: None }
    }

    /// Handles one progress event from `fit`.
    pub fn update(&mut self, p: Progress) {
        match p {
            Progress::Batch { epoch, batch, batches, loss } => {
                if let Some(bar) = &self.bar {
                    bar.set_position(batch as u64);
                    // Text changes once per epoch; the loss is refreshed every 20 batches, so the
                    // training loop does not format a string per step.
                    if batch == 1 {
                        bar.set_length(batches as u64);
                        bar.set_prefix(format!("{}Epoch {epoch}/{}", self.prefix(), self.epochs));
                    }
                    if batch % 20 == 1 {
                        bar.set_message(format!("loss: {loss:.4}"));
                    }
                }
            }
            Progress::Epoch(r) => {
                let line = format!("{}{}", self.prefix(), epoch_line(r, self.epochs));
                match &self.bar {
                    Some(bar) => bar.println(line),
                    None => {
                        if let Err(e) = say(&line) {
                            self.failed.get_or_insert(std::io::Error::other(e.to_string()));
                        }
                    }
                }
            }
        }
    }

    fn prefix(&self) -> String {
        if self.label.is_empty() {
            String::new()
        } else {
            format!("[{}] ", self.label)
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
