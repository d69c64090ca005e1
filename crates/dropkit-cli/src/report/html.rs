//! Self-contained HTML pages: text and inline SVG plots, no external files.

use anyhow::{Context, Result};
use std::path::PathBuf;

/// A block of a report page.
pub enum Section {
    /// Preformatted text (tables as printed).
    Pre(String),
    /// SVG files to inline.
    Svgs(Vec<PathBuf>),
    /// A table: a header row and data rows.
    Table(Vec<String>, Vec<Vec<String>>),
    /// Commands to copy, one per line, wrapped: each selects whole with one click.
    Commands(String, Vec<String>),
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
            Section::Table(header, rows) => {
                let cells = |tag: &str, row: &[String]| {
                    row.iter().map(|c| format!("<{tag}>{}</{tag}>", escape(c))).collect::<String>()
                };
                body.push_str(&format!("<table>\n<tr>{}</tr>\n", cells("th", header)));
                for row in rows {
                    body.push_str(&format!("<tr>{}</tr>\n", cells("td", row)));
                }
                body.push_str("</table>\n");
            }
            Section::Commands(title, commands) => {
                body.push_str(&format!("<p>{}</p>\n<pre class=\"commands\">\n", escape(title)));
                for c in commands {
                    body.push_str(&format!("<code>{}</code>\n", escape(c)));
                }
                body.push_str("</pre>\n");
            }
            Section::Svgs(paths) => {
                for p in paths {
                    let svg = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
                    body.push_str(&format!("<figure>{svg}</figure>\n"));
                }
            }
        }
    }
    Ok(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}pre.commands{{white-space:pre-wrap;overflow-wrap:anywhere}}code{{user-select:all}}table{{border-collapse:collapse}}td,th{{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:right}}td:first-child,th:first-child{{text-align:left}}figure{{margin:1em 0}}</style>\n</head><body>\n<h1>{t}</h1>\n{body}</body></html>\n",
        t = escape(title)
    ))
}
