//! The closed forms of Jiang & Pehlevan (2020) and of the thesis (ch. 2), each checked against an
//! independent route: the general kernel recursion, finite differences, exact integrals, a full
//! gradient-descent run of the finite network, or the lemma's own statement.

use approx::{abs_diff_eq, assert_abs_diff_eq};
use nalgebra::{DMatrix, DVector};
use ntk::jacobian::closed_form::{
    large_norm_asymptotics, lemma6_spectrum, same_norm_ntk, sigmoid_erf_ntk,
    sigmoid_erf_ntk_gradient,
};
use ntk::jacobian::gradient_flow::{
    lambda1, sequence_encoder_lambda1, single_example_gradient_flow,
};
use ntk::{Activation, Error, Kernel, Network};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::f64::consts::PI;

fn gaussian_vector(rng: &mut ChaCha8Rng, n: usize) -> DVector<f64> {
    DVector::from_fn(n, |_, _| rng.sample(StandardNormal))
}

/// A random direction scaled to norm `r`.
fn random_point(rng: &mut ChaCha8Rng, n: usize, r: f64) -> DVector<f64> {
    let v = gaussian_vector(rng, n);
    &v * (r / v.norm())
}

fn two_layer_sigmoid_erf() -> Network {
    Network::builder()
        .dense(1.0, None)
        .activation(Activation::SigmoidErf)
        .dense(1.0, None)
        .build()
        .unwrap()
}

/// Pairs of points of several norms (relative to √n₀), including equal and nearly parallel pairs.
fn test_pairs(rng: &mut ChaCha8Rng, n0: usize) -> Vec<(DVector<f64>, DVector<f64>)> {
    let scale = (n0 as f64).sqrt();
    let mut pairs = Vec::new();
    for &r1 in &[0.01, 0.3, 1.0, 3.0, 20.0] {
        for &r2 in &[0.05, 1.0, 7.0] {
            let a = random_point(rng, n0, r1 * scale);
            let b = random_point(rng, n0, r2 * scale);
            pairs.push((a.clone(), b));
            pairs.push((a.clone(), a.clone()));
            let near = &a * (r2 / r1) + gaussian_vector(rng, n0) * (1e-3 * r2 * scale);
            pairs.push((a, near));
        }
    }
    pairs
}

#[test]
fn eq6_equals_the_general_network_ntk() {
    let net = two_layer_sigmoid_erf();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut worst: f64 = 0.0;
    for n0 in [1, 3, 32] {
        for (a, b) in test_pairs(&mut rng, n0) {
            let general = net.entry(a.as_slice(), b.as_slice()).unwrap().ntk;
            let closed = sigmoid_erf_ntk(&a, &b).unwrap();
            let rel = (closed - general).abs() / general.abs();
            worst = worst.max(rel);
            assert!(
                abs_diff_eq!(closed, general, epsilon = 1e-13 * general.abs()),
                "n0 = {n0}: {closed} vs {general} (rel {rel:e})"
            );
        }
    }
    println!("eq. 6 vs Network NTK: worst relative difference {worst:e}");
}

#[test]
fn same_norm_form_is_eq6_on_a_sphere() {
    let mut rng = ChaCha8Rng::seed_from_u64(44);
    for n0 in [2, 32] {
        for r in [0.1, 4.0, 300.0] {
            let a = random_point(&mut rng, n0, r);
            let b = random_point(&mut rng, n0, r);
            let rho = (a.dot(&b) / (r * r)).clamp(-1.0, 1.0);
            let k = same_norm_ntk(r, rho, n0).unwrap();
            let direct = sigmoid_erf_ntk(&a, &b).unwrap();
            assert!(
                abs_diff_eq!(k, direct, epsilon = 1e-13 * direct),
                "{k} vs {direct}"
            );
            let diag = same_norm_ntk(r, 1.0, n0).unwrap();
            let direct = sigmoid_erf_ntk(&a, &a).unwrap();
            assert!(
                abs_diff_eq!(diag, direct, epsilon = 1e-13 * direct),
                "{diag} vs {direct}"
            );
        }
    }
}

