//! Full-batch gradient descent on the MSE, and the comparison with the linearized network.

use super::{FiniteNetwork, Stage, check_inputs};
use crate::KernelKind;
use crate::Result;
use crate::error::{Error, invalid};
use crate::kernel::Kernel;
use crate::linalg::check_finite_param;
use crate::linalg::{Par, gemm};
use crate::regression::{EnsembleDynamics, TrainKernels};
use nalgebra::DMatrix;

/// How the squared error of the training loss is normalized.
///
/// The two conventions differ by the factor k (the output dimension) in both the loss and the
/// gradient step, so "η = 1 until the loss is below 1e-7" means different runs under each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LossNormalization {
    /// L = 1/(2n) Σᵢ ‖f(xᵢ) − yᵢ‖², the mean over the n training examples of the squared error
    /// summed over the outputs: Jiang & Pehlevan (2020), §3.1, whose training stops at L < 1e-7
    /// with η = 1. The default.
    #[default]
    PerExample,
    /// L = 1/(2N) ‖f(X) − Y‖² with N = n·k, the mean over all entries: neural-tangents'
    /// `predict` conventions, those of [`crate::regression`]; the same as `PerExample` when k = 1.
    PerEntry,
}

impl LossNormalization {
    /// The divisor N of the loss 1/(2N)‖f(X) − Y‖² for n examples and k outputs.
    pub fn divisor(self, n: usize, k: usize) -> usize {
        match self {
            LossNormalization::PerExample => n,
            LossNormalization::PerEntry => n * k,
        }
    }
}

/// Settings of full-batch gradient descent on L = 1/(2N)‖f(X) − Y‖², N from
/// [`LossNormalization`].
///
/// The step is θ ← θ − (η/N)·Jᵀ(f − Y), so step s is time t = s of neural-tangents'
/// `gradient_descent_mse` (τ = η_nt·t/(n·k)) with learning rate η_nt = η·n·k/N: η itself with
/// [`LossNormalization::PerEntry`], η·k with [`LossNormalization::PerExample`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    /// Learning rate η (> 0).
    pub learning_rate: f64,
    /// Largest number of steps.
    pub max_steps: usize,
    /// Training stops as soon as the loss is below this value (≥ 0).
    pub loss_threshold: f64,
    /// The normalization N of the loss, which scales both the step and the threshold.
    pub loss: LossNormalization,
}

impl TrainConfig {
    /// neural-tangents' learning rate for the same steps, η·n·k/N (see the type documentation).
    pub fn ntk_learning_rate(&self, n: usize, k: usize) -> f64 {
        self.learning_rate * (n * k) as f64 / self.loss.divisor(n, k) as f64
    }
}

impl Default for TrainConfig {
    /// The autoencoder setting of Jiang & Pehlevan (2020, §3.1 and "Training and iterative
    /// convergence criteria"): the loss 1/(2n) Σᵢ ‖f(xᵢ) − xᵢ‖², η = 1, until the loss is below 1e-7
    /// (at most 10⁶ steps).
    fn default() -> Self {
        TrainConfig {
            learning_rate: 1.0,
            max_steps: 1_000_000,
            loss_threshold: 1e-7,
            loss: LossNormalization::PerExample,
        }
    }
}

/// What happened during training.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Loss 1/(2N)‖f − Y‖² (N of the config's [`LossNormalization`]) before every step, and after
    /// the last one (length `steps + 1`).
    pub losses: Vec<f64>,
    /// Number of steps taken.
    pub steps: usize,
    /// Whether the loss fell below the threshold.
    pub converged: bool,
}

impl FiniteNetwork {
    /// Trains the network in place by full-batch gradient descent on 1/(2N)‖f(X) − Y‖² (N = n or
    /// n·k, see [`LossNormalization`]), with `x` n × d and `y` n × k. Errors on bad shapes, non-finite data or settings, and
    /// [`Error::Diverged`] if the loss becomes NaN or ±∞ (the network is then left as it was at
    /// that step).
    pub fn train(
        &mut self,
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
        config: &TrainConfig,
    ) -> Result<TrainReport> {
        self.train_masked(x, y, config, None)
    }

