//! Experiments: sweeps over dropout settings, reproductions of papers' tables, the Monte Carlo
//! uncertainty study and the bench workloads. Each returns typed results; the command line only
//! prints and draws them.

pub mod bench;
pub mod bench_nets;
pub mod bench_transformer;
pub mod gal_uci;
pub mod reproduce;
pub mod sweep;
pub mod uncertainty_study;
