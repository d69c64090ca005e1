//! The affine map `y = x W^T + b` of dense-like layers (dense, DropConnect, variational dense),
//! with the bias added after the GEMM and wide outputs computed transposed.

use super::gemm::{faster_transposed, matmul, matmul_transposed, MatRef};
use super::{add_to, par_blocks, transpose, CHUNK};

/// Sets every row of `dst` to `bias`: the start of an affine map `x W^T + b` whose GEMM
/// accumulates into it.
pub(crate) fn broadcast_rows(dst: &mut [f32], bias: &[f32]) {
    for row in dst.chunks_exact_mut(bias.len().max(1)) {
        row.copy_from_slice(bias);
    }
}

/// `y (B, units) = x (B, in) W^T + b` for W (units, in): the GEMM writes the product and the
/// bias is added after it (in the same pass as the transpose, for wide outputs, which are
/// computed transposed into `scratch` because that is faster: [`faster_transposed`]).
pub(crate) fn affine(y: &mut [f32], x: &[f32], w: &[f32], bias: &[f32], batch: usize, scratch: &mut Vec<f32>) {
    let (units, inputs) = (bias.len(), w.len() / bias.len().max(1));
    if faster_transposed(batch, units) {
        product_transposed(scratch, x, w, units, batch);
        transpose(y, scratch, batch, units, Some(bias));
    } else {
        matmul(y, MatRef::new(x, batch, inputs), MatRef::new(w, units, inputs).t(), false);
        let units = units.max(1);
        par_blocks(y, (CHUNK / units).max(1) * units, |_, rows| {
            rows.chunks_exact_mut(units).for_each(|row| add_to(row, bias));
        });
    }
}

/// `(x W^T)^T (units, B)` into `pt`, without the bias.
pub(crate) fn product_transposed(pt: &mut Vec<f32>, x: &[f32], w: &[f32], units: usize, batch: usize) {
    let inputs = w.len() / units.max(1);
    pt.resize(units * batch, 0.0);
    matmul_transposed(pt, MatRef::new(x, batch, inputs), MatRef::new(w, units, inputs).t(), false);
}
