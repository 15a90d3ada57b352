//! Matrix completion with the convolutional NTK (Radhakrishnan 2023, Prop. 3, Thm 6, App. I–J),
//! against issue 12's expected kernel of an i.i.d. U[0, 0.1] prior, Thm 6's closed form on exactly
//! stationary priors, the crate's validated image kernels (flatten / global pooling of the same
//! pixel-pair state), and a direct solve.

use crate::common::XorShift;
use approx::assert_abs_diff_eq;
use nalgebra::DMatrix;
use ntk::completion::cntk::{CntkCompletion, stationary_cntk, window_gram};
use ntk::completion::expand::expand_cntk;
use ntk::infinite_depth::SphereDual;
use ntk::kernel::pixels::PixelNetwork;
use ntk::network::{AvgPool, Conv, Interpolation, Layer, Padding, Parameterization, Upsample};
use ntk::{Activation, Error, Kernel, Network};
use std::f64::consts::PI;

/// conv(q, σ_w = 1) then `depth` × [ReLU, conv(q, σ_w = √2)], circular, no bias: d hidden layers,
/// each activation normalized to E[φ²] = 1 by the √2 of the next layer, as in Thm 6.
fn relu_cnn(q: usize, depth: usize) -> Vec<Layer> {
    let conv = |w: f64| Layer::from(Conv::new(&[q, q], w).padding(Padding::Circular));
    let mut layers = vec![conv(1.0)];
    for _ in 0..depth {
        layers.push(Activation::Relu.into());
        layers.push(conv(2f64.sqrt()));
    }
    layers
}

/// A prior (h × w pixels, one channel per pixel) whose channel Gram matrix is exactly
/// C2·J + (C1 − C2)·I: the Cholesky factor of that matrix, rows as pixels.
fn two_level_prior(p: usize, c1: f64, c2: f64) -> Vec<f64> {
    let g = DMatrix::from_fn(p, p, |a, b| if a == b { c1 } else { c2 });
    let l = g.cholesky().expect("C1 > C2 > 0 is positive definite").l();
    (0..p)
        .flat_map(|a| (0..p).map(move |k| (a, k)))
        .map(|(a, k)| l[(a, k)])
        .collect()
}

#[test]
fn kappa_values_of_the_issue() {
    // κ_d(0.75) for ReLU (1.365462, 1.894809, 2.365975) and κ_d(1) = d + 1; the issue gives 7
    // digits, so 1e-6.
    let dual = SphereDual::new(&Activation::Relu).unwrap();
    for (d, want) in [(1, 1.365462), (2, 1.894809), (3, 2.365975)] {
        assert_abs_diff_eq!(dual.kernels(d, 0.75).unwrap().1, want, epsilon = 1e-6);
        assert_abs_diff_eq!(
            dual.kernels(d, 1.0).unwrap().1,
            (d + 1) as f64,
            epsilon = 1e-14
        );
    }
    // The independent closed form for d = 1: κ₁(ρ) = (√(1 − ρ²) + (π − arccos ρ)ρ)/π + ρ(π − arccos ρ)/π.
    let r: f64 = 0.75;
    let k1 = ((1.0 - r * r).sqrt() + 2.0 * (PI - r.acos()) * r) / PI;
    assert_abs_diff_eq!(dual.kernels(1, r).unwrap().1, k1, epsilon = 1e-14);
}

#[test]
fn uniform_prior_expected_kernel_is_exact_on_its_two_level_gram() {
    // An i.i.d. U[0, 0.1] prior has E[Z²] = 0.01/3 and E[Z]² = 0.0025: per channel, E[Z_p Z_p′] is
    // C1 on the diagonal and C2 = 0.75·C1 off it. A prior with exactly that Gram matrix makes ψ
    // stationary (q²C1 at Δ = 0, q²C2 elsewhere), and the direct CNTK (times the fan-in C·q² of the
    // thesis's scaling) must be q²C1(d + 1) on the diagonal and q²C1·κ_d(0.75) off it. Both sides
    // are sums of a few hundred exact terms: 1e-10 relative.
    let (h, w) = (5, 6);
    let p = h * w;
    let (c1, c2) = (0.01 / 3.0, 0.0025);
    let prior = two_level_prior(p, c1, c2);
    let dual = SphereDual::new(&Activation::Relu).unwrap();
    for q in [1, 3, 5] {
        for d in 1..=3 {
            let net =
                PixelNetwork::new(&relu_cnn(q, d), &[h, w, p], Parameterization::Ntk).unwrap();
            let k = net.pixel_kernels(&prior).unwrap().ntk * (p * q * q) as f64;
            let diag = (q * q) as f64 * c1 * (d + 1) as f64;
            let off = (q * q) as f64 * c1 * dual.kernels(d, 0.75).unwrap().1;
            let mut worst: f64 = 0.0;
            for a in 0..p {
                for b in 0..p {
                    let want = if a == b { diag } else { off };
                    worst = worst.max((k[(a, b)] - want).abs() / diag);
                    assert_abs_diff_eq!(k[(a, b)], want, epsilon = 1e-10 * diag);
                }
            }
            eprintln!("two-level q = {q}, d = {d}: worst relative {worst:e}");
        }
    }
}

