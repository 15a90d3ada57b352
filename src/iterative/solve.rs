//! Iterative solution of (K + λI) X = B with the matrix-free [`KernelOperator`]: conjugate
//! gradients with a Nyström preconditioner, or EigenPro's preconditioned Richardson iteration; the
//! fitted model predicts means and posterior covariances at test points.

use super::nystrom::{Centres, LowRank, NystromPreconditioner, check_rank};
use super::operator::KernelOperator;
use crate::error::invalid;
use crate::linalg::{check_finite_matrix, check_finite_param, check_shape, symmetrize};
use crate::regression::gp::check_targets;
use crate::{Error, Gaussian, Kernel, KernelKind, Posterior, Regularization, Result};
use nalgebra::DMatrix;

/// Which iteration solves the ridge system.
///
/// * `Cg`: preconditioned conjugate gradients (Hestenes & Stiefel 1952), one recurrence per
///   right-hand side sharing each operator product; with the Nyström preconditioner of rank m this
///   is the full-system solver of FALKON's family (Rudi et al. 2017; Frangella, Tropp & Udell 2023).
/// * `EigenPro { top }`: Richardson iteration α ← α + η P (B − K_reg α) with EigenPro's
///   preconditioner P = I − Σ_{i≤top} (1 − s²_{top+1}/s²ᵢ) uᵢuᵢᵀ, which flattens the top `top`
///   eigenvalues of K (estimated by the rank-m Nyström approximation, uᵢ, s²ᵢ) to the next one, so
///   the step η can be 1/λ_max(P K_reg) instead of 1/λ_max(K_reg) (Ma & Belkin 2017, full batch).
///   It needs 1 ≤ top < rank. Richardson converges in O(κ) iterations where CG needs O(√κ), so it is
///   the slower of the two to a tight tolerance; it is here for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Preconditioned conjugate gradients.
    Cg,
    /// EigenPro's preconditioned Richardson iteration with `top` flattened eigendirections.
    EigenPro {
        /// Number of eigendirections flattened, 1 ≤ top < rank.
        top: usize,
    },
}

/// Parameters of an iterative ridge solve, checked once by [`IterativeParams::check`] before any
/// work.
///
/// * `regularization`: λ of K + λI, as for the dense solvers ([`Regularization`]; the relative form
///   uses trace(K)/n from the kernel's diagonal). It must give λ > 0: without a ridge the iteration
///   has no useful rate (use the dense [`GpInference`](crate::GpInference)).
/// * `method`: [`Method::Cg`] (default) or [`Method::EigenPro`].
/// * `rank` m ≥ 0 and `centres`: the Nyström preconditioner (m = 0: none, plain CG; EigenPro needs
///   m ≥ 2). Default m = 0.
/// * `tol` > 0: stop when every column's relative residual ‖bⱼ − K_reg xⱼ‖/‖bⱼ‖ ≤ tol (default
///   1e-8). The reported residual is recomputed from the operator at the end; if the recurrence
///   drifted above it, CG restarts from the true residual.
/// * `max_iter` ≥ 1 (default 1000). Reaching it without the tolerance is
///   [`Error::NotConverged`] unless `allow_unconverged(true)`, which returns the iterate with
///   [`SolveReport::converged`] false (e.g. to continue it by a warm start).
/// * `block_rows`: rows per block of the operator ([`KernelOperator::block_rows`]).
///
/// ```
/// use ntk::iterative::{IterativeRegression, Method};
/// use ntk::Regularization;
/// let p = IterativeRegression::params().tol(0.0);
/// assert!(matches!(p.check(), Err(ntk::Error::InvalidParameter { .. })));
/// let p = IterativeRegression::params().method(Method::EigenPro { top: 10 }).rank(10);
/// assert!(p.check().is_err()); // top must be < rank
/// assert!(IterativeRegression::params().regularization(Regularization::Relative(1e-3)).check().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[must_use = "call `.fit(operator, y)` to solve"]
pub struct IterativeParams {
    regularization: Regularization,
    method: Method,
    rank: usize,
    centres: Centres,
    stop: Stopping,
}

impl Default for IterativeParams {
    fn default() -> Self {
        IterativeParams {
            regularization: Regularization::Relative(1e-6),
            method: Method::Cg,
            rank: 0,
            centres: Centres::default(),
            stop: Stopping {
                tol: 1e-8,
                max_iter: 1000,
                allow_unconverged: false,
            },
        }
    }
}

