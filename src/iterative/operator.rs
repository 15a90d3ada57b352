//! The training kernel as a linear operator that never holds the n × n matrix: K·V, K(X_*, X)·V and
//! chosen columns of K, computed in row blocks that are recomputed on every product.

use crate::error::invalid;
use crate::kernel::GramTables;
use crate::linalg::{
    Par, check_finite_matrix, check_rows, ensure_memory, shape_error, view, view_mut,
};
use crate::{Kernel, KernelKind, Result};
use faer::reborrow::ReborrowMut;
use faer::{Accum, MatMut, MatRef};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// Rows per block by default: 256 rows of a 50 000-point kernel are 100 MB of entries per
/// concurrent block, and each block is long enough to keep the kernel's column-parallel loop and the
/// products busy.
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
/// For a [`Network`](crate::Network) the points' per-layer tables are built once, at
/// construction (O(n·depth)), each block computes only the operator's kernel, into a buffer reused
/// from block to block, and its entries are those of [`Kernel::gram`] bit for bit. Any other kernel
/// gets its blocks from [`Kernel::cross`] (both kernels, one of them discarded).
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
    points: PointSet<'a>,
    kind: KernelKind,
    block: usize,
}

impl<'a, K: Kernel + Sync + ?Sized> KernelOperator<'a, K> {
    /// The operator of `kind` on the points `x` (rows, n ≥ 1, finite), with
    /// [`DEFAULT_BLOCK_ROWS`] rows per block. For a [`Network`](crate::Network) this builds the
    /// points' tables and checks `x` against the network's input shape.
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
            points: PointSet::new(kernel, x)?,
            kind,
            block: DEFAULT_BLOCK_ROWS,
        })
    }

    /// Rows per block (≥ 1). Larger blocks amortize the per-block work, smaller ones use less
    /// memory: each block in flight holds block × n entries.
    pub fn block_rows(mut self, block: usize) -> Result<Self> {
        if block == 0 {
            return Err(invalid("block_rows", block, "must be ≥ 1"));
        }
        self.block = block;
        Ok(self)
    }

    /// Number of points n.
    pub fn n(&self) -> usize {
        self.points.x.nrows()
    }

    /// The points (rows).
    pub fn points(&self) -> &'a DMatrix<f64> {
        self.points.x
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
        let d = self.kernel.diagonal(self.points.x)?;
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
            threads * (b as u128 * n as u128 + n as u128 * k as u128),
        )?;
        let buffers = Buffers::default();
        let starts: Vec<usize> = (0..n).step_by(b).collect();
        starts
            .into_par_iter()
            .with_max_len(1)
            .try_fold(
                || DMatrix::zeros(n, k),
                |mut acc, start| -> Result<DMatrix<f64>> {
                    let (end, w) = ((start + b).min(n), n - start);
                    let h = end - start;
                    // Upper triangle of the block row: K(X_b, X_{start..n}), h × w.
                    let mut buf = buffers.take(h * w);
                    fill(
                        self.kernel,
                        self.kind,
                        (&self.points, start..end),
                        (&self.points, start..n),
                        true,
                        &mut buf,
                    )?;
                    let c = MatRef::from_column_major_slice(&buf, h, w);
                    let mut a = view_mut(&mut acc);
                    let vv = view(v);
                    // Its rows, K_b,· V, and the blocks right of the diagonal block transposed,
                    // K(X_{end..}, X_b) V_b.
                    product(a.rb_mut().subrows_mut(start, h), c, vv.subrows(start, w));
                    if end < n {
                        let right = c.subcols(h, n - end).transpose();
                        product(a.subrows_mut(end, n - end), right, vv.subrows(start, h));
                    }
                    buffers.give(buf);
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
        if x_test.ncols() != self.points.x.ncols() {
            return Err(shape_error(
                "test points",
                format!("{} columns, as the training points", self.points.x.ncols()),
                x_test.shape(),
            ));
        }
        let test = PointSet::new(self.kernel, x_test)?;
        cross_apply(self.kernel, self.kind, &test, &self.points, v, self.block)
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
        let x = select_rows(self.points.x, idx);
        let centres = PointSet::new(self.kernel, &x)?;
        let (n, c) = (self.n(), idx.len());
        // Row blocks in parallel (a single column, as pivoted Cholesky asks for, would otherwise
        // be one task), each into its own buffer and then into the rows of the result.
        let b = self.block.min(n);
        let starts: Vec<usize> = (0..n).step_by(b).collect();
        let parts = starts
            .into_par_iter()
            .with_max_len(1)
            .map(|start| -> Result<(usize, Vec<f64>)> {
                let end = (start + b).min(n);
                let mut buf = vec![0.0; (end - start) * c];
                let rows = (&self.points, start..end);
                fill(
                    self.kernel,
                    self.kind,
                    rows,
                    (&centres, 0..c),
                    false,
                    &mut buf,
                )?;
                Ok((start, buf))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut out = DMatrix::zeros(n, c);
        for (start, buf) in parts {
            let h = buf.len() / c.max(1);
            out.rows_mut(start, h)
                .copy_from(&DMatrix::from_column_slice(h, c, &buf));
        }
        Ok(out)
    }

    /// The operator's points and their tables.
    pub(crate) fn point_set(&self) -> &PointSet<'a> {
        &self.points
    }
}

/// Points (rows of `x`) and, when the kernel is a [`Network`](crate::Network), their per-layer
/// tables, built once and shared (by reference counting) by every block that involves them.
#[derive(Clone)]
pub(crate) struct PointSet<'a> {
    pub(crate) x: &'a DMatrix<f64>,
    tables: Option<Arc<GramTables<'a>>>,
}

