//! The elementwise activation layer's kernel map.

use crate::activation::{Activation, Dual, Smoothness};
use crate::{Error, Result};

/// An activation layer, compiled: its dual, where its input variance goes in a point's table, and
/// what the input gradients need to know of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActivationStage {
    /// (T, Ṫ).
    pub(crate) dual: Dual,
    /// Index of this layer's input variance in a point's variance table.
    pub(crate) slot: usize,
    /// Index of the layer in the network, for messages.
    pub(crate) layer: usize,
    /// Smoothness of φ anywhere, and at 0 (see [`Smoothness`]).
    pub(crate) smoothness: Smoothness,
    pub(crate) smoothness_at_zero: Smoothness,
}

impl ActivationStage {
    /// Compiles layer `k`; a bad parameter is reported as `layers[k].<name>`.
    pub(super) fn compile(
        k: usize,
        activation: &Activation,
        slot: usize,
        quadrature_nodes: usize,
    ) -> Result<ActivationStage> {
        let dual = activation
            .dual_with_nodes(quadrature_nodes)
            .map_err(|e| match e {
                Error::InvalidParameter {
                    name,
                    value,
                    reason,
                } => Error::InvalidParameter {
                    name: format!("layers[{k}].{name}"),
                    value,
                    reason,
                },
                other => other,
            })?;
        Ok(ActivationStage {
            dual,
            slot,
            layer: k,
            smoothness: activation.smoothness(),
            smoothness_at_zero: activation.smoothness_at_zero(),
        })
    }
}
