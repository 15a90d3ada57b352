//! Kernel regression with the NNGP and the NTK, and the training dynamics of infinitely wide networks
//! (neural-tangents' `predict` module, float64).
//!
//! Conventions (neural-tangents 0.6.5): the loss is 1/(2N)‖f − Y‖² with N = n_train·k for targets Y
//! (n_train × k); gradient flow with learning rate η runs in the time τ = η t / N; kernels act as K ⊗ I_k,
//! so one n × n matrix serves every output column. Train kernels are regularized as K + λI with
//! λ from [`Regularization`].
//!
//! * [`KernelSolver`]: K + λI factorized once (Cholesky via faer; opt-in [`Fallback`]s), many solves.
//! * [`GpInference`]: posterior mean and covariance for each [`KernelKind`](crate::KernelKind) and
//!   for the NTK-GP ([`Posterior`]) at t = ∞, and the log marginal likelihood.
//! * [`EnsembleDynamics`]: mean and covariance of the trained ensemble at any times t (one
//!   eigendecomposition per kernel), on test sets or the training set.
//! * [`max_learning_rate`] = 2N/λ_max(Θ).
//!
//! Each model is fitted from its parameters, in the manner of linfa: `Model::params()` gives them at
//! their defaults ([`SolverParams`], [`GpParams`], [`DynamicsParams`]), named setters change them,
//! and `fit` checks them once — a typed [`Error::InvalidParameter`](crate::Error::InvalidParameter)
//! before any work — and fits. `fit` takes precomputed matrices (`nalgebra::DMatrix<f64>`);
//! `fit_points`, `predict_points` and `compute` take any [`Kernel`](crate::Kernel), such as a
//! [`Network`](crate::Network), and points as rows. Every default regularization is
//! [`Regularization::default`] (none).
//!
//! ```
//! use nalgebra::DMatrix;
//! use ntk::{Activation, EnsembleDynamics, GpInference, KernelKind, Network, Regularization};
//! let net = Network::mlp(2, Activation::Relu).w_std(2f64.sqrt()).b_std(0.1).build()?;
//! let x_train = DMatrix::from_row_slice(4, 2, &[1.0, 0.0, 0.0, 1.0, -1.0, 0.5, 0.3, -0.7]);
//! let y_train = DMatrix::from_row_slice(4, 1, &[1.0, -1.0, 0.5, 0.0]);
//! let x_test = DMatrix::from_row_slice(1, 2, &[0.5, 0.5]);
//! let reg = Regularization::Relative(1e-3);
//! let gp = GpInference::params().regularization(reg).fit_points(&net, &x_train, &y_train)?;
//! let at_infinity = gp.predict_points(KernelKind::Ntk, &net, &x_test)?;
//! let dynamics = EnsembleDynamics::params()
//!     .learning_rate(1.0)
//!     .regularization(reg)
//!     .fit_points(&net, &x_train, &y_train)?;
//! let path = dynamics.predict_points(KernelKind::Ntk, &net, &x_test, &[0.0, 1e9])?;
//! assert_eq!(path[0].mean[0], 0.0);
//! assert!((path[1].mean[0] - at_infinity.mean[0]).abs() < 1e-9);
//! # Ok::<(), ntk::Error>(())
//! ```

pub mod dynamics;
pub mod gp;
pub mod solve;

pub use dynamics::{DynamicsParams, EnsembleDynamics, inv_expm1, max_learning_rate};
pub use gp::{Gaussian, GpInference, GpParams, Posterior, TestKernels, TrainKernels};
pub use solve::{Fallback, KernelSolver, Regularization, SolverParams};
