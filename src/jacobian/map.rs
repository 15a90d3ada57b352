//! The map an infinitely wide network learns by gradient descent on the squared loss, and its
//! input–output Jacobian, in closed form (Jiang & Pehlevan 2020, eqs. 2–3).
//!
//! Trained on inputs xᵢ (rows of X, n × d) with targets yᵢ (rows of Y, n × k), the network's mean
//! function in the NTK limit is
//!
//! f_t(x) = f₀(x) + (Y − f₀(X))ᵀ A_t k(x),  J_t(x) = J₀(x) + (Y − f₀(X))ᵀ A_t ∂k(x)/∂x,
//!
//! with k(x) = (Θ(x₁, x), …, Θ(xₙ, x)), K̃ = Θ(X, X) + λI, A_∞ = K̃⁻¹, and at a finite time
//! A_t = K̃⁻¹(I − e^{−K̃τ}) (computed from one eigendecomposition with the stable (1 − e^{−λτ})/λ),
//! τ = ηt/N and N = n·k, the conventions of [`crate::regression`]. The kernel acts as Θ ⊗ I_k, so one
//! n × n solve serves all k outputs. An autoencoder has Y = X; a sequence encoder maps each xᵢ to
//! x_{(i+1) mod n} (Radhakrishnan 2023, thesis ch. 2).
//!
//! f₀ and J₀ are the network at initialization. By default they are zero — the mean over the
//! infinite ensemble of initializations; the paper keeps J₀ in Lemmas 2–4 and eq. 5 and drops it
//! only in its r → ∞ limit (§4.4) — or any [`InitialFunction`] (for example a finite-width network
//! at initialization) can be supplied; `docs/jacobians.md` says what the default changes.
//! With [`KernelKind::Nngp`] the same formulas give the NNGP posterior mean (Bayesian inference of
//! the last layer alone).

use crate::error::{Error, invalid};
use crate::jacobian::spectrum::Spectrum;
use crate::kernel::{Kernel, KernelMatrices};
use crate::linalg::{add_diag, check_finite_matrix, check_finite_slice, scale_rows, sym_eigen};
use crate::network::Network;
use crate::regression::{Fallback, KernelSolver, Regularization, inv_expm1};
use crate::{KernelKind, Result};
use nalgebra::{DMatrix, DVector};
use std::fmt;
use std::sync::Arc;

/// A network at initialization, f₀: ℝᵈ → ℝᵏ, with its input–output Jacobian J₀ (k × d).
///
/// Implemented by finite-width networks; any function with a Jacobian will do.
pub trait InitialFunction: Send + Sync {
    /// The output dimension k.
    fn output_dim(&self) -> usize;
    /// f₀(x), length k.
    fn value(&self, x: &[f64]) -> Result<DVector<f64>>;
    /// J₀(x) = ∂f₀/∂x, k × d.
    fn jacobian(&self, x: &[f64]) -> Result<DMatrix<f64>>;
}

/// How long gradient descent runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Training {
    /// To convergence (t = ∞): the kernel interpolant (or ridge solution).
    Converged,
    /// Gradient flow for time `t` with learning rate `learning_rate` (τ = ηt/N).
    Time {
        /// Training time t ≥ 0.
        t: f64,
        /// Learning rate η, finite and > 0.
        learning_rate: f64,
    },
}

/// The parameters of a [`TrainedMap`]: the kernel of the dynamics, the ridge, the fallback for a
/// train kernel that is not positive definite, how long to train, and the network at initialization.
/// Checked once, before any work, by every fit.
///
/// Defaults: [`KernelKind::Ntk`] (gradient descent on all layers), [`Regularization::default`]
/// (none), [`Fallback::Error`], [`Training::Converged`], no initial function (f₀ = J₀ = 0).
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::jacobian::{TrainedMap, Training};
/// use ntk::{Activation, KernelKind, Network, Regularization};
/// let net = Network::mlp(1, Activation::SigmoidErf).build()?;
/// let x = DMatrix::from_row_slice(2, 3, &[3.0, 0.0, 0.0, 0.0, 0.0, 3.0]);
/// let map = TrainedMap::params()
///     .kernel(KernelKind::Nngp)
///     .regularization(Regularization::Relative(1e-6))
///     .training(Training::Time { t: 100.0, learning_rate: 1.0 })
///     .autoencoder(&net, &x)?;
/// assert_eq!(map.output_dim(), 3);
/// let negative = TrainedMap::params().training(Training::Time { t: -1.0, learning_rate: 1.0 });
/// assert!(matches!(negative.check(), Err(ntk::Error::InvalidParameter { .. })));
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Clone)]
#[must_use = "call `.fit(…)`, `.autoencoder(…)` or `.sequence(…)` to train the map"]
pub struct MapParams {
    kernel: KernelKind,
    regularization: Regularization,
    fallback: Fallback,
    training: Training,
    initial: Option<Arc<dyn InitialFunction>>,
}

