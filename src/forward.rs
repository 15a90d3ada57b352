//! Forward-mode derivatives: a number that carries its partial derivatives along.
//!
//! [`Fwd<N>`] holds a value v and N partials ∂v/∂pₖ with respect to chosen inputs p₁ … p_N. Every
//! arithmetic operation and elementary function applies the chain rule, so running the kernel
//! recursion (which is generic over [`Real`]) on `Fwd` numbers gives the exact derivatives of Σ and Θ
//! with respect to the input kernel (c0, q1, q2) at the cost of N + 1 recursions, with no step size
//! to choose. [`crate::jacobian`] uses it for ∂Θ(xᵢ, x)/∂x.
//!
//! Comparisons (`==`, `<`, …) look at the values only, so branches in the closed forms are taken
//! exactly as for `f64`.
//!
//! ```
//! use ntk::{Fwd, Real};
//! use num_traits::Float;
//!
//! // f(x, y) = x·sin(y) at (2, 0.5): ∂f/∂x = sin 0.5, ∂f/∂y = 2·cos 0.5.
//! let x = Fwd::<2>::variable(2.0, 0);
//! let y = Fwd::<2>::variable(0.5, 1);
//! let f = x * y.sin();
//! assert!((f.value() - 2.0 * 0.5f64.sin()).abs() < 1e-15);
//! assert!((f.d[0] - 0.5f64.sin()).abs() < 1e-15);
//! assert!((f.d[1] - 2.0 * 0.5f64.cos()).abs() < 1e-15);
//! ```

use crate::real::Real;
use num_traits::{Float, FloatConst, Num, NumCast, One, ToPrimitive, Zero};
use std::cmp::Ordering;
use std::num::FpCategory;
use std::ops::{Add, Div, Mul, Neg, Rem, Sub};

/// A value with its partial derivatives with respect to N inputs (forward-mode automatic
/// differentiation).
#[derive(Debug, Clone, Copy)]
pub struct Fwd<const N: usize> {
    /// The value.
    pub v: f64,
    /// ∂v/∂pₖ for k = 0 … N − 1.
    pub d: [f64; N],
}

impl<const N: usize> Fwd<N> {
    /// A constant (all partials zero).
    pub const fn constant(v: f64) -> Self {
        Fwd { v, d: [0.0; N] }
    }

    /// The input pₖ itself: value `v`, ∂/∂pₖ = 1, other partials zero.
    ///
    /// # Panics
    /// If `k >= N` (a programming error, not user input).
    pub fn variable(v: f64, k: usize) -> Self {
        let mut d = [0.0; N];
        d[k] = 1.0;
        Fwd { v, d }
    }

    /// Value `v` with the given partials.
    pub const fn new(v: f64, d: [f64; N]) -> Self {
        Fwd { v, d }
    }

    /// f(self) with f'(v) = `df`: partials scaled by `df`. A partial that is exactly zero stays zero
    /// even where f' is infinite (√ at 0): the input does not move in that direction.
    #[inline(always)]
    fn chain(self, f: f64, df: f64) -> Self {
        let mut d = self.d;
        for x in &mut d {
            if *x != 0.0 {
                *x *= df;
            }
        }
        Fwd { v: f, d }
    }

    /// Whether the value and every partial are finite.
    pub fn all_finite(&self) -> bool {
        self.v.is_finite() && self.d.iter().all(|x| x.is_finite())
    }
}

impl<const N: usize> PartialEq for Fwd<N> {
    fn eq(&self, other: &Self) -> bool {
        self.v == other.v
    }
}

impl<const N: usize> PartialOrd for Fwd<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.v.partial_cmp(&other.v)
    }
}

impl<const N: usize> Add for Fwd<N> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Fwd {
            v: self.v + o.v,
            d: std::array::from_fn(|k| self.d[k] + o.d[k]),
        }
    }
}

impl<const N: usize> Sub for Fwd<N> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Fwd {
            v: self.v - o.v,
            d: std::array::from_fn(|k| self.d[k] - o.d[k]),
        }
    }
}

// The product and quotient rules mix + and − into * and /.
#[allow(clippy::suspicious_arithmetic_impl)]
impl<const N: usize> Mul for Fwd<N> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        Fwd {
            v: self.v * o.v,
            d: std::array::from_fn(|k| self.d[k] * o.v + self.v * o.d[k]),
        }
    }
}

