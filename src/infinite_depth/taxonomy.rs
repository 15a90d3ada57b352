//! What an infinitely deep network without bias converges to: the Gaussian moments A, A′, B′ of the
//! normalized activation and the three classes of Radhakrishnan (2023), Ch. 4.

use super::SphereDual;
use crate::activation::gauss_legendre;
use crate::roots::bisect;
use crate::{Error, Result};

/// Below this, A² = φ̌(0) and A′² = φ̌′(0) count as 0. The closed forms give an exact 0 for odd
/// activations; the quadrature duals leave rounding of about 1e-17.
pub const ZERO_TOLERANCE: f64 = 1e-12;

/// Within this of 1, B′ = φ̌′(1) counts as 1: the edge of chaos (every 1-homogeneous activation has
/// exactly B′ = 1).
pub const EDGE_TOLERANCE: f64 = 1e-9;

/// The Gaussian moments of the normalized activation φ/√E\[φ²\] for z ~ N(0, 1) (Ch. 4.2):
/// A = E\[φ\], A′ = E\[φ′\], B′ = E\[φ′²\]. In terms of the normalized dual, A² = φ̌(0), A′² = φ̌′(0) and
/// B′ = φ̌′(1). B′ and the normalization E\[φ²\] come from the dual; A and A′ (with their signs) from
/// a 1-D composite Gauss–Legendre integral of φ and φ′ (panels of width ½ on [−12, 12], so kinks at
/// 0, ±½, ±1, … lie on panel ends; exactly 0 for an odd φ), accurate to about 1e-15 where the square root of the dual's
/// φ̌(0) would only give √(rounding) ≈ 1e-8 for an activation with mean 0 such as SELU. The
/// classification ([`Taxonomy`]) tests the dual's φ̌(0) and φ̌′(0) against [`ZERO_TOLERANCE`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    /// A = E\[φ(z)\]/√E\[φ(z)²\].
    pub a: f64,
    /// A′ = E\[φ′(z)\]/√E\[φ(z)²\].
    pub a_prime: f64,
    /// B′ = E\[φ′(z)²\]/E\[φ(z)²\].
    pub b_prime: f64,
}

/// The limit of the kernel machine m(x) = sign(y K_n⁻¹ K(X, x)) as the depth L → ∞ (Ch. 4.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Taxonomy {
    /// A = 0, A′ ≠ 0 (Thm 7): K⁽ᴸ⁾(z)/(A′^{2L}(L + 1)) → R(z)/(1 − z)^β, a singular kernel of order
    /// β = −log A′²/log B′ in z = xᵀx̃ (= α/2 for the distance ‖x − x̃‖^α; the seed's App. H calls
    /// β "α"). Thm 8: Bayes optimal for data of dimension d = 2β. A linear φ (A′² = B′ = 1) has
    /// K⁽ᴸ⁾ = (L + 1)z: order 0.
    Singular {
        /// β.
        order: f64,
    },
    /// A = A′ = 0 (Thm 9): K⁽ᴸ⁾(z) = z^{2ᴸ}g_L(z) with g_L positive and increasing, so the
    /// classifier becomes 1-nearest-neighbour.
    NearestNeighbor,
    /// A ≠ 0 (Prop. 4): the off-diagonal limit C₁ differs from the diagonal one, and the classifier
    /// becomes the majority vote sign(Σᵢ yᵢ).
    MajorityVote(Phase),
}

