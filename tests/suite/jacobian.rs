//! Input gradients of the kernels and trained Jacobians J∞, checked against finite differences
//! and the exact statements of Jiang & Pehlevan (2020), Lemmas 2–4 and 6.

use crate::common::{XorShift, log_slope};
use approx::{abs_diff_eq, assert_abs_diff_eq};
use nalgebra::{Complex, DMatrix, DVector};
use ntk::jacobian::{
    InitialFunction, IterationCriteria, RecoveryParams, Spectrum, TrainedMap, Training,
};
use ntk::{Activation, Error, Kernel, KernelKind, Network, Parameterization, Smoothness};
use std::sync::Arc;

/// Every named activation, with parameters for the gradient and Jacobian checks (depth ≤ 3,
/// σ_w ≤ 1.4).
pub(crate) fn activations() -> Vec<Activation> {
    use Activation as A;
    vec![
        A::Relu,
        A::LeakyRelu { alpha: 0.1 },
        A::AbRelu { a: -0.5, b: 1.5 },
        A::Abs,
        A::Erf {
            a: 1.2,
            b: 0.8,
            c: 0.1,
        },
        A::SigmoidErf,
        A::SigmoidLike,
        A::Gelu,
        A::Sin {
            a: 1.0,
            b: 1.3,
            c: 0.2,
        },
        A::Cos {
            a: 0.8,
            b: 1.1,
            c: 0.0,
        },
        A::Rbf { gamma: 0.7 },
        A::Exp { a: 0.5, b: 0.4 },
        A::Gaussian { a: 1.0, b: -0.3 },
        A::Monomial { degree: 2 },
        A::Monomial { degree: 3 },
        A::RectifiedMonomial { degree: 1 },
        A::RectifiedMonomial { degree: 2 },
        A::Polynomial {
            coef: vec![0.1, 0.5, -0.2, 0.05],
        },
        A::Hermite { degree: 3 },
        A::Gabor,
        A::Affine {
            alpha: 0.7,
            beta: 0.2,
        },
        A::Identity,
        A::Sigmoid,
        A::Tanh,
        A::Softplus,
        A::Silu,
        A::Elu { alpha: 1.0 },
        A::Selu,
        A::HardTanh,
        A::Mish,
        A::Sign,
    ]
}

fn net(act: &Activation, depth: usize, bias: Option<f64>, p: Parameterization) -> Network {
    let w = match act {
        Activation::Relu | Activation::Abs => 1.4,
        _ => 1.1,
    };
    Network::mlp(depth, act.clone())
        .w_std(w)
        .b_std(bias)
        .parameterization(p)
        .width(64)
        .build()
        .unwrap()
}

/// Richardson-extrapolated central difference of x ↦ K(x', x) along every coordinate,
/// (4D(h/2) − D(h))/3 with h = 1e-5·(1 + ‖x‖): truncation O(h⁴) (≈ 1e-11 relative even for the
/// degree-3⁵ polynomial kernels of deep monomial networks), rounding ε·K/h (see [`agrees`]).
fn fd_grad(net: &Network, xi: &[f64], x: &[f64], which: KernelKind) -> DVector<f64> {
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let h = 1e-5 * (1.0 + norm);
    let k = |y: &[f64]| {
        let e = net.entry(xi, y).unwrap();
        match which {
            KernelKind::Nngp => e.nngp,
            KernelKind::Ntk => e.ntk,
        }
    };
    let central = |j: usize, h: f64| {
        let mut a = x.to_vec();
        let mut b = x.to_vec();
        a[j] += h;
        b[j] -= h;
        (k(&a) - k(&b)) / (2.0 * h)
    };
    DVector::from_fn(x.len(), |j, _| {
        (4.0 * central(j, h / 2.0) - central(j, h)) / 3.0
    })
}

fn rel(a: &DVector<f64>, b: &DVector<f64>) -> f64 {
    (a - b).norm() / b.norm().max(a.norm()).max(1e-300)
}

/// The gradient agrees with the central difference to 1e-6 relative, up to the difference's own
/// rounding: each kernel value carries ~depth·few ulps, i.e. ≤ 100ε·|K| per value, divided by 2h,
/// per coordinate (√d in norm).
fn agrees(grad: &DVector<f64>, fd: &DVector<f64>, k: f64, x: &[f64]) -> bool {
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let h = 1e-5 * (1.0 + norm);
    let rounding = 100.0 * f64::EPSILON * k.abs() * (x.len() as f64).sqrt() / h;
    (grad - fd).norm() <= 1e-6 * fd.norm().max(grad.norm()) + rounding
}

