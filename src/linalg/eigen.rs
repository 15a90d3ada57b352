//! The symmetric eigendecomposition K = V diag(λ) Vᵀ (faer) and functions of K applied in its
//! eigenbasis: the training dynamics of regression and of trained maps are both g(K) applied to
//! a matrix, with g(λ) = (1 − e^{−λτ})/λ and its relatives.

use super::view;
use crate::{Error, Result};
use faer::Side;
use nalgebra::{DMatrix, DVector};

/// Symmetric eigendecomposition (ascending eigenvalues, eigenvectors as columns), via faer. Reads
/// the lower triangle only.
pub(crate) fn sym_eigen(k: &DMatrix<f64>, what: &str) -> Result<(DVector<f64>, DMatrix<f64>)> {
    let e = view(k)
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| Error::NoConvergence(format!("eigendecomposition of {what}")))?;
    let s = e.S().column_vector();
    let u = e.U();
    let n = k.nrows();
    Ok((
        DVector::from_fn(n, |i, _| s[i]),
        DMatrix::from_fn(n, n, |i, j| u[(i, j)]),
    ))
}

/// Row i of `m` times g(λᵢ): g(K) applied to a matrix already expressed in K's eigenbasis
/// (m = Vᵀ B, so that V · scale_rows(m) = g(K) B).
pub(crate) fn scale_rows(
    m: &DMatrix<f64>,
    vals: &DVector<f64>,
    g: impl Fn(f64) -> f64,
) -> DMatrix<f64> {
    let mut out = m.clone();
    scale_rows_in_place(&mut out, vals, g);
    out
}

/// [`scale_rows`] in place. Column by column: the matrices are column-major, and a row walk
/// touches a new cache line per element.
pub(crate) fn scale_rows_in_place(
    m: &mut DMatrix<f64>,
    vals: &DVector<f64>,
    g: impl Fn(f64) -> f64,
) {
    let f: Vec<f64> = vals.iter().map(|&l| g(l)).collect();
    for mut col in m.column_iter_mut() {
        for (x, s) in col.iter_mut().zip(&f) {
            *x *= s;
        }
    }
}
