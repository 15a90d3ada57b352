//! Numeric helpers shared by the whole crate: the bridge from nalgebra storage to faer (zero-copy
//! views and matrix products; nalgebra's own product runs on one core) and checked allocation of
//! large matrices.

use crate::{Error, Result};
use faer::{Accum, MatMut, MatRef};
use nalgebra::DMatrix;

/// Whether a product may use the rayon pool: inside the Monte Carlo loop the samples are already
/// parallel, so nested parallel products would only add scheduling overhead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Par {
    Seq,
    Global,
}

impl Par {
    fn faer(self) -> faer::Par {
        match self {
            Par::Seq => faer::Par::Seq,
            Par::Global => faer::get_global_parallelism(),
        }
    }
}

/// A view of a nalgebra matrix as a faer matrix (no copy).
pub(crate) fn view(m: &DMatrix<f64>) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(m.as_slice(), m.nrows(), m.ncols())
}

/// out ← alpha · op(a) · op(b), op = transpose when the flag is set. `out` must have the right shape.
pub(crate) fn gemm(
    out: &mut DMatrix<f64>,
    a: &DMatrix<f64>,
    ta: bool,
    b: &DMatrix<f64>,
    tb: bool,
    alpha: f64,
    par: Par,
) {
    let (r, c) = out.shape();
    let av = if ta { view(a).transpose() } else { view(a) };
    let bv = if tb { view(b).transpose() } else { view(b) };
    faer::linalg::matmul::matmul(
        MatMut::from_column_major_slice_mut(out.as_mut_slice(), r, c),
        Accum::Replace,
        av,
        bv,
        alpha,
        par.faer(),
    );
}

/// out ← alpha · a · aᵀ, computing only the lower triangle (half the flops) and mirroring it, which
/// also makes the result exactly symmetric.
pub(crate) fn gemm_aat(out: &mut DMatrix<f64>, a: &DMatrix<f64>, alpha: f64, par: Par) {
    use faer::linalg::matmul::triangular::{BlockStructure, matmul};
    let n = out.nrows();
    matmul(
        MatMut::from_column_major_slice_mut(out.as_mut_slice(), n, n),
        BlockStructure::TriangularLower,
        Accum::Replace,
        view(a),
        BlockStructure::Rectangular,
        view(a).transpose(),
        BlockStructure::Rectangular,
        alpha,
        par.faer(),
    );
    for j in 1..n {
        for i in 0..j {
            out[(i, j)] = out[(j, i)];
        }
    }
}

/// An n1 × n2 matrix of zeros, or [`Error::TooLarge`] (with the bytes) when it cannot be allocated:
/// huge point counts or widths must not abort the process. Large ones are backed by huge pages.
pub(crate) fn alloc_matrix(n1: usize, n2: usize, what: &str) -> Result<DMatrix<f64>> {
    let too_large = || Error::TooLarge {
        what: format!("a {n1}×{n2} {what}"),
        bytes: n1 as u128 * n2 as u128 * 8,
    };
    let len = n1
        .checked_mul(n2)
        .filter(|l| l.checked_mul(8).is_some_and(|b| b <= isize::MAX as usize))
        .ok_or_else(too_large)?;
    let mut v: Vec<f64> = Vec::new();
    v.try_reserve_exact(len).map_err(|_| too_large())?;
    #[cfg(target_os = "linux")]
    if len * 8 >= 1 << 22 {
        let page = 1usize << 21;
        let start = v.as_mut_ptr() as usize;
        let aligned = start.div_ceil(page) * page;
        let end = start + len * 8;
        if end > aligned + page {
            // SAFETY: the range lies inside `v`'s allocation; MADV_HUGEPAGE only changes how the
            // kernel backs it, never its contents. A failure (e.g. THP disabled) is harmless.
            unsafe {
                libc::madvise(
                    aligned as *mut libc::c_void,
                    (end - aligned) / page * page,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
    v.resize(len, 0.0);
    Ok(DMatrix::from_vec(n1, n2, v))
}
