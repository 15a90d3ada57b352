//! Dual activations: Gaussian expectations of an activation φ and of its derivative.
//!
//! For a centred bivariate Gaussian (u, v) with variances q1, q2 and covariance c, the **dual** of φ is
//!
//! T(c; q1, q2) = E[φ(u)φ(v)],  Ṫ(c; q1, q2) = E[φ'(u)φ'(v)],
//!
//! and Price's theorem gives Ṫ = ∂T/∂c whenever φ is absolutely continuous. T maps the NNGP through an
//! activation layer and Ṫ multiplies the NTK (Jacot et al. 2018; neural-tangents' `stax`). Each family
//! has its own file; [`Activation`] names every supported activation and [`Activation::dual`] turns it
//! into a [`Dual`] that evaluates the formulas.
//!
//! ```
//! use ntk::activation::{Activation, DualActivation};
//! let relu = Activation::Relu.dual().unwrap();
//! // Arc-cosine kernel at orthogonal unit-variance inputs: 1/(2π), and Ṫ = 1/4.
//! let (t, dot) = relu.dual(0.0, 1.0, 1.0);
//! assert!((t - 1.0 / (2.0 * std::f64::consts::PI)).abs() < 1e-15);
//! assert!((dot - 0.25).abs() < 1e-15);
//! ```

mod erf;
mod exp;
mod poly;
mod quadrature;
mod relu;
pub mod smooth;

pub use erf::{ErfDual, GeluDual};
pub use exp::{ExpDual, GaborDual, GaussianDual, RbfDual, SinDual};
pub use poly::{AffineDual, MAX_POLY_DEGREE, PolynomialDual};
pub use quadrature::{
    DEFAULT_NODES, MAX_NODES, PairFn, QuadratureDual, ScalarFn, gauss_hermite, gauss_legendre,
};
pub use relu::{AbReluDual, MAX_RECTIFIED_DEGREE, RectifiedMonomialDual, SignDual};

use crate::Result;
use crate::error::invalid;
use crate::linalg::check_finite_param;
use crate::real::Real;
use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, SQRT_2};
use std::sync::Arc;

/// Gaussian expectations of an activation: the dual map T, its NTK factor Ṫ, and their diagonal.
///
/// Methods are generic over the scalar [`Real`] so that derivatives with respect to (c, q1, q2) can be
/// carried by a dual-number type; with `f64` they compile to plain arithmetic.
pub trait DualActivation {
    /// (T, Ṫ) = (E[φ(u)φ(v)], E[φ'(u)φ'(v)]) for Var u = q1, Var v = q2, Cov(u, v) = c.
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F);

    /// (T(q; q, q), Ṫ(q; q, q)): the variance after the layer and the NTK factor of a point with
    /// itself, from formulas that hold at c = q (where some general forms are 0/0).
    fn dual_diag<F: Real>(&self, q: F) -> (F, F);

    /// T(c; q1, q2) = E[φ(u)φ(v)].
    fn nngp(&self, c: f64, q1: f64, q2: f64) -> f64 {
        self.dual(c, q1, q2).0
    }

    /// Ṫ(c; q1, q2) = E[φ'(u)φ'(v)].
    fn dot(&self, c: f64, q1: f64, q2: f64) -> f64 {
        self.dual(c, q1, q2).1
    }

    /// The dual on the unit sphere, (κ(ρ), κ'(ρ)) = (T(ρ; 1, 1), Ṫ(ρ; 1, 1)) for ρ ∈ [−1, 1].
    fn sphere(&self, rho: f64) -> (f64, f64) {
        if rho == 1.0 {
            self.dual_diag(1.0)
        } else {
            self.dual(rho, 1.0, 1.0)
        }
    }

    /// The normalized dual φ̌(ρ) = κ(ρ)/κ(1) and its derivative κ'(ρ)/κ(1): the dual of φ rescaled so
    /// that E[φ(z)²] = 1 for z ~ N(0, 1), as used for infinite-depth limits (φ̌(1) = 1).
    fn normalized(&self, rho: f64) -> (f64, f64) {
        let (k1, _) = self.dual_diag(1.0);
        let (k, dk) = self.sphere(rho);
        (k / k1, dk / k1)
    }
}

