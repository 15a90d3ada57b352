//! Helpers shared by the test modules: the activation lists, the fixed-seed proptest configuration,
//! the xorshift generator of the hand-rolled Monte Carlo checks, least-squares slopes, and the normal
//! quantiles behind the statistical thresholds.
//!
//! **Adding an activation.** Put it in [`closed_forms`] (closed-form dual) or [`quadrature_named`]
//! (quadrature), and in [`is_kinked`] if φ or φ' has a kink or a jump. The module lists with
//! parameters tuned to their test (their comments say why) must name every activation too:
//! `every_activation_list_covers_every_activation` below fails until each of them does, and says
//! which list lacks which activation.
//!
//! **Float comparisons** use `approx`. |a − b| ≤ tol·s for an explicit scale s (a Cauchy–Schwarz
//! bound, a reference value, 1) is `abs_diff_eq!(a, b, epsilon = tol * s)`: approx's relative
//! comparisons divide by max(|a|, |b|), which would loosen a bound stated relative to one of the
//! two values, so they are used where that is the stated measure.

use ntk::activation::Activation;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};
use statrs::distribution::{ContinuousCDF, Normal};
use std::f64::consts::PI;
use std::mem::discriminant;

// ---------------------------------------------------------------------------------------------
// Activations
// ---------------------------------------------------------------------------------------------