#[test]
fn gradient_matches_five_point_differences() {
    // Step: the shortest length scale of eq. 6 is ℓ = √(2n₀) — the Gaussian smoothing offset in
    // a = ‖x̂‖² + 2n₀, b = ‖x‖² + 2n₀; for nearly parallel points D = ab − s² ≈ 2n₀(‖x̂‖² + ‖x‖²)
    // makes the angular variation that fast whatever the norms. The five-point difference has
    // truncation error ~(h/ℓ)⁴‖g‖ and rounding error ~ε·Θ/h; the second matters when ‖g‖ ≪ Θ/ℓ
    // (a tiny x̂: Θ ≈ ¼ but ‖g‖ ~ 1e-5). h = 1e-3·ℓ keeps truncation near 1e-12 and rounding below
    // ~1e-8 for every pair here, under the 1e-7 asserted.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut worst: f64 = 0.0;
    for n0 in [1, 4, 32] {
        for (xh, x) in test_pairs(&mut rng, n0) {
            let g = sigmoid_erf_ntk_gradient(&xh, &x).unwrap();
            let h = 1e-3 * (2.0 * n0 as f64).sqrt();
            let theta = |i: usize, t: f64| {
                let mut p = x.clone();
                p[i] += t;
                sigmoid_erf_ntk(&xh, &p).unwrap()
            };
            let fd = DVector::from_fn(n0, |i, _| {
                (8.0 * (theta(i, h) - theta(i, -h)) - (theta(i, 2.0 * h) - theta(i, -2.0 * h)))
                    / (12.0 * h)
            });
            let rel = (&fd - &g).norm() / g.norm();
            worst = worst.max(rel);
            assert!(
                rel <= 1e-7,
                "n0 = {n0}: {rel:e}, norms {} {}, cos {}, g {}",
                xh.norm(),
                x.norm(),
                xh.dot(&x) / (xh.norm() * x.norm()),
                g.norm()
            );
        }
    }
    println!("∂Θ/∂x vs five-point differences: worst relative difference {worst:e}");
}

#[test]
fn large_norm_asymptotics_approach_the_papers_limits() {
    let n0 = 32;
    let sq = (n0 as f64).sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(32);
    let mut previous = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    for r in [10.0, 100.0, 1000.0] {
        let a = large_norm_asymptotics(r, n0).unwrap();
        let diag = a.diagonal / a.diagonal_asymptote;
        let grad = a.gradient_norm_d2 / a.gradient_asymptote;
        let exact = a.gradient_norm_exact / a.gradient_asymptote;
        println!(
            "r = {r}: K̃_ii/(r/4π√n₀) = {diag:.6}, r·J_k/(1/8π√n₀) = {grad:.6}, \
             ‖∂Θ/∂x‖/(1/8π√n₀) = {exact:.6}, r²J_k/K̃_ii = {:.6}",
            a.implied_jacobian_norm
        );
        // The exact gradient norm is the norm of the gradient vector at x = x̂ = x₁.
        let x1 = random_point(&mut rng, n0, r);
        let g = sigmoid_erf_ntk_gradient(&x1, &x1).unwrap().norm();
        assert_abs_diff_eq!(g, a.gradient_norm_exact, epsilon = 1e-13 * g);
        assert_abs_diff_eq!(
            sigmoid_erf_ntk(&x1, &x1).unwrap(),
            a.diagonal,
            epsilon = 1e-13 * a.diagonal
        );
        // Each ratio approaches its limit monotonically in r ...
        let errs = (
            (diag - 1.0).abs(),
            (grad - 1.0).abs(),
            (a.implied_jacobian_norm - 0.5).abs(),
        );
        assert!(errs.0 < previous.0 && errs.1 < previous.1 && errs.2 < previous.2);
        previous = errs;
        // ... at the rates of the expansions K̃_ii = r/(4π√n₀) + ½ + O(1/r) and
        // r·J_k = (1 + n₀/(2r²) + O(r⁻⁴))/(8π√n₀) (J_k in App. D.3's notation).
        if r >= 100.0 {
            let lead = 2.0 * PI * sq / r;
            assert!(
                abs_diff_eq!((diag - 1.0) / lead, 1.0, epsilon = 0.05),
                "{diag}"
            );
            let lead = n0 as f64 / (2.0 * r * r);
            assert!(
                abs_diff_eq!((grad - 1.0) / lead, 1.0, epsilon = 0.05),
                "{grad}"
            );
        }
    }
    let far = large_norm_asymptotics(1e7, n0).unwrap();
    assert_abs_diff_eq!(far.implied_jacobian_norm, 0.5, epsilon = 1e-5);
}

