//! Beyond the kernel regime at large learning rates: the neural quadratic model (NQM) and the
//! catapult phase (Zhu 2024, *Toward Understanding the Dynamics of Over-parameterized Neural
//! Networks*, Ch. 3–4; see `docs/catapults.md`).
//!
//! * [`ScalarNqm`]: the single-example NQM as the exact two-variable recursion of eqs. 3.11–3.12,
//!   e′ = (1 − ηλ + cη²eg)e, λ′ = λ − ηc(4ge − ηλe²), and its three [`Regime`]s: monotone for
//!   η < 2/λ₀, catapult for 2/λ₀ < η < 4/λ₀, divergence above (Thm 3.3.1, B.3.1, B.7.1).
//! * [`QuadraticModel`]: f(w₀) + Δᵀ∇f + ½ΔᵀH_fΔ with many examples — from any Jacobian and
//!   Hessians, the general quadratic model of eq. 3.3, or the two-layer ReLU network of eqs.
//!   3.9–3.10 — trained by gradient descent, with the one-step identities of eqs. 3.15–3.16 (the
//!   latter corrected).
//! * [`gd_catapult`], [`sgd_catapults`], [`agop_alignment`]: catapults of the crate's finite
//!   networks ([`FiniteNetwork`](crate::finite::FiniteNetwork)) in GD and SGD (Ch. 4), the loss
//!   split onto the NTK's top eigenspace (eq. 4.2), and the alignment of the network's AGOP with a
//!   target's EGOP (eqs. 4.5–4.6).
//!
//! Loss conventions differ between the chapters: Ch. 3 uses ½Σ(f − y)², where the critical
//! learning rate is 2/λ_max(K); Ch. 4 uses (1/n)Σ(f − y)², where it is n/λ_max(K).
//!
//! ```
//! use ntk::quadratic::{Regime, ScalarNqm};
//!
//! let nqm = ScalarNqm::new(1.0, 0.5, 1.0, 1e-3)?;
//! for (eta, regime) in [(1.9, Regime::Monotone), (3.0, Regime::Catapult), (4.2, Regime::Divergent)] {
//!     assert_eq!(Regime::predicted(eta, nqm.lambda0()), regime);
//!     assert_eq!(nqm.run(eta, 400)?.regime(), regime);
//! }
//! # Ok::<(), ntk::Error>(())
//! ```

mod catapult;
mod model;
mod scalar;

pub use catapult::{
    CATAPULT_EPSILON, CatapultRun, SgdRun, agop_alignment, critical_learning_rate, gd_catapult,
    sgd_catapults,
};
pub use model::{QuadraticModel, QuadraticRun};
pub use scalar::{DEFAULT_DIVERGENCE_LOSS, Regime, ScalarNqm, ScalarRun};
