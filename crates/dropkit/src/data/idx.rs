//! The IDX format of MNIST (<http://yann.lecun.com/exdb/mnist/>): a big-endian header
//! `0x00 0x00 type ndim`, `ndim` u32 dimensions, then the data. Only unsigned bytes
//! (type 0x08) occur in MNIST-like sets. The header is validated, and the declared size
//! bounded, before anything is allocated; raw and gzip files are both accepted.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::error::{Error, Result};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

/// Largest payload accepted (4 GiB): guards allocation against a corrupt header.
const MAX_BYTES: u64 = 1 << 32;

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads an IDX file (gzip when its content starts with the gzip magic) expecting `ndim`
/// dimensions (3 for images, 1 for labels).
pub fn read_idx(path: &Path, ndim: usize) -> Result<IdxArray> {
    let bytes = crate::fsio::read(path)?;
    parse_idx(&bytes, ndim, &path.display().to_string())
}

/// Parses IDX bytes (raw or gzip); `name` labels errors.
pub fn parse_idx(bytes: &[u8], ndim: usize, name: &str) -> Result<IdxArray> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        parse_stream(GzDecoder::new(bytes), ndim, name, true)
    } else {
        parse_stream(bytes, ndim, name, false)
    }
}

fn parse_stream(mut r: impl Read, ndim: usize, name: &str, gz: bool) -> Result<IdxArray> {
    let fail = |msg: String| Error::format(name, msg);
    let read_err = |e: std::io::Error| {
        if gz {
            fail(format!("corrupt or truncated gzip data ({e}); download the file again"))
        } else {
            fail(format!("read failed: {e}"))
        }
    };
    let mut magic = [0u8; 4];
    read_full(&mut r, &mut magic)
        .map_err(read_err)?
        .then_some(())
        .ok_or_else(|| fail("file is shorter than the 4-byte IDX header; it is empty or truncated".into()))?;
    let expected_magic = 0x0800 | ndim as u32;
    let got = u32::from_be_bytes(magic);
    if magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] as usize != ndim {
        let what = if ndim == 3 { "an IDX3 image file" } else { "an IDX1 label file" };
        return Err(fail(format!("magic 0x{got:08x} is not {what} (expected 0x{expected_magic:08x})")));
    }
    let mut dims = Vec::with_capacity(ndim);
    for i in 0..ndim {
        let mut d = [0u8; 4];
        let complete = match read_full(&mut r, &mut d) {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => false,
            other => other.map_err(read_err)?,
        };
        if !complete {
            return Err(fail(format!("truncated header: dimension {} of {ndim} is missing", i + 1)));
        }
        dims.push(u32::from_be_bytes(d) as usize);
    }
    let total = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64)).unwrap_or(u64::MAX);
    if total > MAX_BYTES {
        return Err(fail(format!(
            "header declares {dims:?} = {total} bytes, more than the 4 GiB limit; the header is corrupt"
        )));
    }
    // Grow with the data actually present, not the declared size: a corrupt header must not
    // make us allocate gigabytes before the truncation is noticed.
    let mut data = Vec::with_capacity(total.min(1 << 26) as usize);
    (&mut r).take(total).read_to_end(&mut data).map_err(read_err)?;
    let filled = data.len();
    if (filled as u64) < total {
        return Err(fail(format!(
            "truncated: header declares {dims:?} = {total} bytes of data, file has {filled}; download it again"
        )));
    }
    let mut extra = [0u8; 1];
    if read_full(&mut r, &mut extra).map_err(read_err)? {
        return Err(fail(format!("{total} bytes of data expected for {dims:?}, but the file is longer")));
    }
    Ok(IdxArray { dims, data })
}

/// Fills `buf` completely; Ok(false) at a clean end of input before the first byte.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match r.read(rest) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "unexpected end of data")),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Encodes an IDX array (used for the embedded subset and tests).
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let img = encode_idx(&[2, 3, 4], &[7u8; 24]);
        let a = parse_idx(&img, 3, "t").unwrap();
        assert_eq!(a.dims, vec![2, 3, 4]);
        assert_eq!(a.data.len(), 24);
        let err = |b: &[u8], n| parse_idx(b, n, "f").unwrap_err().to_string();
        assert!(err(&img[..20], 3).contains("truncated"));
        assert!(err(&img, 1).contains("magic 0x00000803 is not an IDX1 label file (expected 0x00000801)"));
        assert!(err(&[], 3).contains("empty or truncated"));
        assert!(err(&img[..10], 3).contains("dimension"));
        let mut long = img.clone();
        long.push(0);
        assert!(err(&long, 3).contains("longer"));
        let huge = encode_idx(&[u32::MAX as usize, u32::MAX as usize, 2], &[]);
        assert!(err(&huge, 3).contains("corrupt"));
    }
}
