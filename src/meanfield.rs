//! Mean-field signal propagation (Poole et al. 2016; Schoenholz et al. 2017), as used in §4.2 of
//! Jiang & Pehlevan (2020) to argue that deep sigmoid networks are in the ordered phase.
//!
//! For a deep network `[Dense(σ_w, σ_b), φ] × L` in the NT convention, the pre-activation variance
//! of a point follows the diagonal of the kernel recursion,
//!
//! q ↦ F(q) = σ_w²·T(q; q, q) + σ_b²,  T(q; q, q) = E[φ(√q z)²], z ~ N(0, 1),
//!
//! and the correlation c = q_ab/√(q_aa q_bb) of two points at the variance fixed point q* follows
//!
//! c ↦ M(c) = (σ_w²·T(c q*; q*, q*) + σ_b²)/q*.
//!
//! Since ∂T(c; q, q)/∂c = Ṫ(c; q, q) (Price's theorem), M'(c) = σ_w²·Ṫ(c q*; q*, q*), and at c = 1
//! this is χ₁ = σ_w²·E[φ'(√q* z)²] (Jiang & Pehlevan 2020, §4.2; Poole et al. 2016, eq. 7). The
//! network is *ordered* when χ₁ < 1 (c* = 1 is stable: all inputs become alike with depth),
//! *chaotic* when χ₁ > 1 (c = 1 is unstable and a stable c* < 1 appears). Near the stable
//! correlation fixed point c*, |c_ℓ − c*| ~ e^{−ℓ/ξ_c} with the depth scale ξ_c = −1/ln χ_c,
//! χ_c = M'(c*) = σ_w²·Ṫ(c* q*; q*, q*) (Schoenholz et al. 2017, eq. 9); χ_c = χ₁ in the ordered
//! phase.
//!
//! The paper's bound χ₁ ≤ 1/16 for sigmoid networks (σ_w = 1, σ_b = 0) rests on σ' ≤ ¼ and holds for
//! the logistic sigmoid ([`Activation::Sigmoid`]); the erf approximation ½erf(x/2) + ½
//! ([`Activation::SigmoidErf`]) has slope 1/(2√π) ≈ 0.282 at 0, and only χ₁ ≤ 1/(4π) ≈ 0.0796
//! holds for it (its χ₁ there is ≈ 0.0706).
//!
//! ```
//! use ntk::meanfield::{mean_field, Phase};
//! use ntk::Activation;
//!
//! // ReLU with σ_w² = 2, σ_b = 0 is the critical (edge-of-chaos) initialization: χ₁ = σ_w²/2 = 1.
//! let mf = mean_field(&Activation::Relu, 2f64.sqrt(), 0.0, 1.0)?;
//! assert!((mf.chi1 - 1.0).abs() < 1e-12);
//! assert_eq!(mf.phase, Phase::Critical);
//! // The paper's sigmoid networks (σ_w = 1, σ_b = 0) are ordered, with χ₁ ≤ 1/16.
//! let mf = mean_field(&Activation::Sigmoid, 1.0, 0.0, 1.0)?;
//! assert_eq!(mf.phase, Phase::Ordered);
//! assert!(mf.chi1 <= 1.0 / 16.0);
//! # Ok::<(), ntk::Error>(())
//! ```

use crate::activation::{Activation, Dual, DualActivation};
use crate::error::invalid;
use crate::linalg::check_finite_param;
use crate::{Error, Result};

/// |χ₁ − 1| at or below which [`Phase::Critical`] is reported.
pub const CRITICAL_TOLERANCE: f64 = 1e-9;

/// Plain fixed-point iterations before the bracketing refinement takes over (a slowly converging
/// or critical map, where iteration alone would need ~1/ε steps, is finished by bisection).
const MAX_ITERATIONS: usize = 10_000;

/// Slope |F'(x*)| above 1 + this is a repelling fixed point (finite differences are accurate to far
/// better than this at the step used).
const SLOPE_TOLERANCE: f64 = 1e-6;

