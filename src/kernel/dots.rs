//! The input covariances c = x·x'/d of fully connected kernels, with one order of operations for
//! every pair.
//!
//! A tile of the Gram matrix must hold the very bits the full matrix holds, so the value of a pair
//! may not depend on where the pair sits in a block. A BLAS-style GEMM does not promise that: with
//! more features than its k-block (256 for matrixmultiply's f64 kernels) its full micro-tiles add
//! the partial sums with a fused multiply-add and its edge tiles with a product and a sum, and
//! nalgebra switches to a matrix-vector loop when a side has 5 or fewer rows. Here every pair is
//! summed the same way: one accumulator, k = 0, 1, …, d − 1, each step a fused multiply-add
//! (`mul_add`, exactly rounded on every instruction set, in software where the CPU has no FMA), then
//! one multiplication by 1/d. The micro-kernel runs [`MR`] × [`NR`] pairs at a time only to keep the
//! accumulators in vector registers; each lane performs the scalar sequence above, so the grouping
//! (and padding) never changes a bit.

use multiversion::multiversion;
use nalgebra::DMatrix;
use std::ops::Range;

/// Rows of a micro-tile: 8 accumulators of 8 lanes, enough independent multiply-add chains to
/// cover their latency (4 cycles, 2 per cycle).
const MR: usize = 8;
/// Columns of a micro-tile (one AVX-512 register, two AVX2 registers).
const NR: usize = 8;

/// Points packed for the micro-kernel: groups of `W` consecutive points, each group stored
/// k-major (`W` values of feature 0, then of feature 1, …), the last group padded with zeros.
pub(super) struct Panels<const W: usize> {
    data: Vec<f64>,
    len: usize,
    d: usize,
}

/// Panels of the rows of a block (the broadcast side).
pub(super) type RowPanels = Panels<MR>;
/// Panels of the columns of a block (the vector side).
pub(super) type ColPanels = Panels<NR>;

impl<const W: usize> Panels<W> {
    /// Packs the points `range` (rows of `x`).
    pub(super) fn new(x: &DMatrix<f64>, range: Range<usize>) -> Self {
        let d = x.ncols();
        let len = range.len();
        let groups = len.div_ceil(W);
        let mut data = vec![0.0; groups * W * d];
        let src = x.as_slice();
        let n = x.nrows();
        for (g, panel) in data.chunks_mut(W * d).enumerate() {
            for w in 0..W.min(len - g * W) {
                let i = range.start + g * W + w;
                for k in 0..d {
                    panel[k * W + w] = src[k * n + i];
                }
            }
        }
        Panels { data, len, d }
    }

    /// The number of points.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    fn group(&self, g: usize) -> &[f64] {
        &self.data[g * W * self.d..(g + 1) * W * self.d]
    }
}

/// `out[r + c·ld] = scale · Σₖ a_r[k]·b_c[k]` for the first `rows` points of `a` and every point of
/// `b`, each sum in the order of the module docs. Compiled for AVX-512 and for AVX2 + FMA, one
/// chosen at run time (the same IEEE operations in every version).
#[multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn covariances(
    a: &RowPanels,
    rows: usize,
    b: &ColPanels,
    scale: f64,
    out: &mut [f64],
    ld: usize,
) {
    debug_assert!(rows <= a.len() && a.d == b.d);
    let d = a.d;
    for gb in 0..b.len.div_ceil(NR) {
        let bp = b.group(gb);
        let ncols = NR.min(b.len - gb * NR);
        for ga in 0..rows.div_ceil(MR) {
            let ap = a.group(ga);
            let nrows = MR.min(rows - ga * MR);
            let acc = micro(d, ap, bp);
            for (w, col) in acc.iter().enumerate().take(ncols) {
                let base = (gb * NR + w) * ld + ga * MR;
                for r in 0..nrows {
                    out[base + r] = scale * col[r];
                }
            }
        }
    }
}

/// `scale · Σₖ a[k]·b[k]` for one pair, in the order of the module docs: the covariance
/// [`covariances`] gives the pair in any block (for `Kernel::entry`).
pub(super) fn covariance(a: &[f64], b: &[f64], scale: f64) -> f64 {
    scale * a.iter().zip(b).fold(0.0, |acc, (u, v)| u.mul_add(*v, acc))
}

/// The MR × NR sums of one micro-tile, by column: `acc[w][r] = Σₖ a[k·MR + r]·b[k·NR + w]`.
#[inline(always)]
fn micro(d: usize, a: &[f64], b: &[f64]) -> [[f64; MR]; NR] {
    let mut acc = [[0.0f64; NR]; MR];
    for (ak, bk) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(d) {
        for r in 0..MR {
            for w in 0..NR {
                acc[r][w] = ak[r].mul_add(bk[w], acc[r][w]);
            }
        }
    }
    std::array::from_fn(|w| std::array::from_fn(|r| acc[r][w]))
}
