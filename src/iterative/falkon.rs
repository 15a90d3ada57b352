//! FALKON (Rudi, Carratino & Rosasco 2017): the Nyström kernel ridge estimator with m centres,
//! solved by conjugate gradients with its preconditioner, K_nm applied in row blocks and the two
//! m × m triangular factors kept in one m × m buffer.

use super::nystrom::{check_rank, uniform_indices};
use super::operator::{Buffers, KernelOperator, PointSet, cross_apply, fill, product, select_rows};
use super::solve::{ResidualScale, SolveReport, Stopping, absolute_ridge, cg_direction, cg_update};
use crate::error::invalid;
use crate::linalg::{
    Par, alloc_matrix, check_finite_param, cholesky_in_place, ensure_memory, view, view_mut,
};
use crate::regression::gp::check_targets;
use crate::{Error, Kernel, KernelKind, Regularization, Result};
use faer::linalg::matmul::triangular::{BlockStructure, matmul};
use faer::linalg::triangular_solve as tri;
use faer::reborrow::ReborrowMut;
use faer::{Accum, MatRef};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

/// Parameters of a [`Falkon`] fit.
///
/// * `regularization`: λ of the full problem K + λI ([`Regularization`], relative to trace(K)/n
///   by default `Relative(1e-6)`), so that with m = n centres FALKON solves the same system as
///   [`IterativeRegression`](super::IterativeRegression); FALKON's own λ_F = λ/n. It must give λ > 0.
/// * `centres` m, 1 ≤ m ≤ n (default 100), drawn uniformly without replacement from `seed`
///   (default 0).
/// * `tol` > 0 (default 1e-8): CG stops when the preconditioned system's residual is ≤ tol times
///   its initial value (FALKON's stopping rule); `max_iter` ≥ 1 (default 200), beyond which the fit
///   is [`Error::NotConverged`] unless `allow_unconverged(true)`.
/// * `jitter` ε ≥ 0 (default 0): if K_mm is not positive definite the fit fails with
///   [`Error::NotPositiveDefinite`]; with ε > 0, ε·trace(K_mm)/m is added to K_mm's diagonal before
///   factorizing it (FALKON's own "εmI"), and the fitted model reports it ([`Falkon::jitter`]).
/// * `block_rows` (default 256): rows of K_nm per block.
#[derive(Debug, Clone, Copy, PartialEq)]
#[must_use = "call `.fit(operator, y)` to solve"]
pub struct FalkonParams {
    regularization: Regularization,
    centres: usize,
    seed: u64,
    stop: Stopping,
    jitter: f64,
    block_rows: usize,
}

impl Default for FalkonParams {
    fn default() -> Self {
        FalkonParams {
            regularization: Regularization::Relative(1e-6),
            centres: 100,
            seed: 0,
            stop: Stopping {
                tol: 1e-8,
                max_iter: 200,
                allow_unconverged: false,
            },
            jitter: 0.0,
            block_rows: 256,
        }
    }
}

