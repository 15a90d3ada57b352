//! The average gradient outer product (AGOP) of a differentiable predictor, and the measures that
//! compare it with a neural feature matrix.
//!
//! For f: ℝᵈ → ℝᵏ with input Jacobian J(x) (k × d) and sample points x₁, …, xₙ,
//!
//! G = (1/n) Σₚ J(xₚ)ᵀ J(xₚ)   (d × d),
//!
//! the gradient outer product ∇f∇fᵀ of Radhakrishnan (2023), §5.1, summed over the k outputs (the
//! Jacobian Gram of its footnote 1). With centred gradients (its footnote 2) the mean Jacobian
//! J̄ = (1/n)Σₚ J(xₚ) is subtracted first, G = (1/n) Σₚ (J(xₚ) − J̄)ᵀ(J(xₚ) − J̄): a covariance.

use crate::error::Error;
use crate::finite::FiniteNetwork;
use crate::jacobian::TrainedMap;
use crate::linalg::{check_finite_matrix, tr_mul};
use crate::regression::GpInference;
use crate::{KernelKind, Network, Result};
use nalgebra::DMatrix;
use rayon::prelude::*;

/// A predictor f: ℝᵈ → ℝᵏ with an input Jacobian, whose AGOP [`agop`] computes.
///
/// Implemented by [`FiniteNetwork`] (backpropagation), [`TrainedMap`] (exact kernel gradients),
/// [`GpPredictor`] (the posterior mean of a fitted [`GpInference`]) and
/// [`Rfm`](super::Rfm) (the fitted Recursive Feature Machine).
pub trait InputJacobian: Sync {
    /// The input dimension d.
    fn input_dim(&self) -> usize;
    /// J(x) = ∂f/∂x (k × d) at one point x (length d).
    fn input_jacobian(&self, x: &[f64]) -> Result<DMatrix<f64>>;
}

impl InputJacobian for FiniteNetwork {
    fn input_dim(&self) -> usize {
        FiniteNetwork::input_dim(self)
    }

    fn input_jacobian(&self, x: &[f64]) -> Result<DMatrix<f64>> {
        self.jacobian(x)
    }
}

impl InputJacobian for TrainedMap {
    fn input_dim(&self) -> usize {
        TrainedMap::input_dim(self)
    }

    fn input_jacobian(&self, x: &[f64]) -> Result<DMatrix<f64>> {
        self.jacobian(x)
    }
}

/// The posterior mean f(x) = k(x)ᵀ K_reg⁻¹ Y of a [`GpInference`] fitted by
/// [`GpParams::fit_points`](crate::regression::GpParams::fit_points) with the kernel of `network`,
/// for the NNGP or the NTK, as a differentiable predictor: J(x) = Yᵀ K_reg⁻¹ ∂k(x)/∂x, with the
/// exact kernel gradients of [`Network::kernel_jacobian`].
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::feature::{GpPredictor, agop};
/// use ntk::{Activation, GpInference, KernelKind, Network};
/// let net = Network::mlp(1, Activation::Erf { a: 1.0, b: 1.0, c: 0.0 }).build()?;
/// let x = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, -1.0, 0.5]);
/// let y = DMatrix::from_row_slice(3, 1, &[1.0, -1.0, 0.5]);
/// let gp = GpInference::params().fit_points(&net, &x, &y)?;
/// let g = agop(&GpPredictor::new(&gp, &net, KernelKind::Nngp)?, &x, false)?;
/// assert_eq!(g.shape(), (2, 2));
/// # Ok::<(), ntk::Error>(())
/// ```
pub struct GpPredictor<'a> {
    network: &'a Network,
    kind: KernelKind,
    x_train: &'a DMatrix<f64>,
    coef: DMatrix<f64>,
}

impl<'a> GpPredictor<'a> {
    /// The mean of `gp` with the kernel `kind` of `network` (the network it was fitted with). Fails
    /// if `gp` was fitted from matrices (it then does not know its training points).
    pub fn new(gp: &'a GpInference, network: &'a Network, kind: KernelKind) -> Result<Self> {
        let x_train = gp.x_train().ok_or_else(|| {
            crate::error::invalid(
                "gp",
                "fitted from kernel matrices",
                "a GpPredictor needs a model fitted by GpParams::fit_points (it needs the training \
                 points)",
            )
        })?;
        Ok(GpPredictor {
            network,
            kind,
            x_train,
            coef: gp.coefficients(kind),
        })
    }
}

impl InputJacobian for GpPredictor<'_> {
    fn input_dim(&self) -> usize {
        self.x_train.ncols()
    }

    fn input_jacobian(&self, x: &[f64]) -> Result<DMatrix<f64>> {
        let kj = self.network.kernel_jacobian(self.x_train, x, self.kind)?;
        Ok(tr_mul(&self.coef, &kj.jacobian))
    }
}

