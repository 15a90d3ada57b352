//! Dual activations by Gauss–Hermite quadrature, for any activation given as a function.

use super::DualActivation;
use crate::real::Real;
use std::fmt;
use std::sync::Arc;

/// A scalar function shared between threads.
pub type ScalarFn = Arc<dyn Fn(f64) -> f64 + Send + Sync>;

/// Nodes xᵢ and weights wᵢ of the n-point Gauss–Hermite rule, ∫ e^{−x²} f(x) dx ≈ Σ wᵢ f(xᵢ),
/// exact for polynomials of degree ≤ 2n − 1. Nodes come out in increasing order.
///
/// Golub–Welsch: the nodes are the eigenvalues of the symmetric tridiagonal Jacobi matrix with
/// off-diagonal √(k/2); each is then polished by Newton steps on the orthonormal Hermite recurrence,
/// and the weights are 2/ψₙ'(xᵢ)², which stays accurate where eigenvector components underflow.
pub fn gauss_hermite(n: usize) -> (Vec<f64>, Vec<f64>) {
    if n == 0 {
        return (vec![], vec![]);
    }
    let jacobi = nalgebra::DMatrix::from_fn(n, n, |i, j| {
        if i + 1 == j || j + 1 == i {
            (i.max(j) as f64 / 2.0).sqrt()
        } else {
            0.0
        }
    });
    let mut x: Vec<f64> = jacobi.symmetric_eigenvalues().iter().copied().collect();
    x.sort_by(f64::total_cmp);
    let w = x
        .iter_mut()
        .map(|z| {
            let mut dpsi = hermite_orthonormal(n, *z).1;
            for _ in 0..3 {
                let (psi, d) = hermite_orthonormal(n, *z);
                dpsi = d;
                let step = psi / d;
                *z -= step;
                if step.abs() <= 4.0 * f64::EPSILON * z.abs().max(1.0) {
                    break;
                }
            }
            2.0 / (dpsi * dpsi)
        })
        .collect();
    // The rule is symmetric; averaging mirror pairs removes the last rounding asymmetry.
    for i in 0..n / 2 {
        let m = 0.5 * (x[n - 1 - i] - x[i]);
        x[i] = -m;
        x[n - 1 - i] = m;
    }
    if n % 2 == 1 {
        x[n / 2] = 0.0;
    }
    (x, w)
}

/// (ψₙ(z), ψₙ'(z)) for the orthonormal Hermite functions without the Gaussian factor:
/// ψ₀ = π^{−1/4}, ψ_{k+1} = z√(2/(k+1))ψₖ − √(k/(k+1))ψ_{k−1}, ψₙ' = √(2n)ψ_{n−1}.
fn hermite_orthonormal(n: usize, z: f64) -> (f64, f64) {
    let mut p1 = std::f64::consts::PI.powf(-0.25);
    let mut p2 = 0.0;
    for j in 0..n {
        let p3 = p2;
        p2 = p1;
        let jf = j as f64;
        p1 = z * (2.0 / (jf + 1.0)).sqrt() * p2 - (jf / (jf + 1.0)).sqrt() * p3;
    }
    (p1, (2.0 * n as f64).sqrt() * p2)
}

/// Default number of Gauss–Hermite nodes per dimension for quadrature activations.
pub const DEFAULT_NODES: usize = 48;

/// Dual of an activation given only as functions φ, φ' (and optionally φ''), by 2-D Gauss–Hermite
/// quadrature with n² nodes.
///
/// With (u, v) ~ N(0, [[q1, c], [c, q2]]) written as u = √(2q1)·x, v = √2(a·x + b·y),
/// a = c/√q1, b = √(q2 − a²):
/// T ≈ (1/π)·Σᵢⱼ wᵢwⱼ φ(uᵢ)φ(vᵢⱼ), Ṫ ≈ the same sum with φ', T(q; q, q) ≈ (1/√π)·Σᵢ wᵢ φ(√(2q)xᵢ)².
/// The rule is exact when φ is a polynomial of degree < n and converges fast for smooth φ; kinks
/// (ReLU, ELU at 0) slow it down. Cost: n² evaluations of φ and φ' per kernel entry per layer.
/// φ'' is only used to carry derivatives with respect to the inputs (dual-number scalars); when it
/// is absent a central difference of φ' stands in.
#[derive(Clone)]
pub struct QuadratureDual {
    name: String,
    f: ScalarFn,
    df: ScalarFn,
    d2f: Option<ScalarFn>,
    x: Vec<f64>,
    w: Vec<f64>,
}