    /// [`FiniteNetwork::train`] with only some Dense layers trainable: `layers` lists their indices
    /// among the Dense layers (0 = the first, the layer that sees the input); the others keep their
    /// parameters. The setting of Radhakrishnan (2023), App. D.A, Props. 9–10, where only the first
    /// layer B of f(x) = g(Bx) is trained. Fails with [`Error::InvalidParameter`] for an index that
    /// is not a Dense layer.
    ///
    /// ```
    /// use nalgebra::DMatrix;
    /// use ntk::finite::{FiniteNetwork, HiddenWidths, TrainConfig};
    /// use ntk::{Activation, Network};
    /// let spec = Network::mlp(1, Activation::Tanh).build()?;
    /// let mut net = FiniteNetwork::builder(&spec, 2).hidden(HiddenWidths::Uniform(8)).build()?;
    /// let readout = net.dense_weights(1)?.clone();
    /// let x = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, 1.0]);
    /// let y = DMatrix::from_row_slice(2, 1, &[1.0, -1.0]);
    /// let cfg = TrainConfig { learning_rate: 0.5, max_steps: 10, ..TrainConfig::default() };
    /// net.train_only(&x, &y, &cfg, &[0])?;
    /// assert_eq!(net.dense_weights(1)?, &readout); // the readout did not move
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn train_only(
        &mut self,
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
        config: &TrainConfig,
        layers: &[usize],
    ) -> Result<TrainReport> {
        let n_dense = self.widths().len();
        if let Some(&bad) = layers.iter().find(|&&l| l >= n_dense) {
            return Err(invalid(
                "layers",
                bad,
                &format!(
                    "the network has {n_dense} Dense layers (indices 0 to {})",
                    n_dense - 1
                ),
            ));
        }
        let mut mask = vec![false; n_dense];
        for &l in layers {
            mask[l] = true;
        }
        self.train_masked(x, y, config, Some(&mask))
    }

    /// Checks training points `x`, targets `y` (one row per point, a column per output) and the
    /// learning rate of `config`.
    pub(crate) fn check_training(
        &self,
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
        config: &TrainConfig,
    ) -> Result<()> {
        check_inputs(x, self.input_dim(), "x_train")?;
        check_inputs(y, self.output_dim(), "y_train")?;
        if y.nrows() != x.nrows() {
            return Err(Error::ShapeMismatch {
                what: "y_train rows (one target per training point)".into(),
                expected: x.nrows().to_string(),
                found: y.nrows().to_string(),
            });
        }
        check_finite_param("learning_rate", config.learning_rate)?;
        if config.learning_rate <= 0.0 {
            return Err(invalid(
                "learning_rate",
                config.learning_rate,
                "must be > 0",
            ));
        }
        Ok(())
    }

    /// Gradient descent with the Dense layers of `mask` trainable (all when `None`).
    fn train_masked(
        &mut self,
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
        config: &TrainConfig,
        mask: Option<&[bool]>,
    ) -> Result<TrainReport> {
        self.check_training(x, y, config)?;
        check_finite_param("loss_threshold", config.loss_threshold)?;
        if config.loss_threshold < 0.0 {
            return Err(invalid(
                "loss_threshold",
                config.loss_threshold,
                "must be ≥ 0",
            ));
        }
        let n_total = config.loss.divisor(y.nrows(), y.ncols()) as f64;
        let mut losses = Vec::new();
        let mut steps = 0;
        loop {
            let t = match self.trace(x, "x_train", Par::Global) {
                Ok(t) => t,
                Err(Error::NonFiniteOutput { value, .. }) => {
                    return Err(Error::Diverged {
                        step: steps,
                        loss: value,
                    });
                }
                Err(e) => return Err(e),
            };
            let residual = (&t.output - y) / n_total;
            // ‖f − Y‖²/(2N) = N·‖(f − Y)/N‖²/2.
            let loss = 0.5 * n_total * residual.norm_squared();
            if !loss.is_finite() {
                return Err(Error::Diverged { step: steps, loss });
            }
            losses.push(loss);
            if loss < config.loss_threshold || steps == config.max_steps {
                return Ok(TrainReport {
                    converged: loss < config.loss_threshold,
                    losses,
                    steps,
                });
            }
            self.step(&t, residual, config.learning_rate, mask)?;
            steps += 1;
        }
    }