/// The AGOP G = (1/n) Σₚ J(xₚ)ᵀJ(xₚ) of `f` over the rows of `x` (n × d), or with `centered` the
/// covariance of the Jacobians (see the [module docs](self)). Jacobians are evaluated in parallel.
/// Fails on bad shapes or non-finite points, and with the predictor's own error where it has no
/// Jacobian (e.g. [`Error::NotDifferentiable`] for the ReLU NTK at a training point).
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::feature::agop;
/// use ntk::finite::FiniteNetwork;
/// use ntk::{Activation, Network};
/// // A linear network f(x) = βᵀx has ∇f = β everywhere, so G = ββᵀ (seed 002, Prop. 12).
/// let spec = Network::builder().dense(1.0, None).build()?;
/// let mut net = FiniteNetwork::builder(&spec, 2).build()?;
/// net.set_dense_weights(0, DMatrix::from_row_slice(1, 2, &[3.0, -4.0]))?;
/// let beta = DMatrix::from_row_slice(2, 1, &[3.0, -4.0]) * net.weight_multiplier(0)?;
/// let x = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, -0.5, 0.3]);
/// let g = agop(&net, &x, false)?;
/// assert!((g - &beta * beta.transpose()).amax() < 1e-14);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn agop(f: &impl InputJacobian, x: &DMatrix<f64>, centered: bool) -> Result<DMatrix<f64>> {
    let d = f.input_dim();
    if x.ncols() != d || x.nrows() == 0 {
        return Err(Error::ShapeMismatch {
            what: "AGOP sample points (one per row)".into(),
            expected: format!("n × {d} with n ≥ 1"),
            found: format!("{} × {}", x.nrows(), x.ncols()),
        });
    }
    check_finite_matrix(x, "AGOP sample points")?;
    let jacobians: Vec<DMatrix<f64>> = (0..x.nrows())
        .into_par_iter()
        .map(|p| {
            let xp: Vec<f64> = x.row(p).iter().copied().collect();
            f.input_jacobian(&xp)
        })
        .collect::<Result<_>>()?;
    // Stack the Jacobians into one (n·k) × d matrix, so that G is one product.
    let k = jacobians[0].nrows();
    let n = jacobians.len();
    let mut stacked = DMatrix::zeros(n * k, d);
    for (p, j) in jacobians.iter().enumerate() {
        if j.shape() != (k, d) {
            return Err(Error::ShapeMismatch {
                what: format!("input Jacobian at sample {p}"),
                expected: format!("{k} × {d}"),
                found: format!("{} × {}", j.nrows(), j.ncols()),
            });
        }
        stacked.view_mut((p * k, 0), (k, d)).copy_from(j);
    }
    Ok(gram_of_rows(stacked, n, k, centered))
}

/// (1/n) Σₚ JₚᵀJₚ from the Jacobians stacked as rows (row p·k + o is output o at sample p),
/// centred (the mean Jacobian subtracted) when asked.
pub(crate) fn gram_of_rows(
    mut stacked: DMatrix<f64>,
    n: usize,
    k: usize,
    centered: bool,
) -> DMatrix<f64> {
    if centered {
        for o in 0..k {
            for c in 0..stacked.ncols() {
                let mean = (0..n).map(|p| stacked[(p * k + o, c)]).sum::<f64>() / n as f64;
                for p in 0..n {
                    stacked[(p * k + o, c)] -= mean;
                }
            }
        }
    }
    let mut g = tr_mul(&stacked, &stacked) / n as f64;
    crate::linalg::symmetrize(&mut g);
    g
}

/// The Pearson correlation of the entries of two matrices of the same shape (the measure of
/// Radhakrishnan 2023, Fig. 5-2, between a neural feature matrix and an AGOP): the cosine of the
/// two after each has its mean entry subtracted. Fails on different shapes or a constant matrix.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::feature::correlation;
/// let a = DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 1.0, 3.0]);
/// assert!((correlation(&a, &(&a * 5.0))? - 1.0).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn correlation(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<f64> {
    same_shape(a, b)?;
    let ca = a.add_scalar(-a.mean());
    let cb = b.add_scalar(-b.mean());
    cosine_similarity(&ca, &cb)
}

/// ⟨A, B⟩_F / (‖A‖_F ‖B‖_F), the cosine of two matrices as vectors. Fails on different shapes or a
/// zero matrix.
pub fn cosine_similarity(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<f64> {
    same_shape(a, b)?;
    let (na, nb) = (a.norm(), b.norm());
    if na == 0.0 || nb == 0.0 {
        return Err(crate::error::invalid(
            "matrix",
            "constant",
            "a correlation needs two matrices whose (centred) entries are not all zero",
        ));
    }
    Ok(a.dot(b) / (na * nb))
}

fn same_shape(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<()> {
    if a.shape() != b.shape() {
        return Err(Error::ShapeMismatch {
            what: "matrices compared".into(),
            expected: format!("{} × {}", a.nrows(), a.ncols()),
            found: format!("{} × {}", b.nrows(), b.ncols()),
        });
    }
    Ok(())
}