impl IterativeParams {
    /// The ridge (default `Relative(1e-6)`; it must give λ > 0).
    pub fn regularization(mut self, regularization: Regularization) -> Self {
        self.regularization = regularization;
        self
    }
    /// The iteration (default [`Method::Cg`]).
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }
    /// The preconditioner's rank m (default 0: none).
    pub fn rank(mut self, rank: usize) -> Self {
        self.rank = rank;
        self
    }
    /// How the preconditioner's m points are chosen (default uniform, seed 0).
    pub fn centres(mut self, centres: Centres) -> Self {
        self.centres = centres;
        self
    }
    /// Relative residual tolerance (default 1e-8).
    pub fn tol(mut self, tol: f64) -> Self {
        self.stop.tol = tol;
        self
    }
    /// Iteration limit (default 1000).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.stop.max_iter = max_iter;
        self
    }
    /// Return an unconverged iterate (flagged) instead of [`Error::NotConverged`] (default false).
    pub fn allow_unconverged(mut self, allow: bool) -> Self {
        self.stop.allow_unconverged = allow;
        self
    }

    /// Fails with [`Error::InvalidParameter`] for a ridge that is negative or not finite, a
    /// tolerance ≤ 0 or not finite, `max_iter` = 0, or an EigenPro `top` outside 1..rank. (A rank
    /// above n and a ridge that gives λ = 0 are rejected by `fit`, which knows the kernel.)
    pub fn check(&self) -> Result<()> {
        self.regularization.check()?;
        self.stop.check()?;
        if let Method::EigenPro { top } = self.method {
            if top == 0 || top >= self.rank {
                return Err(invalid(
                    "top",
                    top,
                    &format!(
                        "EigenPro flattens 1 ≤ top < rank eigendirections, and rank is {}: \
                         raise the rank or lower top",
                        self.rank
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks the parameters and solves (K + λI) α = Y (Y: n × k) from α = 0.
    pub fn fit<'a, K: Kernel + Sync + ?Sized>(
        &self,
        op: KernelOperator<'a, K>,
        y: &DMatrix<f64>,
    ) -> Result<IterativeRegression<'a, K>> {
        self.fit_with(op, y, None, &mut |_, _| {})
    }

    /// [`fit`](Self::fit) from the initial coefficients `warm` (n × k, e.g. those of a nearby
    /// ridge or an unconverged run), calling `progress(iteration, relative residual)` after each
    /// iteration (the largest over the columns).
    pub fn fit_with<'a, K: Kernel + Sync + ?Sized>(
        &self,
        op: KernelOperator<'a, K>,
        y: &DMatrix<f64>,
        warm: Option<&DMatrix<f64>>,
        progress: &mut dyn FnMut(usize, f64),
    ) -> Result<IterativeRegression<'a, K>> {
        self.check()?;
        let n = op.n();
        check_targets(y, n)?;
        if let Some(w) = warm {
            check_shape(w, y.shape(), "warm start (n × k, as y)")?;
            check_finite_matrix(w, "warm start")?;
        }
        if self.rank > 0 {
            check_rank("rank", self.rank, n)?;
        }
        let lambda = absolute_ridge(&self.regularization, &op)?;
        let precond = if self.rank > 0 {
            let low = LowRank::build(&op, self.rank, self.centres)?;
            Some(NystromPreconditioner::new(low, lambda))
        } else {
            None
        };
        let mut model = IterativeRegression {
            op,
            lambda,
            precond,
            params: *self,
            coefficients: DMatrix::zeros(0, 0),
            report: SolveReport::default(),
        };
        let (x, report) = model.solve_with(y, warm, progress)?;
        model.coefficients = x;
        model.report = report;
        Ok(model)
    }
}

/// The column norms ‖b_j‖ of a block of right-hand sides, against which residuals are measured.
pub(crate) struct ResidualScale {
    pub(crate) norms: Vec<f64>,
}

impl ResidualScale {
    pub(crate) fn of(b: &DMatrix<f64>) -> Self {
        ResidualScale {
            norms: b.column_iter().map(|c| c.norm()).collect(),
        }
    }

    /// max_j ‖r_j‖/‖b_j‖, a column with b_j = 0 counting 0 (its solution is 0).
    pub(crate) fn relative(&self, r: &DMatrix<f64>) -> f64 {
        r.column_iter()
            .zip(&self.norms)
            .map(|(c, &nb)| if nb > 0.0 { c.norm() / nb } else { 0.0 })
            .fold(0.0, f64::max)
    }
}

/// When an iteration stops: at relative residual `tol`, or after `max_iter` iterations, which is
/// [`Error::NotConverged`] unless `allow_unconverged`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stopping {
    pub(crate) tol: f64,
    pub(crate) max_iter: usize,
    pub(crate) allow_unconverged: bool,
}