#[test]
fn lemma6_multiplicities_and_corollary7_eigenvalue() {
    let mut rng = ChaCha8Rng::seed_from_u64(66);
    for (k, m) in [(7, 4), (5, 5), (10, 2), (30, 12)] {
        for c in [0.3, 2.0, 10.0] {
            let x = DMatrix::from_fn(k, m, |_, _| rng.sample::<f64, _>(StandardNormal));
            let s = lemma6_spectrum(&x, c).unwrap();
            let e = &s.eigenvalues;
            assert_eq!(e.len(), k);
            for i in 0..m - 1 {
                assert!(
                    abs_diff_eq!(e[i], 1.0, epsilon = 1e-10 * s.condition),
                    "{e}"
                );
            }
            assert!(
                abs_diff_eq!(e[m - 1], s.lambda_hat, epsilon = 1e-10),
                "{e} vs {}",
                s.lambda_hat
            );
            assert!(s.lambda_hat > 0.0 && s.lambda_hat < 1.0);
            for i in m..k {
                assert!(abs_diff_eq!(e[i], 0.0, epsilon = 1e-10), "{e}");
            }
        }
    }
}

#[test]
fn lemma9_lower_bound_on_g_for_equal_norm_columns() {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    for r in [0.5, 3.0] {
        let cols: Vec<DVector<f64>> = (0..4).map(|_| random_point(&mut rng, 6, r)).collect();
        let x = DMatrix::from_columns(&cols);
        let s = lemma6_spectrum(&x, 1.0).unwrap();
        assert!(
            s.g >= 1.0 / (r * r),
            "g = {} < 1/r² = {}",
            s.g,
            1.0 / (r * r)
        );
    }
}

