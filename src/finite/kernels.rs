//! Empirical kernels of one finite network (also as a [`Kernel`]), and Monte Carlo averages over
//! many with their standard errors, z-scores and confidence intervals.

use super::{FiniteNetwork, FiniteNetworkBuilder, Stage, Trace, check_inputs, check_output, zeros};
use crate::Result;
use crate::error::{Error, invalid};
use crate::kernel::{Kernel, KernelDiagonal, KernelEntry, KernelMatrices};
use crate::linalg::{Par, gemm, gemm_aat};
use crate::linalg::{check_finite_matrix, check_finite_param};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Empirical kernels of one finite network between two sets of points (n1 × n2 matrices).
#[derive(Debug, Clone, PartialEq)]
pub struct EmpiricalKernels {
    /// Σ̂(x, x') = f(x)·f(x')/k, the output covariance of this one network (neural-tangents'
    /// `empirical_nngp_fn` with `trace_axes=(-1,)`). Its fluctuation does not vanish with width: it
    /// is a single draw of the GP.
    pub nngp: DMatrix<f64>,
    /// The NNGP with the readout integrated out, σ_w²⟨h(x), h(x')⟩/n_L + σ_b² (both
    /// parameterizations; σ_b = 0 without bias) where h is the input of the last Dense layer and
    /// n_L its width: the expectation of
    /// f(x)f(x') over the readout weights, which converges to the analytic NNGP as the width grows.
    /// `None` when the network does not end with a Dense layer.
    pub nngp_readout: Option<DMatrix<f64>>,
    /// Θ̂(x, x') = (1/k) Σ_o ⟨∂f_o(x)/∂θ, ∂f_o(x')/∂θ⟩ (neural-tangents' `empirical_ntk_fn` with
    /// `trace_axes=(-1,)`).
    pub ntk: DMatrix<f64>,
}

impl FiniteNetwork {
    /// All three empirical kernels between the rows of `x1` and those of `x2` (n1 × n2), or of `x1`
    /// with itself when `x2` is `None` (symmetric n × n), from one forward and backward pass: what
    /// [`MonteCarlo`] averages. The [`Kernel`] methods give the same `nngp` and `ntk` bit for bit;
    /// this is the way to the readout-integrated NNGP.
    pub fn empirical_kernels(
        &self,
        x1: &DMatrix<f64>,
        x2: Option<&DMatrix<f64>>,
    ) -> Result<EmpiricalKernels> {
        let ta = self.trace(x1, "x1", Par::Global)?;
        let tb = match x2 {
            Some(x) => Some(self.trace(x, "x2", Par::Global)?),
            None => None,
        };
        self.kernels_of(&ta, tb.as_ref(), true, Par::Global)
    }

    /// [`empirical_kernels`](Self::empirical_kernels) with the given parallelism (the Monte Carlo
    /// estimator runs one network per task, each sequential).
    pub(crate) fn kernels_par(
        &self,
        x1: &DMatrix<f64>,
        x2: Option<&DMatrix<f64>>,
        par: Par,
    ) -> Result<EmpiricalKernels> {
        let ta = self.trace(x1, "x1", par)?;
        let tb = match x2 {
            Some(x) => Some(self.trace(x, "x2", par)?),
            None => None,
        };
        self.kernels_of(&ta, tb.as_ref(), true, par)
    }