impl Stopping {
    /// A finite tolerance > 0 and at least one iteration.
    pub(crate) fn check(&self) -> Result<()> {
        check_tol(self.tol)?;
        if self.max_iter == 0 {
            return Err(invalid("max_iter", 0, "must be ≥ 1"));
        }
        Ok(())
    }

    /// Records one finished iteration with relative residual `res` (count, history, progress
    /// callback) and says whether it meets the tolerance.
    pub(crate) fn record(
        &self,
        report: &mut SolveReport,
        res: f64,
        progress: &mut dyn FnMut(usize, f64),
    ) -> bool {
        report.iterations += 1;
        report.residuals.push(res);
        progress(report.iterations, res);
        res <= self.tol
    }

    /// Marks `report` (whose `residual` is final) converged or not; an unconverged one is
    /// [`Error::NotConverged`] naming `what` ran, unless allowed.
    pub(crate) fn finish(
        &self,
        report: &mut SolveReport,
        what: impl FnOnce() -> String,
    ) -> Result<()> {
        report.converged = report.residual <= self.tol;
        if !report.converged && !self.allow_unconverged {
            return Err(Error::NotConverged {
                what: what(),
                iterations: report.iterations,
                residual: report.residual,
                tol: self.tol,
            });
        }
        Ok(())
    }
}

pub(crate) fn check_tol(tol: f64) -> Result<()> {
    check_finite_param("tol", tol)?;
    if tol <= 0.0 {
        return Err(invalid("tol", tol, "must be > 0 (e.g. 1e-8)"));
    }
    Ok(())
}

/// λ > 0 for the operator's kernel.
pub(crate) fn absolute_ridge<K: Kernel + Sync + ?Sized>(
    reg: &Regularization,
    op: &KernelOperator<'_, K>,
) -> Result<f64> {
    let lambda = match *reg {
        Regularization::Absolute(r) => r,
        Regularization::Relative(r) => r * op.mean_diagonal()?,
    };
    if !(lambda > 0.0 && lambda.is_finite()) {
        return Err(invalid(
            "diag_reg",
            lambda,
            "the iterative solvers need a ridge λ > 0 (e.g. Regularization::Relative(1e-6)); \
             for ridgeless regression use the dense GpInference",
        ));
    }
    Ok(lambda)
}

/// How an iterative solve went.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SolveReport {
    /// Iterations done (operator products, not counting set-up and the final residual check).
    pub iterations: usize,
    /// The relative residual after each iteration (the recurrence's, largest over the columns).
    pub residuals: Vec<f64>,
    /// The final relative residual max_j ‖bⱼ − K_reg xⱼ‖/‖bⱼ‖, recomputed from the operator.
    pub residual: f64,
    /// Whether `residual` ≤ tol.
    pub converged: bool,
    /// The preconditioner's effective rank (≤ m; 0 without one).
    pub rank: usize,
    /// EigenPro's step size η (None for CG).
    pub step_size: Option<f64>,
}

