//! Gradient flow of a one-hidden-layer autoencoder on one training example (Radhakrishnan, Belkin &
//! Uhler; thesis ch. 2, Theorems 1–2 and 4, App. A–B as Theorems 11–12 and 14).
//!
//! f(z) = A φ(Bz), A ∈ ℝ^{k₀×k}, B ∈ ℝ^{k×k₀}, trained by gradient descent on ½‖x − f(x)‖² with
//! ‖x‖ = 1 from A⁽⁰⁾ = x a⁽⁰⁾ᵀ, B⁽⁰⁾ = b⁽⁰⁾xᵀ whose entries are all u₀ (in a⁽⁰⁾) and v₀ (in b⁽⁰⁾).
//! The rank-1, equal-entry form persists (Invariants 1–2), and as the learning rate → 0 the limit
//! (u, v) satisfies (Theorem 1)
//!
//! (u² − u₀²)/2 = ∫_{v₀}^{v} φ(z)/φ'(z) dz,   u·φ(v) = 1/k,
//!
//! and the input-output Jacobian at x, x·aᵀ(φ'(b) ⊙ b)·xᵀ, has the single non-zero eigenvalue
//! λ₁ = φ'(v)·v/φ(v) (Theorem 2).
//!
//! ```
//! use ntk::jacobian::gradient_flow::single_example_gradient_flow;
//! use ntk::Activation;
//! // φ(z) = e^{2z}, u₀² = v₀: u² = v and √v·e^{2v} = 1/k; λ₁ = 2v (thesis, Example after Thm 12).
//! let s = single_example_gradient_flow(&Activation::Exp { a: 1.0, b: 2.0 }, 1, 1.0, 1.0)?;
//! assert!((s.u * s.u - s.v).abs() < 1e-12);
//! assert!((s.lambda1 - 2.0 * s.v).abs() < 1e-12);
//! assert!((s.lambda1 - 0.6011).abs() < 1e-4);
//! # Ok::<(), ntk::Error>(())
//! ```

use crate::activation::{Activation, gauss_legendre};
use crate::error::invalid;
use crate::linalg::check_finite_param;
use crate::{Error, Result};

/// Gauss–Legendre nodes per integration panel; with panels of width ≤ 1 and φ/φ' smooth this is
/// exact to rounding for the analytic activations of interest (sigmoid: 1 + eᶻ; e^{bz}: 1/b).
const PANEL_NODES: usize = 32;

/// Width of the first scanning panel; later ones grow geometrically up to [`MAX_PANEL`].
const FIRST_PANEL: f64 = 1.0 / 64.0;

/// Largest scanning/integration panel.
const MAX_PANEL: f64 = 1.0;

/// How far from v₀ the root is searched for.
const MAX_SPAN: f64 = 1.0e3;

/// The limit of gradient flow from the rank-1 equal-entry initialization (thesis ch. 2, Thm 1–2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientFlowSolution {
    /// u, the common entry of the trained a (A⁽∞⁾ = x aᵀ).
    pub u: f64,
    /// v, the common entry of the trained b (B⁽∞⁾ = b xᵀ).
    pub v: f64,
    /// λ₁ = φ'(v)v/φ(v), the only non-zero eigenvalue of the Jacobian at the training example.
    pub lambda1: f64,
}

/// φ(z)/φ'(z), or an error where it is not finite.
fn ratio(activation: &Activation, z: f64) -> Result<f64> {
    let (f, df) = activation.eval_with_derivative(z);
    let r = f / df;
    if df == 0.0 || !r.is_finite() {
        return Err(Error::NoSolution {
            what: "the gradient-flow equation (u² − u₀²)/2 = ∫ φ/φ'".into(),
            reason: format!(
                "φ/φ' is not finite at z = {z} (φ = {f}, φ' = {df}); Theorem 1 needs φ/φ' < ∞ \
                 along the path from v₀"
            ),
        });
    }
    Ok(r)
}

/// ∫_{lo}^{hi} φ/φ' dz by one Gauss–Legendre panel.
fn panel(activation: &Activation, nodes: &(Vec<f64>, Vec<f64>), lo: f64, hi: f64) -> Result<f64> {
    let (mid, half) = (0.5 * (lo + hi), 0.5 * (hi - lo));
    let mut sum = 0.0;
    for (&t, &w) in nodes.0.iter().zip(&nodes.1) {
        sum += w * ratio(activation, mid + half * t)?;
    }
    Ok(half * sum)
}