impl Default for MapParams {
    fn default() -> Self {
        MapParams {
            kernel: KernelKind::Ntk,
            regularization: Regularization::default(),
            fallback: Fallback::default(),
            training: Training::Converged,
            initial: None,
        }
    }
}

impl fmt::Debug for MapParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapParams")
            .field("kernel", &self.kernel)
            .field("regularization", &self.regularization)
            .field("fallback", &self.fallback)
            .field("training", &self.training)
            .field("has_initial_function", &self.initial.is_some())
            .finish()
    }
}

impl MapParams {
    /// The kernel of the dynamics: [`KernelKind::Ntk`] (gradient descent on all layers, the
    /// default) or [`KernelKind::Nngp`] (the GP posterior mean).
    pub fn kernel(mut self, kernel: KernelKind) -> Self {
        self.kernel = kernel;
        self
    }

    /// The ridge λ added to the train kernel (default [`Regularization::default`]: none).
    pub fn regularization(mut self, regularization: Regularization) -> Self {
        self.regularization = regularization;
        self
    }

    /// What to do when the regularized train kernel is not positive definite (default
    /// [`Fallback::Error`]); used by [`Training::Converged`], since [`Training::Time`] needs no
    /// factorization.
    pub fn fallback(mut self, fallback: Fallback) -> Self {
        self.fallback = fallback;
        self
    }

    /// How long to train (default [`Training::Converged`]).
    pub fn training(mut self, training: Training) -> Self {
        self.training = training;
        self
    }

    /// The network at initialization f₀, J₀ (default `None`: f₀ = J₀ = 0, the mean over
    /// initializations).
    pub fn initial(mut self, initial: impl Into<Option<Arc<dyn InitialFunction>>>) -> Self {
        self.initial = initial.into();
        self
    }

    /// Fails with [`Error::InvalidParameter`] if the regularization, the fallback or the training
    /// time and learning rate are outside their domains.
    pub fn check(&self) -> Result<()> {
        self.regularization.check()?;
        self.fallback.check()?;
        if let Training::Time { t, learning_rate } = self.training {
            if t.is_nan() || t < 0.0 {
                return Err(invalid("t", t, "training time must be ≥ 0"));
            }
            if !(learning_rate > 0.0 && learning_rate.is_finite()) {
                return Err(invalid(
                    "learning_rate",
                    learning_rate,
                    "must be a positive finite number",
                ));
            }
        }
        Ok(())
    }

    /// Checks the parameters and trains `network` on inputs `x_train` (n × d, rows are points) and
    /// targets `y_train` (n × k).
    pub fn fit(
        &self,
        network: &Network,
        x_train: &DMatrix<f64>,
        y_train: &DMatrix<f64>,
    ) -> Result<TrainedMap> {
        self.check()?;
        check_finite_matrix(x_train, "training inputs")?;
        check_finite_matrix(y_train, "training targets")?;
        let (n, d) = x_train.shape();
        if n == 0 || d == 0 {
            return Err(Error::ShapeMismatch {
                what: "training inputs".into(),
                expected: "at least one point (row) with at least one feature".into(),
                found: format!("{n} × {d}"),
            });
        }
        if y_train.nrows() != n || y_train.ncols() == 0 {
            return Err(Error::ShapeMismatch {
                what: "training targets (one row per training point)".into(),
                expected: format!("{n} rows, at least one column"),
                found: format!("{} × {}", y_train.nrows(), y_train.ncols()),
            });
        }
        let k_out = y_train.ncols();
        let mut residual = y_train.clone();
        if let Some(f0) = &self.initial {
            if f0.output_dim() != k_out {
                return Err(Error::ShapeMismatch {
                    what: "output dimension of the initial function".into(),
                    expected: format!("{k_out} (the number of target columns)"),
                    found: format!("{}", f0.output_dim()),
                });
            }
            for i in 0..n {
                let xi: Vec<f64> = x_train.row(i).iter().copied().collect();
                let v = checked_value(f0.as_ref(), &xi, k_out)?;
                for o in 0..k_out {
                    residual[(i, o)] -= v[o];
                }
            }
        }
        let k = pick(network.gram(x_train)?, self.kernel);
        let (coef, diag_reg) = match self.training {
            Training::Converged => {
                let solver = KernelSolver::params()
                    .regularization(self.regularization)
                    .fallback(self.fallback)
                    .fit_named(&k, "train kernel")?;
                (solver.solve(&residual)?, solver.diag_reg())
            }
            Training::Time { t, learning_rate } => {
                let diag_reg = self.regularization.lambda(&k);
                let (vals, vecs) = sym_eigen(&add_diag(&k, diag_reg)?, "train kernel")?;
                let tau = learning_rate * t / (n * k_out) as f64;
                let proj = vecs.tr_mul(&residual);
                (
                    &vecs * scale_rows(&proj, &vals, |l| inv_expm1(l, tau)),
                    diag_reg,
                )
            }
        };
        Ok(TrainedMap {
            network: network.clone(),
            kernel: self.kernel,
            x_train: x_train.clone(),
            coef,
            init: self.initial.clone(),
            diag_reg,
        })
    }

