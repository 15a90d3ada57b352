//! Training dynamics of an infinite ensemble of infinitely wide networks trained by full-batch gradient
//! flow on the MSE loss — neural-tangents' `gradient_descent_mse_ensemble` — and `max_learning_rate`.

use super::Regularization;
use super::gp::{Gaussian, TestKernels, TrainKernels, check_targets, kernel_name, ntk_cov};
use crate::error::invalid;
use crate::linalg::{
    Par, add_diag, check_finite_matrix, check_finite_param, check_shape, check_square,
    ensure_memory, gemm, mul, scale_rows, scale_rows_in_place, sym_eigen, symmetrize, tr_mul,
};
use crate::{Error, Kernel, KernelKind, Result};
use nalgebra::{DMatrix, DVector};
use std::sync::OnceLock;

/// (1 − e^{−λ⁺τ})/λ, evaluated stably: −expm1(−λτ)/λ for λ > 0, with a series for λτ < 1e-8 and the
/// limit τ at λ = 0 (neural-tangents returns NaN there). For λ < 0 (a direction where K_reg is not
/// positive semi-definite, usually a rounding residue) it is 0, as in neural-tangents (λ⁺ = 0 there:
/// that direction is not trained). At τ = +∞ it is 1/λ for λ > 0 (and +∞ at λ = 0).
///
/// ```
/// use ntk::regression::inv_expm1;
/// assert_eq!(inv_expm1(0.0, 2.0), 2.0);
/// assert!((inv_expm1(1.0, 1.0) - (1.0 - (-1f64).exp())).abs() < 1e-16);
/// assert_eq!(inv_expm1(4.0, f64::INFINITY), 0.25);
/// assert_eq!(inv_expm1(-1.0, 3.0), 0.0);
/// ```
pub fn inv_expm1(lambda: f64, tau: f64) -> f64 {
    if lambda < 0.0 {
        return 0.0;
    }
    if lambda == 0.0 {
        return tau;
    }
    let x = lambda * tau;
    if x < 1e-8 {
        // 1 − x/2 + x²/6: the next term is below 1e-16 relative.
        tau * (1.0 - x / 2.0 + x * x / 6.0)
    } else {
        -(-x).exp_m1() / lambda
    }
}

/// The largest learning rate for which full-batch gradient descent on the loss 1/(2N)‖f − Y‖² of an
/// infinitely wide network converges: 2N/λ_max(Θ_train), with N = n_train·k = `y_train_size`.
///
/// ```
/// use nalgebra::DMatrix;
/// let theta = DMatrix::from_row_slice(2, 2, &[3.0, 1.0, 1.0, 3.0]); // λ_max = 4
/// assert_eq!(ntk::max_learning_rate(&theta, 2)?, 1.0);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn max_learning_rate(ntk_train: &DMatrix<f64>, y_train_size: usize) -> Result<f64> {
    check_square(ntk_train, "NTK train-train")?;
    check_finite_matrix(ntk_train, "NTK train-train")?;
    let (vals, _) = sym_eigen(ntk_train, "NTK train-train")?;
    let max = vals.max();
    if max <= 0.0 {
        return Err(Error::NotPositiveDefinite {
            what: "NTK train-train".into(),
            min_eigenvalue: vals.min(),
            diag_reg: 0.0,
        });
    }
    Ok(2.0 * y_train_size as f64 / max)
}

#[derive(Debug, Clone)]
struct Eigen {
    vals: DVector<f64>,
    vecs: DMatrix<f64>,
    /// Vᵀ Y.
    vty: DMatrix<f64>,
}

