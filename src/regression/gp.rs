//! Exact Bayesian inference with the NNGP (a GP), the infinite-time gradient-descent ensemble with the
//! NTK, and the NTK-GP of He et al. (2020) — neural-tangents' `gp_inference`.

use super::Regularization;
use super::solve::{
    Fallback, KernelSolver, check_finite, check_shape, check_square, ensure_memory, mul,
    symmetrize, tr_mul,
};
use crate::{Kernel, Result};
use nalgebra::DMatrix;

/// Which kernel drives the prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GpKind {
    /// NNGP: Bayesian posterior of the infinitely wide network (or gradient descent on the readout).
    Nngp,
    /// NTK: infinite ensemble of networks trained by gradient descent on the MSE loss.
    Ntk,
    /// NTK-GP (He et al. 2020): the GP with prior covariance Θ; mean as for `Ntk`,
    /// covariance Θ_tt − Θ_td Θ_reg⁻¹ Θ_dt. Only in [`GpInference`].
    NtkGp,
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
/// use ntk::{Activation, Network, Parameterization, TrainKernels};
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
        check_finite(&self.nngp, "NNGP train-train")?;
        check_finite(&self.ntk, "NTK train-train")?;
        Ok(n)
    }
}

/// The kernels between m test points and n training points.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::{Activation, Network, Parameterization, TestKernels};
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
    /// Θ(X_test, X_test), m × m; needed only for [`GpKind::NtkGp`].
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

    /// Validates shapes against n training points; returns m.
    pub(crate) fn validate(&self, n: usize) -> Result<usize> {
        let m = self.nngp_test_train.nrows();
        check_shape(&self.nngp_test_train, (m, n), "NNGP test-train")?;
        check_shape(&self.ntk_test_train, (m, n), "NTK test-train")?;
        check_shape(&self.nngp_test_test, (m, m), "NNGP test-test")?;
        check_finite(&self.nngp_test_train, "NNGP test-train")?;
        check_finite(&self.ntk_test_train, "NTK test-train")?;
        check_finite(&self.nngp_test_test, "NNGP test-test")?;
        if let Some(t) = &self.ntk_test_test {
            check_shape(t, (m, m), "NTK test-test")?;
            check_finite(t, "NTK test-test")?;
        }
        Ok(m)
    }
}

pub(crate) fn check_targets(y: &DMatrix<f64>, n: usize) -> Result<()> {
    check_shape(y, (n, y.ncols()), "y_train (n_train × k)")?;
    if y.ncols() == 0 {
        return Err(super::solve::shape_error(
            "y_train (n_train × k)",
            format!("{n} × k with k ≥ 1"),
            y.shape(),
        ));
    }
    check_finite(y, "y_train")
}

/// The NTK test covariance K_tt + Bᵀ K_dd B − (Bᵀ K_dt + (Bᵀ K_dt)ᵀ) for B = A Θ_dt (n × m).
pub(crate) fn ntk_cov(
    nngp_tt: &DMatrix<f64>,
    b: &DMatrix<f64>,
    nngp_dd: &DMatrix<f64>,
    nngp_td: &DMatrix<f64>,
) -> DMatrix<f64> {
    // Bᵀ Σ_dt = (Σ_td B)ᵀ
    let t2 = mul(nngp_td, b).transpose();
    let mut cov = nngp_tt + tr_mul(b, &mul(nngp_dd, b)) - &t2 - t2.transpose();
    symmetrize(&mut cov);
    cov
}

