//! Plots and reports drawn from library results.

pub mod html;
pub mod plot;
pub mod sweep;
