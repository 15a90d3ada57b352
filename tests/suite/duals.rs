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

use crate::common::{
    XorShift, closed_forms, is_kinked, quadrature_named, two_sided_tail, two_sided_z,
};
use approx::abs_diff_eq;
use ntk::activation::{Activation, Dual, DualActivation, QuadratureDual};
use std::f64::consts::PI;
use std::sync::Arc;

const EPS: f64 = f64::EPSILON;

// ---------------------------------------------------------------------------------------------
// Activations and evaluation points
// ---------------------------------------------------------------------------------------------

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
    a.dual().unwrap_or_else(|e| panic!("{}: {e}", a.name()))
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
        if d == 0.0 { 0.0 } else { d / self.se }
    }
}

/// E[φ(u)φ(v)] and E[φ'(u)φ'(v)] for (u, v) ~ N(0, [[q1, c], [c, q2]]) from `n` draws: u = √q1·z1,
/// v = (c/√q1)·z1 + √(q2 − c²/q1)·z2 (with c = √(q1 q2) this is the perfectly correlated v ∝ u).
fn monte_carlo(
    a: &Activation,
    c: f64,
    q1: f64,
    q2: f64,
    n: usize,
    seed: u64,
) -> (Estimate, Estimate) {
    let mut rng = XorShift::new(seed);
    let k = c / q1.sqrt();
    let r = (q2 - k * k).max(0.0).sqrt();
    let (mut st, mut st2, mut sd, mut sd2) = (0.0, 0.0, 0.0, 0.0);
    for _ in 0..n {
        let (z1, z2) = rng.normal_pair();
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
    (
        Estimate::from_sums(n, st, st2),
        Estimate::from_sums(n, sd, sd2),
    )
}

/// Samples per Monte Carlo check: the standard error is then ~0.2 % of the spread of φ(u)φ(v).
const MC_SAMPLES: usize = 200_000;
/// Chance failure probability of one Monte Carlo check: 2·10⁵ draws make the mean normal to a good
/// approximation, so a correct dual is more than `mc_sigmas()` = 4.89 standard errors away with this
/// probability, and the 84 checks below fail by chance together with probability < 8.4e-5
/// (Bonferroni) — and the seeds are fixed anyway. A wrong term of relative size ≳ 1 % is 5σ away.
const MC_FALSE_ALARM: f64 = 1e-6;

/// The acceptance threshold of the Monte Carlo checks, in standard errors: the two-sided normal
/// quantile of `MC_FALSE_ALARM`.
fn mc_sigmas() -> f64 {
    two_sided_z(MC_FALSE_ALARM)
}

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
            // Truncation: in ρ = c/√P the stencil has step 1e-5, so the error is
            // (1e-10/6)·|∂³T/∂ρ³|/√P. The largest third derivative on this grid is the ReLU family's
            // at |ρ| = 0.999, ∂³T/∂ρ³ = √P·ρ(a − b)²/(2π(1 − ρ²)^{3/2}) ≈ 1.1e4·√P·(a − b)²/(2π),
            // i.e. an error of 1.9e-7·(a − b)²/(2π) ≤ 1.2e-7·Ṫ_scale (Ṫ_scale = (a² + b²)/2). The
            // smooth duals' third derivatives are O(1)·T_scale/P on this grid. Bound: 1e-6·Ṫ_scale.
            // Rounding: T is evaluated to ≲ 50 ulps, i.e. 50·ε·T_scale/h = 1.1e-9·T_scale/√P.
            let tol = 1e-6 * ds + 1.1e-9 * ts / sp;
            let err = (fd - dot).abs();
            worst = worst.max(err / tol);
            assert!(
                abs_diff_eq!(fd, dot, epsilon = tol),
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
            assert!(
                abs_diff_eq!(fd, expect, epsilon = 1e-6 * expect),
                "sign: {fd} vs {expect}"
            );
            // The step x⁰·1[x ≥ 0] has T = (π − θ)/(2π), ∂T/∂c = 1/(2π√(P − c²)), one quarter.
            let fd0 = (step.nngp(c + h, q1, q2) - step.nngp(c - h, q1, q2)) / (2.0 * h);
            assert!(
                abs_diff_eq!(fd0, expect / 4.0, epsilon = 1e-6 * expect),
                "step: {fd0} vs {}",
                expect / 4.0
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Closed forms against an independent 2-D Gauss–Hermite quadrature
// ---------------------------------------------------------------------------------------------

/// Nodes per dimension of the reference quadrature for the smooth non-polynomial activations.
/// 180, not 200: `gauss_hermite(n)` is wrong for every n ≥ 199 (see
/// `gauss_hermite_rule_is_exact_for_every_accepted_node_count`).
const QUAD_NODES: usize = 180;
/// The coarser rule whose distance to the 180-node one estimates the quadrature error.
const QUAD_NODES_COARSE: usize = 120;
/// Nodes for polynomial activations: the n-point rule integrates degree ≤ 2n − 1 exactly in each
/// dimension and φ(u)φ(v) has degree ≤ 2·6 = 12 in each, so 32 nodes are exact up to rounding.
const QUAD_NODES_POLY: usize = 32;

/// Rounding floor of a quadrature-vs-closed-form comparison, relative to the scale: the 2-D rule sums
/// 180 inner and 180 outer terms, each recursive sum adding at most (n − 1)·ε ≈ 4e-14 relative to
/// Σ|terms| ≤ scale (Cauchy–Schwarz), i.e. ≈ 8e-14 in all; plus a few ulps for the closed form.
const QUAD_ROUNDING: f64 = 1e-13;

/// Closed forms of the smooth activations against the independent quadrature, for T, Ṫ and the
/// diagonal. The quadrature of an entire integrand converges faster than geometrically, so its error
/// at 180 nodes is below its change since 120 nodes: that change, plus the rounding floor, is the
/// tolerance at each point.
#[test]
fn smooth_closed_forms_match_quadrature() {
    for act in closed_forms().into_iter().filter(|a| !is_kinked(a)) {
        let d = dual_of(&act);
        let (fine, coarse) = match polynomial_degree(&act) {
            Some(_) => (quadrature_of(&act, QUAD_NODES_POLY), None),
            None => (
                quadrature_of(&act, QUAD_NODES),
                Some(quadrature_of(&act, QUAD_NODES_COARSE)),
            ),
        };
        let (mut worst_t, mut worst_d, mut worst_ratio): (f64, f64, f64) = (0.0, 0.0, 0.0);
        let mut check = |what: &str, closed: f64, quad: f64, quad_coarse: f64, scale: f64| {
            let err = (closed - quad).abs();
            let tol = QUAD_ROUNDING * scale + (quad - quad_coarse).abs();
            assert!(
                abs_diff_eq!(closed, quad, epsilon = tol),
                "{} {what}: closed form {closed} vs quadrature {quad} (coarse {quad_coarse}); \
                 |Δ| = {err:.3e} > tol {tol:.3e}",
                act.name()
            );
            worst_ratio = worst_ratio.max(err / tol);
            err / scale.max(f64::MIN_POSITIVE)
        };
        for (c, q1, q2) in grid() {
            let (t, dot) = d.dual(c, q1, q2);
            let (tq, dq) = fine.dual(c, q1, q2);
            let (tc, dc) = coarse.as_ref().map_or((tq, dq), |g| g.dual(c, q1, q2));
            let (ts, ds) = scales(&d, q1, q2);
            let at = format!("T at ({c}, {q1}, {q2})");
            worst_t = worst_t.max(check(&at, t, tq, tc, ts));
            let at = format!("Ṫ at ({c}, {q1}, {q2})");
            worst_d = worst_d.max(check(&at, dot, dq, dc, ds));
        }
        for q in [0.0, 0.3, 1.0, 2.5, 3.0] {
            let (t, dot) = d.dual_diag(q);
            let (tq, dq) = fine.dual_diag(q);
            let (tc, dc) = coarse.as_ref().map_or((tq, dq), |g| g.dual_diag(q));
            worst_t = worst_t.max(check(&format!("T({q}; {q}, {q})"), t, tq, tc, t.abs()));
            worst_d = worst_d.max(check(&format!("Ṫ({q}; {q}, {q})"), dot, dq, dc, dot.abs()));
        }
        println!(
            "quadrature vs closed form  {:50} max |ΔT|/scale {worst_t:.2e}  max |ΔṪ|/scale {worst_d:.2e}  \
             max |Δ|/tol {worst_ratio:.2}",
            act.name()
        );
    }
}

/// The convergence table of the quadrature (for the documentation): the largest error of an n-node
/// Gauss–Hermite dual against the closed form, for Erf, ReLU, GELU and Sin. "rel" is |Δ|/|closed| over
/// the interior points |ρ| ≤ 0.8 of the grid; "/scale" is |Δ|/scale over the whole grid, ρ = ±1 included.
///
/// Only ReLU's error is asserted here (the smooth ones are held to far tighter bounds above). φ(u)φ(v)
/// has a kink and φ'(u)φ'(v) a jump on the lines u = 0 and v = 0; near the origin the rule's nodes are
/// π/√(2n) apart, so the error is O(spacing²) = O(1/n) for T and O(spacing) = O(1/√n) for Ṫ. The
/// measured constants are 0.27/n and 0.26/√n; the bounds 0.5/n and 0.5/√n hold these rates with a 2×
/// margin on the constant.
#[test]
fn quadrature_convergence_table() {
    use Activation as A;
    let acts = [
        A::Erf {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
        A::Relu,
        A::Gelu,
        A::Sin {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
    ];
    println!(
        "max error of the n-node Gauss–Hermite dual vs the closed form, {} (c, q1, q2) with \
         (q1, q2) in {VARS:?}, ρ in {RHOS:?}",
        grid().len()
    );
    println!(
        "{:20} {:>5} {:>13} {:>13} {:>13} {:>13}",
        "activation", "nodes", "T rel ρ≤0.8", "Ṫ rel ρ≤0.8", "T /scale", "Ṫ /scale"
    );
    for act in &acts {
        let d = dual_of(act);
        for nodes in [16, 32, 48, 64, 100] {
            let q = quadrature_of(act, nodes);
            let mut e = [0.0f64; 4];
            for (c, q1, q2) in grid() {
                let (t, dot) = d.dual(c, q1, q2);
                let (tq, dq) = q.dual(c, q1, q2);
                let (ts, ds) = scales(&d, q1, q2);
                if c.abs() <= 0.8 * (q1 * q2).sqrt() + 1e-12 && c != 0.0 {
                    e[0] = e[0].max((t - tq).abs() / t.abs());
                    e[1] = e[1].max((dot - dq).abs() / dot.abs());
                }
                e[2] = e[2].max((t - tq).abs() / ts);
                e[3] = e[3].max((dot - dq).abs() / ds);
            }
            println!(
                "{:20} {nodes:>5} {:>13.2e} {:>13.2e} {:>13.2e} {:>13.2e}",
                act.name(),
                e[0],
                e[1],
                e[2],
                e[3]
            );
            if matches!(act, A::Relu) {
                let n = nodes as f64;
                assert!(e[2] <= 0.5 / n, "ReLU T at {nodes} nodes: {:.3e}", e[2]);
                assert!(
                    e[3] <= 0.5 / n.sqrt(),
                    "ReLU Ṫ at {nodes} nodes: {:.3e}",
                    e[3]
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Named quadrature activations: default rule vs a fine rule, and Monte Carlo
// ---------------------------------------------------------------------------------------------

/// ELU's dual by a route that does not cross the kink: given u, v is N(μ = (c/q1)u, s² = q2 − c²/q1)
/// and E[φ(v) | u], E[φ'(v) | u] are closed forms (truncated normal moments); the remaining 1-D
/// integral over u is split at the kink u = 0 and done by composite Simpson on [−12√q1, 0] and
/// [0, 12√q1] with 4000 panels each. Simpson's error h⁴|f⁗|/180 with h = 0.003√q1 is ~1e-12 here and
/// the Gaussian tail beyond 12σ is 4e-33.
/// SELU is λ²·ELU_α. Valid for |c| < √(q1 q2).
fn elu_reference(alpha: f64, scale: f64, c: f64, q1: f64, q2: f64) -> (f64, f64) {
    use libm::erfc;
    let cdf = |x: f64| 0.5 * erfc(-x / std::f64::consts::SQRT_2);
    let pdf = |x: f64| (-0.5 * x * x).exp() / (2.0 * PI).sqrt();
    let k = c / q1;
    let s = (q2 - c * c / q1).sqrt();
    // `positive`: which side of the kink u = 0 the point belongs to (matters only at u = 0 itself).
    let integrand = |u: f64, positive: bool| {
        let mu = k * u;
        let a = mu / s;
        let tail = alpha * (mu + 0.5 * s * s).exp() * cdf(-a - s);
        let g0 = mu * cdf(a) + s * pdf(a) + tail - alpha * cdf(-a);
        let g1 = cdf(a) + tail;
        let (f, df) = if positive {
            (u, 1.0)
        } else {
            (alpha * u.exp_m1(), alpha * u.exp())
        };
        let w = pdf(u / q1.sqrt()) / q1.sqrt();
        (f * g0 * w, df * g1 * w)
    };
    let simpson = |lo: f64, hi: f64, panels: usize, positive: bool| {
        let h = (hi - lo) / panels as f64;
        let (mut t, mut d) = (0.0, 0.0);
        for i in 0..=panels {
            let wgt = if i == 0 || i == panels {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            // Each half evaluates its endpoint at the kink from its own side.
            let (a, b) = integrand(lo + h * i as f64, positive);
            t += wgt * a;
            d += wgt * b;
        }
        (t * h / 3.0, d * h / 3.0)
    };
    let l = 12.0 * q1.sqrt();
    let (tn, dn) = simpson(-l, 0.0, 4000, false);
    let (tp, dp) = simpson(0.0, l, 4000, true);
    let s2 = scale * scale;
    (s2 * (tn + tp), s2 * (dn + dp))
}

/// (α, λ) of the ELU-type named activations.
fn elu_params(a: &Activation) -> Option<(f64, f64)> {
    match a {
        Activation::Elu { alpha } => Some((*alpha, 1.0)),
        Activation::Selu => Some((
            ntk::activation::smooth::SELU_ALPHA,
            ntk::activation::smooth::SELU_SCALE,
        )),
        _ => None,
    }
}

/// The default rule (polar, `DEFAULT_NODES` nodes) against the 180-node rule over the grid (the
/// documentation figures), and for ELU/SELU also against the exact semi-analytic dual. The bounds
/// are regression guards set at 3–10× the values measured (printed with --nocapture): the analytic
/// activations converge at a rate set by their complex singularities (tanh's poles at ±iπ/2 are the
/// nearest); the polar rule splits the integral at ELU/SELU's kink, so they converge exponentially too.
const DEFAULT: usize = ntk::activation::DEFAULT_NODES;
// Measured at 32 nodes: sigmoid 8.4e-9, SiLU 5.9e-9, softplus 2.2e-10, tanh 2.6e-7, ELU/SELU 7.2e-14.
const BOUND_SIGMOID: f64 = 5e-8;
const BOUND_SOFTPLUS: f64 = 2e-9;
const BOUND_TANH: f64 = 2e-6;
const BOUND_ELU: f64 = 1e-12;
// Hard tanh: the polar rule split at its kinks (±1) and at the corners of [−1, 1]² converges
// exponentially; its slowest case is nearly parallel pairs, whose kink lines nearly coincide
// (measured ≤ 2.6e-10 of Ṫ's scale against a 128-node rule, `activations.rs`).
const BOUND_HARD_TANH: f64 = 1e-9;

#[test]
fn named_quadrature_default_vs_fine_rule() {
    use Activation as A;
    for act in quadrature_named() {
        let d = dual_of(&act);
        let fine = act.dual_with_nodes(QUAD_NODES).unwrap();
        let mut e = [0.0f64; 3];
        for (c, q1, q2) in grid() {
            let (t, dot) = d.dual(c, q1, q2);
            let (tf, df) = fine.dual(c, q1, q2);
            let (ts, ds) = scales(&fine, q1, q2);
            e[0] = e[0].max((t - tf).abs() / ts);
            e[1] = e[1].max((dot - df).abs() / ds);
        }
        for q in [0.3, 1.0, 2.5, 3.0] {
            let (t, dot) = d.dual_diag(q);
            let (tf, df) = fine.dual_diag(q);
            e[2] = e[2]
                .max((t - tf).abs() / tf.abs())
                .max((dot - df).abs() / df.abs());
        }
        println!(
            "default ({DEFAULT}) vs {QUAD_NODES} nodes  {:16} max |ΔT|/scale {:.2e}  |ΔṪ|/scale {:.2e}  diag rel {:.2e}",
            act.name(),
            e[0],
            e[1],
            e[2]
        );
        let bound = match act {
            A::Sigmoid | A::Silu | A::Mish => BOUND_SIGMOID,
            A::HardTanh => BOUND_HARD_TANH,
            A::Softplus => BOUND_SOFTPLUS,
            A::Tanh => BOUND_TANH,
            _ => BOUND_ELU,
        };
        assert!(
            e.iter().all(|&x| x <= bound),
            "{}: {e:?} > {bound:e}",
            act.name()
        );
        if let Some((alpha, lambda)) = elu_params(&act) {
            // The true error of both rules, at interior points (the reference needs |ρ| < 1).
            let (mut e_def, mut e180) = (0.0f64, 0.0f64);
            for (c, q1, q2) in grid()
                .into_iter()
                .filter(|p| p.0.abs() <= 0.999 * (p.1 * p.2).sqrt())
            {
                let (tr, dr) = elu_reference(alpha, lambda, c, q1, q2);
                let (t, dot) = d.dual(c, q1, q2);
                let (tf, df) = fine.dual(c, q1, q2);
                let (ts, ds) = scales(&fine, q1, q2);
                e_def = e_def.max((t - tr).abs() / ts).max((dot - dr).abs() / ds);
                e180 = e180.max((tf - tr).abs() / ts).max((df - dr).abs() / ds);
            }
            println!(
                "    {:16} vs the exact dual (|ρ| ≤ 0.999): max |Δ|/scale {DEFAULT} nodes {e_def:.2e}, \
                 {QUAD_NODES} nodes {e180:.2e}",
                act.name()
            );
            // The semi-analytic reference is good to ~1e-12 (Simpson, see `elu_reference`).
            assert!(
                e_def <= 1e-9 && e180 <= 1e-9,
                "{}: {e_def:e}, {e180:e}",
                act.name()
            );
        }
    }
}

/// The semi-analytic ELU/SELU reference is itself checked against Monte Carlo, so that the bug report
/// below rests on two independent computations.
#[test]
fn elu_reference_matches_monte_carlo() {
    for (k, act) in quadrature_named().into_iter().enumerate() {
        let Some((alpha, lambda)) = elu_params(&act) else {
            continue;
        };
        for (j, &(c, q1, q2)) in MC_POINTS.iter().enumerate() {
            let (t, dot) = elu_reference(alpha, lambda, c, q1, q2);
            let (et, ed) =
                monte_carlo(&act, c, q1, q2, MC_SAMPLES, 1000 + 10 * k as u64 + j as u64);
            assert!(et.z(t) <= mc_sigmas(), "{} T: {t} vs MC {et:?}", act.name());
            assert!(
                ed.z(dot) <= mc_sigmas(),
                "{} Ṫ: {dot} vs MC {ed:?}",
                act.name()
            );
        }
    }
}

/// Points of the Monte Carlo checks of the named quadrature activations (ρ = 0.37 and −0.89).
const MC_POINTS: [(f64, f64, f64); 2] = [(0.45, 1.0, 1.5), (-1.2, 2.0, 0.9)];

fn check_named_against_monte_carlo(acts: &[Activation]) {
    let cases: Vec<_> = acts
        .iter()
        .map(|act| {
            let k = quadrature_named().iter().position(|a| a == act).unwrap();
            (act.clone(), MC_POINTS.to_vec(), 1000 + 10 * k as u64)
        })
        .collect();
    check_against_monte_carlo(&cases);
}

/// An activation, its (c, q1, q2) points, and the base of their seeds.
type McCase = (Activation, Vec<(f64, f64, f64)>, u64);

/// Each activation's dual against Monte Carlo at its points (seed base per activation, + point
/// index), within `mc_sigmas()` standard errors; prints every comparison (with the chance of a z at
/// least as large) and reports all failures.
fn check_against_monte_carlo(cases: &[McCase]) {
    let mut worst: f64 = 0.0;
    let mut failures = Vec::new();
    for (act, points, seed) in cases {
        let d = dual_of(act);
        for (j, &(c, q1, q2)) in points.iter().enumerate() {
            let (t, dot) = d.dual(c, q1, q2);
            let (et, ed) = monte_carlo(act, c, q1, q2, MC_SAMPLES, seed + j as u64);
            println!(
                "MC {:28} at ({c:.4}, {q1}, {q2}): T {t:.6} vs {:.6} ± {:.1e} (z = {:.2}); \
                 Ṫ {dot:.6} vs {:.6} ± {:.1e} (z = {:.2})",
                act.name(),
                et.mean,
                et.se,
                et.z(t),
                ed.mean,
                ed.se,
                ed.z(dot)
            );
            worst = worst.max(et.z(t)).max(ed.z(dot));
            for (what, v, e) in [("T", t, et), ("Ṫ", dot, ed)] {
                if e.z(v) > mc_sigmas() {
                    failures.push(format!(
                        "{} {what} at ({c}, {q1}, {q2}): {v} vs MC {} ± {} (z = {:.1})",
                        act.name(),
                        e.mean,
                        e.se,
                        e.z(v)
                    ));
                }
            }
        }
    }
    println!(
        "largest z = {worst:.2} (two-sided normal tail {:.1e})",
        two_sided_tail(worst)
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn named_smooth_quadrature_match_monte_carlo() {
    use Activation as A;
    check_named_against_monte_carlo(&[A::Sigmoid, A::Tanh, A::Softplus, A::Silu]);
}

#[test]
fn named_kinked_quadrature_match_monte_carlo() {
    use Activation as A;
    check_named_against_monte_carlo(&[A::Elu { alpha: 1.0 }, A::Elu { alpha: 0.5 }, A::Selu]);
}

// ---------------------------------------------------------------------------------------------
// 4. Rectified monomials (arc-cosine kernels) and Monte Carlo for the kinked closed forms
// ---------------------------------------------------------------------------------------------

fn double_factorial_odd(n: u32) -> f64 {
    (1..=n).map(|k| (2 * k - 1) as f64).product()
}

/// At θ = 0 (c = √P, v = √(q2/q1)·u) E[uⁿvⁿ·1[u ≥ 0]] = (q2/q1)^{n/2}·E[u²ⁿ]/2 = (2n − 1)!!·P^{n/2}/2;
/// at θ = π (v = −√(q2/q1)·u) the two indicators never hold together: 0. The closed form evaluates
/// the Cho–Saul polynomials without dividing by sin θ, so both ends are plain evaluations.
#[test]
fn rectified_monomial_at_theta_zero_and_pi() {
    for n in 0..=4u32 {
        let d = dual_of(&Activation::RectifiedMonomial { degree: n });
        for &(q1, q2) in &VARS {
            let p = q1 * q2;
            let sp = p.sqrt();
            let expect = double_factorial_odd(n) * p.powf(n as f64 / 2.0) / 2.0;
            let (t0, _) = d.dual(sp, q1, q2);
            // √P is rounded, so P − c² is a rounding residual of at most ~2ε·P (ε/2 each from P, from
            // c and, doubled, from c²) and θ ≤ √(2ε) ≈ 2.1e-8 instead of 0. For n ≥ 1, T is even in θ
            // at θ = 0 (∂T/∂c is finite there), so this moves T by O(θ²) ≈ 4e-16 relative; 1e-14
            // (45 ulps) covers that and the rounding of the polynomial evaluation. For the step (n = 0)
            // T = ½ − θ/(2π) moves linearly: ≤ √(2ε)/(2π) = 3.4e-9 absolute (inherent in c ≠ √P).
            let tol = if n == 0 {
                (2.0 * EPS).sqrt() / (2.0 * PI)
            } else {
                1e-14 * expect
            };
            assert!(
                abs_diff_eq!(t0, expect, epsilon = tol),
                "RectifiedMonomial({n}) at θ = 0, (q1, q2) = ({q1}, {q2}): {t0} vs {expect}"
            );
            let (tpi, dpi) = d.dual(-sp, q1, q2);
            // At θ = π the rounding of √P leaves π − θ ≤ √(2ε) as above. T vanishes like
            // (π − θ)^{2n+1}, so for n ≥ 1 it is below 1e-14·expect (a real zero); the step's
            // T = (π − θ)/(2π) is again ≤ √(2ε)/(2π).
            assert!(
                abs_diff_eq!(tpi, 0.0, epsilon = tol),
                "RectifiedMonomial({n}) at θ = π: {tpi}"
            );
            if n >= 1 {
                // Ṫ = n²·T_{n−1}(θ = π) = 0 as well; scale n²·(2n − 3)!!·P^{(n−1)/2}/2.
                let dscale =
                    (n * n) as f64 * double_factorial_odd(n - 1) * p.powf((n as f64 - 1.0) / 2.0)
                        / 2.0;
                // For n = 1, Ṫ = T₀ is the step's (π − θ)/(2π) ≤ √(2ε)/(2π), as above.
                let dtol = if n == 1 {
                    (2.0 * EPS).sqrt() / (2.0 * PI)
                } else {
                    1e-14 * dscale
                };
                assert!(
                    abs_diff_eq!(dpi, 0.0, epsilon = dtol),
                    "RectifiedMonomial({n}) Ṫ at θ = π: {dpi}"
                );
            }
            // Continuity at θ = 0, at c = √P(1 − δ), δ = 1e-10.
            let delta = 1e-10;
            let (tc, _) = d.dual(sp * (1.0 - delta), q1, q2);
            if n == 0 {
                // The step's T = (π − θ)/(2π) is continuous but not differentiable at θ = 0: it is
                // ½ − θ/(2π) with θ = 2·asin(√(δ/2)) ≈ 1.4e-5 (exact for cos θ = 1 − δ). The rounding
                // of c = √P(1 − δ) (ε relative, i.e. 1e-6 relative on δ) moves θ by 5e-7 relative,
                // T by 1.1e-12; 1e-11 absolute.
                let theta = 2.0 * (delta / 2.0).sqrt().asin();
                let want = 0.5 - theta / (2.0 * PI);
                assert!(
                    abs_diff_eq!(tc, want, epsilon = 1e-11),
                    "step near θ = 0, (q1, q2) = ({q1}, {q2}): {tc} vs {want}"
                );
            } else {
                // For n ≥ 1, T is C¹ in c with ∂T/∂c = Ṫ = n²·T_{n−1}, so T(√P(1 − δ)) − T(√P) ≈
                // −Ṫ(√P)·√P·δ where Ṫ(√P)·√P/T(√P) = n²(2n − 3)!!/(2n − 1)!! ≤ n: a true change of at
                // most n·1e-10 relative. The rounding of P − c² (ε/(2δ) ≈ 1e-6 relative on a quantity
                // 2δP) moves θ ≈ 1.4e-5 by ~1e-11 relative, which changes T by far less since
                // ∂T/∂θ = O(θ). Bound: (n + 1)·1e-10 relative.
                assert!(
                    abs_diff_eq!(tc, expect, epsilon = (n as f64 + 1.0) * delta * expect),
                    "RectifiedMonomial({n}) continuity at θ → 0: {tc} vs {expect}"
                );
            }
        }
    }
}

#[test]
fn rectified_monomial_one_is_relu() {
    let relu = dual_of(&Activation::Relu);
    let rm1 = dual_of(&Activation::RectifiedMonomial { degree: 1 });
    for (c, q1, q2) in grid() {
        let (t, dot) = relu.dual(c, q1, q2);
        let (tr, dr) = rm1.dual(c, q1, q2);
        // Both evaluate (√(P − c²) + (π − θ)c)/(2π) and (π − θ)/(2π) from the same θ, in a different
        // order: a few roundings, 1e-15 relative to the scales √P/2 and 1/2 (≈ 4.5 ulps).
        let sp = (q1 * q2).sqrt();
        assert!(
            abs_diff_eq!(t, tr, epsilon = 1e-15 * sp / 2.0),
            "T at ({c}, {q1}, {q2}): {t} vs {tr}"
        );
        assert!(
            abs_diff_eq!(dot, dr, epsilon = 1e-15 / 2.0),
            "Ṫ at ({c}, {q1}, {q2}): {dot} vs {dr}"
        );
    }
    for q in [0.0, 0.3, 1.0, 3.0] {
        assert_eq!(relu.dual_diag(q), rm1.dual_diag(q), "diag at q = {q}");
    }
}

#[test]
fn rectified_monomial_diag_equals_general_form() {
    for n in 0..=4u32 {
        let d = dual_of(&Activation::RectifiedMonomial { degree: n });
        for q in [1e-3, 0.3, 1.0, 2.5, 7.0] {
            let (t, dot) = d.dual(q, q, q);
            let (td, dd) = d.dual_diag(q);
            // c = q gives P − c² = 0 exactly, θ = 0 exactly: the two are the same number up to the
            // rounding of the polynomial evaluation, ≤ 1e-14 relative (45 ulps).
            assert!(
                abs_diff_eq!(t, td, epsilon = 1e-14 * td.abs()),
                "n={n} q={q}: T {t} vs diag {td}"
            );
            assert!(
                abs_diff_eq!(dot, dd, epsilon = 1e-14 * dd.abs()),
                "n={n} q={q}: Ṫ {dot} vs diag {dd}"
            );
        }
    }
}

/// Monte Carlo for the activations with a kink or jump, whose quadrature converges too slowly to
/// be a sharp reference: the ReLU family, Sign, and the rectified monomials (n = 2, 3 also at θ = 0,
/// with perfectly correlated draws v = √(q2/q1)·u).
#[test]
fn kinked_closed_forms_match_monte_carlo() {
    use Activation as A;
    let mut acts = vec![
        A::Relu,
        A::LeakyRelu { alpha: 0.1 },
        A::AbRelu { a: -0.3, b: 1.7 },
        A::Abs,
        A::Sign,
    ];
    acts.extend((0..=4).map(|degree| A::RectifiedMonomial { degree }));
    let cases: Vec<_> = acts
        .into_iter()
        .enumerate()
        .map(|(k, act)| {
            let mut points = vec![(0.45, 1.0, 1.5), (-1.2, 2.0, 0.9)];
            if matches!(act, A::RectifiedMonomial { degree: 2 | 3 }) {
                // θ = 0: perfectly correlated draws.
                points.push(((1.3f64 * 0.8).sqrt(), 1.3, 0.8));
            }
            (act, points, 2000 + 10 * k as u64)
        })
        .collect();
    check_against_monte_carlo(&cases);
}

// ---------------------------------------------------------------------------------------------
// 5. Sign; polynomials at a zero-variance input; Hermite at non-unit variance
// ---------------------------------------------------------------------------------------------

#[test]
fn sign_is_two_over_pi_arcsin() {
    let d = dual_of(&Activation::Sign);
    for (c, q1, q2) in grid() {
        let rho = (c / (q1 * q2).sqrt()).clamp(-1.0, 1.0);
        let expect = 2.0 / PI * rho.asin();
        let (t, dot) = d.dual(c, q1, q2);
        assert_eq!(dot, 0.0);
        // 1 − 2θ/π with θ = atan2(√(P − c²), c) vs (2/π)asin(ρ): at |ρ| → 1 both are limited by the
        // rounding of P − c² (θ is off by up to √(4ε) ≈ 3e-8 from the ideal), so 1e-7 absolute;
        // elsewhere the two agree to a few ulps (1e-14).
        let tol = if 1.0 - rho.abs() < 1e-6 { 1e-7 } else { 1e-14 };
        assert!(
            abs_diff_eq!(t, expect, epsilon = tol),
            "sign at ({c}, {q1}, {q2}): {t} vs {expect}"
        );
    }
    assert_eq!(d.dual_diag(2.0), (1.0, 0.0));
    assert_eq!(d.dual_diag(0.0), (0.0, 0.0));
}

#[test]
fn polynomial_at_zero_input() {
    let coefs: [&[f64]; 3] = [
        &[0.3, -1.0, 0.5, 0.2],
        &[1.0, 0.0, -0.4, 0.0, 0.1, 0.05],
        &[-2.0, 0.5, 0.0, 0.0, 0.25],
    ];
    for coef in coefs {
        let d = dual_of(&Activation::Polynomial {
            coef: coef.to_vec(),
        });
        for q2 in [0.0f64, 0.5, 1.0, 2.5] {
            // E[φ(v)] = Σ_k coef[k]·E[vᵏ] and E[φ'(v)] = Σ_k k·coef[k]·E[vᵏ⁻¹], with the Gaussian
            // moments E[vᵏ] = (k − 1)!!·q^{k/2} for even k and 0 for odd k.
            let moment = |k: usize| {
                if k % 2 == 1 {
                    0.0
                } else {
                    double_factorial_odd(k as u32 / 2) * q2.powi(k as i32 / 2)
                }
            };
            let (mut mean, mut dmean, mut big) = (0.0, 0.0, 0.0);
            for (k, &a) in coef.iter().enumerate() {
                mean += a * moment(k);
                if k >= 1 {
                    dmean += k as f64 * a * moment(k - 1);
                }
                // Σ|coef[k]|·E|v|ᵏ-sized magnitude of the terms (k·E[vᵏ⁻¹] for the derivative sum).
                big += (a * (k as f64 + 1.0) * moment(2 * (k / 2 + 1))).abs();
            }
            let (t, dot) = d.dual(0.0, 0.0, q2);
            assert!(
                t.is_finite() && dot.is_finite(),
                "{coef:?} q2={q2}: {t}, {dot}"
            );
            // T = φ(0)·E[φ(v)] = coef[0]·E[φ(v)] and Ṫ = φ'(0)·E[φ'(v)] = coef[1]·E[φ'(v)]: the same
            // sums evaluated in another order, so a few ulps of the largest term; 1e-14·big.
            let expect = coef[0] * mean;
            assert!(
                abs_diff_eq!(t, expect, epsilon = 1e-14 * big * coef[0].abs()),
                "{coef:?} q2={q2}: T {t} vs {expect}"
            );
            let dexpect = coef[1] * dmean;
            assert!(
                abs_diff_eq!(dot, dexpect, epsilon = 1e-14 * big * coef[1].abs()),
                "{coef:?} q2={q2}: Ṫ {dot} vs {dexpect}"
            );
        }
        // Both inputs zero: φ(0)² and φ'(0)².
        let (t, dot) = d.dual(0.0, 0.0, 0.0);
        assert_eq!((t, dot), (coef[0] * coef[0], coef[1] * coef[1]));
        assert_eq!(d.dual_diag(0.0), (coef[0] * coef[0], coef[1] * coef[1]));
    }
}

/// Hermite(n) is the true E[Heₙ(u)Heₙ(v)]/n! at any variances (checked against the quadrature in
/// `smooth_closed_forms_match_quadrature`); here against explicit formulas, and against
/// neural-tangents' cⁿ, which holds only at q1 = q2 = 1.
#[test]
fn hermite_at_non_unit_variance() {
    for n in 0..=6u32 {
        let d = dual_of(&Activation::Hermite { degree: n });
        for rho in [-0.7f64, 0.0, 0.4, 1.0] {
            let (t, dot) = d.dual(rho, 1.0, 1.0);
            // Unit variance: Mehler, T = ρⁿ, Ṫ = nρⁿ⁻¹; Horner on exact small integers/√n!: 1e-14.
            assert!(
                abs_diff_eq!(t, rho.powi(n as i32), epsilon = 1e-14),
                "n={n} ρ={rho}: {t}"
            );
            let dexp = if n == 0 {
                0.0
            } else {
                n as f64 * rho.powi(n as i32 - 1)
            };
            assert!(
                abs_diff_eq!(dot, dexp, epsilon = 1e-13),
                "n={n} ρ={rho}: Ṫ {dot} vs {dexp}"
            );
        }
    }
    // n = 2: E[(u² − 1)(v² − 1)]/2 = ((q1 − 1)(q2 − 1) + 2c²)/2, Ṫ = 2c.
    // n = 3: E[(u³ − 3u)(v³ − 3v)]/6 = (6c³ + 9c·q1q2 − 9c(q1 + q2) + 9c)/6 = c³ + 1.5c(q1 − 1)(q2 − 1).
    let h2 = dual_of(&Activation::Hermite { degree: 2 });
    let h3 = dual_of(&Activation::Hermite { degree: 3 });
    for (c, q1, q2) in [(0.3, 0.5, 2.0), (-1.0, 2.5, 0.9), (2.0, 3.0, 3.0)] {
        let e2 = ((q1 - 1.0) * (q2 - 1.0) + 2.0 * c * c) / 2.0;
        let e3 = c * c * c + 1.5 * c * (q1 - 1.0) * (q2 - 1.0);
        let de3 = 3.0 * c * c + 1.5 * (q1 - 1.0) * (q2 - 1.0);
        let (t2, d2) = h2.dual(c, q1, q2);
        let (t3, d3) = h3.dual(c, q1, q2);
        // Exact polynomial identities in a few operations on O(1)–O(10) numbers: 1e-13 absolute.
        assert!(
            abs_diff_eq!(t2, e2, epsilon = 1e-13) && abs_diff_eq!(d2, 2.0 * c, epsilon = 1e-13),
            "He2 at ({c},{q1},{q2}): {t2} vs {e2}"
        );
        assert!(
            abs_diff_eq!(t3, e3, epsilon = 1e-13) && abs_diff_eq!(d3, de3, epsilon = 1e-13),
            "He3 at ({c},{q1},{q2}): {t3} vs {e3}, {d3} vs {de3}"
        );
        // And this is not neural-tangents' cⁿ when the variances are not 1.
        assert!((t2 - c * c).abs() > 1e-3 && (t3 - c * c * c).abs() > 1e-3);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Sphere and normalized duals; the diagonal formulas
// ---------------------------------------------------------------------------------------------

#[test]
fn normalized_dual_is_one_at_one() {
    for act in closed_forms() {
        let d = dual_of(&act);
        let (k1, _) = d.dual_diag(1.0);
        if k1 == 0.0 {
            continue; // Hermite(0)…: never, but a zero variance has no normalization.
        }
        // κ(1)/κ(1) for a finite non-zero κ(1) is exactly 1 in IEEE arithmetic.
        assert_eq!(d.normalized(1.0).0, 1.0, "{}", act.name());
        // sphere(ρ) is the dual at unit variances; sphere(1) is the diagonal.
        assert_eq!(d.sphere(1.0), d.dual_diag(1.0), "{}", act.name());
        assert_eq!(d.sphere(0.3), d.dual(0.3, 1.0, 1.0), "{}", act.name());
    }
}

#[test]
fn relu_normalized_dual_is_the_arc_cosine_formula() {
    let d = dual_of(&Activation::Relu);
    for rho in [
        -1.0, -0.999_999, -0.9, -0.5, 0.0, 0.3, 0.7, 0.999, 0.999_999, 1.0,
    ] {
        let (k, dk) = d.normalized(rho);
        let acos = f64::acos(rho);
        let expect = (rho * (PI - acos) + (1.0 - rho * rho).sqrt()) / PI;
        let dexpect = (PI - acos) / PI;
        // θ from atan2(√(1 − ρ²), ρ) vs acos(ρ): both accurate to a few ulps of θ for an exact ρ, except
        // that 1 − ρ² is rounded, a relative error of ε/(1 − ρ²) in √(1 − ρ²) ≈ θ, i.e. ≤ 1.1e-10·θ
        // at ρ = 0.999999 (θ = 1.4e-3): 2e-13 absolute; values are O(1). Bound: 1e-12.
        assert!(
            abs_diff_eq!(k, expect, epsilon = 1e-12),
            "ρ = {rho}: {k} vs {expect}"
        );
        assert!(
            abs_diff_eq!(dk, dexpect, epsilon = 1e-12),
            "ρ = {rho}: {dk} vs {dexpect}"
        );
    }
}

/// T(q; q, q) from the diagonal formulas equals the general formula at c = q (neural-tangents'
/// diagonal formulas agree with its general ones to 1.4e-14, reference README §3).
#[test]
fn diagonal_formulas_equal_general_formula_at_c_equals_q() {
    for act in closed_forms() {
        let d = dual_of(&act);
        for q in [1e-3, 0.3, 1.0, 2.5, 3.0] {
            let (t, dot) = d.dual(q, q, q);
            let (td, dd) = d.dual_diag(q);
            // Different closed forms of the same number (e.g. Erf's atan2(2q, √(1 + 4q)) vs
            // atan2(2q, √((1 + 2q)² − 4q²)), whose argument cancels to ~ε(1 + 2q)²): ≤ 1e-14·(1 + 2q)²
            // relative, which is ≤ 5e-13 on this grid; 1e-12.
            let tol = 1e-12;
            assert!(
                abs_diff_eq!(t, td, epsilon = tol * td.abs().max(1e-300)),
                "{} q={q}: T {t} vs diag {td}",
                act.name()
            );
            assert!(
                abs_diff_eq!(dot, dd, epsilon = tol * dd.abs() + f64::MIN_POSITIVE),
                "{} q={q}: Ṫ {dot} vs diag {dd}",
                act.name()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Library bugs found by these tests
// ---------------------------------------------------------------------------------------------

/// The n-point Gauss–Hermite rule must integrate e^{−x²}·x^{2k} exactly (Γ(k + ½)) for 2k ≤ 2n − 1,
/// for every n that `QuadratureDual::new` accepts (1..=512).
#[test]
fn gauss_hermite_rule_is_exact_for_every_accepted_node_count() {
    let mut bad = Vec::new();
    for n in 1..=ntk::activation::MAX_NODES {
        let (x, w) = ntk::activation::gauss_hermite(n);
        let sorted = x.windows(2).all(|p| p[0] < p[1]);
        // ∫x^{2k}e^{−x²} = Γ(k + ½) = (2k − 1)!!·√π/2ᵏ, for k ≤ min(n − 1, 6): moments up to x¹²,
        // which a correct rule integrates to a few ulps (1e-13 relative allows Σ over n ≤ 512 terms).
        let ok = (0..=(n - 1).min(6)).all(|k| {
            let m: f64 = x
                .iter()
                .zip(&w)
                .map(|(x, w)| w * x.powi(2 * k as i32))
                .sum();
            let exact = double_factorial_odd(k as u32) * PI.sqrt() / 2f64.powi(k as i32);
            abs_diff_eq!(m, exact, epsilon = 1e-13 * exact)
        });
        if !(sorted && ok) {
            bad.push(n);
        }
    }
    assert!(bad.is_empty(), "wrong Gauss–Hermite rules for n in {bad:?}");
}

/// `Activation::eval` of the erf family and GELU is accurate to a few ulps (libm's erf, not statrs 0.19's,
/// whose erf/erfc are accurate only to ~1e-10).
#[test]
fn erf_activation_eval_is_accurate() {
    // mpmath values (30 digits) rounded to the nearest f64.
    let erf = Activation::Erf {
        a: 1.0,
        b: 1.0,
        c: 0.0,
    };
    let cases: [(Activation, f64, f64); 5] = [
        (erf.clone(), 0.5, 0.520_499_877_813_046_5),
        (erf.clone(), 0.75, 0.711_155_633_653_515_1),
        (erf, 1.0, 0.842_700_792_949_714_9),
        (Activation::Gelu, -1.0, -0.158_655_253_931_457_05),
        (Activation::Gelu, 0.8, 0.630_515_681_133_282_6),
    ];
    for (act, x, expect) in cases {
        let v = act.eval(x);
        // A correctly rounded erf gives ≤ 1 ulp; allow 8 ulps (1.8e-15) for the products around it.
        assert!(
            abs_diff_eq!(v, expect, epsilon = 8.0 * EPS * expect.abs()),
            "{}({x}) = {v:e}, expected {expect:e}, rel {:.1e}",
            act.name(),
            (v - expect).abs() / expect.abs()
        );
    }
}

/// The polar quadrature rule (split at the kink lines) against closed forms of kinked activations:
/// it converges exponentially where tensor Gauss–Hermite converges like O(1/n) (measured: ReLU to
/// 8e-15 at 24 nodes). 1e-13 of the scale is rounding of the ~2·32² term sums; near |ρ| = 1 the kink
/// direction √(q2 − a²) carries a relative error ε/(1 − ρ²), which moves the split angle (and the
/// kinked Ṫ, whose derivative in the angle is 1/π) by ≈ ε/√(1 − ρ²): 4× that is added.
#[test]
fn polar_rule_matches_kinked_closed_forms() {
    use std::sync::Arc;
    for act in [
        Activation::Relu,
        Activation::Abs,
        Activation::LeakyRelu { alpha: 0.2 },
        Activation::AbRelu { a: -0.4, b: 1.3 },
        Activation::RectifiedMonomial { degree: 2 },
    ] {
        let exact = dual_of(&act);
        let (f, g) = (act.clone(), act.clone());
        let quad = ntk::activation::QuadratureDual::polar(
            act.name(),
            Arc::new(move |x| f.eval(x)),
            Arc::new(move |x| g.derivative(x)),
            None,
            32,
        )
        .unwrap();
        for (c, q1, q2) in grid() {
            let (t, dot) = exact.dual(c, q1, q2);
            let (tq, dq) = quad.dual(c, q1, q2);
            let (ts, ds) = scales(&exact, q1, q2);
            let rho2 = (c * c / (q1 * q2)).min(1.0);
            let tol = 1e-13 + 4.0 * EPS / (1.0 - rho2).max(EPS).sqrt();
            assert!(
                abs_diff_eq!(t, tq, epsilon = tol * ts),
                "{} T at ({c}, {q1}, {q2}): {t} vs {tq}",
                act.name()
            );
            assert!(
                abs_diff_eq!(dot, dq, epsilon = tol * ds),
                "{} Ṫ at ({c}, {q1}, {q2}): {dot} vs {dq}",
                act.name()
            );
        }
    }
}

/// The polar rule at large variances (pre-activation std up to 10³), where φ changes on a sliver
/// of the integration domain: checked against the closed forms of erf-type and GELU activations fed
/// to the rule as plain functions, at the default 32 nodes. Before the graded panels the sigmoid's
/// E[φ'(u)²] at q = 3·10⁴ came out 40 % low; now the error is at the rule's accuracy at q ≈ 1.
#[test]
fn polar_rule_is_accurate_at_large_variance() {
    use std::sync::Arc;
    for act in [
        Activation::SigmoidErf,
        Activation::Erf {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
        Activation::Gelu,
    ] {
        let exact = dual_of(&act);
        let (f, g) = (act.clone(), act.clone());
        let quad = ntk::activation::QuadratureDual::polar(
            act.name(),
            Arc::new(move |x| f.eval(x)),
            Arc::new(move |x| g.derivative(x)),
            None,
            32,
        )
        .unwrap();
        for q in [1e2f64, 1e4, 1e6] {
            for (rho, ratio) in [(0.3, 1.0), (-0.8, 2.0), (0.999, 0.5), (1.0, 1.0)] {
                let (q1, q2) = (q, q * ratio);
                let c = rho * (q1 * q2).sqrt();
                let (t, dot) = exact.dual(c, q1, q2);
                let (tq, dq) = quad.dual(c, q1, q2);
                let (ts, ds) = scales(&exact, q1, q2);
                assert!(
                    abs_diff_eq!(t, tq, epsilon = 1e-9 * ts),
                    "{} T at q = {q}, ρ = {rho}: {t} vs {tq}",
                    act.name()
                );
                assert!(
                    abs_diff_eq!(dot, dq, epsilon = 1e-9 * ds),
                    "{} Ṫ at q = {q}, ρ = {rho}: {dot} vs {dq}",
                    act.name()
                );
            }
            let (td, dd) = exact.dual_diag(q);
            let (tqd, dqd) = quad.dual_diag(q);
            assert!(
                abs_diff_eq!(td, tqd, epsilon = 1e-12 * td),
                "{} diag T at {q}",
                act.name()
            );
            assert!(
                abs_diff_eq!(dd, dqd, epsilon = 1e-12 * dd),
                "{} diag Ṫ at {q}",
                act.name()
            );
        }
    }
}
