//! Regularised kernel systems K_reg X = B: the regularization convention, a fitted solver that factorizes
//! K_reg once (Cholesky, or an opt-in eigendecomposition fallback) and solves any number of right-hand
//! sides, and the validation shared by the whole [`regression`](super) module.

use crate::error::{check_finite_param, invalid};
use crate::linalg::{Par, gemm, view};
use crate::{Error, Result};
use faer::linalg::solvers::{Llt, Solve};
use faer::{MatMut, Side};
use nalgebra::{DMatrix, DVector};

/// The diagonal regularizer added to a train-train kernel: K_reg = K + λI.
///
/// * `Absolute(r)`: λ = r (neural-tangents `diag_reg_absolute_scale=True`).
/// * `Relative(r)`: λ = r · trace(K)/n, with n = K.nrows() (the neural-tangents default).
///
/// For an ensemble with both kernels, λ is computed separately for the NNGP and the NTK.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::Regularization;
/// let k = DMatrix::from_row_slice(2, 2, &[2.0, 0.5, 0.5, 4.0]);
/// assert_eq!(Regularization::Relative(0.1).absolute(&k)?, 0.1 * 3.0);
/// assert_eq!(Regularization::Absolute(0.1).absolute(&k)?, 0.1);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Regularization {
    /// λ = the given value.
    Absolute(f64),
    /// λ = value · trace(K)/n.
    Relative(f64),
}

impl Default for Regularization {
    /// No regularization (ridgeless): `Relative(0.0)`.
    fn default() -> Self {
        Regularization::Relative(0.0)
    }
}

impl Regularization {
    /// The absolute λ added to the diagonal of `k` (n × n). Fails with [`Error::InvalidParameter`] if
    /// the value is negative or not finite.
    ///
    /// ```
    /// use nalgebra::DMatrix;
    /// use ntk::Regularization;
    /// let k = DMatrix::<f64>::identity(3, 3);
    /// assert!(Regularization::Absolute(-1.0).absolute(&k).is_err());
    /// ```
    pub fn absolute(&self, k: &DMatrix<f64>) -> Result<f64> {
        let (Regularization::Absolute(r) | Regularization::Relative(r)) = *self;
        check_finite_param("diag_reg", r)?;
        if r < 0.0 {
            return Err(invalid("diag_reg", r, "must be ≥ 0"));
        }
        Ok(match self {
            Regularization::Absolute(_) => r,
            Regularization::Relative(_) => {
                let n = k.nrows().max(1) as f64;
                r * k.trace() / n
            }
        })
    }
}

/// What [`KernelSolver::fit_with`] does when K_reg is not positive definite.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::{Fallback, KernelSolver, Regularization};
/// // Rank one: [1 1; 1 1] is singular.
/// let k = DMatrix::from_element(2, 2, 1.0);
/// assert!(KernelSolver::fit(&k, Regularization::Absolute(0.0)).is_err());
/// let s = KernelSolver::fit_with(&k, Regularization::Absolute(0.0), Fallback::PseudoInverse { rcond: 1e-12 })?;
/// let x = s.solve(&DMatrix::from_element(2, 1, 2.0))?; // minimum-norm solution [1, 1]
/// assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Fallback {
    /// Return [`Error::NotPositiveDefinite`] (the default).
    #[default]
    Error,
    /// Moore–Penrose pseudo-inverse from the eigendecomposition K_reg = V diag(λ) Vᵀ: eigenvalues
    /// |λᵢ| ≤ rcond · max|λ| are dropped (treated as 0); negative ones above the cut-off are inverted.
    PseudoInverse {
        /// Relative cut-off (e.g. 1e-12).
        rcond: f64,
    },
    /// Retry the Cholesky factorization with an extra jitter ε·(trace(K)/n) added to the diagonal,
    /// ε = initial, 10·initial, 100·initial, … (`max_tries` attempts), then give up with the error.
    Jitter {
        /// First relative jitter (e.g. 1e-10).
        initial: f64,
        /// Number of escalations.
        max_tries: usize,
    },
}

#[derive(Debug, Clone)]
enum Factor {
    Cholesky(Llt<f64>),
    Pinv { v: DMatrix<f64>, inv: DVector<f64> },
}

/// K_reg = K + λI of a train-train kernel, factorized once; solves K_reg X = B for any B.
///
/// The factorization is a Cholesky decomposition (faer). If K_reg is not positive definite the fit
/// fails with [`Error::NotPositiveDefinite`] unless a [`Fallback`] is chosen. The effective diagonal
/// (λ plus any jitter) is [`KernelSolver::diag_reg`].
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::{KernelSolver, Regularization};
/// let k = DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 1.0, 2.0]);
/// let s = KernelSolver::fit(&k, Regularization::Absolute(1.0))?; // K_reg = [3 1; 1 3]
/// let x = s.solve(&DMatrix::from_row_slice(2, 1, &[4.0, 4.0]))?;
/// assert!((x[0] - 1.0).abs() < 1e-15 && (x[1] - 1.0).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct KernelSolver {
    factor: Factor,
    diag_reg: f64,
    n: usize,
}

