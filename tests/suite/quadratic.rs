//! Beyond the kernel regime (issue 13 B–C): the neural quadratic model and its catapult recursion
//! (Zhu 2024, Ch. 3), catapults of finite networks in GD and SGD with the loss split and AGOP
//! alignment (Ch. 4), and the transition to linearity (Ch. 2; seed 004 App. A).

use crate::common::log_slope;
use approx::assert_abs_diff_eq;
use nalgebra::{DMatrix, DVector};
use ntk::finite::{FiniteNetwork, HiddenWidths, TrainConfig, linearity_along_training};
use ntk::quadratic::{
    QuadraticModel, Regime, ScalarNqm, agop_alignment, critical_learning_rate, gd_catapult,
    sgd_catapults,
};
use ntk::{Activation, Error, Kernel, Network};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

// ---------------------------------------------------------------------------------------------
// B.4: the single-example recursion
// ---------------------------------------------------------------------------------------------

/// The issue's table (λ₀ = 1, g₀ = 0.5, y = 1, c = 1e-3, 400 steps). Peaks and final λ are printed
/// there to 6 significant digits, hence the tolerances (half a unit of the last digit).
#[test]
fn recursion_reproduces_the_issue_table() {
    let nqm = ScalarNqm::new(1.0, 0.5, 1.0, 1e-3).unwrap();
    let monotone = nqm.run(1.9, 400).unwrap();
    assert_eq!(monotone.regime(), Regime::Monotone);
    assert_eq!(monotone.peak(), (0, 0.125));
    assert_abs_diff_eq!(*monotone.lambda.last().unwrap(), 0.996829, epsilon = 5e-7);
    for (eta, step, peak, peak_tol, lambda, lambda_tol) in [
        (2.5, 7, 13.7358, 5e-5, 0.509481, 5e-7),
        (3.0, 5, 45.4620, 5e-5, 0.0862893, 5e-8),
        (3.5, 4, 86.5516, 5e-5, 0.320863, 5e-7),
    ] {
        let run = nqm.run(eta, 400).unwrap();
        assert_eq!(run.regime(), Regime::Catapult, "η = {eta}");
        assert_eq!(Regime::predicted(eta, 1.0), Regime::Catapult);
        assert_eq!(run.loss.len(), 401);
        let (s, p) = run.peak();
        assert_eq!(s, step, "η = {eta}");
        assert_abs_diff_eq!(p, peak, epsilon = peak_tol);
        let last = *run.lambda.last().unwrap();
        assert_abs_diff_eq!(last, lambda, epsilon = lambda_tol);
        // Thm 3.3.4: the kernel ends below 2/η, and the loss has converged.
        assert!(eta * last < 2.0);
        assert!(*run.loss.last().unwrap() < 1e-20, "η = {eta}");
    }
    let divergent = nqm.run(4.2, 400).unwrap();
    assert_eq!(divergent.regime(), Regime::Divergent);
    // The loss passes 1e15 at step 9 (6.1e9 at step 8, 2.8e26 at step 9).
    assert_eq!(divergent.diverged_at, Some(9));
    assert_eq!(divergent.loss.len(), 10);
}

#[test]
fn recursion_rejects_bad_parameters() {
    let bad =
        |r: Result<ScalarNqm, Error>| assert!(matches!(r, Err(Error::InvalidParameter { .. })));
    bad(ScalarNqm::new(f64::NAN, 0.5, 1.0, 1e-3));
    bad(ScalarNqm::new(-1.0, 0.5, 1.0, 1e-3));
    bad(ScalarNqm::new(1.0, f64::INFINITY, 1.0, 1e-3));
    bad(ScalarNqm::new(1.0, 0.5, 1.0, 0.0));
    let nqm = ScalarNqm::new(1.0, 0.5, 1.0, 1e-3).unwrap();
    for eta in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(nqm.run(eta, 3), Err(Error::InvalidParameter { .. })),
            "η = {eta}"
        );
    }
    assert!(nqm.divergence_loss(0.0).is_err());
}

/// A two-layer network (d = 1, x = 1, m = 1000) built so that its NQM has exactly λ₀ = 1,
/// g₀ = 0.5 and c = ‖x‖²/(md) = 1e-3: 500 active units with u = 1 and v = α(t ± 1) (alternating
/// signs), with t and α solving Σv = 0.5√m and Σv² = 500; 500 inactive units (u = −1).
fn table_network() -> (DMatrix<f64>, DVector<f64>, DMatrix<f64>) {
    let m = 1000;
    let target = 0.5 * (m as f64).sqrt() / 500.0; // t/√(1 + t²)
    let t = target / (1.0 - target * target).sqrt();
    let alpha = 1.0 / (1.0 + t * t).sqrt();
    let u = DMatrix::from_fn(m, 1, |k, _| if k < 500 { 1.0 } else { -1.0 });
    let v = DVector::from_fn(m, |k, _| {
        let s = if k % 2 == 0 { 1.0 } else { -1.0 };
        if k < 500 { alpha * (t + s) } else { s }
    });
    (u, v, DMatrix::from_element(1, 1, 1.0))
}