#[test]
fn uniform_prior_sample_approaches_the_expected_kernel() {
    // One draw of an i.i.d. U[0, 0.1] prior with C = 400 channels: ψ is stationary only on
    // average. The draw's own moments set the scale, Ĉ1 = C·mean(Z²), and the ratio
    // ρ̂ = mean(Z)²/mean(Z²) (≈ 0.75; this draw's mean(Z²) is 1.9 % below 0.01/3, which dominates a
    // comparison with the nominal values). Each ψ entry sums C·q² = 3600 products with relative
    // standard deviation ≈ 0.9, so it is within ≈ 1.5 % (1σ) of its mean; averaged over the 36
    // diagonal or 1260 off-diagonal entries of K/(q²Ĉ1), and with the Jensen gap of κ_d (measured
    // 0.1 %), the means are within 1 % of (d + 1) and κ_d(ρ̂).
    let (h, w, c, q, d) = (6, 6, 400, 3, 2);
    let mut rng = XorShift::new(12);
    let prior: Vec<f64> = (0..h * w * c).map(|_| 0.1 * rng.uniform()).collect();
    let n = prior.len() as f64;
    let (m1, m2) = (
        prior.iter().sum::<f64>() / n,
        prior.iter().map(|v| v * v).sum::<f64>() / n,
    );
    let rho = m1 * m1 / m2;
    assert_abs_diff_eq!(rho, 0.75, epsilon = 0.01);
    let net = PixelNetwork::new(&relu_cnn(q, d), &[h, w, c], Parameterization::Ntk).unwrap();
    let c1 = c as f64 * m2;
    let k = net.pixel_kernels(&prior).unwrap().ntk * (c * q * q) as f64 / ((q * q) as f64 * c1);
    let p = h * w;
    let diag = (0..p).map(|a| k[(a, a)]).sum::<f64>() / p as f64;
    let off = (k.sum() - diag * p as f64) / (p * p - p) as f64;
    let kappa = SphereDual::new(&Activation::Relu)
        .unwrap()
        .kernels(d, rho)
        .unwrap()
        .1;
    eprintln!("uniform sample: ρ̂ {rho}, diag {diag}, off {off}, κ_d(ρ̂) {kappa}");
    assert_abs_diff_eq!(diag, (d + 1) as f64, epsilon = 0.01 * (d + 1) as f64);
    assert_abs_diff_eq!(off, kappa, epsilon = 0.01 * kappa);
}

/// A stationary prior on an h × w torus: pairs of channels cos and sin of 2π(k·i/h + l·j/w) with
/// weights, so Σ_ℓ Z_ℓ(p)Z_ℓ(p′) = Σ weight²·cos(phase(p) − phase(p′)) depends on p − p′ only.
fn fourier_prior(h: usize, w: usize) -> (Vec<f64>, usize) {
    let modes = [
        (0, 0, 1.0),
        (1, 0, 0.8),
        (0, 1, 0.6),
        (1, 2, 0.5),
        (2, 1, 0.3),
    ];
    let c = 2 * modes.len();
    let mut z = Vec::with_capacity(h * w * c);
    for i in 0..h {
        for j in 0..w {
            for &(k, l, a) in &modes {
                let phase =
                    2.0 * PI * (k as f64 * i as f64 / h as f64 + l as f64 * j as f64 / w as f64);
                z.push(a * phase.cos());
                z.push(a * phase.sin());
            }
        }
    }
    (z, c)
}

