//! Closed forms of Jiang & Pehlevan (2020), "Associative memory in iterated overparameterized
//! sigmoid autoencoders" (ICML), §4.3–4.4 and Appendices C.2, D.1–D.3.
//!
//! The network of §4.4 has one hidden layer, φ(x) = ½erf(x/2) + ½ (the erf approximation of the
//! logistic sigmoid, [`Activation::SigmoidErf`](crate::Activation::SigmoidErf)), σ_w = 1, no bias,
//! NTK parameterization, and inputs x ∈ ℝ^{n₀} with Σ¹(x̂, x) = x̂ᵀx/n₀. Its NTK is eq. 6,
//!
//! Θ(x̂, x) = (1/2π)·x̂ᵀx/√D + (1/2π)·arcsin(x̂ᵀx/√(ab)) + ¼,
//! a = x̂ᵀx̂ + 2n₀, b = xᵀx + 2n₀, D = ab − (x̂ᵀx)²,
//!
//! which is what [`Network`](crate::Network) computes for `[Dense(1, None), SigmoidErf,
//! Dense(1, None)]`.
//!
//! ```
//! use nalgebra::DVector;
//! use ntk::jacobian::closed_form::{sigmoid_erf_ntk, sigmoid_erf_ntk_gradient};
//! let xh = DVector::from_vec(vec![1.0, -2.0, 0.5]);
//! let x = DVector::from_vec(vec![0.3, 1.0, 2.0]);
//! let theta = sigmoid_erf_ntk(&xh, &x)?;
//! // At x̂ᵀx = 0 only the constant ¼ survives.
//! assert!((sigmoid_erf_ntk(&xh, &DVector::from_vec(vec![2.0, 1.0, 0.0]))? - 0.25).abs() < 1e-15);
//! let g = sigmoid_erf_ntk_gradient(&xh, &x)?;
//! assert_eq!(g.len(), 3);
//! # let _ = theta;
//! # Ok::<(), ntk::Error>(())
//! ```

use crate::error::invalid;
use crate::linalg::check_finite_param;
use crate::{Error, Result};
use nalgebra::{DMatrix, DVector};
use std::f64::consts::PI;

fn check_vector(what: &str, v: &DVector<f64>) -> Result<()> {
    crate::linalg::check_finite_slice(v.as_slice(), what)
}

/// The pieces of eq. 6 for a pair: s = x̂ᵀx, a = ‖x̂‖² + 2n₀, b = ‖x‖² + 2n₀, D = ab − s², and the
/// projection residuals p = x − (s/‖x̂‖²)x̂, q = x̂ − (s/‖x‖²)x (the zero vector's residual is the
/// other point itself).
struct PairTerms {
    s: f64,
    a: f64,
    b: f64,
    d: f64,
    p: DVector<f64>,
    q: DVector<f64>,
}

fn pair_terms(x_hat: &DVector<f64>, x: &DVector<f64>) -> Result<PairTerms> {
    if x_hat.is_empty() || x_hat.len() != x.len() {
        return Err(Error::ShapeMismatch {
            what: "the two points of the NTK".into(),
            expected: format!(
                "two vectors of the same dimension n₀ ≥ 1 (x̂ has {})",
                x_hat.len()
            ),
            found: format!("{}", x.len()),
        });
    }
    check_vector("x_hat", x_hat)?;
    check_vector("x", x)?;
    let n0 = x.len() as f64;
    let (nh, nx, s) = (x_hat.norm_squared(), x.norm_squared(), x_hat.dot(x));
    let p = if nh > 0.0 {
        x - x_hat * (s / nh)
    } else {
        x.clone()
    };
    let q = if nx > 0.0 {
        x_hat - x * (s / nx)
    } else {
        x_hat.clone()
    };
    // ‖x̂‖²‖x‖² − s² = ‖x̂‖²‖p‖² (Lagrange): the projection residual avoids the cancellation of the
    // plain difference for nearly parallel points of large norm.
    let d = nh * p.norm_squared() + 2.0 * n0 * (nh + nx) + 4.0 * n0 * n0;
    Ok(PairTerms {
        s,
        a: nh + 2.0 * n0,
        b: nx + 2.0 * n0,
        d,
        p,
        q,
    })
}

