//! `ntk` — the command-line front end of the `ntk` crate.
//!
//! ```text
//! ntk kernel --spec NET.json --x1 A.csv [--x2 B.npy] [--out OUT.json]
//! ntk predict --spec NET.json --train-x X.csv --train-y Y.csv --test-x T.csv
//!             [--kernel nngp|ntk|ntkgp] [--time t]... [--learning-rate η]
//!             [--diag-reg λ] [--diag-reg-absolute] [--cov] [--out OUT.json]
//! ntk jacobian --spec NET.json --train-x X.csv [--at P.csv] [--time t] [--learning-rate η]
//!              [--diag-reg λ] [--diag-reg-absolute] [--out OUT.json]
//! ```
//!
//! `kernel` reads a network spec (the JSON form of [`ntk::Network`]) and one or two point sets (CSV or
//! `.npy`, one point per row), and writes the NNGP and NTK matrices with the NNGP variances as JSON.
//! `predict` fits kernel regression / the trained infinite ensemble ([`ntk::GpInference`] at t = ∞,
//! [`ntk::EnsembleDynamics`] at finite times) and writes the test mean (and covariance) as JSON.
//! `jacobian` trains the infinitely wide autoencoder on the rows of X ([`ntk::jacobian::TrainedMap`])
//! and writes its Jacobian J∞ and spectrum at the given points (default: the training points). The
//! argument parser is hand-written on purpose: two subcommands with a dozen flags do not justify a
//! dependency.
//!
//! Exit codes: 0 on success, 2 when the command line itself is wrong (so scripts can tell a typo from
//! a bad input file), 1 for every other failure. Every message goes to stderr as `error: <message>`.

use nalgebra::DMatrix;
use ntk::jacobian::{Spectrum, TrainedMap, Training};
use ntk::{
    EnsembleDynamics, Error, Gaussian, GpInference, Kernel, KernelKind, KernelMatrices, Network,
    Posterior, Regularization, TestKernels, TrainKernels,
};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
ntk — NNGP and NTK kernels of infinitely wide fully connected networks

Usage:
  ntk kernel --spec NET.json --x1 A.csv [--x2 B.csv] [--out OUT.json]
  ntk predict --spec NET.json --train-x X.csv --train-y Y.csv --test-x T.csv
              [--kernel nngp|ntk|ntkgp] [--time t]... [--learning-rate η]
              [--diag-reg λ] [--diag-reg-absolute] [--cov] [--out OUT.json]
  ntk jacobian --spec NET.json --train-x X.csv [--at P.csv] [--time t]
               [--learning-rate η] [--diag-reg λ] [--diag-reg-absolute]
               [--out OUT.json]
  ntk --help | ntk kernel --help | ntk predict --help | ntk jacobian --help