impl KernelSolver {
    /// Factorizes K + λI by Cholesky; fails with [`Error::NotPositiveDefinite`] if it is not positive
    /// definite (no fallback).
    pub fn fit(k: &DMatrix<f64>, reg: Regularization) -> Result<Self> {
        Self::fit_with(k, reg, Fallback::Error)
    }

    /// Factorizes K + λI, with the given [`Fallback`] if it is not positive definite.
    pub fn fit_with(k: &DMatrix<f64>, reg: Regularization, fallback: Fallback) -> Result<Self> {
        Self::fit_named(k, reg, fallback, "kernel matrix")
    }

    pub(crate) fn fit_named(
        k: &DMatrix<f64>,
        reg: Regularization,
        fallback: Fallback,
        what: &str,
    ) -> Result<Self> {
        check_square(k, what)?;
        check_finite(k, what)?;
        let n = k.nrows();
        // K + λI and its factor.
        ensure_memory(
            &format!("factorizing the {n}×{n} {what}"),
            2 * (n as u128).pow(2),
        )?;
        let lambda = reg.absolute(k)?;
        let k_reg = add_diag(k, lambda);
        match cholesky(&k_reg) {
            Some(llt) => {
                return Ok(KernelSolver {
                    factor: Factor::Cholesky(llt),
                    diag_reg: lambda,
                    n,
                });
            }
            None => match fallback {
                Fallback::Error => {}
                Fallback::PseudoInverse { rcond } => {
                    check_finite_param("rcond", rcond)?;
                    if rcond < 0.0 {
                        return Err(invalid("rcond", rcond, "must be ≥ 0"));
                    }
                    let (vals, v) = sym_eigen(&k_reg, what)?;
                    let max = vals.iter().fold(0.0f64, |m, l| m.max(l.abs()));
                    let inv = vals.map(|l| if l.abs() > rcond * max { 1.0 / l } else { 0.0 });
                    return Ok(KernelSolver {
                        factor: Factor::Pinv { v, inv },
                        diag_reg: lambda,
                        n,
                    });
                }
                Fallback::Jitter { initial, max_tries } => {
                    check_finite_param("initial", initial)?;
                    if initial <= 0.0 {
                        return Err(invalid("initial", initial, "must be > 0"));
                    }
                    let scale = (k.trace() / n.max(1) as f64).abs().max(f64::MIN_POSITIVE);
                    let mut eps = initial;
                    for _ in 0..max_tries {
                        let total = lambda + eps * scale;
                        if let Some(llt) = cholesky(&add_diag(k, total)) {
                            return Ok(KernelSolver {
                                factor: Factor::Cholesky(llt),
                                diag_reg: total,
                                n,
                            });
                        }
                        eps *= 10.0;
                    }
                }
            },
        }
        let (vals, _) = sym_eigen(&k_reg, what)?;
        Err(Error::NotPositiveDefinite {
            what: what.to_string(),
            min_eigenvalue: vals.iter().copied().fold(f64::INFINITY, f64::min),
            diag_reg: lambda,
        })
    }

    /// Number of training points n.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The absolute diagonal actually added to K (λ, plus the jitter if [`Fallback::Jitter`] was used).
    pub fn diag_reg(&self) -> f64 {
        self.diag_reg
    }

    /// Whether the pseudo-inverse fallback is in use (otherwise: Cholesky).
    pub fn is_pseudo_inverse(&self) -> bool {
        matches!(self.factor, Factor::Pinv { .. })
    }

    /// X = K_reg⁻¹ B for B of shape n × m (the pseudo-inverse with [`Fallback::PseudoInverse`]).
    pub fn solve(&self, b: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        check_rows(b, self.n, "right-hand side")?;
        check_finite(b, "right-hand side")?;
        Ok(self.solve_unchecked(b))
    }

    pub(crate) fn solve_unchecked(&self, b: &DMatrix<f64>) -> DMatrix<f64> {
        match &self.factor {
            Factor::Cholesky(llt) => {
                let mut x = b.clone();
                let (r, c) = x.shape();
                llt.solve_in_place(MatMut::from_column_major_slice_mut(x.as_mut_slice(), r, c));
                x
            }
            Factor::Pinv { v, inv } => {
                let mut w = tr_mul(v, b);
                for (mut row, d) in w.row_iter_mut().zip(inv.iter()) {
                    row *= *d;
                }
                v * w
            }
        }
    }

    /// log |det K_reg| (for the pseudo-inverse: Σ log|λᵢ| over the kept eigenvalues, the
    /// pseudo-determinant).
    pub fn log_det(&self) -> f64 {
        match &self.factor {
            Factor::Cholesky(llt) => {
                let l = llt.L();
                2.0 * (0..self.n).map(|i| l[(i, i)].ln()).sum::<f64>()
            }
            Factor::Pinv { inv, .. } => inv
                .iter()
                .filter(|d| **d != 0.0)
                .map(|d| -d.abs().ln())
                .sum(),
        }
    }
}

