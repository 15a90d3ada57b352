//! Finite-width networks: sampling, batched forward passes, input-output Jacobians, empirical
//! NNGP/NTK kernels, Monte Carlo kernel estimates and full-batch gradient descent, for fully
//! connected networks and for every other layer of the spec grammar (convolutions, pooling,
//! flatten, layer norm, residual blocks; see [Image networks](#image-networks) below).
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
//!
//! # Image networks
//!
//! Specs with convolutions, `avg_pool`, `global_avg_pool`, `flatten`, `layer_norm`, residual
//! blocks, or dense layers on images give finite networks with neural-tangents' `stax`
//! conventions (details in `docs/finite.md`):
//!
//! * inputs are the rows of x, flattened channels-last tensors of the spec's `input_shape`
//!   (index (h·W + w)·C + c); `input_dim` must be its product. Without `input_shape` (layer norm or
//!   residual blocks on vectors) the input is a vector of `input_dim` features;
//! * conv: z(o) = a_w Σ_{taps t, channels c} W_{k,(t,c)} x_c(j(o, t)) + a_b b_k, with the fan-in
//!   C_in·F (F the filter size) in a_w = σ_w/√(C_in·F) (ntk) or in the variance of W (standard),
//!   one bias per output channel shared by all positions, and the taps j(o, t) of the analytic
//!   kernel (TensorFlow's "same" split, circular wrap, zeros outside for "same");
//! * dense on an image: the same map per pixel, over the channels (a 1 × 1 convolution);
//! * avg_pool: the window's sum divided by its full size, per channel; global_avg_pool: the mean
//!   over pixels; flatten: all values as one vector;
//! * layer_norm: per pixel, (x − mean)/√(ε + var) over the channels (ε = 1e-12 by default);
//! * residual: x + branch(x).
//!
//! Backpropagation goes through every layer, so the empirical NTK (from per-input parameter
//! gradients, one #parameters × n matrix per layer at a time), [`FiniteNetwork::jacobian`] and
//! training all work; the hidden channels come from the spec's `channels`/`width` or
//! [`HiddenWidths`], and the readout (the last dense or conv layer) has width k.
//!
//! ```
//! use nalgebra::DMatrix;
//! use ntk::finite::FiniteNetwork;
//! use ntk::{Kernel, Network};
//!
//! let spec = Network::from_json(r#"{"input_shape": [4, 4, 1], "layers": [
//!     {"conv": {"w_std": 1.4, "b_std": 0.1, "channels": 128, "filter_shape": [3, 3]}},
//!     {"relu": {}}, {"global_avg_pool": {}}, {"dense": {"w_std": 1.4}}]}"#)?;
//! let net = FiniteNetwork::builder(&spec, 16).seed(1).build()?;   // 16 = 4·4·1
//! let x = DMatrix::from_fn(2, 16, |i, j| ((3 * i + j) as f64).sin());
//! let (emp, exact) = (net.gram(&x)?, spec.gram(&x)?);
//! assert!((emp.ntk[(0, 1)] - exact.ntk[(0, 1)]).abs() < 0.5 * exact.ntk[(0, 0)]);
//! let j = net.jacobian(&x.row(0).iter().copied().collect::<Vec<_>>())?;
//! assert_eq!(j.shape(), (1, 16));
//! # Ok::<(), ntk::Error>(())
//! ```

mod hessian;
mod image;
mod image_kernels;
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

/// The output widths of the hidden Dense layers (every Dense layer but the last). In networks
/// with convolutions: the output channels of every dense and conv layer but the readout (the last
/// one), depth-first through residual blocks; a spec's `channels` counts as its `width`, and the
/// last affine layer of a residual branch must give back its block's channels (it may be left
/// out of the spec, where it is implied).
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

/// A network of finite width with sampled parameters (fully connected, or with any layer of the
/// spec grammar: see [Image networks](self#image-networks)).
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
    /// Networks with convolutions, pooling, flatten, layer norm or residual blocks (no `stages`).
    image: Option<image::ImageNet>,
}

