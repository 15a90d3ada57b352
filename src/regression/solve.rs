//! Regularised kernel systems K_reg X = B: the regularization convention, what to do when K_reg is
//! not positive definite, and a fitted solver that factorizes K_reg once (Cholesky, or an opt-in
//! eigendecomposition fallback) and solves any number of right-hand sides.

use crate::error::invalid;
use crate::linalg::{
    add_diag, check_finite_matrix, check_finite_param, check_rows, check_square, cholesky_in_place,
    ensure_memory, sym_eigen, tr_mul, view, view_mut,
};
use crate::{Error, Result};
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use nalgebra::{DMatrix, DVector};

/// The diagonal regularizer added to a train-train kernel: K_reg = K + λI.
///
/// * `Absolute(r)`: λ = r (neural-tangents `diag_reg_absolute_scale=True`).
/// * `Relative(r)`: λ = r · trace(K)/n, with n = K.nrows() (the neural-tangents default).
///
/// r must be finite and ≥ 0; the parameters that hold a regularization check it before any work.
/// For an ensemble with both kernels, λ is computed separately for the NNGP and the NTK.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::Regularization;
/// let k = DMatrix::from_row_slice(2, 2, &[2.0, 0.5, 0.5, 4.0]);
/// assert_eq!(Regularization::Relative(0.1).absolute(&k)?, 0.1 * 3.0);
/// assert_eq!(Regularization::Absolute(0.1).absolute(&k)?, 0.1);
/// assert_eq!(Regularization::default(), Regularization::Relative(0.0));
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
    /// No regularization (ridgeless), written as neural-tangents' default: `Relative(0.0)`. This is
    /// the crate's one default: every parameter type that holds a regularization
    /// ([`SolverParams`], [`GpParams`](super::GpParams), [`DynamicsParams`](super::DynamicsParams),
    /// [`MapParams`](crate::jacobian::MapParams)) starts from it.
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
        self.check()?;
        Ok(self.lambda(k))
    }

    /// Rejects a negative or non-finite value.
    pub(crate) fn check(&self) -> Result<()> {
        let (Regularization::Absolute(r) | Regularization::Relative(r)) = *self;
        check_finite_param("diag_reg", r)?;
        if r < 0.0 {
            return Err(invalid("diag_reg", r, "must be ≥ 0"));
        }
        Ok(())
    }

    /// λ for `k`, for a regularization that passed [`Regularization::check`].
    pub(crate) fn lambda(&self, k: &DMatrix<f64>) -> f64 {
        match *self {
            Regularization::Absolute(r) => r,
            Regularization::Relative(r) => {
                let n = k.nrows().max(1) as f64;
                r * k.trace() / n
            }
        }
    }
}

/// What a fit does when K_reg is not positive definite.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::{Fallback, KernelSolver};
/// // Rank one: [1 1; 1 1] is singular.
/// let k = DMatrix::from_element(2, 2, 1.0);
/// assert!(KernelSolver::params().fit(&k).is_err());
/// let s = KernelSolver::params()
///     .fallback(Fallback::PseudoInverse { rcond: 1e-12 })
///     .fit(&k)?;
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
        /// Relative cut-off, finite and ≥ 0 (e.g. 1e-12).
        rcond: f64,
    },
    /// Retry the Cholesky factorization with an extra jitter ε·(trace(K)/n) added to the diagonal,
    /// ε = initial, 10·initial, 100·initial, … (`max_tries` attempts), then give up with the error.
    Jitter {
        /// First relative jitter, finite and > 0 (e.g. 1e-10).
        initial: f64,
        /// Number of attempts, ≥ 1.
        max_tries: usize,
    },
}

