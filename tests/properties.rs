//! Structural properties of the network kernels over random inputs and networks (proptest), and the
//! numerics at degenerate inputs (zero rows, parallel, antiparallel and identical rows).
//!
//! Error measure. Both kernels are positive semi-definite, so |K(x, y)| ≤ √(K(x, x)·K(y, y)); that
//! product is the scale of an entry, and tolerances are relative to it (an entry may be 0 when its
//! scale is not, e.g. ReLU at antiparallel inputs).
//!
//! Conditioning of the kinked activations. For the ReLU family Ṫ = (a² + b²)/2 − (a − b)²θ/(2π) with
//! θ = atan2(√(P − c²), c), so ∂Ṫ/∂c ∝ 1/√(P − c²) is unbounded at θ = 0. A rounding error Δcos in the
//! cosine of a pair moves θ by min(Δcos/sin θ, √(2Δcos)), i.e. up to √ε ≈ 1.5e-8 for parallel inputs:
//! two computations of the same entry that round the input Gram matrix differently (`entry` sums the
//! dot product in its own order; `gram` uses a GEMM; `x·x/d` vs `‖x‖²/d`) legitimately differ by that
//! much. `pair_tol` gives the tolerance of a pair from its first-layer angle.

use nalgebra::{DMatrix, SymmetricEigen};
use ntk::{Activation, Kernel, KernelMatrices, Network, Parameterization};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use std::f64::consts::FRAC_PI_2;

const EPS: f64 = f64::EPSILON;

/// Fixed seed (reproducible in CI; `PROPTEST_RNG_SEED=<u64>` explores others), no regression files.
fn config(cases: u32) -> ProptestConfig {
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6e74_6b5f_7072_6f70);
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// n × d points, entries uniform in [−3, 3].
fn points(n: std::ops::RangeInclusive<usize>, d: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = DMatrix<f64>> {
    (n, d).prop_flat_map(|(n, d)| {
        prop::collection::vec(-3.0f64..3.0, n * d).prop_map(move |v| DMatrix::from_row_slice(n, d, &v))
    })
}

/// The activations under test, with random parameters where they have some.
fn activation() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::Relu),
        (0.5f64..1.5, 0.5f64..1.5, -0.5f64..0.5).prop_map(|(a, b, c)| Activation::Erf { a, b, c }),
        Just(Activation::Gelu),
        (0.5f64..1.5, 0.5f64..1.5, -1.0f64..1.0).prop_map(|(a, b, c)| Activation::Sin { a, b, c }),
        Just(Activation::Abs),
        (-0.5f64..0.5).prop_map(|alpha| Activation::LeakyRelu { alpha }),
        // Degree ≤ 2 with |coef| ≤ 1 keeps depth-4 variances finite (≲ 1e41 at σ_w = 2).
        prop::collection::vec(-1.0f64..1.0, 1..=3).prop_map(|coef| Activation::Polynomial { coef }),
        Just(Activation::Gabor),
        Just(Activation::SigmoidErf),
    ]
}

fn is_kinked(a: &Activation) -> bool {
    matches!(
        a,
        Activation::Relu
            | Activation::LeakyRelu { .. }
            | Activation::AbRelu { .. }
            | Activation::Abs
            | Activation::Sign
            | Activation::RectifiedMonomial { .. }
    )
}

/// Hidden width of the standard parameterization (its NTK grows like the width).
const WIDTH: usize = 64;

#[derive(Debug, Clone)]
struct NetCfg {
    depth: usize,
    w_std: f64,
    b_std: Option<f64>,
    param: Parameterization,
}

impl NetCfg {
    fn build(&self, act: &Activation) -> Network {
        Network::mlp(self.depth, act.clone(), self.w_std, self.b_std, self.param, WIDTH).unwrap()
    }
}

fn net_cfg(bias: bool) -> impl Strategy<Value = NetCfg> {
    let b = if bias {
        prop::option::of(0.0f64..1.0).boxed()
    } else {
        Just(None).boxed()
    };
    (
        1usize..=4,
        0.5f64..2.0,
        b,
        prop_oneof![Just(Parameterization::Ntk), Just(Parameterization::Standard)],
    )
        .prop_map(|(depth, w_std, b_std, param)| NetCfg {
            depth,
            w_std,
            b_std,
            param,
        })
}

// ---------------------------------------------------------------------------------------------
// Tolerances
// ---------------------------------------------------------------------------------------------

