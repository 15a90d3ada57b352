//! `cargo bench --bench finite`: finite-width networks, ReLU, σ_w = √2, σ_b = 0.1, ntk
//! parameterization, uniform inputs in [−½, ½]^100:
//! * `sample`: drawing a depth-3 width-1024 network (2.2 M Gaussian parameters, ChaCha8);
//! * `empirical_ntk`: empirical NNGP and NTK (and the readout-integrated NNGP) of that network on
//!   1000 points, forward pass and layerwise backpropagation included (1000 × 1000 outputs);
//! * `monte_carlo`: 100 independent depth-2 width-512 networks on 100 points, drawn and evaluated in
//!   parallel, running mean and variance of all three kernels;
//! * `train_steps`: 100 full-batch gradient-descent steps of the depth-3 width-1024 network on
//!   100 points.

mod common;

use common::uniform;
use criterion::{Criterion, criterion_group, criterion_main};
use ntk::finite::{FiniteNetwork, LossNormalization, MonteCarlo, TrainConfig};
use ntk::{Activation, Kernel, Network};
use std::hint::black_box;
use std::time::Duration;

fn spec(depth: usize, width: usize) -> Network {
    Network::mlp(depth, Activation::Relu)
        .w_std(2f64.sqrt())
        .b_std(0.1)
        .width(width)
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("finite");
    g.measurement_time(Duration::from_secs(20));
    let deep = spec(3, 1024);
    g.bench_function("sample/depth3_w1024_d100", |b| {
        b.iter(|| {
            FiniteNetwork::builder(black_box(&deep), 100)
                .seed(1)
                .build()
                .unwrap()
        })
    });
    let net = FiniteNetwork::builder(&deep, 100).seed(1).build().unwrap();
    let x = uniform(1000, 100, 7);
    g.bench_function("empirical_ntk/depth3_w1024_n1000_d100", |b| {
        b.iter(|| net.empirical_kernels(black_box(&x), None).unwrap())
    });
    let mc = MonteCarlo::new(&FiniteNetwork::builder(&spec(2, 512), 100).seed(3)).unwrap();
    let x100 = uniform(100, 100, 9);
    g.bench_function("monte_carlo/100_samples_depth2_w512_n100_d100", |b| {
        b.iter(|| mc.estimate(black_box(&x100), None, &[100]).unwrap())
    });
    let y = uniform(100, 1, 11);
    // Half the largest stable rate of the infinite network, 2N/λ_max(Θ).
    let lr = 0.5 * ntk::max_learning_rate(&deep.gram(&x100).unwrap().ntk, 100).unwrap();
    let cfg = TrainConfig {
        learning_rate: lr,
        max_steps: 100,
        loss_threshold: 0.0,
        loss: LossNormalization::PerEntry,
    };
    g.bench_function("train_steps/100_steps_depth3_w1024_n100_d100", |b| {
        b.iter(|| {
            let mut n = net.clone();
            n.train(black_box(&x100), &y, &cfg).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
