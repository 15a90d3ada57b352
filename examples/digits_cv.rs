//! All 1797 8 × 8 digits: 10-fold cross-validated accuracy of NTK kernel regression, solved densely
//! (Cholesky, `GpInference`) and iteratively (Nyström-preconditioned CG, `ntk::iterative`), and the
//! agreement of the two.
//!
//! `cargo run --release --example digits_cv`
//!
//! Protocol as in the `digits` example (`data/README.md`): pixels / 16, each image centred and
//! scaled to unit mean square; targets one-hot − 0.1; the predicted class is the largest mean;
//! `[Dense, ReLU] × 3, Dense` with σ_w = √2, σ_b = 0.1; ridge `Regularization::Relative(1e-6)`.
//! Folds: a ChaCha8 permutation (seed 0) of the images, fold f = positions ≡ f (mod 10). CG uses a
//! rank-500 Nyström preconditioner and stops at relative residual 1e-10.
//!
//! Prints one line per fold (accuracies, CG iterations, the largest relative difference of the test
//! means) and the totals; writes `target/figures/digits_cv.{csv,svg}` (iterations per fold's
//! residual history).

mod common;

use common::Series;
use nalgebra::DMatrix;
use ntk::iterative::{IterativeRegression, KernelOperator};
use ntk::{GpInference, KernelKind, Network, Regularization};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::error::Error;
use std::time::Instant;

fn accuracy(mean: &DMatrix<f64>, labels: &[usize]) -> usize {
    (0..mean.nrows())
        .filter(|&i| mean.row(i).transpose().argmax().0 == labels[i])
        .count()
}

fn main() -> Result<(), Box<dyn Error>> {
    let (x, labels) = common::digits()?;
    let n = x.nrows();
    let net = Network::mlp(3, ntk::Activation::Relu)
        .w_std(2f64.sqrt())
        .b_std(0.1)
        .build()?;
    let reg = Regularization::Relative(1e-6);
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut ChaCha8Rng::seed_from_u64(0));
    let (mut hits_dense, mut hits_cg, mut worst) = (0, 0, 0.0f64);
    let (mut t_dense, mut t_cg) = (0.0, 0.0);
    let mut rows = Vec::new();
    let mut series = Vec::new();
    println!(
        "| fold | n_test | dense accuracy | CG accuracy | CG iterations | max rel. diff of means | dense (s) | CG (s) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for fold in 0..10 {
        let test: Vec<usize> = (0..n).filter(|p| p % 10 == fold).map(|p| perm[p]).collect();
        let train: Vec<usize> = (0..n).filter(|p| p % 10 != fold).map(|p| perm[p]).collect();
        let pick = |idx: &[usize]| DMatrix::from_fn(idx.len(), 64, |i, j| x[(idx[i], j)]);
        let (x_train, x_test) = (pick(&train), pick(&test));
        let y = DMatrix::from_fn(train.len(), 10, |i, c| {
            f64::from(labels[train[i]] == c) - 0.1
        });
        let test_labels: Vec<usize> = test.iter().map(|&i| labels[i]).collect();

        let t0 = Instant::now();
        let gp = GpInference::params()
            .regularization(reg)
            .fit_points(&net, &x_train, &y)?;
        let dense = gp.predict_points(KernelKind::Ntk, &net, &x_test)?.mean;
        let td = t0.elapsed().as_secs_f64();

        let t1 = Instant::now();
        let op = KernelOperator::new(&net, &x_train, KernelKind::Ntk)?;
        let fit = IterativeRegression::params()
            .regularization(reg)
            .rank(500)
            .tol(1e-10)
            .max_iter(5000)
            .fit(op, &y)?;
        let iterative = fit.mean(&x_test)?;
        let tc = t1.elapsed().as_secs_f64();

        let diff = (&iterative - &dense).amax() / dense.amax();
        let (hd, hc) = (
            accuracy(&dense, &test_labels),
            accuracy(&iterative, &test_labels),
        );
        let it = fit.report().iterations;
        println!(
            "| {fold} | {} | {:.4} | {:.4} | {it} | {diff:.1e} | {td:.2} | {tc:.2} |",
            test.len(),
            hd as f64 / test.len() as f64,
            hc as f64 / test.len() as f64
        );
        rows.push(vec![
            fold as f64,
            hd as f64 / test.len() as f64,
            hc as f64 / test.len() as f64,
            it as f64,
            diff,
            td,
            tc,
        ]);
        series.push(Series {
            label: format!("fold {fold}"),
            points: fit
                .report()
                .residuals
                .iter()
                .enumerate()
                .map(|(i, r)| ((i + 1) as f64, r.log10()))
                .collect(),
        });
        hits_dense += hd;
        hits_cg += hc;
        worst = worst.max(diff);
        t_dense += td;
        t_cg += tc;
    }
    println!(
        "\n10-fold accuracy: dense {:.4}, CG {:.4}; largest relative difference of the means {worst:.1e} \
         (target ≤ 1e-6); time dense {t_dense:.1} s, CG {t_cg:.1} s",
        hits_dense as f64 / n as f64,
        hits_cg as f64 / n as f64
    );
    let dir = common::out_dir()?;
    common::write_csv(
        &dir.join("digits_cv.csv"),
        "fold,dense_accuracy,cg_accuracy,cg_iterations,max_rel_diff,dense_seconds,cg_seconds",
        &rows,
    )?;
    let svg = dir.join("digits_cv.svg");
    common::line_plot(
        &svg,
        "digits, 10 folds: CG relative residual (Nyström m = 500)",
        ("iteration", "log10 relative residual"),
        &series,
        false,
        &[],
    )?;
    println!("wrote {} and digits_cv.csv", svg.display());
    if worst > 1e-6 {
        return Err(format!("dense and CG means differ by {worst:.1e} > 1e-6").into());
    }
    Ok(())
}
