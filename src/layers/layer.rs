//! What a layer is: the public description of each layer of a network, before compilation.

use crate::activation::Activation;
use serde::{Deserialize, Serialize};

/// How a Dense or convolutional layer's weights are scaled (neural-tangents' `parameterization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parameterization {
    /// z = σ_w/√n_in · W·x + σ_b·b with W, b ~ N(0, 1). Kernel map: Σ ← σ_w²Σ + σ_b², Θ ← Σ_new + σ_w²Θ.
    /// The layer widths do not enter the kernel.
    #[default]
    Ntk,
    /// z = W·x + b with W ~ N(0, σ_w²/n_in), b ~ N(0, σ_b²). Kernel map:
    /// Θ ← n_in·Σ_old + σ_w²Θ + [1 if the layer has a bias], Σ ← σ_w²Σ + σ_b². The NTK grows with the
    /// fan-in n_in, so every affine layer after the first needs the width (or channels) of the affine
    /// layer before it. A convolution's fan-in is its input channels times the filter size.
    Standard,
}

/// A fully connected layer. On an image it acts on the channel axis of every pixel (a 1 × 1
/// convolution).
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

/// How a convolution or pooling window treats the border (neural-tangents' `Padding`, with
/// TensorFlow's "same" rule: an output of ⌈n/s⌉ positions, the padding split with the smaller half
/// before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// Zeros around the input; ⌈n/s⌉ output positions.
    Same,
    /// No padding: only windows inside the input; ⌊(n − f)/s⌋ + 1 output positions.
    Valid,
    /// The input wraps around (periodic images); ⌈n/s⌉ output positions.
    Circular,
}

impl Padding {
    /// The name in the JSON spec: `same`, `valid` or `circular`.
    pub fn key(self) -> &'static str {
        match self {
            Padding::Same => "same",
            Padding::Valid => "valid",
            Padding::Circular => "circular",
        }
    }
}

/// A convolution with shared weights over 1-D (L × C) or 2-D (H × W × C) inputs
/// (neural-tangents' `stax.Conv`).
///
/// With the ntk parameterization, output channel k at position i is
/// z_k(i) = σ_w/√(C·F) Σ_{δ, c} W_{k,c}(δ) x_c(s·i + δ − pad) + σ_b·b_k, with F the filter size
/// (positions) and zero (or wrapped) padding. Its kernel map on the pixel-pair covariances is
/// Σ'(i, i') = σ_w²·(1/F) Σ_δ Σ(s·i + δ − pad, s·i' + δ − pad) + σ_b²: the same offset δ on both
/// sides, so a diagonal (same-pixel) covariance needs only diagonal inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv {
    /// Weight standard deviation σ_w ≥ 0.
    pub w_std: f64,
    /// Bias standard deviation σ_b ≥ 0, or `None` for no bias.
    pub b_std: Option<f64>,
    /// Output channels; only the standard parameterization uses it (as the next layer's fan-in).
    pub channels: Option<usize>,
    /// Filter size per spatial axis (`[f]` or `[fh, fw]`).
    pub filter_shape: Vec<usize>,
    /// Stride per spatial axis; `None` means 1 on every axis.
    pub strides: Option<Vec<usize>>,
    /// Border handling (default [`Padding::Same`]).
    pub padding: Padding,
}

/// Average pooling over windows of pixels, channel by channel (neural-tangents' `stax.AvgPool` with
/// `normalize_edges = False`: a window that overlaps the zero padding is still divided by its full
/// size). Kernel map: Σ'(i, i') = (1/F²) Σ_{δ, δ'} Σ(s·i + δ − pad, s·i' + δ' − pad), independent
/// offsets on the two sides, so it needs the full pixel-pair covariance.
#[derive(Debug, Clone, PartialEq)]
pub struct AvgPool {
    /// Window size per spatial axis.
    pub window: Vec<usize>,
    /// Stride per spatial axis; `None` means the window size.
    pub strides: Option<Vec<usize>>,
    /// Border handling (default [`Padding::Valid`]).
    pub padding: Padding,
}

/// Layer normalization over the channels (features) of each pixel (neural-tangents'
/// `stax.LayerNorm(axis=-1)`): x ↦ (x − mean)/√(ε + var). In the infinite-width limit the channel
/// mean of a Gaussian layer vanishes and its variance is the pixel's variance q, so
/// Σ'(i, i') = Σ(i, i')/√((ε + q(i))(ε + q'(i'))), and Θ alike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerNorm {
    /// ε added to each variance (neural-tangents' default 1e-12); it makes a zero-variance input
    /// map to 0 instead of 0/0.
    pub eps: f64,
}

impl Default for LayerNorm {
    fn default() -> Self {
        LayerNorm { eps: 1e-12 }
    }
}

/// How [`Upsample`] interpolates (Radhakrishnan 2023, App. K).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// Output position i copies input position ⌊i/f⌋.
    Nearest,
    /// Linear along each axis with aligned corners: position i reads x = i·(n − 1)/(f·n − 1) as
    /// (1 − t)·A_r + t·A_{r+1} with r = ⌊x⌋, t = x − r (App. K's α = (d − 1)/(2d − 1) for f = 2).
    Bilinear,
}

/// Upsampling by an integer factor per spatial axis, a fixed linear map A of the pixels: its kernel
/// map is Σ′ = A·Σ·Aᵀ and Θ′ = A·Θ·Aᵀ (App. K's proposition), which needs the full pixel-pair
/// state.
#[derive(Debug, Clone, PartialEq)]
pub struct Upsample {
    /// Factor per spatial axis (≥ 1).
    pub factor: Vec<usize>,
    /// Nearest-neighbour or bilinear.
    pub method: Interpolation,
}