Options of `ntk kernel`:
  --spec NET.json  network spec, e.g.
                   {\"parameterization\": \"ntk\", \"layers\": [
                     {\"dense\": {\"w_std\": 1.5, \"b_std\": 0.1}}, {\"relu\": {}},
                     {\"dense\": {\"w_std\": 1.5}}]}
  --x1 A           points, one per row: CSV without header, or .npy (float64, 2-D)
  --x2 B           second point set (same number of columns); without it the
                   Gram matrix of x1 is computed
  --out OUT.json   write the result here instead of to standard output
  -h, --help       print this help

Output: a JSON object {\"nngp\": [[...]], \"ntk\": [[...]], \"cov1\": [...], \"cov2\": [...]}
with one row per point of x1 and one column per point of x2 (or x1); cov1 and cov2
are the NNGP variances of the points of x1 and x2.

Options of `ntk predict` (regression of the infinitely wide network, loss 1/(2N)‖f − Y‖²):
  --spec NET.json    network spec, as for `ntk kernel`
  --train-x X        training points, one per row (CSV or .npy)
  --train-y Y        training targets, one row per training point, one column
                     per output
  --test-x T         test points (same number of columns as X)
  --kernel K         nngp (Bayesian posterior), ntk (trained ensemble, default)
                     or ntkgp (GP with prior covariance Θ; t = ∞ only)
  --time t           training time, ≥ 0, or `inf` (default: inf only); may be
                     repeated to get several times from one eigendecomposition
  --learning-rate η  gradient-flow learning rate (default 1; only finite t)
  --diag-reg λ       diagonal regularization of the train kernels, ≥ 0
                     (default 0), relative: λ·trace(K)/n is added
  --diag-reg-absolute  add λ itself instead
  --cov              also write the test covariance (shared by all outputs)
  --out OUT.json     write the result here instead of to standard output

Output with one time: {\"mean\": [[...]], \"cov\": [[...]]} with one row per test
point (\"cov\" only with --cov); with several times: {\"times\": [...],
\"mean\": [...], \"cov\": [...]} holding one matrix per time (t = ∞ is \"inf\").

Options of `ntk jacobian` (an autoencoder trained on the rows of X, NTK ⊗ I, f0 = 0):
  --spec NET.json    network spec, as for `ntk kernel` (its output width is
                     ignored: the map has one output per input column)
  --train-x X        training points, one per row (CSV or .npy)
  --at P             points where the Jacobian is evaluated, one per row
                     (default: the training points)
  --time t           training time, ≥ 0, or `inf` (default inf)
  --learning-rate η  gradient-flow learning rate (default 1; only finite t)
  --diag-reg λ, --diag-reg-absolute  ridge, as for `ntk predict`
  --out OUT.json     write the result here instead of to standard output

Output: {\"jacobians\": [[[...]]], \"eigenvalues\": [[[re, im], ...]],
\"spectral_radius\": [...], \"operator_norm\": [...]}, one entry per point; each
Jacobian is d × d with J[i][j] = ∂f_i/∂x_j, eigenvalues by decreasing modulus.
The ReLU NTK has no Jacobian at the training points (an error says so).

Numbers round-trip exactly. Flags also accept the form --flag=VALUE.

Exit status: 0 on success, 2 for a malformed command line, 1 for any other error.
";

/// Why the tool stopped; the variant decides the exit code.
#[derive(Debug)]
enum CliError {
    /// The command line is malformed (exit code 2).
    Usage(String),
    /// The command line was fine but reading, computing or writing failed (exit code 1).
    Failed(Error),
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Failed(e)
    }
}

/// What the command line asks for.
#[derive(Debug)]
enum Command {
    Help,
    Kernel(KernelArgs),
    Predict(PredictArgs),
    Jacobian(JacobianArgs),
}

/// The flags of `ntk jacobian`, parsed and validated.
#[derive(Debug)]
struct JacobianArgs {
    spec: PathBuf,
    train_x: PathBuf,
    at: Option<PathBuf>,
    training: Training,
    reg: Regularization,
    out: Option<PathBuf>,
}

/// The flags of `ntk kernel`, all validated as present where required.
#[derive(Debug)]
struct KernelArgs {
    spec: PathBuf,
    x1: PathBuf,
    x2: Option<PathBuf>,
    out: Option<PathBuf>,
}

/// The flags of `ntk predict`, parsed and validated.
#[derive(Debug)]
struct PredictArgs {
    spec: PathBuf,
    train_x: PathBuf,
    train_y: PathBuf,
    test_x: PathBuf,
    kind: Posterior,
    /// Training times, each ≥ 0 or +∞; never empty.
    times: Vec<f64>,
    learning_rate: f64,
    reg: Regularization,
    cov: bool,
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    // `args_os`, not `args`: the latter panics on a path that is not valid UTF-8.
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match parse_command(&args).and_then(execute) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Usage(msg)) => {
            eprintln!("error: {msg}\nrun `ntk --help` for usage");
            ExitCode::from(2)
        }
        Err(CliError::Failed(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn execute(command: Command) -> Result<(), CliError> {
    match command {
        Command::Help => write_stdout(USAGE)?,
        Command::Kernel(args) => run_kernel(&args)?,
        Command::Predict(args) => run_predict(&args)?,
        Command::Jacobian(args) => run_jacobian(&args)?,
    }
    Ok(())
}

fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}

fn is_help(arg: &OsString) -> bool {
    arg == "--help" || arg == "-h"
}

fn parse_command(args: &[OsString]) -> Result<Command, CliError> {
    let Some((first, rest)) = args.split_first() else {
        return Err(usage(
            "missing subcommand (expected `kernel`, `predict` or `jacobian`)",
        ));
    };
    if is_help(first) || first == "help" {
        return Ok(Command::Help);
    }
    if first == "kernel" {
        return parse_kernel_args(rest);
    }
    if first == "predict" {
        return parse_predict_args(rest);
    }
    if first == "jacobian" {
        return parse_jacobian_args(rest);
    }
    Err(usage(format!(
        "unknown subcommand `{}` (expected `kernel`, `predict` or `jacobian`)",
        first.to_string_lossy()
    )))
}

/// Parses the flags after `kernel`, left to right; `--help` anywhere before an error wins.
fn parse_kernel_args(args: &[OsString]) -> Result<Command, CliError> {
    let (mut spec, mut x1, mut x2, mut out) = (None, None, None, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if is_help(arg) {
            return Ok(Command::Help);
        }
        let (name, inline_value) = split_flag(arg, KERNEL_PATH_FLAGS)?;
        let slot = match name.as_str() {
            "--spec" => &mut spec,
            "--x1" => &mut x1,
            "--x2" => &mut x2,
            "--out" => &mut out,
            _ => return Err(usage(format!("unknown flag `{name}` for `ntk kernel`"))),
        };
        set_path(&name, inline_value, &mut rest, slot)?;
    }
    let required = |slot: Option<PathBuf>, name: &str, what: &str| {
        slot.ok_or_else(|| usage(format!("missing required flag `{name}` ({what})")))
    };
    Ok(Command::Kernel(KernelArgs {
        spec: required(spec, "--spec", "the network spec JSON file")?,
        x1: required(x1, "--x1", "the CSV or .npy file of input points")?,
        x2,
        out,
    }))
}

const KERNEL_PATH_FLAGS: &str = "--spec, --x1, --x2, --out";
const PREDICT_PATH_FLAGS: &str = "--spec, --train-x, --train-y, --test-x, --out";
const JACOBIAN_PATH_FLAGS: &str = "--spec, --train-x, --at, --out";

/// Sets a switch flag (no value) once.
fn set_switch(
    name: &str,
    inline_value: &Option<OsString>,
    switch: &mut bool,
) -> Result<(), CliError> {
    if inline_value.is_some() {
        return Err(usage(format!("flag `{name}` takes no value")));
    }
    if std::mem::replace(switch, true) {
        return Err(usage(format!("flag `{name}` given more than once")));
    }
    Ok(())
}

/// Sets a path flag once from its inline value or the next argument.
fn set_path<'a>(
    name: &str,
    inline_value: Option<OsString>,
    rest: &mut impl Iterator<Item = &'a OsString>,
    slot: &mut Option<PathBuf>,
) -> Result<(), CliError> {
    let value = take_value(name, inline_value, rest, "a file path")?;
    if slot.replace(PathBuf::from(value)).is_some() {
        return Err(usage(format!("flag `{name}` given more than once")));
    }
    Ok(())
}

/// The value of flag `name`: the inline `--flag=value` part, or else the next argument.
fn take_value<'a>(
    name: &str,
    inline_value: Option<OsString>,
    rest: &mut impl Iterator<Item = &'a OsString>,
    what: &str,
) -> Result<OsString, CliError> {
    let value = match inline_value {
        Some(v) => v,
        None => rest.next().cloned().unwrap_or_default(),
    };
    // A following flag is almost certainly a forgotten value, not a file named `--x1`.
    if value.is_empty() || value.to_string_lossy().starts_with("--") {
        return Err(usage(format!("flag `{name}` needs {what} as its value")));
    }
    Ok(value)
}

/// Parses a number given to `name`; the caller checks its range.
fn parse_number(name: &str, value: &OsString) -> Result<f64, CliError> {
    let text = value.to_string_lossy();
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| !v.is_nan())
        .ok_or_else(|| usage(format!("flag `{name}` needs a number, got `{text}`")))
}

/// Parses the flags after `predict`, left to right; `--help` anywhere before an error wins.
fn parse_predict_args(args: &[OsString]) -> Result<Command, CliError> {
    let (mut spec, mut train_x, mut train_y, mut test_x, mut out) = (None, None, None, None, None);
    let (mut kind, mut learning_rate, mut diag_reg) = (None, None, None);
    let (mut absolute, mut cov) = (false, false);
    let mut times = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if is_help(arg) {
            return Ok(Command::Help);
        }
        let (name, inline_value) = split_flag(arg, PREDICT_PATH_FLAGS)?;
        let switch = match name.as_str() {
            "--cov" => Some(&mut cov),
            "--diag-reg-absolute" => Some(&mut absolute),
            _ => None,
        };
        if let Some(switch) = switch {
            set_switch(&name, &inline_value, switch)?;
            continue;
        }
        let path_slot = match name.as_str() {
            "--spec" => Some(&mut spec),
            "--train-x" => Some(&mut train_x),
            "--train-y" => Some(&mut train_y),
            "--test-x" => Some(&mut test_x),
            "--out" => Some(&mut out),
            _ => None,
        };
        if let Some(slot) = path_slot {
            set_path(&name, inline_value, &mut rest, slot)?;
            continue;
        }
        let once = |done: bool| {
            if done {
                Err(usage(format!("flag `{name}` given more than once")))
            } else {
                Ok(())
            }
        };
        match name.as_str() {
            "--kernel" => {
                let value = take_value(&name, inline_value, &mut rest, "nngp, ntk or ntkgp")?;
                once(kind.is_some())?;
                kind = Some(match value.to_string_lossy().as_ref() {
                    "nngp" => Posterior::Kernel(KernelKind::Nngp),
                    "ntk" => Posterior::Kernel(KernelKind::Ntk),
                    "ntkgp" => Posterior::NtkGp,
                    other => {
                        return Err(usage(format!(
                            "unknown kernel `{other}` for `--kernel` (expected nngp, ntk or ntkgp)"
                        )));
                    }
                });
            }
            "--time" => {
                let value = take_value(&name, inline_value, &mut rest, "a time (≥ 0 or inf)")?;
                let t = parse_number(&name, &value)?;
                if t < 0.0 {
                    return Err(usage(format!(
                        "flag `--time` must be ≥ 0 or `inf`, got `{}`",
                        value.to_string_lossy()
                    )));
                }
                times.push(t);
            }
            "--learning-rate" => {
                let value = take_value(&name, inline_value, &mut rest, "a number > 0")?;
                once(learning_rate.is_some())?;
                let eta = parse_number(&name, &value)?;
                if !(eta.is_finite() && eta > 0.0) {
                    return Err(usage(format!(
                        "flag `--learning-rate` must be finite and > 0, got `{}`",
                        value.to_string_lossy()
                    )));
                }
                learning_rate = Some(eta);
            }
            "--diag-reg" => {
                let value = take_value(&name, inline_value, &mut rest, "a number ≥ 0")?;
                once(diag_reg.is_some())?;
                let lambda = parse_number(&name, &value)?;
                if !(lambda.is_finite() && lambda >= 0.0) {
                    return Err(usage(format!(
                        "flag `--diag-reg` must be finite and ≥ 0, got `{}`",
                        value.to_string_lossy()
                    )));
                }
                diag_reg = Some(lambda);
            }
            _ => return Err(usage(format!("unknown flag `{name}` for `ntk predict`"))),
        }
    }
    let required = |slot: Option<PathBuf>, name: &str, what: &str| {
        slot.ok_or_else(|| usage(format!("missing required flag `{name}` ({what})")))
    };
    let spec = required(spec, "--spec", "the network spec JSON file")?;
    let train_x = required(train_x, "--train-x", "the training points")?;
    let train_y = required(train_y, "--train-y", "the training targets")?;
    let test_x = required(test_x, "--test-x", "the test points")?;
    let kind = kind.unwrap_or(Posterior::Kernel(KernelKind::Ntk));
    if times.is_empty() {
        times.push(f64::INFINITY);
    }
    if kind == Posterior::NtkGp {
        if let Some(t) = times.iter().find(|t| t.is_finite()) {
            return Err(usage(format!(
                "`--kernel ntkgp` is defined at t = inf only, but `--time {t}` was given \
                 (use --kernel ntk for the ensemble at finite times)"
            )));
        }
    }
    let lambda = diag_reg.unwrap_or(0.0);
    Ok(Command::Predict(PredictArgs {
        spec,
        train_x,
        train_y,
        test_x,
        kind,
        times,
        learning_rate: learning_rate.unwrap_or(1.0),
        reg: if absolute {
            Regularization::Absolute(lambda)
        } else {
            Regularization::Relative(lambda)
        },
        cov,
        out,
    }))
}

/// Parses the flags after `jacobian`, left to right; `--help` anywhere before an error wins.
fn parse_jacobian_args(args: &[OsString]) -> Result<Command, CliError> {
    let (mut spec, mut train_x, mut at, mut out) = (None, None, None, None);
    let (mut time, mut learning_rate, mut diag_reg) = (None, None, None);
    let mut absolute = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if is_help(arg) {
            return Ok(Command::Help);
        }
        let (name, inline_value) = split_flag(arg, JACOBIAN_PATH_FLAGS)?;
        if name == "--diag-reg-absolute" {
            set_switch(&name, &inline_value, &mut absolute)?;
            continue;
        }
        let path_slot = match name.as_str() {
            "--spec" => Some(&mut spec),
            "--train-x" => Some(&mut train_x),
            "--at" => Some(&mut at),
            "--out" => Some(&mut out),
            _ => None,
        };
        if let Some(slot) = path_slot {
            set_path(&name, inline_value, &mut rest, slot)?;
            continue;
        }
        let (slot, what, ok): (&mut Option<f64>, &str, fn(f64) -> bool) = match name.as_str() {
            "--time" => (&mut time, "a time (≥ 0 or inf)", |t| t >= 0.0),
            "--learning-rate" => (&mut learning_rate, "a finite number > 0", |e| {
                e.is_finite() && e > 0.0
            }),
            "--diag-reg" => (&mut diag_reg, "a finite number ≥ 0", |l| {
                l.is_finite() && l >= 0.0
            }),
            _ => return Err(usage(format!("unknown flag `{name}` for `ntk jacobian`"))),
        };
        let value = take_value(&name, inline_value, &mut rest, what)?;
        let v = parse_number(&name, &value)?;
        if !ok(v) {
            return Err(usage(format!(
                "flag `{name}` needs {what}, got `{}`",
                value.to_string_lossy()
            )));
        }
        if slot.replace(v).is_some() {
            return Err(usage(format!("flag `{name}` given more than once")));
        }
    }
    let required = |slot: Option<PathBuf>, name: &str, what: &str| {
        slot.ok_or_else(|| usage(format!("missing required flag `{name}` ({what})")))
    };
    let lambda = diag_reg.unwrap_or(0.0);
    Ok(Command::Jacobian(JacobianArgs {
        spec: required(spec, "--spec", "the network spec JSON file")?,
        train_x: required(train_x, "--train-x", "the training points")?,
        at,
        training: match time {
            Some(t) if t.is_finite() => Training::Time {
                t,
                learning_rate: learning_rate.unwrap_or(1.0),
            },
            _ => Training::Converged,
        },
        reg: if absolute {
            Regularization::Absolute(lambda)
        } else {
            Regularization::Relative(lambda)
        },
        out,
    }))
}

/// Splits `--flag=value` into its name and value; a bare `--flag` has no inline value. `path_flags`
/// lists the subcommand's path flags for the message about a stray argument.
fn split_flag(arg: &OsString, path_flags: &str) -> Result<(String, Option<OsString>), CliError> {
    // Flag names are ASCII, so an argument that is not UTF-8 cannot be one. (A non-UTF-8 path is
    // still accepted as a separate argument, `--x1 PATH`, just not glued on as `--x1=PATH`.)
    let Some(text) = arg.to_str() else {
        return Err(usage(format!(
            "unexpected argument `{}`",
            arg.to_string_lossy()
        )));
    };
    if !text.starts_with('-') {
        return Err(usage(format!(
            "unexpected argument `{text}` (paths are given with {path_flags})"
        )));
    }
    Ok(match text.split_once('=') {
        Some((name, value)) => (name.to_string(), Some(value.into())),
        None => (text.to_string(), None),
    })
}

fn run_kernel(args: &KernelArgs) -> ntk::Result<()> {
    let net = read_network(&args.spec)?;
    let x1 = read_points("--x1", &args.x1)?;
    let k = match &args.x2 {
        None => net.gram(&x1)?,
        Some(path) => net.cross(&x1, &read_points("--x2", path)?)?,
    };
    let json = render(&k)?;
    match &args.out {
        Some(path) => std::fs::write(path, json)
            .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display()))),
        None => write_stdout(&json),
    }
}