/// Θ(x̂, x) of the 2-layer erf-sigmoid network, Jiang & Pehlevan (2020) eq. 6 (App. D.1):
///
/// Θ = (1/2π)·x̂ᵀx/√((2n₀ + xᵀx)(2n₀ + x̂ᵀx̂) − (x̂ᵀx)²)
///   + (1/2π)·arcsin(x̂ᵀx/√((xᵀx + 2n₀)(x̂ᵀx̂ + 2n₀))) + ¼,  n₀ = dim x.
///
/// The arcsine is evaluated as atan2(x̂ᵀx, √D) (same value, no loss near ±1).
///
/// Errors: [`Error::ShapeMismatch`] for empty or unequal dimensions, [`Error::NonFinite`] for NaN/∞.
///
/// ```
/// use nalgebra::DVector;
/// use ntk::jacobian::closed_form::sigmoid_erf_ntk;
/// // n₀ = 1, x̂ = x = 1: a = b = 3, D = 8: Θ = 1/(2π√8) + arcsin(1/3)/(2π) + ¼.
/// let one = DVector::from_vec(vec![1.0]);
/// let pi = std::f64::consts::PI;
/// let expected = 1.0 / (2.0 * pi * 8f64.sqrt()) + (1.0f64 / 3.0).asin() / (2.0 * pi) + 0.25;
/// assert!((sigmoid_erf_ntk(&one, &one)? - expected).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn sigmoid_erf_ntk(x_hat: &DVector<f64>, x: &DVector<f64>) -> Result<f64> {
    let PairTerms { s, d, .. } = pair_terms(x_hat, x)?;
    let sd = d.sqrt();
    Ok((s / sd + s.atan2(sd)) / (2.0 * PI) + 0.25)
}

/// ∂Θ(x̂, x)/∂x of eq. 6 (Jiang & Pehlevan 2020, App. D.2), the sum of
///
/// I₁ᵍ = ∂/∂x [(1/2π) arcsin(s/√(ab))] = (1/2π)·(b x̂ − s x)/(b√D),
/// I₂ᵍ = ∂/∂x [(1/2π) s/√D] = (1/2π)·(D x̂ − s(a x − s x̂))/D^{3/2},
///
/// with s = x̂ᵀx, a = x̂ᵀx̂ + 2n₀, b = xᵀx + 2n₀, D = ab − s². (I₁ᵍ is the paper's
/// (1/2π)(1 − A²)^{−½}(x̂ ab − x a s)/(ab)^{3/2} with √(1 − A²) = √(D/(ab)).) The rows of the
/// paper's ∂k_x/∂x are this gradient at each training point x̂ = x_i.
///
/// Errors as [`sigmoid_erf_ntk`].
///
/// ```
/// use nalgebra::DVector;
/// use ntk::jacobian::closed_form::{sigmoid_erf_ntk, sigmoid_erf_ntk_gradient};
/// let xh = DVector::from_vec(vec![0.4, -1.0]);
/// let x = DVector::from_vec(vec![1.5, 0.2]);
/// let g = sigmoid_erf_ntk_gradient(&xh, &x)?;
/// let h = 1e-6;
/// let e0 = DVector::from_vec(vec![h, 0.0]);
/// let fd = (sigmoid_erf_ntk(&xh, &(&x + &e0))? - sigmoid_erf_ntk(&xh, &(&x - &e0))?) / (2.0 * h);
/// assert!((fd - g[0]).abs() < 1e-8);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn sigmoid_erf_ntk_gradient(x_hat: &DVector<f64>, x: &DVector<f64>) -> Result<DVector<f64>> {
    let PairTerms { s, a, b, d, p, q } = pair_terms(x_hat, x)?;
    let n2 = 2.0 * x.len() as f64;
    let sd = d.sqrt();
    // The numerators in cancellation-free form (their plain forms lose ~s²/D digits for nearly
    // parallel points of large norm): b x̂ − s x = ‖x‖² q + 2n₀ x̂ and
    // D x̂ − s(a x − s x̂) = D x̂ − s(‖x̂‖² p + 2n₀ x).
    let i1 = (q * (b - n2) + x_hat * n2) / (b * sd);
    let i2 = (x_hat * d - (p * (a - n2) + x * n2) * s) / (d * sd);
    Ok((i1 + i2) / (2.0 * PI))
}

fn check_norm_args(r: f64, n0: usize) -> Result<()> {
    check_finite_param("r", r)?;
    if r < 0.0 {
        return Err(invalid("r", r, "a norm must be ≥ 0"));
    }
    if n0 == 0 {
        return Err(invalid("n0", n0, "the input dimension must be ≥ 1"));
    }
    Ok(())
}

