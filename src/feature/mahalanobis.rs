//! Kernels of a feature matrix M: the Mahalanobis Laplace kernel K_M(x, z) = exp(−‖x − z‖_M / L)
//! and any network kernel on the transformed inputs, K_M(x, z) = K(M^{1/2}x, M^{1/2}z)
//! (Radhakrishnan 2023, §5.2.2 and its footnote 3).

use crate::error::{Error, invalid};
use crate::kernel::{Kernel, KernelDiagonal, KernelEntry, KernelMatrices};
use crate::linalg::{check_finite_matrix, check_finite_param, mul, shape_error, sym_eigen};
use crate::{KernelKind, Network, Result};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

/// The kernel a feature matrix M is put into.
#[derive(Debug, Clone, PartialEq)]
pub enum BaseKernel {
    /// The Laplace kernel exp(−‖x − z‖_M / L), with bandwidth L (the kernel of Algorithm 1).
    Laplace,
    /// A network kernel (NNGP or NTK, see [`Kernel`]) on the inputs x ↦ M^{1/2}x.
    Network {
        /// The network spec of the kernel.
        network: Network,
        /// Which of its kernels the regression solves with (the RFM's predictor and its
        /// gradients use this one).
        kind: KernelKind,
    },
}

/// A kernel with a feature matrix M (d × d, symmetric positive semi-definite):
///
/// * [`BaseKernel::Laplace`]: K_M(x, z) = exp(−‖x − z‖_M / L), ‖v‖_M = √(vᵀMv) — the Mahalanobis
///   Laplace kernel of Radhakrishnan (2023), §5.2.2, with γ = 1/L;
/// * [`BaseKernel::Network`]: K_M(x, z) = K(M^{1/2}x, M^{1/2}z) for the network's NNGP and NTK
///   (footnote 3 of the same section), with M^{1/2} the symmetric square root.
///
/// As a [`Kernel`], the Laplace variant returns K_M as **both** the NNGP and the NTK matrix (it is
/// not the kernel of a network: regression with either gives the kernel ridge regression of
/// Algorithm 1), with variances K_M(x, x) = 1; the network variant returns the network's NNGP and NTK
/// of the transformed points.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::Kernel;
/// use ntk::feature::MahalanobisKernel;
/// let m = DMatrix::from_row_slice(2, 2, &[4.0, 0.0, 0.0, 0.0]); // only the first coordinate counts
/// let k = MahalanobisKernel::laplace(m, 10.0)?;
/// let e = k.entry(&[1.0, 5.0], &[0.0, -3.0])?;
/// assert!((e.nngp - (-2.0f64 / 10.0).exp()).abs() < 1e-15); // ‖x − z‖_M = √(4·1²) = 2
/// assert_eq!(e.nngp, e.ntk);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MahalanobisKernel {
    base: BaseKernel,
    bandwidth: f64,
    m: DMatrix<f64>,
    sqrt_m: DMatrix<f64>,
}

impl MahalanobisKernel {
    /// The Laplace kernel exp(−‖x − z‖_M / L). Fails unless M is square, finite, symmetric and
    /// positive semi-definite (to 1e-10 relative), and L finite and > 0.
    pub fn laplace(m: DMatrix<f64>, bandwidth: f64) -> Result<Self> {
        check_bandwidth(bandwidth)?;
        Self::new(BaseKernel::Laplace, bandwidth, m)
    }

    /// A network's NNGP and NTK on the inputs x ↦ M^{1/2}x; `kind` is the one an RFM's regression
    /// uses ([`Kernel`] returns both). M is checked as for [`MahalanobisKernel::laplace`].
    pub fn network(network: Network, kind: KernelKind, m: DMatrix<f64>) -> Result<Self> {
        Self::new(BaseKernel::Network { network, kind }, 1.0, m)
    }