fn run_predict(args: &PredictArgs) -> ntk::Result<()> {
    let net = read_network(&args.spec)?;
    let x_train = read_points("--train-x", &args.train_x)?;
    let y_train = read_points("--train-y", &args.train_y)?;
    let x_test = read_points("--test-x", &args.test_x)?;
    if y_train.nrows() != x_train.nrows() {
        return Err(Error::ShapeMismatch {
            what: format!("--train-y {}", args.train_y.display()),
            expected: format!(
                "{} rows, one per training point of --train-x {}",
                x_train.nrows(),
                args.train_x.display()
            ),
            found: format!("{} rows", y_train.nrows()),
        });
    }
    if x_test.ncols() != x_train.ncols() {
        return Err(Error::ShapeMismatch {
            what: format!("--test-x {}", args.test_x.display()),
            expected: format!(
                "{} columns, as --train-x {}",
                x_train.ncols(),
                args.train_x.display()
            ),
            found: format!("{} columns", x_test.ncols()),
        });
    }
    let train = TrainKernels::compute(&net, &x_train)?;
    let test = TestKernels::compute(&net, &x_test, &x_train)?;
    let predictions = match args.kind {
        // A finite time (never with ntkgp, rejected when parsing): the dynamics.
        Posterior::Kernel(kind) if args.times.iter().any(|t| t.is_finite()) => {
            EnsembleDynamics::params()
                .learning_rate(args.learning_rate)
                .regularization(args.reg)
                .fit(&train, &y_train)?
                .predict(kind, &test, &args.times)?
        }
        // t = ∞ only: Cholesky solves, no eigendecomposition.
        posterior => {
            let gp = GpInference::params()
                .regularization(args.reg)
                .fit(&train, &y_train)?;
            let g = gp.predict(posterior, &test)?;
            vec![g; args.times.len()]
        }
    };
    let json = render_predictions(&args.times, &predictions, args.cov)?;
    match &args.out {
        Some(path) => std::fs::write(path, json)
            .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display()))),
        None => write_stdout(&json),
    }
}

