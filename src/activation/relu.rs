//! The piecewise-linear family (ABReLU, ReLU, LeakyReLU, Abs), the sign function, and the
//! arc-cosine kernels of the rectified monomials.

use super::{DualActivation, LANES, LaneDual, finish_lanes};
use crate::real::{ANGLE_FLOOR, Real, angle, atan2_nonneg};

/// Dual of φ(x) = a·min(x, 0) + b·max(x, 0).
///
/// With θ = arccos(c/√(q1 q2)) (computed by `atan2`) and F = (a − b)²/(2π):
/// T = F·√(q1 q2 − c²) + Ṫ·c,  Ṫ = (a² + b²)/2 − F·θ,  T(q; q, q) = (a² + b²)/2 · q.
/// ReLU is (0, 1), LeakyReLU(α) is (α, 1), Abs is (−1, 1) (Cho & Saul 2009; neural-tangents `ABRelu`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AbReluDual {
    /// Slope for x < 0.
    pub a: f64,
    /// Slope for x > 0.
    pub b: f64,
}

impl DualActivation for AbReluDual {
    #[inline(always)]
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        let (theta, s) = angle(q1 * q2, c);
        let f = F::cst((self.a - self.b).powi(2) / (2.0 * std::f64::consts::PI));
        let dot = F::cst((self.a * self.a + self.b * self.b) / 2.0) - f * theta;
        (f * s + dot * c, dot)
    }
    #[inline(always)]
    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        if q == F::zero() {
            // A zero-variance input is constant 0, where φ' is taken as (a + b)/2: the general
            // formula's θ = π/2 convention gives exactly Ṫ = ((a + b)/2)².
            return self.dual(q, q, q);
        }
        let m = F::cst((self.a * self.a + self.b * self.b) / 2.0);
        (m * q, m)
    }
}

/// The general formula without branches over all lanes (the angle by [`atan2_nonneg`], so the loop
/// vectorizes), then the diagonal formulas where c = q1 = q2 exactly. The angle is within 2 ulps of
/// the scalar path's, with the same rounding floor for (anti)parallel pairs.
impl LaneDual for AbReluDual {
    #[inline(always)]
    fn lanes2(
        &self,
        c: &mut [f64; LANES],
        th: &mut [f64; LANES],
        q1: &[f64; LANES],
        q2: &[f64; LANES],
    ) {
        let f = (self.a - self.b).powi(2) / (2.0 * std::f64::consts::PI);
        let m = (self.a * self.a + self.b * self.b) / 2.0;
        let mut t = [0.0; LANES];
        let mut dot = [0.0; LANES];
        for l in 0..LANES {
            let p = q1[l] * q2[l];
            let gap = p - c[l] * c[l];
            // As in `angle`: a gap below the rounding floor is an (anti)parallel pair.
            let s = if gap <= ANGLE_FLOOR * p {
                0.0
            } else {
                gap.sqrt()
            };
            dot[l] = m - f * atan2_nonneg(s, c[l]);
            t[l] = f * s + dot[l] * c[l];
        }
        finish_lanes(self, (c, th), (q1, q2), (t, dot));
    }
}

/// Dual of φ(x) = sign(x): T = 1 − 2θ/π = (2/π)·arcsin(c/√(q1 q2)), T(q; q, q) = 1 (0 when q = 0).
///
/// Ṫ is **E[φ'(u)φ'(v)] = 0**: φ' vanishes almost everywhere, so a finite network passes no gradient
/// through a sign layer and its NTK gets no contribution from the layers below (neural-tangents' convention).
/// This is not ∂T/∂c = 2/(π√(q1 q2 − c²)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignDual;

impl DualActivation for SignDual {
    #[inline(always)]
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        let (theta, _) = angle(q1 * q2, c);
        (F::one() - F::cst(2.0) * theta / F::PI(), F::zero())
    }
    #[inline(always)]
    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        (if q == F::zero() { F::zero() } else { F::one() }, F::zero())
    }
}