#[test]
fn thm6_closed_form_on_a_stationary_prior() {
    // Thm 6: the direct CNTK (times C·q²) is ψ₀₀·κ_d(ψ/ψ₀₀) with ψ the window Gram of ±(q − 1)/2.
    // Both are exact recursions of a few dozen terms: 1e-10 relative to ψ₀₀.
    let (h, w) = (6, 7);
    let (prior, c) = fourier_prior(h, w);
    for q in [1, 3, 5] {
        let psi = window_gram(&prior, &[h, w, c], q).unwrap();
        for d in 0..=3 {
            let closed = stationary_cntk(&Activation::Relu, d, &psi).unwrap();
            let net =
                PixelNetwork::new(&relu_cnn(q, d), &[h, w, c], Parameterization::Ntk).unwrap();
            let k = net.pixel_kernels(&prior).unwrap().ntk * (c * q * q) as f64;
            let scale = psi[(0, 0)];
            let worst = (&k - &closed).abs().max();
            eprintln!(
                "thm6 q = {q}, d = {d}: worst |direct − closed|/ψ₀₀ = {:e}",
                worst / scale
            );
            assert!(
                worst <= 1e-10 * scale,
                "q = {q}, d = {d}: {worst:e} of ψ₀₀ = {scale}"
            );
        }
    }
}

#[test]
fn app_i_printed_window_is_a_typo() {
    // The first convolution alone (d = 0) has Θ = Σ⁽¹⁾ = ψ/(C·q²) for any prior, with ψ the window
    // Gram of ±(q − 1)/2, exactly (1e-12 relative: sums of 9 products). The printed ±(q + 1)/2 (a
    // (q + 2) × (q + 2) window) is another matrix, even after rescaling; a non-stationary random
    // prior shows it (a stationary prior cannot: there ψ has the same shape for every window).
    let (h, w, c, q) = (6, 7, 3, 3);
    let mut rng = XorShift::new(5);
    let prior: Vec<f64> = (0..h * w * c).map(|_| rng.normal()).collect();
    let net = PixelNetwork::new(&relu_cnn(q, 0), &[h, w, c], Parameterization::Ntk).unwrap();
    let k = net.pixel_kernels(&prior).unwrap().ntk * (c * q * q) as f64;
    let psi = window_gram(&prior, &[h, w, c], q).unwrap();
    let scale = psi.abs().max();
    assert!((&k - &psi).abs().max() <= 1e-12 * scale);
    let wrong = window_gram(&prior, &[h, w, c], q + 2).unwrap();
    let rescaled = &wrong * (psi.trace() / wrong.trace());
    let miss = (&k - &rescaled).abs().max() / scale;
    eprintln!("typo window: miss {miss:e}");
    assert!(miss > 0.1, "the (q + 2)-window should differ: {miss:e}");
}

#[test]
fn pixel_kernels_reduce_to_the_validated_image_kernels() {
    // Flatten then Dense(σ_w = 1, no bias) reads the mean of the pixel kernel's diagonal:
    // Σ = mean Σ(p, p), Θ = Σ + mean Θ(p, p); global average pooling reads the mean of every
    // entry. The crate's image kernels match neural-tangents to 1e-15, so this checks the full
    // P × P state (average pooling forces the full path), to 1e-13 relative.
    let mut rng = XorShift::new(7);
    let (h, w, c) = (5, 4, 3);
    let x: Vec<f64> = (0..h * w * c).map(|_| rng.normal()).collect();
    let body = vec![
        Layer::from(Conv::new(&[3, 3], 1.3).b_std(0.2)),
        Activation::Erf {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        }
        .into(),
        AvgPool::new(&[2, 2])
            .strides(&[1, 1])
            .padding(Padding::Same)
            .into(),
        Conv::new(&[3, 1], 0.9).padding(Padding::Circular).into(),
        Activation::Relu.into(),
        Conv::new(&[1, 3], 1.1).into(),
    ];
    let pix = PixelNetwork::new(&body, &[h, w, c], Parameterization::Ntk).unwrap();
    assert_eq!(pix.output_shape(), &[h, w]);
    let k = pix.pixel_kernels(&x).unwrap();
    let p = (h * w) as f64;
    let row = DMatrix::from_row_slice(1, x.len(), &x);
    let build = |last: Layer| {
        let mut layers = body.clone();
        layers.push(last);
        layers.push(Layer::Dense(ntk::Dense {
            w_std: 1.0,
            b_std: None,
            width: None,
        }));
        layers
            .into_iter()
            .fold(Network::builder().input_shape(&[h, w, c]), |b, l| {
                b.layer(l)
            })
            .build()
            .unwrap()
    };
    let flat = build(Layer::Flatten).diagonal(&row).unwrap();
    let (s, t) = (k.nngp.diagonal().sum() / p, k.ntk.diagonal().sum() / p);
    assert_abs_diff_eq!(flat.nngp[0], s, epsilon = 1e-13 * s.abs());
    assert_abs_diff_eq!(flat.ntk[0], s + t, epsilon = 1e-13 * (s + t).abs());
    let gap = build(Layer::GlobalAvgPool).diagonal(&row).unwrap();
    let (s, t) = (k.nngp.sum() / (p * p), k.ntk.sum() / (p * p));
    assert_abs_diff_eq!(gap.nngp[0], s, epsilon = 1e-13 * s.abs());
    assert_abs_diff_eq!(gap.ntk[0], s + t, epsilon = 1e-13 * (s + t).abs());
    // Symmetric, as a kernel of one input with itself.
    assert_abs_diff_eq!(
        (&k.ntk - k.ntk.transpose()).abs().max(),
        0.0,
        epsilon = 1e-15
    );
}