fn run_jacobian(args: &JacobianArgs) -> ntk::Result<()> {
    let net = read_network(&args.spec)?;
    let x_train = read_points("--train-x", &args.train_x)?;
    let at = match &args.at {
        Some(path) => read_points("--at", path)?,
        None => x_train.clone(),
    };
    if at.ncols() != x_train.ncols() {
        return Err(Error::ShapeMismatch {
            what: "--at points".into(),
            expected: format!("{} columns, as --train-x", x_train.ncols()),
            found: format!("{} columns", at.ncols()),
        });
    }
    let map = TrainedMap::params()
        .regularization(args.reg)
        .training(args.training)
        .autoencoder(&net, &x_train)?;
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
    let json = render_jacobians(&jacobians, &spectra)?;
    match &args.out {
        Some(path) => std::fs::write(path, json)
            .map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display()))),
        None => write_stdout(&json),
    }
}

fn render_jacobians(jacobians: &[DMatrix<f64>], spectra: &[Spectrum]) -> ntk::Result<String> {
    let mut out = String::from("{\n  \"jacobians\": [\n");
    for (k, j) in jacobians.iter().enumerate() {
        out.push_str("    ");
        out.push_str(&matrix_json(j, "    ", "Jacobian")?);
        out.push_str(if k + 1 < jacobians.len() { ",\n" } else { "\n" });
    }
    out.push_str("  ],\n  \"eigenvalues\": [\n");
    for (k, s) in spectra.iter().enumerate() {
        let pairs: ntk::Result<Vec<String>> = s
            .eigenvalues
            .iter()
            .map(|z| {
                Ok(format!(
                    "[{}, {}]",
                    json_number(z.re, "eigenvalue")?,
                    json_number(z.im, "eigenvalue")?
                ))
            })
            .collect();
        out.push_str(&format!("    [{}]", pairs?.join(", ")));
        out.push_str(if k + 1 < spectra.len() { ",\n" } else { "\n" });
    }
    out.push_str("  ],\n  \"spectral_radius\": ");
    out.push_str(&list_json(
        spectra.iter().map(|s| s.spectral_radius()),
        "spectral radius",
    )?);
    out.push_str(",\n  \"operator_norm\": ");
    out.push_str(&list_json(
        spectra.iter().map(|s| s.operator_norm()),
        "operator norm",
    )?);
    out.push_str("\n}\n");
    Ok(out)
}