/// GP inference with the NNGP, the NTK (infinite-time ensemble) and the NTK-GP, factorizing each
/// regularized train-train kernel once (Cholesky) and predicting on any number of test sets.
///
/// With K_reg = K + λI (λ from [`Regularization`], separately for Σ and Θ):
///
/// * NNGP: mean = Σ_td Σ_reg⁻¹ Y, cov = Σ_tt − Σ_td Σ_reg⁻¹ Σ_dt;
/// * NTK: mean = Θ_td Θ_reg⁻¹ Y, cov = Σ_tt + A Σ_dd Aᵀ − (A Σ_dt + (A Σ_dt)ᵀ) with A = Θ_td Θ_reg⁻¹
///   and Σ_dd **not** regularized;
/// * NTK-GP: mean as NTK, cov = Θ_tt − Θ_td Θ_reg⁻¹ Θ_dt.
///
/// This equals neural-tangents' `gp_inference` and `gradient_descent_mse_ensemble(t=None)`.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::{Activation, GpInference, GpKind, Network, Parameterization, Regularization};
/// let net = Network::mlp(2, Activation::Relu).w_std(2f64.sqrt()).b_std(0.1).build()?;
/// let x_train = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, -1.0, 0.5]);
/// let y_train = DMatrix::from_row_slice(3, 1, &[1.0, -1.0, 0.5]);
/// let gp = GpInference::from_kernel(&net, &x_train, &y_train, Regularization::Relative(0.0))?;
/// // Ridgeless: the posterior mean interpolates the training targets.
/// let fit = gp.predict_points(&net, &x_train, GpKind::Nngp)?;
/// assert!((fit.mean - &y_train).amax() < 1e-10);
/// assert!(fit.covariance.amax() < 1e-10);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct GpInference {
    nngp: KernelSolver,
    ntk: KernelSolver,
    nngp_dd: DMatrix<f64>,
    y: DMatrix<f64>,
    x_train: Option<DMatrix<f64>>,
}

impl GpInference {
    /// Factorizes Σ_dd + λ_Σ I and Θ_dd + λ_Θ I; `y_train` is n × k. Fails with
    /// [`Error::NotPositiveDefinite`](crate::Error::NotPositiveDefinite) if one of them is not positive definite.
    pub fn fit(train: &TrainKernels, y_train: &DMatrix<f64>, reg: Regularization) -> Result<Self> {
        Self::fit_with(train, y_train, reg, Fallback::Error)
    }

    /// As [`GpInference::fit`], with a [`Fallback`] for matrices that are not positive definite.
    pub fn fit_with(
        train: &TrainKernels,
        y_train: &DMatrix<f64>,
        reg: Regularization,
        fallback: Fallback,
    ) -> Result<Self> {
        let n = train.validate()?;
        check_targets(y_train, n)?;
        Ok(GpInference {
            nngp: KernelSolver::fit_named(&train.nngp, reg, fallback, "NNGP train-train")?,
            ntk: KernelSolver::fit_named(&train.ntk, reg, fallback, "NTK train-train")?,
            nngp_dd: train.nngp.clone(),
            y: y_train.clone(),
            x_train: None,
        })
    }

    /// Computes the train kernels of `kernel` on `x_train` and fits; remembers `x_train` for
    /// [`GpInference::predict_points`].
    pub fn from_kernel(
        kernel: &impl Kernel,
        x_train: &DMatrix<f64>,
        y_train: &DMatrix<f64>,
        reg: Regularization,
    ) -> Result<Self> {
        let mut gp = Self::fit(&TrainKernels::compute(kernel, x_train)?, y_train, reg)?;
        gp.x_train = Some(x_train.clone());
        Ok(gp)
    }

    /// The fitted solver of a kernel (`Nngp`, or `Ntk` / `NtkGp` for the NTK).
    pub fn solver(&self, kind: GpKind) -> &KernelSolver {
        match kind {
            GpKind::Nngp => &self.nngp,
            GpKind::Ntk | GpKind::NtkGp => &self.ntk,
        }
    }

    /// The absolute diagonal regularization used for a kernel (neural-tangents'
    /// effective `diag_reg`).
    pub fn diag_reg(&self, kind: GpKind) -> f64 {
        self.solver(kind).diag_reg()
    }

    /// Posterior mean only, K_td K_reg⁻¹ Y (m × k), from the test-train matrix of the chosen kernel
    /// (m × n).
    pub fn mean(&self, kind: GpKind, k_test_train: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let s = self.solver(kind);
        check_shape(
            k_test_train,
            (k_test_train.nrows(), s.n()),
            "test-train kernel",
        )?;
        check_finite(k_test_train, "test-train kernel")?;
        Ok(k_test_train * s.solve_unchecked(&self.y))
    }

