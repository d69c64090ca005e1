//! Self-contained HTML pages: text and inline SVG plots, no external files.

use anyhow::{Context, Result};
use std::path::PathBuf;

/// A block of a report page.
pub enum Section {
    /// Preformatted text (tables as printed).
    Pre(String),
    /// SVG files to inline.
    Svgs(Vec<PathBuf>),
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The page's HTML.
pub fn page(title: &str, sections: &[Section]) -> Result<String> {
    let mut body = String::new();
    for s in sections {
        match s {
            Section::Pre(text) => body.push_str(&format!("<pre>{}</pre>\n", escape(text))),
            Section::Svgs(paths) => {
                for p in paths {
                    let svg = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
                    body.push_str(&format!("<figure>{svg}</figure>\n"));
                }
            }
        }
    }
    Ok(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}figure{{margin:1em 0}}</style>\n</head><body>\n<h1>{t}</h1>\n{body}</body></html>\n",
        t = escape(title)
    ))
}
