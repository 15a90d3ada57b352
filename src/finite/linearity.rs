//! Transition to linearity along training (Zhu 2024, Ch. 2): how far a finite network trained by
//! gradient descent moves from its linearization, and how much its tangent kernel changes.

use super::{FiniteNetwork, TrainConfig, check_inputs};
use crate::Result;
use crate::error::invalid;
use crate::kernel::Kernel;
use nalgebra::DMatrix;

/// What [`linearity_along_training`] measured, at steps 0, 1, …, `steps`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearityReport {
    /// The training loss 1/(2N)‖f(X) − Y‖² (N of the config's
    /// [`LossNormalization`](super::LossNormalization)).
    pub losses: Vec<f64>,
    /// maxᵢ |f_t(xᵢ) − f_lin,t(xᵢ)| over the evaluation points, with the linearization
    /// f_lin,t(x) = f₀(x) + ∇_θf₀(x)·(θ_t − θ₀) (Zhu 2024, eq. 2.9; Cor. 2.3.7 bounds it by
    /// ½ sup‖H_f‖·‖θ_t − θ₀‖²).
    pub linearization_gap: Vec<f64>,
    /// ‖K_t − K₀‖_F/‖K₀‖_F for the empirical NTK on the training points (Zhu 2024, Fig. 2.2).
    pub kernel_change: Vec<f64>,
}

impl LinearityReport {
    /// max_t ‖K_t − K₀‖/‖K₀‖.
    pub fn max_kernel_change(&self) -> f64 {
        self.kernel_change.iter().copied().fold(0.0, f64::max)
    }

    /// max_t maxᵢ |f_t(xᵢ) − f_lin,t(xᵢ)|.
    pub fn max_linearization_gap(&self) -> f64 {
        self.linearization_gap.iter().copied().fold(0.0, f64::max)
    }
}

/// Trains a copy of `net` (one output) by full-batch gradient descent on (`x`, `y`) for
/// `config.max_steps` steps (the loss threshold is ignored: the run has a fixed length, so that
/// widths compare at equal steps) and records, at every step, the loss, the distance to the
/// linearized network on the points `eval` (rows), and the relative change of the empirical NTK
/// on `x`. Errors as [`FiniteNetwork::train`], and [`Error::InvalidParameter`](crate::Error::InvalidParameter) for k ≠ 1.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::finite::{FiniteNetwork, HiddenWidths, TrainConfig, linearity_along_training};
/// use ntk::{Activation, Network};
///
/// let spec = Network::mlp(1, Activation::Tanh).build()?;
/// let net = FiniteNetwork::builder(&spec, 2).hidden(HiddenWidths::Uniform(512)).build()?;
/// let x = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, 0.6, 0.8]);
/// let y = DMatrix::from_row_slice(3, 1, &[0.5, -0.5, 0.2]);
/// let config = TrainConfig { learning_rate: 1.0, max_steps: 50, ..TrainConfig::default() };
/// let report = linearity_along_training(&net, &x, &y, &x, &config)?;
/// assert!(report.max_kernel_change() < 0.1 && report.max_linearization_gap() < 0.05);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn linearity_along_training(
    net: &FiniteNetwork,
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
    eval: &DMatrix<f64>,
    config: &TrainConfig,
) -> Result<LinearityReport> {
    if net.output_dim() != 1 {
        return Err(invalid(
            "output_dim",
            net.output_dim(),
            "the linearity study is for one output",
        ));
    }
    net.check_training(x, y, config)?;
    check_inputs(eval, net.input_dim(), "eval")?;
    let n_total = config.loss.divisor(y.nrows(), 1) as f64;
    let theta0 = net.parameters();
    let f0 = net.forward(eval)?;
    let grads: Vec<_> = (0..eval.nrows())
        .map(|i| net.parameter_gradient(&eval.row(i).iter().copied().collect::<Vec<_>>(), 0))
        .collect::<Result<_>>()?;
    let k0 = net.gram(x)?.ntk;
    let k0_norm = k0.norm();
    let mut trained = net.clone();
    let mut report = LinearityReport {
        losses: Vec::new(),
        linearization_gap: Vec::new(),
        kernel_change: Vec::new(),
    };
    for step in 0..=config.max_steps {
        let dtheta = trained.parameters() - &theta0;
        let f = trained.forward(eval)?;
        let gap = (0..eval.nrows())
            .map(|i| (f[(i, 0)] - f0[(i, 0)] - grads[i].dot(&dtheta)).abs())
            .fold(0.0, f64::max);
        report.linearization_gap.push(gap);
        report
            .kernel_change
            .push((trained.gram(x)?.ntk - &k0).norm() / k0_norm);
        if step == config.max_steps {
            let r = trained.forward(x)? - y;
            report.losses.push(0.5 * r.norm_squared() / n_total);
        } else {
            let loss = trained.gd_step(x, y, config.learning_rate, n_total, step)?;
            report.losses.push(loss);
        }
    }
    Ok(report)
}