/// How smooth an activation is: this decides whether a kernel can be differentiated with respect to
/// the inputs where a layer's two pre-activations are perfectly correlated (θ = 0 or π, e.g. at a
/// training point) or one of them is identically zero (a zero input without bias).
///
/// At such a degenerate pair the kernel varies like Tₗ(θ) with θ ∝ |δx|, so a layer contributes a
/// term linear in |δx| (no derivative) exactly when ∂T/∂c = Ṫ (for the NNGP) or ∂Ṫ/∂c = E[φ''φ''] (for
/// the NTK) is unbounded there, i.e. when φ or φ' jumps. At a zero-variance pair the kernel behaves
/// like φ (NNGP) or φ' (NTK) near 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smoothness {
    /// φ'' bounded near every point: both kernels differentiable everywhere.
    Smooth,
    /// φ' continuous with a kink (ELU with α = 1, x²·1[x ≥ 0]): both kernels differentiable at
    /// correlated pairs; the NTK not at a zero-variance pair.
    KinkedDerivative,
    /// φ continuous, φ' jumps (ReLU, leaky ReLU, |x|, ELU with α ≠ 1, SELU): the NNGP is
    /// differentiable at correlated pairs, the NTK is not; neither at a zero-variance pair.
    Kinked,
    /// φ jumps (sign, step): neither kernel is differentiable at a degenerate pair.
    Jump,
}

/// Every supported activation, with its parameters.
///
/// The closed forms follow neural-tangents 0.6.5 where it has the layer (same parameter names and
/// defaults); [`Activation::Sigmoid`], [`Activation::Tanh`], [`Activation::Softplus`],
/// [`Activation::Silu`], [`Activation::Elu`], [`Activation::Selu`] and [`Activation::Custom`] have no
/// closed form and use quadrature ([`QuadratureDual`]: the polar rule for the named ones, and 2-D
/// Gauss–Hermite or the polar rule, as built, for a custom one).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Activation {
    /// max(x, 0).
    Relu,
    /// α·min(x, 0) + max(x, 0).
    LeakyRelu {
        /// Slope for x < 0.
        alpha: f64,
    },
    /// a·min(x, 0) + b·max(x, 0).
    AbRelu {
        /// Slope for x < 0.
        a: f64,
        /// Slope for x > 0.
        b: f64,
    },
    /// |x|.
    Abs,
    /// a·erf(b·x) + c.
    Erf {
        /// Output scale.
        a: f64,
        /// Input scale.
        b: f64,
        /// Output shift.
        c: f64,
    },
    /// ½·erf(x/2) + ½, the erf approximation of the logistic sigmoid used by Jiang & Pehlevan (2020).
    SigmoidErf,
    /// neural-tangents' `Sigmoid_like`: ½·erf(x/2.4020563531719796) + ½.
    SigmoidLike,
    /// x·Φ(x) (exact GELU).
    Gelu,
    /// a·sin(b·x + c).
    Sin {
        /// Output scale.
        a: f64,
        /// Input scale.
        b: f64,
        /// Phase.
        c: f64,
    },
    /// a·cos(b·x + c) = a·sin(b·x + c + π/2).
    Cos {
        /// Output scale.
        a: f64,
        /// Input scale.
        b: f64,
        /// Phase.
        c: f64,
    },
    /// √2·sin(√(2γ)·x + π/4), whose NNGP is the RBF kernel exp(−γ‖x − x'‖²/d).
    Rbf {
        /// γ ≥ 0.
        gamma: f64,
    },
    /// a·e^{b·x}.
    Exp {
        /// Output scale.
        a: f64,
        /// Input scale.
        b: f64,
    },
    /// a·e^{b·x²}.
    Gaussian {
        /// Output scale.
        a: f64,
        /// Exponent coefficient.
        b: f64,
    },
    /// xⁿ.
    Monomial {
        /// n ≤ [`MAX_POLY_DEGREE`].
        degree: u32,
    },
    /// xⁿ·1[x ≥ 0] (arc-cosine kernel of order n).
    RectifiedMonomial {
        /// n ≤ [`MAX_RECTIFIED_DEGREE`].
        degree: u32,
    },
    /// sign(x).
    Sign,
    /// Σₘ coef\[m\]·xᵐ.
    Polynomial {
        /// Coefficients, constant term first.
        coef: Vec<f64>,
    },
    /// Heₙ(x)/√(n!), the normalized probabilists' Hermite polynomial (exact for any variance).
    Hermite {
        /// n ≤ [`MAX_POLY_DEGREE`].
        degree: u32,
    },
    /// e^{−x²}·sin x.
    Gabor,
    /// α·x + β.
    Affine {
        /// Slope.
        alpha: f64,
        /// Offset.
        beta: f64,
    },
    /// x.
    Identity,
    /// 1/(1 + e^{−x}) (quadrature).
    Sigmoid,
    /// tanh x (quadrature).
    Tanh,
    /// ln(1 + eˣ) (quadrature).
    Softplus,
    /// x·σ(x), also called swish (quadrature).
    Silu,
    /// x for x > 0, α(eˣ − 1) otherwise (quadrature).
    Elu {
        /// Negative saturation value.
        alpha: f64,
    },
    /// λ·ELU_α with α ≈ 1.6733, λ ≈ 1.0507 (quadrature).
    Selu,
    /// Any activation given as functions, with its own quadrature rule.
    Custom(QuadratureDual),
}