    /// Autoencoder training: [`FiniteNetwork::train`] with targets Y = X (needs k = d).
    pub fn train_autoencoder(
        &mut self,
        x: &DMatrix<f64>,
        config: &TrainConfig,
    ) -> Result<TrainReport> {
        if self.output_dim() != self.input_dim() {
            return Err(Error::ShapeMismatch {
                what: "autoencoder output dimension (must equal the input dimension)".into(),
                expected: self.input_dim().to_string(),
                found: self.output_dim().to_string(),
            });
        }
        self.train(x, x, config)
    }

    /// One gradient step on 1/(2N)‖f(X) − Y‖² with learning rate `lr`, for callers that record
    /// something between steps (the catapult and linearity studies); shapes and settings are the
    /// caller's to check. Returns the loss before the step, or [`Error::Diverged`] at `step` if the
    /// forward pass or the loss is not finite (the network is then left unchanged).
    pub(crate) fn gd_step(
        &mut self,
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
        lr: f64,
        n_total: f64,
        step: usize,
    ) -> Result<f64> {
        let t = match self.trace(x, "x_train", Par::Global) {
            Ok(t) => t,
            Err(Error::NonFiniteOutput { value, .. }) => {
                return Err(Error::Diverged { step, loss: value });
            }
            Err(e) => return Err(e),
        };
        let residual = (&t.output - y) / n_total;
        let loss = 0.5 * n_total * residual.norm_squared();
        if !loss.is_finite() {
            return Err(Error::Diverged { step, loss });
        }
        self.step(&t, residual, lr, None)?;
        Ok(loss)
    }

    /// One gradient step; `g` starts as ∂L/∂f = (f − Y)/N and is backpropagated through the stages.
    fn step(
        &mut self,
        t: &super::Trace,
        mut g: DMatrix<f64>,
        lr: f64,
        mask: Option<&[bool]>,
    ) -> Result<()> {
        if let (Some(net), Some(t)) = (self.image_mut(), &t.image) {
            if mask.is_some() {
                return Err(crate::Error::Unsupported {
                    what: "training only some layers".into(),
                    layer: "a network with convolutional, pooling, flatten, layer-norm or \
                            residual layers (train all layers with `train`)"
                        .into(),
                });
            }
            return net.step(t, &g, lr);
        }
        let n_stages = self.stages().len();
        let mut dense = self.widths().len();
        for i in (0..n_stages).rev() {
            match &mut self.stages_mut()[i] {
                Stage::Act(_) => g.component_mul_assign(&t.derivs[i]),
                Stage::Dense(p) => {
                    dense -= 1;
                    if mask.is_some_and(|m| !m[dense]) {
                        // Frozen: only backpropagate through it.
                        if i > 0 {
                            let mut next = DMatrix::zeros(g.nrows(), p.w.ncols());
                            gemm(&mut next, &g, false, &p.w, false, p.w_mult, Par::Global);
                            g = next;
                        }
                        continue;
                    }
                    let h = &t.inputs[i];
                    let mut grad_w = DMatrix::zeros(p.w.nrows(), p.w.ncols());
                    gemm(&mut grad_w, &g, true, h, false, p.w_mult, Par::Global);
                    let grad_b = p.b.as_ref().map(|_| g.row_sum().transpose() * p.b_mult);
                    if i > 0 {
                        // With the weights before this step's update.
                        let mut next = DMatrix::zeros(g.nrows(), p.w.ncols());
                        gemm(&mut next, &g, false, &p.w, false, p.w_mult, Par::Global);
                        g = next;
                    }
                    p.w.zip_apply(&grad_w, |w, g| *w -= lr * g);
                    if let (Some(b), Some(gb)) = (p.b.as_mut(), grad_b) {
                        b.axpy(-lr, &gb, 1.0);
                    }
                }
            }
        }
        Ok(())
    }
}

