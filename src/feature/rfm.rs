//! Recursive Feature Machines (Radhakrishnan 2023, §5.2.2, Algorithm 1).

use super::agop::{InputJacobian, gram_of_rows};
use super::mahalanobis::{BaseKernel, MahalanobisKernel, at_sample, check_bandwidth, laplace};
use crate::error::{Error, invalid};
use crate::kernel::{Kernel, KernelDiagonal, KernelEntry, KernelMatrices};
use crate::linalg::{check_finite_matrix, check_finite_param, mul, shape_error};
use crate::regression::{KernelSolver, Regularization};
use crate::{KernelKind, Network, Result};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// The hyper-parameters of a [`Rfm`], checked once by [`RfmParams::check`] (called by
/// [`RfmParams::fit`] before any work).
///
/// | setter | meaning | default |
/// | --- | --- | --- |
/// | [`base`](Self::base) | the kernel M is put into ([`BaseKernel`]) | Laplace |
/// | [`bandwidth`](Self::bandwidth) | L of exp(−‖x − z‖_M / L), finite and > 0 | 10 |
/// | [`ridge`](Self::ridge) | λ of α = (K_M + λI)⁻¹y, finite and ≥ 0 | 0 |
/// | [`iterations`](Self::iterations) | T, the number of AGOP updates of M | 5 |
/// | [`diagonal`](Self::diagonal) | keep only the diagonal of each AGOP | false |
/// | [`centered`](Self::centered) | centre the gradients (AGOP → their covariance) | false |
/// | [`max_gradient_samples`](Self::max_gradient_samples) | the AGOP over at most this many training points (drawn without replacement), ≥ 1 | all |
/// | [`seed`](Self::seed) | of that draw | 0 |
///
/// The bandwidth 10 is the thesis's (App. D.B); the ridge defaults to none, as Algorithm 1 solves
/// with K_M⁻¹; T = 5 is the largest number of iterations of the thesis's grid searches.
///
/// ```
/// use ntk::feature::Rfm;
/// let bad = Rfm::params().bandwidth(-1.0);
/// assert!(matches!(bad.check(), Err(ntk::Error::InvalidParameter { .. })));
/// assert!(Rfm::params().ridge(1e-3).iterations(3).diagonal(true).check().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use = "call `.fit(x, y)` to train the RFM"]
pub struct RfmParams {
    base: BaseKernel,
    bandwidth: f64,
    ridge: f64,
    iterations: usize,
    diagonal: bool,
    centered: bool,
    max_gradient_samples: Option<usize>,
    seed: u64,
}

impl Default for RfmParams {
    fn default() -> Self {
        RfmParams {
            base: BaseKernel::Laplace,
            bandwidth: 10.0,
            ridge: 0.0,
            iterations: 5,
            diagonal: false,
            centered: false,
            max_gradient_samples: None,
            seed: 0,
        }
    }
}

impl RfmParams {
    /// The kernel M is put into (default [`BaseKernel::Laplace`]).
    pub fn base(mut self, base: BaseKernel) -> Self {
        self.base = base;
        self
    }

    /// A network kernel on M^{1/2}x ([`BaseKernel::Network`]): the NTK or NNGP variant of the RFM.
    pub fn network(self, network: &Network, kind: KernelKind) -> Self {
        self.base(BaseKernel::Network {
            network: network.clone(),
            kind,
        })
    }

    /// The bandwidth L of the Laplace kernel (default 10).
    pub fn bandwidth(mut self, bandwidth: f64) -> Self {
        self.bandwidth = bandwidth;
        self
    }

    /// The absolute ridge λ (default 0).
    pub fn ridge(mut self, ridge: f64) -> Self {
        self.ridge = ridge;
        self
    }

    /// The number T of feature-matrix updates (default 5); T = 0 is plain kernel regression with
    /// M = I.
    pub fn iterations(mut self, iterations: usize) -> Self {
        self.iterations = iterations;
        self
    }

    /// Whether M keeps only the diagonal of each AGOP (default false).
    pub fn diagonal(mut self, diagonal: bool) -> Self {
        self.diagonal = diagonal;
        self
    }

    /// Whether the gradients are centred before their outer products are averaged (default
    /// false).
    pub fn centered(mut self, centered: bool) -> Self {
        self.centered = centered;
        self
    }

