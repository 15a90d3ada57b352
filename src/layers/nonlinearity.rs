//! The elementwise activation layer's kernel map.

use crate::activation::mehler::{self, TABLE};
use crate::activation::{Activation, Dual, DualActivation, Smoothness};
use crate::real::Real;
use crate::{Error, Result};

/// An activation layer, compiled: its dual, where its input variance goes in a point's table, and
/// what the input gradients need to know of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActivationStage {
    /// (T, Ṫ).
    pub(crate) dual: Dual,
    /// Index of this layer's input variance in a point's variance table; a quadrature dual's
    /// Mehler-series table (`mehler::TABLE` values) follows it.
    pub(crate) slot: usize,
    /// Index of this layer among the network's activation layers: its row in the slot-major
    /// variance tables of the kernels' row chunks.
    pub(crate) ordinal: usize,
    /// Index of this layer among the network's quadrature activation layers (0 for others): its
    /// block in the lane-major series tables of the kernels' row chunks.
    pub(crate) series: usize,
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
            ordinal: 0,
            series: 0,
            layer: k,
            smoothness: activation.smoothness(),
            smoothness_at_zero: activation.smoothness_at_zero(),
        })
    }
}

impl ActivationStage {
    /// How many values of a point's table this layer uses: its input variance, and for a
    /// quadrature dual the point's Hermite coefficients (see `activation::mehler`).
    pub(crate) fn width(&self) -> usize {
        match self.dual {
            Dual::Quadrature(_) => 1 + TABLE,
            _ => 1,
        }
    }

    /// A point with input variance q: records q (and, for plain numbers, a quadrature dual's
    /// series table) in the point's table `slots` and returns (T(q; q, q), Ṫ(q; q, q)).
    #[inline(always)]
    pub(crate) fn point<F: Real>(&self, q: F, slots: &mut [F]) -> (F, F) {
        slots[self.slot] = q;
        match &self.dual {
            Dual::Quadrature(d) => {
                let table = &mut slots[self.slot + 1..self.slot + 1 + TABLE];
                match F::as_f64_mut(table) {
                    Some(t) => {
                        d.fill_table(q.value(), t);
                        let (v, dot) = mehler::diagonal(t);
                        (F::cst(v), F::cst(dot))
                    }
                    None => d.exact_diag(q),
                }
            }
            dual => dual.dual_diag(q),
        }
    }

    /// (T, Ṫ) of a pair from the two points' tables. ρ = 1 exactly (identical points) takes the
    /// diagonal formulas, which keep Σ(x, x) bit-equal to the variance: the general formula's
    /// rounding would break c = q, and in the chaotic phase (χ₁ > 1) that ulp grows until Σ(x, x)
    /// collapses to the off-diagonal limit after a few hundred layers.
    #[inline(always)]
    pub(crate) fn pair<F: Real>(&self, c: F, s1: &[F], s2: &[F]) -> (F, F) {
        let (q1, q2) = (s1[self.slot], s2[self.slot]);
        match &self.dual {
            Dual::Quadrature(d) => match (F::as_f64(s1), F::as_f64(s2)) {
                (Some(t1), Some(t2)) => {
                    let (v, dot) = d.dual_from_tables(
                        c.value(),
                        q1.value(),
                        q2.value(),
                        &t1[self.slot + 1..],
                        &t2[self.slot + 1..],
                    );
                    (F::cst(v), F::cst(dot))
                }
                _ if c == q1 && c == q2 => d.exact_diag(c),
                _ => d.exact(c, q1, q2),
            },
            dual if c == q1 && c == q2 => dual.dual_diag(c),
            dual => dual.dual(c, q1, q2),
        }
    }

    /// (T, Ṫ) without the identical-point shortcut, by the exact rule for quadrature duals (which
    /// the series path agrees with): for the input-gradient recursion.
    pub(crate) fn exact<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        match &self.dual {
            Dual::Quadrature(d) => d.exact(c, q1, q2),
            dual => dual.dual(c, q1, q2),
        }
    }
}
