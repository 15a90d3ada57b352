//! The activation table, and the two activations added through it alone: hard tanh (kinks at ±1,
//! the polar rule split there) and mish (smooth). Each is checked against oracles that share no code
//! with its dual:
//!
//! * hard tanh: one-dimensional integrals of the conditional expectations (closed forms in Φ and the
//!   normal density, integrated by composite Gauss–Legendre), and the exact diagonal;
//! * mish: a 2-D Gauss–Hermite rule of 160 nodes per dimension fed only with φ and φ';
//! * both: Ṫ = ∂T/∂c by central differences (Price's theorem), Monte Carlo, and input gradients of a
//!   network kernel against finite differences.

use crate::common::{XorShift, two_sided_z};
use nalgebra::DMatrix;
use ntk::activation::{Activation, DualActivation, QuadratureDual, gauss_legendre};
use ntk::{Kernel, Network};
use std::f64::consts::{PI, SQRT_2};
use std::sync::Arc;

/// Φ, the standard normal distribution function (libm's erfc keeps the lower tail accurate).
fn big_phi(z: f64) -> f64 {
    0.5 * libm::erfc(-z / SQRT_2)
}

/// The standard normal density.
fn small_phi(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * PI).sqrt()
}

/// ∫ f over [a, b] by Gauss–Legendre (16 nodes) on `panels` equal panels between consecutive
/// breakpoints (the breakpoints include a and b).
fn integrate(f: impl Fn(f64) -> f64, breaks: &[f64], panels: usize) -> f64 {
    let (x, w) = gauss_legendre(16);
    let mut total = 0.0;
    for pair in breaks.windows(2) {
        let h = (pair[1] - pair[0]) / panels as f64;
        for p in 0..panels {
            let (lo, hi) = (pair[0] + p as f64 * h, pair[0] + (p + 1) as f64 * h);
            let (mid, half) = ((lo + hi) / 2.0, (hi - lo) / 2.0);
            total += half
                * x.iter()
                    .zip(&w)
                    .map(|(t, w)| w * f(mid + half * t))
                    .sum::<f64>();
        }
    }
    total
}

/// Breakpoints of a 1-D integral over u ~ N(0, q1) (±12 standard deviations) with the given kinks
/// inside.
fn breaks(q1: f64, kinks: &[f64]) -> Vec<f64> {
    let r = 12.0 * q1.sqrt();
    let mut b = vec![-r, r];
    b.extend(kinks.iter().copied().filter(|k| k.abs() < r));
    b.sort_by(f64::total_cmp);
    b.dedup();
    b
}

/// (T, Ṫ) of hard tanh by conditioning on u: with v | u ~ N(μ, s²), μ = (c/q1)u,
/// s² = q2 − c²/q1,
/// E[clip(v) | u] = P(v > 1) − P(v < −1) + μ·P(|v| < 1) + s·(φ_N(z₋) − φ_N(z₊)), z± = (±1 − μ)/s,
/// so T = ∫ clip(u)·E[clip(v) | u]·N(u; 0, q1) du and Ṫ = ∫_{|u|<1} P(|v| < 1 | u)·N(u; 0, q1) du.
/// The integrands are smooth between u = ±1 and u = ±q1/c (where μ = ±1), which are breakpoints.
fn hard_tanh_oracle(c: f64, q1: f64, q2: f64) -> (f64, f64) {
    let a = c / q1;
    let s = (q2 - c * c / q1).sqrt();
    let density = |u: f64| (-u * u / (2.0 * q1)).exp() / (2.0 * PI * q1).sqrt();
    let clip = |u: f64| u.clamp(-1.0, 1.0);
    let inside = |mu: f64| big_phi((1.0 - mu) / s) - big_phi((-1.0 - mu) / s);
    let cond_mean = |mu: f64| {
        let (zp, zm) = ((1.0 - mu) / s, (-1.0 - mu) / s);
        (1.0 - big_phi(zp)) - big_phi(zm) + mu * inside(mu) + s * (small_phi(zm) - small_phi(zp))
    };
    let mut kinks = vec![-1.0, 1.0];
    if a != 0.0 {
        kinks.extend([1.0 / a, -1.0 / a]);
    }
    let b = breaks(q1, &kinks);
    let t = integrate(|u| clip(u) * cond_mean(a * u) * density(u), &b, 200);
    let dot = integrate(|u| inside(a * u) * density(u), &[-1.0, 1.0], 400);
    (t, dot)
}