/// Dual of the rectified monomial φ(x) = xⁿ·1[x ≥ 0], the arc-cosine kernel of order n.
///
/// T = (q1 q2)^{n/2}/(2π)·Jₙ(θ) with Jₙ(θ) = (−1)ⁿ sin^{2n+1}θ·((1/sin θ)∂_θ)ⁿ[(π − θ)/sin θ]
/// (Cho & Saul 2009). Jₙ is expanded once into Jₙ = (−1)ⁿ[Aₙ(cos θ)(π − θ) + Bₙ(cos θ) sin θ] with
/// polynomials Aₙ, Bₙ, so the formula is evaluated without dividing by sin θ: it is finite and exact at
/// θ = 0 (identical or parallel inputs), where neural-tangents 0.6.5 returns NaN.
/// Ṫ = n²·T_{n−1} (Price's theorem); for n = 0 (the step function) Ṫ = E[φ'φ'] = 0 as for [`SignDual`].
/// Diagonal: T(q; q, q) = (2n − 1)!!·qⁿ/2.
#[derive(Debug, Clone, PartialEq)]
pub struct RectifiedMonomialDual {
    n: u32,
    /// Coefficients (in cos θ) of Aₙ, Bₙ, A_{n−1}, B_{n−1}, signs (−1)ⁿ folded in.
    a: Vec<f64>,
    b: Vec<f64>,
    a_prev: Vec<f64>,
    b_prev: Vec<f64>,
}

/// Largest supported degree of rectified monomials and monomials.
pub const MAX_RECTIFIED_DEGREE: u32 = 20;

fn poly_deriv(p: &[f64]) -> Vec<f64> {
    p.iter()
        .enumerate()
        .skip(1)
        .map(|(k, &x)| k as f64 * x)
        .collect()
}

/// p·(1 − t²)
fn times_one_minus_t2(p: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; p.len() + 2];
    for (k, &x) in p.iter().enumerate() {
        out[k] += x;
        out[k + 2] -= x;
    }
    out
}

fn times_t(p: &[f64], s: f64) -> Vec<f64> {
    let mut out = vec![0.0; p.len() + 1];
    for (k, &x) in p.iter().enumerate() {
        out[k + 1] += s * x;
    }
    out
}

fn add(p: &[f64], q: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; p.len().max(q.len())];
    for (k, &x) in p.iter().enumerate() {
        out[k] += x;
    }
    for (k, &x) in q.iter().enumerate() {
        out[k] += x;
    }
    out
}

/// Aₙ and Bₙ with g_k = (A_k(t)(π − θ) + B_k(t) sin θ)/sin^{2k+1}θ, g_{k+1} = g_k'/sin θ:
/// A_{k+1} = −(1 − t²)A_k' − m t A_k and B_{k+1} = −A_k − (1 − t²)B_k' + (1 − m) t B_k, m = 2k + 1.
fn arccos_polys(n: u32) -> (Vec<f64>, Vec<f64>) {
    let mut a = vec![1.0];
    let mut b = vec![0.0];
    for k in 0..n {
        let m = (2 * k + 1) as f64;
        let na = add(
            &times_one_minus_t2(&poly_deriv(&a))
                .iter()
                .map(|x| -x)
                .collect::<Vec<_>>(),
            &times_t(&a, -m),
        );
        let nb = add(
            &add(
                &a.iter().map(|x| -x).collect::<Vec<_>>(),
                &times_one_minus_t2(&poly_deriv(&b))
                    .iter()
                    .map(|x| -x)
                    .collect::<Vec<_>>(),
            ),
            &times_t(&b, 1.0 - m),
        );
        a = na;
        b = nb;
    }
    let sign = if n % 2 == 0 { 1.0 } else { -1.0 };
    let finish = |p: Vec<f64>| {
        let mut p: Vec<f64> = p.into_iter().map(|x| sign * x).collect();
        while p.last() == Some(&0.0) {
            p.pop();
        }
        p
    };
    (finish(a), finish(b))
}

