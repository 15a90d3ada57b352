//! Kernel regression without the n × n matrix: a matrix-free training-kernel operator and
//! iterative solvers for the ridge system (K + λI) α = Y, for the NNGP or the NTK of any
//! [`Kernel`](crate::Kernel).
//!
//! * [`KernelOperator`]: V ↦ K·V (n × k right-hand sides at once) in row blocks recomputed on every
//!   product, and K(X_*, X)·V for predictions; memory O(threads · (block · n + n · k)).
//! * [`IterativeRegression`]: conjugate gradients with a rank-m Nyström preconditioner (uniform
//!   centres or pivoted Cholesky, [`Centres`]), or EigenPro's preconditioned Richardson iteration
//!   ([`Method`]); tolerance-driven stop, residual history, warm starts, progress callback;
//!   posterior mean and covariance at test points.
//! * [`Falkon`]: the Nyström estimator with m centres solved by FALKON's preconditioned CG, with
//!   the two m × m triangular factors in one buffer.
//!
//! The formulas, the stopping rules and the measured iteration counts are in `docs/regression.md`
//! ("Iterative solvers"). A solve that reaches `max_iter` first is
//! [`Error::NotConverged`](crate::Error::NotConverged), which states the residual reached, unless
//! the parameters allow an unconverged result (then [`SolveReport::converged`] is false).

pub mod falkon;
pub mod nystrom;
pub mod operator;
pub mod solve;

pub use falkon::{Falkon, FalkonParams};
pub use nystrom::Centres;
pub use operator::{DEFAULT_BLOCK_ROWS, KernelOperator};
pub use solve::{IterativeParams, IterativeRegression, Method, SolveReport};
