//! The kernel states of fully connected networks: one point, one pair, and a chunk of pairs.

use super::{ActivationStage, DenseStage, FullyConnected, KernelState};
use crate::activation::{DualActivation, LANES};
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
        self.slots[a.slot] = self.q;
        let (t, dot) = a.dual.dual_diag(self.q);
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
        let (q1, q2) = (self.s1[a.slot], self.s2[a.slot]);
        // ρ = 1 exactly (identical points): the diagonal formulas keep Σ(x, x) bit-equal to the
        // variance. The general formula's rounding would break c = q, and in the chaotic phase
        // (χ₁ > 1) that ulp grows until Σ(x, x) collapses to the off-diagonal limit after a few
        // hundred layers.
        let (t, dot) = if self.c == q1 && self.c == q2 {
            a.dual.dual_diag(self.c)
        } else {
            a.dual.dual(self.c, q1, q2)
        };
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
    d: usize,
    /// The rows' variance tables, slot-major: slot k of row `start + r` is
    /// `table[k * stride + start + r]`; at least `start + CHUNK` entries per slot.
    table: &'a [f64],
    stride: usize,
    start: usize,
    /// Variance table of the column point.
    s2: &'a [f64],
}

/// Rows per [`Chunk`]: a multiple of [`LANES`], and small enough that the chunk's Σ, Θ and one slot
/// of variances (3 × 2 KiB) stay in L1.
pub(crate) const CHUNK: usize = 256;

impl<'a> Chunk<'a> {
    /// The state of the first `len` input covariances of `c` (Θ starts at 0 and goes to `ntk`);
    /// `len` is a multiple of [`LANES`], at most [`CHUNK`].
    pub(crate) fn new(
        (c, ntk): (&'a mut [f64; CHUNK], &'a mut [f64; CHUNK]),
        len: usize,
        d: usize,
        (table, stride, start): (&'a [f64], usize, usize),
        s2: &'a [f64],
    ) -> Self {
        debug_assert!(len % LANES == 0 && len <= CHUNK);
        ntk[..len].fill(0.0);
        Chunk {
            c,
            ntk,
            len,
            d,
            table,
            stride,
            start,
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
        let base = a.slot * self.stride + self.start;
        let q1 = &self.table[base..base + self.len];
        let q2 = self.s2[a.slot];
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
        self.c[..self.len]
            .iter()
            .chain(&self.ntk[..self.len])
            .copied()
            .find(|v| !v.is_finite())
    }
}
