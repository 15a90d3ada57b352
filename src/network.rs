//! Network specifications: layers, parameterization, input shape and builders (the JSON form is
//! [`crate::spec`]).
//!
//! A network is a list of [`Layer`]s in the order of neural-tangents' `stax.serial`: [`Dense`]
//! layers with activations between them, and for images or sequences also [`Conv`], [`AvgPool`],
//! global average pooling, flatten, [`LayerNorm`] and residual blocks, with an input shape
//! (`docs/architectures.md`). Its kernel follows that library's conventions exactly (see
//! [`crate::kernel`]).
//!
//! ```
//! use ntk::{Activation, Network, Parameterization};
//! let net = Network::builder()
//!     .dense(1.5, Some(0.1))
//!     .activation(Activation::Relu)
//!     .dense(1.5, None)
//!     .build()
//!     .unwrap();
//! assert_eq!(net.layers().len(), 3);
//! assert_eq!(net.parameterization(), Parameterization::Ntk);
//! // The same network from its JSON spec.
//! let json = r#"{"parameterization": "ntk",
//!   "layers": [{"dense": {"w_std": 1.5, "b_std": 0.1}}, {"relu": {}}, {"dense": {"w_std": 1.5}}]}"#;
//! let same: Network = serde_json::from_str(json).unwrap();
//! assert_eq!(same, net);
//! ```

use crate::Error;
use crate::Result;
use crate::activation::{Activation, DEFAULT_NODES};
pub use crate::layers::{
    AvgPool, Conv, Dense, Interpolation, Layer, LayerNorm, Padding, Parameterization, Upsample,
};
use crate::layers::{Compiled, Plan};

/// A validated network: the input to every kernel computation.
///
/// Build it with [`Network::builder`], [`Network::mlp`], or deserialize its JSON spec
/// ([`Network::from_json`]); every route checks the layers, so a `Network` always has a kernel.
///
/// Its JSON form (`serde`, [`Network::from_json`], [`Network::to_json`]) is described in the crate
/// documentation. Two networks are equal when their layers, parameterization and quadrature nodes
/// are (the compiled recursion follows from these).
#[derive(Debug, Clone)]
pub struct Network {
    layers: Vec<Layer>,
    parameterization: Parameterization,
    quadrature_nodes: usize,
    input_shape: Option<Vec<usize>>,
    compiled: Compiled,
}

impl PartialEq for Network {
    fn eq(&self, other: &Self) -> bool {
        self.layers == other.layers
            && self.parameterization == other.parameterization
            && self.quadrature_nodes == other.quadrature_nodes
            && self.input_shape == other.input_shape
    }
}

/// Step-by-step construction of a [`Network`].
#[derive(Debug, Clone, Default)]
pub struct NetworkBuilder {
    layers: Vec<Layer>,
    parameterization: Parameterization,
    quadrature_nodes: Option<usize>,
    input_shape: Option<Vec<usize>>,
}

impl NetworkBuilder {
    /// Appends a Dense layer with weight std `w_std` and bias std `b_std` (`None`: no bias).
    pub fn dense(mut self, w_std: f64, b_std: impl Into<Option<f64>>) -> Self {
        self.layers.push(Layer::Dense(Dense {
            w_std,
            b_std: b_std.into(),
            width: None,
        }));
        self
    }

    /// Appends a Dense layer with an output width (needed by the standard parameterization).
    pub fn dense_with_width(
        mut self,
        w_std: f64,
        b_std: impl Into<Option<f64>>,
        width: usize,
    ) -> Self {
        self.layers.push(Layer::Dense(Dense {
            w_std,
            b_std: b_std.into(),
            width: Some(width),
        }));
        self
    }

    /// Appends an activation.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.layers.push(Layer::Activation(activation));
        self
    }

    /// Appends any layer: [`Conv`], [`AvgPool`], [`LayerNorm`] and the others convert with `into()`.
    pub fn layer(mut self, layer: impl Into<Layer>) -> Self {
        self.layers.push(layer.into());
        self
    }

    /// The shape of one input, channels last: `[H, W, C]` for images, `[L, C]` for sequences, `[d]`
    /// for vectors. Networks with convolutions or pooling need it; rows of the input matrices then
    /// hold the flattened tensors (index (h·W + w)·C + c).
    pub fn input_shape(mut self, shape: &[usize]) -> Self {
        self.input_shape = Some(shape.to_vec());
        self
    }

    /// Sets the parameterization (default [`Parameterization::Ntk`]).
    pub fn parameterization(mut self, p: Parameterization) -> Self {
        self.parameterization = p;
        self
    }

    /// Sets the quadrature nodes per dimension for the named quadrature activations
    /// (default [`DEFAULT_NODES`]). Fully connected kernels take their values from the Mehler
    /// series whatever this is; it sets the 2-D rule of image networks, and a count below the
    /// default also sets the rule of input gradients and of the series' fallback near |ρ| → 1
    /// (see [`QuadratureDual::exact`](crate::activation::QuadratureDual::exact)).
    pub fn quadrature_nodes(mut self, nodes: usize) -> Self {
        self.quadrature_nodes = Some(nodes);
        self
    }

    /// Checks the layers and returns the network.
    pub fn build(self) -> Result<Network> {
        Network::compile(
            self.layers,
            self.parameterization,
            self.quadrature_nodes.unwrap_or(DEFAULT_NODES),
            self.input_shape,
        )
    }
}

