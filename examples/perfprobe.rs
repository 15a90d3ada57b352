//! Steering-side timing probe of the ntk crate (copied into a checkout's examples/ by side_by_side.py).
//! Usage: perfprobe kernel ACT N DEPTH REPS | predict_inf N NTEST REPS | predict_t N NTEST REPS
//! Prints one JSON line: {"runs": [seconds...]}.
use nalgebra::DMatrix;
use ntk::{
    Activation, EnsembleDynamics, GpInference, Kernel, KernelKind, Network, Regularization,
    TestKernels,
};
use std::hint::black_box;
use std::time::Instant;

fn normal(n: usize, d: usize, seed: u64) -> DMatrix<f64> {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    DMatrix::from_fn(n, d, |_, _| {
        let (u1, u2) = (next().max(1e-300), next());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    })
}

fn net(act: &str, depth: usize) -> Network {
    let (w, a) = match act {
        "relu" => (2f64.sqrt(), Activation::Relu),
        "erf" => (
            1.5,
            Activation::Erf {
                a: 1.0,
                b: 1.0,
                c: 0.0,
            },
        ),
        "tanh" => (1.5, Activation::Tanh),
        "sigmoid" => (1.5, Activation::Sigmoid),
        "gelu" => (1.5, Activation::Gelu),
        other => panic!("unknown activation {other}"),
    };
    let mut b = Network::builder();
    for _ in 0..depth {
        b = b.dense(w, Some(0.1)).activation(a.clone());
    }
    b.dense(w, Some(0.1)).build().unwrap()
}

fn time<F: FnMut()>(reps: usize, mut f: F) -> Vec<f64> {
    f(); // warm
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let runs = match a[1].as_str() {
        "kernel" => {
            let (n, depth, reps) = (
                a[3].parse().unwrap(),
                a[4].parse().unwrap(),
                a[5].parse().unwrap(),
            );
            let net = net(&a[2], depth);
            let x = normal(n, 100, 1);
            time(reps, || {
                black_box(net.gram(&x).unwrap());
            })
        }
        "predict_inf" | "predict_t" => {
            let (n, m, reps) = (
                a[2].parse().unwrap(),
                a[3].parse().unwrap(),
                a[4].parse().unwrap(),
            );
            let net = net("relu", 3);
            let x = normal(n, 100, 1);
            let xt = normal(m, 100, 2);
            let y = x.columns(0, 1).map(f64::sin);
            let reg = Regularization::Relative(1e-4);
            if a[1] == "predict_inf" {
                time(reps, || {
                    let gp = GpInference::params()
                        .regularization(reg)
                        .fit_points(&net, &x, &y)
                        .unwrap();
                    let test = TestKernels::compute(&net, &xt, &x).unwrap();
                    black_box(gp.predict(KernelKind::Nngp, &test).unwrap());
                    black_box(gp.predict(KernelKind::Ntk, &test).unwrap());
                })
            } else {
                let times = [1.0, 10.0, 100.0, 1000.0, f64::INFINITY];
                time(reps, || {
                    let e = EnsembleDynamics::params()
                        .learning_rate(1.0)
                        .regularization(reg)
                        .fit_points(&net, &x, &y)
                        .unwrap();
                    black_box(
                        e.predict_points(KernelKind::Ntk, &net, &xt, &times)
                            .unwrap(),
                    );
                })
            }
        }
        other => panic!("unknown probe {other}"),
    };
    println!("{{\"runs\": {:?}}}", runs);
}
