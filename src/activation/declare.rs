//! How one declaration in the activation table becomes everything the crate knows of an activation.
//!
//! [`activations!`] expands the table in `table.rs` into the [`Activation`](super::Activation) enum
//! and every match over it: the dual, the pointwise value and derivative, the smoothness class, the
//! display name and the JSON form. Adding an activation is one entry of the table; nothing else
//! enumerates activations.

use crate::Result;
use crate::error::invalid;
use crate::linalg::check_finite_param;

/// A parameter of an activation: how it is checked before its dual is built, and how it is printed
/// in the activation's name.
pub(crate) trait Param {
    /// Rejects a value outside the parameter's domain (NaN and ±∞ for real numbers).
    fn check(&self, name: &str) -> Result<()>;
    /// The value as printed in the activation's name.
    fn show(&self) -> String;
}

impl Param for f64 {
    fn check(&self, name: &str) -> Result<()> {
        check_finite_param(name, *self)
    }
    fn show(&self) -> String {
        format!("{self}")
    }
}

impl Param for u32 {
    fn check(&self, _name: &str) -> Result<()> {
        Ok(())
    }
    fn show(&self) -> String {
        format!("{self}")
    }
}

impl Param for Vec<f64> {
    fn check(&self, name: &str) -> Result<()> {
        match self.iter().position(|v| !v.is_finite()) {
            Some(i) => Err(invalid(
                &format!("{name}[{i}]"),
                self[i],
                "must be a finite number",
            )),
            None => Ok(()),
        }
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

/// The first of the given blocks: an optional entry of a declaration, or its fallback.
macro_rules! first_of {
    ($first:block $($rest:block)*) => {
        $first
    };
}

/// A parameter's default, or the error for a missing parameter without one.
macro_rules! default_or {
    ($default:expr ; $missing:expr) => {
        $default
    };
    (; $missing:expr) => {
        $missing
    };
}

/// Declares the activations. Each entry:
///
/// ```text
/// /// Doc comment: the formula.
/// Variant "json_key" { /// doc
///                      field: Type = default, ... }   // braces omitted: no parameters
///     => {
///         dual(nodes) { Result<Dual> from the fields and the quadrature nodes }
///         eval(x) { (φ(x), φ'(x)) }
///         smoothness { Smoothness class of φ }
///         at_zero { Smoothness of φ near 0 }              // optional: the class above otherwise
///     }
/// ```
///
/// Fields are bound by reference in the blocks. Every parameter is checked by [`Param::check`]
/// before `dual` runs; a field without a default is required in the JSON form.
macro_rules! activations {
    (
        $(
            $(#[doc = $doc:literal])*
            $variant:ident $key:literal
            $({ $( $(#[doc = $fdoc:literal])* $field:ident : $ty:ty $(= $default:expr)? ),* $(,)? })?
            => {
                dual($nodes:ident) $dual:block
                eval($x:ident) $eval:block
                smoothness $smooth:block
                $(at_zero $at_zero:block)?
            }
        )*
    ) => {
        /// Every supported activation, with its parameters.
        ///
        /// The closed forms follow neural-tangents 0.6.5 where it has the layer (same parameter
        /// names and defaults); the others use quadrature ([`QuadratureDual`]: the polar rule for
        /// the named ones, and 2-D Gauss–Hermite or the polar rule, as built, for a custom one).
        /// [`Activation::key`] is the JSON name of each.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Activation {
            $(
                $(#[doc = $doc])*
                $variant $({ $( $(#[doc = $fdoc])* $field: $ty ),* })?,
            )*
            /// Any activation given as functions, with its own quadrature rule (no JSON form).
            Custom(QuadratureDual),
        }

        impl Activation {
            /// The JSON names of the activations, in table order.
            pub const KEYS: &'static [&'static str] = &[$($key),*];

            /// The dual of this activation; named quadrature activations use `nodes` points per
            /// dimension ([`Activation::Custom`] keeps its own rule). Fails on a non-finite or
            /// out-of-range parameter.
            #[allow(unused_variables)]
            pub fn dual_with_nodes(&self, nodes: usize) -> Result<Dual> {
                match self {
                    $(
                        Activation::$variant $({ $($field),* })? => {
                            $($( $crate::activation::declare::Param::check($field, stringify!($field))?; )*)?
                            let $nodes = nodes;
                            $dual
                        }
                    )*
                    Activation::Custom(q) => Ok(Dual::Quadrature(q.clone())),
                }
            }

            /// (φ(x), φ'(x)). Where φ has a kink, φ' is the mean of the one-sided derivatives;
            /// for sign and step functions it is 0 (matching Ṫ's convention).
            #[allow(unused_variables)]
            pub fn eval_with_derivative(&self, x: f64) -> (f64, f64) {
                match self {
                    $(
                        Activation::$variant $({ $($field),* })? => {
                            let $x = x;
                            $eval
                        }
                    )*
                    Activation::Custom(q) => q.eval_with_derivative(x),
                }
            }

            /// How smooth φ is anywhere, which decides where the kernels can be differentiated
            /// with respect to the inputs (see [`Smoothness`]). A custom activation is classified
            /// by testing φ and φ' for jumps at the kinks its quadrature rule knows of.
            #[allow(unused_variables)]
            pub fn smoothness(&self) -> Smoothness {
                match self {
                    $(
                        Activation::$variant $({ $($field),* })? => $smooth,
                    )*
                    Activation::Custom(q) => q.smoothness(),
                }
            }

            /// How smooth φ is at 0: what matters where a layer's pre-activation is identically
            /// zero (a zero input without bias). Equal to [`Activation::smoothness`] unless every
            /// kink is away from 0 (hard tanh).
            #[allow(unused_variables)]
            pub fn smoothness_at_zero(&self) -> Smoothness {
                match self {
                    $(
                        Activation::$variant $({ $($field),* })? => {
                            $crate::activation::declare::first_of!($($at_zero)? $smooth)
                        }
                    )*
                    Activation::Custom(q) => q.smoothness_at_zero(),
                }
            }

            /// The JSON name (`None` for [`Activation::Custom`]).
            pub fn key(&self) -> Option<&'static str> {
                match self {
                    $( Activation::$variant { .. } => Some($key), )*
                    Activation::Custom(_) => None,
                }
            }

            /// A short name with the parameters, as used in error messages: the JSON name,
            /// followed by `(p=v, ...)` when the activation has parameters.
            #[allow(unused_variables)]
            pub fn name(&self) -> String {
                match self {
                    $(
                        Activation::$variant $({ $($field),* })? => {
                            let params: Vec<String> = vec![
                                $($( format!("{}={}", stringify!($field),
                                    $crate::activation::declare::Param::show($field)) ),*)?
                            ];
                            if params.is_empty() {
                                $key.to_string()
                            } else {
                                format!("{}({})", $key, params.join(", "))
                            }
                        }
                    )*
                    Activation::Custom(q) => q.name().to_string(),
                }
            }

            /// Reads an activation from its JSON name and the object of its parameters; omitted
            /// parameters take their defaults. The error says which parameter is wrong.
            pub(crate) fn from_spec(
                key: &str,
                mut params: serde_json::Map<String, serde_json::Value>,
            ) -> std::result::Result<Activation, String> {
                $(
                    if key == $key {
                        $($(
                            let $field: $ty = match params.remove(stringify!($field)) {
                                Some(v) => serde_json::from_value(v).map_err(|e| {
                                    format!("`{}` parameter `{}`: {e}", $key, stringify!($field))
                                })?,
                                None => $crate::activation::declare::default_or!($($default)? ; return Err(format!(
                                    "missing field `{}` of `{}`", stringify!($field), $key
                                ))),
                            };
                        )*)?
                        if let Some(unknown) = params.keys().next() {
                            let known: &[&str] = &[$($(stringify!($field)),*)?];
                            return Err(format!(
                                "unknown field `{unknown}` of `{}`, expected {}",
                                $key,
                                if known.is_empty() {
                                    "no parameters (`{}`)".to_string()
                                } else {
                                    format!("one of `{}`", known.join("`, `"))
                                }
                            ));
                        }
                        return Ok(Activation::$variant $({ $($field),* })?);
                    }
                )*
                Err(format!("unknown activation `{key}`"))
            }

            /// The JSON name and parameters (`None` for [`Activation::Custom`], which is code).
            #[allow(unused_variables)]
            pub(crate) fn to_spec(
                &self,
            ) -> Option<(&'static str, serde_json::Map<String, serde_json::Value>)> {
                match self {
                    $(
                        Activation::$variant $({ $($field),* })? => {
                            #[allow(unused_mut)]
                            let mut m = serde_json::Map::new();
                            $($(
                                m.insert(
                                    stringify!($field).to_string(),
                                    serde_json::to_value($field).unwrap_or(serde_json::Value::Null),
                                );
                            )*)?
                            Some(($key, m))
                        }
                    )*
                    Activation::Custom(_) => None,
                }
            }
        }
    };
}

pub(crate) use activations;
pub(crate) use default_or;
pub(crate) use first_of;
