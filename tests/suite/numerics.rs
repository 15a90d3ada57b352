//! Deep networks, degenerate inputs and overflow.

use approx::{abs_diff_eq, assert_abs_diff_eq};
use nalgebra::DMatrix;
use ntk::{Activation, Error, Kernel, Network};
use serde_json::Value;

fn relu_net(depth: usize, b: Option<f64>) -> Network {
    Network::mlp(depth, Activation::Relu)
        .w_std(2f64.sqrt())
        .b_std(b)
        .build()
        .unwrap()
}

/// Two unit-variance points (x·x/d = 1) at angle `a`.
fn pair(a: f64) -> DMatrix<f64> {
    let r = 2f64.sqrt();
    DMatrix::from_row_slice(2, 2, &[r, 0.0, r * a.cos(), r * a.sin()])
}

#[test]
fn depth_1000_matches_a_60_digit_recursion() {
    // tests/data/deep_mp.json: an independent mpmath implementation (gen_deep.py) at 60 digits.
    // Tolerance: the recursion is ill-conditioned near θ = 0, since θ = atan2(√(P − c²), c) has
    // dθ/dc = −1/√(P − c²): an ulp-level error in c becomes an angle error ≈ ε/θ in every layer. Over
    // L layers the relative error is then ≲ L·ε/θ₀ (θ₀ the input angle, the largest angle of the
    // contracting ReLU/erf angle map is the first). We allow 100× that: 2.2e-11 at θ₀ = 1, 2.2e-8 at
    // θ₀ = 1e-3 — and any formula error is far larger.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/deep_mp.json"
    ))
    .unwrap();
    let data: Value = serde_json::from_str(&text).unwrap();
    let mut worst = 0.0f64;
    for case in data["cases"].as_array().unwrap() {
        let act = match case["activation"].as_str().unwrap() {
            "relu" => Activation::Relu,
            "erf" => Activation::Erf {
                a: 1.0,
                b: 1.0,
                c: 0.0,
            },
            other => panic!("{other}"),
        };
        let net = Network::mlp(case["depth"].as_u64().unwrap() as usize, act)
            .w_std(case["w_std"].as_f64().unwrap())
            .b_std(case["b_std"].as_f64())
            .build()
            .unwrap();
        let v = |k: &str| -> Vec<f64> {
            case[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        let (x1, x2) = (v("x1"), v("x2"));
        let theta0 = (x1[0] * x2[0] + x1[1] * x2[1])
            .atan2(x1[0] * x2[1] - x1[1] * x2[0])
            .abs();
        let theta0 = (std::f64::consts::FRAC_PI_2 - theta0).abs().max(1e-300);
        let theta0 = theta0.min(std::f64::consts::PI - theta0);
        let tol = 100.0 * 1000.0 * f64::EPSILON / theta0;
        let e = net.entry(&x1, &x2).unwrap();
        let e11 = net.entry(&v("x1"), &v("x1")).unwrap();
        let diag = net
            .diagonal(&DMatrix::from_row_slice(1, 2, &v("x1")))
            .unwrap();
        for (ours, key) in [
            (e.nngp, "nngp"),
            (e.ntk, "ntk"),
            (e11.nngp, "nngp_11"),
            (e11.ntk, "ntk_11"),
            (diag.nngp[0], "nngp_11"),
            (diag.ntk[0], "ntk_11"),
        ] {
            let r = case[key].as_f64().unwrap();
            let rel = (ours - r).abs() / r.abs();
            worst = worst.max(rel);
            if std::env::var("NTK_VERBOSE").is_ok() {
                println!(
                    "{} b={:?} θ0={theta0:.3e} {key}: rel {rel:.2e}",
                    case["activation"], case["b_std"]
                );
            }
            let tol = if key.ends_with("_11") { 1e-11 } else { tol };
            assert!(
                rel < tol,
                "{case}: {key} ours {ours} vs {r} (tolerance {tol:e})"
            );
        }
    }
    println!("depth 1000 vs mpmath: worst relative error {worst:e}");
}

#[test]
fn relu_matches_the_thesis_closed_forms() {
    // seed-002 digest §2.4 (values verified there to 6 digits): with the normalized ReLU dual φ̌
    // (c = √2), the NTK K_L(z) and NNGP Σ_L(z) on the unit sphere. In neural-tangents' convention
    // (σ_w = √2, no bias, readout Dense(σ_w)) our kernels are exactly 2·K_L and 2·Σ_L.
    // Tolerance 1e-6: the digest's values have 6 significant digits.
    let cases = [
        (1, 0.0, None, Some(1.0 / std::f64::consts::PI)),
        (2, 0.0, Some(0.493731), Some(0.685709)),
        (3, 0.0, None, Some(1.060388)),
        (5, 0.0, None, Some(1.792196)),
        (5, 0.5, Some(0.810454), None),
    ];
    for (depth, z, sigma, k) in cases {
        let e = relu_net(depth, None).gram(&pair(f64::acos(z))).unwrap();
        if let Some(s) = sigma {
            assert!(
                abs_diff_eq!(e.nngp[(0, 1)] / 2.0, s, epsilon = 1e-6 * s),
                "Σ_{depth}({z})"
            );
        }
        if let Some(k) = k {
            assert!(
                abs_diff_eq!(e.ntk[(0, 1)] / 2.0, k, epsilon = 1e-6 * k),
                "K_{depth}({z})"
            );
        }
        // K_L(1) = L + 1 and Σ_L(1) = 1 (ReLU preserves the norm).
        assert_abs_diff_eq!(
            e.ntk[(0, 0)] / 2.0,
            (depth as f64 + 1.0),
            epsilon = 1e-12 * depth as f64
        );
        assert_abs_diff_eq!(e.nngp[(0, 0)] / 2.0, 1.0, epsilon = 1e-14);
    }
}

#[test]
fn deep_relu_approaches_its_infinite_depth_limit() {
    // Off the diagonal the correlation goes to 1 and K_L(z)/(L + 1) → 1/4 for every z < 1 (the
    // "majority vote" regime of seed-002 §2.6, A = E[φ] ≠ 0), slowly, while K_L(1)/(L + 1) = 1.
    for a in [0.3, 1.5, 3.0] {
        let mut prev = f64::INFINITY;
        for depth in [100, 1000, 10_000] {
            let k = relu_net(depth, None).gram(&pair(a)).unwrap();
            let ratio = k.ntk[(0, 1)] / (2.0 * (depth as f64 + 1.0));
            assert!(ratio.is_finite() && ratio > 0.25, "depth {depth}: {ratio}");
            assert!(ratio - 0.25 < prev, "not approaching 1/4 at depth {depth}");
            prev = ratio - 0.25;
            let gap = 1.0 - k.nngp[(0, 1)] / k.nngp[(0, 0)];
            println!("angle {a} depth {depth}: K/(L+1) = {ratio}, 1 − ρ = {gap:e}");
            // 1 − ρ_L decays like 9π²/(2L²) for ReLU (1 − κ(ρ) ≈ (1 − ρ) − (2√2/3π)(1 − ρ)^{3/2}).
            let predicted = 9.0 * std::f64::consts::PI.powi(2) / (2.0 * (depth as f64).powi(2));
            assert!(
                gap > 0.0 && gap < 2.0 * predicted && gap > 0.5 * predicted,
                "1 − ρ = {gap}"
            );
        }
        assert!(prev < 0.01, "depth 10 000: K/(L+1) − 1/4 = {prev}");
    }
}

#[test]
fn zero_norm_and_degenerate_inputs_are_finite() {
    let v = [1.3, -0.4, 0.7];
    let x = DMatrix::from_row_slice(
        5,
        3,
        &[
            v[0],
            v[1],
            v[2], // v
            0.0,
            0.0,
            0.0, // zero
            -v[0],
            -v[1],
            -v[2], // antipodal
            4.0 * v[0],
            4.0 * v[1],
            4.0 * v[2], // parallel
            v[0],
            v[1],
            v[2], // identical
        ],
    );
    for b in [None, Some(0.1)] {
        for depth in [1, 3, 50] {
            let net = relu_net(depth, b);
            let k = net.gram(&x).unwrap();
            assert!(k.nngp.iter().chain(k.ntk.iter()).all(|v| v.is_finite()));
            // Identical rows give identical rows of the kernel, parallel rows scale (no bias).
            assert_abs_diff_eq!(
                k.nngp[(0, 2)],
                k.nngp[(4, 2)],
                epsilon = 1e-14 * k.nngp[(0, 0)]
            );
            if b.is_none() {
                assert_eq!(k.nngp[(1, 1)], 0.0);
                assert_abs_diff_eq!(
                    k.nngp[(0, 3)],
                    4.0 * k.nngp[(0, 0)],
                    epsilon = 1e-13 * k.nngp[(0, 3)]
                );
                assert_abs_diff_eq!(
                    k.ntk[(0, 3)],
                    4.0 * k.ntk[(0, 0)],
                    epsilon = 1e-13 * k.ntk[(0, 3)]
                );
            }
        }
    }
}

#[test]
fn overflow_is_an_error_not_nan() {
    let x = pair(0.5);
    // σ_w = 1000 multiplies the ReLU variance by 5e5 per layer: f64 overflows after ~55 layers.
    let net = Network::mlp(100, Activation::Relu)
        .w_std(1000.0)
        .build()
        .unwrap();
    for r in [
        net.gram(&x).map(|_| ()),
        net.cross(&x, &x).map(|_| ()),
        net.diagonal(&x).map(|_| ()),
    ] {
        match r {
            Err(Error::Overflow { layer, .. }) => assert!(layer > 50 && layer < 200),
            other => panic!("expected an overflow error, got {other:?}"),
        }
    }
    assert!(matches!(
        net.entry(&[1.0, 2.0], &[3.0, 4.0]),
        Err(Error::Overflow { .. })
    ));
    // Exp's variance e^{2b²q} explodes after a few layers.
    let exp = Network::mlp(6, Activation::Exp { a: 1.0, b: 1.0 })
        .w_std(2.0)
        .width(1)
        .build()
        .unwrap();
    assert!(matches!(exp.gram(&x), Err(Error::Overflow { .. })));
    // a·e^{b x²} with b > 0 has no finite second moment once 4bq ≥ 1.
    let gauss = Network::mlp(1, Activation::Gaussian { a: 1.0, b: 0.5 })
        .w_std(1.0)
        .width(1)
        .build()
        .unwrap();
    match gauss.gram(&x) {
        Err(Error::Overflow {
            layer, activation, ..
        }) => {
            assert_eq!(layer, 1);
            assert!(activation.starts_with("gaussian"));
        }
        other => panic!("expected a divergence error, got {other:?}"),
    }
}

#[test]
fn chaotic_phase_self_kernel_stays_on_the_diagonal() {
    // Erf with σ_w = 1.5, σ_b = 0.1 is chaotic (χ₁ > 1): the c = q fixed point is unstable, so any
    // rounding in Σ(x, x) computed as an off-diagonal entry would grow until it reached the
    // off-diagonal value (≈ 0.0997 vs the true 1.0932 at depth 1000; see deep_mp.json). Identical
    // points must give the diagonal exactly, whichever method computes them.
    let net = Network::mlp(
        1000,
        Activation::Erf {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
    )
    .w_std(1.5)
    .b_std(0.1)
    .build()
    .unwrap();
    let x = DMatrix::from_row_slice(3, 2, &[1.0, 0.5, -0.3, 2.0, 0.7, 0.7]);
    let diag = net.diagonal(&x).unwrap();
    let cross = net.cross(&x, &x).unwrap();
    let gram = net.gram(&x).unwrap();
    for i in 0..3 {
        assert_eq!(cross.nngp[(i, i)], diag.nngp[i]);
        assert_eq!(cross.ntk[(i, i)], diag.ntk[i]);
        assert_eq!(gram.nngp[(i, i)], diag.nngp[i]);
        let row: Vec<f64> = x.row(i).iter().copied().collect();
        assert_eq!(net.entry(&row, &row).unwrap().nngp, diag.nngp[i]);
    }
    assert!(diag.nngp[0] > 1.0 && cross.nngp[(0, 1)] < 0.2);
}

#[test]
fn identical_rows_of_a_cross_matrix_get_the_exact_diagonal() {
    // x·x'/d from a GEMM and ‖x‖²/d round differently for d = 50; identical rows must still give
    // the exact diagonal (for ReLU the general formula would be off by ~1e-8 at θ ≈ √ε).
    let mut s = 7u64;
    let x = DMatrix::from_fn(4, 50, |_, _| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.3
    });
    let y = DMatrix::from_fn(3, 50, |i, j| x[(3 - i, j)]);
    let net = relu_net(3, Some(0.1));
    let c = net.cross(&x, &y).unwrap();
    let d = net.diagonal(&x).unwrap();
    for i in 1..4 {
        assert_eq!(c.ntk[(i, 3 - i)], d.ntk[i]);
        assert_eq!(c.nngp[(i, 3 - i)], d.nngp[i]);
    }
}
