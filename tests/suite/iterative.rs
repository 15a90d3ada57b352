//! The matrix-free solvers (`ntk::iterative`) against the dense ones: the operator against the Gram
//! matrix, CG / EigenPro means and covariances against `GpInference` (dense Cholesky), FALKON
//! against the Nyström estimator by dense linear algebra, warm starts, and the error cases.
//!
//! Tolerances. The iterative mean is compared with the dense one as max|Δ| / max|dense| ≤ 1e-6
//! (issue 14). CG runs to a relative residual of 1e-10: at the training points the mean's error is
//! K(K + λI)⁻¹ r, whose norm is at most ‖r‖ (eigenvalues λᵢ/(λᵢ + λ) < 1), and at test points it
//! is k_*ᵀ(K + λI)⁻¹ r, bounded by the same factor times max‖k_*‖/min‖k_train‖ (≈ 1 here); so a
//! residual of 1e-10·‖y‖ leaves four orders of magnitude below 1e-6, of which the dense solution's
//! own rounding (κ(K_reg)·ε ≤ 1e6·1e-16) uses almost none. n = 1000 keeps the suite fast; n = 5000
//! is the ignored test `exactness_at_n_5000` (measured figures in docs/regression.md).

use approx::assert_abs_diff_eq;
use nalgebra::DMatrix;
use ntk::iterative::{Centres, Falkon, IterativeRegression, KernelOperator, Method};
use ntk::{Activation, Error, GpInference, Kernel, KernelKind, Network, Posterior, Regularization};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// n Gaussian points in ℝᵈ (fixed seed).
fn gaussian(n: usize, d: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    DMatrix::from_fn(n, d, |_, _| StandardNormal.sample(&mut rng))
}

/// A smooth target of the points plus 0.1 Gaussian noise, k = 2 outputs.
fn targets(x: &DMatrix<f64>, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    DMatrix::from_fn(x.nrows(), 2, |i, j| {
        let r = x.row(i);
        let f = if j == 0 {
            (r[0] + 0.5 * r[1]).sin()
        } else {
            r[2] * r[0] - 0.3 * r[3]
        };
        let e: f64 = StandardNormal.sample(&mut rng);
        f + 0.1 * e
    })
}

fn relu3() -> Network {
    Network::mlp(3, Activation::Relu)
        .w_std(2f64.sqrt())
        .b_std(0.1)
        .build()
        .unwrap()
}

fn erf3() -> Network {
    let erf = Activation::Erf {
        a: 1.0,
        b: 1.0,
        c: 0.0,
    };
    Network::mlp(3, erf).w_std(1.5).b_std(0.1).build().unwrap()
}

/// max|a − b| / max|b|.
fn rel_err(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a - b).amax() / b.amax()
}

#[test]
fn operator_matches_the_gram_matrix() {
    // Blocks of 7 rows: the last block is partial and off-diagonal blocks are used transposed.
    let x = gaussian(60, 5, 1);
    let v = gaussian(60, 3, 2);
    for net in [relu3(), erf3()] {
        let k = net.gram(&x).unwrap();
        for (kind, dense) in [(KernelKind::Nngp, &k.nngp), (KernelKind::Ntk, &k.ntk)] {
            let op = KernelOperator::new(&net, &x, kind)
                .unwrap()
                .block_rows(7)
                .unwrap();
            let want = dense * &v;
            // Sums of 60 products, summed in a different order: rounding ~60·ε relative.
            assert_abs_diff_eq!(op.apply(&v).unwrap(), want, epsilon = 1e-13 * want.amax());
            let x_test = gaussian(9, 5, 3);
            let want = net.cross(&x_test, &x).unwrap();
            let want = match kind {
                KernelKind::Nngp => want.nngp,
                KernelKind::Ntk => want.ntk,
            } * &v;
            let got = op.cross_apply(&x_test, &v).unwrap();
            assert_abs_diff_eq!(got, want, epsilon = 1e-13 * want.amax());
            let cols = op.columns(&[4, 0, 59]).unwrap();
            // Kernel::cross and Kernel::gram round their input products differently.
            let s = dense.amax();
            assert_abs_diff_eq!(cols.column(1), dense.column(0), epsilon = 1e-14 * s);
            assert_abs_diff_eq!(cols.column(2), dense.column(59), epsilon = 1e-14 * s);
        }
    }
}

