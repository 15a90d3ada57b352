//! Low-rank approximations K ≈ U diag(s²) Uᵀ of the training kernel from m of its columns (Nyström,
//! from uniformly sampled centres or greedy pivoted Cholesky), and the preconditioner built on them.

use super::operator::KernelOperator;
use crate::error::invalid;
use crate::linalg::{Par, ensure_memory, gemm, sym_eigen, tr_mul};
use crate::{Kernel, Result};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// How the m columns of a rank-m approximation of K are chosen.
///
/// * `Uniform { seed }`: m distinct points drawn uniformly without replacement (ChaCha8 from `seed`),
///   the Nyström approximation K̂ = K_nm K_mm⁺ K_mn (Williams & Seeger 2001; the centres of FALKON,
///   Rudi et al. 2017). Eigenvalues of K_mm at or below m·ε·λ_max(K_mm) are dropped (pseudo-inverse),
///   so duplicated or nearly dependent centres lower the rank instead of failing.
/// * `PivotedCholesky`: greedy pivoted Cholesky (Harbrecht, Peters & Schneider 2012): each step takes
///   the point with the largest diagonal of the residual K − G Gᵀ as the next column, so the trace
///   error is reduced greedily; it stops early when that residual diagonal is at or below
///   n·ε·max diag K (the approximation is then exact to rounding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Centres {
    /// m points drawn uniformly without replacement from a fixed seed.
    Uniform {
        /// Seed of the ChaCha8 generator.
        seed: u64,
    },
    /// Greedy pivoted Cholesky.
    PivotedCholesky,
}

impl Default for Centres {
    /// `Uniform { seed: 0 }`.
    fn default() -> Self {
        Centres::Uniform { seed: 0 }
    }
}

/// K ≈ U diag(s2) Uᵀ with orthonormal columns U (n × r) and s2 descending, r ≤ m.
#[derive(Debug, Clone)]
pub(crate) struct LowRank {
    pub u: DMatrix<f64>,
    pub s2: DVector<f64>,
}

/// m distinct indices of 0..n drawn uniformly from `seed`, sorted.
pub(crate) fn uniform_indices(n: usize, m: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx = rand::seq::index::sample(&mut rng, n, m).into_vec();
    idx.sort_unstable();
    idx
}

/// Rejects a rank of 0 or above n.
pub(crate) fn check_rank(name: &str, rank: usize, n: usize) -> Result<()> {
    if rank == 0 || rank > n {
        return Err(invalid(
            name,
            rank,
            &format!("must be between 1 and the number of training points n = {n}"),
        ));
    }
    Ok(())
}

impl LowRank {
    /// The rank-m approximation of the operator's kernel.
    pub(crate) fn build<K: Kernel + Sync + ?Sized>(
        op: &KernelOperator<'_, K>,
        rank: usize,
        centres: Centres,
    ) -> Result<LowRank> {
        let n = op.n();
        check_rank("rank", rank, n)?;
        // One n × m matrix (the columns, turned into B and then U in place) and m × m matrices.
        ensure_memory(
            &format!("a rank-{rank} Nyström approximation of {n} points"),
            n as u128 * rank as u128 + 4 * (rank as u128).pow(2),
        )?;
        let b = match centres {
            Centres::Uniform { seed } => {
                let idx = uniform_indices(n, rank, seed);
                let c = op.columns(&idx)?;
                let kmm = DMatrix::from_fn(rank, rank, |i, j| c[(idx[i], j)]);
                let (vals, q) = sym_eigen(&kmm, "the centres' kernel K_mm")?;
                let max = vals.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                let floor = rank as f64 * f64::EPSILON * max;
                // W = Q_kept Λ_kept^{-1/2}: K̂ = (C W)(C W)ᵀ = C K_mm⁺ Cᵀ.
                let kept: Vec<usize> = (0..rank).filter(|&i| vals[i] > floor).collect();
                let w = DMatrix::from_fn(rank, kept.len(), |i, j| {
                    q[(i, kept[j])] / vals[kept[j]].sqrt()
                });
                let mut c = c;
                mul_rows_in_place(&mut c, &w);
                c
            }
            Centres::PivotedCholesky => pivoted_cholesky(op, rank)?,
        };
        Ok(orthonormalize(b))
    }
}

/// C ← C W (n × m times m × r, r ≤ m) in place, a block of 512 rows at a time, then C keeps its
/// first r columns (a prefix of its column-major storage): the Nyström factors never need a second
/// n × m matrix.
fn mul_rows_in_place(c: &mut DMatrix<f64>, w: &DMatrix<f64>) {
    let (n, r) = (c.nrows(), w.ncols());
    debug_assert!(r <= c.ncols());
    let mut out = DMatrix::zeros(0, 0);
    for start in (0..n).step_by(512) {
        let len = 512.min(n - start);
        let rows = c.rows(start, len).into_owned();
        if out.nrows() != len {
            out = DMatrix::zeros(len, r);
        }
        gemm(&mut out, &rows, false, w, false, 1.0, Par::Global);
        c.view_mut((start, 0), (len, r)).copy_from(&out);
    }
    let full = std::mem::replace(c, DMatrix::zeros(0, 0));
    *c = full.resize_horizontally(r, 0.0);
}