/// Gradient descent on the explicit NQM of eq. 3.10 against the recursion, 400 steps, for the
/// table's settings. Both compute the same exact dynamics in a different order, so they agree to
/// rounding amplified by the catapult: 1e-12 relative to the largest loss so far, and 1e-12 on λ
/// (relative when |λ| > 1).
#[test]
fn two_layer_nqm_follows_the_recursion_on_the_table() {
    let (u, v, x) = table_network();
    let model = QuadraticModel::two_layer(&u, &v, &x).unwrap();
    let zero = DVector::zeros(model.n_parameters());
    assert_abs_diff_eq!(model.outputs(&zero).unwrap()[0], 0.5, epsilon = 1e-14);
    assert_abs_diff_eq!(model.kernel(&zero).unwrap()[(0, 0)], 1.0, epsilon = 1e-14);
    let y = DVector::from_element(1, 1.0);
    let nqm = ScalarNqm::new(1.0, 0.5, 1.0, 1e-3).unwrap();
    let mut worst: f64 = 0.0;
    for eta in [1.9, 2.5, 3.0, 3.5, 4.2] {
        let rec = nqm.run(eta, 400).unwrap();
        let mut delta = zero.clone();
        // Relative to the largest loss so far (rounding errors scale with it).
        let mut scale: f64 = 0.0;
        // For η = 4.2 the loss blows up at steps 8–9 (6.1e9, 2.8e26) and rounding errors with it
        // (1.7e-12 relative measured), so 1e-12 holds while the loss is below 1e6 (every step of
        // the other runs, whose peaks are ≤ 87) and those two steps get 1e-10.
        for step in 0..rec.loss.len() {
            let tol = if rec.loss[step] > 1e6 { 1e-10 } else { 1e-12 };
            let g = model.outputs(&delta).unwrap()[0];
            let lambda = model.kernel(&delta).unwrap()[(0, 0)];
            scale = scale.max(rec.loss[step]);
            let dl = (0.5 * (g - 1.0) * (g - 1.0) - rec.loss[step]).abs() / scale;
            let dk = (lambda - rec.lambda[step]).abs() / rec.lambda[step].abs().max(1.0);
            if tol == 1e-12 {
                worst = worst.max(dl.max(dk));
            }
            assert!(
                dl < tol && dk < tol,
                "η = {eta}, step {step}: {dl:e} {dk:e}"
            );
            delta = model.step(&delta, &y, eta).unwrap();
        }
    }
    eprintln!("two-layer NQM vs recursion: worst relative difference {worst:e}");
}

/// The same on a random network (u ~ N(0, I), v = ±1, m = 1000, d = 10, ‖x‖² = d), with the
/// recursion started from the network's own λ₀ and g₀ and c = ‖x‖²/(md), in the catapult regime.
#[test]
fn random_two_layer_nqm_follows_the_recursion() {
    let (m, d) = (1000, 10);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let u = DMatrix::from_fn(m, d, |_, _| normal(&mut rng));
    let v = DVector::from_fn(m, |_, _| if normal(&mut rng) > 0.0 { 1.0 } else { -1.0 });
    let mut x = DMatrix::from_fn(1, d, |_, _| normal(&mut rng));
    x *= (d as f64).sqrt() / x.norm();
    let model = QuadraticModel::two_layer(&u, &v, &x).unwrap();
    let zero = DVector::zeros(model.n_parameters());
    let (g0, lambda0) = (
        model.outputs(&zero).unwrap()[0],
        model.kernel(&zero).unwrap()[(0, 0)],
    );
    // Prop. B.9.1: ‖x‖²/(2d) ≤ λ₀ ≤ 3‖x‖²/(2d) with high probability.
    assert!((0.5..=1.5).contains(&lambda0), "λ₀ = {lambda0}");
    let y = 0.0;
    let eta = 3.0 / lambda0;
    let rec = ScalarNqm::new(lambda0, g0, y, 1.0 / m as f64)
        .unwrap()
        .run(eta, 400)
        .unwrap();
    assert_eq!(rec.regime(), Regime::Catapult);
    let direct = model.train(&DVector::from_element(1, y), eta, 400).unwrap();
    assert_eq!(direct.loss.len(), rec.loss.len());
    let scale = rec.peak().1;
    for (a, b) in direct.loss.iter().zip(&rec.loss) {
        assert!((a - b).abs() < 1e-12 * scale, "{a} vs {b}");
    }
    let lambda_end = model.kernel(&direct.delta).unwrap()[(0, 0)];
    assert_abs_diff_eq!(lambda_end, *rec.lambda.last().unwrap(), epsilon = 1e-12);
}

