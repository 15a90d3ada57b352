//! Compiling networks beyond fully connected ones — convolutions, pooling, flatten, layer norm,
//! residual blocks — into stages over pixel-pair states (run by `pixels.rs`).
//!
//! The compiler follows the shape (spatial axes and channels), whether the current layer's output
//! is Gaussian (what activations and layer norm need), the fan-in of the next affine layer (the
//! standard parameterization), and whether later layers need the *full* pixel-pair covariance or
//! only its diagonal: pooling needs the full P × P' matrix, while convolutions, activations, layer
//! norm and flatten work on the diagonal alone (O(P) per pair instead of O(P²)). Everything a spec
//! gets wrong is reported here, naming the layer by its path in the spec.

use super::dense::{FanIn, check_std};
use super::resample::AxisResample;
use super::window::{AxisOp, Window};
use super::{ActivationStage, Conv, Dense, DenseStage, Layer, Padding, Parameterization};
use crate::{Error, Result};

/// One stage of an image plan. `full` says whether the state it reads is the full pixel-pair
/// matrix (P² values) or its diagonal (P values); `pixels` is P.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ImageStage {
    /// Convolution windows (one per spatial axis; none for a dense layer), then the affine map of
    /// every entry.
    Affine {
        axes: Vec<AxisOp>,
        full: bool,
        dense: DenseStage,
        layer: usize,
    },
    /// Average pooling (full states only).
    Pool { axes: Vec<AxisOp>, layer: usize },
    /// Upsampling, Σ ← A·Σ·Aᵀ axis by axis (full states only).
    Resample {
        axes: Vec<AxisResample>,
        layer: usize,
    },
    /// Mean over all pixel pairs (full states only).
    GlobalPool { pixels: usize, layer: usize },
    /// Mean over the diagonal.
    Flatten {
        pixels: usize,
        full: bool,
        layer: usize,
    },
    /// Keep only the diagonal of a full state.
    ToDiagonal { pixels: usize },
    /// An activation per entry, with the two inputs' pixel variances from table slot `offset`.
    Activation {
        stage: ActivationStage,
        pixels: usize,
        full: bool,
        offset: usize,
    },
    /// Layer norm per entry, with the pixel variances from table slot `offset`.
    LayerNorm {
        eps: f64,
        pixels: usize,
        full: bool,
        offset: usize,
        layer: usize,
    },
    /// x + branch(x); `depth` indexes the scratch copy of x, `skip_to_diagonal` converts that copy
    /// to the branch output's form.
    Residual {
        branch: Vec<ImageStage>,
        depth: usize,
        len: usize,
        skip_to_diagonal: Option<usize>,
        layer: usize,
    },
}

/// A compiled network over pixel-pair states.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImagePlan {
    pub(crate) stages: Vec<ImageStage>,
    /// Spatial axes of the input (empty for vectors) and its channels (`None`: a vector input of
    /// any dimension d, known only at evaluation).
    pub(crate) spatial: Vec<usize>,
    /// Spatial axes of the output (empty unless compiled with an image output).
    pub(crate) output_spatial: Vec<usize>,
    pub(crate) channels: Option<usize>,
    /// Whether the input state is the full pixel-pair matrix.
    pub(crate) full_input: bool,
    /// Length of a point's variance table (pixels, summed over the activation and norm layers).
    pub(crate) table_len: usize,
    /// Largest state, in values, and the deepest nesting of residual blocks.
    pub(crate) max_len: usize,
    pub(crate) residual_depth: usize,
}

/// The width of the current layer's output, as the next affine layer's fan-in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Width {
    /// The input dimension d of a vector network without `input_shape`.
    Input,
    Known(usize),
    Unknown,
}

/// What flows between layers at compile time.
#[derive(Debug, Clone, PartialEq)]
struct Flow {
    spatial: Vec<usize>,
    width: Width,
    gaussian: bool,
    full: bool,
}

impl Flow {
    fn pixels(&self) -> usize {
        self.spatial.iter().product()
    }
    fn len(&self) -> usize {
        let p = self.pixels();
        if self.full { p * p } else { p }
    }
    fn describe(&self) -> String {
        if self.spatial.is_empty() {
            "a vector".into()
        } else {
            let s: Vec<String> = self.spatial.iter().map(|a| a.to_string()).collect();
            format!("a {} image", s.join("×"))
        }
    }
}

