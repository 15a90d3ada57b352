use nalgebra::DMatrix;
use ntk::{Activation, Kernel, Network, Parameterization};
use std::time::Instant;
fn main() {
    let d = 100;
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
        for n in [1000usize, 2000, 4000] {
            let mut s = 1u64;
            let x = DMatrix::from_fn(n, d, |_, _| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            });
            let net =
                Network::mlp(3, act.clone(), w, Some(0.1), Parameterization::Ntk, 512).unwrap();
            let _ = net.gram(&x).unwrap();
            let t = Instant::now();
            let k = net.gram(&x).unwrap();
            println!(
                "{name} n={n} {:.3}s  {}",
                t.elapsed().as_secs_f64(),
                k.ntk[(0, 1)]
            );
        }
    }
}