/// The `b` of neural-tangents' `Sigmoid_like` (an L2 fit of erf to the logistic sigmoid on [−5, 5]).
pub const SIGMOID_LIKE_SCALE: f64 = 2.402_056_353_171_979_6;

/// An activation's dual, ready to evaluate: what [`Activation::dual`] returns.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Dual {
    /// ABReLU family.
    AbRelu(AbReluDual),
    /// sign(x).
    Sign(SignDual),
    /// Arc-cosine kernels.
    RectifiedMonomial(RectifiedMonomialDual),
    /// Erf family.
    Erf(ErfDual),
    /// GELU.
    Gelu(GeluDual),
    /// Sin, Cos.
    Sin(SinDual),
    /// RBF feature map.
    Rbf(RbfDual),
    /// Exponential.
    Exp(ExpDual),
    /// Gaussian bump.
    Gaussian(GaussianDual),
    /// Gabor function.
    Gabor(GaborDual),
    /// Polynomials, monomials, Hermite.
    Polynomial(PolynomialDual),
    /// Affine maps.
    Affine(AffineDual),
    /// Quadrature (2-D Gauss–Hermite or the polar rule).
    Quadrature(QuadratureDual),
}

macro_rules! dispatch {
    ($self:ident, $d:ident => $e:expr) => {
        match $self {
            Dual::AbRelu($d) => $e,
            Dual::Sign($d) => $e,
            Dual::RectifiedMonomial($d) => $e,
            Dual::Erf($d) => $e,
            Dual::Gelu($d) => $e,
            Dual::Sin($d) => $e,
            Dual::Rbf($d) => $e,
            Dual::Exp($d) => $e,
            Dual::Gaussian($d) => $e,
            Dual::Gabor($d) => $e,
            Dual::Polynomial($d) => $e,
            Dual::Affine($d) => $e,
            Dual::Quadrature($d) => $e,
        }
    };
}

impl DualActivation for Dual {
    #[inline(always)]
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        dispatch!(self, d => d.dual(c, q1, q2))
    }
    #[inline(always)]
    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        dispatch!(self, d => d.dual_diag(q))
    }
}

/// Entries of a kernel matrix that run through the layers together.
pub(crate) const LANES: usize = 8;

/// One activation layer applied to [`LANES`] independent entries (covariances `c`, NTKs `th`, first
/// points' variances `q1`, common second variance `q2`). Interleaving independent entries lets the
/// CPU overlap their long dependency chains (sqrt, atan2, divisions); one dispatch per layer.
#[inline(always)]
fn lanes<D: DualActivation>(
    d: &D,
    c: &mut [f64; LANES],
    th: &mut [f64; LANES],
    q1: &[f64; LANES],
    q2: f64,
) {
    for l in 0..LANES {
        // ρ = 1 exactly (identical points): the diagonal formulas keep Σ(x, x) bit-equal to the
        // variance (see `Network::pair_chain`).
        let (t, dot) = if c[l] == q1[l] && c[l] == q2 {
            d.dual_diag(c[l])
        } else {
            d.dual(c[l], q1[l], q2)
        };
        c[l] = t;
        th[l] *= dot;
    }
}

impl Dual {
    pub(crate) fn apply_lanes(
        &self,
        c: &mut [f64; LANES],
        th: &mut [f64; LANES],
        q1: &[f64; LANES],
        q2: f64,
    ) {
        dispatch!(self, d => lanes(d, c, th, q1, q2))
    }

    /// Whether Ṫ = E[φ'φ'] equals ∂T/∂c. It does not for sign(x) and the step x⁰·1[x ≥ 0], whose
    /// derivative vanishes almost everywhere (Ṫ = 0) while T still depends on c.
    pub fn dot_is_derivative(&self) -> bool {
        !matches!(self, Dual::Sign(_))
            && !matches!(self, Dual::RectifiedMonomial(r) if r.degree() == 0)
    }
}

