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

use crate::common::{is_kinked, proptest_config};
use approx::abs_diff_eq;
use nalgebra::{DMatrix, SymmetricEigen};
use ntk::{Activation, Kernel, KernelMatrices, Network, Parameterization};
use proptest::prelude::*;
use std::f64::consts::FRAC_PI_2;

const EPS: f64 = f64::EPSILON;

/// The fixed-seed proptest configuration of this module.
fn config(cases: u32) -> ProptestConfig {
    proptest_config(cases, 0x6e74_6b5f_7072_6f70)
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// n × d points, entries uniform in [−3, 3].
fn points(
    n: std::ops::RangeInclusive<usize>,
    d: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = DMatrix<f64>> {
    (n, d).prop_flat_map(|(n, d)| {
        prop::collection::vec(-3.0f64..3.0, n * d)
            .prop_map(move |v| DMatrix::from_row_slice(n, d, &v))
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
        Network::mlp(self.depth, act.clone())
            .w_std(self.w_std)
            .b_std(self.b_std)
            .parameterization(self.param)
            .width(WIDTH)
            .build()
            .unwrap()
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
        prop_oneof![
            Just(Parameterization::Ntk),
            Just(Parameterization::Standard)
        ],
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

/// Rounding of an entry computed two ways (different summation order of the input dot products,
/// GEMM vs sequential; c = x·x/d vs q = ‖x‖²/d): the input kernel differs by ≤ d·ε relative, and the
/// smooth duals pass that on with their condition number with respect to (c, q1, q2) (up to b²q ≈ 80
/// for Sin with b ≤ 1.5 at the largest variances here), compounded over ≤ 4 layers. Measured: ≤ 2.3e-14
/// of the scale over 2·10⁴ random cases (Gabor, Abs; see the report). 1e-12 leaves a 40× margin for
/// unluckier conditioning and is still 10⁴ times below the effect of any wrong term or convention
/// (≳ 1e-8 relative).
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

/// |got − want| ≤ tol·scale (or exactly equal, for a scale that is 0).
fn check_close(what: &str, got: f64, want: f64, scale: f64, tol: f64) -> Result<(), TestCaseError> {
    prop_assert!(
        abs_diff_eq!(got, want, epsilon = tol * scale) || abs_diff_eq!(got, want, epsilon = 0.0),
        "{what}: {got} vs {want}, |Δ| = {:.3e} > {tol:.1e} × scale {scale:.3e}",
        (got - want).abs()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Gram, cross, entry, diagonal
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    /// The Gram matrix is exactly symmetric; `cross(X, X)`, `entry` and `diagonal` agree with it.
    #[test]
    fn gram_cross_entry_diagonal_agree(x in points(2..=8, 1..=6), act in activation(), cfg in net_cfg(true)) {
        let net = cfg.build(&act);
        let kinked = is_kinked(&act);
        let g = net.gram(&x).unwrap();
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
                // cross and gram round the input Gram matrix the same way except for the GEMM's
                // position-dependent rounding (its SIMD and scalar lanes) and, for identical rows,
                // cross's use of ‖x‖²/d; entry sums its dot products sequentially. Off the diagonal
                // this is `pair_tol`; on it the diagonal formulas run in all three (c = q bitwise), so
                // only the rounding of ‖x‖²/d differs.
                let tol = if i == j { ROUNDING } else { pair_tol(kinked, &xi, &xj, &cfg) };
                let (sk, st) = (scale(&g.nngp, i, j), scale(&g.ntk, i, j));
                check_close("cross vs gram nngp", c.nngp[(i, j)], g.nngp[(i, j)], sk, tol)?;
                check_close("cross vs gram ntk", c.ntk[(i, j)], g.ntk[(i, j)], st, tol)?;
                let e = net.entry(&xi, &xj).unwrap();
                check_close("entry vs gram nngp", e.nngp, g.nngp[(i, j)], sk, tol)?;
                check_close("entry vs gram ntk", e.ntk, g.ntk[(i, j)], st, tol)?;
                check_close("entry var1", e.var1, g.cov1[i], g.cov1[i].abs(), ROUNDING)?;
                check_close("entry var2", e.var2, g.cov1[j], g.cov1[j].abs(), ROUNDING)?;
            }
        }
    }

    /// Both kernels are positive semi-definite (Σ is a covariance; Θ a sum of Hadamard products of
    /// PSD matrices). Rounding perturbs the entries by ~k·ε·scale, hence the eigenvalues by at most
    /// n·max|ΔK| ≤ 8·k·ε·trace; the symmetric eigensolver adds O(ε·‖K‖) ≤ O(ε·trace). With
    /// k ≲ 1e4 ulps that is ≤ 2e-11·trace: −1e-10·trace has a 5× margin. (Exactly parallel rows of a
    /// kinked φ, always present for d = 1, are exact thanks to the angle floor.)
    #[test]
    fn gram_is_positive_semidefinite(x in points(2..=8, 1..=6), act in activation(), cfg in net_cfg(true)) {
        let net = cfg.build(&act);
        let g = net.gram(&x).unwrap();
        for (name, k) in [("nngp", &g.nngp), ("ntk", &g.ntk)] {
            let trace = k.trace();
            let min = SymmetricEigen::new(k.clone()).eigenvalues.min();
            prop_assert!(
                min >= -1e-10 * trace,
                "{} {}: min eigenvalue {:e} < −1e-10·trace, trace {:e}", act.name(), name, min, trace
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Homogeneity and identities between activations
// ---------------------------------------------------------------------------------------------

/// Two points of the same random dimension.
fn two_points() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (1usize..=6).prop_flat_map(|d| {
        (
            prop::collection::vec(-3.0f64..3.0, d),
            prop::collection::vec(-3.0f64..3.0, d),
        )
    })
}

fn gram_pair(net: &Network, x: &DMatrix<f64>) -> KernelMatrices {
    net.gram(x).unwrap()
}

/// Entry-wise comparison of two kernel results relative to the scales of `want`.
fn check_matrices(
    what: &str,
    got: &KernelMatrices,
    want: &KernelMatrices,
    tol: f64,
) -> Result<(), TestCaseError> {
    let n = want.nngp.nrows();
    for i in 0..n {
        for j in 0..n {
            check_close(
                &format!("{what} nngp[{i},{j}]"),
                got.nngp[(i, j)],
                want.nngp[(i, j)],
                scale(&want.nngp, i, j),
                tol,
            )?;
            check_close(
                &format!("{what} ntk[{i},{j}]"),
                got.ntk[(i, j)],
                want.ntk[(i, j)],
                scale(&want.ntk, i, j),
                tol,
            )?;
        }
    }
    Ok(())
}

/// Identical closed forms (possibly written in another order): ≤ 2 roundings apart, 4 ulps.
const SAME_FORMULA: f64 = 4.0 * EPS;

proptest! {
    #![proptest_config(config(256))]

    /// Without biases every layer of a ReLU network is positively 1-homogeneous in each input
    /// (Dense is linear; T(αc; α²q1, q2) = αT(c; q1, q2) and Ṫ is a function of θ only; the
    /// standard parameterization's n_in·Σ term is linear too), so K(αx, y) = αK(x, y) and
    /// K(αx, αx) = α²K(x, x) for Σ and Θ at any depth.
    #[test]
    fn relu_without_bias_is_one_homogeneous(
        (x, y) in two_points(),
        alpha in 0.1f64..10.0,
        cfg in net_cfg(false),
    ) {
        let net = cfg.build(&Activation::Relu);
        let ax: Vec<f64> = x.iter().map(|v| alpha * v).collect();
        let k = net.entry(&x, &y).unwrap();
        let ka = net.entry(&ax, &y).unwrap();
        // α·x rounds each coordinate (ε/2), and the dot products are rounded anew: the same
        // conditioning argument as `pair_tol`, plus 2ε for the scaling itself.
        let tol = pair_tol(true, &x, &y, &cfg) + 2.0 * EPS;
        let (sk, st) = ((k.var1 * k.var2).sqrt(), (net.entry(&x, &x).unwrap().ntk * net.entry(&y, &y).unwrap().ntk).sqrt());
        check_close("Σ(αx, y)", ka.nngp, alpha * k.nngp, alpha * sk, tol)?;
        check_close("Θ(αx, y)", ka.ntk, alpha * k.ntk, alpha * st, tol)?;
        let dx = net.diagonal(&DMatrix::from_row_slice(1, x.len(), &x)).unwrap();
        let dax = net.diagonal(&DMatrix::from_row_slice(1, x.len(), &ax)).unwrap();
        // The diagonal runs q ↦ q/2 and Dense maps: a few roundings per layer on a single number.
        check_close("Σ(αx, αx)", dax.nngp[0], alpha * alpha * dx.nngp[0], alpha * alpha * dx.nngp[0], ROUNDING)?;
        check_close("Θ(αx, αx)", dax.ntk[0], alpha * alpha * dx.ntk[0], alpha * alpha * dx.ntk[0], ROUNDING)?;
    }

    /// With equal slopes a·min(x, 0) + a·max(x, 0) = a·x: F = (a − b)²/(2π) = 0 reduces the ABReLU
    /// formulas to T = a²c, Ṫ = a², the Affine{a, 0} dual.
    #[test]
    fn abrelu_with_equal_slopes_is_affine(
        x in points(2..=8, 1..=6),
        a in -2.0f64..2.0,
        cfg in net_cfg(true),
    ) {
        let ab = cfg.build(&Activation::AbRelu { a, b: a });
        let affine = cfg.build(&Activation::Affine { alpha: a, beta: 0.0 });
        check_matrices("AbRelu(a, a) vs Affine(a, 0)", &gram_pair(&ab, &x), &gram_pair(&affine, &x), SAME_FORMULA)?;
    }

    /// Activations defined as special cases of others have the same kernels, the same duals and the
    /// same φ.
    #[test]
    fn named_special_cases_agree(
        x in points(2..=6, 1..=6),
        alpha in -0.9f64..0.9,
        (a, b, c) in (0.3f64..1.5, 0.3f64..1.5, -1.5f64..1.5),
        degree in 0u32..=5,
        cfg in net_cfg(true),
    ) {
        use Activation as A;
        let mut e = vec![0.0; degree as usize + 1];
        e[degree as usize] = 1.0;
        let pairs = [
            (A::LeakyRelu { alpha }, A::AbRelu { a: alpha, b: 1.0 }),
            (A::SigmoidLike, A::Erf { a: 0.5, b: 1.0 / 2.402_056_353_171_979_6, c: 0.5 }),
            (A::SigmoidErf, A::Erf { a: 0.5, b: 0.5, c: 0.5 }),
            (A::Cos { a, b, c }, A::Sin { a, b, c: c + FRAC_PI_2 }),
            (A::Monomial { degree }, A::Polynomial { coef: e }),
            (A::Hermite { degree: 1 }, A::Identity),
        ];
        // Monomials up to degree 5 through 4 layers overflow f64: two layers, σ_w ≤ 1.2 for them.
        let small = NetCfg { depth: cfg.depth.min(2), w_std: cfg.w_std.min(1.2), ..cfg.clone() };
        for (p, q) in &pairs {
            let cfg = if matches!(p, A::Monomial { .. }) { &small } else { &cfg };
            let (np, nq) = (cfg.build(p), cfg.build(q));
            check_matrices(&format!("{} vs {}", p.name(), q.name()), &gram_pair(&np, &x), &gram_pair(&nq, &x), SAME_FORMULA)?;
            let (dp, dq) = (p.dual().unwrap(), q.dual().unwrap());
            for &(c, q1, q2) in &[(0.3, 1.0, 2.0), (-0.9, 0.8, 1.1), (1.2, 1.5, 1.0)] {
                let (tp, dtp) = ntk::DualActivation::dual(&dp, c, q1, q2);
                let (tq, dtq) = ntk::DualActivation::dual(&dq, c, q1, q2);
                let s = 1.0 + tq.abs() + dtq.abs();
                prop_assert!(abs_diff_eq!(tp, tq, epsilon = SAME_FORMULA * s) && abs_diff_eq!(dtp, dtq, epsilon = SAME_FORMULA * s),
                    "{} vs {} dual at ({c}, {q1}, {q2}): ({tp}, {dtp}) vs ({tq}, {dtq})", p.name(), q.name());
            }
            for t in [-2.5, -0.3, 0.0, 0.7, 1.9] {
                let (fp, gp) = p.eval_with_derivative(t);
                let (fq, gq) = q.eval_with_derivative(t);
                // Different evaluation orders of the same φ: cos(bx + c) vs sin(bx + c + π/2) (the
                // argument's rounding, ≤ 1 ulp of ≤ 6, times a·b ≤ 2.25) and xⁿ by powi vs Horner
                // (≤ 5 roundings): a few ulps; 1e-14 relative to max(1, |value|) (≈ 45 ulps).
                let tol = |v: f64| 1e-14 * v.abs().max(1.0);
                prop_assert!(abs_diff_eq!(fp, fq, epsilon = tol(fq)) && abs_diff_eq!(gp, gq, epsilon = tol(gq)),
                    "{} vs {} at {t}: ({fp}, {gp}) vs ({fq}, {gq})", p.name(), q.name());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Degenerate inputs
// ---------------------------------------------------------------------------------------------

/// Every closed-form activation, with parameters that keep depth-3 kernels of these inputs finite
/// (Exp's b = 0.3: a²e^{2b²q} stays ≲ 1e2 per layer for q ≤ 9).
pub(crate) fn closed_forms_finite_at_depth_3() -> Vec<Activation> {
    use Activation as A;
    let mut v = vec![
        A::Relu,
        A::LeakyRelu { alpha: 0.1 },
        A::AbRelu { a: -0.3, b: 1.7 },
        A::Abs,
        A::Erf {
            a: 1.3,
            b: 0.7,
            c: -0.4,
        },
        A::SigmoidErf,
        A::SigmoidLike,
        A::Gelu,
        A::Sin {
            a: 0.8,
            b: 1.5,
            c: 0.3,
        },
        A::Cos {
            a: 1.2,
            b: 0.6,
            c: -0.5,
        },
        A::Rbf { gamma: 0.5 },
        A::Exp { a: 1.0, b: 0.3 },
        A::Gaussian { a: 1.0, b: -1.0 },
        A::Sign,
        A::Polynomial {
            coef: vec![0.3, -1.0, 0.5, 0.2],
        },
        A::Gabor,
        A::Affine {
            alpha: 1.5,
            beta: -0.7,
        },
        A::Identity,
    ];
    v.extend((0..=5).map(|degree| A::Monomial { degree }));
    v.extend((0..=4).map(|degree| A::RectifiedMonomial { degree }));
    v.extend((0..=6).map(|degree| A::Hermite { degree }));
    v
}

/// Rows: v, v (identical), −v (antiparallel), 3v (parallel), 0.05u (tiny, orthogonal), 0 (zero), u;
/// ‖v‖²/d ≈ 1. The coordinates are not round numbers, so x·x'/d and ‖x‖²/d really are rounded.
fn degenerate_points() -> DMatrix<f64> {
    let v = [
        -1.349_093_877_940_038,
        1.023_325_642_621_903,
        -0.973_696_086_916_826,
        -0.463_920_248_875_070,
    ];
    // u = w − (w·v/v·v)·v for w = (1, 1, −1, −1): orthogonal to v up to rounding.
    let w = [1.0, 1.0, -1.0, -1.0];
    let k =
        w.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>() / v.iter().map(|a| a * a).sum::<f64>();
    let u: Vec<f64> = w.iter().zip(&v).map(|(a, b)| a - k * b).collect();
    let mut rows: Vec<f64> = Vec::new();
    for (k, r) in [
        (1.0, &v[..]),
        (1.0, &v[..]),
        (-1.0, &v[..]),
        (3.0, &v[..]),
        (0.05, &u[..]),
        (0.0, &u[..]),
        (1.0, &u[..]),
    ] {
        rows.extend(r.iter().map(|x| k * x));
    }
    DMatrix::from_row_slice(7, 4, &rows)
}

fn all_finite(m: &DMatrix<f64>) -> bool {
    m.iter().all(|v| v.is_finite())
}

/// Zero rows (with and without bias), parallel, antiparallel and identical rows: every kernel entry is
/// finite for every closed-form activation, depth, bias and parameterization, through every entry
/// point; identical rows get the diagonal values.
#[test]
fn degenerate_rows_give_finite_kernels() {
    let x = degenerate_points();
    let mut failures = Vec::new();
    for act in closed_forms_finite_at_depth_3() {
        for depth in 1..=3 {
            for b_std in [None, Some(0.3)] {
                for param in [Parameterization::Ntk, Parameterization::Standard] {
                    let cfg = NetCfg {
                        depth,
                        w_std: 1.0,
                        b_std,
                        param,
                    };
                    let net = cfg.build(&act);
                    let tag = format!("{} depth {depth} b {b_std:?} {param:?}", act.name());
                    let g = match net.gram(&x) {
                        Ok(g) => g,
                        Err(e) => {
                            failures.push(format!("{tag}: gram failed: {e}"));
                            continue;
                        }
                    };
                    let c = net.cross(&x, &x.rows(0, 4).into_owned()).unwrap();
                    let d = net.diagonal(&x).unwrap();
                    let ok = all_finite(&g.nngp)
                        && all_finite(&g.ntk)
                        && all_finite(&c.nngp)
                        && all_finite(&c.ntk)
                        && d.nngp.iter().chain(d.ntk.iter()).all(|v| v.is_finite());
                    if !ok {
                        failures.push(format!("{tag}: non-finite values\n{}{}", g.nngp, g.ntk));
                    }
                    for i in 0..x.nrows() {
                        for j in 0..x.nrows() {
                            let e = net.entry(&row(&x, i), &row(&x, j)).unwrap();
                            if ![e.nngp, e.ntk, e.var1, e.var2]
                                .iter()
                                .all(|v| v.is_finite())
                            {
                                failures.push(format!("{tag}: entry({i}, {j}) = {e:?}"));
                            }
                        }
                    }
                    // Rows 0 and 1 are identical: cross detects identical rows and uses the
                    // diagonal values bit for bit; entry(x, x) has c = q bitwise and uses the
                    // diagonal formulas (up to the rounding of ‖x‖²/d vs its own sum).
                    for (what, got, want) in [
                        ("cross nngp", c.nngp[(0, 1)], g.nngp[(0, 0)]),
                        ("cross ntk", c.ntk[(0, 1)], g.ntk[(0, 0)]),
                    ] {
                        if got != want {
                            failures.push(format!(
                                "{tag}: identical rows, {what}: {got} vs diagonal {want}"
                            ));
                        }
                    }
                    let e = net.entry(&row(&x, 0), &row(&x, 1)).unwrap();
                    for (what, got, want) in [
                        ("entry nngp", e.nngp, g.nngp[(0, 0)]),
                        ("entry ntk", e.ntk, g.ntk[(0, 0)]),
                    ] {
                        if !abs_diff_eq!(got, want, epsilon = ROUNDING * want.abs()) {
                            failures.push(format!(
                                "{tag}: identical rows, {what}: {got} vs diagonal {want}"
                            ));
                        }
                    }
                    // gram's off-diagonal identical pair: see `gram_identical_rows_get_the_diagonal_values`.
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Without bias a zero input has q = 0 and c = 0 before the first activation, where
/// T(0; 0, q2) = φ(0)·E[φ(v)]. For the ABReLU family φ(0) = 0, so Σ(0, ·) = 0 after it, hence
/// q = c = 0 again before every later activation; and Θ(0, ·) = Σ-terms + Θ·Ṫ with both factors 0
/// (Θ starts at the first Dense's Σ = 0). Every entry of row 0 is exactly 0, at every depth.
#[test]
fn zero_input_without_bias_through_relu_is_zero() {
    let x = degenerate_points();
    for act in [
        Activation::Relu,
        Activation::Abs,
        Activation::LeakyRelu { alpha: 0.2 },
    ] {
        for depth in 1..=3 {
            let net = Network::mlp(depth, act.clone())
                .w_std(1.3)
                .width(WIDTH)
                .build()
                .unwrap();
            let g = net.gram(&x).unwrap();
            for j in 0..x.nrows() {
                assert_eq!(
                    g.nngp[(5, j)],
                    0.0,
                    "{} depth {depth}: Σ(0, x{j})",
                    act.name()
                );
                assert_eq!(
                    g.ntk[(5, j)],
                    0.0,
                    "{} depth {depth}: Θ(0, x{j})",
                    act.name()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Library bug: ReLU-family NTK at parallel (not identical) inputs
// ---------------------------------------------------------------------------------------------

/// For d = 1 all inputs are parallel; for same-sign inputs every θ is 0 and a depth-2, no-bias ReLU
/// network in the ntk parameterization has Σ = w⁶·x xᵀ/4 and Θ = 3w⁶·x xᵀ/4 exactly (rank 1).
#[test]
fn relu_ntk_of_parallel_inputs_is_exact_and_psd() {
    let x = DMatrix::from_row_slice(
        3,
        1,
        &[
            -2.781_807_717_768_949_8,
            -2.615_132_133_944_206,
            -2.625_021_685_553_535,
        ],
    );
    let w: f64 = 0.5;
    let net = Network::mlp(2, Activation::Relu)
        .w_std(w)
        .width(WIDTH)
        .build()
        .unwrap();
    let g = net.gram(&x).unwrap();
    let xxt = &x * x.transpose();
    for i in 0..3 {
        for j in 0..3 {
            let nngp = w.powi(6) * xxt[(i, j)] / 4.0;
            let ntk = 3.0 * w.powi(6) * xxt[(i, j)] / 4.0;
            // A handful of roundings per layer on exact products: ROUNDING is generous.
            assert!(
                abs_diff_eq!(g.nngp[(i, j)], nngp, epsilon = ROUNDING * nngp.abs()),
                "Σ[{i},{j}] = {} vs {nngp}",
                g.nngp[(i, j)]
            );
            assert!(
                abs_diff_eq!(g.ntk[(i, j)], ntk, epsilon = ROUNDING * ntk.abs()),
                "Θ[{i},{j}] = {} vs {ntk}",
                g.ntk[(i, j)]
            );
        }
    }
    let min = SymmetricEigen::new(g.ntk.clone()).eigenvalues.min();
    assert!(
        min >= -1e-10 * g.ntk.trace(),
        "min eigenvalue {min:e}, trace {:e}",
        g.ntk.trace()
    );
}

// ---------------------------------------------------------------------------------------------
// Library bug: gram() does not detect identical rows
// ---------------------------------------------------------------------------------------------

/// `cross` gives a row of x1 identical to a row of x2 the diagonal values bit for bit (it replaces the
/// GEMM's x·x'/d by ‖x‖²/d for such pairs, so that c = q and `pair_chain` takes the diagonal formulas).
/// `gram` has no such detection: for two identical rows i ≠ j it feeds the GEMM value, which can be
/// 1 ulp off ‖x‖²/d. For the ReLU family that is θ ≈ √ε (NTK off by up to 4.6e-9 relative, 611 of
/// 2000 random duplicated rows at depth 1); in the chaotic phase the ulp grows with depth until the
/// pair decorrelates: Erf, σ_w = 2.5, σ_b = 0.1, depth 100 gives Σ = 0.0510 for the pair against
/// 4.458 on the diagonal (and from `cross`).
#[test]
fn gram_identical_rows_get_the_diagonal_values() {
    let v = [
        -2.023_640_816_910_057_3,
        1.534_988_463_932_855,
        -1.460_544_130_375_239_6,
        -0.695_880_373_312_605_5,
        -1.781_403_465_294_354_7,
        0.108_409_342_371_017_74,
    ];
    let x = DMatrix::from_fn(2, 6, |_, j| v[j]);
    let erf = Activation::Erf {
        a: 1.0,
        b: 1.0,
        c: 0.0,
    };
    for (act, depth, w_std, b_std) in [(Activation::Relu, 1, 1.0, None), (erf, 100, 2.5, Some(0.1))]
    {
        let net = Network::mlp(depth, act.clone())
            .w_std(w_std)
            .b_std(b_std)
            .width(WIDTH)
            .build()
            .unwrap();
        let g = net.gram(&x).unwrap();
        let c = net.cross(&x, &x).unwrap();
        // cross already does this exactly; gram must agree with it.
        assert_eq!(
            c.nngp[(0, 1)],
            g.nngp[(0, 0)],
            "{} depth {depth}: cross",
            act.name()
        );
        assert_eq!(
            g.nngp[(0, 1)],
            g.nngp[(0, 0)],
            "{} depth {depth}: gram Σ",
            act.name()
        );
        assert_eq!(
            g.ntk[(0, 1)],
            g.ntk[(0, 0)],
            "{} depth {depth}: gram Θ",
            act.name()
        );
    }
}
