//! `ntk predict`: kernel regression with the infinitely wide network, and the trained infinite
//! ensemble at any training times.

use crate::io::{
    Output, Rows, Stack, Times, ToNpy, check_targets, read_network, read_points, read_values,
    write_output,
};
use crate::{Failure, Ridge, positive, synopsis, time};
use nalgebra::DMatrix;
use ntk::iterative::{Centres, Falkon, IterativeRegression, KernelOperator, Method};
use ntk::{
    EnsembleDynamics, Error, Gaussian, GpInference, KernelKind, Posterior, TestKernels,
    TrainKernels,
};
use serde::Serialize;
use std::path::PathBuf;

/// Kernel regression with the infinitely wide network (loss 1/(2N)‖f − Y‖², N = points × outputs)
///
/// Output with one time: {"mean": [[...]], "cov": [[...]]}, with one row per test point ("cov", n_test
/// × n_test and shared by all outputs, only with --cov). With several times: {"times": [...],
/// "mean": [...], "cov": [...]}, holding one such matrix per time (t = ∞ written as "inf").
#[derive(Debug, clap::Args)]
#[command(after_help = synopsis!())]
pub struct Args {
    /// Network spec (JSON), as for `ntk kernel`
    #[arg(long, value_name = "NET.json")]
    spec: PathBuf,
    /// Training points, one per row: CSV without header, or .npy (float64, 2-D)
    #[arg(long, value_name = "X")]
    train_x: PathBuf,
    /// Training targets: one row per training point, one column per output
    #[arg(long, value_name = "Y")]
    train_y: PathBuf,
    /// Test points, one per row, with as many columns as X
    #[arg(long, value_name = "T")]
    test_x: PathBuf,
    /// Which kernel drives the prediction
    #[arg(long, value_name = "K", value_enum, default_value_t = KernelArg::Ntk)]
    kernel: KernelArg,
    /// Training time, ≥ 0, or `inf`; repeat it to get several times from one eigendecomposition [default: inf]
    #[arg(long = "time", value_name = "t", value_parser = time, allow_negative_numbers = true)]
    times: Vec<f64>,
    /// Gradient-flow learning rate η > 0 (only finite times depend on it)
    #[arg(long, value_name = "η", default_value_t = 1.0, value_parser = positive, allow_negative_numbers = true)]
    learning_rate: f64,
    #[command(flatten)]
    ridge: Ridge,
    /// Also write the test covariance (n_test × n_test, shared by all outputs)
    #[arg(long)]
    cov: bool,
    /// How to solve the ridge system at t = inf: dense Cholesky, or matrix-free iterative solvers that never hold the n × n kernel (t = inf only; need --diag-reg > 0)
    #[arg(long, value_name = "S", value_enum, default_value_t = SolverArg::Dense)]
    solver: SolverArg,
    /// cg and eigenpro: rank m of the Nyström preconditioner (0 = none for cg; default min(n, 200)); falkon: number of centres m (default min(n, 1000)). 1 ≤ m ≤ n (0 allowed for cg)
    #[arg(long, value_name = "m")]
    rank: Option<usize>,
    /// eigenpro: eigendirections flattened by the preconditioner, 1 ≤ k < m [default: m/2]
    #[arg(long, value_name = "k")]
    top: Option<usize>,
    /// Iterative solvers: stop at this relative residual ‖y − (K + λI)α‖/‖y‖ (falkon: of its preconditioned system), finite and > 0
    #[arg(long, value_name = "ε", default_value_t = 1e-8, value_parser = positive, allow_negative_numbers = true)]
    tol: f64,
    /// Iterative solvers: iteration limit; reaching it first is an error that states the residual reached
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_iter: usize,
    /// Iterative solvers: seed of the uniformly drawn Nyström points / FALKON centres
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    seed: u64,
    /// Write the result to OUT instead of standard output: JSON, or .npz when OUT ends in .npz (arrays mean, cov; with several times also times, and mean and cov stacked with the time first)
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
}

/// The `--kernel` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum KernelArg {
    /// NNGP: the Bayesian posterior (or gradient descent on the readout layer only)
    Nngp,
    /// NTK: the infinite ensemble trained by gradient descent on all layers
    Ntk,
    /// NTK-GP: the GP with prior covariance Θ (t = ∞ only)
    Ntkgp,
}

/// The `--solver` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SolverArg {
    /// Cholesky of the n × n kernel (GpInference / EnsembleDynamics)
    Dense,
    /// Conjugate gradients with a rank-m Nyström preconditioner (ntk::iterative::IterativeRegression)
    Cg,
    /// EigenPro's preconditioned Richardson iteration (ntk::iterative::Method::EigenPro)
    Eigenpro,
    /// The FALKON Nyström estimator with m centres (ntk::iterative::Falkon); no --cov
    Falkon,
}

