//! `ntk complete`: matrix completion with the NTK of a fully connected network (Thm 5).

use crate::io::{Output, Rows, ToNpy, read_values, write_output};
use crate::{Failure, non_negative, synopsis};
use ntk::Activation;
use ntk::completion::{MatrixCompletion, normalize_rows};
use serde::Serialize;
use std::path::PathBuf;

/// Matrix completion with the NTK of an infinitely wide fully connected network without bias
///
/// Each row of Y is a kernel regression on its observed columns with the column kernel
/// κ_L(z_jᵀz_j′) (Radhakrishnan 2023, Thm 5), solved by pseudo-inverse. Output: {"completed":
/// [[...]]}, m × n like Y, with the observed entries as given and the missing ones predicted.
#[derive(Debug, clap::Args)]
#[command(after_help = synopsis!())]
pub struct Args {
    /// Prior Z: one row z_j per column of Y, of unit norm (or pass --normalize); CSV or .npy
    #[arg(long, value_name = "Z.csv")]
    prior: PathBuf,
    /// Observed matrix Y (m × n, CSV without header); leave a missing entry empty, e.g. `1,,2`
    #[arg(long, value_name = "Y.csv")]
    observed: PathBuf,
    /// Number of hidden layers L ≥ 0 (one hidden ReLU layer: κ(1) = 2, κ(0) = 1/π)
    #[arg(long, value_name = "L")]
    depth: usize,
    /// Activation: a name (relu, leaky_relu, abs, identity, ...) or its JSON form, e.g. '{"leaky_relu": {"alpha": 0.1}}'
    #[arg(long, value_name = "φ", default_value = "relu")]
    activation: String,
    /// Ridge λ ≥ 0 added to each row's observed-column kernel
    #[arg(long, value_name = "λ", default_value_t = 0.0, value_parser = non_negative, allow_negative_numbers = true)]
    ridge: f64,
    /// Divide each row of Z by its norm first (a zero row is still an error)
    #[arg(long)]
    normalize: bool,
    /// Write the result to OUT instead of standard output: JSON, or .npz when OUT ends in .npz (array completed)
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
}

#[derive(Serialize)]
struct CompleteOutput<'a> {
    completed: Rows<'a>,
}

impl Output for CompleteOutput<'_> {
    fn arrays(&self) -> Vec<(&'static str, &dyn ToNpy)> {
        vec![("completed", &self.completed)]
    }
}

/// Runs `ntk complete`.
pub fn run(args: &Args) -> Result<(), Failure> {
    let activation = Activation::from_json(&args.activation)?;
    let mut prior = read_values("--prior", &args.prior)?;
    if args.normalize {
        prior = normalize_rows(&prior)?;
    }
    let text = std::fs::read_to_string(&args.observed).map_err(|e| {
        ntk::Error::Io(format!(
            "cannot read --observed {}: {e}",
            args.observed.display()
        ))
    })?;
    let observed = ntk::io::parse_csv_missing(&text, &args.observed.display().to_string())?;
    let completed = MatrixCompletion::new(&activation, args.depth)?
        .ridge(args.ridge)?
        .complete(&prior, &observed)?;
    let output = CompleteOutput {
        completed: Rows(&completed),
    };
    Ok(write_output(args.out.as_deref(), &output)?)
}
