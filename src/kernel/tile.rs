//! Tiles of a Gram matrix: the block K\[rows, cols\] of Σ(X, X) and Θ(X, X), bit for bit the
//! entries [`Kernel::gram`] computes, in memory O(block + points·depth), so that a cluster engine
//! can farm out a kernel too large for one machine (`docs/scaling.md`).
//!
//! [`Kernel::gram`] computes the entries (i, j) with i < j, sets the diagonal from the diagonal
//! formulas and mirrors the upper triangle. A tile does the same entry by entry: (i, j) with i < j
//! as the Gram matrix computes it, (i, j) with i > j as the Gram matrix computes (j, i), and i = j
//! from [`Kernel::diagonal`]'s values. The arithmetic of an entry never depends on its position —
//! the input covariances x·x'/d sum every pair in one order (module `dots`) and every fully
//! connected entry runs through the same lanes of the recursion (`Network::column`) — so the bits
//! agree with the full matrix, including duplicated rows (which take the variance, as in `gram`).

use super::image::{self, Points};
use super::{
    Block, FcPoints, KernelKind, KernelMatrices, Progress, Side, check_points, output_matrix,
};
use crate::layers::Compiled;
use crate::network::Network;
use crate::{Error, Result};
use nalgebra::{DMatrix, DVector};
use std::ops::Range;

/// The per-point tables of the points `range` of a point set (rows of `x`): the variances of
/// every layer (fully connected) or every pixel at every layer (image networks), computed once in
/// O(|range| · depth) and reused by every block that involves these points.
pub(crate) struct GramTables<'a> {
    x: &'a DMatrix<f64>,
    start: usize,
    points: PointTables,
}

enum PointTables {
    Fc(FcPoints),
    Image(Points),
}

impl GramTables<'_> {
    /// Σ(xᵢ, xᵢ) for the points `range` (inside the tables' range).
    fn variances(&self, range: Range<usize>) -> DVector<f64> {
        let v = match &self.points {
            PointTables::Fc(p) => &p.var,
            PointTables::Image(p) => &p.nngp,
        };
        v.rows(range.start - self.start, range.len()).into_owned()
    }
}

/// Checks the range `r` of a tile (`name` is `"rows"` or `"cols"`) against the number of points
/// `n`: fails with [`Error::InvalidParameter`] unless 0 ≤ start < end ≤ n (ranges are half-open,
/// and a tile is never empty).
///
/// ```
/// assert!(ntk::kernel::check_tile_range("rows", &(0..10), 10).is_ok());
/// let e = ntk::kernel::check_tile_range("rows", &(10..5), 100).unwrap_err();
/// assert!(e.to_string().contains("start 10 > end 5"));
/// ```
pub fn check_tile_range(name: &str, r: &Range<usize>, n: usize) -> Result<()> {
    let why = if r.start > r.end {
        format!("start {} > end {}", r.start, r.end)
    } else if r.start == r.end {
        "the range is empty".to_string()
    } else if r.end > n {
        format!("end {} is past the last point", r.end)
    } else {
        return Ok(());
    };
    Err(Error::InvalidParameter {
        name: name.to_string(),
        value: format!("{}..{}", r.start, r.end),
        reason: format!(
            "{why}; ranges are half-open a..b (points a, a + 1, …, b − 1, counting from 0) with \
             0 ≤ a < b ≤ n = {n}, the number of points"
        ),
    })
}

impl Network {
    /// The block `rows` × `cols` of the Gram matrices Σ(X, X) and Θ(X, X) of the rows of `x`:
    /// entry (r, c) of the result is entry (rows.start + r, cols.start + c) of
    /// [`Kernel::gram`](crate::Kernel::gram)`(x)`, with the same bits (the lower triangle, the
    /// diagonal and duplicated rows included), and `cov1`, `cov2` are the NNGP variances Σ(x, x)
    /// of the points of `rows` and of `cols`.
    ///
    /// Ranges are half-open, `a..b` with 0 ≤ a < b ≤ n. Costs the block's entries and
    /// O(|rows| + |cols|) per-point tables, never the n × n matrix: tiles over a grid of ranges
    /// computed on different machines (same binary and instruction set) reassemble the Gram
    /// matrix exactly (`docs/scaling.md`).
    ///
    /// Errors: [`Error::InvalidParameter`] for an empty, reversed or out-of-range range, and as
    /// [`Kernel::gram`](crate::Kernel::gram) otherwise.
    ///
    /// ```
    /// use nalgebra::DMatrix;
    /// use ntk::{Activation, Kernel, Network};
    /// let net = Network::mlp(3, Activation::Relu).w_std(2f64.sqrt()).build()?;
    /// let x = DMatrix::from_fn(11, 4, |i, j| ((i * 7 + j * 3) % 5) as f64 - 2.0);
    /// let full = net.gram(&x)?;
    /// // A block straddling the diagonal.
    /// let tile = net.gram_tile(&x, 2..9, 5..11)?;
    /// assert_eq!(tile.ntk, full.ntk.view((2, 5), (7, 6)));
    /// assert_eq!(tile.nngp, full.nngp.view((2, 5), (7, 6)));
    /// assert!(net.gram_tile(&x, 9..2, 0..3).is_err());
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn gram_tile(
        &self,
        x: &DMatrix<f64>,
        rows: Range<usize>,
        cols: Range<usize>,
    ) -> Result<KernelMatrices> {
        self.gram_tile_with_progress(x, rows, cols, &|_| {})
    }

