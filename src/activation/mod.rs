//! Dual activations: Gaussian expectations of an activation φ and of its derivative.
//!
//! For a centred bivariate Gaussian (u, v) with variances q1, q2 and covariance c, the **dual** of φ is
//!
//! T(c; q1, q2) = E[φ(u)φ(v)],  Ṫ(c; q1, q2) = E[φ'(u)φ'(v)],
//!
//! and Price's theorem gives Ṫ = ∂T/∂c whenever φ is absolutely continuous. T maps the NNGP through an
//! activation layer and Ṫ multiplies the NTK (Jacot et al. 2018; neural-tangents' `stax`).
//!
//! Each family of closed forms has its own file and type (listed once in [`Dual`]). Every activation
//! is declared in one place, the table in `table.rs`: one entry gives its [`Activation`] variant and
//! parameters, its JSON name and defaults, how its dual is built, its value and derivative, and its
//! [`Smoothness`]; [`Activation::dual`] turns it into a [`Dual`] that evaluates the formulas.
//!
//! ```
//! use ntk::activation::{Activation, DualActivation};
//! let relu = Activation::Relu.dual().unwrap();
//! // Arc-cosine kernel at orthogonal unit-variance inputs: 1/(2π), and Ṫ = 1/4.
//! let (t, dot) = relu.dual(0.0, 1.0, 1.0);
//! assert!((t - 1.0 / (2.0 * std::f64::consts::PI)).abs() < 1e-15);
//! assert!((dot - 0.25).abs() < 1e-15);
//! ```

mod declare;
mod erf;
mod exp;
pub(crate) mod mehler;
mod poly;
mod quadrature;
mod relu;
pub mod smooth;
mod table;

pub use erf::{ErfDual, GeluDual};
pub use exp::{ExpDual, GaborDual, GaussianDual, RbfDual, SinDual};
pub use poly::{AffineDual, MAX_POLY_DEGREE, PolynomialDual};
pub use quadrature::{
    DEFAULT_NODES, EXACT_NODES, MAX_KINKS, MAX_NODES, PairFn, QuadratureDual, ScalarFn,
    gauss_hermite, gauss_legendre,
};
pub use relu::{AbReluDual, MAX_RECTIFIED_DEGREE, RectifiedMonomialDual, SignDual};
pub use table::{Activation, SIGMOID_LIKE_SCALE};

use crate::Result;
use crate::real::Real;

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
/// like φ (NNGP) or φ' (NTK) near 0, so there only φ's smoothness at 0 matters
/// ([`Activation::smoothness_at_zero`]: hard tanh, kinked at ±1 only, is smooth there).
///
/// The classes are ordered from the smoothest to the roughest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

