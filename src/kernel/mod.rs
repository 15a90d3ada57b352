//! The layer recursion of the NNGP and NTK kernels, and the [`Kernel`] trait.
//!
//! Conventions (neural-tangents 0.6.5, `stax.serial`): for inputs x, x' ∈ ℝᵈ the recursion starts from
//! Σ = x·x'/d (the mean over features, not the sum) and Θ = 0, with per-point variances
//! q = ‖x‖²/d, q' = ‖x'‖²/d. Then, layer by layer:
//!
//! * Dense, ntk parameterization: Σ ← σ_w²Σ + σ_b², Θ ← Σ_new + σ_w²Θ;
//! * Dense, standard parameterization: Θ ← n_in·Σ_old + σ_w²Θ + [1 if bias], Σ ← σ_w²Σ + σ_b²;
//! * activation φ: Σ ← T(Σ; q, q'), Θ ← Θ·Ṫ(Σ; q, q'), and each variance q ← T(q; q, q).
//!
//! The per-point variances of every layer are computed once per point (O(n·L)); each matrix entry then
//! runs all layers in registers (O(L) per entry, no per-layer n×n arrays), columns in parallel with
//! rayon. Symmetric Gram matrices compute the upper triangle and mirror it; their diagonal comes from
//! the diagonal formulas T(q; q, q), Ṫ(q; q, q).
//!
//! Networks with convolutions, pooling, flatten, layer norm or residual blocks take the pixel-pair
//! path of `image.rs` (the table of their layer maps is in `docs/architectures.md`); rows of the
//! input matrices then hold flattened channels-last tensors of the spec's `input_shape`.
//!
//! ```
//! use nalgebra::DMatrix;
//! use ntk::{Activation, Kernel, Network, Parameterization};
//! let net = Network::mlp(1, Activation::Relu).w_std(2f64.sqrt()).build().unwrap();
//! // Two orthogonal unit-variance points (x·x/d = 1).
//! let x = DMatrix::from_row_slice(2, 2, &[2f64.sqrt(), 0.0, 0.0, 2f64.sqrt()]);
//! let k = net.gram(&x).unwrap();
//! // Depth-1 ReLU at θ = π/2: the hidden layer has T = √(2·2)/(2π) = 1/π and Θ = 0·Ṫ = 0 (the first
//! // Dense layer's Θ is x·x'·σ_w²/d = 0), so Σ = Θ = 2/π after the readout. On the diagonal
//! // T = q/2 = 1, Ṫ = ½: Σ = 2 and Θ = 2 + 2·(2·½) = 4.
//! let pi = std::f64::consts::PI;
//! assert!((k.nngp[(0, 1)] - 2.0 / pi).abs() < 1e-15);
//! assert!((k.ntk[(0, 1)] - 2.0 / pi).abs() < 1e-15);
//! // (‖x‖²/d = (√2)²/2 is 1 only up to rounding.)
//! assert!((k.nngp[(0, 0)] - 2.0).abs() < 1e-14 && (k.ntk[(0, 0)] - 4.0).abs() < 1e-14);
//! ```

mod dots;
mod image;
pub mod pixels;
mod tile;

pub(crate) use tile::GramTables;
pub use tile::check_tile_range;

use crate::activation::LANES;
use crate::activation::mehler::TABLE;
use crate::layers::{CHUNK, Compiled, Plan, RowTables};
use crate::network::Network;
use crate::real::Real;
use crate::{Error, Result};
use dots::{ColPanels, RowPanels};
use multiversion::multiversion;
use nalgebra::{DMatrix, DMatrixView, DVector};
use rayon::prelude::*;
use std::ops::Range;

/// NNGP and NTK between two points, with the two points' NNGP variances.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelEntry {
    /// Σ(x1, x2).
    pub nngp: f64,
    /// Θ(x1, x2).
    pub ntk: f64,
    /// Σ(x1, x1).
    pub var1: f64,
    /// Σ(x2, x2).
    pub var2: f64,
}

