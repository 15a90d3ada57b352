//! Exact Bayesian inference with the NNGP (a GP), the infinite-time gradient-descent ensemble with the
//! NTK, and the NTK-GP of He et al. (2020) — neural-tangents' `gp_inference`.

use super::solve::{Fallback, KernelSolver, Regularization, SolverParams};
use crate::error::invalid;
use crate::linalg::{
    add_ata, check_finite_matrix, check_shape, check_square, ensure_memory, mul, shape_error,
    sym_tr_mul, symmetrize, tr_mul,
};
use crate::{Kernel, KernelKind, Result};
use nalgebra::DMatrix;

/// Which posterior [`GpInference`] computes: that of one kernel, or the NTK-GP.
///
/// * `Kernel(KernelKind::Nngp)`: the exact Bayesian posterior of the infinitely wide network (also
///   gradient descent on the readout alone, to convergence);
/// * `Kernel(KernelKind::Ntk)`: the infinite ensemble of networks trained by gradient descent on
///   the MSE loss, at t = ∞;
/// * `NtkGp` (He et al. 2020, "Bayesian deep ensembles via the neural tangent kernel"): the GP whose
///   prior covariance is Θ — mean as for the NTK, covariance Θ_tt − Θ_td Θ_reg⁻¹ Θ_dt. It is not a
///   kernel kind and has no training dynamics, so [`EnsembleDynamics`](super::EnsembleDynamics),
///   which takes a [`KernelKind`], cannot be asked for it.
///
/// A [`KernelKind`] converts into the posterior of that kernel, so `gp.predict(KernelKind::Ntk, …)`
/// and `gp.predict(Posterior::NtkGp, …)` both work.
///
/// ```
/// use ntk::{KernelKind, Posterior};
/// assert_eq!(Posterior::from(KernelKind::Ntk), Posterior::Kernel(KernelKind::Ntk));
/// assert_eq!(Posterior::NtkGp.kernel(), KernelKind::Ntk); // the NTK-GP's mean is the NTK's
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Posterior {
    /// The posterior of this kernel.
    Kernel(KernelKind),
    /// The NTK-GP: mean as for the NTK, covariance Θ_tt − Θ_td Θ_reg⁻¹ Θ_dt.
    NtkGp,
}

impl From<KernelKind> for Posterior {
    fn from(kind: KernelKind) -> Self {
        Posterior::Kernel(kind)
    }
}

impl Posterior {
    /// The kernel whose regularized train-train matrix is solved (the NTK for the NTK-GP).
    pub fn kernel(self) -> KernelKind {
        match self {
            Posterior::Kernel(kind) => kind,
            Posterior::NtkGp => KernelKind::Ntk,
        }
    }
}

/// "NNGP" or "NTK", for messages.
pub(crate) fn kernel_name(kind: KernelKind) -> &'static str {
    match kind {
        KernelKind::Nngp => "NNGP",
        KernelKind::Ntk => "NTK",
    }
}

/// A Gaussian over outputs: `mean` (n_points × k outputs) and `covariance` (n_points × n_points,
/// shared by every output column, since kernels are Θ ⊗ I_k).
#[derive(Debug, Clone, PartialEq)]
pub struct Gaussian {
    /// Mean, n_points × k.
    pub mean: DMatrix<f64>,
    /// Covariance, n_points × n_points (exactly symmetric).
    pub covariance: DMatrix<f64>,
}

/// The train-train kernels: NNGP Σ_dd and NTK Θ_dd (n × n each).
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::{Activation, Network, TrainKernels};
/// let net = Network::mlp(1, Activation::Relu).w_std(1.5).b_std(0.1).build()?;
/// let x = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, 1.0]);
/// let train = TrainKernels::compute(&net, &x)?;
/// assert_eq!(train.ntk.shape(), (2, 2));
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TrainKernels {
    /// Σ(X_train, X_train).
    pub nngp: DMatrix<f64>,
    /// Θ(X_train, X_train).
    pub ntk: DMatrix<f64>,
}

impl TrainKernels {
    /// Gram matrices of a [`Kernel`] on the training points (rows of `x_train`).
    pub fn compute(kernel: &impl Kernel, x_train: &DMatrix<f64>) -> Result<Self> {
        let k = kernel.gram(x_train)?;
        Ok(TrainKernels {
            nngp: k.nngp,
            ntk: k.ntk,
        })
    }