impl fmt::Debug for QuadratureDual {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QuadratureDual({}, {} nodes)", self.name, self.x.len())
    }
}

impl PartialEq for QuadratureDual {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.x.len() == other.x.len()
            && Arc::ptr_eq(&self.f, &other.f)
            && Arc::ptr_eq(&self.df, &other.df)
    }
}

/// Largest accepted number of quadrature nodes per dimension.
pub const MAX_NODES: usize = 512;

impl QuadratureDual {
    /// A quadrature dual for φ = `f` with derivative `df` and `nodes` points per dimension (1..=512).
    pub fn new(
        name: impl Into<String>,
        f: ScalarFn,
        df: ScalarFn,
        d2f: Option<ScalarFn>,
        nodes: usize,
    ) -> crate::Result<Self> {
        if nodes == 0 || nodes > MAX_NODES {
            return Err(crate::error::invalid(
                "nodes",
                nodes,
                &format!("the number of quadrature nodes must be in 1..={MAX_NODES}"),
            ));
        }
        let (x, w) = gauss_hermite(nodes);
        Ok(Self {
            name: name.into(),
            f,
            df,
            d2f,
            x,
            w,
        })
    }

    /// The activation's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of nodes per dimension.
    pub fn nodes(&self) -> usize {
        self.x.len()
    }

    /// (φ(x), φ'(x)).
    pub fn eval_with_derivative(&self, x: f64) -> (f64, f64) {
        ((self.f)(x), (self.df)(x))
    }

    fn d2(&self, t: f64) -> f64 {
        match &self.d2f {
            Some(g) => g(t),
            None => {
                let h = 1e-5 * (1.0 + t.abs());
                ((self.df)(t + h) - (self.df)(t - h)) / (2.0 * h)
            }
        }
    }
}

impl DualActivation for QuadratureDual {
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        let two = F::cst(2.0);
        let a = if q1 > F::zero() { c / q1.sqrt() } else { F::zero() };
        let b = (q2 - a * a).max(F::zero()).sqrt();
        let su = (two * q1).sqrt();
        let d2 = |t: f64| self.d2(t);
        let mut t = F::zero();
        let mut dot = F::zero();
        for (&xi, &wi) in self.x.iter().zip(&self.w) {
            let u = su * F::cst(xi);
            let fu = u.lift(&*self.f, &*self.df);
            let dfu = u.lift(&*self.df, &d2);
            let ax = a * F::cst(xi);
            let mut inner_f = F::zero();
            let mut inner_df = F::zero();
            for (&yj, &wj) in self.x.iter().zip(&self.w) {
                let v = two.sqrt() * (ax + b * F::cst(yj));
                inner_f = inner_f + F::cst(wj) * v.lift(&*self.f, &*self.df);
                inner_df = inner_df + F::cst(wj) * v.lift(&*self.df, &d2);
            }
            t = t + F::cst(wi) * fu * inner_f;
            dot = dot + F::cst(wi) * dfu * inner_df;
        }
        (t / F::PI(), dot / F::PI())
    }

    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        let su = (F::cst(2.0) * q).sqrt();
        let d2 = |t: f64| self.d2(t);
        let mut t = F::zero();
        let mut dot = F::zero();
        for (&xi, &wi) in self.x.iter().zip(&self.w) {
            let u = su * F::cst(xi);
            let fu = u.lift(&*self.f, &*self.df);
            let dfu = u.lift(&*self.df, &d2);
            t = t + F::cst(wi) * fu * fu;
            dot = dot + F::cst(wi) * dfu * dfu;
        }
        let norm = F::PI().sqrt();
        (t / norm, dot / norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_hermite_integrates_moments() {
        for n in [1, 2, 5, 20, 64, 199, 200, 512] {
            let (x, w) = gauss_hermite(n);
            let m0: f64 = w.iter().sum();
            assert!((m0 - std::f64::consts::PI.sqrt()).abs() < 1e-13, "n={n} m0={m0}");
            if n >= 2 {
                let m2: f64 = x.iter().zip(&w).map(|(x, w)| w * x * x).sum();
                assert!((m2 - std::f64::consts::PI.sqrt() / 2.0).abs() < 1e-13);
            }
            assert!(x.windows(2).all(|p| p[0] < p[1]));
        }
    }
}