/// The parameters of [`EnsembleDynamics`]: the learning rate η (default 1, as neural-tangents) and
/// the [`Regularization`] (default: none). Checked once, before any work, by every fit.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::{EnsembleDynamics, TrainKernels};
/// let k = DMatrix::from_row_slice(2, 2, &[2.0, 0.5, 0.5, 2.0]);
/// let train = TrainKernels { nngp: k.clone(), ntk: k };
/// let y = DMatrix::from_row_slice(2, 1, &[1.0, 0.0]);
/// let bad = EnsembleDynamics::params().learning_rate(-1.0);
/// assert!(matches!(bad.fit(&train, &y), Err(ntk::Error::InvalidParameter { .. })));
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[must_use = "call `.fit(…)` or `.fit_points(…)` to fit the model"]
pub struct DynamicsParams {
    learning_rate: f64,
    regularization: Regularization,
}

impl Default for DynamicsParams {
    fn default() -> Self {
        DynamicsParams {
            learning_rate: 1.0,
            regularization: Regularization::default(),
        }
    }
}

impl DynamicsParams {
    /// The learning rate η of gradient flow, finite and > 0 (default 1): time t is τ = ηt/N.
    pub fn learning_rate(mut self, learning_rate: f64) -> Self {
        self.learning_rate = learning_rate;
        self
    }

    /// The ridge λ added to each train kernel's diagonal (default [`Regularization::default`]:
    /// none), computed separately for Σ_dd and Θ_dd.
    pub fn regularization(mut self, regularization: Regularization) -> Self {
        self.regularization = regularization;
        self
    }

    /// Fails with [`Error::InvalidParameter`] if the learning rate is not finite and > 0 or the
    /// regularization is outside its domain.
    pub fn check(&self) -> Result<()> {
        check_finite_param("learning_rate", self.learning_rate)?;
        if self.learning_rate <= 0.0 {
            return Err(invalid("learning_rate", self.learning_rate, "must be > 0"));
        }
        self.regularization.check()
    }

    /// Checks the parameters and prepares the dynamics of Σ_dd + λ_Σ I and Θ_dd + λ_Θ I; each is
    /// diagonalized once, when a prediction first needs it. `y_train` is n × k.
    pub fn fit(&self, train: &TrainKernels, y_train: &DMatrix<f64>) -> Result<EnsembleDynamics> {
        self.check()?;
        self.fit_checked(train, y_train)
    }

    /// Checks the parameters, computes the train kernels of `kernel` on the rows of `x_train` and
    /// fits; the model remembers `x_train` for [`EnsembleDynamics::predict_points`].
    pub fn fit_points(
        &self,
        kernel: &impl Kernel,
        x_train: &DMatrix<f64>,
        y_train: &DMatrix<f64>,
    ) -> Result<EnsembleDynamics> {
        self.check()?;
        let mut d = self.fit_checked(&TrainKernels::compute(kernel, x_train)?, y_train)?;
        d.x_train = Some(x_train.clone());
        Ok(d)
    }

    fn fit_checked(
        &self,
        train: &TrainKernels,
        y_train: &DMatrix<f64>,
    ) -> Result<EnsembleDynamics> {
        let n = train.validate()?;
        check_targets(y_train, n)?;
        Ok(EnsembleDynamics {
            nngp: OnceLock::new(),
            ntk: OnceLock::new(),
            diag_reg: [
                self.regularization.lambda(&train.nngp),
                self.regularization.lambda(&train.ntk),
            ],
            nngp_dd: train.nngp.clone(),
            ntk_dd: train.ntk.clone(),
            y: y_train.clone(),
            learning_rate: self.learning_rate,
            x_train: None,
        })
    }
}

