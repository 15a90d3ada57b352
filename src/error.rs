//! The crate's one error type.

use thiserror::Error;

/// Everything that can go wrong in `ntk`. Each variant says what is wrong and what to do about it.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Error {
    /// Two inputs whose shapes must agree do not.
    #[error("shape mismatch in {what}: expected {expected}, found {found}")]
    ShapeMismatch {
        /// Which input or dimension.
        what: String,
        /// The shape that was required.
        expected: String,
        /// The shape that was given.
        found: String,
    },
    /// An input holds NaN or ±∞.
    #[error("non-finite value {value} in {what} at {location}: inputs must be finite numbers")]
    NonFinite {
        /// Which input.
        what: String,
        /// Where in it (row, column or index).
        location: String,
        /// The offending value.
        value: f64,
    },
    /// A hyper-parameter is outside its domain (negative variance, NaN, degree too large, ...).
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name as in the network spec.
        name: String,
        /// Its value, printed.
        value: String,
        /// Why it is rejected and what range is allowed.
        reason: String,
    },
    /// The layers do not form a network whose kernel is defined.
    #[error("invalid network: {0}")]
    InvalidNetwork(String),
    /// A kernel value overflowed f64 or its Gaussian expectation diverges.
    #[error(
        "kernel is not finite after layer {layer} ({activation}): value {value}; \
         the Gaussian expectation diverges or overflows f64 — reduce w_std, b_std or the depth, \
         or rescale the inputs"
    )]
    Overflow {
        /// Index of the layer (0-based, in the network's layer list) where it happened.
        layer: usize,
        /// Name of that layer.
        activation: String,
        /// The non-finite value produced.
        value: f64,
    },
    /// A regularised kernel matrix K + λI that must be positive definite (Cholesky) is not.
    #[error(
        "{what} + diag_reg·I is not positive definite (smallest eigenvalue {min_eigenvalue:e}, \
         effective diag_reg {diag_reg:e}): increase the regularization (e.g. \
         Regularization::Relative(1e-6)), or fit with Fallback::PseudoInverse or Fallback::Jitter"
    )]
    NotPositiveDefinite {
        /// Which matrix (e.g. `NTK train-train`).
        what: String,
        /// Smallest eigenvalue of the regularised matrix.
        min_eigenvalue: f64,
        /// The absolute diagonal regularization that was added.
        diag_reg: f64,
    },
    /// A matrix decomposition did not converge.
    #[error("{0} did not converge; check the matrix for extreme values")]
    NoConvergence(String),
    /// An output would not fit in memory.
    #[error(
        "{what} needs {bytes} bytes ({gib:.1} GiB), which cannot be allocated: use fewer points, \
         compute the kernel in blocks of rows with `cross`, or use a machine with more memory",
        gib = *bytes as f64 / (1u64 << 30) as f64
    )]
    TooLarge {
        /// What was to be allocated.
        what: String,
        /// How many bytes it needs.
        bytes: u128,
    },
    /// Reading or writing data failed (command-line tool and file helpers).
    #[error("{0}")]
    Io(String),
    /// A derivative with respect to the inputs was asked where the kernel has none (e.g. the ReLU
    /// NTK at a training point, whose one-sided slopes differ).
    #[error(
        "{what} is not differentiable here: {reason}; evaluate the Jacobian at another point, \
         use a smooth activation (erf, sigmoid, tanh, GELU, ...), or use the NNGP where it is smooth"
    )]
    NotDifferentiable {
        /// Which kernel and where.
        what: String,
        /// Why (the layer and the activation's kink).
        reason: String,
    },
    /// An equation or iteration that the request relies on has no solution: a mean-field variance
    /// map without a finite attracting fixed point, a gradient-flow equation without a root.
    #[error("no solution for {what}: {reason}")]
    NoSolution {
        /// The quantity that was sought.
        what: String,
        /// Why there is none, and what to change.
        reason: String,
    },
    /// A matrix that must have full column rank does not.
    #[error(
        "{what} must have full column rank {required}, but its numerical rank is {rank}: \
         remove linearly dependent columns"
    )]
    RankDeficient {
        /// Which matrix.
        what: String,
        /// The numerical rank found.
        rank: usize,
        /// The rank required (the number of columns).
        required: usize,
    },
    /// A finite-width network produced NaN or ±∞ (forward pass, Jacobian or empirical kernel).
    #[error(
        "{what} of the finite network is not finite (value {value}): reduce w_std, b_std or the depth, \
         or rescale the inputs"
    )]
    NonFiniteOutput {
        /// What was computed.
        what: String,
        /// The first non-finite value found.
        value: f64,
    },
    /// The request is not available for this network's architecture yet.
    #[error(
        "{what} is not supported for {layer}: it is available for fully connected networks \
         (dense layers and activations); compute the kernels with `Kernel` instead"
    )]
    Unsupported {
        /// What was asked (e.g. "input gradients of the kernel").
        what: String,
        /// The first layer without it, with its path in the spec.
        layer: String,
    },
    /// Gradient descent on a finite network diverged (the loss became NaN or ±∞).
    #[error(
        "gradient descent diverged at step {step} (loss {loss}): lower the learning rate, e.g. below \
         ntk::max_learning_rate of the network's NTK"
    )]
    Diverged {
        /// The step at which the loss was not finite.
        step: usize,
        /// The loss value (or, if the forward pass itself overflowed, the first non-finite output).
        loss: f64,
    },
    /// An iterative solver stopped at its iteration limit before reaching its tolerance.
    #[error(
        "{what} did not reach the relative residual {tol:e} within {iterations} iterations \
         (it reached {residual:e}): raise max_iter, raise the preconditioner rank, loosen the \
         tolerance, increase the regularization, or restart from the returned iterate with a warm start"
    )]
    NotConverged {
        /// Which solver and system.
        what: String,
        /// Iterations done.
        iterations: usize,
        /// The relative residual reached, ‖B − K_reg X‖_F / ‖B‖_F.
        residual: f64,
        /// The tolerance asked for.
        tol: f64,
    },
}

/// `Result` with the crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;

/// An [`Error::InvalidParameter`] for hyper-parameter `name` with the given value and reason.
pub(crate) fn invalid(name: &str, value: impl std::fmt::Display, reason: &str) -> Error {
    Error::InvalidParameter {
        name: name.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}
