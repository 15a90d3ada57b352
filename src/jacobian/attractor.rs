//! Iterating a trained map: fixed points, attractors, and basins of attraction (associative memory).
//!
//! A trained autoencoder f stores a training point x as an attractor when f(x) = x and every
//! eigenvalue of J(x) has modulus < 1 (Jiang & Pehlevan 2020, Prop. 1); a noisy copy of x then
//! returns to x under iteration x ← f(x). The criteria follow the papers: the paper's §5.1 counts a
//! recovery when the iterate's mean squared error to the original is below 10⁻² within 50
//! iterations; the thesis (Radhakrishnan 2023, ch. 2) stops when a step ‖f(x) − x‖ is below 10⁻⁸.

use crate::Result;
use crate::error::{Error, invalid};
use crate::jacobian::map::TrainedMap;
use crate::jacobian::spectrum::Spectrum;
use nalgebra::DVector;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// The attractor test at one point.
#[derive(Debug, Clone, PartialEq)]
pub struct AttractorTest {
    /// ‖f(x) − x‖₂.
    pub fixed_point_error: f64,
    /// The spectrum of J(x).
    pub spectrum: Spectrum,
    /// Whether x is an attractor: fixed to the tolerance and spectral radius < 1.
    pub is_attractor: bool,
}

/// When to stop iterating x ← f(x).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterationCriteria {
    /// At most this many applications of f (the paper: 50).
    pub max_iter: usize,
    /// Stop when ‖f(x) − x‖₂ < this (the thesis: 1e-8).
    pub step_tol: f64,
}

impl Default for IterationCriteria {
    fn default() -> Self {
        IterationCriteria {
            max_iter: 50,
            step_tol: 1e-8,
        }
    }
}

/// Where iterating the map from a starting point ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Orbit {
    /// The last iterate fᵏ(x₀).
    pub end: DVector<f64>,
    /// The number k of applications of f.
    pub iterations: usize,
    /// Whether the last step was below `step_tol`.
    pub converged: bool,
    /// The last step ‖fᵏ(x₀) − fᵏ⁻¹(x₀)‖₂.
    pub last_step: f64,
}

/// The share of noisy copies that iteration brought back to their training point, at one noise
/// radius.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recovery {
    /// The noise standard deviation σ per coordinate.
    pub noise: f64,
    /// Recovered copies / trials.
    pub rate: f64,
    /// The number of trials (training points × copies).
    pub trials: usize,
}

/// The parameters of [`TrainedMap::recovery_rates`], after the paper's §5.4: `copies` noisy copies
/// of each training point (default 10), iterated with `criteria` (default
/// [`IterationCriteria::default`]: 50 iterations, step tolerance 1e-8), recovered when the mean
/// squared error to the original is below `mse_tol` (default 10⁻², the paper's), with noise drawn
/// from `seed` (default 0). Checked once, before any iteration.
///
/// ```
/// use ntk::jacobian::RecoveryParams;
/// let params = RecoveryParams::default().copies(4).seed(7);
/// assert!(params.check().is_ok());
/// assert!(RecoveryParams::default().copies(0).check().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[must_use = "pass the parameters to `TrainedMap::recovery_rates`"]
pub struct RecoveryParams {
    copies: usize,
    criteria: IterationCriteria,
    mse_tol: f64,
    seed: u64,
}

impl Default for RecoveryParams {
    fn default() -> Self {
        RecoveryParams {
            copies: 10,
            criteria: IterationCriteria::default(),
            mse_tol: 1e-2,
            seed: 0,
        }
    }
}

impl RecoveryParams {
    /// Noisy copies per training point, ≥ 1 (default 10).
    pub fn copies(mut self, copies: usize) -> Self {
        self.copies = copies;
        self
    }

    /// When to stop iterating (default [`IterationCriteria::default`]).
    pub fn criteria(mut self, criteria: IterationCriteria) -> Self {
        self.criteria = criteria;
        self
    }

    /// The mean squared error below which a copy counts as recovered, > 0 (default 10⁻²).
    pub fn mse_tol(mut self, mse_tol: f64) -> Self {
        self.mse_tol = mse_tol;
        self
    }

    /// The seed of the noise (default 0): the same seed gives the same noise.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Fails with [`Error::InvalidParameter`] if a parameter is outside its domain.
    pub fn check(&self) -> Result<()> {
        check_criteria(self.criteria)?;
        if self.copies == 0 {
            return Err(invalid(
                "copies",
                self.copies,
                "need at least one noisy copy",
            ));
        }
        if self.mse_tol.is_nan() || self.mse_tol <= 0.0 {
            return Err(invalid("mse_tol", self.mse_tol, "must be positive"));
        }
        Ok(())
    }
}

impl TrainedMap {
    /// The attractor test at `x`: the fixed-point error ‖f(x) − x‖₂ ≤ `tol` and the spectral
    /// radius of J(x) below 1. Needs a map from ℝᵈ to itself (an autoencoder).
    pub fn attractor_test(&self, x: &[f64], tol: f64) -> Result<AttractorTest> {
        self.check_square()?;
        let fx = self.eval(x)?;
        let fixed_point_error = fx
            .iter()
            .zip(x)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        let spectrum = self.jacobian_spectrum(x)?;
        let is_attractor = fixed_point_error <= tol && spectrum.spectral_radius() < 1.0;
        Ok(AttractorTest {
            fixed_point_error,
            spectrum,
            is_attractor,
        })
    }

