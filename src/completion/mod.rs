//! Matrix completion with the NTK of a fully connected network (Radhakrishnan 2023, Ch. 3.2, Thm 5
//! and App. A).
//!
//! A network f_Z(W) = W_{L+1}·φ(W_L ⋯ φ(W_1 Z)) maps a fixed prior Z (one column z_j per column of
//! Y) to an m × n matrix and is trained on the observed entries of Y (eq. 3.1). Each observed entry
//! M_ij is a training example, and in the infinite-width limit its NTK is (Thm 5, general form of
//! App. A)
//!
//! K(M_ij, M_i′j′) = 1[i = i′]·κ_L(z_jᵀz_j′),  κ_L = φ̌⁽ᴸ⁾ + κ_{L−1}·φ̌′(φ̌⁽ᴸ⁻¹⁾),  κ₀(ξ) = ξ,
//!
//! with φ̌ the dual of φ normalized to E\[φ²\] = 1 ([`SphereDual`]) and L the number of hidden layers:
//! one hidden ReLU layer gives κ₁(1) = 2 and κ₁(0) = 1/π (Thm 5 prints the depth one higher than
//! eq. 3.1 counts it). Rows do not interact, so completion is one kernel regression per row of Y
//! on its observed columns, solved by pseudo-inverse: these kernels are singular whenever two
//! columns share a prior vector (the Netflix toy of App. A).
//!
//! Thm 5 states it for 1-homogeneous activations (ReLU, leaky ReLU, |x|, a·min(x,0) + b·max(x,0))
//! with inputs of any norm, and `identity` gives the linear network of the graph-Laplacian
//! corollary (κ_L(ξ) = (L + 1)ξ). With unit-norm priors, as here, every layer keeps unit variance,
//! so the same recursion holds for any activation with 0 < E\[φ²\] < ∞.
//!
//! ```
//! use nalgebra::DMatrix;
//! use ntk::Activation;
//! use ntk::completion::MatrixCompletion;
//! // App. A's 3 × 3 example with Z = I and one hidden ReLU layer.
//! let y = DMatrix::from_row_slice(3, 3, &[
//!     None, Some(0.5), Some(0.3),
//!     Some(0.1), Some(0.2), None,
//!     Some(0.4), None, None,
//! ]);
//! let z = DMatrix::<f64>::identity(3, 3);
//! let c = MatrixCompletion::new(&Activation::Relu, 1)?.complete(&z, &y)?;
//! let pi = std::f64::consts::PI;
//! assert!((c[(0, 0)] - 0.8 / (2.0 * pi + 1.0)).abs() < 1e-14);
//! assert!((c[(2, 1)] - 0.4 / (2.0 * pi)).abs() < 1e-14);
//! assert_eq!(c[(0, 1)], 0.5); // observed entries are kept
//! # Ok::<(), ntk::Error>(())
//! ```

pub mod cntk;
pub mod expand;

use crate::activation::Activation;
use crate::error::invalid;
use crate::infinite_depth::SphereDual;
use crate::linalg::{check_finite_matrix, check_finite_param, sym_eigen};
use crate::{Error, Result};
use nalgebra::{DMatrix, DVector};
use std::collections::HashMap;

/// Eigenvalues of an observed-column kernel at most this fraction of the largest are dropped by the
/// pseudo-inverse: a duplicated prior vector gives an exact zero that rounding turns into about
/// 1e-16 of the largest, while genuine eigenvalues of these kernels stay far above 1e-12.
pub const PINV_RCOND: f64 = 1e-12;

/// A prior row's norm may differ from 1 by this much (relative) without `--normalize`: the cosines
/// are then computed from the normalized rows, so the rounding of a CSV file does not matter.
pub const UNIT_NORM_TOLERANCE: f64 = 1e-9;

/// Matrix completion with the NTK of an infinitely wide network with `depth` hidden layers, no bias
/// and activation φ (normalized to E\[φ²\] = 1): see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct MatrixCompletion {
    dual: SphereDual,
    depth: usize,
    ridge: f64,
}

