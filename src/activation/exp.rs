//! Activations whose duals are exponentials: Sin/Cos, the RBF feature map, Exp, Gaussian and Gabor.

use super::DualActivation;
use crate::real::Real;

/// Dual of φ(x) = a·sin(b·x + c) (neural-tangents `Sin`; Cos is c + π/2).
///
/// With S = q1 + q2, s₁ = exp(b²(c₁₂ − S/2)) and s₂ = exp(−b²(c₁₂ + S/2))·cos 2c:
/// T = (a²/2)(s₁ − s₂), Ṫ = (a²b²/2)(s₁ + s₂), T(q; q, q) = (a²/2)(1 − e^{−2b²q} cos 2c).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinDual {
    /// Output scale.
    pub a: f64,
    /// Input scale.
    pub b: f64,
    /// Phase shift.
    pub c: f64,
}

impl DualActivation for SinDual {
    #[inline(always)]
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        let b2 = F::cst(self.b * self.b);
        let half_s = (q1 + q2) * F::cst(0.5);
        let s1 = (b2 * (c - half_s)).exp();
        let s2 = (-b2 * (c + half_s)).exp() * F::cst((2.0 * self.c).cos());
        let h = F::cst(self.a * self.a / 2.0);
        (h * (s1 - s2), h * b2 * (s1 + s2))
    }
    #[inline(always)]
    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        let b2 = F::cst(self.b * self.b);
        let e = (F::cst(-2.0) * b2 * q).exp() * F::cst((2.0 * self.c).cos());
        let h = F::cst(self.a * self.a / 2.0);
        (h * (F::one() - e), h * b2 * (F::one() + e))
    }
}

/// Dual of the random-Fourier-feature map φ(x) = √2·sin(√(2γ)·x + π/4), whose NNGP is the RBF kernel
/// (neural-tangents `Rbf`): T = exp(−γ(q1 + q2 − 2c)), Ṫ = 2γ·T, T(q; q, q) = 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RbfDual {
    /// γ = 1/(2ℓ²).
    pub gamma: f64,
}

impl DualActivation for RbfDual {
    #[inline(always)]
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        let g = F::cst(self.gamma);
        let t = (g * (c + c - q1 - q2)).exp();
        (t, F::cst(2.0) * g * t)
    }
    #[inline(always)]
    fn dual_diag<F: Real>(&self, _q: F) -> (F, F) {
        (F::one(), F::cst(2.0 * self.gamma))
    }
}

/// Dual of φ(x) = a·e^{b·x}: T = a²·exp(b²((q1 + q2)/2 + c)), Ṫ = b²·T, T(q; q, q) = a²·e^{2b²q}.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExpDual {
    /// Output scale.
    pub a: f64,
    /// Input scale.
    pub b: f64,
}

impl DualActivation for ExpDual {
    #[inline(always)]
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        let b2 = F::cst(self.b * self.b);
        let t = F::cst(self.a * self.a) * (b2 * ((q1 + q2) * F::cst(0.5) + c)).exp();
        (t, b2 * t)
    }
    #[inline(always)]
    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        let b2 = F::cst(self.b * self.b);
        let t = F::cst(self.a * self.a) * (F::cst(2.0) * b2 * q).exp();
        (t, b2 * t)
    }
}

/// Dual of φ(x) = a·e^{b·x²}. With det = √((1 − 2bq1)(1 − 2bq2) − 4b²c²):
/// T = a²/det, Ṫ = 4a²b²·c/det³, T(q; q, q) = a²/√(1 − 4bq).
///
/// For b > 0 the expectation diverges once 4bq ≥ 1; the dual then returns +∞, which the network
/// reports as [`crate::Error::Overflow`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianDual {
    /// Output scale.
    pub a: f64,
    /// Exponent coefficient (negative for a bump).
    pub b: f64,
}

impl DualActivation for GaussianDual {
    #[inline(always)]
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        let b = F::cst(self.b);
        let two = F::cst(2.0);
        let m1 = F::one() - two * b * q1;
        let m2 = F::one() - two * b * q2;
        let d2 = m1 * m2 - F::cst(4.0) * b * b * c * c;
        if m1 <= F::zero() || m2 <= F::zero() || d2 <= F::zero() {
            return (F::infinity(), F::infinity());
        }
        let det = d2.sqrt();
        let a2 = F::cst(self.a * self.a);
        (a2 / det, a2 * F::cst(4.0) * b * b * c / (det * det * det))
    }
    #[inline(always)]
    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        let m = F::one() - F::cst(4.0 * self.b) * q;
        if m <= F::zero() {
            return (F::infinity(), F::infinity());
        }
        let a2 = F::cst(self.a * self.a);
        let det = m.sqrt();
        (
            a2 / det,
            a2 * F::cst(4.0 * self.b * self.b) * q / (det * det * det),
        )
    }
}

/// Dual of the Gabor function φ(x) = e^{−x²}·sin x.
///
/// With S = q1 + q2, D = 4(q1q2 − c²) and den = det(I + 2Σ) = 1 + 2S + D, the Gaussian integral of
/// ½[cos(u − v) − cos(u + v)]·e^{−u²−v²} gives
/// T = e^{−(S + D + 2c)/(2den)}·(e^{2c/den} − 1)/(2√den), and Ṫ = ∂T/∂c differentiated from it;
/// T(q; q, q) = (1 − e^{−2q/(1 + 4q)})/(2√(1 + 4q)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaborDual;

impl DualActivation for GaborDual {
    #[inline(always)]
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        let two = F::cst(2.0);
        let eight = F::cst(8.0);
        let s = q1 + q2;
        let d = F::cst(4.0) * (q1 * q2 - c * c);
        let den = F::one() + two * s + d;
        // T = ½·den^{-1/2}·(e^{−A} − e^{−B}), A = (S + D − 2c)/(2den), B = (S + D + 2c)/(2den)
        let na = s + d - two * c;
        let nb = s + d + two * c;
        let ea = (-na / (two * den)).exp();
        let eb = (-nb / (two * den)).exp();
        let r = den.sqrt();
        let t = (ea - eb) / (two * r);
        // ∂den/∂c = ∂D/∂c = −8c
        let dden = -eight * c;
        let da = ((-eight * c - two) * den - na * dden) / (two * den * den);
        let db = ((-eight * c + two) * den - nb * dden) / (two * den * den);
        let dr_inv = -dden / (two * den * r); // ∂(den^{-1/2})/∂c
        let dot = (dr_inv * (ea - eb) + (-da * ea + db * eb) / r) / two;
        (t, dot)
    }
    #[inline(always)]
    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        let four_q1 = F::one() + F::cst(4.0) * q;
        let t = (F::one() - (F::cst(-2.0) * q / four_q1).exp()) / (F::cst(2.0) * four_q1.sqrt());
        (t, self.dual(q, q, q).1)
    }
}
