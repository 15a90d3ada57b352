//! Validation of user input shared by the whole crate: matrix shapes, and NaN/±∞ in matrices,
//! vectors and hyper-parameters, each a typed [`Error`] naming the input and the offending place.

use crate::error::invalid;
use crate::{Error, Result};
use nalgebra::DMatrix;

/// A [`Error::ShapeMismatch`] for input `what` with the expected shape in words.
pub(crate) fn shape_error(what: &str, expected: String, found: (usize, usize)) -> Error {
    Error::ShapeMismatch {
        what: what.to_string(),
        expected,
        found: format!("{} × {}", found.0, found.1),
    }
}

/// Requires a non-empty square matrix.
pub(crate) fn check_square(k: &DMatrix<f64>, what: &str) -> Result<()> {
    if k.nrows() == k.ncols() && k.nrows() > 0 {
        Ok(())
    } else {
        Err(shape_error(
            what,
            "a non-empty square matrix".into(),
            k.shape(),
        ))
    }
}

/// Requires the exact shape (rows, columns).
pub(crate) fn check_shape(m: &DMatrix<f64>, shape: (usize, usize), what: &str) -> Result<()> {
    if m.shape() == shape {
        Ok(())
    } else {
        Err(shape_error(
            what,
            format!("{} × {}", shape.0, shape.1),
            m.shape(),
        ))
    }
}

/// Requires `rows` rows (any number of columns).
pub(crate) fn check_rows(m: &DMatrix<f64>, rows: usize, what: &str) -> Result<()> {
    if m.nrows() == rows {
        Ok(())
    } else {
        Err(shape_error(what, format!("{rows} rows"), m.shape()))
    }
}

/// Rejects NaN and ±∞ in a matrix, naming the first one by its 0-based row and column.
pub(crate) fn check_finite_matrix(m: &DMatrix<f64>, what: &str) -> Result<()> {
    // Column-major: index k is row k % n, column k / n.
    match m.as_slice().iter().position(|v| !v.is_finite()) {
        Some(k) => Err(Error::NonFinite {
            what: what.into(),
            location: format!(
                "row index {}, column index {} (0-based)",
                k % m.nrows(),
                k / m.nrows()
            ),
            value: m.as_slice()[k],
        }),
        None => Ok(()),
    }
}

/// Rejects NaN and ±∞ in a vector, naming the first one by its 0-based index.
pub(crate) fn check_finite_slice(x: &[f64], what: &str) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(k) => Err(Error::NonFinite {
            what: what.into(),
            location: format!("index {k}"),
            value: x[k],
        }),
        None => Ok(()),
    }
}

/// Rejects NaN and infinities in a named hyper-parameter.
pub(crate) fn check_finite_param(name: &str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(invalid(name, value, "must be a finite number"))
    }
}
