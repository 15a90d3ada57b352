//! The kernels of networks with convolutions, pooling, flatten, layer norm or residual blocks.
//!
//! Each input is first run with itself, which gives the diagonal Σ(x, x), Θ(x, x) and the point's
//! variance table (the variance of every pixel at every activation and norm layer). Each pair then
//! runs the plan on its pixel-pair state in per-thread scratch ([`Scratch`]): the n × n outputs
//! are the only large allocations, and no n² P² tensor ever exists. Gram matrices compute the
//! upper triangle, columns in parallel, and mirror it.

use super::{
    Block, KernelDiagonal, KernelEntry, KernelKind, KernelMatrices, Progress, chunks, mirror_upper,
    output_matrix,
};
use crate::layers::{ImagePlan, Scratch};
use crate::network::Network;
use crate::{Error, Result};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use std::ops::Range;

/// Points as contiguous rows (the kernels read one input at a time).
fn rows(x: &DMatrix<f64>) -> Vec<f64> {
    x.transpose().as_slice().to_vec()
}

/// Every point's variance table (`table_len` values per point, contiguous) and its diagonal
/// kernel values.
pub(super) struct Points {
    data: Vec<f64>,
    d: usize,
    tables: DMatrix<f64>,
    pub(super) nngp: DVector<f64>,
    pub(super) ntk: DVector<f64>,
}

impl Points {
    fn row(&self, i: usize) -> (&[f64], &[f64]) {
        let l = self.tables.nrows();
        (
            &self.data[i * self.d..(i + 1) * self.d],
            &self.tables.as_slice()[i * l..(i + 1) * l],
        )
    }
}

pub(super) fn points(net: &Network, plan: &ImagePlan, x: &DMatrix<f64>) -> Result<Points> {
    let (n, d) = x.shape();
    let data = rows(x);
    let l = plan.table_len.max(1);
    let mut tables = crate::linalg::alloc_matrix(l, n, "table of pixel variances")?;
    let values: Vec<std::result::Result<(f64, f64), (usize, f64)>> = tables
        .as_mut_slice()
        .par_chunks_mut(l)
        .enumerate()
        .map_init(
            || plan.scratch(),
            |sc, (i, table)| plan.point(&data[i * d..(i + 1) * d], table, sc),
        )
        .collect();
    let mut nngp = DVector::zeros(n);
    let mut ntk = DVector::zeros(n);
    for (i, v) in values.into_iter().enumerate() {
        let (s, t) = v.map_err(|(layer, v)| net.overflow(layer, v))?;
        nngp[i] = s;
        ntk[i] = t;
    }
    Ok(Points {
        data,
        d,
        tables,
        nngp,
        ntk,
    })
}

/// The layer where a pair's values stop being finite (the pair is run again with checks).
fn locate(net: &Network, plan: &ImagePlan, a: (&[f64], &[f64]), b: (&[f64], &[f64])) -> Error {
    let mut sc = plan.scratch();
    match plan.pair(a, b, &mut sc, true) {
        Err((layer, v)) => net.overflow(layer, v),
        Ok(_) => net.overflow(net.layers().len() - 1, f64::NAN),
    }
}

pub(super) fn entry(
    net: &Network,
    plan: &ImagePlan,
    x1: &[f64],
    x2: &[f64],
) -> Result<KernelEntry> {
    let p1 = points(net, plan, &DMatrix::from_row_slice(1, x1.len(), x1))?;
    let p2 = points(net, plan, &DMatrix::from_row_slice(1, x2.len(), x2))?;
    let mut sc = plan.scratch();
    let (nngp, ntk) = plan
        .pair(p1.row(0), p2.row(0), &mut sc, true)
        .map_err(|(layer, v)| net.overflow(layer, v))?;
    Ok(KernelEntry {
        nngp,
        ntk,
        var1: p1.nngp[0],
        var2: p2.nngp[0],
    })
}

pub(super) fn diagonal(
    net: &Network,
    plan: &ImagePlan,
    x: &DMatrix<f64>,
) -> Result<KernelDiagonal> {
    let p = points(net, plan, x)?;
    Ok(KernelDiagonal {
        nngp: p.nngp,
        ntk: p.ntk,
    })
}

pub(super) fn cross(
    net: &Network,
    plan: &ImagePlan,
    x1: &DMatrix<f64>,
    x2: &DMatrix<f64>,
    progress: Progress,
) -> Result<KernelMatrices> {
    let (p1, p2) = (points(net, plan, x1)?, points(net, plan, x2)?);
    let (n1, n2) = (x1.nrows(), x2.nrows());
    let mut nngp = output_matrix(n1, n2)?;
    let mut ntk = output_matrix(n1, n2)?;
    if n1 > 0 {
        let bad = nngp
            .as_mut_slice()
            .par_chunks_mut(n1)
            .zip(ntk.as_mut_slice().par_chunks_mut(n1))
            .enumerate()
            .map_init(
                || plan.scratch(),
                |sc, (j, (kcol, tcol))| {
                    let bad = column(plan, sc, &p1, p2.row(j), n1, kcol, tcol).map(|i| (i, j));
                    progress(n1 as u64);
                    bad
                },
            )
            .find_map_any(|bad| bad);
        if let Some((i, j)) = bad {
            return Err(locate(net, plan, p1.row(i), p2.row(j)));
        }
    }
    Ok(KernelMatrices {
        nngp,
        ntk,
        cov1: p1.nngp,
        cov2: p2.nngp,
    })
}

