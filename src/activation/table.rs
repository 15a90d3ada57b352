//! The table of activations: the one place where an activation is declared.
//!
//! Each entry gives the variant of [`Activation`] with its parameters (and their JSON defaults, those
//! of neural-tangents where it has the layer), its JSON name, how to build its dual, its value and
//! derivative, and how smooth it is; [`activations!`](super::declare) turns the table into the enum
//! and every function that matches on it. To add an activation, add an entry here (and, if its dual
//! is a new closed form, a type implementing [`DualActivation`](super::DualActivation) listed in
//! [`Dual`]).

use super::declare::activations;
use super::smooth;
use super::{
    AbReluDual, AffineDual, Dual, ErfDual, ExpDual, GaborDual, GaussianDual, GeluDual,
    MAX_POLY_DEGREE, PolynomialDual, QuadratureDual, RbfDual, RectifiedMonomialDual, SignDual,
    SinDual, Smoothness,
};
use crate::Result;
use crate::error::invalid;
use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, SQRT_2};
use std::sync::Arc;

activations! {
    /// max(x, 0).
    Relu "relu" => {
        dual(_n) { Ok(Dual::AbRelu(AbReluDual { a: 0.0, b: 1.0 })) }
        eval(x) { abrelu(x, 0.0, 1.0) }
        smoothness { Smoothness::Kinked }
    }
    /// α·min(x, 0) + max(x, 0).
    LeakyRelu "leaky_relu" {
        /// Slope for x < 0.
        alpha: f64,
    } => {
        dual(_n) { Ok(Dual::AbRelu(AbReluDual { a: *alpha, b: 1.0 })) }
        eval(x) { abrelu(x, *alpha, 1.0) }
        smoothness { if *alpha == 1.0 { Smoothness::Smooth } else { Smoothness::Kinked } }
    }
    /// a·min(x, 0) + b·max(x, 0).
    AbRelu "ab_relu" {
        /// Slope for x < 0.
        a: f64,
        /// Slope for x > 0.
        b: f64,
    } => {
        dual(_n) { Ok(Dual::AbRelu(AbReluDual { a: *a, b: *b })) }
        eval(x) { abrelu(x, *a, *b) }
        smoothness { if a == b { Smoothness::Smooth } else { Smoothness::Kinked } }
    }
    /// |x|.
    Abs "abs" => {
        dual(_n) { Ok(Dual::AbRelu(AbReluDual { a: -1.0, b: 1.0 })) }
        eval(x) { abrelu(x, -1.0, 1.0) }
        smoothness { Smoothness::Kinked }
    }
    /// a·erf(b·x) + c.
    Erf "erf" {
        /// Output scale.
        a: f64 = 1.0,
        /// Input scale.
        b: f64 = 1.0,
        /// Output shift.
        c: f64 = 0.0,
    } => {
        dual(_n) { Ok(Dual::Erf(ErfDual { a: *a, b: *b, c: *c })) }
        eval(x) { erf_eval(x, *a, *b, *c) }
        smoothness { Smoothness::Smooth }
    }
    /// ½·erf(x/2) + ½, the erf approximation of the logistic sigmoid used by Jiang & Pehlevan (2020).
    SigmoidErf "sigmoid_erf" => {
        dual(_n) { Ok(Dual::Erf(ErfDual { a: 0.5, b: 0.5, c: 0.5 })) }
        eval(x) { erf_eval(x, 0.5, 0.5, 0.5) }
        smoothness { Smoothness::Smooth }
    }
    /// neural-tangents' `Sigmoid_like`: ½·erf(x/2.4020563531719796) + ½.
    SigmoidLike "sigmoid_like" => {
        dual(_n) { Ok(Dual::Erf(ErfDual { a: 0.5, b: 1.0 / SIGMOID_LIKE_SCALE, c: 0.5 })) }
        eval(x) { erf_eval(x, 0.5, 1.0 / SIGMOID_LIKE_SCALE, 0.5) }
        smoothness { Smoothness::Smooth }
    }
    /// x·Φ(x) (exact GELU).
    Gelu "gelu" => {
        dual(_n) { Ok(Dual::Gelu(GeluDual)) }
        eval(x) {
            let cdf = 0.5 * (1.0 + libm::erf(x / SQRT_2));
            let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
            (x * cdf, cdf + x * pdf)
        }
        smoothness { Smoothness::Smooth }
    }
    /// a·sin(b·x + c).
    Sin "sin" {
        /// Output scale.
        a: f64 = 1.0,
        /// Input scale.
        b: f64 = 1.0,
        /// Phase.
        c: f64 = 0.0,
    } => {
        dual(_n) { Ok(Dual::Sin(SinDual { a: *a, b: *b, c: *c })) }
        eval(x) { (a * (b * x + c).sin(), a * b * (b * x + c).cos()) }
        smoothness { Smoothness::Smooth }
    }
    /// a·cos(b·x + c) = a·sin(b·x + c + π/2).
    Cos "cos" {
        /// Output scale.
        a: f64 = 1.0,
        /// Input scale.
        b: f64 = 1.0,
        /// Phase.
        c: f64 = 0.0,
    } => {
        dual(_n) { Ok(Dual::Sin(SinDual { a: *a, b: *b, c: *c + FRAC_PI_2 })) }
        eval(x) { (a * (b * x + c).cos(), -a * b * (b * x + c).sin()) }
        smoothness { Smoothness::Smooth }
    }
    /// √2·sin(√(2γ)·x + π/4), whose NNGP is the RBF kernel exp(−γ‖x − x'‖²/d).
    Rbf "rbf" {
        /// γ ≥ 0.
        gamma: f64 = 1.0,
    } => {
        dual(_n) {
            if *gamma < 0.0 {
                return Err(invalid("gamma", gamma, "must be ≥ 0"));
            }
            Ok(Dual::Rbf(RbfDual { gamma: *gamma }))
        }
        eval(x) {
            let k = (2.0 * gamma).sqrt();
            (SQRT_2 * (k * x + FRAC_PI_4).sin(), SQRT_2 * k * (k * x + FRAC_PI_4).cos())
        }
        smoothness { Smoothness::Smooth }
    }
    /// a·e^{b·x}.
    Exp "exp" {
        /// Output scale.
        a: f64 = 1.0,
        /// Input scale.
        b: f64 = 1.0,
    } => {
        dual(_n) { Ok(Dual::Exp(ExpDual { a: *a, b: *b })) }
        eval(x) { (a * (b * x).exp(), a * b * (b * x).exp()) }
        smoothness { Smoothness::Smooth }
    }
    /// a·e^{b·x²}.
    Gaussian "gaussian" {
        /// Output scale.
        a: f64 = 1.0,
        /// Exponent coefficient.
        b: f64 = -1.0,
    } => {
        dual(_n) { Ok(Dual::Gaussian(GaussianDual { a: *a, b: *b })) }
        eval(x) {
            let e = a * (b * x * x).exp();
            (e, 2.0 * b * x * e)
        }
        smoothness { Smoothness::Smooth }
    }
    /// xⁿ.
    Monomial "monomial" {
        /// n ≤ [`MAX_POLY_DEGREE`].
        degree: u32,
    } => {
        dual(_n) {
            let n = check_degree(*degree, MAX_POLY_DEGREE)?;
            Ok(Dual::Polynomial(PolynomialDual::new(&PolynomialDual::monomial_coef(n))?))
        }
        eval(x) {
            let n = *degree as i32;
            (x.powi(n), if n == 0 { 0.0 } else { n as f64 * x.powi(n - 1) })
        }
        smoothness { Smoothness::Smooth }
    }
    /// xⁿ·1[x ≥ 0] (arc-cosine kernel of order n).
    RectifiedMonomial "rectified_monomial" {
        /// n ≤ [`MAX_RECTIFIED_DEGREE`](super::MAX_RECTIFIED_DEGREE).
        degree: u32,
    } => {
        dual(_n) { Ok(Dual::RectifiedMonomial(RectifiedMonomialDual::new(*degree)?)) }
        eval(x) {
            let n = *degree as i32;
            if x < 0.0 {
                (0.0, 0.0)
            } else if n == 0 {
                (1.0, 0.0)
            } else {
                (x.powi(n), n as f64 * x.powi(n - 1))
            }
        }
        smoothness {
            match degree {
                0 => Smoothness::Jump,
                1 => Smoothness::Kinked,
                2 => Smoothness::KinkedDerivative,
                _ => Smoothness::Smooth,
            }
        }
    }
    /// sign(x).
    Sign "sign" => {
        dual(_n) { Ok(Dual::Sign(SignDual)) }
        eval(x) { (if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { 0.0 }, 0.0) }
        smoothness { Smoothness::Jump }
    }
    /// Σₘ coef\[m\]·xᵐ.
    Polynomial "polynomial" {
        /// Coefficients, constant term first.
        coef: Vec<f64>,
    } => {
        dual(_n) { Ok(Dual::Polynomial(PolynomialDual::new(coef)?)) }
        eval(x) { polynomial(coef, x) }
        smoothness { Smoothness::Smooth }
    }
    /// Heₙ(x)/√(n!), the normalized probabilists' Hermite polynomial (exact for any variance).
    Hermite "hermite" {
        /// n ≤ [`MAX_POLY_DEGREE`].
        degree: u32,
    } => {
        dual(_n) {
            let n = check_degree(*degree, MAX_POLY_DEGREE)?;
            Ok(Dual::Polynomial(PolynomialDual::new(&PolynomialDual::hermite_coef(n))?))
        }
        eval(x) { polynomial(&PolynomialDual::hermite_coef(*degree as usize), x) }
        smoothness { Smoothness::Smooth }
    }
    /// e^{−x²}·sin x.
    Gabor "gabor" => {
        dual(_n) { Ok(Dual::Gabor(GaborDual)) }
        eval(x) {
            let e = (-x * x).exp();
            (e * x.sin(), e * (x.cos() - 2.0 * x * x.sin()))
        }
        smoothness { Smoothness::Smooth }
    }
    /// α·x + β.
    Affine "affine" {
        /// Slope.
        alpha: f64 = 1.0,
        /// Offset.
        beta: f64 = 0.0,
    } => {
        dual(_n) { Ok(Dual::Affine(AffineDual { alpha: *alpha, beta: *beta })) }
        eval(x) { (alpha * x + beta, *alpha) }
        smoothness { Smoothness::Smooth }
    }
    /// x.
    Identity "identity" => {
        dual(_n) { Ok(Dual::Affine(AffineDual { alpha: 1.0, beta: 0.0 })) }
        eval(x) { (x, 1.0) }
        smoothness { Smoothness::Smooth }
    }
    /// 1/(1 + e^{−x}) (quadrature).
    Sigmoid "sigmoid" => {
        dual(nodes) { quadrature("sigmoid", nodes, &[], smooth::sigmoid_derivs) }
        eval(x) { value_and_slope(smooth::sigmoid_derivs(x)) }
        smoothness { Smoothness::Smooth }
    }
    /// tanh x (quadrature).
    Tanh "tanh" => {
        dual(nodes) { odd(quadrature("tanh", nodes, &[], smooth::tanh_derivs)) }
        eval(x) { value_and_slope(smooth::tanh_derivs(x)) }
        smoothness { Smoothness::Smooth }
    }
    /// ln(1 + eˣ) (quadrature).
    Softplus "softplus" => {
        dual(nodes) { quadrature("softplus", nodes, &[], smooth::softplus_derivs) }
        eval(x) { value_and_slope(smooth::softplus_derivs(x)) }
        smoothness { Smoothness::Smooth }
    }
    /// x·σ(x), also called swish (quadrature).
    Silu "silu" => {
        dual(nodes) { quadrature("silu", nodes, &[], smooth::silu_derivs) }
        eval(x) { value_and_slope(smooth::silu_derivs(x)) }
        smoothness { Smoothness::Smooth }
    }
    /// x for x > 0, α(eˣ − 1) otherwise (quadrature).
    Elu "elu" {
        /// Negative saturation value.
        alpha: f64 = 1.0,
    } => {
        dual(nodes) {
            let a = *alpha;
            quadrature("elu", nodes, &[], move |x| smooth::elu_derivs(x, a))
        }
        eval(x) { value_and_slope(smooth::elu_derivs(x, *alpha)) }
        smoothness {
            if *alpha == 1.0 { Smoothness::KinkedDerivative } else { Smoothness::Kinked }
        }
    }
    /// λ·ELU_α with α ≈ 1.6733, λ ≈ 1.0507 (quadrature).
    Selu "selu" => {
        dual(nodes) { quadrature("selu", nodes, &[], smooth::selu_derivs) }
        eval(x) { value_and_slope(smooth::selu_derivs(x)) }
        smoothness { Smoothness::Kinked }
    }
    /// max(−1, min(x, 1)): x clipped to [−1, 1], with kinks at ±1 (quadrature split at the kinks).
    /// Radhakrishnan's thesis uses it in Fig. C-2.
    HardTanh "hard_tanh" => {
        dual(nodes) {
            odd(quadrature("hard_tanh", nodes, &[-1.0, 1.0], smooth::hard_tanh_derivs))
        }
        eval(x) { value_and_slope(smooth::hard_tanh_derivs(x)) }
        smoothness { Smoothness::Kinked }
        at_zero { Smoothness::Smooth }
    }
    /// x·tanh(softplus(x)) (Misra 2019; quadrature).
    Mish "mish" => {
        dual(nodes) { quadrature("mish", nodes, &[], smooth::mish_derivs) }
        eval(x) { value_and_slope(smooth::mish_derivs(x)) }
        smoothness { Smoothness::Smooth }
    }
}

