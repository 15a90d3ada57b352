//! Empirical kernels of one finite network, and Monte Carlo averages over many.

use super::{FiniteNetwork, HiddenWidths, Stage, Trace, check_output, zeros};
use crate::Result;
use crate::error::invalid;
use crate::linalg::{Par, gemm, gemm_aat};
use crate::network::Network;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

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
    /// Empirical kernels between the rows of `x` and themselves (symmetric n × n).
    pub fn gram(&self, x: &DMatrix<f64>) -> Result<EmpiricalKernels> {
        self.kernels(x, None, Par::Global)
    }

    /// Empirical kernels between the rows of `x1` and the rows of `x2` (n1 × n2).
    pub fn cross(&self, x1: &DMatrix<f64>, x2: &DMatrix<f64>) -> Result<EmpiricalKernels> {
        self.kernels(x1, Some(x2), Par::Global)
    }

    pub(crate) fn kernels(
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
        let na = ta.output.nrows();
        let nb = tb.as_ref().map_or(na, |t| t.output.nrows());
        let k = self.output_dim();
        let mut nngp = zeros(na, nb, "the empirical NNGP")?;
        outer(
            &mut nngp,
            &ta.output,
            tb.as_ref().map(|t| &t.output),
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
                        tb.as_ref().map(|t| &t.inputs[i]),
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
            Some(Stage::Dense(p)) => {
                let last = self.stages().len() - 1;
                let mut c = zeros(na, nb, "the readout-integrated NNGP")?;
                let (w_var, b_var) = p.out_var;
                outer(
                    &mut c,
                    &ta.inputs[last],
                    tb.as_ref().map(|t| &t.inputs[last]),
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
            let ga = backprop_output(self, &ta, o, par)?;
            let gb = match &tb {
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

/// Running mean and per-entry sample variance of a kernel over independent networks.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelStats {
    /// Mean over the samples.
    pub mean: DMatrix<f64>,
    /// Unbiased sample variance of a single network's kernel, per entry (zero with one sample).
    pub variance: DMatrix<f64>,
    /// Number of samples S.
    pub samples: usize,
}

impl KernelStats {
    /// Standard error of the mean per entry, √(variance/S).
    pub fn standard_error(&self) -> DMatrix<f64> {
        self.variance.map(|v| (v / self.samples as f64).sqrt())
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
/// Network `s` (s = 0, 1, …) is drawn from ChaCha8 stream `s` of the seed, so network 0 is
/// `FiniteNetwork::new(…, seed)` and the estimates are reproducible whatever the number of threads
/// (samples are accumulated in order).
///
/// ```
/// use nalgebra::DMatrix;
/// use ntk::finite::{HiddenWidths, MonteCarlo};
/// use ntk::{Activation, Kernel, Network};
/// let erf = Activation::Erf { a: 1.0, b: 1.0, c: 0.0 };
/// let spec = Network::mlp(1, erf).w_std(1.5).b_std(0.1).width(256).build()?;
/// let x = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.6, 0.8]);
/// let mc = MonteCarlo::new(&spec, HiddenWidths::FromSpec, 1, 42)?;
/// let est = mc.estimate(&x, None, &[8, 32])?;          // running means after 8 and 32 networks
/// let exact = spec.gram(&x)?.ntk;
/// let z = (&est[1].ntk.mean - &exact).component_div(&est[1].ntk.standard_error());
/// assert!(z.amax() < 6.0);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MonteCarlo {
    spec: Network,
    hidden: HiddenWidths,
    output_dim: usize,
    seed: u64,
}

impl MonteCarlo {
    /// An estimator for networks drawn from `spec` with the given hidden widths and `output_dim`
    /// outputs.
    pub fn new(
        spec: &Network,
        hidden: HiddenWidths,
        output_dim: usize,
        seed: u64,
    ) -> Result<MonteCarlo> {
        // Validates the widths once, with a dummy input dimension (they do not depend on it).
        super::resolve_widths(spec, 1, &hidden, output_dim)?;
        Ok(MonteCarlo {
            spec: spec.clone(),
            hidden,
            output_dim,
            seed,
        })
    }

    /// Network number `sample` of the estimator, for inputs of dimension `input_dim`.
    pub fn network(&self, input_dim: usize, sample: u64) -> Result<FiniteNetwork> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(sample);
        FiniteNetwork::with_rng(
            &self.spec,
            input_dim,
            &self.hidden,
            self.output_dim,
            &mut rng,
        )
    }

    /// Running estimates after each number of networks in `counts` (strictly increasing, ≥ 1),
    /// between the rows of `x1` and those of `x2` (`None`: `x1` with itself).
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
        let d = x1.ncols();
        super::check_inputs(x1, d, "x1")?;
        if let Some(x2) = x2 {
            super::check_inputs(x2, d, "x2")?;
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
                    .map(|s| self.network(d, s as u64)?.kernels(x1, x2, Par::Seq))
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