/// One layer of a network.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// An affine layer (on an image: over the channels of each pixel).
    Dense(Dense),
    /// An elementwise nonlinearity (per pixel and channel); its input must be Gaussian: the output
    /// of an affine layer, possibly through pooling, layer norm or a residual sum.
    Activation(Activation),
    /// A convolution.
    Conv(Conv),
    /// Average pooling.
    AvgPool(AvgPool),
    /// The mean over all pixels, per channel: Σ' = (1/P²) Σ_{i, i'} Σ(i, i'). It turns an image into
    /// a vector of its channels.
    GlobalAvgPool,
    /// The pixels and channels as one vector: Σ' = (1/P) Σ_i Σ(i, i), the mean over the diagonal.
    Flatten,
    /// Layer normalization over the channels.
    LayerNorm(LayerNorm),
    /// Nearest-neighbour or bilinear upsampling.
    Upsample(Upsample),
    /// x + branch(x) (neural-tangents' `FanOut(2)`, `parallel(serial(branch), Identity)`,
    /// `FanInSum`): Σ' = Σ + Σ_branch and Θ' = Θ + Θ_branch, which is exact because the branch's
    /// affine layers make its output uncorrelated with x.
    Residual(Vec<Layer>),
}

fn axes(v: &[usize]) -> String {
    v.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

fn bias(b: Option<f64>) -> String {
    match b {
        Some(b) => format!("b_std={b}"),
        None => "no bias".into(),
    }
}

impl Layer {
    /// The layer's name for messages.
    pub fn name(&self) -> String {
        match self {
            Layer::Dense(d) => format!("dense(w_std={}, {})", d.w_std, bias(d.b_std)),
            Layer::Activation(a) => a.name(),
            Layer::Conv(c) => format!(
                "conv({}, {}, strides {}, w_std={}, {})",
                axes(&c.filter_shape),
                c.padding.key(),
                c.strides.as_deref().map_or("1".into(), axes),
                c.w_std,
                bias(c.b_std)
            ),
            Layer::AvgPool(p) => format!(
                "avg_pool({}, {}, strides {})",
                axes(&p.window),
                p.padding.key(),
                p.strides.as_deref().map_or(axes(&p.window), axes)
            ),
            Layer::GlobalAvgPool => "global_avg_pool".into(),
            Layer::Flatten => "flatten".into(),
            Layer::LayerNorm(n) => format!("layer_norm(eps={})", n.eps),
            Layer::Upsample(u) => format!("upsample({}, {:?})", axes(&u.factor), u.method),
            Layer::Residual(b) => format!("residual({} layers)", b.len()),
        }
    }

    /// Whether the layer belongs to a fully connected network (Dense or an activation): the
    /// networks whose kernels take the fused per-entry path and have input gradients.
    pub fn is_fully_connected(&self) -> bool {
        matches!(self, Layer::Dense(_) | Layer::Activation(_))
    }
}

impl Conv {
    /// A convolution with filter `filter_shape` and weight std `w_std`: no bias, stride 1, "same"
    /// padding, channels unset (set them for the standard parameterization).
    ///
    /// ```
    /// use ntk::network::{Conv, Padding};
    /// let conv = Conv::new(&[3, 3], 1.5).b_std(0.1).padding(Padding::Circular);
    /// assert_eq!(conv.strides, None);
    /// ```
    pub fn new(filter_shape: &[usize], w_std: f64) -> Conv {
        Conv {
            w_std,
            b_std: None,
            channels: None,
            filter_shape: filter_shape.to_vec(),
            strides: None,
            padding: Padding::Same,
        }
    }

    /// Sets σ_b (`None`: no bias).
    pub fn b_std(mut self, b_std: impl Into<Option<f64>>) -> Conv {
        self.b_std = b_std.into();
        self
    }

    /// Sets the output channels.
    pub fn channels(mut self, channels: usize) -> Conv {
        self.channels = Some(channels);
        self
    }

    /// Sets the strides, one per spatial axis.
    pub fn strides(mut self, strides: &[usize]) -> Conv {
        self.strides = Some(strides.to_vec());
        self
    }

    /// Sets the padding.
    pub fn padding(mut self, padding: Padding) -> Conv {
        self.padding = padding;
        self
    }
}

impl AvgPool {
    /// Average pooling over `window`, with strides equal to the window and "valid" padding.
    pub fn new(window: &[usize]) -> AvgPool {
        AvgPool {
            window: window.to_vec(),
            strides: None,
            padding: Padding::Valid,
        }
    }

    /// Sets the strides, one per spatial axis.
    pub fn strides(mut self, strides: &[usize]) -> AvgPool {
        self.strides = Some(strides.to_vec());
        self
    }

    /// Sets the padding.
    pub fn padding(mut self, padding: Padding) -> AvgPool {
        self.padding = padding;
        self
    }
}

impl From<Dense> for Layer {
    fn from(d: Dense) -> Layer {
        Layer::Dense(d)
    }
}

impl From<Activation> for Layer {
    fn from(a: Activation) -> Layer {
        Layer::Activation(a)
    }
}

impl From<Conv> for Layer {
    fn from(c: Conv) -> Layer {
        Layer::Conv(c)
    }
}

impl From<AvgPool> for Layer {
    fn from(p: AvgPool) -> Layer {
        Layer::AvgPool(p)
    }
}

impl From<Upsample> for Layer {
    fn from(u: Upsample) -> Layer {
        Layer::Upsample(u)
    }
}

impl From<LayerNorm> for Layer {
    fn from(n: LayerNorm) -> Layer {
        Layer::LayerNorm(n)
    }
}
