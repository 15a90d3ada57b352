//! Finite-width fully connected networks: sampling, batched forward passes, input-output Jacobians,
//! empirical NNGP/NTK kernels, Monte Carlo kernel estimates and full-batch gradient descent.
//!
//! A [`FiniteNetwork`] is drawn from the same [`Network`] spec as the analytic kernels and follows
//! neural-tangents' `stax.Dense` conventions exactly, so that its empirical kernels converge to
//! [`Kernel::gram`](crate::Kernel::gram) as the hidden widths grow:
//!
//! * `ntk` parameterization: z = σ_w/√n_in · W·h + σ_b·b with W, b ~ N(0, 1); the parameters are W, b.
//! * `standard` parameterization: z = W·h + b with W ~ N(0, σ_w²/n_in), b ~ N(0, σ_b²); the parameters
//!   are W, b themselves, so the NTK grows with the widths. The analytic kernel takes the fan-ins from
//!   the spec's `width` fields, so the hidden widths must agree with them (checked).
//!
//! The first fan-in is the input dimension d (Σ⁰ = x·x'/d). A Dense layer without bias (`b_std: None`)
//! has no bias parameters. With k outputs, kernels are averaged over the outputs (neural-tangents'
//! `trace_axes=(-1,)`): Σ̂(x, x') = f(x)·f(x')/k and Θ̂(x, x') = (1/k) Σ_o ⟨∂f_o(x)/∂θ, ∂f_o(x')/∂θ⟩.
//!
//! Everything is computed without automatic differentiation: the NTK is accumulated layer by layer
//! from backpropagated vectors δ = ∂f_o/∂z and the layer inputs h,
//! Θ̂(x, x') = (1/k) Σ_o Σ_Dense ⟨δ(x), δ(x')⟩·(a_w²⟨h(x), h(x')⟩ + a_b²), with a_w = σ_w/√n_in,
//! a_b = σ_b (ntk) or a_w = a_b = 1 (standard; a_b = 0 without bias), through matrix products over all
//! points at once.
//!
//! A finite network is a [`Kernel`](crate::Kernel) too: its `gram`, `cross`, `entry` and `diagonal`
//! are the empirical NNGP Σ̂ and NTK Θ̂ above (with the variances Σ̂(x, x) as `cov1`/`cov2`), so it can
//! stand wherever the analytic kernel does, e.g. in
//! [`GpParams::fit_points`](crate::regression::GpParams::fit_points).
//!
//! ```
//! use nalgebra::DMatrix;
//! use ntk::finite::FiniteNetwork;
//! use ntk::{Activation, Kernel, Network};
//!
//! let spec = Network::mlp(2, Activation::Relu).w_std(1.4).b_std(0.1).width(512).build()?;
//! let net = FiniteNetwork::builder(&spec, 3).seed(7).build()?;   // hidden widths from the spec
//! let x = DMatrix::from_row_slice(2, 3, &[1.0, 0.0, -1.0, 0.5, 0.5, 0.5]);
//! let f0 = net.forward(&x)?;                 // 2 × 1 outputs at initialization
//! let emp = net.gram(&x)?;                   // empirical NNGP and NTK, 2 × 2
//! let exact = spec.gram(&x)?;                // the infinite-width limit
//! let rel = (&emp.ntk - &exact.ntk).norm() / exact.ntk.norm();
//! assert!(rel < 0.5);                        // O(1/√width) fluctuations
//! let j = net.jacobian(&[1.0, 0.0, -1.0])?;  // ∂f/∂x, 1 × 3
//! assert_eq!((f0.nrows(), j.ncols()), (2, 3));
//! # Ok::<(), ntk::Error>(())
//! ```

mod hessian;
mod kernels;
mod linearity;
mod train;

pub use kernels::{
    ConfidenceInterval, EmpiricalKernels, KernelStats, MonteCarlo, MonteCarloEstimate,
};
pub use linearity::{LinearityReport, linearity_along_training};
pub use train::{
    LinearizedComparison, LossNormalization, TrainConfig, TrainReport, linearized_prediction,
};

