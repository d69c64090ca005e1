//! One file per subcommand.

pub mod bench;
pub mod data;
pub mod demo;
pub mod eval;
pub mod generate;
pub mod predict;
pub mod reproduce;
pub mod sweep;
pub mod train;
pub mod uncertainty;

use crate::output::say;

/// Errors that come from what the user typed (exit code 2) rather than from a failure.
pub fn is_usage_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(c.downcast_ref::<dropkit::Error>(), Some(dropkit::Error::InvalidArgument(_) | dropkit::Error::Spec(_)))
    })
}

/// Refuses to replace the results at `path` (a finished prediction or study) unless the user
/// said `--overwrite`.
pub fn refuse_overwrite(path: &std::path::Path, overwrite: bool) -> anyhow::Result<()> {
    if path.exists() && !overwrite {
        anyhow::bail!(dropkit::Error::InvalidArgument(format!(
            "{} already exists; pass --overwrite to replace it, or another --out",
            path.display()
        )));
    }
    Ok(())
}

/// `dropkit variants [--json]`
pub fn variants(json: bool) -> anyhow::Result<()> {
    let all = dropkit::model::registry::catalogue();
    if json {
        return say(serde_json::to_string_pretty(&all)?);
    }
    for v in &all {
        say(format!("{:<22} {:<26} {} ({})", v.name, v.spec, v.description, v.paper))?;
    }
    Ok(())
}

/// `dropkit presets`
pub fn presets() -> anyhow::Result<()> {
    for p in dropkit::train::presets::PRESETS {
        say(format!("{:<14} {}", p.name, p.description))?;
    }
    Ok(())
}
