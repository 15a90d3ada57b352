//! Inputs shared by the benches: their cost does not depend on the values, only on the shapes.

use nalgebra::DMatrix;

/// An n × d matrix of deterministic uniform values in [−½, ½) (xorshift from `seed`).
pub fn uniform(n: usize, d: usize, seed: u64) -> DMatrix<f64> {
    let mut s = seed;
    DMatrix::from_fn(n, d, |_, _| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    })
}
