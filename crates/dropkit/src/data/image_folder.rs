//! Image folders, the ImageFolder convention: `ROOT/<class>/<image>.png|jpg|jpeg`, one
//! subfolder per class (class names from the folder names, sorted). Images are decoded with
//! the `image` crate into (C, H, W) pixels in [0, 1]: one channel when every image is
//! grayscale, else three (RGB). All images must have one size, unless a resize is given.
//!
//! Samples are ordered by file name, then class: numbered files keep their numbering (an IDX
//! set written out as `00000.png`, `00001.png`, ... loads in its own order), and a validation
//! split from the end draws from every class.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use crate::error::{Error, Result};
use image::{ColorType, ImageDecoder, ImageReader, Limits};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// The largest image side accepted, in pixels.
const MAX_SIDE: u32 = 1 << 14;

/// Images and their class ids, from one folder.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSet {
    /// `len x C x H x W` pixels in [0, 1].
    pub pixels: Vec<f32>,
    /// (C, H, W).
    pub sample_shape: Vec<usize>,
    pub labels: Vec<u32>,
    pub class_names: Vec<String>,
    /// Each sample's file, as `<class>/<file name>`.
    pub files: Vec<String>,
}

/// Whether `name` is an image file this reader decodes.
fn is_image(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".png", ".jpg", ".jpeg"].iter().any(|e| lower.ends_with(e)) && !name.starts_with('.')
}

fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        out.push((entry.file_name().to_string_lossy().into_owned(), entry.path()));
    }
    out.sort();
    Ok(out)
}

/// The class folders of `root` (non-hidden subdirectories), sorted by name.
pub fn class_folders(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    Ok(sorted_entries(root)?.into_iter().filter(|(n, p)| p.is_dir() && !n.starts_with('.')).collect())
}

/// True when `dir` looks like an image folder: a subfolder holding an image.
pub fn is_image_folder(dir: &Path) -> bool {
    class_folders(dir).is_ok_and(|classes| {
        classes.iter().any(|(_, p)| sorted_entries(p).is_ok_and(|files| files.iter().any(|(n, _)| is_image(n))))
    })
}

/// Reads the image folder `root`. `classes` (a trained run's class names) fixes the class ids:
/// a folder not among them is an error. `resize` is (H, W); `channels` forces 1 or 3.
pub fn read_image_folder(
    root: &Path,
    classes: Option<&[String]>,
    resize: Option<[usize; 2]>,
    channels: Option<usize>,
) -> Result<ImageSet> {
    let folders = class_folders(root)?;
    if folders.is_empty() {
        return Err(Error::format(
            root.display(),
            "has no class subfolders; an image folder holds one subfolder per class (e.g. cat/, dog/) with the images in them",
        ));
    }
    let class_names: Vec<String> = match classes {
        Some(c) => c.to_vec(),
        None => folders.iter().map(|(n, _)| n.clone()).collect(),
    };
    // (file name, class id, path), in sample order.
    let mut files = Vec::new();
    for (name, path) in &folders {
        let id = class_names.iter().position(|c| c == name).ok_or_else(|| {
            Error::format(
                path.display(),
                format!("class folder '{name}' is not one of the run's {} training classes", class_names.len()),
            )
        })?;
        let images: Vec<(String, PathBuf)> = sorted_entries(path)?.into_iter().filter(|(n, _)| is_image(n)).collect();
        if images.is_empty() {
            return Err(Error::format(
                path.display(),
                "class folder holds no PNG or JPEG images; add images or remove the folder",
            ));
        }
        files.extend(images.into_iter().map(|(n, p)| (n, id as u32, p)));
    }
    files.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    // Pass 1: headers only, to learn the size and channels before allocating the pixels.
    let mut size = None;
    let mut color = false;
    for (_, _, path) in &files {
        let (w, h, c) = header(path)?;
        color |= c;
        match size {
            None => size = Some((w, h, path.clone())),
            Some((w0, h0, ref first)) if resize.is_none() && (w0, h0) != (w, h) => {
                return Err(Error::format(
                    path.display(),
                    format!(
                        "is {w}x{h} pixels but {} is {w0}x{h0}; make all images one size or pass --resize HxW",
                        first.display()
                    ),
                ))
            }
            _ => {}
        }
    }
    let Some((w0, h0, _)) = size else {
        return Err(Error::format(root.display(), "holds no images"));
    };
    let (h, w) = match resize {
        Some([h, w]) => (h, w),
        None => (h0 as usize, w0 as usize),
    };
    let c = channels.unwrap_or(if color { 3 } else { 1 });
    let per = c * h * w;
    let mut pixels = Vec::with_capacity(files.len() * per);
    let mut labels = Vec::with_capacity(files.len());
    let mut names = Vec::with_capacity(files.len());
    for (name, id, path) in &files {
        pixels.extend(decode(path, c, resize)?);
        labels.push(*id);
        names.push(format!("{}/{name}", class_names.get(*id as usize).map_or("", String::as_str)));
    }
    Ok(ImageSet { pixels, sample_shape: vec![c, h, w], labels, class_names, files: names })
}

fn reader<'a>(bytes: &'a [u8], path: &Path) -> Result<ImageReader<Cursor<&'a [u8]>>> {
    let mut r = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::format(path.display(), format!("cannot be read ({e})")))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(1 << 30);
    r.limits(limits);
    Ok(r)
}

fn unreadable(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::format(path.display(), format!("is not a readable PNG or JPEG image ({e}); replace or remove it"))
}

/// Width, height and whether the image has color, from its header.
fn header(path: &Path) -> Result<(u32, u32, bool)> {
    let bytes = crate::fsio::read(path)?;
    let decoder = reader(&bytes, path)?.into_decoder().map_err(|e| unreadable(path, e))?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(unreadable(path, "it has no pixels"));
    }
    let gray = matches!(decoder.color_type(), ColorType::L8 | ColorType::La8 | ColorType::L16 | ColorType::La16);
    Ok((w, h, !gray))
}

/// The image's pixels as (C, H, W) values in [0, 1].
fn decode(path: &Path, channels: usize, resize: Option<[usize; 2]>) -> Result<Vec<f32>> {
    let bytes = crate::fsio::read(path)?;
    let mut img = reader(&bytes, path)?.decode().map_err(|e| unreadable(path, e))?;
    if let Some([h, w]) = resize {
        img = img.resize_exact(w as u32, h as u32, image::imageops::FilterType::Triangle);
    }
    // The same scaling as the IDX reader: the same bytes give the same inputs.
    let scale = |b: u8| b as f32 * (1.0 / 255.0);
    Ok(if channels == 1 {
        img.to_luma8().into_raw().into_iter().map(scale).collect()
    } else {
        let rgb = img.to_rgb8();
        let (w, h) = rgb.dimensions();
        let plane = (w * h) as usize;
        let raw = rgb.into_raw();
        let mut out = vec![0f32; 3 * plane];
        for (i, px) in raw.chunks_exact(3).enumerate() {
            for (ch, &v) in px.iter().enumerate() {
                if let Some(o) = out.get_mut(ch * plane + i) {
                    *o = scale(v);
                }
            }
        }
        out
    })
}