/// Kernel ridge regression / GP posterior mean solved iteratively: α = (K + λI)⁻¹ Y with K the
/// matrix-free [`KernelOperator`], the mean at test points f(X_*) = K(X_*, X) α, and the posterior
/// covariance at given test points from further solves with the same preconditioner.
///
/// Built by [`IterativeRegression::params`]`()…fit(operator, y)`. The same quantities as
/// [`GpInference`](crate::GpInference) (dense Cholesky), to the solver's tolerance.
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::iterative::{IterativeRegression, KernelOperator};
/// use ntk::{Activation, GpInference, KernelKind, Network, Regularization};
/// let net = Network::mlp(3, Activation::Relu).w_std(2f64.sqrt()).b_std(0.1).build()?;
/// let x = DMatrix::from_fn(200, 4, |i, j| ((i * 37 + j * 11) % 23) as f64 / 11.0 - 1.0);
/// let y = DMatrix::from_fn(200, 1, |i, _| (i as f64 / 20.0).sin());
/// let x_test = DMatrix::from_fn(5, 4, |i, j| (i + j) as f64 / 8.0);
/// let reg = Regularization::Relative(1e-4);
/// let op = KernelOperator::new(&net, &x, KernelKind::Ntk)?;
/// let fit = IterativeRegression::params().regularization(reg).rank(50).tol(1e-10).fit(op, &y)?;
/// assert!(fit.report().converged);
/// let dense = GpInference::params().regularization(reg).fit_points(&net, &x, &y)?;
/// let want = dense.predict_points(KernelKind::Ntk, &net, &x_test)?.mean;
/// assert!((fit.mean(&x_test)? - &want).amax() < 1e-7 * want.amax());
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct IterativeRegression<'a, K: Kernel + Sync + ?Sized> {
    op: KernelOperator<'a, K>,
    lambda: f64,
    precond: Option<NystromPreconditioner>,
    params: IterativeParams,
    coefficients: DMatrix<f64>,
    report: SolveReport,
}

impl IterativeRegression<'static, dyn Kernel + Sync> {
    /// The parameters at their defaults (CG, no preconditioner, tol 1e-8, relative ridge 1e-6).
    /// (Defined on one instance of the type so that `IterativeRegression::params()` needs no type
    /// annotation; the fitted model takes its kernel type from the operator.)
    pub fn params() -> IterativeParams {
        IterativeParams::default()
    }
}

impl<'a, K: Kernel + Sync + ?Sized> IterativeRegression<'a, K> {
    /// The coefficients α = (K + λI)⁻¹ Y (n × k).
    pub fn coefficients(&self) -> &DMatrix<f64> {
        &self.coefficients
    }

    /// How the solve went.
    pub fn report(&self) -> &SolveReport {
        &self.report
    }

    /// The absolute ridge λ.
    pub fn diag_reg(&self) -> f64 {
        self.lambda
    }

