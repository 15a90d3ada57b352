//! Dual activations by quadrature (2-D Gauss–Hermite, or the polar rule split at the kinks), for
//! any activation given as a function.

use super::mehler::{self, SeriesRule};
use super::{DualActivation, LANES, Smoothness};
use crate::real::Real;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// A scalar function shared between threads.
pub type ScalarFn = Arc<dyn Fn(f64) -> f64 + Send + Sync>;

/// x ↦ (φ(x), φ'(x)), shared between threads.
pub type PairFn = Arc<dyn Fn(f64) -> (f64, f64) + Send + Sync>;

/// Nodes xᵢ and weights wᵢ of the n-point Gauss–Hermite rule, ∫ e^{−x²} f(x) dx ≈ Σ wᵢ f(xᵢ),
/// exact for polynomials of degree ≤ 2n − 1. Nodes come out in increasing order.
///
/// Golub–Welsch start (Jacobi matrix with off-diagonal √(k/2)), Newton polish on the orthonormal
/// Hermite recurrence, weights 2/ψₙ'(xᵢ)² — accurate where eigenvector components underflow.
pub fn gauss_hermite(n: usize) -> (Vec<f64>, Vec<f64>) {
    symmetric_gauss_rule(
        n,
        |k| (k / 2.0).sqrt(),
        |z| hermite_orthonormal(n, z),
        |_, d| 2.0 / (d * d),
    )
}

/// Nodes and weights of the n-point Gauss–Legendre rule on [−1, 1], ∫ f ≈ Σ wᵢ f(xᵢ), exact for
/// polynomials of degree ≤ 2n − 1: Golub–Welsch start (off-diagonal k/√(4k² − 1)), Newton polish on
/// Pₙ, weights 2/((1 − x²)Pₙ'(x)²). Nodes in increasing order.
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    symmetric_gauss_rule(
        n,
        |k| k / (4.0 * k * k - 1.0).sqrt(),
        |z| legendre(n, z),
        |z, d| 2.0 / ((1.0 - z * z) * d * d),
    )
}

/// A Gauss rule of a symmetric weight: nodes from the eigenvalues of the Jacobi matrix with
/// off-diagonal `offdiag(k)`, k = 1..n − 1, polished by Newton steps on the degree-n orthogonal
/// polynomial (`poly(z)` = (pₙ(z), pₙ'(z))), weights `weight(z, pₙ'(z))`; mirror pairs are averaged so
/// the rule is exactly symmetric.
fn symmetric_gauss_rule(
    n: usize,
    offdiag: impl Fn(f64) -> f64,
    poly: impl Fn(f64) -> (f64, f64),
    weight: impl Fn(f64, f64) -> f64,
) -> (Vec<f64>, Vec<f64>) {
    if n == 0 {
        return (vec![], vec![]);
    }
    let jacobi = nalgebra::DMatrix::from_fn(n, n, |i, j| {
        if i + 1 == j || j + 1 == i {
            offdiag(i.max(j) as f64)
        } else {
            0.0
        }
    });
    let mut x: Vec<f64> = jacobi.symmetric_eigenvalues().iter().copied().collect();
    x.sort_by(f64::total_cmp);
    let w = x
        .iter_mut()
        .map(|z| {
            let mut dp = poly(*z).1;
            for _ in 0..3 {
                let (p, d) = poly(*z);
                dp = d;
                let step = p / d;
                *z -= step;
                if step.abs() <= 4.0 * f64::EPSILON * z.abs().max(1.0) {
                    break;
                }
            }
            weight(*z, dp)
        })
        .collect();
    for i in 0..n / 2 {
        let m = 0.5 * (x[n - 1 - i] - x[i]);
        x[i] = -m;
        x[n - 1 - i] = m;
    }
    if n % 2 == 1 {
        x[n / 2] = 0.0;
    }
    (x, w)
}

/// (ψₙ(z), ψₙ'(z)) for the orthonormal Hermite functions without the Gaussian factor:
/// ψ₀ = π^{−1/4}, ψ_{k+1} = z√(2/(k+1))ψₖ − √(k/(k+1))ψ_{k−1}, ψₙ' = √(2n)ψ_{n−1}.
fn hermite_orthonormal(n: usize, z: f64) -> (f64, f64) {
    let mut p1 = std::f64::consts::PI.powf(-0.25);
    let mut p2 = 0.0;
    for j in 0..n {
        let p3 = p2;
        p2 = p1;
        let jf = j as f64;
        p1 = z * (2.0 / (jf + 1.0)).sqrt() * p2 - (jf / (jf + 1.0)).sqrt() * p3;
    }
    (p1, (2.0 * n as f64).sqrt() * p2)
}

/// (Pₙ(z), Pₙ'(z)) by the three-term recurrence.
fn legendre(n: usize, z: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, z);
    if n == 0 {
        return (1.0, 0.0);
    }
    for k in 1..n {
        let kf = k as f64;
        let p2 = ((2.0 * kf + 1.0) * z * p1 - kf * p0) / (kf + 1.0);
        p0 = p1;
        p1 = p2;
    }
    (p1, n as f64 * (z * p1 - p0) / (z * z - 1.0))
}

