//! `cargo bench --bench predict`: kernel regression with a depth-3 ReLU network (σ_w = √2, σ_b = 0.1),
//! d = 100, 500 test points, relative ridge 1e-4, on precomputed kernels unless stated:
//! * `solve`: Cholesky of the n × n NTK + solve for k = 1 or 10 outputs;
//! * `gp`: GP inference (t = ∞) with the NTK, mean and test covariance;
//! * `ensemble`: finite-time NTK ensemble mean and covariance at 5 times (one eigendecomposition);
//! * `end_to_end`: including the kernels (n = 2000), the two prediction rows of
//!   `benches/speed_table.py`: GP inference at t = ∞ with the NNGP and the NTK, mean and covariance
//!   (neural-tangents' `gradient_descent_mse_ensemble(t=None, get=('nngp', 'ntk'),
//!   compute_cov=True)`), and the NTK ensemble at 5 times with covariance.

mod common;

use common::uniform;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ntk::{
    Activation, EnsembleDynamics, GpInference, KernelKind, KernelSolver, Network, Regularization,
    TestKernels, TrainKernels,
};
use std::hint::black_box;
use std::time::Duration;

fn net() -> Network {
    Network::mlp(3, Activation::Relu)
        .w_std(2f64.sqrt())
        .b_std(0.1)
        .build()
        .unwrap()
}

const REG: Regularization = Regularization::Relative(1e-4);
const TIMES: [f64; 5] = [1.0, 10.0, 100.0, 1000.0, f64::INFINITY];

fn regression(c: &mut Criterion) {
    let net = net();
    let x_test = uniform(500, 100, 7);
    for (group, run) in [("solve", 0), ("gp", 1), ("ensemble", 2)] {
        let mut g = c.benchmark_group(format!("predict_{group}"));
        g.sample_size(10).measurement_time(Duration::from_secs(5));
        for n in [1000, 2000, 4000] {
            let x = uniform(n, 100, 1);
            let train = TrainKernels::compute(&net, &x).unwrap();
            let test = TestKernels::compute(&net, &x_test, &x).unwrap();
            for k in [1, 10] {
                let y = uniform(n, k, 3);
                g.bench_function(BenchmarkId::new(format!("k{k}"), n), |b| {
                    b.iter(|| match run {
                        0 => {
                            let s = KernelSolver::params()
                                .regularization(REG)
                                .fit(&train.ntk)
                                .unwrap();
                            black_box(s.solve(&y).unwrap());
                        }
                        1 => {
                            let gp = GpInference::params()
                                .regularization(REG)
                                .fit(&train, &y)
                                .unwrap();
                            black_box(gp.predict(KernelKind::Ntk, &test).unwrap());
                        }
                        _ => {
                            let e = EnsembleDynamics::params()
                                .learning_rate(1.0)
                                .regularization(REG)
                                .fit(&train, &y)
                                .unwrap();
                            black_box(e.predict(KernelKind::Ntk, &test, &TIMES).unwrap());
                        }
                    })
                });
            }
        }
        g.finish();
    }
}

fn end_to_end(c: &mut Criterion) {
    let net = net();
    let x = uniform(2000, 100, 1);
    let x_test = uniform(500, 100, 7);
    let y = uniform(2000, 1, 3);
    let mut g = c.benchmark_group("predict_end_to_end");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("gp_nngp_ntk_cov_n2000", |b| {
        b.iter(|| {
            let train = TrainKernels::compute(&net, &x).unwrap();
            let test = TestKernels::compute(&net, &x_test, &x).unwrap();
            let gp = GpInference::params()
                .regularization(REG)
                .fit(&train, &y)
                .unwrap();
            black_box(gp.predict(KernelKind::Nngp, &test).unwrap());
            black_box(gp.predict(KernelKind::Ntk, &test).unwrap());
        })
    });
    g.bench_function("ensemble_ntk_5_times_n2000", |b| {
        b.iter(|| {
            let e = EnsembleDynamics::params()
                .learning_rate(1.0)
                .regularization(REG)
                .fit_points(&net, &x, &y)
                .unwrap();
            black_box(
                e.predict_points(KernelKind::Ntk, &net, &x_test, &TIMES)
                    .unwrap(),
            );
        })
    });
    g.finish();
}

criterion_group!(benches, end_to_end, regression);
criterion_main!(benches);