impl FalkonParams {
    /// The ridge of the full problem (default `Relative(1e-6)`).
    pub fn regularization(mut self, regularization: Regularization) -> Self {
        self.regularization = regularization;
        self
    }
    /// Number of centres m (default 100).
    pub fn centres(mut self, m: usize) -> Self {
        self.centres = m;
        self
    }
    /// Seed of the centres' draw (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Relative tolerance of the preconditioned residual (default 1e-8).
    pub fn tol(mut self, tol: f64) -> Self {
        self.stop.tol = tol;
        self
    }
    /// Iteration limit (default 200).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.stop.max_iter = max_iter;
        self
    }
    /// Return an unconverged solution flagged instead of an error (default false).
    pub fn allow_unconverged(mut self, allow: bool) -> Self {
        self.stop.allow_unconverged = allow;
        self
    }
    /// Relative jitter ε ≥ 0 added to K_mm (default 0: none).
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }
    /// Rows of K_nm per block (default 256).
    pub fn block_rows(mut self, rows: usize) -> Self {
        self.block_rows = rows;
        self
    }

    /// Fails with [`Error::InvalidParameter`] for a negative or non-finite ridge or jitter, a
    /// tolerance ≤ 0 or not finite, m = 0, `max_iter` = 0 or `block_rows` = 0 (m > n is rejected
    /// by `fit`).
    ///
    /// ```
    /// use ntk::iterative::Falkon;
    /// assert!(Falkon::params().centres(0).check().is_err());
    /// assert!(Falkon::params().tol(f64::NAN).check().is_err());
    /// assert!(Falkon::params().check().is_ok());
    /// ```
    pub fn check(&self) -> Result<()> {
        self.regularization.check()?;
        self.stop.check()?;
        check_finite_param("jitter", self.jitter)?;
        if self.jitter < 0.0 {
            return Err(invalid("jitter", self.jitter, "must be ≥ 0"));
        }
        if self.centres == 0 {
            return Err(invalid("centres", 0, "must be ≥ 1"));
        }
        if self.block_rows == 0 {
            return Err(invalid("block_rows", 0, "must be ≥ 1"));
        }
        Ok(())
    }

    /// Checks the parameters and fits FALKON to targets `y` (n × k) on the operator's points and
    /// kernel.
    pub fn fit<'a, K: Kernel + Sync + ?Sized>(
        &self,
        op: KernelOperator<'a, K>,
        y: &DMatrix<f64>,
    ) -> Result<Falkon<'a, K>> {
        self.fit_with(op, y, &mut |_, _| {})
    }

    /// [`fit`](Self::fit), calling `progress(iteration, relative residual)` after each CG step.
    pub fn fit_with<'a, K: Kernel + Sync + ?Sized>(
        &self,
        op: KernelOperator<'a, K>,
        y: &DMatrix<f64>,
        progress: &mut dyn FnMut(usize, f64),
    ) -> Result<Falkon<'a, K>> {
        self.check()?;
        let n = op.n();
        check_targets(y, n)?;
        check_rank("centres", self.centres, n)?;
        let m = self.centres;
        let lambda = absolute_ridge(&self.regularization, &op)?;
        let lambda_f = lambda / n as f64;
        let idx = uniform_indices(n, m, self.seed);
        let centres = select_rows(op.points(), &idx);
        let kernel = op.kernel();
        let kind = op.kind();
        let threads = rayon::current_num_threads() as u128;
        ensure_memory(
            &format!("FALKON with {m} centres (one m × m buffer and the K_nm blocks)"),
            (m as u128).pow(2)
                + threads * (self.block_rows as u128 * m as u128 + m as u128 * y.ncols() as u128),
        )?;
        let set = PointSet::new(kernel, &centres)?;
        // K_mm, straight into the buffer's columns, a block of them at a time.
        let mut buf = alloc_matrix(m, m, "FALKON factor buffer (K_mm, then T and A)")?;
        for start in (0..m).step_by(self.block_rows) {
            let end = (start + self.block_rows).min(m);
            let cols = &mut buf.as_mut_slice()[start * m..end * m];
            fill(kernel, kind, (&set, 0..m), (&set, start..end), false, cols)?;
        }
        let jitter = if self.jitter > 0.0 {
            let add = self.jitter * buf.trace() / m as f64;
            for i in 0..m {
                buf[(i, i)] += add;
            }
            add
        } else {
            0.0
        };
        let factors = match Factors::new(buf, lambda_f, jitter) {
            Ok(f) => f,
            Err(Error::NotPositiveDefinite { what, diag_reg, .. }) => {
                // The buffer is spent; the smallest eigenvalue of K_mm is recomputed for the
                // message when that is cheap (m ≤ 2000), and reported as NaN otherwise.
                let min_eigenvalue = if m <= 2000 {
                    let mut kmm = DMatrix::zeros(m, m);
                    fill(
                        kernel,
                        kind,
                        (&set, 0..m),
                        (&set, 0..m),
                        false,
                        kmm.as_mut_slice(),
                    )?;
                    let (vals, _) = crate::linalg::sym_eigen(&kmm, "K_mm")?;
                    vals.min()
                } else {
                    f64::NAN
                };
                return Err(Error::NotPositiveDefinite {
                    what,
                    min_eigenvalue,
                    diag_reg,
                });
            }
            Err(e) => return Err(e),
        };
        let (alpha, report) = solve(&op, &set, lambda, &factors, y, self, progress)?;
        drop(set);
        Ok(Falkon {
            kernel,
            kind,
            centres,
            alpha,
            lambda,
            jitter,
            report,
        })
    }
}

