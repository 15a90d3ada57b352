//! Feature learning past the kernel regime (Radhakrishnan 2023, thesis ch. 5 and app. D): the
//! average gradient outer product (AGOP), the Deep Neural Feature Ansatz, and Recursive Feature
//! Machines.
//!
//! * [`agop()`]: G = (1/n) Σₚ ∇f(xₚ)∇f(xₚ)ᵀ of any [`InputJacobian`] — a finite network, a
//!   trained map, a GP posterior mean ([`GpPredictor`]) or an [`Rfm`]; [`correlation`] and
//!   [`cosine_similarity`] compare it with the neural feature matrix W₁ᵀW₁ of a trained network
//!   ([`FiniteNetwork::neural_feature_matrix`](crate::FiniteNetwork::neural_feature_matrix)): the
//!   ansatz says the two are proportional.
//! * [`MahalanobisKernel`]: K_M(x, z) = exp(−‖x − z‖_M / L), or a network kernel of M^{1/2}x.
//! * [`Rfm`]: Algorithm 1 — alternate kernel ridge regression with K_M and M ← AGOP.
//!
//! ```
//! use nalgebra::DMatrix;
//! use ntk::feature::{Rfm, agop, cosine_similarity};
//! // A linear target y = βᵀx: the AGOP of the fitted predictor points along β.
//! let beta = [1.0, -2.0, 0.0];
//! let x = DMatrix::from_fn(30, 3, |i, j| (((i + 1) * (j + 3) * 7919) % 101) as f64 / 50.0 - 1.0);
//! let y = DMatrix::from_fn(30, 1, |i, _| (0..3).map(|j| beta[j] * x[(i, j)]).sum());
//! let rfm = Rfm::params().iterations(3).ridge(1e-3).fit(&x, &y)?;
//! let b = DMatrix::from_row_slice(3, 1, &beta);
//! assert!(cosine_similarity(rfm.feature_matrix(), &(&b * b.transpose()))? > 0.95);
//! assert_eq!(agop(&rfm, &x, false)?.shape(), (3, 3));
//! # Ok::<(), ntk::Error>(())
//! ```

pub mod agop;
pub mod mahalanobis;
pub mod rfm;

pub use agop::{GpPredictor, InputJacobian, agop, correlation, cosine_similarity};
pub use mahalanobis::{BaseKernel, MahalanobisKernel};
pub use rfm::{Rfm, RfmParams};