    /// The operator.
    pub fn operator(&self) -> &KernelOperator<'a, K> {
        &self.op
    }

    /// The posterior mean K(X_*, X) α at the test points (rows of `x_test`), m × k, computed in
    /// blocks of test rows.
    pub fn mean(&self, x_test: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        self.op.cross_apply(x_test, &self.coefficients)
    }

    /// X = (K + λI)⁻¹ B for other right-hand sides B (n × k), with the fitted preconditioner.
    pub fn solve(&self, b: &DMatrix<f64>) -> Result<(DMatrix<f64>, SolveReport)> {
        check_targets(b, self.op.n())?;
        self.solve_with(b, None, &mut |_, _| {})
    }

    /// Mean and covariance at test points (rows of `x_test`), as
    /// [`GpInference::predict`](crate::GpInference::predict) computes them, with every K_reg⁻¹ replaced by a solve with m
    /// right-hand sides (m test points, so the m × m covariance and an n × m block are held):
    ///
    /// * NNGP (operator of the NNGP): cov = Σ_tt − Σ_td Σ_reg⁻¹ Σ_dt;
    /// * NTK-GP (operator of the NTK): cov = Θ_tt − Θ_td Θ_reg⁻¹ Θ_dt;
    /// * NTK ensemble (operator of the NTK): with B = Θ_reg⁻¹ Θ_dt,
    ///   cov = Σ_tt + Bᵀ Σ_dd B − Σ_td B − (Σ_td B)ᵀ, where Σ_dd B is one product of the NNGP's
    ///   operator on the same points.
    ///
    /// The posterior's kernel must be the operator's ([`Posterior::kernel`]). The variance is the
    /// diagonal of the covariance.
    pub fn predict(
        &self,
        posterior: impl Into<Posterior>,
        x_test: &DMatrix<f64>,
    ) -> Result<Gaussian> {
        let posterior = posterior.into();
        if posterior.kernel() != self.op.kind() {
            return Err(invalid(
                "posterior",
                format!("{posterior:?}"),
                &format!(
                    "this model solved the {:?} system; fit the operator of {:?}",
                    self.op.kind(),
                    posterior.kernel()
                ),
            ));
        }
        let mean = self.mean(x_test)?;
        let x = self.op.points();
        let kernel = self.op.kernel();
        let td = kernel.cross(x_test, x)?;
        let tt = kernel.gram(x_test)?;
        let (k_td, k_tt) = match posterior {
            Posterior::Kernel(KernelKind::Nngp) => (&td.nngp, &tt.nngp),
            _ => (&td.ntk, &tt.ntk),
        };
        let (z, _) = self.solve_with(&k_td.transpose(), None, &mut |_, _| {})?;
        let mut cov = match posterior {
            Posterior::Kernel(KernelKind::Ntk) => {
                let nngp = KernelOperator::new(kernel, x, KernelKind::Nngp)?;
                let sigma_b = nngp.apply_unchecked(&z)?;
                let s_td_b = &td.nngp * &z;
                &tt.nngp + z.transpose() * sigma_b - &s_td_b - s_td_b.transpose()
            }
            _ => k_tt - k_td * &z,
        };
        symmetrize(&mut cov);
        Ok(Gaussian {
            mean,
            covariance: cov,
        })
    }

    /// K_reg·X = (K + λI) X.
    fn apply_reg(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let mut out = self.op.apply_unchecked(x)?;
        out += x * self.lambda;
        Ok(out)
    }

    fn precondition(&self, r: &DMatrix<f64>) -> DMatrix<f64> {
        match &self.precond {
            Some(p) => p.apply(r),
            None => r.clone(),
        }
    }

    /// Solves K_reg X = B from `warm` (or 0) with the model's method.
    fn solve_with(
        &self,
        b: &DMatrix<f64>,
        warm: Option<&DMatrix<f64>>,
        progress: &mut dyn FnMut(usize, f64),
    ) -> Result<(DMatrix<f64>, SolveReport)> {
        let scale = ResidualScale::of(b);
        let rel = |r: &DMatrix<f64>| scale.relative(r);
        let mut x = warm
            .cloned()
            .unwrap_or_else(|| DMatrix::zeros(b.nrows(), b.ncols()));
        // Columns with b = 0 have the solution 0 whatever the warm start.
        for (j, &nb) in scale.norms.iter().enumerate() {
            if nb == 0.0 {
                x.column_mut(j).fill(0.0);
            }
        }
        let mut r = b - self.apply_reg(&x)?;
        let mut report = SolveReport {
            rank: self.precond.as_ref().map_or(0, |p| p.rank()),
            ..SolveReport::default()
        };
        let (tol, max_iter) = (self.params.stop.tol, self.params.stop.max_iter);
        match self.params.method {
            Method::Cg => loop {
                if rel(&r) <= tol || report.iterations >= max_iter {
                    break;
                }
                self.cg(&mut x, &mut r, &rel, &mut report, progress)?;
                // The recurrence's residual drifts from the true one; restart from the true one.
                r = b - self.apply_reg(&x)?;
            },
            Method::EigenPro { top } => {
                let eta = self.eigenpro(&mut x, &mut r, b, top, &rel, &mut report, progress)?;
                report.step_size = Some(eta);
            }
        }
        report.residual = rel(&r);
        self.params
            .stop
            .finish(&mut report, || match self.params.method {
                Method::Cg => "conjugate gradients on K + λI".into(),
                Method::EigenPro { .. } => "EigenPro iteration on K + λI".into(),
            })?;
        Ok((x, report))
    }

    /// Preconditioned CG from (x, r = b − K_reg x) until the recurrence's residual reaches tol or
    /// the iteration limit; one recurrence per column, sharing the operator products.
    fn cg(
        &self,
        x: &mut DMatrix<f64>,
        r: &mut DMatrix<f64>,
        rel: &dyn Fn(&DMatrix<f64>) -> f64,
        report: &mut SolveReport,
        progress: &mut dyn FnMut(usize, f64),
    ) -> Result<()> {
        let k = x.ncols();
        let mut z = self.precondition(r);
        let mut p = z.clone();
        let mut rz: Vec<f64> = (0..k).map(|j| r.column(j).dot(&z.column(j))).collect();
        while report.iterations < self.params.stop.max_iter {
            let q = self.apply_reg(&p)?;
            cg_update(x, r, &p, &q, &rz);
            if self.params.stop.record(report, rel(r), progress) {
                break;
            }
            z = self.precondition(r);
            cg_direction(&mut p, &z, r, &mut rz);
        }
        Ok(())
    }

    /// EigenPro's Richardson iteration; returns the step size η.
    #[allow(clippy::too_many_arguments)]
    fn eigenpro(
        &self,
        x: &mut DMatrix<f64>,
        r: &mut DMatrix<f64>,
        b: &DMatrix<f64>,
        top: usize,
        rel: &dyn Fn(&DMatrix<f64>) -> f64,
        report: &mut SolveReport,
        progress: &mut dyn FnMut(usize, f64),
    ) -> Result<f64> {
        let low = &self
            .precond
            .as_ref()
            .expect("EigenPro is checked to have rank > top ≥ 1")
            .low;
        let r_eff = low.s2.len();
        if top >= r_eff {
            return Err(invalid(
                "top",
                top,
                &format!(
                    "the Nyström approximation has effective rank {r_eff} (dependent centres were \
                     dropped), so at most {} directions can be flattened",
                    r_eff.saturating_sub(1)
                ),
            ));
        }
        let u = low.u.columns(0, top).into_owned();
        let tau = low.s2[top];
        // P v = v − U_top diag(1 − τ/s²ᵢ) U_topᵀ v.
        let damp: Vec<f64> = (0..top).map(|i| 1.0 - tau / low.s2[i]).collect();
        let apply_p = |v: &DMatrix<f64>| -> DMatrix<f64> {
            let mut w = u.transpose() * v;
            for (mut row, d) in w.row_iter_mut().zip(&damp) {
                row *= *d;
            }
            v - &u * w
        };
        // η = 1/λ_max(P K_reg), λ_max by 20 power iterations on P K_reg (similar to the symmetric
        // P^½ K_reg P^½, so its eigenvalues are real and positive); 20 steps bring the estimate
        // within a few per cent, far inside the factor 2 that Richardson's stability allows.
        let n = x.nrows();
        let mut v = DMatrix::from_fn(n, 1, |i, _| 1.0 + ((i * 7919) % 13) as f64 / 13.0);
        let mut lmax = 0.0;
        for _ in 0..20 {
            v /= v.norm();
            let w = apply_p(&self.apply_reg(&v)?);
            lmax = v.dot(&w);
            v = w;
        }
        let lmax = lmax.max(v.norm());
        let eta = 1.0 / lmax;
        while report.iterations < self.params.stop.max_iter {
            *x += apply_p(r) * eta;
            *r = b - self.apply_reg(x)?;
            if self.params.stop.record(report, rel(r), progress) {
                break;
            }
        }
        Ok(eta)
    }
}

