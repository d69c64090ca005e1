//! Model weights as safetensors with PyTorch `state_dict` names (`layers.0.weight`), so a
//! PyTorch `nn.Sequential` with the same layers loads them with `load_state_dict`.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::error::{Error, Result};
use crate::model::{NamedTensor, Sequential};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::path::Path;

/// The safetensors bytes of `model`'s parameters.
pub fn to_bytes(model: &mut Sequential) -> Result<Vec<u8>> {
    encode(&model.state_dict())
}

/// Encodes named f32 tensors as safetensors (little-endian, sorted by name).
pub fn encode(tensors: &[NamedTensor]) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|t| t.data.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| {
            TensorView::new(Dtype::F32, t.shape.clone(), b)
                .map(|v| (t.name.clone(), v))
                .map_err(|e| Error::InvalidArgument(format!("tensor {}: {e}", t.name)))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None).map_err(|e| Error::InvalidArgument(format!("safetensors: {e}")))
}

/// Decodes safetensors bytes into named f32 tensors; `origin` names the file in errors.
pub fn decode(bytes: &[u8], origin: &str) -> Result<Vec<NamedTensor>> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::format(origin, format!("not a valid safetensors file: {e}")))?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(Error::format(origin, format!("tensor {name} is {:?}; dropkit stores F32", view.dtype())));
        }
        let data = view.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap_or_default())).collect();
        out.push(NamedTensor { name, shape: view.shape().to_vec(), data });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Writes `model`'s weights to `path` atomically.
pub fn save(model: &mut Sequential, path: &Path) -> Result<()> {
    crate::fsio::write_atomic(path, &to_bytes(model)?)
}

/// Loads weights from `path` into `model` (names and shapes must match).
pub fn load(model: &mut Sequential, path: &Path) -> Result<()> {
    let bytes = crate::fsio::read(path)?;
    load_bytes(model, &bytes, &path.display().to_string())
}

/// Loads weights from the bytes of a safetensors file named `origin`; refuses NaN or infinite
/// values, which no finished training writes.
pub fn load_bytes(model: &mut Sequential, bytes: &[u8], origin: &str) -> Result<()> {
    let tensors = decode(bytes, origin)?;
    if let Some(t) = tensors.iter().find(|t| t.data.iter().any(|v| !v.is_finite())) {
        return Err(crate::Error::format(
            origin,
            format!(
                "{} holds NaN or infinite values; the weights are damaged: restore the file or train again",
                t.name
            ),
        ));
    }
    model.load_state_dict(&tensors)
}