/// Greedy pivoted Cholesky: G (n × r) with K ≈ G Gᵀ.
fn pivoted_cholesky<K: Kernel + Sync + ?Sized>(
    op: &KernelOperator<'_, K>,
    rank: usize,
) -> Result<DMatrix<f64>> {
    let n = op.n();
    let mut d = op.diagonal()?;
    let stop = n as f64 * f64::EPSILON * d.max();
    let mut g = DMatrix::zeros(n, rank);
    let mut r = 0;
    while r < rank {
        let (p, dp) = d.argmax();
        if dp <= stop {
            break;
        }
        let col = op.columns(&[p])?;
        // c − G_{:, <r} G_{p, <r}ᵀ, scaled by 1/√d_p.
        let mut c = col.column(0).into_owned();
        if r > 0 {
            let gp = g.view((p, 0), (1, r)).transpose();
            c -= g.columns(0, r) * gp;
        }
        c /= dp.sqrt();
        for i in 0..n {
            d[i] -= c[i] * c[i];
        }
        // The chosen point's residual is exactly zero; rounding must not pick it again.
        d[p] = 0.0;
        g.set_column(r, &c);
        r += 1;
    }
    Ok(g.columns(0, r).into_owned())
}

/// B = U diag(s) Vᵀ (thin SVD through BᵀB = V diag(s²) Vᵀ, U = B V diag(1/s)), keeping the
/// singular values with s² > r·ε·s²_max: below that U's columns would be rounding noise.
fn orthonormalize(b: DMatrix<f64>) -> LowRank {
    let r = b.ncols();
    if r == 0 {
        return LowRank {
            u: DMatrix::zeros(b.nrows(), 0),
            s2: DVector::zeros(0),
        };
    }
    let gram = tr_mul(&b, &b);
    // sym_eigen cannot fail to converge on a finite symmetric matrix of this size in practice; if
    // it did, a zero-rank factor is still a valid (identity) preconditioner.
    let Ok((vals, v)) = sym_eigen(&gram, "BᵀB of the Nyström factor") else {
        return LowRank {
            u: DMatrix::zeros(b.nrows(), 0),
            s2: DVector::zeros(0),
        };
    };
    let max = vals.max();
    let floor = r as f64 * f64::EPSILON * max;
    // Descending order of the kept eigenvalues.
    let kept: Vec<usize> = (0..r).rev().filter(|&i| vals[i] > floor).collect();
    let w = DMatrix::from_fn(r, kept.len(), |i, j| v[(i, kept[j])] / vals[kept[j]].sqrt());
    let mut u = b;
    mul_rows_in_place(&mut u, &w);
    LowRank {
        u,
        s2: DVector::from_iterator(kept.len(), kept.iter().map(|&i| vals[i])),
    }
}

/// The Nyström preconditioner of K + λI (Frangella, Tropp & Udell 2023, eq. (5.3)):
/// P⁻¹ = (s²_r + λ) U (diag(s²) + λI)⁻¹ Uᵀ + (I − UUᵀ), i.e. P⁻¹ v = v + U (D − I) Uᵀ v with
/// Dᵢ = (s²_r + λ)/(s²ᵢ + λ). It maps the top r eigendirections of K̂ + λI to the value s²_r + λ;
/// with an exact rank-r K̂ the preconditioned spectrum lies in [λ, s²_r + λ]·(1/(s²_r + λ)) ∪ {…}.
#[derive(Debug, Clone)]
pub(crate) struct NystromPreconditioner {
    pub low: LowRank,
    /// Dᵢ − 1.
    scale: DVector<f64>,
}

impl NystromPreconditioner {
    pub(crate) fn new(low: LowRank, lambda: f64) -> Self {
        let r = low.s2.len();
        let last = if r > 0 { low.s2[r - 1] } else { 0.0 };
        let scale = low.s2.map(|s| (last + lambda) / (s + lambda) - 1.0);
        NystromPreconditioner { low, scale }
    }

    /// The rank r actually used.
    pub(crate) fn rank(&self) -> usize {
        self.low.s2.len()
    }

    /// P⁻¹ R for R of shape n × k.
    pub(crate) fn apply(&self, r: &DMatrix<f64>) -> DMatrix<f64> {
        if self.rank() == 0 {
            return r.clone();
        }
        let mut w = tr_mul(&self.low.u, r);
        for (mut row, s) in w.row_iter_mut().zip(self.scale.iter()) {
            row *= *s;
        }
        let mut out = r.clone();
        let mut corr = DMatrix::zeros(r.nrows(), r.ncols());
        gemm(&mut corr, &self.low.u, false, &w, false, 1.0, Par::Global);
        out += corr;
        out
    }
}