    /// The empirical kernels of two traced point sets (`tb = None`: `ta` with itself); the
    /// readout-integrated NNGP only when `with_readout` is set.
    fn kernels_of(
        &self,
        ta: &Trace,
        tb: Option<&Trace>,
        with_readout: bool,
        par: Par,
    ) -> Result<EmpiricalKernels> {
        if let (Some(net), Some(a)) = (&self.image, &ta.image) {
            return net.kernels(a, tb.and_then(|t| t.image.as_ref()), with_readout, par);
        }
        let na = ta.output.nrows();
        let nb = tb.map_or(na, |t| t.output.nrows());
        let k = self.output_dim();
        let mut nngp = zeros(na, nb, "the empirical NNGP")?;
        outer(
            &mut nngp,
            &ta.output,
            tb.map(|t| &t.output),
            1.0 / k as f64,
            par,
        );
        // The factor a_w²⟨h, h'⟩ + a_b² of every Dense layer does not depend on the output index.
        let factors: Vec<Option<DMatrix<f64>>> = self
            .stages()
            .iter()
            .enumerate()
            .map(|(i, s)| match s {
                Stage::Dense(p) => {
                    let mut c = zeros(na, nb, "a layer's NTK factor")?;
                    outer(
                        &mut c,
                        &ta.inputs[i],
                        tb.map(|t| &t.inputs[i]),
                        p.w_mult * p.w_mult,
                        par,
                    );
                    if p.b.is_some() {
                        c.add_scalar_mut(p.b_mult * p.b_mult);
                    }
                    Ok(Some(c))
                }
                Stage::Act(_) => Ok(None),
            })
            .collect::<Result<_>>()?;
        let nngp_readout = match self.stages().last() {
            Some(Stage::Dense(p)) if with_readout => {
                let last = self.stages().len() - 1;
                let mut c = zeros(na, nb, "the readout-integrated NNGP")?;
                let (w_var, b_var) = p.out_var;
                outer(
                    &mut c,
                    &ta.inputs[last],
                    tb.map(|t| &t.inputs[last]),
                    w_var,
                    par,
                );
                c.add_scalar_mut(b_var);
                Some(c)
            }
            _ => None,
        };
        let mut ntk = zeros(na, nb, "the empirical NTK")?;
        let mut gg = zeros(na, nb, "a product of backpropagated vectors")?;
        for o in 0..k {
            let ga = backprop_output(self, ta, o, par)?;
            let gb = match tb {
                Some(t) => Some(backprop_output(self, t, o, par)?),
                None => None,
            };
            for (i, c) in factors.iter().enumerate() {
                let Some(c) = c else { continue };
                outer(&mut gg, &ga[i], gb.as_ref().map(|g| &g[i]), 1.0, par);
                ntk.zip_zip_apply(&gg, c, |t, g, c| *t += g * c);
            }
        }
        ntk /= k as f64;
        check_output(&ntk, "empirical NTK")?;
        check_output(&nngp, "empirical NNGP")?;
        if let Some(r) = &nngp_readout {
            check_output(r, "readout-integrated NNGP")?;
        }
        Ok(EmpiricalKernels {
            nngp,
            nngp_readout,
            ntk,
        })
    }
}

impl FiniteNetwork {
    /// Σ̂(x, x) = ‖f(x)‖²/k for every traced point: the NNGP variances (`cov1`, `cov2`).
    fn variances(&self, t: &Trace) -> DVector<f64> {
        row_squared_norms(&t.output) * (1.0 / self.output_dim() as f64)
    }

    /// Σ̂(xᵢ, xᵢ) and Θ̂(xᵢ, xᵢ) of every traced point: the squared norms that the Gram products
    /// put on their diagonal, one point at a time (O(n) instead of O(n²)).
    fn diagonal_of(&self, t: &Trace) -> Result<KernelDiagonal> {
        if let (Some(net), Some(a)) = (&self.image, &t.image) {
            return net.diagonal(a);
        }
        let n = t.output.nrows();
        let k = self.output_dim();
        // a_w²‖h‖² + a_b² of every Dense layer, as in `kernels_of`.
        let factors: Vec<Option<DVector<f64>>> = self
            .stages()
            .iter()
            .enumerate()
            .map(|(i, s)| match s {
                Stage::Dense(p) => {
                    let mut c = row_squared_norms(&t.inputs[i]) * (p.w_mult * p.w_mult);
                    if p.b.is_some() {
                        c.add_scalar_mut(p.b_mult * p.b_mult);
                    }
                    Some(c)
                }
                Stage::Act(_) => None,
            })
            .collect();
        let mut ntk = DVector::zeros(n);
        for o in 0..k {
            let g = backprop_output(self, t, o, Par::Global)?;
            for (i, c) in factors.iter().enumerate() {
                let Some(c) = c else { continue };
                ntk.zip_zip_apply(&row_squared_norms(&g[i]), c, |t, g, c| *t += g * c);
            }
        }
        ntk /= k as f64;
        let nngp = self.variances(t);
        check_output(
            &DMatrix::from_column_slice(n, 1, ntk.as_slice()),
            "empirical NTK",
        )?;
        check_output(
            &DMatrix::from_column_slice(n, 1, nngp.as_slice()),
            "empirical NNGP",
        )?;
        Ok(KernelDiagonal { nngp, ntk })
    }
}

