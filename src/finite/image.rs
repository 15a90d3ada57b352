//! Finite networks beyond fully connected ones: convolutions, average and global average pooling,
//! flatten, layer norm, residual blocks and dense layers on images — their structure, sampling,
//! forward pass and backpropagation (neural-tangents' `stax` finite networks).
//!
//! **Layout.** A batch of n inputs with P pixels and C channels is a C × (n·P) matrix: column
//! e·P + p holds the channels of pixel p of input e. Column-major storage makes each column — and
//! each input's block of P columns — contiguous, and equal to the flattened channels-last tensor
//! (index p·C + c), so the input rows, `flatten` and the per-input gradient blocks are plain
//! reshapes. Vectors are images of one pixel.
//!
//! **Layers** (σ_w, σ_b from the spec; F the filter size in pixels, C_in the input channels):
//!
//! * conv / dense: z(o) = a_w·W·patch(o) + a_b·b, W of C_out × (F·C_in) with columns tap-major
//!   (column t·C_in + c reads channel c of tap t), patch(o) the F input pixels of output pixel o
//!   stacked (zeros in the padding; a dense layer is the 1 × 1 case). ntk parameterization:
//!   W, b ~ N(0, 1), a_w = σ_w/√(F·C_in), a_b = σ_b; standard: W ~ N(0, σ_w²/(F·C_in)),
//!   b ~ N(0, σ_b²), a_w = a_b = 1. The bias is one per output channel, shared by the pixels.
//! * avg_pool: the sum over the window's taps inside the input (or wrapped into it), divided by the
//!   full window size F, per channel.
//! * global_avg_pool: the mean over the pixels, per channel; flatten: the P·C values as one vector.
//! * layer_norm: per pixel over its channels, y = (x − μ)/√(ε + v) with μ, v the channels' mean
//!   and (biased) variance.
//! * residual: x + branch(x).
//!
//! The taps are those of the analytic kernel (`layers::Window`: TensorFlow's "same" split, the
//! circular wrap), so the two agree on the geometry by construction.

use super::{FiniteNetworkBuilder, HiddenWidths, zeros};
use crate::Result;
use crate::activation::Activation;
use crate::error::{Error, invalid};
use crate::layers::Window;
use crate::linalg::{Par, gemm};
use crate::network::{Layer, Network, Padding, Parameterization};
use nalgebra::{DMatrix, DVector, Dyn};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Marks a tap in the zero padding.
const PAD: usize = usize::MAX;

/// The pixel geometry of a conv or pooling layer: which input pixel each tap of each output pixel
/// reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Taps {
    /// Taps per output pixel (the filter or window size F).
    pub(crate) f: usize,
    pub(crate) p_in: usize,
    pub(crate) p_out: usize,
    /// The input pixel of tap t of output pixel o at o·f + t, or [`PAD`].
    table: Vec<usize>,
}

impl Taps {
    /// The taps of windows `window` with `strides` and `padding` over the spatial axes `spatial`
    /// (row-major pixels), and the output's spatial axes.
    fn new(
        spatial: &[usize],
        window: &[usize],
        strides: &[usize],
        padding: Padding,
        path: &str,
    ) -> Result<(Taps, Vec<usize>)> {
        if window.len() != spatial.len() || strides.len() != spatial.len() {
            return Err(Error::InvalidNetwork(format!(
                "{path}: the window has {} axes and the strides {}, but the input has {} spatial \
                 axes",
                window.len(),
                strides.len(),
                spatial.len()
            )));
        }
        let axes: Vec<Window> = (0..spatial.len())
            .map(|k| {
                Window::new(spatial[k], window[k], strides[k], padding)
                    .map_err(|why| Error::InvalidNetwork(format!("{path}: axis {k}: {why}")))
            })
            .collect::<Result<_>>()?;
        let out: Vec<usize> = axes.iter().map(|w| w.n_out).collect();
        let per_axis: Vec<Vec<Option<usize>>> = axes.iter().map(Window::taps).collect();
        let f: usize = window.iter().product();
        let (p_in, p_out): (usize, usize) = (spatial.iter().product(), out.iter().product());
        let mut table = vec![PAD; p_out * f];
        for o in 0..p_out {
            for t in 0..f {
                // Row-major coordinates of the output pixel and of the tap, axis by axis from
                // the last; the input pixel accumulates its row-major index from the first.
                let (mut orem, mut trem) = (o, t);
                let mut coords = vec![0; spatial.len()];
                let mut inside = true;
                for k in (0..spatial.len()).rev() {
                    let (i, a) = (orem % out[k], trem % window[k]);
                    orem /= out[k];
                    trem /= window[k];
                    match per_axis[k][i * window[k] + a] {
                        Some(j) => coords[k] = j,
                        None => inside = false,
                    }
                }
                if inside {
                    table[o * f + t] = coords
                        .iter()
                        .zip(spatial)
                        .fold(0, |acc, (&j, &n)| acc * n + j);
                }
            }
        }
        Ok((
            Taps {
                f,
                p_in,
                p_out,
                table,
            },
            out,
        ))
    }