#[test]
fn lemma6_rejects_bad_inputs() {
    let x = DMatrix::from_row_slice(3, 2, &[1.0, 2.0, 2.0, 4.0, 3.0, 6.0]);
    assert!(matches!(
        lemma6_spectrum(&x, 1.0),
        Err(Error::RankDeficient {
            rank: 1,
            required: 2,
            ..
        })
    ));
    let wide = DMatrix::from_element(2, 3, 1.0);
    assert!(matches!(
        lemma6_spectrum(&wide, 1.0),
        Err(Error::ShapeMismatch { .. })
    ));
    let column = DMatrix::from_element(3, 1, 1.0);
    assert!(matches!(
        lemma6_spectrum(&column, 1.0),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut nan = DMatrix::identity(3, 2);
    nan[(1, 1)] = f64::NAN;
    assert!(matches!(
        lemma6_spectrum(&nan, 1.0),
        Err(Error::NonFinite { .. })
    ));
    // g = 2 for the identity columns; c = −½ makes XᵀX + cB singular.
    let id = DMatrix::identity(3, 2);
    assert!(matches!(
        lemma6_spectrum(&id, -0.5),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn eq6_rejects_bad_inputs() {
    let a = DVector::from_vec(vec![1.0, 2.0]);
    let b = DVector::from_vec(vec![1.0, 2.0, 3.0]);
    assert!(matches!(
        sigmoid_erf_ntk(&a, &b),
        Err(Error::ShapeMismatch { .. })
    ));
    let nan = DVector::from_vec(vec![1.0, f64::NAN]);
    assert!(matches!(
        sigmoid_erf_ntk_gradient(&a, &nan),
        Err(Error::NonFinite { .. })
    ));
    assert!(same_norm_ntk(1.0, 1.5, 3).is_err());
    assert!(same_norm_ntk(-1.0, 0.5, 3).is_err());
    assert!(large_norm_asymptotics(1.0, 0).is_err());
}

#[test]
fn lemma5_sigmoid_ntk_diagonal_is_at_least_a_quarter() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let d = 8;
    let rows: Vec<DVector<f64>> = [0.0, 0.1, 1.0, 3.0, 10.0, 100.0]
        .iter()
        .map(|&r| random_point(&mut rng, d, r * (d as f64).sqrt()))
        .collect();
    let x = DMatrix::from_fn(rows.len(), d, |i, j| rows[i][j]);
    for act in [Activation::Sigmoid, Activation::SigmoidErf] {
        for depth in 1..=20 {
            let net = Network::mlp(depth, act.clone())
                .w_std(1.0)
                .width(1)
                .build()
                .unwrap();
            let diag = net.diagonal(&x).unwrap();
            for (i, &t) in diag.ntk.iter().enumerate() {
                // Θ ≥ Σ^(L+1) = E[σ²] ≥ ¼ exactly; 4 ulp allow for the rounding of E[σ²] itself
                // at x = 0, where it equals φ(0)² = ¼.
                assert!(
                    t >= 0.25 * (1.0 - 4.0 * f64::EPSILON),
                    "{act:?} depth {depth} row {i}: Θ = {t}"
                );
            }
        }
    }
}

#[test]
fn thesis_sigmoid_example() {
    let s = single_example_gradient_flow(&Activation::Sigmoid, 2, 1.0, 1.0).unwrap();
    println!("sigmoid, k = 2, u0 = v0 = 1: {s:?}");
    assert!(abs_diff_eq!(s.u, 0.697, epsilon = 5e-4), "{s:?}");
    assert!(abs_diff_eq!(s.v, 0.929, epsilon = 5e-4), "{s:?}");
    assert!(abs_diff_eq!(s.lambda1, 0.263, epsilon = 5e-4), "{s:?}");
    // Both equations of Theorem 1, the integral in closed form: φ/φ' = 1/(1 − σ(z)) = 1 + eᶻ.
    let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
    assert_abs_diff_eq!(s.u * sig(s.v), 0.5, epsilon = 1e-14);
    let integral = (s.v - 1.0) + s.v.exp() - 1f64.exp();
    assert_abs_diff_eq!((s.u * s.u - 1.0) / 2.0, integral, epsilon = 1e-12);
    // Theorem 2 in closed form: σ'(v)v/σ(v) = (1 − σ(v))·v.
    assert_abs_diff_eq!(s.lambda1, (1.0 - sig(s.v)) * s.v, epsilon = 1e-14);
}

#[test]
fn thesis_exponential_example() {
    // φ = e^{2z}, u₀² = v₀: u² = v, √v·e^{2v} = 1/k, λ₁ = 2v.
    let exp2 = Activation::Exp { a: 1.0, b: 2.0 };
    for (k, expected) in [(1, 0.6011), (2, 0.2836), (3, 0.1610)] {
        for (u0, v0) in [(1.0, 1.0), (0.5, 0.25)] {
            let s = single_example_gradient_flow(&exp2, k, u0, v0).unwrap();
            println!("e^(2z), k = {k}, u0 = {u0}, v0 = {v0}: {s:?}");
            assert!(abs_diff_eq!(s.lambda1, expected, epsilon = 1e-4), "{s:?}");
            assert_abs_diff_eq!(s.u * s.u, s.v, epsilon = 1e-12);
            assert_abs_diff_eq!(
                s.v.sqrt() * (2.0 * s.v).exp(),
                1.0 / k as f64,
                epsilon = 1e-13
            );
            assert_abs_diff_eq!(s.lambda1, 2.0 * s.v, epsilon = 1e-13);
        }
    }
}

#[test]
fn relu_flow_is_marginal() {
    // φ/φ' = z for z > 0: u² − u₀² = v² − v₀², so with u₀ = v₀ = 1 and k = 2, u = v = 1/√2, λ₁ = 1.
    let s = single_example_gradient_flow(&Activation::Relu, 2, 1.0, 1.0).unwrap();
    assert!(
        abs_diff_eq!(s.v, 0.5f64.sqrt(), epsilon = 1e-13)
            && abs_diff_eq!(s.u, s.v, epsilon = 1e-13),
        "{s:?}"
    );
    assert_abs_diff_eq!(s.lambda1, 1.0, epsilon = 1e-15);
    // From v₀ < 0 ReLU has φ' = 0: b never moves, and φ/φ' is not finite.
    let err = single_example_gradient_flow(&Activation::Relu, 2, 1.0, -1.0).unwrap_err();
    assert!(matches!(err, Error::NoSolution { .. }), "{err:?}");
    assert!(matches!(
        single_example_gradient_flow(&Activation::Sigmoid, 0, 1.0, 1.0),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(single_example_gradient_flow(&Activation::Sigmoid, 1, f64::NAN, 1.0).is_err());
}

#[test]
fn sequence_encoder_is_the_product_of_factors() {
    let a = single_example_gradient_flow(&Activation::Sigmoid, 2, 1.0, 1.0).unwrap();
    let b = single_example_gradient_flow(&Activation::Sigmoid, 3, 0.5, -0.5).unwrap();
    let p = sequence_encoder_lambda1(&Activation::Sigmoid, &[a.v, b.v]).unwrap();
    assert_abs_diff_eq!(p, a.lambda1 * b.lambda1, epsilon = 1e-15);
    assert!((lambda1(&Activation::Sigmoid, b.v).unwrap() - b.lambda1).abs() == 0.0);
    assert!(sequence_encoder_lambda1(&Activation::Sigmoid, &[]).is_err());
}

/// Gradient descent (thesis eqs. A.3–A.4) on the full f(z) = Aφ(Bz), k₀ = 4, from the rank-1
/// equal-entry start, on one unit vector; returns the top eigenvalue of A·diag(φ'(Bx))·B at x and
/// the number of steps.
fn gradient_descent_lambda1(act: &Activation, k: usize, u0: f64, v0: f64, lr: f64) -> (f64, usize) {
    let x = DVector::from_vec(vec![0.5, -0.1, 0.7, 0.3]);
    let x: DVector<f64> = &x / x.norm();
    let mut a = &x * DVector::from_element(k, u0).transpose();
    let mut b = DVector::from_element(k, v0) * x.transpose();
    let mut steps = 0;
    for _ in 0..5_000_000 {
        let pre = &b * &x;
        let phi = pre.map(|t| act.eval(t));
        let dphi = pre.map(|t| act.derivative(t));
        let res = &x - &a * &phi;
        if res.norm() < 1e-13 {
            break;
        }
        let grad_b = dphi.component_mul(&(a.transpose() * &res)) * x.transpose();
        a += (&res * phi.transpose()) * lr;
        b += grad_b * lr;
        steps += 1;
    }
    let pre = &b * &x;
    let j = &a * DMatrix::from_diagonal(&pre.map(|t| act.derivative(t))) * &b;
    let top = j
        .complex_eigenvalues()
        .iter()
        .map(|z| z.re)
        .fold(f64::NEG_INFINITY, f64::max);
    (top, steps)
}

#[test]
fn gradient_descent_on_the_finite_network_converges_to_theorem_2() {
    // Learning rates per case: small enough that the first steps (where the residual and φ' are
    // largest) already follow the flow, so the asymptotic O(lr) regime is reached.
    let cases = [
        (Activation::Sigmoid, 2, 1.0, 1.0, 4e-3),
        (Activation::Exp { a: 1.0, b: 2.0 }, 2, 0.5, 0.25, 1e-3),
        (Activation::Tanh, 3, 0.5, 0.3, 4e-3),
    ];
    for (act, k, u0, v0, lr0) in cases {
        let flow = single_example_gradient_flow(&act, k, u0, v0).unwrap();
        let mut gaps = Vec::new();
        for lr in [lr0, lr0 / 2.0, lr0 / 4.0] {
            let (gd, steps) = gradient_descent_lambda1(&act, k, u0, v0, lr);
            let gap = gd - flow.lambda1;
            println!(
                "{act:?} k = {k}: lr {lr:e}, {steps} steps, λ₁ GD {gd:.10}, flow {:.10}, gap {gap:e}",
                flow.lambda1
            );
            gaps.push(gap);
        }
        // Gradient descent is a first-order discretization of the flow: the gap is c·lr + O(lr²),
        // so it halves with the learning rate ...
        for w in gaps.windows(2) {
            let ratio = w[1] / w[0];
            assert!(
                abs_diff_eq!(ratio, 0.5, epsilon = 0.05),
                "{act:?}: gap ratio {ratio}"
            );
        }
        // ... and the Richardson extrapolation 2·gap(lr/2) − gap(lr) = O(lr²) removes the first-order
        // term: what is left must be far below the gap itself if λ₁ of Theorem 2 is the flow's limit.
        let extrapolated = 2.0 * gaps[2] - gaps[1];
        println!("{act:?}: Richardson-extrapolated gap {extrapolated:e}");
        assert!(
            abs_diff_eq!(extrapolated, 0.0, epsilon = 0.05 * gaps[2].abs()),
            "{act:?}: extrapolated gap {extrapolated:e} vs {:e}",
            gaps[2]
        );
    }
}