struct Compiler {
    parameterization: Parameterization,
    quadrature_nodes: usize,
    table_len: usize,
    max_len: usize,
    depth: usize,
    max_depth: usize,
}

/// Whether each layer's output must be the full state, and whether the input must: pooling needs
/// it, and so does everything before a pooling layer back to the last flatten.
fn needs_full(layers: &[Layer], full_after: bool) -> (Vec<bool>, bool) {
    let mut out = vec![false; layers.len()];
    let mut need = full_after;
    for (k, layer) in layers.iter().enumerate().rev() {
        out[k] = need;
        need = match layer {
            Layer::AvgPool(_) | Layer::GlobalAvgPool | Layer::Upsample(_) => true,
            Layer::Flatten => false,
            Layer::Residual(branch) => need || needs_full(branch, need).1,
            _ => need,
        };
    }
    (out, need)
}

fn err(path: &str, layer: &Layer, why: impl std::fmt::Display) -> Error {
    Error::InvalidNetwork(format!("{path} ({}): {why}", layer.name()))
}

impl ImagePlan {
    /// Checks and compiles `layers` for inputs of shape `input_shape` (spatial axes then channels;
    /// `None`: vectors of any dimension).
    pub(crate) fn compile(
        layers: &[Layer],
        parameterization: Parameterization,
        quadrature_nodes: usize,
        input_shape: Option<&[usize]>,
    ) -> Result<ImagePlan> {
        Self::compile_to(
            layers,
            parameterization,
            quadrature_nodes,
            input_shape,
            false,
        )
    }

    /// Like [`ImagePlan::compile`], but with `image_output` the network must end on an image and
    /// its output state is the full pixel-pair matrix (the per-output-pixel kernel of
    /// `kernel::pixels`); without it, it must end on a vector.
    pub(crate) fn compile_to(
        layers: &[Layer],
        parameterization: Parameterization,
        quadrature_nodes: usize,
        input_shape: Option<&[usize]>,
        image_output: bool,
    ) -> Result<ImagePlan> {
        if layers.is_empty() {
            return Err(Error::InvalidNetwork(
                "no layers: a network needs at least one affine layer".into(),
            ));
        }
        let (spatial, channels) = match input_shape {
            None => (vec![], None),
            Some(s) => check_input_shape(s)?,
        };
        let (_, full_input) = needs_full(layers, image_output);
        let full_input = full_input && !spatial.is_empty();
        let mut flow = Flow {
            spatial: spatial.clone(),
            width: channels.map_or(Width::Input, Width::Known),
            gaussian: false,
            full: full_input,
        };
        let mut c = Compiler {
            parameterization,
            quadrature_nodes,
            table_len: 0,
            max_len: flow.len(),
            depth: 0,
            max_depth: 0,
        };
        let stages = c.layers(layers, "layers", None, &mut flow, image_output)?;
        if image_output && flow.spatial.is_empty() {
            return Err(Error::InvalidNetwork(
                "the network's output is a vector: a per-pixel kernel needs a network that ends \
                 on an image (no flatten or global_avg_pool) and an input_shape with spatial axes"
                    .into(),
            ));
        }
        if !image_output && !flow.spatial.is_empty() {
            return Err(Error::InvalidNetwork(format!(
                "the network's output is {} with a kernel per pixel pair: put `flatten` or \
                 `global_avg_pool` before the readout layer, so that it reads a vector",
                flow.describe()
            )));
        }
        Ok(ImagePlan {
            stages,
            spatial,
            output_spatial: flow.spatial,
            channels,
            full_input,
            table_len: c.table_len,
            max_len: c.max_len,
            residual_depth: c.max_depth,
        })
    }

    /// Pixels of the input.
    pub(crate) fn pixels(&self) -> usize {
        self.spatial.iter().product()
    }
}

fn check_input_shape(s: &[usize]) -> Result<(Vec<usize>, Option<usize>)> {
    let bad = |why: &str| Error::InvalidParameter {
        name: "input_shape".into(),
        value: format!("{s:?}"),
        reason: why.into(),
    };
    if s.is_empty() || s.len() > 3 {
        return Err(bad(
            "give [d] for vectors, [L, C] for sequences or [H, W, C] for images (channels last)",
        ));
    }
    if s.contains(&0) {
        return Err(bad("every axis needs at least one entry"));
    }
    let (spatial, c) = s.split_at(s.len() - 1);
    Ok((spatial.to_vec(), Some(c[0])))
}