/// Mean and covariance of the outputs of an infinite ensemble of infinitely wide networks (f₀ ~ GP(0, Σ))
/// trained for time t by gradient flow on 1/(2N)‖f − Y‖², N = n_train·k, with learning rate η.
///
/// Each regularized train kernel K_reg = K + λI is diagonalized once, K_reg = V diag(λᵢ) Vᵀ, and reused
/// for every time and test set. With τ = η t / N, φᵢ(τ) = (1 − e^{−λᵢ⁺τ})/λᵢ ([`inv_expm1`]) and
/// A(τ) = V diag(φ(τ)) Vᵀ:
///
/// * mean on a test set: K_td A(τ) Y (K = Σ for [`KernelKind::Nngp`], Θ for [`KernelKind::Ntk`]);
/// * covariance, NNGP: Σ_tt − Σ_td A(2τ) Σ_dt; NTK: Σ_tt + Θ_td A Σ_dd A Θ_dt − (Θ_td A Σ_dt + transpose),
///   with Σ_dd not regularized;
/// * on the training set: mean V diag(1 − e^{−λ⁺τ}) Vᵀ Y; covariance, NNGP V diag(λ⁺ e^{−2λ⁺τ}) Vᵀ,
///   NTK E Σ_dd E with E = V diag(e^{−λ⁺τ}) Vᵀ.
///
/// t = 0 gives the prior (zero mean, covariance Σ_tt); t = +∞ gives [`GpInference`](super::GpInference)'s
/// result (and requires K_reg positive definite for test predictions). Negative eigenvalues of K_reg are
/// clipped (not trained), as in neural-tangents. Built by [`EnsembleDynamics::params`]`()…fit(train,
/// y)` from kernel matrices or `…fit_points(kernel, x, y)` from points.
///
/// The NTK-GP ([`Posterior::NtkGp`](super::Posterior::NtkGp)) has no training dynamics, and the
/// methods here take a [`KernelKind`], so asking for it does not compile:
///
/// ```compile_fail
/// # use nalgebra::DMatrix;
/// # use ntk::{EnsembleDynamics, Posterior, TrainKernels};
/// # let k = DMatrix::from_row_slice(1, 1, &[1.0]);
/// # let train = TrainKernels { nngp: k.clone(), ntk: k.clone() };
/// let dynamics = EnsembleDynamics::params().fit(&train, &k)?;
/// dynamics.predict_train(Posterior::NtkGp, &[1.0])?;
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::{EnsembleDynamics, KernelKind, TrainKernels};
/// let train = TrainKernels {
///     nngp: DMatrix::from_row_slice(2, 2, &[1.0, 0.5, 0.5, 1.0]),
///     ntk: DMatrix::from_row_slice(2, 2, &[2.0, 0.8, 0.8, 2.0]),
/// };
/// let y = DMatrix::from_row_slice(2, 1, &[1.0, -1.0]);
/// let dynamics = EnsembleDynamics::params().learning_rate(1.0).fit(&train, &y)?;
/// let out = dynamics.predict_train(KernelKind::Ntk, &[0.0, 1.0, f64::INFINITY])?;
/// assert_eq!(out[0].mean.amax(), 0.0); // untrained
/// assert!((&out[2].mean - &y).amax() < 1e-12); // converged to the targets
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct EnsembleDynamics {
    /// Eigendecompositions, computed on first use: an NTK prediction never needs the NNGP's.
    nngp: OnceLock<Result<Eigen>>,
    ntk: OnceLock<Result<Eigen>>,
    /// λ of the NNGP and of the NTK.
    diag_reg: [f64; 2],
    nngp_dd: DMatrix<f64>,
    ntk_dd: DMatrix<f64>,
    y: DMatrix<f64>,
    learning_rate: f64,
    x_train: Option<DMatrix<f64>>,
}

impl EnsembleDynamics {
    /// The parameters of a fit, at their defaults (learning rate 1, no regularization).
    pub fn params() -> DynamicsParams {
        DynamicsParams::default()
    }