/// What the forward pass keeps for backpropagation.
pub(crate) struct Trace {
    /// Input of every stage (n × fan-in); for activation stages it is not needed and left empty.
    pub(crate) inputs: Vec<DMatrix<f64>>,
    /// φ'(z) for activation stages (n × width); empty for Dense stages.
    pub(crate) derivs: Vec<DMatrix<f64>>,
    /// The network outputs, n × k.
    pub(crate) output: DMatrix<f64>,
    /// What an image network keeps instead of `inputs` and `derivs`.
    pub(crate) image: Option<image::ImageTrace>,
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
        if !self.spec.is_fully_connected() {
            let net = image::ImageNet::compile(self)?;
            return Ok(net.affines().iter().map(|a| a.c_out).collect());
        }
        resolve_widths(&self.spec, self.input_dim, &self.hidden, self.output_dim)
    }

    /// Checks the parameters and draws the network from `rng`.
    pub(crate) fn sample(&self, rng: &mut ChaCha8Rng) -> Result<FiniteNetwork> {
        if !self.spec.is_fully_connected() {
            let net = image::ImageNet::sample(self, rng)?;
            return Ok(FiniteNetwork {
                spec: self.spec.clone(),
                stages: vec![],
                input_dim: self.input_dim,
                output_dim: net.output_dim,
                image: Some(net),
            });
        }
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
                // `widths` has rejected every other layer.
                other => {
                    return Err(spec
                        .plan("a finite-width network")
                        .err()
                        .unwrap_or_else(|| {
                            Error::InvalidNetwork(format!(
                                "{} in a fully connected network",
                                other.name()
                            ))
                        }));
                }
            }
        }
        Ok(FiniteNetwork {
            spec: spec.clone(),
            stages,
            input_dim: self.input_dim,
            output_dim: self.output_dim,
            image: None,
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

    /// Output widths of all Dense layers (the hidden widths, then k); for networks with
    /// convolutions, the output channels of every dense and conv layer, depth-first through
    /// residual blocks.
    pub fn widths(&self) -> Vec<usize> {
        self.affine_parameters()
            .iter()
            .map(|(w, _)| w.nrows())
            .collect()
    }

    /// Number of trainable parameters (weights and biases).
    pub fn n_parameters(&self) -> usize {
        self.affine_parameters()
            .iter()
            .map(|(w, b)| w.len() + b.map_or(0, |b| b.len()))
            .sum()
    }

    /// Euclidean norm ‖θ‖ of all parameters (raw W and b, as in the parameterization).
    pub fn parameter_norm(&self) -> f64 {
        self.affine_parameters()
            .iter()
            .map(|(w, b)| w.norm_squared() + b.map_or(0.0, |b| b.norm_squared()))
            .sum::<f64>()
            .sqrt()
    }

    /// ‖θ_self − θ_other‖ / ‖θ_other‖: how far the parameters moved from `other` (e.g. the network at
    /// initialization). Errors if the two networks do not have the same shapes.
    pub fn relative_parameter_change(&self, other: &FiniteNetwork) -> Result<f64> {
        let shapes = |n: &FiniteNetwork| -> Vec<(usize, usize)> {
            n.affine_parameters()
                .iter()
                .map(|(w, _)| w.shape())
                .collect()
        };
        let same = self.stages.len() == other.stages.len()
            && shapes(self) == shapes(other)
            && self.input_dim == other.input_dim;
        if !same {
            return Err(Error::ShapeMismatch {
                what: "networks compared by relative_parameter_change".into(),
                expected: format!("widths {:?}, input {}", other.widths(), other.input_dim),
                found: format!("widths {:?}, input {}", self.widths(), self.input_dim),
            });
        }
        let mut diff = 0.0;
        for ((wa, ba), (wb, bb)) in self
            .affine_parameters()
            .into_iter()
            .zip(other.affine_parameters())
        {
            diff += (wa - wb).norm_squared();
            if let (Some(x), Some(y)) = (ba, bb) {
                diff += (x - y).norm_squared();
            }
        }
        Ok(diff.sqrt() / other.parameter_norm())
    }

    /// The raw weight matrix W (n_out × n_in) of Dense layer `layer` (0 = the first Dense layer),
    /// as stored: the layer computes z = a_w·W·h + a_b·b with a_w = σ_w/√n_in in the `ntk`
    /// parameterization and a_w = 1 in the `standard` one ([`FiniteNetwork::weight_multiplier`]).
    pub fn dense_weights(&self, layer: usize) -> Result<&DMatrix<f64>> {
        Ok(&self.dense(layer)?.w)
    }

    /// a_w of Dense layer `layer`: its effective weights are a_w·W.
    pub fn weight_multiplier(&self, layer: usize) -> Result<f64> {
        Ok(self.dense(layer)?.w_mult)
    }

    /// Replaces the raw weights W of Dense layer `layer` (same shape, finite), e.g. W = 0 for the
    /// zero initialization of Radhakrishnan (2023), Props. 9–10.
    pub fn set_dense_weights(&mut self, layer: usize, w: DMatrix<f64>) -> Result<()> {
        let shape = self.dense(layer)?.w.shape();
        crate::linalg::check_shape(&w, shape, "dense layer weights")?;
        crate::linalg::check_finite_matrix(&w, "dense layer weights")?;
        // `dense` found the layer, so the iterator reaches it.
        if let Some(p) = self
            .stages
            .iter_mut()
            .filter_map(|s| match s {
                Stage::Dense(p) => Some(p),
                Stage::Act(_) => None,
            })
            .nth(layer)
        {
            p.w = w;
        }
        Ok(())
    }

    /// The first-layer neural feature matrix (NFM) W₁ᵀW₁ (d × d) of Radhakrishnan (2023), §5.1, of
    /// the effective weights W₁ = a_w·(W − W⁽⁰⁾): with `initial = Some(net₀)` the weights of the
    /// network at initialization are subtracted first, as the thesis does for trained networks
    /// (Fig. 5-2 caption), so that the random initialization does not mask what was learned.
    /// The Deep Neural Feature Ansatz says it is proportional to the AGOP
    /// ([`agop`](crate::feature::agop())) of the trained network.
    ///
    /// ```
    /// use ntk::finite::{FiniteNetwork, HiddenWidths};
    /// use ntk::{Activation, Network};
    /// let spec = Network::mlp(1, Activation::Relu).build()?;
    /// let net = FiniteNetwork::builder(&spec, 3).hidden(HiddenWidths::Uniform(4)).build()?;
    /// let nfm = net.neural_feature_matrix(None)?;
    /// let w = net.dense_weights(0)?.clone() * net.weight_multiplier(0)?;
    /// assert!((nfm - w.transpose() * w).amax() < 1e-14);
    /// assert_eq!(net.neural_feature_matrix(Some(&net))?.amax(), 0.0);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn neural_feature_matrix(&self, initial: Option<&FiniteNetwork>) -> Result<DMatrix<f64>> {
        let p = self.dense(0)?;
        let mut w = p.w.clone();
        if let Some(init) = initial {
            let w0 = &init.dense(0)?.w;
            crate::linalg::check_shape(w0, w.shape(), "first-layer weights at initialization")?;
            w -= w0;
        }
        w *= p.w_mult;
        let mut out = DMatrix::zeros(w.ncols(), w.ncols());
        gemm(&mut out, &w, true, &w, false, 1.0, Par::Global);
        Ok(out)
    }

    fn dense(&self, layer: usize) -> Result<&DenseParams> {
        self.require_fully_connected("access to the Dense-layer weights")?;
        let n = self.widths().len();
        let mut dense = self.stages.iter().filter_map(|s| match s {
            Stage::Dense(p) => Some(p),
            Stage::Act(_) => None,
        });
        dense.nth(layer).ok_or_else(|| {
            invalid(
                "layer",
                layer,
                &format!("the network has {n} Dense layers (indices 0 to {})", n - 1),
            )
        })
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
        if let (Some(net), Some(t)) = (&self.image, &tr.image) {
            return net.jacobian(t);
        }
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
        if let Some(net) = &self.image {
            let t = net.trace(x, par)?;
            let output = t.output.transpose();
            check_output(&output, "forward pass")?;
            return Ok(Trace {
                inputs: vec![],
                derivs: vec![],
                output,
                image: Some(t),
            });
        }
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
            image: None,
        })
    }

    pub(crate) fn stages(&self) -> &[Stage] {
        &self.stages
    }

    pub(crate) fn stages_mut(&mut self) -> &mut [Stage] {
        &mut self.stages
    }

    /// The weights and biases of every affine layer, in order.
    pub(crate) fn affine_parameters(&self) -> Vec<(&DMatrix<f64>, Option<&DVector<f64>>)> {
        match &self.image {
            Some(net) => net
                .affines()
                .into_iter()
                .map(|a| (&a.w, a.b.as_ref()))
                .collect(),
            None => self
                .stages
                .iter()
                .filter_map(|s| match s {
                    Stage::Dense(p) => Some((&p.w, p.b.as_ref())),
                    Stage::Act(_) => None,
                })
                .collect(),
        }
    }

    /// [`Error::Unsupported`] for `what` if the network has layers beyond Dense and activations.
    pub(crate) fn require_fully_connected(&self, what: &str) -> Result<()> {
        if self.image.is_some() {
            return Err(Error::Unsupported {
                what: what.into(),
                layer: "a network with convolutional, pooling, flatten, layer-norm or residual \
                        layers"
                    .into(),
            });
        }
        Ok(())
    }

    pub(crate) fn image_mut(&mut self) -> Option<&mut image::ImageNet> {
        self.image.as_mut()
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
    // Networks with other layers are built by `image`.
    spec.plan("a finite-width network")?;
    if let Some(shape) = spec.input_shape() {
        let d: usize = shape.iter().product();
        if d != input_dim {
            return Err(Error::ShapeMismatch {
                what: format!(
                    "input_dim of a finite network (the product of the spec's input_shape \
                     {shape:?})"
                ),
                expected: d.to_string(),
                found: input_dim.to_string(),
            });
        }
    }
    let spec_widths: Vec<Option<usize>> = spec
        .layers()
        .iter()
        .filter_map(|l| match l {
            Layer::Dense(d) => Some(d.width),
            _ => None,
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
