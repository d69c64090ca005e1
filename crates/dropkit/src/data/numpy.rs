//! NumPy arrays: `.npy` files (read with the `npyz` crate) and `.npz` archives of them (the
//! `zip` crate), as `np.save` and `np.savez` write them. Element types f32, f64, u8, i8, i16,
//! u16, i32, u32, i64, u64 and bool; any shape, C order. The header is checked against the
//! bytes present before the data is read, so a corrupt header cannot make us allocate.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::error::{Error, Result};
use npyz::{DType, NpyFile, NpyHeader, Order, TypeChar};
use std::io::{Cursor, Read};

/// Largest array accepted (4 GiB of data).
const MAX_BYTES: u64 = 1 << 32;

/// Largest header accepted, as NumPy's own `max_header_size` (its literal parser, like the
/// one `npyz` uses, can be slow on crafted input).
const MAX_HEADER: usize = 10_000;

/// Checks that the header is the dictionary `np.save` writes, and nothing more: a magic, a
/// version, a length, then `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` of
/// quoted words, booleans, whole numbers, parentheses and punctuation. Only such a header
/// reaches `npyz`'s parser: a crafted one (measured: 3 kB of string escapes) kept that
/// parser busy for minutes.
fn check_header(bytes: &[u8]) -> std::result::Result<(), String> {
    let magic = b"\x93NUMPY";
    if bytes.len() < 10 || !bytes.starts_with(magic) {
        return Err("it does not start with the NumPy magic \\x93NUMPY".into());
    }
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let (len, start) = match at(6) {
        1 => (u16::from_le_bytes([at(8), at(9)]) as usize, 10),
        2 | 3 => (u32::from_le_bytes([at(8), at(9), at(10), at(11)]) as usize, 12),
        v => return Err(format!("format version {v} is not one NumPy writes (1, 2 or 3)")),
    };
    if len > MAX_HEADER {
        return Err(format!("its header is {len} bytes, more than NumPy's limit of {MAX_HEADER}"));
    }
    let Some(text) = bytes.get(start..start + len) else {
        return Err("the header is cut short".into());
    };
    // One dictionary, at most one level of parentheses in it (the shape), short words: the
    // literal parser backtracks on nesting and on long tokens.
    let (mut in_quote, mut braces, mut parens, mut word) = (false, 0, 0, 0);
    for &c in text {
        let ok = if in_quote {
            c.is_ascii_alphanumeric() || b"<>|=_ ".contains(&c) || c == b'\''
        } else {
            c.is_ascii_alphanumeric() || b"{}():, \n\r\t'_".contains(&c)
        };
        if !ok {
            return Err(format!("its header holds {:?}, which np.save does not write", c as char));
        }
        word = if c.is_ascii_alphanumeric() || c == b'_' { word + 1 } else { 0 };
        if word > 32 {
            return Err("its header holds a word or number longer than np.save writes".into());
        }
        match (in_quote, c) {
            (_, b'\'') => in_quote = !in_quote,
            (false, b'{') => braces += 1,
            (false, b'(') => parens += 1,
            (false, b')') if parens == 0 => return Err("its header closes a parenthesis it never opened".into()),
            (false, b')') => parens -= 1,
            _ => {}
        }
        if braces > 1 || parens > 1 || (parens == 1 && braces == 0) {
            return Err("its header nests brackets; np.save writes one dictionary with a shape tuple".into());
        }
    }
    if in_quote {
        return Err("its header has an unclosed quote".into());
    }
    Ok(())
}

/// One array, its values as f32 (exact for the integers that labels are).
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
    /// The element type held whole numbers (class ids when it is a label array).
    pub integer: bool,
    /// The element type was u8 (image pixels: scaled to [0, 1] as inputs).
    pub bytes: bool,
    /// The type string as NumPy writes it, e.g. `<f4`.
    pub dtype: String,
}