/// Radius of the polar rule: the standard normal mass beyond it is e^{−R²/2} = 2e-22.
const POLAR_RADIUS: f64 = 10.0;

/// Default number of nodes per dimension of the named quadrature activations (polar rule: 2·32²
/// evaluations per entry and layer). Measured against a 200-node rule over q ∈ [0.3, 10], ρ ∈ [−1, 1]:
/// largest error relative to √(T(q1)T(q2)) 2.7e-8 (sigmoid), 3.1e-6 (tanh), 4.3e-10 (softplus),
/// 1.8e-8 (SiLU) for T, and 6.4e-7, 2.4e-5, 2.7e-8, 2.5e-7 for Ṫ; ELU and SELU reach 1e-14.
/// At 48 nodes the same errors are ≤ 7.9e-9 (T) and ≤ 5.0e-7 (Ṫ). Hard tanh (split at its kinks)
/// is within 4e-11 (T) and 2.6e-10 (Ṫ) of a 128-node rule for q from 1e-4 to 1e4, nearly parallel
/// pairs included, at about 6× tanh's cost per entry; mish within 2.3e-10 of an independent tensor
/// rule (tests/suite/activations.rs).
pub const DEFAULT_NODES: usize = 32;

/// Dual of an activation given only as functions φ, φ' (and optionally φ''), by 2-D Gauss–Hermite
/// quadrature with n² nodes.
///
/// With (u, v) ~ N(0, [[q1, c], [c, q2]]) written as u = √(2q1)·x, v = √2(a·x + b·y),
/// a = c/√q1, b = √(q2 − a²):
/// T ≈ (1/π)·Σᵢⱼ wᵢwⱼ φ(uᵢ)φ(vᵢⱼ), Ṫ ≈ the same sum with φ', T(q; q, q) ≈ (1/√π)·Σᵢ wᵢ φ(√(2q)xᵢ)².
/// The rule is exact when φ is a polynomial of degree < n and converges fast for smooth φ; kinks
/// (ReLU, ELU at 0) slow it down. Cost: n² evaluations of φ and φ' per kernel entry per layer.
/// φ'' is only used to carry derivatives with respect to the inputs (dual-number scalars); when it
/// is absent a central difference of φ' stands in.
#[derive(Clone)]
pub struct QuadratureDual {
    name: String,
    /// φ and φ' together: one call per node (the named activations share their work).
    fd: PairFn,
    d2f: Option<ScalarFn>,
    nodes: usize,
    rule: Rule,
    /// Kinks of φ away from 0, where the polar rule splits each ray (see
    /// [`QuadratureDual::with_kinks`]).
    kinks: Vec<f64>,
    /// φ is odd in floating point, bit for bit: φ(−x) = −φ(x) and φ'(−x) = φ'(x) (tanh, hard tanh),
    /// so the series coefficients evaluate φ once for each mirrored pair of nodes ±z.
    odd: bool,
}

/// The 2-D integration rule.
#[derive(Clone)]
enum Rule {
    /// Tensor Gauss–Hermite nodes and weights.
    Hermite { x: Vec<f64>, w: Vec<f64> },
    /// Polar coordinates split at the kink lines u = 0 and v = 0: Gauss–Legendre in the angle on
    /// each of the four sectors and in the radius on panels of [0, R] (`rad` holds the rule on
    /// [−1, 1]; see [`radial_panels`]).
    Polar {
        ang: (Vec<f64>, Vec<f64>),
        rad: (Vec<f64>, Vec<f64>),
    },
}

impl fmt::Debug for QuadratureDual {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = match self.rule {
            Rule::Hermite { .. } => "Gauss–Hermite",
            Rule::Polar { .. } => "polar, split at 0",
        };
        write!(
            f,
            "QuadratureDual({}, {} nodes, {rule}",
            self.name, self.nodes
        )?;
        for k in &self.kinks {
            write!(f, ", {k}")?;
        }
        write!(f, ")")
    }
}

impl PartialEq for QuadratureDual {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.nodes == other.nodes
            && matches!(
                (&self.rule, &other.rule),
                (Rule::Hermite { .. }, Rule::Hermite { .. })
                    | (Rule::Polar { .. }, Rule::Polar { .. })
            )
            && self.kinks == other.kinks
            && self.odd == other.odd
            && Arc::ptr_eq(&self.fd, &other.fd)
    }
}

/// Largest accepted number of quadrature nodes per dimension.
pub const MAX_NODES: usize = 512;

/// Largest number of kinks away from 0 that the polar rule splits at.
pub const MAX_KINKS: usize = 8;

/// Most angular sector ends of the polar rule: the two kink lines through 0 (four rays) and the
/// rays through the crossings of the kink lines away from 0.
const MAX_CUTS: usize = 4 + MAX_KINKS * MAX_KINKS;