fn read_network(path: &Path) -> ntk::Result<Network> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Io(format!(
            "cannot read the network spec {}: {e}",
            path.display()
        ))
    })?;
    // Name the file in spec errors: the library's message cannot know where the JSON came from.
    Network::from_json(&text).map_err(|e| match e {
        Error::InvalidNetwork(msg) => Error::InvalidNetwork(format!("{}: {msg}", path.display())),
        other => other,
    })
}

/// Reads a point set and rejects NaN/±∞ here, where the flag and file are known: the library can
/// only name the argument (`x` for a Gram matrix) and counts rows from 0, unlike CSV line numbers.
fn read_points(flag: &str, path: &Path) -> ntk::Result<DMatrix<f64>> {
    let x = ntk::io::read_matrix(path)?;
    if let Some(((i, j), value)) = first_non_finite(&x) {
        return Err(Error::NonFinite {
            what: format!("{flag} {}", path.display()),
            location: format!("row {}, column {} (counting from 1)", i + 1, j + 1),
            value,
        });
    }
    Ok(x)
}

/// The first non-finite entry in row-major order (the order of the file), if any.
///
/// Scans the stored entries rather than looping over rows and columns: a `.npy` header may declare
/// an absurd row count with zero columns, and a row loop would then spin without touching any data.
fn first_non_finite(x: &DMatrix<f64>) -> Option<((usize, usize), f64)> {
    let n = x.nrows();
    // Column-major storage: entry k is row k % n, column k / n.
    x.as_slice()
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_finite())
        .map(|(k, &v)| ((k % n, k / n), v))
        .min_by_key(|&(ij, _)| ij)
}