/// The `b` of neural-tangents' `Sigmoid_like` (an L2 fit of erf to the logistic sigmoid on [−5, 5]).
pub const SIGMOID_LIKE_SCALE: f64 = 2.402_056_353_171_979_6;

/// (φ, φ') of a·min(x, 0) + b·max(x, 0), with φ'(0) = (a + b)/2.
fn abrelu(x: f64, a: f64, b: f64) -> (f64, f64) {
    if x > 0.0 {
        (b * x, b)
    } else {
        (a * x, if x < 0.0 { a } else { 0.5 * (a + b) })
    }
}

/// (φ, φ') of a·erf(b·x) + c.
fn erf_eval(x: f64, a: f64, b: f64, c: f64) -> (f64, f64) {
    let g = 2.0 / std::f64::consts::PI.sqrt() * (-(b * x) * (b * x)).exp();
    (a * libm::erf(b * x) + c, a * b * g)
}

/// (φ, φ') of Σₘ coef\[m\]·xᵐ by Horner's rule.
fn polynomial(coef: &[f64], x: f64) -> (f64, f64) {
    let v = coef.iter().rev().fold(0.0, |acc, &k| acc * x + k);
    let d = coef
        .iter()
        .enumerate()
        .skip(1)
        .rev()
        .fold(0.0, |acc, (m, &k)| acc * x + m as f64 * k);
    (v, d)
}