impl QuadratureDual {
    /// A quadrature dual for a smooth φ = `f` with derivative `df`: tensor Gauss–Hermite with `nodes`
    /// points per dimension (1..=512), n² evaluations of φ and φ' per entry.
    pub fn new(
        name: impl Into<String>,
        f: ScalarFn,
        df: ScalarFn,
        d2f: Option<ScalarFn>,
        nodes: usize,
    ) -> crate::Result<Self> {
        check_nodes(nodes)?;
        let (x, w) = gauss_hermite(nodes);
        Ok(Self {
            name: name.into(),
            fd: pair(f, df),
            d2f,
            nodes,
            rule: Rule::Hermite { x, w },
            kinks: Vec::new(),
            odd: false,
        })
    }

    /// A quadrature dual by the polar rule, for φ that is smooth except at 0 (a kink in φ or a jump
    /// in φ', as in ReLU, ELU or SELU — where tensor Gauss–Hermite converges only like O(1/n)) or that
    /// changes fast there (tanh and sigmoid at large variance). The named quadrature activations use it.
    ///
    /// With (x, y) standard normal, u = √q1·x and v = a·x + b·y (a = c/√q1, b = √(q2 − a²)), the
    /// expectation is written in polar coordinates, (1/2π)∫dψ∫r e^{−r²/2}φ(u)φ(v) dr. The kink lines
    /// u = 0 and v = 0 are rays, so the angle is split at them into four sectors, on each of which the
    /// integrand is smooth: Gauss–Legendre with ⌈n/2⌉ angles per sector and n radii on [0, 10]
    /// (2n² evaluations per entry) converges exponentially. At large variances the radii and angles
    /// are split into graded panels where φ changes fast (see `radial_panels`, `angular_panels`),
    /// which multiplies the cost by the number of panels, O(log q).
    pub fn polar(
        name: impl Into<String>,
        f: ScalarFn,
        df: ScalarFn,
        d2f: Option<ScalarFn>,
        nodes: usize,
    ) -> crate::Result<Self> {
        Self::polar_pair(name, pair(f, df), d2f, nodes)
    }

    /// [`QuadratureDual::polar`] with φ and φ' computed by one function.
    pub fn polar_pair(
        name: impl Into<String>,
        fd: PairFn,
        d2f: Option<ScalarFn>,
        nodes: usize,
    ) -> crate::Result<Self> {
        check_nodes(nodes)?;
        let rad = gauss_legendre(nodes);
        Ok(Self {
            name: name.into(),
            fd,
            d2f,
            nodes,
            rule: Rule::Polar {
                ang: gauss_legendre(nodes.div_ceil(2)),
                rad,
            },
            kinks: Vec::new(),
            odd: false,
        })
    }