use crate::Result;
use crate::activation::Activation;
use crate::error::{Error, invalid};
use crate::linalg::{Par, gemm};
use crate::network::{Layer, Network, Parameterization};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The output widths of the hidden Dense layers (every Dense layer but the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HiddenWidths {
    /// The `width` fields of the spec; every hidden Dense layer must have one.
    FromSpec,
    /// The same width for every hidden Dense layer. It must equal any `width` the spec gives.
    Uniform(usize),
    /// One width per hidden Dense layer, in order. Each must equal the spec's `width` where given.
    PerLayer(Vec<usize>),
}

/// One sampled Dense layer: z = w_mult·W·h + b_mult·b.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DenseParams {
    /// Raw weights, n_out × n_in.
    pub(crate) w: DMatrix<f64>,
    /// Raw bias (length n_out), absent for a layer without bias.
    pub(crate) b: Option<DVector<f64>>,
    /// σ_w/√n_in (ntk) or 1 (standard).
    pub(crate) w_mult: f64,
    /// σ_b (ntk) or 1 (standard); 0 without bias.
    pub(crate) b_mult: f64,
    /// σ_w²/n_in and σ_b² (0 without bias): the variances of the layer's outputs given its input,
    /// which integrate the readout out of the NNGP in both parameterizations.
    pub(crate) out_var: (f64, f64),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stage {
    Dense(DenseParams),
    Act(Activation),
}

/// A fully connected network of finite width with sampled parameters.
///
/// Built by [`FiniteNetwork::builder`] from a [`Network`] spec (see the
/// [module documentation](self) for the conventions), an input dimension, hidden widths, an output
/// dimension k and a seed; the same parameters always give the same network (ChaCha8 stream 0 of
/// the seed, weights drawn row by row, layer by layer, each weight matrix before its bias). Points
/// are the rows of the input matrices.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::finite::{FiniteNetwork, HiddenWidths, TrainConfig};
/// use ntk::{Activation, Network};
///
/// // A sigmoid autoencoder ℝ⁴ → ℝ⁴ with one hidden layer of width 256 (no widths in the spec).
/// let spec = Network::builder()
///     .dense(1.0, None)
///     .activation(Activation::Sigmoid)
///     .dense(1.0, None)
///     .build()?;
/// let mut net = FiniteNetwork::builder(&spec, 4)
///     .hidden(HiddenWidths::Uniform(256))
///     .output_dim(4)
///     .build()?;
/// let j0 = net.jacobian(&[0.0; 4])?;               // 4 × 4 at initialization
/// let x = DMatrix::from_row_slice(1, 4, &[0.5, -0.5, 0.2, 0.1]);
/// let report = net.train_autoencoder(&x, &TrainConfig::default())?;   // η = 1 to loss < 1e-7
/// assert!(report.converged && report.losses.last().unwrap() < &1e-7);
/// let j = net.jacobian(x.as_slice())?;             // the trained Jacobian at the example
/// assert_eq!((j0.shape(), j.shape()), ((4, 4), (4, 4)));
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FiniteNetwork {
    spec: Network,
    stages: Vec<Stage>,
    input_dim: usize,
    output_dim: usize,
}

/// What the forward pass keeps for backpropagation.
pub(crate) struct Trace {
    /// Input of every stage (n × fan-in); for activation stages it is not needed and left empty.
    pub(crate) inputs: Vec<DMatrix<f64>>,
    /// φ'(z) for activation stages (n × width); empty for Dense stages.
    pub(crate) derivs: Vec<DMatrix<f64>>,
    /// The network outputs, n × k.
    pub(crate) output: DMatrix<f64>,
}

/// The parameters of a [`FiniteNetwork`] before it is sampled: the spec and input dimension d
/// (required, given to [`FiniteNetwork::builder`]), the hidden widths (default
/// [`HiddenWidths::FromSpec`]), the output dimension k (default 1) and the seed (default 0).
///
/// As with linfa's checked hyper-parameters, nothing is sampled until the parameters have been
/// checked: [`check`](Self::check) validates them without drawing anything (the
/// [`MonteCarlo`] estimator checks once for all its networks) and [`build`](Self::build) checks,
/// then samples. Every mistake is a typed error: a zero dimension or width
/// ([`Error::InvalidParameter`]), hidden widths missing from the spec ([`Error::InvalidNetwork`]),
/// a width that disagrees with the spec's `width` or a wrong number of them
/// ([`Error::ShapeMismatch`]), and a weight matrix too large to allocate ([`Error::TooLarge`], at
/// `build`).
///
/// ```
/// use ntk::finite::{FiniteNetwork, HiddenWidths};
/// use ntk::{Activation, Error, Network};
///
/// let spec = Network::mlp(2, Activation::Tanh).w_std(1.2).build()?;   // no widths in the spec
/// let params = FiniteNetwork::builder(&spec, 3).output_dim(2).seed(11);
/// assert!(matches!(params.check(), Err(Error::InvalidNetwork(_))));    // they must be given
/// let net = params.hidden(HiddenWidths::PerLayer(vec![64, 32])).build()?;
/// assert_eq!(net.widths(), vec![64, 32, 2]);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FiniteNetworkBuilder {
    spec: Network,
    input_dim: usize,
    hidden: HiddenWidths,
    output_dim: usize,
    seed: u64,
}