/// The output JSON, one matrix row per line so that it stays readable for small inputs.
fn render(k: &KernelMatrices) -> ntk::Result<String> {
    const WHAT: &str = "the computed kernel";
    let fields = [
        ("nngp", matrix_json(&k.nngp, "  ", WHAT)?),
        ("ntk", matrix_json(&k.ntk, "  ", WHAT)?),
        ("cov1", list_json(k.cov1.iter().copied(), WHAT)?),
        ("cov2", list_json(k.cov2.iter().copied(), WHAT)?),
    ];
    let body: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("  \"{name}\": {value}"))
        .collect();
    Ok(format!("{{\n{}\n}}\n", body.join(",\n")))
}

/// The output JSON of `ntk predict`: one Gaussian per time; a single time gives bare matrices.
fn render_predictions(times: &[f64], predictions: &[Gaussian], cov: bool) -> ntk::Result<String> {
    const WHAT: &str = "the prediction";
    let mut fields = Vec::new();
    if let [g] = predictions {
        fields.push(("mean", Some(matrix_json(&g.mean, "  ", WHAT)?)));
        if cov {
            fields.push(("cov", Some(matrix_json(&g.covariance, "  ", WHAT)?)));
        }
    } else {
        let times = times
            .iter()
            .map(|&t| {
                if t.is_infinite() {
                    Ok("\"inf\"".to_string())
                } else {
                    json_number(t, WHAT)
                }
            })
            .collect::<ntk::Result<Vec<_>>>()?;
        fields.push(("times", Some(format!("[{}]", times.join(", ")))));
        let per_time = |pick: fn(&Gaussian) -> &DMatrix<f64>| {
            let items = predictions
                .iter()
                .map(|g| matrix_json(pick(g), "    ", WHAT))
                .collect::<ntk::Result<Vec<_>>>()?;
            Ok::<_, Error>(format!("[\n    {}\n  ]", items.join(",\n    ")))
        };
        fields.push(("mean", Some(per_time(|g| &g.mean)?)));
        if cov {
            fields.push(("cov", Some(per_time(|g| &g.covariance)?)));
        }
    }
    let body: Vec<String> = fields
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("  \"{name}\": {v}")))
        .collect();
    Ok(format!("{{\n{}\n}}\n", body.join(",\n")))
}