    fn eigen(&self, kind: KernelKind) -> Result<&Eigen> {
        let (cell, k) = match kind {
            KernelKind::Nngp => (&self.nngp, &self.nngp_dd),
            KernelKind::Ntk => (&self.ntk, &self.ntk_dd),
        };
        cell.get_or_init(|| {
            let what = format!("{} train-train", kernel_name(kind));
            let n = k.nrows() as u128;
            // K + λI, faer's workspace and eigenvectors, and their nalgebra copy.
            ensure_memory(&format!("eigendecomposing the {n}×{n} {what}"), 3 * n * n)?;
            let (vals, vecs) = sym_eigen(&add_diag(k, self.diag_reg(kind))?, &what)?;
            let vty = tr_mul(&vecs, &self.y);
            Ok(Eigen { vals, vecs, vty })
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    /// The absolute diagonal regularization used for a kernel (neural-tangents' effective
    /// `diag_reg`).
    pub fn diag_reg(&self, kind: KernelKind) -> f64 {
        match kind {
            KernelKind::Nngp => self.diag_reg[0],
            KernelKind::Ntk => self.diag_reg[1],
        }
    }

    /// Eigenvalues of the regularized train kernel (ascending); computed on first use, so this can
    /// fail (e.g. [`Error::TooLarge`]).
    pub fn eigenvalues(&self, kind: KernelKind) -> Result<&DVector<f64>> {
        Ok(&self.eigen(kind)?.vals)
    }

    /// [`Error::NotPositiveDefinite`] for a prediction at t = ∞ whose K_reg is not positive definite.
    fn not_positive_definite(&self, kind: KernelKind, e: &Eigen) -> Error {
        Error::NotPositiveDefinite {
            what: format!("{} train-train", kernel_name(kind)),
            min_eigenvalue: e.vals.min(),
            diag_reg: self.diag_reg(kind),
        }
    }

    /// τ = η t / N for each time, validated (finite or +∞, ≥ 0).
    fn taus(&self, times: &[f64]) -> Result<Vec<f64>> {
        times
            .iter()
            .map(|&t| {
                if t.is_nan() || t < 0.0 {
                    Err(invalid("t", t, "times must be ≥ 0 (+∞ is allowed)"))
                } else {
                    Ok(self.learning_rate * t / self.y.len() as f64)
                }
            })
            .collect()
    }

    /// Mean and covariance on a test set at each time in `times`.
    pub fn predict(
        &self,
        kind: KernelKind,
        test: &TestKernels,
        times: &[f64],
    ) -> Result<Vec<Gaussian>> {
        let e = self.eigen(kind)?;
        test.validate(self.nngp_dd.nrows())?;
        let taus = self.taus(times)?;
        let (n, m) = (
            self.nngp_dd.nrows() as u128,
            test.nngp_test_test.nrows() as u128,
        );
        // Vᵀ K_dt and per time the scaled block, the products of the covariance, and the result.
        ensure_memory(
            &format!("predicting {m} test points at {} times", taus.len()),
            4 * n * m + (taus.len() as u128 + 3) * m * m,
        )?;
        if taus.iter().any(|t| t.is_infinite()) && e.vals.min() <= 0.0 {
            return Err(self.not_positive_definite(kind, e));
        }
        let k_td = test.test_train(kind);
        // W = Vᵀ K_dt (n × m).
        let w = mul(k_td, &e.vecs).transpose();
        let scaled = |tau: f64, m: &DMatrix<f64>| scale_rows(m, &e.vals, |l| inv_expm1(l, tau));
        // The NTK's n × m products per time go to buffers allocated once (g(K)W, B = V·g(K)W and
        // Σ_dd B): fresh 8 MB matrices per time were page faults on every product.
        let (n, m) = w.shape();
        let mut bufs = (kind == KernelKind::Ntk).then(|| {
            (
                DMatrix::zeros(n, m),
                DMatrix::zeros(n, m),
                DMatrix::zeros(n, m),
            )
        });
        let mut out = Vec::with_capacity(taus.len());
        for &tau in &taus {
            let mean = tr_mul(&w, &scaled(tau, &e.vty));
            let covariance = match &mut bufs {
                None => {
                    let mut c = &test.nngp_test_test - tr_mul(&w, &scaled(2.0 * tau, &w));
                    symmetrize(&mut c);
                    c
                }
                Some((gw, b, kb)) => {
                    gw.copy_from(&w);
                    scale_rows_in_place(gw, &e.vals, |l| inv_expm1(l, tau));
                    gemm(b, &e.vecs, false, gw, false, 1.0, Par::Global);
                    gemm(kb, &self.nngp_dd, false, b, false, 1.0, Par::Global);
                    ntk_cov(&test.nngp_test_test, b, kb, &test.nngp_test_train)
                }
            };
            out.push(Gaussian { mean, covariance });
        }
        Ok(out)
    }

    /// Mean and covariance of the outputs on the training points at each time in `times`.
    pub fn predict_train(&self, kind: KernelKind, times: &[f64]) -> Result<Vec<Gaussian>> {
        let e = self.eigen(kind)?;
        let taus = self.taus(times)?;
        let sandwich = |f: &dyn Fn(f64) -> f64, m: Option<&DMatrix<f64>>| {
            let mut out = m.cloned().unwrap_or_else(|| e.vecs.transpose());
            for (mut row, l) in out.row_iter_mut().zip(e.vals.iter()) {
                row *= f(l.max(0.0));
            }
            mul(&e.vecs, &out)
        };
        // e^{−λ⁺τ} with 0·∞ := 0 (λ⁺ = 0 is not trained).
        let decay = |l: f64, tau: f64| if l == 0.0 { 1.0 } else { (-l * tau).exp() };
        Ok(taus
            .iter()
            .map(|&tau| {
                let mean = sandwich(
                    &|l| if l > 0.0 { -(-(l * tau)).exp_m1() } else { 0.0 },
                    Some(&e.vty),
                );
                let mut covariance = match kind {
                    KernelKind::Nngp => sandwich(&|l| l * decay(l, 2.0 * tau), None),
                    KernelKind::Ntk => {
                        let ex = sandwich(&|l| decay(l, tau), None);
                        mul(&mul(&ex, &self.nngp_dd), &ex)
                    }
                };
                symmetrize(&mut covariance);
                Gaussian { mean, covariance }
            })
            .collect())
    }

    /// Outputs of a **single** linearized network with initial outputs `f0_train` (n × k) and
    /// `f0_test` (m × k, with `k_test_train`, the m × n test-train matrix of the same kernel), trained
    /// by gradient flow for each time in `times` (neural-tangents' `gradient_descent_mse`):
    ///
    /// f_train(t) = f0 + V diag(1 − e^{−λ⁺τ}) Vᵀ (Y − f0),
    /// f_test(t) = f0_test + K_td V diag((1 − e^{−λ⁺τ})/λ) Vᵀ (Y − f0) = f0_test + K_td K⁻¹(I − e^{−Kτ})(Y − f0).
    ///
    /// At t = ∞ the training outputs are Y exactly (as in neural-tangents, even with a ridge). With
    /// f0 = 0 this is the ensemble mean of [`EnsembleDynamics::predict`]. Returns (train, test) per
    /// time; test is `None` when no test set is given.
    ///
    /// ```
    /// use nalgebra::DMatrix;
    /// use ntk::{EnsembleDynamics, KernelKind, TrainKernels};
    /// let k = DMatrix::from_row_slice(2, 2, &[2.0, 0.5, 0.5, 1.0]);
    /// let train = TrainKernels { nngp: k.clone(), ntk: k };
    /// let y = DMatrix::from_row_slice(2, 1, &[1.0, -1.0]);
    /// let f0 = DMatrix::from_row_slice(2, 1, &[0.3, 0.2]);
    /// let d = EnsembleDynamics::params().fit(&train, &y)?;
    /// let out = d.linearized(KernelKind::Ntk, &f0, None, &[0.0, f64::INFINITY])?;
    /// assert_eq!(out[0].0, f0); // untrained
    /// assert_eq!(out[1].0, y); // converged to the targets
    /// # Ok::<(), ntk::Error>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn linearized(
        &self,
        kind: KernelKind,
        f0_train: &DMatrix<f64>,
        test: Option<(&DMatrix<f64>, &DMatrix<f64>)>,
        times: &[f64],
    ) -> Result<Vec<(DMatrix<f64>, Option<DMatrix<f64>>)>> {
        let e = self.eigen(kind)?;
        let n = self.nngp_dd.nrows();
        check_shape(f0_train, self.y.shape(), "f0_train")?;
        check_finite_matrix(f0_train, "f0_train")?;
        if let Some((k_td, f0_test)) = test {
            check_shape(k_td, (k_td.nrows(), n), "test-train kernel")?;
            check_shape(f0_test, (k_td.nrows(), self.y.ncols()), "f0_test")?;
            check_finite_matrix(k_td, "test-train kernel")?;
            check_finite_matrix(f0_test, "f0_test")?;
        }
        let taus = self.taus(times)?;
        if test.is_some() && taus.iter().any(|t| t.is_infinite()) && e.vals.min() <= 0.0 {
            return Err(self.not_positive_definite(kind, e));
        }
        // Vᵀ(Y − f0), and K_td V for the test outputs.
        let r = tr_mul(&e.vecs, &(&self.y - f0_train));
        let kv = test.map(|(k_td, _)| mul(k_td, &e.vecs));
        let scaled = |f: &dyn Fn(f64) -> f64| scale_rows(&r, &e.vals, f);
        Ok(taus
            .iter()
            .map(|&tau| {
                let train = if tau.is_infinite() {
                    self.y.clone()
                } else {
                    let g = scaled(&|l| if l > 0.0 { -(-(l * tau)).exp_m1() } else { 0.0 });
                    f0_train + mul(&e.vecs, &g)
                };
                let test_out = kv
                    .as_ref()
                    .zip(test)
                    .map(|(kv, (_, f0_test))| f0_test + mul(kv, &scaled(&|l| inv_expm1(l, tau))));
                (train, test_out)
            })
            .collect())
    }

    /// [`EnsembleDynamics::predict`] on test points (rows of `x_test`), computing the kernels with
    /// `kernel`. Needs a model fitted by [`DynamicsParams::fit_points`] (which stored the training
    /// points).
    pub fn predict_points(
        &self,
        kind: KernelKind,
        kernel: &impl Kernel,
        x_test: &DMatrix<f64>,
        times: &[f64],
    ) -> Result<Vec<Gaussian>> {
        let x_train = self.x_train.as_ref().ok_or_else(|| {
            invalid(
                "x_train",
                "None",
                "predict_points needs a model fitted by DynamicsParams::fit_points",
            )
        })?;
        self.predict(kind, &TestKernels::compute(kernel, x_test, x_train)?, times)
    }
}

#[cfg(test)]
mod tests {
    use super::inv_expm1;

    #[test]
    fn inv_expm1_is_stable() {
        // Limit at λ = 0 and the series branch against a high-precision value of (1 − e^{−x})/x.
        assert_eq!(inv_expm1(0.0, 3.0), 3.0);
        assert_eq!(inv_expm1(0.0, 0.0), 0.0);
        let (l, t) = (1e-12, 2.0);
        let x: f64 = l * t;
        assert!((inv_expm1(l, t) - t * (1.0 - x / 2.0)).abs() <= 1e-16 * t);
        // Both branches agree around the threshold λτ = 1e-8.
        for x in [0.999e-8f64, 1.001e-8] {
            let series = 1.0 - x / 2.0 + x * x / 6.0;
            let direct = -(-x).exp_m1() / x;
            assert!((inv_expm1(x, 1.0) - series).abs() <= 2e-16);
            assert!((inv_expm1(x, 1.0) - direct).abs() <= 2e-16);
        }
        // Ordinary values and τ = ∞.
        assert!((inv_expm1(2.0, 0.5) - (1.0 - (-1f64).exp()) / 2.0).abs() < 1e-16);
        assert_eq!(inv_expm1(0.5, f64::INFINITY), 2.0);
        assert_eq!(inv_expm1(0.0, f64::INFINITY), f64::INFINITY);
        assert_eq!(inv_expm1(-1e-17, 5.0), 0.0);
        // Large λτ: 1/λ without overflow.
        assert_eq!(inv_expm1(1e3, 1e6), 1e-3);
        // Subnormal λ.
        assert_eq!(inv_expm1(5e-324, 1.0), 1.0);
    }
}
