//! The training kernel as a linear operator that never holds the n × n matrix: K·V, K(X_*, X)·V and
//! chosen columns of K, computed in row blocks that are recomputed on every product.

use crate::error::invalid;
use crate::linalg::{Par, check_finite_matrix, check_rows, ensure_memory, gemm, shape_error};
use crate::{Kernel, KernelKind, Result};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

/// Rows per block by default: 256 rows of a 50 000-point kernel are 100 MB of entries (both kernels,
/// see [`KernelOperator::block_rows`]) per concurrent block, and each block is long enough to keep
/// the kernel's column-parallel loop and the products busy.
pub const DEFAULT_BLOCK_ROWS: usize = 256;

/// The train-train kernel K = K(X, X) of one [`KernelKind`] of any [`Kernel`] (a
/// [`Network`](crate::Network) of any supported architecture, or a
/// [`FiniteNetwork`](crate::FiniteNetwork)) as a matrix-free symmetric operator.
///
/// [`apply`](Self::apply) computes K·V for V of shape n × k (k right-hand sides at once) from the
/// blocks of rows K(X_b, X_{b…}) of the upper triangle: each block is computed once per product and
/// used twice, for its rows (K_b,· V) and, transposed, for its columns (K_·,b V_b), so a product costs
/// n(n + block)/2 kernel entries and the operator is exactly symmetric. Blocks run in parallel with
/// rayon (and the kernel parallelizes within a block); each thread sums into its own n × k
/// accumulator. Working memory: (threads) × (block × n entries + n × k), never n × n.
///
/// Entries come from [`Kernel::cross`] on the block's rows against the remaining points, so the
/// values are those of the kernel's full matrices (identical points take the diagonal formulas);
/// the per-point variance tables of the columns are recomputed per block, O(n·depth) against the
/// block's O(block·n·depth).
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::iterative::KernelOperator;
/// use ntk::{Activation, Kernel, KernelKind, Network};
/// let net = Network::mlp(3, Activation::Relu).w_std(2f64.sqrt()).b_std(0.1).build()?;
/// let x = DMatrix::from_fn(40, 3, |i, j| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
/// let op = KernelOperator::new(&net, &x, KernelKind::Ntk)?.block_rows(16)?;
/// let v = DMatrix::from_fn(40, 2, |i, j| (i + j) as f64 / 40.0);
/// let dense = net.gram(&x)?.ntk * &v;
/// assert!((op.apply(&v)? - dense).amax() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct KernelOperator<'a, K: Kernel + Sync + ?Sized> {
    kernel: &'a K,
    x: &'a DMatrix<f64>,
    kind: KernelKind,
    block: usize,
}

impl<'a, K: Kernel + Sync + ?Sized> KernelOperator<'a, K> {
    /// The operator of `kind` on the points `x` (rows, n ≥ 1, finite), with
    /// [`DEFAULT_BLOCK_ROWS`] rows per block.
    pub fn new(kernel: &'a K, x: &'a DMatrix<f64>, kind: KernelKind) -> Result<Self> {
        if x.nrows() == 0 || x.ncols() == 0 {
            return Err(shape_error(
                "training points",
                "n × d with n, d ≥ 1".into(),
                x.shape(),
            ));
        }
        check_finite_matrix(x, "training points")?;
        Ok(KernelOperator {
            kernel,
            x,
            kind,
            block: DEFAULT_BLOCK_ROWS,
        })
    }

    /// Rows per block (≥ 1). Larger blocks amortize the per-block work, smaller ones use less
    /// memory: each block in flight holds block × n entries of both kernels, since
    /// [`Kernel::cross`] returns the NNGP and the NTK together.
    pub fn block_rows(mut self, block: usize) -> Result<Self> {
        if block == 0 {
            return Err(invalid("block_rows", block, "must be ≥ 1"));
        }
        self.block = block;
        Ok(self)
    }

    /// Number of points n.
    pub fn n(&self) -> usize {
        self.x.nrows()
    }