/// The empirical kernels of this one network: Σ̂(x, x') = f(x)·f(x')/k and
/// Θ̂(x, x') = (1/k) Σ_o ⟨∂f_o(x)/∂θ, ∂f_o(x')/∂θ⟩ (neural-tangents' `empirical_kernel_fn` with
/// `trace_axes=(-1,)`, the `nngp` and `ntk` of [`EmpiricalKernels`] bit for bit), with the
/// variances Σ̂(x, x) = ‖f(x)‖²/k as `cov1`/`cov2` (they equal the NNGP's diagonal up to the
/// rounding of a different summation order).
///
/// With it a finite network stands wherever the analytic kernel does: kernel regression with
/// [`GpParams::fit_points`](crate::regression::GpParams::fit_points) on Θ̂ is the prediction of this
/// network's linearization trained to convergence from f₀ = 0. Σ̂ is one draw of the GP, of rank
/// ≤ k: an NNGP fit on more than k points needs a ridge.
///
/// Points with a non-finite kernel value (an overflowing activation) are
/// [`Error::NonFiniteOutput`]; a matrix with no rows is [`Error::ShapeMismatch`].
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::finite::FiniteNetwork;
/// use ntk::{Activation, GpInference, Kernel, KernelKind, Network, Regularization};
///
/// let spec = Network::mlp(1, Activation::Gelu).w_std(1.5).b_std(0.1).build()?;
/// let net = FiniteNetwork::builder(&spec, 2).hidden(ntk::HiddenWidths::Uniform(128)).build()?;
/// let x = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, -1.0, 0.5]);
/// let y = DMatrix::from_row_slice(3, 1, &[1.0, -1.0, 0.5]);
/// let gp = GpInference::params()
///     .regularization(Regularization::Relative(1e-6))
///     .fit_points(&net, &x, &y)?;
/// let fit = gp.predict_points(KernelKind::Ntk, &net, &x)?;   // the empirical NTK's posterior
/// assert!((fit.mean - &y).amax() < 1e-4);
/// let d = net.diagonal(&x)?;
/// assert!((d.ntk[1] - net.entry(&[0.0, 1.0], &[0.0, 1.0])?.ntk).abs() < 1e-12 * d.ntk[1]);
/// # Ok::<(), ntk::Error>(())
/// ```
impl Kernel for FiniteNetwork {
    fn entry(&self, x1: &[f64], x2: &[f64]) -> Result<KernelEntry> {
        let k = self.cross(
            &DMatrix::from_row_slice(1, x1.len(), x1),
            &DMatrix::from_row_slice(1, x2.len(), x2),
        )?;
        Ok(KernelEntry {
            nngp: k.nngp[(0, 0)],
            ntk: k.ntk[(0, 0)],
            var1: k.cov1[0],
            var2: k.cov2[0],
        })
    }

    fn cross(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>) -> Result<KernelMatrices> {
        let ta = self.trace(x1, "x1", Par::Global)?;
        let tb = self.trace(x2, "x2", Par::Global)?;
        let k = self.kernels_of(&ta, Some(&tb), false, Par::Global)?;
        Ok(KernelMatrices {
            nngp: k.nngp,
            ntk: k.ntk,
            cov1: self.variances(&ta),
            cov2: self.variances(&tb),
        })
    }

    fn gram(&self, x: &DMatrix<f64>) -> Result<KernelMatrices> {
        let t = self.trace(x, "x", Par::Global)?;
        let k = self.kernels_of(&t, None, false, Par::Global)?;
        let cov = self.variances(&t);
        Ok(KernelMatrices {
            nngp: k.nngp,
            ntk: k.ntk,
            cov1: cov.clone(),
            cov2: cov,
        })
    }

    fn diagonal(&self, x: &DMatrix<f64>) -> Result<KernelDiagonal> {
        self.diagonal_of(&self.trace(x, "x", Par::Global)?)
    }
}

/// ‖row i‖² for every row of `m`.
fn row_squared_norms(m: &DMatrix<f64>) -> DVector<f64> {
    let mut out = DVector::zeros(m.nrows());
    for col in m.column_iter() {
        out.zip_apply(&col, |o, v| *o += v * v);
    }
    out
}

