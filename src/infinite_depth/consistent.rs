//! The activations whose infinitely deep NTK classifier is consistent (Radhakrishnan 2023, Thm 8,
//! Cors 1–2): a singular kernel of order β = d/2 for data of intrinsic dimension d.

use crate::activation::{Activation, PolynomialDual};
use crate::error::invalid;
use crate::roots::bisect;
use crate::{Error, Result};

/// Cor. 1: a Hermite combination with A = 0 and order β = d/2, in the normalized Hermite
/// polynomials hₖ = Heₖ/√(k!) (the crate's `hermite` activations), as a `polynomial` activation:
///
/// * d = 1: φ = (h₇ + x)/√2, with φ̌(ρ) = (ρ⁷ + ρ)/2, φ̌′(0) = ½, φ̌′(1) = 4;
/// * d ≥ 2: φ = 2^{−d/4}h₃ + √(1 − 2^{1−d/2})·h₂ + 2^{−d/4}x, with
///   φ̌(ρ) = 2^{−d/2}ρ³ + (1 − 2^{1−d/2})ρ² + 2^{−d/2}ρ, φ̌′(0) = 2^{−d/2}, φ̌′(1) = 2.
///
/// E\[φ²\] = 1 in both. Fails for d = 0.
///
/// ```
/// use ntk::infinite_depth::{hermite_consistent, SphereDual, Taxonomy};
/// let phi = SphereDual::new(&hermite_consistent(3)?)?;
/// let Taxonomy::Singular { order } = phi.taxonomy()? else { panic!() };
/// assert!((order - 1.5).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn hermite_consistent(d: u32) -> Result<Activation> {
    if d == 0 {
        return Err(invalid("d", d, "the data dimension must be ≥ 1"));
    }
    let h = |k: usize| PolynomialDual::hermite_coef(k);
    let terms: Vec<(f64, Vec<f64>)> = if d == 1 {
        let s = std::f64::consts::FRAC_1_SQRT_2;
        vec![(s, h(7)), (s, h(1))]
    } else {
        let outer = 2f64.powf(-f64::from(d) / 4.0);
        let middle = (1.0 - 2f64.powf(1.0 - f64::from(d) / 2.0)).sqrt();
        vec![(outer, h(3)), (middle, h(2)), (outer, h(1))]
    };
    let len = terms.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
    let mut coef = vec![0.0; len];
    for (weight, c) in &terms {
        for (k, v) in c.iter().enumerate() {
            coef[k] += weight * v;
        }
    }
    Ok(Activation::Polynomial { coef })
}

/// The order of the normalized sine φ = e^{a²/2}·sin(ax)/√(sinh a²) (Cor. 2), whose dual is
/// φ̌(ρ) = sinh(a²ρ)/sinh(a²):
///
/// β(a²) = −log(a²/sinh a²)/log(a²·coth a²),
///
/// increasing from ½ (a → 0) to ∞. Fails unless a² > 0 is finite.
pub fn sine_order(a2: f64) -> Result<f64> {
    if !(a2 > 0.0 && a2.is_finite()) {
        return Err(invalid("a²", a2, "must be finite and > 0"));
    }
    if a2 < 0.01 {
        // log(sinh x/x) = x²/6 − x⁴/180 + x⁶/2835 − …, log(x coth x) = x²/3 − 7x⁴/90 + 62x⁶/2835 − …:
        // the direct logs of numbers within 1e-5 of 1 would lose their digits (next terms ~x⁸).
        let x2 = a2 * a2;
        return Ok((1.0 / 6.0 - x2 / 180.0 + x2 * x2 / 2835.0)
            / (1.0 / 3.0 - 7.0 * x2 / 90.0 + 62.0 * x2 * x2 / 2835.0));
    }
    Ok((ln_sinh(a2) - a2.ln()) / (a2.ln() - ln_tanh(a2)))
}

/// a² with [`sine_order`]`(a²) = β`, for β > ½ (Cor. 2; Thm 8: consistent for data of dimension
/// d = 2β). β = 1, 1.5, 2, 4 give a² = 2.676074, 4.394827, 6.135393, 13.825846.
///
/// ```
/// let a2 = ntk::infinite_depth::sine_a2(2.0)?; // dimension d = 4 (the seed's L984 says 3)
/// assert!((a2 - 6.135393).abs() < 1e-6);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn sine_a2(beta: f64) -> Result<f64> {
    if !(beta > 0.5 && beta.is_finite()) {
        return Err(invalid(
            "beta",
            beta,
            "the normalized sine reaches exactly the orders β > 1/2 (β → 1/2 as a → 0); \
             for β = 1/2 (data dimension 1) use the Hermite activation of Cor. 1",
        ));
    }
    let (lo, mut hi) = (1e-6, 1.0);
    while sine_order(hi)? < beta {
        hi *= 2.0;
        if hi > 1e12 {
            return Err(Error::NoSolution {
                what: format!("a² with sine order {beta}"),
                reason: "β(a²) ≈ a²/log a² exceeds it only past a² = 1e12".to_string(),
            });
        }
    }
    let g = |a2: f64| -> Result<f64> { Ok(sine_order(a2)? - beta) };
    bisect(g, lo, hi, g(lo)?)
}

/// The normalized sine of Cor. 2 as a `sin` activation: e^{a²/2}/√(sinh a²)·sin(a·x), with
/// E\[φ²\] = 1. The seed's normalization 1/√(sinh a²) lacks the factor e^{a²/2}
/// (E\[sin²(az)\] = e^{−a²}·sinh a²). Fails unless a² > 0 is finite.
pub fn sine_normalized(a2: f64) -> Result<Activation> {
    if !(a2 > 0.0 && a2.is_finite()) {
        return Err(invalid("a²", a2, "must be finite and > 0"));
    }
    Ok(Activation::Sin {
        a: (0.5 * a2 - 0.5 * ln_sinh(a2)).exp(),
        b: a2.sqrt(),
        c: 0.0,
    })
}

/// log sinh x for x > 0, without overflow: x + log(1 − e^{−2x}) − log 2.
fn ln_sinh(x: f64) -> f64 {
    x + (-(-2.0 * x).exp()).ln_1p() - std::f64::consts::LN_2
}

/// log tanh x for x > 0: log(1 − 2/(e^{2x} + 1)).
fn ln_tanh(x: f64) -> f64 {
    (-2.0 / ((2.0 * x).exp() + 1.0)).ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_and_direct_orders_agree_at_the_switch() {
        // Direct evaluation at a² = 0.01: the logs hold ~1e-5 with a rounding of 1e-16, 1e-11 relative.
        let x: f64 = 0.01;
        let direct = ((x.sinh() / x).ln()) / ((x / x.tanh()).ln());
        assert!((sine_order(x * 0.999_999).unwrap() - direct).abs() < 1e-9);
    }
}
