//! Matrix completion with the NTK (Radhakrishnan 2023, Thm 5 and App. A), against the values of
//! issue 12 (the corrected App. A examples and Prop. 8) and a direct least-squares check.

use approx::assert_abs_diff_eq;
use nalgebra::DMatrix;
use ntk::Activation;
use ntk::completion::{MatrixCompletion, normalize_rows};
use std::f64::consts::PI;

fn example_3x3() -> DMatrix<Option<f64>> {
    DMatrix::from_row_slice(
        3,
        3,
        &[
            None,
            Some(0.5),
            Some(0.3),
            Some(0.1),
            Some(0.2),
            None,
            Some(0.4),
            None,
            None,
        ],
    )
}

#[test]
fn app_a_three_by_three_example() {
    let z = DMatrix::<f64>::identity(3, 3);
    // (depth, ŷ11, ŷ23, ŷ32 = ŷ33), the 7-digit values: within 1e-7.
    for (depth, y11, y23, y32) in [
        (1, 0.1098420, 0.0411908, 0.0636620),
        (2, 0.1488362, 0.0558136, 0.0914278),
    ] {
        let c = MatrixCompletion::new(&Activation::Relu, depth)
            .unwrap()
            .complete(&z, &example_3x3())
            .unwrap();
        assert_abs_diff_eq!(c[(0, 0)], y11, epsilon = 1e-7);
        assert_abs_diff_eq!(c[(1, 2)], y23, epsilon = 1e-7);
        assert_abs_diff_eq!(c[(2, 1)], y32, epsilon = 1e-7);
        assert_abs_diff_eq!(c[(2, 2)], y32, epsilon = 1e-7);
        assert_eq!((c[(0, 1)], c[(1, 0)], c[(2, 0)]), (0.5, 0.1, 0.4));
    }
    // One hidden layer in closed form: 0.8/(2π + 1), 0.3/(2π + 1), 0.4/(2π).
    let c = MatrixCompletion::new(&Activation::Relu, 1)
        .unwrap()
        .complete(&z, &example_3x3())
        .unwrap();
    assert_abs_diff_eq!(c[(0, 0)], 0.8 / (2.0 * PI + 1.0), epsilon = 1e-15);
    assert_abs_diff_eq!(c[(1, 2)], 0.3 / (2.0 * PI + 1.0), epsilon = 1e-15);
    assert_abs_diff_eq!(c[(2, 1)], 0.4 / (2.0 * PI), epsilon = 1e-15);
}

#[test]
fn netflix_toy_imputes_three_at_every_depth() {
    // Y = [1, 2, ?, 1, 2, 3] with Z = [I₃ I₃]: duplicated columns make the kernel singular.
    let y = DMatrix::from_row_slice(
        1,
        6,
        &[Some(1.0), Some(2.0), None, Some(1.0), Some(2.0), Some(3.0)],
    );
    let z = DMatrix::from_fn(6, 3, |j, k| if j % 3 == k { 1.0 } else { 0.0 });
    for depth in 0..8 {
        for act in [
            Activation::Relu,
            Activation::Identity,
            Activation::LeakyRelu { alpha: 0.2 },
        ] {
            let c = MatrixCompletion::new(&act, depth)
                .unwrap()
                .complete(&z, &y)
                .unwrap();
            // The pseudo-inverse solution reproduces the duplicate's value to rounding.
            assert_abs_diff_eq!(c[(0, 2)], 3.0, epsilon = 1e-10);
        }
    }
}

#[test]
fn prop_8_coefficient() {
    // One-hot prior, ℓ observed columns: ŷ = ℓ/(ℓ + 2π − 1)·mean (the corrected Prop. 8).
    for (l, coefficient) in [(1usize, 0.1591549), (5, 0.4862307)] {
        let n = l + 1;
        let values: Vec<f64> = (0..l).map(|j| 0.3 + 0.7 * j as f64).collect();
        let mean = values.iter().sum::<f64>() / l as f64;
        let y = DMatrix::from_fn(1, n, |_, j| values.get(j).copied());
        let c = MatrixCompletion::new(&Activation::Relu, 1)
            .unwrap()
            .complete(&DMatrix::identity(n, n), &y)
            .unwrap();
        let exact = l as f64 / (l as f64 + 2.0 * PI - 1.0);
        assert_abs_diff_eq!(exact, coefficient, epsilon = 1e-7);
        assert_abs_diff_eq!(c[(0, l)], exact * mean, epsilon = 1e-13);
    }
}

#[test]
fn rows_are_kernel_regressions() {
    // A random unit-norm prior and a ridge: each row's predictions equal k(Kₛ + λI)⁻¹y solved
    // independently by nalgebra's LU, and the column kernel is κ₃ of the cosines.
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let z = normalize_rows(&DMatrix::from_fn(7, 4, |_, _| next())).unwrap();
    let y = DMatrix::from_fn(3, 7, |i, j| ((i + 2 * j) % 3 != 0).then(&mut next));
    let completion = MatrixCompletion::new(&Activation::Relu, 3)
        .unwrap()
        .ridge(0.1)
        .unwrap();
    let k = completion.column_kernel(&z).unwrap();
    let relu = ntk::infinite_depth::SphereDual::new(&Activation::Relu).unwrap();
    let cos = (z.row(1) * z.row(4).transpose())[(0, 0)];
    assert_abs_diff_eq!(k[(1, 4)], relu.kernels(3, cos).unwrap().1, epsilon = 1e-12);
    let c = completion.complete(&z, &y).unwrap();
    for i in 0..3 {
        let seen: Vec<usize> = (0..7).filter(|&j| y[(i, j)].is_some()).collect();
        let ks = DMatrix::from_fn(seen.len(), seen.len(), |a, b| {
            k[(seen[a], seen[b])] + if a == b { 0.1 } else { 0.0 }
        });
        let ys = DMatrix::from_fn(seen.len(), 1, |a, _| y[(i, seen[a])].unwrap());
        let alpha = ks.lu().solve(&ys).unwrap();
        for j in (0..7).filter(|j| !seen.contains(j)) {
            let pred: f64 = seen
                .iter()
                .enumerate()
                .map(|(a, &s)| k[(j, s)] * alpha[a])
                .sum();
            assert_abs_diff_eq!(c[(i, j)], pred, epsilon = 1e-12);
        }
    }
}