/// T (K_mm = TᵀT, T = Lᵀ upper) and A (TTᵀ/m + λ_F I = AᵀA, A upper) in one m × m buffer: the
/// strict upper triangle holds L̃ᵀ with L̃ = L diag(L)⁻¹ (unit lower), the lower triangle with the
/// diagonal holds L_A = Aᵀ, and diag(L) is kept aside.
struct Factors {
    buf: DMatrix<f64>,
    diag_l: DVector<f64>,
}

impl Factors {
    fn new(mut buf: DMatrix<f64>, lambda_f: f64, jitter: f64) -> Result<Factors> {
        let m = buf.nrows();
        let not_pd = |what: &str| Error::NotPositiveDefinite {
            what: what.to_string(),
            min_eigenvalue: f64::NAN,
            diag_reg: jitter,
        };
        let max_diag = (0..m).map(|i| buf[(i, i)]).fold(0.0f64, f64::max);
        let kmm = "the centres' kernel K_mm of FALKON (duplicated or nearly dependent centres; \
                   set FalkonParams::jitter, e.g. 1e-10, or remove duplicated points)";
        llt_lower_in_place(&mut buf).map_err(|_| not_pd(kmm))?;
        let diag_l = DVector::from_fn(m, |i, _| buf[(i, i)]);
        // A pivot L_ii² at or below the factorization's backward error m·ε·max K_ii carries no
        // information (as in regression::solve's Cholesky): duplicated centres give one.
        let floor = m as f64 * f64::EPSILON * max_diag;
        if diag_l.iter().any(|&d| d * d <= floor) {
            return Err(not_pd(kmm));
        }
        // Strict upper ← L̃ᵀ.
        for j in 0..m {
            for i in j + 1..m {
                buf[(j, i)] = buf[(i, j)] / diag_l[j];
            }
        }
        lauum_lower_in_place(&mut buf, 64);
        // Lower ← LᵀL/m + λ_F I, then its Cholesky factor L_A.
        for j in 0..m {
            for i in j..m {
                buf[(i, j)] /= m as f64;
            }
            buf[(j, j)] += lambda_f;
        }
        llt_lower_in_place(&mut buf).map_err(|_| not_pd("TTᵀ/m + λI (FALKON)"))?;
        Ok(Factors { buf, diag_l })
    }

    fn view(&self) -> MatRef<'_, f64> {
        let m = self.buf.nrows();
        MatRef::from_column_major_slice(self.buf.as_slice(), m, m)
    }

    /// T⁻¹ V = L⁻ᵀ V = L̃⁻ᵀ diag(L)⁻¹ V.
    fn t_inv(&self, v: &mut DMatrix<f64>) {
        for (mut row, d) in v.row_iter_mut().zip(self.diag_l.iter()) {
            row /= *d;
        }
        tri::solve_unit_upper_triangular_in_place(self.view(), view_mut(v), Par::Global.faer());
    }

    /// T⁻ᵀ V = L⁻¹ V = diag(L)⁻¹ L̃⁻¹ V.
    fn t_inv_t(&self, v: &mut DMatrix<f64>) {
        tri::solve_unit_lower_triangular_in_place(
            self.view().transpose(),
            view_mut(v),
            Par::Global.faer(),
        );
        for (mut row, d) in v.row_iter_mut().zip(self.diag_l.iter()) {
            row /= *d;
        }
    }

    /// A⁻¹ V = L_A⁻ᵀ V.
    fn a_inv(&self, v: &mut DMatrix<f64>) {
        tri::solve_upper_triangular_in_place(
            self.view().transpose(),
            view_mut(v),
            Par::Global.faer(),
        );
    }

    /// A⁻ᵀ V = L_A⁻¹ V.
    fn a_inv_t(&self, v: &mut DMatrix<f64>) {
        tri::solve_lower_triangular_in_place(self.view(), view_mut(v), Par::Global.faer());
    }
}