/// Rounding of a well-conditioned entry computed two ways (different summation order of the input
/// dot products, diagonal vs general formula): each layer adds a few ulps relative to the scale, and
/// the condition number of the smooth duals with respect to (c, q1, q2) is O(1) on these inputs; with
/// ≤ 4 layers and ≤ 6-term dot products, 1e-12 (≈ 4500 ulps) is ample and still catches any
/// wrong term.
const ROUNDING: f64 = 1e-12;

/// sin of the first-layer angle between x and y: the angle of the augmented vectors (σ_w·x/√d, σ_b)
/// and (σ_w·y/√d, σ_b), by Lagrange's identity ‖a‖²‖b‖² − (a·b)² = ½Σᵢⱼ(aᵢbⱼ − aⱼbᵢ)², which has no
/// cancellation. 1 when either pre-activation variance is 0.
fn first_layer_sin(x: &[f64], y: &[f64], cfg: &NetCfg) -> f64 {
    let s = cfg.w_std / (x.len() as f64).sqrt();
    let b = cfg.b_std.unwrap_or(0.0);
    let a: Vec<f64> = x.iter().map(|v| s * v).chain([b]).collect();
    let c: Vec<f64> = y.iter().map(|v| s * v).chain([b]).collect();
    let mut cross = 0.0;
    for i in 0..a.len() {
        for j in 0..i {
            let t = a[i] * c[j] - a[j] * c[i];
            cross += t * t;
        }
    }
    let na = a.iter().map(|v| v * v).sum::<f64>();
    let nc = c.iter().map(|v| v * v).sum::<f64>();
    if na == 0.0 || nc == 0.0 {
        1.0
    } else {
        (cross / (na * nc)).sqrt().min(1.0)
    }
}

/// Tolerance (relative to the scale) for an entry computed two ways.
///
/// Smooth φ: `ROUNDING`. Kinked φ: each layer's θ moves by Δθ ≤ min(Δcos/sin θ, √(2Δcos)) with
/// Δcos ≤ (4d + 4)ε ≤ 6.2e-15 the rounding of a cosine from ≤ 6-term dot products; θ shrinks by at
/// most ~2× over 4 ReLU-family layers, and Ṫ moves by Δθ·(a − b)²/(2π) ≤ 0.64Δθ relative to its
/// scale. Summed over ≤ 4 layers: ≤ 4·0.64·2·6.2e-15/sin θ₀ ≈ 3.2e-14/sin θ₀, bounded above by
/// 4·0.64·√(2·6.2e-15) ≈ 2.9e-7 when the inputs are parallel. Tolerance: 1e-13/sin θ₀ capped at 1e-6
/// (3× margins), plus `ROUNDING`.
fn pair_tol(kinked: bool, x: &[f64], y: &[f64], cfg: &NetCfg) -> f64 {
    if !kinked {
        return ROUNDING;
    }
    let s = first_layer_sin(x, y, cfg);
    ROUNDING + (1e-13 / s).min(1e-6)
}

fn scale(k: &DMatrix<f64>, i: usize, j: usize) -> f64 {
    (k[(i, i)] * k[(j, j)]).abs().sqrt()
}

fn row(x: &DMatrix<f64>, i: usize) -> Vec<f64> {
    x.row(i).iter().copied().collect()
}

