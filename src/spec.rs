//! The JSON form of a network (the spec the command-line tool reads): serde for [`Network`], and
//! [`Network::from_json`] / [`Network::to_json`].
//!
//! ```json
//! {"parameterization": "ntk",
//!  "layers": [{"dense": {"w_std": 1.5, "b_std": 0.1, "width": 512}},
//!             {"relu": {}},
//!             {"dense": {"w_std": 1.5}}]}
//! ```
//! Each layer is an object with one key: `dense` or an activation's name ([`Activation::KEYS`]).
//! Image layers: `conv`, `avg_pool`, `global_avg_pool`, `flatten`, `layer_norm`, `residual`, and
//! `upsample` (`{"factor": [2, 2], "method": "nearest" | "bilinear"}`).
//! Omitted activation parameters take their defaults from the activation table (those of
//! neural-tangents where it has the layer: Erf a = 1, b = 1, c = 0; Sin/Cos a = 1, b = 1, c = 0;
//! Rbf γ = 1; Exp a = 1, b = 1; Gaussian a = 1, b = −1; Affine α = 1, β = 0; Elu α = 1).

use crate::activation::{Activation, DEFAULT_NODES};
use crate::network::{
    AvgPool, Conv, Dense, Interpolation, Layer, LayerNorm, Network, Padding, Parameterization,
    Upsample,
};
use crate::{Error, Result};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

fn nodes() -> usize {
    DEFAULT_NODES
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DenseSpec {
    w_std: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    b_std: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    width: Option<usize>,
}

fn same() -> Padding {
    Padding::Same
}

fn valid() -> Padding {
    Padding::Valid
}

fn eps() -> f64 {
    LayerNorm::default().eps
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConvSpec {
    w_std: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    b_std: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channels: Option<usize>,
    filter_shape: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    strides: Option<Vec<usize>>,
    #[serde(default = "same")]
    padding: Padding,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolSpec {
    window: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    strides: Option<Vec<usize>>,
    #[serde(default = "valid")]
    padding: Padding,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NormSpec {
    #[serde(default = "eps")]
    eps: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpsampleSpec {
    factor: Vec<usize>,
    method: Interpolation,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResidualSpec {
    layers: Vec<LayerSpec>,
}

/// The keys of the layers that are not activations.
const LAYER_KEYS: [&str; 8] = [
    "dense",
    "conv",
    "avg_pool",
    "global_avg_pool",
    "flatten",
    "layer_norm",
    "residual",
    "upsample",
];

/// One layer in its JSON form: `{"dense": {...}}` or `{"<activation>": {...}}`.
#[derive(Debug, Clone)]
struct LayerSpec(Layer);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkSpec {
    #[serde(default)]
    parameterization: Parameterization,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input_shape: Option<Vec<usize>>,
    layers: Vec<LayerSpec>,
    #[serde(default = "nodes")]
    quadrature_nodes: usize,
}

impl<'de> Deserialize<'de> for LayerSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_map(LayerVisitor)
    }
}

struct LayerVisitor;

impl<'de> Visitor<'de> for LayerVisitor {
    type Value = LayerSpec;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a layer: an object with one key, a layer's or an activation's name")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<LayerSpec, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(
                "empty layer object: a layer is `{\"dense\": {...}}` or `{\"<activation>\": {...}}`",
            ));
        };
        let layer = match key.as_str() {
            "dense" => {
                let d: DenseSpec = map.next_value()?;
                Some(Layer::Dense(Dense {
                    w_std: d.w_std,
                    b_std: d.b_std,
                    width: d.width,
                }))
            }
            "conv" => {
                let c: ConvSpec = map.next_value()?;
                Some(Layer::Conv(Conv {
                    w_std: c.w_std,
                    b_std: c.b_std,
                    channels: c.channels,
                    filter_shape: c.filter_shape,
                    strides: c.strides,
                    padding: c.padding,
                }))
            }
            "avg_pool" => {
                let p: PoolSpec = map.next_value()?;
                Some(Layer::AvgPool(AvgPool {
                    window: p.window,
                    strides: p.strides,
                    padding: p.padding,
                }))
            }
            "global_avg_pool" => {
                let _: Empty = map.next_value()?;
                Some(Layer::GlobalAvgPool)
            }
            "flatten" => {
                let _: Empty = map.next_value()?;
                Some(Layer::Flatten)
            }
            "layer_norm" => {
                let n: NormSpec = map.next_value()?;
                Some(Layer::LayerNorm(LayerNorm { eps: n.eps }))
            }
            "upsample" => {
                let u: UpsampleSpec = map.next_value()?;
                Some(Layer::Upsample(Upsample {
                    factor: u.factor,
                    method: u.method,
                }))
            }
            "residual" => {
                let r: ResidualSpec = map.next_value()?;
                Some(Layer::Residual(r.layers.into_iter().map(|l| l.0).collect()))
            }
            _ => None,
        };
        let layer = if let Some(layer) = layer {
            layer
        } else if Activation::KEYS.contains(&key.as_str()) {
            let params: serde_json::Map<String, serde_json::Value> = map.next_value()?;
            Layer::Activation(Activation::from_spec(&key, params).map_err(de::Error::custom)?)
        } else {
            return Err(de::Error::custom(format!(
                "unknown variant `{key}`, expected one of the layers `{}` or the activations `{}`",
                LAYER_KEYS.join("`, `"),
                Activation::KEYS.join("`, `")
            )));
        };
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "a layer object has one key, but `{key}` is followed by `{extra}`: write each \
                 layer as its own object"
            )));
        }
        Ok(LayerSpec(layer))
    }
}