    /// Mean and covariance on a test set.
    pub fn predict(&self, kind: GpKind, test: &TestKernels) -> Result<Gaussian> {
        test.validate(self.nngp.n())?;
        let (n, m) = (self.nngp.n() as u128, test.nngp_test_test.nrows() as u128);
        // The solved n × m block, a transpose and the products of the covariance.
        ensure_memory(
            &format!("predicting {m} test points from {n} training points"),
            4 * n * m + 3 * m * m,
        )?;
        match kind {
            GpKind::Nngp => {
                let s = self.nngp.solve_unchecked(&test.nngp_test_train.transpose());
                let mean = tr_mul(&s, &self.y);
                let mut covariance = &test.nngp_test_test - mul(&test.nngp_test_train, &s);
                symmetrize(&mut covariance);
                Ok(Gaussian { mean, covariance })
            }
            GpKind::Ntk | GpKind::NtkGp => {
                let b = self.ntk.solve_unchecked(&test.ntk_test_train.transpose());
                let mean = tr_mul(&b, &self.y);
                let covariance = if kind == GpKind::Ntk {
                    ntk_cov(
                        &test.nngp_test_test,
                        &b,
                        &self.nngp_dd,
                        &test.nngp_test_train,
                    )
                } else {
                    let tt = test.ntk_test_test.as_ref().ok_or_else(|| {
                        crate::error::invalid(
                            "ntk_test_test",
                            "None",
                            "GpKind::NtkGp needs the test-test NTK",
                        )
                    })?;
                    let mut c = tt - mul(&test.ntk_test_train, &b);
                    symmetrize(&mut c);
                    c
                };
                Ok(Gaussian { mean, covariance })
            }
        }
    }

    /// [`GpInference::predict`] on test points (rows of `x_test`), computing the kernels with `kernel`.
    /// Needs a model built by [`GpInference::from_kernel`] (which stored the training points).
    pub fn predict_points(
        &self,
        kernel: &impl Kernel,
        x_test: &DMatrix<f64>,
        kind: GpKind,
    ) -> Result<Gaussian> {
        let x_train = self.x_train.as_ref().ok_or_else(|| {
            crate::error::invalid(
                "x_train",
                "None",
                "predict_points needs a model built by GpInference::from_kernel",
            )
        })?;
        self.predict(kind, &TestKernels::compute(kernel, x_test, x_train)?)
    }

    /// GP log marginal likelihood of the training targets under the prior N(0, K_reg) of the chosen
    /// kernel (`Nngp`, or the NTK for `Ntk`/`NtkGp`), summed over the k output columns:
    /// Σ_c [−½ y_cᵀ K_reg⁻¹ y_c − ½ log det K_reg − (n/2) log 2π].
    ///
    /// ```
    /// use nalgebra::DMatrix;
    /// use ntk::{GpInference, GpKind, Regularization, TrainKernels};
    /// let k = DMatrix::from_row_slice(1, 1, &[4.0]);
    /// let train = TrainKernels { nngp: k.clone(), ntk: k };
    /// let gp = GpInference::fit(&train, &DMatrix::from_element(1, 1, 2.0), Regularization::Absolute(0.0))?;
    /// // N(2; 0, 4): −½·1 − ½ ln 4 − ½ ln 2π.
    /// let want = -0.5 - 0.5 * 4f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
    /// assert!((gp.log_marginal_likelihood(GpKind::Nngp) - want).abs() < 1e-14);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn log_marginal_likelihood(&self, kind: GpKind) -> f64 {
        let s = self.solver(kind);
        let alpha = s.solve_unchecked(&self.y);
        let k = self.y.ncols() as f64;
        let n = s.n() as f64;
        -0.5 * self.y.dot(&alpha)
            - 0.5 * k * s.log_det()
            - 0.5 * k * n * (2.0 * std::f64::consts::PI).ln()
    }
}