/// K̃_ij = Θ(x_i, x_j) for two points of the same norm r and cosine ρ (Jiang & Pehlevan 2020, §4.4):
///
/// K̃_ij = ¼ + (1/2π)·arcsin(r²ρ/(r² + 2n₀)) + (1/2π)·r²ρ/√((2n₀ + r²)² − r⁴ρ²).
///
/// Errors: [`Error::InvalidParameter`] for r < 0, ρ ∉ [−1, 1], n₀ = 0 or non-finite values.
///
/// ```
/// use ntk::jacobian::closed_form::same_norm_ntk;
/// // ρ = 0: only the constant ¼.
/// assert_eq!(same_norm_ntk(3.0, 0.0, 8)?, 0.25);
/// // ρ = 1 is the diagonal Θ(x, x), ≈ r/(4π√n₀) for large r.
/// let (r, n0) = (1e4, 16);
/// let k = same_norm_ntk(r, 1.0, n0)?;
/// assert!((k / (r / (4.0 * std::f64::consts::PI * 4.0)) - 1.0).abs() < 1e-2);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn same_norm_ntk(r: f64, rho: f64, n0: usize) -> Result<f64> {
    check_norm_args(r, n0)?;
    check_finite_param("rho", rho)?;
    if !(-1.0..=1.0).contains(&rho) {
        return Err(invalid("rho", rho, "a cosine must lie in [−1, 1]"));
    }
    let big = r * r + 2.0 * n0 as f64;
    let s = r * r * rho;
    // (R − s)(R + s) rather than R² − s²: at ρ = ±1 the difference is 4n₀(n₀ + r²), far below R².
    let sd = ((big - s) * (big + s)).sqrt();
    Ok(0.25 + (s.atan2(sd) + s / sd) / (2.0 * PI))
}

/// The large-norm quantities of Jiang & Pehlevan (2020) §4.4 and App. D.2–D.3 at input norm r and
/// dimension n₀, exact and asymptotic: see [`large_norm_asymptotics`].
///
/// In App. D.3's notation, I_k = (1/2π)·r²/√(4n₀² + 4n₀r²) ≈ r/(4π√n₀) is the part of K̃_ii that
/// grows with r, and J_k = (1/2π)·2n₀(r² + 2n₀)/(4n₀r² + 4n₀²)^{3/2} ≈ 1/(8π√n₀·r) the scalar with
/// ∂Θ(x₁, x)/∂x|_{x = x₁} ≈ J_k·x₁; the norm of that gradient is r·J_k.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LargeNormAsymptotics {
    /// K̃_ii = Θ(x, x) = ¼ + (1/2π)arcsin(r²/(r² + 2n₀)) + (1/2π)r²/√(4n₀(n₀ + r²)), exact.
    pub diagonal: f64,
    /// Its large-r form r/(4π√n₀) (§4.4, before eq. 7).
    pub diagonal_asymptote: f64,
    /// ‖I₂ᵍ(x₁, x₁)‖ = r·J_k = (1/2π)·2n₀r(r² + 2n₀)/(4n₀r² + 4n₀²)^{3/2} (App. D.2, before its
    /// final approximation; eq. 9), with the paper's J_k of App. D.3: the part of
    /// ‖∂Θ(x₁, x)/∂x|_{x₁}‖ the paper keeps.
    pub gradient_norm_d2: f64,
    /// The exact ‖∂Θ(x₁, x)/∂x|_{x = x₁}‖ = ‖I₁ᵍ + I₂ᵍ‖ = (r/2π)·2n₀·(1/(b√D) + b/D^{3/2}),
    /// b = r² + 2n₀, D = 4n₀(n₀ + r²) (both terms are parallel to x₁).
    pub gradient_norm_exact: f64,
    /// The large-r form 1/(8π√n₀) of both gradient norms (eq. 9).
    pub gradient_asymptote: f64,
    /// r²J_k/K̃_ii = r·[`gradient_norm_d2`](Self::gradient_norm_d2)/K̃_ii: the eigenvalue of
    /// X̂K̃⁻¹∂k_x/∂x ≈ (J_k/K̃_ii)·x₁x₁ᵀ when K̃ is reduced to its diagonal and ∂k_x/∂x to the row of
    /// x₁ (§4.4, App. D.2). Since K̃_ii = I_k + ¼ + (1/2π)arcsin(r²/(r² + 2n₀)) → I_k + ½, this is
    /// the paper's r²J_k/(I_k + ½) for data without parallel inputs, with the exact diagonal (App.
    /// D.3's r²J_k/(I_k + ¼) is the case with an antiparallel pair). It tends to ½ from below: the
    /// paper's ‖J∞‖ ≤ ½ + ‖J₀‖ → ½ as r → ∞.
    pub implied_jacobian_norm: f64,
}