/// E[clip(u)²] and P(|u| < 1) for u ~ N(0, q): 2Φ(−1/σ) + σ²(2Φ(1/σ) − 1) − 2σφ_N(1/σ), and
/// 2Φ(1/σ) − 1, with σ = √q.
fn hard_tanh_diag(q: f64) -> (f64, f64) {
    let sd = q.sqrt();
    let inside = 2.0 * big_phi(1.0 / sd) - 1.0;
    (
        2.0 * big_phi(-1.0 / sd) + q * inside - 2.0 * sd * small_phi(1.0 / sd),
        inside,
    )
}

/// Variance pairs and correlations of the checks (ρ = ±1 excluded: the diagonal has its own).
const VARS: [(f64, f64); 5] = [
    (1.0, 1.0),
    (0.5, 2.0),
    (2.5, 0.3),
    (0.04, 0.09),
    (9.0, 16.0),
];
const RHOS: [f64; 7] = [-0.99, -0.6, -0.1, 0.0, 0.35, 0.8, 0.99];

fn grid() -> Vec<(f64, f64, f64)> {
    VARS.iter()
        .flat_map(|&(q1, q2)| RHOS.iter().map(move |r| (r * (q1 * q2).sqrt(), q1, q2)))
        .collect()
}

/// Cauchy–Schwarz scales √(T(q1)T(q2)), √(Ṫ(q1)Ṫ(q2)): the natural magnitudes of T and Ṫ.
fn scales<D: DualActivation>(d: &D, q1: f64, q2: f64) -> (f64, f64) {
    let (t1, d1) = d.dual_diag(q1);
    let (t2, d2) = d.dual_diag(q2);
    ((t1 * t2).sqrt(), (d1 * d2).sqrt())
}

/// The worst error of `dual` against `oracle` over the grid, relative to the Cauchy–Schwarz scales.
fn worst_error<D: DualActivation>(dual: &D, oracle: impl Fn(f64, f64, f64) -> (f64, f64)) -> f64 {
    let mut worst: f64 = 0.0;
    for (c, q1, q2) in grid() {
        let (t, dot) = dual.dual(c, q1, q2);
        let (to, doto) = oracle(c, q1, q2);
        let (st, sd) = scales(dual, q1, q2);
        worst = worst.max((t - to).abs() / st).max((dot - doto).abs() / sd);
    }
    worst
}

#[test]
fn hard_tanh_matches_the_conditional_integrals() {
    // The polar rule split at the kinks ±1 (radially) and at the rays through the corners of the
    // square [−1, 1]² (angularly) converges exponentially, so a finer rule must agree with the
    // oracle to its own accuracy (≤ 1e-13: 3200 Gauss–Legendre nodes between the kinks of smooth
    // integrands) and the default rule to the measured class of the named quadrature activations.
    let at = |nodes| {
        worst_error(
            &Activation::HardTanh.dual_with_nodes(nodes).unwrap(),
            hard_tanh_oracle,
        )
    };
    let (default, fine) = (at(ntk::activation::DEFAULT_NODES), at(96));
    println!(
        "hard_tanh vs conditional integrals: worst {default:.1e} (32 nodes), {fine:.1e} (96 nodes)"
    );
    // Measured: 5.0e-12 at 32 nodes, 8.6e-15 at 96.
    assert!(fine < 1e-13, "96 nodes: {fine:e}");
    assert!(default < 5e-11, "32 nodes: {default:e}");
}