/// out ← alpha·a·bᵀ; `b = None` means b = a (a Gram matrix, computed as a symmetric product).
fn outer(out: &mut DMatrix<f64>, a: &DMatrix<f64>, b: Option<&DMatrix<f64>>, alpha: f64, par: Par) {
    match b {
        Some(b) => gemm(out, a, false, b, true, alpha, par),
        None => gemm_aat(out, a, alpha, par),
    }
}

/// δ = ∂f_o/∂z at the output of every Dense stage (indexed by stage; empty for activations), for all
/// points at once (n × width).
fn backprop_output(
    net: &FiniteNetwork,
    t: &Trace,
    o: usize,
    par: Par,
) -> Result<Vec<DMatrix<f64>>> {
    let n = t.output.nrows();
    let stages = net.stages();
    let mut out = vec![DMatrix::zeros(0, 0); stages.len()];
    let mut g = DMatrix::zeros(n, net.output_dim());
    g.column_mut(o).fill(1.0);
    for (i, stage) in stages.iter().enumerate().rev() {
        match stage {
            Stage::Act(_) => g.component_mul_assign(&t.derivs[i]),
            Stage::Dense(p) => {
                // Below the first Dense layer there are no parameters, so no need to go further.
                let next = if i > 0 {
                    let mut next = zeros(n, p.w.ncols(), "backpropagated vectors")?;
                    gemm(&mut next, &g, false, &p.w, false, p.w_mult, par);
                    Some(next)
                } else {
                    None
                };
                out[i] = match next {
                    Some(next) => std::mem::replace(&mut g, next),
                    None => std::mem::replace(&mut g, DMatrix::zeros(0, 0)),
                };
            }
        }
    }
    Ok(out)
}

/// Running mean and per-entry sample variance of a kernel over independent networks, with the
/// inference on the mean that they support.
///
/// The networks are independent draws, so by the central limit theorem the mean of S of them is
/// approximately normal around the kernel's expectation, with standard error √(s²/S); with the
/// variance s² itself estimated, (mean − E)/SE follows Student's t with S − 1 degrees of freedom
/// when the kernel values are normal, and approximately otherwise. [`z_scores`](Self::z_scores),
/// [`p_values`](Self::p_values) and [`confidence_interval`](Self::confidence_interval) rest on
/// that (quantiles from `statrs`), entry by entry: for many entries at once, correct the level
/// (e.g. Bonferroni).
#[derive(Debug, Clone, PartialEq)]
pub struct KernelStats {
    /// Mean over the samples.
    pub mean: DMatrix<f64>,
    /// Unbiased sample variance of a single network's kernel, per entry (zero with one sample).
    pub variance: DMatrix<f64>,
    /// Number of samples S.
    pub samples: usize,
}

/// A two-sided confidence interval for every entry of a Monte Carlo mean.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfidenceInterval {
    /// The confidence level, in (0, 1).
    pub level: f64,
    /// Lower ends, mean − t·SE.
    pub lower: DMatrix<f64>,
    /// Upper ends, mean + t·SE.
    pub upper: DMatrix<f64>,
}

impl ConfidenceInterval {
    /// Whether every entry of `value` lies in its interval (ends included). Errors if `value` does
    /// not have the intervals' shape or is not finite.
    pub fn contains(&self, value: &DMatrix<f64>) -> Result<bool> {
        check_same_shape(
            value,
            &self.lower,
            "value tested against a confidence interval",
        )?;
        Ok(value
            .iter()
            .zip(self.lower.iter().zip(self.upper.iter()))
            .all(|(v, (lo, hi))| lo <= v && v <= hi))
    }
}

impl KernelStats {
    /// Standard error of the mean per entry, √(variance/S).
    pub fn standard_error(&self) -> DMatrix<f64> {
        self.variance.map(|v| (v / self.samples as f64).sqrt())
    }