/// The §4.4 / App. D.2 large-norm analysis of the 2-layer erf-sigmoid NTK at input norm `r` in
/// dimension `n0` (Jiang & Pehlevan 2020, eqs. 7–9): exact K̃_ii and gradient norms, their
/// asymptotes r/(4π√n₀) and 1/(8π√n₀), and the implied trained-Jacobian eigenvalue
/// r²J_k/K̃_ii → ½ (in App. D.3's notation; see [`LargeNormAsymptotics`]).
///
/// Errors: [`Error::InvalidParameter`] for r ≤ 0, n₀ = 0 or non-finite r.
///
/// ```
/// use ntk::jacobian::closed_form::large_norm_asymptotics;
/// let a = large_norm_asymptotics(1e6, 32)?;
/// assert!((a.diagonal / a.diagonal_asymptote - 1.0).abs() < 1e-4);
/// assert!((a.gradient_norm_d2 / a.gradient_asymptote - 1.0).abs() < 1e-4);
/// assert!((a.implied_jacobian_norm - 0.5).abs() < 1e-4);
///
/// // Fig. 3's dimension n₀ = 32 at r = 64, from App. D.3's I_k and J_k: the paper's form for data
/// // without parallel inputs, r²J_k/(I_k + ½), is 0.3235 (the antiparallel form with I_k + ¼ would
/// // be 0.394); with the exact diagonal K̃_ii it is 0.3301.
/// let (r, n): (f64, f64) = (64.0, 32.0);
/// let pi = std::f64::consts::PI;
/// let i_k = r * r / (2.0 * pi * (4.0 * n * n + 4.0 * n * r * r).sqrt());
/// let j_k = 2.0 * n * (r * r + 2.0 * n) / (2.0 * pi * (4.0 * n * r * r + 4.0 * n * n).powf(1.5));
/// assert!((r * r * j_k / (i_k + 0.5) - 0.3235).abs() < 1e-4);
/// let a = large_norm_asymptotics(r, 32)?;
/// assert!((a.gradient_norm_d2 - r * j_k).abs() < 1e-15);
/// assert!((a.implied_jacobian_norm - 0.3301).abs() < 1e-4);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn large_norm_asymptotics(r: f64, n0: usize) -> Result<LargeNormAsymptotics> {
    check_norm_args(r, n0)?;
    if r == 0.0 {
        return Err(invalid("r", r, "the large-norm analysis needs r > 0"));
    }
    let n = n0 as f64;
    let diagonal = same_norm_ntk(r, 1.0, n0)?;
    let b = r * r + 2.0 * n;
    let d = 4.0 * n * (n + r * r);
    let sd = d.sqrt();
    let gradient_norm_d2 = 2.0 * n * r * b / (2.0 * PI * d * sd);
    let gradient_norm_exact = r / (2.0 * PI) * 2.0 * n * (1.0 / (b * sd) + b / (d * sd));
    Ok(LargeNormAsymptotics {
        diagonal,
        diagonal_asymptote: r / (4.0 * PI * n.sqrt()),
        gradient_norm_d2,
        gradient_norm_exact,
        gradient_asymptote: 1.0 / (8.0 * PI * n.sqrt()),
        implied_jacobian_norm: r * gradient_norm_d2 / diagonal,
    })
}

/// The spectrum of X(XᵀX + cB)⁻¹Xᵀ of Lemma 6 / Corollary 7 (Jiang & Pehlevan 2020, App. C.2):
/// see [`lemma6_spectrum`].
#[derive(Debug, Clone, PartialEq)]
pub struct Lemma6Spectrum {
    /// The k eigenvalues of the symmetric k × k matrix X(XᵀX + cB)⁻¹Xᵀ, in decreasing order.
    pub eigenvalues: DVector<f64>,
    /// g = 1ᵀ(XᵀX)⁻¹1 = trace(B(XᵀX)⁻¹) > 0.
    pub g: f64,
    /// The predicted non-unit, non-zero eigenvalue λ̂ = 1/(1 + c·g) (Corollary 7: 1 − cg/(1 + cg)).
    pub lambda_hat: f64,
    /// The 2-norm condition number σ_max/σ_min of X, which scales the rounding error of the
    /// computed eigenvalues.
    pub condition: f64,
}

