//! Matrix completion with the convolutional NTK (Radhakrishnan 2023, Ch. 3.4: Prop. 3, Thm 6,
//! App. I–J).
//!
//! A convolutional network f_Z(W) maps a fixed prior image Z (H × W × C) to an image and is trained
//! on the observed pixels. In the infinite-width limit each observed pixel M_ij is a training
//! example with (Prop. 3, eq. 3.4)
//!
//! K(M_ij, M_i′j′) = \[Θ⁽ᵈ⁾(Z, Z)\]_{i,j,i′,j′},
//!
//! the per-output-pixel NTK of Z with itself ([`PixelNetwork::pixel_kernels`]). The kernel depends
//! only on the prior, not on the image, so one kernel serves every image of a size. Completion is
//! kernel regression over the observed pixels by pseudo-inverse, one regression per image channel,
//! with the solver of [`MatrixCompletion`](super::MatrixCompletion).
//!
//! **Thm 6 (App. J).** With circular padding, odd q × q filters, a 1-homogeneous activation and a
//! stationary prior — ψ(p, p′) = Σ_ℓ Σ_{−α ≤ a, b ≤ α} Z_{ℓ, p+(a,b)} Z_{ℓ, p′+(a,b)} depends only on
//! p − p′, with α = (q − 1)/2 (App. I prints ±(q + 1)/2, a typo) — every convolution maps a
//! stationary state to itself, so each pixel pair follows the fully connected recursion:
//!
//! ψ̃ = ψ₀₀·κ_d(ψ/ψ₀₀),  κ_d = φ̌⁽ᵈ⁾ + κ_{d−1}·φ̌′(φ̌⁽ᵈ⁻¹⁾),  κ₀(ξ) = ξ,
//!
//! with d hidden layers and φ̌ normalized to E\[φ²\] = 1 ([`SphereDual`]); q enters only through ψ.
//! [`stationary_cntk`] evaluates it, [`window_gram`] computes ψ.
//!
//! ```
//! use nalgebra::DMatrix;
//! use ntk::Activation;
//! use ntk::completion::cntk::CntkCompletion;
//! use ntk::kernel::pixels::PixelNetwork;
//! use ntk::network::{Conv, Layer, Padding, Parameterization};
//! // A 4 × 4 image from a 4 × 4 × 3 prior through conv → ReLU → conv (circular, 3 × 3).
//! let conv = |w: f64| Layer::from(Conv::new(&[3, 3], w).padding(Padding::Circular));
//! let layers = vec![conv(1.0), Activation::Relu.into(), conv(2f64.sqrt())];
//! let net = PixelNetwork::new(&layers, &[4, 4, 3], Parameterization::Ntk)?;
//! let prior: Vec<f64> = (0..48).map(|k| ((k * 37 % 11) as f64) / 10.0).collect();
//! // One channel, pixels row-major; every other pixel missing.
//! let y = DMatrix::from_fn(1, 16, |_, p| (p % 2 == 0).then(|| p as f64 / 16.0));
//! let c = CntkCompletion::new(net).complete(&prior, &y)?;
//! assert_eq!(c[(0, 2)], 2.0 / 16.0); // observed pixels are kept
//! assert!(c[(0, 1)].is_finite());
//! # Ok::<(), ntk::Error>(())
//! ```

use super::complete_with_kernel;
use crate::activation::Activation;
use crate::error::invalid;
use crate::infinite_depth::SphereDual;
use crate::kernel::pixels::PixelNetwork;
use crate::linalg::{check_finite_matrix, check_finite_param, check_finite_slice};
use crate::{Error, Result};
use nalgebra::DMatrix;

/// Image completion with the CNTK of a [`PixelNetwork`]: see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct CntkCompletion {
    net: PixelNetwork,
    ridge: f64,
}

impl CntkCompletion {
    /// Completion with the NTK of `net` (a network from the prior to an image), ridgeless.
    pub fn new(net: PixelNetwork) -> Self {
        Self { net, ridge: 0.0 }
    }

