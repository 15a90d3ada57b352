//! Trained input–output Jacobians of infinitely wide networks and associative memory
//! (Jiang & Pehlevan, "Associative memory in iterated overparameterized sigmoid autoencoders",
//! ICML 2020; Radhakrishnan, thesis 2023, ch. 2).
//!
//! * [`gradient`]: ∇ₓΣ(x', x) and ∇ₓΘ(x', x) for any network, exact (forward-mode derivatives through
//!   the layer recursion), with a typed error where the kernel has no derivative.
//! * [`map`]: the trained map f_t(x) = f₀(x) + (Y − f₀(X))ᵀ A_t k(x) and its Jacobian J_t (paper
//!   eqs. 2–3), for autoencoders, sequence encoders and any targets, at t = ∞ or any finite time.
//! * [`spectrum`]: complex eigenvalues, spectral radius, singular values.
//! * [`attractor`]: fixed-point and attractor tests, iterated maps, basins of attraction.
//! * [`closed_form`]: the paper's own closed forms — the 2-layer erf-sigmoid NTK (eq. 6), its
//!   gradient (App. D), the large-r asymptotics (§4.4) and the spectrum of Lemma 6.
//! * [`gradient_flow`]: the thesis's exact single-example gradient-flow solution (Theorems 1–2, 4).
//!
//! ```
//! use nalgebra::DMatrix;
//! use ntk::jacobian::TrainedMap;
//! use ntk::{Activation, Network};
//!
//! // Two points of norm r = 8 in R⁴, a one-hidden-layer sigmoid-like network.
//! let net = Network::mlp(1, Activation::SigmoidErf).w_std(1.0).width(1000).build()?;
//! let x = DMatrix::from_row_slice(2, 4, &[8.0, 0.0, 0.0, 0.0, 0.0, 8.0, 0.0, 0.0]);
//! let map = TrainedMap::params().autoencoder(&net, &x)?;
//! let test = map.attractor_test(&[8.0, 0.0, 0.0, 0.0], 1e-9)?;
//! assert!(test.is_attractor && test.spectrum.spectral_radius() < 1.0);
//! # Ok::<(), ntk::Error>(())
//! ```

pub mod attractor;
pub mod closed_form;
pub mod gradient;
pub mod gradient_flow;
pub mod map;
pub mod spectrum;

pub use attractor::{AttractorTest, IterationCriteria, Orbit, Recovery, RecoveryParams};
pub use gradient::{KernelGradient, KernelJacobian};
pub use map::{InitialFunction, MapParams, TrainedMap, Training};
pub use spectrum::Spectrum;