/// Parses one `.npy` file's bytes; `origin` names it in errors.
pub fn parse_npy(bytes: &[u8], origin: &str) -> Result<Array> {
    let fail = |msg: String| Error::format(origin, msg);
    check_header(bytes).map_err(|why| fail(format!("not a NumPy .npy file: {why}; write it with np.save")))?;
    let mut cursor = Cursor::new(bytes);
    let header = NpyHeader::from_reader(&mut cursor)
        .map_err(|e| fail(format!("not a NumPy .npy file ({e}); write it with np.save")))?;
    let start = cursor.position();
    let file = NpyFile::with_header(header, cursor);
    let DType::Plain(ty) = file.dtype() else {
        return Err(fail("holds a structured (record) array; save plain numeric arrays, one per name".into()));
    };
    let dtype = ty.to_string();
    if file.order() == Order::Fortran {
        return Err(fail(format!("is in Fortran order; save np.ascontiguousarray(a) instead ({dtype})")));
    }
    let shape: Vec<usize> = file.shape().iter().map(|&d| d as usize).collect();
    let item = ty.size_field();
    let declared = file.shape().iter().try_fold(item, |acc, &d| acc.checked_mul(d)).unwrap_or(u64::MAX);
    if declared > MAX_BYTES {
        return Err(fail(format!(
            "header declares {shape:?} of {dtype} = {declared} bytes, more than the 4 GiB limit"
        )));
    }
    let present = (bytes.len() as u64).saturating_sub(start);
    if present < declared {
        return Err(fail(format!(
            "truncated: the header declares {shape:?} of {dtype} = {declared} bytes, fewer are present; write the file again"
        )));
    }
    let integer = matches!(ty.type_char(), TypeChar::Int | TypeChar::Uint | TypeChar::Bool);
    let bytes_type = ty.type_char() == TypeChar::Uint && item == 1;
    let read_err = |e: std::io::Error| fail(format!("cannot read the {dtype} data ({e}); write the file again"));
    let values: Vec<f32> = match (ty.type_char(), item) {
        (TypeChar::Float, 4) => file.into_vec::<f32>().map_err(read_err)?,
        (TypeChar::Float, 8) => file.into_vec::<f64>().map_err(read_err)?.into_iter().map(|v| v as f32).collect(),
        (TypeChar::Uint, 1) => file.into_vec::<u8>().map_err(read_err)?.into_iter().map(f32::from).collect(),
        (TypeChar::Uint, 2) => file.into_vec::<u16>().map_err(read_err)?.into_iter().map(f32::from).collect(),
        (TypeChar::Uint, 4) => file.into_vec::<u32>().map_err(read_err)?.into_iter().map(|v| v as f32).collect(),
        (TypeChar::Uint, 8) => file.into_vec::<u64>().map_err(read_err)?.into_iter().map(|v| v as f32).collect(),
        (TypeChar::Int, 1) => file.into_vec::<i8>().map_err(read_err)?.into_iter().map(f32::from).collect(),
        (TypeChar::Int, 2) => file.into_vec::<i16>().map_err(read_err)?.into_iter().map(f32::from).collect(),
        (TypeChar::Int, 4) => file.into_vec::<i32>().map_err(read_err)?.into_iter().map(|v| v as f32).collect(),
        (TypeChar::Int, 8) => file.into_vec::<i64>().map_err(read_err)?.into_iter().map(|v| v as f32).collect(),
        (TypeChar::Bool, 1) => file.into_vec::<bool>().map_err(read_err)?.into_iter().map(f32::from).collect(),
        _ => {
            return Err(fail(format!(
                "dtype {dtype} is not numeric data dropkit reads; convert with a.astype(np.float32)"
            )))
        }
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(fail(format!(
            "element {i} is {}; replace NaN and infinite values before training",
            values.get(i).copied().unwrap_or(f32::NAN)
        )));
    }
    Ok(Array { shape, values, integer, bytes: bytes_type, dtype })
}

/// The arrays of an `.npz` archive, by name (without `.npy`), in archive order.
pub fn parse_npz(bytes: &[u8], origin: &str) -> Result<Vec<(String, Array)>> {
    let fail = |msg: String| Error::format(origin, msg);
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        fail(format!("not a complete .npz archive ({e}); it is truncated or not written by np.savez: write it again"))
    })?;
    let mut arrays = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| fail(format!("entry {i} cannot be read ({e})")))?;
        let full = entry.name().map_err(|e| fail(format!("entry {i} has an unreadable name ({e})")))?.to_string();
        let Some(name) = full.strip_suffix(".npy").map(str::to_string) else { continue };
        if entry.size() > MAX_BYTES + (1 << 20) {
            return Err(fail(format!("{name}: {} bytes, more than the 4 GiB limit", entry.size())));
        }
        let mut data = Vec::with_capacity(entry.size().min(1 << 26) as usize);
        (&mut entry)
            .take(MAX_BYTES + (1 << 20))
            .read_to_end(&mut data)
            .map_err(|e| fail(format!("{name}: damaged entry ({e}); write the archive again")))?;
        arrays.push((name.clone(), parse_npy(&data, &format!("{origin}: {name}"))?));
    }
    if arrays.is_empty() {
        return Err(fail("holds no arrays; write it with np.savez(path, x=..., y=...)".into()));
    }
    Ok(arrays)
}

/// An `.npy` file of raw little-endian `data` of `dtype` (e.g. `<f4`) and `shape`, as NumPy
/// writes version 1.0 (used by tests).
pub fn encode_npy(dtype: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_numeric_type_and_refuses_truncation() {
        let f: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse_npy(&encode_npy("<f4", &[2], &f), "a.npy").unwrap();
        assert_eq!((a.shape.clone(), a.values.clone(), a.integer), (vec![2], vec![1.5, -2.0], false));
        let i: Vec<u8> = [3i64, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse_npy(&encode_npy("<i8", &[2, 1], &i), "a.npy").unwrap();
        assert_eq!((a.values.clone(), a.integer), (vec![3.0, 7.0], true));
        let b = parse_npy(&encode_npy("|u1", &[1, 2], &[0, 255]), "a.npy").unwrap();
        assert!(b.bytes && b.values == vec![0.0, 255.0]);
        let e = parse_npy(&encode_npy("<f4", &[3], &f), "a.npy").unwrap_err().to_string();
        assert!(e.contains("a.npy: truncated"), "{e}");
        let e = parse_npy(b"garbage", "a.npy").unwrap_err().to_string();
        assert!(e.contains("not a NumPy .npy file"), "{e}");
        // Headers np.save never writes are refused before the literal parser sees them:
        // string escapes, and nested braces (the fuzzer's find, which took that parser over
        // 10 seconds).
        let nested = b"\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', {{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{'fortran_order': False, 'shape': (3, 4), }";
        let e = parse_npy(nested, "a.npy").unwrap_err().to_string();
        assert!(e.contains("nests brackets"), "{e}");
        let mut crafted = encode_npy("<f4", &[1], &[0; 4]);
        crafted.splice(20..20, std::iter::repeat_n(b'\\', 3000));
        let started = std::time::Instant::now();
        let e = parse_npy(&crafted, "a.npy").unwrap_err().to_string();
        assert!(e.contains("not a NumPy .npy file"), "{e}");
        assert!(started.elapsed().as_secs() < 1);
        let nan: Vec<u8> = f32::NAN.to_le_bytes().to_vec();
        let e = parse_npy(&encode_npy("<f4", &[1], &nan), "a.npy").unwrap_err().to_string();
        assert!(e.contains("element 0 is NaN"), "{e}");
    }
}