#[test]
fn kernel_gradients_match_finite_differences_at_generic_points() {
    let mut rng = XorShift::from_state(0x9e37_79b9_7f4a_7c15);
    let mut worst: f64 = 0.0;
    for act in activations() {
        for depth in 1..=5 {
            for bias in [None, Some(0.3)] {
                for p in [Parameterization::Ntk, Parameterization::Standard] {
                    // Quadrature activations cost ~2000 evaluations per layer; fewer cases.
                    if matches!(act.smoothness(), Smoothness::Smooth)
                        && act.dual().unwrap().dot_is_derivative()
                        && depth > 3
                        && matches!(
                            act,
                            Activation::Sigmoid
                                | Activation::Tanh
                                | Activation::Softplus
                                | Activation::Silu
                                | Activation::Mish
                        )
                    {
                        continue;
                    }
                    let n = net(&act, depth, bias, p);
                    let d = 4;
                    let (xi, x) = (rng.normal_vec(d, 1.0), rng.normal_vec(d, 1.0));
                    let g = n.kernel_gradient(&xi, &x).unwrap();
                    for (which, grad) in [
                        (KernelKind::Nngp, &g.nngp_grad),
                        (KernelKind::Ntk, &g.ntk_grad),
                    ] {
                        let grad = grad.as_ref().unwrap_or_else(|e| {
                            panic!("{} depth {depth} {bias:?} {p:?} {which:?}: {e}", act.name())
                        });
                        let fd = fd_grad(&n, &xi, &x, which);
                        let r = rel(grad, &fd);
                        let k = if which == KernelKind::Nngp {
                            g.nngp
                        } else {
                            g.ntk
                        };
                        worst = worst.max(r);
                        assert!(
                            agrees(grad, &fd, k, &x),
                            "{} depth {depth} {bias:?} {p:?} {which:?}: {grad} vs {fd} ({r:e})",
                            act.name()
                        );
                    }
                }
            }
        }
    }
    eprintln!("worst relative gradient error at generic points: {worst:.1e}");
}

#[test]
fn gradients_at_a_training_point_exist_exactly_when_the_activation_allows() {
    let mut rng = XorShift::from_state(42);
    for act in activations() {
        for bias in [None, Some(0.3)] {
            let n = net(&act, 2, bias, Parameterization::Ntk);
            let xi = rng.normal_vec(4, 1.0);
            let g = n.kernel_gradient(&xi, &xi).unwrap();
            let e = n.entry(&xi, &xi).unwrap();
            // The gradient's recursion evaluates the general dual at θ = 0, the entry the diagonal
            // formula: equal to rounding for closed forms, to the 2-D rule's accuracy (documented
            // ≤ 1.2e-7 at 32 nodes) for quadrature activations.
            let tol = match act {
                Activation::Sigmoid
                | Activation::Tanh
                | Activation::Softplus
                | Activation::Silu
                | Activation::Elu { .. }
                | Activation::Selu
                | Activation::HardTanh
                | Activation::Mish => 2e-7,
                _ => 1e-13,
            };
            for (a, b) in [(g.nngp, e.nngp), (g.ntk, e.ntk)] {
                assert!(
                    abs_diff_eq!(a, b, epsilon = tol * b.abs() + 1e-15),
                    "{}: {a} vs {b}",
                    act.name()
                );
            }
            let smooth = act.smoothness();
            let expect_nngp = smooth != Smoothness::Jump;
            let expect_ntk = matches!(smooth, Smoothness::Smooth | Smoothness::KinkedDerivative);
            for (which, grad, expect) in [
                (KernelKind::Nngp, &g.nngp_grad, expect_nngp),
                (KernelKind::Ntk, &g.ntk_grad, expect_ntk),
            ] {
                match (grad, expect) {
                    (Ok(grad), true) => {
                        let fd = fd_grad(&n, &xi, &xi, which);
                        // C¹ kernels with a |δ|³ term (ReLU NNGP): the central difference still
                        // has O(h²) error.
                        let k = if which == KernelKind::Nngp {
                            g.nngp
                        } else {
                            g.ntk
                        };
                        assert!(
                            agrees(grad, &fd, k, &xi),
                            "{} {which:?} {bias:?}: {grad} vs {fd}",
                            act.name()
                        );
                    }
                    (Err(Error::NotDifferentiable { .. }), false) => {
                        // The one-sided slopes really differ: compare the difference quotients of
                        // ±h along a direction orthogonal to x'.
                        let mut v = rng.normal_vec(4, 1.0);
                        let proj = v.iter().zip(&xi).map(|(a, b)| a * b).sum::<f64>()
                            / xi.iter().map(|a| a * a).sum::<f64>();
                        for (a, b) in v.iter_mut().zip(&xi) {
                            *a -= proj * b;
                        }
                        let k = |t: f64| {
                            let y: Vec<f64> = xi.iter().zip(&v).map(|(a, b)| a + t * b).collect();
                            let e = n.entry(&xi, &y).unwrap();
                            match which {
                                KernelKind::Nngp => e.nngp,
                                KernelKind::Ntk => e.ntk,
                            }
                        };
                        let h = 1e-4;
                        let (right, left) = ((k(h) - k(0.0)) / h, (k(0.0) - k(-h)) / h);
                        assert!(
                            (right - left).abs() > 1e-3 * (right.abs() + left.abs()),
                            "{} {which:?}: reported not differentiable but slopes {right} and {left}",
                            act.name()
                        );
                    }
                    (r, _) => panic!("{} {which:?} {bias:?}: unexpected {r:?}", act.name()),
                }
            }
        }
    }
}