/// A trained finite network next to the prediction of its linearization.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearizedComparison {
    /// The network after training.
    pub trained: FiniteNetwork,
    /// Its training run.
    pub report: TrainReport,
    /// Time at which the linearized predictions are taken (τ = ηt/N, N of the config's
    /// [`LossNormalization`]): ∞ if training reached the loss threshold, else t = number of steps.
    pub time: f64,
    /// f0 on the training points (n × k).
    pub f0_train: DMatrix<f64>,
    /// f0 on the test points (m × k).
    pub f0_test: DMatrix<f64>,
    /// Outputs of the trained network on the test points.
    pub trained_test: DMatrix<f64>,
    /// Linearized prediction on the test points with the analytic NTK and the network's own f0
    /// ([`EnsembleDynamics::linearized`]).
    pub linearized_test: DMatrix<f64>,
    /// The same with the empirical NTK of the network at initialization instead of the analytic one.
    pub linearized_empirical_test: DMatrix<f64>,
    /// ‖trained_test − linearized_test‖_F / ‖linearized_test‖_F.
    pub gap: f64,
    /// ‖trained_test − linearized_empirical_test‖_F / ‖linearized_empirical_test‖_F.
    pub gap_empirical: f64,
    /// ‖θ_t − θ_0‖/‖θ_0‖.
    pub parameter_change: f64,
    /// ‖Θ̂_t − Θ̂_0‖_F/‖Θ̂_0‖_F on the training points.
    pub ntk_change: f64,
}

/// Trains a copy of `net` on (`x_train`, `y_train`) with `config` and compares its test outputs with
/// the linearized network f_lin(t) = f0 + Θ(x, X)Θ⁻¹(I − e^{−ηΘt/N})(Y − f0) at the time reached
/// (t = ∞ if the loss threshold was reached, else t = number of steps; N of the config's
/// [`LossNormalization`]), computed by [`EnsembleDynamics::linearized`] with the network's own f0
/// and both the analytic NTK of `net.spec()` and the empirical NTK at initialization. Without a
/// ridge, Θ(X, X) must be positive definite (distinct training points).
pub fn linearized_prediction(
    net: &FiniteNetwork,
    x_train: &DMatrix<f64>,
    y_train: &DMatrix<f64>,
    x_test: &DMatrix<f64>,
    config: &TrainConfig,
) -> Result<LinearizedComparison> {
    check_inputs(x_test, net.input_dim(), "x_test")?;
    let mut trained = net.clone();
    let report = trained.train(x_train, y_train, config)?;
    // Discrete steps and gradient flow agree only for ηλ/N ≪ 1; once both have converged they reach
    // the same point (GD moves θ in the row space of J, like the flow), so a converged run is
    // compared at t = ∞ whatever the step size.
    let time = if report.converged {
        f64::INFINITY
    } else {
        report.steps as f64
    };
    let f0_train = net.forward(x_train)?;
    let f0_test = net.forward(x_test)?;
    let trained_test = trained.forward(x_test)?;

    let predict = |train: TrainKernels, k_td: DMatrix<f64>| -> Result<DMatrix<f64>> {
        let dyn_ = EnsembleDynamics::params()
            // EnsembleDynamics divides by N = n·k (neural-tangents' convention).
            .learning_rate(config.ntk_learning_rate(y_train.nrows(), y_train.ncols()))
            .fit(&train, y_train)?;
        let out = dyn_.linearized(KernelKind::Ntk, &f0_train, Some((&k_td, &f0_test)), &[time])?;
        out.into_iter()
            .next()
            .and_then(|(_, test)| test)
            .ok_or_else(|| Error::InvalidNetwork("no linearized test prediction".into()))
    };
    let spec = net.spec();
    let analytic_train = TrainKernels::compute(spec, x_train)?;
    let analytic_td = spec.cross(x_test, x_train)?.ntk;
    let linearized_test = predict(analytic_train, analytic_td)?;

    let emp0 = TrainKernels::compute(net, x_train)?;
    let emp_td = net.cross(x_test, x_train)?.ntk;
    let linearized_empirical_test = predict(emp0.clone(), emp_td)?;
    let emp_t = trained.gram(x_train)?;
    let rel = |a: &DMatrix<f64>, b: &DMatrix<f64>| (a - b).norm() / b.norm();
    Ok(LinearizedComparison {
        gap: rel(&trained_test, &linearized_test),
        gap_empirical: rel(&trained_test, &linearized_empirical_test),
        parameter_change: trained.relative_parameter_change(net)?,
        ntk_change: rel(&emp_t.ntk, &emp0.ntk),
        trained,
        report,
        time,
        f0_train,
        f0_test,
        trained_test,
        linearized_test,
        linearized_empirical_test,
    })
}
