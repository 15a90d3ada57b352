//! Error-function activations (Erf, the erf-sigmoids) and GELU.

use super::{DualActivation, LANES, LaneDual, finish_lanes};
use crate::real::{Real, atan2_lanes};

/// Dual of φ(x) = a·erf(b·x) + c (Williams 1997; neural-tangents `Erf`).
///
/// With q̃ = b²q, c̃ = b²c and D = (1 + 2q̃1)(1 + 2q̃2) − 4c̃²:
/// T = a²·(2/π)·atan2(2c̃, √D) + c² = a²·(2/π)·arcsin(2c̃/√((1 + 2q̃1)(1 + 2q̃2))) + c²,
/// Ṫ = a²b²·(4/π)/√D, and T(q; q, q) = a²·(2/π)·atan2(2q̃, √(1 + 4q̃)) + c².
/// The erf-sigmoid ½erf(x/2) + ½ of Jiang & Pehlevan is (a, b, c) = (½, ½, ½).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErfDual {
    /// Output scale.
    pub a: f64,
    /// Input scale.
    pub b: f64,
    /// Output shift.
    pub c: f64,
}

impl DualActivation for ErfDual {
    #[inline(always)]
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        let b2 = F::cst(self.b * self.b);
        let two = F::cst(2.0);
        let (c, q1, q2) = (b2 * c, b2 * q1, b2 * q2);
        let d =
            ((F::one() + two * q1) * (F::one() + two * q2) - F::cst(4.0) * c * c).max(F::zero());
        let sq = d.sqrt();
        let a2 = F::cst(self.a * self.a);
        let t = a2 * F::FRAC_2_PI() * (two * c).atan2_fast(sq) + F::cst(self.c * self.c);
        (t, a2 * b2 * two * F::FRAC_2_PI() / sq)
    }
    #[inline(always)]
    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        let b2 = F::cst(self.b * self.b);
        let q = b2 * q;
        let sq = (F::one() + F::cst(4.0) * q).sqrt();
        let a2 = F::cst(self.a * self.a);
        let t = a2 * F::FRAC_2_PI() * (F::cst(2.0) * q).atan2(sq) + F::cst(self.c * self.c);
        (t, a2 * b2 * F::cst(2.0) * F::FRAC_2_PI() / sq)
    }
}

/// The general formula without branches over all lanes (the angle by [`atan2_lanes`]), so the loop
/// vectorizes: one square root and two divisions per entry. Within a few ulps of the scalar path.
impl LaneDual for ErfDual {
    #[inline(always)]
    fn lanes2(
        &self,
        c: &mut [f64; LANES],
        th: &mut [f64; LANES],
        q1: &[f64; LANES],
        q2: &[f64; LANES],
    ) {
        let b2 = self.b * self.b;
        let a2 = self.a * self.a;
        let scale_t = a2 * std::f64::consts::FRAC_2_PI;
        let scale_dot = a2 * b2 * 2.0 * std::f64::consts::FRAC_2_PI;
        let shift = self.c * self.c;
        let mut t = [0.0; LANES];
        let mut dot = [0.0; LANES];
        for l in 0..LANES {
            let (cc, a, b) = (b2 * c[l], b2 * q1[l], b2 * q2[l]);
            let d = ((1.0 + 2.0 * a) * (1.0 + 2.0 * b) - 4.0 * cc * cc).max(0.0);
            let sq = d.sqrt();
            t[l] = scale_t * atan2_lanes(2.0 * cc, sq) + shift;
            dot[l] = scale_dot / sq;
        }
        finish_lanes(self, (c, th), (q1, q2), (t, dot));
    }
}

/// Dual of GELU φ(x) = x·Φ(x), Φ the standard normal CDF (exact erf form; Tsuchida et al.,
/// arXiv:2002.08517; neural-tangents `Gelu`).
///
/// With P = q1q2, P₁ = (q1 + 1)(q2 + 1), δ = √(P₁ − c²) and α = atan2(c, δ):
/// T = c/4 + [(c² + P·δ²)/(P₁·δ) + c·α]/(2π),
/// Ṫ = ¼ + α/(2π) + c/(2πδ)·(1/δ² + (1 − P)/P₁ + 1),
/// T(q; q, q) = q·[¼ + (q/((q + 1)√(1 + 2q)) + ½·atan2(q, √(1 + 2q)))/π].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeluDual;

impl DualActivation for GeluDual {
    #[inline(always)]
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        let one = F::one();
        let p = q1 * q2;
        let p1 = (q1 + one) * (q2 + one);
        let d2 = (p1 - c * c).max(F::zero());
        let d = d2.sqrt();
        let alpha = c.atan2_fast(d);
        let tau = F::cst(2.0) * F::PI();
        let quarter = F::cst(0.25);
        let t = quarter * c + ((c * c + p * d2) / (p1 * d) + c * alpha) / tau;
        let dot = quarter + alpha / tau + c / (tau * d) * (one / d2 + (one - p) / p1 + one);
        (t, dot)
    }
    #[inline(always)]
    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        let one = F::one();
        let r = (one + F::cst(2.0) * q).sqrt();
        let t = q * (F::cst(0.25) + (q / ((q + one) * r) + F::cst(0.5) * q.atan2(r)) / F::PI());
        // δ² = 1 + 2q > 0 on the diagonal, so the general Ṫ has no singularity there.
        (t, self.dual(q, q, q).1)
    }
}

/// The general formula without branches over all lanes (the angle by [`atan2_lanes`]), so the loop
/// vectorizes: 1/(P₁δ) is the one division besides the angle's, and 1/δ = P₁/(P₁δ). Within a few
/// ulps of the scalar path.
impl LaneDual for GeluDual {
    #[inline(always)]
    fn lanes2(
        &self,
        c: &mut [f64; LANES],
        th: &mut [f64; LANES],
        q1: &[f64; LANES],
        q2: &[f64; LANES],
    ) {
        let inv_tau = 0.5 * std::f64::consts::FRAC_1_PI;
        let mut t = [0.0; LANES];
        let mut dot = [0.0; LANES];
        for l in 0..LANES {
            let x = c[l];
            let p = q1[l] * q2[l];
            let p1 = (q1[l] + 1.0) * (q2[l] + 1.0);
            let d2 = (p1 - x * x).max(0.0);
            let d = d2.sqrt();
            let alpha = atan2_lanes(x, d);
            let inv_p1d = 1.0 / (p1 * d);
            let inv_d = p1 * inv_p1d;
            t[l] = 0.25 * x + ((x * x + p * d2) * inv_p1d + x * alpha) * inv_tau;
            dot[l] = 0.25
                + alpha * inv_tau
                + x * inv_tau * inv_d * (inv_d * inv_d + (1.0 - p) * d * inv_p1d + 1.0);
        }
        finish_lanes(self, (c, th), (q1, q2), (t, dot));
    }
}
