//! `ntk` — the command-line front end of the `ntk` crate, with seven subcommands:
//!
//! * `ntk kernel`: the NNGP and NTK matrices of a network spec on one or two point sets
//!   ([`ntk::Kernel`]);
//! * `ntk predict`: kernel regression and the trained infinite ensemble ([`ntk::GpInference`] at
//!   t = ∞, [`ntk::EnsembleDynamics`] at finite times);
//! * `ntk jacobian`: the Jacobian of the trained infinitely wide autoencoder and its spectrum
//!   ([`ntk::jacobian::TrainedMap`]);
//! * `ntk rfm`: a Recursive Feature Machine and its learned feature matrix
//!   ([`ntk::feature::Rfm`]).
//! * `ntk complete`: matrix completion with the NTK ([`ntk::completion::MatrixCompletion`]);
//! * `ntk infinite-depth`: the infinite-depth limit of an activation's NTK classifier
//!   ([`ntk::infinite_depth::SphereDual::taxonomy`]).
//! * `ntk nqm`: the single-example neural quadratic model's gradient descent, with its catapult
//!   ([`ntk::quadratic::ScalarNqm`]).
//!
//! The command line is parsed by clap (derive); `ntk --help` and `ntk <subcommand> --help` document
//! every flag. Each subcommand lives in its own module: its flags, a thin layer of calls into the
//! library, and its output as a serde-serialized struct. `io` reads the inputs and writes the output
//! as JSON, or as a numpy `.npz` archive when `--out` ends in `.npz`.
//!
//! Exit codes: 0 on success, 2 when the command line itself is wrong (so scripts can tell a typo from
//! a bad input file), 1 for every other failure. Every message goes to stderr as `error: <message>`.

mod complete;
mod infinite_depth;
mod io;
mod jacobian;
mod kernel;
mod nqm;
mod predict;
mod rfm;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

/// The usage of all the subcommands and the conventions they share, shown under every help page
/// (a macro, not a constant, so that `concat!` can append it to each page's own text).
macro_rules! synopsis {
    () => {
        "\
Synopsis:
  ntk kernel --spec NET.json --x1 A.csv [--x2 B.csv] [--out OUT.json|OUT.npz]
             [--rows a..b] [--cols c..d] [--kernel nngp|ntk [--out OUT.npy]]
  ntk predict --spec NET.json --train-x X.csv --train-y Y.csv --test-x T.csv
              [--kernel nngp|ntk|ntkgp] [--time t]... [--learning-rate η]
              [--diag-reg λ] [--diag-reg-absolute] [--cov] [--out OUT.json|OUT.npz]
              [--solver dense|cg|eigenpro|falkon] [--rank m] [--top k] [--tol ε]
              [--max-iter N] [--seed S]
  ntk jacobian --spec NET.json --train-x X.csv [--at P.csv] [--time t]
               [--learning-rate η] [--diag-reg λ] [--diag-reg-absolute]
               [--out OUT.json|OUT.npz]
  ntk rfm --train-x X.csv --train-y Y.csv [--test-x T.csv] --iterations T
          [--bandwidth L] [--ridge λ] [--diagonal] [--centered]
          [--max-gradient-samples N] [--out OUT.json|OUT.npz]
  ntk complete --prior Z.csv --observed Y.csv --depth L [--activation relu]
               [--ridge λ] [--normalize] [--out C.json|C.npz]
  ntk infinite-depth --activation JSON [--quadrature-nodes N] [--out F.json]
  ntk nqm --lambda0 λ --g0 g --target y --c c --learning-rate η --steps N
          [--divergence-loss L] [--out OUT.json|OUT.npz]

Point files hold one point per row: CSV without header, or .npy (float64, 2-D, C or
Fortran order; for networks with an input_shape also (n, H, W, C) or (n, L, C)). Output goes to standard output as JSON, or to --out: JSON, or a numpy
.npz archive (float64, C order, arrays named like the JSON keys; np.load reads it)
when the name ends in .npz. JSON numbers round-trip exactly. Flags also accept the
form --flag=VALUE.

Exit status: 0 on success, 2 for a malformed command line, 1 for any other error."
    };
}
pub(crate) use synopsis;