/// Kernel matrices between two sets of points (rows of x1 against rows of x2).
#[derive(Debug, Clone, PartialEq)]
pub struct KernelMatrices {
    /// NNGP Σ(x1ᵢ, x2ⱼ), n1 × n2.
    pub nngp: DMatrix<f64>,
    /// NTK Θ(x1ᵢ, x2ⱼ), n1 × n2.
    pub ntk: DMatrix<f64>,
    /// NNGP variances Σ(x1ᵢ, x1ᵢ) (neural-tangents' `cov1`).
    pub cov1: DVector<f64>,
    /// NNGP variances Σ(x2ⱼ, x2ⱼ) (`cov2`; equal to `cov1` for a Gram matrix).
    pub cov2: DVector<f64>,
}

/// Kernel values of each point with itself.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelDiagonal {
    /// Σ(xᵢ, xᵢ).
    pub nngp: DVector<f64>,
    /// Θ(xᵢ, xᵢ).
    pub ntk: DVector<f64>,
}

/// Which of the two kernels: the NNGP Σ or the NTK Θ. Every API that picks one of them takes this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelKind {
    /// The NNGP Σ: the prior covariance of the network's outputs (Bayesian inference, or training
    /// the readout alone).
    Nngp,
    /// The NTK Θ: gradient descent on every layer.
    Ntk,
}

/// A pair of kernels (NNGP Σ and NTK Θ) between points of ℝᵈ (for image networks, flattened
/// channels-last tensors), given as rows of a matrix.
///
/// Implemented by [`Network`] (the infinite-width limit) and by
/// [`FiniteNetwork`](crate::FiniteNetwork) (the empirical kernels of one sampled network), so the
/// regression API works on either; downstream code writes `use ntk::Kernel`.
pub trait Kernel {
    /// Σ and Θ between two points.
    fn entry(&self, x1: &[f64], x2: &[f64]) -> Result<KernelEntry>;

    /// Σ(X1, X2) and Θ(X1, X2) for the rows of `x1` (n1 × d) and `x2` (n2 × d).
    fn cross(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>) -> Result<KernelMatrices>;

    /// The symmetric Σ(X, X) and Θ(X, X) (computes half and mirrors it).
    fn gram(&self, x: &DMatrix<f64>) -> Result<KernelMatrices>;

    /// Σ(xᵢ, xᵢ) and Θ(xᵢ, xᵢ) for every row, in O(n·depth).
    fn diagonal(&self, x: &DMatrix<f64>) -> Result<KernelDiagonal>;

    /// The infinite-width [`Network`] this kernel is, if it is one (the default is `None`; only
    /// `Network` overrides it). The matrix-free solvers of [`crate::iterative`] then build the
    /// points' per-layer tables once and compute each block of one kernel into a reused buffer;
    /// for any other kernel they call [`Kernel::cross`] block by block.
    fn as_network(&self) -> Option<&Network> {
        None
    }
}

/// A progress callback: called with the number of kernel entries just finished.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// Columns per parallel task.
const BLOCK: usize = 16;