// ---------------------------------------------------------------------------------------------
// B.1: the general quadratic model and the one-step identities (3.15)–(3.16)
// ---------------------------------------------------------------------------------------------

/// Eqs. 3.15 and the corrected 3.16 against an explicit gradient step on a random general quadratic
/// model (eq. 3.3, n = 4, p = 6, γ = 0.3): equal to rounding (1e-12 relative to the kernel's size).
/// The printed 3.16, K − ¼η(4GJᵀ − ηGGᵀ), misses the step by O(η‖G‖‖J‖).
#[test]
fn one_step_identities_hold_and_the_printed_kernel_update_does_not() {
    let (n, p) = (4, 6);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let phi = DMatrix::from_fn(n, p, |_, _| normal(&mut rng));
    let sigma: Vec<DMatrix<f64>> = (0..n)
        .map(|_| {
            let a = DMatrix::from_fn(p, p, |_, _| normal(&mut rng));
            &a + a.transpose()
        })
        .collect();
    let w0 = DVector::from_fn(p, |_, _| normal(&mut rng));
    let model = QuadraticModel::general(&phi, &sigma, 0.3, &w0).unwrap();
    let y = DVector::from_fn(n, |_, _| normal(&mut rng));
    let eta = 0.02;
    let mut delta = DVector::from_fn(p, |_, _| 0.1 * normal(&mut rng));
    for _ in 0..5 {
        let (r_pred, k_pred) = model.predicted_step(&delta, &y, eta).unwrap();
        let next = model.step(&delta, &y, eta).unwrap();
        let r_true = model.outputs(&next).unwrap() - &y;
        let k_true = model.kernel(&next).unwrap();
        assert!((&r_pred - &r_true).amax() < 1e-12 * r_true.amax().max(1.0));
        assert!((&k_pred - &k_true).amax() < 1e-12 * k_true.amax());
        // The printed form.
        let jac = model.jacobian(&delta).unwrap();
        let r = model.outputs(&delta).unwrap() - &y;
        let jtr = jac.transpose() * &r;
        let g = DMatrix::from_fn(n, p, |i, j| {
            (&sigma[i] * 0.3 * &jtr)[j] // Gᵢ,: = rᵀJHᵢ with Hᵢ = γΣᵢ
        });
        let k = &jac * jac.transpose();
        let printed = &k - (&g * jac.transpose() * 4.0 - &g * g.transpose() * eta) * (0.25 * eta);
        assert!((&printed - &k_true).amax() > 1e-4 * k_true.amax());
        delta = next;
    }
}

/// Eq. 3.3 with φ = 0, y = 0 and Σ² = ‖x‖²I (Prop. B.13.1): a catapult for 2/λ₀ < η < 4/λ₀.
#[test]
fn general_quadratic_model_catapults() {
    // Σ = [[0, 1], [1, 0]] (Σ² = I, ‖x‖ = 1), w₀ = (1, 0.2): λ₀ = γ²‖Σw₀‖² = γ²·1.04.
    let gamma = 0.05;
    let sigma = vec![DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 1.0, 0.0])];
    let phi = DMatrix::zeros(1, 2);
    let w0 = DVector::from_vec(vec![20.0, 4.0]);
    let model = QuadraticModel::general(&phi, &sigma, gamma, &w0).unwrap();
    let lambda0 = model.kernel(&DVector::zeros(2)).unwrap()[(0, 0)];
    let y = DVector::zeros(1);
    let run = model.train(&y, 3.0 / lambda0, 300).unwrap();
    assert!(run.diverged_at.is_none());
    assert!(run.loss.windows(2).any(|w| w[1] > w[0]), "no spike");
    let lambda_end = model.kernel(&run.delta).unwrap()[(0, 0)];
    assert!(3.0 / lambda0 * lambda_end < 2.0);
    assert!(
        model
            .train(&y, 4.5 / lambda0, 300)
            .unwrap()
            .diverged_at
            .is_some()
    );
    assert!(
        model
            .train(&y, 1.5 / lambda0, 300)
            .unwrap()
            .loss
            .windows(2)
            .all(|w| w[1] <= w[0])
    );
}