/// λ₁ = φ'(v)·v/φ(v), the top eigenvalue of the trained autoencoder's Jacobian at its training
/// example (thesis ch. 2, Theorem 2 / Theorem 12). Errors if φ(v) = 0 or the value is not finite.
///
/// ```
/// use ntk::jacobian::gradient_flow::lambda1;
/// use ntk::Activation;
/// // e^{bz}: φ'/φ = b, so λ₁ = b·v.
/// assert!((lambda1(&Activation::Exp { a: 1.0, b: 2.0 }, 0.3)? - 0.6).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn lambda1(activation: &Activation, v: f64) -> Result<f64> {
    check_finite_param("v", v)?;
    let (f, df) = activation.eval_with_derivative(v);
    let l = df * v / f;
    if f == 0.0 || !l.is_finite() {
        return Err(invalid(
            "v",
            v,
            "φ(v) must be non-zero for λ₁ = φ'(v)v/φ(v)",
        ));
    }
    Ok(l)
}

/// λ₁(J(f_n ∘ … ∘ f_1)(x⁽¹⁾)) = ∏ᵢ φ'(vᵢ)vᵢ/φ(vᵢ) for a sequence encoder whose i-th map was trained
/// by gradient flow to send x⁽ⁱ⁾ to x⁽ⁱ⁺¹⁾ and ended at vᵢ (thesis ch. 2, Theorem 4 / Theorem 14,
/// eq. 2.5). Errors as [`lambda1`], and for an empty sequence.
///
/// ```
/// use ntk::jacobian::gradient_flow::{sequence_encoder_lambda1, single_example_gradient_flow};
/// use ntk::Activation;
/// let s = single_example_gradient_flow(&Activation::Sigmoid, 2, 1.0, 1.0)?;
/// let two = sequence_encoder_lambda1(&Activation::Sigmoid, &[s.v, s.v])?;
/// assert!((two - s.lambda1 * s.lambda1).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn sequence_encoder_lambda1(activation: &Activation, vs: &[f64]) -> Result<f64> {
    if vs.is_empty() {
        return Err(invalid(
            "vs",
            "[]",
            "a sequence encoder needs at least one map",
        ));
    }
    vs.iter()
        .try_fold(1.0, |acc, &v| Ok(acc * lambda1(activation, v)?))
}