    /// z = (mean − reference)/SE per entry: how many standard errors the estimate lies from
    /// `reference` (e.g. the analytic kernel). An entry whose samples were all equal (SE = 0)
    /// has z = 0 if it equals the reference and ±∞ otherwise.
    ///
    /// Errors: fewer than 2 samples (no standard error), or a reference of another shape or with
    /// a non-finite entry.
    pub fn z_scores(&self, reference: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        self.need_variance("z-scores")?;
        check_same_shape(reference, &self.mean, "reference kernel")?;
        let se = self.standard_error();
        Ok(DMatrix::from_fn(
            self.mean.nrows(),
            self.mean.ncols(),
            |i, j| {
                let d = self.mean[(i, j)] - reference[(i, j)];
                if d == 0.0 { 0.0 } else { d / se[(i, j)] }
            },
        ))
    }

    /// Two-sided p-values per entry of the hypothesis that the kernel's expectation equals
    /// `reference`: P(|T| ≥ |z|) for T ~ Student's t with S − 1 degrees of freedom. Errors as for
    /// [`z_scores`](Self::z_scores).
    pub fn p_values(&self, reference: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let t = self.students_t()?;
        // The survival function keeps its precision far out in the tail, where 1 − cdf is 0.
        Ok(self.z_scores(reference)?.map(|z| 2.0 * t.sf(z.abs())))
    }

    /// The two-sided confidence interval mean ± t·SE at `level` (e.g. 0.95) per entry, with t the
    /// (1 + level)/2 quantile of Student's t with S − 1 degrees of freedom.
    ///
    /// Errors: a level outside (0, 1), or fewer than 2 samples.
    pub fn confidence_interval(&self, level: f64) -> Result<ConfidenceInterval> {
        check_finite_param("level", level)?;
        if !(level > 0.0 && level < 1.0) {
            return Err(invalid(
                "level",
                level,
                "a confidence level must lie strictly between 0 and 1 (e.g. 0.95)",
            ));
        }
        let t = self.students_t()?.inverse_cdf(0.5 + 0.5 * level);
        let half = self.standard_error() * t;
        Ok(ConfidenceInterval {
            level,
            lower: &self.mean - &half,
            upper: &self.mean + &half,
        })
    }

    /// Student's t with S − 1 degrees of freedom.
    fn students_t(&self) -> Result<StudentsT> {
        self.need_variance("Student's t")?;
        StudentsT::new(0.0, 1.0, (self.samples - 1) as f64)
            .map_err(|e| invalid("samples", self.samples, &e.to_string()))
    }

    fn need_variance(&self, what: &str) -> Result<()> {
        if self.samples < 2 {
            return Err(invalid(
                "samples",
                self.samples,
                &format!("{what} need a standard error, so an estimate over at least 2 networks"),
            ));
        }
        Ok(())
    }

    fn new(shape: (usize, usize)) -> KernelStats {
        KernelStats {
            mean: DMatrix::zeros(shape.0, shape.1),
            variance: DMatrix::zeros(shape.0, shape.1),
            samples: 0,
        }
    }

    /// Welford's update (here `variance` holds the sum of squared deviations until `finish`).
    fn push(&mut self, x: &DMatrix<f64>) {
        self.samples += 1;
        let s = self.samples as f64;
        for ((m, m2), &v) in self
            .mean
            .iter_mut()
            .zip(self.variance.iter_mut())
            .zip(x.iter())
        {
            let d = v - *m;
            *m += d / s;
            *m2 += d * (v - *m);
        }
    }

    fn finished(&self) -> KernelStats {
        let denom = (self.samples.max(2) - 1) as f64;
        KernelStats {
            mean: self.mean.clone(),
            variance: self.variance.map(|v| v / denom),
            samples: self.samples,
        }
    }
}

/// `m` must have the shape of `like` and finite entries.
fn check_same_shape(m: &DMatrix<f64>, like: &DMatrix<f64>, what: &str) -> Result<()> {
    if m.shape() != like.shape() {
        return Err(Error::ShapeMismatch {
            what: what.into(),
            expected: format!("{} × {}", like.nrows(), like.ncols()),
            found: format!("{} × {}", m.nrows(), m.ncols()),
        });
    }
    check_finite_matrix(m, what)
}

/// Monte Carlo estimate of the kernels after a number of networks.
#[derive(Debug, Clone, PartialEq)]
pub struct MonteCarloEstimate {
    /// Number of networks averaged.
    pub samples: usize,
    /// Statistics of f(x)·f(x')/k.
    pub nngp: KernelStats,
    /// Statistics of the readout-integrated NNGP (`None` if the network does not end with Dense).
    pub nngp_readout: Option<KernelStats>,
    /// Statistics of the empirical NTK.
    pub ntk: KernelStats,
}