#[test]
fn hard_tanh_diagonal_is_exact() {
    let dual = Activation::HardTanh.dual().unwrap();
    for q in [1e-4, 0.04, 0.5, 1.0, 2.0, 9.0, 100.0, 1e4] {
        let (t, dot) = dual.dual_diag(q);
        let (te, de) = hard_tanh_diag(q);
        assert!((t - te).abs() <= 1e-12 * te, "q={q}: {t} vs {te}");
        assert!(
            (dot - de).abs() <= 1e-12 * de.max(1e-300),
            "q={q}: {dot} vs {de}"
        );
        // The general rule next to c = q, where the kink lines of u and v nearly coincide (the
        // rule's hardest case), approaches the diagonal. T is C¹ at ρ = 1, so it moves by
        // O(1 − ρ) = 1e-12. Ṫ = P(|u| < 1, |v| < 1) has a √(1 − ρ) cusp: v − u has standard
        // deviation s = √(2q(1 − ρ)), so P(|u| < 1 ≤ |v|) ≈ 2·f_u(1)·s/√(2π), with f_u the density
        // of u. A 128-node rule resolves the sliver between the kink lines, and the cusp must come
        // out at its predicted size. (The default 32 nodes are within 4e-11 (T) and 2.6e-10 (Ṫ) of
        // the 128-node values for 1 − |ρ| from 0 to 1e-3 and q from 1e-4 to 1e4: measured.)
        let rho = 1.0 - 1e-12;
        let fine = Activation::HardTanh.dual_with_nodes(128).unwrap();
        let (tg, dg) = fine.dual(q * rho, q, q);
        assert!((tg - te).abs() <= 1e-10 * te, "q={q}: general {tg} vs {te}");
        let sd = q.sqrt();
        let cusp =
            2.0 * small_phi(1.0 / sd) / sd * (2.0 * q * (1.0 - rho)).sqrt() / (2.0 * PI).sqrt();
        assert!(
            ((de - dg) - cusp).abs() <= 0.01 * cusp + 1e-12,
            "q={q}: Ṫ(1) − Ṫ(ρ) = {} vs the cusp {cusp}",
            de - dg
        );
    }
}

/// An independent dual of `a` by 2-D Gauss–Hermite quadrature from `eval_with_derivative` alone.
fn hermite_of(a: &Activation, nodes: usize) -> QuadratureDual {
    let (f, df) = (a.clone(), a.clone());
    QuadratureDual::new(
        "oracle",
        Arc::new(move |x| f.eval_with_derivative(x).0),
        Arc::new(move |x| df.eval_with_derivative(x).1),
        None,
        nodes,
    )
    .unwrap()
}

/// (T, Ṫ) of an activation by a tensor Gauss–Legendre rule on the box [−9, 9]² of the standard
/// coordinates (x, y), u = √q1·x, v = a·x + b·y: 144 panels of 8 nodes per dimension. Unlike
/// Gauss–Hermite it does not slow down when φ(√q·x) has complex singularities close to the real
/// axis (mish at large variance); the mass outside the box is e^{−40.5}.
fn box_oracle(a_fn: &Activation, c: f64, q1: f64, q2: f64) -> (f64, f64) {
    let (x, w) = gauss_legendre(8);
    let (panels, r) = (144, 9.0);
    let h = 2.0 * r / panels as f64;
    let nodes: Vec<(f64, f64)> = (0..panels)
        .flat_map(|p| {
            let mid = -r + (p as f64 + 0.5) * h;
            x.iter().zip(&w).map(move |(t, w)| {
                let z = mid + h / 2.0 * t;
                (z, w * h / 2.0 * (-z * z / 2.0).exp() / (2.0 * PI).sqrt())
            })
        })
        .collect();
    let a = c / q1.sqrt();
    let b = (q2 - a * a).sqrt();
    let (mut t, mut dot) = (0.0, 0.0);
    for &(xi, wi) in &nodes {
        let (fu, du) = a_fn.eval_with_derivative(q1.sqrt() * xi);
        let (mut st, mut sd) = (0.0, 0.0);
        for &(yj, wj) in &nodes {
            let (fv, dv) = a_fn.eval_with_derivative(a * xi + b * yj);
            st += wj * fv;
            sd += wj * dv;
        }
        t += wi * fu * st;
        dot += wi * du * sd;
    }
    (t, dot)
}