    pub(crate) fn validate(&self) -> Result<usize> {
        check_square(&self.nngp, "NNGP train-train")?;
        let n = self.nngp.nrows();
        check_shape(&self.ntk, (n, n), "NTK train-train")?;
        check_finite_matrix(&self.nngp, "NNGP train-train")?;
        check_finite_matrix(&self.ntk, "NTK train-train")?;
        Ok(n)
    }
}

/// The kernels between m test points and n training points.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::{Activation, Network, TestKernels};
/// let erf = Activation::Erf { a: 1.0, b: 1.0, c: 0.0 };
/// let net = Network::mlp(1, erf).w_std(1.5).b_std(0.1).build()?;
/// let x_train = DMatrix::from_row_slice(3, 1, &[-1.0, 0.0, 1.0]);
/// let x_test = DMatrix::from_row_slice(2, 1, &[0.5, 2.0]);
/// let test = TestKernels::compute(&net, &x_test, &x_train)?;
/// assert_eq!(test.nngp_test_train.shape(), (2, 3));
/// assert_eq!(test.ntk_test_test.as_ref().map(|m| m.shape()), Some((2, 2)));
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TestKernels {
    /// Σ(X_test, X_train), m × n.
    pub nngp_test_train: DMatrix<f64>,
    /// Θ(X_test, X_train), m × n.
    pub ntk_test_train: DMatrix<f64>,
    /// Σ(X_test, X_test), m × m (the prior covariance of the outputs).
    pub nngp_test_test: DMatrix<f64>,
    /// Θ(X_test, X_test), m × m; needed only for [`Posterior::NtkGp`].
    pub ntk_test_test: Option<DMatrix<f64>>,
}

impl TestKernels {
    /// All four matrices from a [`Kernel`] (rows of `x_test` and `x_train` are points).
    pub fn compute(
        kernel: &impl Kernel,
        x_test: &DMatrix<f64>,
        x_train: &DMatrix<f64>,
    ) -> Result<Self> {
        let td = kernel.cross(x_test, x_train)?;
        let tt = kernel.gram(x_test)?;
        Ok(TestKernels {
            nngp_test_train: td.nngp,
            ntk_test_train: td.ntk,
            nngp_test_test: tt.nngp,
            ntk_test_test: Some(tt.ntk),
        })
    }

    /// The m × n test-train matrix of one kernel.
    pub(crate) fn test_train(&self, kind: KernelKind) -> &DMatrix<f64> {
        match kind {
            KernelKind::Nngp => &self.nngp_test_train,
            KernelKind::Ntk => &self.ntk_test_train,
        }
    }

    /// Validates shapes against n training points; returns m.
    pub(crate) fn validate(&self, n: usize) -> Result<usize> {
        let m = self.nngp_test_train.nrows();
        check_shape(&self.nngp_test_train, (m, n), "NNGP test-train")?;
        check_shape(&self.ntk_test_train, (m, n), "NTK test-train")?;
        check_shape(&self.nngp_test_test, (m, m), "NNGP test-test")?;
        check_finite_matrix(&self.nngp_test_train, "NNGP test-train")?;
        check_finite_matrix(&self.ntk_test_train, "NTK test-train")?;
        check_finite_matrix(&self.nngp_test_test, "NNGP test-test")?;
        if let Some(t) = &self.ntk_test_test {
            check_shape(t, (m, m), "NTK test-test")?;
            check_finite_matrix(t, "NTK test-test")?;
        }
        Ok(m)
    }
}

pub(crate) fn check_targets(y: &DMatrix<f64>, n: usize) -> Result<()> {
    check_shape(y, (n, y.ncols()), "y_train (n_train × k)")?;
    if y.ncols() == 0 {
        return Err(shape_error(
            "y_train (n_train × k)",
            format!("{n} × k with k ≥ 1"),
            y.shape(),
        ));
    }
    check_finite_matrix(y, "y_train")
}

/// The NTK test covariance K_tt + Bᵀ K_dd B − (Bᵀ K_dt + (Bᵀ K_dt)ᵀ) for B = A Θ_dt (n × m), given
/// `kb` = K_dd B (computed by the caller, into a buffer it may reuse).
pub(crate) fn ntk_cov(
    nngp_tt: &DMatrix<f64>,
    b: &DMatrix<f64>,
    kb: &DMatrix<f64>,
    nngp_td: &DMatrix<f64>,
) -> DMatrix<f64> {
    // Bᵀ Σ_dt = (Σ_td B)ᵀ
    let t2 = mul(nngp_td, b).transpose();
    let mut cov = nngp_tt + sym_tr_mul(b, kb) - &t2 - t2.transpose();
    symmetrize(&mut cov);
    cov
}