#[test]
fn operator_blocks_are_the_gram_entries_bit_for_bit() {
    // K·I is K itself: each output entry is one product by 1 plus exact zeros, so the operator's
    // blocks (built from tables computed once, one kernel, reused buffers) must hold the Gram
    // matrix's bits. 45 points, blocks of 8 (the last one partial), a duplicated point (rows 3 and
    // 40), which takes the variance as in `gram`; columns() must equal `cross` bit for bit.
    let mut x = gaussian(45, 6, 11);
    let dup = x.row(3).into_owned();
    x.set_row(40, &dup);
    let eye = DMatrix::identity(45, 45);
    for net in [relu3(), erf3()] {
        let k = net.gram(&x).unwrap();
        for (kind, dense) in [(KernelKind::Nngp, &k.nngp), (KernelKind::Ntk, &k.ntk)] {
            let op = KernelOperator::new(&net, &x, kind)
                .unwrap()
                .block_rows(8)
                .unwrap();
            assert_eq!(&op.apply(&eye).unwrap(), dense);
            let idx = [40, 0, 3, 44];
            let sub = DMatrix::from_fn(4, 6, |i, j| x[(idx[i], j)]);
            let c = net.cross(&x, &sub).unwrap();
            let want = match kind {
                KernelKind::Nngp => c.nngp,
                KernelKind::Ntk => c.ntk,
            };
            assert_eq!(op.columns(&idx).unwrap(), want);
        }
    }
}

#[test]
fn operator_of_a_convolutional_network() {
    // Any architecture: the CNTK of a 4 × 4 × 1 image network.
    let net = Network::from_json(
        r#"{"input_shape": [4, 4, 1], "layers": [
            {"conv": {"w_std": 1.4, "b_std": 0.1, "filter_shape": [3, 3], "padding": "same"}},
            {"relu": {}}, {"flatten": {}}, {"dense": {"w_std": 1.4, "b_std": 0.1}}]}"#,
    )
    .unwrap();
    let x = gaussian(20, 16, 4);
    let v = gaussian(20, 2, 5);
    let dense = net.gram(&x).unwrap().ntk;
    let op = KernelOperator::new(&net, &x, KernelKind::Ntk)
        .unwrap()
        .block_rows(6)
        .unwrap();
    let want = dense * &v;
    assert_abs_diff_eq!(op.apply(&v).unwrap(), want, epsilon = 1e-13 * want.amax());
}

/// The CG mean at `x_test` against the dense Cholesky mean; returns (relative error, iterations).
fn cg_against_dense(
    net: &Network,
    n: usize,
    ridge: f64,
    rank: usize,
    centres: Centres,
) -> (f64, usize) {
    let x = gaussian(n, 10, 10);
    let y = targets(&x, 11);
    let x_test = gaussian(50, 10, 12);
    let reg = Regularization::Relative(ridge);
    let op = KernelOperator::new(net, &x, KernelKind::Ntk).unwrap();
    let fit = IterativeRegression::params()
        .regularization(reg)
        .rank(rank)
        .centres(centres)
        .tol(1e-10)
        .fit(op, &y)
        .unwrap();
    let dense = GpInference::params()
        .regularization(reg)
        .fit_points(net, &x, &y)
        .unwrap();
    let want = dense
        .predict_points(KernelKind::Ntk, net, &x_test)
        .unwrap()
        .mean;
    let got = fit.mean(&x_test).unwrap();
    assert!(fit.report().converged && fit.report().residual <= 1e-10);
    // Same λ = r·trace(K)/n, the trace summed from the diagonal in a different order.
    let lambda = dense.diag_reg(KernelKind::Ntk);
    assert_abs_diff_eq!(fit.diag_reg(), lambda, epsilon = 1e-13 * lambda);
    (rel_err(&got, &want), fit.report().iterations)
}

#[test]
fn cg_mean_matches_dense_cholesky() {
    for (name, net) in [("ReLU", relu3()), ("Erf", erf3())] {
        for ridge in [1e-4, 1e-6] {
            let (err, iters) =
                cg_against_dense(&net, 1000, ridge, 200, Centres::Uniform { seed: 0 });
            eprintln!("{name} ridge {ridge:e}: rel. error {err:.2e}, {iters} iterations (m = 200)");
            assert!(err <= 1e-6, "{name} ridge {ridge}: {err}");
        }
    }
}