impl FiniteNetworkBuilder {
    /// The hidden widths (default [`HiddenWidths::FromSpec`]).
    pub fn hidden(mut self, hidden: HiddenWidths) -> Self {
        self.hidden = hidden;
        self
    }

    /// The output dimension k, the width of the readout whatever its spec `width` (default 1): the
    /// kernels are per output, so k is free.
    pub fn output_dim(mut self, output_dim: usize) -> Self {
        self.output_dim = output_dim;
        self
    }

    /// The seed of the parameters (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the parameters without sampling (see the [type documentation](Self) for the errors).
    pub fn check(&self) -> Result<()> {
        self.widths().map(|_| ())
    }

    /// Checks the parameters and samples the network.
    pub fn build(&self) -> Result<FiniteNetwork> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        self.sample(&mut rng)
    }

    /// Output widths of every Dense layer, checked against the spec.
    fn widths(&self) -> Result<Vec<usize>> {
        resolve_widths(&self.spec, self.input_dim, &self.hidden, self.output_dim)
    }

    /// Checks the parameters and draws the network from `rng`.
    pub(crate) fn sample(&self, rng: &mut ChaCha8Rng) -> Result<FiniteNetwork> {
        let widths = self.widths()?;
        let spec = &self.spec;
        let standard = spec.parameterization() == Parameterization::Standard;
        let mut stages = Vec::with_capacity(spec.layers().len());
        let mut fan_in = self.input_dim;
        let mut dense_index = 0;
        for layer in spec.layers() {
            match layer {
                Layer::Dense(d) => {
                    let n_out = widths[dense_index];
                    dense_index += 1;
                    let scale = d.w_std / (fan_in as f64).sqrt();
                    // Row-major draw order, so the sample does not depend on nalgebra's layout.
                    let mut w = zeros(n_out, fan_in, "a weight matrix")?;
                    for i in 0..n_out {
                        for j in 0..fan_in {
                            let g: f64 = StandardNormal.sample(rng);
                            w[(i, j)] = if standard { scale * g } else { g };
                        }
                    }
                    let b = d.b_std.map(|s| {
                        DVector::from_fn(n_out, |_, _| {
                            let g: f64 = StandardNormal.sample(rng);
                            if standard { s * g } else { g }
                        })
                    });
                    let (w_mult, b_mult) = if standard {
                        (1.0, if d.b_std.is_some() { 1.0 } else { 0.0 })
                    } else {
                        (scale, d.b_std.unwrap_or(0.0))
                    };
                    let b_var = d.b_std.map_or(0.0, |s| s * s);
                    stages.push(Stage::Dense(DenseParams {
                        w,
                        b,
                        w_mult,
                        b_mult,
                        out_var: (scale * scale, b_var),
                    }));
                    fan_in = n_out;
                }
                Layer::Activation(a) => stages.push(Stage::Act(a.clone())),
            }
        }
        Ok(FiniteNetwork {
            spec: spec.clone(),
            stages,
            input_dim: self.input_dim,
            output_dim: self.output_dim,
        })
    }
}

impl FiniteNetwork {
    /// The parameters of a network drawn from `spec` for inputs of dimension `input_dim`; set the
    /// others on the returned [`FiniteNetworkBuilder`] and call
    /// [`build`](FiniteNetworkBuilder::build).
    pub fn builder(spec: &Network, input_dim: usize) -> FiniteNetworkBuilder {
        FiniteNetworkBuilder {
            spec: spec.clone(),
            input_dim,
            hidden: HiddenWidths::FromSpec,
            output_dim: 1,
            seed: 0,
        }
    }

    /// The spec the network was drawn from (its analytic kernel is the infinite-width limit).
    pub fn spec(&self) -> &Network {
        &self.spec
    }

    /// Input dimension d.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// Output dimension k.
    pub fn output_dim(&self) -> usize {
        self.output_dim
    }

    /// Output widths of all Dense layers (the hidden widths, then k).
    pub fn widths(&self) -> Vec<usize> {
        self.dense_layers().map(|d| d.w.nrows()).collect()
    }

    /// Number of trainable parameters (weights and biases).
    pub fn n_parameters(&self) -> usize {
        self.dense_layers()
            .map(|d| d.w.len() + d.b.as_ref().map_or(0, |b| b.len()))
            .sum()
    }