/// The parameters of a [`GpInference`] fit: the [`Regularization`] (default: none) and the
/// [`Fallback`] for a train kernel that is not positive definite (default: an error), applied to
/// each of Σ_dd and Θ_dd. Checked once, before any work, by every fit.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::{GpInference, Regularization, TrainKernels};
/// let k = DMatrix::from_row_slice(2, 2, &[2.0, 0.5, 0.5, 2.0]);
/// let train = TrainKernels { nngp: k.clone(), ntk: k };
/// let y = DMatrix::from_row_slice(2, 1, &[1.0, 0.0]);
/// let bad = GpInference::params().regularization(Regularization::Relative(-1.0));
/// assert!(matches!(bad.fit(&train, &y), Err(ntk::Error::InvalidParameter { .. })));
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[must_use = "call `.fit(…)` or `.fit_points(…)` to fit the model"]
pub struct GpParams {
    solver: SolverParams,
}

impl GpParams {
    /// The ridge λ added to each train kernel's diagonal (default [`Regularization::default`]:
    /// none), computed separately for Σ_dd and Θ_dd.
    pub fn regularization(mut self, regularization: Regularization) -> Self {
        self.solver = self.solver.regularization(regularization);
        self
    }

    /// What to do when a regularized train kernel is not positive definite (default
    /// [`Fallback::Error`]).
    pub fn fallback(mut self, fallback: Fallback) -> Self {
        self.solver = self.solver.fallback(fallback);
        self
    }

    /// Fails with [`Error::InvalidParameter`](crate::Error::InvalidParameter) if a parameter is
    /// outside its domain.
    pub fn check(&self) -> Result<()> {
        self.solver.check()
    }

    /// Checks the parameters, then factorizes Σ_dd + λ_Σ I and Θ_dd + λ_Θ I; `y_train` is n × k.
    /// Fails with [`Error::NotPositiveDefinite`](crate::Error::NotPositiveDefinite) if one of them is
    /// not positive definite (and the fallback does not apply).
    pub fn fit(&self, train: &TrainKernels, y_train: &DMatrix<f64>) -> Result<GpInference> {
        self.check()?;
        self.fit_checked(train, y_train)
    }

    /// Checks the parameters, computes the train kernels of `kernel` on the rows of `x_train` and
    /// fits; the model remembers `x_train` for [`GpInference::predict_points`].
    pub fn fit_points(
        &self,
        kernel: &impl Kernel,
        x_train: &DMatrix<f64>,
        y_train: &DMatrix<f64>,
    ) -> Result<GpInference> {
        self.check()?;
        let mut gp = self.fit_checked(&TrainKernels::compute(kernel, x_train)?, y_train)?;
        gp.x_train = Some(x_train.clone());
        Ok(gp)
    }

    fn fit_checked(&self, train: &TrainKernels, y_train: &DMatrix<f64>) -> Result<GpInference> {
        let n = train.validate()?;
        check_targets(y_train, n)?;
        // The two factorizations are independent: run side by side, each keeps the cores busy
        // through the other's serial steps (a Cholesky's panel factorizations).
        let (nngp, ntk) = rayon::join(
            || self.solver.fit_named(&train.nngp, "NNGP train-train"),
            || self.solver.fit_named(&train.ntk, "NTK train-train"),
        );
        let nngp = nngp?;
        Ok(GpInference {
            nngp_dd: nngp.is_pseudo_inverse().then(|| train.nngp.clone()),
            nngp,
            ntk: ntk?,
            y: y_train.clone(),
            x_train: None,
        })
    }
}

