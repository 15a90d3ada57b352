//! Infinitely deep networks as classifiers (Radhakrishnan 2023, Ch. 4 and App. C).
//!
//! For a network without bias whose inputs lie on the unit sphere, and an activation normalized to
//! E\[φ(z)²\] = 1 (z ~ N(0, 1)), the NNGP and the NTK depend only on z = xᵀx̃ and follow eq. 4.5:
//!
//! K⁽⁰⁾(z) = z,  K⁽ᴸ⁾(z) = φ̌⁽ᴸ⁾(z) + K⁽ᴸ⁻¹⁾(z)·φ̌′(φ̌⁽ᴸ⁻¹⁾(z)),  φ̌⁽ᴸ⁾ = φ̌ ∘ φ̌⁽ᴸ⁻¹⁾, φ̌⁽⁰⁾ = id
//!
//! ([`SphereDual`]; the seed's φ̌⁽⁰⁾ = φ̌ at L1063 is a typo, corrected by App. C.2). As L → ∞ the
//! kernel machine sign(y K_n⁻¹ K(X, x)) becomes one of three classifiers, decided by A = E\[φ\],
//! A′ = E\[φ′\] and B′ = E\[φ′²\] ([`Moments`], [`Taxonomy`]):
//!
//! | moments | limit |
//! | --- | --- |
//! | A = 0, A′ ≠ 0 | singular kernel of order β = −log A′²/log B′ (Thm 7) |
//! | A = A′ = 0 | 1-nearest neighbour (Thm 9) |
//! | A ≠ 0 | majority vote (Prop. 4), in a chaotic, ordered or edge-of-chaos phase |
//!
//! The classifier is Bayes optimal for data of dimension d when β = d/2 (Thm 8):
//! [`hermite_consistent`] (Cor. 1) and [`sine_normalized`] with [`sine_a2`] (Cor. 2, with the
//! corrected normalization) build such activations. See `docs/infinite_depth.md`.
//!
//! ```
//! use ntk::Activation;
//! use ntk::infinite_depth::SphereDual;
//! let relu = SphereDual::new(&Activation::Relu)?;
//! let (_, k) = relu.kernels(10, 0.0)?;
//! assert!((k / 11.0 - 0.316307).abs() < 1e-6); // → 1/4 as L → ∞
//! # Ok::<(), ntk::Error>(())
//! ```

/// Quadrature nodes per dimension used by `ntk infinite-depth` for the activations computed by
/// quadrature (the crate's default is [`DEFAULT_NODES`](crate::activation::DEFAULT_NODES)): the
/// taxonomy needs only φ̌(0), φ̌′(0) and φ̌′(1), so a finer rule costs nothing, and the orders of tanh
/// and hard tanh then agree with independent 1-D integrals to 1e-9 (tests/suite/infinite_depth.rs).
pub const TAXONOMY_NODES: usize = 128;

mod consistent;
mod sphere;
mod taxonomy;

pub use consistent::{hermite_consistent, sine_a2, sine_normalized, sine_order};
pub use sphere::SphereDual;
pub use taxonomy::{EDGE_TOLERANCE, Moments, Phase, Taxonomy, ZERO_TOLERANCE, singular_order};