#[allow(clippy::suspicious_arithmetic_impl)]
impl<const N: usize> Div for Fwd<N> {
    type Output = Self;
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        let q = self.v / o.v;
        Fwd {
            v: q,
            d: std::array::from_fn(|k| (self.d[k] - q * o.d[k]) / o.v),
        }
    }
}

impl<const N: usize> Rem for Fwd<N> {
    type Output = Self;
    fn rem(self, o: Self) -> Self {
        // a % b = a − trunc(a/b)·b, with trunc locally constant.
        let t = (self.v / o.v).trunc();
        Fwd {
            v: self.v % o.v,
            d: std::array::from_fn(|k| self.d[k] - t * o.d[k]),
        }
    }
}

impl<const N: usize> Neg for Fwd<N> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Fwd {
            v: -self.v,
            d: self.d.map(|x| -x),
        }
    }
}

impl<const N: usize> Zero for Fwd<N> {
    fn zero() -> Self {
        Self::constant(0.0)
    }
    fn is_zero(&self) -> bool {
        self.v == 0.0
    }
}

impl<const N: usize> One for Fwd<N> {
    fn one() -> Self {
        Self::constant(1.0)
    }
}

impl<const N: usize> Num for Fwd<N> {
    type FromStrRadixErr = <f64 as Num>::FromStrRadixErr;
    fn from_str_radix(s: &str, radix: u32) -> Result<Self, Self::FromStrRadixErr> {
        f64::from_str_radix(s, radix).map(Self::constant)
    }
}

impl<const N: usize> ToPrimitive for Fwd<N> {
    fn to_i64(&self) -> Option<i64> {
        self.v.to_i64()
    }
    fn to_u64(&self) -> Option<u64> {
        self.v.to_u64()
    }
    fn to_f64(&self) -> Option<f64> {
        Some(self.v)
    }
}

impl<const N: usize> NumCast for Fwd<N> {
    fn from<T: ToPrimitive>(n: T) -> Option<Self> {
        n.to_f64().map(Self::constant)
    }
}

macro_rules! constants {
    ($($name:ident),*) => {
        impl<const N: usize> FloatConst for Fwd<N> {
            $(fn $name() -> Self { Self::constant(std::f64::consts::$name) })*
        }
    };
}
constants!(
    E,
    FRAC_1_PI,
    FRAC_1_SQRT_2,
    FRAC_2_PI,
    FRAC_2_SQRT_PI,
    FRAC_PI_2,
    FRAC_PI_3,
    FRAC_PI_4,
    FRAC_PI_6,
    FRAC_PI_8,
    LN_10,
    LN_2,
    LOG10_E,
    LOG2_E,
    PI,
    SQRT_2
);

/// Functions whose derivative is a function of the value alone: (name, f, f').
macro_rules! unary {
    ($($name:ident => |$x:ident| $df:expr),* $(,)?) => {
        $(
            #[inline(always)]
            fn $name(self) -> Self {
                let $x = self.v;
                self.chain($x.$name(), $df)
            }
        )*
    };
}

