//! The timing program of `benches/speed_table.py`: times one case through the public API and prints
//! one JSON line, `{"runs": [seconds…], "peak_rss_mib": …}` (steady state: one untimed warm-up run).
//!
//! ```text
//! cargo run --release --example perfprobe -- kernel ACT N DEPTH REPS     # n × n NNGP + NTK Gram
//! cargo run --release --example perfprobe -- predict_inf N M REPS        # GP inference at t = ∞
//! cargo run --release --example perfprobe -- predict_t N M REPS          # NTK ensemble, 5 times
//! ```
//!
//! The networks are neural-tangents' benchmark ones: `[Dense(σ_w, σ_b = 0.1), φ] × depth + Dense`,
//! σ_w = √2 for ReLU and 1.5 otherwise, 'ntk' parameterization, d = 100 standard normal inputs.
//! Predictions use the depth-3 ReLU network, targets sin(x₀), relative ridge 1e-4, and compute
//! the kernels they need inside the timed region (as neural-tangents' `predict` functions do).

use nalgebra::DMatrix;
use ntk::{
    Activation, EnsembleDynamics, GpInference, Kernel, KernelKind, Network, Regularization,
    TestKernels, TrainKernels,
};
use std::hint::black_box;
use std::time::Instant;

/// Standard normal n × d inputs (xorshift + Box–Muller, fixed seed).
fn normal(n: usize, d: usize, seed: u64) -> DMatrix<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
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

fn net(act: &str, depth: usize) -> Result<Network, String> {
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
        "gelu" => (1.5, Activation::Gelu),
        "tanh" => (1.5, Activation::Tanh),
        "sigmoid" => (1.5, Activation::Sigmoid),
        other => return Err(format!("unknown activation {other}")),
    };
    Network::mlp(depth, a)
        .w_std(w)
        .b_std(0.1)
        .build()
        .map_err(|e| e.to_string())
}

/// Wall-clock seconds of `reps` runs after one warm-up run.
fn time(reps: usize, mut f: impl FnMut()) -> Vec<f64> {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect()
}

/// The process's peak resident set (VmHWM), in MiB, where /proc has it.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn arg(a: &[String], i: usize) -> Result<usize, String> {
    a.get(i)
        .ok_or_else(|| format!("missing argument {i}"))?
        .parse()
        .map_err(|e| format!("argument {i}: {e}"))
}

fn run(a: &[String]) -> Result<Vec<f64>, String> {
    let fail = |e: ntk::Error| e.to_string();
    match a.get(1).map(String::as_str) {
        Some("kernel") => {
            let net = net(a.get(2).ok_or("missing activation")?, arg(a, 4)?)?;
            let x = normal(arg(a, 3)?, 100, 1);
            let mut err = None;
            let runs = time(arg(a, 5)?, || {
                if let Err(e) = net.gram(&x) {
                    err = Some(e);
                }
            });
            err.map_or(Ok(runs), |e| Err(fail(e)))
        }
        Some(kind @ ("predict_inf" | "predict_t")) => {
            let (n, m, reps) = (arg(a, 2)?, arg(a, 3)?, arg(a, 4)?);
            let net = net("relu", 3)?;
            let x = normal(n, 100, 1);
            let xt = normal(m, 100, 2);
            let y = x.columns(0, 1).map(f64::sin);
            let reg = Regularization::Relative(1e-4);
            let times = [1.0, 10.0, 100.0, 1000.0, f64::INFINITY];
            let mut err = None;
            let runs = time(reps, || {
                let out = (|| -> ntk::Result<()> {
                    let train = TrainKernels::compute(&net, &x)?;
                    let test = TestKernels::compute(&net, &xt, &x)?;
                    if kind == "predict_inf" {
                        let gp = GpInference::params().regularization(reg).fit(&train, &y)?;
                        black_box(gp.predict(KernelKind::Nngp, &test)?);
                        black_box(gp.predict(KernelKind::Ntk, &test)?);
                    } else {
                        let e = EnsembleDynamics::params()
                            .learning_rate(1.0)
                            .regularization(reg)
                            .fit(&train, &y)?;
                        black_box(e.predict(KernelKind::Ntk, &test, &times)?);
                    }
                    Ok(())
                })();
                if let Err(e) = out {
                    err = Some(e);
                }
            });
            err.map_or(Ok(runs), |e| Err(fail(e)))
        }
        Some("roofline") => roofline(arg(a, 2)?),
        Some("dense") => dense(arg(a, 2)?),
        _ => Err(
            "usage: perfprobe kernel ACT N DEPTH REPS | predict_inf N M REPS | predict_t N M REPS | roofline N | dense N"
                .into(),
        ),
    }
}

