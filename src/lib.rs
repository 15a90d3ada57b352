//! # ntk — closed-form kernels of infinitely wide neural networks
//!
//! The NNGP kernel Σ and the neural tangent kernel Θ of fully connected networks of any depth, in the
//! conventions of neural-tangents (`stax.serial(Dense, φ, …, Dense)`), computed with every layer fused
//! per matrix entry; and of convolutional, pooled, residual and layer-normalized networks (the CNTK),
//! pair by pair over pixel-pair covariances in per-thread scratch (`docs/architectures.md`).
//!
//! * [`activation`]: dual activations T(c; q1, q2) = E[φ(u)φ(v)] and Ṫ = E[φ'(u)φ'(v)] in closed form
//!   for ReLU-type, erf-type, GELU, trigonometric, exponential, polynomial and Hermite activations, and
//!   by quadrature for any other (sigmoid, tanh, softplus, SiLU, ELU, SELU, hard tanh, mish, your
//!   own). Every activation is declared once, in one table.
//! * [`network`]: the network spec — Dense layers (σ_w, σ_b, width), activations, convolutions,
//!   pooling, flatten, layer norm and residual blocks, with the input shape — with builders; [`spec`]
//!   is its JSON form.
//! * [`finite`]: finite-width networks of the same spec (each also a [`Kernel`], of its empirical
//!   NNGP and NTK) — forward passes, input-output Jacobians, Monte Carlo kernel estimates and
//!   gradient-descent training.
//! * [`kernel`]: the [`Kernel`] trait (entries, cross matrices, Gram matrices, diagonals) and its
//!   implementation for networks. Underneath, a private layer-algebra module compiles a network into
//!   stages that each map a kernel state to a kernel state (neural-tangents' `stax` model), with one
//!   loop over them; see `docs/kernels.md`.
//! * [`meanfield`]: signal-propagation quantities of deep networks — the variance fixed point q*,
//!   χ₁, the ordered/chaotic phase and the correlation depth scale (Jiang & Pehlevan 2020, §4.2).
//! * [`jacobian`]: input gradients of the kernels, the trained map f∞ of a wide network and its
//!   Jacobian J∞ (autoencoders, sequence encoders), spectra, attractors and basins of attraction, and
//!   the closed forms of Jiang & Pehlevan (2020) and of the thesis's single-example gradient flow.
//! * [`feature`]: feature learning past the kernel regime — the average gradient outer product
//!   (AGOP) of any differentiable predictor, the neural feature matrix of a trained finite network,
//!   and Recursive Feature Machines (Radhakrishnan 2023, ch. 5).
//! * [`regression`]: kernel regression, GP posteriors and gradient-descent dynamics at any time.
//! * [`iterative`]: matrix-free kernel regression for large n — the training kernel as an operator,
//!   Nyström-preconditioned conjugate gradients, EigenPro and FALKON.
//! * [`completion`]: matrix completion with the NTK of a fully connected network (Radhakrishnan
//!   2023, Thm 5), one pseudo-inverse kernel regression per row.
//! * [`infinite_depth`]: the normalized NTK recursion on the sphere and its infinite-depth limits:
//!   singular kernels, 1-NN and majority vote, and the consistent activations (Radhakrishnan 2023,
//!   Ch. 4).
//! * [`quadratic`]: beyond the kernel regime — the neural quadratic model, the catapult phase of
//!   large learning rates in the model and in finite networks (GD and SGD), and AGOP alignment
//!   (Zhu 2024, Ch. 3–4); the finite networks also give Hessian norms and linearity measures
//!   (transition to linearity, Ch. 2).
//! * [`forward`]: forward-mode derivatives ([`Fwd`]) that carry ∂/∂(inputs) through the recursion.
//!
//! ```
//! use nalgebra::DMatrix;
//! use ntk::{Activation, Kernel, Network};
//!
//! let net = Network::builder()
//!     .dense(1.5, Some(0.1))
//!     .activation(Activation::Erf { a: 1.0, b: 1.0, c: 0.0 })
//!     .dense(1.5, Some(0.1))
//!     .build()?;
//! let x = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.6, 0.8, -0.5, 0.5]);
//! let k = net.gram(&x)?;
//! assert_eq!(k.ntk.shape(), (3, 3));
//! assert!((k.ntk[(0, 1)] - k.ntk[(1, 0)]).abs() == 0.0);
//! # Ok::<(), ntk::Error>(())
//! ```
#![deny(missing_docs)]

pub mod activation;
pub mod completion;
pub mod error;
pub mod feature;
pub mod finite;
pub mod forward;
pub mod infinite_depth;
pub mod io;
pub mod iterative;
pub mod jacobian;
pub mod kernel;
mod layers;
mod linalg;
pub mod meanfield;
pub mod network;
pub mod quadratic;
pub mod real;
pub mod regression;
mod roots;
pub mod spec;

pub use activation::{Activation, Dual, DualActivation, Smoothness};
pub use error::{Error, Result};
pub use finite::{
    FiniteNetwork, FiniteNetworkBuilder, HiddenWidths, LossNormalization, MonteCarlo, TrainConfig,
};
pub use forward::Fwd;
pub use kernel::{Kernel, KernelDiagonal, KernelEntry, KernelKind, KernelMatrices};
pub use network::{
    AvgPool, Conv, Dense, Layer, LayerNorm, MlpBuilder, Network, NetworkBuilder, Padding,
    Parameterization,
};
pub use real::Real;
pub use regression::{
    DynamicsParams, EnsembleDynamics, Fallback, Gaussian, GpInference, GpParams, KernelSolver,
    Posterior, Regularization, SolverParams, TestKernels, TrainKernels, max_learning_rate,
};

/// The Rust examples of the README and of `docs/`, compiled and run as doctests so that they stay
/// true to the API.
#[cfg(doctest)]
mod doc_pages {
    #[doc = include_str!("../README.md")]
    struct Readme;
    #[doc = include_str!("../docs/kernels.md")]
    struct Kernels;
    #[doc = include_str!("../docs/regression.md")]
    struct Regression;
    #[doc = include_str!("../docs/jacobians.md")]
    struct Jacobians;
    #[doc = include_str!("../docs/finite.md")]
    struct Finite;
    #[doc = include_str!("../docs/architectures.md")]
    struct Architectures;
    #[doc = include_str!("../docs/features.md")]
    struct Features;
    #[doc = include_str!("../docs/completion.md")]
    struct Completion;
    #[doc = include_str!("../docs/infinite_depth.md")]
    struct InfiniteDepth;
    #[doc = include_str!("../docs/scaling.md")]
    struct Scaling;
}