    /// The polar rule also split at the points `kinks` ≠ 0 where φ or φ' jumps (at most
    /// [`MAX_KINKS`]; 0 is always split). A kink u = κ is the line u = κ, which crosses the ray at
    /// angle ψ at radius r = κ/kᵤ(ψ) (kᵤ the coordinate's growth along the ray): the radial panels are
    /// split there, so the integrand is smooth on every panel and the rule converges exponentially
    /// again (hard tanh: kinks at ±1). Fails for the Gauss–Hermite rule, which cannot split, and for
    /// non-finite or too many kinks.
    ///
    /// ```
    /// use ntk::activation::{DualActivation, QuadratureDual};
    /// use std::sync::Arc;
    /// // max(x − 1, 0): the ReLU shifted to a kink at 1. E[φ(u)²] for u ~ N(0, 1) is
    /// // 2Φ(−1) − φ_N(1) = 0.0833155..., with φ_N the standard normal density.
    /// let f = Arc::new(|x: f64| (x - 1.0).max(0.0));
    /// let df = Arc::new(|x: f64| if x > 1.0 { 1.0 } else { 0.0 });
    /// let q = QuadratureDual::polar("shifted relu", f, df, None, 32)?.with_kinks(&[1.0])?;
    /// let (t, _) = q.dual_diag(1.0);
    /// let exact = libm::erfc(1.0 / 2f64.sqrt()) - (-0.5f64).exp() / (2.0 * std::f64::consts::PI).sqrt();
    /// assert!((t - exact).abs() < 1e-13);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn with_kinks(mut self, kinks: &[f64]) -> crate::Result<Self> {
        if matches!(self.rule, Rule::Hermite { .. }) && !kinks.is_empty() {
            return Err(crate::error::invalid(
                "kinks",
                format!("{kinks:?}"),
                "the Gauss–Hermite rule cannot be split at kinks; build the dual with \
                 QuadratureDual::polar",
            ));
        }
        let mut ks: Vec<f64> = Vec::with_capacity(kinks.len());
        for (i, &k) in kinks.iter().enumerate() {
            crate::linalg::check_finite_param(&format!("kinks[{i}]"), k)?;
            // 0 is split by the angular sectors already; repeated kinks need one split.
            if k != 0.0 && !ks.contains(&k) {
                ks.push(k);
            }
        }
        if ks.len() > MAX_KINKS {
            return Err(crate::error::invalid(
                "kinks",
                ks.len(),
                &format!("at most {MAX_KINKS} kinks away from 0 are supported"),
            ));
        }
        self.kinks = ks;
        Ok(self)
    }

    /// Marks φ as odd in floating point (see the `odd` field): only for functions that are, bit
    /// for bit, or the tables would differ from the direct evaluation.
    pub(crate) fn odd(mut self) -> Self {
        self.odd = true;
        self
    }

    /// The kinks away from 0 that the polar rule splits at.
    pub fn kinks(&self) -> &[f64] {
        &self.kinks
    }

    /// How smooth φ is, found by testing φ and φ' for a jump at 0 and at each kink (a jump larger
    /// than 10⁻⁶·(1 + |value|) across ±10⁻⁹·(1 + |x|)): [`Smoothness::Jump`] if φ jumps,
    /// [`Smoothness::Kinked`] if φ' does, [`Smoothness::Smooth`] otherwise.
    pub fn smoothness(&self) -> Smoothness {
        std::iter::once(0.0)
            .chain(self.kinks.iter().copied())
            .map(|p| self.smoothness_near(p))
            .max()
            .unwrap_or(Smoothness::Smooth)
    }

    /// As [`QuadratureDual::smoothness`], at 0 only.
    pub fn smoothness_at_zero(&self) -> Smoothness {
        self.smoothness_near(0.0)
    }

    fn smoothness_near(&self, p: f64) -> Smoothness {
        let h = 1e-9 * (1.0 + p.abs());
        let ((fl, dl), (fr, dr), (f0, d0)) = ((self.fd)(p - h), (self.fd)(p + h), (self.fd)(p));
        let jump = |l: f64, r: f64, m: f64| (r - l).abs() > 1e-6 * (1.0 + m.abs());
        if jump(fl, fr, f0) {
            Smoothness::Jump
        } else if jump(dl, dr, d0) {
            Smoothness::Kinked
        } else {
            Smoothness::Smooth
        }
    }

    /// The activation's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of nodes per dimension.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// (φ(x), φ'(x)).
    pub fn eval_with_derivative(&self, x: f64) -> (f64, f64) {
        (self.fd)(x)
    }

    fn d2(&self, t: f64) -> f64 {
        match &self.d2f {
            Some(g) => g(t),
            None => {
                let h = 1e-5 * (1.0 + t.abs());
                ((self.fd)(t + h).1 - (self.fd)(t - h).1) / (2.0 * h)
            }
        }
    }
}

/// Radii where φ(s·k) stops changing fast, for a coordinate growing like s·k along a ray: the
/// named activations (sigmoid, tanh, softplus, SiLU, ELU, SELU) vary on |u| ≲ 10 and are
/// within e⁻⁴⁰ of their asymptotes (constant or linear) beyond |u| = 40.
const FEATURE_SCALES: [f64; 2] = [10.0, 40.0];

/// Calls `f(r, w)` for every node r and weight w of the Gauss–Legendre rule `rad` (on [−1, 1])
/// mapped onto each panel between consecutive `ends`.
fn for_each_radial_node<F: Real>(ends: &[F], rad: (&[f64], &[f64]), mut f: impl FnMut(F, F)) {
    let two = F::cst(2.0);
    for p in ends.windows(2) {
        let (half, mid) = ((p[1] - p[0]) / two, (p[1] + p[0]) / two);
        for (&t, &w) in rad.0.iter().zip(rad.1) {
            f(mid + half * F::cst(t), F::cst(w) * half);
        }
    }
}

/// Most panel ends on [0, R]: 0 and R, two feature scales and the kinks for each of two
/// coordinates.
const MAX_RADIAL_ENDS: usize = 2 + 2 * (FEATURE_SCALES.len() + MAX_KINKS);

/// Panel ends on [0, R] for a ray on which the two coordinates grow like r·k₁ and r·k₂: the radii
/// 10/|k| and 40/|k| that fall inside, and the radii κ/k where a coordinate crosses a kink κ ≠ 0.
/// At a large variance (|k| ≫ 1) φ changes on r ≲ 1/|k|, a sliver that one rule on [0, R] misses (at
/// q = 3·10⁴ the 32-node rule put Θ(x, x) 56 % low); graded panels keep the first one at the scale
/// of φ, so the accuracy at q ≈ 1 is kept at any q. Ends are in `F` so that the rule moves smoothly
/// with (c, q1, q2).
fn radial_panels<F: Real>(k1: F, k2: F, kinks: &[f64]) -> ([F; MAX_RADIAL_ENDS], usize) {
    let r = F::cst(POLAR_RADIUS);
    let mut ends = [F::zero(); MAX_RADIAL_ENDS];
    let mut m = 1;
    for k in [k1, k2] {
        if k == F::zero() {
            continue;
        }
        for t in FEATURE_SCALES {
            let e = F::cst(t) / k.abs();
            if e < r {
                ends[m] = e;
                m += 1;
            }
        }
        for &kink in kinks {
            let e = F::cst(kink) / k;
            if e > F::zero() && e < r {
                ends[m] = e;
                m += 1;
            }
        }
    }
    ends[m] = r;
    m += 1;
    ends[..m].sort_by(|p, q| p.value().total_cmp(&q.value()));
    (ends, m)
}