/// Cholesky factor L of the lower triangle, in place, reading and writing the lower triangle only
/// (faer's own in-place Cholesky uses the upper triangle as workspace, which holds T here): a
/// right-looking blocked factorization whose diagonal blocks are factorized by faer on copies.
/// Fails at the first non-positive pivot.
fn llt_lower_in_place(a: &mut DMatrix<f64>) -> std::result::Result<(), ()> {
    const NB: usize = 128;
    let m = a.nrows();
    let par = Par::Global.faer();
    let mut j = 0;
    while j < m {
        let jb = NB.min(m - j);
        // L_JJ from a copy of the diagonal block.
        let mut d = a.view((j, j), (jb, jb)).into_owned();
        if !cholesky_in_place(&mut d) {
            return Err(());
        }
        for c in 0..jb {
            for r in c..jb {
                a[(j + r, j + c)] = d[(r, c)];
            }
        }
        if j + jb < m {
            let rest = m - j - jb;
            let l_jj = MatRef::from_column_major_slice(d.as_slice(), jb, jb);
            let (left, right) = view_mut(a).split_at_col_mut(j + jb);
            // Panel: L_{>J,J} = A_{>J,J} L_JJ⁻ᵀ, i.e. L_JJ (L_{>J,J})ᵀ = (A_{>J,J})ᵀ.
            let mut panel = left.submatrix_mut(j + jb, j, rest, jb);
            tri::solve_lower_triangular_in_place(l_jj, panel.rb_mut().transpose_mut(), par);
            // Trailing lower triangle: A_{>J,>J} −= L_{>J,J} L_{>J,J}ᵀ.
            let trailing = right.submatrix_mut(j + jb, 0, rest, rest);
            let panel = panel.as_ref();
            matmul(
                trailing,
                BlockStructure::TriangularLower,
                Accum::Add,
                panel,
                BlockStructure::Rectangular,
                panel.transpose(),
                BlockStructure::Rectangular,
                -1.0,
                par,
            );
        }
        j += jb;
    }
    Ok(())
}

/// LᵀL of the lower-triangular L held in the lower triangle of `a`, in place (LAPACK's blocked
/// `dlauum`, lower case), reading and writing the lower triangle only. Block row I of the result
/// is L_IIᵀ L_{I,<I} + L_{>I,I}ᵀ L_{>I,≤I}: it reads block row I and the rows below it, which are
/// still L when block row I is written (block rows are done top to bottom).
fn lauum_lower_in_place(a: &mut DMatrix<f64>, nb: usize) {
    let m = a.nrows();
    let par = Par::Global.faer();
    let mut i = 0;
    while i < m {
        let ib = nb.min(m - i);
        // Copies of L_II (ib × ib) and L_{I,<I} (ib × i): the destinations overwrite them.
        let l_ii = a.view((i, i), (ib, ib)).into_owned();
        let panel = a.view((i, 0), (ib, i)).into_owned();
        let (top, bottom) = view_mut(a).split_at_row_mut(i + ib);
        let bottom = bottom.as_ref();
        let row_i = top.submatrix_mut(i, 0, ib, i + ib);
        let (mut dst_panel, mut dst_diag) = row_i.split_at_col_mut(i);
        let l_ii_v = MatRef::from_column_major_slice(l_ii.as_slice(), ib, ib);
        let panel_v = MatRef::from_column_major_slice(panel.as_slice(), ib, i);
        // Panel: L_IIᵀ L_{I,<I}.
        matmul(
            dst_panel.rb_mut(),
            BlockStructure::Rectangular,
            Accum::Replace,
            l_ii_v.transpose(),
            BlockStructure::TriangularUpper,
            panel_v,
            BlockStructure::Rectangular,
            1.0,
            par,
        );
        // Diagonal block: L_IIᵀ L_II (lower triangle).
        matmul(
            dst_diag.rb_mut(),
            BlockStructure::TriangularLower,
            Accum::Replace,
            l_ii_v.transpose(),
            BlockStructure::TriangularUpper,
            l_ii_v,
            BlockStructure::TriangularLower,
            1.0,
            par,
        );
        if i + ib < m {
            let below = bottom.submatrix(0, i, m - i - ib, ib);
            let below_left = bottom.submatrix(0, 0, m - i - ib, i);
            matmul(
                dst_panel,
                BlockStructure::Rectangular,
                Accum::Add,
                below.transpose(),
                BlockStructure::Rectangular,
                below_left,
                BlockStructure::Rectangular,
                1.0,
                par,
            );
            matmul(
                dst_diag,
                BlockStructure::TriangularLower,
                Accum::Add,
                below.transpose(),
                BlockStructure::Rectangular,
                below,
                BlockStructure::Rectangular,
                1.0,
                par,
            );
        }
        i += ib;
    }
}