/// Which side of the order-to-chaos transition an initialization is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// χ₁ < 1 − [`CRITICAL_TOLERANCE`]: c* = 1 is stable; inputs become perfectly correlated with
    /// depth and the NTK tends to a constant kernel (Jiang & Pehlevan 2020, §4.2).
    Ordered,
    /// |χ₁ − 1| ≤ [`CRITICAL_TOLERANCE`]: the edge of chaos.
    Critical,
    /// χ₁ > 1 + [`CRITICAL_TOLERANCE`]: c = 1 is unstable; nearby inputs decorrelate with depth.
    Chaotic,
}

/// The mean-field description of an initialization: see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanField {
    /// q*, the limit of q ↦ σ_w²·T(q; q, q) + σ_b² started from the given q₀.
    pub q_star: f64,
    /// χ₁ = σ_w²·Ṫ(q*; q*, q*) = σ_w²·E[φ'(√q* z)²] (Jiang & Pehlevan 2020, §4.2).
    pub chi1: f64,
    /// The phase decided by χ₁.
    pub phase: Phase,
    /// The stable fixed point c* of the correlation map: 1 in the ordered and critical phases, the
    /// fixed point < 1 reached from c = 0 in the chaotic phase. `None` when q* = 0, where the
    /// correlation map degenerates (0/0) and, in the q → 0 limit, becomes the identity.
    pub c_star: Option<f64>,
    /// χ_c = σ_w²·Ṫ(c* q*; q*, q*), the slope of the correlation map at c*; 1 when q* = 0.
    pub chi_c: f64,
    /// ξ_c = −1/ln χ_c (Schoenholz et al. 2017, eq. 9): depth over which correlations approach c*;
    /// +∞ when χ_c = 1 (critical, or q* = 0).
    pub xi_c: f64,
}

fn check_params(w_std: f64, b_std: f64) -> Result<()> {
    check_finite_param("w_std", w_std)?;
    check_finite_param("b_std", b_std)?;
    if w_std < 0.0 {
        return Err(invalid("w_std", w_std, "must be ≥ 0"));
    }
    if b_std < 0.0 {
        return Err(invalid("b_std", b_std, "must be ≥ 0"));
    }
    Ok(())
}

/// The variance map F(q) = σ_w²·T(q; q, q) + σ_b² for one `[Dense(σ_w, σ_b), φ]` block in the NT
/// convention (the diagonal of the kernel recursion; Jiang & Pehlevan 2020, §3.2, Σ^(ℓ+1)).
///
/// ```
/// use ntk::meanfield::variance_map;
/// use ntk::Activation;
/// // ReLU: T(q; q, q) = q/2.
/// let f = variance_map(&Activation::Relu, 2f64.sqrt(), 0.5, 3.0)?;
/// assert!((f - (2.0 * 1.5 + 0.25)).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn variance_map(activation: &Activation, w_std: f64, b_std: f64, q: f64) -> Result<f64> {
    check_params(w_std, b_std)?;
    check_finite_param("q", q)?;
    if q < 0.0 {
        return Err(invalid("q", q, "a variance must be ≥ 0"));
    }
    let dual = activation.dual()?;
    Ok(w_std * w_std * dual.dual_diag(q).0 + b_std * b_std)
}

/// The correlation map M(c) = (σ_w²·T(c q*; q*, q*) + σ_b²)/q* at the variance `q_star` > 0, for
/// c ∈ [−1, 1] (Poole et al. 2016, eq. 5; Jiang & Pehlevan 2020, §4.2). At a true fixed point q*,
/// M(1) = 1 and M'(1) = χ₁.
///
/// ```
/// use ntk::meanfield::{correlation_map, mean_field};
/// use ntk::Activation;
/// let act = Activation::Erf { a: 1.0, b: 1.0, c: 0.0 };
/// let mf = mean_field(&act, 1.5, 0.2, 1.0)?;
/// assert!((correlation_map(&act, 1.5, 0.2, mf.q_star, 1.0)? - 1.0).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn correlation_map(
    activation: &Activation,
    w_std: f64,
    b_std: f64,
    q_star: f64,
    c: f64,
) -> Result<f64> {
    check_params(w_std, b_std)?;
    check_finite_param("q_star", q_star)?;
    check_finite_param("c", c)?;
    if q_star <= 0.0 {
        return Err(invalid(
            "q_star",
            q_star,
            "must be > 0: the correlation map divides by q*",
        ));
    }
    if !(-1.0..=1.0).contains(&c) {
        return Err(invalid("c", c, "a correlation must lie in [−1, 1]"));
    }
    let dual = activation.dual()?;
    Ok(corr_map(&dual, w_std * w_std, b_std * b_std, q_star, c).0)
}