#[test]
fn gradients_along_parallel_points_and_at_zero() {
    let mut rng = XorShift::from_state(7);
    let xi = rng.normal_vec(5, 1.0);
    let erf = Activation::Erf {
        a: 1.0,
        b: 1.0,
        c: 0.0,
    };
    for bias in [None, Some(0.2)] {
        let n = net(&erf, 3, bias, Parameterization::Ntk);
        for scale in [2.0, -0.5] {
            let x: Vec<f64> = xi.iter().map(|v| scale * v).collect();
            let g = n.kernel_gradient(&xi, &x).unwrap();
            let fd = fd_grad(&n, &xi, &x, KernelKind::Ntk);
            assert!(rel(g.ntk_grad.as_ref().unwrap(), &fd) <= 1e-6);
        }
        // Zero input: smooth activations are differentiable there.
        let zero = vec![0.0; 5];
        let g = n.kernel_gradient(&xi, &zero).unwrap();
        let fd = fd_grad(&n, &xi, &zero, KernelKind::Ntk);
        assert!(rel(g.ntk_grad.as_ref().unwrap(), &fd) <= 1e-6);
    }
    // ReLU without bias at x = 0: K(x', x) is homogeneous of degree 1 in x, not differentiable.
    let relu = net(&Activation::Relu, 2, None, Parameterization::Ntk);
    let g = relu.kernel_gradient(&xi, &[0.0; 5]).unwrap();
    assert!(matches!(g.nngp_grad, Err(Error::NotDifferentiable { .. })));
    assert!(matches!(g.ntk_grad, Err(Error::NotDifferentiable { .. })));
    // With a bias the first layer's variance is b² > 0 and both kernels are smooth at x = 0.
    let relu_b = net(&Activation::Relu, 2, Some(0.5), Parameterization::Ntk);
    let g = relu_b.kernel_gradient(&xi, &[0.0; 5]).unwrap();
    let fd = fd_grad(&relu_b, &xi, &[0.0; 5], KernelKind::Ntk);
    assert!(rel(g.ntk_grad.as_ref().unwrap(), &fd) <= 1e-6);
}

fn autoencoder_net(act: Activation) -> Network {
    Network::mlp(1, act).w_std(1.0).width(1000).build().unwrap()
}

/// J of `map` at x by central differences of f (step 1e-6·(1 + ‖x‖)).
fn fd_jacobian(map: &TrainedMap, x: &[f64]) -> DMatrix<f64> {
    let d = x.len();
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let h = 1e-6 * (1.0 + norm);
    let mut j = DMatrix::zeros(map.output_dim(), d);
    for c in 0..d {
        let mut a = x.to_vec();
        let mut b = x.to_vec();
        a[c] += h;
        b[c] -= h;
        let col = (map.eval(&a).unwrap() - map.eval(&b).unwrap()) / (2.0 * h);
        j.set_column(c, &col);
    }
    j
}

