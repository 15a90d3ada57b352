//! The kernel states of fully connected networks: one point, one pair, and [`LANES`] pairs.

use super::{ActivationStage, DenseStage, FullyConnected, KernelState};
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

/// [`LANES`] pairs run together: rows i..i + LANES against one column point. Interleaving
/// independent entries lets the CPU overlap their long dependency chains (sqrt, atan2, divisions),
/// and the activation's family is dispatched once per layer for all lanes.
pub(crate) struct Lanes<'a> {
    pub(crate) c: [f64; LANES],
    pub(crate) ntk: [f64; LANES],
    d: usize,
    /// Variance tables of the rows, `ns` per row, starting at the first lane's row.
    s1: &'a [f64],
    ns: usize,
    /// Variance table of the column point.
    s2: &'a [f64],
}

impl<'a> Lanes<'a> {
    pub(crate) fn new(c0: [f64; LANES], d: usize, s1: &'a [f64], ns: usize, s2: &'a [f64]) -> Self {
        Lanes {
            c: c0,
            ntk: [0.0; LANES],
            d,
            s1,
            ns,
            s2,
        }
    }
}

impl FullyConnected for Lanes<'_> {
    #[inline(always)]
    fn dense(&mut self, dense: &DenseStage) {
        for l in 0..LANES {
            (self.c[l], self.ntk[l]) = dense.apply(self.c[l], self.ntk[l], self.d);
        }
    }
    #[inline(always)]
    fn activation(&mut self, a: &ActivationStage) {
        if let Dual::Quadrature(d) = &a.dual {
            // The Mehler series from the row and column tables, entry by entry (the same
            // function as `Pair`, so `entry` and `gram` agree to the bit).
            let (t2, q2) = (&self.s2[a.slot + 1..], self.s2[a.slot]);
            for l in 0..LANES {
                let row = &self.s1[l * self.ns + a.slot..];
                let (t, dot) = d.dual_from_tables(self.c[l], row[0], q2, &row[1..], t2);
                self.c[l] = t;
                self.ntk[l] *= dot;
            }
            return;
        }
        let q1: [f64; LANES] = std::array::from_fn(|l| self.s1[l * self.ns + a.slot]);
        a.dual
            .apply_lanes(&mut self.c, &mut self.ntk, &q1, self.s2[a.slot]);
    }
}

impl KernelState for Lanes<'_> {
    fn first_non_finite(&self) -> Option<f64> {
        self.c
            .iter()
            .chain(&self.ntk)
            .copied()
            .find(|v| !v.is_finite())
    }
}