/// Every closed-form activation, several with non-default parameters (the duals' reference list).
pub fn closed_forms() -> Vec<Activation> {
    use Activation as A;
    let mut v = vec![
        A::Relu,
        A::LeakyRelu { alpha: 0.1 },
        A::AbRelu { a: -0.3, b: 1.7 },
        A::Abs,
        A::Erf {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
        A::Erf {
            a: 1.3,
            b: 0.7,
            c: -0.4,
        },
        A::SigmoidErf,
        A::SigmoidLike,
        A::Gelu,
        A::Sin {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
        A::Sin {
            a: 0.8,
            b: 1.5,
            c: 0.3,
        },
        A::Cos {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
        A::Cos {
            a: 1.2,
            b: 0.6,
            c: -0.5,
        },
        A::Rbf { gamma: 0.5 },
        A::Rbf { gamma: 1.3 },
        A::Exp { a: 1.0, b: 1.0 },
        A::Exp { a: 0.7, b: 0.5 },
        A::Gaussian { a: 1.0, b: -1.0 },
        A::Gaussian { a: 0.8, b: -0.3 },
        A::Sign,
        A::Polynomial {
            coef: vec![0.3, -1.0, 0.5, 0.2],
        },
        A::Polynomial {
            coef: vec![1.0, 0.0, -0.4, 0.0, 0.1, 0.05],
        },
        A::Gabor,
        A::Affine {
            alpha: 1.5,
            beta: -0.7,
        },
        A::Identity,
    ];
    v.extend((0..=5).map(|degree| A::Monomial { degree }));
    v.extend((0..=4).map(|degree| A::RectifiedMonomial { degree }));
    v.extend((0..=6).map(|degree| A::Hermite { degree }));
    v
}

/// The named activations that have no closed form (quadrature in the library).
pub fn quadrature_named() -> Vec<Activation> {
    use Activation as A;
    vec![
        A::Sigmoid,
        A::Tanh,
        A::Softplus,
        A::Silu,
        A::Elu { alpha: 1.0 },
        A::Elu { alpha: 0.5 },
        A::Selu,
        A::HardTanh,
        A::Mish,
    ]
}

/// Activations with a kink or a jump (φ or φ' not smooth at 0).
pub fn is_kinked(a: &Activation) -> bool {
    use Activation as A;
    matches!(
        a,
        A::Relu
            | A::LeakyRelu { .. }
            | A::AbRelu { .. }
            | A::Abs
            | A::Sign
            | A::RectifiedMonomial { .. }
    )
}

/// Names of the activations of `reference` whose variant does not occur in `list`.
fn missing(list: &[Activation], reference: &[Activation]) -> Vec<String> {
    let mut out: Vec<String> = reference
        .iter()
        .filter(|a| !list.iter().any(|b| discriminant(*a) == discriminant(b)))
        .map(|a| a.name())
        .collect();
    out.dedup();
    out
}

/// Each module's own activation list names every variant it is meant to cover.
#[test]
fn every_activation_list_covers_every_activation() {
    let closed = closed_forms();
    let all: Vec<Activation> = closed.iter().cloned().chain(quadrature_named()).collect();
    let finite: Vec<Activation> = crate::finite::closed_form_activations()
        .into_iter()
        .map(|(a, _, _)| a)
        .collect();
    let lists: [(&str, Vec<Activation>, &Vec<Activation>); 3] = [
        (
            "properties::closed_forms_finite_at_depth_3",
            crate::properties::closed_forms_finite_at_depth_3(),
            &closed,
        ),
        ("finite::closed_form_activations", finite, &closed),
        (
            "jacobian::activations",
            crate::jacobian::activations(),
            &all,
        ),
    ];
    let mut gaps = Vec::new();
    for (name, list, reference) in lists {
        let m = missing(&list, reference);
        if !m.is_empty() {
            gaps.push(format!("{name} lacks {m:?}"));
        }
    }
    assert!(gaps.is_empty(), "{gaps:#?}");
}

// ---------------------------------------------------------------------------------------------
// Random numbers
// ---------------------------------------------------------------------------------------------

/// Fixed seed `default_seed` (reproducible in CI; `PROPTEST_RNG_SEED=<u64>` explores others), no
/// regression files.
pub fn proptest_config(cases: u32, default_seed: u64) -> ProptestConfig {
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_seed);
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    }
}

/// xorshift64* (Vigna 2016): reproducible, no crate state, plenty for 2·10⁵ draws.
///
/// The Monte Carlo and finite-difference tests were calibrated on its streams, so its two ways of
/// turning the 64-bit output into normals are both kept, exactly: [`normal_pair`](Self::normal_pair)
/// (the dual checks) and [`normal`](Self::normal) (the Jacobian checks).
pub struct XorShift(u64);

impl XorShift {
    /// A generator whose state is derived from `seed` (never zero).
    pub fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A generator with the raw non-zero state `state`.
    pub fn from_state(state: u64) -> Self {
        XorShift(state)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// k/2⁵³ for the top 53 bits k: uniform on [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// (k + ½)/2⁵³: uniform on (0, 1), never 0 (safe for ln).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Two independent N(0, 1) by Box–Muller from two [`uniform`](Self::uniform) draws.
    pub fn normal_pair(&mut self) -> (f64, f64) {
        let r = (-2.0 * self.uniform().ln()).sqrt();
        let t = 2.0 * PI * self.uniform();
        (r * t.cos(), r * t.sin())
    }

    /// One N(0, 1) by Box–Muller (the cosine branch), from two [0, 1) draws, the first shifted by
    /// 1e-300 off zero.
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit() + 1e-300;
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// d independent N(0, scale²) by [`normal`](Self::normal).
    pub fn normal_vec(&mut self, d: usize, scale: f64) -> Vec<f64> {
        (0..d).map(|_| scale * self.normal()).collect()
    }

    /// n points of norm r in ℝᵈ (the rows), uniform on the sphere: the paper's data.
    pub fn sphere(&mut self, n: usize, d: usize, r: f64) -> nalgebra::DMatrix<f64> {
        let mut x = nalgebra::DMatrix::zeros(n, d);
        for i in 0..n {
            let v = self.normal_vec(d, 1.0);
            let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            for j in 0..d {
                x[(i, j)] = r * v[j] / norm;
            }
        }
        x
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

/// The z with P(|Z| > z) = `p` for a standard normal Z: the threshold of a two-sided check that a
/// correct result fails by chance with probability `p`.
pub fn two_sided_z(p: f64) -> f64 {
    Normal::standard().inverse_cdf(1.0 - p / 2.0)
}

/// P(|Z| > z) for a standard normal Z.
pub fn two_sided_tail(z: f64) -> f64 {
    2.0 * Normal::standard().sf(z)
}

/// Least-squares slope of log y against log x.
pub fn log_slope(x: &[f64], y: &[f64]) -> f64 {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let n = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    sxy / sxx
}

/// The quantile functions against textbook values: 1.959964 for 5 %, and the 5σ tail 5.733e-7.
#[test]
fn normal_quantiles_are_the_textbook_values() {
    approx::assert_abs_diff_eq!(two_sided_z(0.05), 1.959_963_984_540_054, epsilon = 1e-9);
    approx::assert_relative_eq!(
        two_sided_tail(5.0),
        5.733_031_437_583_878e-7,
        max_relative = 1e-9
    );
    approx::assert_abs_diff_eq!(two_sided_z(two_sided_tail(4.2)), 4.2, epsilon = 1e-9);
}