impl Compiler {
    /// Compiles `layers` (at `path` in the spec) from `flow`; `top` is the top-level layer index
    /// of a residual branch (for messages about values), `None` at the top level. With
    /// `full_after`, the last layer's output must be the full state.
    fn layers(
        &mut self,
        layers: &[Layer],
        path: &str,
        top: Option<usize>,
        flow: &mut Flow,
        full_after: bool,
    ) -> Result<Vec<ImageStage>> {
        let (full_out, _) = needs_full(layers, full_after);
        let mut stages = Vec::with_capacity(layers.len());
        for (k, layer) in layers.iter().enumerate() {
            let here = format!("{path}[{k}]");
            let index = top.unwrap_or(k);
            self.layer(layer, &here, index, flow, full_out[k], &mut stages)?;
            if flow.full && !full_out[k] && !flow.spatial.is_empty() {
                stages.push(ImageStage::ToDiagonal {
                    pixels: flow.pixels(),
                });
                flow.full = false;
            }
            self.max_len = self.max_len.max(flow.len());
        }
        Ok(stages)
    }

    fn fan_in(&self, path: &str, layer: &Layer, flow: &Flow, taps: usize) -> Result<Option<FanIn>> {
        if self.parameterization == Parameterization::Ntk {
            return Ok(None);
        }
        match flow.width {
            Width::Input => Ok(Some(FanIn::Input)),
            Width::Known(w) => Ok(Some(FanIn::Width((w * taps) as f64))),
            Width::Unknown => Err(err(
                path,
                layer,
                "the standard parameterization needs this layer's fan-in: give the affine layer \
                 before it a `width` (dense) or `channels` (conv)",
            )),
        }
    }