impl MatrixCompletion {
    /// Completion with `depth` hidden layers (0 is the linear model κ₀(ξ) = ξ) of `activation`,
    /// ridgeless. Fails for activations without a normalized dual ([`SphereDual::new`]).
    pub fn new(activation: &Activation, depth: usize) -> Result<Self> {
        Ok(Self {
            dual: SphereDual::new(activation)?,
            depth,
            ridge: 0.0,
        })
    }

    /// Adds λ to the diagonal of each row's observed-column kernel (default 0: the ridgeless
    /// limit of gradient descent from zero). Fails unless λ is finite and ≥ 0.
    pub fn ridge(mut self, lambda: f64) -> Result<Self> {
        check_finite_param("ridge", lambda)?;
        if lambda < 0.0 {
            return Err(invalid("ridge", lambda, "must be ≥ 0"));
        }
        self.ridge = lambda;
        Ok(self)
    }

    /// The number of hidden layers L.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The column kernel κ_L(z_jᵀz_j′) (n × n) of a prior with one unit-norm row z_j per column of
    /// Y. Fails on a non-finite entry, a zero row or a row whose norm is not 1 (within
    /// [`UNIT_NORM_TOLERANCE`]; see [`normalize_rows`]).
    pub fn column_kernel(&self, prior: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let z = unit_rows(prior)?;
        let n = z.nrows();
        let mut k = DMatrix::zeros(n, n);
        for i in 0..n {
            for j in 0..=i {
                // 1 − ‖z_i − z_j‖²/2 rather than the dot product: exactly 1 for a repeated prior
                // vector (a dot product can give 1 − 1e-16, which deep kernels with B′ > 1
                // amplify), and accurate in 1 − z near 1. The clamp only removes rounding.
                let cos = (1.0 - 0.5 * (z.row(i) - z.row(j)).norm_squared()).clamp(-1.0, 1.0);
                let v = self.dual.kernels(self.depth, cos)?.1;
                k[(i, j)] = v;
                k[(j, i)] = v;
            }
        }
        Ok(k)
    }

    /// Completes Y (m × n, `None` where an entry is missing) with the prior Z (n × d, one
    /// unit-norm row per column of Y): each row i is a kernel regression on its observed columns
    /// S_i, ŷ_ij = κ(z_j, Z_{S_i})·(K_{S_i} + λI)⁺·y_{i,S_i}. Observed entries are returned as
    /// given; the others are the predictions.
    ///
    /// Errors: [`Error::ShapeMismatch`] if Z does not have one row per column of Y,
    /// [`Error::NonFinite`] for a NaN or infinite entry, [`Error::InvalidParameter`] for a row of Y
    /// with no observed entry or a prior row that is zero or not of unit norm.
    pub fn complete(
        &self,
        prior: &DMatrix<f64>,
        observed: &DMatrix<Option<f64>>,
    ) -> Result<DMatrix<f64>> {
        let n = observed.ncols();
        if prior.nrows() != n {
            return Err(Error::ShapeMismatch {
                what: "prior Z (one row per column of Y)".to_string(),
                expected: format!("{n} rows"),
                found: format!("{} rows", prior.nrows()),
            });
        }
        let k = self.column_kernel(prior)?;
        complete_with_kernel(&k, observed, self.ridge)
    }
}