// ---------------------------------------------------------------------------------------------
// B.4: several examples (Fig. 3.3, Thm 3.3.6)
// ---------------------------------------------------------------------------------------------

/// The Fig. 3.3 data: 128 points, half x ~ N(−2, 1) with label −1, half N(2, 1) with label +1;
/// the two-layer network of eq. 3.9 with d = 1, m = 5000, u ~ N(0, 1), v = ±1.
fn fig33() -> (QuadraticModel, DMatrix<f64>, DVector<f64>) {
    let (n, m) = (128, 5000);
    let mut rng = ChaCha8Rng::seed_from_u64(33);
    let x = DMatrix::from_fn(
        n,
        1,
        |i, _| if i % 2 == 0 { 2.0 } else { -2.0 } + normal(&mut rng),
    );
    let y = DVector::from_fn(n, |i, _| if i % 2 == 0 { 1.0 } else { -1.0 });
    let u = DMatrix::from_fn(m, 1, |_, _| normal(&mut rng));
    let v = DVector::from_fn(m, |_, _| if normal(&mut rng) > 0.0 { 1.0 } else { -1.0 });
    (QuadraticModel::two_layer(&u, &v, &x).unwrap(), x, y)
}

fn top_two(k: &DMatrix<f64>) -> ((f64, DVector<f64>), f64) {
    let e = k.clone().symmetric_eigen();
    let mut order: Vec<usize> = (0..k.nrows()).collect();
    order.sort_by(|&a, &b| e.eigenvalues[b].total_cmp(&e.eigenvalues[a]));
    let v1 = e.eigenvectors.column(order[0]).into_owned();
    ((e.eigenvalues[order[0]], v1), e.eigenvalues[order[1]])
}

#[test]
fn several_examples_catapult_along_the_top_direction_then_both() {
    let (model, x, y) = fig33();
    let n = x.nrows();
    let zero = DVector::zeros(model.n_parameters());
    let k0 = model.kernel(&zero).unwrap();
    let ((l1, v1), l2) = top_two(&k0);
    // Prop. B.11.1: K = λ₁p̂₁p̂₁ᵀ + λ₂p̂₂p̂₂ᵀ with p₁ = x ⊙ 1[x ≥ 0].
    let p1 = DVector::from_fn(n, |i, _| x[(i, 0)].max(0.0));
    let cos = (v1.dot(&p1) / p1.norm()).abs();
    assert_abs_diff_eq!(cos, 1.0, epsilon = 1e-12);
    let e = k0.clone().symmetric_eigen();
    let rank = e.eigenvalues.iter().filter(|&&v| v > 1e-10 * l1).count();
    assert_eq!(rank, 2);
    // The thresholds: 2/λᵢ under the ½Σ loss; n/λᵢ under the (1/n)Σ loss of the figure.
    eprintln!(
        "Fig. 3.3 data: λ₁ = {l1:.2}, λ₂ = {l2:.2}, 2/λ = {:.5}, {:.5}; n/λ = {:.4}, {:.4}",
        2.0 / l1,
        2.0 / l2,
        n as f64 / l1,
        n as f64 / l2
    );
    for t in [n as f64 / l1, n as f64 / l2] {
        assert!((0.33..0.45).contains(&t), "n/λ = {t}");
    }
    // η between 2/λ₁ and 2/λ₂: a catapult along p₁ only.
    let eta = 0.5 * (2.0 / l1 + 2.0 / l2);
    let run = model.train(&y, eta, 400).unwrap();
    assert!(run.diverged_at.is_none());
    assert!(run.loss.windows(2).any(|w| w[1] > w[0]), "no catapult");
    let p2 = DVector::from_fn(n, |i, _| x[(i, 0)].min(0.0));
    // Πᵢ = ½⟨g − y, p̂ᵢ⟩² (L845): Π₁ converges after its spike; the loss outside span{p₁, p₂}
    // stays what it was (Prop. B.11.3: the kernel has rank 2), to rounding.
    let r0 = model.outputs(&zero).unwrap() - &y;
    let r_end = model.outputs(&run.delta).unwrap() - &y;
    let pi = |r: &DVector<f64>, p: &DVector<f64>| 0.5 * (r.dot(p) / p.norm()).powi(2);
    let rest = |r: &DVector<f64>| 0.5 * r.norm_squared() - pi(r, &p1) - pi(r, &p2);
    assert!(
        pi(&r_end, &p1) < 1e-6 * pi(&r0, &p1),
        "Π₁ {} → {}",
        pi(&r0, &p1),
        pi(&r_end, &p1)
    );
    assert_abs_diff_eq!(rest(&r_end), rest(&r0), epsilon = 1e-9 * run.loss[0]);
    let k_end = model.kernel(&run.delta).unwrap();
    let rayleigh = |k: &DMatrix<f64>, p: &DVector<f64>| p.dot(&(k * p)) / p.norm_squared();
    let (l1_end, l2_end) = (rayleigh(&k_end, &p1), rayleigh(&k_end, &p2));
    eprintln!(
        "η = {eta:.6}: λ₁ {l1:.3} → {l1_end:.3} (2/η = {:.3}), λ₂ {l2:.3} → {l2_end:.3}",
        2.0 / eta
    );
    assert!(l1_end < 2.0 / eta);
    assert!((l2_end - l2).abs() < 0.005 * l2);
    // η between 2/λ₂ and 4/λ₁: both directions catapult, both kernels end below 2/η.
    let eta_both = 0.5 * (2.0 / l2 + 4.0 / l1);
    let both = model.train(&y, eta_both, 400).unwrap();
    assert!(both.diverged_at.is_none());
    let k_both = model.kernel(&both.delta).unwrap();
    let (b1, b2) = (rayleigh(&k_both, &p1), rayleigh(&k_both, &p2));
    eprintln!(
        "η = {eta_both:.6}: λ₁ → {b1:.3}, λ₂ → {b2:.3} (2/η = {:.3})",
        2.0 / eta_both
    );
    assert!(b1 < 2.0 / eta_both && b2 < 2.0 / eta_both);
    // Above 4/λ₁: divergence.
    assert!(
        model
            .train(&y, 4.2 / l1, 400)
            .unwrap()
            .diverged_at
            .is_some()
    );
}