/// Solves Theorem 1 (thesis ch. 2, Theorem 11) for the limit of gradient flow of f(z) = Aφ(Bz) with
/// `k` hidden units on one unit-norm example, from entries `u0` (of a⁽⁰⁾) and `v0` (of b⁽⁰⁾):
///
/// (u² − u₀²)/2 = ∫_{v₀}^{v} φ(z)/φ'(z) dz,   u·φ(v) = 1/k,   λ₁ = φ'(v)v/φ(v) (Theorem 2).
///
/// Method: with u = 1/(kφ(v)) the problem is the root of
/// h(v) = ((1/(kφ(v)))² − u₀²)/2 − ∫_{v₀}^{v} φ/φ'. The flow moves v monotonically in the direction
/// of db/dt at t = 0, sign(φ'(v₀)·u₀·(1 − k u₀ φ(v₀))) (sign(φ'(v₀)φ(v₀)) if u₀ = 0, since then a
/// moves first), so h is scanned from v₀ that way on Gauss–Legendre panels (32 nodes, widths from
/// 1/64 growing ×1.25 to 1, up to |v − v₀| = 1000) until it changes sign, and the root of that panel
/// is bisected to 4 ulp. A sign change where φ(v) has the sign opposite to u is the other branch
/// (u = −|u|) and is skipped. Along the path u² = u₀² + 2∫φ/φ' must stay positive (u passing
/// through 0 would reverse the flow, outside Theorem 1).
///
/// Errors: [`Error::InvalidParameter`] for k = 0 or non-finite u₀, v₀; [`Error::NoSolution`] where
/// φ/φ' is not finite on the path (e.g. ReLU for v ≤ 0), u² turns negative, or no root lies within
/// the search span.
///
/// ```
/// use ntk::jacobian::gradient_flow::single_example_gradient_flow;
/// use ntk::Activation;
/// // Thesis ch. 2, after Theorem 1: sigmoid, k = 2, u₀ = v₀ = 1 gives u ≈ .697, v ≈ .929, λ₁ ≈ .263.
/// let s = single_example_gradient_flow(&Activation::Sigmoid, 2, 1.0, 1.0)?;
/// assert!((s.u - 0.697).abs() < 5e-4 && (s.v - 0.929).abs() < 5e-4);
/// assert!((s.lambda1 - 0.263).abs() < 5e-4);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn single_example_gradient_flow(
    activation: &Activation,
    k: usize,
    u0: f64,
    v0: f64,
) -> Result<GradientFlowSolution> {
    if k == 0 {
        return Err(invalid("k", k, "the hidden width must be ≥ 1"));
    }
    check_finite_param("u0", u0)?;
    check_finite_param("v0", v0)?;
    let kf = k as f64;
    let (phi0, dphi0) = activation.eval_with_derivative(v0);
    let residual0 = 1.0 - kf * u0 * phi0;
    let solution = |u: f64, v: f64| -> Result<GradientFlowSolution> {
        Ok(GradientFlowSolution {
            u,
            v,
            lambda1: lambda1(activation, v)?,
        })
    };
    if residual0 == 0.0 {
        return solution(u0, v0);
    }
    let direction = if u0 != 0.0 {
        (dphi0 * u0 * residual0).signum()
    } else {
        (dphi0 * phi0).signum()
    };
    let u_sign = if u0 != 0.0 {
        u0.signum()
    } else {
        (residual0 * phi0).signum()
    };
    if dphi0 == 0.0 || !direction.is_finite() || direction == 0.0 {
        return Err(Error::NoSolution {
            what: "the gradient-flow limit (u, v)".into(),
            reason: format!("φ'(v₀) = {dphi0} (or φ(v₀) = 0): the flow does not move b"),
        });
    }
    let nodes = gauss_legendre(PANEL_NODES);
    let h = |v: f64, integral: f64| -> f64 {
        let phi = activation.eval(v);
        let u = 1.0 / (kf * phi);
        0.5 * (u * u - u0 * u0) - integral
    };
    let mut h_lo = h(v0, 0.0);
    let mut lo = v0;
    let mut int_lo = 0.0;
    let mut width = FIRST_PANEL;
    while (lo - v0).abs() < MAX_SPAN {
        let hi = lo + direction * width;
        let int_hi = int_lo + panel(activation, &nodes, lo, hi)?;
        let h_hi = h(hi, int_hi);
        if !h_hi.is_finite() {
            return Err(Error::NoSolution {
                what: "the gradient-flow limit (u, v)".into(),
                reason: format!("φ(v) overflows or vanishes at v = {hi} before a root is found"),
            });
        }
        if h_hi == 0.0 || h_hi.signum() != h_lo.signum() {
            let v = bisect_panel(activation, &nodes, &h, lo, hi, int_lo)?;
            let phi = activation.eval(v);
            if phi.signum() == u_sign {
                return solution(1.0 / (kf * phi), v);
            }
        }
        // Checked after the root search: a root inside this panel comes before u² reaches 0,
        // since u² = 1/(kφ(v))² > 0 there and u² is monotone along a path where φ/φ' keeps its sign.
        if u0 * u0 + 2.0 * int_hi <= 0.0 {
            return Err(Error::NoSolution {
                what: "the gradient-flow limit (u, v)".into(),
                reason: format!(
                    "u² = u₀² + 2∫φ/φ' reaches 0 before v = {hi}: u passes through 0 and the \
                     flow of b reverses, outside Theorem 1"
                ),
            });
        }
        lo = hi;
        int_lo = int_hi;
        h_lo = h_hi;
        width = (width * 1.25).min(MAX_PANEL);
    }
    Err(Error::NoSolution {
        what: "the gradient-flow limit (u, v)".into(),
        reason: format!(
            "no root of (u² − u₀²)/2 = ∫φ/φ', u·φ(v) = 1/k within |v − v₀| ≤ {MAX_SPAN}"
        ),
    })
}

/// Bisection of h on [lo, hi] (h(lo) and h(hi) of opposite signs or h(hi) = 0), with the integral
/// from v₀ to `lo` known.
fn bisect_panel(
    activation: &Activation,
    nodes: &(Vec<f64>, Vec<f64>),
    h: &dyn Fn(f64, f64) -> f64,
    lo: f64,
    hi: f64,
    int_lo: f64,
) -> Result<f64> {
    let value = |v: f64| -> Result<f64> { Ok(h(v, int_lo + panel(activation, nodes, lo, v)?)) };
    if value(hi)? == 0.0 {
        return Ok(hi);
    }
    crate::roots::bisect(value, lo, hi, value(lo)?)
}