    /// The points (rows).
    pub fn points(&self) -> &'a DMatrix<f64> {
        self.x
    }

    /// Which kernel the operator applies.
    pub fn kind(&self) -> KernelKind {
        self.kind
    }

    /// The kernel.
    pub fn kernel(&self) -> &'a K {
        self.kernel
    }

    /// The diagonal K(xᵢ, xᵢ), O(n·depth).
    pub fn diagonal(&self) -> Result<DVector<f64>> {
        let d = self.kernel.diagonal(self.x)?;
        Ok(match self.kind {
            KernelKind::Nngp => d.nngp,
            KernelKind::Ntk => d.ntk,
        })
    }

    /// trace(K)/n, the scale of [`Regularization::Relative`](crate::Regularization::Relative).
    pub fn mean_diagonal(&self) -> Result<f64> {
        Ok(self.diagonal()?.mean())
    }

    /// K·V for V of shape n × k (finite).
    pub fn apply(&self, v: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        check_rows(v, self.n(), "vectors multiplied by the kernel operator")?;
        check_finite_matrix(v, "vectors multiplied by the kernel operator")?;
        self.apply_unchecked(v)
    }

    /// K·V without checking V (the solvers' inner loop).
    pub(crate) fn apply_unchecked(&self, v: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let (n, k) = v.shape();
        let b = self.block.min(n);
        let threads = rayon::current_num_threads() as u128;
        ensure_memory(
            "the kernel operator's blocks and accumulators",
            threads * (2 * b as u128 * n as u128 + n as u128 * k as u128),
        )?;
        let starts: Vec<usize> = (0..n).step_by(b).collect();
        starts
            .into_par_iter()
            .with_max_len(1)
            .try_fold(
                || DMatrix::zeros(n, k),
                |mut acc, start| -> Result<DMatrix<f64>> {
                    let end = (start + b).min(n);
                    let rows = self.x.rows(start, end - start).into_owned();
                    let cols = self.x.rows(start, n - start).into_owned();
                    // Upper triangle of the block row: K(X_b, X_{start..n}), (end−start) × (n−start).
                    let c = block(self.kernel, self.kind, &rows, &cols)?;
                    let vb = v.rows(start, n - start).into_owned();
                    let mut part = DMatrix::zeros(end - start, k);
                    gemm(&mut part, &c, false, &vb, false, 1.0, Par::Seq);
                    let mut rows_acc = acc.rows_mut(start, end - start);
                    rows_acc += &part;
                    if end < n {
                        // The blocks right of the diagonal block, transposed: K(X_{end..}, X_b) V_b.
                        let right = c.columns(end - start, n - end).into_owned();
                        let vrow = v.rows(start, end - start).into_owned();
                        let mut part = DMatrix::zeros(n - end, k);
                        gemm(&mut part, &right, true, &vrow, false, 1.0, Par::Seq);
                        let mut cols_acc = acc.rows_mut(end, n - end);
                        cols_acc += &part;
                    }
                    Ok(acc)
                },
            )
            .try_reduce(|| DMatrix::zeros(n, k), |a, b| Ok(a + b))
    }

    /// K(X_*, X)·V for test points X_* (rows, m × d) and V of shape n × k: the m × k predictions
    /// of coefficients V, computed in blocks of test rows without forming the m × n matrix.
    pub fn cross_apply(&self, x_test: &DMatrix<f64>, v: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        check_rows(v, self.n(), "coefficients")?;
        check_finite_matrix(v, "coefficients")?;
        check_finite_matrix(x_test, "test points")?;
        if x_test.ncols() != self.x.ncols() {
            return Err(shape_error(
                "test points",
                format!("{} columns, as the training points", self.x.ncols()),
                x_test.shape(),
            ));
        }
        cross_apply(self.kernel, self.kind, x_test, self.x, v, self.block)
    }

    /// The columns K(X, X_idx) (n × |idx|) for the point indices `idx` (each < n).
    pub fn columns(&self, idx: &[usize]) -> Result<DMatrix<f64>> {
        if let Some(&bad) = idx.iter().find(|&&i| i >= self.n()) {
            return Err(invalid(
                "column index",
                bad,
                &format!("must be < n = {}", self.n()),
            ));
        }
        let centres = select_rows(self.x, idx);
        // Rows are the chosen points, columns every point: parallel over the n columns.
        Ok(self.block_of(&centres, self.x)?.transpose())
    }

    /// K(A, B) of this operator's kind (rows of A against rows of B), through the one block function.
    pub(crate) fn block_of(&self, a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        block(self.kernel, self.kind, a, b)
    }
}

/// K(X_*, X)·V in blocks of `block` test rows (sequential over blocks: the kernel is parallel inside
/// one), so that memory stays block × n.
pub(crate) fn cross_apply<K: Kernel + Sync + ?Sized>(
    kernel: &K,
    kind: KernelKind,
    x_test: &DMatrix<f64>,
    x: &DMatrix<f64>,
    v: &DMatrix<f64>,
    block_rows: usize,
) -> Result<DMatrix<f64>> {
    let (m, k) = (x_test.nrows(), v.ncols());
    let mut out = DMatrix::zeros(m, k);
    let b = block_rows.max(1);
    for start in (0..m).step_by(b) {
        let end = (start + b).min(m);
        let rows = x_test.rows(start, end - start).into_owned();
        let c = block(kernel, kind, &rows, x)?;
        let mut part = DMatrix::zeros(end - start, k);
        gemm(&mut part, &c, false, v, false, 1.0, Par::Global);
        out.rows_mut(start, end - start).copy_from(&part);
    }
    Ok(out)
}

/// The rows `idx` of `x`.
pub(crate) fn select_rows(x: &DMatrix<f64>, idx: &[usize]) -> DMatrix<f64> {
    DMatrix::from_fn(idx.len(), x.ncols(), |i, j| x[(idx[i], j)])
}

/// One kernel's block K(A, B). The one place where entries are computed: [`Kernel::cross`] returns
/// both kernels, so half of its work is discarded here; a one-kernel block function would be
/// swapped in on this line.
pub(crate) fn block<K: Kernel + ?Sized>(
    kernel: &K,
    kind: KernelKind,
    a: &DMatrix<f64>,
    b: &DMatrix<f64>,
) -> Result<DMatrix<f64>> {
    let k = kernel.cross(a, b)?;
    Ok(match kind {
        KernelKind::Nngp => k.nngp,
        KernelKind::Ntk => k.ntk,
    })
}