/// Growth of the graded angular panels at the ends of a sector of a rule with kinks away from 0
/// (see `polar_sum`): the contribution e^{−κ²/(2q t²)} has an essential singularity at t = 0, so
/// the panels must stay within a factor of 2 of their distance to it (a factor of 4 left errors of
/// 2.6e-7 at q = 4; 2 gives ≤ 1.4e-10 for q from 0.1 to 10, measured at 32 nodes).
const KINK_GRADING: f64 = 2.0;

/// At most this many graded angular panels on each side of a sector.
const MAX_GRADING: usize = 16;

/// Panel ends on the angular sector [lo, hi] between two kink lines. Near a kink line a coordinate
/// is w ≈ s·k·(ψ − ψ_cut) with k = √q of that coordinate, so at a large variance φ(w) changes within
/// |ψ − ψ_cut| ≲ 10/(s·k): a boundary layer one rule per sector misses (with the radial panels
/// alone, the 32-node rule still put the sigmoid network's Θ(x, x) 37 % low at q = 3·10⁴). Panels at distances rʲ/k from each end (while below
/// a quarter of the sector) resolve it; for q ≲ 1 there are none and the rule is the plain one.
/// `k` bounds the scale of both coordinates; `ratio` is the growth of the distances (4, or
/// [`KINK_GRADING`] for rules with kinks away from 0).
fn angular_panels<F: Real>(lo: F, hi: F, k: F, ratio: f64) -> ([F; 2 * MAX_GRADING + 2], usize) {
    let quarter = (hi - lo) / F::cst(4.0);
    let mut deltas = [F::zero(); MAX_GRADING];
    let mut nd = 0;
    let mut d = k.recip();
    while nd < MAX_GRADING && d < quarter {
        deltas[nd] = d;
        nd += 1;
        d = d * F::cst(ratio);
    }
    let mut ends = [F::zero(); 2 * MAX_GRADING + 2];
    ends[0] = lo;
    for j in 0..nd {
        ends[1 + j] = lo + deltas[j];
        ends[2 * nd - j] = hi - deltas[j];
    }
    ends[2 * nd + 1] = hi;
    (ends, 2 * nd + 2)
}

/// √(q2 − a²), the part of v independent of u; zero below the rounding floor of
/// [`crate::real::ANGLE_FLOOR`] (|ρ| = 1 to working precision), as in the closed forms.
fn conditional_std<F: Real>(q2: F, a: F) -> F {
    let gap = q2 - a * a;
    if gap <= F::cst(crate::real::ANGLE_FLOOR) * q2 {
        F::zero()
    } else {
        gap.sqrt()
    }
}

fn pair(f: ScalarFn, df: ScalarFn) -> PairFn {
    Arc::new(move |x| (f(x), df(x)))
}

fn check_nodes(nodes: usize) -> crate::Result<()> {
    if nodes == 0 || nodes > MAX_NODES {
        return Err(crate::error::invalid(
            "nodes",
            nodes,
            &format!("the number of quadrature nodes must be in 1..={MAX_NODES}"),
        ));
    }
    Ok(())
}

impl QuadratureDual {
    fn hermite<F: Real>(&self, x: &[f64], w: &[f64], c: F, q1: F, q2: F) -> (F, F) {
        let two = F::cst(2.0);
        let a = if q1 > F::zero() {
            c / q1.sqrt()
        } else {
            F::zero()
        };
        let b = conditional_std(q2, a);
        let su = (two * q1).sqrt();
        let d2 = |t: f64| self.d2(t);
        let mut t = F::zero();
        let mut dot = F::zero();
        for (&xi, &wi) in x.iter().zip(w) {
            let u = su * F::cst(xi);
            let (fu, dfu) = u.lift_pair(&*self.fd, &d2);
            let ax = a * F::cst(xi);
            let mut inner_f = F::zero();
            let mut inner_df = F::zero();
            for (&yj, &wj) in x.iter().zip(w) {
                let v = two.sqrt() * (ax + b * F::cst(yj));
                let (fv, dfv) = v.lift_pair(&*self.fd, &d2);
                inner_f = inner_f + F::cst(wj) * fv;
                inner_df = inner_df + F::cst(wj) * dfv;
            }
            t = t + F::cst(wi) * fu * inner_f;
            dot = dot + F::cst(wi) * dfu * inner_df;
        }
        (t / F::PI(), dot / F::PI())
    }

    fn polar_sum<F: Real>(
        &self,
        ang: &(Vec<f64>, Vec<f64>),
        rad: &(Vec<f64>, Vec<f64>),
        c: F,
        q1: F,
        q2: F,
    ) -> (F, F) {
        self.polar_sum_ref((&ang.0, &ang.1), (&rad.0, &rad.1), c, q1, q2)
    }