    /// Adds λ to the diagonal of the observed-pixel kernel (default 0: the ridgeless limit of
    /// gradient descent from zero). Fails unless λ is finite and ≥ 0.
    pub fn ridge(mut self, lambda: f64) -> Result<Self> {
        check_finite_param("ridge", lambda)?;
        if lambda < 0.0 {
            return Err(invalid("ridge", lambda, "must be ≥ 0"));
        }
        self.ridge = lambda;
        Ok(self)
    }

    /// The network.
    pub fn network(&self) -> &PixelNetwork {
        &self.net
    }

    /// The pixel kernel K(M_p, M_p′) = Θ(Z, Z)_{p,p′} (P × P, output pixels row-major) of the prior
    /// `prior` (a flattened channels-last image of the network's input shape).
    pub fn kernel(&self, prior: &[f64]) -> Result<DMatrix<f64>> {
        Ok(self.net.pixel_kernels(prior)?.ntk)
    }

    /// Completes Y (channels × P: one row per image channel, one column per output pixel,
    /// row-major; `None` where missing) with the prior's kernel. Observed pixels are returned as
    /// given.
    ///
    /// Errors: as [`CntkCompletion::kernel`] and [`CntkCompletion::complete_with_kernel`].
    pub fn complete(&self, prior: &[f64], observed: &DMatrix<Option<f64>>) -> Result<DMatrix<f64>> {
        self.check_observed(observed)?;
        let k = self.kernel(prior)?;
        self.complete_with_kernel(&k, observed)
    }

    /// Completes Y (channels × P) with a kernel computed once by [`CntkCompletion::kernel`] (it
    /// depends only on the prior, so one kernel serves every image). Each row of Y is a kernel
    /// regression on its observed pixels S: ŷ_p = K(p, S)·(K_S + λI)⁺·y_S.
    ///
    /// Errors: [`Error::ShapeMismatch`] for a kernel or Y of the wrong size, [`Error::NonFinite`]
    /// for a NaN or infinite entry, [`Error::InvalidParameter`] for a channel with no observed
    /// pixel.
    pub fn complete_with_kernel(
        &self,
        kernel: &DMatrix<f64>,
        observed: &DMatrix<Option<f64>>,
    ) -> Result<DMatrix<f64>> {
        self.check_observed(observed)?;
        let p = self.net.output_pixels();
        if kernel.shape() != (p, p) {
            return Err(Error::ShapeMismatch {
                what: "pixel kernel".into(),
                expected: format!("{p} × {p} (the network's output pixels)"),
                found: format!("{} × {}", kernel.nrows(), kernel.ncols()),
            });
        }
        check_finite_matrix(kernel, "pixel kernel")?;
        complete_with_kernel(kernel, observed, self.ridge)
    }

    fn check_observed(&self, observed: &DMatrix<Option<f64>>) -> Result<()> {
        let p = self.net.output_pixels();
        if observed.ncols() != p || observed.nrows() == 0 {
            return Err(Error::ShapeMismatch {
                what: "observed image Y (one row per channel, one column per output pixel)".into(),
                expected: format!(
                    "≥ 1 row × {p} columns (the output is {:?})",
                    self.net.output_shape()
                ),
                found: format!("{} × {}", observed.nrows(), observed.ncols()),
            });
        }
        Ok(())
    }
}