impl std::fmt::Debug for PointSet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PointSet")
            .field("points", &self.x.shape())
            .field("tables", &self.tables.is_some())
            .finish()
    }
}

impl<'a> PointSet<'a> {
    /// The points `x` of `kernel`, with tables if it is a network (which checks `x`).
    pub(crate) fn new<K: Kernel + ?Sized>(kernel: &K, x: &'a DMatrix<f64>) -> Result<Self> {
        let tables = match kernel.as_network() {
            Some(net) => Some(Arc::new(net.checked_tables(x)?)),
            None => None,
        };
        Ok(PointSet { x, tables })
    }
}

/// The one place where entries are computed: the block K(A\[ra\], B\[rb\]) of `kind` into `out`
/// (column-major |ra| × |rb|). A network with tables for both sets computes it in place
/// ([`Network::block_into`](crate::Network)); with `band` (A = B, rb starting where ra starts) the
/// entries are those of the Gram matrix. Any other kernel goes through [`Kernel::cross`].
pub(crate) fn fill<K: Kernel + ?Sized>(
    kernel: &K,
    kind: KernelKind,
    (a, ra): (&PointSet, Range<usize>),
    (b, rb): (&PointSet, Range<usize>),
    band: bool,
    out: &mut [f64],
) -> Result<()> {
    if let (Some(net), Some(ta), Some(tb)) = (kernel.as_network(), &a.tables, &b.tables) {
        return net.block_into((ta, ra), (tb, rb), band, kind, out);
    }
    let rows = a.x.rows(ra.start, ra.len()).into_owned();
    let cols = b.x.rows(rb.start, rb.len()).into_owned();
    out.copy_from_slice(block(kernel, kind, &rows, &cols)?.as_slice());
    Ok(())
}

/// out += a·b, sequential (the callers run blocks in parallel).
pub(crate) fn product(out: MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>) {
    faer::linalg::matmul::matmul(out, Accum::Add, a, b, 1.0, Par::Seq.faer());
}

/// Buffers for blocks, reused across the blocks of one product (as many as are in flight at
/// once), so that each block does not fault in fresh memory.
#[derive(Default)]
pub(crate) struct Buffers(Mutex<Vec<Vec<f64>>>);

impl Buffers {
    /// A buffer of `len` values (contents unspecified).
    pub(crate) fn take(&self, len: usize) -> Vec<f64> {
        let mut b = self
            .0
            .lock()
            .map(|mut pool| pool.pop())
            .unwrap_or_default()
            .unwrap_or_default();
        b.resize(len, 0.0);
        b
    }

    /// Returns a buffer to the pool.
    pub(crate) fn give(&self, b: Vec<f64>) {
        if let Ok(mut pool) = self.0.lock() {
            pool.push(b);
        }
    }
}

/// K(X_*, X)·V in blocks of `block` test rows (sequential over blocks: the kernel is parallel inside
/// one), so that memory stays block × n.
pub(crate) fn cross_apply<K: Kernel + Sync + ?Sized>(
    kernel: &K,
    kind: KernelKind,
    test: &PointSet,
    train: &PointSet,
    v: &DMatrix<f64>,
    block_rows: usize,
) -> Result<DMatrix<f64>> {
    let (m, n, k) = (test.x.nrows(), train.x.nrows(), v.ncols());
    let mut out = DMatrix::zeros(m, k);
    let b = block_rows.max(1);
    let mut buf = Vec::new();
    for start in (0..m).step_by(b) {
        let end = (start + b).min(m);
        buf.resize((end - start) * n, 0.0);
        fill(
            kernel,
            kind,
            (test, start..end),
            (train, 0..n),
            false,
            &mut buf,
        )?;
        let c = MatRef::from_column_major_slice(&buf, end - start, n);
        faer::linalg::matmul::matmul(
            view_mut(&mut out).subrows_mut(start, end - start),
            Accum::Replace,
            c,
            view(v),
            1.0,
            Par::Global.faer(),
        );
    }
    Ok(out)
}

/// The rows `idx` of `x`.
pub(crate) fn select_rows(x: &DMatrix<f64>, idx: &[usize]) -> DMatrix<f64> {
    DMatrix::from_fn(idx.len(), x.ncols(), |i, j| x[(idx[i], j)])
}

/// One kernel's block K(A, B) from [`Kernel::cross`], for kernels that are not networks: both
/// kernels are computed and one is discarded.
fn block<K: Kernel + ?Sized>(
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
