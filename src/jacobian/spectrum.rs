//! Spectra of (non-symmetric) Jacobians: complex eigenvalues, spectral radius, singular values.
//!
//! A fixed point x* of a differentiable map is an attractor when every eigenvalue of J(x*) has
//! modulus below 1 (Jiang & Pehlevan 2020, Prop. 1); the operator norm ‖J‖₂ = σ_max bounds the
//! spectral radius from above.

use crate::Result;
use crate::error::Error;
use crate::linalg::{check_finite_matrix, check_square, view};
use nalgebra::{Complex, DMatrix, DVector};

/// The eigenvalues and singular values of a square matrix.
///
/// ```
/// use nalgebra::{Complex, DMatrix};
/// use ntk::jacobian::Spectrum;
/// // A rotation by 90° scaled by ½: eigenvalues ±i/2.
/// let j = DMatrix::from_row_slice(2, 2, &[0.0, -0.5, 0.5, 0.0]);
/// let s = Spectrum::of(&j)?;
/// assert!((s.spectral_radius() - 0.5).abs() < 1e-15);
/// assert!((s.operator_norm() - 0.5).abs() < 1e-15);
/// assert_eq!(s.count_near(Complex::new(0.0, 0.5), 1e-12), 1);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// Eigenvalues, sorted by decreasing modulus.
    pub eigenvalues: Vec<Complex<f64>>,
    /// Singular values, decreasing.
    pub singular_values: DVector<f64>,
}

impl Spectrum {
    /// The spectrum of a square matrix (faer's Hessenberg–QR eigenvalue solver and SVD).
    pub fn of(j: &DMatrix<f64>) -> Result<Self> {
        check_square(j, "matrix whose eigenvalues are asked")?;
        check_finite_matrix(j, "matrix whose eigenvalues are asked")?;
        let m = view(j);
        let mut eigenvalues: Vec<Complex<f64>> = m
            .eigenvalues()
            .map_err(|_| Error::NoConvergence("eigenvalues of the Jacobian".into()))?
            .into_iter()
            .map(|z| Complex::new(z.re, z.im))
            .collect();
        eigenvalues.sort_by(|a, b| b.norm().total_cmp(&a.norm()));
        let mut sv = m
            .singular_values()
            .map_err(|_| Error::NoConvergence("singular values of the Jacobian".into()))?;
        sv.sort_by(|a, b| b.total_cmp(a));
        Ok(Spectrum {
            eigenvalues,
            singular_values: DVector::from_vec(sv),
        })
    }

    /// The spectral radius max |λ|.
    pub fn spectral_radius(&self) -> f64 {
        self.eigenvalues.first().map_or(0.0, |z| z.norm())
    }

    /// The operator norm ‖J‖₂ = σ_max.
    pub fn operator_norm(&self) -> f64 {
        self.singular_values.iter().copied().fold(0.0, f64::max)
    }

    /// How many eigenvalues lie within `tol` of `target` in the complex plane.
    pub fn count_near(&self, target: Complex<f64>, tol: f64) -> usize {
        self.eigenvalues
            .iter()
            .filter(|z| (**z - target).norm() <= tol)
            .count()
    }

    /// How many eigenvalues have modulus within `tol` of `modulus` (e.g. |λ| ≈ 1, the count the
    /// paper's Fig. E.1 reports).
    pub fn count_modulus_near(&self, modulus: f64, tol: f64) -> usize {
        self.eigenvalues
            .iter()
            .filter(|z| (z.norm() - modulus).abs() <= tol)
            .count()
    }
}
