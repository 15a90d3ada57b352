//! The scalar type the dual activations and the layer recursion are written in.
//!
//! Every closed form is generic over [`Real`], so the same code that computes kernel values in
//! `f64` can be run on a forward-mode dual number to carry exact derivatives with respect to the
//! inputs (∂K/∂x) through a network of any depth.

use num_traits::{Float, FloatConst};
use std::fmt::Debug;

/// A real scalar: `f64`, or a number type that carries derivatives along with its value.
pub trait Real: Float + FloatConst + Debug + Send + Sync + 'static {
    /// The constant `x` in this type (derivative parts zero).
    fn cst(x: f64) -> Self;
    /// The value part as `f64`.
    fn value(self) -> f64;
    /// Applies a scalar function given with its derivative: `f(self)`, with `df` used for the
    /// derivative parts by the chain rule. For `f64` only `f` is evaluated.
    fn lift(self, f: &dyn Fn(f64) -> f64, df: &dyn Fn(f64) -> f64) -> Self;
    /// (φ(self), φ'(self)) from `fd(x) = (φ(x), φ'(x))`, with `d2` = φ'' for the derivative parts
    /// of φ'. For `f64` this is one call of `fd`.
    fn lift_pair(self, fd: &dyn Fn(f64) -> (f64, f64), d2: &dyn Fn(f64) -> f64) -> (Self, Self) {
        let f = |x: f64| fd(x).0;
        let df = |x: f64| fd(x).1;
        (self.lift(&f, &df), self.lift(&df, d2))
    }
    /// atan2(self, x), the angle of the point (x, self); the duals' hot path, so `f64` may use a
    /// faster implementation than `Float::atan2` (it must stay within 2 ulps).
    fn atan2_fast(self, x: Self) -> Self {
        self.atan2(x)
    }
    /// The slice as plain `f64`s when `Self` is `f64` (`None` otherwise): lets generic kernel code
    /// take a path that only exists for plain numbers (the per-point tables of the quadrature
    /// duals' Mehler series).
    fn as_f64(s: &[Self]) -> Option<&[f64]> {
        let _ = s;
        None
    }
    /// [`Real::as_f64`] for a mutable slice.
    fn as_f64_mut(s: &mut [Self]) -> Option<&mut [f64]> {
        let _ = s;
        None
    }
}