/// A named quadrature activation: the polar rule (see [`QuadratureDual::polar`]), with φ and φ'
/// from one call of `g` = (φ, φ', φ'').
fn quad(
    name: &str,
    nodes: usize,
    g: impl Fn(f64) -> (f64, f64, f64) + Copy + Send + Sync + 'static,
) -> Result<Dual> {
    Ok(Dual::Quadrature(QuadratureDual::polar_pair(
        name,
        Arc::new(move |x| {
            let (f, df, _) = g(x);
            (f, df)
        }),
        Some(Arc::new(move |x| g(x).2)),
        nodes,
    )?))
}

fn check_degree(degree: u32, max: usize) -> Result<usize> {
    if degree as usize > max {
        Err(invalid("degree", degree, &format!("must be at most {max}")))
    } else {
        Ok(degree as usize)
    }
}

impl Activation {
    /// The dual of this activation, with quadrature rules of [`DEFAULT_NODES`] nodes per dimension.
    pub fn dual(&self) -> Result<Dual> {
        self.dual_with_nodes(DEFAULT_NODES)
    }

    /// The dual of this activation; named quadrature activations use `nodes` points per dimension
    /// ([`Activation::Custom`] keeps its own rule). Fails on a non-finite or out-of-range parameter.
    pub fn dual_with_nodes(&self, nodes: usize) -> Result<Dual> {
        use Activation as A;
        let ab = |a: f64, b: f64| -> Result<Dual> {
            check_finite_param("a", a)?;
            check_finite_param("b", b)?;
            Ok(Dual::AbRelu(AbReluDual { a, b }))
        };
        let erf = |a: f64, b: f64, c: f64| -> Result<Dual> {
            for (n, v) in [("a", a), ("b", b), ("c", c)] {
                check_finite_param(n, v)?;
            }
            Ok(Dual::Erf(ErfDual { a, b, c }))
        };
        let sin = |a: f64, b: f64, c: f64| -> Result<Dual> {
            for (n, v) in [("a", a), ("b", b), ("c", c)] {
                check_finite_param(n, v)?;
            }
            Ok(Dual::Sin(SinDual { a, b, c }))
        };
        match self {
            A::Relu => ab(0.0, 1.0),
            A::LeakyRelu { alpha } => {
                check_finite_param("alpha", *alpha)?;
                ab(*alpha, 1.0)
            }
            A::AbRelu { a, b } => ab(*a, *b),
            A::Abs => ab(-1.0, 1.0),
            A::Erf { a, b, c } => erf(*a, *b, *c),
            A::SigmoidErf => erf(0.5, 0.5, 0.5),
            A::SigmoidLike => erf(0.5, 1.0 / SIGMOID_LIKE_SCALE, 0.5),
            A::Gelu => Ok(Dual::Gelu(GeluDual)),
            A::Sin { a, b, c } => sin(*a, *b, *c),
            A::Cos { a, b, c } => sin(*a, *b, *c + FRAC_PI_2),
            A::Rbf { gamma } => {
                check_finite_param("gamma", *gamma)?;
                if *gamma < 0.0 {
                    return Err(invalid("gamma", gamma, "must be ≥ 0"));
                }
                Ok(Dual::Rbf(RbfDual { gamma: *gamma }))
            }
            A::Exp { a, b } => {
                check_finite_param("a", *a)?;
                check_finite_param("b", *b)?;
                Ok(Dual::Exp(ExpDual { a: *a, b: *b }))
            }
            A::Gaussian { a, b } => {
                check_finite_param("a", *a)?;
                check_finite_param("b", *b)?;
                Ok(Dual::Gaussian(GaussianDual { a: *a, b: *b }))
            }
            A::Monomial { degree } => Ok(Dual::Polynomial(PolynomialDual::new(
                &PolynomialDual::monomial_coef(check_degree(*degree, MAX_POLY_DEGREE)?),
            )?)),
            A::RectifiedMonomial { degree } => Ok(Dual::RectifiedMonomial(
                RectifiedMonomialDual::new(*degree)?,
            )),
            A::Sign => Ok(Dual::Sign(SignDual)),
            A::Polynomial { coef } => Ok(Dual::Polynomial(PolynomialDual::new(coef)?)),
            A::Hermite { degree } => Ok(Dual::Polynomial(PolynomialDual::new(
                &PolynomialDual::hermite_coef(check_degree(*degree, MAX_POLY_DEGREE)?),
            )?)),
            A::Gabor => Ok(Dual::Gabor(GaborDual)),
            A::Affine { alpha, beta } => {
                check_finite_param("alpha", *alpha)?;
                check_finite_param("beta", *beta)?;
                Ok(Dual::Affine(AffineDual {
                    alpha: *alpha,
                    beta: *beta,
                }))
            }
            A::Identity => Ok(Dual::Affine(AffineDual {
                alpha: 1.0,
                beta: 0.0,
            })),
            A::Sigmoid => quad("sigmoid", nodes, smooth::sigmoid_derivs),
            A::Tanh => quad("tanh", nodes, smooth::tanh_derivs),
            A::Softplus => quad("softplus", nodes, smooth::softplus_derivs),
            A::Silu => quad("silu", nodes, smooth::silu_derivs),
            A::Elu { alpha } => {
                check_finite_param("alpha", *alpha)?;
                let a = *alpha;
                quad("elu", nodes, move |x| smooth::elu_derivs(x, a))
            }
            A::Selu => quad("selu", nodes, smooth::selu_derivs),
            A::Custom(q) => Ok(Dual::Quadrature(q.clone())),
        }
    }