#[test]
fn completion_is_kernel_regression_on_the_observed_pixels() {
    // Every prediction is K(p, S)·K_S⁻¹·y_S, solved here by LU (K_S is positive definite for a
    // random prior); the pseudo-inverse drops nothing, so the two agree to rounding (1e-10).
    let (h, w, c) = (4, 5, 6);
    let mut rng = XorShift::new(3);
    let prior: Vec<f64> = (0..h * w * c).map(|_| rng.uniform()).collect();
    let net = PixelNetwork::new(&relu_cnn(3, 2), &[h, w, c], Parameterization::Ntk).unwrap();
    let cc = CntkCompletion::new(net);
    let p = h * w;
    let y = DMatrix::from_fn(2, p, |ch, k| {
        ((k * 7 + ch) % 3 != 0).then(|| (k as f64 * 0.37 + ch as f64).sin())
    });
    let out = cc.complete(&prior, &y).unwrap();
    let k = cc.kernel(&prior).unwrap();
    for ch in 0..2 {
        let seen: Vec<usize> = (0..p).filter(|&j| y[(ch, j)].is_some()).collect();
        let ks = DMatrix::from_fn(seen.len(), seen.len(), |a, b| k[(seen[a], seen[b])]);
        let ys =
            nalgebra::DVector::from_iterator(seen.len(), seen.iter().map(|&j| y[(ch, j)].unwrap()));
        let alpha = ks.lu().solve(&ys).unwrap();
        for j in 0..p {
            let want = match y[(ch, j)] {
                Some(v) => v,
                None => seen
                    .iter()
                    .zip(alpha.iter())
                    .map(|(&s, a)| k[(j, s)] * a)
                    .sum(),
            };
            assert_abs_diff_eq!(out[(ch, j)], want, epsilon = 1e-10);
        }
    }
}

