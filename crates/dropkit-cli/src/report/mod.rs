//! Plots and reports drawn from library results.

pub mod plot;