    #[allow(clippy::type_complexity)]
    fn polar_sum_ref<F: Real>(
        &self,
        ang: (&[f64], &[f64]),
        rad: (&[f64], &[f64]),
        c: F,
        q1: F,
        q2: F,
    ) -> (F, F) {
        let su = q1.sqrt();
        let a = if q1 > F::zero() { c / su } else { F::zero() };
        let b = conditional_std(q2, a);
        let tau = F::cst(std::f64::consts::TAU);
        let two = F::cst(2.0);
        let wrap = |p: F| if p < F::zero() { p + tau } else { p };
        let psi0 = wrap((-a).atan2(b));
        // Sector ends: the kink lines u = 0 and v = 0 (rays), and the rays through the corners
        // (κᵢ, κⱼ) where two kink lines away from 0 cross: there the order of the radial kinks
        // changes, so the radial integral is only piecewise smooth in the angle.
        let mut cuts = [F::zero(); MAX_CUTS];
        cuts[..4].copy_from_slice(&[
            F::FRAC_PI_2(),
            F::cst(1.5 * std::f64::consts::PI),
            psi0,
            wrap(psi0 - F::PI()),
        ]);
        let mut n_cuts = 4;
        if b > F::zero() {
            for &k1 in &self.kinks {
                for &k2 in &self.kinks {
                    let x = F::cst(k1) / su;
                    let y = (F::cst(k2) - a * x) / b;
                    if (x * x + y * y).sqrt() < F::cst(POLAR_RADIUS) {
                        cuts[n_cuts] = wrap(y.atan2(x));
                        n_cuts += 1;
                    }
                }
            }
        }
        let cuts = &mut cuts[..n_cuts];
        cuts.sort_by(|p, q| p.value().total_cmp(&q.value()));
        let d2 = |t: f64| self.d2(t);
        let mut t = F::zero();
        let mut dot = F::zero();
        let mut k_cut = su.max(q2.sqrt());
        let mut ratio = 4.0;
        if let Some(kmin) = self.kinks.iter().map(|k| k.abs()).reduce(f64::min) {
            // A kink line u = κ ≠ 0 is parallel to the sector ends (the rays u = 0): a ray at angle
            // t from the end meets it at r = |κ|/(√q·sin t), so its contribution varies like
            // e^{−κ²/(2q t²)}, flat to all orders at t = 0 and analytic nowhere near it. Graded
            // panels from t = |κ|/(√q·R) (where the line enters the disk) restore exponential
            // convergence (see `KINK_GRADING`).
            k_cut = k_cut.max(k_cut * F::cst(POLAR_RADIUS / kmin));
            ratio = KINK_GRADING;
        }
        for k in 0..n_cuts {
            let lo = cuts[k];
            let hi = if k + 1 == n_cuts {
                cuts[0] + tau
            } else {
                cuts[k + 1]
            };
            if (hi - lo).value() <= 0.0 {
                continue;
            }
            let (aends, am) = angular_panels(lo, hi, k_cut, ratio);
            for ap in 0..am - 1 {
                let half = (aends[ap + 1] - aends[ap]) / two;
                let mid = (aends[ap + 1] + aends[ap]) / two;
                for (&ta, &wa) in ang.0.iter().zip(ang.1) {
                    let psi = mid + half * F::cst(ta);
                    let (sn, cs) = (psi.sin(), psi.cos());
                    let (ku, kv) = (su * cs, a * cs + b * sn);
                    let mut st = F::zero();
                    let mut sd = F::zero();
                    let (ends, m) = radial_panels(ku, kv, &self.kinks);
                    for_each_radial_node(&ends[..m], rad, |r, w| {
                        let g = w * r * (-r * r / two).exp();
                        let (fu, dfu) = (ku * r).lift_pair(&*self.fd, &d2);
                        let (fv, dfv) = (kv * r).lift_pair(&*self.fd, &d2);
                        st = st + g * fu * fv;
                        sd = sd + g * dfu * dfv;
                    });
                    t = t + F::cst(wa) * half * st;
                    dot = dot + F::cst(wa) * half * sd;
                }
            }
        }
        (t / tau, dot / tau)
    }
}

/// Nodes per dimension of the exact 2-D rule behind the Mehler series of the fully connected
/// kernels (the polar rule, split at the dual's kinks): the rule that entries fall back on where the
/// series would need too many terms (|ρ| near 1), and that input gradients use. See
/// docs/quadrature.md for its measured accuracy.
pub const EXACT_NODES: usize = 96;

/// A Gauss–Legendre rule: nodes and weights.
type LegendreRule = (Vec<f64>, Vec<f64>);

/// The polar rule of [`EXACT_NODES`] nodes: Gauss–Legendre rules of ⌈n/2⌉ angles and n radii.
fn exact_rule() -> &'static (LegendreRule, LegendreRule) {
    static RULE: OnceLock<(LegendreRule, LegendreRule)> = OnceLock::new();
    RULE.get_or_init(|| {
        (
            gauss_legendre(EXACT_NODES.div_ceil(2)),
            gauss_legendre(EXACT_NODES),
        )
    })
}