/// Σ_k p[k]·c^k·P^{(deg − k)/2} for the terms of matching parity: P^{deg/2}·p(c/√P) without division.
#[inline(always)]
fn hom<F: Real>(p: &[f64], deg: i32, c: F, pp: F) -> F {
    let mut acc = F::zero();
    for (k, &x) in p.iter().enumerate() {
        let e = deg - k as i32;
        if x != 0.0 && e >= 0 && e % 2 == 0 {
            acc = acc + F::cst(x) * c.powi(k as i32) * pp.powi(e / 2);
        }
    }
    acc
}

impl RectifiedMonomialDual {
    /// The dual of xⁿ·1[x ≥ 0]; `n` must be at most [`MAX_RECTIFIED_DEGREE`].
    pub fn new(n: u32) -> crate::Result<Self> {
        if n > MAX_RECTIFIED_DEGREE {
            return Err(crate::error::invalid(
                "degree",
                n,
                &format!("rectified monomial degree must be at most {MAX_RECTIFIED_DEGREE}"),
            ));
        }
        let (a, b) = arccos_polys(n);
        let (a_prev, b_prev) = if n > 0 {
            arccos_polys(n - 1)
        } else {
            (vec![], vec![])
        };
        Ok(Self {
            n,
            a,
            b,
            a_prev,
            b_prev,
        })
    }

    /// The degree n.
    pub fn degree(&self) -> u32 {
        self.n
    }

    #[inline(always)]
    fn t_n<F: Real>(n: i32, a: &[f64], b: &[f64], c: F, pp: F, psi: F, s: F) -> F {
        (hom(a, n, c, pp) * psi + hom(b, n - 1, c, pp) * s) / F::cst(2.0 * std::f64::consts::PI)
    }
}

fn double_factorial_odd(n: u32) -> f64 {
    // (2n − 1)!! with (−1)!! = 1
    (1..=n).map(|k| (2 * k - 1) as f64).product()
}

impl DualActivation for RectifiedMonomialDual {
    #[inline(always)]
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        let pp = q1 * q2;
        let (theta, s) = angle(pp, c);
        let psi = F::PI() - theta;
        let n = self.n as i32;
        let t = Self::t_n(n, &self.a, &self.b, c, pp, psi, s);
        let dot = if n == 0 {
            F::zero()
        } else {
            F::cst((n * n) as f64) * Self::t_n(n - 1, &self.a_prev, &self.b_prev, c, pp, psi, s)
        };
        (t, dot)
    }
    #[inline(always)]
    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        let n = self.n;
        let t = F::cst(double_factorial_odd(n) / 2.0) * q.powi(n as i32);
        let dot = if q == F::zero() {
            // Zero variance: Ṫ from the θ = π/2 convention of the general formula (see AbReluDual);
            // T keeps neural-tangents' diagonal formula (q⁰ = 1 for the step).
            self.dual(q, q, q).1
        } else if n == 0 {
            F::zero()
        } else {
            F::cst((n * n) as f64 * double_factorial_odd(n - 1) / 2.0) * q.powi(n as i32 - 1)
        };
        (t, dot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arccos_polynomials_match_cho_saul() {
        // J1 = sin θ + (π − θ) cos θ ; J2 = 3 sin θ cos θ + (π − θ)(1 + 2cos²θ)
        let (a1, b1) = arccos_polys(1);
        assert_eq!(a1, vec![0.0, 1.0]);
        assert_eq!(b1, vec![1.0]);
        let (a2, b2) = arccos_polys(2);
        assert_eq!(a2, vec![1.0, 0.0, 2.0]);
        assert_eq!(b2, vec![0.0, 3.0]);
    }
}
