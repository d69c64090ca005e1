//! Checkpoints: everything a run needs to continue exactly where it stopped. Masks and shuffles
//! are keyed by (seed, epoch, step), so weights, optimizer state, the step count and the
//! history are all there is to save; a resumed run ends byte-identical to an uninterrupted one.
//!
//! In the run directory:
//! - `checkpoint-{epoch}.safetensors`: the weights (`model/layers.0.weight`), the optimizer
//!   state (`optimizer/{i}/m`, `optimizer/{i}/v`) and early stopping's best weights (`best/...`);
//! - `checkpoint.json`: the epoch, step, history and early-stopping state, and the name and
//!   SHA-256 of the tensors file.
//!
//! The tensors file is written first under a new name, then `checkpoint.json` is replaced
//! atomically, then older tensor files are removed: whenever the process dies, the JSON names a
//! complete file, and the previous checkpoint survives until the next one is whole.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::early_stopping::EarlyState;
use super::{weights, FitState, History};
use crate::data::fetch::sha256_hex;
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::fsio::{read, write_atomic};
use crate::model::{NamedTensor, Sequential};
use crate::optim::{Optimizer, Slot};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Version of the checkpoint layout.
pub const FORMAT: u32 = 1;
const INFO_FILE: &str = "checkpoint.json";

/// The JSON half of a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointInfo {
    pub format: u32,
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    pub optimizer_slots: usize,
    pub history: History,
    pub early: EarlyState,
    pub stopped_early: bool,
    /// [`fingerprint`] of the training data, so a resume on other data is refused.
    pub data: String,
    /// The tensors file, next to this one, and its SHA-256.
    pub tensors: String,
    pub sha256: String,
}

/// A loaded checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    pub info: CheckpointInfo,
    pub model: Vec<NamedTensor>,
    pub slots: Vec<Slot>,
    pub best: Option<Vec<NamedTensor>>,
}

/// Identifies a training set: its size and the SHA-256 of its labels.
pub fn fingerprint(data: &Dataset) -> String {
    // Labels that fit a byte hash as bytes (as they always have); more classes hash as u32.
    let bytes: Vec<u8> = match &data.targets {
        Targets::Classes { ids, classes, .. } if *classes <= 256 => ids.iter().map(|&l| l as u8).collect(),
        Targets::Classes { ids, .. } => ids.iter().flat_map(|l| l.to_le_bytes()).collect(),
        Targets::Values { values, .. } => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    };
    format!("{} samples of {:?}, labels sha256 {}", data.len(), data.sample_shape, sha256_hex(&bytes))
}

fn prefixed(prefix: &str, tensors: Vec<NamedTensor>) -> impl Iterator<Item = NamedTensor> + '_ {
    tensors.into_iter().map(move |t| NamedTensor { name: format!("{prefix}/{}", t.name), ..t })
}

/// Writes the checkpoint of `state` into `dir`.
pub fn save(dir: &Path, state: &FitState, model: &mut Sequential, optimizer: &Optimizer, data: &str) -> Result<()> {
    let (steps, slots) = optimizer.state();
    let mut tensors: Vec<NamedTensor> = prefixed("model", model.state_dict()).collect();
    for (i, slot) in slots.iter().enumerate() {
        for (part, values) in [("m", &slot.m), ("v", &slot.v)] {
            let name = format!("optimizer/{i}/{part}");
            tensors.push(NamedTensor { name, shape: vec![values.len()], data: values.clone() });
        }
    }
    if let Some(best) = &state.best_weights {
        tensors.extend(prefixed("best", best.clone()));
    }
    let bytes = weights::encode(&tensors)?;
    let epoch = state.history.epochs.len();
    let file = format!("checkpoint-{epoch}.safetensors");
    write_atomic(&dir.join(&file), &bytes)?;
    let info = CheckpointInfo {
        format: FORMAT,
        epoch,
        steps,
        optimizer_slots: slots.len(),
        history: state.history.clone(),
        early: state.early.clone(),
        stopped_early: state.stopped_early,
        data: data.to_string(),
        tensors: file.clone(),
        sha256: sha256_hex(&bytes),
    };
    let json = serde_json::to_string_pretty(&info).map_err(|e| Error::InvalidArgument(format!("checkpoint: {e}")))?;
    write_atomic(&dir.join(INFO_FILE), json.as_bytes())?;
    remove_stale(dir, &file);
    Ok(())
}