    /// Euclidean norm ‖θ‖ of all parameters (raw W and b, as in the parameterization).
    pub fn parameter_norm(&self) -> f64 {
        self.dense_layers()
            .map(|d| d.w.norm_squared() + d.b.as_ref().map_or(0.0, |b| b.norm_squared()))
            .sum::<f64>()
            .sqrt()
    }

    /// ‖θ_self − θ_other‖ / ‖θ_other‖: how far the parameters moved from `other` (e.g. the network at
    /// initialization). Errors if the two networks do not have the same shapes.
    pub fn relative_parameter_change(&self, other: &FiniteNetwork) -> Result<f64> {
        let same = self.stages.len() == other.stages.len()
            && self.widths() == other.widths()
            && self.input_dim == other.input_dim;
        if !same {
            return Err(Error::ShapeMismatch {
                what: "networks compared by relative_parameter_change".into(),
                expected: format!("widths {:?}, input {}", other.widths(), other.input_dim),
                found: format!("widths {:?}, input {}", self.widths(), self.input_dim),
            });
        }
        let mut diff = 0.0;
        for (a, b) in self.dense_layers().zip(other.dense_layers()) {
            diff += (&a.w - &b.w).norm_squared();
            if let (Some(x), Some(y)) = (&a.b, &b.b) {
                diff += (x - y).norm_squared();
            }
        }
        Ok(diff.sqrt() / other.parameter_norm())
    }

    /// Outputs f(x) for every row of `x` (n × d), as an n × k matrix.
    pub fn forward(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        Ok(self.trace(x, "x", Par::Global)?.output)
    }

    /// The input-output Jacobian J(x) = ∂f/∂x (k × d) at one point `x` (length d), by
    /// backpropagating the k output directions together: J = ∏ (a_w·W)·diag(φ'(z)) from the readout
    /// down.
    pub fn jacobian(&self, x: &[f64]) -> Result<DMatrix<f64>> {
        let xm = DMatrix::from_row_slice(1, x.len(), x);
        let tr = self.trace(&xm, "x", Par::Seq)?;
        // Rows are the outputs; the columns run over the units of the current layer.
        let mut g = DMatrix::<f64>::identity(self.output_dim, self.output_dim);
        for (i, stage) in self.stages.iter().enumerate().rev() {
            match stage {
                Stage::Act(_) => {
                    for (mut col, &d) in g.column_iter_mut().zip(tr.derivs[i].iter()) {
                        col *= d;
                    }
                }
                Stage::Dense(p) => {
                    let mut next = DMatrix::zeros(g.nrows(), p.w.ncols());
                    gemm(&mut next, &g, false, &p.w, false, p.w_mult, Par::Seq);
                    g = next;
                }
            }
        }
        check_output(&g, "Jacobian")?;
        Ok(g)
    }

    /// Forward pass keeping what backpropagation needs.
    pub(crate) fn trace(&self, x: &DMatrix<f64>, what: &str, par: Par) -> Result<Trace> {
        check_inputs(x, self.input_dim, what)?;
        let n_stages = self.stages.len();
        let mut inputs = Vec::with_capacity(n_stages);
        let mut derivs = Vec::with_capacity(n_stages);
        let mut h = x.clone();
        for stage in &self.stages {
            match stage {
                Stage::Dense(p) => {
                    let mut z = zeros(h.nrows(), p.w.nrows(), "the pre-activations")?;
                    gemm(&mut z, &h, false, &p.w, true, p.w_mult, par);
                    if let Some(b) = &p.b {
                        for (mut col, &bj) in z.column_iter_mut().zip(b.iter()) {
                            col.add_scalar_mut(p.b_mult * bj);
                        }
                    }
                    inputs.push(std::mem::replace(&mut h, z));
                    derivs.push(DMatrix::zeros(0, 0));
                }
                Stage::Act(a) => {
                    let mut d = zeros(h.nrows(), h.ncols(), "the activation derivatives")?;
                    for (v, dv) in h.iter_mut().zip(d.iter_mut()) {
                        let (f, fp) = a.eval_with_derivative(*v);
                        *v = f;
                        *dv = fp;
                    }
                    inputs.push(DMatrix::zeros(0, 0));
                    derivs.push(d);
                }
            }
        }
        check_output(&h, "forward pass")?;
        Ok(Trace {
            inputs,
            derivs,
            output: h,
        })
    }

    pub(crate) fn stages(&self) -> &[Stage] {
        &self.stages
    }

    pub(crate) fn stages_mut(&mut self) -> &mut [Stage] {
        &mut self.stages
    }