    fn layer(
        &mut self,
        layer: &Layer,
        path: &str,
        index: usize,
        flow: &mut Flow,
        full_out: bool,
        stages: &mut Vec<ImageStage>,
    ) -> Result<()> {
        match layer {
            Layer::Dense(d) => {
                let fan_in = self.fan_in(path, layer, flow, 1)?;
                stages.push(ImageStage::Affine {
                    axes: vec![],
                    full: flow.full,
                    dense: DenseStage::new(path, d, fan_in)?,
                    layer: index,
                });
                flow.width = d.width.map_or(Width::Unknown, Width::Known);
                flow.gaussian = true;
            }
            Layer::Conv(conv) => {
                let (axes, out) = self.conv_axes(path, layer, conv, flow)?;
                let taps: usize = conv.filter_shape.iter().product();
                let fan_in = self.fan_in(path, layer, flow, taps)?;
                let dense = Dense {
                    w_std: conv.w_std,
                    b_std: conv.b_std,
                    width: conv.channels,
                };
                if conv.channels == Some(0) {
                    return Err(crate::error::invalid(
                        &format!("{path}.channels"),
                        0,
                        "a convolution needs at least one channel",
                    ));
                }
                stages.push(ImageStage::Affine {
                    axes,
                    full: flow.full,
                    dense: DenseStage::new(path, &dense, fan_in)?,
                    layer: index,
                });
                flow.spatial = out;
                flow.width = conv.channels.map_or(Width::Unknown, Width::Known);
                flow.gaussian = true;
            }
            Layer::AvgPool(pool) => {
                let strides = pool.strides.clone().unwrap_or_else(|| pool.window.clone());
                let (axes, out) = self.axes(
                    path,
                    layer,
                    flow,
                    &pool.window,
                    &strides,
                    pool.padding,
                    "window",
                )?;
                debug_assert!(flow.full);
                stages.push(ImageStage::Pool { axes, layer: index });
                flow.spatial = out;
            }
            Layer::Upsample(up) => {
                let n = flow.spatial.len();
                if n == 0 || up.factor.len() != n || up.factor.contains(&0) {
                    return Err(err(
                        path,
                        layer,
                        format!(
                            "`factor` needs one entry ≥ 1 per spatial axis of its input ({}), \
                             and the input must be an image",
                            flow.describe()
                        ),
                    ));
                }
                debug_assert!(flow.full);
                let mut spatial = flow.spatial.clone();
                let mut axes = Vec::with_capacity(n);
                for k in 0..n {
                    let outer = spatial[..k].iter().product();
                    let inner = spatial[k + 1..].iter().product();
                    axes.push(AxisResample::upsample(
                        spatial[k],
                        up.factor[k],
                        up.method,
                        outer,
                        inner,
                    ));
                    spatial[k] *= up.factor[k];
                }
                stages.push(ImageStage::Resample { axes, layer: index });
                flow.spatial = spatial;
                // The full output, before any reduction to its diagonal, is the largest state.
                let p: usize = flow.spatial.iter().product();
                self.max_len = self.max_len.max(p * p);
            }
            Layer::GlobalAvgPool => {
                if flow.spatial.is_empty() {
                    return Err(err(
                        path,
                        layer,
                        "its input is a vector, which has no pixels to average: global_avg_pool \
                         needs an image (give the network an input_shape with spatial axes)",
                    ));
                }
                debug_assert!(flow.full);
                stages.push(ImageStage::GlobalPool {
                    pixels: flow.pixels(),
                    layer: index,
                });
                flow.spatial.clear();
                flow.full = false;
            }
            Layer::Flatten => {
                let p = flow.pixels();
                if !flow.spatial.is_empty() {
                    stages.push(ImageStage::Flatten {
                        pixels: p,
                        full: flow.full,
                        layer: index,
                    });
                }
                flow.width = match flow.width {
                    Width::Known(w) => Width::Known(w * p),
                    other => other,
                };
                flow.spatial.clear();
                flow.full = false;
                // The flattened features are not exchangeable (each pixel has its own variance),
                // so an elementwise layer right after needs more than the mean kernel: as in
                // neural-tangents, only an affine layer may follow.
                flow.gaussian = false;
            }
            Layer::Activation(a) => {
                if !flow.gaussian {
                    return Err(err(
                        path,
                        layer,
                        "it does not follow an affine layer: the input to an activation must be \
                         Gaussian (the output of dense or conv, possibly through avg_pool, \
                         global_avg_pool, layer_norm or a residual sum); put a dense or conv \
                         layer before it",
                    ));
                }
                let p = flow.pixels();
                let stage = ActivationStage::compile(index, a, 0, self.quadrature_nodes)
                    .map_err(|e| rename(e, path, index))?;
                stages.push(ImageStage::Activation {
                    stage,
                    pixels: p,
                    full: flow.full,
                    offset: self.table_len,
                });
                self.table_len += p;
                flow.gaussian = false;
            }
            Layer::LayerNorm(n) => {
                if !(n.eps.is_finite() && n.eps >= 0.0) {
                    return Err(crate::error::invalid(
                        &format!("{path}.eps"),
                        n.eps,
                        "eps must be a finite number ≥ 0",
                    ));
                }
                if !flow.gaussian {
                    return Err(err(
                        path,
                        layer,
                        "its input is not Gaussian: the infinite-width kernel of a normalized \
                         layer is known only for Gaussian inputs (as in neural-tangents); put it \
                         right after a dense or conv layer",
                    ));
                }
                let p = flow.pixels();
                stages.push(ImageStage::LayerNorm {
                    eps: n.eps,
                    pixels: p,
                    full: flow.full,
                    offset: self.table_len,
                    layer: index,
                });
                self.table_len += p;
            }
            Layer::Residual(branch) => {
                if branch.is_empty() {
                    return Err(err(
                        path,
                        layer,
                        "the branch is empty: x + x is not a residual block; give the branch \
                         layers ending in an affine layer",
                    ));
                }
                if !branch
                    .iter()
                    .any(|l| matches!(l, Layer::Dense(_) | Layer::Conv(_)))
                {
                    return Err(err(
                        path,
                        layer,
                        "the branch has no dense or conv layer, so its output is correlated with \
                         x and the kernel of x + branch(x) is not the sum of the two kernels",
                    ));
                }
                let input = flow.clone();
                // The block's input is full if the branch needs it (pooling inside).
                let (_, branch_full_in) = needs_full(branch, full_out);
                let mut inner = input.clone();
                inner.full = input.full || branch_full_in;
                debug_assert_eq!(inner.full, input.full);
                let depth = self.depth;
                self.depth += 1;
                self.max_depth = self.max_depth.max(self.depth);
                let branch_path = format!("{path}.residual.layers");
                let compiled =
                    self.layers(branch, &branch_path, Some(index), &mut inner, full_out)?;
                self.depth -= 1;
                if inner.spatial != input.spatial {
                    return Err(err(
                        path,
                        layer,
                        format!(
                            "the branch maps {} to {}: x + branch(x) needs the same shape; use \
                             \"same\" padding and stride 1 inside the branch",
                            input.describe(),
                            inner.describe()
                        ),
                    ));
                }
                if let (Width::Known(a), Width::Known(b)) = (input.width, inner.width) {
                    if a != b && self.parameterization == Parameterization::Standard {
                        return Err(err(
                            path,
                            layer,
                            format!(
                                "the branch maps {a} channels to {b}: x + branch(x) needs the \
                                 same number"
                            ),
                        ));
                    }
                }
                if !inner.gaussian {
                    return Err(err(
                        path,
                        layer,
                        "the branch ends in a non-Gaussian layer (an activation or flatten): the \
                         kernel of a sum is the sum of the kernels only for Gaussian, independent \
                         summands (as in neural-tangents' FanInSum); end the branch with a dense \
                         or conv layer",
                    ));
                }
                let skip_to_diagonal = (input.full && !inner.full).then(|| input.pixels());
                stages.push(ImageStage::Residual {
                    branch: compiled,
                    depth,
                    len: input.len(),
                    skip_to_diagonal,
                    layer: index,
                });
                flow.full = inner.full;
                flow.gaussian = input.gaussian;
                if input.width != inner.width && self.parameterization == Parameterization::Ntk {
                    // Widths do not enter the ntk parameterization's kernel; keep the branch's.
                    flow.width = inner.width;
                }
            }
        }
        Ok(())
    }