impl Real for f64 {
    #[inline(always)]
    fn cst(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn as_f64(s: &[f64]) -> Option<&[f64]> {
        Some(s)
    }
    #[inline(always)]
    fn as_f64_mut(s: &mut [f64]) -> Option<&mut [f64]> {
        Some(s)
    }
    #[inline(always)]
    fn value(self) -> f64 {
        self
    }
    #[inline(always)]
    fn lift(self, f: &dyn Fn(f64) -> f64, _df: &dyn Fn(f64) -> f64) -> Self {
        f(self)
    }
    #[inline(always)]
    fn lift_pair(self, fd: &dyn Fn(f64) -> (f64, f64), _d2: &dyn Fn(f64) -> f64) -> (Self, Self) {
        fd(self)
    }
    /// atan2 through libm's (fdlibm's) atan of the ratio in [0, 1], with the octant restored here:
    /// within 2 ulps. atan2 took two thirds of a ReLU network kernel's time with the platform's
    /// version (glibc 2.36, 18 ns against libm's 11 ns); skipping libm's atan2 wrapper made the Erf
    /// kernel bench another 14 % faster.
    /// Zeros, infinities and NaN go to libm's atan2.
    #[inline(always)]
    fn atan2_fast(self, x: f64) -> f64 {
        use std::f64::consts::{FRAC_PI_2, PI};
        let (ax, ay) = (x.abs(), self.abs());
        let sum = ax + ay;
        if !(sum > 0.0 && sum < f64::INFINITY) {
            return libm::atan2(self, x);
        }
        let r = if ay <= ax {
            libm::atan(ay / ax)
        } else {
            FRAC_PI_2 - libm::atan(ax / ay)
        };
        let r = if x < 0.0 { PI - r } else { r };
        r.copysign(self)
    }
}

/// atan2(y, x) for y ≥ 0 (or NaN), without branches, so that a loop over lanes vectorizes; within
/// 2 ulps of libm's. (0, 0) gives π/2, the convention of [`angle`]. See [`atan2_lanes`].
#[inline(always)]
pub(crate) fn atan2_nonneg(y: f64, x: f64) -> f64 {
    let r = atan2_lanes(y, x);
    if y > 0.0 || x != 0.0 {
        r
    } else {
        std::f64::consts::FRAC_PI_2
    }
}

/// atan2(y, x) without branches, so that a loop over lanes vectorizes; within 2 ulps of libm's for
/// finite arguments, (±0, x ≥ 0) ↦ ±0, (±0, x < 0) ↦ ±π, (0, 0) ↦ 0.
///
/// The angle of (x, y) is reduced to the first octant, t = lo/hi with lo, hi the smaller and larger of
/// |x|, |y|, and further to u = (lo − hi)/(lo + hi) = (t − 1)/(t + 1) when t > tan(π/8), so
/// |u| ≤ tan(π/8) < 7/16; atan(u) is fdlibm's odd polynomial for |u| < 7/16 (Sun Microsystems'
/// `s_atan.c`, the algorithm of the `libm` crate), and the octant and sign are restored by selects.
/// Choosing the numerator and denominator before dividing costs one division per call, not two:
/// division and square root throughput bound the vectorized duals.
#[inline(always)]
pub(crate) fn atan2_lanes(y: f64, x: f64) -> f64 {
    use std::f64::consts::{FRAC_PI_2, PI};
    // fdlibm's coefficients of atan(u) = u − u·(z·(aT0 + …)) with z = u².
    const AT: [f64; 11] = [
        0.3333333333333293,
        -0.19999999999876483,
        0.14285714272503466,
        -0.11111110405462356,
        0.09090887133436507,
        -0.0769187620504483,
        0.06661073137387531,
        -0.058335701337905735,
        0.049768779946159324,
        -0.036531572744216916,
        0.016285820115365782,
    ];
    // π/4 as a head and a tail (fdlibm's atanhi[1], atanlo[1]).
    const PI_4_HI: f64 = std::f64::consts::FRAC_PI_4;
    const PI_4_LO: f64 = 3.061616997868383e-17;
    const TAN_PI_8: f64 = 0.414_213_562_373_095_03;
    let (ax, ay) = (x.abs(), y.abs());
    // Plain compares rather than `f64::min`/`max`, whose NaN rules cost three extra vector
    // instructions each; a NaN argument gives NaN either way.
    let (lo, hi) = if ax < ay { (ax, ay) } else { (ay, ax) };
    let big = lo > TAN_PI_8 * hi;
    let (num, den) = if big { (lo - hi, lo + hi) } else { (lo, hi) };
    let u = if hi > 0.0 { num / den } else { 0.0 };
    let z = u * u;
    let w = z * z;
    // Fused multiply-adds (the callers run where the CPU has FMA; elsewhere `mul_add` is still
    // exactly rounded): half the instructions of the polynomial, and no less accurate.
    let p1 = w.mul_add(AT[10], AT[8]);
    let p1 = w.mul_add(p1, AT[6]);
    let p1 = w.mul_add(p1, AT[4]);
    let p1 = w.mul_add(p1, AT[2]);
    let s1 = z * w.mul_add(p1, AT[0]);
    let p2 = w.mul_add(AT[9], AT[7]);
    let p2 = w.mul_add(p2, AT[5]);
    let p2 = w.mul_add(p2, AT[3]);
    let s2 = w * w.mul_add(p2, AT[1]);
    let r = if big {
        PI_4_HI - ((u * (s1 + s2) - PI_4_LO) - u)
    } else {
        u - u * (s1 + s2)
    };
    let r = if ay > ax { FRAC_PI_2 - r } else { r };
    let r = if x.is_sign_negative() { PI - r } else { r };
    r.copysign(y)
}

/// Relative size of P − c² below which two Gaussian coordinates count as exactly (anti)parallel:
/// 64ε, so θ < √(64ε) ≈ 1.2e-7. Rounding of c and P (dot products of up to thousands of terms, then
/// a few layers of arithmetic) is below this, and snapping a true θ of that size to 0 changes the
/// kinked duals by at most θ/π ≈ 4e-8 relative — the size of the noise it removes.
pub const ANGLE_FLOOR: f64 = 64.0 * f64::EPSILON;

/// The angle θ = arccos(c/√P) between two Gaussian coordinates with covariance `c` and variance
/// product `P`, computed as `atan2(√max(P − c², 0), c)`, with √(P − c²) also returned.
///
/// Unlike arccos(c/√P) this loses nothing to the formula itself near θ = 0 and π, but the inputs
/// carry rounding: an error of ε·P in P − c² moves θ by about ε/θ, so exactly parallel inputs whose
/// c and P were rounded separately would get θ ≈ √ε ≈ 1e-8 rather than 0; a gap below
/// [`ANGLE_FLOOR`]·P is therefore taken as θ = 0 (or π). Identical points are detected upstream and
/// use the diagonal formulas. When both arguments vanish (a zero-variance input) θ is
/// π/2, neural-tangents' convention.
#[inline(always)]
pub(crate) fn angle<F: Real>(p: F, c: F) -> (F, F) {
    let gap = p - c * c;
    // Below the rounding floor of P − c² (a few ulps of P, i.e. θ ≲ 1e-7) the sign of the gap is
    // noise: such pairs are parallel (θ = 0) or antiparallel (θ = π) to working precision.
    let s = if gap <= F::cst(ANGLE_FLOOR) * p {
        F::zero()
    } else {
        gap.sqrt()
    };
    let theta = if s == F::zero() && c == F::zero() {
        F::FRAC_PI_2()
    } else {
        s.atan2_fast(c)
    };
    (theta, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branch-free atan2 against libm's over the same inputs as `atan2_fast` (y ≥ 0), near the
    /// reduction boundary tan(π/8), and at the special points.
    #[test]
    fn atan2_nonneg_is_within_two_ulps() {
        let mut s = 0x0fed_cba9_8765_4321u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let t8 = (std::f64::consts::PI / 8.0).tan();
        for k in 0..1_000_000 {
            let scale = 10f64.powi((k % 61) * 10 - 300);
            let (y, x) = match k % 5 {
                0 => (next(), next()),
                1 => (next() * scale, next()),
                2 => (next(), next() * scale),
                3 => (
                    t8 * (1.0 + 1e-6 * next()),
                    if k % 2 == 0 { 1.0 } else { -1.0 },
                ),
                _ => {
                    let a = next();
                    (a, a * (1.0 + 1e-9 * next()))
                }
            };
            let y = y.abs();
            let (a, b) = (atan2_nonneg(y, x), y.atan2(x));
            assert!(
                (a - b).abs() <= 2.0 * f64::EPSILON * b.abs(),
                "atan2({y:e}, {x:e}): {a} vs {b}"
            );
            // The signed version, on both half-planes.
            let (a, b) = (atan2_lanes(-y, x), (-y).atan2(x));
            assert!(
                (a - b).abs() <= 2.0 * f64::EPSILON * b.abs(),
                "atan2({:e}, {x:e}): {a} vs {b}",
                -y
            );
        }
        for (y, x) in [
            (0.0, 1.0),
            (-0.0, 1.0),
            (0.0, -1.0),
            (-0.0, -1.0),
            (0.0, 0.0),
            (-0.0, 0.0),
            (0.0, -0.0),
            (-2.0, 0.0),
            (1e-300, -1e300),
            (-1e300, 1e-300),
            (-1.0, -1.0),
        ] {
            let (a, b) = (atan2_lanes(y, x), f64::atan2(y, x));
            assert!(
                a.to_bits() == b.to_bits() || (a - b).abs() <= 2.0 * f64::EPSILON * b.abs(),
                "atan2({y}, {x}): {a} vs {b}"
            );
        }
        for (y, x, want) in [
            (0.0, 1.0, 0.0),
            (0.0, -1.0, std::f64::consts::PI),
            (1.0, 0.0, std::f64::consts::FRAC_PI_2),
            (0.0, 0.0, std::f64::consts::FRAC_PI_2),
            (1.0, 1.0, std::f64::consts::FRAC_PI_4),
        ] {
            assert_eq!(atan2_nonneg(y, x), want, "atan2({y}, {x})");
        }
    }

    #[test]
    fn atan2_fast_is_within_two_ulps() {
        let mut s = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        for k in 0..1_000_000 {
            // Ratios from 1e-300 to 1e300, and points next to the diagonal |x| = |y|.
            let scale = 10f64.powi((k % 61) * 10 - 300);
            let (y, x) = match k % 4 {
                0 => (next(), next()),
                1 => (next() * scale, next()),
                2 => (next(), next() * scale),
                _ => {
                    let a = next();
                    (a, a * (1.0 + 1e-9 * next()))
                }
            };
            let (a, b) = (y.atan2_fast(x), y.atan2(x));
            assert!(
                (a - b).abs() <= 2.0 * f64::EPSILON * b.abs(),
                "atan2({y:e}, {x:e}): {a} vs {b}"
            );
        }
        for (y, x) in [
            (0.0, 0.0),
            (-0.0, 0.0),
            (0.0, -0.0),
            (-0.0, -0.0),
            (1.0, 0.0),
            (0.0, -1.0),
            (-0.0, -1.0),
            (f64::INFINITY, 1.0),
            (1.0, f64::NEG_INFINITY),
            (f64::NAN, 1.0),
        ] {
            let (a, b) = (y.atan2_fast(x), y.atan2(x));
            assert!(
                a == b || (a.is_nan() && b.is_nan()),
                "atan2({y}, {x}): {a} vs {b}"
            );
            assert_eq!(
                a.is_sign_negative(),
                b.is_sign_negative(),
                "atan2({y}, {x})"
            );
        }
    }
}
