//! The normalized dual on the unit sphere and the no-bias layer recursion built on it.

use crate::activation::{AbReluDual, Activation, DEFAULT_NODES, Dual, DualActivation};
use crate::error::invalid;
use crate::{Error, Result};

/// The dual of an activation on the unit sphere, normalized so that E\[φ(z)²\] = 1 for z ~ N(0, 1):
/// φ̌(ρ) = κ(ρ)/κ(1) and φ̌′(ρ) = κ′(ρ)/κ(1), with (κ, κ′) = (T, Ṫ)(ρ; 1, 1) the crate's dual
/// ([`DualActivation::normalized`]). Since φ̌(1) = 1, a network without bias whose inputs have unit
/// norm keeps unit variance at every layer, and its kernels depend on the inputs only through
/// z = xᵀx̃ (Radhakrishnan 2023, eq. 4.5 and App. C.A).
///
/// [`SphereDual::kernels`] runs the recursion (eq. 4.5, with the base φ̌⁽⁰⁾(z) = z of App. C.2)
///
/// φ̌⁽ᴸ⁾ = φ̌ ∘ φ̌⁽ᴸ⁻¹⁾,  K⁽⁰⁾(z) = z,  K⁽ᴸ⁾(z) = φ̌⁽ᴸ⁾(z) + K⁽ᴸ⁻¹⁾(z)·φ̌′(φ̌⁽ᴸ⁻¹⁾(z)),
///
/// which is also the matrix-completion kernel κ_L of Thm 5 (App. A, L hidden layers).
///
/// The piecewise-linear activations (ReLU, leaky ReLU, |x|, a·min(x, 0) + b·max(x, 0)) iterate the
/// angle θ = arccos ρ instead of ρ, through 1 − cos θ′ = [(m − Fθ)(1 − cos θ) + F(θ − sin θ)]/m
/// (m = (a² + b²)/2, F = (a − b)²/(2π)), with θ − sin θ by its series at small θ: near ρ = 1, where
/// deep ReLU networks converge like 1/L², iterating ρ itself loses the digits of 1 − ρ and the
/// ratio K⁽ᴸ⁾/(L + 1) drifts by 1e-3 at L = 10⁵.
///
/// ```
/// use ntk::Activation;
/// use ntk::infinite_depth::SphereDual;
/// let relu = SphereDual::new(&Activation::Relu)?;
/// // One hidden layer: κ(1) = 2 and κ(0) = 1/π.
/// let (_, k1) = relu.kernels(1, 1.0)?;
/// let (_, k0) = relu.kernels(1, 0.0)?;
/// assert!((k1 - 2.0).abs() < 1e-15 && (k0 - 1.0 / std::f64::consts::PI).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SphereDual {
    dual: Dual,
    /// κ(1) = E\[φ²\].
    second_moment: f64,
    /// (m, F) of the piecewise-linear family, iterated in the angle.
    piecewise: Option<(f64, f64)>,
    activation: Activation,
}

impl SphereDual {
    /// The normalized dual of `activation`, with the crate's default quadrature rule
    /// ([`DEFAULT_NODES`]) for the activations computed by quadrature.
    ///
    /// Fails with [`Error::InvalidParameter`] when E\[φ²\] is 0 or not finite (no normalization), and
    /// for sign and the step x⁰·1[x ≥ 0], whose derivative is a Dirac delta: E\[φ′²\] is infinite,
    /// so neither the NTK recursion nor B′ exists.
    pub fn new(activation: &Activation) -> Result<Self> {
        Self::with_nodes(activation, DEFAULT_NODES)
    }

