//! The kernel states of fully connected networks: one point, one pair, and a chunk of pairs.

use super::{ActivationStage, DenseStage, FullyConnected, KernelState};
use crate::activation::mehler::TABLE;
use crate::activation::{Dual, LANES};
use crate::real::Real;

/// One point x: its variance q = Σ(x, x) and Θ(x, x), from q = ‖x‖²/d. Each activation records its
/// input variance in `slots` (the point's variance table, read by [`Pair`] and [`Lanes`]).
pub(crate) struct Point<'a, F> {
    pub(crate) q: F,
    pub(crate) ntk: F,
    d: usize,
    slots: &'a mut [F],
}

impl<'a, F: Real> Point<'a, F> {
    pub(crate) fn new(q0: F, d: usize, slots: &'a mut [F]) -> Self {
        Point {
            q: q0,
            ntk: F::zero(),
            d,
            slots,
        }
    }
}

impl<F: Real> FullyConnected for Point<'_, F> {
    #[inline(always)]
    fn dense(&mut self, dense: &DenseStage) {
        (self.q, self.ntk) = dense.apply(self.q, self.ntk, self.d);
    }
    #[inline(always)]
    fn activation(&mut self, a: &ActivationStage) {
        let (t, dot) = a.point(self.q, self.slots);
        self.q = t;
        self.ntk = self.ntk * dot;
    }
}

impl<F: Real> KernelState for Point<'_, F> {
    fn first_non_finite(&self) -> Option<f64> {
        [self.q, self.ntk]
            .into_iter()
            .map(Real::value)
            .find(|v| !v.is_finite())
    }
}

/// One pair (x, x'): Σ(x, x') and Θ(x, x') from c = x·x'/d, with the two points' variance tables.
pub(crate) struct Pair<'a, F> {
    pub(crate) c: F,
    pub(crate) ntk: F,
    d: usize,
    s1: &'a [F],
    s2: &'a [F],
}

impl<'a, F: Real> Pair<'a, F> {
    pub(crate) fn new(c0: F, d: usize, s1: &'a [F], s2: &'a [F]) -> Self {
        Pair {
            c: c0,
            ntk: F::zero(),
            d,
            s1,
            s2,
        }
    }
}

impl<F: Real> FullyConnected for Pair<'_, F> {
    #[inline(always)]
    fn dense(&mut self, dense: &DenseStage) {
        (self.c, self.ntk) = dense.apply(self.c, self.ntk, self.d);
    }
    #[inline(always)]
    fn activation(&mut self, a: &ActivationStage) {
        // Identical points take the diagonal formulas (see `ActivationStage::pair`).
        let (t, dot) = a.pair(self.c, self.s1, self.s2);
        self.c = t;
        self.ntk = self.ntk * dot;
    }
}

impl<F: Real> KernelState for Pair<'_, F> {
    fn first_non_finite(&self) -> Option<f64> {
        [self.c, self.ntk]
            .into_iter()
            .map(Real::value)
            .find(|v| !v.is_finite())
    }
}

/// Rows of the kernel run together through the layers: [`CHUNK`] rows against one column point.
///
/// Each stage sweeps the whole chunk before the next one starts, over contiguous arrays (the rows'
/// variances come from a slot-major table), so the Dense stages and the lane duals vectorize
/// without gathers; the chunk stays in L1 and no layer leaves an n × n temporary. Every entry,
/// wherever it sits, takes the same lane path (a short chunk is padded to a multiple of [`LANES`]),
/// so an entry's value does not depend on which rows it was computed with.
pub(crate) struct Chunk<'a> {
    pub(crate) c: &'a mut [f64; CHUNK],
    pub(crate) ntk: &'a mut [f64; CHUNK],
    /// The entries in use: a multiple of [`LANES`], at most [`CHUNK`].
    len: usize,
    /// The real rows among them (the others pad to whole lanes).
    real: usize,
    d: usize,
    rows: RowTables<'a>,
    /// Variance table of the column point.
    s2: &'a [f64],
}

/// The per-point tables of a chunk's rows: row r of the chunk is point `start + r` of the tables.
#[derive(Clone, Copy)]
pub(crate) struct RowTables<'a> {
    /// The activations' input variances activation-major: that of activation layer k (its
    /// `ordinal`) of point i at `by_slot[k * stride + i]`, at least `start + len` entries per
    /// layer (the padding holds the benign variance 1).
    pub(crate) by_slot: &'a [f64],
    pub(crate) stride: usize,
    /// The Mehler tables of the quadrature layers (`mehler::TABLE` values each) in groups of
    /// [`LANES`] points, lane-minor: value v of the table of quadrature layer s (its `series`) of
    /// point i = g·LANES + l at `series[((s * stride / LANES + g) * TABLE + v) * LANES + l]`. A lane
    /// group that starts at a multiple of [`LANES`] reads each value with one contiguous load, and
    /// its whole table is one contiguous block. The padding holds zeros (1/√q = 0, so ρ = 0: a
    /// padding lane meets the bound after one chunk).
    pub(crate) series: &'a [f64],
    pub(crate) start: usize,
}