/// The phase of a majority-vote limit, by B′ = φ̌′(1) (App. C.G; Poole et al. 2016).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// B′ > 1 (Lemma 6): φ̌ has one attracting fixed point c ∈ (0, 1) and K⁽ᴸ⁾(z) → c/(1 − φ̌′(c))
    /// for |z| < 1, while the diagonal K⁽ᴸ⁾(1) = (B′^{L+1} − 1)/(B′ − 1) diverges (the seed's
    /// (B′ᴸ − 1)/(B′ − 1) is off by one against K⁽⁰⁾(1) = 1).
    Chaotic {
        /// c = φ̌(c) ∈ (0, 1).
        fixed_point: f64,
        /// lim K⁽ᴸ⁾(z) = c/(1 − φ̌′(c)) for |z| < 1.
        off_diagonal: f64,
    },
    /// B′ < 1 (Lemma 7): K⁽ᴸ⁾ → 1/(1 − B′) for every pair, diagonal included: the Gram matrix
    /// tends to a multiple of the all-ones matrix, singular, so a ridge is needed.
    Ordered {
        /// 1/(1 − B′).
        limit: f64,
    },
    /// B′ = 1 (ReLU and every 1-homogeneous activation with A ≠ 0): K⁽ᴸ⁾(1) = L + 1 and
    /// K⁽ᴸ⁾(z)/(L + 1) → C₁ for |z| < 1.
    ///
    /// C₁ is derived here: if 1 − φ̌(1 − ε) = ε − cε^p + o(ε^p) (p = 3/2 for a kink in φ, 2 for a
    /// smooth φ), then εₗ = 1 − φ̌⁽ˡ⁾(z) ~ (c(p − 1)l)^{−1/(p−1)}, φ̌′(φ̌⁽ˡ⁾) ≈ 1 − p/((p − 1)l), the
    /// products in the unrolled K⁽ᴸ⁾ (App. C.2) are ≈ (l/L)^{p/(p−1)} and
    /// C₁ = ∫₀¹ t^{p/(p−1)} dt = (p − 1)/(2p − 1): ¼ for ReLU (the seed's value, L1024), ⅓ for p = 2.
    EdgeOfChaos {
        /// p, estimated from φ̌ at ε = 10⁻³ and 10⁻⁴ and rounded to a multiple of ½ (the duals
        /// expand in powers of (1 − ρ)^{1/2}); `None` if the estimate is not within 0.1 of one.
        exponent: Option<f64>,
        /// C₁ = (p − 1)/(2p − 1), when p is known.
        off_diagonal: Option<f64>,
    },
}

/// β = −log a1/log b1 for a normalized dual with φ̌′(0) = a1 ∈ (0, 1) and φ̌′(1) = b1 > 1: the order
/// of the singularity of the infinite-depth kernel (Thm 7, App. C.B; Lemma 1 for the
/// piecewise-linear map with slopes a1 at 0 and b1 at 1). Fails outside those ranges.
///
/// ```
/// // Lemma 1's example: slopes 0.5 and 1.5 give order 1.70951.
/// let beta = ntk::infinite_depth::singular_order(0.5, 1.5)?;
/// assert!((beta - 1.709511).abs() < 1e-6);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn singular_order(a1: f64, b1: f64) -> Result<f64> {
    if !(a1 > 0.0 && a1 < 1.0 && b1 > 1.0 && b1.is_finite()) {
        return Err(crate::error::invalid(
            "(φ̌'(0), φ̌'(1))",
            format!("({a1}, {b1})"),
            "a singular limit needs 0 < φ̌'(0) < 1 < φ̌'(1) < ∞",
        ));
    }
    Ok(-a1.ln() / b1.ln())
}

impl SphereDual {
    /// A, A′ and B′ of the normalized activation (see [`Moments`]).
    pub fn moments(&self) -> Moments {
        let (_, b1) = self.dual_at(1.0);
        let (mean, mean_slope) = gaussian_means(|x| self.activation().eval_with_derivative(x));
        let norm = self.second_moment().sqrt();
        // + 0.0 turns a −0 (the sum of an odd φ's mirrored terms) into 0.
        Moments {
            a: mean / norm + 0.0,
            a_prime: mean_slope / norm + 0.0,
            b_prime: b1,
        }
    }

    /// The infinite-depth class of the activation (see [`Taxonomy`]). Fails with
    /// [`Error::NoSolution`] if a chaotic dual has no fixed point in (0, 1) to working precision.
    ///
    /// ```
    /// use ntk::Activation;
    /// use ntk::infinite_depth::{Phase, SphereDual, Taxonomy};
    /// let sine = SphereDual::new(&Activation::Sin { a: 1.0, b: 1.0, c: 0.0 })?;
    /// let Taxonomy::Singular { order } = sine.taxonomy()? else { panic!() };
    /// assert!((order - 0.59278).abs() < 5e-6);
    /// let relu = SphereDual::new(&Activation::Relu)?;
    /// assert!(matches!(relu.taxonomy()?, Taxonomy::MajorityVote(Phase::EdgeOfChaos { .. })));
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn taxonomy(&self) -> Result<Taxonomy> {
        let (a2, a1) = self.dual_at(0.0);
        let (_, b1) = self.dual_at(1.0);
        if a2 > ZERO_TOLERANCE {
            let phase = if b1 > 1.0 + EDGE_TOLERANCE {
                self.chaotic()?
            } else if b1 < 1.0 - EDGE_TOLERANCE {
                Phase::Ordered {
                    limit: 1.0 / (1.0 - b1),
                }
            } else {
                let exponent = self.edge_exponent();
                Phase::EdgeOfChaos {
                    exponent,
                    off_diagonal: exponent.map(|p| (p - 1.0) / (2.0 * p - 1.0)),
                }
            };
            return Ok(Taxonomy::MajorityVote(phase));
        }
        if a1 <= ZERO_TOLERANCE {
            return Ok(Taxonomy::NearestNeighbor);
        }
        if (b1 - 1.0).abs() <= EDGE_TOLERANCE {
            // Only a linear φ has A = 0 and B′ = 1 (B′ = Σ k aₖ² ≥ Σ aₖ² = 1 in the Hermite basis).
            return Ok(Taxonomy::Singular { order: 0.0 });
        }
        Ok(Taxonomy::Singular {
            order: singular_order(a1, b1)?,
        })
    }