/// Marks a quadrature dual's φ as odd bit for bit (`QuadratureDual::odd`): tanh and hard tanh,
/// whose implementations are odd by construction (libm's tanh works on |x| and restores the sign).
fn odd(dual: Result<Dual>) -> Result<Dual> {
    dual.map(|d| match d {
        Dual::Quadrature(q) => Dual::Quadrature(q.odd()),
        other => other,
    })
}

fn value_and_slope(t: (f64, f64, f64)) -> (f64, f64) {
    (t.0, t.1)
}

fn check_degree(degree: u32, max: usize) -> Result<usize> {
    if degree as usize > max {
        Err(invalid("degree", degree, &format!("must be at most {max}")))
    } else {
        Ok(degree as usize)
    }
}

/// A named quadrature activation: the polar rule split at 0 and at `kinks` (see
/// [`QuadratureDual::polar`]), with φ and φ' from one call of `g` = (φ, φ', φ'').
fn quadrature(
    name: &str,
    nodes: usize,
    kinks: &[f64],
    g: impl Fn(f64) -> (f64, f64, f64) + Copy + Send + Sync + 'static,
) -> Result<Dual> {
    Ok(Dual::Quadrature(
        QuadratureDual::polar_pair(
            name,
            Arc::new(move |x| value_and_slope(g(x))),
            Some(Arc::new(move |x| g(x).2)),
            nodes,
        )?
        .with_kinks(kinks)?,
    ))
}
