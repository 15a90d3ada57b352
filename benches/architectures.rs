//! `cargo bench --bench architectures`: the full n × n NNGP + NTK of the issue's convolutional
//! network — two 3 × 3 "same" convolutions with ReLU (σ_w = √2, σ_b = 0.1) on 8 × 8 × 1 inputs,
//! read out by global average pooling or by flatten, then Dense — at n = 100, 250 and 500
//! (neural-tangents: 9.6 s and 43 s at n = 100 and 250, out of memory at 500;
//! `benches/side_by_side_cnn.py` times both in one run).

mod common;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ntk::{Kernel, Network};
use std::hint::black_box;
use std::time::Duration;

/// The network, with `readout` = "global_avg_pool" or "flatten".
pub fn cnn(readout: &str) -> Network {
    let w = 2f64.sqrt();
    let conv = format!(
        r#"{{"conv": {{"w_std": {w}, "b_std": 0.1, "filter_shape": [3, 3], "padding": "same"}}}}"#
    );
    Network::from_json(&format!(
        r#"{{"input_shape": [8, 8, 1], "layers": [{conv}, {{"relu": {{}}}}, {conv}, {{"relu": {{}}}},
        {{"{readout}": {{}}}}, {{"dense": {{"w_std": {w}, "b_std": 0.1}}}}]}}"#
    ))
    .expect("a valid spec")
}

fn gram(c: &mut Criterion) {
    let mut g = c.benchmark_group("cnn_gram");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for readout in ["global_avg_pool", "flatten"] {
        let net = cnn(readout);
        for n in [100, 250, 500] {
            let x = common::uniform(n, 64, 17);
            g.bench_with_input(BenchmarkId::new(readout, n), &x, |b, x| {
                b.iter(|| black_box(net.gram(x).unwrap()))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, gram);
criterion_main!(benches);