    /// (φ̌, φ̌′) at a point of [−1, 1] known to be valid.
    fn dual_at(&self, rho: f64) -> (f64, f64) {
        let (v, d, _) = self.step(rho, 1.0 - rho);
        (v, d)
    }

    /// The attracting fixed point c of φ̌ in (0, 1) and the off-diagonal limit c/(1 − φ̌′(c)).
    fn chaotic(&self) -> Result<Phase> {
        // g = φ̌ − id is > 0 at 0 (A² > 0) and < 0 just below 1 (slope B′ > 1 at the root z = 1);
        // φ̌ is convex on [0, 1] (a power series with non-negative coefficients), so the root
        // between them is the only one.
        let g = |z: f64| -> Result<f64> { Ok(self.dual_at(z).0 - z) };
        let mut h = 0.5;
        while g(1.0 - h)? >= 0.0 {
            h *= 0.5;
            if h < 1e-12 {
                return Err(Error::NoSolution {
                    what: format!(
                        "the fixed point of the dual of {}",
                        self.activation().name()
                    ),
                    reason: "φ̌(z) ≥ z on [0, 1 − 1e-12] although φ̌'(1) > 1: B' is within \
                             rounding of the edge of chaos"
                        .to_string(),
                });
            }
        }
        let c = bisect(g, 0.0, 1.0 - h, g(0.0)?)?;
        let (_, slope) = self.dual_at(c);
        Ok(Phase::Chaotic {
            fixed_point: c,
            off_diagonal: c / (1.0 - slope),
        })
    }

    /// p of 1 − φ̌(1 − ε) = ε − cε^p + …, from the defect δ(ε) = φ̌(1 − ε) − (1 − ε) at two ε.
    fn edge_exponent(&self) -> Option<f64> {
        let defect = |e: f64| e - self.step(1.0 - e, e).2;
        let (e1, e2) = (1e-3, 1e-4);
        let (d1, d2) = (defect(e1), defect(e2));
        if !(d1 > 0.0 && d2 > 0.0) {
            return None;
        }
        let p = (d1 / d2).ln() / (e1 / e2).ln();
        let rounded = (2.0 * p).round() / 2.0;
        ((p - rounded).abs() < 0.1 && rounded > 1.0).then_some(rounded)
    }
}

/// (E\[φ(z)\], E\[φ′(z)\]) for z ~ N(0, 1) by composite Gauss–Legendre on [0, 12] applied to
/// φ(z) + φ(−z) (24 panels of width ½, 16 nodes each: kinks at 0, ±½, ±1, … fall on panel ends;
/// the mass beyond 12, e^{−72}, is far below rounding for any φ of polynomial growth). Adding the
/// mirrored values first makes the mean of an odd φ exactly 0.
fn gaussian_means(f: impl Fn(f64) -> (f64, f64)) -> (f64, f64) {
    let (x, w) = gauss_legendre(16);
    let (mut m0, mut m1) = (0.0, 0.0);
    for panel in 0..24 {
        let lo = 0.5 * panel as f64;
        for (xi, wi) in x.iter().zip(&w) {
            let z = lo + 0.25 * (xi + 1.0);
            let weight = 0.25 * wi * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let ((v, d), (vm, dm)) = (f(z), f(-z));
            m0 += weight * (v + vm);
            m1 += weight * (d + dm);
        }
    }
    (m0, m1)
}