/// One CG step per column: x += a p, r −= a q with a = rz / pᵀq (q = A p). A converged column
/// (r = 0, so p = 0 and pᵀq = 0) stays where it is.
pub(crate) fn cg_update(
    x: &mut DMatrix<f64>,
    r: &mut DMatrix<f64>,
    p: &DMatrix<f64>,
    q: &DMatrix<f64>,
    rz: &[f64],
) {
    for (j, &rzj) in rz.iter().enumerate() {
        let pq = p.column(j).dot(&q.column(j));
        if pq > 0.0 {
            let a = rzj / pq;
            x.column_mut(j).axpy(a, &p.column(j), 1.0);
            r.column_mut(j).axpy(-a, &q.column(j), 1.0);
        }
    }
}

/// The next CG directions per column: p = z + β p with β = rᵀz (new) / rᵀz (old), z = P⁻¹ r;
/// updates rz.
pub(crate) fn cg_direction(
    p: &mut DMatrix<f64>,
    z: &DMatrix<f64>,
    r: &DMatrix<f64>,
    rz: &mut [f64],
) {
    for (j, rzj) in rz.iter_mut().enumerate() {
        let rz_new = r.column(j).dot(&z.column(j));
        let beta = if *rzj > 0.0 { rz_new / *rzj } else { 0.0 };
        *rzj = rz_new;
        let mut pj = p.column_mut(j);
        pj *= beta;
        pj += z.column(j);
    }
}