/// NNGP and NTK kernels of infinitely wide networks (fully connected, convolutional, pooled,
/// residual, layer-normalized), kernel regression with them,
/// the Jacobians of trained wide autoencoders, and Recursive Feature Machines.
#[derive(Debug, Parser)]
#[command(
    name = "ntk",
    version,
    subcommand_required = true,
    // A missing subcommand is a usage error (exit 2, `error: ...`), not a help page.
    arg_required_else_help = false,
    after_help = synopsis!()
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Kernel(kernel::Args),
    Predict(predict::Args),
    Jacobian(jacobian::Args),
    Rfm(rfm::Args),
    Complete(complete::Args),
    InfiniteDepth(infinite_depth::Args),
    Nqm(nqm::Args),
}

/// Why a subcommand stopped; the variant decides the exit code.
#[derive(Debug)]
enum Failure {
    /// The flags parse but contradict each other (exit code 2, like clap's own usage errors);
    /// the message names the flags.
    Usage(String),
    /// Reading, computing or writing failed (exit code 1).
    Failed(ntk::Error),
}

impl From<ntk::Error> for Failure {
    fn from(e: ntk::Error) -> Self {
        Failure::Failed(e)
    }
}

fn main() -> ExitCode {
    // Usage errors exit with code 2 and `--help` with 0, both inside `parse`. It reads the
    // arguments as `OsString`s: a path that is not UTF-8 is accepted, not a panic.
    let cli = Cli::parse();
    let (name, result) = match &cli.command {
        Command::Kernel(args) => ("kernel", kernel::run(args)),
        Command::Predict(args) => ("predict", predict::run(args)),
        Command::Jacobian(args) => ("jacobian", jacobian::run(args)),
        Command::Rfm(args) => ("rfm", rfm::run(args)),
        Command::Complete(args) => ("complete", complete::run(args)),
        Command::InfiniteDepth(args) => ("infinite-depth", infinite_depth::run(args)),
        Command::Nqm(args) => ("nqm", nqm::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            // Formatted by clap like its own errors, with the subcommand's usage, exit code 2.
            let mut command = Cli::command();
            command.build(); // gives the subcommand its full name, `ntk predict`, for the usage line
            let sub = command
                .find_subcommand_mut(name)
                .expect("every subcommand is registered");
            sub.error(clap::error::ErrorKind::ArgumentConflict, message)
                .exit()
        }
        Err(Failure::Failed(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The ridge flags of `predict` and `jacobian`.
#[derive(Debug, clap::Args)]
struct Ridge {
    /// Diagonal regularization λ ≥ 0 of the train kernel: λ·trace(K)/n is added to its diagonal
    #[arg(long, value_name = "λ", default_value_t = 0.0, value_parser = non_negative, allow_negative_numbers = true)]
    diag_reg: f64,
    /// Add λ itself to the diagonal instead of λ·trace(K)/n
    #[arg(long)]
    diag_reg_absolute: bool,
}

impl Ridge {
    fn regularization(&self) -> ntk::Regularization {
        if self.diag_reg_absolute {
            ntk::Regularization::Absolute(self.diag_reg)
        } else {
            ntk::Regularization::Relative(self.diag_reg)
        }
    }
}

/// A number, NaN excluded (it compares false with every bound).
fn number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| !v.is_nan())
        .ok_or_else(|| "expected a number".to_string())
}

/// A training time: a number ≥ 0, or `inf` for t = ∞.
fn time(text: &str) -> Result<f64, String> {
    number(text)
        .ok()
        .filter(|&t| t >= 0.0)
        .ok_or_else(|| "must be ≥ 0 or `inf`".to_string())
}

/// A learning rate: finite and > 0.
fn positive(text: &str) -> Result<f64, String> {
    number(text)
        .ok()
        .filter(|&v| v.is_finite() && v > 0.0)
        .ok_or_else(|| "must be finite and > 0".to_string())
}

/// A regularization: finite and ≥ 0.
fn non_negative(text: &str) -> Result<f64, String> {
    number(text)
        .ok()
        .filter(|&v| v.is_finite() && v >= 0.0)
        .ok_or_else(|| "must be finite and ≥ 0".to_string())
}