/// Lemma 6 and Corollary 7 (Jiang & Pehlevan 2020, App. C.2): for X ∈ ℝ^{k×m} of full column rank,
/// k ≥ m ≥ 2, B = 11ᵀ the all-ones m × m matrix and a constant c with 1 + c·g > 0 (c ≥ 0 in the
/// lemma; Remark 2 allows negative c away from cg = −1), X(XᵀX + cB)⁻¹Xᵀ has eigenvalue 1 with
/// multiplicity m − 1, eigenvalue 0 with multiplicity k − m, and one eigenvalue λ̂ = 1/(1 + c·g),
/// g = 1ᵀ(XᵀX)⁻¹1, with eigenvector X(XᵀX)⁻¹1.
///
/// Returns the computed eigenvalues (symmetric eigendecomposition) with the predicted λ̂.
///
/// Errors: [`Error::ShapeMismatch`] unless k ≥ m ≥ 2; [`Error::NonFinite`] for NaN/∞ entries or c;
/// [`Error::RankDeficient`] if X has numerical rank < m (singular values below
/// max(k, m)·ε·σ_max); [`Error::InvalidParameter`] if 1 + c·g ≤ 0 (XᵀX + cB singular or indefinite).
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::jacobian::closed_form::lemma6_spectrum;
/// let x = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
/// let s = lemma6_spectrum(&x, 0.5)?;
/// // XᵀX = [[2, 1], [1, 2]], g = 2/3, λ̂ = 1/(1 + 1/3) = ¾; spectrum {1, ¾, 0}.
/// assert!((s.lambda_hat - 0.75).abs() < 1e-15);
/// assert!((s.eigenvalues[0] - 1.0).abs() < 1e-14);
/// assert!((s.eigenvalues[1] - 0.75).abs() < 1e-14);
/// assert!(s.eigenvalues[2].abs() < 1e-14);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn lemma6_spectrum(x: &DMatrix<f64>, c: f64) -> Result<Lemma6Spectrum> {
    let (k, m) = x.shape();
    if m < 2 || k < m {
        return Err(Error::ShapeMismatch {
            what: "X of Lemma 6".into(),
            expected: "k × m with k ≥ m ≥ 2".into(),
            found: format!("{k} × {m}"),
        });
    }
    crate::linalg::check_finite_matrix(x, "X")?;
    if !c.is_finite() {
        return Err(Error::NonFinite {
            what: "c".into(),
            location: "scalar".into(),
            value: c,
        });
    }
    let sv = x.singular_values();
    let s_max = sv.max();
    let s_min = sv.min();
    let tol = (k.max(m) as f64) * f64::EPSILON * s_max;
    let rank = sv.iter().filter(|&&s| s > tol).count();
    if rank < m || s_max == 0.0 {
        return Err(Error::RankDeficient {
            what: "X of Lemma 6".into(),
            rank,
            required: m,
        });
    }
    let gram = x.transpose() * x;
    let ones = DVector::from_element(m, 1.0);
    let chol = gram.clone().cholesky().ok_or(Error::RankDeficient {
        what: "X of Lemma 6 (XᵀX not positive definite)".into(),
        rank,
        required: m,
    })?;
    let g = ones.dot(&chol.solve(&ones));
    if 1.0 + c * g <= 0.0 {
        return Err(invalid(
            "c",
            c,
            "needs 1 + c·g > 0 (g = 1ᵀ(XᵀX)⁻¹1), else XᵀX + cB is singular or indefinite",
        ));
    }
    let shifted = gram.add_scalar(c);
    let solved = shifted
        .lu()
        .solve(&x.transpose())
        .ok_or_else(|| Error::NoConvergence("the LU solve of XᵀX + cB".into()))?;
    let mut mat = x * solved;
    // Symmetric in exact arithmetic; averaging removes the rounding asymmetry before the
    // symmetric eigensolver.
    mat = (&mat + mat.transpose()) * 0.5;
    let mut eig: Vec<f64> = mat.symmetric_eigenvalues().iter().copied().collect();
    eig.sort_by(|a, b| b.total_cmp(a));
    Ok(Lemma6Spectrum {
        eigenvalues: DVector::from_vec(eig),
        g,
        lambda_hat: 1.0 / (1.0 + c * g),
        condition: s_max / s_min,
    })
}