    /// The input pixel read by tap t of output pixel o, if it is not padding.
    #[inline]
    fn tap(&self, o: usize, t: usize) -> Option<usize> {
        let j = self.table[o * self.f + t];
        (j != PAD).then_some(j)
    }
}

/// A convolution or dense layer, z = a_w·W·patch + a_b·b.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Affine {
    /// Depth-first index among the network's affine layers.
    pub(crate) id: usize,
    /// Raw weights, C_out × (F·C_in) (empty until sampled).
    pub(crate) w: DMatrix<f64>,
    /// Raw bias (C_out), absent for a layer without bias.
    pub(crate) b: Option<DVector<f64>>,
    pub(crate) w_mult: f64,
    pub(crate) b_mult: f64,
    /// σ_w²/fan-in and σ_b² (0 without bias): the output variances given the input.
    pub(crate) out_var: (f64, f64),
    pub(crate) c_in: usize,
    pub(crate) c_out: usize,
    /// Pixels in and out (equal for a dense layer).
    pub(crate) p_out: usize,
    /// The window of a convolution; `None` for a dense layer (pixel by pixel).
    pub(crate) taps: Option<Taps>,
    /// σ_w/√fan-in and σ_b, for sampling.
    scale: f64,
    b_std: Option<f64>,
}

impl Affine {
    /// Rows of a patch: F·C_in.
    pub(crate) fn patch_len(&self) -> usize {
        self.taps.as_ref().map_or(1, |t| t.f) * self.c_in
    }

    /// Number of parameters, C_out·F·C_in (+ C_out with a bias).
    pub(crate) fn n_parameters(&self) -> usize {
        self.c_out * self.patch_len() + if self.b_std.is_some() { self.c_out } else { 0 }
    }
}

/// One layer of an image network.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Affine(Affine),
    Act(Activation),
    Pool(Taps),
    GlobalPool { pixels: usize },
    Flatten { pixels: usize },
    LayerNorm { eps: f64 },
    Residual(Vec<Op>),
}

/// A finite network over images (or vectors with layer norm or residual blocks).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImageNet {
    pub(crate) ops: Vec<Op>,
    /// Pixels and channels of an input.
    pub(crate) pixels: usize,
    pub(crate) channels: usize,
    /// Length of the output vector (the readout's width, times the pixels a flatten after it
    /// gathers).
    pub(crate) output_dim: usize,
}

/// What the forward pass keeps for backpropagation, per op.
pub(crate) enum Saved {
    /// The patches of a conv layer (F·C_in × n·P_out), or the input of a dense one.
    Affine(DMatrix<f64>),
    /// φ'(z).
    Act(DMatrix<f64>),
    /// The normalized output and 1/√(ε + v) per pixel.
    Norm(DMatrix<f64>, Vec<f64>),
    Residual(Vec<Saved>),
    Nothing,
}

/// A traced batch: the outputs (k × n) and what backpropagation needs.
pub(crate) struct ImageTrace {
    pub(crate) n: usize,
    pub(crate) output: DMatrix<f64>,
    pub(crate) saved: Vec<Saved>,
}

/// Counts the affine layers of `layers`, nested ones included.
fn count_affine(layers: &[Layer]) -> usize {
    layers
        .iter()
        .map(|l| match l {
            Layer::Dense(_) | Layer::Conv(_) => 1,
            Layer::Residual(b) => count_affine(b),
            _ => 0,
        })
        .sum()
}

