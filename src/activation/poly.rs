//! Polynomial activations: general polynomials, monomials, normalized Hermite polynomials and the
//! affine maps αx + β.

use super::DualActivation;
use crate::real::Real;

/// Largest supported polynomial degree (the Hermite weights use l! which is exact in f64 well past it).
pub const MAX_POLY_DEGREE: usize = 60;

/// Dual of φ(x) = Σₘ coef\[m\]·xᵐ, exact for any variances.
///
/// Expanding φ(√q·z) in the normalized Hermite polynomials hₗ = Heₗ/√(l!) gives coefficients
/// rₗ(q) = q^{l/2}·sₗ(q) with sₗ(q) = Σᵢ coef[l + 2i]·(l + 2i)!/(2ⁱ i! √(l!))·qⁱ, and Mehler's formula
/// gives T = Σₗ rₗ(q1) rₗ(q2) ρˡ = **Σₗ sₗ(q1) sₗ(q2) cˡ**, Ṫ = Σ_{l≥1} l·sₗ(q1) sₗ(q2) c^{l−1},
/// T(q; q, q) = Σₗ sₗ(q)² qˡ. Written in c rather than ρ = c/√(q1q2), nothing is divided, so a zero
/// input is exact (neural-tangents' `Polynomial` is 0/0 there).
#[derive(Debug, Clone, PartialEq)]
pub struct PolynomialDual {
    /// w[l][i] = coef[l + 2i]·(l + 2i)!/(2ⁱ i! √(l!)).
    w: Vec<Vec<f64>>,
}

impl PolynomialDual {
    /// The dual of Σₘ coef\[m\]·xᵐ (at most [`MAX_POLY_DEGREE`]).
    pub fn new(coef: &[f64]) -> crate::Result<Self> {
        if coef.len() > MAX_POLY_DEGREE + 1 {
            return Err(crate::error::invalid(
                "coef",
                format!("{} coefficients", coef.len()),
                &format!("polynomial degree must be at most {MAX_POLY_DEGREE}"),
            ));
        }
        for (k, &x) in coef.iter().enumerate() {
            crate::linalg::check_finite_param(&format!("coef[{k}]"), x)?;
        }
        let m = coef.len();
        let w = (0..m)
            .map(|l| {
                let sqrt_lfact = (1..=l).map(|k| k as f64).product::<f64>().sqrt();
                (0..)
                    .take_while(|i| l + 2 * i < m)
                    .map(|i| {
                        // (l + 2i)!/(l!·i!·2ⁱ) = C(l + 2i, 2i)·(2i − 1)!!, times √(l!)
                        let binom = (1..=2 * i)
                            .map(|k| (l + k) as f64 / k as f64)
                            .product::<f64>();
                        let dfact: f64 = (1..=i).map(|k| (2 * k - 1) as f64).product();
                        coef[l + 2 * i] * binom * dfact * sqrt_lfact
                    })
                    .collect()
            })
            .collect();
        Ok(Self { w })
    }

    /// Coefficients of the monomial xⁿ.
    pub fn monomial_coef(n: usize) -> Vec<f64> {
        let mut c = vec![0.0; n + 1];
        c[n] = 1.0;
        c
    }

    /// Coefficients of the normalized probabilists' Hermite polynomial Heₙ(x)/√(n!):
    /// Heₙ(x) = n!·Σₖ (−1)ᵏ x^{n−2k}/(k!(n − 2k)! 2ᵏ).
    pub fn hermite_coef(n: usize) -> Vec<f64> {
        // Recurrence He_{k+1} = x He_k − k He_{k−1}, exact in integers for moderate n.
        let mut prev = vec![1.0];
        let mut cur = vec![0.0, 1.0];
        if n == 0 {
            return prev;
        }
        for k in 1..n {
            let mut next = vec![0.0; k + 2];
            for (i, &x) in cur.iter().enumerate() {
                next[i + 1] += x;
            }
            for (i, &x) in prev.iter().enumerate() {
                next[i] -= k as f64 * x;
            }
            prev = cur;
            cur = next;
        }
        let norm = (1..=n).map(|k| k as f64).product::<f64>().sqrt();
        cur.iter().map(|x| x / norm).collect()
    }

    #[inline(always)]
    fn s<F: Real>(&self, l: usize, q: F) -> F {
        self.w[l]
            .iter()
            .rev()
            .fold(F::zero(), |acc, &x| acc * q + F::cst(x))
    }
}

impl DualActivation for PolynomialDual {
    #[inline(always)]
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        let mut t = F::zero();
        let mut dot = F::zero();
        for l in (0..self.w.len()).rev() {
            let g = self.s(l, q1) * self.s(l, q2);
            // Horner in c for T and for its derivative
            dot = dot * c + t;
            t = t * c + g;
        }
        (t, dot)
    }
    #[inline(always)]
    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        self.dual(q, q, q)
    }
}

/// Dual of the affine map φ(x) = α·x + β: T = α²c + β², Ṫ = α², T(q; q, q) = α²q + β²
/// (the linear activations of Jiang & Pehlevan's Lemmas 2–4; identity is (1, 0)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AffineDual {
    /// Slope.
    pub alpha: f64,
    /// Offset.
    pub beta: f64,
}

impl DualActivation for AffineDual {
    #[inline(always)]
    fn dual<F: Real>(&self, c: F, _q1: F, _q2: F) -> (F, F) {
        let a2 = F::cst(self.alpha * self.alpha);
        (a2 * c + F::cst(self.beta * self.beta), a2)
    }
    #[inline(always)]
    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        self.dual(q, q, q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hermite_coefficients() {
        // He3 = x³ − 3x, /√6
        let h = PolynomialDual::hermite_coef(3);
        let r6 = 6f64.sqrt();
        assert_eq!(h.len(), 4);
        assert!((h[3] - 1.0 / r6).abs() < 1e-15 && (h[1] + 3.0 / r6).abs() < 1e-15);
        assert_eq!(h[0], 0.0);
    }

    #[test]
    fn monomial_two_matches_closed_form() {
        // E[u²v²] = q1 q2 + 2c²
        let p = PolynomialDual::new(&PolynomialDual::monomial_coef(2)).unwrap();
        let (t, dot) = p.dual(0.3, 1.2, 0.7);
        assert!((t - (1.2 * 0.7 + 2.0 * 0.09)).abs() < 1e-14);
        assert!((dot - 4.0 * 0.3).abs() < 1e-14);
    }
}