fn check_close(what: &str, got: f64, want: f64, scale: f64, tol: f64) -> Result<(), TestCaseError> {
    let err = (got - want).abs();
    if err > 0.0 { eprintln!("ERR|{}|{:e}|{}", what, err / scale, tol); }
    prop_assert!(
        err <= tol * scale || err == 0.0,
        "{what}: {got} vs {want}, |Δ| = {err:.3e} > {tol:.1e} × scale {scale:.3e}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Gram, cross, entry, diagonal
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(192))]

    /// The Gram matrix is exactly symmetric; `cross(X, X)`, `entry` and `diagonal` agree with it.
    #[test]
    fn gram_cross_entry_diagonal_agree(x in points(2..=8, 1..=6), act in activation(), cfg in net_cfg(true)) {
        let net = cfg.build(&act);
        let kinked = is_kinked(&act);
        let g = net.gram(&x).unwrap();
        eprintln!("ACT|{}|{}", act.name().split('(').next().unwrap(), cfg.depth);
        prop_assert_eq!(&g.nngp, &g.nngp.transpose());
        prop_assert_eq!(&g.ntk, &g.ntk.transpose());

        // diagonal() runs the same per-point recursion as the Gram diagonal: identical numbers.
        let dg = net.diagonal(&x).unwrap();
        prop_assert_eq!(&dg.nngp, &g.nngp.diagonal());
        prop_assert_eq!(&dg.ntk, &g.ntk.diagonal());
        prop_assert_eq!(&g.cov1, &g.nngp.diagonal());

        let c = net.cross(&x, &x).unwrap();
        prop_assert_eq!(&c.cov1, &g.cov1);
        prop_assert_eq!(&c.cov2, &g.cov2);
        let n = x.nrows();
        for i in 0..n {
            for j in 0..n {
                let (xi, xj) = (row(&x, i), row(&x, j));
                if i != j {
                    // Off the diagonal both run the general formula on the same GEMM input Gram
                    // matrix, at most with (q1, q2) swapped — symmetric formulas whose products
                    // commute: a few ulps. 1e-14 ≈ 45 ulps of the scale.
                    check_close("cross vs gram nngp", c.nngp[(i, j)], g.nngp[(i, j)], scale(&g.nngp, i, j), 1e-14)?;
                    check_close("cross vs gram ntk", c.ntk[(i, j)], g.ntk[(i, j)], scale(&g.ntk, i, j), 1e-14)?;
                } else {
                    // The diagonal of cross runs the general formula at c = x·x/d (GEMM) with
                    // q = ‖x‖²/d, gram the diagonal formulas: for kinked φ that is the θ ≈ 0
                    // conditioning of `pair_tol` (identical inputs, sin θ₀ = 0).
                    let tol = pair_tol(kinked, &xi, &xi, &cfg);
                    check_close("cross diagonal nngp", c.nngp[(i, i)], g.nngp[(i, i)], g.nngp[(i, i)].abs(), tol)?;
                    check_close("cross diagonal ntk", c.ntk[(i, i)], g.ntk[(i, i)], g.ntk[(i, i)].abs(), tol)?;
                }
                // entry() sums its own dot products (another rounding of c, q1, q2).
                let e = net.entry(&xi, &xj).unwrap();
                let tol = if i == j {
                    // c = q1 = q2 bitwise (one dot function): θ = 0 exactly, the general formula
                    // at c = q vs the diagonal formula: rounding only.
                    ROUNDING
                } else {
                    pair_tol(kinked, &xi, &xj, &cfg)
                };
                check_close("entry vs gram nngp", e.nngp, g.nngp[(i, j)], scale(&g.nngp, i, j), tol)?;
                check_close("entry vs gram ntk", e.ntk, g.ntk[(i, j)], scale(&g.ntk, i, j), tol)?;
                check_close("entry var1", e.var1, g.cov1[i], g.cov1[i].abs(), ROUNDING)?;
                check_close("entry var2", e.var2, g.cov1[j], g.cov1[j].abs(), ROUNDING)?;
            }
        }
    }

    /// Both kernels are positive semi-definite (Σ is a covariance; Θ a sum of Hadamard products of
    /// PSD matrices). Rounding perturbs the entries by ~k·ε·scale, hence the eigenvalues by at most
    /// n·max|ΔK| ≤ 8·k·ε·trace; the symmetric eigensolver adds O(ε·‖K‖) ≤ O(ε·trace). With
    /// k ≲ 1e4 ulps that is ≤ 2e-11·trace: −1e-10·trace has a 5× margin. The kinked activations'
    /// √ε conditioning at parallel inputs (d = 1) is the exception the tolerance does not cover;
    /// see `psd_tolerance`.
    #[test]
    fn gram_is_positive_semidefinite(x in points(2..=8, 1..=6), act in activation(), cfg in net_cfg(true)) {
        let net = cfg.build(&act);
        let g = net.gram(&x).unwrap();
        for (name, k) in [("nngp", &g.nngp), ("ntk", &g.ntk)] {
            let trace = k.trace();
            let min = SymmetricEigen::new(k.clone()).eigenvalues.min();
            prop_assert!(
                min >= -psd_tolerance(&act, &x, &cfg) * trace,
                "{} {}: min eigenvalue {:e} < −tol·trace, trace {:e}", act.name(), name, min, trace
            );
        }
    }
}

/// −tol·trace bound on the smallest eigenvalue: 1e-10 (see `gram_is_positive_semidefinite`), or,
/// for kinked φ with (nearly) parallel rows, the entry-wise `pair_tol` times n (a perturbation of
/// relative size τ in every entry moves an eigenvalue by ≤ n·τ·max scale ≤ n·τ·trace).
fn psd_tolerance(act: &Activation, x: &DMatrix<f64>, cfg: &NetCfg) -> f64 {
    let n = x.nrows();
    let mut tol: f64 = 1e-10;
    if std::env::var("STRICT").is_err() && is_kinked(act) {
        for i in 0..n {
            for j in 0..i {
                tol = tol.max(n as f64 * pair_tol(true, &row(x, i), &row(x, j), cfg));
            }
        }
    }
    tol
}