/// Rows per [`Chunk`]: a multiple of [`LANES`], and small enough that the chunk's Σ, Θ and one slot
/// of variances (3 × 2 KiB) stay in L1.
pub(crate) const CHUNK: usize = 256;

impl<'a> Chunk<'a> {
    /// The state of the first `real` input covariances of `c`, padded to `len` (a multiple of
    /// [`LANES`], at most [`CHUNK`]); Θ starts at 0 and goes to `ntk`.
    pub(crate) fn new(
        (c, ntk): (&'a mut [f64; CHUNK], &'a mut [f64; CHUNK]),
        (len, real): (usize, usize),
        d: usize,
        rows: RowTables<'a>,
        s2: &'a [f64],
    ) -> Self {
        debug_assert!(len % LANES == 0 && len <= CHUNK && real <= len);
        ntk[..len].fill(0.0);
        Chunk {
            c,
            ntk,
            len,
            real,
            d,
            rows,
            s2,
        }
    }
}

impl FullyConnected for Chunk<'_> {
    #[inline(always)]
    fn dense(&mut self, dense: &DenseStage) {
        dense.apply_slices(&mut self.c[..self.len], &mut self.ntk[..self.len], self.d);
    }
    #[inline(always)]
    fn activation(&mut self, a: &ActivationStage) {
        let base = a.ordinal * self.rows.stride + self.rows.start;
        let q1 = &self.rows.by_slot[base..base + self.len];
        let q2 = self.s2[a.slot];
        if let Dual::Quadrature(d) = &a.dual {
            // The Mehler series, LANES rows at a time against the column point's table (lane for
            // lane the operations of `Pair`'s single entry, so `entry` and `gram` agree to the
            // bit).
            let t2 = &self.s2[a.slot + 1..];
            let stride = self.rows.stride;
            let series =
                &self.rows.series[a.series * TABLE * stride..(a.series + 1) * TABLE * stride];
            // Rows that start inside a group of the table (tiles at any offset) gather their lanes:
            // other loads, the same arithmetic.
            let aligned = self.rows.start % LANES == 0;
            for (g, ((c, t), q)) in self.c[..self.len]
                .chunks_exact_mut(LANES)
                .zip(self.ntk[..self.len].chunks_exact_mut(LANES))
                .zip(q1.chunks_exact(LANES))
                .enumerate()
            {
                let c: &mut [f64; LANES] = c.try_into().expect("LANES-sized chunk");
                let t: &mut [f64; LANES] = t.try_into().expect("LANES-sized chunk");
                let q: &[f64; LANES] = q.try_into().expect("LANES-sized chunk");
                let first = self.rows.start + g * LANES;
                let real = self.real.saturating_sub(g * LANES);
                if aligned {
                    let block = &series[first * TABLE..(first + LANES) * TABLE];
                    let row = |v: usize| -> [f64; LANES] {
                        block[v * LANES..(v + 1) * LANES]
                            .try_into()
                            .expect("LANES values")
                    };
                    d.dual_from_lanes((c, t), (q, q2), row, t2, real);
                } else {
                    let row = |v: usize| -> [f64; LANES] {
                        std::array::from_fn(|l| {
                            let i = first + l;
                            series[((i / LANES) * TABLE + v) * LANES + i % LANES]
                        })
                    };
                    d.dual_from_lanes((c, t), (q, q2), row, t2, real);
                }
            }
            return;
        }
        for ((c, t), q) in self.c[..self.len]
            .chunks_exact_mut(LANES)
            .zip(self.ntk[..self.len].chunks_exact_mut(LANES))
            .zip(q1.chunks_exact(LANES))
        {
            let c: &mut [f64; LANES] = c.try_into().expect("LANES-sized chunk");
            let t: &mut [f64; LANES] = t.try_into().expect("LANES-sized chunk");
            let q: &[f64; LANES] = q.try_into().expect("LANES-sized chunk");
            a.dual.apply_lanes(c, t, q, q2);
        }
    }
}

impl KernelState for Chunk<'_> {
    fn first_non_finite(&self) -> Option<f64> {
        self.c[..self.real]
            .iter()
            .chain(&self.ntk[..self.real])
            .copied()
            .find(|v| !v.is_finite())
    }
}