/// (M(c), M'(c)) with s_w = σ_w², s_b = σ_b².
fn corr_map(dual: &Dual, s_w: f64, s_b: f64, q: f64, c: f64) -> (f64, f64) {
    let (t, dt) = if c == 1.0 {
        dual.dual_diag(q)
    } else {
        dual.dual(c * q, q, q)
    };
    ((s_w * t + s_b) / q, s_w * dt)
}

/// The attracting fixed point of `f` on [lo, hi] reached by iterating from `x0`.
///
/// Iterates x ← f(x) until a step is at rounding level (|Δ| ≤ 4ε|x|) or [`MAX_ITERATIONS`] steps;
/// a map still moving then (critical slowing down, or convergence to 0 by rounding) is finished by
/// bisection on g(x) = f(x) − x inside the nearest bracket in the direction of travel (found by
/// halving the distance to `lo`, or doubling towards `hi`), down to a width of 4 ulp. Errors if the
/// iterates leave [lo, hi] or become non-finite, if no bracket exists (divergence), or if the point
/// found has |f'| > 1 + [`SLOPE_TOLERANCE`] (repelling).
fn attracting_fixed_point(
    f: &dyn Fn(f64) -> f64,
    x0: f64,
    lo: f64,
    hi: f64,
    what: &str,
) -> Result<f64> {
    let diverged = |x: f64| Error::NoSolution {
        what: what.to_string(),
        reason: format!(
            "the iteration leaves its domain or diverges (reached {x:e}): there is no finite \
             attracting fixed point — reduce w_std or b_std"
        ),
    };
    let mut x = x0;
    let mut next = f(x);
    let mut converged = false;
    for _ in 0..MAX_ITERATIONS {
        if !next.is_finite() || next < lo || next > hi {
            return Err(diverged(next));
        }
        let step = next - x;
        x = next;
        if step.abs() <= 4.0 * f64::EPSILON * x.abs() || x == 0.0 {
            converged = true;
            break;
        }
        next = f(x);
    }
    if !converged {
        x = refine_by_bisection(f, x, lo, hi).ok_or_else(|| diverged(x))?;
    }
    let slope = slope_at(f, x, lo, hi);
    if slope.abs() > 1.0 + SLOPE_TOLERANCE {
        return Err(Error::NoSolution {
            what: what.to_string(),
            reason: format!(
                "the fixed point {x:e} reached is repelling (slope {slope}); the map has no \
                 attracting fixed point there"
            ),
        });
    }
    Ok(x)
}

/// Bisection on g = f − x from the bracket nearest `x` in the direction g(x) points to.
fn refine_by_bisection(f: &dyn Fn(f64) -> f64, x: f64, lo: f64, hi: f64) -> Option<f64> {
    let g = |y: f64| f(y) - y;
    let gx = g(x);
    if gx == 0.0 {
        return Some(x);
    }
    // Walk towards the fixed point by geometric steps until g changes sign (or vanishes).
    let mut far = x;
    let mut near = x;
    let mut found = false;
    for j in 1..=2100 {
        let candidate = if gx < 0.0 {
            lo + (x - lo) * 0.5f64.powi(j.min(1074))
        } else {
            let d = (x - lo).abs().max(1.0) * 2f64.powi(j.min(1000));
            (x + d).min(hi)
        };
        let gc = g(candidate);
        if !gc.is_finite() {
            return None;
        }
        near = far;
        far = candidate;
        if gc == 0.0 {
            return Some(candidate);
        }
        if gc.signum() != gx.signum() {
            found = true;
            break;
        }
        if (gx < 0.0 && candidate == lo) || (gx > 0.0 && candidate == hi) {
            break;
        }
    }
    if !found {
        // g keeps its sign down to `lo`: the only candidate left is `lo` itself if g(lo) = 0.
        return (gx < 0.0 && g(lo) == 0.0).then_some(lo);
    }
    crate::roots::bisect(
        |x| Ok::<f64, std::convert::Infallible>(g(x)),
        near,
        far,
        g(near),
    )
    .ok()
}