/// The output with one time: the test mean (and covariance).
#[derive(Serialize)]
struct Single<'a> {
    mean: Rows<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cov: Option<Rows<'a>>,
}

impl Output for Single<'_> {
    fn arrays(&self) -> Vec<(&'static str, &dyn ToNpy)> {
        let mut arrays: Vec<(&'static str, &dyn ToNpy)> = vec![("mean", &self.mean)];
        if let Some(cov) = &self.cov {
            arrays.push(("cov", cov));
        }
        arrays
    }
}

/// The output with several times: the times, and the mean (and covariance) at each.
#[derive(Serialize)]
struct Path<'a> {
    times: Times<'a>,
    mean: Stack<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cov: Option<Stack<'a>>,
}

impl Output for Path<'_> {
    fn arrays(&self) -> Vec<(&'static str, &dyn ToNpy)> {
        let mut arrays: Vec<(&'static str, &dyn ToNpy)> =
            vec![("times", &self.times), ("mean", &self.mean)];
        if let Some(cov) = &self.cov {
            arrays.push(("cov", cov));
        }
        arrays
    }
}

/// Runs `ntk predict`.
pub fn run(args: &Args) -> Result<(), Failure> {
    let times = if args.times.is_empty() {
        vec![f64::INFINITY]
    } else {
        args.times.clone()
    };
    if args.kernel == KernelArg::Ntkgp {
        if let Some(t) = times.iter().find(|t| t.is_finite()) {
            return Err(Failure::Usage(format!(
                "`--kernel ntkgp` is defined at t = inf only, but `--time {t}` was given \
                 (use --kernel ntk for the ensemble at finite times)"
            )));
        }
    }
    check_solver(args, &times)?;
    let net = read_network(&args.spec)?;
    let x_train = read_points("--train-x", &args.train_x, &net)?;
    let y_train = read_values("--train-y", &args.train_y)?;
    let x_test = read_points("--test-x", &args.test_x, &net)?;
    check_targets((&args.train_x, &x_train), (&args.train_y, &y_train))?;
    if x_test.ncols() != x_train.ncols() {
        return Err(Error::ShapeMismatch {
            what: format!("--test-x {}", args.test_x.display()),
            expected: format!(
                "{} columns, as --train-x {}",
                x_train.ncols(),
                args.train_x.display()
            ),
            found: format!("{} columns", x_test.ncols()),
        }
        .into());
    }
    let kind = match args.kernel {
        KernelArg::Nngp => Posterior::Kernel(KernelKind::Nngp),
        KernelArg::Ntk => Posterior::Kernel(KernelKind::Ntk),
        KernelArg::Ntkgp => Posterior::NtkGp,
    };
    let predictions = if args.solver == SolverArg::Dense {
        predict(&net, &x_train, &y_train, &x_test, kind, &times, args)?
    } else {
        vec![predict_iterative(
            &net, &x_train, &y_train, &x_test, kind, args,
        )?]
    };
    let out = args.out.as_deref();
    if let [g] = predictions.as_slice() {
        let output = Single {
            mean: Rows(&g.mean),
            cov: args.cov.then_some(Rows(&g.covariance)),
        };
        return Ok(write_output(out, &output)?);
    }
    let output = Path {
        times: Times(&times),
        mean: Stack(predictions.iter().map(|g| &g.mean).collect()),
        cov: args
            .cov
            .then(|| Stack(predictions.iter().map(|g| &g.covariance).collect())),
    };
    Ok(write_output(out, &output)?)
}

/// The library calls: one Gaussian over the test outputs per time.
fn predict(
    net: &ntk::Network,
    x_train: &DMatrix<f64>,
    y_train: &DMatrix<f64>,
    x_test: &DMatrix<f64>,
    posterior: Posterior,
    times: &[f64],
    args: &Args,
) -> ntk::Result<Vec<Gaussian>> {
    let reg = args.ridge.regularization();
    let train = TrainKernels::compute(net, x_train)?;
    let test = TestKernels::compute(net, x_test, x_train)?;
    match posterior {
        // A finite time (never with ntkgp, rejected when parsing): the dynamics.
        Posterior::Kernel(kind) if times.iter().any(|t| t.is_finite()) => {
            EnsembleDynamics::params()
                .learning_rate(args.learning_rate)
                .regularization(reg)
                .fit(&train, y_train)?
                .predict(kind, &test, times)
        }
        // t = ∞ only: Cholesky solves, no eigendecomposition.
        posterior => {
            let gp = GpInference::params()
                .regularization(reg)
                .fit(&train, y_train)?;
            Ok(vec![gp.predict(posterior, &test)?; times.len()])
        }
    }
}