// ---------------------------------------------------------------------------------------------
// C: Hessians and the transition to linearity
// ---------------------------------------------------------------------------------------------

fn mlp(depth: usize, act: Activation, bias: bool) -> Network {
    let b = if bias { Some(0.1) } else { None };
    let mut builder = Network::builder();
    for _ in 0..depth {
        builder = builder.dense(1.0, b).activation(act.clone());
    }
    builder.dense(1.0, b).build().unwrap()
}

/// ∇_θf(x + εv) − ∇_θf(x − εv) over 2ε, ε = 1e-5: the central difference of the gradient, with
/// truncation O(ε²‖∇³f‖) ≈ 1e-10 and rounding O(1e-16/ε) ≈ 1e-11 relative.
fn fd_hvp(net: &FiniteNetwork, x: &[f64], v: &DVector<f64>) -> DVector<f64> {
    let eps = 1e-5;
    let theta = net.parameters();
    let mut plus = net.clone();
    plus.set_parameters(&(&theta + v * eps)).unwrap();
    let mut minus = net.clone();
    minus.set_parameters(&(&theta - v * eps)).unwrap();
    (plus.parameter_gradient(x, 0).unwrap() - minus.parameter_gradient(x, 0).unwrap()) / (2.0 * eps)
}

/// The R-operator Hessian-vector product against finite differences of the gradient, and the
/// gradient's squared norm against the empirical NTK Θ̂(x, x), for a tanh network with biases.
#[test]
fn hessian_vector_products_match_finite_differences() {
    let spec = mlp(2, Activation::Tanh, true);
    let net = FiniteNetwork::builder(&spec, 3)
        .hidden(HiddenWidths::Uniform(16))
        .seed(4)
        .build()
        .unwrap();
    let x = [0.3, -0.7, 1.1];
    let grad = net.parameter_gradient(&x, 0).unwrap();
    let theta_hat = net.gram(&DMatrix::from_row_slice(1, 3, &x)).unwrap().ntk[(0, 0)];
    assert_abs_diff_eq!(grad.norm_squared(), theta_hat, epsilon = 1e-12 * theta_hat);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for _ in 0..3 {
        let v = DVector::from_fn(net.n_parameters(), |_, _| normal(&mut rng));
        let hv = net.hessian_vector_product(&x, 0, &v).unwrap();
        let fd = fd_hvp(&net, &x, &v);
        // 1e-6 relative: the FD reference's own error (above) with a margin for the φ'' difference.
        assert!(
            (&hv - &fd).norm() < 1e-6 * hv.norm(),
            "{:e}",
            (&hv - &fd).norm() / hv.norm()
        );
        // Symmetry: wᵀ(Hv) = vᵀ(Hw).
        let w = DVector::from_fn(net.n_parameters(), |_, _| normal(&mut rng));
        let hw = net.hessian_vector_product(&x, 0, &w).unwrap();
        assert_abs_diff_eq!(
            w.dot(&hv),
            v.dot(&hw),
            epsilon = 1e-10 * hv.norm() * w.norm()
        );
    }
    let mut roundtrip = net.clone();
    roundtrip.set_parameters(&net.parameters()).unwrap();
    assert_eq!(roundtrip, net);
    let mut bad = net.clone();
    assert!(matches!(
        bad.set_parameters(&DVector::zeros(3)),
        Err(Error::ShapeMismatch { .. })
    ));
    let nan = DVector::from_element(net.n_parameters(), f64::NAN);
    assert!(matches!(
        bad.set_parameters(&nan),
        Err(Error::NonFinite { .. })
    ));
    assert!(net.parameter_gradient(&x, 1).is_err());
}

