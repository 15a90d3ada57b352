//! What a layer is: the public description of each layer of a network, before compilation.

use crate::activation::Activation;
use serde::{Deserialize, Serialize};

/// How a Dense layer's weights are scaled (neural-tangents' `parameterization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parameterization {
    /// z = σ_w/√n_in · W·x + σ_b·b with W, b ~ N(0, 1). Kernel map: Σ ← σ_w²Σ + σ_b², Θ ← Σ_new + σ_w²Θ.
    /// The layer widths do not enter the kernel.
    #[default]
    Ntk,
    /// z = W·x + b with W ~ N(0, σ_w²/n_in), b ~ N(0, σ_b²). Kernel map:
    /// Θ ← n_in·Σ_old + σ_w²Θ + [1 if the layer has a bias], Σ ← σ_w²Σ + σ_b². The NTK grows with the
    /// fan-in n_in, so every Dense layer after the first needs the width of the Dense layer before it.
    Standard,
}

/// A fully connected layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dense {
    /// Weight standard deviation σ_w ≥ 0.
    pub w_std: f64,
    /// Bias standard deviation σ_b ≥ 0, or `None` for a layer without bias parameters. In the
    /// standard parameterization `Some(0.0)` and `None` differ: a bias adds 1 to the NTK.
    pub b_std: Option<f64>,
    /// Output width; only the standard parameterization uses it (as the next layer's fan-in).
    pub width: Option<usize>,
}

/// One layer of a fully connected network.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// An affine layer.
    Dense(Dense),
    /// An elementwise nonlinearity; it must follow a Dense layer (its input must be Gaussian).
    Activation(Activation),
}

impl Layer {
    /// The layer's name for messages.
    pub fn name(&self) -> String {
        match self {
            Layer::Dense(d) => match d.b_std {
                Some(b) => format!("dense(w_std={}, b_std={b})", d.w_std),
                None => format!("dense(w_std={}, no bias)", d.w_std),
            },
            Layer::Activation(a) => a.name(),
        }
    }
}
