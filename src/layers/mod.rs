//! The layer algebra: every layer maps a kernel state to a kernel state.
//!
//! This module owns what a layer is ([`Layer`], [`Dense`], [`Parameterization`], re-exported by
//! `network`), how a network compiles into stages, and the one loop over them.
//!
//! This is neural-tangents' `stax` model. A network is compiled once into a [`Plan`], a list of
//! stages; a *kernel state* is what the stages transform, and [`walk`] is the one loop that runs a
//! plan over a state. What differs between uses is only the state:
//!
//! | state | what it carries | used by |
//! |---|---|---|
//! | [`Point`] | (q, Θ) = (Σ(x, x), Θ(x, x)) of one point; records each activation's input variance | per-point tables, `diagonal` |
//! | [`Pair`] | (Σ, Θ) of one pair, from the two points' variance tables | `entry`, tails of `cross`/`gram` |
//! | [`Chunk`] | (Σ, Θ) of [`CHUNK`] pairs (rows against one column), stage by stage | the inner loop of `cross`/`gram` |
//! | `jacobian::gradient`'s state | (Σ, Θ) with forward derivatives and the layers without one | input gradients |
//!
//! **Fully connected networks** depend on their inputs only through c = x·x'/d, q = ‖x‖²/d and
//! q' = ‖x'‖²/d, and each layer acts on one matrix entry at a time:
//!
//! * Dense: Σ ← σ_w²Σ + σ_b², Θ ← Σ_new + σ_w²Θ (ntk parameterization), or
//!   Θ ← n_in·Σ_old + σ_w²Θ + [1 if bias] (standard) — [`DenseStage`];
//! * activation φ: Σ ← T(Σ; q, q'), Θ ← Θ·Ṫ(Σ; q, q') with the dual (T, Ṫ) — [`ActivationStage`].
//!
//! So all layers are fused per entry: the states above are a few scalars, the cost is linear in
//! depth, and there are no per-layer n × n temporaries.
//!
//! **Other architectures** (convolutions, pooling, flatten, layer norm, residual blocks) compile to
//! an [`ImagePlan`] whose state is the covariance of every pixel pair of the two inputs (or only of
//! the same pixels, when no pooling follows), run pair by pair in per-thread scratch
//! (`pixels.rs`); `window.rs` holds the convolution and pooling maps. Vectors are images of one
//! pixel there, so layer norm and residual blocks on fully connected networks take this path too.
//!
//! **Extending.** A state implements [`FullyConnected`] (one method per kind of fully connected
//! stage) and [`KernelState`]; [`Stage`] implements [`Transform`] for every such state. Layers whose
//! state is richer — convolutions and pooling (per-pair pixel covariances), layer norm, residual
//! sums — get their own stage type and states implementing [`Transform`], and their own [`walk`]s,
//! without touching the fully connected types or their fast path.

mod dense;
mod image;
mod layer;
mod nonlinearity;
mod pixels;
mod resample;
mod states;
mod window;

pub(crate) use dense::DenseStage;
pub(crate) use image::ImagePlan;
pub use layer::{
    AvgPool, Conv, Dense, Interpolation, Layer, LayerNorm, Padding, Parameterization, Upsample,
};
pub(crate) use nonlinearity::ActivationStage;
pub(crate) use pixels::Scratch;
pub(crate) use states::{CHUNK, Chunk, Pair, Point, RowTables};
pub(crate) use window::Window;

/// A network compiled for its kernels: the fused per-entry path of fully connected networks, or
/// the pixel-pair path of everything else.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Compiled {
    /// Dense layers and activations on vectors.
    FullyConnected(Plan),
    /// Convolutions, pooling, flatten, layer norm or residual blocks (on images or vectors).
    Image(ImagePlan),
}

