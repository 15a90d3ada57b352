//! Per-activation checks of every dual T(c; q1, q2) = E[φ(u)φ(v)], Ṫ = E[φ'(u)φ'(v)] against
//! computations that share no code with the closed forms:
//!
//! 1. Ṫ = ∂T/∂c (Price's theorem) by central finite differences, for every closed form;
//! 2. a 2-D Gauss–Hermite quadrature built from `Activation::eval_with_derivative` (φ and φ' only)
//!    for the smooth activations, T, Ṫ and the diagonal T(q; q, q); plus the convergence table of the
//!    quadrature for Erf, ReLU, GELU and Sin (printed, run with `--nocapture`);
//! 3. the named quadrature activations (sigmoid, tanh, softplus, SiLU, ELU, SELU) at their default
//!    48 nodes against 200 nodes, and against Monte Carlo;
//! 4. the rectified monomials (arc-cosine kernels) at θ = 0 and θ = π, their continuity, ReLU, and
//!    Monte Carlo;
//! 5. Sign and a polynomial at a zero-variance input;
//! 6. the sphere and normalized duals.
//!
//! Error measure. |T| ≤ √(T(q1; q1, q1)·T(q2; q2, q2)) and |Ṫ| ≤ √(Ṫ(q1; q1, q1)·Ṫ(q2; q2, q2)) by
//! Cauchy–Schwarz, so these products (the "scales") are the natural magnitude of T and Ṫ at a point:
//! errors are measured relative to them. Unlike |T| itself, they never vanish where T crosses 0
//! (Sin at c = 0, Gaussian's Ṫ at c = 0, antiparallel ReLU).

use ntk::activation::{Activation, Dual, DualActivation, QuadratureDual};
use std::f64::consts::PI;
use std::sync::Arc;

const EPS: f64 = f64::EPSILON;

// ---------------------------------------------------------------------------------------------
// Activations and evaluation points
// ---------------------------------------------------------------------------------------------