    fn new(base: BaseKernel, bandwidth: f64, m: DMatrix<f64>) -> Result<Self> {
        if m.nrows() != m.ncols() || m.nrows() == 0 {
            return Err(shape_error(
                "feature matrix M",
                "a non-empty square matrix".into(),
                m.shape(),
            ));
        }
        check_finite_matrix(&m, "feature matrix M")?;
        let scale = m.amax().max(f64::MIN_POSITIVE);
        if (&m - m.transpose()).amax() > 1e-12 * scale {
            return Err(invalid(
                "M",
                "not symmetric",
                "a feature matrix must be symmetric (use (M + Mᵀ)/2)",
            ));
        }
        let (vals, _) = sym_eigen(&m, "feature matrix M")?;
        let min = vals.min();
        if min < -1e-10 * vals.amax().max(f64::MIN_POSITIVE) {
            return Err(invalid(
                "M",
                format!("smallest eigenvalue {min:e}"),
                "a feature matrix must be positive semi-definite",
            ));
        }
        Self::from_psd(base, bandwidth, m)
    }

    /// From an M that is symmetric and positive semi-definite up to rounding (an AGOP).
    pub(crate) fn from_psd(base: BaseKernel, bandwidth: f64, m: DMatrix<f64>) -> Result<Self> {
        let sqrt_m = sqrt_psd(&m)?;
        Ok(MahalanobisKernel {
            base,
            bandwidth,
            m,
            sqrt_m,
        })
    }

    /// The feature matrix M.
    pub fn feature_matrix(&self) -> &DMatrix<f64> {
        &self.m
    }

    /// Its symmetric square root M^{1/2}.
    pub fn sqrt_feature_matrix(&self) -> &DMatrix<f64> {
        &self.sqrt_m
    }

    /// The base kernel.
    pub fn base(&self) -> &BaseKernel {
        &self.base
    }

    /// The bandwidth L of the Laplace kernel (unused by network kernels).
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// The input dimension d.
    pub fn input_dim(&self) -> usize {
        self.m.nrows()
    }

    /// The points x ↦ M^{1/2}x (rows).
    pub(crate) fn transform(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        // Rows are points: (M^{1/2}x)ᵀ = xᵀM^{1/2}, M^{1/2} being symmetric.
        mul(x, &self.sqrt_m)
    }

    fn check_points(&self, x: &DMatrix<f64>, what: &str) -> Result<()> {
        if x.ncols() != self.input_dim() {
            return Err(shape_error(
                what,
                format!("n × {} (points are rows)", self.input_dim()),
                x.shape(),
            ));
        }
        check_finite_matrix(x, what)
    }

    /// K(z₁, z₂) of already transformed points, for the kind the regression uses (the Laplace
    /// kernel has one).
    pub(crate) fn transformed_matrix(
        &self,
        z1: &DMatrix<f64>,
        z2: &DMatrix<f64>,
        symmetric: bool,
    ) -> Result<DMatrix<f64>> {
        match &self.base {
            BaseKernel::Laplace => Ok(laplace(z1, z2, self.bandwidth).0),
            BaseKernel::Network { network, kind } => {
                let m = if symmetric {
                    network.gram(z1)?
                } else {
                    network.cross(z1, z2)?
                };
                Ok(match kind {
                    KernelKind::Nngp => m.nngp,
                    KernelKind::Ntk => m.ntk,
                })
            }
        }
    }

    fn matrices(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>, gram: bool) -> Result<KernelMatrices> {
        self.check_points(x1, "x1")?;
        self.check_points(x2, "x2")?;
        let z1 = self.transform(x1);
        match &self.base {
            BaseKernel::Laplace => {
                let k = if gram {
                    laplace(&z1, &z1, self.bandwidth).0
                } else {
                    laplace(&z1, &self.transform(x2), self.bandwidth).0
                };
                Ok(KernelMatrices {
                    ntk: k.clone(),
                    nngp: k,
                    cov1: DVector::from_element(x1.nrows(), 1.0),
                    cov2: DVector::from_element(x2.nrows(), 1.0),
                })
            }
            BaseKernel::Network { network, .. } => {
                if gram {
                    network.gram(&z1)
                } else {
                    network.cross(&z1, &self.transform(x2))
                }
            }
        }
    }
}