/// The FALKON estimator f(x) = K(x, C) α with m centres C: α solves the Nyström ridge problem
/// (K_nmᵀK_nm + λ K_mm) α = K_nmᵀ Y (λ = n·λ_F the full problem's ridge), so that its training
/// predictions are those of kernel ridge regression with the Nyström kernel
/// K̂ = K_nm K_mm⁻¹ K_mn: K̂ (K̂ + λI)⁻¹ Y.
///
/// Algorithm (Rudi, Carratino & Rosasco 2017, Alg. 1): T = chol(K_mm) (TᵀT = K_mm), A =
/// chol(TTᵀ/m + λ_F I), then conjugate gradients on the preconditioned normal equations
/// Aᵀ⁻¹T⁻ᵀ(K_nmᵀK_nm/n + λ_F K_mm)T⁻¹A⁻¹ β = Aᵀ⁻¹T⁻ᵀ K_nmᵀY/n, and α = T⁻¹A⁻¹β. Each iteration
/// computes K_nm once, in row blocks (K_nmᵀ(K_nm v) block by block, in parallel), so memory is one
/// m × m buffer holding both factors (T's strict triangle scaled to unit diagonal, with its diagonal
/// aside) plus the blocks; time O(n·m) kernel entries per iteration and O(m³) for the factors.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::iterative::{Falkon, KernelOperator};
/// use ntk::{Activation, KernelKind, Network, Regularization};
/// let net = Network::mlp(3, Activation::Relu).w_std(2f64.sqrt()).b_std(0.1).build()?;
/// let x = DMatrix::from_fn(300, 4, |i, j| (0.37 * i as f64 + 1.3 * j as f64).sin());
/// let y = DMatrix::from_fn(300, 1, |i, _| (2.0 * x[(i, 0)]).sin() + x[(i, 1)]);
/// let op = KernelOperator::new(&net, &x, KernelKind::Ntk)?;
/// let fit = Falkon::params().regularization(Regularization::Relative(1e-3)).centres(60).fit(op, &y)?;
/// assert!(fit.report().converged && fit.report().iterations < 60);
/// let train_fit = fit.mean(&x)?;
/// assert!((train_fit - &y).norm() < 0.1 * y.norm());
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Falkon<'a, K: Kernel + Sync + ?Sized> {
    kernel: &'a K,
    kind: KernelKind,
    centres: DMatrix<f64>,
    alpha: DMatrix<f64>,
    lambda: f64,
    jitter: f64,
    report: SolveReport,
}

impl Falkon<'static, dyn Kernel + Sync> {
    /// The parameters at their defaults (defined on one instance of the type so that
    /// `Falkon::params()` needs no type annotation).
    pub fn params() -> FalkonParams {
        FalkonParams::default()
    }
}

impl<'a, K: Kernel + Sync + ?Sized> Falkon<'a, K> {
    /// The centres (m × d, rows of the training points).
    pub fn centres(&self) -> &DMatrix<f64> {
        &self.centres
    }