    /// Iterates x ← f(x) from `x0` until a step is below `criteria.step_tol` or
    /// `criteria.max_iter` applications.
    pub fn iterate(&self, x0: &[f64], criteria: IterationCriteria) -> Result<Orbit> {
        self.check_square()?;
        check_criteria(criteria)?;
        let mut x = DVector::from_column_slice(x0);
        let mut last_step = f64::INFINITY;
        for k in 1..=criteria.max_iter {
            let fx = self.eval(x.as_slice())?;
            last_step = (&fx - &x).norm();
            x = fx;
            if !last_step.is_finite() {
                return Err(Error::Overflow {
                    layer: 0,
                    activation: "iterated map".into(),
                    value: last_step,
                });
            }
            if last_step < criteria.step_tol {
                return Ok(Orbit {
                    end: x,
                    iterations: k,
                    converged: true,
                    last_step,
                });
            }
        }
        Ok(Orbit {
            end: x,
            iterations: criteria.max_iter,
            converged: false,
            last_step,
        })
    }

    /// Basin of attraction as in the paper's §5.4 / Fig. 4: for each noise radius σ, `copies`
    /// noisy copies xᵢ + σ·z (z ~ N(0, I)) of every training point are iterated (criteria as in
    /// [`TrainedMap::iterate`]; copy c of point i uses the same z at every radius) and count as
    /// recovered when the mean squared error (1/d)‖fᵏ(x) − xᵢ‖² of the end point is below
    /// `mse_tol`; see [`RecoveryParams`]. Seeded: the same seed gives the same noise.
    pub fn recovery_rates(&self, noise: &[f64], params: &RecoveryParams) -> Result<Vec<Recovery>> {
        self.check_square()?;
        params.check()?;
        let RecoveryParams {
            copies,
            criteria,
            mse_tol,
            seed,
        } = *params;
        if let Some(s) = noise.iter().find(|s| !(**s >= 0.0 && s.is_finite())) {
            return Err(invalid("noise", s, "noise radii must be finite and ≥ 0"));
        }
        let (n, d) = self.x_train().shape();
        noise
            .iter()
            .map(|&sigma| {
                let jobs: Vec<(usize, usize)> = (0..n)
                    .flat_map(|i| (0..copies).map(move |c| (i, c)))
                    .collect();
                let hits: Result<Vec<bool>> = jobs
                    .par_iter()
                    .map(|&(i, c)| {
                        // One stream per (point, copy), the same at every radius (common random
                        // numbers: the curve over radii is not blurred by resampling the
                        // directions), and independent of threads and of the list of radii.
                        let stream = (i * copies + c) as u64;
                        let mut rng = ChaCha8Rng::seed_from_u64(seed);
                        rng.set_stream(stream);
                        let target: Vec<f64> = self.x_train().row(i).iter().copied().collect();
                        let x0: Vec<f64> = target
                            .iter()
                            .map(|v| {
                                let z: f64 = StandardNormal.sample(&mut rng);
                                v + sigma * z
                            })
                            .collect();
                        let orbit = self.iterate(&x0, criteria)?;
                        let mse = orbit
                            .end
                            .iter()
                            .zip(&target)
                            .map(|(a, b)| (a - b) * (a - b))
                            .sum::<f64>()
                            / d as f64;
                        Ok(mse < mse_tol)
                    })
                    .collect();
                let hits = hits?;
                let rate = hits.iter().filter(|h| **h).count() as f64 / hits.len() as f64;
                Ok(Recovery {
                    noise: sigma,
                    rate,
                    trials: hits.len(),
                })
            })
            .collect()
    }

    /// The end point fᵏ(x₀) of `steps` iterations and the Jacobian of the k-fold map there by the
    /// chain rule along the orbit: J(fᵏ)(x₀) = J(xₖ₋₁)···J(x₁)J(x₀) with xⱼ₊₁ = f(xⱼ). For a sequence
    /// encoder ([`MapParams::sequence`](crate::jacobian::MapParams::sequence)) started at x₀ of a
    /// sequence of length k, the orbit is the cycle x₀ → x₁ → … → x₀ and the cycle is stable when
    /// the spectral radius of this product is below 1 (Radhakrishnan 2023, thesis ch. 2, Prop. 2).
    pub fn orbit_jacobian(
        &self,
        x0: &[f64],
        steps: usize,
    ) -> Result<(DVector<f64>, nalgebra::DMatrix<f64>)> {
        self.check_square()?;
        let d = self.input_dim();
        let mut x = DVector::from_column_slice(x0);
        let mut j = nalgebra::DMatrix::identity(d, d);
        for _ in 0..steps {
            j = self.jacobian(x.as_slice())? * j;
            x = self.eval(x.as_slice())?;
        }
        Ok((x, j))
    }

    fn check_square(&self) -> Result<()> {
        if self.input_dim() == self.output_dim() {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                what: "map to iterate (output dimension must equal input dimension)".into(),
                expected: format!("{} outputs", self.input_dim()),
                found: format!("{} outputs", self.output_dim()),
            })
        }
    }
}

fn check_criteria(c: IterationCriteria) -> Result<()> {
    if c.max_iter == 0 {
        return Err(invalid("max_iter", 0, "need at least one iteration"));
    }
    if c.step_tol.is_nan() || c.step_tol < 0.0 {
        return Err(invalid("step_tol", c.step_tol, "must be ≥ 0"));
    }
    Ok(())
}
