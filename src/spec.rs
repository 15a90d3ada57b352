//! The serde form of a network (the JSON spec read by the command-line tool).
//!
//! ```json
//! {"parameterization": "ntk",
//!  "layers": [{"dense": {"w_std": 1.5, "b_std": 0.1, "width": 512}},
//!             {"relu": {}},
//!             {"dense": {"w_std": 1.5}}]}
//! ```
//! Each layer is an object with one key: `dense` or an activation name (snake case). Omitted
//! parameters take neural-tangents' defaults (Erf a = 1, b = 1, c = 0; Sin/Cos a = 1, b = 1, c = 0;
//! Rbf γ = 1; Exp a = 1, b = 1; Gaussian a = 1, b = −1; Affine α = 1, β = 0; Elu α = 1).

use crate::Error;
use crate::activation::{Activation, DEFAULT_NODES};
use crate::network::{Dense, Layer, Network, Parameterization};
use serde::{Deserialize, Serialize};

fn one() -> f64 {
    1.0
}
fn minus_one() -> f64 {
    -1.0
}
fn zero() -> f64 {
    0.0
}
fn nodes() -> usize {
    DEFAULT_NODES
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DenseSpec {
    w_std: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    b_std: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    width: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum LayerSpec {
    Dense(DenseSpec),
    Relu {},
    LeakyRelu {
        alpha: f64,
    },
    AbRelu {
        a: f64,
        b: f64,
    },
    Abs {},
    Erf {
        #[serde(default = "one")]
        a: f64,
        #[serde(default = "one")]
        b: f64,
        #[serde(default = "zero")]
        c: f64,
    },
    SigmoidErf {},
    SigmoidLike {},
    Gelu {},
    Sin {
        #[serde(default = "one")]
        a: f64,
        #[serde(default = "one")]
        b: f64,
        #[serde(default = "zero")]
        c: f64,
    },
    Cos {
        #[serde(default = "one")]
        a: f64,
        #[serde(default = "one")]
        b: f64,
        #[serde(default = "zero")]
        c: f64,
    },
    Rbf {
        #[serde(default = "one")]
        gamma: f64,
    },
    Exp {
        #[serde(default = "one")]
        a: f64,
        #[serde(default = "one")]
        b: f64,
    },
    Gaussian {
        #[serde(default = "one")]
        a: f64,
        #[serde(default = "minus_one")]
        b: f64,
    },
    Monomial {
        degree: u32,
    },
    RectifiedMonomial {
        degree: u32,
    },
    Sign {},
    Polynomial {
        coef: Vec<f64>,
    },
    Hermite {
        degree: u32,
    },
    Gabor {},
    Affine {
        #[serde(default = "one")]
        alpha: f64,
        #[serde(default = "zero")]
        beta: f64,
    },
    Identity {},
    Sigmoid {},
    Tanh {},
    Softplus {},
    Silu {},
    Elu {
        #[serde(default = "one")]
        alpha: f64,
    },
    Selu {},
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkSpec {
    #[serde(default)]
    parameterization: Parameterization,
    layers: Vec<LayerSpec>,
    #[serde(default = "nodes")]
    quadrature_nodes: usize,
}

impl From<LayerSpec> for Layer {
    fn from(s: LayerSpec) -> Layer {
        use Activation as A;
        use LayerSpec as S;
        Layer::Activation(match s {
            S::Dense(d) => {
                return Layer::Dense(Dense {
                    w_std: d.w_std,
                    b_std: d.b_std,
                    width: d.width,
                });
            }
            S::Relu {} => A::Relu,
            S::LeakyRelu { alpha } => A::LeakyRelu { alpha },
            S::AbRelu { a, b } => A::AbRelu { a, b },
            S::Abs {} => A::Abs,
            S::Erf { a, b, c } => A::Erf { a, b, c },
            S::SigmoidErf {} => A::SigmoidErf,
            S::SigmoidLike {} => A::SigmoidLike,
            S::Gelu {} => A::Gelu,
            S::Sin { a, b, c } => A::Sin { a, b, c },
            S::Cos { a, b, c } => A::Cos { a, b, c },
            S::Rbf { gamma } => A::Rbf { gamma },
            S::Exp { a, b } => A::Exp { a, b },
            S::Gaussian { a, b } => A::Gaussian { a, b },
            S::Monomial { degree } => A::Monomial { degree },
            S::RectifiedMonomial { degree } => A::RectifiedMonomial { degree },
            S::Sign {} => A::Sign,
            S::Polynomial { coef } => A::Polynomial { coef },
            S::Hermite { degree } => A::Hermite { degree },
            S::Gabor {} => A::Gabor,
            S::Affine { alpha, beta } => A::Affine { alpha, beta },
            S::Identity {} => A::Identity,
            S::Sigmoid {} => A::Sigmoid,
            S::Tanh {} => A::Tanh,
            S::Softplus {} => A::Softplus,
            S::Silu {} => A::Silu,
            S::Elu { alpha } => A::Elu { alpha },
            S::Selu {} => A::Selu,
        })
    }
}

fn layer_spec(l: &Layer) -> Result<LayerSpec, Error> {
    use Activation as A;
    use LayerSpec as S;
    let a = match l {
        Layer::Dense(d) => {
            return Ok(S::Dense(DenseSpec {
                w_std: d.w_std,
                b_std: d.b_std,
                width: d.width,
            }));
        }
        Layer::Activation(a) => a,
    };
    Ok(match a.clone() {
        A::Relu => S::Relu {},
        A::LeakyRelu { alpha } => S::LeakyRelu { alpha },
        A::AbRelu { a, b } => S::AbRelu { a, b },
        A::Abs => S::Abs {},
        A::Erf { a, b, c } => S::Erf { a, b, c },
        A::SigmoidErf => S::SigmoidErf {},
        A::SigmoidLike => S::SigmoidLike {},
        A::Gelu => S::Gelu {},
        A::Sin { a, b, c } => S::Sin { a, b, c },
        A::Cos { a, b, c } => S::Cos { a, b, c },
        A::Rbf { gamma } => S::Rbf { gamma },
        A::Exp { a, b } => S::Exp { a, b },
        A::Gaussian { a, b } => S::Gaussian { a, b },
        A::Monomial { degree } => S::Monomial { degree },
        A::RectifiedMonomial { degree } => S::RectifiedMonomial { degree },
        A::Sign => S::Sign {},
        A::Polynomial { coef } => S::Polynomial { coef },
        A::Hermite { degree } => S::Hermite { degree },
        A::Gabor => S::Gabor {},
        A::Affine { alpha, beta } => S::Affine { alpha, beta },
        A::Identity => S::Identity {},
        A::Sigmoid => S::Sigmoid {},
        A::Tanh => S::Tanh {},
        A::Softplus => S::Softplus {},
        A::Silu => S::Silu {},
        A::Elu { alpha } => S::Elu { alpha },
        A::Selu => S::Selu {},
        A::Custom(q) => {
            return Err(Error::InvalidNetwork(format!(
                "the custom activation `{}` is code and has no JSON form",
                q.name()
            )));
        }
    })
}

impl TryFrom<NetworkSpec> for Network {
    type Error = Error;
    fn try_from(s: NetworkSpec) -> Result<Network, Error> {
        Network::new(
            s.layers.into_iter().map(Layer::from).collect(),
            s.parameterization,
            s.quadrature_nodes,
        )
    }
}

impl Serialize for Network {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let layers = self
            .layers()
            .iter()
            .map(layer_spec)
            .collect::<Result<Vec<_>, _>>()
            .map_err(serde::ser::Error::custom)?;
        NetworkSpec {
            parameterization: self.parameterization(),
            layers,
            quadrature_nodes: self.quadrature_nodes(),
        }
        .serialize(serializer)
    }
}