/// Seed 004, App. A: the two-layer Hessian's eigenvalues (Aφ''x² ± √(A²φ''²x⁴ + 4φ'²x²))/(2√k),
/// against the eigenvalues of the full Hessian assembled column by column from finite differences
/// of the gradient (symmetrized); 1e-7 relative to the norm, the finite differences' accuracy.
/// The Lanczos norm must give the largest |eigenvalue| to 1e-9 with p iterations.
#[test]
fn two_layer_hessian_eigenvalues_match_a_numerical_hessian() {
    let spec = mlp(1, Activation::Tanh, false);
    let k = 12;
    let net = FiniteNetwork::builder(&spec, 1)
        .hidden(HiddenWidths::Uniform(k))
        .seed(6)
        .build()
        .unwrap();
    let x = 0.8;
    let closed = net.two_layer_hessian_eigenvalues(x).unwrap();
    let p = net.n_parameters();
    assert_eq!((closed.len(), p), (2 * k, 2 * k));
    let mut h = DMatrix::zeros(p, p);
    for j in 0..p {
        let mut e = DVector::zeros(p);
        e[j] = 1.0;
        h.set_column(j, &fd_hvp(&net, &[x], &e));
    }
    let h = (&h + h.transpose()) * 0.5;
    let mut numeric: Vec<f64> = h.symmetric_eigen().eigenvalues.iter().copied().collect();
    numeric.sort_by(|a, b| b.total_cmp(a));
    let norm = closed.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (a, b) in closed.iter().zip(&numeric) {
        assert_abs_diff_eq!(a, b, epsilon = 1e-7 * norm);
    }
    assert_abs_diff_eq!(
        net.hessian_norm(&[x], 0, p).unwrap(),
        norm,
        epsilon = 1e-9 * norm
    );
    // Not a two-layer scalar network: a typed error.
    let deep = FiniteNetwork::builder(&mlp(2, Activation::Tanh, false), 1)
        .hidden(HiddenWidths::Uniform(4))
        .build()
        .unwrap();
    assert!(matches!(
        deep.two_layer_hessian_eigenvalues(x),
        Err(Error::InvalidNetwork(_))
    ));
}