    /// The coefficients α (m × k) of f(x) = K(x, C) α.
    pub fn coefficients(&self) -> &DMatrix<f64> {
        &self.alpha
    }

    /// The full problem's ridge λ (FALKON's λ_F = λ/n).
    pub fn diag_reg(&self) -> f64 {
        self.lambda
    }

    /// The absolute jitter added to K_mm's diagonal (0 unless [`FalkonParams::jitter`] was set).
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// How CG went; `residuals` are relative to the preconditioned system's initial residual,
    /// `rank` is m.
    pub fn report(&self) -> &SolveReport {
        &self.report
    }

    /// Predictions K(X_*, C) α at the rows of `x_test` (m_test × k), in blocks of 256 test rows.
    pub fn mean(&self, x_test: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        crate::linalg::check_finite_matrix(x_test, "test points")?;
        if x_test.ncols() != self.centres.ncols() {
            return Err(crate::linalg::shape_error(
                "test points",
                format!("{} columns, as the training points", self.centres.ncols()),
                x_test.shape(),
            ));
        }
        let test = PointSet::new(self.kernel, x_test)?;
        let centres = PointSet::new(self.kernel, &self.centres)?;
        cross_apply(self.kernel, self.kind, &test, &centres, &self.alpha, 256)
    }
}

/// Σ_b K_bmᵀ (K_bm U) over row blocks b of the training points (or K_nmᵀ Y with `rhs`), K_nm
/// between the operator's points and the centres `set`, each block computed once into a reused
/// buffer.
fn knm_t_knm<K: Kernel + Sync + ?Sized>(
    op: &KernelOperator<'_, K>,
    set: &PointSet,
    u: Option<&DMatrix<f64>>,
    y: Option<&DMatrix<f64>>,
    block_rows: usize,
) -> Result<DMatrix<f64>> {
    let n = op.n();
    let m = set.x.nrows();
    let k = u.map_or_else(|| y.map_or(1, |y| y.ncols()), |u| u.ncols());
    let buffers = Buffers::default();
    let starts: Vec<usize> = (0..n).step_by(block_rows).collect();
    starts
        .into_par_iter()
        .with_max_len(1)
        .try_fold(
            || DMatrix::zeros(m, k),
            |mut acc, start| -> Result<DMatrix<f64>> {
                let end = (start + block_rows).min(n);
                let h = end - start;
                let mut buf = buffers.take(h * m);
                let rows = (op.point_set(), start..end);
                fill(op.kernel(), op.kind(), rows, (set, 0..m), false, &mut buf)?;
                let kb = MatRef::from_column_major_slice(&buf, h, m);
                let w = match (u, y) {
                    (Some(u), _) => {
                        let mut w = DMatrix::zeros(h, k);
                        product(view_mut(&mut w), kb, view(u));
                        w
                    }
                    (None, Some(y)) => y.rows(start, h).into_owned(),
                    (None, None) => unreachable!("one of u and y is given"),
                };
                product(view_mut(&mut acc), kb.transpose(), view(&w));
                buffers.give(buf);
                Ok(acc)
            },
        )
        .try_reduce(|| DMatrix::zeros(m, k), |a, b| Ok(a + b))
}