impl Compiled {
    /// Compiles `layers` for inputs of `input_shape` (spatial axes, then channels; `None`: vectors
    /// of any dimension). Fully connected networks on vectors take the fused path.
    pub(crate) fn compile(
        layers: &[Layer],
        parameterization: Parameterization,
        quadrature_nodes: usize,
        input_shape: Option<&[usize]>,
    ) -> Result<Compiled> {
        let vector_input = input_shape.is_none_or(|s| s.len() == 1);
        if vector_input && layers.iter().all(Layer::is_fully_connected) {
            if let Some(s) = input_shape {
                if s[0] == 0 {
                    return Err(crate::error::invalid(
                        "input_shape",
                        "[0]",
                        "every axis needs at least one entry",
                    ));
                }
            }
            Ok(Compiled::FullyConnected(Plan::compile(
                layers,
                parameterization,
                quadrature_nodes,
            )?))
        } else {
            Ok(Compiled::Image(ImagePlan::compile(
                layers,
                parameterization,
                quadrature_nodes,
                input_shape,
            )?))
        }
    }
}

use crate::Result;
use crate::activation::Dual;
use crate::real::Real;

/// What the stages of a plan transform.
pub(crate) trait KernelState {
    /// The first value of the state that is not finite, if any.
    fn first_non_finite(&self) -> Option<f64>;
}

/// A stage's action on a kernel state `S`: the stage maps the state in place.
pub(crate) trait Transform<S> {
    /// Applies the stage to `state`.
    fn apply(&self, state: &mut S);
}

/// A kernel state of a fully connected network: what each kind of its stages does to it.
pub(crate) trait FullyConnected {
    /// A Dense layer.
    fn dense(&mut self, dense: &DenseStage);
    /// An elementwise activation.
    fn activation(&mut self, activation: &ActivationStage);
}

/// One stage of a fully connected plan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stage {
    Dense(DenseStage),
    Activation(ActivationStage),
}

impl<S: FullyConnected> Transform<S> for Stage {
    #[inline(always)]
    fn apply(&self, state: &mut S) {
        match self {
            Stage::Dense(d) => state.dense(d),
            Stage::Activation(a) => state.activation(a),
        }
    }
}

/// Runs `stages` over `state` in order. With `CHECK`, stops after the first stage that leaves a
/// value that is not finite and returns (that stage's index, the value); without it the loop has
/// no branch besides the stages' own (the kernels' inner loop checks its results once at the end).
#[inline(always)]
pub(crate) fn walk<S, T, const CHECK: bool>(
    stages: &[T],
    state: &mut S,
) -> std::result::Result<(), (usize, f64)>
where
    S: KernelState,
    T: Transform<S>,
{
    for (k, stage) in stages.iter().enumerate() {
        stage.apply(state);
        if CHECK {
            if let Some(v) = state.first_non_finite() {
                return Err((k, v));
            }
        }
    }
    Ok(())
}

/// A compiled fully connected network: its stages (one per layer, in order, so a stage's index is
/// its layer's) and the number of activation layers, whose input variances each point records.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    stages: Vec<Stage>,
    n_slots: usize,
}