    /// [`Network::gram_tile`], reporting progress: `progress(k)` is called, from the worker
    /// threads, each time k more of the tile's |rows|·|cols| entries are done.
    pub fn gram_tile_with_progress(
        &self,
        x: &DMatrix<f64>,
        rows: Range<usize>,
        cols: Range<usize>,
        progress: Progress,
    ) -> Result<KernelMatrices> {
        let (k, cov1, cov2) = self.tile(x, rows, cols, None, progress)?;
        Ok(KernelMatrices {
            nngp: k.0.expect("both kernels were asked for"),
            ntk: k.1.expect("both kernels were asked for"),
            cov1,
            cov2,
        })
    }

    /// One kernel of [`Network::gram_tile`]: the block `rows` × `cols` of Σ(X, X) or Θ(X, X)
    /// alone, without allocating the other.
    ///
    /// ```
    /// use nalgebra::DMatrix;
    /// use ntk::{Activation, Kernel, KernelKind, Network};
    /// let net = Network::mlp(2, Activation::Erf { a: 1.0, b: 1.0, c: 0.0 }).build()?;
    /// let x = DMatrix::from_fn(6, 3, |i, j| (i as f64 - j as f64) / 3.0);
    /// let ntk = net.gram_tile_kind(&x, 0..6, 4..6, KernelKind::Ntk)?;
    /// assert_eq!(ntk, net.gram(&x)?.ntk.columns(4, 2));
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn gram_tile_kind(
        &self,
        x: &DMatrix<f64>,
        rows: Range<usize>,
        cols: Range<usize>,
        kind: KernelKind,
    ) -> Result<DMatrix<f64>> {
        self.gram_tile_kind_with_progress(x, rows, cols, kind, &|_| {})
    }

    /// [`Network::gram_tile_kind`], reporting progress as [`Network::gram_tile_with_progress`].
    pub fn gram_tile_kind_with_progress(
        &self,
        x: &DMatrix<f64>,
        rows: Range<usize>,
        cols: Range<usize>,
        kind: KernelKind,
        progress: Progress,
    ) -> Result<DMatrix<f64>> {
        let ((nngp, ntk), _, _) = self.tile(x, rows, cols, Some(kind), progress)?;
        Ok(match kind {
            KernelKind::Nngp => nngp.expect("the NNGP was asked for"),
            KernelKind::Ntk => ntk.expect("the NTK was asked for"),
        })
    }

    /// The checked tile: both kernels (`want` = `None`) or one, and the two sides' variances.
    fn tile(
        &self,
        x: &DMatrix<f64>,
        rows: Range<usize>,
        cols: Range<usize>,
        want: Option<KernelKind>,
        progress: Progress,
    ) -> Result<(Block, DVector<f64>, DVector<f64>)> {
        check_tile_range("rows", &rows, x.nrows())?;
        check_tile_range("cols", &cols, x.nrows())?;
        check_points("x", x)?;
        self.check_input_dim("x", x.ncols())?;
        let tr = self.gram_tables(x, rows.clone())?;
        let tc_own;
        let tc = if cols == rows {
            &tr
        } else {
            tc_own = self.gram_tables(x, cols.clone())?;
            &tc_own
        };
        let k = self.gram_block((&tr, rows.clone()), (tc, cols.clone()), want, progress)?;
        Ok((k, tr.variances(rows), tc.variances(cols)))
    }