#[test]
fn mish_matches_a_fine_tensor_rule() {
    // The box rule (1152² nodes) is accurate to ~1e-14 for smooth φ. The polar rule must agree to
    // that at 96 nodes (measured 9e-15), and at the default 32 within the class of sigmoid and SiLU
    // (2.7e-8 and 1.8e-8 of the scale, see `activation::DEFAULT_NODES`; measured 2.3e-10).
    let oracle = |c, q1, q2| box_oracle(&Activation::Mish, c, q1, q2);
    let at = |nodes| worst_error(&Activation::Mish.dual_with_nodes(nodes).unwrap(), oracle);
    let (default, fine) = (at(ntk::activation::DEFAULT_NODES), at(96));
    println!("mish vs the tensor rule: worst {default:.1e} (32 nodes), {fine:.1e} (96 nodes)");
    assert!(fine < 1e-13, "96 nodes: {fine:e}");
    assert!(default < 1e-8, "32 nodes: {default:e}");
    let dual = Activation::Mish.dual_with_nodes(96).unwrap();
    let hermite = hermite_of(&Activation::Mish, 200);
    for q in [0.04, 1.0] {
        // 1-D: the diagonal against 200-node Gauss–Hermite, accurate at moderate variance.
        let (t, dot) = dual.dual_diag(q);
        let (to, doto) = hermite.dual_diag(q);
        assert!(
            (t - to).abs() < 1e-12 * to && (dot - doto).abs() < 1e-12 * doto,
            "q={q}"
        );
    }
}

#[test]
fn dot_is_the_c_derivative_of_t() {
    for a in [Activation::HardTanh, Activation::Mish] {
        // A fine rule, so that the check is of Price's theorem, not of the default rule's accuracy.
        let dual = a.dual_with_nodes(96).unwrap();
        let mut worst: f64 = 0.0;
        for (c, q1, q2) in grid() {
            let p = (q1 * q2).sqrt();
            // Away from ρ = ±1, where hard tanh's ∂Ṫ/∂c blows up and a central difference is biased.
            if (c / p).abs() > 0.9 {
                continue;
            }
            let h = 1e-4 * p;
            let fd = (dual.dual(c + h, q1, q2).0 - dual.dual(c - h, q1, q2).0) / (2.0 * h);
            let dot = dual.dual(c, q1, q2).1;
            let (_, sd) = scales(&dual, q1, q2);
            let e = (fd - dot).abs() / sd;
            worst = worst.max(e);
            // Truncation h²|∂³T/∂c³|/6 ~ 1e-9 of the scale; rounding ε·T/h ~ 1e-12; the rule's own
            // error divided by h: 1e-12/1e-4.
            assert!(
                e < 1e-7,
                "{} at c={c}, q=({q1}, {q2}): FD {fd} vs Ṫ {dot}",
                a.name()
            );
        }
        println!("{}: Ṫ vs ∂T/∂c worst {worst:.1e}", a.name());
    }
}