    /// An autoencoder: trained to map every row of `x_train` to itself (Y = X).
    pub fn autoencoder(&self, network: &Network, x_train: &DMatrix<f64>) -> Result<TrainedMap> {
        self.fit(network, x_train, x_train)
    }

    /// A sequence encoder: trained to map row i of `x_train` to row (i + 1) mod n, so that
    /// iterating the map walks the sequence (a limit cycle when the cycle is stable).
    pub fn sequence(&self, network: &Network, x_train: &DMatrix<f64>) -> Result<TrainedMap> {
        let n = x_train.nrows();
        let y = DMatrix::from_fn(n, x_train.ncols(), |i, j| x_train[((i + 1) % n.max(1), j)]);
        self.fit(network, x_train, &y)
    }
}

/// The matrix of one kernel.
fn pick(m: KernelMatrices, kind: KernelKind) -> DMatrix<f64> {
    match kind {
        KernelKind::Nngp => m.nngp,
        KernelKind::Ntk => m.ntk,
    }
}

/// The trained map f_t of an infinitely wide network, ready to evaluate anywhere together with its
/// Jacobian. Built by [`TrainedMap::params`]`()…fit(network, x, y)` (or `…autoencoder(network, x)`,
/// `…sequence(network, x)`).
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::jacobian::TrainedMap;
/// use ntk::{Activation, Network};
///
/// // A one-hidden-layer sigmoid autoencoder trained on two points of R³ (the paper's setting).
/// let net = Network::mlp(1, Activation::SigmoidErf).w_std(1.0).width(1000).build()?;
/// let x = DMatrix::from_row_slice(2, 3, &[3.0, 0.0, 0.0, 0.0, 0.0, 3.0]);
/// let map = TrainedMap::params().autoencoder(&net, &x)?;
/// let fx = map.eval(&[3.0, 0.0, 0.0])?;
/// assert!((fx[0] - 3.0).abs() < 1e-10 && fx[1].abs() < 1e-10); // training points are fixed points
/// let j = map.jacobian(&[3.0, 0.0, 0.0])?;
/// assert_eq!(j.shape(), (3, 3));
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Clone)]
pub struct TrainedMap {
    network: Network,
    kernel: KernelKind,
    x_train: DMatrix<f64>,
    /// A_t (Y − f₀(X)), n × k.
    coef: DMatrix<f64>,
    init: Option<Arc<dyn InitialFunction>>,
    diag_reg: f64,
}

impl fmt::Debug for TrainedMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrainedMap")
            .field("kernel", &self.kernel)
            .field("n_train", &self.x_train.nrows())
            .field("input_dim", &self.x_train.ncols())
            .field("output_dim", &self.coef.ncols())
            .field("diag_reg", &self.diag_reg)
            .field("has_initial_function", &self.init.is_some())
            .finish()
    }
}

impl TrainedMap {
    /// The parameters of a fit, at their defaults (see [`MapParams`]).
    pub fn params() -> MapParams {
        MapParams::default()
    }

    /// f_t(x), length k.
    pub fn eval(&self, x: &[f64]) -> Result<DVector<f64>> {
        self.check_point(x)?;
        let xm = DMatrix::from_row_slice(1, x.len(), x);
        let kx = pick(self.network.cross(&self.x_train, &xm)?, self.kernel);
        let mut f = self.coef.tr_mul(&kx).column(0).into_owned();
        if let Some(f0) = &self.init {
            f += checked_value(f0.as_ref(), x, self.output_dim())?;
        }
        Ok(f)
    }

    /// f_t at every row of `x` (m × d), as rows (m × k).
    pub fn eval_rows(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        if x.ncols() != self.input_dim() {
            return Err(Error::ShapeMismatch {
                what: "points (rows)".into(),
                expected: format!("{} columns", self.input_dim()),
                found: format!("{} columns", x.ncols()),
            });
        }
        check_finite_matrix(x, "points")?;
        if x.nrows() == 0 {
            return Ok(DMatrix::zeros(0, self.output_dim()));
        }
        let kx = pick(self.network.cross(x, &self.x_train)?, self.kernel);
        let mut f = kx * &self.coef;
        if let Some(f0) = &self.init {
            for i in 0..x.nrows() {
                let xi: Vec<f64> = x.row(i).iter().copied().collect();
                let v = checked_value(f0.as_ref(), &xi, self.output_dim())?;
                for o in 0..self.output_dim() {
                    f[(i, o)] += v[o];
                }
            }
        }
        Ok(f)
    }