/// FALKON's preconditioned conjugate gradients on β, then α = T⁻¹A⁻¹β.
fn solve<K: Kernel + Sync + ?Sized>(
    op: &KernelOperator<'_, K>,
    set: &PointSet,
    lambda: f64,
    f: &Factors,
    y: &DMatrix<f64>,
    params: &FalkonParams,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<(DMatrix<f64>, SolveReport)> {
    let n = op.n() as f64;
    let m = set.x.nrows();
    let lambda_f = lambda / n;
    // W β = Aᵀ⁻¹ T⁻ᵀ (K_nmᵀ K_nm/n + λ_F K_mm) T⁻¹ A⁻¹ β; with K_mm = TᵀT the ridge term is
    // λ_F Aᵀ⁻¹ A⁻¹ β.
    let apply_w = |beta: &DMatrix<f64>| -> Result<DMatrix<f64>> {
        let mut v = beta.clone();
        f.a_inv(&mut v);
        let ridge = v.clone() * lambda_f;
        f.t_inv(&mut v);
        let mut w = knm_t_knm(op, set, Some(&v), None, params.block_rows)? / n;
        f.t_inv_t(&mut w);
        w += ridge;
        f.a_inv_t(&mut w);
        Ok(w)
    };
    let mut rhs = knm_t_knm(op, set, None, Some(y), params.block_rows)? / n;
    f.t_inv_t(&mut rhs);
    f.a_inv_t(&mut rhs);
    let k = y.ncols();
    let scale = ResidualScale::of(&rhs);
    let mut beta = DMatrix::zeros(m, k);
    let mut r = rhs.clone();
    let mut p = r.clone();
    let mut rr: Vec<f64> = r.column_iter().map(|c| c.norm_squared()).collect();
    let mut report = SolveReport {
        rank: m,
        ..SolveReport::default()
    };
    let mut res = scale.relative(&r);
    while res > params.stop.tol && report.iterations < params.stop.max_iter {
        let q = apply_w(&p)?;
        cg_update(&mut beta, &mut r, &p, &q, &rr);
        res = scale.relative(&r);
        params.stop.record(&mut report, res, progress);
        // No further preconditioner: z = r.
        cg_direction(&mut p, &r, &r, &mut rr);
    }
    report.residual = res;
    params.stop.finish(&mut report, || {
        format!("FALKON's conjugate gradients with {m} centres")
    })?;
    f.a_inv(&mut beta);
    f.t_inv(&mut beta);
    Ok((beta, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spd(m: usize) -> DMatrix<f64> {
        let b = DMatrix::from_fn(m, m, |i, j| ((i * 31 + j * 17) % 13) as f64 / 13.0 - 0.4);
        &b * b.transpose() + DMatrix::identity(m, m)
    }

    #[test]
    fn cholesky_in_place_keeps_the_upper_triangle() {
        // Three blocks, the last one partial.
        let m = 300;
        let mut a = spd(m);
        let want = faer_llt(&a);
        for j in 0..m {
            for i in 0..j {
                a[(i, j)] = 7.0;
            }
        }
        llt_lower_in_place(&mut a).unwrap();
        let scale = want.amax();
        for j in 0..m {
            for i in 0..j {
                assert_eq!(a[(i, j)], 7.0);
            }
            for i in j..m {
                assert!(
                    (a[(i, j)] - want[(i, j)]).abs() <= 1e-13 * scale,
                    "({i}, {j})"
                );
            }
        }
        let mut bad = -DMatrix::<f64>::identity(4, 4);
        assert!(llt_lower_in_place(&mut bad).is_err());
    }

    /// L from faer's Cholesky of a copy.
    fn faer_llt(a: &DMatrix<f64>) -> DMatrix<f64> {
        let l = crate::linalg::view(a).llt(faer::Side::Lower).unwrap();
        let l = l.L();
        DMatrix::from_fn(a.nrows(), a.ncols(), |i, j| l[(i, j)])
    }

    #[test]
    fn lauum_matches_the_product_and_keeps_the_upper_triangle() {
        // m not a multiple of the block: the last block row is partial.
        let m = 150;
        let a0 = spd(m);
        let mut a = a0.clone();
        llt_lower_in_place(&mut a).unwrap();
        let l = a.lower_triangle();
        let want = l.transpose() * &l;
        let before_upper = a.upper_triangle() - DMatrix::from_diagonal(&a.diagonal());
        lauum_lower_in_place(&mut a, 32);
        let scale = want.amax();
        for j in 0..m {
            for i in j..m {
                assert!(
                    (a[(i, j)] - want[(i, j)]).abs() <= 1e-13 * scale,
                    "({i}, {j})"
                );
            }
            for i in 0..j {
                assert_eq!(a[(i, j)], before_upper[(i, j)]);
            }
        }
    }
}
