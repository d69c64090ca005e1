//! Sweeps: train every trial of a [`Grid`], up to `jobs` at a time, appending each finished
//! trial to `results.jsonl` (one JSON line: settings, config, history, metrics). A rerun skips
//! the trials already there, so an interrupted sweep loses only the trials in flight. A shard
//! (`i/N`) runs every N-th trial and writes `results-shard-i-of-N.jsonl`, so that shards on
//! several machines never write the same file; reports merge every `results*.jsonl`.

pub mod grid;
pub mod summary;

pub use grid::{Grid, Regularizer, Settings, Shard, Trial};

use crate::data::TrainTest;
use crate::error::{Error, Result};
use crate::train::run::{train_run, Metrics};
use crate::train::{History, Progress, RunConfig};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One line of `results.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    pub key: String,
    pub settings: Settings,
    pub config: RunConfig,
    pub history: History,
    pub metrics: Metrics,
}

/// The results file this process appends to.
pub fn results_file(dir: &Path, shard: Option<Shard>) -> PathBuf {
    match shard {
        None => dir.join("results.jsonl"),
        Some(s) => dir.join(format!("results-shard-{}-of-{}.jsonl", s.index, s.count)),
    }
}

/// A trial that could not finish (it diverged, or its model does not fit the data): recorded
/// in the results file as a line with `failed`, so that the sweep goes on and reruns skip it
/// (unless told to retry failed trials).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedTrial {
    pub key: String,
    pub settings: Settings,
    pub config: RunConfig,
    /// The error, as it was reported.
    pub failed: String,
}

/// Every trial recorded in `dir`'s `results*.jsonl` files, in file order, and the number of
/// lines that could not be read (a line cut short by a crash is skipped; its trial reruns).
pub fn read_results(dir: &Path) -> Result<(Vec<TrialRecord>, usize)> {
    let (records, _, skipped) = read_all(dir)?;
    Ok((records, skipped))
}

/// The trials recorded as failed in `dir` (each once, the latest record of a key).
pub fn read_failures(dir: &Path) -> Result<Vec<FailedTrial>> {
    let (records, failed, _) = read_all(dir)?;
    let mut out: Vec<FailedTrial> = Vec::new();
    for f in failed.into_iter().rev() {
        // A trial that failed and then succeeded on a retry is not failed.
        if !records.iter().any(|r| r.key == f.key) && !out.iter().any(|o| o.key == f.key) {
            out.push(f);
        }
    }
    out.reverse();
    Ok(out)
}

/// Finished trials, failed trials and unreadable lines of `dir`'s results files.
fn read_all(dir: &Path) -> Result<(Vec<TrialRecord>, Vec<FailedTrial>, usize)> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                name.starts_with("results") && name.ends_with(".jsonl")
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new(), 0)),
        Err(e) => return Err(Error::io(dir, e)),
    };
    files.sort();
    let (mut records, mut failed, mut skipped) = (Vec::new(), Vec::new(), 0);
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Ok(r) = serde_json::from_str::<TrialRecord>(line) {
                records.push(r);
            } else if let Ok(f) = serde_json::from_str::<FailedTrial>(line) {
                failed.push(f);
            } else {
                skipped += 1;
            }
        }
    }
    Ok((records, failed, skipped))
}

/// Rewrites `path` without the lines a crash cut short (their trials rerun): the note about
/// unreadable lines is not repeated forever.
fn compact(path: &Path) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let readable =
        |l: &&str| serde_json::from_str::<TrialRecord>(l).is_ok() || serde_json::from_str::<FailedTrial>(l).is_ok();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let kept: Vec<&str> = lines.iter().copied().filter(readable).collect();
    if kept.len() == lines.len() {
        return Ok(());
    }
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    crate::fsio::write_atomic(path, out.as_bytes())
}

/// Appends one record as a line, synced to disk before returning.
fn append(path: &Path, record: &impl Serialize) -> Result<()> {
    let mut line = serde_json::to_string(record).map_err(|e| Error::InvalidArgument(format!("result: {e}")))?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| Error::io(path, e))?;
    // A previous run killed mid-line left a partial line: start on a fresh one.
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > 0 && !std::fs::read(path).map(|b| b.ends_with(b"\n")).unwrap_or(true) {
        line.insert(0, '\n');
    }
    f.write_all(line.as_bytes()).and_then(|_| f.sync_data()).map_err(|e| Error::io(path, e))
}

/// What a running sweep reports.
#[derive(Debug)]
pub enum SweepEvent<'a> {
    /// Before training: how many trials the grid has, are already done, and will run now.
    Plan {
        total: usize,
        done: usize,
        to_run: usize,
    },
    Started {
        trial: &'a Trial,
    },
    /// A trial finished an epoch.
    Epoch {
        trial: &'a Trial,
        record: &'a crate::train::EpochRecord,
    },
    Finished {
        trial: &'a Trial,
        record: &'a TrialRecord,
    },
    /// A trial failed; it is recorded as failed and the sweep goes on.
    Failed {
        trial: &'a Trial,
        error: &'a str,
    },
}

/// Options of [`run_sweep`].
#[derive(Clone, Copy, Debug)]
pub struct SweepOptions {
    /// Trials trained at the same time; the threads are divided among them.
    pub jobs: usize,
    pub shard: Option<Shard>,
    /// Run the trials recorded as failed again (otherwise reruns skip them).
    pub retry_failed: bool,
}

/// Runs every trial of this shard not yet recorded in `dir`; returns the records written now.
/// Trials train with `threads / jobs` threads each and give the same results for any split.
pub fn run_sweep(
    trials: &[Trial],
    data: &TrainTest,
    dir: &Path,
    options: SweepOptions,
    on_event: &(dyn Fn(SweepEvent) + Sync),
) -> Result<Vec<TrialRecord>> {
    if options.jobs == 0 {
        return Err(Error::InvalidArgument("--jobs 0: run at least 1 trial at a time".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (existing, failed, _) = read_all(dir)?;
    let mut done: std::collections::HashSet<&str> = existing.iter().map(|r| r.key.as_str()).collect();
    if !options.retry_failed {
        done.extend(failed.iter().map(|f| f.key.as_str()));
    }
    let mine: Vec<&Trial> =
        trials.iter().enumerate().filter(|(k, _)| options.shard.is_none_or(|s| s.owns(*k))).map(|(_, t)| t).collect();
    let pending: Vec<&Trial> = mine.iter().copied().filter(|t| !done.contains(t.key.as_str())).collect();
    on_event(SweepEvent::Plan { total: mine.len(), done: mine.len() - pending.len(), to_run: pending.len() });
    let file = results_file(dir, options.shard);
    compact(&file)?;
    let next = AtomicUsize::new(0);
    let written = Mutex::new(Vec::new());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let jobs = options.jobs.min(pending.len()).max(1);
    let threads = (rayon::current_num_threads() / jobs).max(1);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
                    Ok(p) => p,
                    Err(e) => {
                        let msg = format!("cannot start {threads} threads: {e}");
                        first_error
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(Error::InvalidArgument(msg));
                        return;
                    }
                };
                loop {
                    if first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                        return;
                    }
                    let Some(&trial) = pending.get(next.fetch_add(1, Ordering::SeqCst)) else { return };
                    on_event(SweepEvent::Started { trial });
                    let result = pool.install(|| {
                        train_run(&trial.config, data, None, &mut |p| {
                            if let Progress::Epoch(record) = p {
                                on_event(SweepEvent::Epoch { trial, record });
                            }
                        })
                    });
                    let outcome = result.and_then(|o| {
                        let record = TrialRecord {
                            key: trial.key.clone(),
                            settings: trial.settings.clone(),
                            config: trial.config.clone(),
                            history: o.history,
                            metrics: o.metrics,
                        };
                        let mut out = written.lock().unwrap_or_else(|p| p.into_inner());
                        append(&file, &record)?;
                        on_event(SweepEvent::Finished { trial, record: &record });
                        out.push(record);
                        Ok(())
                    });
                    match outcome {
                        Ok(()) => {}
                        // The trial's own failure (it diverged, or its model does not fit the
                        // data): record it and go on with the others.
                        Err(
                            e @ (Error::Numeric(_) | Error::Shape { .. } | Error::InvalidArgument(_) | Error::Spec(_)),
                        ) => {
                            let failure = FailedTrial {
                                key: trial.key.clone(),
                                settings: trial.settings.clone(),
                                config: trial.config.clone(),
                                failed: e.to_string(),
                            };
                            let _guard = written.lock().unwrap_or_else(|p| p.into_inner());
                            if let Err(e) = append(&file, &failure) {
                                first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                                return;
                            }
                            on_event(SweepEvent::Failed { trial, error: &failure.failed });
                        }
                        Err(e) => {
                            first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(written.into_inner().unwrap_or_else(|p| p.into_inner())),
    }
}