/// The 1-D rule of the per-point Hermite coefficients, shared by every dual.
fn series_rule() -> &'static SeriesRule {
    static RULE: OnceLock<SeriesRule> = OnceLock::new();
    RULE.get_or_init(SeriesRule::new)
}

/// The fast path of the fully connected kernels (see `mehler.rs` and docs/quadrature.md): a point
/// records per-point Hermite coefficients once per layer, and an entry sums the Mehler series from
/// the two points' tables, falling back on the exact polar rule of [`EXACT_NODES`] nodes.
impl QuadratureDual {
    /// Fills a point's table (length `mehler::TABLE`) for the input variance q.
    pub(crate) fn fill_table(&self, q: f64, table: &mut [f64]) {
        series_rule().fill(&*self.fd, &self.kinks, self.odd, q, table);
    }

    /// (T, Ṫ) of an entry from the two points' tables: the diagonal values (from the tables) at
    /// c = q1 = q2, the Mehler series where its bound meets the tolerance, the exact rule otherwise.
    /// Inlined into the kernels' column loop (the exact rule stays a call).
    #[inline(always)]
    pub(crate) fn dual_from_tables(
        &self,
        c: f64,
        q1: f64,
        q2: f64,
        t1: &[f64],
        t2: &[f64],
    ) -> (f64, f64) {
        if c == q1 && c == q2 {
            return mehler::diagonal(t1);
        }
        mehler::entry(c, t1, t2).unwrap_or_else(|| self.exact(c, q1, q2))
    }

    /// [`Self::dual_from_tables`] for [`LANES`] rows against one column point, in place: `c` holds
    /// the rows' covariances with the column point and gets T, `ntk` is multiplied by Ṫ. The rows'
    /// tables are read through `row` (value v of the rows' tables for the lanes, see
    /// `mehler::entries`), their variances are `q1`; `t2` and `q2` are the column point's. Lanes
    /// at `real` and after are padding: they run with the others but never take the exact rule.
    /// Each lane gets the bits `dual_from_tables` gives its entry.
    #[inline(always)]
    pub(crate) fn dual_from_lanes(
        &self,
        (c, ntk): (&mut [f64; LANES], &mut [f64; LANES]),
        (q1, q2): (&[f64; LANES], f64),
        row: impl Fn(usize) -> [f64; LANES],
        t2: &[f64],
        real: usize,
    ) {
        let diag: [bool; LANES] = std::array::from_fn(|l| c[l] == q1[l] && c[l] == q2);
        let (ma, mb) = (row(0), row(1));
        let (sa, sb, ok) = mehler::entries(c, diag, row, t2);
        let mut fallback = false;
        for l in 0..LANES {
            let done = diag[l] | ok[l];
            fallback |= !done & (l < real);
            let t = if diag[l] { ma[l] } else { sa[l] };
            let dot = if diag[l] { mb[l] } else { sb[l] };
            // A lane left for the exact rule keeps its covariance (which that rule reads).
            c[l] = if done { t } else { c[l] };
            ntk[l] = if done { ntk[l] * dot } else { ntk[l] };
        }
        if fallback {
            for l in 0..real.min(LANES) {
                if !(diag[l] | ok[l]) {
                    let (t, dot) = self.exact(c[l], q1[l], q2);
                    c[l] = t;
                    ntk[l] *= dot;
                }
            }
        }
    }

    /// (T, Ṫ) by the exact polar rule (at least [`EXACT_NODES`] nodes, split at the kinks), for any
    /// scalar; the series path's fallback and reference, and the input gradients' rule.
    ///
    /// A dual built with fewer than [`DEFAULT_NODES`] nodes uses its own rule here instead: asking
    /// for fewer nodes than the default trades accuracy for speed (e.g. 16 nodes for an eigenvalue
    /// needed to 1e-6, in `examples/paper_fig3.rs`), and the 96-node rule costs (96/16)² = 36 times
    /// as much per gradient entry.
    pub fn exact<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        if self.nodes < DEFAULT_NODES {
            return self.dual(c, q1, q2);
        }
        match &self.rule {
            Rule::Polar { ang, rad } if self.nodes >= EXACT_NODES => {
                self.polar_sum(ang, rad, c, q1, q2)
            }
            _ => {
                let ((ax, aw), (rx, rw)) = exact_rule();
                self.polar_sum_ref(
                    (ax.as_slice(), aw.as_slice()),
                    (rx.as_slice(), rw.as_slice()),
                    c,
                    q1,
                    q2,
                )
            }
        }
    }

    /// (T(q; q, q), Ṫ(q; q, q)) = (E[φ(√q z)²], E[φ'(√q z)²]) by the 1-D rule of the series
    /// coefficients (for `f64`, the same values as the tables' diagonal).
    pub fn exact_diag<F: Real>(&self, q: F) -> (F, F) {
        let s = q.sqrt();
        let d2 = |t: f64| self.d2(t);
        if s.value() == 0.0 {
            let (f0, d0) = F::zero().lift_pair(&*self.fd, &d2);
            return (f0 * f0, d0 * d0);
        }
        let (mut t, mut dot) = (F::zero(), F::zero());
        series_rule().for_each_node(s.value(), &self.kinks, |z, w| {
            let (fp, dp) = (s * F::cst(z)).lift_pair(&*self.fd, &d2);
            let (fm, dm) = (-(s * F::cst(z))).lift_pair(&*self.fd, &d2);
            t = t + F::cst(w) * (fp * fp + fm * fm);
            dot = dot + F::cst(w) * (dp * dp + dm * dm);
        });
        (t, dot)
    }
}

