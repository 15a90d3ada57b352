//! J∞ of an autoencoder and its spectrum at MNIST size: n = 40 training points in ℝ⁷⁸⁴ (norm √784,
//! unit variance per pixel), one hidden layer (the paper's 2-layer network), σ_w = 1, no bias.

mod common;

use common::uniform;
use criterion::{Criterion, criterion_group, criterion_main};
use nalgebra::DMatrix;
use ntk::jacobian::{Spectrum, TrainedMap};
use ntk::{Activation, Network};
use std::hint::black_box;

fn data(n: usize, d: usize) -> DMatrix<f64> {
    let mut x = uniform(n, d, 0x2545_f491_4f6c_dd1d);
    for mut row in x.row_iter_mut() {
        let norm = row.norm();
        row *= (d as f64).sqrt() / norm;
    }
    x
}

fn bench(c: &mut Criterion) {
    let (n, d) = (40, 784);
    let x = data(n, d);
    let x0: Vec<f64> = x.row(0).iter().copied().collect();
    let mut group = c.benchmark_group("jacobian_n40_d784");
    group.sample_size(10);
    for (name, act) in [
        ("sigmoid_erf", Activation::SigmoidErf),
        ("sigmoid", Activation::Sigmoid),
    ] {
        let net = Network::mlp(1, act).w_std(1.0).width(1000).build().unwrap();
        group.bench_function(format!("{name}/fit"), |b| {
            b.iter(|| TrainedMap::params().autoencoder(&net, black_box(&x)))
        });
        let map = TrainedMap::params().autoencoder(&net, &x).unwrap();
        group.bench_function(format!("{name}/jacobian_at_one_point"), |b| {
            b.iter(|| map.jacobian(black_box(&x0)).unwrap())
        });
        group.bench_function(format!("{name}/jacobian_and_spectrum_at_all_40"), |b| {
            b.iter(|| {
                (0..n)
                    .map(|i| {
                        let xi: Vec<f64> = x.row(i).iter().copied().collect();
                        map.jacobian_spectrum(&xi).unwrap().spectral_radius()
                    })
                    .fold(0.0, f64::max)
            })
        });
    }
    let net = Network::mlp(1, Activation::SigmoidErf)
        .w_std(1.0)
        .width(1000)
        .build()
        .unwrap();
    let map = TrainedMap::params().autoencoder(&net, &x).unwrap();
    let j = map.jacobian(&x0).unwrap();
    group.bench_function("dense_spectrum_784", |b| {
        b.iter(|| Spectrum::of(black_box(&j)).unwrap())
    });
    group.bench_function("low_rank_spectrum_784", |b| {
        b.iter(|| map.jacobian_spectrum(black_box(&x0)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