/// Compiles the structure of a spec's finite network (shapes, widths, taps; no parameters yet).
struct Compiler<'a> {
    hidden: &'a HiddenWidths,
    standard: bool,
    n_affine: usize,
    output_dim: usize,
    next: usize,
}

impl Compiler<'_> {
    /// The width of the affine layer at `path` with spec width `from_spec`; `forced` is the
    /// channels of the residual block it closes.
    fn width(
        &mut self,
        path: &str,
        from_spec: Option<usize>,
        forced: Option<usize>,
        depth: usize,
    ) -> Result<usize> {
        let i = self.next;
        self.next += 1;
        if i + 1 == self.n_affine {
            if depth > 0 {
                return Err(Error::InvalidNetwork(format!(
                    "{path}: the last dense or conv layer is the readout of a finite network (its \
                     width is the output dimension k), but this one is inside a residual block: \
                     end the network with a readout after the block"
                )));
            }
            return Ok(self.output_dim);
        }
        let n_hidden = self.n_affine - 1;
        let given = match self.hidden {
            HiddenWidths::FromSpec => from_spec.or(forced).ok_or_else(|| {
                Error::InvalidNetwork(format!(
                    "hidden layer {i} ({path}) has no `width`/`channels` in the spec: give one, or \
                     set the widths with `.hidden(HiddenWidths::Uniform(..))` or `PerLayer` on the \
                     builder"
                ))
            })?,
            HiddenWidths::Uniform(w) => *w,
            HiddenWidths::PerLayer(ws) => {
                if ws.len() != n_hidden {
                    return Err(Error::ShapeMismatch {
                        what: "hidden widths (one per dense or conv layer except the readout, \
                               depth-first through residual blocks)"
                            .into(),
                        expected: n_hidden.to_string(),
                        found: ws.len().to_string(),
                    });
                }
                ws[i]
            }
        };
        if given == 0 {
            return Err(invalid(
                &format!("hidden width {i} ({path})"),
                0,
                "a hidden width must be at least 1",
            ));
        }
        if let Some(w) = from_spec {
            if w != given {
                return Err(Error::ShapeMismatch {
                    what: format!(
                        "width of hidden layer {i} ({path}; the spec's `width`/`channels`, which \
                         the analytic kernel uses)"
                    ),
                    expected: w.to_string(),
                    found: given.to_string(),
                });
            }
        }
        if let Some(c) = forced {
            if c != given {
                return Err(Error::ShapeMismatch {
                    what: format!(
                        "width of hidden layer {i} ({path}), the last affine layer of a residual \
                         branch: x + branch(x) needs the block's input channels"
                    ),
                    expected: c.to_string(),
                    found: given.to_string(),
                });
            }
        }
        Ok(given)
    }

    /// Compiles `layers` from `spatial` × `channels`; returns the ops and the output channels.
    /// `forced`: the channels the branch must end with (inside a residual block).
    fn layers(
        &mut self,
        layers: &[Layer],
        path: &str,
        spatial: &mut Vec<usize>,
        channels: &mut usize,
        forced: Option<usize>,
        depth: usize,
    ) -> Result<Vec<Op>> {
        let last_affine = layers
            .iter()
            .rposition(|l| matches!(l, Layer::Dense(_) | Layer::Conv(_)));
        let mut ops = Vec::with_capacity(layers.len());
        for (k, layer) in layers.iter().enumerate() {
            let here = format!("{path}[{k}]");
            let forced_here = forced.filter(|_| Some(k) == last_affine);
            let op = match layer {
                Layer::Upsample(_) => {
                    return Err(crate::Error::Unsupported {
                        what: "a finite-width network".into(),
                        layer: format!("{here} ({})", layer.name()),
                    });
                }
                Layer::Dense(d) => {
                    let id = self.next;
                    let c_out = self.width(&here, d.width, forced_here, depth)?;
                    let p = spatial.iter().product();
                    self.affine(id, d.w_std, d.b_std, *channels, c_out, p, None)
                }
                Layer::Conv(c) => {
                    let strides = c
                        .strides
                        .clone()
                        .unwrap_or_else(|| vec![1; c.filter_shape.len()]);
                    let (taps, out) =
                        Taps::new(spatial, &c.filter_shape, &strides, c.padding, &here)?;
                    let id = self.next;
                    let c_out = self.width(&here, c.channels, forced_here, depth)?;
                    *spatial = out;
                    let p_out = taps.p_out;
                    self.affine(id, c.w_std, c.b_std, *channels, c_out, p_out, Some(taps))
                }
                Layer::AvgPool(pool) => {
                    let strides = pool.strides.clone().unwrap_or_else(|| pool.window.clone());
                    let (taps, out) =
                        Taps::new(spatial, &pool.window, &strides, pool.padding, &here)?;
                    *spatial = out;
                    Op::Pool(taps)
                }
                Layer::GlobalAvgPool => {
                    let pixels = spatial.iter().product();
                    spatial.clear();
                    Op::GlobalPool { pixels }
                }
                Layer::Flatten => {
                    let pixels: usize = spatial.iter().product();
                    spatial.clear();
                    *channels *= pixels;
                    Op::Flatten { pixels }
                }
                Layer::LayerNorm(n) => Op::LayerNorm { eps: n.eps },
                Layer::Activation(a) => Op::Act(a.clone()),
                Layer::Residual(branch) => {
                    let (mut s, mut c) = (spatial.clone(), *channels);
                    let inner = self.layers(
                        branch,
                        &format!("{here}.residual.layers"),
                        &mut s,
                        &mut c,
                        Some(*channels),
                        depth + 1,
                    )?;
                    if s != *spatial || c != *channels {
                        return Err(Error::InvalidNetwork(format!(
                            "{here}: the branch maps {spatial:?} × {channels} channels to {s:?} × \
                             {c}: x + branch(x) needs the same shape"
                        )));
                    }
                    Op::Residual(inner)
                }
            };
            if let Op::Affine(a) = &op {
                *channels = a.c_out;
            }
            ops.push(op);
        }
        Ok(ops)
    }

    #[allow(clippy::too_many_arguments)]
    fn affine(
        &self,
        id: usize,
        w_std: f64,
        b_std: Option<f64>,
        c_in: usize,
        c_out: usize,
        p_out: usize,
        taps: Option<Taps>,
    ) -> Op {
        let fan_in = taps.as_ref().map_or(1, |t| t.f) * c_in;
        let scale = w_std / (fan_in as f64).sqrt();
        let (w_mult, b_mult) = if self.standard {
            (1.0, if b_std.is_some() { 1.0 } else { 0.0 })
        } else {
            (scale, b_std.unwrap_or(0.0))
        };
        Op::Affine(Affine {
            id,
            w: DMatrix::zeros(0, 0),
            b: None,
            w_mult,
            b_mult,
            out_var: (scale * scale, b_std.map_or(0.0, |s| s * s)),
            c_in,
            c_out,
            p_out,
            taps,
            scale,
            b_std,
        })
    }
}

