//! Regression and classification with infinitely wide networks: kernel regression with the NNGP and
//! the NTK ([`GpInference`], t = ∞) and the trained infinite ensemble at finite times
//! ([`EnsembleDynamics`]).
//!
//! `cargo run --release --example regression`
//!
//! (a) The 1-D function g(x) = x + sin(10x) from 20 training points in [−1, 1]; test RMSE on a grid
//! of 201 points. (b) Two interleaved half-moons with ±1 labels; test accuracy of the sign of the
//! mean.
//!
//! The function in (a) is that of Example 3 in Radhakrishnan's lecture notes "NTK Origin and
//! Derivation" (Lecture 5, 2022), which fits 15 uniform points on [−1, 1] with one-hidden-layer ReLU
//! networks √(2/k)·Aφ(Bx) (no bias, the raw scalar as input) trained by gradient descent, against the
//! NTK on 1000 evenly spaced points. The setup here differs: 20 points, a depth-2 ReLU network with
//! σ_w = √2 and σ_b = 0.1, each x embedded as (x, 1) (below), 201 test points, and infinite-width
//! predictors only (NNGP posterior, NTK ensemble at t = ∞ and at finite times).
//!
//! Every scalar input x is embedded as the 2-D point (x, 1) (and every 2-D point (u, v) as (u, v, 1)).
//! The kernel of a fully connected network depends on its inputs only through their norms and the
//! angle between them (plus the bias variance). For raw scalars, all positive x point in the same
//! direction and all negative x in the opposite one, so apart from the bias term the first layer sees
//! just |x| and a sign — the network could resolve position only through the (small) bias. With the
//! constant coordinate the angle between (x, 1) and (x', 1) changes continuously with x − x', so the
//! kernel "sees" where a point lies and can follow the oscillation; the 1 acts as an input-level bias
//! of the same scale as the data.

use nalgebra::DMatrix;
use ntk::{
    Activation, EnsembleDynamics, GpInference, KernelKind, Network, Regularization, TestKernels,
    TrainKernels,
};
use std::time::Instant;

/// xorshift64: a deterministic, dependency-free stream of uniforms.
struct Rng(u64);

impl Rng {
    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform(); // (0, 1]
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn target(x: f64) -> f64 {
    x + (10.0 * x).sin()
}

/// Points as rows with a constant 1 appended (see the module comment).
fn embed(points: &[Vec<f64>]) -> DMatrix<f64> {
    let d = points[0].len() + 1;
    DMatrix::from_fn(points.len(), d, |i, j| {
        points[i].get(j).copied().unwrap_or(1.0)
    })
}

fn rmse(pred: &DMatrix<f64>, truth: &DMatrix<f64>) -> f64 {
    ((pred - truth).norm_squared() / pred.len() as f64).sqrt()
}

fn accuracy(pred: &DMatrix<f64>, labels: &DMatrix<f64>) -> f64 {
    let hits = pred
        .iter()
        .zip(labels.iter())
        .filter(|(p, l)| p.signum() == l.signum())
        .count();
    hits as f64 / pred.len() as f64
}

fn time_label(t: f64) -> String {
    if t.is_infinite() {
        "∞".into()
    } else {
        format!("{t:.0e}")
    }
}

/// n points of two interleaved half-moons with Gaussian noise; labels ±1 (one output column).
fn moons(n: usize, noise: f64, rng: &mut Rng) -> (Vec<Vec<f64>>, DMatrix<f64>) {
    let mut points = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let upper = i % 2 == 0;
        let s = std::f64::consts::PI * rng.uniform();
        let (x, y) = if upper {
            (s.cos(), s.sin())
        } else {
            (1.0 - s.cos(), 0.5 - s.sin())
        };
        // Centre the data around the origin so that the constant coordinate matters as in (a).
        points.push(vec![
            x - 0.5 + noise * rng.normal(),
            y - 0.25 + noise * rng.normal(),
        ]);
        labels.push(if upper { 1.0 } else { -1.0 });
    }
    (points, DMatrix::from_column_slice(n, 1, &labels))
}