/// Central (one-sided at the domain ends) difference of f at x.
fn slope_at(f: &dyn Fn(f64) -> f64, x: f64, lo: f64, hi: f64) -> f64 {
    let h = 1e-5 * x.abs().max(1e-3);
    if x - h < lo {
        (f(x + h) - f(x)) / h
    } else if x + h > hi {
        (f(x) - f(x - h)) / h
    } else {
        (f(x + h) - f(x - h)) / (2.0 * h)
    }
}

/// The variance fixed point q* = lim F^ℓ(q₀), F(q) = σ_w²·T(q; q, q) + σ_b² (Jiang & Pehlevan 2020,
/// §4.2: "q* is what q_aa^(ℓ) converges to"; Poole et al. 2016, eq. 3).
///
/// `q0` is the pre-activation variance of the first layer, σ_w²‖x‖²/d + σ_b²; it matters only where
/// F has several attracting fixed points or a neutral one (ReLU at σ_w² = 2, σ_b = 0: F(q) = q).
/// Method: plain iteration until a step is at rounding level (|Δq| ≤ 4ε·q) or 10 000 steps, then
/// bisection on F(q) − q inside the nearest sign-change bracket in the direction of travel, to 4 ulp
/// (this finishes critical maps such as tanh at σ_w = 1, where q_ℓ ~ 1/(2ℓ) → 0 only algebraically).
///
/// Errors: [`Error::NoSolution`] if the iteration overflows or grows without a fixed point above it
/// (ReLU with σ_w² > 2, or σ_w² = 2 and σ_b > 0), or the fixed point reached is repelling;
/// [`Error::InvalidParameter`] for negative or non-finite σ_w, σ_b, q₀.
///
/// ```
/// use ntk::meanfield::variance_fixed_point;
/// use ntk::{Activation, Error};
/// // ReLU with σ_w² = 1: F(q) = q/2 + σ_b², so q* = 2σ_b².
/// let q = variance_fixed_point(&Activation::Relu, 1.0, 0.5, 3.0)?;
/// assert!((q - 0.5).abs() < 1e-12);
/// // σ_w² = 4 doubles the variance each layer: no finite fixed point.
/// assert!(matches!(
///     variance_fixed_point(&Activation::Relu, 2.0, 0.0, 1.0),
///     Err(Error::NoSolution { .. })
/// ));
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn variance_fixed_point(
    activation: &Activation,
    w_std: f64,
    b_std: f64,
    q0: f64,
) -> Result<f64> {
    check_params(w_std, b_std)?;
    check_finite_param("q0", q0)?;
    if q0 < 0.0 {
        return Err(invalid("q0", q0, "a variance must be ≥ 0"));
    }
    let dual = activation.dual()?;
    q_star_of(&dual, w_std * w_std, b_std * b_std, q0)
}

fn q_star_of(dual: &Dual, s_w: f64, s_b: f64, q0: f64) -> Result<f64> {
    let f = |q: f64| s_w * dual.dual_diag(q).0 + s_b;
    attracting_fixed_point(&f, q0, 0.0, f64::MAX / 4.0, "the variance fixed point q*")
}

/// χ₁ = σ_w²·Ṫ(q*; q*, q*) = σ_w²·E[φ'(√q* z)²], z ~ N(0, 1): the slope of the correlation map at
/// c = 1 (Jiang & Pehlevan 2020, §4.2; Poole et al. 2016, eq. 7), at a given variance `q_star ≥ 0`.
///
/// ```
/// use ntk::meanfield::chi1;
/// use ntk::Activation;
/// // erf: Ṫ(q; q, q) = (4/π)/√(1 + 4q), so at q = 0 χ₁ = σ_w²·4/π.
/// let x = chi1(&Activation::Erf { a: 1.0, b: 1.0, c: 0.0 }, 0.5, 0.0)?;
/// assert!((x - 0.25 * 4.0 / std::f64::consts::PI).abs() < 1e-14);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn chi1(activation: &Activation, w_std: f64, q_star: f64) -> Result<f64> {
    check_params(w_std, 0.0)?;
    check_finite_param("q_star", q_star)?;
    if q_star < 0.0 {
        return Err(invalid("q_star", q_star, "a variance must be ≥ 0"));
    }
    Ok(w_std * w_std * activation.dual()?.dual_diag(q_star).1)
}