    /// φ(x), the activation itself.
    pub fn eval(&self, x: f64) -> f64 {
        self.eval_with_derivative(x).0
    }

    /// φ'(x) (0 where φ is not differentiable and for sign/step, matching Ṫ's convention).
    pub fn derivative(&self, x: f64) -> f64 {
        self.eval_with_derivative(x).1
    }

    /// (φ(x), φ'(x)).
    pub fn eval_with_derivative(&self, x: f64) -> (f64, f64) {
        use Activation as A;
        use libm::erf;
        let abrelu = |a: f64, b: f64| {
            if x > 0.0 {
                (b * x, b)
            } else {
                (a * x, if x < 0.0 { a } else { 0.5 * (a + b) })
            }
        };
        let erf_fn = |a: f64, b: f64, c: f64| {
            let g = 2.0 / std::f64::consts::PI.sqrt() * (-(b * x) * (b * x)).exp();
            (a * erf(b * x) + c, a * b * g)
        };
        let poly = |coef: &[f64]| {
            let v = coef.iter().rev().fold(0.0, |acc, &k| acc * x + k);
            let d = coef
                .iter()
                .enumerate()
                .skip(1)
                .rev()
                .fold(0.0, |acc, (m, &k)| acc * x + m as f64 * k);
            (v, d)
        };
        match self {
            A::Relu => abrelu(0.0, 1.0),
            A::LeakyRelu { alpha } => abrelu(*alpha, 1.0),
            A::AbRelu { a, b } => abrelu(*a, *b),
            A::Abs => abrelu(-1.0, 1.0),
            A::Erf { a, b, c } => erf_fn(*a, *b, *c),
            A::SigmoidErf => erf_fn(0.5, 0.5, 0.5),
            A::SigmoidLike => erf_fn(0.5, 1.0 / SIGMOID_LIKE_SCALE, 0.5),
            A::Gelu => {
                let cdf = 0.5 * (1.0 + erf(x / SQRT_2));
                let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
                (x * cdf, cdf + x * pdf)
            }
            A::Sin { a, b, c } => (a * (b * x + c).sin(), a * b * (b * x + c).cos()),
            A::Cos { a, b, c } => (a * (b * x + c).cos(), -a * b * (b * x + c).sin()),
            A::Rbf { gamma } => {
                let k = (2.0 * gamma).sqrt();
                (
                    SQRT_2 * (k * x + FRAC_PI_4).sin(),
                    SQRT_2 * k * (k * x + FRAC_PI_4).cos(),
                )
            }
            A::Exp { a, b } => (a * (b * x).exp(), a * b * (b * x).exp()),
            A::Gaussian { a, b } => {
                let e = a * (b * x * x).exp();
                (e, 2.0 * b * x * e)
            }
            A::Monomial { degree } => {
                let n = *degree as i32;
                (
                    x.powi(n),
                    if n == 0 {
                        0.0
                    } else {
                        n as f64 * x.powi(n - 1)
                    },
                )
            }
            A::RectifiedMonomial { degree } => {
                let n = *degree as i32;
                if x < 0.0 {
                    (0.0, 0.0)
                } else if n == 0 {
                    (1.0, 0.0)
                } else {
                    (x.powi(n), n as f64 * x.powi(n - 1))
                }
            }
            A::Sign => (
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                },
                0.0,
            ),
            A::Polynomial { coef } => poly(coef),
            A::Hermite { degree } => poly(&PolynomialDual::hermite_coef(*degree as usize)),
            A::Gabor => {
                let e = (-x * x).exp();
                (e * x.sin(), e * (x.cos() - 2.0 * x * x.sin()))
            }
            A::Affine { alpha, beta } => (alpha * x + beta, *alpha),
            A::Identity => (x, 1.0),
            A::Sigmoid => pair(smooth::sigmoid_derivs(x)),
            A::Tanh => pair(smooth::tanh_derivs(x)),
            A::Softplus => pair(smooth::softplus_derivs(x)),
            A::Silu => pair(smooth::silu_derivs(x)),
            A::Elu { alpha } => pair(smooth::elu_derivs(x, *alpha)),
            A::Selu => pair(smooth::selu_derivs(x)),
            A::Custom(q) => q.eval_with_derivative(x),
        }
    }

    /// How smooth φ is, which decides where the kernels can be differentiated with respect to
    /// the inputs (see [`Smoothness`]). A custom activation is classified by testing φ and φ' for a
    /// jump at 0, the only kink its quadrature rule knows of.
    pub fn smoothness(&self) -> Smoothness {
        use Activation as A;
        use Smoothness as S;
        match self {
            A::Relu | A::Abs | A::Selu => S::Kinked,
            A::LeakyRelu { alpha } if *alpha != 1.0 => S::Kinked,
            A::AbRelu { a, b } if a != b => S::Kinked,
            A::Elu { alpha } => {
                if *alpha == 1.0 {
                    S::KinkedDerivative
                } else {
                    S::Kinked
                }
            }
            A::Sign => S::Jump,
            A::RectifiedMonomial { degree } => match degree {
                0 => S::Jump,
                1 => S::Kinked,
                2 => S::KinkedDerivative,
                _ => S::Smooth,
            },
            A::Custom(q) => {
                let h = 1e-9;
                let ((fl, dl), (fr, dr), (f0, d0)) = (
                    q.eval_with_derivative(-h),
                    q.eval_with_derivative(h),
                    q.eval_with_derivative(0.0),
                );
                let jump = |l: f64, r: f64, m: f64| (r - l).abs() > 1e-6 * (1.0 + m.abs());
                if jump(fl, fr, f0) {
                    S::Jump
                } else if jump(dl, dr, d0) {
                    S::Kinked
                } else {
                    S::Smooth
                }
            }
            _ => S::Smooth,
        }
    }

    /// A short name with the parameters, as used in error messages and the spec.
    pub fn name(&self) -> String {
        use Activation as A;
        match self {
            A::Relu => "relu".into(),
            A::LeakyRelu { alpha } => format!("leaky_relu(alpha={alpha})"),
            A::AbRelu { a, b } => format!("ab_relu(a={a}, b={b})"),
            A::Abs => "abs".into(),
            A::Erf { a, b, c } => format!("erf(a={a}, b={b}, c={c})"),
            A::SigmoidErf => "sigmoid_erf".into(),
            A::SigmoidLike => "sigmoid_like".into(),
            A::Gelu => "gelu".into(),
            A::Sin { a, b, c } => format!("sin(a={a}, b={b}, c={c})"),
            A::Cos { a, b, c } => format!("cos(a={a}, b={b}, c={c})"),
            A::Rbf { gamma } => format!("rbf(gamma={gamma})"),
            A::Exp { a, b } => format!("exp(a={a}, b={b})"),
            A::Gaussian { a, b } => format!("gaussian(a={a}, b={b})"),
            A::Monomial { degree } => format!("monomial(degree={degree})"),
            A::RectifiedMonomial { degree } => format!("rectified_monomial(degree={degree})"),
            A::Sign => "sign".into(),
            A::Polynomial { coef } => format!("polynomial(coef={coef:?})"),
            A::Hermite { degree } => format!("hermite(degree={degree})"),
            A::Gabor => "gabor".into(),
            A::Affine { alpha, beta } => format!("affine(alpha={alpha}, beta={beta})"),
            A::Identity => "identity".into(),
            A::Sigmoid => "sigmoid".into(),
            A::Tanh => "tanh".into(),
            A::Softplus => "softplus".into(),
            A::Silu => "silu".into(),
            A::Elu { alpha } => format!("elu(alpha={alpha})"),
            A::Selu => "selu".into(),
            A::Custom(q) => q.name().to_string(),
        }
    }
}

fn pair(t: (f64, f64, f64)) -> (f64, f64) {
    (t.0, t.1)
}