impl<const N: usize> Float for Fwd<N> {
    fn nan() -> Self {
        Self::constant(f64::NAN)
    }
    fn infinity() -> Self {
        Self::constant(f64::INFINITY)
    }
    fn neg_infinity() -> Self {
        Self::constant(f64::NEG_INFINITY)
    }
    fn neg_zero() -> Self {
        Self::constant(-0.0)
    }
    fn min_value() -> Self {
        Self::constant(f64::MIN)
    }
    fn min_positive_value() -> Self {
        Self::constant(f64::MIN_POSITIVE)
    }
    fn max_value() -> Self {
        Self::constant(f64::MAX)
    }
    fn is_nan(self) -> bool {
        self.v.is_nan()
    }
    fn is_infinite(self) -> bool {
        self.v.is_infinite()
    }
    fn is_finite(self) -> bool {
        self.v.is_finite()
    }
    fn is_normal(self) -> bool {
        self.v.is_normal()
    }
    fn classify(self) -> FpCategory {
        self.v.classify()
    }
    // Piecewise-constant functions: derivative zero.
    fn floor(self) -> Self {
        Self::constant(self.v.floor())
    }
    fn ceil(self) -> Self {
        Self::constant(self.v.ceil())
    }
    fn round(self) -> Self {
        Self::constant(self.v.round())
    }
    fn trunc(self) -> Self {
        Self::constant(self.v.trunc())
    }
    fn fract(self) -> Self {
        Fwd {
            v: self.v.fract(),
            d: self.d,
        }
    }
    /// |x| with the one-sided derivative +1 at 0.
    fn abs(self) -> Self {
        if self.v < 0.0 {
            -self
        } else {
            Fwd {
                v: self.v.abs(),
                d: self.d,
            }
        }
    }
    fn signum(self) -> Self {
        Self::constant(self.v.signum())
    }
    fn is_sign_positive(self) -> bool {
        self.v.is_sign_positive()
    }
    fn is_sign_negative(self) -> bool {
        self.v.is_sign_negative()
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }
    fn powi(self, n: i32) -> Self {
        let df = if n == 0 {
            0.0
        } else {
            n as f64 * self.v.powi(n - 1)
        };
        self.chain(self.v.powi(n), df)
    }
    fn powf(self, e: Self) -> Self {
        let p = self.v.powf(e.v);
        let base = self.chain(p, e.v * self.v.powf(e.v - 1.0));
        if e.d.iter().all(|&x| x == 0.0) {
            return base;
        }
        let ln = self.v.ln();
        Fwd {
            v: p,
            d: std::array::from_fn(|k| base.d[k] + p * ln * e.d[k]),
        }
    }
    fn max(self, o: Self) -> Self {
        if self.v >= o.v || o.v.is_nan() {
            self
        } else {
            o
        }
    }
    fn min(self, o: Self) -> Self {
        if self.v <= o.v || o.v.is_nan() {
            self
        } else {
            o
        }
    }
    fn abs_sub(self, o: Self) -> Self {
        if self.v <= o.v {
            Self::zero()
        } else {
            self - o
        }
    }
    fn log(self, base: Self) -> Self {
        self.ln() / base.ln()
    }
    fn hypot(self, o: Self) -> Self {
        (self * self + o * o).sqrt()
    }
    fn atan2(self, x: Self) -> Self {
        // d atan2(y, x) = (x dy − y dx)/(x² + y²)
        let r2 = x.v * x.v + self.v * self.v;
        Fwd {
            v: self.v.atan2(x.v),
            d: std::array::from_fn(|k| {
                let num = x.v * self.d[k] - self.v * x.d[k];
                if num == 0.0 { 0.0 } else { num / r2 }
            }),
        }
    }
    fn sin_cos(self) -> (Self, Self) {
        (self.sin(), self.cos())
    }
    fn integer_decode(self) -> (u64, i16, i8) {
        self.v.integer_decode()
    }
    fn recip(self) -> Self {
        let r = 1.0 / self.v;
        self.chain(r, -r * r)
    }
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }
    fn exp2(self) -> Self {
        let e = self.v.exp2();
        self.chain(e, e * std::f64::consts::LN_2)
    }
    fn exp_m1(self) -> Self {
        self.chain(self.v.exp_m1(), self.v.exp())
    }
    fn sqrt(self) -> Self {
        let s = self.v.sqrt();
        self.chain(s, 0.5 / s)
    }
    fn cbrt(self) -> Self {
        let s = self.v.cbrt();
        self.chain(s, 1.0 / (3.0 * s * s))
    }
    unary! {
        ln => |x| 1.0 / x,
        log2 => |x| 1.0 / (x * std::f64::consts::LN_2),
        log10 => |x| 1.0 / (x * std::f64::consts::LN_10),
        ln_1p => |x| 1.0 / (1.0 + x),
        sin => |x| x.cos(),
        cos => |x| -x.sin(),
        tan => |x| 1.0 + x.tan() * x.tan(),
        asin => |x| 1.0 / (1.0 - x * x).sqrt(),
        acos => |x| -1.0 / (1.0 - x * x).sqrt(),
        atan => |x| 1.0 / (1.0 + x * x),
        sinh => |x| x.cosh(),
        cosh => |x| x.sinh(),
        tanh => |x| 1.0 - x.tanh() * x.tanh(),
        asinh => |x| 1.0 / (x * x + 1.0).sqrt(),
        acosh => |x| 1.0 / (x * x - 1.0).sqrt(),
        atanh => |x| 1.0 / (1.0 - x * x),
    }
}

