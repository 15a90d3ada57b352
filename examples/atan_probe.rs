fn main() {
    let n = 20_000_000u64;
    let mut s = 1u64;
    let v: Vec<(f64, f64)> = (0..4096)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let a = (s >> 11) as f64 / (1u64 << 53) as f64;
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let b = (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            (a, b)
        })
        .collect();
    let t = std::time::Instant::now();
    let mut acc = 0.0;
    for i in 0..n {
        let (a, b) = v[(i & 4095) as usize];
        acc += a.atan2(b);
    }
    println!(
        "std  {:.2} ns {acc}",
        t.elapsed().as_secs_f64() / n as f64 * 1e9
    );
    let t = std::time::Instant::now();
    let mut acc = 0.0;
    for i in 0..n {
        let (a, b) = v[(i & 4095) as usize];
        acc += libm::atan2(a, b);
    }
    println!(
        "libm {:.2} ns {acc}",
        t.elapsed().as_secs_f64() / n as f64 * 1e9
    );
    let mut worst = 0.0f64;
    for i in 0..2_000_000u64 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let a = (s >> 11) as f64 / (1u64 << 53) as f64;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let b = ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
            * if i % 3 == 0 { 1e-9 } else { 1.0 };
        let x = a.atan2(b);
        let y = libm::atan2(a, b);
        worst = worst.max(((x - y) / x).abs() / f64::EPSILON);
    }
    println!("max diff {worst} ulps(eps units)");
}