    /// [`SphereDual::new`] with `nodes` quadrature nodes per dimension for the named quadrature
    /// activations.
    pub fn with_nodes(activation: &Activation, nodes: usize) -> Result<Self> {
        let dual = activation.dual_with_nodes(nodes)?;
        let name = activation.name();
        if !dual.dot_is_derivative() {
            return Err(invalid(
                "activation",
                &name,
                "its derivative is a Dirac delta (sign or step), so E[φ'²] is infinite and the \
                 normalized NTK recursion is undefined; use a continuous activation",
            ));
        }
        let (second_moment, _) = dual.dual_diag(1.0);
        if !(second_moment.is_finite() && second_moment > 0.0) {
            return Err(invalid(
                "activation",
                &name,
                &format!(
                    "E[φ(z)²] = {second_moment} for z ~ N(0, 1): it must be finite and > 0 to \
                     normalize φ"
                ),
            ));
        }
        let piecewise = match dual {
            Dual::AbRelu(AbReluDual { a, b }) => Some((
                0.5 * (a * a + b * b),
                (a - b).powi(2) / (2.0 * std::f64::consts::PI),
            )),
            _ => None,
        };
        Ok(Self {
            dual,
            second_moment,
            piecewise,
            activation: activation.clone(),
        })
    }

    /// The activation.
    pub fn activation(&self) -> &Activation {
        &self.activation
    }

    /// E\[φ(z)²\] for z ~ N(0, 1), the normalization κ(1) of the unnormalized dual.
    pub fn second_moment(&self) -> f64 {
        self.second_moment
    }

    /// (φ̌(ρ), φ̌′(ρ)) for ρ ∈ [−1, 1]. Fails for ρ outside [−1, 1] or NaN.
    pub fn eval(&self, rho: f64) -> Result<(f64, f64)> {
        check_cosine(rho, "rho")?;
        let (v, d, _) = self.step(rho, 1.0 - rho);
        Ok((v, d))
    }

    /// One layer: (φ̌(ρ), φ̌′(ρ), 1 − φ̌(ρ)) from ρ and ε = 1 − ρ, ε carried separately so that it
    /// keeps its relative precision near ρ = 1 (see the type's documentation).
    pub(crate) fn step(&self, rho: f64, eps: f64) -> (f64, f64, f64) {
        if let Some((m, f)) = self.piecewise {
            // θ = 2·asin(√(ε/2)) is exact in relative terms as ε → 0, unlike acos(ρ).
            let theta = 2.0 * (0.5 * eps).sqrt().min(1.0).asin();
            let slope = m - f * theta;
            let eps_new = (slope * eps + f * theta_minus_sin(theta)) / m;
            let rho_new = (f * theta.sin() + slope * rho) / m;
            return (rho_new, slope / m, eps_new);
        }
        let (k, dk) = self.dual.sphere(rho);
        // Rounding can push φ̌ a few ulps past ±1; the dual is only defined on [−1, 1].
        let v = (k / self.second_moment).clamp(-1.0, 1.0);
        (v, dk / self.second_moment, 1.0 - v)
    }

    /// (φ̌⁽ᴸ⁾(z), K⁽ᴸ⁾(z)): the normalized NNGP and NTK of a network with L hidden layers without
    /// bias, for unit-norm inputs with z = xᵀx̃ ∈ [−1, 1] (eq. 4.5; Thm 5's κ_L). L = 0 gives (z, z).
    /// Fails for z outside [−1, 1] or NaN.
    ///
    /// Fails with [`Error::Overflow`] when K⁽ᴸ⁾ leaves the f64 range: with B′ = φ̌′(1) > 1 the
    /// diagonal grows like B′ᴸ (ReLU-type activations, B′ = 1, grow like L).
    pub fn kernels(&self, depth: usize, z: f64) -> Result<(f64, f64)> {
        check_cosine(z, "z")?;
        let (mut rho, mut eps, mut ntk) = (z, 1.0 - z, z);
        for layer in 0..depth {
            let (v, d, e) = self.step(rho, eps);
            ntk = v + ntk * d;
            rho = v;
            eps = e;
            if !ntk.is_finite() {
                return Err(Error::Overflow {
                    layer,
                    activation: self.activation.name(),
                    value: ntk,
                });
            }
        }
        Ok((rho, ntk))
    }

