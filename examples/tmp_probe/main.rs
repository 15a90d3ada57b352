use nalgebra::DMatrix;
use ntk::*;
use std::time::Instant;
fn main() {
    let (n, m, d) = (2000, 500, 100);
    let mut s = 0x1234u64;
    let mut r = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let x = DMatrix::from_fn(n, d, |_, _| r());
    let xt = DMatrix::from_fn(m, d, |_, _| r());
    let y = DMatrix::from_fn(n, 1, |_, _| r());
    let net = Network::mlp(
        3,
        Activation::Relu,
        1.4,
        Some(0.1),
        Parameterization::Ntk,
        512,
    )
    .unwrap();
    let train = TrainKernels::compute(&net, &x).unwrap();
    let test = TestKernels::compute(&net, &xt, &x).unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        let e = EnsembleDynamics::fit(&train, &y, 1.0, Regularization::Relative(1e-4)).unwrap();
        let _ = e.eigenvalues(GpKind::Ntk).unwrap();
        let t1 = t.elapsed().as_secs_f64();
        let p = e
            .predict(
                GpKind::Ntk,
                &test,
                &[1.0, 10.0, 100.0, 1000.0, f64::INFINITY],
            )
            .unwrap();
        println!(
            "eigen {:.3}s, predict 5 times {:.3}s, total {:.3}s {}",
            t1,
            t.elapsed().as_secs_f64() - t1,
            t.elapsed().as_secs_f64(),
            p[0].mean[0]
        );
    }
}