    fn conv_axes(
        &mut self,
        path: &str,
        layer: &Layer,
        conv: &Conv,
        flow: &Flow,
    ) -> Result<(Vec<AxisOp>, Vec<usize>)> {
        check_std(&format!("{path}.w_std"), conv.w_std)?;
        let strides = conv
            .strides
            .clone()
            .unwrap_or_else(|| vec![1; conv.filter_shape.len()]);
        self.axes(
            path,
            layer,
            flow,
            &conv.filter_shape,
            &strides,
            conv.padding,
            "filter_shape",
        )
    }

    /// The windows of a conv or pooling layer along each spatial axis, and the output's spatial
    /// axes.
    #[allow(clippy::too_many_arguments)]
    fn axes(
        &mut self,
        path: &str,
        layer: &Layer,
        flow: &Flow,
        window: &[usize],
        strides: &[usize],
        padding: Padding,
        what: &str,
    ) -> Result<(Vec<AxisOp>, Vec<usize>)> {
        let n = flow.spatial.len();
        if n == 0 {
            return Err(err(
                path,
                layer,
                format!(
                    "its input is a vector, which has no spatial axes: give the network an \
                     input_shape [L, C] or [H, W, C] and put {} before any flatten or \
                     global_avg_pool",
                    layer.name()
                ),
            ));
        }
        if window.len() != n {
            return Err(err(
                path,
                layer,
                format!(
                    "`{what}` has {} entries but the input ({}) has {n} spatial axes",
                    window.len(),
                    flow.describe()
                ),
            ));
        }
        if strides.len() != n {
            return Err(err(
                path,
                layer,
                format!(
                    "`strides` has {} entries but the input ({}) has {n} spatial axes",
                    strides.len(),
                    flow.describe()
                ),
            ));
        }
        let mut spatial = flow.spatial.clone();
        let mut axes = Vec::with_capacity(n);
        for k in 0..n {
            let w = Window::new(spatial[k], window[k], strides[k], padding)
                .map_err(|why| err(path, layer, format!("axis {k}: {why}")))?;
            let outer = spatial[..k].iter().product();
            let inner = spatial[k + 1..].iter().product();
            spatial[k] = w.n_out;
            axes.push(AxisOp::new(w, outer, inner));
            // Intermediate states (after some axes) are no larger than the input's.
        }
        Ok((axes, spatial))
    }
}

/// An activation's parameter error, renamed to its path in the spec.
fn rename(e: Error, path: &str, index: usize) -> Error {
    match e {
        Error::InvalidParameter {
            name,
            value,
            reason,
        } => {
            let prefix = format!("layers[{index}].");
            let name = name.strip_prefix(&prefix).unwrap_or(&name).to_string();
            Error::InvalidParameter {
                name: format!("{path}.{name}"),
                value,
                reason,
            }
        }
        other => other,
    }
}
