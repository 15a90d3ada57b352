use nalgebra::DMatrix;
use ntk::{Activation, Kernel, Network, Parameterization};
fn main() {
    let (n, d) = (4000usize, 100usize);
    let mut s = 1u64;
    let x = DMatrix::from_fn(n, d, |_, _| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    });
    let net = Network::mlp(
        1,
        Activation::Relu,
        2f64.sqrt(),
        Some(0.1),
        Parameterization::Ntk,
        512,
    )
    .unwrap();
    for _ in 0..5 {
        std::hint::black_box(net.gram(&x).unwrap());
    }
}