impl ImageNet {
    /// The structure of the network the builder describes, checked; nothing is sampled.
    pub(crate) fn compile(b: &FiniteNetworkBuilder) -> Result<ImageNet> {
        let spec: &Network = &b.spec;
        if b.output_dim == 0 {
            return Err(invalid(
                "output_dim",
                0,
                "the output dimension must be at least 1",
            ));
        }
        let (mut spatial, mut channels) = match spec.input_shape() {
            Some(shape) => {
                let d: usize = shape.iter().product();
                if d != b.input_dim {
                    return Err(Error::ShapeMismatch {
                        what: format!(
                            "input_dim of a finite network (the product of the spec's \
                             input_shape {shape:?})"
                        ),
                        expected: d.to_string(),
                        found: b.input_dim.to_string(),
                    });
                }
                let (s, c) = shape.split_at(shape.len() - 1);
                (s.to_vec(), c[0])
            }
            None => (vec![], b.input_dim),
        };
        if b.input_dim == 0 {
            return Err(invalid(
                "input_dim",
                0,
                "the input dimension must be at least 1",
            ));
        }
        let n_affine = count_affine(spec.layers());
        if n_affine == 0 {
            return Err(Error::InvalidNetwork(
                "a finite network needs a dense or conv layer: it has no parameters otherwise"
                    .into(),
            ));
        }
        let mut c = Compiler {
            hidden: &b.hidden,
            standard: spec.parameterization() == Parameterization::Standard,
            n_affine,
            output_dim: b.output_dim,
            next: 0,
        };
        let pixels = spatial.iter().product();
        let input_channels = channels;
        let ops = c.layers(
            spec.layers(),
            "layers",
            &mut spatial,
            &mut channels,
            None,
            0,
        )?;
        if !spatial.is_empty() {
            return Err(Error::InvalidNetwork(
                "the network's output is an image: put `flatten` or `global_avg_pool` before the \
                 readout"
                    .into(),
            ));
        }
        Ok(ImageNet {
            ops,
            pixels,
            channels: input_channels,
            output_dim: channels,
        })
    }