/// Transition to linearity (Zhu 2024, Thm 2.3.6, Fig. 2.2): against the width m, the log-log slope
/// of the Hessian norm at initialization (theory −½) and of max_t‖K_t − K₀‖/‖K₀‖ along training
/// (−½ to −1 measured) must be ≤ −0.4; so must that of the distance to the linearized network.
#[test]
fn hessian_norm_and_kernel_change_shrink_with_width() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let d = 4;
    let x = DMatrix::from_fn(10, d, |_, _| normal(&mut rng) / (d as f64).sqrt());
    let y = DMatrix::from_fn(10, 1, |_, _| normal(&mut rng));
    let x0: Vec<f64> = x.row(0).iter().copied().collect();
    // Hessian norm of a two-hidden-layer tanh network (where cross-layer blocks dominate).
    let widths = [32usize, 64, 128, 256, 512];
    let spec2 = mlp(2, Activation::Tanh, false);
    let mut hnorm = Vec::new();
    for &m in &widths {
        let mut mean = 0.0;
        for seed in 0..2 {
            let net = FiniteNetwork::builder(&spec2, d)
                .hidden(HiddenWidths::Uniform(m))
                .seed(seed)
                .build()
                .unwrap();
            mean += net.hessian_norm(&x0, 0, 30).unwrap() / 2.0;
        }
        hnorm.push(mean);
    }
    // Kernel change and distance to f_lin along 100 GD steps of a one-hidden-layer tanh network.
    let widths_k = [64usize, 256, 1024, 2048];
    let spec1 = mlp(1, Activation::Tanh, false);
    // η = N/λ_max of the analytic NTK (N = n, the per-example loss): the top mode contracts by
    // ηλ_max/N = 1 per step, the widest stable choice that stays far from a catapult.
    let lam = spec1
        .gram(&x)
        .unwrap()
        .ntk
        .symmetric_eigen()
        .eigenvalues
        .max();
    let config = TrainConfig {
        learning_rate: 10.0 / lam,
        max_steps: 100,
        ..TrainConfig::default()
    };
    let (mut kchange, mut gap) = (Vec::new(), Vec::new());
    for &m in &widths_k {
        let net = FiniteNetwork::builder(&spec1, d)
            .hidden(HiddenWidths::Uniform(m))
            .seed(1)
            .build()
            .unwrap();
        let rep = linearity_along_training(&net, &x, &y, &x, &config).unwrap();
        assert!(rep.losses.last().unwrap() < &rep.losses[0]);
        kchange.push(rep.max_kernel_change());
        gap.push(rep.max_linearization_gap());
    }
    let wf = |w: &[usize]| w.iter().map(|&m| m as f64).collect::<Vec<_>>();
    let (sh, sk, sg) = (
        log_slope(&wf(&widths), &hnorm),
        log_slope(&wf(&widths_k), &kchange),
        log_slope(&wf(&widths_k), &gap),
    );
    eprintln!(
        "slopes: Hessian norm {sh:.3} ({hnorm:?}), kernel change {sk:.3} ({kchange:?}), f − f_lin {sg:.3} ({gap:?})"
    );
    assert!(sh <= -0.4 && sk <= -0.4 && sg <= -0.4);
}

// ---------------------------------------------------------------------------------------------
// B.3: `ntk nqm`
// ---------------------------------------------------------------------------------------------

fn nqm_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ntk"))
        .arg("nqm")
        .args(args)
        .output()
        .unwrap()
}

const TABLE: [&str; 10] = [
    "--lambda0",
    "1",
    "--g0",
    "0.5",
    "--target",
    "1",
    "--c",
    "1e-3",
    "--steps",
    "400",
];