/// The window Gram matrix of App. I / Thm 6 on a 2-D prior (H × W × C, flattened channels-last):
/// ψ(p, p′) = Σ_ℓ Σ_{−α ≤ a, b ≤ α} Z_{ℓ, p+(a,b)} Z_{ℓ, p′+(a,b)} with α = (q − 1)/2 and circular
/// wrap-around, P × P over pixels row-major. Fails for an even or zero `q`, a shape that is not
/// \[H, W, C\] or does not match the prior, or a non-finite entry.
pub fn window_gram(prior: &[f64], shape: &[usize], q: usize) -> Result<DMatrix<f64>> {
    let [h, w, c] = *shape else {
        return Err(invalid("shape", format!("{shape:?}"), "give [H, W, C]"));
    };
    if q % 2 == 0 {
        return Err(invalid(
            "q",
            q,
            "Thm 6 needs an odd filter size (a centred window of ±(q − 1)/2)",
        ));
    }
    if h * w * c != prior.len() || h * w == 0 || c == 0 {
        return Err(Error::ShapeMismatch {
            what: "prior Z".into(),
            expected: format!("{} values for [{h}, {w}, {c}] (none zero)", h * w * c),
            found: format!("{} values", prior.len()),
        });
    }
    check_finite_slice(prior, "prior Z")?;
    let p = h * w;
    let gram = DMatrix::from_fn(p, p, |a, b| {
        let (za, zb) = (&prior[a * c..(a + 1) * c], &prior[b * c..(b + 1) * c]);
        za.iter().zip(zb).map(|(u, v)| u * v).sum::<f64>()
    });
    let alpha = (q / 2) as isize;
    let wrap = |i: usize, d: isize, n: usize| (i as isize + d).rem_euclid(n as isize) as usize;
    Ok(DMatrix::from_fn(p, p, |a, b| {
        let (i, j, i2, j2) = (a / w, a % w, b / w, b % w);
        let mut s = 0.0;
        for da in -alpha..=alpha {
            for db in -alpha..=alpha {
                let u = wrap(i, da, h) * w + wrap(j, db, w);
                let v = wrap(i2, da, h) * w + wrap(j2, db, w);
                s += gram[(u, v)];
            }
        }
        s
    }))
}

/// Thm 6's closed form ψ̃ = ψ₀₀·κ_d(ψ/ψ₀₀) entry by entry, for a stationary ψ (P × P, e.g. from
/// [`window_gram`]) and `depth` hidden layers of `activation` normalized to E\[φ²\] = 1. It is the
/// CNTK of circular convolutions with odd filters, σ_w² = 1/E\[φ²\] after each activation, no bias,
/// in the thesis's scaling (the crate's [`PixelNetwork`] kernel times C·q²).
///
/// Fails unless ψ is square with a constant positive diagonal ψ₀₀ (relative tolerance 1e-12) and
/// |ψ| ≤ ψ₀₀, or for an activation without a normalized dual.
pub fn stationary_cntk(
    activation: &Activation,
    depth: usize,
    psi: &DMatrix<f64>,
) -> Result<DMatrix<f64>> {
    check_finite_matrix(psi, "ψ")?;
    let p = psi.nrows();
    if psi.ncols() != p || p == 0 {
        return Err(Error::ShapeMismatch {
            what: "ψ".into(),
            expected: "a non-empty square matrix".into(),
            found: format!("{} × {}", psi.nrows(), psi.ncols()),
        });
    }
    let psi00 = psi[(0, 0)];
    let stationary = psi00 > 0.0
        && (0..p).all(|k| (psi[(k, k)] - psi00).abs() <= 1e-12 * psi00)
        && psi.iter().all(|v| v.abs() <= psi00 * (1.0 + 1e-12));
    if !stationary {
        return Err(invalid(
            "ψ",
            format!("ψ₀₀ = {psi00}"),
            "Thm 6 needs a stationary prior: a constant positive diagonal ψ₀₀ with |ψ| ≤ ψ₀₀; \
             for other priors compute the kernel directly (PixelNetwork::pixel_kernels)",
        ));
    }
    let dual = SphereDual::new(activation)?;
    let mut out = DMatrix::zeros(p, p);
    for a in 0..p {
        for b in 0..p {
            // Rounding can leave |ψ/ψ₀₀| a few ulps above 1; the check above bounds it.
            let rho = (psi[(a, b)] / psi00).clamp(-1.0, 1.0);
            out[(a, b)] = psi00 * dual.kernels(depth, rho)?.1;
        }
    }
    Ok(out)
}