thread_local! {
    /// Per-thread scratch of a block's column task for the kernel it was not asked for.
    static SCRATCH: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Network {
    pub(crate) fn overflow(&self, stage: usize, value: f64) -> Error {
        Error::Overflow {
            layer: stage,
            activation: self.layers()[stage].name(),
            value,
        }
    }

    /// The kernel of a pair from its input kernel: c0 = x·x'/d, q1 = ‖x‖²/d, q2 = ‖x'‖²/d, with `d` the
    /// input dimension (used by the standard parameterization's first layer). Returns
    /// (Σ(x, x'), Θ(x, x'), Σ(x, x), Σ(x', x')).
    ///
    /// Generic over the scalar, so a [`Fwd`](crate::Fwd) number carries ∂/∂(c0, q1, q2) through every
    /// layer; for fully connected networks the kernel depends on the inputs only through these three
    /// numbers. Where c0 = q1 = q2 (a point with itself) the diagonal formulas are used, whose
    /// derivatives are those along c0 = q1 = q2 only, and at perfectly correlated pairs the partials
    /// may not exist: for input gradients use [`Network::kernel_gradient`], which handles both.
    pub fn kernel_from_input_kernel<F: Real>(
        &self,
        c0: F,
        q1: F,
        q2: F,
        d: usize,
    ) -> Result<(F, F, F, F)> {
        let plan = self.plan("the kernel from an input kernel (c0, q1, q2)")?;
        let mut s1 = vec![F::zero(); plan.n_slots()];
        let mut s2 = vec![F::zero(); plan.n_slots()];
        let overflow = |(layer, v)| self.overflow(layer, v);
        let (v1, _) = plan.point(q1, d, &mut s1).map_err(overflow)?;
        let (v2, _) = plan.point(q2, d, &mut s2).map_err(overflow)?;
        let (k, t) = plan.pair::<F, true>(c0, d, &s1, &s2).map_err(overflow)?;
        Ok((k, t, v1, v2))
    }

    /// The per-point tables of the points `range` (rows of `x`).
    pub(crate) fn fc_points(
        &self,
        plan: &Plan,
        x: &DMatrix<f64>,
        range: Range<usize>,
    ) -> Result<FcPoints> {
        let d = x.ncols();
        let ns = plan.n_slots().max(1);
        let mut slots = vec![0.0; range.len() * ns];
        let q: Vec<f64> = range
            .clone()
            .map(|i| x.row(i).norm_squared() / d as f64)
            .collect();
        let rows: Vec<Result<(f64, f64)>> = slots
            .par_chunks_mut(ns)
            .zip(&q)
            .map(|(s, &q0)| {
                plan.point(q0, d, &mut s[..plan.n_slots()])
                    .map_err(|(layer, v)| self.overflow(layer, v))
            })
            .collect();
        let mut var = DVector::zeros(range.len());
        let mut ntk = DVector::zeros(range.len());
        for (i, r) in rows.into_iter().enumerate() {
            (var[i], ntk[i]) = r?;
        }
        let (by_slot, stride) = slot_major(&slots, range.len(), ns, &plan.input_slots());
        let series = series_major(&slots, ns, stride, &plan.series_slots());
        Ok(FcPoints {
            start: range.start,
            ns,
            slots,
            by_slot,
            series,
            stride,
            var,
            ntk,
            q,
            hash: row_hashes(x, range),
        })
    }

    fn first_nonfinite_layer(
        &self,
        plan: &Plan,
        c0: f64,
        d: usize,
        s1: &[f64],
        s2: &[f64],
    ) -> Error {
        match plan.pair::<f64, true>(c0, d, s1, s2) {
            Err((layer, v)) => self.overflow(layer, v),
            Ok(_) => Error::Overflow {
                layer: self.layers().len() - 1,
                activation: self.layers()[self.layers().len() - 1].name(),
                value: f64::NAN,
            },
        }
    }
}

fn check_points(what: &str, x: &DMatrix<f64>) -> Result<()> {
    if x.ncols() == 0 {
        return Err(Error::ShapeMismatch {
            what: format!("{what} (points are rows)"),
            expected: "at least one feature column".into(),
            found: format!("{}×0", x.nrows()),
        });
    }
    crate::linalg::check_finite_matrix(x, what)
}

/// Σ and Θ of rows `0..rows` of a column in place: `kcol` holds the input covariances (already
/// replaced by the variance for identical rows) and gets Σ, `tcol` gets Θ. `table` holds the rows'
/// per-point tables (row 0 of the column at its `start`), `s2j` the column point's. Returns the
/// first row whose value is not finite.
///
/// The rows run in chunks of [`CHUNK`] through each stage in turn ([`Plan::chunk`]), the last chunk
/// padded to whole lanes: a lane's arithmetic does not depend on the other lanes, so each entry gets
/// the same bits wherever it falls in a column, which makes tiles of a Gram matrix bit-identical to
/// the whole. The column is compiled for AVX-512 and for AVX2 + FMA, one chosen at run time
/// (`multiversion`), so the Dense stages and the lane duals inline into one vectorized loop; every
/// version performs the same IEEE operations (`mul_add` is exactly rounded everywhere).
#[multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma"))]
fn column(
    plan: &Plan,
    kcol: &mut [f64],
    tcol: &mut [f64],
    rows: usize,
    d: usize,
    table: RowTables,
    s2j: &[f64],
) -> Option<usize> {
    let mut pad = ([0.0; CHUNK], [0.0; CHUNK]);
    for start in (0..rows).step_by(CHUNK) {
        let len = (rows - start).min(CHUNK);
        let at = RowTables {
            start: table.start + start,
            ..table
        };
        if len == CHUNK {
            let c = (&mut kcol[start..start + CHUNK])
                .try_into()
                .expect("CHUNK rows");
            let t = (&mut tcol[start..start + CHUNK])
                .try_into()
                .expect("CHUNK rows");
            plan.chunk((c, t), (CHUNK, CHUNK), d, at, s2j);
        } else {
            // The short last chunk is padded to whole lanes with c = 0 (against the table's
            // padding variance 1), computed with the others, and dropped.
            let lanes = len.next_multiple_of(LANES);
            pad.0[..len].copy_from_slice(&kcol[start..start + len]);
            pad.0[len..lanes].fill(0.0);
            plan.chunk((&mut pad.0, &mut pad.1), (lanes, len), d, at, s2j);
            kcol[start..start + len].copy_from_slice(&pad.0[..len]);
            tcol[start..start + len].copy_from_slice(&pad.1[..len]);
        }
    }
    let first = |v: &[f64]| crate::linalg::first_nonfinite(&v[..rows]);
    match (first(kcol), first(tcol)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The values at `inputs` (the activations' input variances) of `slots` (`ns` per point, n
/// points), activation-major with a stride that is a multiple of [`CHUNK`], padded with variance 1
/// (see [`FcPoints`]). The stride leaves at least `LANES − 1` values of padding: a block of rows
/// that starts inside a lane group and ends at the last point pads its last group past it.
fn slot_major(slots: &[f64], n: usize, ns: usize, inputs: &[usize]) -> (Vec<f64>, usize) {
    let stride = (n + LANES - 1).next_multiple_of(CHUNK);
    let mut table = vec![1.0; stride * inputs.len()];
    for (i, row) in slots.chunks_exact(ns).take(n).enumerate() {
        for (k, &slot) in inputs.iter().enumerate() {
            table[k * stride + i] = row[slot];
        }
    }
    (table, stride)
}

/// The Mehler tables of the quadrature layers whose input variances sit at `inputs` of `slots`
/// (`ns` values per point), in groups of [`LANES`] points, lane-minor, for the stride of
/// [`slot_major`], with zeros as padding (see [`FcPoints`]).
fn series_major(slots: &[f64], ns: usize, stride: usize, inputs: &[usize]) -> Vec<f64> {
    let mut table = vec![0.0; stride * TABLE * inputs.len()];
    // One group of LANES points per block of the output, each written in order.
    table
        .par_chunks_mut(LANES * TABLE)
        .enumerate()
        .for_each(|(b, block)| {
            let (s, g) = (b / (stride / LANES), b % (stride / LANES));
            let slot = inputs[s] + 1;
            for (l, row) in slots
                .chunks_exact(ns)
                .skip(g * LANES)
                .take(LANES)
                .enumerate()
            {
                for (v, &x) in row[slot..slot + TABLE].iter().enumerate() {
                    block[v * LANES + l] = x;
                }
            }
        });
    table
}

/// A hash of the bit pattern of each row in `range`, to find identical rows cheaply.
fn row_hashes(x: &DMatrix<f64>, range: Range<usize>) -> Vec<u64> {
    range
        .map(|i| {
            x.row(i).iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
                (h ^ v.to_bits()).wrapping_mul(0x0000_0100_0000_01b3)
            })
        })
        .collect()
}

/// The per-point tables of fully connected kernels for the points `start..start + len` of a set,
/// computed once in O(len · depth) and shared by every block that involves them.
pub(crate) struct FcPoints {
    /// The first point.
    start: usize,
    /// Values per point in `slots` (the activation layers, at least 1).
    ns: usize,
    /// Each point's input variance at every activation layer, `ns` per point.
    slots: Vec<f64>,
    /// The activations' input variances activation-major, for the kernels' row chunks: that of
    /// activation layer k of point `start + i` at `k * stride + i`; `stride` ≥ the number of points
    /// plus `LANES − 1` is a multiple of [`CHUNK`], and the padding holds the benign variance 1.
    by_slot: Vec<f64>,
    /// The quadrature layers' Mehler tables in groups of [`LANES`] points, for the row chunks'
    /// lanes: value v of the table of quadrature layer s of point `start + g·LANES + l` at
    /// `((s * stride / LANES + g) * TABLE + v) * LANES + l`, zeros in the padding (see
    /// `layers::RowTables`). A copy of the tables in `slots` (8·TABLE = 1184 bytes per point and
    /// quadrature layer), so that each value of a lane group is one contiguous load.
    series: Vec<f64>,
    stride: usize,
    /// Σ(x, x).
    var: DVector<f64>,
    /// Θ(x, x).
    ntk: DVector<f64>,
    /// ‖x‖²/d, the input covariance of a point with an identical one.
    q: Vec<f64>,
    /// Hashes of the rows' bits.
    hash: Vec<u64>,
}

impl FcPoints {
    /// The variance table of point `i` (an index into the whole set).
    fn table(&self, i: usize) -> &[f64] {
        let k = i - self.start;
        &self.slots[k * self.ns..(k + 1) * self.ns]
    }
}

/// One side of a block of a fully connected kernel: the points `range` of `x`, whose tables `p`
/// hold (they may hold more).
#[derive(Clone)]
struct Side<'a> {
    x: &'a DMatrix<f64>,
    p: &'a FcPoints,
    range: Range<usize>,
}

/// The kernels of a block: Σ and Θ, each `None` when it was not asked for.
pub(crate) type Block = (Option<DMatrix<f64>>, Option<DMatrix<f64>>);

/// `Some` chunks of `len` values of `buf`, or `count` `None`s: the outputs a block was not asked for.
fn chunks(buf: Option<&mut [f64]>, len: usize, count: usize) -> Vec<Option<&mut [f64]>> {
    match buf {
        Some(b) => b.chunks_mut(len).map(Some).collect(),
        None => (0..count).map(|_| None).collect(),
    }
}

/// A raw pointer that may cross threads; used only to mirror disjoint triangles.
#[derive(Clone, Copy)]
struct SharedPtr(*mut f64);
// SAFETY: every use writes and reads disjoint index sets (see `mirror_upper`).
unsafe impl Send for SharedPtr {}
unsafe impl Sync for SharedPtr {}

/// An n1 × n2 matrix of zeros for a kernel to be written into, or [`Error::TooLarge`] with the bytes
/// it needs when it cannot be allocated (instead of aborting the process). Large ones ask Linux for
/// transparent huge pages before they are touched: the kernels write every element once, and with
/// 4 KiB pages the page faults of two fresh n × n outputs cost about a fifth of a depth-1 kernel at
/// n = 4000.
fn output_matrix(n1: usize, n2: usize) -> Result<DMatrix<f64>> {
    crate::linalg::alloc_matrix(n1, n2, "kernel matrix")
}

/// Side of the square tiles in which the triangle is mirrored (a 64×64 tile of f64 is 32 KiB).
const TILE: usize = 64;

/// Copies the strict upper triangle of the n × n column-major `m` into its strict lower triangle,
/// tile by tile: a plain transposition reads with stride n, a new page and cache line per element.
fn mirror_upper(m: &mut DMatrix<f64>) {
    let n = m.nrows();
    let p = SharedPtr(m.as_mut_slice().as_mut_ptr());
    (0..n.div_ceil(TILE)).into_par_iter().for_each(move |bi| {
        let p = p;
        let c0 = bi * TILE;
        let c1 = (c0 + TILE).min(n);
        let mut r0 = c0;
        while r0 < n {
            let r1 = (r0 + TILE).min(n);
            for c in c0..c1 {
                for r in r0.max(c + 1)..r1 {
                    // SAFETY: task `bi` writes only (r, c) with r > c in its own columns c0..c1 (the
                    // strict lower part) and reads only (c, r) with c < r (the strict upper part),
                    // which no task writes. All indices are < n².
                    unsafe {
                        *p.0.add(c * n + r) = *p.0.add(r * n + c);
                    }
                }
            }
            r0 = r1;
        }
    });
}

impl Kernel for Network {
    fn entry(&self, x1: &[f64], x2: &[f64]) -> Result<KernelEntry> {
        if x1.len() != x2.len() || x1.is_empty() {
            return Err(Error::ShapeMismatch {
                what: "the two points".into(),
                expected: format!("equal non-zero lengths ({})", x1.len()),
                found: format!("{}", x2.len()),
            });
        }
        self.check_input_dim("x1", x1.len())?;
        crate::linalg::check_finite_slice(x1, "x1")?;
        crate::linalg::check_finite_slice(x2, "x2")?;
        match self.compiled() {
            Compiled::FullyConnected(_) => self.fc_entry(x1, x2),
            Compiled::Image(plan) => image::entry(self, plan, x1, x2),
        }
    }

    fn cross(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>) -> Result<KernelMatrices> {
        self.cross_with_progress(x1, x2, &|_| {})
    }

    fn gram(&self, x: &DMatrix<f64>) -> Result<KernelMatrices> {
        self.gram_with_progress(x, &|_| {})
    }

    fn as_network(&self) -> Option<&Network> {
        Some(self)
    }

    fn diagonal(&self, x: &DMatrix<f64>) -> Result<KernelDiagonal> {
        check_points("x", x)?;
        self.check_input_dim("x", x.ncols())?;
        match self.compiled() {
            Compiled::FullyConnected(plan) => {
                let p = self.fc_points(plan, x, 0..x.nrows())?;
                Ok(KernelDiagonal {
                    nngp: p.var,
                    ntk: p.ntk,
                })
            }
            Compiled::Image(plan) => image::diagonal(self, plan, x),
        }
    }
}

impl Network {
    /// [`Kernel::cross`], reporting progress: `progress(k)` is called, from the worker threads, each
    /// time k more of the n1·n2 entries are done (a column at a time), e.g. to drive a progress bar.
    ///
    /// ```
    /// use nalgebra::DMatrix;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// let net = ntk::Network::mlp(2, ntk::Activation::Relu).build()?;
    /// let x = DMatrix::from_fn(5, 3, |i, j| (i + 2 * j) as f64);
    /// let done = AtomicU64::new(0);
    /// net.cross_with_progress(&x, &x.rows(0, 2).into_owned(), &|k| {
    ///     done.fetch_add(k, Ordering::Relaxed);
    /// })?;
    /// assert_eq!(done.into_inner(), 10);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn cross_with_progress(
        &self,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        progress: Progress,
    ) -> Result<KernelMatrices> {
        check_points("x1", x1)?;
        check_points("x2", x2)?;
        if x1.ncols() != x2.ncols() {
            return Err(Error::ShapeMismatch {
                what: "feature dimension of x1 and x2".into(),
                expected: format!("{} columns", x1.ncols()),
                found: format!("{} columns", x2.ncols()),
            });
        }
        self.check_input_dim("x1", x1.ncols())?;
        match self.compiled() {
            Compiled::FullyConnected(plan) => self.fc_cross(plan, x1, x2, progress),
            Compiled::Image(plan) => image::cross(self, plan, x1, x2, progress),
        }
    }

    /// [`Kernel::gram`], reporting progress: `progress(k)` is called, from the worker threads, each
    /// time k more of the n(n + 1)/2 entries of the upper triangle are done (a column at a time;
    /// for fully connected networks the n diagonal entries come last, at once).
    pub fn gram_with_progress(
        &self,
        x: &DMatrix<f64>,
        progress: Progress,
    ) -> Result<KernelMatrices> {
        check_points("x", x)?;
        self.check_input_dim("x", x.ncols())?;
        match self.compiled() {
            Compiled::FullyConnected(plan) => self.fc_gram(plan, x, progress),
            Compiled::Image(plan) => image::gram(self, plan, x, progress),
        }
    }

    /// Checks an input dimension against the spec's `input_shape`, if it has one.
    fn check_input_dim(&self, what: &str, d: usize) -> Result<()> {
        let Some(shape) = self.input_shape() else {
            return Ok(());
        };
        let need: usize = shape.iter().product();
        if d == need {
            return Ok(());
        }
        let layout = match shape.len() {
            1 => "a vector".to_string(),
            2 => "a flattened L × C sequence, channels last".to_string(),
            _ => "a flattened H × W × C image, channels last".to_string(),
        };
        Err(Error::ShapeMismatch {
            what: format!("{what}: the length of one input"),
            expected: format!("{need} values ({layout}, input_shape {shape:?})"),
            found: format!("{d}"),
        })
    }

    fn fc_entry(&self, x1: &[f64], x2: &[f64]) -> Result<KernelEntry> {
        // The input covariances as the matrices compute them (`fc_points`, `dots`, and the
        // variance for identical points), so that an entry has the bits of the matrices' entry.
        let d = x1.len();
        let var = |a: &[f64]| DMatrixView::from_slice(a, 1, d).norm_squared() / d as f64;
        let (q1, q2) = (var(x1), var(x2));
        let c0 = if x1 == x2 {
            q1
        } else {
            dots::covariance(x1, x2, 1.0 / d as f64)
        };
        let (nngp, ntk, var1, var2) = self.kernel_from_input_kernel(c0, q1, q2, d)?;
        Ok(KernelEntry {
            nngp,
            ntk,
            var1,
            var2,
        })
    }

    fn fc_cross(
        &self,
        plan: &Plan,
        x1: &DMatrix<f64>,
        x2: &DMatrix<f64>,
        progress: Progress,
    ) -> Result<KernelMatrices> {
        let (n1, n2) = (x1.nrows(), x2.nrows());
        let p1 = self.fc_points(plan, x1, 0..n1)?;
        let p2 = self.fc_points(plan, x2, 0..n2)?;
        let mut nngp = output_matrix(n1, n2)?;
        let mut ntk = output_matrix(n1, n2)?;
        let rows = Side {
            x: x1,
            p: &p1,
            range: 0..n1,
        };
        let cols = Side {
            x: x2,
            p: &p2,
            range: 0..n2,
        };
        let outputs = (Some(nngp.as_mut_slice()), Some(ntk.as_mut_slice()));
        self.fc_block(plan, rows, cols, false, outputs, progress)?;
        Ok(KernelMatrices {
            nngp,
            ntk,
            cov1: p1.var,
            cov2: p2.var,
        })
    }

    fn fc_gram(&self, plan: &Plan, x: &DMatrix<f64>, progress: Progress) -> Result<KernelMatrices> {
        let n = x.nrows();
        let p = self.fc_points(plan, x, 0..n)?;
        let mut nngp = output_matrix(n, n)?;
        let mut ntk = output_matrix(n, n)?;
        let side = Side {
            x,
            p: &p,
            range: 0..n,
        };
        let outputs = (Some(nngp.as_mut_slice()), Some(ntk.as_mut_slice()));
        self.fc_block(plan, side.clone(), side, true, outputs, progress)?;
        progress(n as u64);
        nngp.set_diagonal(&p.var);
        ntk.set_diagonal(&p.ntk);
        mirror_upper(&mut nngp);
        mirror_upper(&mut ntk);
        Ok(KernelMatrices {
            nngp,
            ntk,
            cov2: p.var.clone(),
            cov1: p.var,
        })
    }

    /// The block `rows` × `cols` of a fully connected kernel into column-major |rows| × |cols|
    /// buffers (Σ, Θ; `None` for one not wanted, whose values then go to per-chunk scratch),
    /// columns in parallel [`BLOCK`] at a time.
    ///
    /// With `upper` both sides are points of one set and only the entries i < j (indices in that
    /// set) are computed, as the Gram matrix computes them; the other entries may hold partial
    /// values. Without it every entry is computed, as `cross` does. Each entry's covariance
    /// ([`dots`]) and recursion ([`Network::column`]) take the same operations wherever the entry
    /// lies, so any block holds exactly the bits of the whole matrix.
    fn fc_block(
        &self,
        plan: &Plan,
        rows: Side,
        cols: Side,
        upper: bool,
        (kout, tout): (Option<&mut [f64]>, Option<&mut [f64]>),
        progress: Progress,
    ) -> Result<()> {
        let (m, nc) = (rows.range.len(), cols.range.len());
        if m == 0 || nc == 0 {
            return Ok(());
        }
        let d = rows.x.ncols();
        let scale = 1.0 / d as f64;
        let r0 = rows.range.start;
        let s1 = RowTables {
            by_slot: &rows.p.by_slot,
            stride: rows.p.stride,
            series: &rows.p.series,
            start: r0 - rows.p.start,
        };
        // The rows of column j the block computes.
        let rows_of = |j: usize| {
            if upper {
                j.saturating_sub(r0).min(m)
            } else {
                m
            }
        };
        let a = RowPanels::new(rows.x, rows.range.clone());
        let count = nc.div_ceil(BLOCK);
        let bad = chunks(kout, m * BLOCK, count)
            .into_par_iter()
            .zip(chunks(tout, m * BLOCK, count))
            .enumerate()
            .map(|(b, (kc, tc))| {
                let c0 = cols.range.start + b * BLOCK;
                let c1 = (c0 + BLOCK).min(cols.range.end);
                // A kernel not asked for passes through this thread's scratch (every value is
                // written before it is read, so it is not cleared).
                let mut scratch = SCRATCH.take();
                let len = m * (c1 - c0);
                if (kc.is_none() || tc.is_none()) && scratch.len() < 2 * len {
                    scratch.resize(2 * len, 0.0);
                }
                let half = scratch.len() / 2;
                let (ks, ts) = scratch.split_at_mut(half);
                let kc: &mut [f64] = kc.unwrap_or_else(|| &mut ks[..len]);
                let tc: &mut [f64] = tc.unwrap_or_else(|| &mut ts[..len]);
                let mr = rows_of(c1 - 1);
                if mr > 0 {
                    dots::covariances(&a, mr, &ColPanels::new(cols.x, c0..c1), scale, kc, m);
                }
                let mut bad = None;
                for (w, j) in (c0..c1).enumerate() {
                    let mj = rows_of(j);
                    let kcol = &mut kc[w * m..w * m + mj];
                    let tcol = &mut tc[w * m..w * m + mj];
                    let (pj, hj) = (j - cols.p.start, cols.p.hash[j - cols.p.start]);
                    // Identical rows: exact diagonal values (see `layers::Pair`). The sum
                    // x·x'/d rounds differently from ‖x‖²/d, so the variance is used instead.
                    // A vectorized scan for the column's hash first: matches are rare.
                    let hashes = &rows.p.hash[r0 - rows.p.start..][..mj];
                    if hashes.iter().fold(false, |any, &h| any | (h == hj)) {
                        for (r, c) in kcol.iter_mut().enumerate() {
                            let pi = r0 + r - rows.p.start;
                            if hashes[r] == hj && rows.x.row(r0 + r) == cols.x.row(j) {
                                *c = rows.p.q[pi];
                            }
                        }
                    }
                    let col_bad = column(plan, kcol, tcol, mj, d, s1, cols.p.table(j));
                    bad = bad.or(col_bad.map(|r| (r0 + r, pj + cols.p.start)));
                    progress(mj as u64);
                }
                SCRATCH.set(scratch);
                bad
            })
            .reduce(|| None, |a, b| a.or(b));
        match bad {
            None => Ok(()),
            Some((i, j)) => {
                let c0 = rows.x.row(i).dot(&cols.x.row(j)) / d as f64;
                Err(self.first_nonfinite_layer(plan, c0, d, rows.p.table(i), cols.p.table(j)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Activation, Kernel, Network};
    use nalgebra::DMatrix;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Blocks of rows that start inside a group of [`super::LANES`] points of the tables (as a
    /// matrix-free operator asks for them: tables of all n points, then one block of rows at a
    /// time) read the rows' Mehler tables lane by lane; they must give the Gram matrix's bits, also
    /// at the end of a table whose length is a whole number of row chunks (n = 256, where a padded
    /// lane group reaches past the last point).
    #[test]
    fn unaligned_row_blocks_have_the_gram_bits() {
        let net = Network::mlp(3, Activation::Tanh)
            .w_std(1.5)
            .b_std(0.1)
            .build()
            .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 256;
        let x = DMatrix::from_fn(n, 4, |_, _| rng.random::<f64>() - 0.5);
        let g = net.gram(&x).unwrap();
        let t = net.gram_tables(&x, 0..n).unwrap();
        for (rows, cols) in [
            (3..44, 0..45),
            (13..30, 29..60),
            (251..256, 0..256),
            (0..256, 250..256),
        ] {
            let (k, th) = net
                .gram_block((&t, rows.clone()), (&t, cols.clone()), None, &|_| {})
                .unwrap();
            let (k, th) = (k.unwrap(), th.unwrap());
            for (a, b) in [(&k, &g.nngp), (&th, &g.ntk)] {
                let whole = b.view((rows.start, cols.start), (rows.len(), cols.len()));
                let same = a
                    .iter()
                    .zip(whole.iter())
                    .all(|(u, v)| u.to_bits() == v.to_bits());
                assert!(same, "{rows:?} × {cols:?}");
            }
        }
    }
}
