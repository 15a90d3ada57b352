//! `cargo bench --bench kernels`: the full n×n NNGP + NTK Gram matrices (both at once), d = 100,
//! 'ntk' parameterization, as in neural-tangents' benchmark (`shared/reference/bench_nt.py`):
//! depth-3 ReLU (σ_w = √2, σ_b = 0.1), Erf and GELU (σ_w = 1.5, σ_b = 0.1) at
//! n ∈ {500, 1000, 2000, 4000}, ReLU and Erf at depth ∈ {1, 3, 10, 30, 100} at n = 2000; and a
//! quadrature dual (tanh, by the Mehler series of docs/quadrature.md) against the closed-form GELU
//! on the same depth-3 network (σ_w = 1.5, σ_b = 0.1) at n = 1000.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use nalgebra::DMatrix;
use ntk::{Activation, Kernel, Network};
use std::hint::black_box;
use std::time::Duration;

/// Deterministic N(0, 1)-ish inputs (xorshift + sum of uniforms); the kernel cost does not depend on them.
fn inputs(n: usize, d: usize) -> DMatrix<f64> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    DMatrix::from_fn(n, d, |_, _| (0..12).map(|_| uniform()).sum::<f64>() - 6.0)
}

fn nets() -> [(&'static str, Activation, f64); 2] {
    [
        ("relu", Activation::Relu, 2f64.sqrt()),
        (
            "erf",
            Activation::Erf {
                a: 1.0,
                b: 1.0,
                c: 0.0,
            },
            1.5,
        ),
    ]
}

fn by_size(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernels_depth3");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    let gelu = ("gelu", Activation::Gelu, 1.5);
    for (name, act, w) in nets().into_iter().chain([gelu]) {
        let net = Network::mlp(3, act).w_std(w).b_std(0.1).build().unwrap();
        for n in [500, 1000, 2000, 4000] {
            let x = inputs(n, 100);
            g.bench_with_input(BenchmarkId::new(name, n), &x, |b, x| {
                b.iter(|| black_box(net.gram(x).unwrap()))
            });
        }
    }
    g.finish();
}

fn by_depth(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernels_n2000");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    let x = inputs(2000, 100);
    for (name, act, w) in nets() {
        for depth in [1, 3, 10, 30, 100] {
            let net = Network::mlp(depth, act.clone())
                .w_std(w)
                .b_std(0.1)
                .build()
                .unwrap();
            g.bench_with_input(BenchmarkId::new(name, depth), &x, |b, x| {
                b.iter(|| black_box(net.gram(x).unwrap()))
            });
        }
    }
    g.finish();
}

fn quadrature(c: &mut Criterion) {
    let mut g = c.benchmark_group("quadrature_depth3");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    let x = inputs(1000, 100);
    for (name, act) in [("tanh", Activation::Tanh), ("gelu", Activation::Gelu)] {
        let net = Network::mlp(3, act).w_std(1.5).b_std(0.1).build().unwrap();
        g.bench_with_input(BenchmarkId::new(name, 1000), &x, |b, x| {
            b.iter(|| black_box(net.gram(x).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, by_size, by_depth, quadrature);
criterion_main!(benches);