    /// The AGOP over at most this many training points, drawn without replacement with
    /// [`seed`](Self::seed) (default: all of them).
    pub fn max_gradient_samples(mut self, max: Option<usize>) -> Self {
        self.max_gradient_samples = max;
        self
    }

    /// The seed of the gradient-sample draw (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Fails with [`Error::InvalidParameter`] for a bandwidth that is not finite and > 0, a ridge
    /// that is not finite and ≥ 0, or a cap of 0 gradient samples.
    pub fn check(&self) -> Result<()> {
        check_bandwidth(self.bandwidth)?;
        check_finite_param("ridge", self.ridge)?;
        if self.ridge < 0.0 {
            return Err(invalid("ridge", self.ridge, "must be ≥ 0"));
        }
        if self.max_gradient_samples == Some(0) {
            return Err(invalid(
                "max_gradient_samples",
                0,
                "the AGOP needs at least one gradient sample (None for all training points)",
            ));
        }
        Ok(())
    }

    /// Checks the parameters and runs Algorithm 1 on the training points `x` (n × d, rows) and
    /// targets `y` (n × k; one column per output, e.g. one-hot classes):
    ///
    /// M ← I; T times: α ← (K_M(X, X) + λI)⁻¹ y, M ← AGOP of f = Σᵢ αᵢ K_M(xᵢ, ·) over the
    /// training points (the diagonal only, centred, sub-sampled, as set); then a last
    /// α ← (K_M(X, X) + λI)⁻¹ y with the final M, so the fitted predictor uses the M it reports.
    ///
    /// For the Laplace kernel, ∇f(x) = −(1/L) Σᵢ αᵢ K_M(xᵢ, x) M(x − xᵢ)/‖x − xᵢ‖_M, with the
    /// terms where ‖x − xᵢ‖_M = 0 taken as 0: at a training point x = xⱼ the kernel has a cusp
    /// (no gradient), and its own term is left out. Network kernels leave out the same terms,
    /// and give ∇f(x) = M^{1/2} Σᵢ αᵢ ∇_z K(zᵢ, z) at z = M^{1/2}x.
    pub fn fit(&self, x: &DMatrix<f64>, y: &DMatrix<f64>) -> Result<Rfm> {
        self.check()?;
        let (n, d) = x.shape();
        if n == 0 || d == 0 {
            return Err(shape_error(
                "RFM training points (rows)",
                "at least one point with at least one feature".into(),
                x.shape(),
            ));
        }
        check_finite_matrix(x, "RFM training points")?;
        if y.nrows() != n || y.ncols() == 0 {
            return Err(shape_error(
                "RFM training targets",
                format!("{n} × k with k ≥ 1 (one row per training point)"),
                y.shape(),
            ));
        }
        check_finite_matrix(y, "RFM training targets")?;
        let samples = self.gradient_samples(n);
        let mut kernel = MahalanobisKernel::from_psd(
            self.base.clone(),
            self.bandwidth,
            DMatrix::identity(d, d),
        )?;
        let mut history = Vec::with_capacity(self.iterations);
        for _ in 0..self.iterations {
            let (alpha, z) = self.solve(&kernel, x, y)?;
            let zs = z.select_rows(&samples);
            let stacked = gradients(&kernel, &z, &alpha, &zs, Some(&samples))?;
            let mut m = gram_of_rows(stacked, samples.len(), y.ncols(), self.centered);
            if self.diagonal {
                m = DMatrix::from_diagonal(&m.diagonal());
            }
            history.push(m.clone());
            kernel = MahalanobisKernel::from_psd(self.base.clone(), self.bandwidth, m)?;
        }
        let (alpha, _) = self.solve(&kernel, x, y)?;
        Ok(Rfm {
            kernel,
            x_train: x.clone(),
            alpha,
            history,
        })
    }

    /// α = (K_M(X, X) + λI)⁻¹ y, and the transformed training points Z = X M^{1/2}.
    fn solve(
        &self,
        kernel: &MahalanobisKernel,
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
    ) -> Result<(DMatrix<f64>, DMatrix<f64>)> {
        let z = kernel.transform(x);
        let k = kernel.transformed_matrix(&z, &z, true)?;
        let solver = KernelSolver::params()
            .regularization(Regularization::Absolute(self.ridge))
            .fit_named(&k, "RFM train kernel K_M(X, X)")?;
        Ok((solver.solve(y)?, z))
    }

