//! Kernel-regression classification of the 8 × 8 digits with the NNGP and NTK of a fully connected
//! network and of two convolutional networks (the CNTK), as the training set grows.
//!
//! `cargo run --release --example digits`
//!
//! The protocol is fixed so that the numbers compare with neural-tangents' on the same split
//! (`data/digits.csv.gz`, `data/README.md`):
//!
//! * pixels / 16, then each image centred and scaled to unit mean square;
//! * the first N images train (N = 250, 500, 1000) and the next 250 test;
//! * targets one-hot − 0.1; the predicted class is the largest posterior mean;
//! * ridge `Regularization::Relative(1e-6)` (neural-tangents' `diag_reg = 1e-6`);
//! * σ_w = √2, σ_b = 0.1 in every affine layer, ntk parameterization.
//!
//! The networks: the MLP `[Dense, ReLU] × 3, Dense` on the 64 pixels; the CNTK `[Conv 3×3 same,
//! ReLU] × 2` on 8 × 8 × 1 images, read out through `flatten` or `global_avg_pool` and a Dense layer.
//! With 250 training images neural-tangents gets 0.864 (NNGP) and 0.868 (NTK) for the MLP.
//!
//! Prints the accuracy and time table, and writes `target/figures/digits_accuracy.{csv,svg}`.

mod common;

use common::Series;
use nalgebra::DMatrix;
use ntk::{GpInference, KernelKind, Network, Regularization, TestKernels, TrainKernels};
use std::error::Error;
use std::time::Instant;

fn networks() -> Result<Vec<(&'static str, Network)>, ntk::Error> {
    let cnn = |readout: &str| {
        Network::from_json(&format!(
            r#"{{"input_shape": [8, 8, 1], "layers": [
            {{"conv": {{"w_std": {w}, "b_std": 0.1, "filter_shape": [3, 3], "padding": "same"}}}},
            {{"relu": {{}}}},
            {{"conv": {{"w_std": {w}, "b_std": 0.1, "filter_shape": [3, 3], "padding": "same"}}}},
            {{"relu": {{}}}},
            {{"{readout}": {{}}}},
            {{"dense": {{"w_std": {w}, "b_std": 0.1}}}}]}}"#,
            w = 2f64.sqrt()
        ))
    };
    Ok(vec![
        (
            "MLP",
            Network::mlp(3, ntk::Activation::Relu)
                .w_std(2f64.sqrt())
                .b_std(0.1)
                .build()?,
        ),
        ("CNTK flatten", cnn("flatten")?),
        ("CNTK GAP", cnn("global_avg_pool")?),
    ])
}

fn accuracy(mean: &DMatrix<f64>, labels: &[usize]) -> f64 {
    let hits = (0..mean.nrows())
        .filter(|&i| mean.row(i).transpose().argmax().0 == labels[i])
        .count();
    hits as f64 / labels.len() as f64
}

fn main() -> Result<(), Box<dyn Error>> {
    let (x, labels) = common::digits()?;
    let sizes = [250, 500, 1000];
    let mut rows = Vec::new();
    let mut series: Vec<Series> = Vec::new();
    println!("| network | N | NNGP accuracy | NTK accuracy | kernels (s) | solve (s) |");
    println!("|---|---|---|---|---|---|");
    for (name, net) in networks()? {
        let (mut nngp_pts, mut ntk_pts) = (Vec::new(), Vec::new());
        for &n in &sizes {
            let x_train = x.rows(0, n).into_owned();
            let x_test = x.rows(n, 250).into_owned();
            let y = DMatrix::from_fn(n, 10, |i, c| f64::from(labels[i] == c) - 0.1);
            let test_labels = &labels[n..n + 250];
            eprintln!("{name}, N = {n}: kernels of {n} + 250 images …");
            let t0 = Instant::now();
            let train = TrainKernels::compute(&net, &x_train)?;
            let test = TestKernels::compute(&net, &x_test, &x_train)?;
            let t_kernels = t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            let gp = GpInference::params()
                .regularization(Regularization::Relative(1e-6))
                .fit(&train, &y)?;
            let nngp = accuracy(&gp.predict(KernelKind::Nngp, &test)?.mean, test_labels);
            let ntk = accuracy(&gp.predict(KernelKind::Ntk, &test)?.mean, test_labels);
            let t_solve = t1.elapsed().as_secs_f64();
            println!("| {name} | {n} | {nngp:.3} | {ntk:.3} | {t_kernels:.2} | {t_solve:.2} |");
            rows.push(vec![n as f64, nngp, ntk, t_kernels, t_solve]);
            nngp_pts.push((n as f64, nngp));
            ntk_pts.push((n as f64, ntk));
        }
        series.push(Series {
            label: format!("{name} NNGP"),
            points: nngp_pts,
        });
        series.push(Series {
            label: format!("{name} NTK"),
            points: ntk_pts,
        });
    }
    let dir = common::out_dir()?;
    common::write_csv(
        &dir.join("digits_accuracy.csv"),
        "n_train,nngp_accuracy,ntk_accuracy,kernel_seconds,solve_seconds (rows: MLP, CNTK flatten, CNTK GAP)",
        &rows,
    )?;
    let svg = dir.join("digits_accuracy.svg");
    common::line_plot(
        &svg,
        "8×8 digits: test accuracy (250 images) against training-set size",
        ("training images", "accuracy"),
        &series,
        true,
        &[],
    )?;
    println!("\nwrote {} and digits_accuracy.csv", svg.display());
    Ok(())
}