impl DualActivation for QuadratureDual {
    fn dual<F: Real>(&self, c: F, q1: F, q2: F) -> (F, F) {
        match &self.rule {
            Rule::Hermite { x, w } => self.hermite(x, w, c, q1, q2),
            Rule::Polar { ang, rad } => self.polar_sum(ang, rad, c, q1, q2),
        }
    }

    fn dual_diag<F: Real>(&self, q: F) -> (F, F) {
        let d2 = |t: f64| self.d2(t);
        let mut t = F::zero();
        let mut dot = F::zero();
        match &self.rule {
            Rule::Hermite { x, w } => {
                let su = (F::cst(2.0) * q).sqrt();
                for (&xi, &wi) in x.iter().zip(w) {
                    let u = su * F::cst(xi);
                    let (fu, dfu) = u.lift_pair(&*self.fd, &d2);
                    t = t + F::cst(wi) * fu * fu;
                    dot = dot + F::cst(wi) * dfu * dfu;
                }
                let norm = F::PI().sqrt();
                (t / norm, dot / norm)
            }
            Rule::Polar { rad, .. } => {
                // E[φ(√q·x)²] split at x = 0: Gauss–Legendre on each half line [0, R], on the
                // panels of `radial_panels` (which differ between the two sides when φ has kinks
                // away from 0).
                let su = q.sqrt();
                let two = F::cst(2.0);
                for side in [F::one(), -F::one()] {
                    let k = su * side;
                    let (ends, m) = radial_panels(k, k, &self.kinks);
                    for_each_radial_node(&ends[..m], (&rad.0, &rad.1), |r, w| {
                        let g = w * (-r * r / two).exp();
                        let (fu, dfu) = (k * r).lift_pair(&*self.fd, &d2);
                        t = t + g * fu * fu;
                        dot = dot + g * dfu * dfu;
                    });
                }
                let norm = F::cst((std::f64::consts::TAU).sqrt());
                (t / norm, dot / norm)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewer_nodes_than_the_default_are_honoured_by_the_exact_path() {
        let dual = |n| match crate::Activation::Sigmoid.dual_with_nodes(n).unwrap() {
            crate::activation::Dual::Quadrature(d) => d,
            other => panic!("sigmoid's dual is a quadrature, not {other:?}"),
        };
        let (c, q1, q2) = (0.3, 0.8, 1.2);
        let few = dual(16);
        // Below the default: the dual's own 16-node rule, bit for bit.
        assert_eq!(few.exact(c, q1, q2), few.dual(c, q1, q2));
        // From the default up: the 96-node exact rule, not the dual's own 32-node one; the two
        // differ (sigmoid's 32-node rule is ≈ 3e-8 off, see DEFAULT_NODES).
        let default = dual(DEFAULT_NODES);
        let (exact, own) = (default.exact(c, q1, q2), default.dual(c, q1, q2));
        assert_ne!(exact, own);
        assert!((exact.0 - own.0).abs() < 1e-6 && (exact.0 - few.exact(c, q1, q2).0).abs() > 0.0);
    }

    #[test]
    fn gauss_legendre_integrates_polynomials() {
        for n in [1, 2, 3, 10, 64, 300] {
            let (x, w) = gauss_legendre(n);
            let m0: f64 = w.iter().sum();
            assert!((m0 - 2.0).abs() < 1e-13, "n={n}");
            let k = (2 * n - 2).min(10) as i32;
            let mk: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(k)).sum();
            assert!((mk - 2.0 / (k as f64 + 1.0)).abs() < 1e-13, "n={n} k={k}");
        }
    }

    #[test]
    fn gauss_hermite_integrates_moments() {
        for n in [1, 2, 5, 20, 64, 199, 200, 512] {
            let (x, w) = gauss_hermite(n);
            let m0: f64 = w.iter().sum();
            assert!(
                (m0 - std::f64::consts::PI.sqrt()).abs() < 1e-13,
                "n={n} m0={m0}"
            );
            if n >= 2 {
                let m2: f64 = x.iter().zip(&w).map(|(x, w)| w * x * x).sum();
                assert!((m2 - std::f64::consts::PI.sqrt() / 2.0).abs() < 1e-13);
            }
            assert!(x.windows(2).all(|p| p[0] < p[1]));
        }
    }
}