#[test]
fn both_match_monte_carlo() {
    // 2·10⁵ draws per point; each mean is compared within the two-sided normal quantile of 1e-6
    // (4.89 standard errors): a correct dual fails one of these 2 × 2 × 6 checks with probability
    // < 3e-5, and the seeds are fixed.
    let n = 200_000;
    let z_max = two_sided_z(1e-6);
    for a in [Activation::HardTanh, Activation::Mish] {
        let dual = a.dual().unwrap();
        let cases: [(f64, f64, f64); 6] = [
            (0.3, 1.0, 1.0),
            (-0.5, 0.7, 2.0),
            (2.0, 4.0, 1.5),
            (0.0, 0.3, 3.0),
            (0.95, 1.0, 1.0),
            (-1.2, 2.0, 0.9),
        ];
        for (k, &(c, q1, q2)) in cases.iter().enumerate() {
            let mut rng = XorShift::new(0x5EED_0000 + k as u64);
            let (k1, r) = (c / q1.sqrt(), (q2 - c * c / q1).sqrt());
            let (mut st, mut st2, mut sd, mut sd2) = (0.0, 0.0, 0.0, 0.0);
            for _ in 0..n {
                let (z1, z2) = rng.normal_pair();
                let (u, v) = (q1.sqrt() * z1, k1 * z1 + r * z2);
                let ((fu, du), (fv, dv)) = (a.eval_with_derivative(u), a.eval_with_derivative(v));
                st += fu * fv;
                st2 += (fu * fv).powi(2);
                sd += du * dv;
                sd2 += (du * dv).powi(2);
            }
            let nf = n as f64;
            let z = |s: f64, s2: f64, exact: f64| {
                let mean = s / nf;
                let se = ((s2 / nf - mean * mean) / (nf - 1.0)).sqrt();
                (mean - exact).abs() / se
            };
            let (t, dot) = dual.dual(c, q1, q2);
            let (zt, zd) = (z(st, st2, t), z(sd, sd2, dot));
            assert!(
                zt < z_max && zd < z_max,
                "{} at c={c}, q=({q1}, {q2}): z = {zt:.2} (T), {zd:.2} (Ṫ)",
                a.name()
            );
        }
    }
}

#[test]
fn mish_derivatives_are_consistent() {
    use ntk::activation::smooth::mish_derivs;
    for x in [-40.0, -8.0, -1.3, -1e-3, 0.0, 0.4, 2.0, 9.0, 30.0] {
        let (f, d1, d2) = mish_derivs(x);
        // The textbook formula where it does not overflow.
        let naive = x * (x.exp().ln_1p()).tanh();
        assert!(
            (f - naive).abs() <= 1e-15 * (1.0 + naive.abs()),
            "x={x}: {f} vs {naive}"
        );
        let h = 1e-5 * (1.0 + x.abs());
        let fd1 = (mish_derivs(x + h).0 - mish_derivs(x - h).0) / (2.0 * h);
        let fd2 = (mish_derivs(x + h).1 - mish_derivs(x - h).1) / (2.0 * h);
        // Central differences: truncation h²·|φ'''|/6 and rounding ε/h, both below 1e-9 here.
        assert!((d1 - fd1).abs() < 1e-8, "x={x}: φ' {d1} vs {fd1}");
        assert!((d2 - fd2).abs() < 1e-8, "x={x}: φ'' {d2} vs {fd2}");
    }
}

#[test]
fn kernel_gradients_match_finite_differences() {
    // Two layers of each activation, with and without bias: ∇ₓΘ(x', x) and ∇ₓΣ(x', x) by forward
    // derivatives against central differences of the kernel.
    let xi = [0.9, -0.4, 1.3];
    let x = [0.3, 0.8, -0.6];
    for a in [Activation::HardTanh, Activation::Mish] {
        for b in [None, Some(0.2)] {
            let net = Network::mlp(2, a.clone())
                .w_std(1.3)
                .b_std(b)
                .build()
                .unwrap();
            let g = net.kernel_gradient(&xi, &x).unwrap();
            let (gn, gt) = (g.nngp_grad.unwrap(), g.ntk_grad.unwrap());
            for j in 0..3 {
                let h = 1e-5;
                let at = |t: f64| {
                    let mut y = x;
                    y[j] += t;
                    net.entry(&xi, &y).unwrap()
                };
                let (p, m) = (at(h), at(-h));
                let (fn_, ft) = ((p.nngp - m.nngp) / (2.0 * h), (p.ntk - m.ntk) / (2.0 * h));
                // The quadrature's error (~1e-12) divided by h, plus truncation ~h².
                assert!(
                    (gn[j] - fn_).abs() < 1e-6 * (1.0 + fn_.abs()),
                    "{} Σ: {gn} vs {fn_}",
                    a.name()
                );
                assert!(
                    (gt[j] - ft).abs() < 1e-6 * (1.0 + ft.abs()),
                    "{} Θ: {gt} vs {ft}",
                    a.name()
                );
            }
        }
    }
}