    fn dense_layers(&self) -> impl Iterator<Item = &DenseParams> {
        self.stages.iter().filter_map(|s| match s {
            Stage::Dense(p) => Some(p),
            Stage::Act(_) => None,
        })
    }
}

/// Output widths of every Dense layer, checked against the spec.
fn resolve_widths(
    spec: &Network,
    input_dim: usize,
    hidden: &HiddenWidths,
    output_dim: usize,
) -> Result<Vec<usize>> {
    if input_dim == 0 {
        return Err(invalid(
            "input_dim",
            0,
            "the input dimension must be at least 1",
        ));
    }
    if output_dim == 0 {
        return Err(invalid(
            "output_dim",
            0,
            "the output dimension must be at least 1",
        ));
    }
    let spec_widths: Vec<Option<usize>> = spec
        .layers()
        .iter()
        .filter_map(|l| match l {
            Layer::Dense(d) => Some(d.width),
            Layer::Activation(_) => None,
        })
        .collect();
    let n_hidden = spec_widths.len() - 1;
    let mut widths = Vec::with_capacity(n_hidden + 1);
    for (i, &from_spec) in spec_widths.iter().take(n_hidden).enumerate() {
        let given = match hidden {
            HiddenWidths::FromSpec => from_spec.ok_or_else(|| {
                Error::InvalidNetwork(format!(
                    "hidden Dense layer {i} has no `width` in the spec: give one, or set the \
                     widths with `.hidden(HiddenWidths::Uniform(..))` or `PerLayer` on the builder"
                ))
            })?,
            HiddenWidths::Uniform(w) => *w,
            HiddenWidths::PerLayer(ws) => {
                if ws.len() != n_hidden {
                    return Err(Error::ShapeMismatch {
                        what: "hidden widths (one per Dense layer except the readout)".into(),
                        expected: n_hidden.to_string(),
                        found: ws.len().to_string(),
                    });
                }
                ws[i]
            }
        };
        if given == 0 {
            return Err(invalid(
                &format!("hidden width {i}"),
                0,
                "a hidden width must be at least 1",
            ));
        }
        if let Some(w) = from_spec {
            if w != given {
                return Err(Error::ShapeMismatch {
                    what: format!(
                        "width of hidden Dense layer {i} (the spec's `width`, which the analytic \
                         kernel uses)"
                    ),
                    expected: w.to_string(),
                    found: given.to_string(),
                });
            }
        }
        widths.push(given);
    }
    widths.push(output_dim);
    Ok(widths)
}

/// Rows of `x` must have `d` finite entries, and there must be at least one row.
pub(crate) fn check_inputs(x: &DMatrix<f64>, d: usize, what: &str) -> Result<()> {
    if x.ncols() != d || x.nrows() == 0 {
        return Err(Error::ShapeMismatch {
            what: format!("{what} (one point per row)"),
            expected: format!("n × {d} with n ≥ 1"),
            found: format!("{} × {}", x.nrows(), x.ncols()),
        });
    }
    crate::linalg::check_finite_matrix(x, what)
}

/// An r × c matrix of zeros, or [`Error::TooLarge`] when it cannot be allocated.
pub(crate) fn zeros(r: usize, c: usize, what: &str) -> Result<DMatrix<f64>> {
    crate::linalg::alloc_matrix(r, c, what)
}

pub(crate) fn check_output(m: &DMatrix<f64>, what: &str) -> Result<()> {
    match m.iter().find(|v| !v.is_finite()) {
        Some(v) => Err(Error::NonFiniteOutput {
            what: what.to_string(),
            value: *v,
        }),
        None => Ok(()),
    }
}

/// A finite network at initialization is the f₀ (and J₀) of the trained-map formulas: with it,
/// [`TrainedMap`](crate::jacobian::TrainedMap) gives the NTK-limit prediction of what gradient descent
/// will make of this very network, f_∞(x) = f₀(x) + (Y − f₀(X))ᵀ K̃⁻¹ k(x), and its Jacobian
/// J_∞(x) = J₀(x) + (Y − f₀(X))ᵀ K̃⁻¹ ∂k(x)/∂x (Jiang & Pehlevan 2020, eqs. 2–3).
impl crate::jacobian::InitialFunction for FiniteNetwork {
    fn output_dim(&self) -> usize {
        self.output_dim
    }

    fn value(&self, x: &[f64]) -> Result<DVector<f64>> {
        let xm = DMatrix::from_row_slice(1, x.len(), x);
        Ok(self.forward(&xm)?.row(0).transpose())
    }

    fn jacobian(&self, x: &[f64]) -> Result<DMatrix<f64>> {
        FiniteNetwork::jacobian(self, x)
    }
}