/// A matrix as a JSON array of its rows (nalgebra stores columns, so rows are walked explicitly);
/// `indent` is the indentation of the line holding the opening bracket.
fn matrix_json(m: &DMatrix<f64>, indent: &str, what: &str) -> ntk::Result<String> {
    if m.nrows() == 0 {
        return Ok("[]".into());
    }
    let rows = m
        .row_iter()
        .map(|row| list_json(row.iter().copied(), what))
        .collect::<ntk::Result<Vec<_>>>()?;
    let inner = format!(",\n{indent}  ");
    Ok(format!("[\n{indent}  {}\n{indent}]", rows.join(&inner)))
}

fn list_json(values: impl Iterator<Item = f64>, what: &str) -> ntk::Result<String> {
    let items = values
        .map(|v| json_number(v, what))
        .collect::<ntk::Result<Vec<_>>>()?;
    Ok(format!("[{}]", items.join(", ")))
}

/// Shortest round-trip decimal form (the one serde_json writes). JSON has no NaN or ∞, and writing
/// `null` would silently corrupt the matrix, so a non-finite value is an error — the library already
/// reports overflow, so this is only a guard.
fn json_number(value: f64, what: &str) -> ntk::Result<String> {
    serde_json::Number::from_f64(value)
        .map(|n| n.to_string())
        .ok_or_else(|| Error::NonFinite {
            what: what.into(),
            location: "output".into(),
            value,
        })
}

fn write_stdout(text: &str) -> ntk::Result<()> {
    // Not `print!`: it panics when stdout is closed (e.g. piped into `head`).
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::Io(format!("cannot write to standard output: {e}")))
}