impl Kernel for MahalanobisKernel {
    fn entry(&self, x1: &[f64], x2: &[f64]) -> Result<KernelEntry> {
        let a = DMatrix::from_row_slice(1, x1.len(), x1);
        let b = DMatrix::from_row_slice(1, x2.len(), x2);
        let m = self.matrices(&a, &b, false)?;
        Ok(KernelEntry {
            nngp: m.nngp[(0, 0)],
            ntk: m.ntk[(0, 0)],
            var1: m.cov1[0],
            var2: m.cov2[0],
        })
    }

    fn cross(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>) -> Result<KernelMatrices> {
        self.matrices(x1, x2, false)
    }

    fn gram(&self, x: &DMatrix<f64>) -> Result<KernelMatrices> {
        self.matrices(x, x, true)
    }

    fn diagonal(&self, x: &DMatrix<f64>) -> Result<KernelDiagonal> {
        self.check_points(x, "x")?;
        match &self.base {
            BaseKernel::Laplace => Ok(KernelDiagonal {
                nngp: DVector::from_element(x.nrows(), 1.0),
                ntk: DVector::from_element(x.nrows(), 1.0),
            }),
            BaseKernel::Network { network, .. } => network.diagonal(&self.transform(x)),
        }
    }
}

pub(crate) fn check_bandwidth(bandwidth: f64) -> Result<()> {
    check_finite_param("bandwidth", bandwidth)?;
    if bandwidth <= 0.0 {
        return Err(invalid("bandwidth", bandwidth, "must be > 0"));
    }
    Ok(())
}

/// The symmetric square root V diag(√λ) Vᵀ of a positive semi-definite M. Eigenvalues below 0 can
/// only be rounding here (M is an AGOP, or was checked), so they are taken as 0.
fn sqrt_psd(m: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    let d = m.nrows();
    let is_diagonal = (0..d).all(|j| (0..d).all(|i| i == j || m[(i, j)] == 0.0));
    if is_diagonal {
        return Ok(DMatrix::from_diagonal(
            &m.diagonal().map(|v| v.max(0.0).sqrt()),
        ));
    }
    let (vals, v) = sym_eigen(m, "feature matrix M")?;
    let mut vs = v.clone();
    for (mut col, l) in vs.column_iter_mut().zip(vals.iter()) {
        col *= l.max(0.0).sqrt();
    }
    let mut s = vs * v.transpose();
    crate::linalg::symmetrize(&mut s);
    Ok(s)
}

/// The Laplace kernel exp(−‖z₁ᵢ − z₂ⱼ‖/L) and the distances ‖z₁ᵢ − z₂ⱼ‖ (n₁ × n₂), by direct
/// differences (not ‖a‖² + ‖b‖² − 2a·b, which loses the small distances to cancellation; identical
/// points get exactly 0), columns in parallel.
pub(crate) fn laplace(
    z1: &DMatrix<f64>,
    z2: &DMatrix<f64>,
    bandwidth: f64,
) -> (DMatrix<f64>, DMatrix<f64>) {
    let (n1, d) = z1.shape();
    let n2 = z2.nrows();
    // Points as columns, for contiguous access.
    let a = z1.transpose();
    let b = z2.transpose();
    let mut dist = DMatrix::zeros(n1, n2);
    if n1 > 0 {
        dist.as_mut_slice()
            .par_chunks_mut(n1)
            .enumerate()
            .for_each(|(j, col)| {
                let bj = &b.as_slice()[j * d..(j + 1) * d];
                for (i, out) in col.iter_mut().enumerate() {
                    let ai = &a.as_slice()[i * d..(i + 1) * d];
                    *out = ai
                        .iter()
                        .zip(bj)
                        .map(|(u, v)| (u - v) * (u - v))
                        .sum::<f64>()
                        .sqrt();
                }
            });
    }
    let k = dist.map(|r| (-r / bandwidth).exp());
    (k, dist)
}

/// A Network kernel's [`Error`] for a point where a gradient is needed, renamed for the RFM.
pub(crate) fn at_sample(e: Error, p: usize) -> Error {
    match e {
        Error::NotDifferentiable { what, reason } => Error::NotDifferentiable {
            what: format!("{what} (RFM gradient sample {p})"),
            reason,
        },
        e => e,
    }
}
