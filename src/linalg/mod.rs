//! The crate's numeric helpers, in one place: the bridge from nalgebra storage to faer (zero-copy
//! views and matrix products; nalgebra's own product runs on one core), small matrix operations,
//! the symmetric eigendecomposition ([`eigen`]), memory reservation before large allocations
//! ([`memory`]) and the validation of shapes and finite values ([`checks`]). Kernels, regression,
//! trained maps and finite networks all take them from here.

mod checks;
mod eigen;
mod memory;

pub(crate) use checks::{
    check_finite_matrix, check_finite_param, check_finite_slice, check_rows, check_shape,
    check_square, first_nonfinite, shape_error,
};
pub(crate) use eigen::{scale_rows, scale_rows_in_place, sym_eigen};
pub(crate) use memory::{alloc_matrix, ensure_memory};

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
    pub(crate) fn faer(self) -> faer::Par {
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

/// A mutable view of a nalgebra matrix as a faer matrix (no copy).
pub(crate) fn view_mut(m: &mut DMatrix<f64>) -> MatMut<'_, f64> {
    let (r, c) = m.shape();
    MatMut::from_column_major_slice_mut(m.as_mut_slice(), r, c)
}

/// faer's Cholesky factorization of the square `a` in place: L in the lower triangle, the strict
/// upper triangle used as workspace (left undefined). `false` at a non-positive pivot.
pub(crate) fn cholesky_in_place(a: &mut DMatrix<f64>) -> bool {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::cholesky::llt::factor;
    let par = Par::Global.faer();
    let scratch = factor::cholesky_in_place_scratch::<f64>(a.nrows(), par, Default::default());
    let mut mem = MemBuffer::new(scratch);
    let stack = MemStack::new(&mut mem);
    factor::cholesky_in_place(
        view_mut(a),
        Default::default(),
        par,
        stack,
        Default::default(),
    )
    .is_ok()
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
    let av = if ta { view(a).transpose() } else { view(a) };
    let bv = if tb { view(b).transpose() } else { view(b) };
    faer::linalg::matmul::matmul(view_mut(out), Accum::Replace, av, bv, alpha, par.faer());
}

/// out ← alpha · a · aᵀ, computing only the lower triangle (half the flops) and mirroring it, which
/// also makes the result exactly symmetric.
pub(crate) fn gemm_aat(out: &mut DMatrix<f64>, a: &DMatrix<f64>, alpha: f64, par: Par) {
    gemm_sym(
        out,
        (view(a), view(a).transpose()),
        alpha,
        Accum::Replace,
        par,
    );
}

/// out ← out + alpha · aᵀa for an n × m `a` and a symmetric m × m `out`, as one symmetric product
/// (half the flops of a general one) on the lower triangle, mirrored: the result is exactly
/// symmetric.
pub(crate) fn add_ata(out: &mut DMatrix<f64>, a: &DMatrix<f64>, alpha: f64) {
    gemm_sym(
        out,
        (view(a).transpose(), view(a)),
        alpha,
        Accum::Add,
        Par::Global,
    );
}

/// aᵀ·b for a product known to be symmetric (aᵀ K a with b = K a and K symmetric): the lower
/// triangle only (half the flops), mirrored, so the result is exactly symmetric.
pub(crate) fn sym_tr_mul(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    let mut out = DMatrix::zeros(a.ncols(), a.ncols());
    gemm_sym(
        &mut out,
        (view(a).transpose(), view(b)),
        1.0,
        Accum::Replace,
        Par::Global,
    );
    out
}

/// Copies the strict lower triangle of a square matrix onto its upper one.
fn mirror_lower(out: &mut DMatrix<f64>) {
    let n = out.nrows();
    for j in 1..n {
        for i in 0..j {
            out[(i, j)] = out[(j, i)];
        }
    }
}

/// out ← alpha · l · r (+ out with [`Accum::Add`], whose lower triangle is used) for a product
/// known to be symmetric, lower triangle only, then mirrored.
fn gemm_sym(
    out: &mut DMatrix<f64>,
    (l, r): (MatRef<'_, f64>, MatRef<'_, f64>),
    alpha: f64,
    accum: Accum,
    par: Par,
) {
    use faer::linalg::matmul::triangular::{BlockStructure, matmul};
    matmul(
        view_mut(out),
        BlockStructure::TriangularLower,
        accum,
        l,
        BlockStructure::Rectangular,
        r,
        BlockStructure::Rectangular,
        alpha,
        par.faer(),
    );
    mirror_lower(out);
}

/// a·b through faer (parallel), for the O(n²m) and O(n³) products of predictions.
pub(crate) fn mul(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    let mut out = DMatrix::zeros(a.nrows(), b.ncols());
    gemm(&mut out, a, false, b, false, 1.0, Par::Global);
    out
}

/// aᵀ·b through faer, without forming aᵀ.
pub(crate) fn tr_mul(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    let mut out = DMatrix::zeros(a.ncols(), b.ncols());
    gemm(&mut out, a, true, b, false, 1.0, Par::Global);
    out
}

/// K + λI (a copy: the caller keeps K, e.g. the unregularized Σ_dd of the NTK covariance), in
/// memory from [`alloc_matrix`] (huge pages: a plain copy of a 2000 × 2000 kernel took 20 ms, against
/// 52 ms for the Cholesky factorization itself), or [`Error::TooLarge`](crate::Error::TooLarge).
pub(crate) fn add_diag(k: &DMatrix<f64>, lambda: f64) -> crate::Result<DMatrix<f64>> {
    let mut out = alloc_matrix(k.nrows(), k.ncols(), "regularized kernel")?;
    out.copy_from(k);
    for i in 0..k.nrows().min(k.ncols()) {
        out[(i, i)] += lambda;
    }
    Ok(out)
}

/// (C + Cᵀ)/2 in place, so that returned covariances are exactly symmetric.
pub(crate) fn symmetrize(c: &mut DMatrix<f64>) {
    let n = c.nrows();
    for j in 0..n {
        for i in 0..j {
            let v = 0.5 * (c[(i, j)] + c[(j, i)]);
            c[(i, j)] = v;
            c[(j, i)] = v;
        }
    }
}