/// Σ √(1.5v)/(v + 0.5): one square root and one division per element, in 8 independent sums so
/// that the loop is bound by their throughput, not by the additions' latency.
#[inline(always)]
fn sqrt_div(block: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    for c in block.chunks_exact(8) {
        for l in 0..8 {
            acc[l] += (c[l] * 1.5).sqrt() / (c[l] + 0.5);
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sqrt_div_avx512(block: &[f64]) -> f64 {
    sqrt_div(block)
}

/// `len` zeros from the allocator (calloc: fresh pages, not yet touched) behind transparent huge
/// pages, as the kernels allocate their outputs.
fn fresh(len: usize) -> Vec<f64> {
    let layout = std::alloc::Layout::array::<f64>(len).expect("a valid size");
    // SAFETY: the layout has a non-zero size; the memory is zeroed, so `len` f64 are initialized.
    let mut v = unsafe {
        let p = std::alloc::alloc_zeroed(layout) as *mut f64;
        assert!(!p.is_null(), "out of memory");
        Vec::from_raw_parts(p, len, len)
    };
    huge_pages(&mut v);
    v
}

/// Asks Linux for transparent huge pages behind `v` (as the kernels do for their outputs).
fn huge_pages(v: &mut [f64]) {
    #[cfg(target_os = "linux")]
    {
        let page = 1usize << 21;
        let start = v.as_ptr() as usize;
        let aligned = start.div_ceil(page) * page;
        let end = start + v.len() * 8;
        if end > aligned + page {
            // SAFETY: the range lies inside `v`; MADV_HUGEPAGE changes only how it is backed.
            unsafe {
                libc::madvise(
                    aligned as *mut libc::c_void,
                    (end - aligned) / page * page,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
}

/// The shortest of five timed runs of `f`, in seconds: a ceiling is the machine at its best.
fn best_of_5(f: &mut dyn FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// The ceilings of a Gram matrix of n points (d = 100), each the best of 5, in seconds, as
/// `runs`: [divider: one square root and one division per element over n²/2 elements on all
/// cores, the input Gram x·xᵀ/d (upper blocks, as the kernels compute it), writing two fresh
/// n × n outputs on all cores, copying the two lower triangles' worth of values (n² in all)
/// sequentially between memory already faulted in].
fn roofline(n: usize) -> Result<Vec<f64>, String> {
    use nalgebra::DMatrixViewMut;
    use rayon::prelude::*;
    // sqrt and division throughput: vectorized loops over L1-resident blocks.
    let elems = n * n / 2;
    let block: Vec<f64> = (0..4096).map(|i| 1.0 + i as f64 * 1e-3).collect();
    let divider = best_of_5(&mut || {
        let blocks = elems / block.len();
        let s: f64 = (0..blocks)
            .into_par_iter()
            .map(|_| {
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F.
                    return unsafe { sqrt_div_avx512(&block) };
                }
                sqrt_div(&block)
            })
            .sum();
        black_box(s);
    });
    let x = normal(n, 100, 1);
    let mut out = DMatrix::<f64>::zeros(n, n);
    let gemm = best_of_5(&mut || {
        let xt = x.transpose();
        out.as_mut_slice()
            .par_chunks_mut(n * 16)
            .enumerate()
            .for_each(|(b, chunk)| {
                let nc = chunk.len() / n;
                let rows = ((b + 1) * 16).min(n);
                let mut view = DMatrixViewMut::from_slice(chunk, n, nc);
                view.rows_mut(0, rows)
                    .gemm(0.01, &x.rows(0, rows), &xt.columns(b * 16, nc), 0.0);
            });
        black_box(&out);
    });
    // As the kernels' outputs: zeroed by the allocator, backed by transparent huge pages on Linux,
    // written on all cores.
    let write = best_of_5(&mut || {
        let mut a = fresh(n * n);
        let mut b = fresh(n * n);
        for m in [&mut a, &mut b] {
            m.par_chunks_mut(1 << 16).for_each(|c| c.fill(1.0));
        }
        black_box((&a, &b));
    });
    // The mirror's data, read and written in the best order: n²/2 values of each of the two
    // outputs copied between memory already faulted in, on all cores.
    let src = vec![1.0f64; n * n];
    let mut dst = vec![0.0f64; n * n];
    let copy = best_of_5(&mut || {
        dst.par_chunks_mut(1 << 16)
            .zip(src.par_chunks(1 << 16))
            .for_each(|(d, s)| d.copy_from_slice(s));
        black_box(&dst);
    });
    Ok(vec![divider, gemm, write, copy])
}

/// The dense linear-algebra ceilings of the predictions (faer on all cores, best of 5): seconds
/// for an N × N × N product (2N³ flops), a Cholesky factorization (N³/3) and a triangular solve
/// with N/4 right-hand sides (N³/4).
fn dense(n: usize) -> Result<Vec<f64>, String> {
    use faer::linalg::cholesky::llt::factor::{LltRegularization, cholesky_in_place};
    use faer::{Accum, Mat};
    let par = faer::get_global_parallelism();
    let x = normal(n, n, 3);
    let a = Mat::<f64>::from_fn(n, n, |i, j| x[(i, j)]);
    let mut c = Mat::<f64>::zeros(n, n);
    let gemm = best_of_5(&mut || {
        faer::linalg::matmul::matmul(c.as_mut(), Accum::Replace, a.as_ref(), a.as_ref(), 1.0, par);
        black_box(&c);
    });
    // An SPD matrix: AAᵀ/n + I.
    faer::linalg::matmul::matmul(
        c.as_mut(),
        Accum::Replace,
        a.as_ref(),
        a.transpose(),
        1.0 / n as f64,
        par,
    );
    for i in 0..n {
        c[(i, i)] += 1.0;
    }
    let mut l = c.clone();
    let chol = best_of_5(&mut || {
        l.copy_from(&c);
        let mut mem = faer::dyn_stack::MemBuffer::new(
            faer::linalg::cholesky::llt::factor::cholesky_in_place_scratch::<f64>(
                n,
                par,
                Default::default(),
            ),
        );
        let stack = faer::dyn_stack::MemStack::new(&mut mem);
        cholesky_in_place(
            l.as_mut(),
            LltRegularization::default(),
            par,
            stack,
            Default::default(),
        )
        .expect("an SPD matrix");
        black_box(&l);
    });
    let b = Mat::<f64>::from_fn(n, n / 4, |i, j| x[(i, j)]);
    let mut s = b.clone();
    let trsm = best_of_5(&mut || {
        s.copy_from(&b);
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(
            l.as_ref(),
            s.as_mut(),
            par,
        );
        black_box(&s);
    });
    Ok(vec![gemm, chol, trsm])
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    match run(&a) {
        Ok(runs) => println!(
            "{{\"runs\": {runs:?}, \"peak_rss_mib\": {}}}",
            peak_rss_mib().map_or("null".into(), |m| format!("{m:.1}"))
        ),
        Err(e) => {
            eprintln!("perfprobe: {e}");
            std::process::exit(2);
        }
    }
}