    /// Checks the builder's parameters and samples the network from `rng`: the affine layers in
    /// depth-first order, each weight matrix row by row (output channel; within a row tap-major,
    /// channel within tap), then its bias.
    pub(crate) fn sample(b: &FiniteNetworkBuilder, rng: &mut ChaCha8Rng) -> Result<ImageNet> {
        let mut net = ImageNet::compile(b)?;
        let standard = b.spec.parameterization() == Parameterization::Standard;
        draw(&mut net.ops, rng, standard)?;
        Ok(net)
    }

    /// The affine layers, depth-first.
    pub(crate) fn affines(&self) -> Vec<&Affine> {
        fn walk<'a>(ops: &'a [Op], out: &mut Vec<&'a Affine>) {
            for op in ops {
                match op {
                    Op::Affine(a) => out.push(a),
                    Op::Residual(b) => walk(b, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.ops, &mut out);
        out
    }

    /// The affine layers, depth-first, mutably.
    pub(crate) fn affines_mut(&mut self) -> Vec<&mut Affine> {
        fn walk<'a>(ops: &'a mut [Op], out: &mut Vec<&'a mut Affine>) {
            for op in ops {
                match op {
                    Op::Affine(a) => out.push(a),
                    Op::Residual(b) => walk(b, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&mut self.ops, &mut out);
        out
    }

    /// Forward pass of the rows of `x` (n × d, checked by the caller), keeping what
    /// backpropagation needs.
    pub(crate) fn trace(&self, x: &DMatrix<f64>, par: Par) -> Result<ImageTrace> {
        let n = x.nrows();
        let h = x
            .transpose()
            .reshape_generic(Dyn(self.channels), Dyn(n * self.pixels));
        let mut saved = Vec::with_capacity(self.ops.len());
        let out = forward(&self.ops, h, n, par, &mut saved)?;
        Ok(ImageTrace {
            n,
            output: out,
            saved,
        })
    }
}

/// Draws the parameters of every affine layer of `ops`, depth-first.
fn draw(ops: &mut [Op], rng: &mut ChaCha8Rng, standard: bool) -> Result<()> {
    for op in ops {
        match op {
            Op::Affine(a) => {
                let (rows, cols) = (a.c_out, a.patch_len());
                let mut w = zeros(rows, cols, "a weight matrix")?;
                let s = if standard { a.scale } else { 1.0 };
                for i in 0..rows {
                    for j in 0..cols {
                        let g: f64 = StandardNormal.sample(rng);
                        w[(i, j)] = s * g;
                    }
                }
                a.w = w;
                a.b = a.b_std.map(|sb| {
                    let s = if standard { sb } else { 1.0 };
                    DVector::from_fn(rows, |_, _| {
                        let g: f64 = StandardNormal.sample(rng);
                        s * g
                    })
                });
            }
            Op::Residual(b) => draw(b, rng, standard)?,
            _ => {}
        }
    }
    Ok(())
}

/// The patches of a conv layer: column e·P_out + o stacks the C_in channels of each tap's input
/// pixel (zeros in the padding).
fn im2col(h: &DMatrix<f64>, taps: &Taps, n: usize, c: usize) -> Result<DMatrix<f64>> {
    let mut out = zeros(taps.f * c, n * taps.p_out, "the patches of a convolution")?;
    let (src, dst) = (h.as_slice(), out.as_mut_slice());
    let k = taps.f * c;
    for e in 0..n {
        for o in 0..taps.p_out {
            let col = &mut dst[(e * taps.p_out + o) * k..][..k];
            for t in 0..taps.f {
                if let Some(j) = taps.tap(o, t) {
                    col[t * c..(t + 1) * c].copy_from_slice(&src[(e * taps.p_in + j) * c..][..c]);
                }
            }
        }
    }
    Ok(out)
}

/// The adjoint of [`im2col`]: every patch entry added back to the input pixel it was read from.
fn col2im(d: &DMatrix<f64>, taps: &Taps, n: usize, c: usize) -> Result<DMatrix<f64>> {
    let mut out = zeros(c, n * taps.p_in, "backpropagated vectors")?;
    let (src, dst) = (d.as_slice(), out.as_mut_slice());
    let k = taps.f * c;
    for e in 0..n {
        for o in 0..taps.p_out {
            let col = &src[(e * taps.p_out + o) * k..][..k];
            for t in 0..taps.f {
                if let Some(j) = taps.tap(o, t) {
                    let target = &mut dst[(e * taps.p_in + j) * c..][..c];
                    for (a, b) in target.iter_mut().zip(&col[t * c..(t + 1) * c]) {
                        *a += b;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Average pooling per channel (`adjoint`: its transpose, from P_out back to P_in pixels).
fn pool(h: &DMatrix<f64>, taps: &Taps, n: usize, adjoint: bool) -> Result<DMatrix<f64>> {
    let c = h.nrows();
    let (p_src, p_dst) = if adjoint {
        (taps.p_out, taps.p_in)
    } else {
        (taps.p_in, taps.p_out)
    };
    let mut out = zeros(c, n * p_dst, "a pooled layer")?;
    let inv = 1.0 / taps.f as f64;
    let (src, dst) = (h.as_slice(), out.as_mut_slice());
    for e in 0..n {
        for o in 0..taps.p_out {
            for t in 0..taps.f {
                let Some(j) = taps.tap(o, t) else { continue };
                let (from, to) = if adjoint { (o, j) } else { (j, o) };
                let s = &src[(e * p_src + from) * c..][..c];
                for (a, b) in dst[(e * p_dst + to) * c..][..c].iter_mut().zip(s) {
                    *a += inv * b;
                }
            }
        }
    }
    Ok(out)
}

/// Runs `ops` on `h` (C × n·P), appending what backpropagation needs to `saved`.
fn forward(
    ops: &[Op],
    mut h: DMatrix<f64>,
    n: usize,
    par: Par,
    saved: &mut Vec<Saved>,
) -> Result<DMatrix<f64>> {
    for op in ops {
        let keep = match op {
            Op::Affine(a) => {
                let patches = match &a.taps {
                    Some(t) => im2col(&h, t, n, a.c_in)?,
                    None => h,
                };
                let mut z = zeros(a.c_out, patches.ncols(), "the pre-activations")?;
                gemm(&mut z, &a.w, false, &patches, false, a.w_mult, par);
                if let Some(b) = &a.b {
                    for mut col in z.column_iter_mut() {
                        col.axpy(a.b_mult, b, 1.0);
                    }
                }
                h = z;
                Saved::Affine(patches)
            }
            Op::Act(f) => {
                let mut d = zeros(h.nrows(), h.ncols(), "the activation derivatives")?;
                for (v, dv) in h.iter_mut().zip(d.iter_mut()) {
                    (*v, *dv) = f.eval_with_derivative(*v);
                }
                Saved::Act(d)
            }
            Op::Pool(t) => {
                h = pool(&h, t, n, false)?;
                Saved::Nothing
            }
            &Op::GlobalPool { pixels } => {
                let c = h.nrows();
                let mut out = zeros(c, n, "a pooled layer")?;
                let inv = 1.0 / pixels as f64;
                for (e, mut col) in out.column_iter_mut().enumerate() {
                    for p in 0..pixels {
                        col.axpy(inv, &h.column(e * pixels + p), 1.0);
                    }
                }
                h = out;
                Saved::Nothing
            }
            &Op::Flatten { pixels } => {
                let c = h.nrows();
                h = h.reshape_generic(Dyn(c * pixels), Dyn(n));
                Saved::Nothing
            }
            &Op::LayerNorm { eps } => {
                let c = h.nrows() as f64;
                let mut inv = Vec::with_capacity(h.ncols());
                for mut col in h.column_iter_mut() {
                    let mean = col.sum() / c;
                    col.add_scalar_mut(-mean);
                    let var = col.norm_squared() / c;
                    let s = 1.0 / (eps + var).sqrt();
                    col *= s;
                    inv.push(s);
                }
                Saved::Norm(h.clone(), inv)
            }
            Op::Residual(branch) => {
                let mut inner = Vec::with_capacity(branch.len());
                let out = forward(branch, h.clone(), n, par, &mut inner)?;
                h += out;
                Saved::Residual(inner)
            }
        };
        saved.push(keep);
    }
    Ok(h)
}

/// The index of the first op of `ops` with parameters (an affine layer, or a residual block,
/// which has one): below it backpropagation has nothing to reach but the input.
fn first_with_parameters(ops: &[Op]) -> usize {
    ops.iter()
        .position(|op| matches!(op, Op::Affine(_) | Op::Residual(_)))
        .unwrap_or(0)
}

/// Backpropagates `d` = ∂f/∂(output of `ops`) (one column per input pixel, as the forward
/// states), storing ∂f/∂z at every affine layer's output in `deltas` (by id), and returns
/// ∂f/∂(input) when `need_input` (`None` otherwise: the loop stops at the first layer with
/// parameters).
pub(crate) fn backward(
    ops: &[Op],
    saved: &[Saved],
    mut d: DMatrix<f64>,
    n: usize,
    need_input: bool,
    deltas: &mut [Option<DMatrix<f64>>],
    par: Par,
) -> Result<Option<DMatrix<f64>>> {
    let stop = if need_input {
        0
    } else {
        first_with_parameters(ops)
    };
    for (i, (op, keep)) in ops.iter().zip(saved).enumerate().rev() {
        let last = !need_input && i == stop;
        match (op, keep) {
            (Op::Affine(a), Saved::Affine(_)) => {
                if last {
                    deltas[a.id] = Some(d);
                    return Ok(None);
                }
                let mut dp = zeros(a.patch_len(), d.ncols(), "backpropagated vectors")?;
                gemm(&mut dp, &a.w, true, &d, false, a.w_mult, par);
                deltas[a.id] = Some(d);
                d = match &a.taps {
                    Some(t) => col2im(&dp, t, n, a.c_in)?,
                    None => dp,
                };
            }
            (Op::Act(_), Saved::Act(deriv)) => d.component_mul_assign(deriv),
            (Op::Pool(t), _) => d = pool(&d, t, n, true)?,
            (&Op::GlobalPool { pixels }, _) => {
                let c = d.nrows();
                let mut out = zeros(c, n * pixels, "backpropagated vectors")?;
                let inv = 1.0 / pixels as f64;
                for e in 0..n {
                    for p in 0..pixels {
                        out.column_mut(e * pixels + p).axpy(inv, &d.column(e), 0.0);
                    }
                }
                d = out;
            }
            (&Op::Flatten { pixels }, _) => {
                let c = d.nrows() / pixels;
                d = d.reshape_generic(Dyn(c), Dyn(n * pixels));
            }
            (Op::LayerNorm { .. }, Saved::Norm(y, inv)) => {
                // dx = (dy − mean(dy) − y·mean(dy∘y))/√(ε + v), per pixel over the channels.
                let c = d.nrows() as f64;
                for ((mut dc, yc), &s) in d.column_iter_mut().zip(y.column_iter()).zip(inv) {
                    let m1 = dc.sum() / c;
                    let m2 = dc.dot(&yc) / c;
                    dc.add_scalar_mut(-m1);
                    dc.axpy(-m2, &yc, 1.0);
                    dc *= s;
                }
            }
            (Op::Residual(branch), Saved::Residual(inner)) => {
                if let Some(db) = backward(branch, inner, d.clone(), n, true, deltas, par)? {
                    d += db;
                }
                if last {
                    return Ok(None);
                }
            }
            _ => unreachable!("the forward pass saves one matching entry per op"),
        }
    }
    Ok(need_input.then_some(d))
}

/// The saved patches of every affine layer, by id.
pub(crate) fn patches<'a>(ops: &'a [Op], saved: &'a [Saved], out: &mut [Option<&'a DMatrix<f64>>]) {
    for (op, keep) in ops.iter().zip(saved) {
        match (op, keep) {
            (Op::Affine(a), Saved::Affine(p)) => out[a.id] = Some(p),
            (Op::Residual(b), Saved::Residual(inner)) => patches(b, inner, out),
            _ => {}
        }
    }
}