#[test]
fn bad_inputs_are_rejected() {
    let c = MatrixCompletion::new(&Activation::Relu, 1).unwrap();
    let z = DMatrix::<f64>::identity(3, 3);
    // Wrong number of prior rows.
    assert!(matches!(
        c.complete(&DMatrix::identity(2, 2), &example_3x3()),
        Err(ntk::Error::ShapeMismatch { .. })
    ));
    // A row with nothing observed.
    let mut y = example_3x3();
    y[(2, 0)] = None;
    assert!(matches!(
        c.complete(&z, &y),
        Err(ntk::Error::InvalidParameter { .. })
    ));
    // Non-finite values.
    let mut y = example_3x3();
    y[(0, 1)] = Some(f64::NAN);
    assert!(matches!(
        c.complete(&z, &y),
        Err(ntk::Error::NonFinite { .. })
    ));
    let mut zn = z.clone();
    zn[(0, 0)] = f64::INFINITY;
    assert!(matches!(
        c.complete(&zn, &example_3x3()),
        Err(ntk::Error::NonFinite { .. })
    ));
    // Zero and non-unit rows; normalize_rows fixes the latter only.
    let mut zz = z.clone();
    zz[(1, 1)] = 0.0;
    assert!(c.complete(&zz, &example_3x3()).is_err());
    assert!(normalize_rows(&zz).is_err());
    let scaled = &z * 2.0;
    assert!(c.complete(&scaled, &example_3x3()).is_err());
    assert!(
        c.complete(&normalize_rows(&scaled).unwrap(), &example_3x3())
            .is_ok()
    );
    assert!(c.clone().ridge(-1.0).is_err() && c.ridge(f64::NAN).is_err());
    assert!(MatrixCompletion::new(&Activation::Sign, 1).is_err());
}

/// Runs the `ntk` binary.
fn ntk_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ntk"))
        .args(args)
        .output()
        .expect("the ntk binary runs")
}

#[test]
fn cli_completes_and_reports_bad_input() {
    let dir = std::env::temp_dir().join(format!("ntk-complete-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let z = path("z.csv", "2,0,0\n0,3,0\n0,0,0.5\n");
    let y = path("y.csv", ",0.5,0.3\n0.1,0.2,\n0.4,,\n");
    let out = ntk_cli(&[
        "complete",
        "--prior",
        &z,
        "--observed",
        &y,
        "--depth",
        "2",
        "--normalize",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["completed"];
    assert_abs_diff_eq!(c[0][0].as_f64().unwrap(), 0.1488362, epsilon = 1e-7);
    assert_abs_diff_eq!(c[2][2].as_f64().unwrap(), 0.0914278, epsilon = 1e-7);
    assert_eq!(c[0][1].as_f64(), Some(0.5));
    // Errors: rows not of unit norm without --normalize, a zero row, a bad shape, a row with no
    // observation, a non-number: exit code 1 and a message naming the problem.
    let fails = |args: &[&str], needle: &str| {
        let out = ntk_cli(args);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    fails(
        &["complete", "--prior", &z, "--observed", &y, "--depth", "1"],
        "--normalize",
    );
    let zero = path("zero.csv", "1,0,0\n0,0,0\n0,0,1\n");
    fails(
        &[
            "complete",
            "--prior",
            &zero,
            "--observed",
            &y,
            "--depth",
            "1",
            "--normalize",
        ],
        "is zero",
    );
    let short = path("short.csv", "1,0\n0,1\n");
    fails(
        &[
            "complete",
            "--prior",
            &short,
            "--observed",
            &y,
            "--depth",
            "1",
        ],
        "one row per column",
    );
    let empty_row = path("empty.csv", ",0.5,0.3\n,,\n0.4,,\n");
    let eye = path("eye.csv", "1,0,0\n0,1,0\n0,0,1\n");
    fails(
        &[
            "complete",
            "--prior",
            &eye,
            "--observed",
            &empty_row,
            "--depth",
            "1",
        ],
        "no observed entry",
    );
    let nan = path("nan.csv", "NaN,0.5,0.3\n0.1,0.2,\n0.4,,\n");
    fails(
        &[
            "complete",
            "--prior",
            &eye,
            "--observed",
            &nan,
            "--depth",
            "1",
        ],
        "non-finite",
    );
    let word = path("word.csv", "?,0.5,0.3\n0.1,0.2,\n0.4,,\n");
    fails(
        &[
            "complete",
            "--prior",
            &eye,
            "--observed",
            &word,
            "--depth",
            "1",
        ],
        "leave a missing entry empty",
    );
    fails(
        &[
            "complete",
            "--prior",
            &eye,
            "--observed",
            &y,
            "--depth",
            "1",
            "--activation",
            "relux",
        ],
        "unknown activation",
    );
    let _ = std::fs::remove_dir_all(&dir);
}