    /// The per-point tables of all the points of `x` after checking them as
    /// [`Kernel::gram`](crate::Kernel::gram) does (at least one column, finite, the network's
    /// input dimension): for the matrix-free solvers, which build them once.
    pub(crate) fn checked_tables<'a>(&self, x: &'a DMatrix<f64>) -> Result<GramTables<'a>> {
        check_points("x", x)?;
        self.check_input_dim("x", x.ncols())?;
        self.gram_tables(x, 0..x.nrows())
    }

    /// The per-point tables of the points `range` of `x` (rows; already checked for shape and
    /// finiteness), for [`Network::gram_block`]. A matrix-free operator computes them once for all
    /// n points and then asks for one block of rows at a time.
    pub(crate) fn gram_tables<'a>(
        &self,
        x: &'a DMatrix<f64>,
        range: Range<usize>,
    ) -> Result<GramTables<'a>> {
        let points = match self.compiled() {
            Compiled::FullyConnected(plan) => {
                PointTables::Fc(self.fc_points(plan, x, range.clone())?)
            }
            Compiled::Image(plan) => {
                let part = x.rows(range.start, range.len()).into_owned();
                PointTables::Image(image::points(self, plan, &part)?)
            }
        };
        Ok(GramTables {
            x,
            start: range.start,
            points,
        })
    }

    /// The block `rows` × `cols` of the Gram matrix of one point set, Σ and Θ (`want` = `None`)
    /// or only the kernel `want` (the other is never allocated; its values pass through per-chunk
    /// scratch), from tables of that set that cover `rows` and `cols` (they may be the same
    /// tables, e.g. all n points with `cols` = 0..n for a block of rows of K·v). Bit-identical to
    /// the same entries of [`Kernel::gram`](crate::Kernel::gram); ranges are not checked here.
    pub(crate) fn gram_block(
        &self,
        (tr, rows): (&GramTables, Range<usize>),
        (tc, cols): (&GramTables, Range<usize>),
        want: Option<KernelKind>,
        progress: Progress,
    ) -> Result<Block> {
        match (self.compiled(), &tr.points, &tc.points) {
            (Compiled::FullyConnected(plan), PointTables::Fc(pr), PointTables::Fc(pc)) => {
                let (rs, cs) = sides((tr.x, pr, rows), (tc.x, pc, cols));
                self.fc_tile(plan, rs, cs, want, progress)
            }
            (Compiled::Image(plan), PointTables::Image(pr), PointTables::Image(pc)) => {
                image::block(
                    self,
                    plan,
                    (pr, tr.start, rows),
                    (pc, tc.start, cols),
                    want,
                    progress,
                )
            }
            _ => Err(Error::InvalidNetwork(
                "point tables of another kind of network were given to gram_block".into(),
            )),
        }
    }

    /// [`Network::gram_block`] of a fully connected network: the entries above the diagonal as
    /// the Gram matrix computes them, those below as the transposed block computes them, and the
    /// diagonal from the point tables.
    fn fc_tile(
        &self,
        plan: &crate::layers::Plan,
        rows: Side,
        cols: Side,
        want: Option<KernelKind>,
        progress: Progress,
    ) -> Result<Block> {
        let (r, c) = (rows.range.clone(), cols.range.clone());
        let alloc = |kind, n1, n2| match want {
            Some(k) if k != kind => Ok(None),
            _ => output_matrix(n1, n2).map(Some),
        };
        let (m, nc) = (r.len(), c.len());
        let mut k = alloc(KernelKind::Nngp, m, nc)?;
        let mut t = alloc(KernelKind::Ntk, m, nc)?;
        // i < j.
        self.fc_block(
            plan,
            rows.clone(),
            cols.clone(),
            true,
            slices(&mut k, &mut t),
            progress,
        )?;
        // i > j: the Gram matrix computes these as (j, i), so compute the transposed block.
        if r.end > c.start + 1 {
            let mut kt = alloc(KernelKind::Nngp, nc, m)?;
            let mut tt = alloc(KernelKind::Ntk, nc, m)?;
            self.fc_block(
                plan,
                cols,
                rows.clone(),
                true,
                slices(&mut kt, &mut tt),
                progress,
            )?;
            for (out, low) in [(&mut k, &kt), (&mut t, &tt)] {
                if let (Some(out), Some(low)) = (out.as_mut(), low.as_ref()) {
                    for (cc, j) in c.clone().enumerate() {
                        for (rr, i) in r.clone().enumerate() {
                            if i > j {
                                out[(rr, cc)] = low[(cc, rr)];
                            }
                        }
                    }
                }
            }
        }
        // i = j.
        let diagonal = r.start.max(c.start)..r.end.min(c.end);
        progress(diagonal.len() as u64);
        for i in diagonal {
            let p = i - rows.p.start;
            if let Some(k) = k.as_mut() {
                k[(i - r.start, i - c.start)] = rows.p.var[p];
            }
            if let Some(t) = t.as_mut() {
                t[(i - r.start, i - c.start)] = rows.p.ntk[p];
            }
        }
        Ok((k, t))
    }
}

