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
    match first_nonfinite(m.as_slice()) {
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

/// The index of the first NaN or ±∞ in `x`. Blocks are scanned without an early exit, so the scan
/// vectorizes (a value is not finite iff its exponent bits are all ones): the checks read every
/// train and test kernel, and a scalar scan that stops at each element was 4 % of a GP inference
/// (and 3 % of a Gram matrix, in the kernels' check of each finished column).
#[inline]
pub(crate) fn first_nonfinite(x: &[f64]) -> Option<usize> {
    const EXP: u64 = 0x7ff0_0000_0000_0000;
    const BLOCK: usize = 256;
    x.chunks(BLOCK).enumerate().find_map(|(b, c)| {
        let bad = c.iter().fold(false, |a, v| a | (v.to_bits() & EXP == EXP));
        bad.then(|| b * BLOCK + c.iter().position(|v| !v.is_finite()).unwrap_or(0))
    })
}

/// Rejects NaN and ±∞ in a vector, naming the first one by its 0-based index.
pub(crate) fn check_finite_slice(x: &[f64], what: &str) -> Result<()> {
    match first_nonfinite(x) {
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

#[cfg(test)]
mod tests {
    use super::first_nonfinite;

    /// The blocked scan finds the first NaN or infinity wherever it falls (inside a block, at a
    /// block's edges, in the short last block) and passes the extreme finite values.
    #[test]
    fn the_first_nonfinite_value_is_found_in_every_position() {
        let n = 1000;
        let mut x: Vec<f64> = (0..n).map(|i| (i as f64 - 500.0) * 1e300).collect();
        x[3] = f64::MAX;
        x[4] = -f64::MIN_POSITIVE / 4.0; // subnormal
        assert_eq!(first_nonfinite(&x), None);
        assert_eq!(first_nonfinite(&[]), None);
        for &bad in &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for at in [0, 1, 255, 256, 257, 511, 767, 768, 999] {
                let mut y = x.clone();
                y[at] = bad;
                if at + 7 < n {
                    y[at + 7] = f64::NAN;
                }
                assert_eq!(first_nonfinite(&y), Some(at), "{bad} at {at}");
            }
        }
    }
}