/// Monte Carlo estimator of the NNGP and NTK: the mean of the empirical kernels of many independent
/// finite networks (neural-tangents' `monte_carlo_kernel_fn`), computed in parallel with rayon.
///
/// The networks are those of one [`FiniteNetworkBuilder`]: network `s` (s = 0, 1, …) is drawn
/// from ChaCha8 stream `s` of its seed, so network 0 is the builder's own network and the
/// estimates are reproducible whatever the number of threads (samples are accumulated in order).
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::finite::{FiniteNetwork, MonteCarlo};
/// use ntk::{Activation, Kernel, Network};
/// let erf = Activation::Erf { a: 1.0, b: 1.0, c: 0.0 };
/// let spec = Network::mlp(1, erf).w_std(1.5).b_std(0.1).width(256).build()?;
/// let x = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.6, 0.8]);
/// let mc = MonteCarlo::new(&FiniteNetwork::builder(&spec, 2).seed(42))?;
/// let est = mc.estimate(&x, None, &[8, 32])?;          // running means after 8 and 32 networks
/// let exact = spec.gram(&x)?.ntk;
/// let z = est[1].ntk.z_scores(&exact)?;               // one hidden layer: no bias, t-distributed
/// assert!(z.amax() < 6.0);
/// let ci = est[1].ntk.confidence_interval(0.999)?;
/// assert!(ci.lower[(0, 1)] < ci.upper[(0, 1)]);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MonteCarlo {
    networks: FiniteNetworkBuilder,
}

impl MonteCarlo {
    /// An estimator over the networks that `networks` describes, their parameters checked once.
    pub fn new(networks: &FiniteNetworkBuilder) -> Result<MonteCarlo> {
        networks.check()?;
        Ok(MonteCarlo {
            networks: networks.clone(),
        })
    }

    /// Network number `sample` of the estimator.
    pub fn network(&self, sample: u64) -> Result<FiniteNetwork> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.networks.seed);
        rng.set_stream(sample);
        self.networks.sample(&mut rng)
    }

    /// Running estimates after each number of networks in `counts` (strictly increasing, ≥ 1),
    /// between the rows of `x1` and those of `x2` (`None`: `x1` with itself), both with the
    /// builder's input dimension.
    pub fn estimate(
        &self,
        x1: &DMatrix<f64>,
        x2: Option<&DMatrix<f64>>,
        counts: &[usize],
    ) -> Result<Vec<MonteCarloEstimate>> {
        if counts.is_empty() || counts[0] == 0 || counts.windows(2).any(|w| w[1] <= w[0]) {
            return Err(invalid(
                "counts",
                format!("{counts:?}"),
                "sample counts must be a non-empty, strictly increasing list of numbers ≥ 1",
            ));
        }
        let d = self.networks.input_dim;
        check_inputs(x1, d, "x1")?;
        if let Some(x2) = x2 {
            check_inputs(x2, d, "x2")?;
        }
        let shape = (x1.nrows(), x2.map_or(x1.nrows(), |x| x.nrows()));
        let (mut nngp, mut ntk) = (KernelStats::new(shape), KernelStats::new(shape));
        let mut readout: Option<KernelStats> = None;
        let chunk = 4 * rayon::current_num_threads();
        let mut out = Vec::with_capacity(counts.len());
        let mut done = 0usize;
        for &target in counts {
            while done < target {
                let end = (done + chunk).min(target);
                let batch: Vec<Result<EmpiricalKernels>> = (done..end)
                    .into_par_iter()
                    .map(|s| self.network(s as u64)?.kernels_par(x1, x2, Par::Seq))
                    .collect();
                for k in batch {
                    let k = k?;
                    nngp.push(&k.nngp);
                    ntk.push(&k.ntk);
                    if let Some(r) = &k.nngp_readout {
                        readout
                            .get_or_insert_with(|| KernelStats::new(shape))
                            .push(r);
                    }
                }
                done = end;
            }
            out.push(MonteCarloEstimate {
                samples: target,
                nngp: nngp.finished(),
                nngp_readout: readout.as_ref().map(KernelStats::finished),
                ntk: ntk.finished(),
            });
        }
        Ok(out)
    }
}
