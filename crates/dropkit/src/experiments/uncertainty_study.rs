//! The Monte Carlo dropout uncertainty study of a trained model: deterministic against Monte
//! Carlo predictions on the test set (accuracy, NLL, Brier, ECE over 15 bins), accuracy when the
//! most uncertain inputs are rejected, out-of-distribution AUROC under five input shifts, and
//! test error against the number of passes (Gal and Ghahramani 2016, section 5).

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::Sequential;
use crate::uncertainty::metrics::{auroc, calibration, rejection_curve, Calibration};
use crate::uncertainty::shift::Shift;
use crate::uncertainty::{predict, predict_tracking_error, Inference, Predictions};
use serde::{Deserialize, Serialize};

/// The shifts that make out-of-distribution inputs from test images.
pub const SHIFTS: [Shift; 5] =
    [Shift::Rotate(45.0), Shift::Rotate(90.0), Shift::Invert, Shift::GaussianNoise(0.5), Shift::UniformNoise];

/// Pass counts at which the test error is recorded (those below T, then T).
const PASS_COUNTS: [u64; 12] = [1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 500, 1000];

/// Calibration bins (the usual 15 of Guo et al. 2017).
pub const CALIBRATION_BINS: usize = 15;

/// Fractions of the test set rejected, most uncertain first: 0, 5%, ..., 50%.
pub fn rejection_fractions() -> Vec<f64> {
    (0..=10).map(|k| k as f64 * 0.05).collect()
}

/// What the study is asked to do.
#[derive(Clone, Copy, Debug)]
pub struct StudyOptions {
    /// Monte Carlo passes T.
    pub passes: u64,
    /// Test inputs per out-of-distribution shift.
    pub ood_inputs: usize,
    /// Seed of the shifts' noise.
    pub seed: u64,
}

/// AUROC of telling shifted from clean inputs by an uncertainty score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OodRow {
    pub shift: String,
    pub entropy_deterministic: f64,
    pub entropy_mc: f64,
    pub mutual_information_mc: f64,
}

/// The study of one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyReport {
    pub run: String,
    pub model: String,
    pub passes: u64,
    pub deterministic: Calibration,
    pub mc: Calibration,
    pub rejection_deterministic: Vec<(f64, f64)>,
    pub rejection_mc: Vec<(f64, f64)>,
    pub ood_auroc: Vec<OodRow>,
    pub error_vs_passes: Vec<(u64, f64)>,
}

fn correct(p: &Predictions, labels: &[u32]) -> Vec<bool> {
    p.predicted.iter().zip(labels).map(|(a, b)| a == b).collect()
}

/// Runs the study of `model` (named `run` in the report) on the image test set `test`.
pub fn study(model: &mut Sequential, run: &str, test: &Dataset, options: StudyOptions) -> Result<StudyReport> {
    let StudyOptions { passes, ood_inputs, seed } = options;
    if passes == 0 {
        return Err(Error::InvalidArgument("--mc 0: use at least 1 pass, e.g. --mc 100".into()));
    }
    if ood_inputs == 0 {
        return Err(Error::InvalidArgument("--ood-inputs 0: shift at least 1 test input, e.g. 2000".into()));
    }
    let &[_, h, w] = test.sample_shape.as_slice() else {
        return Err(Error::InvalidArgument(format!(
            "the uncertainty study shifts images (channels, height, width); this test set has samples of {:?}",
            test.sample_shape
        )));
    };
    if test.classes() == 0 {
        return Err(Error::InvalidArgument(
            "the uncertainty study scores class predictions; this test set has real-valued targets".into(),
        ));
    }
    let mc = Inference::MonteCarlo { samples: passes };
    let checkpoints: Vec<u64> = PASS_COUNTS.into_iter().filter(|&t| t < passes).chain([passes]).collect();
    let det = predict(model, &test.images, Inference::Deterministic)?;
    let (mcp, error_vs_passes) = predict_tracking_error(model, &test.images, mc, test.labels(), &checkpoints)?;
    let fractions = rejection_fractions();
    let rejection_deterministic = rejection_curve(&correct(&det, test.labels()), &det.predictive_entropy, &fractions);
    let rejection_mc = rejection_curve(&correct(&mcp, test.labels()), &mcp.predictive_entropy, &fractions);

    let n = ood_inputs.min(test.len());
    let clean = test.images.get(..n * h * w).unwrap_or_default();
    let (clean_det, clean_mc) = (&det.predictive_entropy[..n], &mcp.predictive_entropy[..n]);
    let clean_mi = &mcp.mutual_information[..n];
    let mut ood_auroc = Vec::new();
    for shift in SHIFTS {
        let shifted = shift.apply(clean, h, w, seed);
        let sd = predict(model, &shifted, Inference::Deterministic)?;
        let sm = predict(model, &shifted, mc)?;
        ood_auroc.push(OodRow {
            shift: shift.name(),
            entropy_deterministic: auroc(clean_det, &sd.predictive_entropy),
            entropy_mc: auroc(clean_mc, &sm.predictive_entropy),
            mutual_information_mc: auroc(clean_mi, &sm.mutual_information),
        });
    }
    Ok(StudyReport {
        run: run.to_string(),
        model: model.spec(),
        passes,
        deterministic: calibration(&det.mean, test.labels(), CALIBRATION_BINS),
        mc: calibration(&mcp.mean, test.labels(), CALIBRATION_BINS),
        rejection_deterministic,
        rejection_mc,
        ood_auroc,
        error_vs_passes,
    })
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, var.sqrt())
}

/// One figure over several runs: mean ± sd, deterministic and Monte Carlo.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AcrossRuns {
    pub figure: &'static str,
    pub deterministic: (f64, f64),
    pub mc: (f64, f64),
}

/// NLL, ECE and accuracy as mean ± sd over `reports` (e.g. the same model with 3 seeds).
pub fn across_runs(reports: &[StudyReport]) -> Vec<AcrossRuns> {
    let stat = |f: &dyn Fn(&Calibration) -> f64| {
        let det: Vec<f64> = reports.iter().map(|r| f(&r.deterministic)).collect();
        let mc: Vec<f64> = reports.iter().map(|r| f(&r.mc)).collect();
        (mean_sd(&det), mean_sd(&mc))
    };
    [("NLL", stat(&|c| c.nll)), ("ECE", stat(&|c| c.ece)), ("accuracy", stat(&|c| c.accuracy))]
        .into_iter()
        .map(|(figure, (deterministic, mc))| AcrossRuns { figure, deterministic, mc })
        .collect()
}