/// The two sides of a fully connected block: points `rows` of `xr` with their tables `pr`, and
/// `cols` of `xc` with `pc`.
fn sides<'a>(
    (xr, pr, rows): (&'a DMatrix<f64>, &'a FcPoints, Range<usize>),
    (xc, pc, cols): (&'a DMatrix<f64>, &'a FcPoints, Range<usize>),
) -> (Side<'a>, Side<'a>) {
    (
        Side {
            x: xr,
            p: pr,
            range: rows,
        },
        Side {
            x: xc,
            p: pc,
            range: cols,
        },
    )
}

/// The storage of the kernels a block computes.
fn slices<'a>(
    k: &'a mut Option<DMatrix<f64>>,
    t: &'a mut Option<DMatrix<f64>>,
) -> (Option<&'a mut [f64]>, Option<&'a mut [f64]>) {
    (
        k.as_mut().map(|k| k.as_mut_slice()),
        t.as_mut().map(|t| t.as_mut_slice()),
    )
}

impl Network {
    /// One kernel's block K\[rows, cols\] written into `out` (column-major |rows| × |cols|, its
    /// prior contents overwritten), for the matrix-free solvers, which keep one buffer per thread
    /// instead of allocating and faulting in fresh memory for every block.
    ///
    /// With `band`, `tr` and `tc` are tables of one set and `cols` starts where `rows` starts and
    /// reaches at least its end (a band of rows of the upper triangle and its diagonal block, as
    /// [`KernelOperator`](crate::iterative::KernelOperator) takes them): every entry is the one of
    /// [`Kernel::gram`](crate::Kernel::gram), bit for bit — i < j computed, the diagonal from the
    /// tables, i > j (inside the diagonal block only) mirrored. Without it the tables may be of two
    /// sets and every entry is computed as [`Kernel::cross`](crate::Kernel::cross) computes it.
    pub(crate) fn block_into(
        &self,
        (tr, rows): (&GramTables, Range<usize>),
        (tc, cols): (&GramTables, Range<usize>),
        band: bool,
        kind: KernelKind,
        out: &mut [f64],
    ) -> Result<()> {
        let (m, nc) = (rows.len(), cols.len());
        debug_assert_eq!(out.len(), m * nc);
        debug_assert!(!band || (cols.start == rows.start && cols.end >= rows.end));
        let copy = |k: Block, out: &mut [f64]| {
            let k = match kind {
                KernelKind::Nngp => k.0,
                KernelKind::Ntk => k.1,
            };
            out.copy_from_slice(k.expect("the kernel asked for").as_slice());
        };
        match (self.compiled(), &tr.points, &tc.points) {
            (Compiled::FullyConnected(plan), PointTables::Fc(pr), PointTables::Fc(pc)) => {
                let (rs, cs) = sides((tr.x, pr, rows.clone()), (tc.x, pc, cols));
                let outputs = match kind {
                    KernelKind::Nngp => (Some(&mut *out), None),
                    KernelKind::Ntk => (None, Some(&mut *out)),
                };
                self.fc_block(plan, rs, cs, band, outputs, &|_| {})?;
                if band {
                    let diag = match kind {
                        KernelKind::Nngp => &pr.var,
                        KernelKind::Ntk => &pr.ntk,
                    };
                    for j in 0..m {
                        out[j * m + j] = diag[rows.start + j - pr.start];
                        for i in j + 1..m {
                            out[j * m + i] = out[i * m + j];
                        }
                    }
                }
            }
            (Compiled::Image(plan), PointTables::Image(pr), PointTables::Image(pc)) if band => {
                let k = image::block(
                    self,
                    plan,
                    (pr, tr.start, rows),
                    (pc, tc.start, cols),
                    Some(kind),
                    &|_| {},
                )?;
                copy(k, out);
            }
            (Compiled::Image(plan), PointTables::Image(_), PointTables::Image(_)) => {
                let a = tr.x.rows(rows.start, m).into_owned();
                let b = tc.x.rows(cols.start, nc).into_owned();
                let k = image::cross(self, plan, &a, &b, &|_| {})?;
                copy((Some(k.nngp), Some(k.ntk)), out);
            }
            _ => {
                return Err(Error::InvalidNetwork(
                    "point tables of another kind of network were given to block_into".into(),
                ));
            }
        }
        Ok(())
    }
}