#[test]
fn pivoted_cholesky_preconditioner() {
    let (err, iters) = cg_against_dense(&relu3(), 500, 1e-4, 100, Centres::PivotedCholesky);
    eprintln!("pivoted Cholesky m = 100: rel. error {err:.2e}, {iters} iterations");
    assert!(err <= 1e-6, "{err}");
}

/// n = 5000, iterations against the preconditioner's rank (docs/regression.md). Without a
/// preconditioner (m = 0) CG is capped at 300 iterations and reported, not required to converge.
#[test]
#[ignore = "n = 5000: tens of minutes on a loaded 2-core machine"]
fn exactness_at_n_5000() {
    let nets: Vec<(&str, Network)> = match std::env::var("NTK_N5000_NETS").as_deref() {
        Ok("relu") => vec![("ReLU", relu3())],
        _ => vec![("ReLU", relu3()), ("Erf", erf3())],
    };
    for (name, net) in nets {
        for ridge in [1e-4, 1e-6] {
            for m in [0, 100, 500, 2000] {
                if m == 0 {
                    let x = gaussian(5000, 10, 10);
                    let y = targets(&x, 11);
                    let op = KernelOperator::new(&net, &x, KernelKind::Ntk).unwrap();
                    let fit = IterativeRegression::params()
                        .regularization(Regularization::Relative(ridge))
                        .tol(1e-10)
                        .max_iter(300)
                        .allow_unconverged(true)
                        .fit(op, &y)
                        .unwrap();
                    let r = fit.report();
                    eprintln!(
                        "{name} ridge {ridge:e} m 0: {} iterations, residual {:.1e} (converged: {})",
                        r.iterations, r.residual, r.converged
                    );
                    continue;
                }
                let (err, iters) = cg_against_dense(&net, 5000, ridge, m, Centres::default());
                eprintln!("{name} ridge {ridge:e} m {m}: rel. error {err:.2e}, {iters} iterations");
                assert!(err <= 1e-6);
            }
        }
    }
}

#[test]
fn preconditioner_and_warm_start_save_iterations() {
    let net = relu3();
    let x = gaussian(400, 10, 20);
    let y = targets(&x, 21);
    let params = IterativeRegression::params()
        .regularization(Regularization::Relative(1e-4))
        .tol(1e-8);
    let op = || KernelOperator::new(&net, &x, KernelKind::Ntk).unwrap();
    let plain = params.fit(op(), &y).unwrap();
    let pre = params.rank(100).fit(op(), &y).unwrap();
    eprintln!(
        "iterations: plain {}, Nyström m = 100 {}",
        plain.report().iterations,
        pre.report().iterations
    );
    assert!(pre.report().iterations * 2 < plain.report().iterations);
    // Warm start: the targets moved by 1 % of their size; starting from the old coefficients
    // starts from a residual about 100 times smaller, so fewer iterations reach the tolerance.
    let y2 = &y + targets(&x, 22) * 0.01;
    let cold = params.rank(100).fit(op(), &y2).unwrap();
    let warm = params
        .rank(100)
        .fit_with(op(), &y2, Some(pre.coefficients()), &mut |_, _| {})
        .unwrap();
    eprintln!(
        "iterations: cold {}, warm {}",
        cold.report().iterations,
        warm.report().iterations
    );
    assert!(warm.report().iterations < cold.report().iterations);
    assert!(rel_err(warm.coefficients(), cold.coefficients()) < 1e-5);
    // The history has one entry per iteration and ends at the tolerance.
    assert_eq!(warm.report().residuals.len(), warm.report().iterations);
    assert!(*warm.report().residuals.last().unwrap() <= 1e-8);
}

#[test]
fn eigenpro_converges_to_the_dense_solution() {
    let net = erf3();
    let x = gaussian(400, 10, 30);
    let y = targets(&x, 31);
    let reg = Regularization::Relative(1e-2);
    let op = KernelOperator::new(&net, &x, KernelKind::Ntk).unwrap();
    let fit = IterativeRegression::params()
        .regularization(reg)
        .method(Method::EigenPro { top: 40 })
        .rank(100)
        .tol(1e-9)
        .max_iter(2000)
        .fit(op, &y)
        .unwrap();
    let dense = GpInference::params()
        .regularization(reg)
        .fit_points(&net, &x, &y)
        .unwrap();
    let err = rel_err(fit.coefficients(), &dense.coefficients(KernelKind::Ntk));
    eprintln!(
        "EigenPro: {} iterations, η = {:?}, rel. error of α {err:.2e}",
        fit.report().iterations,
        fit.report().step_size
    );
    // α error ≤ ‖(K + λI)⁻¹‖·‖r‖ ≤ (1/λ)·1e-9‖y‖, with λ = 1e-2·tr K/n: ≤ 1e-6 of α's scale.
    assert!(err < 1e-6, "{err}");
}