impl<const N: usize> Real for Fwd<N> {
    #[inline(always)]
    fn cst(x: f64) -> Self {
        Self::constant(x)
    }
    #[inline(always)]
    fn value(self) -> f64 {
        self.v
    }
    #[inline(always)]
    fn lift(self, f: &dyn Fn(f64) -> f64, df: &dyn Fn(f64) -> f64) -> Self {
        if self.d.iter().all(|&x| x == 0.0) {
            return Self::constant(f(self.v));
        }
        self.chain(f(self.v), df(self.v))
    }
    #[inline(always)]
    fn lift_pair(self, fd: &dyn Fn(f64) -> (f64, f64), d2: &dyn Fn(f64) -> f64) -> (Self, Self) {
        let (f, df) = fd(self.v);
        if self.d.iter().all(|&x| x == 0.0) {
            return (Self::constant(f), Self::constant(df));
        }
        (self.chain(f, df), self.chain(df, d2(self.v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central differences of `f` along input k at `p`, step 1e-6: truncation O(h²) ≈ 1e-12
    /// times the third derivative, rounding ≈ 1e-16/1e-6 = 1e-10 relative.
    fn fd(f: &dyn Fn(f64, f64) -> f64, p: (f64, f64), k: usize) -> f64 {
        let h = 1e-6;
        let (a, b) = if k == 0 {
            ((p.0 + h, p.1), (p.0 - h, p.1))
        } else {
            ((p.0, p.1 + h), (p.0, p.1 - h))
        };
        (f(a.0, a.1) - f(b.0, b.1)) / (2.0 * h)
    }

    #[test]
    fn every_function_matches_finite_differences() {
        type F = Fwd<2>;
        type Case = (&'static str, fn(F, F) -> F, fn(f64, f64) -> f64);
        let cases: Vec<Case> = vec![
            ("mul", |x, y| x * y, |x, y| x * y),
            ("div", |x, y| x / y, |x, y| x / y),
            ("sub", |x, y| x - y, |x, y| x - y),
            ("sqrt", |x, y| (x * x + y).sqrt(), |x, y| (x * x + y).sqrt()),
            ("exp", |x, y| (x - y).exp(), |x, y| (x - y).exp()),
            ("ln", |x, y| (x + y).ln(), |x, y| (x + y).ln()),
            ("ln_1p", |x, y| (x * y).ln_1p(), |x, y| (x * y).ln_1p()),
            ("powi", |x, y| (x + y).powi(3), |x, y| (x + y).powi(3)),
            ("powf", |x, y| x.powf(y), |x, y| x.powf(y)),
            ("sin", |x, y| (x * y).sin(), |x, y| (x * y).sin()),
            ("cos", |x, y| (x * y).cos(), |x, y| (x * y).cos()),
            ("tanh", |x, y| (x - y).tanh(), |x, y| (x - y).tanh()),
            ("atan2", |x, y| y.atan2(x), |x, y| y.atan2(x)),
            ("atan2_fast", |x, y| y.atan2_fast(-x), |x, y| y.atan2(-x)),
            (
                "asin",
                |x, y| (y / (x + y * y + F::constant(1.0))).asin(),
                |x, y| (y / (x + y * y + 1.0)).asin(),
            ),
            ("abs", |x, y| (y - x).abs(), |x, y| (y - x).abs()),
            ("max", |x, y| x.max(y * y), |x, y| x.max(y * y)),
            ("recip", |x, y| (x + y).recip(), |x, y| (x + y).recip()),
        ];
        for (name, f, g) in cases {
            for p in [(1.3, 0.7), (2.1, -0.4), (0.6, 1.9)] {
                let r = f(F::variable(p.0, 0), F::variable(p.1, 1));
                assert!(
                    (r.v - g(p.0, p.1)).abs() <= 1e-15 * (1.0 + r.v.abs()),
                    "{name} value"
                );
                for k in 0..2 {
                    let want = fd(&g, p, k);
                    assert!(
                        (r.d[k] - want).abs() <= 1e-8 * (1.0 + want.abs()),
                        "{name} ∂{k} at {p:?}: {} vs {want}",
                        r.d[k]
                    );
                }
            }
        }
    }

    #[test]
    fn a_partial_that_does_not_move_stays_zero_at_a_singularity() {
        let x = Fwd::<2>::new(0.0, [0.0, 1.0]);
        let s = x.sqrt();
        assert_eq!(s.d[0], 0.0);
        assert!(s.d[1].is_infinite());
    }
}