    /// The indices of the gradient samples (sorted): all points, or a seeded draw without
    /// replacement.
    fn gradient_samples(&self, n: usize) -> Vec<usize> {
        match self.max_gradient_samples {
            Some(m) if m < n => {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                let mut idx = rand::seq::index::sample(&mut rng, n, m).into_vec();
                idx.sort_unstable();
                idx
            }
            _ => (0..n).collect(),
        }
    }
}

/// The Jacobians of f = Σᵢ αᵢ K_M(xᵢ, ·) (k outputs) at the transformed points `zs` (rows), with
/// respect to x, stacked as rows (row p·k + o is ∂f_o/∂x at point p); terms with zero distance are
/// left out (see [`RfmParams::fit`]). `own` names the training index of each point, if any, for
/// error messages.
fn gradients(
    kernel: &MahalanobisKernel,
    z: &DMatrix<f64>,
    alpha: &DMatrix<f64>,
    zs: &DMatrix<f64>,
    own: Option<&[usize]>,
) -> Result<DMatrix<f64>> {
    let (ns, d) = zs.shape();
    let k = alpha.ncols();
    let mut stacked_z = DMatrix::zeros(ns * k, d);
    match kernel.base() {
        BaseKernel::Laplace => {
            // ∇_z f(z_p) = −(1/L) Σᵢ αᵢ K_pi (z_p − zᵢ)/r_pi = −(1/L) (z_p Σᵢ w_pi − Σᵢ w_pi zᵢ),
            // w_pi = αᵢ K_pi / r_pi (0 where r_pi = 0): one n_s × n product per output.
            let (kmat, dist) = laplace(zs, z, kernel.bandwidth());
            let scale = -1.0 / kernel.bandwidth();
            for o in 0..k {
                let mut w = kmat.clone();
                for (j, mut col) in w.column_iter_mut().enumerate() {
                    let a = alpha[(j, o)];
                    for (p, v) in col.iter_mut().enumerate() {
                        let r = dist[(p, j)];
                        *v = if r > 0.0 { a * *v / r } else { 0.0 };
                    }
                }
                let row_sums = w.column_sum();
                let wz = mul(&w, z);
                for p in 0..ns {
                    for c in 0..d {
                        stacked_z[(p * k + o, c)] = scale * (zs[(p, c)] * row_sums[p] - wz[(p, c)]);
                    }
                }
            }
        }
        BaseKernel::Network { network, kind } => {
            let rows: Vec<DMatrix<f64>> = (0..ns)
                .into_par_iter()
                .map(|p| {
                    let zp: Vec<f64> = zs.row(p).iter().copied().collect();
                    // The training points other than z_p itself.
                    let keep: Vec<usize> =
                        (0..z.nrows()).filter(|&i| z.row(i) != zs.row(p)).collect();
                    if keep.is_empty() {
                        return Ok(DMatrix::zeros(k, d));
                    }
                    let kj = network
                        .kernel_jacobian(&z.select_rows(&keep), &zp, *kind)
                        .map_err(|e| at_sample(e, own.map_or(p, |o| o[p])))?;
                    Ok(alpha.select_rows(&keep).tr_mul(&kj.jacobian))
                })
                .collect::<Result<_>>()?;
            for (p, j) in rows.iter().enumerate() {
                stacked_z.view_mut((p * k, 0), (k, d)).copy_from(j);
            }
        }
    }
    // ∇ₓf = M^{1/2} ∇_z f; as rows, (∇_z f)ᵀ M^{1/2}.
    Ok(mul(&stacked_z, kernel.sqrt_feature_matrix()))
}