/// Kernel regression of every row of Y (m × n, `None` where missing) on its observed columns with
/// the column kernel `k` (n × n), by pseudo-inverse: the solver of [`MatrixCompletion::complete`],
/// shared with the convolutional completion ([`cntk`]). Observed entries are returned as given.
pub(crate) fn complete_with_kernel(
    k: &DMatrix<f64>,
    observed: &DMatrix<Option<f64>>,
    ridge: f64,
) -> Result<DMatrix<f64>> {
    let (m, n) = observed.shape();
    debug_assert_eq!(k.shape(), (n, n));
    for i in 0..m {
        for j in 0..n {
            if let Some(v) = observed[(i, j)] {
                if !v.is_finite() {
                    return Err(Error::NonFinite {
                        what: "observed matrix Y".to_string(),
                        location: format!("row {i}, column {j} (from 0)"),
                        value: v,
                    });
                }
            }
        }
        if (0..n).all(|j| observed[(i, j)].is_none()) {
            return Err(invalid(
                "Y",
                format!("row {i} (from 0)"),
                "has no observed entry, so nothing predicts it: observe at least one entry \
                 per row, or drop the row",
            ));
        }
    }
    let mut out = DMatrix::zeros(m, n);
    // Rows with the same observed columns share the pseudo-inverse.
    let mut factors: HashMap<Vec<usize>, DMatrix<f64>> = HashMap::new();
    for i in 0..m {
        let seen: Vec<usize> = (0..n).filter(|&j| observed[(i, j)].is_some()).collect();
        if !factors.contains_key(&seen) {
            let pinv = pseudo_inverse(k, &seen, ridge)?;
            factors.insert(seen.clone(), pinv);
        }
        let pinv = &factors[&seen];
        let y = DVector::from_iterator(
            seen.len(),
            seen.iter().map(|&j| observed[(i, j)].unwrap_or(0.0)),
        );
        let alpha = pinv * y;
        for j in 0..n {
            out[(i, j)] = match observed[(i, j)] {
                Some(v) => v,
                None => seen
                    .iter()
                    .zip(alpha.iter())
                    .map(|(&s, a)| k[(j, s)] * a)
                    .sum(),
            };
        }
    }
    Ok(out)
}

/// (K_S + λI)⁺ for the columns S, dropping eigenvalues below [`PINV_RCOND`] of the largest.
fn pseudo_inverse(k: &DMatrix<f64>, cols: &[usize], ridge: f64) -> Result<DMatrix<f64>> {
    let s = cols.len();
    let ks = DMatrix::from_fn(s, s, |a, b| {
        k[(cols[a], cols[b])] + if a == b { ridge } else { 0.0 }
    });
    let (vals, v) = sym_eigen(&ks, "observed-column kernel")?;
    let max = vals.iter().fold(0.0f64, |acc, l| acc.max(l.abs()));
    let inv = vals.map(|l| {
        if l.abs() > PINV_RCOND * max {
            1.0 / l
        } else {
            0.0
        }
    });
    Ok(&v * DMatrix::from_diagonal(&inv) * v.transpose())
}

/// Z with each row divided by its norm (`ntk complete --normalize`). Fails on a non-finite entry or
/// a zero row, which has no direction.
pub fn normalize_rows(prior: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    check_finite_matrix(prior, "prior Z")?;
    let mut z = prior.clone();
    for (i, mut row) in z.row_iter_mut().enumerate() {
        let norm = row.norm();
        if norm == 0.0 {
            return Err(zero_row(i));
        }
        row /= norm;
    }
    Ok(z)
}

/// The prior's rows divided by their norms, after checking that they are 1 within tolerance.
fn unit_rows(prior: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    check_finite_matrix(prior, "prior Z")?;
    if prior.ncols() == 0 {
        return Err(invalid(
            "Z",
            "0 columns",
            "each prior vector needs ≥ 1 entry",
        ));
    }
    for (i, row) in prior.row_iter().enumerate() {
        let norm = row.norm();
        if norm == 0.0 {
            return Err(zero_row(i));
        }
        if (norm - 1.0).abs() > UNIT_NORM_TOLERANCE {
            return Err(invalid(
                "Z",
                format!("row {i} (from 0) of norm {norm}"),
                "the prior's rows must have unit norm (Thm 5): normalize them first \
                 (`--normalize` on the command line, ntk::completion::normalize_rows in Rust)",
            ));
        }
    }
    normalize_rows(prior)
}

fn zero_row(i: usize) -> Error {
    invalid(
        "Z",
        format!("row {i} (from 0)"),
        "is zero: a prior vector must have a direction; give every column of Y a non-zero \
         embedding",
    )
}