/// Removes tensor files of older checkpoints (best effort: a leftover costs only disk space).
fn remove_stale(dir: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("checkpoint-") && name.ends_with(".safetensors") && name != keep {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Loads the checkpoint in `dir`, or `None` when there is none yet.
pub fn load(dir: &Path) -> Result<Option<Checkpoint>> {
    let info_path = dir.join(INFO_FILE);
    if !info_path.exists() {
        return Ok(None);
    }
    let json = read(&info_path)?;
    let origin = info_path.display().to_string();
    let info = parse_info(&json, &origin)?;
    if info.tensors.contains(['/', '\\']) || !info.tensors.ends_with(".safetensors") {
        return Err(Error::format(&origin, format!("tensors file '{}' is not a checkpoint file name", info.tensors)));
    }
    let tensors = read(&dir.join(&info.tensors))?;
    parse(info, &tensors, &origin).map(Some)
}

/// Parses `checkpoint.json`; `origin` names it in errors.
pub fn parse_info(json: &[u8], origin: &str) -> Result<CheckpointInfo> {
    let info: CheckpointInfo =
        serde_json::from_slice(json).map_err(|e| Error::format(origin, format!("not a dropkit checkpoint: {e}")))?;
    if info.format != FORMAT {
        return Err(Error::format(
            origin,
            format!("checkpoint format {} is not {FORMAT}; it was written by another dropkit version", info.format),
        ));
    }
    if info.history.epochs.len() != info.epoch {
        return Err(Error::format(
            origin,
            format!("the history has {} epochs but the checkpoint says {}", info.history.epochs.len(), info.epoch),
        ));
    }
    Ok(info)
}

/// Checks the tensors against `info` and sorts them into model, optimizer and best weights.
pub fn parse(info: CheckpointInfo, tensors: &[u8], origin: &str) -> Result<Checkpoint> {
    if sha256_hex(tensors) != info.sha256 {
        return Err(Error::format(
            origin,
            format!("{} does not match its checksum: the checkpoint is damaged", info.tensors),
        ));
    }
    let mut model = Vec::new();
    let mut best = Vec::new();
    let mut slots = vec![Slot::default(); info.optimizer_slots.min(1 << 20)];
    if slots.len() != info.optimizer_slots {
        return Err(Error::format(origin, format!("{} optimizer slots is not plausible", info.optimizer_slots)));
    }
    for t in weights::decode(tensors, &info.tensors)? {
        let mut parts = t.name.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("model"), Some(rest), None) => model.push(NamedTensor { name: rest.to_string(), ..t }),
            (Some("best"), Some(rest), None) => best.push(NamedTensor { name: rest.to_string(), ..t }),
            (Some("optimizer"), Some(i), Some(part)) => {
                let slot = i.parse::<usize>().ok().and_then(|i| slots.get_mut(i));
                match (slot, part) {
                    (Some(s), "m") => s.m = t.data,
                    (Some(s), "v") => s.v = t.data,
                    _ => return Err(Error::format(origin, format!("unexpected tensor {}", t.name))),
                }
            }
            _ => return Err(Error::format(origin, format!("unexpected tensor {}", t.name))),
        }
    }
    let best = (!best.is_empty()).then_some(best);
    Ok(Checkpoint { info, model, slots, best })
}

impl Checkpoint {
    /// Loads the weights and optimizer state into `model` and `optimizer` (built from the run's
    /// config) and returns the state `fit_from` continues from. `data` is the training set's
    /// [`fingerprint`].
    pub fn restore(self, model: &mut Sequential, optimizer: &mut Optimizer, data: &str) -> Result<FitState> {
        if self.info.data != data {
            return Err(Error::InvalidArgument(format!(
                "the checkpoint was trained on other data ({}), not on this data ({data}); resume with the same --data",
                self.info.data
            )));
        }
        model.load_state_dict(&self.model)?;
        let mut sizes = Vec::new();
        model.visit_params(&mut |_, p| sizes.push(p.value.len()));
        let fits = |s: &Slot, n: usize| s.m.len() == n && (s.v.is_empty() || s.v.len() == n);
        if self.slots.len() > sizes.len() || !self.slots.iter().zip(&sizes).all(|(s, &n)| fits(s, n)) {
            return Err(Error::InvalidArgument(
                "the checkpoint's optimizer state does not fit the model; was it written for another spec?".into(),
            ));
        }
        optimizer.set_state(self.info.steps, self.slots);
        Ok(FitState {
            history: self.info.history,
            early: self.info.early,
            best_weights: self.best,
            stopped_early: self.info.stopped_early,
        })
    }
}