#[test]
fn trained_jacobian_matches_finite_differences_of_the_trained_map() {
    let mut rng = XorShift::from_state(11);
    let x = rng.sphere(5, 8, 4.0);
    for act in [
        Activation::SigmoidErf,
        Activation::Tanh,
        Activation::Gelu,
        Activation::Erf {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
    ] {
        let n = autoencoder_net(act.clone());
        for options in [
            TrainedMap::params(),
            TrainedMap::params()
                .training(Training::Time {
                    t: 30.0,
                    learning_rate: 1.0,
                })
                .regularization(ntk::Regularization::Absolute(1e-3)),
            TrainedMap::params().kernel(KernelKind::Nngp),
        ] {
            let map = options.autoencoder(&n, &x).unwrap();
            let mut points: Vec<Vec<f64>> =
                (0..2).map(|i| x.row(i).iter().copied().collect()).collect();
            points.push(rng.normal_vec(8, 1.5));
            for p in points {
                let j = map.jacobian(&p).unwrap();
                let fd = fd_jacobian(&map, &p);
                let r = (&j - &fd).norm() / j.norm();
                assert!(r <= 1e-6, "{} {options:?}: {r:e}", act.name());
            }
        }
    }
    // Sequence encoder: f(xᵢ) = xᵢ₊₁ and its Jacobian matches too.
    let n = autoencoder_net(Activation::SigmoidErf);
    let seq = TrainedMap::params().sequence(&n, &x).unwrap();
    for i in 0..5 {
        let xi: Vec<f64> = x.row(i).iter().copied().collect();
        let next: Vec<f64> = x.row((i + 1) % 5).iter().copied().collect();
        let f = seq.eval(&xi).unwrap();
        assert!((f - DVector::from_vec(next)).norm() <= 1e-9 * 4.0);
    }
    let p: Vec<f64> = x.row(2).iter().copied().collect();
    let r = (seq.jacobian(&p).unwrap() - fd_jacobian(&seq, &p)).norm();
    assert!(r <= 1e-6 * seq.jacobian(&p).unwrap().norm());
}

#[test]
fn relu_ntk_jacobian_at_a_training_point_is_a_typed_error() {
    let mut rng = XorShift::from_state(5);
    let x = rng.sphere(3, 6, 2.0);
    let relu = Network::mlp(1, Activation::Relu)
        .w_std(1.4)
        .width(1000)
        .build()
        .unwrap();
    let map = TrainedMap::params().autoencoder(&relu, &x).unwrap();
    let x0: Vec<f64> = x.row(0).iter().copied().collect();
    let err = map.jacobian(&x0).unwrap_err();
    assert!(matches!(err, Error::NotDifferentiable { .. }), "{err}");
    assert!(err.to_string().contains("training point 0"), "{err}");
    // Away from the training points it exists and matches finite differences.
    let p = rng.normal_vec(6, 1.0);
    let r = (map.jacobian(&p).unwrap() - fd_jacobian(&map, &p)).norm();
    assert!(r <= 1e-6 * map.jacobian(&p).unwrap().norm());
    // The NNGP of ReLU networks is differentiable at the training points.
    let gp = TrainedMap::params()
        .kernel(KernelKind::Nngp)
        .autoencoder(&relu, &x)
        .unwrap();
    let r = (gp.jacobian(&x0).unwrap() - fd_jacobian(&gp, &x0)).norm();
    assert!(r <= 1e-5 * gp.jacobian(&x0).unwrap().norm());
}

/// A linear initial network f₀(x) = J₀x (the paper's linear-activation networks at initialization).
struct Linear(DMatrix<f64>, DVector<f64>);
impl InitialFunction for Linear {
    fn output_dim(&self) -> usize {
        self.0.nrows()
    }
    fn value(&self, x: &[f64]) -> ntk::Result<DVector<f64>> {
        Ok(&self.0 * DVector::from_column_slice(x) + &self.1)
    }
    fn jacobian(&self, _x: &[f64]) -> ntk::Result<DMatrix<f64>> {
        Ok(self.0.clone())
    }
}

/// A random α/√(n₁n₀)·W₁W₀ with n₁ = 4000, the finite linear network's Jacobian.
fn random_linear_jacobian(rng: &mut XorShift, n0: usize, alpha: f64) -> DMatrix<f64> {
    let n1 = 4000;
    let w0 = DMatrix::from_fn(n1, n0, |_, _| rng.normal());
    let w1 = DMatrix::from_fn(n0, n1, |_, _| rng.normal());
    (w1 * w0) * (alpha / ((n1 * n0) as f64).sqrt())
}

#[test]
fn lemma_2_linear_activation_with_n_equal_n0_gives_the_identity() {
    let mut rng = XorShift::from_state(2);
    for alpha in [0.25, 1.0, 3.0] {
        let lin = autoencoder_net(Activation::Affine { alpha, beta: 0.0 });
        let x = rng.sphere(6, 6, 2.0);
        let j0 = random_linear_jacobian(&mut rng, 6, alpha);
        for init in [
            None,
            Some(Arc::new(Linear(j0, DVector::zeros(6))) as Arc<dyn InitialFunction>),
        ] {
            let map = TrainedMap::params()
                .initial(init)
                .autoencoder(&lin, &x)
                .unwrap();
            let p = rng.normal_vec(6, 1.0);
            let j = map.jacobian(&p).unwrap();
            // Rounding: the solve with K = (2α²/n0)XXᵀ loses cond(K)·ε ≈ 1e-13 here.
            assert!(
                (&j - DMatrix::identity(6, 6)).amax() <= 1e-10,
                "α = {alpha}: {j}"
            );
        }
    }
}

#[test]
fn lemma_3_linear_activation_has_eigenvalue_one_with_multiplicity_n() {
    let mut rng = XorShift::from_state(3);
    let (n, n0, alpha) = (4, 10, 0.5);
    let lin = autoencoder_net(Activation::Affine { alpha, beta: 0.0 });
    let x = rng.sphere(n, n0, 3.0);
    // ‖J₀‖ ≈ α·(1 + √(n0/n1))·… ≈ 2α = 1 for square Gaussian products; α = 0.5·0.9 keeps it < 1.
    let j0 = random_linear_jacobian(&mut rng, n0, 0.9 * alpha);
    assert!(Spectrum::of(&j0).unwrap().operator_norm() < 1.0);
    for init in [
        None,
        Some(Arc::new(Linear(j0, DVector::zeros(n0))) as Arc<dyn InitialFunction>),
    ] {
        let has_init = init.is_some();
        let map = TrainedMap::params()
            .initial(init)
            .autoencoder(&lin, &x)
            .unwrap();
        let s = Spectrum::of(&map.jacobian(&rng.normal_vec(n0, 1.0)).unwrap()).unwrap();
        // Eigenvalue 1 is exact up to the rounding of the solve (~1e-13); 1e-8 separates it from
        // the rest, which is ≤ ‖J₀‖ < 1 (or exactly 0 without J₀).
        assert_eq!(
            s.count_near(Complex::new(1.0, 0.0), 1e-8),
            n,
            "{:?}",
            s.eigenvalues
        );
        assert!(s.eigenvalues[n..].iter().all(|z| z.norm() < 1.0 - 1e-3));
        if !has_init {
            assert!(s.eigenvalues[n..].iter().all(|z| z.norm() < 1e-10));
        }
    }
}

#[test]
fn lemmas_4_and_6_affine_activation_on_a_sphere() {
    let mut rng = XorShift::from_state(4);
    let (n, n0, r) = (5, 12, 2.0);
    let (alpha, beta) = (0.25, 0.5);
    let aff = autoencoder_net(Activation::Affine { alpha, beta });
    let x = rng.sphere(n, n0, r);
    let map = TrainedMap::params().autoencoder(&aff, &x).unwrap();
    let s = Spectrum::of(&map.jacobian(&rng.normal_vec(n0, 1.0)).unwrap()).unwrap();
    // Lemma 6 with c = n0β²/(2α²), g = 1ᵀ(XXᵀ)⁻¹1 (rows are points): eigenvalues 1 (n − 1 times),
    // λ̂ = 1/(1 + cg), and 0 (n0 − n times).
    let c = n0 as f64 * beta * beta / (2.0 * alpha * alpha);
    let gram = &x * x.transpose();
    let ones = DVector::from_element(n, 1.0);
    let g = ones.dot(&(gram.clone().cholesky().unwrap().solve(&ones)));
    let lambda_hat = 1.0 / (1.0 + c * g);
    assert_eq!(
        s.count_near(Complex::new(1.0, 0.0), 1e-8),
        n - 1,
        "{:?}",
        s.eigenvalues
    );
    assert_eq!(s.count_near(Complex::new(lambda_hat, 0.0), 1e-8), 1);
    assert_eq!(s.count_near(Complex::new(0.0, 0.0), 1e-8), n0 - n);
    // Lemma 4 with an affine network at initialization: still ≥ n − 1 eigenvalues at 1.
    let j0 = random_linear_jacobian(&mut rng, n0, alpha);
    let shift = DVector::from_fn(n0, |_, _| beta * rng.normal());
    let init: Arc<dyn InitialFunction> = Arc::new(Linear(j0, shift));
    let map = TrainedMap::params()
        .initial(init)
        .autoencoder(&aff, &x)
        .unwrap();
    let s = Spectrum::of(&map.jacobian(&rng.normal_vec(n0, 1.0)).unwrap()).unwrap();
    assert!(s.count_near(Complex::new(1.0, 0.0), 1e-8) >= n - 1);
}

#[test]
fn large_radius_spectral_radius_falls_towards_one_half() {
    let mut rng = XorShift::from_state(8);
    let (n, n0) = (5, 32);
    let net = autoencoder_net(Activation::SigmoidErf);
    let mut curve = Vec::new();
    for r in [1.0, 4.0, 16.0, 64.0, 256.0, 1024.0] {
        let x = rng.sphere(n, n0, r);
        let map = TrainedMap::params().autoencoder(&net, &x).unwrap();
        let rho = (0..n)
            .map(|i| {
                let xi: Vec<f64> = x.row(i).iter().copied().collect();
                map.attractor_test(&xi, 1e-8 * r)
                    .unwrap()
                    .spectrum
                    .spectral_radius()
            })
            .fold(0.0, f64::max);
        curve.push((r, rho));
    }
    eprintln!("r, largest |λ| over the training points: {curve:?}");
    // Linear region: Lemma 4 predicts eigenvalue 1 (n − 1 times) for small r.
    assert!(abs_diff_eq!(curve[0].1, 1.0, epsilon = 0.05), "{curve:?}");
    // Leaving the linear region the largest eigenvalue falls below 1 (attractors form) …
    assert!(curve[2].1 < 0.8, "{curve:?}");
    // … and at large r it is within 5% of ½ (the paper's §4.4 limit). It approaches ½ from below:
    // App. D.2's approximation for data without parallel inputs, r²J_k/(I_k + ½), is 0.32 at r = 64
    // (I_k ≈ r/(4π√n0); D.3's I_k + ¼ is the antiparallel case) and tends to ½ as I_k ≫ ½. The
    // measured value is above it at r = 64 because the off-diagonal kernel terms it drops are not yet
    // negligible there.
    let last = curve.last().unwrap().1;
    assert!(abs_diff_eq!(last, 0.5, epsilon = 0.025), "{curve:?}");
    assert!(curve[3..].windows(2).all(|w| w[1].1 > w[0].1), "{curve:?}");
}

#[test]
fn single_example_gradient_ratio_falls_with_depth_for_sigmoid() {
    // §4.2: for one training example, ‖∂Θ(x₁, x)/∂x‖/Θ(x₁, x₁) at x₁ → 0 with depth (ordered phase,
    // χ₁ ≤ 1/16), so J∞(x₁) → J₀(x₁).
    let mut rng = XorShift::from_state(9);
    let x1 = rng.normal_vec(16, 1.0);
    let mut last = f64::INFINITY;
    for depth in 1..=8 {
        let n = Network::mlp(depth, Activation::Sigmoid)
            .w_std(1.0)
            .width(1000)
            .build()
            .unwrap();
        let g = n.kernel_gradient(&x1, &x1).unwrap();
        let ratio = g.ntk_grad.unwrap().norm() / g.ntk;
        assert!(ratio < last, "depth {depth}: {ratio} ≥ {last}");
        last = ratio;
    }
    assert!(last < 1e-4, "{last}");
}

#[test]
fn iterating_recovers_noisy_training_points_at_large_radius() {
    let mut rng = XorShift::from_state(10);
    let (n, n0, r) = (3, 16, 40.0);
    let net = autoencoder_net(Activation::SigmoidErf);
    let x = rng.sphere(n, n0, r);
    let map = TrainedMap::params().autoencoder(&net, &x).unwrap();
    for i in 0..n {
        let xi: Vec<f64> = x.row(i).iter().copied().collect();
        assert!(map.attractor_test(&xi, 1e-8 * r).unwrap().is_attractor);
    }
    let rates = map
        .recovery_rates(
            &[0.0, 0.5, 50.0],
            &RecoveryParams::default().copies(4).seed(1),
        )
        .unwrap();
    assert_eq!(rates[0].rate, 1.0);
    assert_eq!(rates[1].rate, 1.0);
    assert!(rates[2].rate < 1.0, "{rates:?}");
    // Reproducible.
    let again = map
        .recovery_rates(&[50.0], &RecoveryParams::default().copies(4).seed(1))
        .unwrap();
    assert_eq!(again[0].rate, rates[2].rate);
    let orbit = map
        .iterate(
            x.row(0).iter().copied().collect::<Vec<_>>().as_slice(),
            IterationCriteria::default(),
        )
        .unwrap();
    assert!(orbit.converged && orbit.iterations == 1);
}

#[test]
fn trained_map_rejects_bad_input() {
    let net = autoencoder_net(Activation::SigmoidErf);
    let x = DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let map = TrainedMap::params().autoencoder(&net, &x).unwrap();
    assert!(matches!(
        map.jacobian(&[1.0, 0.0]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        map.eval(&[f64::NAN, 0.0, 0.0]),
        Err(Error::NonFinite { .. })
    ));
    let dup = DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    let r = TrainedMap::params().autoencoder(&net, &dup);
    assert!(matches!(r, Err(Error::NotPositiveDefinite { .. })), "{r:?}");
    let y = DMatrix::from_row_slice(1, 3, &[1.0, 0.0, 0.0]);
    assert!(matches!(
        TrainedMap::params().fit(&net, &x, &y),
        Err(Error::ShapeMismatch { .. })
    ));
    let long = TrainedMap::params().training(Training::Time {
        t: -1.0,
        learning_rate: 1.0,
    });
    assert!(matches!(
        long.autoencoder(&net, &x),
        Err(Error::InvalidParameter { .. })
    ));
    let wide = TrainedMap::params()
        .fit(&net, &x, &DMatrix::zeros(2, 2))
        .unwrap();
    assert!(matches!(
        wide.iterate(&[0.0; 3], IterationCriteria::default()),
        Err(Error::ShapeMismatch { .. })
    ));
}

#[test]
fn paper_closed_forms_agree_with_the_general_machinery() {
    use ntk::jacobian::closed_form::{
        large_norm_asymptotics, lemma6_spectrum, sigmoid_erf_ntk, sigmoid_erf_ntk_gradient,
    };
    let mut rng = XorShift::from_state(12);
    let net = autoencoder_net(Activation::SigmoidErf);
    // Eq. 6 and its App. D gradient vs the recursion with forward derivatives, at generic points,
    // parallel points and x = x̂ (the ray), norms 0.1 … 100·√n0.
    for n0 in [1usize, 3, 32] {
        for scale in [0.1, 1.0, 10.0, 100.0] {
            let s = scale * (n0 as f64).sqrt();
            let xh = rng.normal_vec(n0, s);
            let other = rng.normal_vec(n0, s);
            let half: Vec<f64> = xh.iter().map(|v| 0.5 * v).collect();
            for x in [other, xh.clone(), half] {
                let g = net.kernel_gradient(&xh, &x).unwrap();
                let (xhv, xv) = (DVector::from_vec(xh.clone()), DVector::from_vec(x.clone()));
                let k6 = sigmoid_erf_ntk(&xhv, &xv).unwrap();
                let g6 = sigmoid_erf_ntk_gradient(&xhv, &xv).unwrap();
                // The erf dual's determinant (1 + 2q₁)(1 + 2q₂) − 4c² cancels to 1 + 4q at
                // parallel inputs: relative rounding ε·q there (the closed form avoids it with
                // projection residuals), q the larger input variance x·x/n0. Measured: the gradient
                // within 1.6εq; the value within the bound (23εq at most, at small q where the
                // 1e-13 floor holds it).
                let norm2 = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>();
                let q = norm2(&xh).max(norm2(&x)) / n0 as f64;
                let tol = 1e-13 + 10.0 * f64::EPSILON * q;
                assert!(
                    abs_diff_eq!(g.ntk, k6, epsilon = tol * k6.abs()),
                    "{} vs {k6}",
                    g.ntk
                );
                let r = rel(g.ntk_grad.as_ref().unwrap(), &g6);
                assert!(r <= tol, "n0 {n0}, scale {scale}: {r:e}");
            }
        }
    }
    // Lemma 6 is the spectrum of J∞ for the affine activation αx + β on a sphere (f₀ = 0), with
    // c = n0β²/(2α²): X(XᵀX + cB)⁻¹Xᵀ in the paper's column convention.
    let (n, n0, alpha, beta) = (4, 9, 0.25, 0.5);
    let x = rng.sphere(n, n0, 1.5);
    let aff = autoencoder_net(Activation::Affine { alpha, beta });
    let map = TrainedMap::params().autoencoder(&aff, &x).unwrap();
    let s = Spectrum::of(&map.jacobian(&rng.normal_vec(n0, 1.0)).unwrap()).unwrap();
    let l6 = lemma6_spectrum(
        &x.transpose(),
        n0 as f64 * beta * beta / (2.0 * alpha * alpha),
    )
    .unwrap();
    let mut ours: Vec<f64> = s.eigenvalues.iter().map(|z| z.re).collect();
    let mut theirs: Vec<f64> = l6.eigenvalues.iter().copied().collect();
    ours.sort_by(f64::total_cmp);
    theirs.sort_by(f64::total_cmp);
    for (a, b) in ours.iter().zip(&theirs) {
        assert!(
            abs_diff_eq!(a, b, epsilon = 1e-10),
            "{ours:?} vs {theirs:?}"
        );
    }
    assert!(
        s.eigenvalues
            .iter()
            .all(|z| abs_diff_eq!(z.im, 0.0, epsilon = 1e-10))
    );
    // §4.4: at large r the spectral radius at a training point approaches the paper's
    // approximation r²J_k/K̃_ii, which drops the off-diagonal kernel and gradient terms (relative
    // size O(√n0/r)·|ρ|); for nearly orthogonal data (n0 = 256, |ρ| ≲ 0.2) they agree within 0.5 % from
    // r = 3000 (5 % at r = 300).
    for r in [3000.0, 30000.0] {
        let x = rng.sphere(3, 256, r);
        let map = TrainedMap::params().autoencoder(&net, &x).unwrap();
        let x0: Vec<f64> = x.row(0).iter().copied().collect();
        let rho = map
            .attractor_test(&x0, 1e-8 * r)
            .unwrap()
            .spectrum
            .spectral_radius();
        let implied = large_norm_asymptotics(r, 256)
            .unwrap()
            .implied_jacobian_norm;
        eprintln!("r = {r}: spectral radius {rho}, App. D approximation {implied}");
        assert!(
            abs_diff_eq!(rho, implied, epsilon = 0.005 * implied),
            "r = {r}: {rho} vs {implied}"
        );
    }
}

#[test]
fn low_rank_spectrum_equals_the_dense_one() {
    let mut rng = XorShift::from_state(13);
    let (n, d) = (6, 40);
    let x = rng.sphere(n, d, 7.0);
    for act in [Activation::SigmoidErf, Activation::Tanh] {
        let net = autoencoder_net(act);
        let map = TrainedMap::params().autoencoder(&net, &x).unwrap();
        for p in [
            x.row(1).iter().copied().collect::<Vec<_>>(),
            rng.normal_vec(d, 1.0),
        ] {
            let dense = Spectrum::of(&map.jacobian(&p).unwrap()).unwrap();
            let fast = map.jacobian_spectrum(&p).unwrap();
            let scale = dense.operator_norm();
            assert_abs_diff_eq!(
                dense.spectral_radius(),
                fast.spectral_radius(),
                epsilon = 1e-12 * scale
            );
            assert!((&dense.singular_values - &fast.singular_values).amax() <= 1e-12 * scale);
            // The first n eigenvalues (by modulus) agree; the rest are zero (dense: rounding).
            for k in 0..n {
                let z = dense.eigenvalues[k];
                assert!(
                    fast.eigenvalues
                        .iter()
                        .any(|w| (*w - z).norm() <= 1e-10 * scale),
                    "{z} not in {:?}",
                    &fast.eigenvalues[..n]
                );
            }
            assert!(
                dense.eigenvalues[n..]
                    .iter()
                    .all(|z| z.norm() <= 1e-10 * scale)
            );
            assert_eq!(fast.eigenvalues.len(), d);
        }
    }
}

/// Issue 5's bridge: a finite 2-layer sigmoid autoencoder trained by gradient descent versus the
/// closed-form J∞ computed with the same network's f₀ and J₀ and the analytic NTK. The gap is the
/// finite-width error of the NTK description, O(1/√width).
#[test]
fn trained_finite_autoencoder_jacobian_approaches_the_closed_form() {
    use ntk::finite::{FiniteNetwork, HiddenWidths, LossNormalization, TrainConfig};
    let (n, n0, r) = (3, 8, 3.0);
    let spec = Network::builder()
        .dense(1.0, None)
        .activation(Activation::Sigmoid)
        .dense(1.0, None)
        .build()
        .unwrap();
    let x = XorShift::from_state(21).sphere(n, n0, r);
    let k = spec.gram(&x).unwrap().ntk;
    // Half the largest stable rate of the linearized dynamics (2N/λ_max).
    let eta = 0.5 * ntk::max_learning_rate(&k, n * n0).unwrap();
    let mut table = Vec::new();
    for width in [128usize, 512, 2048, 8192] {
        let (mut gap, mut eig_gap) = (0.0, 0.0);
        let seeds = 3;
        for seed in 0..seeds {
            let net0 = FiniteNetwork::builder(&spec, n0)
                .hidden(HiddenWidths::Uniform(width))
                .output_dim(n0)
                .seed(seed)
                .build()
                .unwrap();
            let init: Arc<dyn InitialFunction> = Arc::new(net0.clone());
            let map = TrainedMap::params()
                .initial(init)
                .autoencoder(&spec, &x)
                .unwrap();
            let mut net = net0.clone();
            let config = TrainConfig {
                learning_rate: eta,
                max_steps: 100_000,
                loss_threshold: 1e-12,
                // The rate above is neural-tangents' 2N/λ_max with N = n·n0.
                loss: LossNormalization::PerEntry,
            };
            let report = net.train_autoencoder(&x, &config).unwrap();
            assert!(
                report.converged,
                "width {width}: loss {:?}",
                report.losses.last()
            );
            for i in 0..n {
                let xi: Vec<f64> = x.row(i).iter().copied().collect();
                let trained = net.jacobian(&xi).unwrap();
                let closed = map.jacobian(&xi).unwrap();
                gap += (&trained - &closed).norm() / closed.norm();
                let (st, sc) = (
                    Spectrum::of(&trained).unwrap(),
                    Spectrum::of(&closed).unwrap(),
                );
                // Every eigenvalue, matched by rank of modulus.
                eig_gap += st
                    .eigenvalues
                    .iter()
                    .zip(&sc.eigenvalues)
                    .map(|(a, b)| (a.norm() - b.norm()).abs())
                    .fold(0.0, f64::max)
                    / sc.spectral_radius();
            }
        }
        let m = (seeds as usize * n) as f64;
        table.push((width, gap / m, eig_gap / m));
    }
    eprintln!("width, relative ‖J_trained − J∞‖, largest |eigenvalue| gap / ρ: {table:?}");
    // Falls with width at about the 1/√width rate (log-log slope over 128 … 8192).
    let (ws, gaps): (Vec<f64>, Vec<f64>) = table.iter().map(|(w, g, _)| (*w as f64, *g)).unzip();
    let slope = log_slope(&ws, &gaps);
    eprintln!("slope {slope:.3}");
    assert!((-0.8..=-0.3).contains(&slope), "{table:?}, slope {slope}");
    assert!(table.windows(2).all(|w| w[1].1 < w[0].1), "{table:?}");
    let last = table.last().unwrap();
    assert!(last.1 < 0.05 && last.2 < 0.05, "{table:?}");
}

#[test]
fn sequence_encoder_cycle_and_its_stability() {
    let mut rng = XorShift::from_state(31);
    let (n, d, r) = (4, 12, 10.0);
    let x = rng.sphere(n, d, r);
    let net = autoencoder_net(Activation::SigmoidErf);
    let seq = TrainedMap::params().sequence(&net, &x).unwrap();
    let x0: Vec<f64> = x.row(0).iter().copied().collect();
    let (end, j) = seq.orbit_jacobian(&x0, n).unwrap();
    // The orbit walks the sequence and returns to its start.
    assert!((end - DVector::from_vec(x0.clone())).norm() <= 1e-9 * r);
    // The chain-rule product equals finite differences of the 4-fold map (step 1e-6·(1 + ‖x‖)).
    let h = 1e-6 * (1.0 + r);
    let f4 = |p: &[f64]| seq.orbit_jacobian(p, n).unwrap().0;
    let mut fd = DMatrix::zeros(d, d);
    for c in 0..d {
        let (mut a, mut b) = (x0.clone(), x0.clone());
        a[c] += h;
        b[c] -= h;
        fd.set_column(c, &((f4(&a) - f4(&b)) / (2.0 * h)));
    }
    assert!(
        (&j - &fd).norm() <= 1e-6 * j.norm(),
        "{:e}",
        (&j - &fd).norm() / j.norm()
    );
    // Thesis ch. 2 (Prop. 2): a stable limit cycle — the product contracts.
    let s = Spectrum::of(&j).unwrap();
    assert!(s.spectral_radius() < 1.0, "{}", s.spectral_radius());
}