#[test]
fn clear_errors() {
    let layers = relu_cnn(3, 1);
    // A vector output.
    let mut flat = layers.clone();
    flat.push(Layer::Flatten);
    let e = PixelNetwork::new(&flat, &[4, 4, 2], Parameterization::Ntk).unwrap_err();
    assert!(
        matches!(e, Error::InvalidNetwork(ref m) if m.contains("ends on an image")),
        "{e}"
    );
    // No spatial axes.
    assert!(PixelNetwork::new(&layers, &[8], Parameterization::Ntk).is_err());
    let net = PixelNetwork::new(&layers, &[4, 4, 2], Parameterization::Ntk).unwrap();
    // Wrong length, NaN.
    assert!(matches!(
        net.pixel_kernels(&[0.0; 31]),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut z = vec![0.5; 32];
    z[3] = f64::NAN;
    assert!(matches!(
        net.pixel_kernels(&z),
        Err(Error::NonFinite { .. })
    ));
    // Completion: Y of the wrong width, an all-missing channel, a negative ridge.
    let cc = CntkCompletion::new(net);
    let z = vec![0.5; 32];
    let y = DMatrix::from_element(1, 15, Some(1.0));
    assert!(matches!(
        cc.complete(&z, &y),
        Err(Error::ShapeMismatch { .. })
    ));
    let y = DMatrix::from_element(1, 16, None);
    assert!(matches!(
        cc.complete(&z, &y),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(cc.clone().ridge(-1.0).is_err());
    // Upsampling with a factor per axis missing or zero.
    for factor in [vec![2], vec![2, 0]] {
        let mut up = layers.clone();
        up.push(
            Upsample {
                factor,
                method: Interpolation::Nearest,
            }
            .into(),
        );
        let e = PixelNetwork::new(&up, &[4, 4, 2], Parameterization::Ntk).unwrap_err();
        assert!(e.to_string().contains("factor"), "{e}");
    }
    // The expansion: a base of the wrong size, a target not a multiple of 2^s.
    assert!(matches!(
        expand_cntk(&DMatrix::zeros(15, 15), 1, 8, 8),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(expand_cntk(&DMatrix::zeros(16, 16), 1, 8, 7).is_err());
    // Thm 6 helpers: an even filter, a non-stationary ψ.
    assert!(window_gram(&z, &[4, 4, 2], 2).is_err());
    let psi = DMatrix::from_row_slice(2, 2, &[1.0, 0.5, 0.5, 2.0]);
    let e = stationary_cntk(&Activation::Relu, 1, &psi).unwrap_err();
    assert!(e.to_string().contains("stationary"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// App. K layers and the App. L expansion
// ---------------------------------------------------------------------------------------------

/// The upsampling matrix A (h·fh·w·fw × h·w) built from the image-space definitions, applied to
/// basis images: nearest copies ⌊i/f⌋; bilinear reads App. K's x = α·i with α = (n − 1)/(f·n − 1)
/// and mixes the four neighbours with the weights (1 − t)(1 − u), (1 − t)u, t(1 − u), tu.
fn upsample_matrix(h: usize, w: usize, f: (usize, usize), bilinear: bool) -> DMatrix<f64> {
    let (ho, wo) = (h * f.0, w * f.1);
    let mut a = DMatrix::zeros(ho * wo, h * w);
    let coord = |i: usize, n: usize, no: usize| -> (usize, usize, f64) {
        if n == 1 {
            return (0, 0, 0.0);
        }
        let x = i as f64 * (n - 1) as f64 / (no - 1) as f64;
        let r = (x.floor() as usize).min(n - 2);
        (r, r + 1, x - r as f64)
    };
    for i in 0..ho {
        for j in 0..wo {
            let row = i * wo + j;
            if bilinear {
                let (r0, r1, t) = coord(i, h, ho);
                let (c0, c1, u) = coord(j, w, wo);
                for (r, wr) in [(r0, 1.0 - t), (r1, t)] {
                    for (c, wc) in [(c0, 1.0 - u), (c1, u)] {
                        a[(row, r * w + c)] += wr * wc;
                    }
                }
            } else {
                a[(row, (i / f.0) * w + j / f.1)] = 1.0;
            }
        }
    }
    a
}

#[test]
fn upsampling_is_a_k_f_a_transpose() {
    // App. K: a fixed linear layer maps the kernel as K = A·K_f·Aᵀ. The layer's kernel map (rows,
    // then columns, axis by axis) against the dense product with A built from the image-space
    // definition: the same sums in another order, 1e-13 relative.
    let (h, w, c) = (3, 4, 2);
    let mut rng = XorShift::new(21);
    let x: Vec<f64> = (0..h * w * c).map(|_| rng.normal()).collect();
    let front = vec![
        Layer::from(Conv::new(&[3, 3], 1.2).b_std(0.3)),
        Activation::Relu.into(),
        Conv::new(&[3, 3], 1.0).padding(Padding::Circular).into(),
    ];
    let base = PixelNetwork::new(&front, &[h, w, c], Parameterization::Ntk)
        .unwrap()
        .pixel_kernels(&x)
        .unwrap();
    for (f, method) in [
        ((2, 2), Interpolation::Nearest),
        ((2, 3), Interpolation::Nearest),
        ((2, 2), Interpolation::Bilinear),
        ((3, 2), Interpolation::Bilinear),
    ] {
        let mut layers = front.clone();
        layers.push(
            Upsample {
                factor: vec![f.0, f.1],
                method,
            }
            .into(),
        );
        let net = PixelNetwork::new(&layers, &[h, w, c], Parameterization::Ntk).unwrap();
        assert_eq!(net.output_shape(), &[h * f.0, w * f.1]);
        let k = net.pixel_kernels(&x).unwrap();
        let a = upsample_matrix(h, w, f, method == Interpolation::Bilinear);
        for (got, from) in [(&k.nngp, &base.nngp), (&k.ntk, &base.ntk)] {
            let want = &a * from * a.transpose();
            let scale = want.abs().max();
            assert!(
                (got - &want).abs().max() <= 1e-13 * scale,
                "{f:?} {method:?}"
            );
        }
    }
    // A ReLU after upsampling: the upsampled state is Gaussian, and the JSON key round-trips.
    let json = r#"{"input_shape": [3, 4, 2], "layers": [{"conv": {"w_std": 1.0, "filter_shape": [3, 3]}},
        {"upsample": {"factor": [2, 2], "method": "bilinear"}}, {"relu": {}}, {"flatten": {}},
        {"dense": {"w_std": 1.0}}]}"#;
    let net: Network = serde_json::from_str(json).unwrap();
    let again: Network = serde_json::from_str(&serde_json::to_string(&net).unwrap()).unwrap();
    assert_eq!(net, again);
    assert!(
        net.diagonal(&DMatrix::from_row_slice(1, x.len(), &x))
            .is_ok()
    );
}

#[test]
fn stride_two_subsampling_keeps_the_even_pixels() {
    // App. K's downsampling corollary: T(i/2, j/2, i′/2, j′/2) = T(i, j, i′, j′) at even indices,
    // here as average pooling of a 1 × 1 window with stride 2 (a pure subsampling): exact copies.
    let (h, w, c) = (6, 4, 2);
    let mut rng = XorShift::new(8);
    let x: Vec<f64> = (0..h * w * c).map(|_| rng.normal()).collect();
    let front = vec![Layer::from(
        Conv::new(&[3, 3], 1.0).padding(Padding::Circular),
    )];
    let mut down = front.clone();
    down.push(AvgPool::new(&[1, 1]).strides(&[2, 2]).into());
    let k = PixelNetwork::new(&front, &[h, w, c], Parameterization::Ntk)
        .unwrap()
        .pixel_kernels(&x)
        .unwrap()
        .ntk;
    let kd = PixelNetwork::new(&down, &[h, w, c], Parameterization::Ntk)
        .unwrap()
        .pixel_kernels(&x)
        .unwrap()
        .ntk;
    let (ho, wo) = (h / 2, w / 2);
    for a in 0..ho * wo {
        for b in 0..ho * wo {
            let fine = |q: usize| (q / wo) * 2 * w + (q % wo) * 2;
            assert_eq!(kd[(a, b)], k[(fine(a), fine(b))]);
        }
    }
}

/// The direct pixel NTK of `down_up_layers(s)` on an n × n image whose prior has channel Gram exactly
/// C1 = 1 on the diagonal and C2 = 0.75 elsewhere (B.6), in the crate's scaling (Σ⁽⁰⁾ = Gram/C, so
/// the prior is scaled by √C to keep Σ⁽⁰⁾ the same at every size).
fn two_level_kernel(layers: &[Layer], n: usize) -> DMatrix<f64> {
    let p = n * n;
    let prior = two_level_prior(p, p as f64, 0.75 * p as f64);
    PixelNetwork::new(layers, &[n, n, p], Parameterization::Ntk)
        .unwrap()
        .pixel_kernels(&prior)
        .unwrap()
        .ntk
}

#[test]
fn app_l_expansion_against_the_direct_kernel() {
    // Expand K at 2^{s+1} to 2^{s+2} and compare with the direct kernel there, s = 1, 2; also
    // checks that the expansion is not trivially right: the kernel has more than two values.
    for s in 1..=2u32 {
        let layers = ntk::completion::expand::down_up_layers(s as usize);
        let (d, n) = (1usize << (s + 1), 1usize << (s + 2));
        let base = two_level_kernel(&layers, d);
        let direct = two_level_kernel(&layers, n);
        let expanded = expand_cntk(&base, s, n, n).unwrap();
        let mut values: Vec<f64> = direct.iter().copied().collect();
        values.sort_by(f64::total_cmp);
        values.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
        assert!(values.len() > 4, "{} distinct values", values.len());
        let diff = (&expanded - &direct).abs();
        let worst = diff.max();
        let scale = direct.abs().max();
        let bad = diff.iter().filter(|v| **v > 1e-12 * scale).count();
        eprintln!(
            "expansion s = {s}: {d} → {n}: worst |expanded − direct| = {worst:e} ({:e} relative), \
             {bad} of {} entries beyond 1e-12",
            worst / scale,
            n.pow(4)
        );
        // The seed claims exactness: both sides are the same sums up to rounding (measured
        // 8e-16 relative), so 1e-12 as the issue asks.
        assert!(worst <= 1e-12 * scale, "s = {s}: {worst:e}");
    }
}