/// The CLI prints exactly the library's run (serde_json writes floats that round-trip).
#[test]
fn nqm_cli_prints_the_recursion() {
    let nqm = ScalarNqm::new(1.0, 0.5, 1.0, 1e-3).unwrap();
    for eta in ["2.5", "4.2"] {
        let out = nqm_cli(&[&TABLE[..], &["--learning-rate", eta]].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let run = nqm.run(eta.parse().unwrap(), 400).unwrap();
        let nums = |key: &str| -> Vec<f64> {
            json[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        // serde_json's default float parser may miss the correctly rounded value by one ulp
        // (its exact parser is the `float_roundtrip` feature), so compare to 2 ulps.
        for (key, want) in [("loss", &run.loss), ("lambda", &run.lambda)] {
            let got = nums(key);
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(want.iter()) {
                assert!((a - b).abs() <= 4.5e-16 * b.abs(), "{key}: {a} vs {b}");
            }
        }
        match run.diverged_at {
            None => assert!(json["diverged_at"].is_null()),
            Some(s) => assert_eq!(json["diverged_at"].as_u64(), Some(s as u64)),
        }
    }
}

#[test]
fn nqm_cli_rejects_bad_input() {
    for (flag, value, needle, code) in [
        ("--learning-rate", "0", "learning_rate", 1),
        ("--learning-rate", "-1", "learning_rate", 1),
        ("--learning-rate", "inf", "learning_rate", 1),
        ("--learning-rate", "nan", "expected a number", 2),
        ("--learning-rate", "abc", "expected a number", 2),
    ] {
        let out = nqm_cli(&[&TABLE[..], &[flag, value]].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{value}: {err}");
        assert!(err.contains(needle), "{value}: {err}");
    }
    let mut args = TABLE.to_vec();
    args[7] = "-1"; // --c
    let out = nqm_cli(&[&args[..], &["--learning-rate", "2"]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`c`"));
    // A missing flag is a usage error.
    assert_eq!(nqm_cli(&["--lambda0", "1"]).status.code(), Some(2));
}

// ---------------------------------------------------------------------------------------------
// B.5: catapults of finite networks
// ---------------------------------------------------------------------------------------------

/// x ~ N(0, I_d), y = x₁x₂, whose EGOP is diag(1, 1, 0, …).
fn rank2(n: usize, d: usize, seed: u64) -> (DMatrix<f64>, DMatrix<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = DMatrix::from_fn(n, d, |_, _| normal(&mut rng));
    let y = DMatrix::from_fn(n, 1, |i, _| x[(i, 0)] * x[(i, 1)]);
    (x, y)
}

fn relu_net(d: usize, width: usize, seed: u64) -> FiniteNetwork {
    FiniteNetwork::builder(&mlp(1, Activation::Relu, false), d)
        .hidden(HiddenWidths::Uniform(width))
        .seed(seed)
        .build()
        .unwrap()
}

/// GD at 1.5·η_crit (η_crit = n/λ_max(K₀), MSE loss): the loss spikes by more than 10×, the spike
/// lies in the NTK's top eigendirection (eq. 4.2), λ_max ends below n/η and the loss ends below
/// where it started; at 0.5·η_crit the loss falls at every step and λ_max stays within 5 %.
#[test]
fn finite_network_catapults_above_the_critical_learning_rate() {
    let (n, d) = (32, 5);
    let (x, y) = rank2(n, d, 1);
    let net = relu_net(d, 2048, 2);
    let eta_crit = critical_learning_rate(&net, &x).unwrap();
    let mut hot = net.clone();
    let run = gd_catapult(&mut hot, &x, &y, 1.5 * eta_crit, 60, 1).unwrap();
    let (step, peak) = run.peak();
    let lam_end = *run.lambda_max.last().unwrap();
    eprintln!(
        "η_crit {eta_crit:.4}: loss {:.3} → peak {peak:.3} (step {step}, top share {:.4}) → {:.3e}; \
         λ_max {:.3} → {lam_end:.3}, n/η = {:.3}",
        run.loss[0],
        run.loss_top[step] / peak,
        run.loss.last().unwrap(),
        run.lambda_max[0],
        n as f64 / run.learning_rate
    );
    assert!(peak > 10.0 * run.loss[0]);
    assert!(run.loss_top[step] > 0.95 * peak);
    assert!(lam_end < n as f64 / run.learning_rate);
    assert!(*run.loss.last().unwrap() < run.loss[0]);
    let mut cool = net.clone();
    let calm = gd_catapult(&mut cool, &x, &y, 0.5 * eta_crit, 60, 1).unwrap();
    assert!(calm.loss.windows(2).all(|w| w[1] <= w[0]));
    let drift = calm
        .lambda_max
        .iter()
        .map(|l| (l / calm.lambda_max[0] - 1.0).abs())
        .fold(0.0, f64::max);
    assert!(drift < 0.05, "λ_max drift {drift}");
    assert!(matches!(
        gd_catapult(&mut cool, &x, &y, 0.0, 3, 1),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        gd_catapult(&mut cool, &x, &y, 1.0, 3, 0),
        Err(Error::InvalidParameter { .. })
    ));
}

/// Table 4.1's trend at small scale: SGD at η = ½·η_crit(full set) with batches of 5 catapults
/// (η > η_crit(X_B) = b/λ_max(K(X_B)) on many batches), and ends with a higher AGOP alignment with
/// diag(1, 1, 0, …) and a lower test loss than full-batch GD (no catapult) after the same epochs;
/// both align better than the network at initialization.
#[test]
fn small_batches_catapult_more_and_align_better() {
    let (n, d, width, epochs) = (100, 6, 512, 30);
    let (x, y) = rank2(n, d, 3);
    let (xt, yt) = rank2(500, d, 4);
    let egop = DMatrix::from_diagonal(&DVector::from_fn(d, |i, _| if i < 2 { 1.0 } else { 0.0 }));
    let mut results = Vec::new();
    let before = agop_alignment(&relu_net(d, width, 5), &xt, &egop).unwrap();
    for batch in [5, n] {
        let mut net = relu_net(d, width, 5);
        let eta = 0.5 * critical_learning_rate(&net, &x).unwrap();
        let run = sgd_catapults(&mut net, &x, &y, eta, batch, epochs * (n / batch), 7).unwrap();
        let align = agop_alignment(&net, &xt, &egop).unwrap();
        let test = (net.forward(&xt).unwrap() - &yt).norm_squared() / xt.nrows() as f64;
        eprintln!(
            "batch {batch}: {} catapults, match rate {:.3}, alignment {align:.3}, test loss {test:.3}",
            run.catapults(),
            run.match_rate()
        );
        results.push((run.catapults(), align, test));
    }
    let (small, full) = (results[0], results[1]);
    assert_eq!(full.0, 0);
    assert!(small.0 > 0);
    eprintln!("alignment at initialization {before:.3}");
    assert!(small.1 > full.1 && full.1 > before && small.2 < full.2);
}