/// The parameters of [`Network::mlp`], checked when the network is built.
#[derive(Debug, Clone)]
#[must_use = "call `.build()` to get the network"]
pub struct MlpBuilder {
    depth: usize,
    activation: Activation,
    w_std: f64,
    b_std: Option<f64>,
    parameterization: Parameterization,
    width: Option<usize>,
    quadrature_nodes: Option<usize>,
}

impl MlpBuilder {
    /// σ_w of every Dense layer (default 1).
    pub fn w_std(mut self, w_std: f64) -> Self {
        self.w_std = w_std;
        self
    }

    /// σ_b of every Dense layer; `None` (the default) means no bias parameters.
    pub fn b_std(mut self, b_std: impl Into<Option<f64>>) -> Self {
        self.b_std = b_std.into();
        self
    }

    /// The parameterization (default [`Parameterization::Ntk`]).
    pub fn parameterization(mut self, p: Parameterization) -> Self {
        self.parameterization = p;
        self
    }

    /// The width of every hidden Dense layer (the readout has width 1). Only the standard
    /// parameterization's kernel depends on it, and finite networks sampled with
    /// [`HiddenWidths::FromSpec`](crate::finite::HiddenWidths::FromSpec) read it.
    pub fn width(mut self, width: usize) -> Self {
        self.width = Some(width);
        self
    }

    /// Quadrature nodes per dimension of the named quadrature activations (default
    /// [`DEFAULT_NODES`]; what they set is said at [`NetworkBuilder::quadrature_nodes`]).
    pub fn quadrature_nodes(mut self, nodes: usize) -> Self {
        self.quadrature_nodes = Some(nodes);
        self
    }

    /// Checks the parameters and builds the network.
    pub fn build(self) -> Result<Network> {
        let mut b = Network::builder().parameterization(self.parameterization);
        if let Some(n) = self.quadrature_nodes {
            b = b.quadrature_nodes(n);
        }
        let dense = |width: Option<usize>| {
            Layer::Dense(Dense {
                w_std: self.w_std,
                b_std: self.b_std,
                width,
            })
        };
        for _ in 0..self.depth {
            b = b
                .layer(dense(self.width))
                .activation(self.activation.clone());
        }
        b.layer(dense(self.width.map(|_| 1))).build()
    }
}

impl Network {
    /// A builder for a network.
    pub fn builder() -> NetworkBuilder {
        NetworkBuilder::default()
    }

    /// The usual multilayer perceptron `[Dense, φ] × depth, Dense`, every Dense layer with the same
    /// σ_w and σ_b (the networks of the neural-tangents reference data); `depth = 0` is the readout
    /// alone. The returned [`MlpBuilder`] names the other parameters: σ_w (default 1), σ_b (default
    /// none: no bias), the parameterization (default ntk) and the hidden width (needed only by the
    /// standard parameterization; the readout has width 1).
    ///
    /// ```
    /// use ntk::{Activation, Network, Parameterization};
    /// let net = Network::mlp(2, Activation::Relu).w_std(1.5).b_std(0.1).build()?;
    /// assert_eq!(net.layers().len(), 5);
    /// let standard = Network::mlp(2, Activation::Relu)
    ///     .parameterization(Parameterization::Standard)
    ///     .width(512)
    ///     .build()?;
    /// assert_eq!(standard.parameterization(), Parameterization::Standard);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn mlp(depth: usize, activation: Activation) -> MlpBuilder {
        MlpBuilder {
            depth,
            activation,
            w_std: 1.0,
            b_std: None,
            parameterization: Parameterization::Ntk,
            width: None,
            quadrature_nodes: None,
        }
    }

    /// Validates `layers` and compiles the recursion (the builder's and the JSON spec's last step).
    pub(crate) fn compile(
        layers: Vec<Layer>,
        parameterization: Parameterization,
        quadrature_nodes: usize,
        input_shape: Option<Vec<usize>>,
    ) -> Result<Network> {
        let compiled = Compiled::compile(
            &layers,
            parameterization,
            quadrature_nodes,
            input_shape.as_deref(),
        )?;
        Ok(Network {
            layers,
            parameterization,
            quadrature_nodes,
            input_shape,
            compiled,
        })
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The parameterization.
    pub fn parameterization(&self) -> Parameterization {
        self.parameterization
    }

    /// Quadrature nodes per dimension of the named quadrature activations.
    pub fn quadrature_nodes(&self) -> usize {
        self.quadrature_nodes
    }

    /// The shape of one input (channels last), if the spec gives it.
    pub fn input_shape(&self) -> Option<&[usize]> {
        self.input_shape.as_deref()
    }

    /// Whether the network is fully connected (Dense layers and activations only): the networks
    /// with the fused kernel path, input gradients and J∞.
    pub fn is_fully_connected(&self) -> bool {
        matches!(self.compiled, Compiled::FullyConnected(_))
    }

    /// The compiled network.
    pub(crate) fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    /// The fused recursion of a fully connected network, or [`Error::Unsupported`] naming the first
    /// layer that is not fully connected (for `what`, e.g. "input gradients").
    pub(crate) fn plan(&self, what: &str) -> Result<&Plan> {
        match &self.compiled {
            Compiled::FullyConnected(plan) => Ok(plan),
            Compiled::Image(_) => {
                let (k, layer) = self
                    .layers
                    .iter()
                    .enumerate()
                    .find(|(_, l)| !l.is_fully_connected())
                    .map(|(k, l)| (k, l.name()))
                    .unwrap_or((0, "a non-vector input_shape".into()));
                Err(Error::Unsupported {
                    what: what.into(),
                    layer: format!("layers[{k}] ({layer})"),
                })
            }
        }
    }
}
