use nalgebra::DMatrix;
use std::time::Instant;
fn main() {
    let (n, d) = (4000usize, 100usize);
    let mut s = 1u64;
    let x = DMatrix::from_fn(n, d, |_, _| { s ^= s << 13; s ^= s >> 7; s ^= s << 17; (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5 });
    let t = Instant::now();
    let g = &x * x.transpose();
    println!("gemm serial {:.3}s {}", t.elapsed().as_secs_f64(), g[(0,1)]);
    // atan2 cost
    let t = Instant::now();
    let mut acc = 0.0;
    for i in 0..8_000_000u64 { let c = (i as f64) * 1e-7 - 0.4; let s = (1.0 - c*c).max(0.0).sqrt(); acc += s.atan2(c); }
    println!("8M atan2+sqrt {:.3}s {acc}", t.elapsed().as_secs_f64());
}