pub(super) fn gram(
    net: &Network,
    plan: &ImagePlan,
    x: &DMatrix<f64>,
    progress: Progress,
) -> Result<KernelMatrices> {
    let p = points(net, plan, x)?;
    let n = x.nrows();
    let mut nngp = output_matrix(n, n)?;
    let mut ntk = output_matrix(n, n)?;
    if n > 0 {
        let bad = nngp
            .as_mut_slice()
            .par_chunks_mut(n)
            .zip(ntk.as_mut_slice().par_chunks_mut(n))
            .enumerate()
            .map_init(
                || plan.scratch(),
                |sc, (j, (kcol, tcol))| {
                    let bad = column(plan, sc, &p, p.row(j), j, kcol, tcol).map(|i| (i, j));
                    kcol[j] = p.nngp[j];
                    tcol[j] = p.ntk[j];
                    progress(j as u64 + 1);
                    bad
                },
            )
            .find_map_any(|bad| bad);
        if let Some((i, j)) = bad {
            return Err(locate(net, plan, p.row(i), p.row(j)));
        }
        mirror_upper(&mut nngp);
        mirror_upper(&mut ntk);
    }
    Ok(KernelMatrices {
        nngp,
        ntk,
        cov2: p.nngp.clone(),
        cov1: p.nngp,
    })
}

/// Rows `0..rows` of one column (the points of `p` against the column's point); returns the first
/// row whose values are not finite.
fn column(
    plan: &ImagePlan,
    sc: &mut Scratch,
    p: &Points,
    col: (&[f64], &[f64]),
    rows: usize,
    kcol: &mut [f64],
    tcol: &mut [f64],
) -> Option<usize> {
    for i in 0..rows {
        // Unchecked: the values are checked once, here.
        let (s, t) = plan
            .pair(p.row(i), col, sc, false)
            .unwrap_or((f64::NAN, f64::NAN));
        kcol[i] = s;
        tcol[i] = t;
    }
    (0..rows).find(|&i| !(kcol[i].is_finite() && tcol[i].is_finite()))
}

/// The block `rows` × `cols` of the Gram matrix, as [`gram`] computes each entry: (i, j) with
/// i < j from the pair (xᵢ, xⱼ), i > j from the pair (xⱼ, xᵢ) (the mirrored entry), i = j the
/// diagonal. The points of `rows` are those of `pr` from index `r_off` on, likewise `cols`; only
/// the kernels of `want` (both for `None`) are allocated.
pub(super) fn block(
    net: &Network,
    plan: &ImagePlan,
    (pr, r_off, rows): (&Points, usize, Range<usize>),
    (pc, c_off, cols): (&Points, usize, Range<usize>),
    want: Option<KernelKind>,
    progress: Progress,
) -> Result<Block> {
    let (m, nc) = (rows.len(), cols.len());
    let alloc = |kind| match want {
        Some(k) if k != kind => Ok(None),
        _ => output_matrix(m, nc).map(Some),
    };
    let (mut nngp, mut ntk) = (alloc(KernelKind::Nngp)?, alloc(KernelKind::Ntk)?);
    if m > 0 && nc > 0 {
        let kout = chunks(nngp.as_mut().map(|k| k.as_mut_slice()), m, nc);
        let tout = chunks(ntk.as_mut().map(|t| t.as_mut_slice()), m, nc);
        let bad = kout
            .into_par_iter()
            .zip(tout)
            .enumerate()
            .map_init(
                || plan.scratch(),
                |sc, (c, (mut kc, mut tc))| {
                    let j = cols.start + c;
                    let col = pc.row(j - c_off);
                    for (r, i) in rows.clone().enumerate() {
                        let row = pr.row(i - r_off);
                        let (first, second) = if i <= j { (row, col) } else { (col, row) };
                        let (s, t) = if i == j {
                            (pc.nngp[j - c_off], pc.ntk[j - c_off])
                        } else {
                            // Unchecked, as in `column`; a non-finite value is located below.
                            plan.pair(first, second, sc, false)
                                .unwrap_or((f64::NAN, f64::NAN))
                        };
                        if !(s.is_finite() && t.is_finite()) {
                            return Some(locate(net, plan, first, second));
                        }
                        if let Some(kc) = kc.as_deref_mut() {
                            kc[r] = s;
                        }
                        if let Some(tc) = tc.as_deref_mut() {
                            tc[r] = t;
                        }
                    }
                    progress(m as u64);
                    None
                },
            )
            .find_map_any(|bad| bad);
        if let Some(e) = bad {
            return Err(e);
        }
    }
    Ok((nngp, ntk))
}