/// a·b through faer (parallel; nalgebra's product runs on one core), for the O(n²m) and O(n³)
/// products of predictions.
pub(crate) fn mul(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    let mut out = DMatrix::zeros(a.nrows(), b.ncols());
    gemm(&mut out, a, false, b, false, 1.0, Par::Global);
    out
}

/// aᵀ·b through faer, without forming aᵀ.
pub(crate) fn tr_mul(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    let mut out = DMatrix::zeros(a.ncols(), b.ncols());
    gemm(&mut out, a, true, b, false, 1.0, Par::Global);
    out
}

/// The Cholesky factor of K, or `None` if K is not positive definite to working precision: a pivot
/// Lᵢᵢ² at or below the factorization's backward error n·ε·max Kᵢᵢ carries no information (exactly
/// duplicated points give such a pivot from rounding alone), and solving with it would turn rounding
/// into arbitrarily large coefficients.
fn cholesky(k: &DMatrix<f64>) -> Option<Llt<f64>> {
    let llt = view(k).llt(Side::Lower).ok()?;
    let n = k.nrows();
    let max_diag = (0..n).map(|i| k[(i, i)]).fold(0.0f64, f64::max);
    let floor = n as f64 * f64::EPSILON * max_diag;
    let l = llt.L();
    if (0..n).any(|i| l[(i, i)] * l[(i, i)] <= floor) {
        return None;
    }
    Some(llt)
}

/// Symmetric eigendecomposition (ascending eigenvalues, eigenvectors as columns), via faer.
pub(crate) fn sym_eigen(k: &DMatrix<f64>, what: &str) -> Result<(DVector<f64>, DMatrix<f64>)> {
    let e = view(k)
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| Error::NoConvergence(format!("eigendecomposition of {what}")))?;
    let s = e.S().column_vector();
    let u = e.U();
    let n = k.nrows();
    Ok((
        DVector::from_fn(n, |i, _| s[i]),
        DMatrix::from_fn(n, n, |i, j| u[(i, j)]),
    ))
}

/// Fails with [`Error::TooLarge`] (stating the bytes) if `elements` f64 values cannot be allocated
/// now, instead of letting a later allocation abort the process. The reservation is released at
/// once: it tests that the allocator can provide the working memory of the step that follows.
pub(crate) fn ensure_memory(what: &str, elements: u128) -> Result<()> {
    let bytes = elements.saturating_mul(8);
    let too_large = || Error::TooLarge {
        what: what.to_string(),
        bytes,
    };
    let len = usize::try_from(elements)
        .ok()
        .filter(|_| bytes <= isize::MAX as u128)
        .ok_or_else(too_large)?;
    let mut probe: Vec<f64> = Vec::new();
    probe.try_reserve_exact(len).map_err(|_| too_large())
}

pub(crate) fn add_diag(k: &DMatrix<f64>, lambda: f64) -> DMatrix<f64> {
    let mut k = k.clone();
    for i in 0..k.nrows() {
        k[(i, i)] += lambda;
    }
    k
}

pub(crate) fn shape_error(what: &str, expected: String, found: (usize, usize)) -> Error {
    Error::ShapeMismatch {
        what: what.to_string(),
        expected,
        found: format!("{} × {}", found.0, found.1),
    }
}

pub(crate) fn check_square(k: &DMatrix<f64>, what: &str) -> Result<()> {
    if k.nrows() == k.ncols() && k.nrows() > 0 {
        Ok(())
    } else {
        Err(shape_error(
            what,
            "a non-empty square matrix".into(),
            k.shape(),
        ))
    }
}

pub(crate) fn check_shape(m: &DMatrix<f64>, shape: (usize, usize), what: &str) -> Result<()> {
    if m.shape() == shape {
        Ok(())
    } else {
        Err(shape_error(
            what,
            format!("{} × {}", shape.0, shape.1),
            m.shape(),
        ))
    }
}

pub(crate) fn check_rows(m: &DMatrix<f64>, rows: usize, what: &str) -> Result<()> {
    if m.nrows() == rows {
        Ok(())
    } else {
        Err(shape_error(what, format!("{rows} rows"), m.shape()))
    }
}

pub(crate) fn check_finite(m: &DMatrix<f64>, what: &str) -> Result<()> {
    crate::error::check_finite_matrix(m, what)
}

/// (C + Cᵀ)/2, so that returned covariances are exactly symmetric.
pub(crate) fn symmetrize(c: &mut DMatrix<f64>) {
    let n = c.nrows();
    for j in 0..n {
        for i in 0..j {
            let v = 0.5 * (c[(i, j)] + c[(j, i)]);
            c[(i, j)] = v;
            c[(j, i)] = v;
        }
    }
}

#[cfg(test)]
mod memory_tests {
    use super::*;

    #[test]
    fn impossible_working_memory_is_a_typed_error() {
        let e = ensure_memory("factorizing a huge kernel", 1u128 << 70).unwrap_err();
        assert!(matches!(e, Error::TooLarge { bytes, .. } if bytes == 8u128 << 70));
        assert!(e.to_string().contains("bytes"), "{e}");
        let e = ensure_memory("eigendecomposition", 1u128 << 59).unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        ensure_memory("a small matrix", 1000).unwrap();
    }
}