#[test]
fn hard_tanh_kernels_are_differentiable_at_zero_input_but_not_the_ntk_at_a_training_point() {
    let net = Network::mlp(1, Activation::HardTanh)
        .w_std(1.5)
        .build()
        .unwrap();
    // A zero input without bias: the pre-activation is identically 0, where hard tanh is linear.
    let g = net.kernel_gradient(&[1.0, 0.5], &[0.0, 0.0]).unwrap();
    assert!(g.nngp_grad.is_ok() && g.ntk_grad.is_ok());
    // At the training point itself the NTK has a kink (Ṫ's slope at ρ = 1 is unbounded).
    let g = net.kernel_gradient(&[1.0, 0.5], &[1.0, 0.5]).unwrap();
    assert!(g.nngp_grad.is_ok());
    assert!(matches!(
        g.ntk_grad,
        Err(ntk::Error::NotDifferentiable { .. })
    ));
}

#[test]
fn every_activation_round_trips_through_json_with_its_name() {
    let mut seen = std::collections::HashSet::new();
    for &key in Activation::KEYS {
        assert!(seen.insert(key), "duplicate JSON name {key}");
        // Required parameters get a value; the rest take their defaults.
        let params = match key {
            "leaky_relu" => r#"{"alpha": 0.2}"#,
            "ab_relu" => r#"{"a": -0.5, "b": 2.0}"#,
            "monomial" | "rectified_monomial" | "hermite" => r#"{"degree": 3}"#,
            "polynomial" => r#"{"coef": [0.5, 1.0, -0.25]}"#,
            _ => "{}",
        };
        let json = format!(
            r#"{{"layers": [{{"dense": {{"w_std": 1.0}}}}, {{"{key}": {params}}}], "quadrature_nodes": 8}}"#
        );
        let net = Network::from_json(&json).unwrap_or_else(|e| panic!("{key}: {e}"));
        let ntk::Layer::Activation(a) = &net.layers()[1] else {
            panic!("{key}: not an activation")
        };
        assert_eq!(a.key(), Some(key));
        assert!(a.name().starts_with(key), "{key}: name {}", a.name());
        assert_eq!(
            Network::from_json(&net.to_json().unwrap()).unwrap(),
            net,
            "{key}"
        );
        // Every activation has a finite kernel at a generic pair.
        let x = DMatrix::from_row_slice(2, 2, &[0.7, -0.2, 0.1, 0.5]);
        let k = net.gram(&x).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert!(
            k.nngp.iter().chain(k.ntk.iter()).all(|v| v.is_finite()),
            "{key}"
        );
    }
    assert!(Activation::KEYS.contains(&"hard_tanh") && Activation::KEYS.contains(&"mish"));
}

#[test]
fn spec_errors_name_the_problem() {
    for (json, needle) in [
        (
            r#"{"layers": [{"dense": {"w_std": 1.0}}, {"leaky_relu": {}}]}"#,
            "missing field `alpha`",
        ),
        (
            r#"{"layers": [{"dense": {"w_std": 1.0}}, {"erf": {"d": 1.0}}]}"#,
            "unknown field `d`",
        ),
        (
            r#"{"layers": [{"dense": {"w_std": 1.0}}, {"relu": {"a": 1.0}}]}"#,
            "no parameters",
        ),
        (
            r#"{"layers": [{"dense": {"w_std": 1.0}}, {"mish": {}, "relu": {}}]}"#,
            "one key",
        ),
        (
            r#"{"layers": [{"dense": {"w_std": 1.0}}, {"erf": {"a": "x"}}]}"#,
            "`erf` parameter `a`",
        ),
        (r#"{"layers": [{}]}"#, "empty layer"),
    ] {
        match Network::from_json(json) {
            Err(ntk::Error::InvalidNetwork(m)) => assert!(m.contains(needle), "{json}: {m}"),
            other => panic!("{json}: expected an error, got {other:?}"),
        }
    }
}