/// Declares the dual families: the [`Dual`] enum and its static dispatch, from one list.
macro_rules! dual_families {
    ($($(#[doc = $doc:literal])* $variant:ident($ty:ty)),* $(,)?) => {
        /// An activation's dual, ready to evaluate: what [`Activation::dual`] returns. Each variant is
        /// one family of closed forms (or quadrature); matching on it once per layer keeps the
        /// kernels' inner loops free of dynamic dispatch.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Dual {
            $($(#[doc = $doc])* $variant($ty),)*
        }

        impl DualActivation for Dual {
            #[inline(always)]
            fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
                match self {
                    $(Dual::$variant(d) => d.dual(c, q1, q2),)*
                }
            }
            #[inline(always)]
            fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
                match self {
                    $(Dual::$variant(d) => d.dual_diag(q),)*
                }
            }
        }

        impl Dual {
            /// One activation layer applied to [`LANES`] independent entries (see [`LaneDual`]),
            /// one dispatch per layer. Inlined into the kernels' column loop, which is compiled
            /// for AVX-512 or AVX2 + FMA where the CPU has them (`Network::column`), so the lane loops
            /// vectorize there.
            #[inline(always)]
            pub(crate) fn apply_lanes(
                &self,
                c: &mut [f64; LANES],
                th: &mut [f64; LANES],
                q1: &[f64; LANES],
                q2: f64,
            ) {
                match self {
                    $(Dual::$variant(d) => d.lanes(c, th, q1, q2),)*
                }
            }

            /// The activation on every entry of a full p × p pixel-pair state (row-major Σ in `s`,
            /// Θ in `t`): row i has variance `q1[i]`, column j `q2[j]`. One dispatch per state; the
            /// rows run [`LANES`] entries at a time, compiled for AVX-512 or AVX2 + FMA where the CPU has
            /// them (chosen at run time; the same IEEE operations, so the same results, as the
            /// portable path).
            pub(crate) fn apply_rows(&self, s: &mut [f64], t: &mut [f64], q1: &[f64], q2: &[f64]) {
                match self {
                    $(Dual::$variant(d) => rows::dispatch(d, s, t, q1, q2, false),)*
                }
            }

            /// The activation on a diagonal pixel-pair state: entry i has variances `q1[i]` and
            /// `q2[i]`; as [`Dual::apply_rows`] otherwise.
            pub(crate) fn apply_diagonal(&self, s: &mut [f64], t: &mut [f64], q1: &[f64], q2: &[f64]) {
                match self {
                    $(Dual::$variant(d) => rows::dispatch(d, s, t, q1, q2, true),)*
                }
            }
        }
    };
}

dual_families! {
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

/// The activation over the rows of a pixel-pair state, with run-time selection of the instruction
/// set.
mod rows {
    use super::{LANES, LaneDual};
    use multiversion::multiversion;

    /// The second variances of a run of entries: one per entry (a diagonal state), or one for the
    /// whole run (a row of a full state), without building a row of copies.
    trait Second: Copy {
        fn at(self, j: usize) -> f64;
        fn lanes(self, j: usize) -> [f64; LANES];
    }

    impl Second for &[f64] {
        #[inline(always)]
        fn at(self, j: usize) -> f64 {
            self[j]
        }
        #[inline(always)]
        fn lanes(self, j: usize) -> [f64; LANES] {
            let mut v = [0.0; LANES];
            v.copy_from_slice(&self[j..j + LANES]);
            v
        }
    }

    impl Second for f64 {
        #[inline(always)]
        fn at(self, _: usize) -> f64 {
            self
        }
        #[inline(always)]
        fn lanes(self, _: usize) -> [f64; LANES] {
            [self; LANES]
        }
    }

    /// Entries j of `s`, `t` with variances `q1[j]` and `q2.at(j)`, [`LANES`] at a time.
    #[inline(always)]
    fn entries<D: LaneDual>(d: &D, s: &mut [f64], t: &mut [f64], q1: &[f64], q2: impl Second) {
        let n = s.len();
        let m = n - n % LANES;
        for j in (0..m).step_by(LANES) {
            let (mut c8, mut t8, mut a8) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
            c8.copy_from_slice(&s[j..j + LANES]);
            t8.copy_from_slice(&t[j..j + LANES]);
            a8.copy_from_slice(&q1[j..j + LANES]);
            d.lanes2(&mut c8, &mut t8, &a8, &q2.lanes(j));
            s[j..j + LANES].copy_from_slice(&c8);
            t[j..j + LANES].copy_from_slice(&t8);
        }
        for j in m..n {
            let (c, a, b) = (s[j], q1[j], q2.at(j));
            let (v, dot) = if c == a && c == b {
                d.dual_diag(c)
            } else {
                d.dual(c, a, b)
            };
            s[j] = v;
            t[j] *= dot;
        }
    }

    /// The activation on a full (row by row) or diagonal pixel-pair state, compiled for AVX-512
    /// and for AVX2 + FMA, one chosen at run time (the same IEEE operations in every version).
    #[multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma"))]
    pub(super) fn dispatch<D: LaneDual>(
        d: &D,
        s: &mut [f64],
        t: &mut [f64],
        q1: &[f64],
        q2: &[f64],
        diagonal: bool,
    ) {
        if diagonal {
            return entries(d, s, t, q1, q2);
        }
        let p = q2.len();
        for (i, (row_s, row_t)) in s.chunks_exact_mut(p).zip(t.chunks_exact_mut(p)).enumerate() {
            // T is symmetric in the two variances: the column's goes first, as in the lanes of
            // the fully connected kernels.
            entries(d, row_s, row_t, q2, q1[i]);
        }
    }
}

/// Entries of a kernel matrix that run through the layers together.
pub(crate) const LANES: usize = 8;

/// One activation layer applied to [`LANES`] independent entries (covariances `c`, NTKs `th`, first
/// points' variances `q1`, common second variance `q2`). Interleaving independent entries lets the
/// CPU overlap their long dependency chains (sqrt, atan2, divisions); one dispatch per layer. A
/// family may replace the entry-by-entry loop with one that vectorizes.
pub(crate) trait LaneDual: DualActivation {
    /// [`LaneDual::lanes2`] with one second variance for all lanes.
    #[inline(always)]
    fn lanes(&self, c: &mut [f64; LANES], th: &mut [f64; LANES], q1: &[f64; LANES], q2: f64) {
        self.lanes2(c, th, q1, &[q2; LANES]);
    }

    /// Lane l: c[l] ← T(c[l]; q1[l], q2[l]), th[l] ← th[l]·Ṫ.
    #[inline(always)]
    fn lanes2(
        &self,
        c: &mut [f64; LANES],
        th: &mut [f64; LANES],
        q1: &[f64; LANES],
        q2: &[f64; LANES],
    ) {
        for l in 0..LANES {
            // ρ = 1 exactly (identical points): the diagonal formulas keep Σ(x, x) bit-equal to
            // the variance (see `layers::Pair`).
            let (t, dot) = if c[l] == q1[l] && c[l] == q2[l] {
                self.dual_diag(c[l])
            } else {
                self.dual(c[l], q1[l], q2[l])
            };
            c[l] = t;
            th[l] *= dot;
        }
    }
}

/// The end of a vectorized [`LaneDual::lanes2`]: `t` and `dot` hold the general formula on every
/// lane; lanes with c = q1 = q2 exactly (identical points) take the diagonal formulas instead (see
/// `layers::Pair`), then c ← T and th ← th·Ṫ. Identical points are rare off the diagonal, so one
/// vector test sends them to an out-of-line fix-up, and the common path stays in vector registers:
/// with the fix-up inline, the compiler took every lane of T and Ṫ apart and put them back
/// together on every group, which made the Erf column half as slow again as GELU's.
#[inline(always)]
pub(crate) fn finish_lanes<D: DualActivation + ?Sized>(
    d: &D,
    (c, th): (&mut [f64; LANES], &mut [f64; LANES]),
    (q1, q2): (&[f64; LANES], &[f64; LANES]),
    (t, dot): ([f64; LANES], [f64; LANES]),
) {
    let diag: [bool; LANES] = std::array::from_fn(|l| c[l] == q1[l] && c[l] == q2[l]);
    if diag.iter().fold(false, |a, &b| a | b) {
        finish_identical(d, (c, th), diag, (t, dot));
        return;
    }
    *c = t;
    for (th, dot) in th.iter_mut().zip(dot) {
        *th *= dot;
    }
}

/// [`finish_lanes`] for a group with identical points. Its arithmetic is that of the inline path
/// (IEEE operations, and `mul_add` is exactly rounded on every target), so the bits do not depend
/// on which instruction set it was compiled for.
#[cold]
#[inline(never)]
fn finish_identical<D: DualActivation + ?Sized>(
    d: &D,
    (c, th): (&mut [f64; LANES], &mut [f64; LANES]),
    diag: [bool; LANES],
    (mut t, mut dot): ([f64; LANES], [f64; LANES]),
) {
    for l in 0..LANES {
        if diag[l] {
            (t[l], dot[l]) = d.dual_diag(c[l]);
        }
    }
    *c = t;
    for (th, dot) in th.iter_mut().zip(dot) {
        *th *= dot;
    }
}

impl LaneDual for SignDual {}
impl LaneDual for RectifiedMonomialDual {}
impl LaneDual for SinDual {}
impl LaneDual for RbfDual {}
impl LaneDual for ExpDual {}
impl LaneDual for GaussianDual {}
impl LaneDual for GaborDual {}
impl LaneDual for PolynomialDual {}
impl LaneDual for AffineDual {}
impl LaneDual for QuadratureDual {}

impl Dual {
    /// Whether Ṫ = E[φ'φ'] equals ∂T/∂c. It does not for sign(x) and the step x⁰·1[x ≥ 0], whose
    /// derivative vanishes almost everywhere (Ṫ = 0) while T still depends on c.
    pub fn dot_is_derivative(&self) -> bool {
        !matches!(self, Dual::Sign(_))
            && !matches!(self, Dual::RectifiedMonomial(r) if r.degree() == 0)
    }
}

impl Activation {
    /// The dual of this activation, with quadrature rules of [`DEFAULT_NODES`] nodes per dimension.
    pub fn dual(&self) -> Result<Dual> {
        self.dual_with_nodes(DEFAULT_NODES)
    }

    /// φ(x), the activation itself.
    pub fn eval(&self, x: f64) -> f64 {
        self.eval_with_derivative(x).0
    }

    /// φ'(x) (the mean of the one-sided slopes at a kink, and 0 for sign/step, matching Ṫ's
    /// convention).
    pub fn derivative(&self, x: f64) -> f64 {
        self.eval_with_derivative(x).1
    }
}