impl Plan {
    /// Checks `layers` and compiles them; errors name the layer (`layers[k]`).
    pub(crate) fn compile(
        layers: &[Layer],
        parameterization: Parameterization,
        quadrature_nodes: usize,
    ) -> Result<Plan> {
        if layers.is_empty() {
            return Err(crate::Error::InvalidNetwork(
                "no layers: a network needs at least one Dense layer".into(),
            ));
        }
        let mut stages = Vec::with_capacity(layers.len());
        let mut n_slots = 0;
        let mut fan_in = dense::FanInTracker::new(parameterization);
        let mut prev_affine = false;
        for (k, layer) in layers.iter().enumerate() {
            match layer {
                Layer::Dense(d) => {
                    stages.push(Stage::Dense(DenseStage::compile(k, d, &mut fan_in)?));
                    prev_affine = true;
                }
                Layer::Activation(a) => {
                    if !prev_affine {
                        return Err(crate::Error::InvalidNetwork(format!(
                            "layer {k} ({}) does not follow a Dense layer: the input to an \
                             activation must be Gaussian, so put a Dense layer before it",
                            a.name()
                        )));
                    }
                    prev_affine = false;
                    let mut stage = ActivationStage::compile(k, a, n_slots, quadrature_nodes)?;
                    stage.ordinal = stages
                        .iter()
                        .filter(|s| matches!(s, Stage::Activation(_)))
                        .count();
                    stage.series = stages
                        .iter()
                        .filter(|s| {
                            matches!(s, Stage::Activation(a) if matches!(a.dual, Dual::Quadrature(_)))
                        })
                        .count();
                    n_slots += stage.width();
                    stages.push(Stage::Activation(stage));
                }
                other => {
                    return Err(crate::Error::InvalidNetwork(format!(
                        "layer {k} ({}) is not a fully connected layer",
                        other.name()
                    )));
                }
            }
        }
        Ok(Plan { stages, n_slots })
    }

    /// The stages, one per layer.
    pub(crate) fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// The length of a point's variance table: one value per activation layer, and a quadrature
    /// dual's series table after its variance.
    pub(crate) fn n_slots(&self) -> usize {
        self.n_slots
    }

    /// Where each activation layer's input variance sits in a point's table, in order.
    pub(crate) fn input_slots(&self) -> Vec<usize> {
        self.stages
            .iter()
            .filter_map(|s| match s {
                Stage::Activation(a) => Some(a.slot),
                Stage::Dense(_) => None,
            })
            .collect()
    }

    /// Where each quadrature activation layer's input variance sits in a point's table (its Mehler
    /// table follows it), in order.
    pub(crate) fn series_slots(&self) -> Vec<usize> {
        self.stages
            .iter()
            .filter_map(|s| match s {
                Stage::Activation(a) if matches!(a.dual, Dual::Quadrature(_)) => Some(a.slot),
                _ => None,
            })
            .collect()
    }

    /// Runs one point from q = ‖x‖²/d: fills `slots` with each activation's input variance and
    /// returns (Σ(x, x), Θ(x, x)), or the first stage (and value) that is not finite.
    pub(crate) fn point<F: Real>(
        &self,
        q0: F,
        d: usize,
        slots: &mut [F],
    ) -> std::result::Result<(F, F), (usize, f64)> {
        let mut s = Point::new(q0, d, slots);
        walk::<_, _, true>(&self.stages, &mut s)?;
        Ok((s.q, s.ntk))
    }

    /// Runs one pair from c = x·x'/d with the two points' variance tables; with `CHECK`, returns the
    /// first stage (and value) that is not finite.
    #[inline(always)]
    pub(crate) fn pair<F: Real, const CHECK: bool>(
        &self,
        c0: F,
        d: usize,
        s1: &[F],
        s2: &[F],
    ) -> std::result::Result<(F, F), (usize, f64)> {
        let mut s = Pair::new(c0, d, s1, s2);
        walk::<_, _, CHECK>(&self.stages, &mut s)?;
        Ok((s.c, s.ntk))
    }

    /// Runs up to [`CHUNK`] pairs at once: `len` entries (a multiple of [`LANES`]), the first `real`
    /// of them real rows (the others padding), whose tables are `rows`, against one column point
    /// (table `s2`). `c` holds the input covariances on entry and Σ on exit; Θ goes to `ntk`.
    #[inline(always)]
    pub(crate) fn chunk(
        &self,
        (c, ntk): (&mut [f64; CHUNK], &mut [f64; CHUNK]),
        (len, real): (usize, usize),
        d: usize,
        rows: RowTables,
        s2: &[f64],
    ) {
        let mut s = Chunk::new((c, ntk), (len, real), d, rows, s2);
        // Unchecked: the caller checks the finished column once.
        let _ = walk::<_, _, false>(&self.stages, &mut s);
    }
}