/// The combinations of flags that the iterative solvers cannot serve (usage errors, exit code 2).
fn check_solver(args: &Args, times: &[f64]) -> Result<(), Failure> {
    let name = match args.solver {
        SolverArg::Dense => {
            if args.rank.is_some() || args.top.is_some() {
                return Err(Failure::Usage(
                    "`--rank` and `--top` apply to the iterative solvers (`--solver cg|eigenpro|falkon`)"
                        .into(),
                ));
            }
            return Ok(());
        }
        SolverArg::Cg => "cg",
        SolverArg::Eigenpro => "eigenpro",
        SolverArg::Falkon => "falkon",
    };
    if let Some(t) = times.iter().find(|t| t.is_finite()) {
        return Err(Failure::Usage(format!(
            "`--solver {name}` solves the ridge system at t = inf only, but `--time {t}` was given \
             (use --solver dense for finite times)"
        )));
    }
    if args.ridge.diag_reg == 0.0 {
        return Err(Failure::Usage(format!(
            "`--solver {name}` needs a ridge: give `--diag-reg λ` with λ > 0 (e.g. 1e-6), or use \
             --solver dense for ridgeless regression"
        )));
    }
    if args.solver == SolverArg::Falkon && args.cov {
        return Err(Failure::Usage(
            "`--solver falkon` gives the mean only; use --solver cg for `--cov`".into(),
        ));
    }
    if args.solver != SolverArg::Eigenpro && args.top.is_some() {
        return Err(Failure::Usage(
            "`--top` applies to `--solver eigenpro` only".into(),
        ));
    }
    if args.max_iter == 0 {
        return Err(Failure::Usage("`--max-iter` must be ≥ 1".into()));
    }
    Ok(())
}

/// A bar over the digits of residual reduction, from 1 to `tol`, with the time left; hidden when
/// stderr is not a terminal.
fn residual_bar(tol: f64) -> indicatif::ProgressBar {
    let digits = (-tol.log10()).max(1.0);
    let bar = indicatif::ProgressBar::new((digits * 100.0).ceil() as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} iteration {msg}, {elapsed} elapsed, about {eta} left",
    ) {
        bar.set_style(style);
    }
    bar
}

/// The iterative solvers at t = ∞: the mean (and, for cg and eigenpro, the covariance).
fn predict_iterative(
    net: &ntk::Network,
    x_train: &DMatrix<f64>,
    y_train: &DMatrix<f64>,
    x_test: &DMatrix<f64>,
    posterior: Posterior,
    args: &Args,
) -> ntk::Result<Gaussian> {
    let n = x_train.nrows();
    let reg = args.ridge.regularization();
    let op = KernelOperator::new(net, x_train, posterior.kernel())?;
    let bar = residual_bar(args.tol);
    let mut progress = |it: usize, res: f64| {
        bar.set_message(format!("{it}, residual {res:.1e}"));
        bar.set_position(((-res.log10()).max(0.0) * 100.0) as u64);
    };
    let result = match args.solver {
        SolverArg::Falkon => {
            let fit = Falkon::params()
                .regularization(reg)
                .centres(args.rank.unwrap_or(n.min(1000)))
                .seed(args.seed)
                .tol(args.tol)
                .max_iter(args.max_iter)
                .fit_with(op, y_train, &mut progress)?;
            let mean = fit.mean(x_test)?;
            let m = x_test.nrows();
            Ok(Gaussian {
                mean,
                covariance: DMatrix::zeros(m, m),
            })
        }
        solver => {
            let mut params = IterativeRegression::params()
                .regularization(reg)
                .centres(Centres::Uniform { seed: args.seed })
                .tol(args.tol)
                .max_iter(args.max_iter);
            let rank = args.rank.unwrap_or(n.min(200));
            params = params.rank(rank);
            if solver == SolverArg::Eigenpro {
                params = params.method(Method::EigenPro {
                    top: args.top.unwrap_or(rank / 2),
                });
            }
            let fit = params.fit_with(op, y_train, None, &mut progress)?;
            if args.cov {
                fit.predict(posterior, x_test)
            } else {
                let mean = fit.mean(x_test)?;
                let m = x_test.nrows();
                Ok(Gaussian {
                    mean,
                    covariance: DMatrix::zeros(m, m),
                })
            }
        }
    };
    bar.finish_and_clear();
    result
}