/// GP inference with the NNGP, the NTK (infinite-time ensemble) and the NTK-GP, factorizing each
/// regularized train-train kernel once (Cholesky) and predicting on any number of test sets.
///
/// With K_reg = K + λI (λ from [`Regularization`], separately for Σ and Θ):
///
/// * NNGP: mean = Σ_td Σ_reg⁻¹ Y, cov = Σ_tt − Σ_td Σ_reg⁻¹ Σ_dt;
/// * NTK: mean = Θ_td Θ_reg⁻¹ Y, cov = Σ_tt + A Σ_dd Aᵀ − (A Σ_dt + (A Σ_dt)ᵀ) with A = Θ_td Θ_reg⁻¹
///   and Σ_dd **not** regularized;
/// * NTK-GP ([`Posterior::NtkGp`]): mean as NTK, cov = Θ_tt − Θ_td Θ_reg⁻¹ Θ_dt.
///
/// This equals neural-tangents' `gp_inference` and `gradient_descent_mse_ensemble(t=None)`. Built by
/// [`GpInference::params`]`()…fit(train, y)` from kernel matrices or `…fit_points(kernel, x, y)`
/// from points.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::{Activation, GpInference, KernelKind, Network};
/// let net = Network::mlp(2, Activation::Relu).w_std(2f64.sqrt()).b_std(0.1).build()?;
/// let x_train = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, -1.0, 0.5]);
/// let y_train = DMatrix::from_row_slice(3, 1, &[1.0, -1.0, 0.5]);
/// let gp = GpInference::params().fit_points(&net, &x_train, &y_train)?;
/// // Ridgeless (the default): the posterior mean interpolates the training targets.
/// let fit = gp.predict_points(KernelKind::Nngp, &net, &x_train)?;
/// assert!((fit.mean - &y_train).amax() < 1e-10);
/// assert!(fit.covariance.amax() < 1e-10);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct GpInference {
    nngp: KernelSolver,
    ntk: KernelSolver,
    /// Σ_dd, kept only when its solver is the pseudo-inverse: a Cholesky factor gives Σ_dd's
    /// products itself (see `predict`).
    nngp_dd: Option<DMatrix<f64>>,
    y: DMatrix<f64>,
    x_train: Option<DMatrix<f64>>,
}

impl GpInference {
    /// The parameters of a fit, at their defaults (no regularization, no fallback).
    pub fn params() -> GpParams {
        GpParams::default()
    }

    /// The fitted solver of a kernel.
    pub fn solver(&self, kind: KernelKind) -> &KernelSolver {
        match kind {
            KernelKind::Nngp => &self.nngp,
            KernelKind::Ntk => &self.ntk,
        }
    }

    /// The absolute diagonal regularization used for a kernel (neural-tangents' effective
    /// `diag_reg`).
    pub fn diag_reg(&self, kind: KernelKind) -> f64 {
        self.solver(kind).diag_reg()
    }

    /// The coefficients K_reg⁻¹ Y (n × k) of the chosen kernel: the posterior mean is
    /// f(x) = k(x)ᵀ K_reg⁻¹ Y.
    pub fn coefficients(&self, kind: KernelKind) -> DMatrix<f64> {
        self.solver(kind).solve_unchecked(self.y.clone())
    }

    /// The training points, if the model was fitted by [`GpParams::fit_points`].
    pub fn x_train(&self) -> Option<&DMatrix<f64>> {
        self.x_train.as_ref()
    }

    /// Posterior mean only, K_td K_reg⁻¹ Y (m × k), from the test-train matrix of the chosen kernel
    /// (m × n).
    pub fn mean(&self, kind: KernelKind, k_test_train: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let s = self.solver(kind);
        check_shape(
            k_test_train,
            (k_test_train.nrows(), s.n()),
            "test-train kernel",
        )?;
        check_finite_matrix(k_test_train, "test-train kernel")?;
        Ok(k_test_train * s.solve_unchecked(self.y.clone()))
    }