/// A fitted Recursive Feature Machine: the feature matrix M, the kernel K_M and the coefficients
/// α of the predictor f(x) = Σᵢ αᵢ K_M(xᵢ, x) (Radhakrishnan 2023, Algorithm 1). Built by
/// [`Rfm::params`]`()…fit(x, y)`.
///
/// It is a [`Kernel`] (that of its [`MahalanobisKernel`]: for the Laplace kernel both the NNGP and
/// the NTK matrix are K_M), so the regression API can use the learned kernel, and an
/// [`InputJacobian`], so [`agop`](super::agop()) applies to it.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::feature::Rfm;
/// // y = x₀ on 40 points of ℝ³: the learned M concentrates on the first coordinate.
/// let x = DMatrix::from_fn(40, 3, |i, j| ((i * 7 + j * 13) % 11) as f64 / 5.0 - 1.0);
/// let y = DMatrix::from_fn(40, 1, |i, _| x[(i, 0)]);
/// let rfm = Rfm::params().iterations(2).ridge(1e-3).fit(&x, &y)?;
/// let m = rfm.feature_matrix();
/// assert!(m[(0, 0)] > 10.0 * m[(1, 1)].max(m[(2, 2)]));
/// let pred = rfm.predict(&x)?;
/// assert!((pred - y).amax() < 0.05);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Rfm {
    kernel: MahalanobisKernel,
    x_train: DMatrix<f64>,
    alpha: DMatrix<f64>,
    history: Vec<DMatrix<f64>>,
}

impl Rfm {
    /// The hyper-parameters at their defaults (see [`RfmParams`]).
    pub fn params() -> RfmParams {
        RfmParams::default()
    }

    /// f(x) = Σᵢ αᵢ K_M(xᵢ, x) at every row of `x` (m × d), as m × k.
    pub fn predict(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        if x.ncols() != self.input_dim() {
            return Err(shape_error(
                "RFM test points (rows)",
                format!("m × {}", self.input_dim()),
                x.shape(),
            ));
        }
        check_finite_matrix(x, "RFM test points")?;
        let zt = self.kernel.transform(x);
        let z = self.kernel.transform(&self.x_train);
        let k = self.kernel.transformed_matrix(&zt, &z, false)?;
        Ok(mul(&k, &self.alpha))
    }

    /// The learned feature matrix M (d × d; I when T = 0).
    pub fn feature_matrix(&self) -> &DMatrix<f64> {
        self.kernel.feature_matrix()
    }

    /// M after each of the T iterations (the last is [`Rfm::feature_matrix`]).
    pub fn history(&self) -> &[DMatrix<f64>] {
        &self.history
    }

    /// The number T of feature-matrix updates that were made.
    pub fn iterations(&self) -> usize {
        self.history.len()
    }

    /// The learned kernel K_M.
    pub fn kernel(&self) -> &MahalanobisKernel {
        &self.kernel
    }

    /// The coefficients α (n × k) of the final predictor.
    pub fn coefficients(&self) -> &DMatrix<f64> {
        &self.alpha
    }

    /// The training points.
    pub fn x_train(&self) -> &DMatrix<f64> {
        &self.x_train
    }

    /// The input dimension d.
    pub fn input_dim(&self) -> usize {
        self.x_train.ncols()
    }
}

impl InputJacobian for Rfm {
    fn input_dim(&self) -> usize {
        Rfm::input_dim(self)
    }

    /// J(x) of the predictor, with the terms of training points at M-distance 0 from x left out
    /// (see [`RfmParams::fit`]).
    fn input_jacobian(&self, x: &[f64]) -> Result<DMatrix<f64>> {
        if x.len() != self.input_dim() {
            return Err(Error::ShapeMismatch {
                what: "point".into(),
                expected: format!("length {}", self.input_dim()),
                found: format!("length {}", x.len()),
            });
        }
        crate::linalg::check_finite_slice(x, "point")?;
        let xm = DMatrix::from_row_slice(1, x.len(), x);
        let z = self.kernel.transform(&self.x_train);
        gradients(
            &self.kernel,
            &z,
            &self.alpha,
            &self.kernel.transform(&xm),
            None,
        )
    }
}

impl Kernel for Rfm {
    fn entry(&self, x1: &[f64], x2: &[f64]) -> Result<KernelEntry> {
        self.kernel.entry(x1, x2)
    }

    fn cross(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>) -> Result<KernelMatrices> {
        self.kernel.cross(x1, x2)
    }

    fn gram(&self, x: &DMatrix<f64>) -> Result<KernelMatrices> {
        self.kernel.gram(x)
    }

    fn diagonal(&self, x: &DMatrix<f64>) -> Result<KernelDiagonal> {
        self.kernel.diagonal(x)
    }
}