    /// [`SphereDual::kernels`] at every depth 0, 1, …, L: entry ℓ is (φ̌⁽ℓ⁾(z), K⁽ℓ⁾(z)).
    /// Fails like [`SphereDual::kernels`].
    pub fn kernels_by_depth(&self, depth: usize, z: f64) -> Result<Vec<(f64, f64)>> {
        check_cosine(z, "z")?;
        let (mut rho, mut eps, mut ntk) = (z, 1.0 - z, z);
        let mut out = Vec::with_capacity(depth + 1);
        out.push((rho, ntk));
        for layer in 0..depth {
            let (v, d, e) = self.step(rho, eps);
            ntk = v + ntk * d;
            rho = v;
            eps = e;
            if !ntk.is_finite() {
                return Err(Error::Overflow {
                    layer,
                    activation: self.activation.name(),
                    value: ntk,
                });
            }
            out.push((rho, ntk));
        }
        Ok(out)
    }

    /// The NTK K⁽ᴸ⁾ applied entrywise to a Gram matrix of cosines G (entries in [−1, 1], e.g.
    /// X Xᵀ for unit-norm rows X). Fails on an entry outside [−1, 1] or NaN, and on overflow.
    ///
    /// Give identical points a cosine of exactly 1, e.g. by computing z = 1 − ‖x − x̃‖²/2 rather
    /// than xᵀx̃ (which can round to 1 − 1e-16): when B′ > 1 the recursion separates 1 − z down to
    /// rounding, and for Cor. 1 with d = 1 at depth 300 K⁽ᴸ⁾(1 − 1e-16) is 10⁻²⁶⁰ of K⁽ᴸ⁾(1).
    pub fn ntk_matrix(
        &self,
        depth: usize,
        cosines: &nalgebra::DMatrix<f64>,
    ) -> Result<nalgebra::DMatrix<f64>> {
        let mut out = cosines.clone();
        for v in out.iter_mut() {
            *v = self.kernels(depth, *v)?.1;
        }
        Ok(out)
    }
}

/// θ − sin θ without cancellation: its Taylor series below 0.5 (terms to θ¹⁵, remainder below
/// 1e-17 relative), the direct difference above.
fn theta_minus_sin(t: f64) -> f64 {
    if t < 0.5 {
        let t2 = t * t;
        // θ³/3! − θ⁵/5! + θ⁷/7! − …, by Horner in θ².
        let mut sum = 0.0;
        let mut k = 15.0_f64;
        while k >= 3.0 {
            let fact: f64 = (1..=k as u32).map(f64::from).product();
            let sign = if (k as u32 / 2) % 2 == 1 { 1.0 } else { -1.0 };
            sum = sum * t2 + sign / fact;
            k -= 2.0;
        }
        sum * t2 * t
    } else {
        t - t.sin()
    }
}

/// Rejects a cosine outside [−1, 1] or NaN.
fn check_cosine(z: f64, name: &str) -> Result<()> {
    if z.is_nan() {
        return Err(Error::NonFinite {
            what: name.to_string(),
            location: "argument".to_string(),
            value: z,
        });
    }
    if !(-1.0..=1.0).contains(&z) {
        return Err(invalid(
            name,
            z,
            "a cosine of two unit vectors must lie in [−1, 1]: normalize the inputs",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_matches_direct_difference() {
        for &t in &[1e-3, 0.1, 0.3, 0.49999] {
            let direct = t - f64::sin(t);
            // The direct difference carries an absolute rounding error of about one ulp of θ.
            assert!((theta_minus_sin(t) - direct).abs() <= 4.0 * f64::EPSILON * t);
        }
        // Leading term at tiny θ, where the direct difference is all rounding.
        assert!((theta_minus_sin(1e-6) / (1e-18 / 6.0) - 1.0).abs() < 1e-12);
    }
}