impl Fallback {
    /// Rejects cut-offs and jitters outside their domains, whether or not the fallback is needed.
    pub(crate) fn check(&self) -> Result<()> {
        match *self {
            Fallback::Error => Ok(()),
            Fallback::PseudoInverse { rcond } => {
                check_finite_param("rcond", rcond)?;
                if rcond < 0.0 {
                    return Err(invalid("rcond", rcond, "must be ≥ 0"));
                }
                Ok(())
            }
            Fallback::Jitter { initial, max_tries } => {
                check_finite_param("initial", initial)?;
                if initial <= 0.0 {
                    return Err(invalid("initial", initial, "must be > 0"));
                }
                if max_tries == 0 {
                    return Err(invalid(
                        "max_tries",
                        max_tries,
                        "must be ≥ 1 (without attempts, use Fallback::Error)",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// The parameters of a [`KernelSolver`]: the [`Regularization`] (default: the crate's one default,
/// none) and the [`Fallback`] (default: none, an error). Checked once, by [`SolverParams::check`],
/// which [`SolverParams::fit`] calls before any work.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::{Fallback, KernelSolver, Regularization};
/// let params = KernelSolver::params().fallback(Fallback::Jitter { initial: 0.0, max_tries: 3 });
/// assert!(matches!(params.check(), Err(ntk::Error::InvalidParameter { .. })));
/// let k = DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 1.0, 2.0]);
/// let s = KernelSolver::params().regularization(Regularization::Absolute(1.0)).fit(&k)?;
/// assert_eq!(s.diag_reg(), 1.0);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[must_use = "call `.fit(k)` to factorize a kernel"]
pub struct SolverParams {
    regularization: Regularization,
    fallback: Fallback,
}

impl SolverParams {
    /// The ridge λ added to the kernel's diagonal (default [`Regularization::default`]: none).
    pub fn regularization(mut self, regularization: Regularization) -> Self {
        self.regularization = regularization;
        self
    }

    /// What to do when K + λI is not positive definite (default [`Fallback::Error`]).
    pub fn fallback(mut self, fallback: Fallback) -> Self {
        self.fallback = fallback;
        self
    }

    /// Fails with [`Error::InvalidParameter`] if the regularization or the fallback's parameters are
    /// outside their domains.
    pub fn check(&self) -> Result<()> {
        self.regularization.check()?;
        self.fallback.check()
    }

    /// Checks the parameters, then factorizes K + λI (n × n).
    pub fn fit(&self, k: &DMatrix<f64>) -> Result<KernelSolver> {
        self.check()?;
        self.fit_named(k, "kernel matrix")
    }

    /// Factorizes K + λI, naming the matrix `what` in errors; the parameters must be checked.
    pub(crate) fn fit_named(&self, k: &DMatrix<f64>, what: &str) -> Result<KernelSolver> {
        check_square(k, what)?;
        check_finite_matrix(k, what)?;
        let n = k.nrows();
        // K + λI and its factor.
        ensure_memory(
            &format!("factorizing the {n}×{n} {what}"),
            2 * (n as u128).pow(2),
        )?;
        let lambda = self.regularization.lambda(k);
        if let Some(l) = cholesky(add_diag(k, lambda)?) {
            return Ok(KernelSolver {
                factor: Factor::Cholesky(l),
                diag_reg: lambda,
                n,
            });
        }
        match self.fallback {
            Fallback::Error => {}
            Fallback::PseudoInverse { rcond } => {
                let (vals, v) = sym_eigen(&add_diag(k, lambda)?, what)?;
                let max = vals.iter().fold(0.0f64, |m, l| m.max(l.abs()));
                let inv = vals.map(|l| if l.abs() > rcond * max { 1.0 / l } else { 0.0 });
                return Ok(KernelSolver {
                    factor: Factor::Pinv { v, inv },
                    diag_reg: lambda,
                    n,
                });
            }
            Fallback::Jitter { initial, max_tries } => {
                let scale = (k.trace() / n.max(1) as f64).abs().max(f64::MIN_POSITIVE);
                let mut eps = initial;
                for _ in 0..max_tries {
                    let total = lambda + eps * scale;
                    if let Some(l) = cholesky(add_diag(k, total)?) {
                        return Ok(KernelSolver {
                            factor: Factor::Cholesky(l),
                            diag_reg: total,
                            n,
                        });
                    }
                    eps *= 10.0;
                }
            }
        }
        let (vals, _) = sym_eigen(&add_diag(k, lambda)?, what)?;
        Err(Error::NotPositiveDefinite {
            what: what.to_string(),
            min_eigenvalue: vals.iter().copied().fold(f64::INFINITY, f64::min),
            diag_reg: lambda,
        })
    }
}

#[derive(Debug, Clone)]
enum Factor {
    /// K_reg = LLᵀ with L lower triangular (its strict upper triangle zero).
    Cholesky(DMatrix<f64>),
    Pinv {
        v: DMatrix<f64>,
        inv: DVector<f64>,
    },
}

/// K_reg = K + λI of a train-train kernel, factorized once; solves K_reg X = B for any B.
///
/// Built by [`KernelSolver::params`]`()…fit(k)`. The factorization is a Cholesky decomposition
/// (faer). If K_reg is not positive definite the fit fails with [`Error::NotPositiveDefinite`]
/// unless a [`Fallback`] is chosen. The effective diagonal (λ plus any jitter) is
/// [`KernelSolver::diag_reg`].
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::{KernelSolver, Regularization};
/// let k = DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 1.0, 2.0]);
/// let s = KernelSolver::params().regularization(Regularization::Absolute(1.0)).fit(&k)?; // [3 1; 1 3]
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
    /// The parameters of a fit, at their defaults (no regularization, no fallback).
    pub fn params() -> SolverParams {
        SolverParams::default()
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
        check_finite_matrix(b, "right-hand side")?;
        Ok(self.solve_unchecked(b.clone()))
    }

    /// K_reg⁻¹ B, in B's storage where the factor is Cholesky.
    pub(crate) fn solve_unchecked(&self, b: DMatrix<f64>) -> DMatrix<f64> {
        match &self.factor {
            Factor::Cholesky(l) => {
                let mut x = b;
                let mut xm = view_mut(&mut x);
                let par = faer::get_global_parallelism();
                solve_lower_triangular_in_place(view(l), xm.as_mut(), par);
                solve_upper_triangular_in_place(view(l).transpose(), xm, par);
                x
            }
            Factor::Pinv { v, inv } => {
                let mut w = tr_mul(v, &b);
                for (mut row, d) in w.row_iter_mut().zip(inv.iter()) {
                    row *= *d;
                }
                v * w
            }
        }
    }

    /// L⁻¹B for the Cholesky factor K_reg = LLᵀ (one triangular solve, half the work of a full
    /// solve) in B's storage, or `None` with the pseudo-inverse fallback. With V = L⁻¹K_dt,
    /// K_td K_reg⁻¹ K_dt = VᵀV.
    pub(crate) fn half_solve(&self, b: DMatrix<f64>) -> Option<DMatrix<f64>> {
        match &self.factor {
            Factor::Cholesky(l) => {
                let mut x = b;
                solve_lower_triangular_in_place(
                    view(l),
                    view_mut(&mut x),
                    faer::get_global_parallelism(),
                );
                Some(x)
            }
            Factor::Pinv { .. } => None,
        }
    }

    /// LᵀB for the Cholesky factor K_reg = LLᵀ (a triangular product, half the work of K_reg·B), or
    /// `None` with the pseudo-inverse fallback. Then Bᵀ(K_reg)B = (LᵀB)ᵀ(LᵀB).
    pub(crate) fn factor_t_mul(&self, b: &DMatrix<f64>) -> Option<DMatrix<f64>> {
        use faer::linalg::matmul::triangular::{BlockStructure, matmul};
        match &self.factor {
            Factor::Cholesky(l) => {
                let mut out = DMatrix::zeros(b.nrows(), b.ncols());
                matmul(
                    view_mut(&mut out),
                    BlockStructure::Rectangular,
                    faer::Accum::Replace,
                    view(l).transpose(),
                    BlockStructure::TriangularUpper,
                    crate::linalg::view(b),
                    BlockStructure::Rectangular,
                    1.0,
                    faer::get_global_parallelism(),
                );
                Some(out)
            }
            Factor::Pinv { .. } => None,
        }
    }

    /// log |det K_reg| (for the pseudo-inverse: Σ log|λᵢ| over the kept eigenvalues, the
    /// pseudo-determinant).
    pub fn log_det(&self) -> f64 {
        match &self.factor {
            Factor::Cholesky(l) => 2.0 * (0..self.n).map(|i| l[(i, i)].ln()).sum::<f64>(),
            Factor::Pinv { inv, .. } => inv
                .iter()
                .filter(|d| **d != 0.0)
                .map(|d| -d.abs().ln())
                .sum(),
        }
    }
}

/// The Cholesky factor L of K (lower triangular, factorized in place in K's storage: no second
/// n × n copy), or `None` if K is not positive definite to working precision: a pivot Lᵢᵢ² at or
/// below the factorization's backward error n·ε·max Kᵢᵢ carries no information (exactly duplicated
/// points give such a pivot from rounding alone), and solving with it would turn rounding into
/// arbitrarily large coefficients.
fn cholesky(mut k: DMatrix<f64>) -> Option<DMatrix<f64>> {
    let n = k.nrows();
    let max_diag = (0..n).map(|i| k[(i, i)]).fold(0.0f64, f64::max);
    if !cholesky_in_place(&mut k) {
        return None;
    }
    let floor = n as f64 * f64::EPSILON * max_diag;
    if (0..n).any(|i| k[(i, i)] * k[(i, i)] <= floor) {
        return None;
    }
    // The factorization leaves workspace in the strict upper triangle: clear it, so that L is a
    // plain matrix.
    for j in 1..n {
        k.view_mut((0, j), (j, 1)).fill(0.0);
    }
    Some(k)
}