#[test]
fn predictive_covariance_matches_dense() {
    let x = gaussian(150, 4, 40);
    let y = targets(&x, 41);
    let x_test = gaussian(7, 4, 42);
    let reg = Regularization::Relative(1e-3);
    let net = relu3();
    let dense = GpInference::params()
        .regularization(reg)
        .fit_points(&net, &x, &y)
        .unwrap();
    for posterior in [
        Posterior::Kernel(KernelKind::Nngp),
        Posterior::Kernel(KernelKind::Ntk),
        Posterior::NtkGp,
    ] {
        let op = KernelOperator::new(&net, &x, posterior.kernel()).unwrap();
        let fit = IterativeRegression::params()
            .regularization(reg)
            .rank(40)
            .tol(1e-12)
            .fit(op, &y)
            .unwrap();
        let got = fit.predict(posterior, &x_test).unwrap();
        let want = dense.predict_points(posterior, &net, &x_test).unwrap();
        // Residual 1e-12 times κ(K_reg) ≤ 1e3·(n·max eigenvalue share) leaves ≤ 1e-8 of the
        // prior variance's scale, which dominates the covariance.
        let scale = net.gram(&x_test).unwrap().ntk.amax();
        assert_abs_diff_eq!(got.mean, want.mean, epsilon = 1e-8 * want.mean.amax());
        assert_abs_diff_eq!(got.covariance, want.covariance, epsilon = 1e-8 * scale);
    }
    // The posterior must be the operator's kernel.
    let op = KernelOperator::new(&net, &x, KernelKind::Nngp).unwrap();
    let fit = IterativeRegression::params()
        .regularization(reg)
        .fit(op, &y)
        .unwrap();
    assert!(matches!(
        fit.predict(KernelKind::Ntk, &x_test),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn falkon_matches_the_dense_nystrom_solution() {
    let net = relu3();
    let (n, m) = (300, 40);
    let x = gaussian(n, 6, 50);
    let y = targets(&x, 51);
    let x_test = gaussian(20, 6, 52);
    let reg = Regularization::Relative(1e-3);
    let op = KernelOperator::new(&net, &x, KernelKind::Ntk).unwrap();
    let fit = Falkon::params()
        .regularization(reg)
        .centres(m)
        .tol(1e-13)
        .block_rows(64)
        .fit(op, &y)
        .unwrap();
    // Dense: (K_nmᵀK_nm + λ K_mm) α = K_nmᵀ Y, λ = 1e-3 · trace(K)/n.
    let c = fit.centres().clone();
    let knm = net.cross(&x, &c).unwrap().ntk;
    let kmm = net.gram(&c).unwrap().ntk;
    let lambda = 1e-3 * net.diagonal(&x).unwrap().ntk.mean();
    assert_abs_diff_eq!(fit.diag_reg(), lambda, epsilon = 1e-15 * lambda);
    let h = knm.transpose() * &knm + kmm * lambda;
    let alpha = h.cholesky().unwrap().solve(&(knm.transpose() * &y));
    let want = net.cross(&x_test, &c).unwrap().ntk * alpha;
    let err = rel_err(&fit.mean(&x_test).unwrap(), &want);
    eprintln!(
        "FALKON m = {m}: {} iterations, rel. error {err:.2e}",
        fit.report().iterations
    );
    assert!(err <= 1e-8, "{err}");
}

#[test]
fn falkon_with_duplicated_centres_needs_jitter() {
    // Every point twice: the centres' kernel is singular.
    let base = gaussian(20, 3, 60);
    let x = DMatrix::from_fn(40, 3, |i, j| base[(i % 20, j)]);
    let y = targets(&DMatrix::from_fn(40, 4, |i, j| base[(i % 20, j % 3)]), 61);
    let net = relu3();
    let op = || KernelOperator::new(&net, &x, KernelKind::Ntk).unwrap();
    let p = Falkon::params()
        .regularization(Regularization::Relative(1e-3))
        .centres(40);
    assert!(matches!(
        p.fit(op(), &y),
        Err(Error::NotPositiveDefinite { .. })
    ));
    let fit = p.jitter(1e-8).fit(op(), &y).unwrap();
    assert!(fit.jitter() > 0.0);
}

#[test]
fn error_cases() {
    let net = relu3();
    let x = gaussian(30, 3, 70);
    let y = targets(&DMatrix::from_fn(30, 4, |i, j| x[(i, j % 3)]), 71);
    let op = || KernelOperator::new(&net, &x, KernelKind::Ntk).unwrap();
    let invalid = |r: Result<_, Error>, name: &str| match r {
        Err(Error::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
        Err(e) => panic!("{name}: {e}"),
        Ok(_) => panic!("{name}: accepted"),
    };
    let p = IterativeRegression::params().regularization(Regularization::Relative(1e-3));
    invalid(p.rank(31).fit(op(), &y).map(|_| ()), "rank");
    invalid(p.tol(0.0).fit(op(), &y).map(|_| ()), "tol");
    invalid(p.tol(f64::NAN).fit(op(), &y).map(|_| ()), "tol");
    invalid(p.tol(-1e-8).fit(op(), &y).map(|_| ()), "tol");
    invalid(p.max_iter(0).fit(op(), &y).map(|_| ()), "max_iter");
    invalid(
        p.method(Method::EigenPro { top: 0 })
            .rank(5)
            .fit(op(), &y)
            .map(|_| ()),
        "top",
    );
    invalid(
        IterativeRegression::params()
            .regularization(Regularization::Relative(0.0))
            .fit(op(), &y)
            .map(|_| ()),
        "diag_reg",
    );
    invalid(
        IterativeRegression::params()
            .regularization(Regularization::Absolute(-1.0))
            .fit(op(), &y)
            .map(|_| ()),
        "diag_reg",
    );
    invalid(
        Falkon::params().centres(0).fit(op(), &y).map(|_| ()),
        "centres",
    );
    invalid(
        Falkon::params().centres(31).fit(op(), &y).map(|_| ()),
        "centres",
    );
    invalid(op().block_rows(0).map(|_| ()), "block_rows");
    // Not converging: the error states the residual reached.
    let e = p.max_iter(2).fit(op(), &y).unwrap_err();
    match &e {
        Error::NotConverged {
            iterations,
            residual,
            ..
        } => assert!(*iterations == 2 && *residual > 1e-8),
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("max_iter"), "{e}");
    // ... or, when allowed, a flagged result.
    let fit = p.max_iter(2).allow_unconverged(true).fit(op(), &y).unwrap();
    assert!(!fit.report().converged && fit.report().iterations == 2);
    // Non-finite and misshapen inputs.
    let mut bad = y.clone();
    bad[(3, 1)] = f64::NAN;
    assert!(matches!(p.fit(op(), &bad), Err(Error::NonFinite { .. })));
    assert!(matches!(
        p.fit(op(), &y.rows(0, 10).into_owned()),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut bad_x = x.clone();
    bad_x[(0, 0)] = f64::INFINITY;
    assert!(matches!(
        KernelOperator::new(&net, &bad_x, KernelKind::Ntk),
        Err(Error::NonFinite { .. })
    ));
    let warm = DMatrix::zeros(30, 1);
    assert!(matches!(
        p.fit_with(op(), &y, Some(&warm), &mut |_, _| {}),
        Err(Error::ShapeMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// `ntk predict --solver …`
// ---------------------------------------------------------------------------------------------

/// Runs `ntk predict` on CSV files written to a fresh directory, with extra arguments.
fn predict_cli(tag: &str, extra: &[&str]) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("ntk-iterative-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let x = gaussian(60, 3, 80);
    let y = targets(&DMatrix::from_fn(60, 4, |i, j| x[(i, j % 3)]), 81);
    let t = gaussian(5, 3, 82);
    let csv = |m: &DMatrix<f64>| {
        m.row_iter()
            .map(|r| {
                r.iter()
                    .map(|v| format!("{v:e}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let spec = r#"{"layers": [{"dense": {"w_std": 1.4, "b_std": 0.1}}, {"relu": {}},
        {"dense": {"w_std": 1.4, "b_std": 0.1}}, {"relu": {}}, {"dense": {"w_std": 1.4}}]}"#;
    let files = [
        ("net.json", spec.to_string()),
        ("x.csv", csv(&x)),
        ("y.csv", csv(&y)),
        ("t.csv", csv(&t)),
    ];
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let path = |name: &str| dir.join(name).into_os_string();
    let mut args: Vec<std::ffi::OsString> = vec!["predict".into()];
    for (flag, name) in [
        ("--spec", "net.json"),
        ("--train-x", "x.csv"),
        ("--train-y", "y.csv"),
        ("--test-x", "t.csv"),
    ] {
        args.push(flag.into());
        args.push(path(name));
    }
    args.extend(
        extra
            .iter()
            .map(|a| a.replace("{dir}", dir.to_str().unwrap()).into()),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ntk"))
        .args(&args)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn json_mean(out: &std::process::Output) -> DMatrix<f64> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["mean"].as_array().unwrap();
    let k = rows[0].as_array().unwrap().len();
    DMatrix::from_fn(rows.len(), k, |i, j| rows[i][j].as_f64().unwrap())
}

fn assert_cli_fails(out: &std::process::Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(needle) && !err.contains("panicked"), "{err}");
}

#[test]
fn cli_solvers_agree_with_dense() {
    let dense = json_mean(&predict_cli("dense", &["--diag-reg", "1e-4"]));
    for (tag, extra) in [
        (
            "cg",
            vec!["--solver", "cg", "--rank", "20", "--tol", "1e-12"],
        ),
        (
            "eigenpro",
            vec![
                "--solver",
                "eigenpro",
                "--rank",
                "30",
                "--top",
                "20",
                "--tol",
                "1e-10",
                "--max-iter",
                "100000",
            ],
        ),
        (
            "falkon",
            vec!["--solver", "falkon", "--rank", "60", "--tol", "1e-13"],
        ),
    ] {
        let mut args = vec!["--diag-reg", "1e-4"];
        args.extend(extra);
        let got = json_mean(&predict_cli(tag, &args));
        // FALKON with m = n centres is the full problem (its K̂ = K).
        assert!(
            rel_err(&got, &dense) < 1e-6,
            "{tag}: {}",
            rel_err(&got, &dense)
        );
    }
    let out = predict_cli(
        "npz",
        &[
            "--diag-reg",
            "1e-4",
            "--solver",
            "cg",
            "--cov",
            "--out",
            "{dir}/o.npz",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cli_solver_errors() {
    let reg = ["--diag-reg", "1e-4"];
    fn with<'a>(reg: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [reg, extra].concat()
    }
    assert_cli_fails(
        &predict_cli("e1", &with(&reg, &["--solver", "cg", "--tol", "0"])),
        2,
        "--tol",
    );
    assert_cli_fails(
        &predict_cli("e2", &with(&reg, &["--solver", "cg", "--tol", "nan"])),
        2,
        "--tol",
    );
    assert_cli_fails(
        &predict_cli("e3", &with(&reg, &["--solver", "cg", "--rank", "61"])),
        1,
        "rank",
    );
    assert_cli_fails(
        &predict_cli("e4", &with(&reg, &["--solver", "falkon", "--rank", "0"])),
        1,
        "centres",
    );
    assert_cli_fails(
        &predict_cli(
            "e5",
            &with(
                &reg,
                &["--solver", "eigenpro", "--rank", "10", "--top", "10"],
            ),
        ),
        1,
        "top",
    );
    assert_cli_fails(&predict_cli("e6", &["--solver", "cg"]), 2, "--diag-reg");
    assert_cli_fails(
        &predict_cli("e7", &with(&reg, &["--solver", "cg", "--time", "1"])),
        2,
        "t = inf",
    );
    assert_cli_fails(
        &predict_cli("e8", &with(&reg, &["--solver", "falkon", "--cov"])),
        2,
        "--cov",
    );
    assert_cli_fails(
        &predict_cli("e9", &with(&reg, &["--rank", "5"])),
        2,
        "--rank",
    );
    assert_cli_fails(
        &predict_cli(
            "e10",
            &with(&reg, &["--solver", "cg", "--rank", "0", "--max-iter", "1"]),
        ),
        1,
        "did not reach",
    );
}
