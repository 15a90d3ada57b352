use nalgebra::DMatrix;
use ntk::{Activation, Kernel, Network, Parameterization};
fn main() {
    let d = 100usize;
    for (name, act, w) in [
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
    ] {
        for n in [2000usize, 4000] {
            let mut s = 1u64;
            let x = DMatrix::from_fn(n, d, |_, _| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            });
            for depth in [1usize, 3] {
                let net =
                    Network::mlp(depth, act.clone(), w, Some(0.1), Parameterization::Ntk, 512)
                        .unwrap();
                std::hint::black_box(net.gram(&x).unwrap());
                let t = std::time::Instant::now();
                for _ in 0..5 {
                    std::hint::black_box(net.gram(&x).unwrap());
                }
                println!(
                    "{name} n={n} depth={depth}: {:.1} ms",
                    t.elapsed().as_secs_f64() / 5.0 * 1e3
                );
            }
        }
    }
}