    /// J_t(x) = J₀(x) + (Y − f₀(X))ᵀ A_t ∂k(x)/∂x, k × d. Fails with
    /// [`Error::NotDifferentiable`] where the kernel has no derivative (e.g. the ReLU NTK at a
    /// training point).
    pub fn jacobian(&self, x: &[f64]) -> Result<DMatrix<f64>> {
        self.check_point(x)?;
        let kj = self
            .network
            .kernel_jacobian(&self.x_train, x, self.kernel)?;
        let mut j = self.coef.tr_mul(&kj.jacobian);
        if let Some(f0) = &self.init {
            let j0 = f0.jacobian(x)?;
            if j0.shape() != j.shape() {
                return Err(Error::ShapeMismatch {
                    what: "Jacobian of the initial function".into(),
                    expected: format!("{} × {}", j.nrows(), j.ncols()),
                    found: format!("{} × {}", j0.nrows(), j0.ncols()),
                });
            }
            j += j0;
        }
        Ok(j)
    }

    /// The spectrum of J_t(x) ([`Spectrum::of`] of [`TrainedMap::jacobian`]), computed in
    /// O(n²d + n³) instead of O(d³) when there is no initial function and n < d: then
    /// J = Cᵀ G with C the n × k coefficients and G = ∂k/∂x (n × d) has rank ≤ n, its nonzero
    /// eigenvalues are those of the n × n matrix G Cᵀ, and its singular values those of R_C R_Gᵀ
    /// from thin QR factorizations Cᵀ = Q_C R_C, Gᵀ = Q_G R_G; the other d − n are zero. For an
    /// MNIST-sized input (d = 784) and n = 40 this replaces a 784 × 784 eigenproblem by a 40 × 40 one.
    pub fn jacobian_spectrum(&self, x: &[f64]) -> Result<Spectrum> {
        let (n, d) = self.x_train.shape();
        if self.init.is_some() || n >= d || self.output_dim() != d {
            return Spectrum::of(&self.jacobian(x)?);
        }
        self.check_point(x)?;
        let g = self
            .network
            .kernel_jacobian(&self.x_train, x, self.kernel)?
            .jacobian;
        let small = &g * self.coef.transpose();
        let s = Spectrum::of(&small)?;
        let r_c = self.coef.transpose().qr().r();
        let r_g = g.transpose().qr().r();
        let mut sv: Vec<f64> = (r_c * r_g.transpose())
            .singular_values()
            .iter()
            .copied()
            .collect();
        sv.sort_by(|a, b| b.total_cmp(a));
        let mut eigenvalues = s.eigenvalues;
        eigenvalues.resize(d, nalgebra::Complex::new(0.0, 0.0));
        sv.resize(d, 0.0);
        Ok(Spectrum {
            eigenvalues,
            singular_values: DVector::from_vec(sv),
        })
    }

    /// The coefficients A_t (Y − f₀(X)) (n × k): f_t(x) − f₀(x) = coefficientsᵀ·k(x).
    pub fn coefficients(&self) -> &DMatrix<f64> {
        &self.coef
    }

    /// The training inputs (rows).
    pub fn x_train(&self) -> &DMatrix<f64> {
        &self.x_train
    }

    /// The absolute ridge λ that was added to the train kernel.
    pub fn diag_reg(&self) -> f64 {
        self.diag_reg
    }

    /// The input dimension d.
    pub fn input_dim(&self) -> usize {
        self.x_train.ncols()
    }

    /// The output dimension k.
    pub fn output_dim(&self) -> usize {
        self.coef.ncols()
    }

    fn check_point(&self, x: &[f64]) -> Result<()> {
        if x.len() != self.input_dim() {
            return Err(Error::ShapeMismatch {
                what: "point".into(),
                expected: format!("length {}", self.input_dim()),
                found: format!("length {}", x.len()),
            });
        }
        check_finite_slice(x, "point")
    }
}

fn checked_value(f0: &dyn InitialFunction, x: &[f64], k: usize) -> Result<DVector<f64>> {
    let v = f0.value(x)?;
    if v.len() != k {
        return Err(Error::ShapeMismatch {
            what: "output of the initial function".into(),
            expected: format!("length {k}"),
            found: format!("length {}", v.len()),
        });
    }
    Ok(v)
}