/// The full mean-field picture of an initialization (σ_w, σ_b) for activation φ, started from the
/// first-layer pre-activation variance `q0`: q*, χ₁, the phase, c*, χ_c and ξ_c = −1/ln χ_c (see the
/// [module docs](self); Jiang & Pehlevan 2020, §4.2; Schoenholz et al. 2017, eqs. 3–9).
///
/// c* in the chaotic phase: the correlation map is iterated from c = 0 (and finished by bisection
/// like q*, see [`variance_fixed_point`]) to its stable fixed point below 1.
///
/// ```
/// use ntk::meanfield::{mean_field, Phase};
/// use ntk::Activation;
/// let erf = Activation::Erf { a: 1.0, b: 1.0, c: 0.0 };
/// let chaotic = mean_field(&erf, 2.5, 0.1, 1.0)?;
/// assert_eq!(chaotic.phase, Phase::Chaotic);
/// let c = chaotic.c_star.unwrap();
/// assert!(c < 1.0 && chaotic.chi_c < 1.0 && chaotic.xi_c.is_finite());
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn mean_field(activation: &Activation, w_std: f64, b_std: f64, q0: f64) -> Result<MeanField> {
    check_params(w_std, b_std)?;
    check_finite_param("q0", q0)?;
    if q0 < 0.0 {
        return Err(invalid("q0", q0, "a variance must be ≥ 0"));
    }
    let dual = activation.dual()?;
    let (s_w, s_b) = (w_std * w_std, b_std * b_std);
    let q_star = q_star_of(&dual, s_w, s_b, q0)?;
    let chi1 = s_w * dual.dual_diag(q_star).1;
    let phase = if (chi1 - 1.0).abs() <= CRITICAL_TOLERANCE {
        Phase::Critical
    } else if chi1 < 1.0 {
        Phase::Ordered
    } else {
        Phase::Chaotic
    };
    let (c_star, chi_c) = if q_star == 0.0 {
        (None, 1.0)
    } else if phase == Phase::Chaotic {
        let m = |c: f64| corr_map(&dual, s_w, s_b, q_star, c).0;
        let c = attracting_fixed_point(&m, 0.0, -1.0, 1.0, "the correlation fixed point c*")?;
        (Some(c), corr_map(&dual, s_w, s_b, q_star, c).1)
    } else {
        (Some(1.0), chi1)
    };
    let xi_c = if (chi_c - 1.0).abs() <= CRITICAL_TOLERANCE {
        f64::INFINITY
    } else {
        -1.0 / chi_c.ln()
    };
    Ok(MeanField {
        q_star,
        chi1,
        phase,
        c_star,
        chi_c,
        xi_c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Kernel, Network};

    #[test]
    fn relu_critical_line() {
        let mf = mean_field(&Activation::Relu, 2f64.sqrt(), 0.0, 0.7).unwrap();
        assert!((mf.chi1 - 1.0).abs() < 1e-12, "{mf:?}");
        assert_eq!(mf.phase, Phase::Critical);
        // F(q) = q: every q is neutral, so q* is the starting variance.
        assert!((mf.q_star - 0.7).abs() < 1e-12);
        assert_eq!(mf.xi_c, f64::INFINITY);
        let ordered = mean_field(&Activation::Relu, 1.3, 0.2, 1.0).unwrap();
        assert_eq!(ordered.phase, Phase::Ordered);
        // q* = σ_b²/(1 − σ_w²/2) exactly for ReLU.
        let exact = 0.04 / (1.0 - 1.69 / 2.0);
        assert!(
            (ordered.q_star - exact).abs() < 1e-13 * exact,
            "{ordered:?}"
        );
        assert!((ordered.chi1 - 1.69 / 2.0).abs() < 1e-14);
        for (w, b) in [(1.5, 0.0), (2f64.sqrt(), 0.3)] {
            let err = mean_field(&Activation::Relu, w, b, 1.0).unwrap_err();
            assert!(matches!(err, Error::NoSolution { .. }), "{err:?}");
        }
    }

    #[test]
    fn tanh_and_erf_critical_points_without_bias() {
        // Odd φ with σ_b = 0: q* = 0 while σ_w²φ'(0)² ≤ 1, and χ₁ = σ_w²φ'(0)² there.
        let tanh = mean_field(&Activation::Tanh, 1.0, 0.0, 1.0).unwrap();
        println!("tanh, σ_w = 1, σ_b = 0: {tanh:?}");
        assert!(tanh.q_star < 1e-10, "{tanh:?}");
        assert!((tanh.chi1 - 1.0).abs() < 1e-9, "{tanh:?}");
        assert_eq!(tanh.phase, Phase::Critical);
        let below = mean_field(&Activation::Tanh, 0.9, 0.0, 1.0).unwrap();
        assert_eq!(below.q_star, 0.0);
        assert_eq!(below.phase, Phase::Ordered);
        assert_eq!(below.c_star, None);
        assert!((below.chi1 - 0.81).abs() < 1e-12);
        let above = mean_field(&Activation::Tanh, 1.2, 0.0, 1.0).unwrap();
        assert!(above.q_star > 0.01);
        assert_eq!(above.phase, Phase::Chaotic);
        // φ odd and σ_b = 0: M(0) = 0, so the stable correlation is c* = 0.
        assert!(above.c_star.unwrap().abs() < 1e-12, "{above:?}");
        let erf = Activation::Erf {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        };
        let w_crit = std::f64::consts::PI.sqrt() / 2.0; // σ_w²·(2/√π)² = 1
        let at = mean_field(&erf, w_crit, 0.0, 1.0).unwrap();
        assert_eq!(at.phase, Phase::Critical, "{at:?}");
        assert_eq!(
            mean_field(&erf, 0.8, 0.0, 1.0).unwrap().phase,
            Phase::Ordered
        );
        assert_eq!(
            mean_field(&erf, 1.0, 0.0, 1.0).unwrap().phase,
            Phase::Chaotic
        );
    }

    #[test]
    fn sigmoid_is_ordered_with_chi1_at_most_one_sixteenth() {
        // The paper's bound uses σ' ≤ ¼ (logistic sigmoid). Its erf approximation ½erf(x/2) + ½ has
        // the steeper slope 1/(2√π) at 0, so only χ₁ ≤ 1/(4π) holds for it.
        for (act, bound) in [
            (Activation::Sigmoid, 1.0 / 16.0),
            (Activation::SigmoidErf, 1.0 / (4.0 * std::f64::consts::PI)),
        ] {
            for q0 in [0.0, 1.0, 50.0] {
                let mf = mean_field(&act, 1.0, 0.0, q0).unwrap();
                println!("{act:?}, q0 = {q0}: {mf:?}");
                assert!(mf.chi1 <= bound && mf.chi1 > 0.0, "{act:?}: {mf:?}");
                assert_eq!(mf.phase, Phase::Ordered);
                assert_eq!(mf.c_star, Some(1.0));
                assert!((mf.xi_c + 1.0 / mf.chi1.ln()).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn q_star_matches_the_network_kernel_at_depth_200() {
        let erf = Activation::Erf {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        };
        let cases = [
            (Activation::Sigmoid, 1.0, 0.0),
            (Activation::SigmoidErf, 1.0, 0.0),
            (Activation::Tanh, 1.3, 0.2),
            (erf, 2.0, 0.5),
            (Activation::Relu, 1.2, 0.4),
        ];
        let x = [1.2, -0.4, 0.9];
        let s_in = x.iter().map(|v| v * v).sum::<f64>() / 3.0;
        for (act, w, b) in cases {
            let net = Network::mlp(200, act.clone())
                .w_std(w)
                .b_std(b)
                .width(1)
                .build()
                .unwrap();
            // After the readout Dense the NNGP variance is F(q₂₀₀) = q₂₀₁.
            let from_net = net.entry(&x, &x).unwrap().nngp;
            let q0 = w * w * s_in + b * b;
            let q = variance_fixed_point(&act, w, b, q0).unwrap();
            assert!(
                (q - from_net).abs() <= 1e-12 * q.max(1e-300),
                "{act:?}: {q} vs {from_net}"
            );
        }
    }

    #[test]
    fn chi1_is_the_slope_of_the_correlation_map_at_one() {
        let erf = Activation::Erf {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        };
        // The erf-family duals are closed forms, so only the difference scheme limits the
        // agreement. (Quadrature duals — sigmoid, tanh — are accurate to ~1e-5, which a difference
        // quotient amplifies by 1/h; they are checked against a 1-D expectation below instead.)
        let cases = [
            (erf.clone(), 2.0, 0.5),
            (erf, 0.7, 0.3),
            (Activation::SigmoidErf, 1.0, 0.0),
            (Activation::SigmoidErf, 3.0, 1.0),
            (
                Activation::Erf {
                    a: 2.0,
                    b: 0.5,
                    c: 0.1,
                },
                1.1,
                0.2,
            ),
        ];
        for (act, w, b) in cases {
            let mf = mean_field(&act, w, b, 1.0).unwrap();
            let m = |c: f64| correlation_map(&act, w, b, mf.q_star, c).unwrap();
            // Second-order one-sided difference (c ≤ 1); truncation O(h²M'''), rounding O(ε/h).
            let h = 1e-4;
            let fd = (3.0 * m(1.0) - 4.0 * m(1.0 - h) + m(1.0 - 2.0 * h)) / (2.0 * h);
            assert!(
                (fd - mf.chi1).abs() < 1e-7 * mf.chi1,
                "{act:?}: {fd} vs {mf:?}"
            );
            assert!((m(1.0) - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn chi1_is_the_one_dimensional_expectation_of_phi_prime_squared() {
        // χ₁ = σ_w²·E[φ'(√q* z)²] by 1-D Gauss–Hermite on φ' itself, independent of the 2-D polar
        // rule behind the quadrature duals; tolerance from that rule's Ṫ accuracy (≤ 2.4e-5 for
        // tanh at the default nodes).
        let (nodes, weights) = crate::activation::gauss_hermite(120);
        for (act, w, b) in [
            (Activation::Sigmoid, 1.0, 0.0),
            (Activation::Tanh, 1.3, 0.2),
            (Activation::Tanh, 2.0, 0.05),
            (Activation::SigmoidErf, 1.0, 0.0),
        ] {
            let mf = mean_field(&act, w, b, 1.0).unwrap();
            let e: f64 = nodes
                .iter()
                .zip(&weights)
                .map(|(&x, &wt)| {
                    let d = act.derivative((2.0 * mf.q_star).sqrt() * x);
                    wt * d * d
                })
                .sum::<f64>()
                / std::f64::consts::PI.sqrt();
            let direct = w * w * e;
            assert!(
                (direct - mf.chi1).abs() < 5e-5 * mf.chi1,
                "{act:?}: {direct} vs {mf:?}"
            );
        }
    }

    #[test]
    fn chaotic_correlation_fixed_point_is_stable() {
        let mf = mean_field(&Activation::Tanh, 2.0, 0.05, 1.0).unwrap();
        assert_eq!(mf.phase, Phase::Chaotic);
        let c = mf.c_star.unwrap();
        assert!(c > 0.0 && c < 1.0, "{mf:?}");
        let m = correlation_map(&Activation::Tanh, 2.0, 0.05, mf.q_star, c).unwrap();
        assert!((m - c).abs() < 1e-12);
        assert!(mf.chi_c < 1.0 && mf.xi_c > 0.0 && mf.xi_c.is_finite());
    }

    #[test]
    fn bad_parameters_are_typed_errors() {
        for (w, b, q) in [(-1.0, 0.0, 1.0), (1.0, f64::NAN, 1.0), (1.0, 0.0, -2.0)] {
            assert!(matches!(
                mean_field(&Activation::Tanh, w, b, q),
                Err(Error::InvalidParameter { .. })
            ));
        }
        assert!(correlation_map(&Activation::Tanh, 1.0, 0.0, 0.0, 0.5).is_err());
        assert!(correlation_map(&Activation::Tanh, 1.0, 0.0, 1.0, 1.5).is_err());
    }
}