fn main() -> ntk::Result<()> {
    let start = Instant::now();
    // A depth-2 ReLU network (two hidden layers) in NTK parameterization; He-scaled weights.
    let net = Network::mlp(2, Activation::Relu)
        .w_std(2f64.sqrt())
        .b_std(0.1)
        .build()?;
    let reg = Regularization::Relative(1e-6);
    let times = [0.0, 1e1, 1e2, 1e3, 1e4, 1e5, f64::INFINITY];

    // (a) 1-D regression of g(x) = x + sin(10x).
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let n_train = 20;
    let xs: Vec<Vec<f64>> = (0..n_train)
        .map(|_| vec![2.0 * rng.uniform() - 1.0])
        .collect();
    let grid: Vec<Vec<f64>> = (0..201).map(|i| vec![-1.0 + i as f64 / 100.0]).collect();
    let (x_train, x_test) = (embed(&xs), embed(&grid));
    let y_train = DMatrix::from_fn(n_train, 1, |i, _| target(xs[i][0]));
    let y_test = DMatrix::from_fn(grid.len(), 1, |i, _| target(grid[i][0]));

    let train = TrainKernels::compute(&net, &x_train)?;
    let test = TestKernels::compute(&net, &x_test, &x_train)?;
    let gp = GpInference::params()
        .regularization(reg)
        .fit(&train, &y_train)?;
    let nngp = gp.predict(KernelKind::Nngp, &test)?;
    let ntk = gp.predict(KernelKind::Ntk, &test)?;
    let dynamics = EnsembleDynamics::params()
        .learning_rate(1.0)
        .regularization(reg)
        .fit(&train, &y_train)?;
    let path = dynamics.predict(KernelKind::Ntk, &test, &times)?;
    let train_path = dynamics.predict_train(KernelKind::Ntk, &times)?;

    println!("(a) g(x) = x + sin(10x): {n_train} training points in [-1, 1], 201 test points");
    println!("    depth-2 ReLU network, inputs (x, 1), diag_reg relative 1e-6, learning rate 1");
    println!();
    println!(
        "    {:<22} {:>10} {:>10} {:>9}",
        "model", "test RMSE", "train RMSE", "mean sd"
    );
    let sd = |c: &DMatrix<f64>| (c.diagonal().sum() / c.nrows() as f64).max(0.0).sqrt();
    println!(
        "    {:<22} {:>10.4} {:>10} {:>9.4}",
        "NNGP posterior (t=∞)",
        rmse(&nngp.mean, &y_test),
        "-",
        sd(&nngp.covariance)
    );
    println!(
        "    {:<22} {:>10.4} {:>10} {:>9.4}",
        "NTK ensemble (t=∞)",
        rmse(&ntk.mean, &y_test),
        "-",
        sd(&ntk.covariance)
    );
    for ((t, g), g_train) in times.iter().zip(&path).zip(&train_path) {
        println!(
            "    {:<22} {:>10.4} {:>10.4} {:>9.4}",
            format!("NTK ensemble t={}", time_label(*t)),
            rmse(&g.mean, &y_test),
            rmse(&g_train.mean, &y_train),
            sd(&g.covariance)
        );
    }
    println!(
        "    (t = 0 is the untrained prior: zero mean. The ReLU NTK also contains the order-0"
    );
    println!(
        "    arc-cosine kernel of the step φ', rougher than the NNGP's order-1 kernel, so its"
    );
    println!("    interpolant between the randomly spaced training points is less smooth.)");
    println!();

    // (b) Classification of two half-moons, ±1 targets, sign of the NTK mean.
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let (train_pts, labels_train) = moons(60, 0.15, &mut rng);
    let (test_pts, labels_test) = moons(400, 0.15, &mut rng);
    let (x_train, x_test) = (embed(&train_pts), embed(&test_pts));
    let train = TrainKernels::compute(&net, &x_train)?;
    let test = TestKernels::compute(&net, &x_test, &x_train)?;
    let gp = GpInference::params()
        .regularization(reg)
        .fit(&train, &labels_train)?;
    let nngp = gp.predict(KernelKind::Nngp, &test)?;
    let dynamics = EnsembleDynamics::params()
        .learning_rate(1.0)
        .regularization(reg)
        .fit(&train, &labels_train)?;
    let path = dynamics.predict(KernelKind::Ntk, &test, &times)?;
    let train_path = dynamics.predict_train(KernelKind::Ntk, &times)?;

    println!("(b) two half-moons (noise 0.15): 60 training, 400 test points, labels ±1");
    println!();
    println!("    {:<22} {:>9} {:>9}", "model", "test acc", "train acc");
    println!(
        "    {:<22} {:>9.3} {:>9}",
        "NNGP posterior (t=∞)",
        accuracy(&nngp.mean, &labels_test),
        "-"
    );
    for ((t, g), g_train) in times.iter().zip(&path).zip(&train_path) {
        if *t == 0.0 {
            continue; // zero mean: no sign
        }
        println!(
            "    {:<22} {:>9.3} {:>9.3}",
            format!("NTK ensemble t={}", time_label(*t)),
            accuracy(&g.mean, &labels_test),
            accuracy(&g_train.mean, &labels_train)
        );
    }
    println!();
    println!("done in {:.0} ms", start.elapsed().as_secs_f64() * 1e3);
    Ok(())
}