impl Serialize for LayerSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match &self.0 {
            Layer::Dense(d) => map.serialize_entry(
                "dense",
                &DenseSpec {
                    w_std: d.w_std,
                    b_std: d.b_std,
                    width: d.width,
                },
            )?,
            Layer::Conv(c) => map.serialize_entry(
                "conv",
                &ConvSpec {
                    w_std: c.w_std,
                    b_std: c.b_std,
                    channels: c.channels,
                    filter_shape: c.filter_shape.clone(),
                    strides: c.strides.clone(),
                    padding: c.padding,
                },
            )?,
            Layer::AvgPool(p) => map.serialize_entry(
                "avg_pool",
                &PoolSpec {
                    window: p.window.clone(),
                    strides: p.strides.clone(),
                    padding: p.padding,
                },
            )?,
            Layer::GlobalAvgPool => map.serialize_entry("global_avg_pool", &Empty {})?,
            Layer::Flatten => map.serialize_entry("flatten", &Empty {})?,
            Layer::LayerNorm(n) => map.serialize_entry("layer_norm", &NormSpec { eps: n.eps })?,
            Layer::Upsample(u) => map.serialize_entry(
                "upsample",
                &UpsampleSpec {
                    factor: u.factor.clone(),
                    method: u.method,
                },
            )?,
            Layer::Residual(b) => map.serialize_entry(
                "residual",
                &ResidualSpec {
                    layers: b.iter().cloned().map(LayerSpec).collect(),
                },
            )?,
            Layer::Activation(a) => {
                let Some((key, params)) = a.to_spec() else {
                    return Err(serde::ser::Error::custom(format!(
                        "the custom activation `{}` is code and has no JSON form",
                        a.name()
                    )));
                };
                map.serialize_entry(key, &params)?
            }
        }
        map.end()
    }
}

impl TryFrom<NetworkSpec> for Network {
    type Error = Error;
    fn try_from(s: NetworkSpec) -> Result<Network> {
        Network::compile(
            s.layers.into_iter().map(|l| l.0).collect(),
            s.parameterization,
            s.quadrature_nodes,
            s.input_shape,
        )
    }
}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        NetworkSpec {
            parameterization: self.parameterization(),
            input_shape: self.input_shape().map(<[usize]>::to_vec),
            layers: self.layers().iter().cloned().map(LayerSpec).collect(),
            quadrature_nodes: self.quadrature_nodes(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Network {
    /// Reads the spec and validates it; a network that does not validate is a deserialization
    /// error carrying the validation message.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let spec = NetworkSpec::deserialize(deserializer)?;
        Network::try_from(spec).map_err(de::Error::custom)
    }
}

impl Network {
    /// Parses the JSON spec (see the [module documentation](crate::spec) for the format). A
    /// malformed spec is [`Error::InvalidNetwork`]; a well-formed one that fails validation keeps the
    /// validation's error (e.g. [`Error::InvalidParameter`] naming `layers[k].w_std`).
    pub fn from_json(json: &str) -> Result<Network> {
        let spec: NetworkSpec = serde_json::from_str(json)
            .map_err(|e| Error::InvalidNetwork(format!("network spec: {e}")))?;
        Network::try_from(spec)
    }

    /// The JSON spec of this network. Fails for [`Activation::Custom`], which holds code.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::InvalidNetwork(format!("cannot write the network spec: {e}")))
    }
}

impl Activation {
    /// Parses one activation in its JSON layer form, `{"<name>": {<parameters>}}` (e.g.
    /// `{"sin": {"a": 1, "b": 1, "c": 0}}`), or a bare name without parameters in quotes or not
    /// (`relu`, `"tanh"`), which takes the defaults. Omitted parameters take their defaults; an
    /// unknown name or parameter is [`Error::InvalidParameter`] naming it.
    ///
    /// ```
    /// use ntk::Activation;
    /// assert_eq!(Activation::from_json("relu")?, Activation::Relu);
    /// assert_eq!(
    ///     Activation::from_json(r#"{"erf": {"b": 2}}"#)?,
    ///     Activation::Erf { a: 1.0, b: 2.0, c: 0.0 }
    /// );
    /// assert!(Activation::from_json("relux").is_err());
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Activation> {
        let text = text.trim();
        let bad = |msg: String| crate::error::invalid("activation", text, &msg);
        let value: serde_json::Value = if text.starts_with('{') || text.starts_with('"') {
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?
        } else {
            serde_json::Value::String(text.to_string())
        };
        let (key, params) = match value {
            serde_json::Value::String(key) => (key, serde_json::Map::new()),
            serde_json::Value::Object(map) if map.len() == 1 => {
                let (key, params) = map.into_iter().next().expect("one entry");
                match params {
                    serde_json::Value::Object(p) => (key, p),
                    other => {
                        return Err(bad(format!(
                            "the parameters of `{key}` must be an object, not `{other}`"
                        )));
                    }
                }
            }
            _ => {
                return Err(bad(
                    "expected {\"<name>\": {<parameters>}} with one name, or a bare name"
                        .to_string(),
                ));
            }
        };
        if !Activation::KEYS.contains(&key.as_str()) {
            return Err(bad(format!(
                "unknown activation `{key}`, expected one of `{}`",
                Activation::KEYS.join("`, `")
            )));
        }
        Activation::from_spec(&key, params).map_err(bad)
    }
}