/// Every closed-form activation, several with non-default parameters.
fn closed_forms() -> Vec<Activation> {
    use Activation as A;
    let mut v = vec![
        A::Relu,
        A::LeakyRelu { alpha: 0.1 },
        A::AbRelu { a: -0.3, b: 1.7 },
        A::Abs,
        A::Erf {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
        A::Erf {
            a: 1.3,
            b: 0.7,
            c: -0.4,
        },
        A::SigmoidErf,
        A::SigmoidLike,
        A::Gelu,
        A::Sin {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
        A::Sin {
            a: 0.8,
            b: 1.5,
            c: 0.3,
        },
        A::Cos {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
        A::Cos {
            a: 1.2,
            b: 0.6,
            c: -0.5,
        },
        A::Rbf { gamma: 0.5 },
        A::Rbf { gamma: 1.3 },
        A::Exp { a: 1.0, b: 1.0 },
        A::Exp { a: 0.7, b: 0.5 },
        A::Gaussian { a: 1.0, b: -1.0 },
        A::Gaussian { a: 0.8, b: -0.3 },
        A::Sign,
        A::Polynomial {
            coef: vec![0.3, -1.0, 0.5, 0.2],
        },
        A::Polynomial {
            coef: vec![1.0, 0.0, -0.4, 0.0, 0.1, 0.05],
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

/// Activations with a kink or a jump (φ or φ' not smooth at 0).
fn is_kinked(a: &Activation) -> bool {
    use Activation as A;
    matches!(
        a,
        A::Relu
            | A::LeakyRelu { .. }
            | A::AbRelu { .. }
            | A::Abs
            | A::Sign
            | A::RectifiedMonomial { .. }
    )
}

/// Polynomial activations, for which the Gauss–Hermite rule is exact with few nodes.
fn polynomial_degree(a: &Activation) -> Option<usize> {
    use Activation as A;
    match a {
        A::Monomial { degree } | A::Hermite { degree } => Some(*degree as usize),
        A::Polynomial { coef } => Some(coef.len() - 1),
        A::Affine { .. } | A::Identity => Some(1),
        _ => None,
    }
}

/// The named activations that have no closed form (quadrature in the library).
fn quadrature_named() -> Vec<Activation> {
    use Activation as A;
    vec![
        A::Sigmoid,
        A::Tanh,
        A::Softplus,
        A::Silu,
        A::Elu { alpha: 1.0 },
        A::Elu { alpha: 0.5 },
        A::Selu,
    ]
}

/// Variance pairs (q1, q2): unit, unequal, small and large.
const VARS: [(f64, f64); 4] = [(1.0, 1.0), (0.5, 2.0), (2.5, 0.3), (3.0, 3.0)];

/// Correlations ρ = c/√(q1 q2), including the two ends of the interval and points next to them.
const RHOS: [f64; 11] = [
    -1.0,
    -(1.0 - 1e-9),
    -0.999,
    -0.6,
    -0.1,
    0.0,
    0.35,
    0.8,
    0.999,
    1.0 - 1e-9,
    1.0,
];

/// All (c, q1, q2) of the grid.
fn grid() -> Vec<(f64, f64, f64)> {
    let mut v = Vec::new();
    for &(q1, q2) in &VARS {
        for &rho in &RHOS {
            v.push((rho * (q1 * q2).sqrt(), q1, q2));
        }
    }
    v
}

fn dual_of(a: &Activation) -> Dual {
    a.dual()
        .unwrap_or_else(|e| panic!("{}: {e}", a.name()))
}

/// An independent quadrature dual of `a`: the library's generic Gauss–Hermite rule fed only with
/// φ and φ' from `eval_with_derivative`, so it shares no formula with the closed form.
fn quadrature_of(a: &Activation, nodes: usize) -> QuadratureDual {
    let (f, df) = (a.clone(), a.clone());
    QuadratureDual::new(
        format!("quadrature of {}", a.name()),
        Arc::new(move |x| f.eval_with_derivative(x).0),
        Arc::new(move |x| df.eval_with_derivative(x).1),
        None,
        nodes,
    )
    .unwrap()
}

/// Cauchy–Schwarz scales (√(T(q1)T(q2)), √(Ṫ(q1)Ṫ(q2))) of a dual at (q1, q2), from its diagonal.
fn scales<D: DualActivation>(d: &D, q1: f64, q2: f64) -> (f64, f64) {
    let (t1, d1) = d.dual_diag(q1);
    let (t2, d2) = d.dual_diag(q2);
    ((t1 * t2).abs().sqrt(), (d1 * d2).abs().sqrt())
}

// ---------------------------------------------------------------------------------------------
// Monte Carlo
// ---------------------------------------------------------------------------------------------

/// xorshift64* (Vigna 2016): plenty for 2·10⁵ draws, and reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform on (0, 1), never 0 (safe for ln).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Two independent N(0, 1) by Box–Muller.
    fn normals(&mut self) -> (f64, f64) {
        let r = (-2.0 * self.uniform().ln()).sqrt();
        let t = 2.0 * PI * self.uniform();
        (r * t.cos(), r * t.sin())
    }
}

/// A Monte Carlo mean with its standard error.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    mean: f64,
    se: f64,
}

impl Estimate {
    fn from_sums(n: usize, s: f64, s2: f64) -> Self {
        let nf = n as f64;
        let mean = s / nf;
        let var = (s2 / nf - mean * mean).max(0.0) * nf / (nf - 1.0);
        Estimate {
            mean,
            se: (var / nf).sqrt(),
        }
    }
    /// How many standard errors `x` is from the estimate (0 when both agree exactly).
    fn z(&self, x: f64) -> f64 {
        let d = (x - self.mean).abs();
        if d == 0.0 {
            0.0
        } else {
            d / self.se
        }
    }
}

/// E[φ(u)φ(v)] and E[φ'(u)φ'(v)] for (u, v) ~ N(0, [[q1, c], [c, q2]]) from `n` draws: u = √q1·z1,
/// v = (c/√q1)·z1 + √(q2 − c²/q1)·z2 (with c = √(q1 q2) this is the perfectly correlated v ∝ u).
fn monte_carlo(a: &Activation, c: f64, q1: f64, q2: f64, n: usize, seed: u64) -> (Estimate, Estimate) {
    let mut rng = Rng::new(seed);
    let k = c / q1.sqrt();
    let r = (q2 - k * k).max(0.0).sqrt();
    let (mut st, mut st2, mut sd, mut sd2) = (0.0, 0.0, 0.0, 0.0);
    for _ in 0..n {
        let (z1, z2) = rng.normals();
        let u = q1.sqrt() * z1;
        let v = k * z1 + r * z2;
        let (fu, du) = a.eval_with_derivative(u);
        let (fv, dv) = a.eval_with_derivative(v);
        let (t, d) = (fu * fv, du * dv);
        st += t;
        st2 += t * t;
        sd += d;
        sd2 += d * d;
    }
    (Estimate::from_sums(n, st, st2), Estimate::from_sums(n, sd, sd2))
}

/// Samples per Monte Carlo check: the standard error is then ~0.2 % of the spread of φ(u)φ(v).
const MC_SAMPLES: usize = 200_000;
/// Monte Carlo acceptance: 5 standard errors. A correct dual fails one such check with probability
/// 5.7e-7 (two-sided normal tail; 2·10⁵ draws make the mean normal to a good approximation), so the
/// ~60 checks below fail by chance with probability < 4e-5 — and the seeds are fixed anyway. A wrong
/// term of relative size ≳ 1 % is 5σ away.
const MC_SIGMAS: f64 = 5.0;

// ---------------------------------------------------------------------------------------------
// 1. Ṫ = ∂T/∂c by central differences
// ---------------------------------------------------------------------------------------------

/// Step of the central difference, relative to √P = √(q1 q2) (the natural unit of c).
/// The error of (T(c + h) − T(c − h))/(2h) is h²|∂³T/∂c³|/6 (truncation) plus about k·ε·|T|/h from
/// the rounding of the two evaluations (k ulps each). h = 10⁻⁵√P balances them: the rounding term is
/// k·2.2e-11·T_scale/√P and the truncation term 1.7e-11·P·|∂³T/∂c³|.
const FD_STEP: f64 = 1e-5;

#[test]
fn dot_is_the_c_derivative_of_t() {
    let mut worst: f64 = 0.0;
    for act in closed_forms() {
        let d = dual_of(&act);
        for (c, q1, q2) in grid() {
            let sp = (q1 * q2).sqrt();
            let rho = c / sp;
            if !d.dot_is_derivative() {
                // Sign and the step: φ' = 0 almost everywhere, so E[φ'φ'] = 0 exactly.
                assert_eq!(d.dual(c, q1, q2).1, 0.0, "{} at {c},{q1},{q2}", act.name());
                continue;
            }
            // Stay away from ρ = ±1, where the ReLU family's Ṫ has a kink (∂²T/∂c² ∝ 1/√(P − c²)):
            // with |ρ| ≤ 0.999 the stencil c ± 10⁻⁵√P stays 100 steps inside the interval.
            if rho.abs() > 0.999 {
                continue;
            }
            let h = FD_STEP * sp;
            let fd = (d.nngp(c + h, q1, q2) - d.nngp(c - h, q1, q2)) / (2.0 * h);
            let dot = d.dot(c, q1, q2);
            let (ts, ds) = scales(&d, q1, q2);
            // Truncation: h²|T'''|/6 ≤ 1e-6·Ṫ_scale needs P·|T'''| ≤ 6e4·Ṫ_scale/… ; the largest
            // third derivative on this grid is the ReLU family's at |ρ| = 0.999,
            // ∂³T/∂ρ³ = ρ(a−b)²/(2π(1−ρ²)^{3/2}) ≈ 1.8e3·(a−b)², which gives 3e-8·(a−b)² relative.
            // Rounding: T is evaluated to ≲ 50 ulps, i.e. 50·ε·T_scale/h = 1.1e-9·T_scale/√P.
            let tol = 1e-6 * ds + 1.1e-9 * ts / sp;
            let err = (fd - dot).abs();
            worst = worst.max(err / tol);
            assert!(
                err <= tol,
                "{}: ∂T/∂c by differences {fd} vs Ṫ {dot} at (c, q1, q2) = ({c}, {q1}, {q2}), ρ = {rho}; \
                 |Δ| = {err:.3e} > tol {tol:.3e}",
                act.name()
            );
        }
    }
    println!("finite differences: worst |FD − Ṫ|/tol = {worst:.3e}");
}

/// For Sign, ∂T/∂c = 2/(π√(P − c²)) ≠ Ṫ = 0: this is why `dot_is_derivative` is false for it.
#[test]
fn sign_and_step_t_derivative_is_not_dot() {
    let sign = dual_of(&Activation::Sign);
    let step = dual_of(&Activation::RectifiedMonomial { degree: 0 });
    assert!(!sign.dot_is_derivative() && !step.dot_is_derivative());
    for &(q1, q2) in &VARS {
        let sp = (q1 * q2).sqrt();
        for rho in [-0.9, -0.3, 0.0, 0.5, 0.95] {
            let c = rho * sp;
            let h = FD_STEP * sp;
            let expect = 2.0 / (PI * (q1 * q2 - c * c).sqrt());
            let fd = (sign.nngp(c + h, q1, q2) - sign.nngp(c - h, q1, q2)) / (2.0 * h);
            // T = (2/π)asin(ρ): the same truncation/rounding budget as above, relative to ∂T/∂c.
            assert!((fd - expect).abs() <= 1e-6 * expect, "sign: {fd} vs {expect}");
            // The step x⁰·1[x ≥ 0] has T = (π − θ)/(2π), ∂T/∂c = 1/(2π√(P − c²)), one quarter.
            let fd0 = (step.nngp(c + h, q1, q2) - step.nngp(c - h, q1, q2)) / (2.0 * h);
            assert!((fd0 - expect / 4.0).abs() <= 1e-6 * expect, "step: {fd0} vs {}", expect / 4.0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Closed forms against an independent 2-D Gauss–Hermite quadrature
// ---------------------------------------------------------------------------------------------

/// Nodes per dimension of the reference quadrature for the smooth non-polynomial activations.
const QUAD_NODES: usize = 200;

#[test]
fn smooth_closed_forms_match_quadrature() {
    for act in closed_forms().into_iter().filter(|a| !is_kinked(a)) {
        let d = dual_of(&act);
        let nodes = match polynomial_degree(&act) { Some(_) => 32, None => QUAD_NODES };
        let q = quadrature_of(&act, nodes);
        let (mut et, mut ed): (f64, f64) = (0.0, 0.0);
        for (c, q1, q2) in grid() {
            let (t, dot) = d.dual(c, q1, q2);
            let (tq, dq) = q.dual(c, q1, q2);
            let (ts, ds) = scales(&d, q1, q2);
            et = et.max((t - tq).abs() / ts);
            if ds > 0.0 { ed = ed.max((dot - dq).abs() / ds); }
        }
        let mut eg: f64 = 0.0;
        for qq in [0.0, 0.3, 1.0, 2.5, 3.0] {
            let (t, dot) = d.dual_diag(qq);
            let (tq, dq) = q.dual_diag(qq);
            eg = eg.max((t - tq).abs() / t.abs().max(1e-300)).max((dot - dq).abs() / dot.abs().max(1e-300));
        }
        println!("{:40} T {et:.2e}  Tdot {ed:.2e}  diag {eg:.2e}", act.name());
    }
}
