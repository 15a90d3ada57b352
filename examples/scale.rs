//! Headline runs of the matrix-free solvers (issue 14): d = 100 Gaussian inputs, the depth-3 ReLU
//! NTK `[Dense(√2, 0.1), ReLU] × 3, Dense`, relative ridge 1e-3, targets y = f(x) + 0.1·noise with
//! f(x) = sin(uᵀx/√d) + ½(vᵀx/√d)² for fixed random u, v (seed 1).
//!
//! `cargo run --release --example scale -- --n 50000 --solver cg --rank 2000 --tol 1e-6`
//! `cargo run --release --example scale -- --n 200000 --solver falkon --rank 20000`
//!
//! Flags: `--n N` training points (default 10 000), `--solver cg|falkon|eigenpro|dense` (default
//! cg), `--rank m` (Nyström rank for cg/eigenpro, centres for falkon; default 1000), `--tol ε`
//! (default 1e-6), `--test T` held-out points (default 2000), `--d D` (default 100).
//!
//! Prints the set-up and per-iteration times, the iterations, the final relative residual, the
//! held-out RMSE and the process's peak resident memory (VmHWM); progress lines go to stderr.
//! Writes one CSV row per run to `target/figures/scale_runs.csv` (appended).

mod common;

use nalgebra::DMatrix;
use ntk::iterative::{Falkon, IterativeRegression, KernelOperator, Method, SolveReport};
use ntk::{GpInference, KernelKind, Network, Regularization};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::error::Error;
use std::io::Write;
use std::time::Instant;

/// The flag's value, parsed, or the default.
fn flag<T: std::str::FromStr>(name: &str, default: T) -> Result<T, Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a valid value").into()),
        None => Ok(default),
    }
}

/// Predictions, iterations, final residual and wall seconds per iteration of a solve that started
/// at `start`.
fn outcome(pred: DMatrix<f64>, r: &SolveReport, start: Instant) -> (DMatrix<f64>, usize, f64, f64) {
    let total = start.elapsed().as_secs_f64();
    (
        pred,
        r.iterations,
        r.residual,
        total / r.iterations.max(1) as f64,
    )
}

/// Peak resident memory of this process in MiB (Linux /proc), or NaN elsewhere.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// CPU time (user + system) of this process in seconds (Linux /proc, 100 ticks a second), or NaN:
/// on a shared machine it measures the work where wall time measures the contention.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name in parentheses: utime and stime are the 12th and 13th.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn main() -> Result<(), Box<dyn Error>> {
    let n: usize = flag("--n", 10_000)?;
    let d: usize = flag("--d", 100)?;
    let m: usize = flag("--rank", 1000)?;
    let tol: f64 = flag("--tol", 1e-6)?;
    let n_test: usize = flag("--test", 2000)?;
    let solver: String = flag("--solver", "cg".to_string())?;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut normal = |r: usize, c: usize| -> DMatrix<f64> {
        DMatrix::from_fn(r, c, |_, _| StandardNormal.sample(&mut rng))
    };
    let (u, v) = (normal(d, 1), normal(d, 1));
    let x = normal(n, d);
    let x_test = normal(n_test, d);
    let f = |x: &DMatrix<f64>| {
        let s = d as f64;
        let a = (x * &u) / s.sqrt();
        let b = (x * &v) / s.sqrt();
        a.map(f64::sin) + b.map(|t| 0.5 * t * t)
    };
    let y = f(&x) + normal(n, 1) * 0.1;
    let y_test = f(&x_test);
    let net = Network::mlp(3, ntk::Activation::Relu)
        .w_std(2f64.sqrt())
        .b_std(0.1)
        .build()?;
    let reg = Regularization::Relative(1e-3);
    eprintln!("n = {n}, d = {d}, solver {solver}, m = {m}, tol {tol:e}");
    let start = Instant::now();
    let cpu0 = cpu_seconds();
    let mut last = Instant::now();
    let mut progress = |it: usize, res: f64| {
        eprintln!(
            "  iteration {it}: residual {res:.2e} ({:.1} s, {:.1} s total, {:.1} s CPU)",
            last.elapsed().as_secs_f64(),
            start.elapsed().as_secs_f64(),
            cpu_seconds() - cpu0
        );
        last = Instant::now();
    };
    let op = KernelOperator::new(&net, &x, KernelKind::Ntk)?;
    let (pred, iterations, residual, per_iter) = match solver.as_str() {
        "falkon" => {
            let fit = Falkon::params()
                .regularization(reg)
                .centres(m)
                .tol(tol)
                .fit_with(op, &y, &mut progress)?;
            outcome(fit.mean(&x_test)?, fit.report(), start)
        }
        "cg" | "eigenpro" => {
            let mut p = IterativeRegression::params()
                .regularization(reg)
                .rank(m)
                .tol(tol)
                .max_iter(100_000);
            if solver == "eigenpro" {
                p = p.method(Method::EigenPro { top: m / 2 });
            }
            let fit = p.fit_with(op, &y, None, &mut progress)?;
            outcome(fit.mean(&x_test)?, fit.report(), start)
        }
        "dense" => {
            let gp = GpInference::params()
                .regularization(reg)
                .fit_points(&net, &x, &y)?;
            let mean = gp.predict_points(KernelKind::Ntk, &net, &x_test)?.mean;
            (mean, 0, 0.0, 0.0)
        }
        other => return Err(format!("unknown --solver {other}").into()),
    };
    let total = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let rmse = ((&pred - &y_test).norm_squared() / n_test as f64).sqrt();
    let rss = peak_rss_mib();
    println!(
        "n {n} d {d} solver {solver} m {m} tol {tol:e}: {iterations} iterations, residual {residual:.2e}, \
         total {total:.1} s wall, {cpu:.1} s CPU (incl. set-up; ≈ {per_iter:.2} s wall per iteration \
         averaged), held-out RMSE \
         {rmse:.4} (target std {:.4}), peak RSS {rss:.0} MiB",
        (y_test.norm_squared() / n_test as f64).sqrt()
    );
    let dir = common::out_dir()?;
    let path = dir.join("scale_runs.csv");
    let new = !path.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    if new {
        writeln!(
            file,
            "n,d,solver,m,tol,iterations,residual,seconds,cpu_seconds,rmse,peak_rss_mib"
        )?;
    }
    writeln!(
        file,
        "{n},{d},{solver},{m},{tol:e},{iterations},{residual:e},{total:.2},{cpu:.2},{rmse:.6},{rss:.0}"
    )?;
    Ok(())
}
