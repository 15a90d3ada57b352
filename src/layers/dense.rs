//! The Dense layer's kernel map.

use super::{Dense, Parameterization};
use crate::error::invalid;
use crate::real::Real;
use crate::{Error, Result};

/// Fan-in of an affine layer in the standard parameterization.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum FanIn {
    /// The input dimension d (known only when the kernel is evaluated).
    Input,
    /// A hidden width.
    Width(f64),
}

/// A Dense layer's kernel map, compiled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DenseStage {
    w2: f64,
    b2: f64,
    /// `None` in the ntk parameterization; in the standard one, the fan-in and the bias's NTK term.
    standard: Option<(FanIn, f64)>,
}

/// The fan-in of each Dense layer, from the width of the Dense layer before it.
pub(super) struct FanInTracker {
    parameterization: Parameterization,
    /// `None` before the first Dense layer; then the previous Dense layer's width, if given.
    previous: Option<Option<usize>>,
}

impl FanInTracker {
    pub(super) fn new(parameterization: Parameterization) -> Self {
        FanInTracker {
            parameterization,
            previous: None,
        }
    }
}

impl DenseStage {
    /// Checks layer `k` and compiles its map; `fan_in` follows the widths from layer to layer.
    pub(super) fn compile(k: usize, d: &Dense, fan_in: &mut FanInTracker) -> Result<DenseStage> {
        let standard = match fan_in.parameterization {
            Parameterization::Ntk => None,
            Parameterization::Standard => Some(match fan_in.previous {
                None => FanIn::Input,
                Some(Some(w)) => FanIn::Width(w as f64),
                Some(None) => {
                    return Err(Error::InvalidNetwork(format!(
                        "layer {k}: the standard parameterization needs the fan-in of every \
                         Dense layer after the first; give the previous Dense layer a `width`"
                    )));
                }
            }),
        };
        let stage = DenseStage::new(&format!("layers[{k}]"), d, standard)?;
        fan_in.previous = Some(d.width);
        Ok(stage)
    }

    /// Checks the affine layer at `path` (its σ's and width) and compiles its map, with its fan-in
    /// in the standard parameterization (`None`: the ntk parameterization).
    pub(super) fn new(path: &str, d: &Dense, standard: Option<FanIn>) -> Result<DenseStage> {
        check_std(&format!("{path}.w_std"), d.w_std)?;
        if let Some(b) = d.b_std {
            check_std(&format!("{path}.b_std"), b)?;
        }
        if d.width == Some(0) {
            return Err(invalid(
                &format!("{path}.width"),
                0,
                "a layer width must be at least 1",
            ));
        }
        let bias = if d.b_std.is_some() { 1.0 } else { 0.0 };
        Ok(DenseStage {
            w2: d.w_std * d.w_std,
            b2: d.b_std.map_or(0.0, |b| b * b),
            standard: standard.map(|f| (f, bias)),
        })
    }

    /// [`DenseStage::apply`] on every entry of `sigma`, `theta`, with the parameterization matched
    /// once outside the loop, so the loop vectorizes.
    #[inline(always)]
    pub(crate) fn apply_slices(&self, sigma: &mut [f64], theta: &mut [f64], d: usize) {
        let (w2, b2) = (self.w2, self.b2);
        match self.standard {
            None => {
                for (s, t) in sigma.iter_mut().zip(theta.iter_mut()) {
                    let new_sigma = w2 * *s + b2;
                    *t = new_sigma + w2 * *t;
                    *s = new_sigma;
                }
            }
            Some((fan_in, bias)) => {
                let n_in = match fan_in {
                    FanIn::Input => d as f64,
                    FanIn::Width(w) => w,
                };
                for (s, t) in sigma.iter_mut().zip(theta.iter_mut()) {
                    *t = n_in * *s + w2 * *t + bias;
                    *s = w2 * *s + b2;
                }
            }
        }
    }

    /// (Σ, Θ) → (σ_w²Σ + σ_b², Σ_new + σ_w²Θ) (ntk) or (σ_w²Σ + σ_b², n_in·Σ + σ_w²Θ + [bias])
    /// (standard); `d` is the input dimension, the first layer's fan-in.
    #[inline(always)]
    pub(crate) fn apply<F: Real>(&self, sigma: F, theta: F, d: usize) -> (F, F) {
        let w2 = F::cst(self.w2);
        let new_sigma = w2 * sigma + F::cst(self.b2);
        let new_theta = match self.standard {
            None => new_sigma + w2 * theta,
            Some((fan_in, bias)) => {
                let n_in = match fan_in {
                    FanIn::Input => d as f64,
                    FanIn::Width(w) => w,
                };
                F::cst(n_in) * sigma + w2 * theta + F::cst(bias)
            }
        };
        (new_sigma, new_theta)
    }
}

pub(super) fn check_std(name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            name,
            v,
            "a standard deviation must be a finite number ≥ 0",
        ))
    }
}