    /// Mean and covariance on a test set, for a [`Posterior`] or a [`KernelKind`].
    pub fn predict(&self, posterior: impl Into<Posterior>, test: &TestKernels) -> Result<Gaussian> {
        let posterior = posterior.into();
        test.validate(self.nngp.n())?;
        let (n, m) = (self.nngp.n() as u128, test.nngp_test_test.nrows() as u128);
        // The solved n × m block, a transpose and the products of the covariance.
        ensure_memory(
            &format!("predicting {m} test points from {n} training points"),
            4 * n * m + 3 * m * m,
        )?;
        match posterior {
            Posterior::Kernel(KernelKind::Nngp) => {
                // With Σ_reg = LLᵀ and V = L⁻¹Σ_dt: mean = Vᵀ(L⁻¹Y), cov = Σ_tt − VᵀV — one
                // triangular solve and one symmetric product, half the work of the general form.
                if let (Some(v), Some(w)) = (
                    self.nngp.half_solve(test.nngp_test_train.transpose()),
                    self.nngp.half_solve(self.y.clone()),
                ) {
                    let mean = tr_mul(&v, &w);
                    let mut covariance = test.nngp_test_test.clone();
                    add_ata(&mut covariance, &v, -1.0);
                    return Ok(Gaussian { mean, covariance });
                }
                let s = self.nngp.solve_unchecked(test.nngp_test_train.transpose());
                let mean = tr_mul(&s, &self.y);
                let mut covariance = &test.nngp_test_test - mul(&test.nngp_test_train, &s);
                symmetrize(&mut covariance);
                Ok(Gaussian { mean, covariance })
            }
            Posterior::Kernel(KernelKind::Ntk) | Posterior::NtkGp => {
                let b = self.ntk.solve_unchecked(test.ntk_test_train.transpose());
                let mean = tr_mul(&b, &self.y);
                let covariance = if posterior == Posterior::NtkGp {
                    let tt = test.ntk_test_test.as_ref().ok_or_else(|| {
                        invalid(
                            "ntk_test_test",
                            "None",
                            "Posterior::NtkGp needs the test-test NTK",
                        )
                    })?;
                    let mut c = tt - mul(&test.ntk_test_train, &b);
                    symmetrize(&mut c);
                    c
                } else if let Some(u) = self.nngp.factor_t_mul(&b) {
                    // With Σ_reg = LLᵀ = Σ_dd + λ_Σ I: BᵀΣ_dd B = (LᵀB)ᵀ(LᵀB) − λ_Σ BᵀB, a
                    // triangular product instead of a full n × n one.
                    let t2 = mul(&test.nngp_test_train, &b);
                    let mut c = &test.nngp_test_test - &t2 - t2.transpose();
                    add_ata(&mut c, &u, 1.0);
                    add_ata(&mut c, &b, -self.nngp.diag_reg());
                    c
                } else if let Some(nngp_dd) = &self.nngp_dd {
                    let kb = mul(nngp_dd, &b);
                    ntk_cov(&test.nngp_test_test, &b, &kb, &test.nngp_test_train)
                } else {
                    unreachable!("Σ_dd is kept whenever its solver has no Cholesky factor")
                };
                Ok(Gaussian { mean, covariance })
            }
        }
    }

    /// [`GpInference::predict`] on test points (rows of `x_test`), computing the kernels with `kernel`.
    /// Needs a model fitted by [`GpParams::fit_points`] (which stored the training points).
    pub fn predict_points(
        &self,
        posterior: impl Into<Posterior>,
        kernel: &impl Kernel,
        x_test: &DMatrix<f64>,
    ) -> Result<Gaussian> {
        let x_train = self.x_train.as_ref().ok_or_else(|| {
            invalid(
                "x_train",
                "None",
                "predict_points needs a model fitted by GpParams::fit_points",
            )
        })?;
        self.predict(posterior, &TestKernels::compute(kernel, x_test, x_train)?)
    }

    /// GP log marginal likelihood of the training targets under the prior N(0, K_reg) of the chosen
    /// kernel (the NTK's is also the NTK-GP's), summed over the k output columns:
    /// Σ_c [−½ y_cᵀ K_reg⁻¹ y_c − ½ log det K_reg − (n/2) log 2π].
    ///
    /// ```
    /// use nalgebra::DMatrix;
    /// use ntk::{GpInference, KernelKind, TrainKernels};
    /// let k = DMatrix::from_row_slice(1, 1, &[4.0]);
    /// let train = TrainKernels { nngp: k.clone(), ntk: k };
    /// let gp = GpInference::params().fit(&train, &DMatrix::from_element(1, 1, 2.0))?;
    /// // N(2; 0, 4): −½·1 − ½ ln 4 − ½ ln 2π.
    /// let want = -0.5 - 0.5 * 4f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
    /// assert!((gp.log_marginal_likelihood(KernelKind::Nngp) - want).abs() < 1e-14);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn log_marginal_likelihood(&self, kind: KernelKind) -> f64 {
        let s = self.solver(kind);
        let alpha = s.solve_unchecked(self.y.clone());
        let k = self.y.ncols() as f64;
        let n = s.n() as f64;
        -0.5 * self.y.dot(&alpha)
            - 0.5 * k * s.log_det()
            - 0.5 * k * n * (2.0 * std::f64::consts::PI).ln()
    }
}
