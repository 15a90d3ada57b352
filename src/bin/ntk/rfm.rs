//! `ntk rfm`: a Recursive Feature Machine (Radhakrishnan 2023, Algorithm 1) trained on X, Y, its
//! learned feature matrix, and its predictions on test points.

use crate::io::{Count, Output, Rows, ToNpy, check_targets, read_values, write_output};
use crate::{Failure, non_negative, positive, synopsis};
use ntk::Error;
use ntk::feature::Rfm;
use serde::Serialize;
use std::path::PathBuf;

/// A Recursive Feature Machine: Laplace-kernel ridge regression with a learned feature matrix M
///
/// K_M(x, z) = exp(−‖x − z‖_M / L) with ‖v‖_M = √(vᵀMv). From M = I it alternates, T times,
/// α = (K_M + λI)⁻¹Y and M = the average gradient outer product of f = Σᵢ αᵢ K_M(xᵢ, ·) over the
/// training points, then fits α once more with the final M.
///
/// Output: {"feature_matrix": [[...]] (d × d), "mean": [[...]] (one row per test point, only with
/// --test-x), "iterations": T}.
#[derive(Debug, clap::Args)]
#[command(after_help = synopsis!())]
pub struct Args {
    /// Training points, one per row: CSV without header, or .npy (float64, 2-D)
    #[arg(long, value_name = "X")]
    train_x: PathBuf,
    /// Training targets: one row per training point, one column per output (e.g. one-hot classes)
    #[arg(long, value_name = "Y")]
    train_y: PathBuf,
    /// Test points, one per row, with as many columns as X: their predictions are written as "mean"
    #[arg(long, value_name = "T")]
    test_x: Option<PathBuf>,
    /// Number T ≥ 0 of feature-matrix updates (0: the plain Laplace kernel)
    #[arg(long, value_name = "T")]
    iterations: usize,
    /// Bandwidth L > 0 of the Laplace kernel
    #[arg(long, value_name = "L", default_value_t = 10.0, value_parser = positive, allow_negative_numbers = true)]
    bandwidth: f64,
    /// Ridge λ ≥ 0 added to the diagonal of K_M(X, X)
    #[arg(long, value_name = "λ", default_value_t = 0.0, value_parser = non_negative, allow_negative_numbers = true)]
    ridge: f64,
    /// Keep only the diagonal of each feature matrix
    #[arg(long)]
    diagonal: bool,
    /// Centre the gradients before averaging their outer products
    #[arg(long)]
    centered: bool,
    /// Average the gradient outer products over at most N training points (a seeded draw) [default: all]
    #[arg(long, value_name = "N")]
    max_gradient_samples: Option<usize>,
    /// Write the result to OUT instead of standard output: JSON, or .npz when OUT ends in .npz (arrays feature_matrix, mean, iterations)
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
}

/// The output: the learned M, the test predictions and T.
#[derive(Serialize)]
struct RfmOutput<'a> {
    feature_matrix: Rows<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mean: Option<Rows<'a>>,
    iterations: Count,
}

impl Output for RfmOutput<'_> {
    fn arrays(&self) -> Vec<(&'static str, &dyn ToNpy)> {
        let mut arrays: Vec<(&'static str, &dyn ToNpy)> =
            vec![("feature_matrix", &self.feature_matrix)];
        if let Some(mean) = &self.mean {
            arrays.push(("mean", mean));
        }
        arrays.push(("iterations", &self.iterations));
        arrays
    }
}

/// Runs `ntk rfm`.
pub fn run(args: &Args) -> Result<(), Failure> {
    if args.max_gradient_samples == Some(0) {
        return Err(Failure::Usage(
            "`--max-gradient-samples 0` leaves no gradient to average: give N ≥ 1, or omit the \
             flag to use every training point"
                .into(),
        ));
    }
    let x_train = read_values("--train-x", &args.train_x)?;
    let y_train = read_values("--train-y", &args.train_y)?;
    check_targets((&args.train_x, &x_train), (&args.train_y, &y_train))?;
    let x_test = match &args.test_x {
        Some(path) => {
            let t = read_values("--test-x", path)?;
            if t.ncols() != x_train.ncols() {
                return Err(Error::ShapeMismatch {
                    what: format!("--test-x {}", path.display()),
                    expected: format!(
                        "{} columns, as --train-x {}",
                        x_train.ncols(),
                        args.train_x.display()
                    ),
                    found: format!("{} columns", t.ncols()),
                }
                .into());
            }
            Some(t)
        }
        None => None,
    };
    let rfm = Rfm::params()
        .bandwidth(args.bandwidth)
        .ridge(args.ridge)
        .iterations(args.iterations)
        .diagonal(args.diagonal)
        .centered(args.centered)
        .max_gradient_samples(args.max_gradient_samples)
        .fit(&x_train, &y_train)?;
    let mean = x_test.map(|t| rfm.predict(&t)).transpose()?;
    let output = RfmOutput {
        feature_matrix: Rows(rfm.feature_matrix()),
        mean: mean.as_ref().map(Rows),
        iterations: Count(rfm.iterations()),
    };
    Ok(write_output(args.out.as_deref(), &output)?)
}
