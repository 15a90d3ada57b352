//! `ntk jacobian`: the Jacobian of an infinitely wide autoencoder trained on the rows of X, and its
//! spectrum, at given points.

use crate::io::{
    Eigenvalues, Output, Stack, ToNpy, Values, read_network, read_points, write_output,
};
use crate::{Failure, Ridge, positive, synopsis, time};
use nalgebra::DMatrix;
use ntk::Error;
use ntk::jacobian::{Spectrum, TrainedMap, Training};
use serde::Serialize;
use std::path::PathBuf;

/// The Jacobian of an infinitely wide autoencoder trained on the rows of X (NTK ⊗ I, f0 = 0)
///
/// Output: {"jacobians": [[[...]]], "eigenvalues": [[[re, im], ...]], "spectral_radius": [...],
/// "operator_norm": [...]}, one entry per point; each Jacobian is d × d with J[i][j] = ∂f_i/∂x_j,
/// its eigenvalues sorted by decreasing modulus. The ReLU NTK has no Jacobian at the training points
/// (an error says so).
#[derive(Debug, clap::Args)]
#[command(after_help = synopsis!())]
pub struct Args {
    /// Network spec (JSON), as for `ntk kernel`; its output width is ignored (the map has one output per input column)
    #[arg(long, value_name = "NET.json")]
    spec: PathBuf,
    /// Training points, one per row: CSV without header, or .npy (float64, 2-D)
    #[arg(long, value_name = "X")]
    train_x: PathBuf,
    /// Points where the Jacobian is evaluated, one per row [default: the training points]
    #[arg(long, value_name = "P")]
    at: Option<PathBuf>,
    /// Training time, ≥ 0, or `inf` [default: inf]
    #[arg(long, value_name = "t", value_parser = time, allow_negative_numbers = true)]
    time: Option<f64>,
    /// Gradient-flow learning rate η > 0 (only a finite time depends on it)
    #[arg(long, value_name = "η", default_value_t = 1.0, value_parser = positive, allow_negative_numbers = true)]
    learning_rate: f64,
    #[command(flatten)]
    ridge: Ridge,
    /// Write the result to OUT instead of standard output: JSON, or .npz when OUT ends in .npz (arrays jacobians, points × d × d; eigenvalues, complex128, points × d; spectral_radius; operator_norm)
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
}

/// The output: per point, the Jacobian, its eigenvalues, spectral radius and operator norm.
#[derive(Serialize)]
struct JacobianOutput<'a> {
    jacobians: Stack<'a>,
    eigenvalues: Eigenvalues<'a>,
    spectral_radius: Values,
    operator_norm: Values,
}

impl Output for JacobianOutput<'_> {
    fn arrays(&self) -> Vec<(&'static str, &dyn ToNpy)> {
        vec![
            ("jacobians", &self.jacobians),
            ("eigenvalues", &self.eigenvalues),
            ("spectral_radius", &self.spectral_radius),
            ("operator_norm", &self.operator_norm),
        ]
    }
}

/// Runs `ntk jacobian`.
pub fn run(args: &Args) -> Result<(), Failure> {
    let net = read_network(&args.spec)?;
    let x_train = read_points("--train-x", &args.train_x, &net)?;
    let at = match &args.at {
        Some(path) => read_points("--at", path, &net)?,
        None => x_train.clone(),
    };
    if at.ncols() != x_train.ncols() {
        return Err(Error::ShapeMismatch {
            what: "--at points".into(),
            expected: format!("{} columns, as --train-x", x_train.ncols()),
            found: format!("{} columns", at.ncols()),
        }
        .into());
    }
    let (jacobians, spectra) = jacobians(&net, &x_train, &at, args)?;
    let output = JacobianOutput {
        jacobians: Stack(jacobians.iter().collect()),
        eigenvalues: Eigenvalues(spectra.iter().map(|s| s.eigenvalues.as_slice()).collect()),
        spectral_radius: Values(spectra.iter().map(Spectrum::spectral_radius).collect()),
        operator_norm: Values(spectra.iter().map(Spectrum::operator_norm).collect()),
    };
    Ok(write_output(args.out.as_deref(), &output)?)
}

/// The library calls: the trained map's Jacobian and its spectrum at each row of `at`.
fn jacobians(
    net: &ntk::Network,
    x_train: &DMatrix<f64>,
    at: &DMatrix<f64>,
    args: &Args,
) -> ntk::Result<(Vec<DMatrix<f64>>, Vec<Spectrum>)> {
    let training = match args.time {
        Some(t) if t.is_finite() => Training::Time {
            t,
            learning_rate: args.learning_rate,
        },
        _ => Training::Converged,
    };
    let map = TrainedMap::params()
        .regularization(args.ridge.regularization())
        .training(training)
        .autoencoder(net, x_train)?;
    let mut jacobians = Vec::with_capacity(at.nrows());
    let mut spectra = Vec::with_capacity(at.nrows());
    for i in 0..at.nrows() {
        let p: Vec<f64> = at.row(i).iter().copied().collect();
        let j = map.jacobian(&p).map_err(|e| match e {
            Error::NotDifferentiable { what, reason } => Error::NotDifferentiable {
                what: format!("{what} (at point {i} of --at)"),
                reason,
            },
            e => e,
        })?;
        spectra.push(Spectrum::of(&j)?);
        jacobians.push(j);
    }
    Ok((jacobians, spectra))
}
